//! The small plugins: PrioritySort, SchedulingGates, NodeUnschedulable,
//! NodeName, NodePorts, ImageLocality.
use crate::api::core::node::TAINT_UNSCHEDULABLE;
use crate::api::core::Taint;
use crate::api::Str;
use crate::scheduler::cache::Snapshot;
use crate::scheduler::framework::{
    ClusterEvent, CycleState, Filter, Plugin, PreEnqueue, PreFilter, QueueSort, Score, Status,
    MAX_NODE_SCORE,
};
use crate::scheduler::info::{normalize_image, NodeInfo, PodInfo};
use crate::scheduler::queue::QueuedPodInfo;

use super::taint::tolerates;

/// QueueSort: higher `spec.priority` first, then the earlier arrival.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        super::PRIORITY_SORT
    }
}

impl QueueSort for PrioritySort {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (pa, pb) = (a.info.priority, b.info.priority);
        pa > pb || (pa == pb && a.timestamp < b.timestamp)
    }
}

/// PreEnqueue: a pod with `spec.schedulingGates` waits until they are all
/// removed.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedulingGates;

impl Plugin for SchedulingGates {
    fn name(&self) -> &'static str {
        super::SCHEDULING_GATES
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[]
    }
}

impl PreEnqueue for SchedulingGates {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let gates = &pod.pod.spec.scheduling_gates;
        if gates.is_empty() {
            return Status::success();
        }
        let names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
        Status::unresolvable(format!(
            "waiting for scheduling gates: [{}]",
            names.join(" ")
        ))
    }
}

/// Filter: a node with `spec.unschedulable` takes only pods that tolerate
/// the `node.kubernetes.io/unschedulable:NoSchedule` taint.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        super::NODE_UNSCHEDULABLE
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeUpdate]
    }
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.is_unschedulable() {
            return Status::success();
        }
        let taint = Taint {
            key: Str::from_static(TAINT_UNSCHEDULABLE),
            effect: Str::from_static("NoSchedule"),
            ..Taint::default()
        };
        if pod
            .pod
            .spec
            .tolerations
            .iter()
            .any(|t| tolerates(t, &taint))
        {
            Status::success()
        } else {
            Status::unresolvable("node(s) were unschedulable")
        }
    }
}

/// Filter: a pod that names a node (`spec.nodeName`) fits only there.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        super::NODE_NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd]
    }
}

impl Filter for NodeName {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let want = &pod.pod.spec.node_name;
        if want.is_empty() || want == node.name() {
            Status::success()
        } else {
            Status::unresolvable("node(s) didn't match the requested node name")
        }
    }
}

/// PreFilter + Filter: the pod's host ports must be free on the node.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        super::NODE_PORTS
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd, ClusterEvent::AssignedPodDelete]
    }
}

impl PreFilter for NodePorts {
    fn pre_filter(&self, _state: &mut CycleState, pod: &PodInfo, _snapshot: &Snapshot) -> Status {
        if pod.host_ports.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl Filter for NodePorts {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let clash = pod
            .host_ports
            .iter()
            .any(|p| node.used_ports.iter().any(|u| u.conflicts(p)));
        if clash {
            Status::unschedulable("node(s) didn't have free ports for the requested pod ports")
        } else {
            Status::success()
        }
    }
}

/// Score: prefers nodes that already have the pod's images, weighted by
/// how widely each image is spread (so one node holding an image does not
/// attract every pod).
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageLocality;

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

#[derive(Clone)]
struct ImageState {
    images: Vec<Str>,
    total_nodes: usize,
    counts: Vec<usize>,
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        super::IMAGE_LOCALITY
    }
}

impl crate::scheduler::framework::PreScore for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _nodes: &[&NodeInfo],
    ) -> Status {
        let images: Vec<Str> = pod
            .pod
            .spec
            .all_containers()
            .map(|c| normalize_image(&c.image))
            .collect();
        let counts: Vec<usize> = images
            .iter()
            .map(|i| snapshot.image_node_count(i))
            .collect();
        if counts.iter().all(|c| *c == 0) {
            return Status::skip();
        }
        state.write(ImageState {
            images,
            total_nodes: snapshot.len(),
            counts,
        });
        Status::success()
    }
}

impl Score for ImageLocality {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(st) = state.read::<ImageState>() else {
            return Ok(0);
        };
        let mut sum: i64 = 0;
        for (img, count) in st.images.iter().zip(&st.counts) {
            if let Some((_, size)) = node.images.iter().find(|(n, _)| n == img) {
                let spread = *count as f64 / st.total_nodes.max(1) as f64;
                sum = sum.saturating_add((*size as f64 * spread) as i64);
            }
        }
        let max = MAX_CONTAINER_THRESHOLD * st.images.len().max(1) as i64;
        let sum = sum.clamp(MIN_THRESHOLD, max);
        Ok(MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD).max(1))
    }
}
