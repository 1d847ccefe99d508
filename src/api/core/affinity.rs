//! Scheduling constraints of a pod: [`Affinity`] (node affinity, pod
//! affinity and anti-affinity) and [`TopologySpreadConstraint`].
use serde::{Deserialize, Serialize};

use super::{NodeSelector, NodeSelectorTerm};
use crate::api::serde_util::nullable;
use crate::api::{LabelSelector, Str};

/// `whenUnsatisfiable`: do not schedule.
pub const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
/// `whenUnsatisfiable`: schedule anyway, preferring less skew.
pub const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";

/// Where a pod may and prefers to run, relative to nodes and other pods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    /// Constraints on node labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// Run near pods matching these terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinity>,
    /// Run away from pods matching these terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAntiAffinity>,
}

/// Node affinity: hard requirements and weighted preferences.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    /// Nodes must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Nodes matching score higher.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
}

/// A weighted node preference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredSchedulingTerm {
    /// 1–100.
    #[serde(default, deserialize_with = "nullable")]
    pub weight: i32,
    /// The term.
    #[serde(default, deserialize_with = "nullable")]
    pub preference: NodeSelectorTerm,
}

/// Pod affinity: co-locate with matching pods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinity {
    /// Every term must be satisfied.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Satisfied terms add their weight.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

/// Pod anti-affinity: keep away from matching pods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAntiAffinity {
    /// Every term must be satisfied.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Satisfied terms add their weight.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

/// Pods matching `labelSelector` in `namespaces`, within a topology domain
/// (`topologyKey`, as `kubernetes.io/hostname`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityTerm {
    /// Which pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// In which namespaces (the pod's own when empty and no selector).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub namespaces: Vec<Str>,
    /// The node label that defines a domain.
    #[serde(default)]
    pub topology_key: Str,
    /// Namespaces by label, added to `namespaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Label keys whose values (from the incoming pod) are ANDed into the selector.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_label_keys: Vec<Str>,
    /// Label keys whose values must differ.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mismatch_label_keys: Vec<Str>,
}

/// A weighted pod affinity term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedPodAffinityTerm {
    /// 1–100.
    #[serde(default, deserialize_with = "nullable")]
    pub weight: i32,
    /// The term.
    #[serde(default, deserialize_with = "nullable")]
    pub pod_affinity_term: PodAffinityTerm,
}

/// Spread matching pods evenly across topology domains.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    /// The largest allowed difference in matching pods between domains.
    #[serde(default, deserialize_with = "nullable")]
    pub max_skew: i32,
    /// The node label that defines a domain.
    #[serde(default)]
    pub topology_key: Str,
    /// `DoNotSchedule` or `ScheduleAnyway`.
    #[serde(default)]
    pub when_unsatisfiable: Str,
    /// Which pods are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// The fewest eligible domains (with `DoNotSchedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_domains: Option<i32>,
    /// `Honor` or `Ignore` node affinity when counting domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity_policy: Option<Str>,
    /// `Honor` or `Ignore` node taints when counting domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_taints_policy: Option<Str>,
    /// Label keys whose values (from the incoming pod) are ANDed into the selector.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_label_keys: Vec<Str>,
}
