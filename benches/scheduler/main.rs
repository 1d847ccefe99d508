//! Scheduler throughput, modelled on kube-scheduler's scheduler_perf
//! (`test/integration/scheduler_perf/config/performance-config.yaml`):
//! `cargo bench --bench scheduler` (release, our own harness), or one
//! workload: `cargo bench --bench scheduler -- TopologySpreading`.
//!
//! Every workload runs the real [`Scheduler`] against the in-memory API
//! server: nodes shaped as scheduler_perf's node template (4 CPU, 32Gi,
//! 110 pods, with `kubernetes.io/hostname` and the workload's zone
//! labels), `init` pods scheduled first (not measured), then `measure`
//! pods created through the client. The figure is pods/s from the first
//! measured pod created to the last one bound — binding writes to the API
//! server included. Pods are scheduler_perf's: one `pause` container with
//! port 80 and requests of 100m CPU / 500Mi (preemption: 900m low-priority
//! victims, 3000m priority-10 preemptors).
//!
//! One line per figure: `bench <name>: <value> pods/s`.
use std::time::{Duration, Instant};

use futures::StreamExt;
use keelson::api::core::{
    Affinity, Container, ContainerPort, Namespace, Node, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity,
    TopologySpreadConstraint,
};
use keelson::api::{LabelSelector, ObjectMeta, Quantity};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, LocalClient};
use keelson::scheduler::{Config, Scheduler};

const ZONE: &str = "topology.kubernetes.io/zone";
const HOST: &str = "kubernetes.io/hostname";

fn node(i: usize, zones: &[&str]) -> Node {
    let name = format!("node-{i}");
    let mut n = Node {
        metadata: ObjectMeta::named(&name),
        ..Default::default()
    };
    for (k, v) in [("cpu", "4"), ("memory", "32Gi"), ("pods", "110")] {
        n.status.capacity.insert(k, Quantity::from(v));
        n.status.allocatable.insert(k, Quantity::from(v));
    }
    n.metadata.labels.insert(HOST, name.as_str());
    if !zones.is_empty() {
        n.metadata.labels.insert(ZONE, zones[i % zones.len()]);
    }
    n
}

fn base_pod(ns: &str, name: &str, cpu: &str) -> Pod {
    let mut p = Pod {
        metadata: ObjectMeta::namespaced(ns, name),
        ..Default::default()
    };
    let mut c = Container {
        name: "pause".into(),
        image: "registry.k8s.io/pause:3.9".into(),
        ..Default::default()
    };
    c.ports.push(ContainerPort {
        container_port: 80,
        ..Default::default()
    });
    for (k, v) in [("cpu", cpu), ("memory", "500Mi")] {
        c.resources.requests.insert(k, Quantity::from(v));
        c.resources.limits.insert(k, Quantity::from(v));
    }
    p.spec.containers.push(c);
    p
}

fn selector(k: &str, v: &str) -> LabelSelector {
    let mut s = LabelSelector::default();
    s.match_labels.insert(k, v);
    s
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Default,
    NodeAffinity,
    Spreading,
    AntiAffinity,
    Affinity,
    Low,
    High,
}

fn make_pod(kind: Kind, ns: &str, name: &str) -> Pod {
    match kind {
        Kind::Default => base_pod(ns, name, "100m"),
        Kind::NodeAffinity => {
            let mut p = base_pod(ns, name, "100m");
            p.spec.affinity = Some(Box::new(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: vec![NodeSelectorRequirement {
                                key: ZONE.into(),
                                operator: "In".into(),
                                values: vec!["zone1".into(), "zone2".into()],
                            }],
                            ..Default::default()
                        }],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }));
            p
        }
        Kind::Spreading => {
            let mut p = base_pod(ns, name, "100m");
            p.metadata.labels.insert("color", "blue");
            p.spec
                .topology_spread_constraints
                .push(TopologySpreadConstraint {
                    max_skew: 5,
                    topology_key: ZONE.into(),
                    when_unsatisfiable: "DoNotSchedule".into(),
                    label_selector: Some(selector("color", "blue")),
                    ..Default::default()
                });
            p
        }
        Kind::AntiAffinity | Kind::Affinity => {
            let mut p = base_pod(ns, name, "100m");
            let (color, key) = if kind == Kind::AntiAffinity {
                ("green", HOST)
            } else {
                ("blue", ZONE)
            };
            p.metadata.labels.insert("color", color);
            let term = PodAffinityTerm {
                label_selector: Some(selector("color", color)),
                topology_key: key.into(),
                namespaces: vec!["sched-0".into(), "sched-1".into()],
                ..Default::default()
            };
            let mut a = Affinity::default();
            if kind == Kind::AntiAffinity {
                a.pod_anti_affinity = Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: vec![term],
                    ..Default::default()
                });
            } else {
                a.pod_affinity = Some(PodAffinity {
                    required_during_scheduling_ignored_during_execution: vec![term],
                    ..Default::default()
                });
            }
            p.spec.affinity = Some(Box::new(a));
            p
        }
        Kind::Low => {
            let mut p = base_pod(ns, name, "900m");
            p.spec.termination_grace_period_seconds = Some(0);
            p
        }
        Kind::High => {
            let mut p = base_pod(ns, name, "3000m");
            p.spec.priority = Some(10);
            p
        }
    }
}

struct Workload {
    name: &'static str,
    nodes: usize,
    zones: &'static [&'static str],
    init: (Kind, &'static str, usize),
    measure: (Kind, &'static str, usize),
    target: Option<f64>,
}

async fn create_all(client: &LocalClient, pods: Vec<Pod>) {
    let client = client.clone();
    futures::stream::iter(pods)
        .map(|p| {
            let api: Api<Pod> = Api::namespaced(&client, &p.metadata.namespace);
            async move {
                if let Err(e) = api.create(&p).await {
                    eprintln!("create {}: {e}", p.metadata.name);
                }
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
}

async fn wait_bound(
    handle: &keelson::scheduler::Handle,
    want: u64,
    limit: Duration,
) -> Option<Instant> {
    let start = Instant::now();
    loop {
        if handle.stats().bound >= want {
            return Some(Instant::now());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

async fn run(w: &Workload) {
    let server = ApiServer::in_memory().await.expect("server");
    let client = LocalClient::new(&server);
    let nodes: Api<Node> = Api::all(&client);
    futures::stream::iter(0..w.nodes)
        .map(|i| {
            let nodes = nodes.clone();
            let n = node(i, w.zones);
            async move { nodes.create(&n).await.map(|_| ()) }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    let namespaces: Api<Namespace> = Api::all(&client);
    for ns in ["sched-0", "sched-1"] {
        let _ = namespaces
            .create(&Namespace {
                metadata: ObjectMeta::named(ns),
                ..Default::default()
            })
            .await;
    }
    let scheduler = Scheduler::new(&client, Config::default().record_events(false));
    let handle = scheduler.handle();
    let task = tokio::spawn(scheduler.run());

    let (kind, ns, count) = w.init;
    let init: Vec<Pod> = (0..count)
        .map(|i| make_pod(kind, ns, &format!("init-{i}")))
        .collect();
    create_all(&client, init).await;
    if wait_bound(&handle, count as u64, Duration::from_secs(300))
        .await
        .is_none()
    {
        println!(
            "bench {}: init pods not scheduled ({} bound)",
            w.name,
            handle.stats().bound
        );
        return;
    }
    let before = handle.stats();
    let (kind, ns, count) = w.measure;
    let pods: Vec<Pod> = (0..count)
        .map(|i| make_pod(kind, ns, &format!("pod-{i}")))
        .collect();
    let start = Instant::now();
    create_all(&client, pods).await;
    let created = start.elapsed();
    let want = before.bound + count as u64;
    let Some(end) = wait_bound(&handle, want, Duration::from_secs(600)).await else {
        let s = handle.stats();
        println!(
            "bench {}: timed out, {} of {count} bound in {:?} ({s:?})",
            w.name,
            s.bound - before.bound,
            start.elapsed()
        );
        handle.shutdown();
        return;
    };
    let secs = end.duration_since(start).as_secs_f64();
    let rate = count as f64 / secs;
    let after = handle.stats();
    println!("bench {}: {rate:.0} pods/s", w.name);
    eprintln!(
        "  {} pods in {:.3} s (all created after {:.3} s); attempts {}, unschedulable {}, preemptions {}, target {}",
        count,
        secs,
        created.as_secs_f64(),
        after.attempts - before.attempts,
        after.unschedulable - before.unschedulable,
        after.preemptions - before.preemptions,
        w.target.map_or("report".to_string(), |t| format!(
            "≥ {t:.0} pods/s ({})",
            if rate >= t { "met" } else { "NOT met" }
        )),
    );
    handle.shutdown();
    let _ = task.await;
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let workloads = [
        Workload {
            name: "SchedulingBasic_5000Nodes_10000Pods",
            nodes: 5000,
            zones: &[],
            init: (Kind::Default, "default", 1000),
            measure: (Kind::Default, "default", 10000),
            target: Some(10_000.0),
        },
        Workload {
            name: "NodeAffinity_5000Nodes_10000Pods",
            nodes: 5000,
            zones: &["zone1"],
            init: (Kind::Default, "default", 5000),
            measure: (Kind::NodeAffinity, "default", 10000),
            target: Some(8_000.0),
        },
        Workload {
            name: "TopologySpreading_5000Nodes_5000Pods",
            nodes: 5000,
            zones: &["moon-1", "moon-2", "moon-3"],
            init: (Kind::Default, "default", 5000),
            measure: (Kind::Spreading, "default", 5000),
            target: Some(2_000.0),
        },
        Workload {
            name: "SchedulingPodAntiAffinity_5000Nodes_2000Pods",
            nodes: 5000,
            zones: &[],
            init: (Kind::AntiAffinity, "sched-0", 1000),
            measure: (Kind::AntiAffinity, "sched-1", 2000),
            target: Some(1_000.0),
        },
        Workload {
            name: "SchedulingPodAffinity_5000Nodes_5000Pods",
            nodes: 5000,
            zones: &["zone1"],
            init: (Kind::Affinity, "sched-0", 5000),
            measure: (Kind::Affinity, "sched-1", 5000),
            target: Some(1_000.0),
        },
        Workload {
            name: "Preemption_5000Nodes",
            nodes: 5000,
            zones: &[],
            init: (Kind::Low, "default", 20000),
            measure: (Kind::High, "default", 5000),
            target: None,
        },
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for w in &workloads {
        if !filter.is_empty() && !filter.iter().any(|f| w.name.contains(f.as_str())) {
            continue;
        }
        rt.block_on(run(w));
    }
}
