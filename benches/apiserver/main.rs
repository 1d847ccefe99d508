//! API server benchmarks: `cargo bench --bench apiserver` (release, our own
//! harness). Every figure is one line `bench <name>: <value> <unit>`; see
//! `docs/BENCHMARKS.md` for what each measures and the targets of issue 4.
//!
//! Groups (run one by naming it: `cargo bench --bench apiserver -- create`):
//! - `startup`: constructing an [`ApiServer`] on a fresh `MemoryStore`
//!   (bootstrap included) until its first request is answered.
//! - `create`: pods created through `Api<Pod>` over `LocalClient`.
//! - `list`: listing 10,000 pods (copies, and shared `Arc`s).
//! - `fanout`: 1,000 watchers while 1,000 pods/s are created; latency from
//!   the create call to each watcher receiving the event.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use keelson::api::core::{Namespace, Pod};
use keelson::api::WatchEvent;
use keelson::apiserver::{ApiServer, ListOptions};
use keelson::client::{Api, Client, LocalClient};

const CREATE_PODS: usize = 50_000;
const CREATE_TRIALS: usize = 3;
const LIST_PODS: usize = 10_000;
const LIST_TRIALS: usize = 20;
const STARTUP_TRIALS: usize = 50;
const WATCHERS: usize = 1_000;
const FANOUT_PODS: usize = 2_000;
const FANOUT_RATE: f64 = 1_000.0;

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| f == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if wanted("startup") {
        rt.block_on(startup());
    }
    if wanted("create") {
        rt.block_on(create());
    }
    if wanted("list") {
        rt.block_on(list());
    }
    if wanted("fanout") {
        rt.block_on(fanout());
    }
}

fn report(name: &str, value: f64, unit: &str) {
    if value >= 1000.0 {
        println!("bench {name}: {value:.0} {unit}");
    } else {
        println!("bench {name}: {value:.3} {unit}");
    }
}

/// The `q`-quantile of sorted samples.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn sort(v: &mut [f64]) {
    v.sort_by(|a, b| a.total_cmp(b));
}

/// A typical pod as a Deployment's ReplicaSet creates it: labels, an owner,
/// one container with ports, env, resources and probes.
fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "web", "pod-template-hash": "7d9c6f8b5d"},
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "name": "http"}],
                "env": [{"name": "MODE", "value": "production"}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"}
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}}
            }]
        }
    }))
    .expect("a valid pod")
}

async fn server() -> (ApiServer, Arc<dyn Client>) {
    let server = ApiServer::in_memory().await.expect("server");
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    (server, client)
}

/// From `ApiServer::in_memory()` (which bootstraps the namespaces and the
/// `kubernetes` Service) to the answer of a first `GET namespaces/default`.
async fn startup() {
    let mut samples = Vec::with_capacity(STARTUP_TRIALS);
    for _ in 0..STARTUP_TRIALS {
        let start = Instant::now();
        let server = ApiServer::in_memory().await.expect("server");
        let client = LocalClient::new(&server);
        let ns: Namespace = Api::all(&client).get("default").await.expect("default");
        samples.push(start.elapsed().as_secs_f64() * 1e3);
        drop(ns);
    }
    sort(&mut samples);
    report("apiserver_startup_p50", quantile(&samples, 0.5), "ms");
    report("apiserver_startup_p99", quantile(&samples, 0.99), "ms");
}

/// Pods created through `Api<Pod>` over `LocalClient` on `MemoryStore`:
/// from one task (each create awaited before the next), and from 8
/// concurrent tasks. Best of three trials, each on a fresh server.
async fn create() {
    for tasks in [1usize, 8] {
        let mut best = 0.0f64;
        for _ in 0..CREATE_TRIALS {
            let (_server, client) = server().await;
            let per_task = CREATE_PODS / tasks;
            let batches: Vec<Vec<Pod>> = (0..tasks)
                .map(|t| {
                    (0..per_task)
                        .map(|i| pod(&format!("web-{t}-{i}")))
                        .collect()
                })
                .collect();
            let start = Instant::now();
            let handles: Vec<_> = batches
                .into_iter()
                .map(|batch| {
                    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
                    tokio::spawn(async move {
                        for p in &batch {
                            api.create(p).await.expect("create");
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("task");
            }
            let rate = (per_task * tasks) as f64 / start.elapsed().as_secs_f64();
            best = best.max(rate);
        }
        let name = if tasks == 1 {
            "local_create_pods".to_string()
        } else {
            format!("local_create_pods_{tasks}_tasks")
        };
        report(&name, best, "pods/s");
    }
}

/// Listing 10,000 pods: `list` (each pod copied out, as a caller that owns
/// its objects gets them) and `list_shared` (the cached `Arc`s). Median of
/// 20 lists at the current resourceVersion (`""`: consistent, waits for the
/// cache to reach the store) and at `"0"` (any cached state).
async fn list() {
    let (_server, client) = server().await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..LIST_PODS {
        api.create(&pod(&format!("web-{i}"))).await.expect("create");
    }
    let consistent = ListOptions::default();
    let any = ListOptions {
        resource_version: "0".into(),
        ..Default::default()
    };
    let mut owned = Vec::new();
    let mut shared = Vec::new();
    let mut owned_any = Vec::new();
    for _ in 0..LIST_TRIALS {
        let start = Instant::now();
        let l = api.list(&consistent).await.expect("list");
        owned.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(l.items.len(), LIST_PODS);
        drop(l);
        let start = Instant::now();
        let (items, _) = api.list_shared(&consistent).await.expect("list");
        shared.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(items.len(), LIST_PODS);
        drop(items);
        let start = Instant::now();
        let l = api.list(&any).await.expect("list");
        owned_any.push(start.elapsed().as_secs_f64() * 1e3);
        drop(l);
    }
    for v in [&mut owned, &mut shared, &mut owned_any] {
        sort(v);
    }
    report("local_list_10k_pods", quantile(&owned, 0.5), "ms");
    report("local_list_10k_pods_rv0", quantile(&owned_any, 0.5), "ms");
    report("local_list_shared_10k_pods", quantile(&shared, 0.5), "ms");
}

/// 1,000 watchers on pods in `default` (each a `Api<Pod>::watch` stream in
/// its own task) while pods are created at 1,000/s. Each create records its
/// start time by pod name; each watcher records, per event, the time from
/// that start to its receipt. p50/p99 over every (watcher, event) pair.
async fn fanout() {
    let (_server, client) = server().await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut watchers = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        let mut stream = api.watch(&ListOptions::default()).await.expect("watch");
        let sent = sent.clone();
        watchers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(FANOUT_PODS);
            while let Some(ev) = stream.next().await {
                let now = Instant::now();
                let Ok(WatchEvent::Added(p)) = ev else {
                    continue;
                };
                let Some(start) = sent
                    .lock()
                    .expect("lock")
                    .get(p.metadata.name.as_str())
                    .copied()
                else {
                    continue;
                };
                lat.push((now - start).as_secs_f64() * 1e3);
                if lat.len() == FANOUT_PODS {
                    break;
                }
            }
            lat
        }));
    }
    let pods: Vec<Pod> = (0..FANOUT_PODS).map(|i| pod(&format!("w-{i}"))).collect();
    let interval = Duration::from_secs_f64(1.0 / FANOUT_RATE);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    for p in &pods {
        tick.tick().await;
        sent.lock()
            .expect("lock")
            .insert(p.metadata.name.to_string(), Instant::now());
        api.create(p).await.expect("create");
    }
    let rate = FANOUT_PODS as f64 / start.elapsed().as_secs_f64();
    let mut all = Vec::with_capacity(WATCHERS * FANOUT_PODS);
    for w in watchers {
        let lat = tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("every watcher sees every pod")
            .expect("task");
        assert_eq!(lat.len(), FANOUT_PODS, "a watcher missed events");
        all.extend(lat);
    }
    sort(&mut all);
    report("watch_fanout_1000_create_rate", rate, "pods/s");
    report("watch_fanout_1000_p50", quantile(&all, 0.5), "ms");
    report("watch_fanout_1000_p99", quantile(&all, 0.99), "ms");
}
