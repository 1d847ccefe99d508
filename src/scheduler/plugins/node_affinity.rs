//! NodeAffinity: `spec.nodeSelector` and required node affinity filter
//! nodes; preferred node affinity terms score them.
use crate::api::core::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use crate::api::{Str, StringMap};
use crate::scheduler::cache::Snapshot;
use crate::scheduler::framework::{
    ClusterEvent, CycleState, Filter, Plugin, PreFilter, PreScore, Score, Status,
};
use crate::scheduler::info::{NodeInfo, PodInfo};

#[derive(Clone, Debug)]
enum Op {
    In(Vec<Str>),
    NotIn(Vec<Str>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug)]
struct Req {
    key: Str,
    op: Op,
}

impl Req {
    fn parse(r: &NodeSelectorRequirement) -> Result<Req, String> {
        let int = || -> Result<i64, String> {
            match r.values.as_slice() {
                [v] => v
                    .parse::<i64>()
                    .map_err(|_| format!("invalid value {v:?} for operator {}", r.operator)),
                _ => Err(format!("operator {} needs exactly one value", r.operator)),
            }
        };
        let op = match r.operator.as_str() {
            "In" => Op::In(r.values.clone()),
            "NotIn" => Op::NotIn(r.values.clone()),
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt(int()?),
            "Lt" => Op::Lt(int()?),
            other => return Err(format!("{other:?} is not a valid node selector operator")),
        };
        Ok(Req {
            key: r.key.clone(),
            op,
        })
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match &self.op {
            Op::In(vs) => value.is_some_and(|v| vs.iter().any(|x| x == v)),
            Op::NotIn(vs) => !value.is_some_and(|v| vs.iter().any(|x| x == v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt(n) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Op::Lt(n) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        }
    }
}

/// A parsed node selector term: label expressions and `metadata.name`
/// field expressions, all of which must match.
#[derive(Clone, Debug)]
pub struct NodeTerm {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

impl NodeTerm {
    /// Parses a term; an unknown operator is an error.
    pub fn parse(t: &NodeSelectorTerm) -> Result<NodeTerm, String> {
        Ok(NodeTerm {
            labels: t
                .match_expressions
                .iter()
                .map(Req::parse)
                .collect::<Result<_, _>>()?,
            fields: t
                .match_fields
                .iter()
                .map(|r| {
                    if r.key != "metadata.name" {
                        return Err(format!("{:?} is not a supported node field", r.key));
                    }
                    Req::parse(r)
                })
                .collect::<Result<_, _>>()?,
        })
    }

    /// True when the node matches (an empty term matches nothing).
    pub fn matches(&self, name: &str, labels: &StringMap) -> bool {
        if self.labels.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.labels
            .iter()
            .all(|r| r.matches(labels.get_str(&r.key)))
            && self.fields.iter().all(|r| r.matches(Some(name)))
    }
}

/// A parsed [`NodeSelector`]: its terms are ORed.
#[derive(Clone, Debug)]
pub struct NodeSelectorMatcher {
    terms: Vec<NodeTerm>,
}

impl NodeSelectorMatcher {
    /// Parses a selector.
    pub fn parse(s: &NodeSelector) -> Result<Self, String> {
        Ok(NodeSelectorMatcher {
            terms: s
                .node_selector_terms
                .iter()
                .map(NodeTerm::parse)
                .collect::<Result<_, _>>()?,
        })
    }

    /// True when any term matches.
    pub fn matches(&self, name: &str, labels: &StringMap) -> bool {
        self.terms.iter().any(|t| t.matches(name, labels))
    }
}

/// What a pod requires of a node's labels: `nodeSelector` and the required
/// node affinity.
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    selector: StringMap,
    required: Option<NodeSelectorMatcher>,
}

impl RequiredNodeAffinity {
    /// The pod's requirements.
    pub fn of(pod: &PodInfo) -> Result<Self, String> {
        let required = pod
            .pod
            .spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(NodeSelectorMatcher::parse)
            .transpose()?;
        Ok(RequiredNodeAffinity {
            selector: pod.pod.spec.node_selector.clone(),
            required,
        })
    }

    /// True when the pod asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.selector.is_empty() && self.required.is_none()
    }

    /// True when the node satisfies both.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        let labels = node.labels();
        self.selector.is_subset_of(labels)
            && self
                .required
                .as_ref()
                .is_none_or(|r| r.matches(node.name(), labels))
    }
}

/// Filter on `nodeSelector` and required node affinity; Score on
/// preferred node affinity.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeAffinity;

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        super::NODE_AFFINITY
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeUpdate]
    }
}

#[derive(Clone)]
/// The pod's requirement and a hash naming it, for the nodes' remembered
/// verdicts ([`NodeInfo::verdict`]).
struct Required(RequiredNodeAffinity, u64);

impl PreFilter for NodeAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _snapshot: &Snapshot) -> Status {
        match RequiredNodeAffinity::of(pod) {
            Err(e) => Status::unresolvable(e),
            Ok(r) if r.is_empty() => Status::skip(),
            Ok(r) => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                "NodeAffinity/required".hash(&mut h);
                format!("{r:?}").hash(&mut h);
                let question = h.finish();
                state.write(Required(r, question));
                Status::success()
            }
        }
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let ok = match state.read::<Required>() {
            Some(r) => node.verdict(r.1, |n| r.0.matches(n)),
            None => RequiredNodeAffinity::of(pod).is_ok_and(|r| r.matches(node)),
        };
        if ok {
            Status::success()
        } else {
            Status::unresolvable("node(s) didn't match Pod's node affinity/selector")
        }
    }
}

#[derive(Clone)]
struct Preferred(Vec<(NodeTerm, i64)>);

impl PreScore for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
        _nodes: &[&NodeInfo],
    ) -> Status {
        let terms = pod
            .pod
            .spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .map(|na| {
                na.preferred_during_scheduling_ignored_during_execution
                    .as_slice()
            })
            .unwrap_or(&[]);
        if terms.is_empty() {
            return Status::skip();
        }
        let mut parsed = Vec::new();
        for t in terms {
            match NodeTerm::parse(&t.preference) {
                Ok(p) => parsed.push((p, t.weight as i64)),
                Err(e) => return Status::error(e),
            }
        }
        state.write(Preferred(parsed));
        Status::success()
    }
}

impl Score for NodeAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(p) = state.read::<Preferred>() else {
            return Ok(0);
        };
        Ok(p.0
            .iter()
            .filter(|(t, _)| t.matches(node.name(), node.labels()))
            .map(|(_, w)| *w)
            .sum())
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        super::normalize_to_max(scores);
        Status::success()
    }
}
