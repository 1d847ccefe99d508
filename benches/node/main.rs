//! Node agent benchmarks: `cargo bench --bench node` (release, our own
//! harness). Every figure is one line `bench <name>: <value> <unit>`;
//! `docs/BENCHMARKS.md` records them.
//!
//! - `agents_1000_memory`: heap bytes per node agent (live bytes after
//!   minus before; a counting global allocator), for 1,000 agents on
//!   FakeRuntime against one in-memory API server, registered, leased and
//!   idle: the agent, its runtime, its pod informer and heartbeat, and
//!   what the server keeps for it (Node, Lease, watch).
//! - `fake_pod_startup`: create → Running latency (p50, p99, max) of
//!   30,000 pods, 30 per agent, over those 1,000 agents: the bench creates
//!   each pod unbound and binds it through `pods/binding` (no scheduler),
//!   in 30 waves of 1,000 concurrent pods (one per node); a pod is Running
//!   when a watch of all pods first shows `phase: Running`.
//! - `fake_pod_startup_scheduled`: the same fleet with the scheduler in
//!   the loop, as a cluster runs: 30,000 unbound pods created at a steady
//!   1,000 pods/s (10 every 10 ms) for the scheduler to place; create →
//!   `Running` (p50, p99, max). This is the latency a pod sees; the waves
//!   above measure how fast a burst of 1,000 drains.
//!
//! Run one by naming it: `cargo bench --bench node -- memory`
//! (`startup` runs both startup figures, `scheduled` the second only).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use keelson::api::core::{Binding, Container, Node, Pod};
use keelson::api::{ObjectMeta, WatchEvent};
use keelson::apiserver::{ApiServer, ListOptions};
use keelson::client::{Api, Client, LocalClient};
use keelson::node::{Config, NodeAgent};
use keelson::runtime::FakeRuntime;

#[path = "../common/alloc.rs"]
mod alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const AGENTS: usize = 1000;
const PODS_PER_AGENT: usize = 30;

struct Fleet {
    server: ApiServer,
    client: Arc<dyn Client>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<keelson::node::Result<()>>>,
}

async fn start_fleet(server: &ApiServer) -> Fleet {
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(server));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(AGENTS);
    for i in 0..AGENTS {
        let config = Config::new(format!("node-{i}")).max_pods(110);
        let agent = NodeAgent::new(config, Arc::new(FakeRuntime::new()), client.clone());
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(agent.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        })));
    }
    // Wait until every node is registered and Ready.
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = nodes
            .list(&ListOptions::default())
            .await
            .expect("list nodes");
        if list.items.iter().filter(|n| n.is_ready()).count() == AGENTS {
            break;
        }
        assert!(Instant::now() < deadline, "the nodes did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Fleet {
        server: server.clone(),
        client,
        stop,
        tasks,
    }
}

impl Fleet {
    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn memory() {
    let server = ApiServer::in_memory().await.expect("server");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = alloc::live();
    let fleet = start_fleet(&server).await;
    // Let the first heartbeats settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = alloc::live();
    let per = (after - before) as f64 / AGENTS as f64;
    println!("bench agents_1000_memory: {per:.0} bytes/agent");
    fleet.stop().await;
    drop(server);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn startup() {
    let server = ApiServer::in_memory().await.expect("server");
    let fleet = start_fleet(&server).await;
    let pods: Api<Pod> = Api::namespaced(fleet.client.clone(), "default");
    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let all: Api<Pod> = Api::all(fleet.client.clone());
    let mut watch = all.watch(&ListOptions::default()).await.expect("watch");
    let (c, l) = (created.clone(), latencies.clone());
    let watcher = tokio::spawn(async move {
        while let Some(Ok(e)) = watch.next().await {
            if let WatchEvent::Modified(p) = e {
                if p.status.phase == "Running" {
                    if let Some(t) = c.lock().unwrap().remove(p.metadata.name.as_str()) {
                        l.lock().unwrap().push(t.elapsed());
                    }
                }
            }
        }
    });
    let started = Instant::now();
    for wave in 0..PODS_PER_AGENT {
        let mut batch = Vec::with_capacity(AGENTS);
        for n in 0..AGENTS {
            let pods = pods.clone();
            let created = created.clone();
            batch.push(tokio::spawn(async move {
                let name = format!("p-{wave}-{n}");
                let mut pod = Pod {
                    metadata: ObjectMeta::named(name.clone()),
                    ..Pod::default()
                };
                pod.spec.containers.push(Container {
                    name: "app".into(),
                    image: "nginx".into(),
                    ..Container::default()
                });
                created.lock().unwrap().insert(name.clone(), Instant::now());
                pods.create(&pod).await.expect("create");
                let mut binding = Binding {
                    metadata: ObjectMeta::named(name.clone()),
                    ..Binding::default()
                };
                binding.target.kind = "Node".into();
                binding.target.name = format!("node-{n}").into();
                pods.create_subresource(&name, "binding", &binding)
                    .await
                    .expect("bind");
            }));
        }
        for b in batch {
            b.await.expect("create task");
        }
        // Let the wave start before the next (each pod's latency is its own).
        let deadline = Instant::now() + Duration::from_secs(60);
        while latencies.lock().unwrap().len() < (wave + 1) * AGENTS {
            assert!(Instant::now() < deadline, "wave {wave} did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let total = started.elapsed();
    watcher.abort();
    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    println!(
        "bench fake_pod_startup_p50: {:.1} ms",
        percentile(&l, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "bench fake_pod_startup_p99: {:.1} ms",
        percentile(&l, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "bench fake_pod_startup_max: {:.1} ms",
        l.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "bench fake_pod_startup_throughput: {:.0} pods/s",
        l.len() as f64 / total.as_secs_f64()
    );
    let _ = &fleet.server;
    fleet.stop().await;
}

fn app_pod(name: String) -> Pod {
    let mut pod = Pod {
        metadata: ObjectMeta::named(name),
        ..Pod::default()
    };
    pod.spec.containers.push(Container {
        name: "app".into(),
        image: "nginx".into(),
        ..Container::default()
    });
    pod
}

fn report(name: &str, latencies: &[Duration]) {
    let mut l = latencies.to_vec();
    l.sort();
    for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
        println!(
            "bench {name}_{label}: {:.1} ms",
            percentile(&l, p).as_secs_f64() * 1e3
        );
    }
    println!(
        "bench {name}_max: {:.1} ms",
        l.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

async fn startup_scheduled() {
    const RATE_PER_TICK: usize = 10;
    const TICK: Duration = Duration::from_millis(10);
    let server = ApiServer::in_memory().await.expect("server");
    let fleet = start_fleet(&server).await;
    let scheduler = keelson::scheduler::Scheduler::new(
        fleet.client.clone(),
        keelson::scheduler::Config::default().record_events(false),
    );
    let handle = scheduler.handle();
    let sched_task = tokio::spawn(scheduler.run());
    let pods: Api<Pod> = Api::namespaced(fleet.client.clone(), "default");
    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let all: Api<Pod> = Api::all(fleet.client.clone());
    let mut watch = all.watch(&ListOptions::default()).await.expect("watch");
    let (c, l) = (created.clone(), latencies.clone());
    let watcher = tokio::spawn(async move {
        while let Some(Ok(e)) = watch.next().await {
            if let WatchEvent::Modified(p) = e {
                if p.status.phase == "Running" {
                    if let Some(t) = c.lock().unwrap().remove(p.metadata.name.as_str()) {
                        l.lock().unwrap().push(t.elapsed());
                    }
                }
            }
        }
    });
    let total = AGENTS * PODS_PER_AGENT;
    let started = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    let mut creators = Vec::new();
    for batch in 0..total / RATE_PER_TICK {
        tick.tick().await;
        for k in 0..RATE_PER_TICK {
            let pods = pods.clone();
            let created = created.clone();
            creators.push(tokio::spawn(async move {
                let name = format!("s-{batch}-{k}");
                created.lock().unwrap().insert(name.clone(), Instant::now());
                pods.create(&app_pod(name)).await.expect("create");
            }));
        }
    }
    for c in creators {
        c.await.expect("create task");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while latencies.lock().unwrap().len() < total {
        if Instant::now() > deadline {
            println!(
                "bench fake_pod_startup_scheduled: timed out, {} of {total} Running",
                latencies.lock().unwrap().len()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    watcher.abort();
    report(
        "fake_pod_startup_scheduled",
        &latencies.lock().unwrap().clone(),
    );
    eprintln!(
        "  {} pods Running in {:.1} s (offered 1,000 pods/s)",
        latencies.lock().unwrap().len(),
        elapsed.as_secs_f64()
    );
    handle.shutdown();
    let _ = sched_task.await;
    fleet.stop().await;
}

fn main() {
    alloc::start();
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if wants("memory") {
        rt.block_on(memory());
    }
    if wants("startup") && !filter.iter().any(|f| f == "scheduled") {
        rt.block_on(startup());
    }
    if wants("startup") || wants("scheduled") {
        rt.block_on(startup_scheduled());
    }
}
