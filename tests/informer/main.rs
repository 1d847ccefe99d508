//! Informers and work queues against the in-memory API server: initial
//! list, events, indexes, relisting on `410 Gone`, resuming watches the
//! server ends, one watch for many consumers; and property tests of the
//! cache (it converges to the server's list) and the work queue (no key
//! processed twice at once, no key lost).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use proptest::prelude::*;

use keelson::api::core::{ConfigMap, Pod};
use keelson::api::meta::DeleteOptions;
use keelson::api::selector::Selector;
use keelson::api::{ObjectMeta, Str};
use keelson::apiserver::{ApiServer, Config, ListOptions, PatchType, Target, WriteOptions};
use keelson::client::{
    Api, Body, Client, DeletePayload, ListPayload, LocalClient, Payload, PayloadStream, Result,
};
use keelson::informer::{reflector, Event, InformerFactory, ObjectKey, SharedInformer, WorkQueue};

/// A client in front of a [`LocalClient`] that counts lists and watches,
/// can end every open watch, hold new ones back, and answer in JSON (as an
/// HTTP client would).
#[derive(Clone)]
struct Probe {
    inner: LocalClient,
    lists: Arc<AtomicUsize>,
    watches: Arc<AtomicUsize>,
    cut: Arc<tokio::sync::watch::Sender<u64>>,
    held: Arc<tokio::sync::watch::Sender<bool>>,
    /// The resource version and bookmark flag of every watch asked for.
    asked: Arc<Mutex<Vec<(String, bool)>>>,
    /// Lists still to fail.
    failing_lists: Arc<AtomicUsize>,
    json: bool,
}

impl Probe {
    fn new(server: &ApiServer) -> Self {
        Probe {
            inner: LocalClient::new(server),
            lists: Arc::default(),
            watches: Arc::default(),
            cut: Arc::new(tokio::sync::watch::channel(0).0),
            held: Arc::new(tokio::sync::watch::channel(false).0),
            asked: Arc::default(),
            failing_lists: Arc::default(),
            json: false,
        }
    }

    fn json(mut self) -> Self {
        self.json = true;
        self
    }

    fn lists(&self) -> usize {
        self.lists.load(Ordering::SeqCst)
    }

    fn watches(&self) -> usize {
        self.watches.load(Ordering::SeqCst)
    }

    /// Ends every open watch.
    fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Holds new watches back (or lets them through).
    fn hold(&self, on: bool) {
        self.held.send_replace(on);
    }

    fn payload(&self, p: Payload) -> Payload {
        match p {
            Payload::Object(o) if self.json => {
                Payload::Json(Bytes::from(o.to_json().expect("encodes")))
            }
            p => p,
        }
    }
}

#[async_trait]
impl Client for Probe {
    async fn create(&self, t: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        self.inner
            .create(t, body, opts)
            .await
            .map(|p| self.payload(p))
    }
    async fn get(&self, t: &Target, rv: &str) -> Result<Payload> {
        self.inner.get(t, rv).await.map(|p| self.payload(p))
    }
    async fn list(&self, t: &Target, opts: &ListOptions) -> Result<ListPayload> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        let fail = self
            .failing_lists
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(keelson::client::Error::Transport {
                message: "connection refused".into(),
                source: None,
            });
        }
        let mut l = self.inner.list(t, opts).await?;
        l.items = l.items.into_iter().map(|p| self.payload(p)).collect();
        Ok(l)
    }
    async fn watch(&self, t: &Target, opts: &ListOptions) -> Result<PayloadStream> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        self.asked
            .lock()
            .unwrap()
            .push((opts.resource_version.to_string(), opts.allow_bookmarks));
        let mut held = self.held.subscribe();
        let _ = held.wait_for(|h| !*h).await;
        let mut cut = self.cut.subscribe();
        cut.borrow_and_update();
        let stream = self.inner.watch(t, opts).await?;
        let me = self.clone();
        Ok(Box::pin(
            stream
                .map(move |e| {
                    e.map(|e| match e {
                        keelson::api::WatchEvent::Added(p) => {
                            keelson::api::WatchEvent::Added(me.payload(p))
                        }
                        keelson::api::WatchEvent::Modified(p) => {
                            keelson::api::WatchEvent::Modified(me.payload(p))
                        }
                        keelson::api::WatchEvent::Deleted(p) => {
                            keelson::api::WatchEvent::Deleted(me.payload(p))
                        }
                        keelson::api::WatchEvent::Bookmark(p) => {
                            keelson::api::WatchEvent::Bookmark(me.payload(p))
                        }
                        keelson::api::WatchEvent::Error(s) => keelson::api::WatchEvent::Error(s),
                    })
                })
                .take_until(async move {
                    let _ = cut.changed().await;
                }),
        ))
    }
    async fn update(&self, t: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        self.inner
            .update(t, body, opts)
            .await
            .map(|p| self.payload(p))
    }
    async fn patch(
        &self,
        t: &Target,
        pt: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Payload> {
        self.inner
            .patch(t, pt, patch, opts)
            .await
            .map(|p| self.payload(p))
    }
    async fn delete(&self, t: &Target, opts: &DeleteOptions) -> Result<DeletePayload> {
        self.inner.delete(t, opts).await
    }
    async fn delete_collection(
        &self,
        t: &Target,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<ListPayload> {
        self.inner.delete_collection(t, list, opts).await
    }
}

fn configmap(name: &str, value: &str) -> ConfigMap {
    let mut cm = ConfigMap {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    };
    cm.data.insert("v", value);
    cm
}

fn pod(name: &str, node: &str, app: &str) -> Pod {
    let mut p: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    }))
    .expect("a pod");
    p.spec.node_name = Str::from(node);
    p
}

async fn next<K>(sub: &mut keelson::informer::Subscription<K>) -> Event<K> {
    tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("an event within 5 s")
        .expect("the subscription is open")
}

fn describe(e: &Event<ConfigMap>) -> String {
    let data = |c: &ConfigMap| c.data.get("v").map(|s| s.to_string()).unwrap_or_default();
    match e {
        Event::Added(o) => format!("added {} {}", o.metadata.name, data(o)),
        Event::Updated { old, new } => {
            format!("updated {} {}->{}", new.metadata.name, data(old), data(new))
        }
        Event::Deleted(o) => format!("deleted {}", o.metadata.name),
    }
}

/// Names and resource versions, as the server lists them.
async fn server_state(api: &Api<ConfigMap>) -> BTreeMap<String, String> {
    api.list(&ListOptions::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|c| {
            (
                ObjectKey::of(&c).to_string(),
                c.metadata.resource_version.to_string(),
            )
        })
        .collect()
}

fn cache_state(cache: &keelson::informer::Cache<ConfigMap>) -> BTreeMap<String, String> {
    cache
        .list()
        .iter()
        .map(|c| {
            (
                ObjectKey::of(c.as_ref()).to_string(),
                c.metadata.resource_version.to_string(),
            )
        })
        .collect()
}

/// Waits (up to 5 s) until the cache holds exactly what the server lists.
async fn converge(api: &Api<ConfigMap>, cache: &keelson::informer::Cache<ConfigMap>) {
    let want = server_state(api).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = cache_state(cache);
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cache never matched the server:\n cache  {got:?}\n server {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ------------------------------------------------------------ informers

#[tokio::test]
async fn initial_list_then_add_update_delete_in_order() {
    let server = ApiServer::in_memory().await.unwrap();
    let probe = Probe::new(&server);
    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    api.create(&configmap("before", "0")).await.unwrap();

    let informer = SharedInformer::new(
        Api::<ConfigMap>::namespaced(&probe, "default"),
        reflector::Config::default(),
    );
    let mut sub = informer.subscribe();
    informer.start();
    informer.cache().wait_until_ready().await.unwrap();
    assert_eq!(describe(&next(&mut sub).await), "added before 0");

    let created = api.create(&configmap("web", "1")).await.unwrap();
    let mut changed = created.clone();
    changed.data.insert("v", "2");
    api.update(&changed).await.unwrap();
    api.delete("web", &DeleteOptions::default()).await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(describe(&next(&mut sub).await));
    }
    assert_eq!(seen, ["added web 1", "updated web 1->2", "deleted web"]);
    assert_eq!(informer.cache().len(), 1);
    assert!(informer.cache().get_named("default", "before").is_some());
    assert_eq!((probe.lists(), probe.watches()), (1, 1));
    informer.shutdown();
    assert!(tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("the subscription ends")
        .is_none());
}

#[tokio::test]
async fn index_queries_by_node_label_and_namespace() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let factory = InformerFactory::new(&client);
    let pods = factory.informer::<Pod>();
    pods.add_index("node", |p: &Pod| {
        if p.spec.node_name.is_empty() {
            Vec::new()
        } else {
            vec![p.spec.node_name.clone()]
        }
    });
    pods.add_label_index();
    let default: Api<Pod> = Api::namespaced(&client, "default");
    let system: Api<Pod> = Api::namespaced(&client, "kube-system");
    default.create(&pod("a", "node-1", "web")).await.unwrap();
    default.create(&pod("b", "node-2", "web")).await.unwrap();
    system.create(&pod("c", "node-1", "dns")).await.unwrap();
    factory.start();
    factory.wait_for_sync().await.unwrap();
    // Created after the first list: arrives by watch.
    default.create(&pod("d", "", "web")).await.unwrap();
    let cache = pods.cache();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while cache.len() < 4 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let names = |v: Vec<Arc<Pod>>| -> Vec<String> {
        v.iter()
            .map(|p| ObjectKey::of(p.as_ref()).to_string())
            .collect()
    };
    assert_eq!(
        names(cache.by_index("node", "node-1").unwrap()),
        ["default/a", "kube-system/c"]
    );
    assert_eq!(
        names(cache.by_index("node", "node-2").unwrap()),
        ["default/b"]
    );
    assert_eq!(
        names(cache.list_selected(&Selector::parse("app=web").unwrap())),
        ["default/a", "default/b", "default/d"]
    );
    assert_eq!(
        names(cache.list_namespace("kube-system")),
        ["kube-system/c"]
    );
    assert_eq!(
        cache.index_values("node").unwrap(),
        vec![Str::from("node-1"), Str::from("node-2")]
    );
    factory.shutdown();
}

#[tokio::test]
async fn relists_on_410_and_reports_what_changed_meanwhile() {
    let server = ApiServer::builder()
        .config(Config::default().watch_cache_capacity(16))
        .build()
        .await
        .unwrap();
    let probe = Probe::new(&server);
    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    for i in 0..5 {
        api.create(&configmap(&format!("old-{i}"), "0"))
            .await
            .unwrap();
    }
    let informer = SharedInformer::new(api.clone(), reflector::Config::default());
    let mut sub = informer.subscribe();
    informer.start();
    informer.cache().wait_until_ready().await.unwrap();
    for _ in 0..5 {
        next(&mut sub).await;
    }

    // The watch ends and the next one is held back while more than the
    // server's 16-event window happens: it resumes at a version the
    // server no longer has.
    probe.hold(true);
    probe.cut();
    while probe.watches() < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for i in 0..20 {
        api.create(&configmap(&format!("new-{i}"), "1"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        api.delete(&format!("old-{i}"), &DeleteOptions::default())
            .await
            .unwrap();
    }
    let mut cm = api.get("old-4").await.unwrap();
    cm.data.insert("v", "changed");
    api.update(&cm).await.unwrap();
    probe.hold(false);

    let direct: Api<ConfigMap> = Api::namespaced(LocalClient::new(&server), "default");
    converge(&direct, &informer.cache()).await;
    assert_eq!(probe.lists(), 2, "the 410 made it list again");

    let mut seen = HashSet::new();
    while seen.len() < 24 {
        seen.insert(describe(&next(&mut sub).await));
    }
    for i in 0..3 {
        assert!(seen.contains(&format!("deleted old-{i}")), "{seen:?}");
    }
    assert!(seen.contains("updated old-4 0->changed"), "{seen:?}");
    assert!(seen.contains("added new-19 1"), "{seen:?}");
    informer.shutdown();
}

#[tokio::test]
async fn resumes_a_watch_the_server_ends_without_listing_again() {
    let server = ApiServer::in_memory().await.unwrap();
    let probe = Probe::new(&server);
    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    let informer = SharedInformer::new(
        api.clone(),
        reflector::Config::default().watch_timeout(Some(Duration::from_millis(100))),
    );
    let mut sub = informer.subscribe();
    informer.start();
    informer.cache().wait_until_ready().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while probe.watches() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "no re-watch");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    api.create(&configmap("late", "1")).await.unwrap();
    assert_eq!(describe(&next(&mut sub).await), "added late 1");
    assert_eq!(probe.lists(), 1);
    informer.shutdown();
}

#[tokio::test]
async fn bookmarks_move_the_resource_version_a_watch_resumes_from() {
    let server = ApiServer::builder()
        .config(Config::default().bookmark_interval(Duration::from_millis(50)))
        .build()
        .await
        .unwrap();
    let probe = Probe::new(&server);
    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    let cm = api.create(&configmap("quiet", "1")).await.unwrap();
    let informer = SharedInformer::new(api.clone(), reflector::Config::default());
    informer.start();
    informer.cache().wait_until_ready().await.unwrap();
    // Other kinds move the server's revision; configmaps stay quiet.
    let pods: Api<Pod> = Api::namespaced(&probe, "default");
    let mut revision = 0;
    for i in 0..3 {
        let p = pods.create(&pod(&format!("p{i}"), "", "x")).await.unwrap();
        revision = p.metadata.resource_version.parse::<i64>().unwrap();
    }
    let rv = cm.metadata.resource_version.parse::<i64>().unwrap();
    assert!(revision > rv);
    let cache = informer.cache();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while cache.resource_version().parse::<i64>().unwrap_or(0) < revision {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no bookmark arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    probe.cut();
    while probe.watches() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no re-watch");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let asked = probe.asked.lock().unwrap().clone();
    assert!(asked.iter().all(|(_, bookmarks)| *bookmarks), "{asked:?}");
    let resumed_at: i64 = asked[1].0.parse().unwrap();
    assert!(resumed_at >= revision, "{asked:?} (revision {revision})");
    assert_eq!(probe.lists(), 1);
    informer.shutdown();
}

#[tokio::test]
async fn failed_lists_are_retried_with_exponential_backoff() {
    let server = ApiServer::in_memory().await.unwrap();
    let probe = Probe::new(&server);
    probe.failing_lists.store(3, Ordering::SeqCst);
    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    api.create(&configmap("x", "1")).await.unwrap();
    let backoff = reflector::Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_secs(1),
        factor: 2.0,
        jitter: 0.0,
    };
    let informer = SharedInformer::new(api, reflector::Config::default().backoff(backoff));
    let start = std::time::Instant::now();
    informer.start();
    tokio::time::timeout(Duration::from_secs(5), informer.cache().wait_until_ready())
        .await
        .expect("ready after the failures")
        .unwrap();
    // 20 + 40 + 80 ms of backoff before the fourth list.
    assert!(
        start.elapsed() >= Duration::from_millis(140),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(probe.lists(), 4);
    assert_eq!(informer.cache().len(), 1);
    informer.shutdown();
}

#[tokio::test]
async fn two_consumers_of_one_kind_share_one_watch() {
    let server = ApiServer::in_memory().await.unwrap();
    let probe = Probe::new(&server);
    let factory = InformerFactory::new(&probe);
    let a = factory.informer::<ConfigMap>();
    let b = factory.informer::<ConfigMap>();
    assert!(a.ptr_eq(&b));
    let other = factory.namespaced::<ConfigMap>("kube-system");
    assert!(!a.ptr_eq(&other));
    let mut sub_a = a.subscribe();
    let seen_b = Arc::new(Mutex::new(Vec::new()));
    let sink = seen_b.clone();
    b.on_event(move |e| sink.lock().unwrap().push(describe(&e)));
    factory.start();
    factory.wait_for_sync().await.unwrap();

    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    api.create(&configmap("shared", "1")).await.unwrap();
    assert_eq!(describe(&next(&mut sub_a).await), "added shared 1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen_b.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(*seen_b.lock().unwrap(), ["added shared 1"]);
    // Two informers started (all namespaces, and kube-system): two watches.
    assert_eq!((probe.lists(), probe.watches()), (2, 2));

    // A consumer joining late starts from a snapshot of the cache.
    let mut late = a.subscribe();
    let first = describe(&next(&mut late).await);
    assert!(first.starts_with("added "), "{first}");
    factory.shutdown();
}

#[tokio::test]
async fn resync_redelivers_cached_objects_as_updates() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let api: Api<ConfigMap> = Api::namespaced(&client, "default");
    api.create(&configmap("one", "1")).await.unwrap();
    let informer = SharedInformer::new(api.clone(), reflector::Config::default());
    let mut plain = informer.subscribe();
    let mut resynced = informer.subscribe_with_resync(Duration::from_millis(50));
    informer.start();
    assert!(matches!(next(&mut resynced).await, Event::Added(_)));
    let again = next(&mut resynced).await;
    assert!(again.is_resync(), "{}", describe(&again));
    assert!(matches!(next(&mut plain).await, Event::Added(_)));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(plain.try_recv().is_none(), "no resync was asked for");
    informer.shutdown();
}

#[tokio::test]
async fn dynamic_objects_over_a_json_client() {
    let server = ApiServer::in_memory().await.unwrap();
    let probe = Probe::new(&server).json();
    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    api.create(&configmap("dyn", "1")).await.unwrap();
    let resource = server
        .kind("", "v1", "configmaps")
        .unwrap()
        .resource
        .clone();
    let factory = InformerFactory::new(&probe);
    let informer = factory.dynamic(&resource);
    factory.start();
    factory.wait_for_sync().await.unwrap();
    let obj = informer
        .cache()
        .get_named("default", "dyn")
        .expect("cached");
    let v = serde_json::to_value(obj.as_ref()).unwrap();
    assert_eq!(v["data"]["v"], "1");

    // Typed kinds decode from JSON too.
    let typed = factory.informer::<ConfigMap>();
    typed.cache().wait_until_ready().await.unwrap();
    assert_eq!(
        typed
            .cache()
            .get_named("default", "dyn")
            .unwrap()
            .data
            .get("v")
            .map(|s| s.as_str()),
        Some("1")
    );
    factory.shutdown();
}

#[tokio::test]
async fn paginated_lists_fill_the_cache() {
    let server = ApiServer::in_memory().await.unwrap();
    let probe = Probe::new(&server);
    let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
    for i in 0..25 {
        api.create(&configmap(&format!("cm-{i:02}"), "1"))
            .await
            .unwrap();
    }
    let informer = SharedInformer::new(api.clone(), reflector::Config::default().page_size(10));
    informer.start();
    informer.cache().wait_until_ready().await.unwrap();
    assert_eq!(informer.cache().len(), 25);
    assert_eq!(probe.lists(), 3);
    converge(&api, &informer.cache()).await;
    informer.shutdown();
}

#[tokio::test]
async fn a_work_queue_fed_by_an_informer_reconciles_each_change() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let factory = InformerFactory::new(&client);
    let informer = factory.namespaced::<ConfigMap>("default");
    let queue: WorkQueue<ObjectKey> = WorkQueue::new();
    let q = queue.clone();
    informer.on_event(move |e| q.add(e.key()));
    factory.start();
    factory.wait_for_sync().await.unwrap();
    let cache = informer.cache();
    let reconciled = Arc::new(Mutex::new(HashMap::<String, String>::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (queue, cache, reconciled) = (queue.clone(), cache.clone(), reconciled.clone());
            tokio::spawn(async move {
                while let Some(key) = queue.get().await {
                    let v = cache
                        .get(&key)
                        .and_then(|c| c.data.get("v").map(|s| s.to_string()))
                        .unwrap_or_else(|| "gone".into());
                    reconciled.lock().unwrap().insert(key.to_string(), v);
                    queue.done(&key);
                }
            })
        })
        .collect();
    let api: Api<ConfigMap> = Api::namespaced(&client, "default");
    for i in 0..10 {
        api.create(&configmap(&format!("k{i}"), "1")).await.unwrap();
    }
    api.delete("k3", &DeleteOptions::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let done = {
            let r = reconciled.lock().unwrap();
            r.len() == 10 && r.get("default/k3").map(|s| s.as_str()) == Some("gone")
        };
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            reconciled.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    queue.shut_down_with_drain().await;
    for w in workers {
        w.await.unwrap();
    }
    factory.shutdown();
}

// ------------------------------------------------------ property tests

#[derive(Clone, Debug)]
enum CacheOp {
    Create(u8),
    Update(u8),
    Delete(u8),
    /// End the watch and make several writes while it is down.
    Outage(Vec<u8>),
}

fn cache_op() -> impl Strategy<Value = CacheOp> {
    prop_oneof![
        4 => (0u8..10).prop_map(CacheOp::Create),
        3 => (0u8..10).prop_map(CacheOp::Update),
        2 => (0u8..10).prop_map(CacheOp::Delete),
        1 => proptest::collection::vec(0u8..10, 0..30).prop_map(CacheOp::Outage),
    ]
}

async fn write(api: &Api<ConfigMap>, op: u8, n: u8, salt: usize) {
    let name = format!("cm-{n}");
    match op % 3 {
        0 => {
            let _ = api.create(&configmap(&name, &salt.to_string())).await;
        }
        1 => {
            if let Ok(Some(mut c)) = api.get_opt(&name).await {
                c.data.insert("v", salt.to_string());
                let _ = api.update(&c).await;
            }
        }
        _ => {
            let _ = api.delete(&name, &DeleteOptions::default()).await;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// After any sequence of creates, updates and deletes (with watch
    /// outages long enough to need a relist), the cache holds exactly
    /// what the server lists, at the same resource versions.
    #[test]
    fn cache_converges_to_the_server_list(ops in proptest::collection::vec(cache_op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = ApiServer::builder()
                .config(Config::default().watch_cache_capacity(16))
                .build()
                .await
                .unwrap();
            let probe = Probe::new(&server);
            let api: Api<ConfigMap> = Api::namespaced(&probe, "default");
            let informer = SharedInformer::new(api.clone(), reflector::Config::default());
            informer.start();
            informer.cache().wait_until_ready().await.unwrap();
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    CacheOp::Create(n) => write(&api, 0, n, i).await,
                    CacheOp::Update(n) => write(&api, 1, n, i).await,
                    CacheOp::Delete(n) => write(&api, 2, n, i).await,
                    CacheOp::Outage(writes) => {
                        probe.hold(true);
                        probe.cut();
                        for (j, w) in writes.into_iter().enumerate() {
                            write(&api, w / 10 + w, w % 10, i * 100 + j).await;
                        }
                        probe.hold(false);
                    }
                }
            }
            converge(&api, &informer.cache()).await;
            informer.shutdown();
        });
    }
}

#[derive(Clone, Debug)]
enum QueueOp {
    Add(u8),
    AddAfter(u8, u64),
    Sleep(u64),
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        4 => (0u8..6).prop_map(QueueOp::Add),
        2 => ((0u8..6), 1u64..50).prop_map(|(k, d)| QueueOp::AddAfter(k, d)),
        2 => (0u64..20).prop_map(QueueOp::Sleep),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Producers add keys (some delayed) while workers process them for
    /// random times: no key is ever held by two workers at once, and
    /// every add is followed by a processing of its key.
    #[test]
    fn work_queue_never_overlaps_and_never_loses_a_key(
        producers in proptest::collection::vec(proptest::collection::vec(queue_op(), 0..30), 1..4),
        work_times in proptest::collection::vec(0u64..15, 1..5),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async move {
            let queue: WorkQueue<u8> = WorkQueue::new();
            // Keys added and not yet handed out since.
            let pending = Arc::new(Mutex::new(HashSet::<u8>::new()));
            let in_flight = Arc::new(Mutex::new(HashSet::<u8>::new()));
            let overlaps = Arc::new(AtomicUsize::new(0));
            let workers: Vec<_> = work_times
                .into_iter()
                .map(|ms| {
                    let (queue, pending, in_flight, overlaps) =
                        (queue.clone(), pending.clone(), in_flight.clone(), overlaps.clone());
                    tokio::spawn(async move {
                        while let Some(k) = queue.get().await {
                            pending.lock().unwrap().remove(&k);
                            if !in_flight.lock().unwrap().insert(k) {
                                overlaps.fetch_add(1, Ordering::SeqCst);
                            }
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            in_flight.lock().unwrap().remove(&k);
                            queue.done(&k);
                        }
                    })
                })
                .collect();
            let producers: Vec<_> = producers
                .into_iter()
                .map(|ops| {
                    let (queue, pending) = (queue.clone(), pending.clone());
                    tokio::spawn(async move {
                        for op in ops {
                            match op {
                                QueueOp::Add(k) => {
                                    pending.lock().unwrap().insert(k);
                                    queue.add(k);
                                }
                                QueueOp::AddAfter(k, ms) => {
                                    pending.lock().unwrap().insert(k);
                                    queue.add_after(k, Duration::from_millis(ms));
                                }
                                QueueOp::Sleep(ms) => {
                                    tokio::time::sleep(Duration::from_millis(ms)).await
                                }
                            }
                        }
                    })
                })
                .collect();
            for p in producers {
                p.await.unwrap();
            }
            // Past every delay, then drain.
            tokio::time::sleep(Duration::from_millis(100)).await;
            queue.shut_down_with_drain().await;
            for w in workers {
                w.await.unwrap();
            }
            assert_eq!(overlaps.load(Ordering::SeqCst), 0, "a key was processed twice at once");
            let lost = pending.lock().unwrap().clone();
            assert!(lost.is_empty(), "added but never processed: {lost:?}");
            assert_eq!(queue.len(), 0);
        });
    }
}
