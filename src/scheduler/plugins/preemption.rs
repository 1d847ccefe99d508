//! DefaultPreemption (PostFilter): when no node fits, find a node where
//! evicting pods of lower priority makes the pod fit, with the least harm.
//!
//! For each node the pod failed on for a reason preemption can change
//! (`Unschedulable`, not `UnschedulableAndUnresolvable`), every pod of
//! lower priority is taken off a copy of the node; if the pod then fits,
//! the would-be victims are put back one by one, most important first, and
//! those whose return keeps the pod fitting are spared. Among the
//! candidate nodes the one chosen has, in order: the lowest highest victim
//! priority, the smallest sum of victim priorities, the fewest victims.
//! The pod is then nominated to that node (`status.nominatedNodeName`)
//! while its victims are deleted.
//!
//! PodDisruptionBudgets are not consulted.
use std::collections::HashMap;
use std::sync::Arc;

use crate::api::Str;
use crate::scheduler::cache::Snapshot;
use crate::scheduler::framework::{
    ClusterEvent, Code, CycleState, Framework, Plugin, PostFilter, PostFilterResult, Status,
};
use crate::scheduler::info::{NodeInfo, PodInfo};

/// Preempts lower-priority pods.
#[derive(Clone, Debug)]
pub struct DefaultPreemption {
    /// Candidate nodes to evaluate, as a percentage of the nodes (10).
    pub min_candidate_nodes_percentage: usize,
    /// ... but at least this many (100).
    pub min_candidate_nodes_absolute: usize,
}

impl Default for DefaultPreemption {
    fn default() -> Self {
        DefaultPreemption {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        super::DEFAULT_PREEMPTION
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::AssignedPodDelete, ClusterEvent::NodeAdd]
    }
}

/// The victims preemption would evict on one node.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The node.
    pub node: Str,
    /// The pods to evict.
    pub victims: Vec<Arc<PodInfo>>,
}

impl DefaultPreemption {
    /// The fewest lower-priority pods to evict from `node` for `pod` to
    /// fit, or `None` when evicting them all would not help.
    pub fn select_victims(
        fw: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Option<Vec<Arc<PodInfo>>> {
        let mut potential: Vec<Arc<PodInfo>> = node
            .pods
            .iter()
            .filter(|p| p.priority < pod.priority)
            .cloned()
            .collect();
        if potential.is_empty() {
            return None;
        }
        let mut node2 = node.clone();
        let mut state2 = state.clone();
        for v in &potential {
            node2.remove_pod(&v.uid);
            for p in &fw.pre_filter {
                p.remove_pod(&mut state2, pod, v, &node2);
            }
        }
        if !fw.run_filters(&state2, pod, &node2).is_success() {
            return None;
        }
        // Most important first: they get the first chance to stay.
        potential.sort_by(|a, b| {
            b.priority.cmp(&a.priority).then_with(|| {
                a.pod
                    .metadata
                    .creation_timestamp
                    .cmp(&b.pod.metadata.creation_timestamp)
            })
        });
        let mut victims = Vec::new();
        for v in potential {
            node2.add_pod(v.clone());
            for p in &fw.pre_filter {
                p.add_pod(&mut state2, pod, &v, &node2);
            }
            if !fw.run_filters(&state2, pod, &node2).is_success() {
                node2.remove_pod(&v.uid);
                for p in &fw.pre_filter {
                    p.remove_pod(&mut state2, pod, &v, &node2);
                }
                victims.push(v);
            }
        }
        Some(victims)
    }

    /// Every candidate among the nodes that failed for a reason
    /// preemption can change (at most the configured number).
    pub fn candidates(
        &self,
        fw: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &HashMap<Str, Status>,
    ) -> (Vec<Candidate>, usize) {
        let n = snapshot.len();
        let max = (n * self.min_candidate_nodes_percentage / 100)
            .max(self.min_candidate_nodes_absolute)
            .min(n);
        let offset = if n == 0 { 0 } else { fastrand::usize(0..n) };
        let mut out = Vec::new();
        let mut unhelpful = 0;
        for k in 0..n {
            if out.len() >= max {
                break;
            }
            let node = snapshot.node((offset + k) % n);
            let code = statuses.get(node.name()).map(|s| s.code());
            if code != Some(Code::Unschedulable) {
                unhelpful += 1;
                continue;
            }
            if let Some(victims) = Self::select_victims(fw, state, pod, node) {
                if !victims.is_empty() {
                    out.push(Candidate {
                        node: Str::from(node.name()),
                        victims,
                    });
                }
            }
        }
        (out, unhelpful)
    }

    /// The candidate that does the least harm.
    pub fn pick(candidates: Vec<Candidate>) -> Option<Candidate> {
        candidates.into_iter().min_by_key(|c| {
            let max = c
                .victims
                .iter()
                .map(|v| v.priority)
                .max()
                .unwrap_or(i32::MIN);
            let sum: i64 = c.victims.iter().map(|v| v.priority as i64).sum();
            (max, sum, c.victims.len())
        })
    }
}

impl PostFilter for DefaultPreemption {
    fn post_filter(
        &self,
        framework: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &HashMap<Str, Status>,
    ) -> (PostFilterResult, Status) {
        if pod.pod.spec.preemption_policy.as_deref() == Some("Never") {
            return (
                PostFilterResult::default(),
                Status::unresolvable("not eligible due to preemptionPolicy=Never."),
            );
        }
        // Already nominated and victims still terminating there: wait.
        let nominated = &pod.pod.status.nominated_node_name;
        if !nominated.is_empty() {
            if let Some(node) = snapshot.get(nominated) {
                let terminating = node.pods.iter().any(|p| {
                    p.priority < pod.priority && p.pod.metadata.deletion_timestamp.is_some()
                });
                if terminating {
                    return (
                        PostFilterResult::default(),
                        Status::unschedulable(
                            "not eligible due to a terminating pod on the nominated node.",
                        ),
                    );
                }
            }
        }
        let (candidates, unhelpful) = self.candidates(framework, state, pod, snapshot, statuses);
        let n = snapshot.len();
        match Self::pick(candidates) {
            Some(c) => (
                PostFilterResult {
                    nominated_node: Some(c.node),
                    victims: c.victims,
                },
                Status::success(),
            ),
            None => {
                let mut parts = Vec::new();
                if n > unhelpful {
                    parts.push(format!(
                        "{} No preemption victims found for incoming pod",
                        n - unhelpful
                    ));
                }
                if unhelpful > 0 {
                    parts.push(format!(
                        "{unhelpful} Preemption is not helpful for scheduling"
                    ));
                }
                (
                    PostFilterResult::default(),
                    Status::unschedulable(format!(
                        "preemption: 0/{n} nodes are available: {}.",
                        parts.join(", ")
                    )),
                )
            }
        }
    }
}
