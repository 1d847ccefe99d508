//! `autoscaling`: the HorizontalPodAutoscaler, in its two served versions.
//!
//! - [`v2`] (the current one): scale a target between `minReplicas`
//!   (default one) and `maxReplicas` on any number of metrics (resource,
//!   container resource, pods, object, external) with `Utilization`, `Value`
//!   or `AverageValue` targets, and tune how fast it scales with `behavior`.
//! - [`v1`]: only a CPU utilization target (`targetCPUUtilizationPercentage`).
//!
//! The two convert into each other with `From`, as Kubernetes serves one
//! object in both versions: v1's CPU target is v2's `Resource` `cpu`
//! `Utilization` metric, and everything v1 cannot express travels in
//! annotations (see [`v1`]).
//!
//! ```
//! use keelson::api::autoscaling::{v1, v2};
//! use keelson::api::Resource;
//!
//! let hpa: v1::HorizontalPodAutoscaler = serde_json::from_str(r#"{
//!     "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
//!     "metadata": {"name": "php-apache", "namespace": "default"},
//!     "spec": {
//!         "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
//!         "maxReplicas": 10,
//!         "targetCPUUtilizationPercentage": 50
//!     }
//! }"#).unwrap();
//!
//! let mut v2 = v2::HorizontalPodAutoscaler::from(hpa.clone());
//! v2.apply_defaults();
//! assert_eq!(v2.spec.min_replicas, Some(1));
//! let cpu = v2.spec.metrics[0].resource.as_ref().unwrap();
//! assert_eq!((cpu.name.as_str(), cpu.target.average_utilization), ("cpu", Some(50)));
//! assert!(v2.validate().is_empty());
//!
//! let back = v1::HorizontalPodAutoscaler::from(v2);
//! assert_eq!(back.spec.target_cpu_utilization_percentage, Some(50));
//! ```
use serde::{Deserialize, Serialize};

use super::validation::{is_path_segment_name, ErrorList, FieldError, Path};
use super::Str;

pub mod v1;
pub mod v2;

/// A reference to the scaled object (or a metric's described object), in
/// any version of its kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossVersionObjectReference {
    /// The kind (`Deployment`).
    #[serde(default)]
    pub kind: Str,
    /// The name.
    #[serde(default)]
    pub name: Str,
    /// The `apiVersion` (`apps/v1`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
}

/// Validates a [`CrossVersionObjectReference`]: kind and name are required
/// path segments.
pub fn validate_cross_version_object_reference(
    reference: &CrossVersionObjectReference,
    path: &Path<'_>,
) -> ErrorList {
    let mut errors = ErrorList::new();
    for (field, value) in [("kind", &reference.kind), ("name", &reference.name)] {
        let field_path = path.child(field);
        if value.is_empty() {
            errors.push(FieldError::required(&field_path, ""));
        }
        for message in is_path_segment_name(value) {
            errors.push(FieldError::invalid(&field_path, value, message));
        }
    }
    errors
}

/// Validates the replica bounds shared by both versions.
fn validate_replicas(min: Option<i32>, max: i32, spec: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if let Some(min) = min {
        if min < 1 {
            errors.push(FieldError::invalid(
                &spec.child("minReplicas"),
                min,
                "must be greater than or equal to 1",
            ));
        }
    }
    let max_path = spec.child("maxReplicas");
    if max < 1 {
        errors.push(FieldError::invalid(
            &max_path,
            max,
            "must be greater than 0",
        ));
    }
    if let Some(min) = min {
        if max < min {
            errors.push(FieldError::invalid(
                &max_path,
                max,
                "must be greater than or equal to `minReplicas`",
            ));
        }
    }
    errors
}

/// Validates a status update: replica counts are non-negative.
fn validate_status_replicas(current: i32, desired: i32) -> ErrorList {
    let mut errors = ErrorList::new();
    let status = Path::root("status");
    for (field, value) in [("currentReplicas", current), ("desiredReplicas", desired)] {
        if value < 0 {
            errors.push(FieldError::invalid(
                &status.child(field),
                value,
                "must be greater than or equal to 0",
            ));
        }
    }
    errors
}
