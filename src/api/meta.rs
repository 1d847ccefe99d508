//! Object and list metadata: `metadata` of every object (`ObjectMeta`),
//! `apiVersion`/`kind` (`TypeMeta`), and `metadata` of lists (`ListMeta`).
//!
//! Field names and omission rules follow Kubernetes' JSON exactly, so a
//! decoded and re-encoded object equals its input.
//!
//! ```
//! use keelson::api::ObjectMeta;
//!
//! let meta: ObjectMeta = serde_json::from_str(
//!     r#"{"name":"web","namespace":"default","labels":{"app":"web"}}"#,
//! ).unwrap();
//! assert_eq!(meta.labels.get_str("app"), Some("web"));
//! assert_eq!(
//!     serde_json::to_string(&meta).unwrap(),
//!     r#"{"name":"web","namespace":"default","labels":{"app":"web"}}"#
//! );
//! ```
use serde::{Deserialize, Serialize};

use super::serde_util::{is_default, nullable};
use super::{Str, StringMap, Time};

/// `apiVersion` and `kind`, as they appear at the top of every object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMeta {
    /// `group/version`, or just `version` for the core group (`v1`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
    /// The kind, such as `Pod`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub kind: Str,
}

impl TypeMeta {
    /// The group part of `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        split_api_version(&self.api_version).0
    }

    /// The version part of `apiVersion`.
    pub fn version(&self) -> &str {
        split_api_version(&self.api_version).1
    }
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// The metadata every persisted object has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Unique within a namespace (and kind); DNS-1123 rules per kind.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// A prefix the server completes with a random suffix when `name` is empty.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub generate_name: Str,
    /// The namespace; empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub namespace: Str,
    /// Deprecated self link, kept for round trips.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub self_link: Str,
    /// Unique in time and space; set by the server.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub uid: Str,
    /// The store revision of the last write; opaque to clients.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub resource_version: Str,
    /// Incremented on every change of the desired state (spec).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub generation: i64,
    /// When the object was created; set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
    /// When graceful deletion started; set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Time>,
    /// The grace period of a pending deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    /// Identifying key/value pairs used by selectors.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub labels: StringMap,
    /// Non-identifying key/value pairs.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub annotations: StringMap,
    /// The objects this one depends on (garbage collection).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub owner_references: Vec<OwnerReference>,
    /// Conditions that must be cleared before the object is removed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub finalizers: Vec<Str>,
    /// Which field manager owns which fields (server-side apply).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

impl ObjectMeta {
    /// Metadata with just a name.
    pub fn named(name: impl Into<Str>) -> Self {
        ObjectMeta {
            name: name.into(),
            ..ObjectMeta::default()
        }
    }

    /// Metadata with a namespace and a name.
    pub fn namespaced(namespace: impl Into<Str>, name: impl Into<Str>) -> Self {
        ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            ..ObjectMeta::default()
        }
    }

    /// The owner reference marked `controller: true`, if any.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
    }

    /// True when deletion has started.
    pub fn is_deleting(&self) -> bool {
        self.deletion_timestamp.is_some()
    }

    /// True when `finalizer` is present.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
}

/// A reference from a dependent to its owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// The owner's `apiVersion`.
    #[serde(default)]
    pub api_version: Str,
    /// The owner's kind.
    #[serde(default)]
    pub kind: Str,
    /// The owner's name.
    #[serde(default)]
    pub name: Str,
    /// The owner's uid.
    #[serde(default)]
    pub uid: Str,
    /// True when the owner is the managing controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    /// With foreground deletion, the owner waits for this dependent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

/// One field manager's ownership record (server-side apply).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFieldsEntry {
    /// The manager's name, such as `kubectl-client-side-apply`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub manager: Str,
    /// `Apply` or `Update`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub operation: Str,
    /// The `apiVersion` the fields were written in.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
    /// When the entry last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// Always `FieldsV1`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub fields_type: Str,
    /// The owned field set, in the `FieldsV1` trie format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields_v1: Option<serde_json::Value>,
    /// The subresource written, if any.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub subresource: Str,
}

/// The body of a delete request (`metav1.DeleteOptions`), also carried by an
/// `Eviction`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    /// `DeleteOptions` when sent on its own.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub kind: Str,
    /// `v1` (or the group version of the request) when sent on its own.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
    /// Seconds before the object is deleted; `0` deletes immediately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    /// Conditions that must hold for the delete to proceed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Preconditions>,
    /// Deprecated: use `propagationPolicy: Orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_dependents: Option<bool>,
    /// `Orphan`, `Background` or `Foreground`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_policy: Option<Str>,
    /// `All` to process the request without persisting it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dry_run: Vec<Str>,
}

/// Preconditions of a delete: the object must still have this uid and/or
/// resource version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// The expected uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<Str>,
    /// The expected resource version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<Str>,
}

/// Metadata of a list response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// Deprecated self link, kept for round trips.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub self_link: Str,
    /// The revision the list was read at; watch from here.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub resource_version: Str,
    /// Present when more items remain: pass it as `continue`.
    #[serde(default, rename = "continue", skip_serializing_if = "str::is_empty")]
    pub continue_token: Str,
    /// How many items remain after this page, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<i64>,
}

/// A list of objects, as `PodList`: `{"apiVersion","kind","metadata","items"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    /// The list's `apiVersion` (that of its items).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
    /// The list kind, such as `PodList`, or `List` for a mixed list.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub kind: Str,
    /// Revision and continuation.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects.
    #[serde(
        default = "Vec::new",
        deserialize_with = "nullable",
        bound(deserialize = "T: Deserialize<'de>")
    )]
    pub items: Vec<T>,
}

/// A condition of an object's status in the standard `metav1.Condition`
/// shape (Service status, PodDisruptionBudget status, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition's type, in CamelCase (`Available`).
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// The `metadata.generation` the condition was set for.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub observed_generation: i64,
    /// When the status last changed.
    #[serde(default)]
    pub last_transition_time: Option<Time>,
    /// A CamelCase reason for the last transition.
    #[serde(default)]
    pub reason: Str,
    /// A human-readable message.
    #[serde(default)]
    pub message: Str,
}
