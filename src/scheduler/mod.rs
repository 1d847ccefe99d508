//! The scheduler: places pending pods on nodes, with kube-scheduler's
//! framework, queue, cache and default plugins.
//!
//! # Shape
//!
//! Informers feed a [`SchedulingQueue`] (pending pods) and a [`Cache`]
//! (nodes and the pods bound to them). The scheduling loop takes one pod
//! at a time, brings its [`Snapshot`] up to date (only changed nodes are
//! copied), and runs the pod's [`Profile`] — chosen by `spec.schedulerName`;
//! pods for schedulers without a profile are left alone — over it:
//! PreFilter, Filter over enough nodes (kube-scheduler's adaptive
//! `percentageOfNodesToScore`, from a rotating start so every node gets
//! its turn), PreScore, Score with per-plugin weights. The chosen node is
//! *assumed* in the cache at once (the next cycle sees the pod there),
//! Reserve and Permit run, and the binding cycle (PreBind, Bind: a POST to
//! `pods/binding`, PostBind) runs concurrently, so the loop never waits for
//! a write.
//!
//! A pod that fits nowhere gets PostFilter (preemption: lower-priority
//! victims are deleted and the pod is nominated to their node), a
//! `PodScheduled=False` condition with reason `Unschedulable`, and a
//! `FailedScheduling` event worded as kube-scheduler's (`0/3 nodes are
//! available: 1 Insufficient cpu, 2 node(s) had untolerated taint
//! {dedicated: infra}.`); it waits in the queue until a cluster event that
//! can help it.
//!
//! | piece | module |
//! |---|---|
//! | plugin traits, [`Status`], [`CycleState`], the algorithm | [`framework`] |
//! | the default plugins and [`default_profile`](plugins::default_profile) | [`plugins`] |
//! | active / backoff / unschedulable queues | [`queue`] |
//! | node infos, assumed pods, snapshots | [`cache`] |
//! | per-pod and per-node precomputed data | [`info`] |
//!
//! # The decision core without I/O
//!
//! Everything up to the choice of a node is synchronous and pure: build a
//! snapshot, ask the profile.
//!
//! ```
//! use std::sync::Arc;
//! use keelson::api::core::{Container, Node, Pod};
//! use keelson::api::{ObjectMeta, Quantity};
//! use keelson::scheduler::{plugins, CycleState, NodeInfo, PodInfo, Snapshot};
//!
//! let node = |name: &str, cpu: &str| {
//!     let mut n = Node { metadata: ObjectMeta::named(name), ..Default::default() };
//!     n.status.allocatable.insert("cpu", Quantity::from(cpu));
//!     n.status.allocatable.insert("memory", Quantity::from("32Gi"));
//!     n.status.allocatable.insert("pods", Quantity::from("110"));
//!     NodeInfo::new(Arc::new(n))
//! };
//! let snapshot = Snapshot::from_nodes([node("small", "1"), node("big", "8")]);
//!
//! let mut pod = Pod { metadata: ObjectMeta::namespaced("default", "web"), ..Default::default() };
//! let mut c = Container { name: "web".into(), image: "nginx".into(), ..Default::default() };
//! c.resources.requests.insert("cpu", Quantity::from("2"));
//! pod.spec.containers.push(c);
//!
//! let profile = plugins::default_profile("default-scheduler");
//! let result = profile
//!     .framework
//!     .schedule(&mut CycleState::new(), &PodInfo::new(Arc::new(pod)), &snapshot)
//!     .unwrap();
//! assert_eq!(result.node, "big");
//! ```
//!
//! # Running against an API server
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::core::{Container, Node, Pod};
//! use keelson::api::{ObjectMeta, Quantity};
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::scheduler::{Config, Scheduler};
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let mut node = Node { metadata: ObjectMeta::named("node-1"), ..Default::default() };
//! node.status.allocatable.insert("cpu", Quantity::from("4"));
//! node.status.allocatable.insert("memory", Quantity::from("8Gi"));
//! node.status.allocatable.insert("pods", Quantity::from("110"));
//! Api::<Node>::all(&client).create(&node).await.unwrap();
//!
//! let scheduler = Scheduler::new(&client, Config::default());
//! let handle = scheduler.handle();
//! let task = tokio::spawn(scheduler.run());
//!
//! let pods: Api<Pod> = Api::namespaced(&client, "default");
//! let mut pod = Pod { metadata: ObjectMeta::named("web"), ..Default::default() };
//! pod.spec.containers.push(Container { name: "web".into(), image: "nginx".into(), ..Default::default() });
//! pods.create(&pod).await.unwrap();
//! while pods.get("web").await.unwrap().spec.node_name.is_empty() {
//!     tokio::time::sleep(std::time::Duration::from_millis(5)).await;
//! }
//! assert_eq!(pods.get("web").await.unwrap().spec.node_name, "node-1");
//! handle.shutdown();
//! task.await.unwrap().unwrap();
//! # });
//! ```
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::api::core::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, DEFAULT_SCHEDULER_NAME,
};
use crate::api::meta::DeleteOptions;
use crate::api::{Str, Time};
use crate::client::{Api, Client, IntoClient, PatchType};
use crate::controllers::events::{EventType, Recorder};
use crate::informer::{Event, InformerFactory, Subscription};

pub mod cache;
pub mod framework;
pub mod info;
mod memo;
pub mod plugins;
pub mod queue;

pub use self::cache::{Cache, ClusterObjects, Snapshot};
pub use self::framework::{
    BindContext, ClusterEvent, Code, CycleState, FitError, Framework, Plugin, ScheduleError,
    ScheduleResult, Status,
};
pub use self::info::{AffinityTerm, HostPort, NodeInfo, PodInfo, Resources};
pub use self::queue::{QueueConfig, QueuedPodInfo, SchedulingQueue};

use self::framework::{
    Bind, Filter, Permit, PostBind, PostFilter, PreBind, PreEnqueue, PreFilter, PreScore,
    QueueSort, Reserve, Score,
};

/// What can stop the scheduler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The informers stopped before their caches were ready.
    #[error("informers did not sync: {0}")]
    Sync(#[from] crate::informer::Error),
    /// The configuration has no profile.
    #[error("no scheduling profile configured")]
    NoProfile,
}

/// The result type of the scheduler.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A scheduling profile: the plugins for the pods whose
/// `spec.schedulerName` is `scheduler_name`.
///
/// Start from [`plugins::default_profile`] and add your own plugins, or
/// from [`Profile::new`] for an empty one.
///
/// ```
/// use std::sync::Arc;
/// use keelson::scheduler::framework::{CycleState, Plugin, Score, Status};
/// use keelson::scheduler::{plugins, NodeInfo, PodInfo};
///
/// /// Prefers nodes labelled `pool=batch`.
/// struct BatchPool;
/// impl Plugin for BatchPool {
///     fn name(&self) -> &'static str { "BatchPool" }
/// }
/// impl Score for BatchPool {
///     fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
///         Ok(if node.labels().get_str("pool") == Some("batch") { 100 } else { 0 })
///     }
/// }
///
/// let profile = plugins::default_profile("batch-scheduler").score(Arc::new(BatchPool), 5);
/// assert!(profile.framework.plugin_names().iter().any(|(point, names)| *point == "Score" && names.contains(&"BatchPool")));
/// ```
#[derive(Clone, Debug)]
pub struct Profile {
    /// The `spec.schedulerName` this profile serves.
    pub scheduler_name: Str,
    /// The plugins.
    pub framework: Framework,
}

impl Profile {
    /// A profile with no plugins.
    pub fn new(scheduler_name: &str) -> Profile {
        Profile {
            scheduler_name: Str::from(scheduler_name),
            framework: Framework::default(),
        }
    }

    fn events<P: Plugin + ?Sized>(&mut self, p: &P) {
        self.framework.events.insert(p.name(), p.events());
    }

    /// Sets the QueueSort plugin.
    #[must_use]
    pub fn queue_sort(mut self, p: Arc<dyn QueueSort>) -> Self {
        self.framework.queue_sort = Some(p);
        self
    }

    /// Adds a PreEnqueue plugin.
    #[must_use]
    pub fn pre_enqueue(mut self, p: Arc<dyn PreEnqueue>) -> Self {
        self.events(p.as_ref());
        self.framework.pre_enqueue.push(p);
        self
    }

    /// Adds a PreFilter plugin.
    #[must_use]
    pub fn pre_filter(mut self, p: Arc<dyn PreFilter>) -> Self {
        self.events(p.as_ref());
        self.framework.pre_filter.push(p);
        self
    }

    /// Adds a Filter plugin.
    #[must_use]
    pub fn filter(mut self, p: Arc<dyn Filter>) -> Self {
        self.events(p.as_ref());
        self.framework.filter.push(p);
        self
    }

    /// Adds a PostFilter plugin.
    #[must_use]
    pub fn post_filter(mut self, p: Arc<dyn PostFilter>) -> Self {
        self.events(p.as_ref());
        self.framework.post_filter.push(p);
        self
    }

    /// Adds a PreScore plugin.
    #[must_use]
    pub fn pre_score(mut self, p: Arc<dyn PreScore>) -> Self {
        self.events(p.as_ref());
        self.framework.pre_score.push(p);
        self
    }

    /// Adds a Score plugin with its weight.
    #[must_use]
    pub fn score(mut self, p: Arc<dyn Score>, weight: i64) -> Self {
        self.events(p.as_ref());
        self.framework.score.push((p, weight));
        self
    }

    /// Adds a Reserve plugin.
    #[must_use]
    pub fn reserve(mut self, p: Arc<dyn Reserve>) -> Self {
        self.events(p.as_ref());
        self.framework.reserve.push(p);
        self
    }

    /// Adds a Permit plugin.
    #[must_use]
    pub fn permit(mut self, p: Arc<dyn Permit>) -> Self {
        self.events(p.as_ref());
        self.framework.permit.push(p);
        self
    }

    /// Adds a PreBind plugin.
    #[must_use]
    pub fn pre_bind(mut self, p: Arc<dyn PreBind>) -> Self {
        self.framework.pre_bind.push(p);
        self
    }

    /// Adds a Bind plugin (binders run in order until one does not skip).
    /// Put a custom binder first with [`Profile::without`] of
    /// `DefaultBinder` and re-adding it after.
    #[must_use]
    pub fn bind(mut self, p: Arc<dyn Bind>) -> Self {
        self.framework.bind.push(p);
        self
    }

    /// Adds a PostBind plugin.
    #[must_use]
    pub fn post_bind(mut self, p: Arc<dyn PostBind>) -> Self {
        self.framework.post_bind.push(p);
        self
    }

    /// Removes the named plugin from every extension point.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        let f = &mut self.framework;
        f.pre_enqueue.retain(|p| p.name() != name);
        f.pre_filter.retain(|p| p.name() != name);
        f.filter.retain(|p| p.name() != name);
        f.post_filter.retain(|p| p.name() != name);
        f.pre_score.retain(|p| p.name() != name);
        f.score.retain(|(p, _)| p.name() != name);
        f.reserve.retain(|p| p.name() != name);
        f.permit.retain(|p| p.name() != name);
        f.pre_bind.retain(|p| p.name() != name);
        f.bind.retain(|p| p.name() != name);
        f.post_bind.retain(|p| p.name() != name);
        if f.queue_sort.as_ref().is_some_and(|p| p.name() == name) {
            f.queue_sort = None;
        }
        self
    }

    /// Changes a Score plugin's weight.
    #[must_use]
    pub fn weight(mut self, name: &str, weight: i64) -> Self {
        for (p, w) in &mut self.framework.score {
            if p.name() == name {
                *w = weight;
            }
        }
        self
    }

    /// Sets `percentageOfNodesToScore` (`0`: the adaptive default).
    #[must_use]
    pub fn percentage_of_nodes_to_score(mut self, pct: u32) -> Self {
        self.framework.percentage_of_nodes_to_score = (pct > 0).then_some(pct);
        self
    }

    /// Sets the threads Filter and Score use over nodes.
    #[must_use]
    pub fn parallelism(mut self, threads: usize) -> Self {
        self.framework.parallelism = threads.max(1);
        self
    }
}

/// Scheduler settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The profiles (by scheduler name).
    pub profiles: Vec<Profile>,
    /// Queue timings.
    pub queue: QueueConfig,
    /// How long an assumed pod whose bind finished may stay unconfirmed.
    pub assumed_ttl: Duration,
    /// Binding cycles in flight at most.
    pub bind_concurrency: usize,
    /// Write FailedScheduling and Preempted events.
    pub record_events: bool,
}

impl Default for Config {
    /// One default profile for `default-scheduler`.
    fn default() -> Self {
        Config {
            profiles: vec![plugins::default_profile(DEFAULT_SCHEDULER_NAME)],
            queue: QueueConfig::default(),
            assumed_ttl: Duration::from_secs(15 * 60),
            bind_concurrency: 1024,
            record_events: true,
        }
    }
}

impl Config {
    /// Replaces the profiles.
    #[must_use]
    pub fn profiles(mut self, profiles: Vec<Profile>) -> Self {
        self.profiles = profiles;
        self
    }

    /// Adds a profile.
    #[must_use]
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profiles.push(profile);
        self
    }

    /// Sets the queue timings.
    #[must_use]
    pub fn queue(mut self, queue: QueueConfig) -> Self {
        self.queue = queue;
        self
    }

    /// Turns event recording on or off.
    #[must_use]
    pub fn record_events(mut self, on: bool) -> Self {
        self.record_events = on;
        self
    }
}

/// Counters of a running scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Scheduling attempts (cycles).
    pub attempts: u64,
    /// Pods bound.
    pub bound: u64,
    /// Attempts that found no node.
    pub unschedulable: u64,
    /// Attempts or binds that failed with an error.
    pub errors: u64,
    /// Preemptions (pods nominated after evicting victims).
    pub preemptions: u64,
}

#[derive(Default)]
struct Counters {
    attempts: AtomicU64,
    bound: AtomicU64,
    unschedulable: AtomicU64,
    errors: AtomicU64,
    preemptions: AtomicU64,
}

type PermitResult = std::result::Result<(), String>;

/// Pods held by a Permit plugin ([`Code::Wait`]); allow or reject them
/// here.
#[derive(Clone, Default)]
pub struct WaitingPods {
    inner: Arc<Mutex<WaitingMap>>,
}

/// Per waiting pod: the Permit plugins still to allow it, and where to send
/// the verdict.
type WaitingMap = HashMap<Str, (Vec<&'static str>, Option<oneshot::Sender<PermitResult>>)>;

impl std::fmt::Debug for WaitingPods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingPods")
            .field("pods", &self.uids())
            .finish()
    }
}

impl WaitingPods {
    fn lock(&self) -> MutexGuard<'_, WaitingMap> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, uid: &Str, plugins: Vec<&'static str>) -> oneshot::Receiver<PermitResult> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(uid.clone(), (plugins, Some(tx)));
        rx
    }

    /// The uids of the waiting pods.
    pub fn uids(&self) -> Vec<Str> {
        self.lock().keys().cloned().collect()
    }

    /// `plugin` allows the pod; it binds once every waiting plugin has.
    pub fn allow(&self, uid: &str, plugin: &str) {
        let mut g = self.lock();
        let done = match g.get_mut(uid) {
            Some((pending, _)) => {
                pending.retain(|p| *p != plugin);
                pending.is_empty()
            }
            None => false,
        };
        if done {
            if let Some((_, Some(tx))) = g.remove(uid) {
                let _ = tx.send(Ok(()));
            }
        }
    }

    /// Rejects the pod: it goes back to the queue.
    pub fn reject(&self, uid: &str, message: &str) {
        if let Some((_, Some(tx))) = self.lock().remove(uid) {
            let _ = tx.send(Err(message.to_string()));
        }
    }
}

struct Shared {
    client: Arc<dyn Client>,
    cache: Mutex<Cache>,
    queue: SchedulingQueue,
    profiles: Vec<Arc<Profile>>,
    waiting: WaitingPods,
    counters: Counters,
    recorder: Option<Recorder>,
    bind_slots: Arc<Semaphore>,
    stop: watch::Sender<bool>,
}

impl Shared {
    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn profile_for(&self, pod: &Pod) -> Option<&Arc<Profile>> {
        let name = if pod.spec.scheduler_name.is_empty() {
            DEFAULT_SCHEDULER_NAME
        } else {
            pod.spec.scheduler_name.as_str()
        };
        self.profiles.iter().find(|p| p.scheduler_name == name)
    }

    fn interested(&self, plugin: &str, event: ClusterEvent) -> bool {
        self.profiles
            .iter()
            .any(|p| p.framework.events_of(plugin).contains(&event))
    }

    fn event(&self, e: ClusterEvent) {
        self.queue.on_event(e, |p, ev| self.interested(p, ev));
    }
}

/// A handle on a running [`Scheduler`]: counters, held pods, shutdown.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Handle {
    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            attempts: c.attempts.load(Ordering::Relaxed),
            bound: c.bound.load(Ordering::Relaxed),
            unschedulable: c.unschedulable.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            preemptions: c.preemptions.load(Ordering::Relaxed),
        }
    }

    /// The scheduler's view of a node: its allocatable and the requests of
    /// the pods bound or assumed to it.
    pub fn node_info(&self, name: &str) -> Option<Arc<NodeInfo>> {
        self.shared.cache().node_info(name).cloned()
    }

    /// Pods held by Permit plugins.
    pub fn waiting_pods(&self) -> &WaitingPods {
        &self.shared.waiting
    }

    /// Pods in the active queue, the backoff queue, and parked.
    pub fn queue_lens(&self) -> (usize, usize, usize) {
        self.shared.queue.lens()
    }

    /// Stops [`Scheduler::run`].
    pub fn shutdown(&self) {
        let _ = self.shared.stop.send(true);
        self.shared.queue.close();
    }
}

/// The scheduler: informers, queue, cache, the scheduling loop and the
/// binding cycles (see the [module docs](self)).
pub struct Scheduler {
    shared: Arc<Shared>,
    factory: InformerFactory,
    own_factory: bool,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler with its own informers on `client`.
    pub fn new(client: impl IntoClient, config: Config) -> Scheduler {
        let factory = InformerFactory::new(client);
        let mut s = Scheduler::with_factory(&factory, config);
        s.own_factory = true;
        s
    }

    /// A scheduler sharing `factory`'s informers (started by
    /// [`run`](Self::run) if they are not yet).
    pub fn with_factory(factory: &InformerFactory, config: Config) -> Scheduler {
        let client = factory.client().clone();
        let sort: Arc<dyn QueueSort> = config
            .profiles
            .iter()
            .find_map(|p| p.framework.queue_sort.clone())
            .unwrap_or_else(|| Arc::new(plugins::PrioritySort));
        let mut cache = Cache::new();
        cache.set_assumed_ttl(config.assumed_ttl);
        let (stop, _) = watch::channel(false);
        let recorder = config
            .record_events
            .then(|| Recorder::new(client.clone(), DEFAULT_SCHEDULER_NAME));
        Scheduler {
            shared: Arc::new(Shared {
                client,
                cache: Mutex::new(cache),
                queue: SchedulingQueue::new(sort, config.queue.clone()),
                profiles: config.profiles.into_iter().map(Arc::new).collect(),
                waiting: WaitingPods::default(),
                counters: Counters::default(),
                recorder,
                bind_slots: Arc::new(Semaphore::new(config.bind_concurrency.max(1))),
                stop,
            }),
            factory: factory.clone(),
            own_factory: false,
        }
    }

    /// A handle for counters, held pods and shutdown.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// Runs until [`Handle::shutdown`] (or until the future is dropped,
    /// which stops everything it started).
    pub async fn run(self) -> Result<()> {
        let shared = self.shared.clone();
        if shared.profiles.is_empty() {
            return Err(Error::NoProfile);
        }
        let pods = self.factory.informer::<Pod>();
        let nodes = self.factory.informer::<Node>();
        let pvs = self.factory.informer::<PersistentVolume>();
        let pvcs = self.factory.informer::<PersistentVolumeClaim>();
        let namespaces = self.factory.informer::<Namespace>();
        let mut subs = Subs {
            pods: pods.subscribe(),
            nodes: nodes.subscribe(),
            pvs: pvs.subscribe(),
            pvcs: pvcs.subscribe(),
            namespaces: namespaces.subscribe(),
        };
        self.factory.start();
        let _stop_factory = FactoryGuard(self.own_factory.then(|| self.factory.clone()));
        self.factory.wait_for_sync().await?;
        // Apply what the initial lists delivered before the first cycle.
        subs.drain(&shared);

        let mut tasks = JoinSet::new();
        {
            let shared = shared.clone();
            tasks.spawn(async move {
                loop {
                    let done = subs.next(&shared).await;
                    if !done {
                        break;
                    }
                }
            });
        }
        {
            let shared = shared.clone();
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                let mut n = 0u64;
                loop {
                    tick.tick().await;
                    n += 1;
                    let expired = shared.cache().cleanup_expired(Instant::now());
                    if !expired.is_empty() {
                        shared.event(ClusterEvent::AssignedPodDelete);
                    }
                    if n % 30 == 0 {
                        shared.queue.flush_unschedulable();
                    }
                }
            });
        }
        let mut stop = shared.stop.subscribe();
        let mut snapshot = Snapshot::default();
        let mut binds = JoinSet::new();
        let mut last_yield = std::time::Instant::now();
        loop {
            let qp = tokio::select! {
                qp = shared.queue.pop() => qp,
                _ = stop.wait_for(|s| *s) => None,
            };
            let Some(qp) = qp else { break };
            schedule_one(&shared, &mut snapshot, qp, &mut binds).await;
            while binds.try_join_next().is_some() {}
            // Let informers and binding cycles run on a busy runtime, but
            // not after every cycle: the binding task a cycle spawns would
            // then run next on this same thread (tokio runs a task's latest
            // spawn first), serialising binds with scheduling. Queued here
            // for a while, they are taken by the runtime's other threads.
            if last_yield.elapsed() >= YIELD_EVERY {
                tokio::task::yield_now().await;
                last_yield = std::time::Instant::now();
            }
        }
        // Finish the binds in flight.
        while binds.join_next().await.is_some() {}
        tasks.abort_all();
        Ok(())
    }
}

/// How long the scheduling loop runs cycles back to back before it lets
/// the other tasks of its thread run.
const YIELD_EVERY: Duration = Duration::from_millis(1);

struct FactoryGuard(Option<InformerFactory>);

impl Drop for FactoryGuard {
    fn drop(&mut self) {
        if let Some(f) = &self.0 {
            f.shutdown();
        }
    }
}

struct Subs {
    pods: Subscription<Pod>,
    nodes: Subscription<Node>,
    pvs: Subscription<PersistentVolume>,
    pvcs: Subscription<PersistentVolumeClaim>,
    namespaces: Subscription<Namespace>,
}

impl Subs {
    fn drain(&mut self, shared: &Shared) {
        while let Some(e) = self.nodes.try_recv() {
            on_node(shared, e);
        }
        while let Some(e) = self.namespaces.try_recv() {
            on_namespace(shared, e);
        }
        while let Some(e) = self.pvs.try_recv() {
            on_pv(shared, e);
        }
        while let Some(e) = self.pvcs.try_recv() {
            on_pvc(shared, e);
        }
        while let Some(e) = self.pods.try_recv() {
            on_pod(shared, e);
        }
    }

    /// Handles the next event; false when every stream ended.
    async fn next(&mut self, shared: &Shared) -> bool {
        tokio::select! {
            Some(e) = self.pods.recv() => on_pod(shared, e),
            Some(e) = self.nodes.recv() => on_node(shared, e),
            Some(e) = self.pvs.recv() => on_pv(shared, e),
            Some(e) = self.pvcs.recv() => on_pvc(shared, e),
            Some(e) = self.namespaces.recv() => on_namespace(shared, e),
            else => return false,
        }
        true
    }
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.phase.as_str(), "Succeeded" | "Failed")
}

fn pod_uid(pod: &Pod) -> Str {
    if pod.metadata.uid.is_empty() {
        Str::from(format!("{}/{}", pod.metadata.namespace, pod.metadata.name))
    } else {
        pod.metadata.uid.clone()
    }
}

fn on_pod(shared: &Shared, e: Event<Pod>) {
    match e {
        Event::Added(pod) => pod_seen(shared, None, pod),
        Event::Updated { old, new } => {
            if !Arc::ptr_eq(&old, &new) {
                pod_seen(shared, Some(old), new)
            }
        }
        Event::Deleted(pod) => {
            let uid = pod_uid(&pod);
            shared.queue.delete(&uid);
            shared.waiting.reject(&uid, "pod deleted");
            let known = shared.cache().node_of(&uid).is_some();
            if known {
                shared.cache().remove_pod(&uid);
                shared.event(ClusterEvent::AssignedPodDelete);
            }
        }
    }
}

fn pod_seen(shared: &Shared, old: Option<Arc<Pod>>, pod: Arc<Pod>) {
    let uid = pod_uid(&pod);
    if !pod.spec.node_name.is_empty() {
        shared.queue.delete(&uid);
        if is_terminal(&pod) {
            let known = shared.cache().node_of(&uid).is_some();
            if known {
                shared.cache().remove_pod(&uid);
                shared.event(ClusterEvent::AssignedPodDelete);
            }
            return;
        }
        let event = {
            let mut cache = shared.cache();
            let was_bound = cache.node_of(&uid).is_some() && !cache.is_assumed(&uid);
            // Unchanged for scheduling (a status update): keep the info.
            let unchanged = old.as_ref().is_some_and(|o| {
                was_bound
                    && o.spec == pod.spec
                    && o.metadata.labels == pod.metadata.labels
                    && o.metadata.deletion_timestamp == pod.metadata.deletion_timestamp
            });
            if unchanged {
                return;
            }
            cache.add_pod(Arc::new(PodInfo::new(pod)));
            if was_bound {
                ClusterEvent::AssignedPodUpdate
            } else {
                ClusterEvent::AssignedPodAdd
            }
        };
        shared.event(event);
        return;
    }
    if is_terminal(&pod) || pod.metadata.deletion_timestamp.is_some() {
        shared.queue.delete(&uid);
        return;
    }
    let Some(profile) = shared.profile_for(&pod) else {
        return;
    };
    if shared.cache().is_assumed(&uid) {
        return;
    }
    if let Some(o) = &old {
        let same = o.spec == pod.spec
            && o.metadata.labels == pod.metadata.labels
            && o.metadata.annotations == pod.metadata.annotations
            && o.status.nominated_node_name == pod.status.nominated_node_name;
        if same && shared.queue.contains(&uid) {
            return;
        }
    }
    let info = Arc::new(PodInfo::new(pod));
    if profile.framework.run_pre_enqueue(&info).is_success() {
        shared.queue.add(info);
    } else {
        shared.queue.add_gated(info);
    }
}

fn on_node(shared: &Shared, e: Event<Node>) {
    let event = match &e {
        Event::Added(n) => {
            shared.cache().add_node(n.clone());
            ClusterEvent::NodeAdd
        }
        Event::Updated { old, new } => {
            if Arc::ptr_eq(old, new) {
                return;
            }
            shared.cache().add_node(new.clone());
            let relevant = old.spec != new.spec
                || old.metadata.labels != new.metadata.labels
                || old.status.allocatable != new.status.allocatable;
            if !relevant {
                return;
            }
            ClusterEvent::NodeUpdate
        }
        Event::Deleted(n) => {
            shared.cache().remove_node(&n.metadata.name);
            ClusterEvent::NodeDelete
        }
    };
    shared.event(event);
}

fn on_namespace(shared: &Shared, e: Event<Namespace>) {
    let ns = e.object().clone();
    let deleted = matches!(e, Event::Deleted(_));
    shared.cache().update_cluster(|c| {
        if deleted {
            c.namespaces.remove(ns.metadata.name.as_str());
        } else {
            c.namespaces
                .insert(ns.metadata.name.clone(), ns.metadata.labels.clone());
        }
    });
    shared.event(ClusterEvent::NamespaceChange);
}

fn on_pv(shared: &Shared, e: Event<PersistentVolume>) {
    let pv = e.object().clone();
    let deleted = matches!(e, Event::Deleted(_));
    shared.cache().update_cluster(|c| {
        if deleted {
            c.pvs.remove(pv.metadata.name.as_str());
        } else {
            c.pvs.insert(pv.metadata.name.clone(), pv.clone());
        }
    });
    shared.event(ClusterEvent::PvChange);
}

fn on_pvc(shared: &Shared, e: Event<PersistentVolumeClaim>) {
    let pvc = e.object().clone();
    let deleted = matches!(e, Event::Deleted(_));
    let key = Str::from(format!("{}/{}", pvc.metadata.namespace, pvc.metadata.name));
    shared.cache().update_cluster(|c| {
        if deleted {
            c.pvcs.remove(key.as_str());
        } else {
            c.pvcs.insert(key.clone(), pvc.clone());
        }
    });
    shared.event(ClusterEvent::PvcChange);
}

async fn schedule_one(
    shared: &Arc<Shared>,
    snapshot: &mut Snapshot,
    qp: QueuedPodInfo,
    binds: &mut JoinSet<()>,
) {
    let info = qp.info.clone();
    shared.counters.attempts.fetch_add(1, Ordering::Relaxed);
    let Some(profile) = shared.profile_for(&info.pod).cloned() else {
        shared.queue.done(&info.uid);
        return;
    };
    if shared.cache().is_assumed(&info.uid) {
        shared.queue.done(&info.uid);
        return;
    }
    let span = tracing::debug_span!("schedule", pod = %info.key(), attempt = qp.attempts);
    let _enter = span.enter();
    shared.cache().update_snapshot(snapshot);
    snapshot.set_nominated(shared.queue.nominated());
    let fw = &profile.framework;
    let mut state = CycleState::new();
    match fw.schedule(&mut state, &info, snapshot) {
        Ok(result) => {
            drop(_enter);
            assume_and_bind(shared, profile.clone(), state, qp, result.node, binds).await;
        }
        Err(ScheduleError::Fit(mut fit)) => {
            let mut nominated = None;
            if !fw.post_filter.is_empty() && !fit.statuses.is_empty() {
                let (res, status) = fw.run_post_filter(&state, &info, snapshot, &fit.statuses);
                if status.is_success() {
                    if let Some(node) = res.nominated_node {
                        shared.counters.preemptions.fetch_add(1, Ordering::Relaxed);
                        shared.queue.nominate(info.clone(), &node);
                        evict(shared, &info, &node, res.victims, binds);
                        nominated = Some(node);
                    }
                } else if !status.message().is_empty() {
                    fit.post_filter_message = Some(status.message());
                }
            }
            shared
                .counters
                .unschedulable
                .fetch_add(1, Ordering::Relaxed);
            let plugins = fit.plugins();
            let message = fit.to_string();
            tracing::debug!(%message, "unschedulable");
            shared.queue.add_unschedulable(qp, plugins, false);
            report_failure(shared, &info, message, nominated, binds);
        }
        Err(ScheduleError::Error(status)) => {
            shared.counters.errors.fetch_add(1, Ordering::Relaxed);
            let message = status.to_string();
            tracing::warn!(%message, "scheduling error");
            shared.queue.add_unschedulable(qp, Vec::new(), true);
            report_failure(shared, &info, message, None, binds);
        }
    }
}

async fn assume_and_bind(
    shared: &Arc<Shared>,
    profile: Arc<Profile>,
    mut state: CycleState,
    qp: QueuedPodInfo,
    node: Str,
    binds: &mut JoinSet<()>,
) {
    let info = qp.info.clone();
    let fw = &profile.framework;
    shared.cache().assume_pod(info.clone(), &node);
    let s = fw.run_reserve(&mut state, &info, &node);
    if !s.is_success() {
        shared.cache().forget_pod(&info.uid);
        shared.counters.errors.fetch_add(1, Ordering::Relaxed);
        shared.queue.add_unschedulable(qp, vec![s.plugin()], true);
        report_failure(shared, &info, s.to_string(), None, binds);
        return;
    }
    let (permit, waiting_plugins, timeout) = fw.run_permit(&state, &info, &node);
    if permit.is_rejected() || permit.code() == Code::Error {
        fw.run_unreserve(&mut state, &info, &node);
        shared.cache().forget_pod(&info.uid);
        shared
            .queue
            .add_unschedulable(qp, vec![permit.plugin()], permit.code() == Code::Error);
        report_failure(shared, &info, permit.to_string(), None, binds);
        return;
    }
    shared.queue.done(&info.uid);
    shared.queue.clear_nomination(&info.uid);
    let wait =
        (permit.code() == Code::Wait).then(|| shared.waiting.register(&info.uid, waiting_plugins));
    let Ok(slot) = shared.bind_slots.clone().acquire_owned().await else {
        return;
    };
    let shared = shared.clone();
    binds.spawn(async move {
        let _slot = slot;
        let fw = &profile.framework;
        let cx = BindContext {
            client: shared.client.clone(),
        };
        let mut status = Status::success();
        if let Some(rx) = wait {
            status = match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(Ok(()))) => Status::success(),
                Ok(Ok(Err(msg))) => Status::unschedulable(msg),
                Ok(Err(_)) => Status::unschedulable("rejected"),
                Err(_) => {
                    shared.waiting.reject(&info.uid, "timeout");
                    Status::unschedulable("rejected due to timeout after waiting at permit")
                }
            };
        }
        if status.is_success() {
            status = fw.run_bind_cycle(&cx, &state, &info.pod, &node).await;
        }
        if status.is_success() {
            shared.cache().finish_binding(&info.uid, Instant::now());
            shared.counters.bound.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tracing::debug!(pod = %info.key(), %status, "binding failed");
        fw.run_unreserve(&mut state, &info, &node);
        shared.cache().forget_pod(&info.uid);
        shared.counters.errors.fetch_add(1, Ordering::Relaxed);
        // The pod may be gone (deleted) or bound by someone else: only
        // requeue what is still pending.
        let still_pending = Api::<Pod>::namespaced(shared.client.clone(), info.namespace())
            .get_opt(&info.pod.metadata.name)
            .await
            .ok()
            .flatten()
            .is_some_and(|p| {
                p.spec.node_name.is_empty() && p.metadata.uid == info.pod.metadata.uid
            });
        if still_pending {
            shared.queue.requeue_backoff(qp);
        }
        shared.event(ClusterEvent::AssignedPodDelete);
        if let Some(r) = &shared.recorder {
            let _ = r
                .publish(
                    info.pod.as_ref(),
                    EventType::Warning,
                    "FailedScheduling",
                    &status.message(),
                )
                .await;
        }
    });
}

fn evict(
    shared: &Arc<Shared>,
    preemptor: &PodInfo,
    node: &str,
    victims: Vec<Arc<PodInfo>>,
    tasks: &mut JoinSet<()>,
) {
    let shared = shared.clone();
    let node = node.to_string();
    let preemptor_key = preemptor.key();
    tasks.spawn(async move {
        for v in victims {
            let api: Api<Pod> = Api::namespaced(shared.client.clone(), v.namespace());
            match api
                .delete(&v.pod.metadata.name, &DeleteOptions::default())
                .await
            {
                Ok(_) => {
                    if let Some(r) = &shared.recorder {
                        let msg = format!("Preempted by {preemptor_key} on node {node}");
                        let _ = r
                            .publish(v.pod.as_ref(), EventType::Normal, "Preempted", &msg)
                            .await;
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    tracing::warn!(victim = %v.key(), error = %e, "preemption: delete failed")
                }
            }
        }
    });
}

fn report_failure(
    shared: &Arc<Shared>,
    info: &Arc<PodInfo>,
    message: String,
    nominated: Option<Str>,
    tasks: &mut JoinSet<()>,
) {
    let pod = info.pod.clone();
    let already = pod.status.conditions.iter().any(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason == "Unschedulable"
            && c.message == message
    }) && nominated.is_none();
    let shared = shared.clone();
    tasks.spawn(async move {
        let api: Api<Pod> = Api::namespaced(shared.client.clone(), &pod.metadata.namespace);
        if !already {
            let mut status = json!({
                "conditions": [{
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastTransitionTime": Time::now(),
                }],
            });
            if let Some(n) = &nominated {
                status["nominatedNodeName"] = json!(n.as_str());
            }
            let patch = json!({ "status": status });
            if let Err(e) = api.patch_status(&pod.metadata.name, PatchType::Strategic, &patch).await {
                tracing::debug!(pod = %pod.metadata.name, error = %e, "updating PodScheduled failed");
            }
        }
        if let Some(r) = &shared.recorder {
            let _ = r
                .publish(pod.as_ref(), EventType::Warning, "FailedScheduling", &message)
                .await;
        }
    });
}
