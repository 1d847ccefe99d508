//! The garbage collector: deletes objects whose owners are gone, and
//! carries out the `Foreground` and `Orphan` deletion policies.
//!
//! Objects name their owners in `metadata.ownerReferences` (by kind, name
//! and **uid**). The collector watches every kind that can carry them (the
//! built-in kinds, and every established custom resource as its CRD
//! appears) as [`DynamicObject`]s and keeps a graph from each owner's uid
//! to its dependents' uids. Then, as Kubernetes' garbage collector does:
//!
//! - **Background** (the default): when an owner is gone, each dependent
//!   whose owners are *all* gone is deleted, itself with `Background`
//!   propagation, so deletion cascades (Deployment → ReplicaSet → Pod).
//!   A dependent that still has a live owner only loses the references to
//!   the absent ones.
//! - **Foreground**: the API server gives the deleted owner a
//!   `deletionTimestamp` and the `foregroundDeletion` finalizer. The
//!   collector deletes its dependents (in the foreground themselves when
//!   they have dependents of their own) and removes the finalizer once no
//!   dependent with `blockOwnerDeletion: true` is left, so the owner goes
//!   last.
//! - **Orphan**: the owner gets the `orphan` finalizer; the collector
//!   removes the references to it from its dependents, then the finalizer.
//!   The dependents stay.
//!
//! An owner is verified by uid with a live read: an object of the
//! referenced name with another uid (the owner deleted and recreated) is
//! not the owner, so the reference counts as absent. Writes carry
//! preconditions (the dependent's uid for deletes, its resourceVersion for
//! patches), so a collector acting on a stale view fails and retries
//! instead of deleting the wrong thing.
//!
//! ```
//! # tokio_test::block_on(async {
//! use std::time::Duration;
//! use keelson::api::core::ConfigMap;
//! use keelson::api::{ObjectMeta, OwnerReference};
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::controllers::gc::GarbageCollector;
//! use keelson::informer::InformerFactory;
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let factory = InformerFactory::new(&client);
//! let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
//! let gc = tokio::spawn(
//!     GarbageCollector::new(&factory)
//!         .graceful_shutdown_on(async { let _ = stop_rx.await; })
//!         .run(),
//! );
//!
//! let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
//! let owner = cms.create(&ConfigMap { metadata: ObjectMeta::named("owner"), ..Default::default() }).await.unwrap();
//! let mut meta = ObjectMeta::named("dependent");
//! meta.owner_references.push(OwnerReference {
//!     api_version: "v1".into(),
//!     kind: "ConfigMap".into(),
//!     name: "owner".into(),
//!     uid: owner.metadata.uid.clone(),
//!     controller: None,
//!     block_owner_deletion: None,
//! });
//! cms.create(&ConfigMap { metadata: meta, ..Default::default() }).await.unwrap();
//!
//! cms.delete("owner", &Default::default()).await.unwrap();
//! tokio::time::timeout(Duration::from_secs(10), async {
//!     while cms.get_opt("dependent").await.unwrap().is_some() {
//!         tokio::time::sleep(Duration::from_millis(10)).await;
//!     }
//! })
//! .await
//! .expect("the dependent was collected");
//! let _ = stop_tx.send(());
//! gc.await.unwrap();
//! # });
//! ```
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use futures::FutureExt;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::api::apiextensions::CustomResourceDefinition;
use crate::api::meta::{DeleteOptions, Preconditions};
use crate::api::scheme::Scheme;
use crate::api::{split_api_version, ApiResource, DynamicObject, ObjectMeta, OwnerReference, Str};
use crate::client::{Api, Client, DynamicApi, PatchType};
use crate::informer::{Event, InformerFactory, SharedInformer, WorkQueue};

/// The finalizer that holds an owner deleted in the foreground.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer that holds an owner whose dependents are being orphaned.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// How many absent owner uids are remembered (uids are never reused, so
/// an absent one stays absent).
const ABSENT_CAPACITY: usize = 10_000;

type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What can go wrong collecting one object (the object is retried with
/// backoff).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A read or write failed.
    #[error(transparent)]
    Client(#[from] crate::client::Error),
    /// An owner reference names a kind the collector does not know (not
    /// built in, and no established CRD declares it).
    #[error("unknown owner kind {kind} of {api_version}")]
    UnknownKind {
        /// The reference's `apiVersion`.
        api_version: Str,
        /// The reference's `kind`.
        kind: Str,
    },
    /// Processing an object panicked (a bug); the object is retried.
    #[error("processing panicked")]
    Panicked,
}

/// The garbage collector; see the [module guide](self).
pub struct GarbageCollector {
    factory: InformerFactory,
    resources: Vec<ApiResource>,
    custom_resources: bool,
    workers: usize,
    shutdown: Option<Shutdown>,
}

impl fmt::Debug for GarbageCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GarbageCollector")
            .field("resources", &self.resources.len())
            .field("custom_resources", &self.custom_resources)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// The built-in kinds an object can be stored as (one version per
/// group-resource; not the create-only `Binding` and `Eviction`).
pub fn builtin_resources() -> Vec<ApiResource> {
    let mut seen = HashSet::new();
    Scheme::builtin()
        .kinds()
        .filter(|k| !k.is_dynamic())
        .map(|k| k.resource.clone())
        .filter(|r| {
            !matches!(
                (r.group.as_str(), r.plural.as_str()),
                ("", "bindings") | ("policy", "evictions")
            )
        })
        .filter(|r| seen.insert((r.group.clone(), r.plural.clone())))
        .collect()
}

impl GarbageCollector {
    /// A collector that reads and writes through `factory`'s client,
    /// watching the [built-in kinds](builtin_resources) and custom
    /// resources.
    pub fn new(factory: &InformerFactory) -> Self {
        GarbageCollector {
            factory: factory.clone(),
            resources: builtin_resources(),
            custom_resources: true,
            workers: 4,
            shutdown: None,
        }
    }

    /// Watch these kinds instead of the built-in ones (for a server that
    /// serves a different set: every kind listed must be served, or the
    /// collector waits for it forever).
    pub fn resources(mut self, resources: impl IntoIterator<Item = ApiResource>) -> Self {
        self.resources = resources.into_iter().collect();
        self
    }

    /// Also watch the kinds established CRDs declare (default on).
    pub fn custom_resources(mut self, on: bool) -> Self {
        self.custom_resources = on;
        self
    }

    /// Workers per queue (default 4).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Stop when `signal` completes (the objects being processed finish
    /// first).
    pub fn graceful_shutdown_on(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Runs until the shutdown signal (or forever without one): watches,
    /// waits for the caches, then collects.
    pub async fn run(self) {
        let GarbageCollector {
            factory,
            resources,
            custom_resources,
            workers,
            shutdown,
        } = self;
        let mut shutdown: Shutdown =
            shutdown.unwrap_or_else(|| Box::pin(futures::future::pending()));
        let inner = Arc::new(Inner {
            client: factory.client().clone(),
            factory: factory.clone(),
            kinds: RwLock::new(HashMap::new()),
            watched: Mutex::new(HashMap::new()),
            graph: Mutex::new(Graph::default()),
            absent: Mutex::new(HashSet::new()),
            attempt_delete: WorkQueue::new(),
            attempt_orphan: WorkQueue::new(),
            crd_tasks: Mutex::new(Vec::new()),
        });
        // Aborts the feeding tasks however `run` ends, even when dropped.
        let mut tasks = AbortOnDrop {
            inner: inner.clone(),
            handles: Vec::new(),
        };
        for r in &resources {
            if let Some(t) = inner.watch(r) {
                tasks.handles.push(t);
            }
        }
        let crds = custom_resources.then(|| factory.informer::<CustomResourceDefinition>());
        if let Some(crds) = &crds {
            let mut sub = crds.subscribe();
            let inner = inner.clone();
            tasks.handles.push(tokio::spawn(async move {
                while let Some(event) = sub.recv().await {
                    if let Event::Added(crd) | Event::Updated { new: crd, .. } = event {
                        inner.watch_crd(&crd);
                    }
                }
            }));
        }
        factory.start();

        // The graph must be complete before anything is judged absent.
        let synced = async {
            if let Some(crds) = &crds {
                crds.cache().wait_until_ready().await?;
                for crd in crds.cache().list() {
                    inner.watch_crd(&crd);
                }
            }
            let informers: Vec<_> = inner.lock_watched().values().cloned().collect();
            for i in informers {
                i.cache().wait_until_ready().await?;
            }
            Ok::<_, crate::informer::Error>(())
        };
        let stopped = tokio::select! {
            r = synced => {
                // Collecting from a graph that never filled would treat
                // live owners as absent: stop instead.
                if r.is_err() {
                    tracing::error!("garbage collector: an informer stopped before its cache was ready; stopping");
                }
                r.is_err()
            }
            () = &mut shutdown => true,
        };

        let mut workers_tasks = tokio::task::JoinSet::new();
        if !stopped {
            tracing::info!("garbage collector: graph synced, collecting");
            for _ in 0..workers {
                workers_tasks.spawn(work(
                    inner.clone(),
                    inner.attempt_delete.clone(),
                    Inner::attempt_to_delete,
                ));
                workers_tasks.spawn(work(
                    inner.clone(),
                    inner.attempt_orphan.clone(),
                    Inner::attempt_to_orphan,
                ));
            }
            shutdown.await;
        }
        inner.attempt_delete.shut_down();
        inner.attempt_orphan.shut_down();
        while workers_tasks.join_next().await.is_some() {}
        drop(tasks);
    }
}

/// The collector's feeding tasks, and those of its custom kinds: aborted
/// when `run` returns or is dropped.
struct AbortOnDrop {
    inner: Arc<Inner>,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
        let crd_tasks = std::mem::take(
            &mut *self
                .inner
                .crd_tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for h in crd_tasks {
            h.abort();
        }
    }
}

type Process = for<'a> fn(
    &'a Arc<Inner>,
    &'a Str,
) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// One worker: takes uids from `queue` and processes them; failures come
/// back with backoff.
async fn work(inner: Arc<Inner>, queue: WorkQueue<Str>, process: Process) {
    while let Some(uid) = queue.get().await {
        // A panic counts as a failure: retried, and the worker lives on.
        let result = std::panic::AssertUnwindSafe(process(&inner, &uid))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(Error::Panicked));
        match result {
            Ok(()) => queue.forget(&uid),
            Err(e) => {
                tracing::debug!(uid = %uid, error = %e, "garbage collector: retrying");
                queue.add_rate_limited(uid.clone());
            }
        }
        queue.done(&uid);
    }
}

/// An object as the graph knows it.
#[derive(Clone, Debug)]
struct Node {
    resource: Arc<ApiResource>,
    namespace: Str,
    name: Str,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<Str>,
}

impl Node {
    fn of(resource: &Arc<ApiResource>, meta: &ObjectMeta) -> Self {
        Node {
            resource: resource.clone(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
            owners: meta.owner_references.clone(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone(),
        }
    }

    fn deleting_dependents(&self) -> bool {
        self.deleting && self.finalizers.iter().any(|f| f == FOREGROUND_FINALIZER)
    }

    fn orphaning(&self) -> bool {
        self.deleting && self.finalizers.iter().any(|f| f == ORPHAN_FINALIZER)
    }

    fn blocks(&self, owner: &str) -> bool {
        self.owners
            .iter()
            .any(|r| r.uid == owner && r.block_owner_deletion == Some(true))
    }
}

/// Observed objects by uid, and each owner uid's dependents (owners need
/// not be observed: they may be gone or of a kind not watched).
#[derive(Default)]
struct Graph {
    nodes: HashMap<Str, Node>,
    dependents: HashMap<Str, HashSet<Str>>,
}

impl Graph {
    fn unlink(&mut self, owner: &Str, dependent: &Str) {
        if let Some(set) = self.dependents.get_mut(owner) {
            set.remove(dependent);
            if set.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }

    fn dependents_of(&self, owner: &str) -> Vec<Str> {
        self.dependents
            .get(owner)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// What an owner reference points at.
enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// No object of that kind, name and uid.
    Absent,
    /// The owner is being deleted in the foreground.
    WaitingForDependents,
    /// The reference cannot name an owner (a namespaced owner of a
    /// cluster-scoped object): as Kubernetes, the object is neither
    /// collected nor changed for it.
    Unresolvable,
}

struct Inner {
    client: Arc<dyn Client>,
    factory: InformerFactory,
    /// (group, kind) → the watched resource, to resolve owner references.
    kinds: RwLock<HashMap<(Str, Str), Arc<ApiResource>>>,
    /// (group, plural) → its informer.
    watched: Mutex<HashMap<(Str, Str), SharedInformer<DynamicObject>>>,
    graph: Mutex<Graph>,
    absent: Mutex<HashSet<Str>>,
    attempt_delete: WorkQueue<Str>,
    attempt_orphan: WorkQueue<Str>,
    /// The feeding tasks of custom kinds' informers (aborted at the end).
    crd_tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Inner {
    fn lock_graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_watched(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(Str, Str), SharedInformer<DynamicObject>>> {
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_absent(&self, uid: &str) -> bool {
        self.absent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(uid)
    }

    fn mark_absent(&self, uid: &Str) {
        let mut absent = self.absent.lock().unwrap_or_else(|e| e.into_inner());
        if absent.len() >= ABSENT_CAPACITY {
            absent.clear();
        }
        absent.insert(uid.clone());
    }

    /// Starts watching `resource` (once per group-resource); returns the
    /// task feeding the graph.
    fn watch(self: &Arc<Self>, resource: &ApiResource) -> Option<JoinHandle<()>> {
        let key = (resource.group.clone(), resource.plural.clone());
        let informer = {
            let mut watched = self.lock_watched();
            if watched.contains_key(&key) {
                return None;
            }
            let informer = self.factory.dynamic(resource);
            watched.insert(key, informer.clone());
            informer
        };
        let resource = Arc::new(resource.clone());
        self.kinds
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (resource.group.clone(), resource.kind.clone()),
                resource.clone(),
            );
        let mut sub = informer.subscribe();
        let inner = self.clone();
        Some(tokio::spawn(async move {
            while let Some(event) = sub.recv().await {
                inner.observe(&resource, event);
            }
        }))
    }

    /// Watches the kind an established CRD declares (its storage version).
    fn watch_crd(self: &Arc<Self>, crd: &CustomResourceDefinition) {
        if !crd.is_established() {
            return;
        }
        let resources = crd.api_resources();
        let storage = crd.storage_version().map(|v| v.name.clone());
        let chosen = resources
            .iter()
            .find(|r| Some(&r.version) == storage.as_ref())
            .or(resources.first());
        if let Some(r) = chosen {
            if let Some(t) = self.watch(r) {
                self.crd_tasks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(t);
            }
        }
    }

    /// Updates the graph with one informer event and queues what the
    /// change may have made collectable.
    fn observe(&self, resource: &Arc<ApiResource>, event: Event<DynamicObject>) {
        let mut graph = self.lock_graph();
        match event {
            Event::Added(obj) | Event::Updated { new: obj, .. } => {
                let meta = &obj.metadata;
                let uid = meta.uid.clone();
                if uid.is_empty() {
                    return;
                }
                let node = Node::of(resource, meta);
                let old = graph.nodes.insert(uid.clone(), node.clone());
                let new_owners: HashSet<&Str> = node.owners.iter().map(|r| &r.uid).collect();
                if let Some(old) = &old {
                    for r in &old.owners {
                        let changed = !new_owners.contains(&r.uid)
                            || old.blocks(&r.uid) != node.blocks(&r.uid);
                        if !new_owners.contains(&r.uid) {
                            graph.unlink(&r.uid, &uid);
                        }
                        // An owner waiting for its dependents may be free now.
                        if changed
                            && graph
                                .nodes
                                .get(&r.uid)
                                .is_some_and(Node::deleting_dependents)
                        {
                            self.attempt_delete.add(r.uid.clone());
                        }
                    }
                }
                for r in &node.owners {
                    graph
                        .dependents
                        .entry(r.uid.clone())
                        .or_default()
                        .insert(uid.clone());
                    match graph.nodes.get(&r.uid) {
                        // Perhaps gone, perhaps not seen yet: the worker checks.
                        None => self.attempt_delete.add(uid.clone()),
                        Some(owner) if owner.deleting_dependents() => {
                            self.attempt_delete.add(uid.clone())
                        }
                        Some(_) => {}
                    }
                }
                if node.orphaning() {
                    self.attempt_orphan.add(uid.clone());
                }
                let started_foreground = node.deleting_dependents()
                    && !old.as_ref().is_some_and(Node::deleting_dependents);
                if node.deleting_dependents() {
                    self.attempt_delete.add(uid.clone());
                }
                if started_foreground {
                    for d in graph.dependents_of(&uid) {
                        self.attempt_delete.add(d);
                    }
                }
            }
            Event::Deleted(obj) => {
                let uid = obj.metadata.uid.clone();
                let Some(node) = graph.nodes.remove(&uid) else {
                    return;
                };
                self.mark_absent(&uid);
                for r in &node.owners {
                    graph.unlink(&r.uid, &uid);
                    if graph
                        .nodes
                        .get(&r.uid)
                        .is_some_and(Node::deleting_dependents)
                    {
                        self.attempt_delete.add(r.uid.clone());
                    }
                }
                for d in graph.dependents_of(&uid) {
                    self.attempt_delete.add(d);
                }
            }
        }
    }

    fn api_for(&self, resource: &ApiResource, namespace: &str) -> DynamicApi {
        let ns = if resource.scope.is_namespaced() {
            namespace
        } else {
            ""
        };
        Api::dynamic(self.client.clone(), resource, ns)
    }

    fn node(&self, uid: &str) -> Option<Node> {
        self.lock_graph().nodes.get(uid).cloned()
    }

    /// The object as the server has it now, if it is still the one with
    /// `uid`.
    async fn latest(&self, node: &Node, uid: &str) -> Result<Option<DynamicObject>, Error> {
        let obj = self
            .api_for(&node.resource, &node.namespace)
            .get_opt(&node.name)
            .await?;
        Ok(obj.filter(|o| o.metadata.uid == uid))
    }

    /// Decides about one object: delete it when every owner is gone,
    /// drop references to absent owners when a live one remains, or (for
    /// an owner deleted in the foreground) delete its dependents and
    /// release it when none blocks any more.
    fn attempt_to_delete<'a>(
        self: &'a Arc<Self>,
        uid: &'a Str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            let Some(node) = self.node(uid) else {
                return Ok(());
            };
            let Some(obj) = self.latest(&node, uid).await? else {
                return Ok(());
            };
            let meta = &obj.metadata;
            if meta.deletion_timestamp.is_some() {
                if meta.has_finalizer(FOREGROUND_FINALIZER) {
                    return self.process_deleting_dependents(&node, uid, &obj).await;
                }
                return Ok(());
            }
            if meta.owner_references.is_empty() {
                return Ok(());
            }
            let (mut solid, mut absent, mut waiting) = (0, Vec::new(), Vec::new());
            for r in &meta.owner_references {
                match self.owner_state(r, &node).await? {
                    OwnerState::Solid | OwnerState::Unresolvable => solid += 1,
                    OwnerState::Absent => absent.push(r.uid.clone()),
                    OwnerState::WaitingForDependents => waiting.push(r.uid.clone()),
                }
            }
            let api = self.api_for(&node.resource, &node.namespace);
            if solid > 0 {
                if absent.is_empty() && waiting.is_empty() {
                    return Ok(());
                }
                // Another owner keeps it: only the references go.
                absent.extend(waiting);
                tracing::debug!(object = %node.name, kind = %node.resource.kind, "garbage collector: removing references to absent owners");
                return remove_owner_references(&api, &obj, &absent).await;
            }
            let (has_dependents, cycle) = {
                let graph = self.lock_graph();
                let deps = graph.dependents_of(uid);
                let cycle = deps
                    .iter()
                    .any(|d| graph.nodes.get(d).is_some_and(Node::deleting_dependents));
                (!deps.is_empty(), cycle)
            };
            let policy = if !waiting.is_empty() && has_dependents {
                if cycle {
                    // An owner waits for us while a dependent of ours waits
                    // too: perhaps a cycle. Stop blocking our owners so
                    // that the foreground deletions cannot deadlock.
                    return unblock_owner_references(&api, &obj).await;
                }
                "Foreground"
            } else if meta.has_finalizer(ORPHAN_FINALIZER) {
                "Orphan"
            } else if meta.has_finalizer(FOREGROUND_FINALIZER) {
                "Foreground"
            } else {
                "Background"
            };
            tracing::debug!(object = %node.name, kind = %node.resource.kind, policy, "garbage collector: deleting");
            // The uid and resourceVersion read: a dependent replaced, or
            // changed (a new owner) since, is not deleted on stale grounds.
            let opts = DeleteOptions {
                propagation_policy: Some(Str::from(policy)),
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: Some(meta.resource_version.clone()),
                }),
                ..DeleteOptions::default()
            };
            match api.delete(&meta.name, &opts).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_not_found() => Ok(()),
                // Changed since it was read: look again (with backoff).
                Err(e) => Err(e.into()),
            }
        })
    }

    /// An owner in foreground deletion: wait for the dependents that block
    /// it, then remove its finalizer.
    async fn process_deleting_dependents(
        &self,
        node: &Node,
        uid: &Str,
        obj: &DynamicObject,
    ) -> Result<(), Error> {
        let blocking: Vec<(Str, bool)> = {
            let graph = self.lock_graph();
            graph
                .dependents_of(uid)
                .into_iter()
                .filter_map(|d| {
                    graph
                        .nodes
                        .get(&d)
                        .filter(|n| n.blocks(uid))
                        .map(|n| (d.clone(), n.deleting))
                })
                .collect()
        };
        if blocking.is_empty() {
            let api = self.api_for(&node.resource, &node.namespace);
            return remove_finalizer(&api, obj, FOREGROUND_FINALIZER).await;
        }
        for (d, deleting) in blocking {
            if !deleting {
                self.attempt_delete.add(d);
            }
        }
        Ok(())
    }

    /// Orphans the dependents of an owner with the `orphan` finalizer, then
    /// removes the finalizer.
    fn attempt_to_orphan<'a>(
        self: &'a Arc<Self>,
        uid: &'a Str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            let Some(node) = self.node(uid) else {
                return Ok(());
            };
            let Some(owner) = self.latest(&node, uid).await? else {
                return Ok(());
            };
            let meta = &owner.metadata;
            if meta.deletion_timestamp.is_none() || !meta.has_finalizer(ORPHAN_FINALIZER) {
                return Ok(());
            }
            let dependents = self.lock_graph().dependents_of(uid);
            for d in dependents {
                let Some(dep) = self.node(&d) else { continue };
                let Some(obj) = self.latest(&dep, &d).await? else {
                    continue;
                };
                let api = self.api_for(&dep.resource, &dep.namespace);
                remove_owner_references(&api, &obj, std::slice::from_ref(uid)).await?;
            }
            tracing::debug!(object = %node.name, kind = %node.resource.kind, "garbage collector: orphaned dependents");
            let api = self.api_for(&node.resource, &node.namespace);
            remove_finalizer(&api, &owner, ORPHAN_FINALIZER).await
        })
    }

    /// Looks the owner up live, by kind, name and uid.
    async fn owner_state(&self, r: &OwnerReference, dependent: &Node) -> Result<OwnerState, Error> {
        if self.is_absent(&r.uid) {
            return Ok(OwnerState::Absent);
        }
        let (group, _) = split_api_version(&r.api_version);
        let resource = self
            .kinds
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(Str::from(group), r.kind.clone()))
            .cloned();
        let Some(resource) = resource else {
            return Err(Error::UnknownKind {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
            });
        };
        // A cluster-scoped object cannot be owned by a namespaced one: the
        // reference is invalid, not absent (Kubernetes reports
        // OwnerRefInvalidNamespace and leaves the object alone).
        if resource.scope.is_namespaced() && !dependent.resource.scope.is_namespaced() {
            tracing::warn!(object = %dependent.name, kind = %dependent.resource.kind, owner = %r.name, "garbage collector: a cluster-scoped object names a namespaced owner; ignoring the reference");
            return Ok(OwnerState::Unresolvable);
        }
        let owner = self
            .api_for(&resource, &dependent.namespace)
            .get_opt(&r.name)
            .await?;
        Ok(match owner {
            Some(o) if o.metadata.uid == r.uid => {
                if o.metadata.deletion_timestamp.is_some()
                    && o.metadata.has_finalizer(FOREGROUND_FINALIZER)
                {
                    OwnerState::WaitingForDependents
                } else {
                    OwnerState::Solid
                }
            }
            _ => {
                self.mark_absent(&r.uid);
                OwnerState::Absent
            }
        })
    }
}

/// Drops the owner references with these uids (a merge patch carrying
/// the resourceVersion read, so a concurrent change makes it fail and
/// retry).
async fn remove_owner_references(
    api: &DynamicApi,
    obj: &DynamicObject,
    uids: &[Str],
) -> Result<(), Error> {
    let meta = &obj.metadata;
    let kept: Vec<&OwnerReference> = meta
        .owner_references
        .iter()
        .filter(|r| !uids.contains(&r.uid))
        .collect();
    if kept.len() == meta.owner_references.len() {
        return Ok(());
    }
    let patch =
        json!({"metadata": {"resourceVersion": meta.resource_version, "ownerReferences": kept}});
    match api.patch(&meta.name, PatchType::Merge, &patch).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sets `blockOwnerDeletion: false` on every owner reference (merge
/// patch with the resourceVersion read); the item is processed again when
/// the change comes back, and then deleted in the foreground.
async fn unblock_owner_references(api: &DynamicApi, obj: &DynamicObject) -> Result<(), Error> {
    let meta = &obj.metadata;
    if !meta
        .owner_references
        .iter()
        .any(|r| r.block_owner_deletion == Some(true))
    {
        // Already unblocked: nothing blocks an owner, delete it.
        let opts = DeleteOptions {
            propagation_policy: Some(Str::from("Foreground")),
            preconditions: Some(Preconditions {
                uid: Some(meta.uid.clone()),
                resource_version: Some(meta.resource_version.clone()),
            }),
            ..DeleteOptions::default()
        };
        return match api.delete(&meta.name, &opts).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        };
    }
    let refs: Vec<OwnerReference> = meta
        .owner_references
        .iter()
        .cloned()
        .map(|mut r| {
            if r.block_owner_deletion == Some(true) {
                r.block_owner_deletion = Some(false);
            }
            r
        })
        .collect();
    let patch =
        json!({"metadata": {"resourceVersion": meta.resource_version, "ownerReferences": refs}});
    match api.patch(&meta.name, PatchType::Merge, &patch).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes one finalizer (with the resourceVersion read as precondition).
async fn remove_finalizer(
    api: &DynamicApi,
    obj: &DynamicObject,
    finalizer: &str,
) -> Result<(), Error> {
    let meta = &obj.metadata;
    if !meta.has_finalizer(finalizer) {
        return Ok(());
    }
    let kept: Vec<&Str> = meta.finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"resourceVersion": meta.resource_version, "finalizers": kept}});
    match api.patch(&meta.name, PatchType::Merge, &patch).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}
