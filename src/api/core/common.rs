//! Types shared by several core/v1 kinds: resource requirements, node
//! selectors, taints and tolerations, object references.
use serde::{Deserialize, Serialize};

use crate::api::serde_util::nullable_vec;
use crate::api::{ResourceList, Str, Time};

/// Compute resources a container (or claim) asks for and is limited to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// The most it may use.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub limits: ResourceList,
    /// What the scheduler reserves for it.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub requests: ResourceList,
    /// Dynamic resource claims used by the container.
    #[serde(
        default,
        deserialize_with = "nullable_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub claims: Vec<ResourceClaim>,
}

/// A reference to one of the pod's resource claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceClaim {
    /// The claim's name in `spec.resourceClaims`.
    #[serde(default)]
    pub name: Str,
    /// The request within the claim.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub request: Str,
}

/// Node selector terms, ORed: a node matches if any term matches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    /// The terms.
    #[serde(default, deserialize_with = "nullable_vec")]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

/// Requirements ANDed together.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    #[serde(
        default,
        deserialize_with = "nullable_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields (`metadata.name`).
    #[serde(
        default,
        deserialize_with = "nullable_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_fields: Vec<NodeSelectorRequirement>,
}

/// `key operator values`, with operators `In`, `NotIn`, `Exists`,
/// `DoesNotExist`, `Gt`, `Lt`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    /// The label key (or field name).
    #[serde(default)]
    pub key: Str,
    /// The operator.
    #[serde(default)]
    pub operator: Str,
    /// The values.
    #[serde(
        default,
        deserialize_with = "nullable_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<Str>,
}

/// Lets a pod run on nodes with a matching taint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// The taint key; empty with `Exists` tolerates everything.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub key: Str,
    /// `Equal` (default) or `Exists`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub operator: Str,
    /// The taint value for `Equal`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub value: Str,
    /// `NoSchedule`, `PreferNoSchedule`, `NoExecute`, or empty for all.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub effect: Str,
    /// For `NoExecute`: how long the pod stays after the taint appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// A node's taint: pods without a matching toleration are kept away.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// The key.
    #[serde(default)]
    pub key: Str,
    /// The value.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub value: Str,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(default)]
    pub effect: Str,
    /// When a `NoExecute` taint was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<Time>,
}

/// A reference to any object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// The kind.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub kind: Str,
    /// The namespace.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub namespace: Str,
    /// The name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The uid.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub uid: Str,
    /// The `apiVersion`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
    /// The resource version seen.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub resource_version: Str,
    /// A field within the object, such as `spec.containers{web}`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub field_path: Str,
}

/// A reference by name to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// The name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
}

/// A reference by group, kind and name to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedLocalObjectReference {
    /// The API group; absent for the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<Str>,
    /// The kind.
    #[serde(default)]
    pub kind: Str,
    /// The name.
    #[serde(default)]
    pub name: Str,
}
