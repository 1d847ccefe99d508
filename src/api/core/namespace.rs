//! [`Namespace`]: the scope for names of namespaced objects.
//!
//! Defaulting does what the API server does on create: the
//! `kubernetes.io/metadata.name` label, the `kubernetes` finalizer (the
//! namespace controller empties the namespace before removing it) and
//! phase `Active`.
use serde::{Deserialize, Serialize};

use crate::api::resource::object;
use crate::api::serde_util::nullable;
use crate::api::validation::{is_qualified_name, ErrorList, FieldError, Path};
use crate::api::{Str, Time};

/// `Active`: the namespace accepts new objects.
pub const PHASE_ACTIVE: &str = "Active";
/// `Terminating`: the namespace is being deleted.
pub const PHASE_TERMINATING: &str = "Terminating";
/// The finalizer that keeps a namespace until its content is gone.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
/// The label every namespace carries with its own name.
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";
/// Finalizer names that need no domain prefix.
pub const STANDARD_FINALIZERS: &[&str] = &[FINALIZER_KUBERNETES, "orphan", "foregroundDeletion"];

object! {
    /// A scope for names.
    pub struct Namespace {
        /// The desired behaviour (finalizers).
        spec: NamespaceSpec = "spec",
        /// The observed state (phase, conditions).
        status: NamespaceStatus = "status",
    }
    resource {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        scope: Cluster,
        short_names: ["ns"],
        name_rule: Label,
        subresources: ["status", "finalize"],
    }

    fn apply_defaults(&mut self) {
        if !self.metadata.name.is_empty() {
            self.metadata.labels.insert(LABEL_METADATA_NAME, self.metadata.name.clone());
        }
        if self.spec.finalizers.is_empty() {
            self.spec.finalizers.push(Str::from_static(FINALIZER_KUBERNETES));
        }
        if self.status.phase.is_empty() {
            self.status.phase = Str::from_static(PHASE_ACTIVE);
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        let finalizers = spec.child("finalizers");
        for (i, f) in self.spec.finalizers.iter().enumerate() {
            validate_finalizer_name(f, &finalizers.index(i), &mut errors);
        }
        let status = Path::root("status");
        let phase = &self.status.phase;
        if !phase.is_empty() && phase != PHASE_ACTIVE && phase != PHASE_TERMINATING {
            errors.push(FieldError::not_supported(
                &status.child("phase"),
                phase,
                &[PHASE_ACTIVE, PHASE_TERMINATING],
            ));
        }
        errors
    }
}

/// The desired behaviour of a [`Namespace`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    /// What must happen before the namespace is removed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub finalizers: Vec<Str>,
}

/// The observed state of a [`Namespace`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub phase: Str,
    /// The namespace's conditions (deletion problems).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<NamespaceCondition>,
}

/// A condition of a [`Namespace`], such as `NamespaceDeletionContentFailure`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceCondition {
    /// The condition's type.
    #[serde(rename = "type", default)]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A CamelCase reason.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

/// Checks a finalizer name: a qualified name, and either one of
/// [`STANDARD_FINALIZERS`] or domain-prefixed (`example.com/cleanup`).
pub fn validate_finalizer_name(name: &str, path: &Path<'_>, errors: &mut ErrorList) {
    let problems = is_qualified_name(name);
    if problems.is_empty() && !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errors.push(FieldError::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    for msg in problems {
        errors.push(FieldError::invalid(path, name, msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    #[test]
    fn round_trip() {
        let json = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","uid":"u-1","creationTimestamp":"2024-01-01T00:00:00Z","deletionTimestamp":"2024-01-02T00:00:00Z","labels":{"kubernetes.io/metadata.name":"shop"}},
          "spec":{"finalizers":["kubernetes"]},
          "status":{"phase":"Terminating","conditions":[{"type":"NamespaceDeletionContentFailure","status":"True","lastTransitionTime":"2024-01-02T00:00:05Z","reason":"ContentDeletionFailed","message":"failed to delete pods"}]}}"#;
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let ns: Namespace = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&ns).unwrap(), value);
        assert!(ns.validate().is_empty(), "{}", ns.validate());
        assert_eq!(Namespace::SHORT_NAMES, ["ns"]);
        assert!(!Namespace::SCOPE.is_namespaced());
    }

    #[test]
    fn defaults() {
        let mut ns: Namespace = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}"#,
        )
        .unwrap();
        ns.apply_defaults();
        assert_eq!(
            serde_json::to_string(&ns).unwrap(),
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev","labels":{"kubernetes.io/metadata.name":"dev"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}"#
        );
        assert!(ns.validate().is_empty());
    }

    #[test]
    fn validation_table() {
        type Edit = fn(&mut Namespace);
        let cases: &[(&str, Edit, &str)] = &[
            ("subdomain name", |n| n.metadata.name = "a.b".into(), "metadata.name: Invalid value: \"a.b\""),
            ("namespace set", |n| n.metadata.namespace = "default".into(), "metadata.namespace: Forbidden"),
            ("unqualified finalizer", |n| n.spec.finalizers = vec!["cleanup".into()],
                "spec.finalizers[0]: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"),
            ("bad finalizer", |n| n.spec.finalizers = vec!["example.com/".into()], "spec.finalizers[0]: Invalid value: \"example.com/\""),
            ("bad phase", |n| n.status.phase = "Gone".into(), "status.phase: Unsupported value: \"Gone\""),
        ];
        for (what, edit, want) in cases {
            let mut ns = Namespace {
                metadata: crate::api::ObjectMeta::named("dev"),
                ..Namespace::default()
            };
            ns.apply_defaults();
            edit(&mut ns);
            let errors = ns.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
    }
}
