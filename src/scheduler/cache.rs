//! The scheduler's cache of nodes and the pods on them, and the
//! [`Snapshot`] each cycle decides on.
//!
//! The [`Cache`] is fed by informer events (nodes, bound pods, volumes,
//! namespaces) and by the scheduler itself: a pod it has chosen a node for
//! is *assumed* onto that node at once, before the bind is written, so the
//! next cycle already sees its requests. The bound pod arriving through
//! the informer confirms the assumption; an assumption whose bind finished
//! but was never confirmed expires after a TTL.
//!
//! [`Cache::update_snapshot`] brings a [`Snapshot`] up to date by copying
//! only the nodes that changed since the last call (their `Arc`s: no deep
//! copy).
//!
//! ```
//! use std::sync::Arc;
//! use keelson::api::core::{Node, Pod};
//! use keelson::api::{ObjectMeta, Quantity};
//! use keelson::scheduler::{Cache, PodInfo, Snapshot};
//!
//! let mut node = Node { metadata: ObjectMeta::named("n1"), ..Default::default() };
//! node.status.allocatable.insert("cpu", Quantity::from("4"));
//! node.status.allocatable.insert("pods", Quantity::from("110"));
//! let mut cache = Cache::new();
//! cache.add_node(Arc::new(node));
//!
//! let pod = PodInfo::new(Arc::new(Pod { metadata: ObjectMeta::namespaced("default", "p"), ..Default::default() }));
//! cache.assume_pod(Arc::new(pod), "n1");
//!
//! let mut snapshot = Snapshot::default();
//! cache.update_snapshot(&mut snapshot);
//! assert_eq!(snapshot.len(), 1);
//! assert_eq!(snapshot.get("n1").unwrap().pods.len(), 1);
//! ```
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::info::{NodeInfo, PodInfo};
use super::memo::{Memo, Part, Totals};
use crate::api::core::{Node, PersistentVolume, PersistentVolumeClaim};
use crate::api::{Str, StringMap};

/// Cluster objects plugins read besides nodes and pods: namespaces (for
/// namespace selectors), PVCs and PVs (for volume binding).
#[derive(Clone, Debug, Default)]
pub struct ClusterObjects {
    /// Namespace name → labels.
    pub namespaces: HashMap<Str, StringMap>,
    /// `namespace/name` → claim.
    pub pvcs: HashMap<Str, Arc<PersistentVolumeClaim>>,
    /// Name → volume.
    pub pvs: HashMap<Str, Arc<PersistentVolume>>,
}

/// The nodes as one cycle sees them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    nodes: Vec<Arc<NodeInfo>>,
    index: HashMap<Str, usize>,
    generations: HashMap<Str, u64>,
    image_nodes: Arc<HashMap<Str, usize>>,
    cluster: Arc<ClusterObjects>,
    nominated: Arc<HashMap<Str, Vec<Arc<PodInfo>>>>,
    affinity_nodes: Vec<usize>,
    anti_affinity_nodes: Vec<usize>,
    /// The cache and update this snapshot was last brought up to date
    /// with; any other snapshot is rebuilt in full.
    source: (u64, u64),
    /// Per-node aggregates remembered between cycles.
    memo: Arc<Memo>,
}

impl Snapshot {
    /// A snapshot of these nodes (for tests and simulations without a
    /// cache).
    pub fn from_nodes(nodes: impl IntoIterator<Item = NodeInfo>) -> Snapshot {
        let mut cache = Cache::new();
        for n in nodes {
            cache.add_node_info(n);
        }
        let mut s = Snapshot::default();
        cache.update_snapshot(&mut s);
        s
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True with no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node at `i` (`0..len()`).
    pub fn node(&self, i: usize) -> &NodeInfo {
        &self.nodes[i]
    }

    /// Every node.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &NodeInfo> + '_ {
        self.nodes.iter().map(|n| n.as_ref())
    }

    /// The node's position.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The node by name.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index_of(name).map(|i| self.node(i))
    }

    /// The totals of `part` over every node for `question` (everything
    /// the parts depend on besides the nodes and the cluster objects),
    /// remembered between cycles: only nodes changed since the question
    /// was last asked are passed to `part` (see `scheduler::memo`).
    pub(crate) fn domain_totals<R>(
        &self,
        question: String,
        part: impl FnMut(&NodeInfo) -> Part,
        read: impl FnOnce(&Totals) -> R,
    ) -> R {
        self.memo
            .totals(question, &self.nodes, &self.cluster, part, read)
    }

    /// Nodes with pods that have pod (anti-)affinity terms.
    pub fn nodes_with_affinity_pods(&self) -> impl Iterator<Item = &NodeInfo> + '_ {
        self.affinity_nodes.iter().map(|&i| self.node(i))
    }

    /// Nodes with pods that have required anti-affinity terms.
    pub fn nodes_with_required_anti_affinity_pods(&self) -> impl Iterator<Item = &NodeInfo> + '_ {
        self.anti_affinity_nodes.iter().map(|&i| self.node(i))
    }

    /// On how many nodes an image (normalised name) is present.
    pub fn image_node_count(&self, image: &str) -> usize {
        self.image_nodes.get(image).copied().unwrap_or(0)
    }

    /// Namespaces, claims, volumes.
    pub fn cluster(&self) -> &ClusterObjects {
        &self.cluster
    }

    /// Namespaces, claims, volumes, shared (for plugin state that outlives
    /// the borrow).
    pub fn cluster_arc(&self) -> Arc<ClusterObjects> {
        self.cluster.clone()
    }

    /// The labels of a namespace.
    pub fn namespace_labels(&self, ns: &str) -> Option<&StringMap> {
        self.cluster.namespaces.get(ns)
    }

    /// True when some pod is nominated to a node by preemption (waiting
    /// for its victims to go).
    pub fn has_nominated(&self) -> bool {
        !self.nominated.is_empty()
    }

    /// The pods nominated to run on `node` (by an earlier preemption).
    pub fn nominated_on(&self, node: &str) -> &[Arc<PodInfo>] {
        self.nominated.get(node).map_or(&[], |v| v.as_slice())
    }

    /// Sets the nominated pods (the queue knows them).
    pub fn set_nominated(&mut self, nominated: Arc<HashMap<Str, Vec<Arc<PodInfo>>>>) {
        self.nominated = nominated;
    }

    fn rebuild_affinity_lists(&mut self) {
        self.affinity_nodes.clear();
        self.anti_affinity_nodes.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.pods_with_affinity > 0 {
                self.affinity_nodes.push(i);
            }
            if n.pods_with_required_anti_affinity > 0 {
                self.anti_affinity_nodes.push(i);
            }
        }
    }
}

#[derive(Clone, Debug)]
struct PodState {
    info: Arc<PodInfo>,
    node: Str,
    assumed: bool,
    deadline: Option<Instant>,
}

/// Nodes, the pods bound or assumed to them, and the cluster objects
/// plugins read.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: HashMap<Str, Arc<NodeInfo>>,
    /// Nodes known only from pods bound to them (no Node object yet).
    ghosts: HashSet<Str>,
    pods: HashMap<Str, PodState>,
    dirty: HashSet<Str>,
    image_nodes: Arc<HashMap<Str, usize>>,
    images_dirty: bool,
    cluster: Arc<ClusterObjects>,
    cluster_dirty: bool,
    ttl: Option<Duration>,
    id: u64,
    version: u64,
}

static CACHE_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Cache {
    /// An empty cache; assumed pods expire 15 minutes after their bind
    /// finished (kube-scheduler's default).
    pub fn new() -> Cache {
        Cache {
            ttl: Some(Duration::from_secs(15 * 60)),
            id: CACHE_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..Cache::default()
        }
    }

    /// Sets the TTL of assumed pods whose bind finished.
    pub fn set_assumed_ttl(&mut self, ttl: Duration) {
        self.ttl = Some(ttl);
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeInfo {
        self.dirty.insert(Str::from(name));
        if !self.nodes.contains_key(name) {
            let mut ghost = crate::api::core::Node::default();
            ghost.metadata.name = Str::from(name);
            self.nodes
                .insert(Str::from(name), Arc::new(NodeInfo::new(Arc::new(ghost))));
            self.ghosts.insert(Str::from(name));
        }
        let slot = self.nodes.get_mut(name).expect("inserted just above");
        Arc::make_mut(slot)
    }

    fn count_images(&mut self, node: &NodeInfo, delta: isize) {
        if node.images.is_empty() {
            return;
        }
        let map = Arc::make_mut(&mut self.image_nodes);
        let mut seen: HashSet<&str> = HashSet::new();
        for (img, _) in &node.images {
            if !seen.insert(img) {
                continue;
            }
            let e = map.entry(img.clone()).or_default();
            *e = e.saturating_add_signed(delta);
            if *e == 0 {
                map.remove(img.as_str());
            }
        }
        self.images_dirty = true;
    }

    /// Adds a ready-made node info (with its pods) — for simulations and
    /// tests that build nodes directly.
    pub fn add_node_info(&mut self, info: NodeInfo) {
        for p in &info.pods {
            self.pods.insert(
                p.uid.clone(),
                PodState {
                    info: p.clone(),
                    node: Str::from(info.name()),
                    assumed: false,
                    deadline: None,
                },
            );
        }
        self.insert_node_info(info);
    }

    fn insert_node_info(&mut self, info: NodeInfo) {
        let name = Str::from(info.name());
        self.count_images(&info, 1);
        self.dirty.insert(name.clone());
        self.nodes.insert(name, Arc::new(info));
    }

    /// Adds or replaces a node.
    pub fn add_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone();
        let was_ghost = self.ghosts.remove(name.as_str());
        if let Some(old) = self.nodes.get(name.as_str()).cloned() {
            if !was_ghost {
                self.count_images(&old, -1);
            }
        }
        let info = self.node_mut(&name);
        info.set_node(node);
        let info = info.clone();
        self.ghosts.remove(name.as_str());
        self.count_images(&info, 1);
    }

    /// Removes a node. Its pods stay known (as kube-scheduler's cache
    /// does) until they are deleted.
    pub fn remove_node(&mut self, name: &str) {
        if self.ghosts.contains(name) {
            return;
        }
        if let Some(old) = self.nodes.get(name).cloned() {
            self.count_images(&old, -1);
            if old.pods.is_empty() {
                self.nodes.remove(name);
            } else {
                self.ghosts.insert(Str::from(name));
            }
            self.dirty.insert(Str::from(name));
        }
    }

    /// Assumes `pod` onto `node` before its bind is confirmed.
    pub fn assume_pod(&mut self, pod: Arc<PodInfo>, node: &str) {
        if let Some(old) = self.pods.remove(&pod.uid) {
            let uid = old.info.uid.clone();
            self.node_mut(&old.node).remove_pod(&uid);
        }
        self.node_mut(node).add_pod(pod.clone());
        self.pods.insert(
            pod.uid.clone(),
            PodState {
                info: pod,
                node: Str::from(node),
                assumed: true,
                deadline: None,
            },
        );
    }

    /// The bind of an assumed pod finished: it expires `ttl` after `now`
    /// unless the informer confirms it.
    pub fn finish_binding(&mut self, uid: &str, now: Instant) {
        let ttl = self.ttl;
        if let Some(p) = self.pods.get_mut(uid) {
            if p.assumed {
                p.deadline = ttl.and_then(|t| now.checked_add(t));
            }
        }
    }

    /// Drops an assumed pod (its bind failed).
    pub fn forget_pod(&mut self, uid: &str) {
        if let Some(p) = self.pods.get(uid) {
            if p.assumed {
                let node = p.node.clone();
                self.pods.remove(uid);
                self.node_mut(&node).remove_pod(uid);
                self.gc_ghost(&node);
            }
        }
    }

    /// True when the pod is assumed (chosen, not yet confirmed).
    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|p| p.assumed)
    }

    /// The node a known pod is on.
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.pods.get(uid).map(|p| p.node.as_str())
    }

    /// Adds or updates a bound pod (confirming an assumed one).
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        let node = pod.pod.spec.node_name.clone();
        if let Some(old) = self.pods.remove(&pod.uid) {
            let uid = old.info.uid.clone();
            self.node_mut(&old.node).remove_pod(&uid);
            if old.node != node {
                self.gc_ghost(&old.node);
            }
        }
        self.node_mut(&node).add_pod(pod.clone());
        self.pods.insert(
            pod.uid.clone(),
            PodState {
                info: pod,
                node,
                assumed: false,
                deadline: None,
            },
        );
    }

    /// Removes a pod.
    pub fn remove_pod(&mut self, uid: &str) {
        if let Some(old) = self.pods.remove(uid) {
            self.node_mut(&old.node).remove_pod(uid);
            self.gc_ghost(&old.node);
        }
    }

    fn gc_ghost(&mut self, node: &str) {
        if self.ghosts.contains(node) && self.nodes.get(node).is_some_and(|n| n.pods.is_empty()) {
            self.ghosts.remove(node);
            self.nodes.remove(node);
            self.dirty.insert(Str::from(node));
        }
    }

    /// Drops assumed pods whose deadline passed; returns their uids.
    pub fn cleanup_expired(&mut self, now: Instant) -> Vec<Str> {
        let expired: Vec<Str> = self
            .pods
            .iter()
            .filter(|(_, p)| p.assumed && p.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for uid in &expired {
            self.forget_pod(uid);
        }
        expired
    }

    /// Number of nodes (with a Node object).
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.ghosts.len()
    }

    /// Number of pods known (bound and assumed).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// A node's info.
    pub fn node_info(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.nodes.get(name).filter(|_| !self.ghosts.contains(name))
    }

    /// Changes the namespaces, claims or volumes.
    pub fn update_cluster(&mut self, f: impl FnOnce(&mut ClusterObjects)) {
        f(Arc::make_mut(&mut self.cluster));
        self.cluster_dirty = true;
    }

    /// Brings `snapshot` up to date: only changed nodes are replaced (a
    /// snapshot last updated from another cache, or from an older state of
    /// this one than the last update, is rebuilt in full).
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if snapshot.source != (self.id, self.version) {
            *snapshot = Snapshot::default();
            self.dirty.extend(self.nodes.keys().cloned());
            self.images_dirty = true;
            self.cluster_dirty = true;
        }
        self.version += 1;
        snapshot.source = (self.id, self.version);
        let mut structure_changed = false;
        let mut affinity_changed = false;
        for name in self.dirty.drain() {
            let current = self
                .nodes
                .get(name.as_str())
                .filter(|_| !self.ghosts.contains(name.as_str()));
            match (current, snapshot.index.get(name.as_str()).copied()) {
                (Some(info), Some(i)) => {
                    if snapshot.generations.get(name.as_str()) != Some(&info.generation)
                        || !Arc::ptr_eq(&snapshot.nodes[i], info)
                    {
                        let old = &snapshot.nodes[i];
                        if (old.pods_with_affinity > 0) != (info.pods_with_affinity > 0)
                            || (old.pods_with_required_anti_affinity > 0)
                                != (info.pods_with_required_anti_affinity > 0)
                        {
                            affinity_changed = true;
                        }
                        snapshot.nodes[i] = info.clone();
                        snapshot.generations.insert(name, info.generation);
                    }
                }
                (Some(info), None) => {
                    snapshot.index.insert(name.clone(), snapshot.nodes.len());
                    snapshot.generations.insert(name, info.generation);
                    snapshot.nodes.push(info.clone());
                    structure_changed = true;
                }
                (None, Some(i)) => {
                    snapshot.nodes.swap_remove(i);
                    snapshot.index.remove(name.as_str());
                    snapshot.generations.remove(name.as_str());
                    if let Some(moved) = snapshot.nodes.get(i) {
                        snapshot.index.insert(Str::from(moved.name()), i);
                    }
                    structure_changed = true;
                }
                (None, None) => {}
            }
        }
        if structure_changed || affinity_changed {
            snapshot.rebuild_affinity_lists();
        }
        if self.images_dirty {
            snapshot.image_nodes = self.image_nodes.clone();
            self.images_dirty = false;
        }
        if self.cluster_dirty || !Arc::ptr_eq(&snapshot.cluster, &self.cluster) {
            snapshot.cluster = self.cluster.clone();
            self.cluster_dirty = false;
        }
    }
}
