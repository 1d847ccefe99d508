//! Shared informers: one reflector (one list and one watch) per kind and
//! selection, serving every consumer in the process.
//!
//! A [`SharedInformer`] owns a [`Reflector`] and its cache; consumers
//! [`subscribe`](SharedInformer::subscribe) for a stream of [`Event`]s, or
//! hand a closure to [`on_event`](SharedInformer::on_event). A consumer
//! that joins late first gets an `Added` for every cached object. A
//! consumer may ask for a periodic resync: every object again as an
//! `Updated` whose old and new are the same ([`Event::is_resync`]).
//!
//! The [`InformerFactory`] hands out the same informer to everyone asking
//! for the same kind, namespace and selection.
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use crate::api::resource::ApiResource;
use crate::api::{DynamicObject, Resource, Str};
use crate::client::{Api, Client, IntoClient};

use super::cache::{Cache, Event, IndexFn, Writer};
use super::reflector::{self, Reflector, Update};
use super::{Error, Object};

struct Listener<K> {
    tx: mpsc::UnboundedSender<Event<K>>,
    resync: Option<(Duration, Instant)>,
}

/// The consumers of one informer. Changes are applied to the cache and
/// sent to consumers under its lock, so a consumer that joins sees every
/// change exactly once: in its snapshot or as an event.
struct Hub<K> {
    listeners: Mutex<Vec<Listener<K>>>,
    /// A consumer with a resync joined: the resync timer recomputes.
    joined: Notify,
}

impl<K> Hub<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Listener<K>>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stream of an informer's events for one consumer. Ends when the
/// informer shuts down.
pub struct Subscription<K> {
    rx: mpsc::UnboundedReceiver<Event<K>>,
}

impl<K> fmt::Debug for Subscription<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("pending", &self.rx.len())
            .finish()
    }
}

impl<K> Subscription<K> {
    /// The next event; `None` once the informer has shut down.
    pub async fn recv(&mut self) -> Option<Event<K>> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event<K>> {
        self.rx.try_recv().ok()
    }
}

impl<K> Stream for Subscription<K> {
    type Item = Event<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event<K>>> {
        self.rx.poll_recv(cx)
    }
}

struct Inner<K> {
    api: Api<K>,
    config: reflector::Config,
    cache: Cache<K>,
    hub: Arc<Hub<K>>,
    /// The writer until the informer starts.
    writer: Mutex<Option<Writer<K>>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// One list-and-watch of a kind, shared by any number of consumers.
/// Cheap to clone.
///
/// ```
/// # tokio_test::block_on(async {
/// use keelson::api::core::ConfigMap;
/// use keelson::api::ObjectMeta;
/// use keelson::apiserver::ApiServer;
/// use keelson::client::{Api, LocalClient};
/// use keelson::informer::{reflector, Event, SharedInformer};
///
/// let server = ApiServer::in_memory().await.unwrap();
/// let client = LocalClient::new(&server);
/// let informer = SharedInformer::new(Api::<ConfigMap>::all(&client), reflector::Config::default());
/// let mut events = informer.subscribe();
/// informer.start();
/// informer.cache().wait_until_ready().await.unwrap();
///
/// let cm = ConfigMap { metadata: ObjectMeta::named("settings"), ..Default::default() };
/// Api::<ConfigMap>::namespaced(&client, "default").create(&cm).await.unwrap();
/// match events.recv().await {
///     Some(Event::Added(o)) => assert_eq!(o.metadata.name, "settings"),
///     other => panic!("{other:?}"),
/// }
/// informer.shutdown();
/// # });
/// ```
pub struct SharedInformer<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for SharedInformer<K> {
    fn clone(&self) -> Self {
        SharedInformer {
            inner: self.inner.clone(),
        }
    }
}

impl<K> fmt::Debug for SharedInformer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedInformer")
            .field("api", &self.inner.api)
            .field("cache", &self.inner.cache)
            .finish()
    }
}

impl<K: Object> SharedInformer<K> {
    /// An informer (not started) over `api` (its namespace, or all).
    pub fn new(api: Api<K>, config: reflector::Config) -> Self {
        let writer = Writer::new();
        let (stop, _) = tokio::sync::watch::channel(false);
        SharedInformer {
            inner: Arc::new(Inner {
                api,
                config,
                cache: writer.reader(),
                hub: Arc::new(Hub {
                    listeners: Mutex::new(Vec::new()),
                    joined: Notify::new(),
                }),
                writer: Mutex::new(Some(writer)),
                stop,
            }),
        }
    }

    /// The [`Api`] the informer lists and watches (its resource and
    /// namespace).
    pub fn api(&self) -> &Api<K> {
        &self.inner.api
    }

    /// The cache: read objects, query indexes, wait until ready.
    pub fn cache(&self) -> Cache<K> {
        self.inner.cache.clone()
    }

    /// Adds an index to the cache (it indexes what is already there).
    pub fn add_index(&self, name: &str, func: impl Fn(&K) -> Vec<Str> + Send + Sync + 'static) {
        let func: IndexFn<K> = Arc::new(func);
        self.inner.cache.add_index(name, func);
    }

    /// Adds the built-in label index ([`cache::LABELS`](super::cache::LABELS)),
    /// which label-selector queries on the cache use.
    pub fn add_label_index(&self) {
        self.inner
            .cache
            .add_index(super::cache::LABELS, super::cache::label_index());
    }

    /// A stream of events for a new consumer: first an `Added` for each
    /// cached object, then every change.
    pub fn subscribe(&self) -> Subscription<K> {
        self.join(None)
    }

    /// [`subscribe`](Self::subscribe), plus every object again every
    /// `period` while the informer runs.
    pub fn subscribe_with_resync(&self, period: Duration) -> Subscription<K> {
        self.join(Some(period).filter(|p| !p.is_zero()))
    }

    fn join(&self, resync: Option<Duration>) -> Subscription<K> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut listeners = self.inner.hub.lock();
        for o in self.inner.cache.list() {
            let _ = tx.send(Event::Added(o));
        }
        let resync = resync.and_then(|p| Instant::now().checked_add(p).map(|at| (p, at)));
        let has_resync = resync.is_some();
        listeners.push(Listener { tx, resync });
        drop(listeners);
        if has_resync {
            self.inner.hub.joined.notify_waiters();
        }
        Subscription { rx }
    }

    /// Runs `handler` on every event of a new subscription, in a task of
    /// its own; abort the handle to stop it early.
    pub fn on_event(
        &self,
        mut handler: impl FnMut(Event<K>) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let mut sub = self.subscribe();
        tokio::spawn(async move {
            while let Some(e) = sub.recv().await {
                handler(e);
            }
        })
    }

    /// Starts the reflector (once; later calls do nothing). Needs a tokio
    /// runtime.
    pub fn start(&self) {
        let Some(writer) = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let reflector =
            Reflector::with_writer(self.inner.api.clone(), self.inner.config.clone(), writer);
        let hub = self.inner.hub.clone();
        let cache = self.inner.cache.clone();
        let mut stop = self.inner.stop.subscribe();
        let span = tracing::info_span!("informer", resource = %self.inner.api.resource().plural, namespace = %self.inner.api.namespace());
        let task = async move {
            let apply_hub = hub.clone();
            let run = reflector.run_with(move |writer, update: Update<K>| {
                let mut listeners = apply_hub.lock();
                let events = update.apply_to(writer);
                for e in events {
                    for l in listeners.iter() {
                        let _ = l.tx.send(e.clone());
                    }
                }
                listeners.retain(|l| !l.tx.is_closed());
            });
            tokio::select! {
                _ = run => {}
                _ = resync(&hub, &cache) => {}
                // Stopped, or every handle (and so the sender) is gone.
                _ = stop.wait_for(|s| *s) => {}
            }
            // Ends every subscription.
            hub.lock().clear();
        };
        tokio::spawn(tracing::Instrument::instrument(task, span));
    }

    /// Stops the reflector and ends every subscription; the cache keeps
    /// its last content.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        // An informer that never started has no task to end its streams.
        if self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            self.inner.hub.lock().clear();
        }
    }

    /// True once [`start`](Self::start) has been called.
    pub fn is_started(&self) -> bool {
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}

/// Sends every cached object to each consumer whose resync is due.
async fn resync<K: Object>(hub: &Hub<K>, cache: &Cache<K>) {
    loop {
        let joined = hub.joined.notified();
        tokio::pin!(joined);
        joined.as_mut().enable();
        let next = {
            let mut listeners = hub.lock();
            let now = Instant::now();
            let mut objects = None;
            for l in listeners.iter_mut() {
                let Some((period, at)) = l.resync else {
                    continue;
                };
                if at <= now {
                    let objects = objects.get_or_insert_with(|| cache.list());
                    for o in objects.iter() {
                        let _ = l.tx.send(Event::Updated {
                            old: o.clone(),
                            new: o.clone(),
                        });
                    }
                    l.resync = now.checked_add(period).map(|at| (period, at));
                }
            }
            listeners.retain(|l| !l.tx.is_closed());
            listeners.iter().filter_map(|l| l.resync.map(|r| r.1)).min()
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = &mut joined => {}
                }
            }
            None => joined.await,
        }
    }
}

trait AnyInformer: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn start(&self);
    fn shutdown(&self);
    fn ready(&self) -> Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send>>;
}

impl<K: Object> AnyInformer for SharedInformer<K> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn start(&self) {
        SharedInformer::start(self)
    }
    fn shutdown(&self) {
        SharedInformer::shutdown(self)
    }
    fn ready(&self) -> Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send>> {
        let cache = self.cache();
        Box::pin(async move { cache.wait_until_ready().await })
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    type_id: TypeId,
    group: Str,
    version: Str,
    plural: Str,
    namespace: Str,
    selection: String,
}

struct FactoryInner {
    client: Arc<dyn Client>,
    config: reflector::Config,
    informers: Mutex<HashMap<Key, Box<dyn AnyInformer>>>,
    started: std::sync::atomic::AtomicBool,
}

/// Hands out one [`SharedInformer`] per kind, namespace and selection, so
/// that a process watches each only once. Cheap to clone.
///
/// ```
/// # tokio_test::block_on(async {
/// use keelson::api::core::Pod;
/// use keelson::apiserver::ApiServer;
/// use keelson::client::LocalClient;
/// use keelson::informer::InformerFactory;
///
/// let server = ApiServer::in_memory().await.unwrap();
/// let factory = InformerFactory::new(LocalClient::new(&server));
/// let a = factory.informer::<Pod>();
/// let b = factory.informer::<Pod>();
/// assert!(a.ptr_eq(&b));
/// factory.start();
/// factory.wait_for_sync().await.unwrap();
/// factory.shutdown();
/// # });
/// ```
#[doc(alias = "SharedInformerFactory")]
#[derive(Clone)]
pub struct InformerFactory {
    inner: Arc<FactoryInner>,
}

impl fmt::Debug for InformerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InformerFactory")
            .field("informers", &self.lock().len())
            .finish()
    }
}

impl InformerFactory {
    /// A factory over `client` with the default reflector settings.
    pub fn new(client: impl IntoClient) -> Self {
        Self::with_config(client, reflector::Config::default())
    }

    /// A factory whose informers use `config` (selectors in it apply to
    /// every informer).
    pub fn with_config(client: impl IntoClient, config: reflector::Config) -> Self {
        InformerFactory {
            inner: Arc::new(FactoryInner {
                client: client.into_client(),
                config,
                informers: Mutex::new(HashMap::new()),
                started: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Box<dyn AnyInformer>>> {
        self.inner
            .informers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The client.
    pub fn client(&self) -> &Arc<dyn Client> {
        &self.inner.client
    }

    /// The informer of `K` across all namespaces.
    pub fn informer<K: Resource>(&self) -> SharedInformer<K> {
        self.for_api(Api::all(&self.inner.client))
    }

    /// The informer of `K` in one namespace.
    pub fn namespaced<K: Resource>(&self, namespace: &str) -> SharedInformer<K> {
        self.for_api(Api::namespaced(&self.inner.client, namespace))
    }

    /// The informer of a kind known at run time, across all namespaces.
    pub fn dynamic(&self, resource: &ApiResource) -> SharedInformer<DynamicObject> {
        self.for_api(Api::dynamic(&self.inner.client, resource, ""))
    }

    /// The informer of what `api` reaches (its kind and namespace). Started
    /// at once if the factory has been started.
    pub fn for_api<K: Object>(&self, api: Api<K>) -> SharedInformer<K> {
        let r = api.resource();
        let key = Key {
            type_id: TypeId::of::<K>(),
            group: r.group.clone(),
            version: r.version.clone(),
            plural: r.plural.clone(),
            namespace: Str::from(api.namespace()),
            selection: self.inner.config.selection(),
        };
        let mut informers = self.lock();
        if let Some(i) = informers
            .get(&key)
            .and_then(|i| i.as_any().downcast_ref::<SharedInformer<K>>())
        {
            return i.clone();
        }
        let informer = SharedInformer::new(api, self.inner.config.clone());
        informers.insert(key, Box::new(informer.clone()));
        drop(informers);
        if self
            .inner
            .started
            .load(std::sync::atomic::Ordering::Acquire)
        {
            informer.start();
        }
        informer
    }

    /// Starts every informer handed out (and any handed out later).
    pub fn start(&self) {
        self.inner
            .started
            .store(true, std::sync::atomic::Ordering::Release);
        for i in self.lock().values() {
            i.start();
        }
    }

    /// Waits until every informer handed out so far has listed once (call
    /// [`start`](Self::start) first: an informer that is not running never
    /// becomes ready).
    #[doc(alias = "WaitForCacheSync")]
    pub async fn wait_for_sync(&self) -> Result<(), Error> {
        let waits: Vec<_> = self.lock().values().map(|i| i.ready()).collect();
        for w in waits {
            w.await?;
        }
        Ok(())
    }

    /// Stops every informer.
    pub fn shutdown(&self) {
        for i in self.lock().values() {
            i.shutdown();
        }
    }
}

impl<K> SharedInformer<K> {
    /// True when both handles are the same informer.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::{ConfigMap, Pod};
    use crate::api::ObjectMeta;
    use crate::apiserver::ApiServer;
    use crate::client::LocalClient;

    #[tokio::test]
    async fn the_factory_shares_by_kind_namespace_and_type() {
        let server = ApiServer::in_memory().await.unwrap();
        let factory = InformerFactory::new(LocalClient::new(&server));
        let all = factory.informer::<Pod>();
        assert!(all.ptr_eq(&factory.informer::<Pod>()));
        let ns = factory.namespaced::<Pod>("default");
        assert!(!all.ptr_eq(&ns));
        assert!(ns.ptr_eq(&factory.namespaced::<Pod>("default")));
        let resource = Pod::api_resource();
        let dynamic = factory.dynamic(&resource);
        assert!(dynamic.ptr_eq(&factory.dynamic(&resource)));
        assert!(!all.is_started());
        factory.start();
        assert!(all.is_started() && ns.is_started() && dynamic.is_started());
        // Handed out after start: started at once.
        let late = factory.informer::<ConfigMap>();
        assert!(late.is_started());
        factory.wait_for_sync().await.unwrap();
        factory.shutdown();
    }

    #[tokio::test]
    async fn shutdown_ends_subscriptions_started_or_not() {
        let server = ApiServer::in_memory().await.unwrap();
        let client = LocalClient::new(&server);
        let idle =
            SharedInformer::new(Api::<ConfigMap>::all(&client), reflector::Config::default());
        let mut sub = idle.subscribe();
        idle.shutdown();
        assert!(sub.recv().await.is_none());

        let running =
            SharedInformer::new(Api::<ConfigMap>::all(&client), reflector::Config::default());
        let mut sub = running.subscribe();
        running.start();
        running.cache().wait_until_ready().await.unwrap();
        running.shutdown();
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while sub.recv().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the subscription ended");
    }

    #[tokio::test]
    async fn a_late_consumer_gets_the_cache_then_changes_exactly_once() {
        let server = ApiServer::in_memory().await.unwrap();
        let client = LocalClient::new(&server);
        let api = Api::<ConfigMap>::namespaced(&client, "default");
        let informer = SharedInformer::new(api.clone(), reflector::Config::default());
        informer.start();
        informer.cache().wait_until_ready().await.unwrap();
        for i in 0..20 {
            let cm = ConfigMap {
                metadata: ObjectMeta::named(format!("cm-{i}")),
                ..Default::default()
            };
            api.create(&cm).await.unwrap();
            if i == 10 {
                let mut late = informer.subscribe();
                // Joined mid-stream: every object exactly once as added.
                let mut seen = std::collections::BTreeSet::new();
                let collect = async {
                    while seen.len() < 20 {
                        match late.recv().await {
                            Some(Event::Added(o)) => {
                                assert!(
                                    seen.insert(o.metadata.name.to_string()),
                                    "twice: {}",
                                    o.metadata.name
                                );
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                };
                // The remaining creates happen while we collect.
                let rest = async {
                    for j in 11..20 {
                        let cm = ConfigMap {
                            metadata: ObjectMeta::named(format!("cm-{j}")),
                            ..Default::default()
                        };
                        api.create(&cm).await.unwrap();
                    }
                };
                tokio::time::timeout(Duration::from_secs(5), futures::future::join(collect, rest))
                    .await
                    .expect("all 20 seen");
                break;
            }
        }
        informer.shutdown();
    }
}
