//! The scheduler against the in-memory API server.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keelson::api::core::{Event, Node, Pod, PodSchedulingGate};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, LocalClient};
use keelson::scheduler::framework::{CycleState, Permit, Plugin, Status};
use keelson::scheduler::plugins::{self, NodeResourcesFit, ScoringStrategy};
use keelson::scheduler::{Config, Handle, PodInfo, Scheduler};

use super::support::*;

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Cluster {
    client: LocalClient,
    handle: Handle,
    task: tokio::task::JoinHandle<keelson::scheduler::Result<()>>,
    _server: ApiServer,
}

impl Cluster {
    async fn start(nodes: Vec<Node>, config: Config) -> Cluster {
        let server = ApiServer::in_memory().await.unwrap();
        let client = LocalClient::new(&server);
        let api: Api<Node> = Api::all(&client);
        for n in nodes {
            api.create(&n).await.unwrap();
        }
        let scheduler = Scheduler::new(&client, config);
        let handle = scheduler.handle();
        let task = tokio::spawn(scheduler.run());
        Cluster {
            client,
            handle,
            task,
            _server: server,
        }
    }

    fn pods(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(&self.client, ns)
    }

    async fn create(&self, mut p: Pod) -> Pod {
        p.metadata.uid = Default::default();
        self.pods(&p.metadata.namespace.clone())
            .create(&p)
            .await
            .unwrap()
    }

    async fn node_of(&self, ns: &str, name: &str) -> String {
        self.pods(ns)
            .get(name)
            .await
            .map(|p| p.spec.node_name.to_string())
            .unwrap_or_default()
    }

    async fn wait_bound(&self, ns: &str, name: &str) -> String {
        eventually(&format!("{ns}/{name} bound"), || async {
            !self.node_of(ns, name).await.is_empty()
        })
        .await;
        self.node_of(ns, name).await
    }

    async fn stop(self) {
        self.handle.shutdown();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn pods_created_through_the_client_get_bound_and_nodes_show_the_requests() {
    let nodes = (0..3)
        .map(|i| node(&format!("n{i}"), "4", "32Gi", 110))
        .collect();
    let c = Cluster::start(nodes, Config::default()).await;
    for i in 0..30 {
        c.create(pod("default", &format!("p{i}"), "300m", "1Gi"))
            .await;
    }
    let mut per_node = std::collections::HashMap::<String, i64>::new();
    for i in 0..30 {
        let n = c.wait_bound("default", &format!("p{i}")).await;
        *per_node.entry(n).or_default() += 1;
    }
    // LeastAllocated spreads them: 10 per node.
    assert_eq!(per_node.len(), 3, "{per_node:?}");
    for (n, count) in &per_node {
        assert_eq!(*count, 10, "{per_node:?}");
        let info = c.handle.node_info(n).expect("node in the cache");
        assert_eq!(info.requested.milli_cpu, 3000);
        assert_eq!(info.requested.memory, 10 * 1024 * 1024 * 1024);
        assert_eq!(info.requested.pods, 10);
    }
    eventually("all bound counted", || async {
        c.handle.stats().bound == 30
    })
    .await;
    // The bound pods were confirmed by the informer: none is still assumed.
    let pods = c.pods("default").list(&Default::default()).await.unwrap();
    assert!(pods.items.iter().all(|p| !p.spec.node_name.is_empty()));
    c.stop().await;
}

#[tokio::test]
async fn pods_for_another_scheduler_are_left_alone() {
    let c = Cluster::start(vec![node("n0", "4", "8Gi", 110)], Config::default()).await;
    let mut other = pod("default", "other", "100m", "");
    other.spec.scheduler_name = "my-scheduler".into();
    c.create(other).await;
    c.create(pod("default", "mine", "100m", "")).await;
    c.wait_bound("default", "mine").await;
    // The other pod was seen first and is still untouched.
    let p = c.pods("default").get("other").await.unwrap();
    assert!(p.spec.node_name.is_empty());
    assert!(p.status.conditions.is_empty(), "{:?}", p.status.conditions);
    c.stop().await;
}

#[tokio::test]
async fn an_unschedulable_pod_gets_the_condition_and_event_then_fits_a_new_node() {
    let nodes = vec![
        node("small-0", "1", "8Gi", 110),
        taint(
            node("infra-0", "64", "64Gi", 110),
            "dedicated",
            "infra",
            "NoSchedule",
        ),
    ];
    let c = Cluster::start(nodes, Config::default()).await;
    c.create(pod("default", "big", "16", "1Gi")).await;
    let want = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: infra}.";
    eventually("PodScheduled=False", || async {
        let p = c.pods("default").get("big").await.unwrap();
        p.status.conditions.iter().any(|cond| {
            cond.type_ == "PodScheduled"
                && cond.status == "False"
                && cond.reason == "Unschedulable"
                && cond.message.starts_with(want)
        })
    })
    .await;
    eventually("FailedScheduling event", || async {
        let events: Api<Event> = Api::namespaced(&c.client, "default");
        let list = events.list(&Default::default()).await.unwrap();
        list.items.iter().any(|e| {
            e.reason == "FailedScheduling"
                && e.message.starts_with(want)
                && e.involved_object.name == "big"
        })
    })
    .await;
    assert!(c.node_of("default", "big").await.is_empty());
    // A node that fits arrives: the node event moves the pod back.
    Api::<Node>::all(&c.client)
        .create(&node("large-0", "32", "64Gi", 110))
        .await
        .unwrap();
    assert_eq!(c.wait_bound("default", "big").await, "large-0");
    c.stop().await;
}

#[tokio::test]
async fn preemption_evicts_a_lower_priority_pod_and_nominates_the_node() {
    let c = Cluster::start(vec![node("n0", "2", "8Gi", 110)], Config::default()).await;
    c.create(priority(pod("default", "low", "2", ""), 1)).await;
    c.wait_bound("default", "low").await;
    c.create(priority(pod("default", "high", "2", ""), 100))
        .await;
    // The scheduler deletes the victim (gracefully: it terminates) ...
    eventually("low being deleted", || async {
        c.pods("default")
            .get_opt("low")
            .await
            .unwrap()
            .is_none_or(|p| p.metadata.deletion_timestamp.is_some())
    })
    .await;
    let nominated = c.pods("default").get("high").await.unwrap();
    assert!(
        nominated.spec.node_name.is_empty(),
        "high must wait for the victim"
    );
    eventually("high nominated", || async {
        c.pods("default")
            .get("high")
            .await
            .unwrap()
            .status
            .nominated_node_name
            == "n0"
    })
    .await;
    // ... and the kubelet (here: the test) finishes the deletion.
    let now = keelson::api::meta::DeleteOptions {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let _ = c.pods("default").delete("low", &now).await;
    assert_eq!(c.wait_bound("default", "high").await, "n0");
    eventually("Preempted event", || async {
        let events: Api<Event> = Api::namespaced(&c.client, "default");
        let list = events.list(&Default::default()).await.unwrap();
        list.items
            .iter()
            .any(|e| e.reason == "Preempted" && e.involved_object.name == "low")
    })
    .await;
    assert!(c.handle.stats().preemptions >= 1);
    c.stop().await;
}

#[tokio::test]
async fn a_gated_pod_waits_until_its_gates_are_removed() {
    let c = Cluster::start(vec![node("n0", "2", "8Gi", 110)], Config::default()).await;
    let mut p = pod("default", "gated", "100m", "");
    p.spec.scheduling_gates.push(PodSchedulingGate {
        name: "example.com/quota".into(),
    });
    c.create(p).await;
    c.create(pod("default", "free", "100m", "")).await;
    c.wait_bound("default", "free").await;
    assert!(c.node_of("default", "gated").await.is_empty());
    let mut p = c.pods("default").get("gated").await.unwrap();
    p.spec.scheduling_gates.clear();
    c.pods("default").update(&p).await.unwrap();
    c.wait_bound("default", "gated").await;
    c.stop().await;
}

#[tokio::test]
async fn profiles_are_chosen_by_scheduler_name() {
    // The bin packer (MostAllocated, without balancing) puts every pod on
    // the same node; the default profile spreads.
    let packer = plugins::default_profile("bin-packer")
        .without("NodeResourcesFit")
        .without("NodeResourcesBalancedAllocation")
        .filter(Arc::new(NodeResourcesFit::new(
            ScoringStrategy::MostAllocated,
        )))
        .score(
            Arc::new(NodeResourcesFit::new(ScoringStrategy::MostAllocated)),
            10,
        );
    let nodes = (0..3)
        .map(|i| node(&format!("n{i}"), "8", "32Gi", 110))
        .collect();
    let c = Cluster::start(nodes, Config::default().profile(packer)).await;
    let mut first = None;
    for i in 0..6 {
        let mut p = pod("default", &format!("packed{i}"), "500m", "1Gi");
        p.spec.scheduler_name = "bin-packer".into();
        c.create(p).await;
        let n = c.wait_bound("default", &format!("packed{i}")).await;
        match &first {
            None => first = Some(n),
            Some(f) => assert_eq!(&n, f, "bin packer spread pod {i}"),
        }
    }
    c.stop().await;
}

/// Holds pods until allowed.
struct Gate;
impl Plugin for Gate {
    fn name(&self) -> &'static str {
        "Gate"
    }
}
impl Permit for Gate {
    fn permit(&self, _: &CycleState, pod: &PodInfo, _: &str) -> (Status, Duration) {
        if pod.labels().get_str("hold") == Some("yes") {
            (Status::wait(), Duration::from_secs(30))
        } else {
            (Status::success(), Duration::ZERO)
        }
    }
}

#[tokio::test]
async fn a_permit_plugin_holds_the_pod_until_allowed() {
    let profile = plugins::default_profile("default-scheduler").permit(Arc::new(Gate));
    let c = Cluster::start(
        vec![node("n0", "4", "8Gi", 110)],
        Config::default().profiles(vec![profile]),
    )
    .await;
    let held = c
        .create(plabel(pod("default", "held", "100m", ""), "hold", "yes"))
        .await;
    c.create(pod("default", "free", "100m", "")).await;
    c.wait_bound("default", "free").await;
    eventually("held pod waiting", || async {
        c.handle.waiting_pods().uids().contains(&held.metadata.uid)
    })
    .await;
    assert!(c.node_of("default", "held").await.is_empty());
    c.handle.waiting_pods().allow(&held.metadata.uid, "Gate");
    c.wait_bound("default", "held").await;
    c.stop().await;
}

#[tokio::test]
async fn anti_affinity_and_spread_end_to_end() {
    let nodes = (0..4)
        .map(|i| {
            label(
                node(&format!("n{i}"), "4", "8Gi", 110),
                ZONE,
                if i < 2 { "a" } else { "b" },
            )
        })
        .collect();
    let c = Cluster::start(nodes, Config::default()).await;
    for i in 0..4 {
        let p = pod_anti_affinity(
            plabel(pod("default", &format!("web{i}"), "100m", ""), "app", "web"),
            term("app", "web", HOST),
        );
        c.create(p).await;
    }
    let mut hosts = Vec::new();
    for i in 0..4 {
        hosts.push(c.wait_bound("default", &format!("web{i}")).await);
    }
    hosts.sort();
    hosts.dedup();
    assert_eq!(hosts.len(), 4, "one per host: {hosts:?}");
    // A fifth has nowhere to go.
    c.create(pod_anti_affinity(
        plabel(pod("default", "web4", "100m", ""), "app", "web"),
        term("app", "web", HOST),
    ))
    .await;
    eventually("web4 unschedulable", || async {
        let p = c.pods("default").get("web4").await.unwrap();
        p.status.conditions.iter().any(|cond| cond.message.starts_with("0/4 nodes are available: 4 node(s) didn't satisfy existing pods anti-affinity rules. preemption:"))
    })
    .await;
    c.stop().await;
}
