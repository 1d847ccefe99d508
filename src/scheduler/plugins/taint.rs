//! TaintToleration: a node's `NoSchedule`/`NoExecute` taints keep off the
//! pods that do not tolerate them; `PreferNoSchedule` taints count against
//! the node in scoring.
use crate::api::core::{Taint, Toleration};
use crate::scheduler::cache::Snapshot;
use crate::scheduler::framework::{
    ClusterEvent, CycleState, Filter, Plugin, PreScore, Score, Status,
};
use crate::scheduler::info::{NodeInfo, PodInfo};

/// True when `t` tolerates `taint`: same effect (or none given), and
/// `Exists` on the key (or on every key, with no key) or `Equal` on key
/// and value.
///
/// ```
/// use keelson::api::core::{Taint, Toleration};
/// use keelson::scheduler::plugins::tolerates;
///
/// let taint = Taint { key: "gpu".into(), value: "yes".into(), effect: "NoSchedule".into(), ..Default::default() };
/// let equal = Toleration { key: "gpu".into(), value: "yes".into(), ..Default::default() };
/// let exists = Toleration { operator: "Exists".into(), ..Default::default() };
/// let other = Toleration { key: "gpu".into(), value: "no".into(), ..Default::default() };
/// assert!(tolerates(&equal, &taint) && tolerates(&exists, &taint) && !tolerates(&other, &taint));
/// ```
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if !t.effect.is_empty() && t.effect != taint.effect {
        return false;
    }
    match t.operator.as_str() {
        "Exists" => t.key.is_empty() || t.key == taint.key,
        "" | "Equal" => t.key == taint.key && t.value == taint.value,
        _ => false,
    }
}

/// Filter + Score on taints and tolerations.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        super::TAINT_TOLERATION
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeUpdate]
    }
}

impl Filter for TaintToleration {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.has_hard_taints() {
            return Status::success();
        }
        let tolerations = &pod.pod.spec.tolerations;
        for taint in &node.node().spec.taints {
            if taint.effect != "NoSchedule" && taint.effect != "NoExecute" {
                continue;
            }
            if !tolerations.iter().any(|t| tolerates(t, taint)) {
                return Status::unresolvable(format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    taint.key, taint.value
                ));
            }
        }
        Status::success()
    }
}

#[derive(Clone)]
struct PreferTolerations(Vec<Toleration>);

impl PreScore for TaintToleration {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Status {
        let any_prefer = nodes.iter().any(|n| n.has_prefer_taints());
        if !any_prefer {
            return Status::skip();
        }
        let tols = pod
            .pod
            .spec
            .tolerations
            .iter()
            .filter(|t| t.effect.is_empty() || t.effect == "PreferNoSchedule")
            .cloned()
            .collect();
        state.write(PreferTolerations(tols));
        Status::success()
    }
}

impl Score for TaintToleration {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let empty = PreferTolerations(Vec::new());
        let tols = state.read::<PreferTolerations>().unwrap_or(&empty);
        Ok(node
            .node()
            .spec
            .taints
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !tols.0.iter().any(|x| tolerates(x, t)))
            .count() as i64)
    }

    /// Fewer intolerable taints is better: `100 - count * 100 / max`.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        super::normalize_reverse(scores);
        Status::success()
    }
}
