//! `autoscaling/v1`: the [`HorizontalPodAutoscaler`] with a CPU target only,
//! and its conversion to and from [`v2`] (see below).
//!
//! Conversion follows Kubernetes: v1's `targetCPUUtilizationPercentage` is
//! v2's `Resource` `cpu` `Utilization` metric (and a v1 object without one
//! gets v2's default of 80%); `currentCPUUtilizationPercentage` is the
//! matching entry of `currentMetrics`. What v1 cannot express travels in
//! annotations of the v1 object, which converting back reads and removes:
//!
//! | annotation | holds |
//! |---|---|
//! | [`METRICS_ANNOTATION`] | the v2 metrics other than the CPU utilization one |
//! | [`CURRENT_METRICS_ANNOTATION`] | `status.currentMetrics`, unless it is just the CPU utilization |
//! | [`CONDITIONS_ANNOTATION`] | `status.conditions` |
//! | [`BEHAVIOR_ANNOTATION`] | `spec.behavior` |
//!
//! A lighter version than Kubernetes': the annotations hold JSON in the
//! **v2** shapes (Kubernetes writes the metrics in the older v2beta1-style
//! shapes with `targetAverageValue` and friends), so a v2 → v1 → v2 round trip
//! through keelson is lossless, but annotations written by a Kubernetes API
//! server are not read. An annotation that does not decode is left in place
//! rather than failing the conversion.
use serde::{Deserialize, Serialize};

use super::v2;
use super::{validate_cross_version_object_reference, CrossVersionObjectReference};
use crate::api::resource::object;
use crate::api::validation::{ErrorList, FieldError, Path};
use crate::api::Time;

/// Annotation holding the v2 metrics v1 cannot express.
pub const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// Annotation holding the v2 `status.currentMetrics`.
pub const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// Annotation holding the v2 `status.conditions`.
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// Annotation holding the v2 `spec.behavior`.
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

object! {
    /// Scales a workload's replicas to keep its CPU utilization at a target.
    pub struct HorizontalPodAutoscaler {
        /// The desired behavior.
        spec: HorizontalPodAutoscalerSpec = "spec",
        /// The current state, from the autoscaler controller.
        status: HorizontalPodAutoscalerStatus = "status",
    }
    resource {
        group: "autoscaling",
        version: "v1",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        scope: Namespaced,
        short_names: ["hpa"],
        categories: ["all"],
        subresources: ["status"],
    }

    fn apply_defaults(&mut self) {
        if self.spec.min_replicas.is_none() {
            self.spec.min_replicas = Some(1);
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let spec = Path::root("spec");
        let mut errors = super::validate_replicas(self.spec.min_replicas, self.spec.max_replicas, &spec);
        errors.extend(validate_cross_version_object_reference(
            &self.spec.scale_target_ref,
            &spec.child("scaleTargetRef"),
        ));
        if let Some(target) = self.spec.target_cpu_utilization_percentage {
            if target < 1 {
                errors.push(FieldError::invalid(
                    &spec.child("targetCPUUtilizationPercentage"),
                    target,
                    "must be greater than 0",
                ));
            }
        }
        errors
    }
}

impl HorizontalPodAutoscaler {
    /// Validates a write to the `status` subresource.
    pub fn validate_status_update(&self, old: &Self) -> ErrorList {
        let mut errors =
            crate::api::validation::validate_object_meta_update(&self.metadata, &old.metadata);
        errors.extend(super::validate_status_replicas(
            self.status.current_replicas,
            self.status.desired_replicas,
        ));
        errors
    }
}

/// The desired behavior of a v1 [`HorizontalPodAutoscaler`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerSpec {
    /// The workload scaled.
    #[serde(default)]
    pub scale_target_ref: CrossVersionObjectReference,
    /// The fewest replicas (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// The most replicas.
    #[serde(default)]
    pub max_replicas: i32,
    /// The target average CPU utilization, in percent of requests (the
    /// controller uses 80 when unset).
    #[serde(
        default,
        rename = "targetCPUUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_cpu_utilization_percentage: Option<i32>,
}

/// The observed state of a v1 [`HorizontalPodAutoscaler`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerStatus {
    /// The generation the controller last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the target was last scaled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,
    /// The target's current replicas.
    #[serde(default)]
    pub current_replicas: i32,
    /// The replicas the autoscaler wants.
    #[serde(default)]
    pub desired_replicas: i32,
    /// The current average CPU utilization, in percent of requests.
    #[serde(
        default,
        rename = "currentCPUUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_cpu_utilization_percentage: Option<i32>,
}

impl From<v2::HorizontalPodAutoscaler> for HorizontalPodAutoscaler {
    fn from(hpa: v2::HorizontalPodAutoscaler) -> Self {
        let v2::HorizontalPodAutoscaler {
            mut metadata,
            spec,
            status,
        } = hpa;
        let mut target_cpu = None;
        let mut other = Vec::new();
        for metric in spec.metrics {
            match metric.as_cpu_utilization() {
                Some(percent) if target_cpu.is_none() => target_cpu = Some(percent),
                _ => other.push(metric),
            }
        }
        let current_cpu = status.current_metrics.iter().find_map(|m| {
            let resource = m.resource.as_ref()?;
            if m.r#type == v2::RESOURCE && resource.name == "cpu" {
                resource.current.average_utilization
            } else {
                None
            }
        });
        let annotations = &mut metadata.annotations;
        let mut put = |key: &str, json: Result<String, serde_json::Error>| {
            // Serializing these plain structs cannot fail; skip if it ever did.
            if let Ok(json) = json {
                annotations.insert(key, json);
            }
        };
        if !other.is_empty() {
            put(METRICS_ANNOTATION, serde_json::to_string(&other));
        }
        // Kubernetes always saves them; we skip what v1 alone restores.
        if !status.current_metrics.is_empty()
            && status.current_metrics != cpu_current_metrics(current_cpu)
        {
            put(
                CURRENT_METRICS_ANNOTATION,
                serde_json::to_string(&status.current_metrics),
            );
        }
        if !status.conditions.is_empty() {
            put(
                CONDITIONS_ANNOTATION,
                serde_json::to_string(&status.conditions),
            );
        }
        if let Some(behavior) = &spec.behavior {
            put(BEHAVIOR_ANNOTATION, serde_json::to_string(behavior));
        }
        HorizontalPodAutoscaler {
            metadata,
            spec: HorizontalPodAutoscalerSpec {
                scale_target_ref: spec.scale_target_ref,
                min_replicas: spec.min_replicas,
                max_replicas: spec.max_replicas,
                target_cpu_utilization_percentage: target_cpu,
            },
            status: HorizontalPodAutoscalerStatus {
                observed_generation: status.observed_generation,
                last_scale_time: status.last_scale_time,
                current_replicas: status.current_replicas,
                desired_replicas: status.desired_replicas,
                current_cpu_utilization_percentage: current_cpu,
            },
        }
    }
}

/// The v2 current metrics a v1 CPU utilization stands for.
fn cpu_current_metrics(percent: Option<i32>) -> Vec<v2::MetricStatus> {
    percent
        .map(|percent| {
            vec![v2::MetricStatus {
                r#type: v2::RESOURCE.into(),
                resource: Some(v2::ResourceMetricStatus {
                    name: "cpu".into(),
                    current: v2::MetricValueStatus {
                        average_utilization: Some(percent),
                        ..v2::MetricValueStatus::default()
                    },
                }),
                ..v2::MetricStatus::default()
            }]
        })
        .unwrap_or_default()
}

/// Decodes and removes annotation `key`; a value that does not decode stays.
fn take_annotation<T: serde::de::DeserializeOwned>(
    meta: &mut crate::api::ObjectMeta,
    key: &str,
) -> Option<T> {
    let value = serde_json::from_str(meta.annotations.get_str(key)?).ok()?;
    meta.annotations.remove(key);
    Some(value)
}

impl From<HorizontalPodAutoscaler> for v2::HorizontalPodAutoscaler {
    fn from(hpa: HorizontalPodAutoscaler) -> Self {
        let HorizontalPodAutoscaler {
            mut metadata,
            spec,
            status,
        } = hpa;
        let mut metrics = Vec::new();
        if let Some(percent) = spec.target_cpu_utilization_percentage {
            metrics.push(v2::MetricSpec::cpu_utilization(percent));
        }
        if let Some(other) =
            take_annotation::<Vec<v2::MetricSpec>>(&mut metadata, METRICS_ANNOTATION)
        {
            metrics.extend(other);
        }
        if metrics.is_empty() {
            // v1's implicit controller default, made explicit as Kubernetes does.
            metrics.push(v2::MetricSpec::cpu_utilization(v2::DEFAULT_CPU_UTILIZATION));
        }
        let behavior = take_annotation(&mut metadata, BEHAVIOR_ANNOTATION);
        let current_metrics = take_annotation(&mut metadata, CURRENT_METRICS_ANNOTATION)
            .unwrap_or_else(|| cpu_current_metrics(status.current_cpu_utilization_percentage));
        let conditions = take_annotation(&mut metadata, CONDITIONS_ANNOTATION).unwrap_or_default();
        v2::HorizontalPodAutoscaler {
            metadata,
            spec: v2::HorizontalPodAutoscalerSpec {
                scale_target_ref: spec.scale_target_ref,
                min_replicas: spec.min_replicas,
                max_replicas: spec.max_replicas,
                metrics,
                behavior,
            },
            status: v2::HorizontalPodAutoscalerStatus {
                observed_generation: status.observed_generation,
                last_scale_time: status.last_scale_time,
                current_replicas: status.current_replicas,
                desired_replicas: status.desired_replicas,
                current_metrics,
                conditions,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ObjectMeta, Resource};
    use serde_json::{json, Value};

    fn v1_sample() -> Value {
        json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "php-apache", "namespace": "default", "annotations": {"team": "web"}},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "targetCPUUtilizationPercentage": 50
            },
            "status": {
                "observedGeneration": 2,
                "lastScaleTime": "2024-03-01T12:00:00Z",
                "currentReplicas": 2,
                "desiredReplicas": 3,
                "currentCPUUtilizationPercentage": 75
            }
        })
    }

    #[test]
    fn round_trip_and_defaults() {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(v1_sample()).unwrap();
        assert_eq!(serde_json::to_value(&hpa).unwrap(), v1_sample());
        assert!(hpa.validate().is_empty());

        let mut bare: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "h", "namespace": "ns"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}
        }))
        .unwrap();
        bare.apply_defaults();
        assert_eq!(bare.spec.min_replicas, Some(1));
        assert_eq!(bare.spec.target_cpu_utilization_percentage, None);
        // currentReplicas has no omitempty in v1.
        let status = serde_json::to_value(HorizontalPodAutoscalerStatus::default()).unwrap();
        assert_eq!(status, json!({"currentReplicas": 0, "desiredReplicas": 0}));
    }

    #[test]
    fn validation() {
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"scaleTargetRef": {"kind": "D", "name": "n"}, "maxReplicas": 1}),
                &[],
            ),
            (
                json!({"scaleTargetRef": {"kind": "D", "name": "n"}, "maxReplicas": 0}),
                &["spec.maxReplicas"],
            ),
            (
                json!({"scaleTargetRef": {"kind": "D", "name": "n"}, "minReplicas": 4, "maxReplicas": 2}),
                &["spec.maxReplicas"],
            ),
            (
                json!({"scaleTargetRef": {"kind": "D", "name": "n"}, "minReplicas": -1, "maxReplicas": 2}),
                &["spec.minReplicas"],
            ),
            (
                json!({"scaleTargetRef": {}, "maxReplicas": 2}),
                &["spec.scaleTargetRef.kind", "spec.scaleTargetRef.name"],
            ),
            (
                json!({"scaleTargetRef": {"kind": "D", "name": "n"}, "maxReplicas": 2, "targetCPUUtilizationPercentage": 0}),
                &["spec.targetCPUUtilizationPercentage"],
            ),
        ];
        for (spec, want) in cases {
            let hpa = HorizontalPodAutoscaler {
                metadata: ObjectMeta::namespaced("ns", "h"),
                spec: serde_json::from_value(spec.clone()).unwrap(),
                status: HorizontalPodAutoscalerStatus::default(),
            };
            let errors = hpa.validate();
            let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(&got, want, "{spec}: {errors}");
        }
    }

    #[test]
    fn v1_to_v2() {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(v1_sample()).unwrap();
        let v2 = v2::HorizontalPodAutoscaler::from(hpa.clone());
        assert_eq!(
            serde_json::to_value(&v2).unwrap(),
            json!({
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "php-apache", "namespace": "default", "annotations": {"team": "web"}},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
                    "minReplicas": 1,
                    "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
                },
                "status": {
                    "observedGeneration": 2,
                    "lastScaleTime": "2024-03-01T12:00:00Z",
                    "currentReplicas": 2,
                    "desiredReplicas": 3,
                    "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 75}}}]
                }
            })
        );
        // And back: the same v1 object.
        assert_eq!(HorizontalPodAutoscaler::from(v2), hpa);

        // No CPU target: v2 gets the 80% default.
        let mut bare = hpa;
        bare.spec.target_cpu_utilization_percentage = None;
        let v2 = v2::HorizontalPodAutoscaler::from(bare);
        assert_eq!(v2.spec.metrics, vec![v2::MetricSpec::cpu_utilization(80)]);
    }

    #[test]
    fn v2_to_v1_keeps_the_rest_in_annotations() {
        let original: v2::HorizontalPodAutoscaler =
            serde_json::from_value(super::super::v2::tests::sample()).unwrap();
        let v1 = HorizontalPodAutoscaler::from(original.clone());
        assert_eq!(v1.spec.target_cpu_utilization_percentage, Some(50));
        assert_eq!(v1.status.current_cpu_utilization_percentage, Some(62));
        let annotations = &v1.metadata.annotations;
        let keys: Vec<&str> = annotations.keys().collect();
        assert_eq!(
            keys,
            [
                BEHAVIOR_ANNOTATION,
                CONDITIONS_ANNOTATION,
                CURRENT_METRICS_ANNOTATION,
                METRICS_ANNOTATION
            ]
        );
        let other: Vec<v2::MetricSpec> =
            serde_json::from_str(annotations.get_str(METRICS_ANNOTATION).unwrap()).unwrap();
        assert_eq!(other.len(), 4);
        assert!(other.iter().all(|m| m.as_cpu_utilization().is_none()));
        // The v1 object is valid and encodes as v1.
        assert!(v1.validate().is_empty());
        assert_eq!(
            serde_json::to_value(&v1).unwrap()["apiVersion"],
            "autoscaling/v1"
        );

        // Back to v2: nothing lost, annotations removed.
        let back = v2::HorizontalPodAutoscaler::from(v1);
        assert_eq!(back, original);

        // A broken annotation is kept, not dropped.
        let mut broken = HorizontalPodAutoscaler::default();
        broken
            .metadata
            .annotations
            .insert(METRICS_ANNOTATION, "{not json");
        let v2 = v2::HorizontalPodAutoscaler::from(broken);
        assert_eq!(
            v2.metadata.annotations.get_str(METRICS_ANNOTATION),
            Some("{not json")
        );
    }
}
