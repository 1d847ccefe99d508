//! The scheduling framework: the plugin traits for every extension point,
//! [`Status`], [`CycleState`], and [`Framework`] (one profile's plugins),
//! which runs the scheduling algorithm over a [`Snapshot`].
//!
//! A scheduling cycle for one pod runs, in order:
//!
//! | point | trait | does |
//! |---|---|---|
//! | PreEnqueue | [`PreEnqueue`] | before the pod enters the active queue (gates) |
//! | QueueSort | [`QueueSort`] | orders the active queue |
//! | PreFilter | [`PreFilter`] | computes per-pod data into the [`CycleState`]; may reject the pod outright or skip its Filter |
//! | Filter | [`Filter`] | node by node: can the pod run here? |
//! | PostFilter | [`PostFilter`] | no node fits: make one fit (preemption) |
//! | PreScore | [`PreScore`] | per-pod data for scoring |
//! | Score | [`Score`] | node by node: how good is this node (0..=100 after normalising), times the plugin's weight |
//! | Reserve | [`Reserve`] | the node is chosen: claim what the pod needs (undone by `unreserve`) |
//! | Permit | [`Permit`] | allow, reject, or hold the pod before binding (with a timeout) |
//! | PreBind, Bind, PostBind | [`PreBind`], [`Bind`], [`PostBind`] | the binding cycle, async, off the scheduling path |
//!
//! Everything up to Permit is synchronous and pure: a pod and a snapshot
//! in, a status or score out, so plugins are tested and benchmarked
//! without I/O. Binding is async.
use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::cache::Snapshot;
use super::info::{NodeInfo, PodInfo};
use super::queue::QueuedPodInfo;
use crate::api::core::Pod;
use crate::api::Str;
use crate::client::Client;

/// The highest score a Score plugin gives a node (after normalising).
pub const MAX_NODE_SCORE: i64 = 100;

/// What a plugin decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// Go on.
    Success,
    /// Something failed that is not the pod's fault (an internal error).
    Error,
    /// The pod does not fit here now; preemption may help.
    Unschedulable,
    /// The pod does not fit here and preemption cannot change that.
    UnschedulableAndUnresolvable,
    /// Permit: hold the pod until allowed or rejected.
    Wait,
    /// PreFilter/PreScore: this plugin has nothing to do for this pod; its
    /// Filter/Score are skipped. Bind: this binder does not handle the pod.
    Skip,
}

/// A plugin's verdict: a [`Code`], the reasons (shown to users in
/// FailedScheduling events), and the plugin that gave it.
///
/// ```
/// use keelson::scheduler::framework::{Code, Status};
///
/// let s = Status::unschedulable("Insufficient cpu").with_plugin("NodeResourcesFit");
/// assert_eq!(s.code(), Code::Unschedulable);
/// assert!(s.is_rejected());
/// assert_eq!(s.reasons(), ["Insufficient cpu"]);
/// assert!(Status::success().is_success());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    code: Code,
    reasons: Vec<Cow<'static, str>>,
    plugin: &'static str,
}

impl Default for Status {
    fn default() -> Self {
        Status::success()
    }
}

impl Status {
    /// Success, with no reasons (does not allocate).
    pub const fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }

    /// [`Code::Unschedulable`] with a reason.
    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }

    /// [`Code::UnschedulableAndUnresolvable`] with a reason.
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// [`Code::Error`] with a message.
    pub fn error(message: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Error, message)
    }

    /// [`Code::Skip`].
    pub const fn skip() -> Status {
        Status {
            code: Code::Skip,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// [`Code::Wait`] (Permit).
    pub const fn wait() -> Status {
        Status {
            code: Code::Wait,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// Adds a reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Status {
        self.reasons.push(reason.into());
        self
    }

    /// Names the plugin that gave the status (the framework does this for
    /// every status a plugin returns).
    #[must_use]
    pub fn with_plugin(mut self, plugin: &'static str) -> Status {
        self.plugin = plugin;
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The reasons.
    pub fn reasons(&self) -> &[Cow<'static, str>] {
        &self.reasons
    }

    /// The plugin that gave the status (empty if not set).
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// True for [`Code::Success`].
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// True for [`Code::Skip`].
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// True for [`Code::Unschedulable`] and
    /// [`Code::UnschedulableAndUnresolvable`].
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable
        )
    }

    /// The reasons joined with `, `.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.code)?;
        if !self.plugin.is_empty() {
            write!(f, " ({})", self.plugin)?;
        }
        if !self.reasons.is_empty() {
            write!(f, ": {}", self.message())?;
        }
        Ok(())
    }
}

/// Data a plugin keeps in the [`CycleState`]: any `Clone + Send + Sync`
/// type (the state is cloned when preemption tries nodes with victims
/// removed).
pub trait StateData: Any + Send + Sync {
    /// A boxed copy.
    fn clone_data(&self) -> Box<dyn StateData>;
    /// As `Any`, to downcast.
    fn as_any(&self) -> &dyn Any;
    /// As `Any`, to downcast mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_data(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle data plugins pass from one extension point to the next
/// (PreFilter to Filter, PreScore to Score), keyed by type: each plugin
/// stores its own type.
///
/// ```
/// use keelson::scheduler::framework::CycleState;
///
/// #[derive(Clone)]
/// struct Mine(u32);
/// let mut state = CycleState::new();
/// state.write(Mine(7));
/// assert_eq!(state.read::<Mine>().map(|m| m.0), Some(7));
/// ```
#[derive(Default)]
pub struct CycleState {
    entries: Vec<(TypeId, Box<dyn StateData>)>,
    skip_filter: Vec<&'static str>,
    skip_score: Vec<&'static str>,
    /// Bit `i` set: the framework's `i`-th Filter plugin is skipped (worked
    /// out once by PreFilter, instead of comparing names per node).
    filter_mask: Option<u64>,
    node_names: Option<Vec<Str>>,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            entries: self
                .entries
                .iter()
                .map(|(t, d)| (*t, (**d).clone_data()))
                .collect(),
            skip_filter: self.skip_filter.clone(),
            skip_score: self.skip_score.clone(),
            filter_mask: self.filter_mask,
            node_names: self.node_names.clone(),
        }
    }
}

impl fmt::Debug for CycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycleState")
            .field("entries", &self.entries.len())
            .field("skip_filter", &self.skip_filter)
            .field("skip_score", &self.skip_score)
            .finish()
    }
}

impl CycleState {
    /// An empty state.
    pub fn new() -> Self {
        CycleState::default()
    }

    /// Stores `value`, replacing one of the same type.
    pub fn write<T: StateData>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        if let Some(slot) = self.entries.iter_mut().find(|(t, _)| *t == id) {
            slot.1 = Box::new(value);
        } else {
            self.entries.push((id, Box::new(value)));
        }
    }

    /// The stored value of type `T`.
    pub fn read<T: StateData>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| (**d).as_any().downcast_ref())
    }

    /// The stored value of type `T`, mutably.
    pub fn read_mut<T: StateData>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter_mut()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| (**d).as_any_mut().downcast_mut())
    }

    /// Restricts the nodes Filter considers to `names` (intersected with
    /// earlier restrictions), as a PreFilter plugin that already knows the
    /// candidates does (`spec.nodeName`, `metadata.name` node affinity).
    pub fn restrict_nodes(&mut self, names: Vec<Str>) {
        self.node_names = Some(match self.node_names.take() {
            None => names,
            Some(old) => old.into_iter().filter(|n| names.contains(n)).collect(),
        });
    }

    /// The restriction set by [`restrict_nodes`](Self::restrict_nodes).
    pub fn node_names(&self) -> Option<&[Str]> {
        self.node_names.as_deref()
    }

    /// True when the plugin's Filter is skipped for this cycle.
    pub fn skips_filter(&self, plugin: &str) -> bool {
        self.skip_filter.contains(&plugin)
    }

    /// True when the plugin's Score is skipped for this cycle.
    pub fn skips_score(&self, plugin: &str) -> bool {
        self.skip_score.contains(&plugin)
    }
}

/// A change in the cluster that can make an unschedulable pod schedulable.
/// Plugins name the events that can undo their rejections
/// ([`Plugin::events`]); an unschedulable pod goes back to the active
/// queue on an event that one of the plugins that rejected it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClusterEvent {
    /// A node was added.
    NodeAdd,
    /// A node changed (labels, taints, allocatable, unschedulable).
    NodeUpdate,
    /// A node was removed.
    NodeDelete,
    /// A pod was bound to a node (or one already bound appeared).
    AssignedPodAdd,
    /// A bound pod changed (labels, resources).
    AssignedPodUpdate,
    /// A bound pod was deleted (or finished), freeing its resources.
    AssignedPodDelete,
    /// A PersistentVolume was added or changed.
    PvChange,
    /// A PersistentVolumeClaim was added or changed.
    PvcChange,
    /// A namespace was added or its labels changed.
    NamespaceChange,
}

impl ClusterEvent {
    /// Every event.
    pub const ALL: &'static [ClusterEvent] = &[
        ClusterEvent::NodeAdd,
        ClusterEvent::NodeUpdate,
        ClusterEvent::NodeDelete,
        ClusterEvent::AssignedPodAdd,
        ClusterEvent::AssignedPodUpdate,
        ClusterEvent::AssignedPodDelete,
        ClusterEvent::PvChange,
        ClusterEvent::PvcChange,
        ClusterEvent::NamespaceChange,
    ];
}

/// What every plugin has: a name, and the events that may undo its
/// rejections.
pub trait Plugin: Send + Sync + 'static {
    /// The plugin's name (`NodeResourcesFit`).
    fn name(&self) -> &'static str;

    /// The cluster events after which a pod this plugin rejected is worth
    /// retrying (default: all of them).
    fn events(&self) -> &'static [ClusterEvent] {
        ClusterEvent::ALL
    }
}

/// PreEnqueue: may the pod enter the active queue? A rejected pod waits
/// (gated) until it is updated.
pub trait PreEnqueue: Plugin {
    /// Success to let the pod in.
    fn pre_enqueue(&self, pod: &PodInfo) -> Status;
}

/// QueueSort: the order of the active queue (one per scheduler).
pub trait QueueSort: Plugin {
    /// True when `a` should be scheduled before `b`.
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool;
}

/// PreFilter: runs once per cycle before Filter; computes what Filter needs
/// into the state. A rejection rejects the pod on every node;
/// [`Status::skip`] skips this plugin's Filter.
pub trait PreFilter: Plugin {
    /// Prepares the cycle.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status;

    /// Updates the state as if `other` were added to `node` (preemption and
    /// nominated pods). Default: nothing to update.
    fn add_pod(&self, _state: &mut CycleState, _pod: &PodInfo, _other: &PodInfo, _node: &NodeInfo) {
    }

    /// Updates the state as if `other` were removed from `node`
    /// (preemption). Default: nothing to update.
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _other: &PodInfo,
        _node: &NodeInfo,
    ) {
    }
}

/// Filter: can the pod run on this node? Called in parallel over nodes:
/// must not allocate on success.
pub trait Filter: Plugin {
    /// Success when the pod fits.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// What a PostFilter plugin achieved.
#[derive(Clone, Debug, Default)]
pub struct PostFilterResult {
    /// The node the pod should be nominated to, once the victims are gone.
    pub nominated_node: Option<Str>,
    /// The pods to evict so that it fits.
    pub victims: Vec<Arc<PodInfo>>,
}

/// PostFilter: no node fits; try to make one fit (preemption).
pub trait PostFilter: Plugin {
    /// `statuses` holds the failing nodes' Filter statuses.
    fn post_filter(
        &self,
        framework: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &HashMap<Str, Status>,
    ) -> (PostFilterResult, Status);
}

/// PreScore: per-pod data for Score; [`Status::skip`] skips this plugin's
/// Score.
pub trait PreScore: Plugin {
    /// Prepares scoring over the feasible `nodes`.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Status;
}

/// Score: how good a node is for the pod. Called in parallel over nodes.
pub trait Score: Plugin {
    /// A raw score (normalised by [`normalize`](Self::normalize) into
    /// `0..=MAX_NODE_SCORE`).
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;

    /// Rescales the raw scores of all feasible nodes (default: keeps them,
    /// for plugins that score in `0..=100` already).
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [i64]) -> Status {
        Status::success()
    }
}

/// Reserve: the node is chosen; claim what the pod needs. `unreserve` runs
/// (in reverse order) if a later step fails.
pub trait Reserve: Plugin {
    /// Claims.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    /// Releases what `reserve` claimed.
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// Permit: allow, reject, or hold ([`Status::wait`] with a timeout) the pod
/// before binding. A held pod is released through
/// [`WaitingPods`](super::WaitingPods).
pub trait Permit: Plugin {
    /// The verdict, and the longest wait for [`Code::Wait`].
    fn permit(&self, state: &CycleState, pod: &PodInfo, node: &str) -> (Status, Duration);
}

/// What binding plugins get: the client to write with.
#[derive(Clone)]
pub struct BindContext {
    /// The API client.
    pub client: Arc<dyn Client>,
}

impl fmt::Debug for BindContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindContext").finish_non_exhaustive()
    }
}

/// PreBind: work before the bind (attach volumes, ...). Async.
#[async_trait]
pub trait PreBind: Plugin {
    /// Success to go on.
    async fn pre_bind(&self, cx: &BindContext, state: &CycleState, pod: &Pod, node: &str)
        -> Status;
}

/// Bind: bind the pod to the node. The first binder that does not return
/// [`Status::skip`] decides. Async.
#[async_trait]
pub trait Bind: Plugin {
    /// Binds.
    async fn bind(&self, cx: &BindContext, state: &CycleState, pod: &Pod, node: &str) -> Status;
}

/// PostBind: informational, after a successful bind. Async.
#[async_trait]
pub trait PostBind: Plugin {
    /// Called after the bind.
    async fn post_bind(&self, cx: &BindContext, state: &CycleState, pod: &Pod, node: &str);
}

/// Why a pod fits no node.
#[derive(Clone, Debug, Default)]
pub struct FitError {
    /// The nodes in the snapshot.
    pub num_nodes: usize,
    /// A PreFilter rejection (every node fails the same way).
    pub pre_filter: Option<Status>,
    /// The failing nodes' statuses.
    pub statuses: HashMap<Str, Status>,
    /// A note appended to the message (the preemption outcome).
    pub post_filter_message: Option<String>,
}

impl FitError {
    /// The plugins that rejected the pod (they decide which cluster events
    /// retry it).
    pub fn plugins(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        let all = self.pre_filter.iter().chain(self.statuses.values());
        for s in all {
            if !s.plugin().is_empty() && !out.contains(&s.plugin()) {
                out.push(s.plugin());
            }
        }
        out
    }

    /// Counts of each reason over the failing nodes, sorted by reason.
    pub fn reason_counts(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for s in self.statuses.values() {
            for r in s.reasons() {
                *counts.entry(r.as_ref()).or_default() += 1;
            }
        }
        let mut out: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(r, c)| (r.to_string(), c))
            .collect();
        out.sort();
        out
    }
}

impl fmt::Display for FitError {
    /// kube-scheduler's message: `0/5 nodes are available: 3 Insufficient
    /// cpu, 2 node(s) had untolerated taint {dedicated: gpu}.`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_nodes == 0 {
            return write!(f, "no nodes available to schedule pods");
        }
        write!(f, "0/{} nodes are available: ", self.num_nodes)?;
        if let Some(s) = &self.pre_filter {
            write!(f, "{}.", s.message())?;
        } else {
            let parts: Vec<String> = self
                .reason_counts()
                .into_iter()
                .map(|(r, c)| format!("{c} {r}"))
                .collect();
            write!(f, "{}.", parts.join(", "))?;
        }
        if let Some(m) = &self.post_filter_message {
            write!(f, " {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FitError {}

/// What the filter phase found: the feasible nodes (indexes into the
/// snapshot), the nodes that failed with their status, and how many nodes
/// were visited.
type Filtered = (Vec<usize>, Vec<(usize, Status)>, usize);

/// One worker's share of a parallel filter: feasible (order, node index)
/// pairs, failures, and the error that stopped it, if any.
type ChunkResult = (Vec<(usize, usize)>, Vec<(usize, Status)>, Option<Status>);

/// Where a scheduling attempt ended.
#[derive(Clone, Debug)]
pub enum ScheduleError {
    /// No node fits (boxed: the statuses of every node make it large).
    Fit(Box<FitError>),
    /// A plugin failed ([`Code::Error`]).
    Error(Status),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Fit(e) => e.fmt(f),
            ScheduleError::Error(s) => s.fmt(f),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// The chosen node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The node's name.
    pub node: Str,
    /// How many nodes Filter looked at.
    pub evaluated: usize,
    /// How many of them fit.
    pub feasible: usize,
}

/// One profile's plugins and settings; runs the scheduling algorithm.
/// Build one with [`Profile`](super::Profile).
#[derive(Clone)]
pub struct Framework {
    pub(crate) queue_sort: Option<Arc<dyn QueueSort>>,
    pub(crate) pre_enqueue: Vec<Arc<dyn PreEnqueue>>,
    pub(crate) pre_filter: Vec<Arc<dyn PreFilter>>,
    pub(crate) filter: Vec<Arc<dyn Filter>>,
    pub(crate) post_filter: Vec<Arc<dyn PostFilter>>,
    pub(crate) pre_score: Vec<Arc<dyn PreScore>>,
    pub(crate) score: Vec<(Arc<dyn Score>, i64)>,
    pub(crate) reserve: Vec<Arc<dyn Reserve>>,
    pub(crate) permit: Vec<Arc<dyn Permit>>,
    pub(crate) pre_bind: Vec<Arc<dyn PreBind>>,
    pub(crate) bind: Vec<Arc<dyn Bind>>,
    pub(crate) post_bind: Vec<Arc<dyn PostBind>>,
    pub(crate) events: HashMap<&'static str, &'static [ClusterEvent]>,
    /// Percentage of nodes to find feasible before scoring (`None`: the
    /// adaptive default).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Threads for Filter and Score over nodes.
    pub parallelism: usize,
    /// Below this many nodes to examine (feasible nodes to find, for
    /// Filter; feasible nodes times score plugins, for Score), Filter and
    /// Score run on the calling thread: threads cost more than they save.
    pub parallel_threshold: usize,
    start: Arc<AtomicUsize>,
}

impl fmt::Debug for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |v: Vec<&'static str>| v.join(",");
        f.debug_struct("Framework")
            .field(
                "pre_filter",
                &names(self.pre_filter.iter().map(|p| p.name()).collect()),
            )
            .field(
                "filter",
                &names(self.filter.iter().map(|p| p.name()).collect()),
            )
            .field(
                "score",
                &self
                    .score
                    .iter()
                    .map(|(p, w)| format!("{}:{w}", p.name()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Framework {
    fn default() -> Self {
        Framework {
            queue_sort: None,
            pre_enqueue: Vec::new(),
            pre_filter: Vec::new(),
            filter: Vec::new(),
            post_filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            permit: Vec::new(),
            pre_bind: Vec::new(),
            bind: Vec::new(),
            post_bind: Vec::new(),
            events: HashMap::new(),
            percentage_of_nodes_to_score: None,
            parallelism: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(16),
            parallel_threshold: 4096,
            start: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// How many feasible nodes to find among `n` before scoring:
/// kube-scheduler's adaptive `percentageOfNodesToScore` (50% minus 1% per
/// 125 nodes, at least 5%, and at least 100 nodes).
///
/// ```
/// use keelson::scheduler::framework::num_feasible_nodes_to_find;
///
/// assert_eq!(num_feasible_nodes_to_find(50, None), 50);
/// assert_eq!(num_feasible_nodes_to_find(5000, None), 500); // 10%
/// assert_eq!(num_feasible_nodes_to_find(500, None), 230); // 46%
/// assert_eq!(num_feasible_nodes_to_find(5000, Some(100)), 5000);
/// ```
pub fn num_feasible_nodes_to_find(n: usize, percentage: Option<u32>) -> usize {
    const MIN_NODES: usize = 100;
    if n < MIN_NODES || percentage.is_some_and(|p| p >= 100) {
        return n;
    }
    let pct = match percentage {
        Some(p) if p > 0 => p as usize,
        _ => 50usize.saturating_sub(n / 125).max(5),
    };
    (n * pct / 100).max(MIN_NODES).min(n)
}

impl Framework {
    /// The plugins' names at each extension point (for logs and tests).
    pub fn plugin_names(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        vec![
            (
                "PreEnqueue",
                self.pre_enqueue.iter().map(|p| p.name()).collect(),
            ),
            (
                "QueueSort",
                self.queue_sort.iter().map(|p| p.name()).collect(),
            ),
            (
                "PreFilter",
                self.pre_filter.iter().map(|p| p.name()).collect(),
            ),
            ("Filter", self.filter.iter().map(|p| p.name()).collect()),
            (
                "PostFilter",
                self.post_filter.iter().map(|p| p.name()).collect(),
            ),
            (
                "PreScore",
                self.pre_score.iter().map(|p| p.name()).collect(),
            ),
            ("Score", self.score.iter().map(|(p, _)| p.name()).collect()),
            ("Reserve", self.reserve.iter().map(|p| p.name()).collect()),
            ("Permit", self.permit.iter().map(|p| p.name()).collect()),
            ("PreBind", self.pre_bind.iter().map(|p| p.name()).collect()),
            ("Bind", self.bind.iter().map(|p| p.name()).collect()),
            (
                "PostBind",
                self.post_bind.iter().map(|p| p.name()).collect(),
            ),
        ]
    }

    /// The events that may help a pod the named plugin rejected.
    pub fn events_of(&self, plugin: &str) -> &'static [ClusterEvent] {
        self.events
            .get(plugin)
            .copied()
            .unwrap_or(ClusterEvent::ALL)
    }

    /// Runs the PreEnqueue plugins.
    pub fn run_pre_enqueue(&self, pod: &PodInfo) -> Status {
        for p in &self.pre_enqueue {
            let s = p.pre_enqueue(pod);
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs the PreFilter plugins: `Ok` to go on to Filter.
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<(), Status> {
        for p in &self.pre_filter {
            let s = p.pre_filter(state, pod, snapshot);
            match s.code() {
                Code::Success => {}
                Code::Skip => state.skip_filter.push(p.name()),
                _ => return Err(s.with_plugin(p.name())),
            }
        }
        state.filter_mask = (self.filter.len() <= 64).then(|| {
            self.filter
                .iter()
                .enumerate()
                .filter(|(_, f)| state.skip_filter.contains(&f.name()))
                .fold(0u64, |m, (i, _)| m | (1 << i))
        });
        Ok(())
    }

    /// Runs the Filter plugins on one node (without nominated pods): the
    /// first failure wins.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for (i, p) in self.filter.iter().enumerate() {
            let skipped = match state.filter_mask {
                Some(mask) => mask & (1 << i) != 0,
                None => state.skips_filter(p.name()),
            };
            if skipped {
                continue;
            }
            let s = p.filter(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs the Filter plugins on one node, counting the pods nominated to
    /// it with at least the pod's priority as if they were there (and, as
    /// kube-scheduler does, also without them).
    pub fn run_filters_with_nominated(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) -> Status {
        if !snapshot.has_nominated() {
            return self.run_filters(state, pod, node);
        }
        let nominated = snapshot.nominated_on(node.name());
        let relevant: Vec<&Arc<PodInfo>> = nominated
            .iter()
            .filter(|n| n.priority >= pod.priority && n.uid != pod.uid)
            .collect();
        if relevant.is_empty() {
            return self.run_filters(state, pod, node);
        }
        let mut node2 = node.clone();
        let mut state2 = state.clone();
        for n in relevant {
            node2.add_pod(n.clone());
            for p in &self.pre_filter {
                p.add_pod(&mut state2, pod, n, &node2);
            }
        }
        let s = self.run_filters(&state2, pod, &node2);
        if !s.is_success() {
            return s;
        }
        self.run_filters(state, pod, node)
    }

    /// Filters the snapshot's nodes, starting at a rotating index, until
    /// `want` feasible nodes are found. Returns the feasible nodes' indexes
    /// (in visit order), the failing nodes' statuses and how many nodes
    /// were looked at.
    fn find_feasible(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        want: usize,
    ) -> Result<Filtered, Status> {
        let n = snapshot.len();
        if let Some(names) = state.node_names() {
            let mut feasible = Vec::new();
            let mut failed = Vec::new();
            for name in names {
                if let Some(i) = snapshot.index_of(name) {
                    let s = self.run_filters_with_nominated(state, pod, snapshot.node(i), snapshot);
                    if s.code() == Code::Error {
                        return Err(s);
                    }
                    if s.is_success() {
                        feasible.push(i);
                    } else {
                        failed.push((i, s));
                    }
                }
            }
            return Ok((feasible, failed, names.len()));
        }
        let start = self.start.load(Ordering::Relaxed) % n.max(1);
        let threads = self.parallelism.max(1);
        // Threads pay only when a cycle examines many nodes: starting them
        // costs tens of microseconds, and on a busy machine joining one the
        // OS has not run yet stalls the cycle for a whole time slice (with
        // 5,000 nodes a cycle looks for 500 feasible ones: sequential).
        let sequential =
            threads == 1 || n < self.parallel_threshold || want < self.parallel_threshold;
        let (feasible, failed, processed) = if sequential {
            let mut feasible = Vec::with_capacity(want);
            let mut failed = Vec::new();
            let mut processed = 0;
            for k in 0..n {
                if feasible.len() >= want {
                    break;
                }
                let i = (start + k) % n;
                if k % WARM_RUN == 0 {
                    warm(snapshot, i, WARM_RUN.min(n - k));
                }
                processed += 1;
                let s = self.run_filters_with_nominated(state, pod, snapshot.node(i), snapshot);
                if s.code() == Code::Error {
                    return Err(s);
                }
                if s.is_success() {
                    feasible.push(i);
                } else {
                    failed.push((i, s));
                }
            }
            (feasible, failed, processed)
        } else {
            let chunk = (n / (threads * 8)).clamp(16, 1024);
            let next = AtomicUsize::new(0);
            let found = AtomicUsize::new(0);
            let results: Vec<ChunkResult> = std::thread::scope(|scope| {
                let work = || {
                    let mut feasible = Vec::new();
                    let mut failed = Vec::new();
                    loop {
                        if found.load(Ordering::Relaxed) >= want {
                            break;
                        }
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        let from = c * chunk;
                        if from >= n {
                            break;
                        }
                        let to = (from + chunk).min(n);
                        for k in from..to {
                            let i = (start + k) % n;
                            if (k - from) % WARM_RUN == 0 {
                                warm(snapshot, i, WARM_RUN.min(to - k));
                            }
                            let s = self.run_filters_with_nominated(
                                state,
                                pod,
                                snapshot.node(i),
                                snapshot,
                            );
                            if s.code() == Code::Error {
                                return (feasible, failed, Some(s));
                            }
                            if s.is_success() {
                                feasible.push((k, i));
                                found.fetch_add(1, Ordering::Relaxed);
                            } else {
                                failed.push((k, s));
                            }
                        }
                    }
                    (feasible, failed, None)
                };
                let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
                let mut out = vec![work()];
                for h in handles {
                    match h.join() {
                        Ok(r) => out.push(r),
                        Err(_) => out.push((
                            Vec::new(),
                            Vec::new(),
                            Some(Status::error("a filter plugin panicked")),
                        )),
                    }
                }
                out
            });
            let mut feasible = Vec::new();
            let mut failed = Vec::new();
            for (f, fl, err) in results {
                if let Some(e) = err {
                    return Err(e);
                }
                feasible.extend(f);
                failed.extend(fl);
            }
            feasible.sort_unstable_by_key(|(k, _)| *k);
            feasible.truncate(want);
            // Only what lies before the last kept feasible node counts as
            // visited, so the next cycle starts right after it.
            let processed = match feasible.last() {
                Some((k, _)) if feasible.len() >= want => k + 1,
                _ => n,
            };
            failed.retain(|(k, _)| *k < processed);
            let failed = failed
                .into_iter()
                .map(|(k, s)| ((start + k) % n, s))
                .collect();
            (
                feasible.into_iter().map(|(_, i)| i).collect(),
                failed,
                processed,
            )
        };
        self.start
            .store((start + processed) % n.max(1), Ordering::Relaxed);
        Ok((feasible, failed, processed))
    }

    /// Runs PreScore and Score over the feasible nodes: the weighted total
    /// per node.
    pub fn run_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Result<Vec<i64>, Status> {
        for p in &self.pre_score {
            let s = p.pre_score(state, pod, snapshot, nodes);
            match s.code() {
                Code::Success => {}
                Code::Skip => state.skip_score.push(p.name()),
                _ => return Err(s.with_plugin(p.name())),
            }
        }
        let state: &CycleState = state;
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for (p, weight) in &self.score {
            if state.skips_score(p.name()) {
                continue;
            }
            let threads = self.parallelism.max(1);
            if threads == 1 || nodes.len() * self.score.len() < self.parallel_threshold {
                for (i, n) in nodes.iter().enumerate() {
                    scores[i] = p
                        .score(state, pod, n)
                        .map_err(|s| s.with_plugin(p.name()))?;
                }
            } else {
                let chunk = nodes.len().div_ceil(threads);
                let errors: Vec<Status> = std::thread::scope(|scope| {
                    let handles: Vec<_> = scores
                        .chunks_mut(chunk)
                        .zip(nodes.chunks(chunk))
                        .map(|(out, ns)| {
                            scope.spawn(move || {
                                for (o, n) in out.iter_mut().zip(ns) {
                                    match p.score(state, pod, n) {
                                        Ok(v) => *o = v,
                                        Err(s) => return Some(s),
                                    }
                                }
                                None
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .filter_map(|h| {
                            h.join()
                                .unwrap_or(Some(Status::error("a score plugin panicked")))
                        })
                        .collect()
                });
                if let Some(e) = errors.into_iter().next() {
                    return Err(e.with_plugin(p.name()));
                }
            }
            let s = p.normalize(state, pod, &mut scores);
            if !s.is_success() {
                return Err(s.with_plugin(p.name()));
            }
            for (t, s) in totals.iter_mut().zip(&scores) {
                *t += s.clamp(&0, &MAX_NODE_SCORE) * weight;
            }
        }
        Ok(totals)
    }

    /// The scheduling algorithm for one pod: PreFilter, Filter (over
    /// enough nodes, from a rotating start), PreScore, Score, and the
    /// highest total (ties broken at random). Pure: no I/O.
    pub fn schedule(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<ScheduleResult, ScheduleError> {
        let n = snapshot.len();
        let fit_error = |pre: Option<Status>, statuses: HashMap<Str, Status>| {
            ScheduleError::Fit(Box::new(FitError {
                num_nodes: n,
                pre_filter: pre,
                statuses,
                post_filter_message: None,
            }))
        };
        if n == 0 {
            return Err(fit_error(None, HashMap::new()));
        }
        if let Err(s) = self.run_pre_filter(state, pod, snapshot) {
            if s.code() == Code::Error {
                return Err(ScheduleError::Error(s));
            }
            return Err(fit_error(Some(s), HashMap::new()));
        }
        // A pod nominated by an earlier preemption tries its node first.
        let nominated = &pod.pod.status.nominated_node_name;
        if !nominated.is_empty() && state.node_names().is_none() {
            if let Some(i) = snapshot.index_of(nominated) {
                let s = self.run_filters_with_nominated(state, pod, snapshot.node(i), snapshot);
                if s.is_success() {
                    return Ok(ScheduleResult {
                        node: nominated.clone(),
                        evaluated: 1,
                        feasible: 1,
                    });
                }
            }
        }
        let want = num_feasible_nodes_to_find(n, self.percentage_of_nodes_to_score);
        let (feasible, failed, processed) = self
            .find_feasible(state, pod, snapshot, want)
            .map_err(ScheduleError::Error)?;
        if feasible.is_empty() {
            let statuses = failed
                .into_iter()
                .map(|(i, s)| (Str::from(snapshot.node(i).name()), s))
                .collect();
            return Err(fit_error(None, statuses));
        }
        let evaluated = processed;
        if feasible.len() == 1 {
            return Ok(ScheduleResult {
                node: Str::from(snapshot.node(feasible[0]).name()),
                evaluated,
                feasible: 1,
            });
        }
        let nodes: Vec<&NodeInfo> = feasible.iter().map(|&i| snapshot.node(i)).collect();
        let totals = self
            .run_score(state, pod, snapshot, &nodes)
            .map_err(ScheduleError::Error)?;
        let mut best = 0;
        let mut ties = 0u32;
        for (i, t) in totals.iter().enumerate() {
            if *t > totals[best] {
                best = i;
                ties = 1;
            } else if *t == totals[best] {
                ties += 1;
                if fastrand::u32(0..ties) == 0 {
                    best = i;
                }
            }
        }
        Ok(ScheduleResult {
            node: Str::from(nodes[best].name()),
            evaluated,
            feasible: feasible.len(),
        })
    }

    /// Runs PostFilter plugins until one nominates a node.
    pub fn run_post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &HashMap<Str, Status>,
    ) -> (PostFilterResult, Status) {
        let mut last = Status::unschedulable("no PostFilter plugin");
        for p in &self.post_filter {
            let (r, s) = p.post_filter(self, state, pod, snapshot, statuses);
            if s.is_success() {
                return (r, s);
            }
            last = s.with_plugin(p.name());
        }
        (PostFilterResult::default(), last)
    }

    /// Runs Reserve plugins; on a failure, unreserves those that ran.
    pub fn run_reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        for (i, p) in self.reserve.iter().enumerate() {
            let s = p.reserve(state, pod, node);
            if !s.is_success() {
                for q in self.reserve[..=i].iter().rev() {
                    q.unreserve(state, pod, node);
                }
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs every Unreserve, in reverse order.
    pub fn run_unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        for p in self.reserve.iter().rev() {
            p.unreserve(state, pod, node);
        }
    }

    /// Runs Permit plugins: success, a rejection, or [`Code::Wait`] with
    /// the plugins that wait and the shortest timeout.
    pub fn run_permit(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &str,
    ) -> (Status, Vec<&'static str>, Duration) {
        let mut waiting = Vec::new();
        let mut timeout = Duration::MAX;
        for p in &self.permit {
            let (s, t) = p.permit(state, pod, node);
            match s.code() {
                Code::Success | Code::Skip => {}
                Code::Wait => {
                    waiting.push(p.name());
                    timeout = timeout.min(t);
                }
                _ => return (s.with_plugin(p.name()), Vec::new(), Duration::ZERO),
            }
        }
        if waiting.is_empty() {
            (Status::success(), waiting, Duration::ZERO)
        } else {
            (Status::wait(), waiting, timeout)
        }
    }

    /// The binding cycle's PreBind, Bind and PostBind.
    pub async fn run_bind_cycle(
        &self,
        cx: &BindContext,
        state: &CycleState,
        pod: &Pod,
        node: &str,
    ) -> Status {
        for p in &self.pre_bind {
            let s = p.pre_bind(cx, state, pod, node).await;
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        let mut bound = Status::error("no Bind plugin handled the pod");
        for p in &self.bind {
            let s = p.bind(cx, state, pod, node).await;
            if s.is_skip() {
                continue;
            }
            bound = s.with_plugin(p.name());
            break;
        }
        if !bound.is_success() {
            return bound;
        }
        for p in &self.post_bind {
            p.post_bind(cx, state, pod, node).await;
        }
        Status::success()
    }
}

/// How many nodes [`warm`] fetches at a time.
const WARM_RUN: usize = 16;

/// Fetches the hot cache lines of the `len` nodes from index `from` on
/// (wrapping around), all at once (see [`NodeInfo::warm`]): the filters
/// then find them in cache instead of missing it node after node.
fn warm(snapshot: &Snapshot, from: usize, len: usize) {
    let n = snapshot.len();
    let mut sum = 0u64;
    for k in 0..len {
        sum = sum.wrapping_add(snapshot.node((from + k) % n).warm());
    }
    std::hint::black_box(sum);
}
