//! Registration, lifecycle, restarts, probes, termination, admission.
use std::sync::atomic::{AtomicU16, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use keelson::api::coordination::Lease;
use keelson::api::core::{
    Container, ExecAction, HttpGetAction, Lifecycle, LifecycleHandler, Node as NodeObject, Pod,
    Probe,
};
use keelson::api::meta::DeleteOptions;
use keelson::api::quantity::ResourceList;
use keelson::api::IntOrString;
use keelson::client::{Api, LocalClient};
use keelson::runtime::fake::Behavior;
use keelson::runtime::{ContainerRuntime, FakeRuntime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{condition, config, pod, running, Node};

fn exec_probe(cmd: &str, period: i32, failure_threshold: i32) -> Option<Box<Probe>> {
    Some(Box::new(Probe {
        exec: Some(ExecAction {
            command: vec![cmd.into()],
        }),
        period_seconds: period,
        failure_threshold,
        ..Probe::default()
    }))
}

#[tokio::test(start_paused = true)]
async fn node_registers_and_renews_its_lease() {
    let cap = ResourceList::from([("cpu", "4"), ("memory", "8Gi")]);
    let node = Node::start(
        config().capacity(cap).label("zone", "a"),
        FakeRuntime::new(),
    )
    .await;
    let nodes: Api<NodeObject> = Api::all(node.client.clone());
    let leases: Api<Lease> = Api::namespaced(node.client.clone(), "kube-node-lease");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (n, first) = loop {
        if let (Some(n), Some(l)) = (
            nodes.get_opt("node-1").await.unwrap(),
            leases.get_opt("node-1").await.unwrap(),
        ) {
            if n.is_ready() {
                break (n, l);
            }
        }
        assert!(Instant::now() < deadline, "the node never registered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(n.status.capacity.get("cpu").unwrap(), "4");
    assert_eq!(n.status.allocatable.get("pods").unwrap(), "110");
    assert_eq!(n.metadata.labels.get_str("zone"), Some("a"));
    assert_eq!(
        n.metadata.labels.get_str("kubernetes.io/hostname"),
        Some("node-1")
    );
    assert_eq!(n.address("InternalIP"), Some("127.0.0.1"));
    assert_eq!(n.status.daemon_endpoints.kubelet_endpoint.port, 10250);
    assert!(n
        .status
        .node_info
        .container_runtime_version
        .starts_with("keelson-fake://"));
    assert_eq!(first.spec.holder_identity.as_deref(), Some("node-1"));

    tokio::time::sleep(Duration::from_secs(25)).await;
    let later = leases.get("node-1").await.unwrap();
    let renewed =
        later.spec.renew_time.unwrap().unix_micros() - first.spec.renew_time.unwrap().unix_micros();
    assert!(
        (19_000_000..=31_000_000).contains(&renewed),
        "renewed {renewed}µs later, expected two 10 s renewals"
    );
    node.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn pod_runs_and_reports_status() {
    let node = Node::start(config(), FakeRuntime::new()).await;
    node.create(pod("web", &[("web", "nginx")])).await;
    let p = node.wait("web", "Running", running).await;
    assert!(p.status.pod_ip.starts_with("10."), "{}", p.status.pod_ip);
    assert_eq!(p.status.host_ip, "127.0.0.1");
    assert_eq!(p.status.qos_class, "BestEffort");
    assert!(p.status.start_time.is_some());
    let c = &p.status.container_statuses[0];
    assert!(c.ready && c.started == Some(true));
    assert!(
        c.container_id.starts_with("keelson-fake://"),
        "{}",
        c.container_id
    );
    assert!(c.image_id.starts_with("sha256:"));
    for t in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        assert_eq!(condition(&p, t).as_deref(), Some("True"), "{t}");
    }
    // Nothing changes: no more status writes.
    let rv = p.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        node.pods
            .get("web")
            .await
            .unwrap()
            .metadata
            .resource_version,
        rv
    );
}

#[tokio::test(start_paused = true)]
async fn init_containers_run_one_by_one_before_the_app() {
    let runtime =
        FakeRuntime::new().script("init", Behavior::exit_after(Duration::from_secs(5), 0));
    let node = Node::start(config(), runtime).await;
    let mut p = pod("app", &[("app", "nginx")]);
    for n in ["first", "second"] {
        p.spec.init_containers.push(Container {
            name: n.into(),
            image: "init".into(),
            ..Container::default()
        });
    }
    node.create(p).await;
    let pending = node
        .wait("app", "initializing", |p| {
            p.status
                .init_container_statuses
                .first()
                .is_some_and(|s| s.state.running.is_some())
        })
        .await;
    assert_eq!(pending.status.phase, "Pending");
    assert_eq!(condition(&pending, "Initialized").as_deref(), Some("False"));
    assert_eq!(
        pending.status.container_statuses[0]
            .state
            .waiting
            .as_ref()
            .unwrap()
            .reason,
        "PodInitializing"
    );
    let p = node.wait("app", "Running", running).await;
    assert_eq!(condition(&p, "Initialized").as_deref(), Some("True"));
    for s in &p.status.init_container_statuses {
        assert_eq!(
            s.state.terminated.as_ref().unwrap().exit_code,
            0,
            "{}",
            s.name
        );
    }
    let calls: Vec<String> = node
        .runtime
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("start "))
        .collect();
    assert_eq!(calls, ["start first", "start second", "start app"]);
    let starts = node.runtime.times("start ");
    assert!(starts[1] - starts[0] >= Duration::from_secs(5));
    assert!(starts[2] - starts[1] >= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn crash_loop_backoff_doubles_from_ten_seconds() {
    let runtime =
        FakeRuntime::new().script("crash", Behavior::exit_after(Duration::from_secs(1), 1));
    let node = Node::start(config(), runtime).await;
    node.create(pod("crash", &[("c", "crash")])).await;
    let p = node
        .wait("crash", "CrashLoopBackOff", |p| {
            p.status.container_statuses.first().is_some_and(|s| {
                s.state
                    .waiting
                    .as_ref()
                    .is_some_and(|w| w.reason == "CrashLoopBackOff")
            })
        })
        .await;
    let s = &p.status.container_statuses[0];
    assert_eq!(s.last_state.terminated.as_ref().unwrap().exit_code, 1);
    assert_eq!(s.restart_count, 0);
    assert_eq!(p.status.phase, "Running");
    node.wait("crash", "5 restarts", |p| {
        p.status
            .container_statuses
            .first()
            .is_some_and(|s| s.restart_count >= 5)
    })
    .await;
    let starts = node.runtime.times("start ");
    let gaps: Vec<u64> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect();
    // Each run lasts 1 s, then the delay: 10, 20, 40, 80 s.
    for (gap, delay) in gaps.iter().zip([10_000u64, 20_000, 40_000, 80_000]) {
        assert!(
            (delay + 1_000..=delay + 1_100).contains(gap),
            "gaps {gaps:?}, expected run 1 s + {delay} ms"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn liveness_failure_restarts_the_container() {
    let runtime = FakeRuntime::new().script(
        "app",
        Behavior::run_forever().exec_from(Duration::from_secs(20), 1),
    );
    let node = Node::start(config(), runtime).await;
    let mut p = pod("live", &[("app", "app")]);
    p.spec.containers[0].liveness_probe = exec_probe("check", 5, 3);
    node.create(p).await;
    node.wait("live", "Running", running).await;
    let p = node
        .wait("live", "a restart", |p| {
            p.status.container_statuses[0].restart_count == 1
        })
        .await;
    let last = p.status.container_statuses[0]
        .last_state
        .terminated
        .as_ref()
        .unwrap();
    assert!(last.exit_code == 143 || last.exit_code == 137, "{last:?}");
    // Three failed probes (at 20, 25, 30 s), then the stop.
    let calls = node.runtime.calls();
    let stop = calls
        .iter()
        .position(|c| c.starts_with("stop app"))
        .unwrap();
    let failed_execs = calls[..stop]
        .iter()
        .filter(|c| c.starts_with("exec app check"))
        .count();
    assert!(failed_execs >= 3, "{calls:?}");
}

#[tokio::test(start_paused = true)]
async fn readiness_flips_the_ready_condition() {
    let runtime = FakeRuntime::new().script(
        "app",
        Behavior::run_forever()
            .exec_from(Duration::from_secs(30), 1)
            .exec_from(Duration::from_secs(60), 0),
    );
    let node = Node::start(config(), runtime).await;
    let mut p = pod("ready", &[("app", "app")]);
    p.spec.containers[0].readiness_probe = exec_probe("ready", 5, 1);
    if let Some(probe) = p.spec.containers[0].readiness_probe.as_mut() {
        probe.initial_delay_seconds = 10;
    }
    node.create(p).await;
    let p = node
        .wait("ready", "Running", |p| p.status.phase == "Running")
        .await;
    assert_ne!(
        condition(&p, "Ready").as_deref(),
        Some("True"),
        "not ready before the first probe"
    );
    node.wait("ready", "Ready", |p| {
        condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
    let p = node
        .wait("ready", "not Ready", |p| {
            condition(p, "Ready").as_deref() == Some("False")
        })
        .await;
    assert!(!p.status.container_statuses[0].ready);
    assert_eq!(
        p.status.container_statuses[0].restart_count, 0,
        "readiness never restarts"
    );
    node.wait("ready", "Ready again", |p| {
        condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn graceful_termination_runs_pre_stop_then_stops_then_deletes() {
    let runtime = FakeRuntime::new().script(
        "app",
        Behavior::run_forever().stop_delay(Duration::from_secs(5)),
    );
    let node = Node::start(config(), runtime).await;
    let mut p = pod("term", &[("app", "app")]);
    p.spec.termination_grace_period_seconds = Some(20);
    p.spec.containers[0].lifecycle = Some(Box::new(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: vec!["drain".into()],
            }),
            ..LifecycleHandler::default()
        }),
        post_start: None,
    }));
    node.create(p).await;
    node.wait("term", "Running", running).await;
    node.pods
        .delete("term", &DeleteOptions::default())
        .await
        .unwrap();
    // The object stays while the container stops (5 s of its 20 s).
    let p = node.pods.get("term").await.unwrap();
    assert!(p.metadata.deletion_timestamp.is_some());
    node.wait_gone("term").await;
    let calls = node.runtime.calls();
    let pos = |prefix: &str| {
        calls
            .iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {calls:?}"))
    };
    assert!(pos("exec app drain") < pos("stop app"));
    assert!(pos("stop app") < pos("stopped app"));
    assert!(pos("stopped app") < pos("stop_sandbox"));
    assert!(pos("stop_sandbox") < pos("remove_sandbox"));
    let stop = calls.iter().find(|c| c.starts_with("stop app")).unwrap();
    let timeout: u64 = stop.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((19..=20).contains(&timeout), "{stop}");
    let t = node.runtime.times("stopped app")[0] - node.runtime.times("stop app")[0];
    assert_eq!(t, Duration::from_secs(5));
    assert_eq!(node.runtime.inner.sandbox_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn on_failure_restarts_failures_and_never_does_not() {
    let runtime = FakeRuntime::new()
        .script("fail", Behavior::exit_after(Duration::from_secs(2), 3))
        .script("ok", Behavior::exit_after(Duration::from_secs(2), 0));
    let node = Node::start(config(), runtime).await;
    for (name, image, policy) in [
        ("onfailure-fail", "fail", "OnFailure"),
        ("onfailure-ok", "ok", "OnFailure"),
        ("never-fail", "fail", "Never"),
        ("never-ok", "ok", "Never"),
    ] {
        let mut p = pod(name, &[("c", image)]);
        p.spec.restart_policy = policy.into();
        node.create(p).await;
    }
    node.wait("onfailure-fail", "a restart", |p| {
        p.status
            .container_statuses
            .first()
            .is_some_and(|s| s.restart_count >= 1)
    })
    .await;
    let p = node
        .wait("onfailure-ok", "Succeeded", |p| {
            p.status.phase == "Succeeded"
        })
        .await;
    assert_eq!(p.status.container_statuses[0].restart_count, 0);
    let p = node
        .wait("never-fail", "Failed", |p| p.status.phase == "Failed")
        .await;
    let s = &p.status.container_statuses[0];
    assert_eq!(s.state.terminated.as_ref().unwrap().exit_code, 3);
    assert_eq!(s.state.terminated.as_ref().unwrap().reason, "Error");
    assert_eq!(s.restart_count, 0);
    assert_eq!(condition(&p, "Ready").as_deref(), Some("False"));
    let p = node
        .wait("never-ok", "Succeeded", |p| p.status.phase == "Succeeded")
        .await;
    assert_eq!(
        p.status.container_statuses[0]
            .state
            .terminated
            .as_ref()
            .unwrap()
            .reason,
        "Completed"
    );
}

#[tokio::test(start_paused = true)]
async fn admission_refuses_pods_that_do_not_fit() {
    let cap = ResourceList::from([("cpu", "1"), ("memory", "1Gi"), ("pods", "2")]);
    let node = Node::start(config().capacity(cap), FakeRuntime::new()).await;
    let mut big = pod("big", &[("c", "x")]);
    big.spec.containers[0].resources.requests = ResourceList::from([("cpu", "2")]);
    node.create(big).await;
    let p = node
        .wait("big", "refused", |p| p.status.phase == "Failed")
        .await;
    assert_eq!(p.status.reason, "OutOfcpu");
    assert!(p.status.message.contains("cpu"), "{}", p.status.message);

    let mut fat = pod("fat", &[("c", "x")]);
    fat.spec.containers[0].resources.requests = ResourceList::from([("memory", "2Gi")]);
    node.create(fat).await;
    let p = node
        .wait("fat", "refused", |p| p.status.phase == "Failed")
        .await;
    assert_eq!(p.status.reason, "OutOfmemory");

    node.create(pod("one", &[("c", "x")])).await;
    node.create(pod("two", &[("c", "x")])).await;
    node.wait("two", "Running", running).await;
    node.create(pod("three", &[("c", "x")])).await;
    let p = node
        .wait("three", "refused", |p| p.status.phase == "Failed")
        .await;
    assert_eq!(p.status.reason, "OutOfpods");
}

#[tokio::test(start_paused = true)]
async fn active_deadline_fails_the_pod() {
    let node = Node::start(config(), FakeRuntime::new()).await;
    let mut p = pod("deadline", &[("c", "x")]);
    p.spec.active_deadline_seconds = Some(30);
    node.create(p).await;
    node.wait("deadline", "Running", running).await;
    let started = Instant::now();
    let p = node
        .wait("deadline", "Failed", |p| p.status.phase == "Failed")
        .await;
    assert_eq!(p.status.reason, "DeadlineExceeded");
    assert!(started.elapsed() <= Duration::from_secs(31));
    assert!(p.status.container_statuses[0].state.terminated.is_some());
}

#[tokio::test(start_paused = true)]
async fn image_pull_errors_back_off() {
    let runtime = FakeRuntime::new().script("missing", Behavior::default().pull_error("not found"));
    let node = Node::start(config(), runtime).await;
    node.create(pod("pull", &[("c", "missing")])).await;
    let p = node
        .wait("pull", "ErrImagePull", |p| {
            p.status
                .container_statuses
                .first()
                .and_then(|s| s.state.waiting.as_ref())
                .is_some_and(|w| w.reason == "ErrImagePull")
        })
        .await;
    assert_eq!(p.status.phase, "Pending");
    node.wait("pull", "ImagePullBackOff", |p| {
        p.status
            .container_statuses
            .first()
            .and_then(|s| s.state.waiting.as_ref())
            .is_some_and(|w| w.reason == "ImagePullBackOff")
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn forced_deletion_stops_the_pod_and_shutdown_can_stop_pods() {
    let runtime = FakeRuntime::new();
    let node = Node::start(config().stop_pods_on_shutdown(true), runtime).await;
    node.create(pod("a", &[("c", "x")])).await;
    node.create(pod("b", &[("c", "x")])).await;
    node.wait("a", "Running", running).await;
    node.wait("b", "Running", running).await;
    node.pods
        .delete(
            "a",
            &DeleteOptions {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.runtime.inner.sandbox_count() != 1 {
        assert!(
            Instant::now() < deadline,
            "the force-deleted pod's sandbox remains"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fake = node.runtime.inner.clone();
    node.shutdown().await;
    assert_eq!(fake.sandbox_count(), 0, "stopping the agent stops its pods");
}

/// A tiny HTTP server answering every request with the current code.
async fn serve_code(code: Arc<AtomicU16>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let code = code.load(AtomicOrdering::Relaxed);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            });
        }
    });
    port
}

#[tokio::test]
async fn http_get_readiness_probe_follows_the_server() {
    let code = Arc::new(AtomicU16::new(200));
    let port = serve_code(code.clone()).await;
    let node = Node::start(
        config().sync_period(Duration::from_millis(100)),
        FakeRuntime::new(),
    )
    .await;
    let mut p = pod("http", &[("web", "httpd")]);
    p.spec.containers[0].readiness_probe = Some(Box::new(Probe {
        http_get: Some(HttpGetAction {
            path: "/healthz".into(),
            port: IntOrString::Int(i32::from(port)),
            host: "127.0.0.1".into(),
            ..HttpGetAction::default()
        }),
        period_seconds: 1,
        failure_threshold: 1,
        ..Probe::default()
    }));
    node.create(p).await;
    node.wait("http", "Ready", |p| {
        condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
    code.store(503, AtomicOrdering::Relaxed);
    node.wait("http", "not Ready", |p| {
        condition(p, "Ready").as_deref() == Some("False")
    })
    .await;
    code.store(204, AtomicOrdering::Relaxed);
    node.wait("http", "Ready again", |p| {
        condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
}

/// An agent restarted over the same runtime (it was stopped without
/// stopping its pods, as after a crash) adopts what it left: the running
/// pod keeps its sandbox, IP and container (restart count 0, no new
/// sandbox or container), and the sandbox of a pod deleted meanwhile is
/// removed.
#[tokio::test(start_paused = true)]
async fn a_restarted_agent_adopts_its_running_pods_and_removes_orphans() {
    let runtime = FakeRuntime::new();
    let node = Node::start(config().stop_pods_on_shutdown(false), runtime.clone()).await;
    node.create(pod("kept", &[("c", "x")])).await;
    node.create(pod("deleted", &[("c", "x")])).await;
    let before = node.wait("kept", "Running", running).await;
    node.wait("deleted", "Running", running).await;
    let server = node.server.clone();
    node.shutdown().await;
    assert_eq!(runtime.sandbox_count(), 2, "the pods outlive the agent");
    let ids = |rt: &FakeRuntime| {
        let mut v: Vec<String> = futures::executor::block_on(
            rt.list_containers(&keelson::runtime::ContainerFilter::default()),
        )
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
        v.sort();
        v
    };
    let containers = ids(&runtime);

    // While the agent is away, one pod is deleted for good.
    let pods: Api<Pod> = Api::namespaced(LocalClient::new(&server), "default");
    pods.delete(
        "deleted",
        &DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let node = Node::start_on(
        server,
        config().stop_pods_on_shutdown(false),
        runtime.clone(),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime.sandbox_count() != 1 {
        assert!(
            Instant::now() < deadline,
            "the deleted pod's sandbox was not removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the new agent sync a few times.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = node.wait("kept", "Running", running).await;
    assert_eq!(after.status.pod_ip, before.status.pod_ip);
    assert_eq!(
        after.status.container_statuses[0].restart_count, 0,
        "{:?}",
        after.status.container_statuses
    );
    assert_eq!(
        after.status.container_statuses[0].container_id,
        before.status.container_statuses[0].container_id
    );
    assert!(
        !node
            .runtime
            .calls()
            .iter()
            .any(|c| c.starts_with("run_sandbox")),
        "a new sandbox was made: {:?}",
        node.runtime.calls()
    );
    let remaining = ids(&runtime);
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(containers.contains(&remaining[0]));
    node.shutdown().await;
}
