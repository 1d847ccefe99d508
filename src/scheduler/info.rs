//! What the scheduler knows about pods and nodes, precomputed once:
//! [`PodInfo`] (requests, host ports, parsed affinity terms) and
//! [`NodeInfo`] (allocatable, requested, pods, used ports, images).
//!
//! ```
//! use std::sync::Arc;
//! use keelson::api::core::{Container, Pod};
//! use keelson::api::Quantity;
//! use keelson::scheduler::PodInfo;
//!
//! let mut pod = Pod::default();
//! let mut c = Container::default();
//! c.resources.requests.insert("cpu", Quantity::from("250m"));
//! pod.spec.containers.push(c);
//! let info = PodInfo::new(Arc::new(pod));
//! assert_eq!(info.requests.milli_cpu, 250);
//! assert_eq!(info.non_zero_memory, 200 * 1024 * 1024); // the scoring default
//! ```
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::api::core::{Node, Pod, PodAffinityTerm};
use crate::api::selector::{Operator, Requirement, Selector};
use crate::api::{ResourceList, Str, StringMap};

/// The CPU a container without a CPU request counts as when scoring
/// (millicores), as kube-scheduler's.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a memory request counts as when scoring
/// (bytes): 200 MiB.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Resource amounts: CPU in millicores, the rest in units.
///
/// The four amounts come first (`repr(C)`): they are what the resource
/// filters read, and [`NodeInfo`] keeps them on its hot cache lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Resources {
    /// CPU, millicores.
    pub milli_cpu: i64,
    /// Memory, bytes.
    pub memory: i64,
    /// Ephemeral storage, bytes.
    pub ephemeral_storage: i64,
    /// Pods (allocatable) — requested pods are counted by [`NodeInfo`].
    pub pods: i64,
    /// Extended and other resources (`nvidia.com/gpu`, hugepages).
    pub scalar: Vec<(Str, i64)>,
}

impl Resources {
    /// Reads a resource list.
    pub fn from_list(list: &ResourceList) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.iter() {
            let Ok(p) = q.parsed() else { continue };
            match name {
                "cpu" => r.milli_cpu = p.milli_value(),
                "memory" => r.memory = p.value(),
                "ephemeral-storage" => r.ephemeral_storage = p.value(),
                "pods" => r.pods = p.value(),
                _ => r.set_scalar(name, p.value()),
            }
        }
        r
    }

    /// The amount of a scalar resource.
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    fn set_scalar(&mut self, name: &str, v: i64) {
        match self.scalar.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v,
            None => self.scalar.push((Str::from(name), v)),
        }
    }

    /// Adds `other` (saturating).
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.pods = self.pods.saturating_add(other.pods);
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur.saturating_add(*v));
        }
    }

    /// Subtracts `other` (saturating).
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.pods = self.pods.saturating_sub(other.pods);
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur.saturating_sub(*v));
        }
    }

    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur.max(*v));
        }
    }
}

/// A host port a pod's container asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: Str,
    /// The host IP (`0.0.0.0` for all).
    pub ip: Str,
    /// The port.
    pub port: i32,
}

impl HostPort {
    /// True when the two cannot both be bound.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (wildcard(&self.ip) || wildcard(&other.ip) || self.ip == other.ip)
    }
}

/// A pod (anti-)affinity term, parsed: the selector (with
/// `matchLabelKeys`/`mismatchLabelKeys` merged in), the namespaces it
/// applies to, and the topology key.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// Which pods it selects (`None`: a nil selector selects no pod).
    pub selector: Option<Selector>,
    /// The namespaces listed (or the pod's own when neither this nor a
    /// namespace selector is given).
    pub namespaces: Vec<Str>,
    /// Namespaces selected by label (`Some(empty)` selects all).
    pub namespace_selector: Option<Selector>,
    /// The topology key (`kubernetes.io/hostname`, a zone label).
    pub topology_key: Str,
    /// The weight, for preferred terms.
    pub weight: i64,
}

impl AffinityTerm {
    fn parse(term: &PodAffinityTerm, pod: &Pod, weight: i64) -> Result<AffinityTerm, String> {
        let selector = match &term.label_selector {
            None => None,
            Some(ls) => {
                let mut s = Selector::try_from(ls).map_err(|e| e.to_string())?;
                for (keys, op) in [
                    (&term.match_label_keys, Operator::In),
                    (&term.mismatch_label_keys, Operator::NotIn),
                ] {
                    for k in keys {
                        if let Some(v) = pod.metadata.labels.get_str(k) {
                            let r =
                                Requirement::new(k.clone(), op, [v]).map_err(|e| e.to_string())?;
                            s = s.and(r);
                        }
                    }
                }
                Some(s)
            }
        };
        let namespace_selector = term
            .namespace_selector
            .as_ref()
            .map(Selector::try_from)
            .transpose()
            .map_err(|e| e.to_string())?;
        let mut namespaces = term.namespaces.clone();
        if namespaces.is_empty() && namespace_selector.is_none() {
            namespaces.push(pod.metadata.namespace.clone());
        }
        Ok(AffinityTerm {
            selector,
            namespaces,
            namespace_selector,
            topology_key: term.topology_key.clone(),
            weight,
        })
    }

    /// True when the term selects `pod`; `ns_labels` are the labels of the
    /// pod's namespace (for the namespace selector).
    pub fn matches(&self, pod: &PodInfo, ns_labels: Option<&StringMap>) -> bool {
        let Some(sel) = &self.selector else {
            return false;
        };
        let ns = &pod.pod.metadata.namespace;
        let ns_ok = self.namespaces.iter().any(|n| n == ns)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.is_empty() || ns_labels.is_some_and(|l| s.matches(l)));
        ns_ok && sel.matches(&pod.pod.metadata.labels)
    }
}

/// A pod as the scheduler sees it: the object plus what every cycle needs,
/// computed once.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// The uid (or `namespace/name` when it has none).
    pub uid: Str,
    /// The effective requests (max of init containers and the sum of the
    /// others, plus overhead).
    pub requests: Resources,
    /// CPU for scoring: containers without a request count as 100m.
    pub non_zero_milli_cpu: i64,
    /// Memory for scoring: containers without a request count as 200Mi.
    pub non_zero_memory: i64,
    /// The host ports asked for.
    pub host_ports: Vec<HostPort>,
    /// The priority (0 when unset).
    pub priority: i32,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity: Vec<AffinityTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity: Vec<AffinityTerm>,
    /// Why the affinity terms could not be parsed (the pod is then
    /// unschedulable).
    pub parse_error: Option<String>,
}

impl PodInfo {
    /// Computes the pod's scheduling data.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let spec = &pod.spec;
        let mut sum = Resources::default();
        let mut nz_cpu = 0i64;
        let mut nz_mem = 0i64;
        let mut host_ports = Vec::new();
        for c in &spec.containers {
            let r = Resources::from_list(&c.resources.requests);
            nz_cpu += if c.resources.requests.contains_key("cpu") {
                r.milli_cpu
            } else {
                DEFAULT_MILLI_CPU_REQUEST
            };
            nz_mem += if c.resources.requests.contains_key("memory") {
                r.memory
            } else {
                DEFAULT_MEMORY_REQUEST
            };
            sum.add(&r);
        }
        // Init containers run one at a time before the others; sidecars
        // (restartPolicy Always) keep running, so they add up.
        let mut sidecars = Resources::default();
        let mut init_max = Resources::default();
        for c in &spec.init_containers {
            let r = Resources::from_list(&c.resources.requests);
            if c.restart_policy.as_deref() == Some("Always") {
                sidecars.add(&r);
                init_max.max_with(&sidecars);
            } else {
                let mut peak = sidecars.clone();
                peak.add(&r);
                init_max.max_with(&peak);
            }
        }
        sum.add(&sidecars);
        let mut requests = sum;
        requests.max_with(&init_max);
        if let Some(pr) = &spec.resources {
            if !pr.requests.is_empty() {
                requests = Resources::from_list(&pr.requests);
                nz_cpu = requests.milli_cpu.max(if pr.requests.contains_key("cpu") {
                    0
                } else {
                    DEFAULT_MILLI_CPU_REQUEST
                });
                nz_mem = requests.memory.max(if pr.requests.contains_key("memory") {
                    0
                } else {
                    DEFAULT_MEMORY_REQUEST
                });
            }
        }
        if !spec.overhead.is_empty() {
            let o = Resources::from_list(&spec.overhead);
            requests.add(&o);
            nz_cpu += o.milli_cpu;
            nz_mem += o.memory;
        }
        requests.pods = 0;
        for c in spec.all_containers() {
            for p in &c.ports {
                if p.host_port > 0 {
                    host_ports.push(HostPort {
                        protocol: if p.protocol.is_empty() {
                            Str::from_static("TCP")
                        } else {
                            p.protocol.clone()
                        },
                        ip: p.host_ip.clone(),
                        port: p.host_port,
                    });
                }
            }
        }
        let mut info = PodInfo {
            uid: if pod.metadata.uid.is_empty() {
                Str::from(format!("{}/{}", pod.metadata.namespace, pod.metadata.name))
            } else {
                pod.metadata.uid.clone()
            },
            requests,
            non_zero_milli_cpu: nz_cpu,
            non_zero_memory: nz_mem,
            host_ports,
            priority: spec.priority.unwrap_or(0),
            required_affinity: Vec::new(),
            required_anti_affinity: Vec::new(),
            preferred_affinity: Vec::new(),
            preferred_anti_affinity: Vec::new(),
            parse_error: None,
            pod: pod.clone(),
        };
        if let Err(e) = info.parse_affinity() {
            info.parse_error = Some(e);
        }
        info
    }

    fn parse_affinity(&mut self) -> Result<(), String> {
        let pod = self.pod.clone();
        let Some(aff) = pod.spec.affinity.as_deref() else {
            return Ok(());
        };
        if let Some(pa) = &aff.pod_affinity {
            for t in &pa.required_during_scheduling_ignored_during_execution {
                self.required_affinity
                    .push(AffinityTerm::parse(t, &pod, 1)?);
            }
            for t in &pa.preferred_during_scheduling_ignored_during_execution {
                self.preferred_affinity.push(AffinityTerm::parse(
                    &t.pod_affinity_term,
                    &pod,
                    t.weight as i64,
                )?);
            }
        }
        if let Some(pa) = &aff.pod_anti_affinity {
            for t in &pa.required_during_scheduling_ignored_during_execution {
                self.required_anti_affinity
                    .push(AffinityTerm::parse(t, &pod, 1)?);
            }
            for t in &pa.preferred_during_scheduling_ignored_during_execution {
                self.preferred_anti_affinity.push(AffinityTerm::parse(
                    &t.pod_affinity_term,
                    &pod,
                    t.weight as i64,
                )?);
            }
        }
        Ok(())
    }

    /// True when the pod has any pod (anti-)affinity term.
    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }

    /// The pod's namespace.
    pub fn namespace(&self) -> &str {
        &self.pod.metadata.namespace
    }

    /// The pod's labels.
    pub fn labels(&self) -> &StringMap {
        &self.pod.metadata.labels
    }
}

/// A node with what is placed on it: the scheduler's unit of decision.
///
/// The fields every cycle reads for each of the hundreds of nodes it
/// examines (the flags, the resource sums, the remembered verdicts) come
/// first and fill three cache lines from a line boundary, so that
/// [`NodeInfo::warm`] can fetch a node with three independent loads.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct NodeInfo {
    // Hot: read by the default filters and scores of every cycle.
    /// Copied from the node, so that the filters every cycle runs over
    /// hundreds of nodes read this struct only (each node object touched
    /// is a cache miss).
    unschedulable: bool,
    hard_taints: bool,
    prefer_taints: bool,
    /// The sum of its pods' requests, with the scoring defaults for
    /// containers without requests: CPU.
    pub non_zero_milli_cpu: i64,
    /// ... and memory.
    pub non_zero_memory: i64,
    /// What the node offers (`status.allocatable`).
    pub allocatable: Resources,
    /// The sum of its pods' requests.
    pub requested: Resources,
    verdicts: Verdicts,
    // Cold.
    node: Arc<Node>,
    name: Str,
    /// Its pods (bound and assumed).
    pub pods: Vec<Arc<PodInfo>>,
    /// How many of its pods have pod (anti-)affinity terms.
    pub pods_with_affinity: usize,
    /// How many of its pods have required anti-affinity terms.
    pub pods_with_required_anti_affinity: usize,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Its images (normalised names) and their sizes.
    pub images: Vec<(Str, i64)>,
    /// Bumped on every change.
    pub generation: u64,
}

/// A few remembered answers about a node object (see
/// [`NodeInfo::verdict`]): each slot holds a question's hash with its low
/// bits replaced by "set" and the answer. Lock-free; a lost race only
/// means an answer is computed twice.
#[derive(Debug, Default)]
struct Verdicts([AtomicU64; 4]);

impl Clone for Verdicts {
    fn clone(&self) -> Self {
        Verdicts(std::array::from_fn(|i| {
            AtomicU64::new(self.0[i].load(Ordering::Relaxed))
        }))
    }
}

impl Verdicts {
    const SET: u64 = 0b10;
    const YES: u64 = 0b01;

    fn get(&self, question: u64) -> Option<bool> {
        let q = question & !0b11;
        self.0.iter().find_map(|slot| {
            let v = slot.load(Ordering::Relaxed);
            (v & Self::SET != 0 && v & !0b11 == q).then_some(v & Self::YES != 0)
        })
    }

    fn put(&self, question: u64, answer: bool) {
        let v = (question & !0b11) | Self::SET | u64::from(answer);
        let i = ((question >> 2) % self.0.len() as u64) as usize;
        self.0[i].store(v, Ordering::Relaxed);
    }
}

/// `nginx` → `nginx:latest`; names with a tag or digest stay.
pub fn normalize_image(name: &str) -> Str {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        Str::from(name)
    } else {
        Str::from(format!("{name}:latest"))
    }
}

impl NodeInfo {
    /// A node with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut n = NodeInfo {
            allocatable: Resources::default(),
            requested: Resources::default(),
            non_zero_milli_cpu: 0,
            non_zero_memory: 0,
            pods: Vec::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
            used_ports: Vec::new(),
            images: Vec::new(),
            generation: 0,
            name: Str::default(),
            unschedulable: false,
            hard_taints: false,
            prefer_taints: false,
            verdicts: Verdicts::default(),
            node: node.clone(),
        };
        n.set_node(node);
        n
    }

    /// The node object.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `spec.unschedulable`.
    pub fn is_unschedulable(&self) -> bool {
        self.unschedulable
    }

    /// The answer to a question about the node object alone (its name and
    /// labels: "does it match this node selector?"), `question` being a
    /// hash naming it: remembered on the node until its object changes, so
    /// pods asking the same question do not read the node's labels again.
    /// `answer` must depend on nothing but the node object.
    pub fn verdict(&self, question: u64, answer: impl FnOnce(&NodeInfo) -> bool) -> bool {
        if let Some(v) = self.verdicts.get(question) {
            return v;
        }
        let v = answer(self);
        self.verdicts.put(question, v);
        v
    }

    /// True when the node has a `NoSchedule` or `NoExecute` taint.
    pub fn has_hard_taints(&self) -> bool {
        self.hard_taints
    }

    /// True when the node has a `PreferNoSchedule` taint.
    pub fn has_prefer_taints(&self) -> bool {
        self.prefer_taints
    }

    /// Reads one word of each of the node's hot cache lines, with loads
    /// that do not depend on each other: called for a run of nodes before
    /// the filters look at them, the CPU fetches the run's lines in
    /// parallel instead of missing the cache once per node and plugin.
    /// Returns a value to pass to [`std::hint::black_box`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use keelson::api::core::Node;
    /// use keelson::scheduler::NodeInfo;
    ///
    /// let nodes: Vec<NodeInfo> = (0..4).map(|_| NodeInfo::new(Arc::new(Node::default()))).collect();
    /// let sum = nodes.iter().fold(0u64, |acc, n| acc.wrapping_add(n.warm()));
    /// std::hint::black_box(sum);
    /// ```
    #[inline]
    pub fn warm(&self) -> u64 {
        u64::from(self.unschedulable)
            .wrapping_add(self.requested.milli_cpu as u64)
            .wrapping_add(self.verdicts.0[1].load(Ordering::Relaxed))
    }

    /// The node's labels.
    pub fn labels(&self) -> &StringMap {
        &self.node.metadata.labels
    }

    /// Replaces the node object (its pods stay).
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = Resources::from_list(&node.status.allocatable);
        let mut images = Vec::new();
        for img in &node.status.images {
            for n in &img.names {
                images.push((normalize_image(n), img.size_bytes));
            }
        }
        self.images = images;
        self.name = node.metadata.name.clone();
        self.unschedulable = node.spec.unschedulable;
        // New labels: forget what was decided on the old ones.
        self.verdicts = Verdicts::default();
        self.hard_taints = false;
        self.prefer_taints = false;
        for t in &node.spec.taints {
            match t.effect.as_str() {
                "NoSchedule" | "NoExecute" => self.hard_taints = true,
                "PreferNoSchedule" => self.prefer_taints = true,
                _ => {}
            }
        }
        self.node = node;
        self.generation += 1;
    }

    /// Adds a pod's requests, ports and affinity.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.requested.pods += 1;
        self.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Removes the pod with this uid; false if it is not here.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.requested.pods -= 1;
        self.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        if pod.has_affinity() {
            self.pods_with_affinity -= 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        self.generation += 1;
        true
    }
}

impl PodInfo {
    /// The pod's key, `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.pod.metadata.namespace, self.pod.metadata.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hot_fields_fill_three_cache_lines_from_a_line_boundary() {
        assert_eq!(std::mem::align_of::<NodeInfo>(), 64);
        let end = std::mem::offset_of!(NodeInfo, verdicts) + std::mem::size_of::<Verdicts>();
        assert!(end <= 3 * 64, "hot fields end at byte {end}");
        // What `warm` reads lies on each of the three lines.
        assert!(std::mem::offset_of!(NodeInfo, unschedulable) < 64);
        let cpu =
            std::mem::offset_of!(NodeInfo, requested) + std::mem::offset_of!(Resources, milli_cpu);
        assert!((64..128).contains(&cpu), "requested.milli_cpu at {cpu}");
        let verdict = std::mem::offset_of!(NodeInfo, verdicts) + 8;
        assert!((128..192).contains(&verdict), "verdicts[1] at {verdict}");
    }
}
