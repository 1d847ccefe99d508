//! A platform team's own scheduler: a score plugin that packs pods onto
//! the nodes of one pool (label `pool=<name>`), registered next to the
//! default plugins, placing pods on a simulated cluster (the in-memory API
//! server), and printing where they went.
//!
//! `cargo run --example custom_scheduler`
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use keelson::api::core::{Container, Node, Pod};
use keelson::api::{ObjectMeta, Quantity};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, LocalClient};
use keelson::scheduler::framework::{CycleState, Plugin, Score, Status, MAX_NODE_SCORE};
use keelson::scheduler::{plugins, Config, NodeInfo, PodInfo, Scheduler};

/// Prefers nodes of the pod's pool (annotation `example.com/pool`, or
/// `spot` by default), and among them the fullest (bin packing, so whole
/// nodes stay free for big jobs).
struct PackIntoPool;

impl Plugin for PackIntoPool {
    fn name(&self) -> &'static str {
        "PackIntoPool"
    }
}

impl Score for PackIntoPool {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let want = pod
            .pod
            .metadata
            .annotations
            .get_str("example.com/pool")
            .unwrap_or("spot");
        if node.labels().get_str("pool") != Some(want) {
            return Ok(0);
        }
        let cap = node.allocatable.milli_cpu.max(1);
        let used = (node.requested.milli_cpu + pod.requests.milli_cpu).min(cap);
        // In the pool: 50, plus up to 50 for how full the node would be.
        Ok(MAX_NODE_SCORE / 2 + used * (MAX_NODE_SCORE / 2) / cap)
    }
}

fn node(name: &str, pool: &str) -> Node {
    let mut n = Node {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    };
    n.metadata.labels.insert("pool", pool);
    n.metadata.labels.insert("kubernetes.io/hostname", name);
    for (k, v) in [("cpu", "4"), ("memory", "16Gi"), ("pods", "110")] {
        n.status.allocatable.insert(k, Quantity::from(v));
    }
    n
}

fn pod(name: &str, cpu: &str) -> Pod {
    let mut p = Pod {
        metadata: ObjectMeta::namespaced("default", name),
        ..Default::default()
    };
    p.spec.scheduler_name = "pool-packer".into();
    let mut c = Container {
        name: "app".into(),
        image: "example.com/app:1".into(),
        ..Default::default()
    };
    c.resources.requests.insert("cpu", Quantity::from(cpu));
    c.resources.requests.insert("memory", Quantity::from("1Gi"));
    p.spec.containers.push(c);
    p
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = ApiServer::in_memory().await?;
    let client = LocalClient::new(&server);
    let nodes: Api<Node> = Api::all(&client);
    for i in 0..4 {
        nodes.create(&node(&format!("spot-{i}"), "spot")).await?;
        nodes
            .create(&node(&format!("ondemand-{i}"), "on-demand"))
            .await?;
    }

    // The defaults, plus our plugin with a weight that outweighs the
    // default spreading scores.
    let profile = plugins::default_profile("pool-packer").score(Arc::new(PackIntoPool), 10);
    let scheduler = Scheduler::new(&client, Config::default().profile(profile));
    let handle = scheduler.handle();
    let task = tokio::spawn(scheduler.run());

    let pods: Api<Pod> = Api::namespaced(&client, "default");
    let total = 20;
    for i in 0..total {
        pods.create(&pod(&format!("job-{i:02}"), "700m")).await?;
    }
    // Two pods that ask for the on-demand pool.
    for i in 0..2 {
        let mut p = pod(&format!("critical-{i}"), "1");
        p.metadata
            .annotations
            .insert("example.com/pool", "on-demand");
        pods.create(&p).await?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handle.stats().bound < total + 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut placement: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in pods.list(&Default::default()).await?.items {
        let node = if p.spec.node_name.is_empty() {
            "<pending>".to_string()
        } else {
            p.spec.node_name.to_string()
        };
        placement
            .entry(node)
            .or_default()
            .push(p.metadata.name.to_string());
    }
    for (node, pods) in &placement {
        println!("{node:12} {:2} pods: {}", pods.len(), pods.join(" "));
    }
    handle.shutdown();
    task.await??;
    Ok(())
}
