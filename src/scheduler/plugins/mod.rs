//! The default plugins, as kube-scheduler's, and [`default_profile`].
//!
//! | plugin | extension points | default score weight |
//! |---|---|---|
//! | [`PrioritySort`] | QueueSort | |
//! | [`SchedulingGates`] | PreEnqueue | |
//! | [`NodeUnschedulable`] | Filter | |
//! | [`NodeName`] | Filter | |
//! | [`TaintToleration`] | Filter, PreScore, Score | 3 |
//! | [`NodeAffinity`] | PreFilter, Filter, PreScore, Score | 2 |
//! | [`NodePorts`] | PreFilter, Filter | |
//! | [`NodeResourcesFit`] | Filter, Score (LeastAllocated, MostAllocated, RequestedToCapacityRatio) | 1 |
//! | [`VolumeBinding`] | PreFilter, Filter (bound claims: PV node affinity) | |
//! | [`PodTopologySpread`] | PreFilter, Filter, PreScore, Score | 2 |
//! | [`InterPodAffinity`] | PreFilter, Filter, PreScore, Score | 2 |
//! | [`BalancedAllocation`] | Score | 1 |
//! | [`ImageLocality`] | PreScore, Score | 1 |
//! | [`DefaultPreemption`] | PostFilter | |
//! | [`DefaultBinder`] | Bind | |
//!
//! Every Filter and Score is a pure function of the pod, the
//! [`CycleState`](super::CycleState) and one [`NodeInfo`](super::NodeInfo):
//!
//! ```
//! use std::sync::Arc;
//! use keelson::api::core::{Node, Pod, Taint};
//! use keelson::api::ObjectMeta;
//! use keelson::scheduler::framework::{CycleState, Filter};
//! use keelson::scheduler::plugins::TaintToleration;
//! use keelson::scheduler::{NodeInfo, PodInfo};
//!
//! let mut node = Node { metadata: ObjectMeta::named("gpu-1"), ..Default::default() };
//! node.spec.taints.push(Taint { key: "gpu".into(), value: "true".into(), effect: "NoSchedule".into(), ..Default::default() });
//! let node = NodeInfo::new(Arc::new(node));
//! let pod = PodInfo::new(Arc::new(Pod::default()));
//! let status = TaintToleration.filter(&CycleState::new(), &pod, &node);
//! assert_eq!(status.reasons(), ["node(s) had untolerated taint {gpu: true}"]);
//! ```
use std::sync::Arc;

mod basic;
mod binder;
mod interpod;
mod node_affinity;
mod preemption;
mod resources;
mod spread;
mod taint;
mod volume;

pub use self::basic::{
    ImageLocality, NodeName, NodePorts, NodeUnschedulable, PrioritySort, SchedulingGates,
};
pub use self::binder::DefaultBinder;
pub use self::interpod::InterPodAffinity;
pub use self::node_affinity::{NodeAffinity, NodeSelectorMatcher, NodeTerm, RequiredNodeAffinity};
pub use self::preemption::{Candidate, DefaultPreemption};
pub use self::resources::{
    insufficient_resources, BalancedAllocation, NodeResourcesFit, ScoringStrategy,
};
pub use self::spread::PodTopologySpread;
pub use self::taint::{tolerates, TaintToleration};
pub use self::volume::VolumeBinding;

use super::framework::MAX_NODE_SCORE;
use super::Profile;

/// `PrioritySort`.
pub const PRIORITY_SORT: &str = "PrioritySort";
/// `SchedulingGates`.
pub const SCHEDULING_GATES: &str = "SchedulingGates";
/// `NodeUnschedulable`.
pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
/// `NodeName`.
pub const NODE_NAME: &str = "NodeName";
/// `TaintToleration`.
pub const TAINT_TOLERATION: &str = "TaintToleration";
/// `NodeAffinity`.
pub const NODE_AFFINITY: &str = "NodeAffinity";
/// `NodePorts`.
pub const NODE_PORTS: &str = "NodePorts";
/// `NodeResourcesFit`.
pub const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
/// `NodeResourcesBalancedAllocation`.
pub const BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
/// `VolumeBinding`.
pub const VOLUME_BINDING: &str = "VolumeBinding";
/// `PodTopologySpread`.
pub const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
/// `InterPodAffinity`.
pub const INTER_POD_AFFINITY: &str = "InterPodAffinity";
/// `ImageLocality`.
pub const IMAGE_LOCALITY: &str = "ImageLocality";
/// `DefaultPreemption`.
pub const DEFAULT_PREEMPTION: &str = "DefaultPreemption";
/// `DefaultBinder`.
pub const DEFAULT_BINDER: &str = "DefaultBinder";

/// kube-scheduler's default profile for `scheduler_name`: every default
/// plugin at its extension points, in kube-scheduler's order, with its
/// weights.
pub fn default_profile(scheduler_name: &str) -> Profile {
    let fit = Arc::new(NodeResourcesFit::default());
    let affinity = Arc::new(NodeAffinity);
    let ports = Arc::new(NodePorts);
    let taints = Arc::new(TaintToleration);
    let volumes = Arc::new(VolumeBinding);
    let spread = Arc::new(PodTopologySpread);
    let interpod = Arc::new(InterPodAffinity);
    let images = Arc::new(ImageLocality);
    Profile::new(scheduler_name)
        .queue_sort(Arc::new(PrioritySort))
        .pre_enqueue(Arc::new(SchedulingGates))
        .pre_filter(affinity.clone())
        .pre_filter(ports.clone())
        .pre_filter(volumes.clone())
        .pre_filter(spread.clone())
        .pre_filter(interpod.clone())
        .filter(Arc::new(NodeUnschedulable))
        .filter(Arc::new(NodeName))
        .filter(taints.clone())
        .filter(affinity.clone())
        .filter(ports)
        .filter(fit.clone())
        .filter(volumes)
        .filter(spread.clone())
        .filter(interpod.clone())
        .post_filter(Arc::new(DefaultPreemption::default()))
        .pre_score(taints.clone())
        .pre_score(affinity.clone())
        .pre_score(spread.clone())
        .pre_score(interpod.clone())
        .pre_score(images.clone())
        .score(taints, 3)
        .score(affinity, 2)
        .score(fit, 1)
        .score(spread, 2)
        .score(interpod, 2)
        .score(Arc::new(BalancedAllocation), 1)
        .score(images, 1)
        .bind(Arc::new(DefaultBinder))
}

/// Rescales so the highest becomes 100 (all zero stays zero).
pub fn normalize_to_max(scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max <= 0 {
        return;
    }
    for s in scores {
        *s = *s * MAX_NODE_SCORE / max;
    }
}

/// Rescales so the lowest raw value gets 100 and the highest 0 (all equal:
/// all 100).
pub fn normalize_reverse(scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores {
        *s = if max <= 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE - *s * MAX_NODE_SCORE / max
        };
    }
}
