//! PodTopologySpread: `topologySpreadConstraints` keep matching pods
//! spread over topology domains (zones, hosts). `DoNotSchedule`
//! constraints filter (the skew — pods in the node's domain plus this one,
//! minus the least-loaded domain — may not exceed `maxSkew`; with fewer
//! than `minDomains` domains the minimum counts as 0); `ScheduleAnyway`
//! constraints score (fewer matching pods in the domain is better).
//!
//! Only nodes that satisfy the pod's node selector and required node
//! affinity count (`nodeAffinityPolicy: Honor`, the default), and taints
//! are ignored unless `nodeTaintsPolicy: Honor`. Nodes without the
//! topology key do not count, and a `DoNotSchedule` constraint rejects
//! them.
use std::collections::HashMap;

use crate::api::selector::{Operator, Requirement, Selector};
use crate::api::Str;
use crate::scheduler::cache::Snapshot;
use crate::scheduler::framework::{
    ClusterEvent, CycleState, Filter, Plugin, PreFilter, PreScore, Score, Status, MAX_NODE_SCORE,
};
use crate::scheduler::info::{NodeInfo, PodInfo};

use super::node_affinity::RequiredNodeAffinity;
use super::taint::tolerates;

#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    key: Str,
    selector: Selector,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
}

fn constraints(pod: &PodInfo, hard: bool) -> Result<Vec<Constraint>, String> {
    let want = if hard {
        "DoNotSchedule"
    } else {
        "ScheduleAnyway"
    };
    let mut out = Vec::new();
    for c in &pod.pod.spec.topology_spread_constraints {
        if c.when_unsatisfiable != want {
            continue;
        }
        let mut selector = match &c.label_selector {
            Some(ls) => Selector::try_from(ls).map_err(|e| e.to_string())?,
            // A nil selector selects nothing: count no pod.
            None => {
                Selector::parse("!keelson.io/none,keelson.io/none").map_err(|e| e.to_string())?
            }
        };
        for k in &c.match_label_keys {
            if let Some(v) = pod.labels().get_str(k) {
                selector = selector.and(
                    Requirement::new(k.clone(), Operator::In, [v]).map_err(|e| e.to_string())?,
                );
            }
        }
        out.push(Constraint {
            max_skew: c.max_skew.max(1) as i64,
            key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1).max(1) as i64,
            honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        });
    }
    Ok(out)
}

/// Spreads pods over topology domains.
#[derive(Clone, Copy, Debug, Default)]
pub struct PodTopologySpread;

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        super::POD_TOPOLOGY_SPREAD
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeUpdate,
            ClusterEvent::NodeDelete,
            ClusterEvent::AssignedPodAdd,
            ClusterEvent::AssignedPodUpdate,
            ClusterEvent::AssignedPodDelete,
        ]
    }
}

fn eligible(c: &Constraint, pod: &PodInfo, aff: &RequiredNodeAffinity, node: &NodeInfo) -> bool {
    if c.honor_affinity && !aff.matches(node) {
        return false;
    }
    if c.honor_taints {
        let tols = &pod.pod.spec.tolerations;
        let ok = node.node().spec.taints.iter().all(|t| {
            (t.effect != "NoSchedule" && t.effect != "NoExecute")
                || tols.iter().any(|x| tolerates(x, t))
        });
        if !ok {
            return false;
        }
    }
    true
}

fn count_matching(c: &Constraint, ns: &str, node: &NodeInfo) -> i64 {
    node.pods
        .iter()
        .filter(|p| {
            p.namespace() == ns
                && p.pod.metadata.deletion_timestamp.is_none()
                && c.selector.matches(p.labels())
        })
        .count() as i64
}

/// Counts of matching pods per domain value, for each constraint, over
/// every node of the snapshot that has all the constraints' keys (a domain
/// with no matching pod counts 0). Remembered by the snapshot between
/// cycles (see [`crate::scheduler::memo`]): pods of one workload ask the
/// same question, and only the nodes changed since are counted again.
fn count_domains(
    cs: &[Constraint],
    pod: &PodInfo,
    aff: &RequiredNodeAffinity,
    snapshot: &Snapshot,
) -> Vec<HashMap<Str, i64>> {
    let ns = pod.namespace();
    let tolerations: &[_] = if cs.iter().any(|c| c.honor_taints) {
        &pod.pod.spec.tolerations
    } else {
        &[]
    };
    let question = format!("PodTopologySpread\0{ns}\0{cs:?}\0{aff:?}\0{tolerations:?}");
    let keys: Vec<Str> = (0..cs.len()).map(|i| Str::from(i.to_string())).collect();
    let part = |node: &NodeInfo| {
        let labels = node.labels();
        let mut part = Vec::new();
        // A node counts only if it has every constraint's key.
        if !cs.iter().all(|c| labels.contains_key(&c.key)) {
            return part;
        }
        for (i, c) in cs.iter().enumerate() {
            if !eligible(c, pod, aff, node) {
                continue;
            }
            if let Some(v) = labels.get(&c.key) {
                part.push((keys[i].clone(), v.clone(), count_matching(c, ns, node)));
            }
        }
        part
    };
    snapshot.domain_totals(question, part, |totals| {
        keys.iter()
            .map(|k| {
                totals
                    .get(k.as_str())
                    .map(|m| m.iter().map(|(d, (n, _))| (d.clone(), *n)).collect())
                    .unwrap_or_default()
            })
            .collect()
    })
}

#[derive(Clone, Debug)]
struct FilterState {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<Str, i64>>,
    min: Vec<i64>,
    self_match: Vec<bool>,
    affinity: RequiredNodeAffinity,
}

impl FilterState {
    fn recompute_min(&mut self) {
        self.min = self
            .constraints
            .iter()
            .zip(&self.counts)
            .map(|(c, m)| {
                if (m.len() as i64) < c.min_domains {
                    0
                } else {
                    m.values().copied().min().unwrap_or(0)
                }
            })
            .collect();
    }

    fn adjust(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        if other.namespace() != pod.namespace() {
            return;
        }
        let labels = node.labels();
        if !self.constraints.iter().all(|c| labels.contains_key(&c.key)) {
            return;
        }
        let mut changed = false;
        for i in 0..self.constraints.len() {
            let c = &self.constraints[i];
            if !c.selector.matches(other.labels()) || !eligible(c, pod, &self.affinity, node) {
                continue;
            }
            if let Some(v) = labels.get(&c.key) {
                if let Some(e) = self.counts[i].get_mut(v.as_str()) {
                    *e = (*e + delta).max(0);
                    changed = true;
                }
            }
        }
        if changed {
            self.recompute_min();
        }
    }
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let cs = match constraints(pod, true) {
            Ok(cs) => cs,
            Err(e) => return Status::unresolvable(e),
        };
        if cs.is_empty() {
            return Status::skip();
        }
        let affinity = match RequiredNodeAffinity::of(pod) {
            Ok(a) => a,
            Err(e) => return Status::unresolvable(e),
        };
        let counts = count_domains(&cs, pod, &affinity, snapshot);
        let self_match = cs
            .iter()
            .map(|c| c.selector.matches(pod.labels()))
            .collect();
        let mut st = FilterState {
            constraints: cs,
            counts,
            min: Vec::new(),
            self_match,
            affinity,
        };
        st.recompute_min();
        state.write(st);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &PodInfo, node: &NodeInfo) {
        if let Some(st) = state.read_mut::<FilterState>() {
            st.adjust(pod, other, node, 1);
        }
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &PodInfo, node: &NodeInfo) {
        if let Some(st) = state.read_mut::<FilterState>() {
            st.adjust(pod, other, node, -1);
        }
    }
}

impl Filter for PodTopologySpread {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(st) = state.read::<FilterState>() else {
            return Status::success();
        };
        let labels = node.labels();
        for (i, c) in st.constraints.iter().enumerate() {
            let Some(v) = labels.get(&c.key) else {
                return Status::unresolvable(
                    "node(s) didn't match pod topology spread constraints (missing required label)",
                );
            };
            let count = st.counts[i].get(v.as_str()).copied().unwrap_or(0);
            let skew = count + i64::from(st.self_match[i]) - st.min[i];
            if skew > c.max_skew {
                return Status::unschedulable(
                    "node(s) didn't match pod topology spread constraints",
                );
            }
        }
        Status::success()
    }
}

#[derive(Clone, Debug)]
struct ScoreState {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<Str, i64>>,
    weights: Vec<f64>,
}

impl PreScore for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _nodes: &[&NodeInfo],
    ) -> Status {
        let cs = match constraints(pod, false) {
            Ok(cs) => cs,
            Err(e) => return Status::error(e),
        };
        if cs.is_empty() {
            return Status::skip();
        }
        let affinity = RequiredNodeAffinity::of(pod).unwrap_or_default();
        let counts = count_domains(&cs, pod, &affinity, snapshot);
        let weights = counts.iter().map(|m| ((m.len() + 2) as f64).ln()).collect();
        state.write(ScoreState {
            constraints: cs,
            counts,
            weights,
        });
        Status::success()
    }
}

impl Score for PodTopologySpread {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(st) = state.read::<ScoreState>() else {
            return Ok(0);
        };
        let labels = node.labels();
        let mut total = 0.0;
        for (i, c) in st.constraints.iter().enumerate() {
            let Some(v) = labels.get(&c.key) else {
                return Ok(-1);
            };
            let count = st.counts[i].get(v.as_str()).copied().unwrap_or(0);
            total += (count + c.max_skew - 1) as f64 * st.weights[i];
        }
        Ok((total * 1000.0).round() as i64)
    }

    /// Fewer matching pods is better: `100 * (max + min - s) / max`; nodes
    /// without the keys get 0.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        let valid = scores.iter().copied().filter(|s| *s >= 0);
        let (min, max) = valid.fold((i64::MAX, 0i64), |(lo, hi), s| (lo.min(s), hi.max(s)));
        for s in scores.iter_mut() {
            *s = if *s < 0 {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *s) / max
            };
        }
        Status::success()
    }
}
