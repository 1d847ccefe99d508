//! The API server: the only component that touches the store.
//!
//! Every read and write of the cluster goes through an [`ApiServer`]: it
//! decodes, defaults and validates objects, runs the admission chain, keeps
//! Kubernetes' semantics (resource versions and optimistic concurrency,
//! generation, the status and scale subresources, graceful deletion and
//! finalizers, dry runs), stores JSON in any [`Store`] under
//! `/registry/{group}/{resource}/{namespace}/{name}`, and serves lists and
//! watches from a watch cache fed by one store watch.
//!
//! The server is in-process and cheap to clone (an `Arc` inside). Components
//! reach it through a [`Client`](crate::client::Client): in the same process
//! with [`LocalClient`](crate::client::LocalClient), from elsewhere over HTTP.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::core::{ConfigMap};
//! use keelson::api::ObjectMeta;
//! use keelson::apiserver::{ApiServer, Target, WriteOptions};
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let cm = ConfigMap {
//!     metadata: ObjectMeta::named("settings"),
//!     data: [("colour", "blue")].into_iter().collect(),
//!     ..ConfigMap::default()
//! };
//! let target = Target::new("", "v1", "configmaps").namespace("default");
//! let written = server.create(&target, Box::new(cm), &WriteOptions::default()).await.unwrap();
//! assert_eq!(written.object.meta().generation, 1);
//! assert!(!written.object.meta().uid.is_empty());
//!
//! // A second create of the same name is refused with 409 AlreadyExists.
//! let again = ConfigMap { metadata: ObjectMeta::named("settings"), ..ConfigMap::default() };
//! let err = server.create(&target, Box::new(again), &WriteOptions::default()).await.unwrap_err();
//! assert_eq!((err.code(), err.reason()), (409, "AlreadyExists"));
//! # });
//! ```
//!
//! # Semantics
//!
//! - **create** sets `uid`, `creationTimestamp`, `generation: 1` and the
//!   `resourceVersion` (the store revision); fills `generateName` with a
//!   random suffix; refuses a namespace that does not exist or is
//!   terminating (admission plugin `NamespaceLifecycle`).
//! - **update** takes the object's `resourceVersion` as a precondition
//!   (stale → `409 Conflict`); `generation` moves only when something other
//!   than metadata and status changes; the main resource ignores status
//!   changes and the `status` subresource changes only status. An update
//!   that changes nothing writes nothing.
//! - **delete** of an object with finalizers sets `deletionTimestamp` and
//!   keeps it until the last finalizer is removed; a pod bound to a node is
//!   deleted gracefully (its node agent finishes the delete);
//!   `propagationPolicy` `Orphan` and `Foreground` add the `orphan` and
//!   `foregroundDeletion` finalizers for the garbage collector.
//! - **list** and **watch** honour label and field selectors, `limit` and
//!   `continue`, and `resourceVersion` (`""`: consistent, `"0"`: any,
//!   `N`: not older than `N`, or exactly `N`).
//!
//! Errors are [`Error`]s: a Kubernetes `Status` with reason and code.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use futures::StreamExt;

use crate::api::apiextensions::CustomResourceDefinition;
use crate::api::scheme::{FieldValidation, KindInfo, Scheme};
use crate::api::Str;
use crate::store::{self, MemoryStore, Store};

pub mod admission;
mod allocator;
mod bootstrap;
pub mod cache;
mod crd;
mod crd_schema;
mod error;
mod kinds;
mod logs;
mod patch;
mod registry;
pub mod request;
mod strategy;

pub use self::admission::{Admission, Attributes, Operation};
pub use self::cache::{ObjectRef, WatchStream};
pub use self::error::{Error, Result};
pub use self::logs::{PodLogOptions, PodLogStream, PodLogs};
pub use self::registry::{Deleted, ListResponse, Written};
pub use self::request::{
    ListOptions, PatchType, Propagation, Target, UserInfo, VersionMatch, WriteOptions,
};

use self::kinds::{Conversion, Endpoint, Kinds, Storage, REGISTRY};

/// Settings of an [`ApiServer`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Events kept per resource for watches to resume from.
    pub watch_cache_capacity: usize,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// The service IP range (`10.96.0.0/12`).
    pub service_cidr: (std::net::Ipv4Addr, u8),
    /// The node port range (`30000-32767`).
    pub node_port_range: (u16, u16),
    /// Create the `default`, `kube-system`, `kube-public` and
    /// `kube-node-lease` namespaces and the `kubernetes` Service at start.
    pub bootstrap: bool,
    /// How long a read waits for the watch cache to reach a resource
    /// version before it is served from the store instead (or, for a
    /// version the store has not reached, refused).
    pub cache_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            watch_cache_capacity: 10_000,
            bookmark_interval: Duration::from_secs(60),
            service_cidr: (std::net::Ipv4Addr::new(10, 96, 0, 0), 12),
            node_port_range: (30000, 32767),
            bootstrap: true,
            cache_wait: Duration::from_secs(3),
        }
    }
}

impl Config {
    /// Set the watch cache capacity.
    #[must_use]
    pub fn watch_cache_capacity(mut self, events: usize) -> Self {
        self.watch_cache_capacity = events;
        self
    }

    /// Set the bookmark interval.
    #[must_use]
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Set the service IP range.
    #[must_use]
    pub fn service_cidr(mut self, base: std::net::Ipv4Addr, prefix: u8) -> Self {
        self.service_cidr = (base, prefix);
        self
    }

    /// Set the node port range.
    #[must_use]
    pub fn node_port_range(mut self, first: u16, last: u16) -> Self {
        self.node_port_range = (first, last);
        self
    }

    /// Turn bootstrapping on or off.
    #[must_use]
    pub fn bootstrap(mut self, bootstrap: bool) -> Self {
        self.bootstrap = bootstrap;
        self
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: Config,
    pub(crate) kinds: RwLock<Kinds>,
    pub(crate) admission: Vec<Arc<dyn Admission>>,
    /// The store revision up to which the watch has been applied.
    pub(crate) progress: Arc<AtomicI64>,
    pub(crate) progress_tx: tokio::sync::watch::Sender<i64>,
    /// The newest revision this server has written (acknowledged).
    pub(crate) written: AtomicI64,
    pub(crate) allocator: allocator::Allocator,
    /// Log providers (node agents) by node name.
    pub(crate) pod_logs: logs::Registry,
}

/// The API server. Cheap to clone.
#[derive(Clone)]
pub struct ApiServer {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("revision", &self.inner.progress.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Builds an [`ApiServer`].
pub struct Builder {
    store: Option<Arc<dyn Store>>,
    config: Config,
    admission: Vec<Arc<dyn Admission>>,
    default_admission: bool,
    scheme: Option<Scheme>,
}

impl Builder {
    /// The store (a [`MemoryStore`] when not set).
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The settings.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Adds an admission plugin after the built-in ones (mutating plugins
    /// run in order, then validating plugins in order).
    #[must_use]
    pub fn admission(mut self, plugin: impl Admission) -> Self {
        self.admission.push(Arc::new(plugin));
        self
    }

    /// Leaves out the built-in admission plugins (NamespaceLifecycle,
    /// LimitRanger, ServiceAccount, ResourceQuota).
    #[must_use]
    pub fn without_default_admission(mut self) -> Self {
        self.default_admission = false;
        self
    }

    /// Serves the kinds of this scheme instead of the built-in one (to add
    /// compiled-in kinds of your own).
    #[must_use]
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// Loads the store's content, starts the watch and bootstraps.
    pub async fn build(self) -> Result<ApiServer> {
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::new()) as Arc<dyn Store>);
        let mut plugins: Vec<Arc<dyn Admission>> = Vec::new();
        if self.default_admission {
            plugins.extend(admission::defaults());
        }
        plugins.extend(self.admission);
        let (progress_tx, _) = tokio::sync::watch::channel(0);
        let inner = Arc::new(Inner {
            allocator: allocator::Allocator::new(&self.config),
            store,
            config: self.config,
            kinds: RwLock::new(Kinds::default()),
            admission: plugins,
            progress: Arc::new(AtomicI64::new(0)),
            progress_tx,
            written: AtomicI64::new(0),
            pod_logs: logs::Registry::default(),
        });
        let scheme = self.scheme.unwrap_or_else(|| Scheme::builtin().clone());
        let server = ApiServer { inner };
        let revision = server.load(&scheme).await?;
        server.start_watch(revision).await?;
        if server.inner.config.bootstrap {
            bootstrap::run(&server).await?;
        }
        Ok(server)
    }
}

impl ApiServer {
    /// A builder.
    pub fn builder() -> Builder {
        Builder {
            store: None,
            config: Config::default(),
            admission: Vec::new(),
            default_admission: true,
            scheme: None,
        }
    }

    /// A server on a fresh [`MemoryStore`] with the default settings.
    pub async fn in_memory() -> Result<ApiServer> {
        ApiServer::builder().build().await
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store revision up to which the server has applied every write.
    pub fn revision(&self) -> i64 {
        self.inner.progress.load(Ordering::Acquire)
    }

    /// Every served kind (group-version-resources), in registration order:
    /// what discovery lists.
    pub fn kinds(&self) -> Vec<Arc<KindInfo>> {
        self.kinds_read()
            .all()
            .iter()
            .map(|e| e.info.clone())
            .collect()
    }

    /// The kind served at `group`/`version`/`plural`.
    pub fn kind(&self, group: &str, version: &str, plural: &str) -> Option<Arc<KindInfo>> {
        self.kinds_read()
            .endpoint(group, version, plural)
            .map(|e| e.info.clone())
    }

    /// The kind with this `apiVersion` and `kind`.
    pub fn kind_of(&self, api_version: &str, kind: &str) -> Option<Arc<KindInfo>> {
        let (group, version) = crate::api::split_api_version(api_version);
        self.kinds_read()
            .all()
            .into_iter()
            .find(|e| {
                let r = &e.info.resource;
                r.group == group && r.version == version && r.kind == kind
            })
            .map(|e| e.info.clone())
    }

    pub(crate) fn kinds_read(&self) -> std::sync::RwLockReadGuard<'_, Kinds> {
        self.inner.kinds.read().unwrap_or_else(|e| e.into_inner())
    }

    fn kinds_write(&self) -> std::sync::RwLockWriteGuard<'_, Kinds> {
        self.inner.kinds.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the compiled-in kinds, the custom kinds of stored CRDs,
    /// and loads every stored object. Returns the revision loaded.
    async fn load(&self, scheme: &Scheme) -> Result<i64> {
        let store = &self.inner.store;
        let revision = store
            .current_revision()
            .await
            .map_err(|e| error::from_store(e, "", "", ""))?;
        let capacity = self.inner.config.watch_cache_capacity;
        {
            let mut kinds = self.kinds_write();
            let progress = &self.inner.progress;
            for info in scheme.kinds() {
                let r = &info.resource;
                if info.is_dynamic() {
                    continue;
                }
                // autoscaling/v1 HPAs are stored as autoscaling/v2.
                let storage_key = (r.group.clone(), r.plural.clone());
                let (storage, conversion) =
                    match (r.group.as_str(), r.version.as_str(), r.plural.as_str()) {
                        ("autoscaling", "v1", "horizontalpodautoscalers") => {
                            let v2 = scheme
                                .kind("autoscaling/v2", "HorizontalPodAutoscaler")
                                .cloned()
                                .unwrap_or_else(|| info.clone());
                            let storage = kinds.storages.entry(storage_key).or_insert_with(|| {
                                Arc::new(Storage::new(v2, capacity, progress.clone(), revision))
                            });
                            (storage.clone(), hpa_conversion())
                        }
                        _ => {
                            let storage = kinds.storages.entry(storage_key).or_insert_with(|| {
                                Arc::new(Storage::new(
                                    info.clone(),
                                    capacity,
                                    progress.clone(),
                                    revision,
                                ))
                            });
                            let conversion = if storage.info.resource.version == r.version {
                                Conversion::None
                            } else if r.group == "autoscaling" {
                                hpa_conversion()
                            } else {
                                Conversion::None
                            };
                            (storage.clone(), conversion)
                        }
                    };
                kinds.insert_endpoint(Endpoint {
                    info: info.clone(),
                    storage,
                    conversion,
                    crd: None,
                });
            }
        }
        // Custom kinds first, so their objects have somewhere to go.
        let crd_prefix = format!("{REGISTRY}apiextensions.k8s.io/customresourcedefinitions/");
        for kv in self.list_all(&crd_prefix, revision).await? {
            if let Ok(d) = serde_json::from_slice::<CustomResourceDefinition>(&kv.value) {
                let mut kinds = self.kinds_write();
                crd::register(&mut kinds, &d, capacity, &self.inner.progress, revision);
            }
        }
        for kv in self.list_all(REGISTRY, revision).await? {
            let Some(storage) = self.kinds_read().storage_of_key(&kv.key) else {
                continue;
            };
            match decode_stored(&storage.info, &kv) {
                Some(obj) => storage.cache.load(kv.key.into(), obj),
                None => tracing::warn!(key = %kv.key, "stored object does not decode; skipped"),
            }
        }
        self.inner.progress.store(revision, Ordering::Release);
        self.inner.progress_tx.send_replace(revision);
        Ok(revision)
    }

    async fn list_all(&self, prefix: &str, revision: i64) -> Result<Vec<store::KeyValue>> {
        let mut out = Vec::new();
        let mut options = store::ListOptions::default().limit(1000).revision(revision);
        loop {
            let page = self
                .inner
                .store
                .list(prefix, options.clone())
                .await
                .map_err(|e| error::from_store(e, "", "", ""))?;
            out.extend(page.items);
            match page.continue_token {
                Some(t) => options = options.continue_token(t),
                None => return Ok(out),
            }
        }
    }

    async fn start_watch(&self, revision: i64) -> Result<()> {
        let watch = self
            .inner
            .store
            .watch(REGISTRY, revision)
            .await
            .map_err(|e| error::from_store(e, "", "", ""))?;
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(dispatch(weak, watch));
        Ok(())
    }

    /// Waits until the watch cache has applied `revision` (at most the
    /// configured wait). False on timeout.
    /// Records a write this server acknowledged at `revision`.
    pub(crate) fn note_write(&self, storage: &kinds::Storage, revision: i64) {
        storage.last_write.fetch_max(revision, Ordering::AcqRel);
        self.inner.written.fetch_max(revision, Ordering::AcqRel);
    }

    /// Waits until the watch cache of one resource reflects every write
    /// this server has acknowledged to it: cheap (an atomic load) unless a
    /// write to that resource is still in flight to the cache. Admission
    /// plugins call it before reading namespaces or limit ranges from the
    /// cache, so an object created right after its namespace is deleted
    /// sees the deletion.
    pub async fn caught_up_with(&self, group: &str, plural: &str) -> bool {
        let last = {
            let kinds = self.kinds_read();
            match kinds.storage(group, plural) {
                Some(s) => s.last_write.load(Ordering::Acquire),
                None => return true,
            }
        };
        self.wait_for_revision(last).await
    }

    /// Waits until the watch caches reflect every write this server has
    /// acknowledged, so that reads from them (admission's namespace, limit
    /// range and quota lookups, `cached`) see the caller's own writes.
    /// Returns false if the caches did not catch up within the configured
    /// wait.
    pub async fn caught_up(&self) -> bool {
        let written = self.inner.written.load(Ordering::Acquire);
        self.wait_for_revision(written).await
    }

    pub(crate) async fn wait_for_revision(&self, revision: i64) -> bool {
        if self.revision() >= revision {
            return true;
        }
        let mut rx = self.inner.progress_tx.subscribe();
        tokio::time::timeout(
            self.inner.config.cache_wait,
            rx.wait_for(|r| *r >= revision),
        )
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false)
    }
}

fn hpa_conversion() -> Conversion {
    use crate::api::autoscaling::{v1, v2};
    Conversion::Typed {
        to_storage: |o| {
            o.downcast_ref::<v1::HorizontalPodAutoscaler>()
                .map(|h| Box::new(v2::HorizontalPodAutoscaler::from(h.clone())) as _)
        },
        from_storage: |o| {
            o.downcast_ref::<v2::HorizontalPodAutoscaler>()
                .map(|h| Box::new(v1::HorizontalPodAutoscaler::from(h.clone())) as _)
        },
    }
}

/// Decodes a stored value and sets its resource version.
pub(crate) fn decode_stored(info: &KindInfo, kv: &store::KeyValue) -> Option<ObjectRef> {
    let mut obj = info.decode(&kv.value, FieldValidation::Ignore).ok()?.object;
    obj.meta_mut().resource_version = Str::from(kv.mod_revision.to_string());
    Some(Arc::from(obj))
}

/// The single store watch: applies every change to its resource's cache, in
/// revision order, and keeps custom kinds registered as their CRDs come and
/// go. On a watch failure it lists everything again.
async fn dispatch(weak: Weak<Inner>, mut watch: store::WatchStream) {
    loop {
        let Some(item) = watch.next().await else {
            // The store ended the watch (it was dropped): relist below.
            let Some(inner) = weak.upgrade() else { return };
            match relist(&inner).await {
                Some(w) => {
                    watch = w;
                    continue;
                }
                None => return,
            }
        };
        let Some(inner) = weak.upgrade() else { return };
        match item {
            Ok(event) => apply(&inner, &event),
            Err(e) => {
                tracing::warn!(error = %e, "store watch failed; listing again");
                match relist(&inner).await {
                    Some(w) => watch = w,
                    None => return,
                }
            }
        }
    }
}

fn apply(inner: &Arc<Inner>, event: &store::Event) {
    let revision = event.revision();
    let storage = inner
        .kinds
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .storage_of_key(&event.kv.key);
    if let Some(storage) = storage {
        match event.kind {
            store::EventKind::Put => {
                let obj = storage
                    .take_written(revision)
                    .or_else(|| decode_stored(&storage.info, &event.kv));
                if let Some(obj) = obj {
                    if storage.info.resource.group == "apiextensions.k8s.io" {
                        crd_changed(inner, &obj, false, revision);
                    }
                    storage.cache.put(&event.kv.key, obj, revision);
                } else {
                    tracing::warn!(key = %event.kv.key, "stored object does not decode; skipped");
                }
            }
            store::EventKind::Delete => {
                if storage.info.resource.group == "apiextensions.k8s.io" {
                    if let Some(prev) = storage.cache.get(&event.kv.key) {
                        crd_changed(inner, &prev, true, revision);
                    }
                }
                storage.cache.delete(&event.kv.key, revision);
            }
        }
    }
    inner.progress.store(revision, Ordering::Release);
    inner.progress_tx.send_replace(revision);
}

fn crd_changed(inner: &Arc<Inner>, obj: &ObjectRef, deleted: bool, revision: i64) {
    let Some(crd) = obj.downcast_ref::<CustomResourceDefinition>() else {
        return;
    };
    let mut kinds = inner.kinds.write().unwrap_or_else(|e| e.into_inner());
    if deleted {
        crd::unregister(&mut kinds, crd);
    } else if crd::is_established(crd) {
        crd::register(
            &mut kinds,
            crd,
            inner.config.watch_cache_capacity,
            &inner.progress,
            revision,
        );
    }
}

async fn relist(inner: &Arc<Inner>) -> Option<store::WatchStream> {
    let server = ApiServer {
        inner: inner.clone(),
    };
    let mut delay = Duration::from_millis(100);
    loop {
        match relist_once(&server).await {
            Ok(w) => return Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "relisting the store failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                if Arc::strong_count(inner) <= 1 {
                    return None;
                }
            }
        }
    }
}

async fn relist_once(server: &ApiServer) -> Result<store::WatchStream> {
    let store = &server.inner.store;
    let revision = store
        .current_revision()
        .await
        .map_err(|e| error::from_store(e, "", "", ""))?;
    let items = server.list_all(REGISTRY, revision).await?;
    let mut per_storage: BTreeMap<String, (Arc<Storage>, BTreeMap<String, ObjectRef>)> =
        BTreeMap::new();
    let storages: Vec<Arc<Storage>> = server.kinds_read().storages.values().cloned().collect();
    for s in storages {
        per_storage.insert(s.prefix.clone(), (s, BTreeMap::new()));
    }
    for kv in items {
        let Some(storage) = server.kinds_read().storage_of_key(&kv.key) else {
            continue;
        };
        if let Some(obj) = decode_stored(&storage.info, &kv) {
            if let Some((_, map)) = per_storage.get_mut(&storage.prefix) {
                map.insert(kv.key.into(), obj);
            }
        }
    }
    for (_, (storage, objects)) in per_storage {
        storage.cache.reset(objects, revision);
    }
    server.inner.progress.store(revision, Ordering::Release);
    server.inner.progress_tx.send_replace(revision);
    store
        .watch(REGISTRY, revision)
        .await
        .map_err(|e| error::from_store(e, "", "", ""))
}
