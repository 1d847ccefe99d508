//! Controller runtime benchmarks, informer part: `cargo bench --bench
//! controllers` (release, our own harness). Every figure is one line
//! `bench <name>: <value> <unit>`; `docs/BENCHMARKS.md` records them.
//!
//! Groups (run one by naming it: `cargo bench --bench controllers -- relist`):
//! - `workqueue`: `workqueue_ops`, adds plus gets (each get followed by its
//!   `done`) per second, one producer and two workers over 10,000 keys.
//! - `relist`: `relist_100k_pods`, the time for a reflector to list 100,000
//!   pods from the in-memory API server into its cache (start to
//!   `wait_until_ready`), in one request (the server answers from its watch
//!   cache with shared objects) and in pages of 500 (decoded from the store).
//! - `memory`: `informer_bytes_per_pod`, heap bytes per cached pod (global
//!   allocator, live bytes after minus before), with the informer owning its
//!   pods (decoded from JSON, as over HTTP) and sharing the server's.
//!   With `--features http` also over real HTTP on loopback:
//!   `informer_bytes_per_pod_http` (keelson's reflector via `HttpClient`)
//!   beside `kube_rs_reflector_bytes_per_pod` (kube-rs's `reflector` with
//!   k8s-openapi's `Pod`) against the same server, in the same run.
//! - `replicaset`: `replicaset_10k_converge`, ms from creating one
//!   ReplicaSet of 10,000 replicas until all 10,000 pods exist (the
//!   ReplicaSet controller with its default settings, in-memory server).
//! - `rollout`: `rollout_1000`, ms from changing the image of a
//!   1,000-replica Deployment (25% surge and unavailability) until the
//!   rollout is complete (`updatedReplicas = availableReplicas = 1000`, the
//!   old ReplicaSet at 0), with a marker task readying every pod at once.
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use keelson::api::core::Pod;
use keelson::api::meta::DeleteOptions;
use keelson::api::WatchEvent;
use keelson::apiserver::{ApiServer, ListOptions, PatchType, Target, WriteOptions};
use keelson::client::{
    Api, Body, Client, DeletePayload, ListPayload, LocalClient, Payload, PayloadStream, Result,
};
use keelson::informer::{reflector, ObjectKey, Reflector, WorkQueue};

#[path = "../common/alloc.rs"]
mod alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const QUEUE_KEYS: usize = 10_000;
const QUEUE_ROUNDS: usize = 50;
const RELIST_PODS: usize = 100_000;
const RELIST_TRIALS: usize = 5;
const MEMORY_PODS: usize = 20_000;

fn main() {
    alloc::start();
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
    if wanted("workqueue") {
        rt.block_on(workqueue());
    }
    if wanted("relist") {
        rt.block_on(relist());
    }
    if wanted("memory") {
        rt.block_on(memory());
    }
    if wanted("replicaset") {
        rt.block_on(replicaset_converge());
    }
    if wanted("rollout") {
        rt.block_on(rollout());
    }
}

fn report(name: &str, value: f64, unit: &str) {
    if value >= 1000.0 {
        println!("bench {name}: {value:.0} {unit}");
    } else {
        println!("bench {name}: {value:.3} {unit}");
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A typical pod as a Deployment's ReplicaSet creates it (the same as
/// `benches/apiserver`).
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

async fn server_with_pods(n: usize) -> ApiServer {
    let server = ApiServer::in_memory().await.expect("server");
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let tasks = 8;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let api: Api<Pod> = Api::namespaced(client.clone(), "default");
            tokio::spawn(async move {
                for i in (t..n).step_by(tasks) {
                    api.create(&pod(&format!("web-{i}"))).await.expect("create");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    server
}

/// One producer adds every key `QUEUE_ROUNDS` times; two workers get and
/// mark done until the queue is drained.
async fn workqueue() {
    let keys: Vec<ObjectKey> = (0..QUEUE_KEYS)
        .map(|i| ObjectKey::new("default", format!("web-{i}")))
        .collect();
    let mut rates = Vec::new();
    for _ in 0..3 {
        let queue: WorkQueue<ObjectKey> = WorkQueue::new();
        let gets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (queue, gets) = (queue.clone(), gets.clone());
                tokio::spawn(async move {
                    while let Some(k) = queue.get().await {
                        gets.fetch_add(1, Ordering::Relaxed);
                        queue.done(&k);
                    }
                })
            })
            .collect();
        for _ in 0..QUEUE_ROUNDS {
            for k in &keys {
                queue.add(k.clone());
            }
            tokio::task::yield_now().await;
        }
        queue.shut_down_with_drain().await;
        for w in workers {
            w.await.expect("worker");
        }
        let ops = QUEUE_KEYS * QUEUE_ROUNDS + gets.load(Ordering::Relaxed);
        rates.push(ops as f64 / start.elapsed().as_secs_f64());
    }
    report("workqueue_ops", median(rates), "ops/s");
}

async fn time_relist(client: Arc<dyn Client>, config: reflector::Config) -> f64 {
    let api: Api<Pod> = Api::all(client);
    let start = Instant::now();
    let reflector = Reflector::new(api, config);
    let cache = reflector.reader();
    let task = tokio::spawn(reflector.run());
    cache.wait_until_ready().await.expect("ready");
    let ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(cache.len(), RELIST_PODS);
    task.abort();
    ms
}

async fn relist() {
    let server = server_with_pods(RELIST_PODS).await;
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let mut one = Vec::new();
    let mut paged = Vec::new();
    for _ in 0..RELIST_TRIALS {
        one.push(time_relist(client.clone(), reflector::Config::default()).await);
        paged.push(time_relist(client.clone(), reflector::Config::default().page_size(500)).await);
    }
    report("relist_100k_pods", median(one), "ms");
    report("relist_100k_pods_paged_500", median(paged), "ms");
}

/// Live bytes once `n` pods are cached, per pod.
async fn bytes_per_pod(client: Arc<dyn Client>, n: usize) -> f64 {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = alloc::live();
    let reflector = Reflector::new(Api::<Pod>::all(client), reflector::Config::default());
    let cache = reflector.reader();
    let task = tokio::spawn(reflector.run());
    cache.wait_until_ready().await.expect("ready");
    assert_eq!(cache.len(), n);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = alloc::live();
    task.abort();
    drop(cache);
    (after - before) as f64 / n as f64
}

async fn memory() {
    let server = server_with_pods(MEMORY_PODS).await;
    let local: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let json: Arc<dyn Client> = Arc::new(Json(LocalClient::new(&server)));
    let owned = bytes_per_pod(json, MEMORY_PODS).await;
    let shared = bytes_per_pod(local, MEMORY_PODS).await;
    report("informer_bytes_per_pod", owned, "bytes");
    report("informer_bytes_per_pod_shared", shared, "bytes");
    #[cfg(feature = "http")]
    over_http(&server).await;
    #[cfg(not(feature = "http"))]
    println!(
        "(build with --features http for the same figures over HTTP beside kube-rs's reflector)"
    );
    // For scale: the pod's struct (inline part) and its JSON.
    report(
        "pod_struct_bytes",
        std::mem::size_of::<Pod>() as f64,
        "bytes",
    );
    let json_len = serde_json::to_vec(&pod("web-00000"))
        .map(|v| v.len())
        .unwrap_or(0);
    report("pod_json_bytes", json_len as f64, "bytes");
}

/// `informer_bytes_per_pod_http` and `kube_rs_reflector_bytes_per_pod`:
/// keelson's reflector through [`HttpClient`](keelson::http::HttpClient)
/// and kube-rs's `reflector` (with k8s-openapi's `Pod`), both listing and
/// watching the same pods through keelson's HTTP server on loopback, in
/// this process, measured the same way.
#[cfg(feature = "http")]
async fn over_http(server: &ApiServer) {
    use kube::runtime::{reflector as kube_reflector, watcher, WatchStreamExt};

    let serving = keelson::http::HttpServer::new(server)
        .bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let url = serving.url();
    let http: Arc<dyn Client> = Arc::new(keelson::http::HttpClient::new(&url).expect("client"));
    let ours = bytes_per_pod(http, MEMORY_PODS).await;
    report("informer_bytes_per_pod_http", ours, "bytes");

    let config = kube::Config::new(url.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("kube client");
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(client);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = alloc::live();
    let (reader, writer) = kube_reflector::store();
    let stream = kube_reflector(writer, watcher(pods, watcher::Config::default()))
        .default_backoff()
        .applied_objects();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while stream.next().await.is_some() {}
    });
    reader
        .wait_until_ready()
        .await
        .expect("kube-rs reflector ready");
    assert_eq!(reader.state().len(), MEMORY_PODS);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = alloc::live();
    task.abort();
    drop(reader);
    report(
        "kube_rs_reflector_bytes_per_pod",
        (after - before) as f64 / MEMORY_PODS as f64,
        "bytes",
    );
    report(
        "informer_bytes_per_pod_http_vs_kube_rs",
        ours / ((after - before) as f64 / MEMORY_PODS as f64),
        "x",
    );
    serving.shutdown().await;
}

/// Answers lists and watches in JSON, as an HTTP client gets them: the
/// informer then owns objects it decoded itself.
struct Json(LocalClient);

fn to_json(p: Payload) -> Payload {
    match p {
        Payload::Object(o) => Payload::Json(Bytes::from(o.to_json().expect("encodes"))),
        p => p,
    }
}

#[async_trait]
impl Client for Json {
    async fn create(&self, t: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        self.0.create(t, body, opts).await
    }
    async fn get(&self, t: &Target, rv: &str) -> Result<Payload> {
        self.0.get(t, rv).await
    }
    async fn list(&self, t: &Target, opts: &ListOptions) -> Result<ListPayload> {
        let mut l = self.0.list(t, opts).await?;
        l.items = l.items.into_iter().map(to_json).collect();
        Ok(l)
    }
    async fn watch(&self, t: &Target, opts: &ListOptions) -> Result<PayloadStream> {
        let s = self.0.watch(t, opts).await?;
        Ok(Box::pin(s.map(|e| {
            e.map(|e| match e {
                WatchEvent::Added(p) => WatchEvent::Added(to_json(p)),
                WatchEvent::Modified(p) => WatchEvent::Modified(to_json(p)),
                WatchEvent::Deleted(p) => WatchEvent::Deleted(to_json(p)),
                WatchEvent::Bookmark(p) => WatchEvent::Bookmark(to_json(p)),
                WatchEvent::Error(s) => WatchEvent::Error(s),
            })
        })))
    }
    async fn update(&self, t: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        self.0.update(t, body, opts).await
    }
    async fn patch(
        &self,
        t: &Target,
        pt: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Payload> {
        self.0.patch(t, pt, patch, opts).await
    }
    async fn delete(&self, t: &Target, opts: &DeleteOptions) -> Result<DeletePayload> {
        self.0.delete(t, opts).await
    }
    async fn delete_collection(
        &self,
        t: &Target,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<ListPayload> {
        self.0.delete_collection(t, list, opts).await
    }
}

fn workload_template(app: &str, image: &str) -> serde_json::Value {
    serde_json::json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{
            "name": "web", "image": image,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}
        }]}
    })
}

struct Controllers {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Controllers {
    fn start(client: &Arc<dyn Client>) -> Controllers {
        use keelson::controllers::{deployment, replicaset};
        let factory = keelson::informer::InformerFactory::new(client.clone());
        let (stop, rx) = tokio::sync::watch::channel(false);
        let signal = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let tasks = vec![
            tokio::spawn(replicaset::run(&factory, signal(rx.clone()))),
            tokio::spawn(deployment::run(&factory, signal(rx))),
        ];
        Controllers { stop, tasks }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// One ReplicaSet of 10,000 replicas: ms until the informer of a watcher
/// holds 10,000 pods.
async fn replicaset_converge() {
    use keelson::api::apps::ReplicaSet;
    const N: usize = 10_000;
    let mut times = Vec::new();
    for _ in 0..3 {
        let server = ApiServer::in_memory().await.expect("server");
        let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
        let controllers = Controllers::start(&client);
        let pods = keelson::informer::SharedInformer::new(
            Api::<Pod>::all(client.clone()),
            reflector::Config::default(),
        );
        pods.start();
        pods.cache().wait_until_ready().await.expect("ready");
        let rs: ReplicaSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": N, "selector": {"matchLabels": {"app": "web"}},
                     "template": workload_template("web", "nginx:1")}
        }))
        .expect("rs");
        // Let the controllers' informers sync before the clock starts.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let start = Instant::now();
        Api::<ReplicaSet>::namespaced(client.clone(), "default")
            .create(&rs)
            .await
            .expect("create");
        let cache = pods.cache();
        while cache.len() < N {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(cache.len(), N);
        controllers.stop().await;
        pods.shutdown();
    }
    report("replicaset_10k_converge", median(times), "ms");
}

/// A 1,000-replica Deployment moves from v1 to v2; a marker readies every
/// pod as soon as it appears.
async fn rollout() {
    use keelson::api::apps::{Deployment, ReplicaSet};
    use keelson::informer::{Event, SharedInformer};
    const N: i32 = 1000;
    let mut times = Vec::new();
    for _ in 0..3 {
        let server = ApiServer::in_memory().await.expect("server");
        let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
        let controllers = Controllers::start(&client);
        let pods = SharedInformer::new(
            Api::<Pod>::all(client.clone()),
            reflector::Config::default(),
        );
        let mut events = pods.subscribe();
        pods.start();
        let marker = tokio::spawn({
            let api: Api<Pod> = Api::namespaced(client.clone(), "default");
            async move {
                while let Some(e) = events.recv().await {
                    let Event::Added(p) = e else { continue };
                    let api = api.clone();
                    tokio::spawn(async move {
                        let patch = serde_json::json!({"status": {"phase": "Running", "conditions": [
                            {"type": "Ready", "status": "True", "lastTransitionTime": keelson::api::Time::now()}
                        ]}});
                        let _ = api
                            .patch_status(&p.metadata.name, PatchType::Merge, &patch)
                            .await;
                    });
                }
            }
        });
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": N, "selector": {"matchLabels": {"app": "web"}},
                     "template": workload_template("web", "app:v1")}
        }))
        .expect("deployment");
        deployments.create(&d).await.expect("create");
        let complete = |image: &'static str| {
            let deployments = deployments.clone();
            let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
            async move {
                loop {
                    let d = deployments.get("web").await.expect("get");
                    let s = &d.status;
                    let done = s.observed_generation >= d.metadata.generation
                        && s.updated_replicas == N
                        && s.available_replicas == N
                        && s.replicas == N
                        && d.spec.template.spec.containers[0].image == image;
                    if done {
                        let rs = sets.list(&Default::default()).await.expect("list").items;
                        let old_at_zero = rs.iter().all(|rs| {
                            rs.spec.template.spec.containers[0].image == image
                                || (rs.spec.replicas == Some(0) && rs.status.replicas == 0)
                        });
                        if old_at_zero {
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        };
        complete("app:v1").await;
        let start = Instant::now();
        deployments
            .patch(
                "web",
                PatchType::Strategic,
                &serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "app:v2"}]}}}}),
            )
            .await
            .expect("patch");
        complete("app:v2").await;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        marker.abort();
        controllers.stop().await;
        pods.shutdown();
    }
    report("rollout_1000", median(times), "ms");
}
