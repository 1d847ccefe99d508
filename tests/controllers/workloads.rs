//! The ReplicaSet and Deployment controllers against the in-memory API
//! server. There is no node agent: a marker task plays the kubelet and
//! marks pods Ready (phase Running, a Ready condition) when its filter
//! allows.
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use keelson::api::apps::{Deployment, ReplicaSet};
use keelson::api::core::Pod;
use keelson::api::meta::DeleteOptions;
use keelson::api::{ObjectMeta, Time};
use keelson::apiserver::{ApiServer, ListOptions, PatchType, Target, WriteOptions};
use keelson::client::{
    Api, Body, Client, DeletePayload, ListPayload, LocalClient, Payload, PayloadStream, Result,
};
use keelson::controllers::{deployment, replicaset};
use keelson::informer::{reflector, Event, InformerFactory, SharedInformer};
use serde_json::json;
use tokio::sync::{watch, Notify};

const WAIT: Duration = Duration::from_secs(20);

/// Both controllers on one factory; stopped on drop of `stop`.
struct Cluster {
    client: Arc<dyn Client>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _server: Option<ApiServer>,
}

impl Cluster {
    async fn start() -> Cluster {
        let server = ApiServer::in_memory().await.unwrap();
        let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
        Self::start_on(client.clone(), client, Some(server))
    }

    /// Controllers reading through `controllers_client`; tests use `client`.
    fn start_on(
        client: Arc<dyn Client>,
        controllers_client: Arc<dyn Client>,
        server: Option<ApiServer>,
    ) -> Cluster {
        let factory = InformerFactory::new(controllers_client);
        let (stop, rx) = watch::channel(false);
        let signal = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let tasks = vec![
            tokio::spawn(replicaset::run(&factory, signal(rx.clone()))),
            tokio::spawn(deployment::run(&factory, signal(rx))),
        ];
        Cluster {
            client,
            stop,
            tasks,
            _server: server,
        }
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            tokio::time::timeout(WAIT, t).await.unwrap().unwrap();
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(&self.client, "default")
    }
    fn sets(&self) -> Api<ReplicaSet> {
        Api::namespaced(&self.client, "default")
    }
    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(&self.client, "default")
    }

    async fn list_pods(&self) -> Vec<Pod> {
        self.pods().list(&Default::default()).await.unwrap().items
    }

    async fn list_sets(&self) -> Vec<ReplicaSet> {
        self.sets().list(&Default::default()).await.unwrap().items
    }
}

/// Waits until `check` returns `Some`, polling every 10 ms, for at most
/// [`WAIT`].
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let polled = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    match polled {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Prints the workload objects (a slow rollout shows its state).
async fn dump(c: &Cluster) {
    for d in c
        .deployments()
        .list(&Default::default())
        .await
        .unwrap()
        .items
    {
        eprintln!(
            "DEPLOY {} gen {} ann {:?} status {:?}",
            d.metadata.name, d.metadata.generation, d.metadata.annotations, d.status
        );
    }
    for rs in c.list_sets().await {
        eprintln!(
            "RS {} spec {:?} ann {:?} status {:?}",
            rs.metadata.name, rs.spec.replicas, rs.metadata.annotations, rs.status
        );
    }
    for p in c.list_pods().await {
        eprintln!(
            "POD {} {:?} ready {} active {}",
            p.metadata.name,
            p.metadata.labels,
            replicaset::is_pod_ready(&p),
            active(&p)
        );
    }
}

fn active(p: &Pod) -> bool {
    replicaset::is_pod_active(p)
}

fn owned_by<'a>(pods: &'a [Pod], uid: &str) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|p| active(p))
        .filter(|p| p.metadata.controller().is_some_and(|r| r.uid == uid))
        .collect()
}

fn image(p: &Pod) -> &str {
    p.spec
        .containers
        .first()
        .map(|c| c.image.as_str())
        .unwrap_or("")
}

type Filter = Box<dyn Fn(&Pod) -> bool + Send + Sync>;

/// Plays the kubelet: marks active pods Ready when the filter allows.
struct Marker {
    filter: Arc<Mutex<Filter>>,
    rescan: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Marker {
    fn start(
        client: &Arc<dyn Client>,
        filter: impl Fn(&Pod) -> bool + Send + Sync + 'static,
    ) -> Marker {
        let informer = SharedInformer::new(Api::<Pod>::all(client), reflector::Config::default());
        let filter: Arc<Mutex<Filter>> = Arc::new(Mutex::new(Box::new(filter)));
        let rescan = Arc::new(Notify::new());
        let mut events = informer.subscribe();
        informer.start();
        let cache = informer.cache();
        let api: Api<Pod> = Api::namespaced(client, "default");
        let task = tokio::spawn({
            let (filter, rescan) = (filter.clone(), rescan.clone());
            async move {
                let _informer = informer;
                loop {
                    let pods: Vec<Arc<Pod>> = tokio::select! {
                        e = events.recv() => match e {
                            Some(Event::Added(p)) | Some(Event::Updated { new: p, .. }) => vec![p],
                            Some(Event::Deleted(_)) => continue,
                            None => break,
                        },
                        _ = rescan.notified() => cache.list(),
                    };
                    for p in pods {
                        let wanted = active(&p)
                            && !replicaset::is_pod_ready(&p)
                            && (filter.lock().unwrap())(&p);
                        if wanted {
                            let api = api.clone();
                            tokio::spawn(async move {
                                let patch = json!({"status": {"phase": "Running", "conditions": [
                                    {"type": "Ready", "status": "True", "lastTransitionTime": Time::now()}
                                ]}});
                                let _ = api
                                    .patch_status(&p.metadata.name, PatchType::Merge, &patch)
                                    .await;
                            });
                        }
                    }
                }
            }
        });
        Marker {
            filter,
            rescan,
            task,
        }
    }

    fn set_filter(&self, filter: impl Fn(&Pod) -> bool + Send + Sync + 'static) {
        *self.filter.lock().unwrap() = Box::new(filter);
        self.rescan.notify_one();
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn replicaset_json(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
            }
        }
    }))
    .unwrap()
}

fn deployment_json(name: &str, replicas: i32, strategy: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "app:v1"}]}
            }
        }
    }))
    .unwrap()
}

async fn scale_rs(c: &Cluster, name: &str, replicas: i32) {
    let patch = json!({"spec": {"replicas": replicas}});
    for _ in 0..20 {
        match c.sets().patch(name, PatchType::Merge, &patch).await {
            Ok(_) => return,
            // The status subresource is written concurrently.
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("scaling {name}: {e}"),
        }
    }
    panic!("scaling {name}: conflicts all along");
}

/// Waits until the ReplicaSet has exactly `n` active pods and says so in a
/// current status; returns the pods.
async fn rs_settles(c: &Cluster, name: &str, n: usize) -> Vec<Pod> {
    wait_for(&format!("{name} with {n} pods"), || async {
        let rs = c.sets().get(name).await.unwrap();
        let pods = c.list_pods().await;
        let owned: Vec<Pod> = owned_by(&pods, &rs.metadata.uid)
            .into_iter()
            .cloned()
            .collect();
        (owned.len() == n
            && rs.status.replicas == n as i32
            && rs.status.observed_generation == rs.metadata.generation)
            .then_some(owned)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_scales_3_5_2() {
    let c = Cluster::start().await;
    let _marker = Marker::start(&c.client, |_| true);
    let rs = c.sets().create(&replicaset_json("web", 3)).await.unwrap();
    let pods = rs_settles(&c, "web", 3).await;
    for p in &pods {
        assert!(p.metadata.name.starts_with("web-"), "{}", p.metadata.name);
        assert_eq!(p.metadata.name.len(), "web-".len() + 5);
        let r = p.metadata.controller().unwrap();
        assert_eq!((r.kind.as_str(), r.name.as_str()), ("ReplicaSet", "web"));
        assert_eq!(r.block_owner_deletion, Some(true));
        assert_eq!(r.uid, rs.metadata.uid);
    }
    scale_rs(&c, "web", 5).await;
    rs_settles(&c, "web", 5).await;
    scale_rs(&c, "web", 2).await;
    rs_settles(&c, "web", 2).await;
    // The marker readies every pod: status catches up.
    wait_for("ready status", || async {
        let s = c.sets().get("web").await.unwrap().status;
        (s.ready_replicas == 2 && s.available_replicas == 2 && s.fully_labeled_replicas == 2)
            .then_some(())
    })
    .await;
    let remaining = c.list_pods().await;
    assert_eq!(remaining.iter().filter(|p| active(p)).count(), 2);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_deletes_unready_pods_first() {
    let c = Cluster::start().await;
    // Only pods created before the switch get ready.
    let marker = Marker::start(&c.client, |_| true);
    c.sets().create(&replicaset_json("web", 2)).await.unwrap();
    let ready = rs_settles(&c, "web", 2).await;
    wait_for("two ready", || async {
        (c.sets().get("web").await.unwrap().status.ready_replicas == 2).then_some(())
    })
    .await;
    marker.set_filter(|_| false);
    scale_rs(&c, "web", 4).await;
    rs_settles(&c, "web", 4).await;
    scale_rs(&c, "web", 2).await;
    let left = rs_settles(&c, "web", 2).await;
    let mut want: Vec<_> = ready.iter().map(|p| p.metadata.name.clone()).collect();
    let mut have: Vec<_> = left.iter().map(|p| p.metadata.name.clone()).collect();
    want.sort();
    have.sort();
    assert_eq!(have, want, "the ready pods stay");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_adopts_orphans_and_releases_pods_that_stop_matching() {
    let c = Cluster::start().await;
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
    }))
    .unwrap();
    c.pods().create(&orphan).await.unwrap();
    let rs = c.sets().create(&replicaset_json("web", 2)).await.unwrap();
    let pods = rs_settles(&c, "web", 2).await;
    assert!(
        pods.iter().any(|p| p.metadata.name == "orphan"),
        "the orphan is adopted: {:?}",
        pods.iter().map(|p| &p.metadata.name).collect::<Vec<_>>()
    );
    assert_eq!(c.list_pods().await.len(), 2, "one pod created, not two");

    // The adopted pod leaves the selector: released, then replaced.
    c.pods()
        .patch(
            "orphan",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"app": "elsewhere"}}}),
        )
        .await
        .unwrap();
    let released = wait_for("the pod released", || async {
        let p = c.pods().get("orphan").await.unwrap();
        p.metadata.owner_references.is_empty().then_some(p)
    })
    .await;
    let pods = rs_settles(&c, "web", 2).await;
    assert!(pods.iter().all(|p| p.metadata.name != "orphan"));
    assert!(
        released
            .metadata
            .owner_references
            .iter()
            .all(|r| r.uid != rs.metadata.uid),
        "{:?}",
        released.metadata.owner_references
    );
    assert_eq!(c.list_pods().await.len(), 3);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_adopts_only_active_orphans_of_its_namespace_that_match() {
    let c = Cluster::start().await;
    let rs = c.sets().create(&replicaset_json("web", 2)).await.unwrap();
    rs_settles(&c, "web", 2).await;
    let pod = |name: &str, app: &str, owner: Option<serde_json::Value>| -> Pod {
        let mut meta = json!({"name": name, "labels": {"app": app}});
        if let Some(o) = owner {
            meta["ownerReferences"] = json!([o]);
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
        }))
        .unwrap()
    };
    // Not the ReplicaSet's: other labels, another controller, another
    // namespace, a finished pod.
    let foreign_ref = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "someone",
        "uid": "00000000-0000-0000-0000-00000000f00d", "controller": true
    });
    c.pods().create(&pod("stray", "db", None)).await.unwrap();
    c.pods()
        .create(&pod("foreign", "web", Some(foreign_ref)))
        .await
        .unwrap();
    Api::<keelson::api::core::Namespace>::all(&c.client)
        .create(&keelson::api::core::Namespace {
            metadata: ObjectMeta::named("other"),
            ..Default::default()
        })
        .await
        .unwrap();
    let other: Api<Pod> = Api::namespaced(&c.client, "other");
    other.create(&pod("elsewhere", "web", None)).await.unwrap();
    let done = c
        .pods()
        .create(&pod("done", "web-done", None))
        .await
        .unwrap();
    let mut finished = done.clone();
    finished.status.phase = "Succeeded".into();
    c.pods().update_status(&finished).await.unwrap();
    c.pods()
        .patch(
            "done",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"app": "web"}}}),
        )
        .await
        .unwrap();

    // A matching orphan that appears later is adopted: then the
    // ReplicaSet has one pod too many and deletes one of its own.
    let adopted_or_gone = |name: &'static str| {
        let c = &c;
        let uid = rs.metadata.uid.clone();
        async move {
            wait_for(&format!("{name} adopted"), || async {
                match c.pods().get_opt(name).await.unwrap() {
                    None => Some(()),
                    Some(p) => p
                        .metadata
                        .controller()
                        .is_some_and(|r| r.uid == uid)
                        .then_some(()),
                }
            })
            .await
        }
    };
    c.pods().create(&pod("late", "web", None)).await.unwrap();
    adopted_or_gone("late").await;
    rs_settles(&c, "web", 2).await;

    // A pod that another controller releases becomes an orphan: adopted.
    c.pods()
        .patch(
            "foreign",
            PatchType::Merge,
            &json!({"metadata": {"ownerReferences": null}}),
        )
        .await
        .unwrap();
    adopted_or_gone("foreign").await;
    rs_settles(&c, "web", 2).await;

    let stray = c.pods().get("stray").await.unwrap();
    assert!(stray.metadata.owner_references.is_empty(), "{stray:?}");
    let elsewhere = other.get("elsewhere").await.unwrap();
    assert!(
        elsewhere.metadata.owner_references.is_empty(),
        "{elsewhere:?}"
    );
    let done = c.pods().get("done").await.unwrap();
    assert!(done.metadata.owner_references.is_empty(), "{done:?}");
    c.shutdown().await;
}

/// A client whose pod watch events arrive `lag` late (in order); other
/// kinds' events are on time, so ReplicaSets are reconciled while the pod
/// cache lags.
#[derive(Clone)]
struct Lagging {
    inner: Arc<dyn Client>,
    lag: Duration,
}

#[async_trait]
impl Client for Lagging {
    async fn create(&self, t: &Target, body: Body, o: &WriteOptions) -> Result<Payload> {
        self.inner.create(t, body, o).await
    }
    async fn get(&self, t: &Target, rv: &str) -> Result<Payload> {
        self.inner.get(t, rv).await
    }
    async fn list(&self, t: &Target, o: &ListOptions) -> Result<ListPayload> {
        self.inner.list(t, o).await
    }
    async fn watch(&self, t: &Target, o: &ListOptions) -> Result<PayloadStream> {
        let mut inner = self.inner.watch(t, o).await?;
        if t.resource != "pods" {
            return Ok(inner);
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(e) = inner.next().await {
                if tx.send((tokio::time::Instant::now(), e)).is_err() {
                    break;
                }
            }
        });
        let lag = self.lag;
        let stream = tokio_stream_from(rx).then(move |(at, e)| async move {
            tokio::time::sleep_until(at + lag).await;
            e
        });
        Ok(Box::pin(stream))
    }
    async fn update(&self, t: &Target, body: Body, o: &WriteOptions) -> Result<Payload> {
        self.inner.update(t, body, o).await
    }
    async fn patch(
        &self,
        t: &Target,
        pt: PatchType,
        p: Bytes,
        o: &WriteOptions,
    ) -> Result<Payload> {
        self.inner.patch(t, pt, p, o).await
    }
    async fn delete(&self, t: &Target, o: &DeleteOptions) -> Result<DeletePayload> {
        self.inner.delete(t, o).await
    }
    async fn delete_collection(
        &self,
        t: &Target,
        l: &ListOptions,
        o: &DeleteOptions,
    ) -> Result<ListPayload> {
        self.inner.delete_collection(t, l, o).await
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_does_not_over_create_while_the_cache_lags() {
    let server = ApiServer::in_memory().await.unwrap();
    let local: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let lagging: Arc<dyn Client> = Arc::new(Lagging {
        inner: local.clone(),
        lag: Duration::from_millis(400),
    });
    // Count every pod ever created, straight from the server.
    let mut pod_events = Api::<Pod>::all(&local)
        .watch(&ListOptions::default())
        .await
        .unwrap();
    let created = Arc::new(Mutex::new(0usize));
    let counter = tokio::spawn({
        let created = created.clone();
        async move {
            while let Some(Ok(e)) = pod_events.next().await {
                if matches!(e, keelson::api::WatchEvent::Added(_)) {
                    *created.lock().unwrap() += 1;
                }
            }
        }
    });
    let c = Cluster::start_on(local, lagging, Some(server));
    c.sets().create(&replicaset_json("web", 5)).await.unwrap();
    rs_settles(&c, "web", 5).await;
    // Scale up again while the cache lags the status writes and creates.
    scale_rs(&c, "web", 8).await;
    rs_settles(&c, "web", 8).await;
    // One more round of lag: nothing further happens.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(*created.lock().unwrap(), 8, "every pod created once");
    assert_eq!(c.list_pods().await.len(), 8);
    counter.abort();
    c.shutdown().await;
}

/// Pods of the app by name, kept from watch events; every event is checked.
struct Tracker {
    pods: BTreeMap<String, Pod>,
}

impl Tracker {
    fn apply(&mut self, e: &Event<Pod>) {
        match e {
            Event::Added(p) | Event::Updated { new: p, .. } => {
                self.pods.insert(p.metadata.name.to_string(), (**p).clone());
            }
            Event::Deleted(p) => {
                self.pods.remove(p.metadata.name.as_str());
            }
        }
    }
    fn active(&self) -> impl Iterator<Item = &Pod> {
        self.pods.values().filter(|p| active(p))
    }
}

/// Runs `check` on the pods after every watch event until stopped;
/// returns how many events were checked, or the first violation.
async fn watch_pods(
    client: &Arc<dyn Client>,
    mut check: impl FnMut(&Tracker) -> std::result::Result<(), String> + Send + 'static,
) -> (
    watch::Sender<bool>,
    tokio::task::JoinHandle<std::result::Result<usize, String>>,
) {
    let informer = SharedInformer::new(Api::<Pod>::all(client), reflector::Config::default());
    informer.start();
    informer.cache().wait_until_ready().await.unwrap();
    // A late subscriber first gets the cache's content: the starting state,
    // applied whole and checked once.
    let mut events = informer.subscribe();
    let mut t = Tracker {
        pods: BTreeMap::new(),
    };
    while let Some(e) = events.try_recv() {
        t.apply(&e);
    }
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let _informer = informer;
        check(&t)?;
        let mut n = 0;
        loop {
            tokio::select! {
                biased;
                e = events.recv() => match e {
                    Some(e) => {
                        t.apply(&e);
                        n += 1;
                        check(&t)?;
                    }
                    None => break,
                },
                _ = stopped.wait_for(|s| *s) => {
                    // Drain what already arrived.
                    while let Some(e) = events.try_recv() {
                        t.apply(&e);
                        n += 1;
                        check(&t)?;
                    }
                    break;
                }
            }
        }
        Ok(n)
    });
    (stop, task)
}

/// Waits until the Deployment's rollout is complete: every replica updated
/// and available, no other pods, and the status says so.
async fn rollout_complete(c: &Cluster, name: &str, replicas: i32, image_now: &str) -> Deployment {
    let dumped = tokio::time::Instant::now() + Duration::from_secs(15);
    let once = std::sync::atomic::AtomicBool::new(true);
    let once = &once;
    wait_for(&format!("{name} rolled out to {image_now}"), || async {
        let d = c.deployments().get(name).await.unwrap();
        if tokio::time::Instant::now() > dumped
            && once.swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            dump(c).await;
        }
        let s = &d.status;
        let pods = c.list_pods().await;
        let current: Vec<&Pod> = pods
            .iter()
            .filter(|p| active(p) && p.metadata.labels.get_str("app") == Some(name))
            .collect();
        let progressing = s
            .conditions
            .iter()
            .find(|c| c.type_ == "Progressing")
            .map(|c| c.reason.to_string());
        (s.observed_generation >= d.metadata.generation
            && s.updated_replicas == replicas
            && s.available_replicas == replicas
            && s.replicas == replicas
            && current.len() == replicas as usize
            && current.iter().all(|p| image(p) == image_now)
            && progressing.as_deref() == Some("NewReplicaSetAvailable"))
        .then_some(d)
    })
    .await
}

/// Patches the Deployment, again on a conflict (the controller writes it
/// concurrently).
async fn patch_deployment(c: &Cluster, name: &str, pt: PatchType, patch: serde_json::Value) {
    for _ in 0..20 {
        match c.deployments().patch(name, pt, &patch).await {
            Ok(_) => return,
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("patching {name}: {e}"),
        }
    }
    panic!("patching {name}: conflicts all along");
}

async fn set_image(c: &Cluster, name: &str, image: &str) {
    patch_deployment(
        c,
        name,
        PatchType::Strategic,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}),
    )
    .await;
}

fn revision_of(meta: &ObjectMeta) -> Option<String> {
    meta.annotations
        .get_str(deployment::REVISION_ANNOTATION)
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_stays_within_surge_and_unavailability_on_every_event() {
    let c = Cluster::start().await;
    let _marker = Marker::start(&c.client, |_| true);
    // (replicas, maxSurge, maxUnavailable) → resolved (surge, unavailable).
    let cases = [
        (4, json!(1), json!(0), 1, 0),
        (10, json!("30%"), json!("20%"), 3, 2),
        (5, json!(0), json!(2), 0, 2),
    ];
    for (i, (replicas, surge, unavailable, max_surge, max_unavailable)) in
        cases.into_iter().enumerate()
    {
        let name = format!("roll{i}");
        let d = deployment_json(
            &name,
            replicas,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}),
        );
        c.deployments().create(&d).await.unwrap();
        let d1 = rollout_complete(&c, &name, replicas, "app:v1").await;
        assert_eq!(revision_of(&d1.metadata).as_deref(), Some("1"));
        let sets = c.list_sets().await;
        let v1 = sets
            .iter()
            .find(|rs| rs.metadata.name.starts_with(&format!("{name}-")))
            .unwrap()
            .clone();
        let hash = v1
            .metadata
            .labels
            .get_str("pod-template-hash")
            .unwrap()
            .to_string();
        assert_eq!(v1.metadata.name, format!("{name}-{hash}"));
        assert_eq!(
            v1.spec
                .selector
                .as_ref()
                .unwrap()
                .match_labels
                .get_str("pod-template-hash"),
            Some(hash.as_str())
        );
        assert_eq!(
            v1.metadata
                .annotations
                .get_str(deployment::DESIRED_REPLICAS_ANNOTATION),
            Some(replicas.to_string().as_str())
        );
        assert_eq!(
            v1.metadata
                .annotations
                .get_str(deployment::MAX_REPLICAS_ANNOTATION),
            Some((replicas + max_surge).to_string().as_str())
        );

        let app = name.clone();
        let (stop, checker) = watch_pods(&c.client, move |t| {
            let mine: Vec<&Pod> = t
                .active()
                .filter(|p| p.metadata.labels.get_str("app") == Some(app.as_str()))
                .collect();
            let ready = mine.iter().filter(|p| replicaset::is_pod_ready(p)).count() as i32;
            let total = mine.len() as i32;
            if total > replicas + max_surge {
                return Err(format!("{total} pods > {replicas} + {max_surge}"));
            }
            if ready < replicas - max_unavailable {
                return Err(format!(
                    "{ready} available < {replicas} - {max_unavailable}"
                ));
            }
            Ok(())
        })
        .await;
        set_image(&c, &name, "app:v2").await;
        let d2 = rollout_complete(&c, &name, replicas, "app:v2").await;
        let _ = stop.send(true);
        let events = checker
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            events as i32 >= 2 * replicas,
            "{name}: only {events} events checked"
        );
        assert_eq!(revision_of(&d2.metadata).as_deref(), Some("2"));
        let old = c.sets().get(&v1.metadata.name).await.unwrap();
        assert_eq!(old.spec.replicas, Some(0));
        let available = d2
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "Available")
            .unwrap();
        assert_eq!(
            (available.status.as_str(), available.reason.as_str()),
            ("True", "MinimumReplicasAvailable")
        );
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_removes_old_pods_before_creating_new_ones() {
    let c = Cluster::start().await;
    let _marker = Marker::start(&c.client, |_| true);
    let d = deployment_json("db", 3, json!({"type": "Recreate"}));
    c.deployments().create(&d).await.unwrap();
    rollout_complete(&c, "db", 3, "app:v1").await;
    let (stop, checker) = watch_pods(&c.client, |t| {
        let images: std::collections::BTreeSet<&str> = t.pods.values().map(image).collect();
        if images.len() > 1 {
            return Err(format!("old and new pods together: {images:?}"));
        }
        Ok(())
    })
    .await;
    set_image(&c, "db", "app:v2").await;
    rollout_complete(&c, "db", 3, "app:v2").await;
    let _ = stop.send(true);
    checker.await.unwrap().unwrap();
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_reuses_the_old_replicaset_with_a_new_revision() {
    let c = Cluster::start().await;
    let _marker = Marker::start(&c.client, |_| true);
    let d = deployment_json("web", 2, json!({"type": "RollingUpdate"}));
    c.deployments().create(&d).await.unwrap();
    rollout_complete(&c, "web", 2, "app:v1").await;
    let v1 = c.list_sets().await.pop().unwrap();
    set_image(&c, "web", "app:v2").await;
    rollout_complete(&c, "web", 2, "app:v2").await;
    assert_eq!(c.list_sets().await.len(), 2);

    // What `kubectl rollout undo` does: the old template, without the hash.
    let mut template = serde_json::to_value(&v1.spec.template).unwrap();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    patch_deployment(
        &c,
        "web",
        PatchType::Json,
        json!([{"op": "replace", "path": "/spec/template", "value": template}]),
    )
    .await;
    let d3 = rollout_complete(&c, "web", 2, "app:v1").await;
    assert_eq!(revision_of(&d3.metadata).as_deref(), Some("3"));
    let sets = c.list_sets().await;
    assert_eq!(sets.len(), 2, "no third ReplicaSet");
    let back = c.sets().get(&v1.metadata.name).await.unwrap();
    assert_eq!(revision_of(&back.metadata).as_deref(), Some("3"));
    assert_eq!(back.spec.replicas, Some(2));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_trimmed_to_the_revision_limit() {
    let c = Cluster::start().await;
    let _marker = Marker::start(&c.client, |_| true);
    let mut d = deployment_json("web", 1, json!({"type": "RollingUpdate"}));
    d.spec.revision_history_limit = Some(1);
    c.deployments().create(&d).await.unwrap();
    rollout_complete(&c, "web", 1, "app:v1").await;
    let v1 = c.list_sets().await.pop().unwrap();
    for v in ["app:v2", "app:v3"] {
        set_image(&c, "web", v).await;
        rollout_complete(&c, "web", 1, v).await;
    }
    let sets = wait_for("old history deleted", || async {
        let sets = c.list_sets().await;
        (sets.len() == 2).then_some(sets)
    })
    .await;
    assert!(sets.iter().all(|rs| rs.metadata.name != v1.metadata.name));
    let mut revisions: Vec<_> = sets
        .iter()
        .filter_map(|rs| revision_of(&rs.metadata))
        .collect();
    revisions.sort();
    assert_eq!(revisions, ["2", "3"]);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_deployments_scale_but_do_not_roll_out() {
    let c = Cluster::start().await;
    let _marker = Marker::start(&c.client, |_| true);
    let d = deployment_json("web", 3, json!({"type": "RollingUpdate"}));
    c.deployments().create(&d).await.unwrap();
    rollout_complete(&c, "web", 3, "app:v1").await;
    patch_deployment(
        &c,
        "web",
        PatchType::Merge,
        json!({"spec": {"paused": true}}),
    )
    .await;
    set_image(&c, "web", "app:v2").await;
    patch_deployment(
        &c,
        "web",
        PatchType::Merge,
        json!({"spec": {"replicas": 5}}),
    )
    .await;
    wait_for("paused and scaled", || async {
        let d = c.deployments().get("web").await.unwrap();
        let paused = d.status.conditions.iter().any(|c| {
            c.type_ == "Progressing" && c.reason == "DeploymentPaused" && c.status == "Unknown"
        });
        let pods = c.list_pods().await;
        let v1 = pods
            .iter()
            .filter(|p| active(p) && image(p) == "app:v1")
            .count();
        (paused
            && d.status.observed_generation == d.metadata.generation
            && d.status.replicas == 5
            && v1 == 5)
            .then_some(())
    })
    .await;
    assert_eq!(
        c.list_sets().await.len(),
        1,
        "no new ReplicaSet while paused"
    );
    assert!(c.list_pods().await.iter().all(|p| image(p) == "app:v1"));

    patch_deployment(
        &c,
        "web",
        PatchType::Merge,
        json!({"spec": {"paused": false}}),
    )
    .await;
    rollout_complete(&c, "web", 5, "app:v2").await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_mid_rollout_is_proportional() {
    let c = Cluster::start().await;
    let marker = Marker::start(&c.client, |p| image(p) == "app:v1");
    let d = deployment_json(
        "web",
        10,
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%", "maxUnavailable": "20%"}}),
    );
    c.deployments().create(&d).await.unwrap();
    rollout_complete(&c, "web", 10, "app:v1").await;
    let v1 = c.list_sets().await.pop().unwrap();
    set_image(&c, "web", "app:v2").await;
    // v2 pods never get ready: the rollout stops at 8 old + 5 new.
    let sizes = || async {
        let sets = c.list_sets().await;
        let old = sets
            .iter()
            .find(|rs| rs.metadata.name == v1.metadata.name)?;
        let new = sets
            .iter()
            .find(|rs| rs.metadata.name != v1.metadata.name)?;
        Some((old.spec.replicas?, new.spec.replicas?))
    };
    wait_for("stuck at 8 + 5", || async {
        sizes().await.filter(|s| *s == (8, 5))
    })
    .await;

    patch_deployment(
        &c,
        "web",
        PatchType::Merge,
        json!({"spec": {"replicas": 20}}),
    )
    .await;
    // 20 + 30% = 26 spread by size: 8·26/13 = 16 and 5·26/13 = 10.
    wait_for("scaled in proportion", || async {
        sizes().await.filter(|s| *s == (16, 10))
    })
    .await;
    marker.set_filter(|_| true);
    rollout_complete(&c, "web", 20, "app:v2").await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_deadline_exceeded_when_pods_never_get_ready() {
    let c = Cluster::start().await;
    let mut d = deployment_json("web", 2, json!({"type": "RollingUpdate"}));
    d.spec.progress_deadline_seconds = Some(2);
    c.deployments().create(&d).await.unwrap();
    let d = wait_for("ProgressDeadlineExceeded", || async {
        let d = c.deployments().get("web").await.unwrap();
        d.status
            .conditions
            .iter()
            .any(|c| {
                c.type_ == "Progressing"
                    && c.status == "False"
                    && c.reason == "ProgressDeadlineExceeded"
            })
            .then_some(d)
    })
    .await;
    let available = d
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Available")
        .unwrap();
    assert_eq!(
        (available.status.as_str(), available.reason.as_str()),
        ("False", "MinimumReplicasUnavailable")
    );
    assert_eq!(d.status.unavailable_replicas, 2);
    assert_eq!(d.status.replicas, 2);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_counts_pods_available_after_min_ready_seconds() {
    let c = Cluster::start().await;
    let _marker = Marker::start(&c.client, |_| true);
    let mut rs = replicaset_json("web", 2);
    rs.spec.min_ready_seconds = 1;
    c.sets().create(&rs).await.unwrap();
    let available_when_ready = wait_for("two ready", || async {
        let s = c.sets().get("web").await.unwrap().status;
        (s.ready_replicas == 2).then_some(s.available_replicas)
    })
    .await;
    assert!(available_when_ready < 2, "available before minReadySeconds");
    // No pod changes after this: only the controller's own requeue can
    // make them available.
    wait_for("both available", || async {
        let s = c.sets().get("web").await.unwrap().status;
        (s.available_replicas == 2).then_some(())
    })
    .await;
    c.shutdown().await;
}
