//! NodeResourcesFit (does the pod's request fit the node's free
//! allocatable; scoring strategies LeastAllocated, MostAllocated,
//! RequestedToCapacityRatio) and NodeResourcesBalancedAllocation.
use crate::api::Str;
use crate::scheduler::framework::{
    ClusterEvent, CycleState, Filter, Plugin, Score, Status, MAX_NODE_SCORE,
};
use crate::scheduler::info::{NodeInfo, PodInfo};

/// How NodeResourcesFit scores a node.
#[derive(Clone, Debug, PartialEq)]
pub enum ScoringStrategy {
    /// Prefer nodes with the most free resources (spreads load; the default).
    LeastAllocated,
    /// Prefer nodes with the least free resources (bin packing).
    MostAllocated,
    /// A piecewise-linear function of utilization: points of
    /// `(utilization 0..=100, score 0..=10)`, in increasing utilization.
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

/// NodeResourcesFit: Filter on free allocatable (pods, CPU, memory,
/// ephemeral storage, extended resources) and Score by a strategy over
/// weighted resources (CPU and memory, weight 1 each, by default).
#[derive(Clone, Debug)]
pub struct NodeResourcesFit {
    /// The scoring strategy.
    pub strategy: ScoringStrategy,
    /// The resources scored and their weights.
    pub resources: Vec<(Str, i64)>,
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit::new(ScoringStrategy::LeastAllocated)
    }
}

impl NodeResourcesFit {
    /// Scores by `strategy` over CPU and memory.
    pub fn new(strategy: ScoringStrategy) -> Self {
        NodeResourcesFit {
            strategy,
            resources: vec![
                (Str::from_static("cpu"), 1),
                (Str::from_static("memory"), 1),
            ],
        }
    }
}

/// Why a pod does not fit a node's free resources, as kube-scheduler words
/// it (`Too many pods`, `Insufficient cpu`, ...); empty when it fits.
pub fn insufficient_resources(pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
    let mut out = Vec::new();
    let a = &node.allocatable;
    let r = &node.requested;
    let p = &pod.requests;
    if r.pods + 1 > a.pods {
        out.push("Too many pods".to_string());
    }
    if p.milli_cpu > 0 && p.milli_cpu > a.milli_cpu - r.milli_cpu {
        out.push("Insufficient cpu".to_string());
    }
    if p.memory > 0 && p.memory > a.memory - r.memory {
        out.push("Insufficient memory".to_string());
    }
    if p.ephemeral_storage > 0 && p.ephemeral_storage > a.ephemeral_storage - r.ephemeral_storage {
        out.push("Insufficient ephemeral-storage".to_string());
    }
    for (name, v) in &p.scalar {
        if *v > 0 && *v > a.scalar(name) - r.scalar(name) {
            out.push(format!("Insufficient {name}"));
        }
    }
    out
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        super::NODE_RESOURCES_FIT
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeUpdate,
            ClusterEvent::AssignedPodDelete,
            ClusterEvent::AssignedPodUpdate,
        ]
    }
}

impl Filter for NodeResourcesFit {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        // The common case without allocation.
        let a = &node.allocatable;
        let r = &node.requested;
        let p = &pod.requests;
        let fits = r.pods < a.pods
            && p.milli_cpu <= a.milli_cpu - r.milli_cpu
            && p.memory <= a.memory - r.memory
            && p.ephemeral_storage <= a.ephemeral_storage - r.ephemeral_storage
            && p.scalar
                .iter()
                .all(|(n, v)| *v <= a.scalar(n) - r.scalar(n));
        if fits {
            return Status::success();
        }
        let reasons = insufficient_resources(pod, node);
        let mut it = reasons.into_iter();
        let Some(first) = it.next() else {
            return Status::success();
        };
        it.fold(Status::unschedulable(first), |s, r| s.with_reason(r))
    }
}

/// (requested with the pod, allocatable) of a resource, the pod counted
/// with the scoring defaults for CPU and memory.
fn requested_and_allocatable(pod: &PodInfo, node: &NodeInfo, resource: &str) -> (i64, i64) {
    match resource {
        "cpu" => (
            node.non_zero_milli_cpu + pod.non_zero_milli_cpu,
            node.allocatable.milli_cpu,
        ),
        "memory" => (
            node.non_zero_memory + pod.non_zero_memory,
            node.allocatable.memory,
        ),
        "ephemeral-storage" => (
            node.requested.ephemeral_storage + pod.requests.ephemeral_storage,
            node.allocatable.ephemeral_storage,
        ),
        other => (
            node.requested.scalar(other) + pod.requests.scalar(other),
            node.allocatable.scalar(other),
        ),
    }
}

fn shape_score(shape: &[(i64, i64)], utilization: i64) -> i64 {
    let Some(first) = shape.first() else {
        return 0;
    };
    if utilization <= first.0 {
        return first.1 * 10;
    }
    for w in shape.windows(2) {
        let ((u0, s0), (u1, s1)) = (w[0], w[1]);
        if utilization <= u1 {
            if u1 == u0 {
                return s1 * 10;
            }
            return (s0 * 10) + (s1 - s0) * 10 * (utilization - u0) / (u1 - u0);
        }
    }
    shape.last().map_or(0, |l| l.1 * 10)
}

impl Score for NodeResourcesFit {
    fn score(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let mut total = 0i64;
        let mut weights = 0i64;
        for (res, w) in &self.resources {
            let (req, cap) = requested_and_allocatable(pod, node, res);
            if cap == 0 {
                continue;
            }
            let s = match &self.strategy {
                ScoringStrategy::LeastAllocated => {
                    if req > cap {
                        0
                    } else {
                        (cap - req) * MAX_NODE_SCORE / cap
                    }
                }
                ScoringStrategy::MostAllocated => req.min(cap) * MAX_NODE_SCORE / cap,
                ScoringStrategy::RequestedToCapacityRatio(shape) => {
                    shape_score(shape, req.min(cap) * 100 / cap)
                }
            };
            total += s * w;
            weights += w;
        }
        Ok(if weights == 0 { 0 } else { total / weights })
    }
}

/// NodeResourcesBalancedAllocation: prefers nodes whose CPU and memory
/// would be used in equal proportion (score `(1 - std dev of the
/// fractions) * 100`).
#[derive(Clone, Copy, Debug, Default)]
pub struct BalancedAllocation;

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        super::BALANCED_ALLOCATION
    }
}

impl Score for BalancedAllocation {
    fn score(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let frac = |res: &str| {
            let (req, cap) = requested_and_allocatable(pod, node, res);
            if cap == 0 {
                None
            } else {
                Some((req as f64 / cap as f64).min(1.0))
            }
        };
        let std = match (frac("cpu"), frac("memory")) {
            (Some(a), Some(b)) => (a - b).abs() / 2.0,
            _ => 0.0,
        };
        Ok(((1.0 - std) * MAX_NODE_SCORE as f64) as i64)
    }
}
