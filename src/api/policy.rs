//! `policy/v1`: [`PodDisruptionBudget`] and [`Eviction`].
//!
//! A PodDisruptionBudget bounds how many of the pods its `selector` matches
//! may be down at once through voluntary disruptions (drains, evictions):
//! either `minAvailable` or `maxUnavailable`, as a count or a percentage (at
//! most one of the two). The disruption controller fills in its `status`;
//! the eviction endpoint (`POST pods/<name>/eviction` with an [`Eviction`]
//! body) refuses evictions that would break it. Neither kind has defaults in
//! `policy/v1`.
//!
//! ```
//! use keelson::api::policy::PodDisruptionBudget;
//! use keelson::api::Resource;
//!
//! let pdb: PodDisruptionBudget = serde_json::from_str(r#"{
//!     "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
//!     "metadata": {"name": "zk-pdb", "namespace": "default"},
//!     "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "zookeeper"}}}
//! }"#).unwrap();
//! assert!(pdb.validate().is_empty());
//!
//! let mut both = pdb.clone();
//! both.spec.min_available = Some(2.into());
//! assert_eq!(both.validate().iter().next().map(|e| e.field.as_str()), Some("spec"));
//! ```
use serde::{Deserialize, Serialize};

use super::intstr::{validate_int_or_percent, validate_percent_at_most_100, IntOrString};
use super::meta::DeleteOptions;
use super::resource::object;
use super::selector::validate_label_selector;
use super::serde_util::{is_default, nullable};
use super::validation::{ErrorList, ErrorType, FieldError, Path};
use super::{Condition, LabelSelector, SortedMap, Str, Time};

/// For [`PodDisruptionBudgetSpec::unhealthy_pod_eviction_policy`]: unhealthy
/// pods may be evicted only while the budget is met (the behaviour when
/// unset).
pub const IF_HEALTHY_BUDGET: &str = "IfHealthyBudget";
/// For [`PodDisruptionBudgetSpec::unhealthy_pod_eviction_policy`]: unhealthy
/// pods may always be evicted.
pub const ALWAYS_ALLOW: &str = "AlwaysAllow";

object! {
    /// A limit on voluntary disruptions of a set of pods.
    pub struct PodDisruptionBudget {
        /// The budget.
        spec: PodDisruptionBudgetSpec = "spec",
        /// The budget's current state, from the disruption controller.
        status: PodDisruptionBudgetStatus = "status",
    }
    resource {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        scope: Namespaced,
        short_names: ["pdb"],
        subresources: ["status"],
    }

    fn validate_fields(&self) -> ErrorList {
        validate_pdb_spec(&self.spec, &Path::root("spec"))
    }
}

object! {
    /// A request to evict a pod, subject to its disruption budgets: the body
    /// of `POST /api/v1/namespaces/<ns>/pods/<name>/eviction`, where
    /// `metadata.name` is the pod's.
    pub struct Eviction {
        /// How to delete the pod.
        delete_options: Option<DeleteOptions> = "deleteOptions",
    }
    resource {
        group: "policy",
        version: "v1",
        kind: "Eviction",
        plural: "evictions",
        scope: Namespaced,
    }

    fn validate_fields(&self) -> ErrorList {
        match &self.delete_options {
            Some(options) => validate_delete_options(options, &Path::root("deleteOptions")),
            None => ErrorList::new(),
        }
    }
}

/// The budget of a [`PodDisruptionBudget`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// How many (or what percentage) of the pods must stay available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    /// The pods the budget covers (an empty selector selects every pod of
    /// the namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// How many (or what percentage) of the pods may be unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// `IfHealthyBudget` or `AlwaysAllow`: when unhealthy pods may be evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_pod_eviction_policy: Option<Str>,
}

/// The observed state of a [`PodDisruptionBudget`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetStatus {
    /// The generation the controller last observed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub observed_generation: i64,
    /// Pods evicted but not yet gone, by name, with the eviction time.
    #[serde(default, skip_serializing_if = "SortedMap::is_empty")]
    pub disrupted_pods: SortedMap<Time>,
    /// How many more pods may be disrupted now.
    #[serde(default)]
    pub disruptions_allowed: i32,
    /// How many covered pods are healthy.
    #[serde(default)]
    pub current_healthy: i32,
    /// How many healthy pods the budget requires.
    #[serde(default)]
    pub desired_healthy: i32,
    /// How many pods the budget covers.
    #[serde(default)]
    pub expected_pods: i32,
    /// `DisruptionAllowed` and friends.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<Condition>,
}

fn validate_pdb_spec(spec: &PodDisruptionBudgetSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errors.push(FieldError::at(
            ErrorType::Invalid,
            path.to_string(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    if let Some(min) = &spec.min_available {
        let min_path = path.child("minAvailable");
        errors.extend(validate_int_or_percent(min, &min_path));
        errors.extend(validate_percent_at_most_100(min, &min_path));
    }
    if let Some(max) = &spec.max_unavailable {
        let max_path = path.child("maxUnavailable");
        errors.extend(validate_int_or_percent(max, &max_path));
        errors.extend(validate_percent_at_most_100(max, &max_path));
    }
    if let Some(selector) = &spec.selector {
        errors.extend(validate_label_selector(selector, &path.child("selector")));
    }
    if let Some(policy) = &spec.unhealthy_pod_eviction_policy {
        if policy != IF_HEALTHY_BUDGET && policy != ALWAYS_ALLOW {
            errors.push(FieldError::not_supported(
                &path.child("unhealthyPodEvictionPolicy"),
                policy,
                &[ALWAYS_ALLOW, IF_HEALTHY_BUDGET],
            ));
        }
    }
    errors
}

/// Validates a budget's status, as a write to the `status` subresource is.
pub fn validate_pdb_status(status: &PodDisruptionBudgetStatus) -> ErrorList {
    let mut errors = ErrorList::new();
    let root = Path::root("status");
    let counts = [
        ("disruptionsAllowed", status.disruptions_allowed),
        ("currentHealthy", status.current_healthy),
        ("desiredHealthy", status.desired_healthy),
        ("expectedPods", status.expected_pods),
    ];
    for (field, value) in counts {
        if value < 0 {
            errors.push(FieldError::invalid(
                &root.child(field),
                value,
                "must be greater than or equal to 0",
            ));
        }
    }
    let conditions = root.child("conditions");
    for (i, condition) in status.conditions.iter().enumerate() {
        let path = conditions.index(i);
        if condition.type_.is_empty() {
            errors.push(FieldError::required(&path.child("type"), ""));
        }
        if !matches!(condition.status.as_str(), "True" | "False" | "Unknown") {
            errors.push(FieldError::not_supported(
                &path.child("status"),
                &condition.status,
                &["False", "True", "Unknown"],
            ));
        }
    }
    errors
}

/// Validates delete options (of an eviction, or of a delete request).
pub fn validate_delete_options(options: &DeleteOptions, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if let Some(policy) = &options.propagation_policy {
        let policy_path = path.child("propagationPolicy");
        if options.orphan_dependents.is_some() {
            errors.push(FieldError::invalid(
                &policy_path,
                policy,
                "orphanDependents and deletionPropagation cannot be both set",
            ));
        }
        if !matches!(policy.as_str(), "Background" | "Foreground" | "Orphan") {
            errors.push(FieldError::not_supported(
                &policy_path,
                policy,
                &["Background", "Foreground", "Orphan"],
            ));
        }
    }
    let dry_run = path.child("dryRun");
    for (i, value) in options.dry_run.iter().enumerate() {
        if value != "All" {
            errors.push(FieldError::not_supported(
                &dry_run.index(i),
                value,
                &["All"],
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ObjectMeta, Resource};
    use serde_json::{json, Value};

    fn fields(errors: &ErrorList) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn round_trips() {
        let value = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "zk-pdb", "namespace": "default", "generation": 3},
            "spec": {
                "minAvailable": 2,
                "selector": {"matchLabels": {"app": "zookeeper"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]},
                "unhealthyPodEvictionPolicy": "AlwaysAllow"
            },
            "status": {
                "observedGeneration": 3,
                "disruptedPods": {"zk-1": "2024-05-01T10:00:00Z"},
                "disruptionsAllowed": 0,
                "currentHealthy": 2,
                "desiredHealthy": 2,
                "expectedPods": 3,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": "False", "observedGeneration": 3,
                    "lastTransitionTime": "2024-05-01T10:00:00Z", "reason": "InsufficientPods", "message": ""
                }]
            }
        });
        let pdb: PodDisruptionBudget = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&pdb).unwrap(), value);
        assert!(pdb.validate().is_empty());
        assert!(validate_pdb_status(&pdb.status).is_empty());

        let percent = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"maxUnavailable": "25%", "selector": {}}
        });
        let pdb: PodDisruptionBudget = serde_json::from_value(percent.clone()).unwrap();
        assert_eq!(serde_json::to_value(&pdb).unwrap(), percent);
        assert_eq!(pdb.spec.max_unavailable, Some(IntOrString::from("25%")));

        let eviction = json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "quux", "namespace": "default"},
            "deleteOptions": {
                "gracePeriodSeconds": 30,
                "preconditions": {"uid": "8b3c6f3a", "resourceVersion": "42"},
                "propagationPolicy": "Background",
                "dryRun": ["All"]
            }
        });
        let ev: Eviction = serde_json::from_value(eviction.clone()).unwrap();
        assert_eq!(serde_json::to_value(&ev).unwrap(), eviction);
        assert!(ev.validate().is_empty());
    }

    #[test]
    fn no_defaults() {
        let mut pdb: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"}, "spec": {"minAvailable": 1}
        }))
        .unwrap();
        let before = pdb.clone();
        pdb.apply_defaults();
        assert_eq!(pdb, before);
    }

    #[test]
    fn spec_validation() {
        let cases: &[(Value, &[&str])] = &[
            (json!({}), &[]),
            (json!({"minAvailable": 0}), &[]),
            (json!({"minAvailable": "100%"}), &[]),
            (json!({"minAvailable": 1, "maxUnavailable": 1}), &["spec"]),
            (json!({"minAvailable": -1}), &["spec.minAvailable"]),
            (json!({"minAvailable": "101%"}), &["spec.minAvailable"]),
            (
                json!({"maxUnavailable": "99999999999%"}),
                &["spec.maxUnavailable"],
            ),
            (json!({"maxUnavailable": "half"}), &["spec.maxUnavailable"]),
            (json!({"maxUnavailable": "%"}), &["spec.maxUnavailable"]),
            (
                json!({"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "Never"}),
                &["spec.unhealthyPodEvictionPolicy"],
            ),
        ];
        for (spec, want) in cases {
            let pdb = PodDisruptionBudget {
                metadata: ObjectMeta::namespaced("ns", "p"),
                spec: serde_json::from_value(spec.clone()).unwrap(),
                status: PodDisruptionBudgetStatus::default(),
            };
            let errors = pdb.validate();
            assert_eq!(&fields(&errors), want, "{spec}: {errors}");
        }
        let both = PodDisruptionBudget {
            metadata: ObjectMeta::namespaced("ns", "p"),
            spec: serde_json::from_value(json!({"minAvailable": 1, "maxUnavailable": 1})).unwrap(),
            status: PodDisruptionBudgetStatus::default(),
        };
        assert_eq!(
            both.validate().to_string(),
            "spec: Invalid value: minAvailable and maxUnavailable cannot be both set"
        );
    }

    #[test]
    fn status_and_eviction_validation() {
        let status = PodDisruptionBudgetStatus {
            disruptions_allowed: -1,
            expected_pods: -2,
            conditions: vec![Condition {
                type_: "DisruptionAllowed".into(),
                status: "Maybe".into(),
                ..Condition::default()
            }],
            ..PodDisruptionBudgetStatus::default()
        };
        assert_eq!(
            fields(&validate_pdb_status(&status)),
            [
                "status.disruptionsAllowed",
                "status.expectedPods",
                "status.conditions[0].status"
            ]
        );

        let cases: &[(Value, &[&str])] = &[
            (json!({"propagationPolicy": "Foreground"}), &[]),
            (
                json!({"propagationPolicy": "Sideways"}),
                &["deleteOptions.propagationPolicy"],
            ),
            (
                json!({"propagationPolicy": "Orphan", "orphanDependents": true}),
                &["deleteOptions.propagationPolicy"],
            ),
            (
                json!({"dryRun": ["All", "Some"]}),
                &["deleteOptions.dryRun[1]"],
            ),
        ];
        for (options, want) in cases {
            let eviction = Eviction {
                metadata: ObjectMeta::namespaced("ns", "pod"),
                delete_options: Some(serde_json::from_value(options.clone()).unwrap()),
            };
            let errors = eviction.validate();
            assert_eq!(&fields(&errors), want, "{options}: {errors}");
        }
    }
}
