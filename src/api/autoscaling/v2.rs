//! `autoscaling/v2`: the [`HorizontalPodAutoscaler`] with any metrics and
//! scaling behavior.
//!
//! Defaulting as Kubernetes: `minReplicas` 1; no metrics means one
//! `Resource` `cpu` metric at 80% utilization; a present `behavior` has its
//! unset rules filled in (scale up: no stabilization window, `Max` of 4 pods
//! or 100% per 15 s; scale down: `Max` of 100% per 15 s, the stabilization
//! window left to the controller's default of 300 s).
use serde::{Deserialize, Serialize};

use super::{validate_cross_version_object_reference, CrossVersionObjectReference};
use crate::api::resource::object;
use crate::api::selector::validate_label_selector;
use crate::api::serde_util::nullable;
use crate::api::validation::{is_dns1123_label, is_path_segment_name, ErrorList, FieldError, Path};
use crate::api::{LabelSelector, Quantity, Str, Time};

/// For [`MetricSpec::type`]: a metric of another object ([`ObjectMetricSource`]).
pub const OBJECT: &str = "Object";
/// For [`MetricSpec::type`]: a per-pod metric averaged over the pods.
pub const PODS: &str = "Pods";
/// For [`MetricSpec::type`]: a resource (CPU, memory) of the pods.
pub const RESOURCE: &str = "Resource";
/// For [`MetricSpec::type`]: a resource of one container of the pods.
pub const CONTAINER_RESOURCE: &str = "ContainerResource";
/// For [`MetricSpec::type`]: a metric from outside the cluster.
pub const EXTERNAL: &str = "External";
/// For [`MetricTarget::type`]: percent of the pods' requests.
pub const UTILIZATION: &str = "Utilization";
/// For [`MetricTarget::type`]: the raw value.
pub const VALUE: &str = "Value";
/// For [`MetricTarget::type`]: the value divided by the number of pods.
pub const AVERAGE_VALUE: &str = "AverageValue";
/// The default CPU utilization target (percent) when no metric is given.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

const METRIC_TYPES: &[&str] = &[CONTAINER_RESOURCE, EXTERNAL, OBJECT, PODS, RESOURCE];
const SELECT_POLICIES: &[&str] = &["Disabled", "Max", "Min"];
const POLICY_TYPES: &[&str] = &["Percent", "Pods"];
const MAX_PERIOD_SECONDS: i32 = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;

object! {
    /// Scales a workload's replicas to keep metrics at their targets.
    pub struct HorizontalPodAutoscaler {
        /// The desired behavior.
        spec: HorizontalPodAutoscalerSpec = "spec",
        /// The current state, from the autoscaler controller.
        status: HorizontalPodAutoscalerStatus = "status",
    }
    resource {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        scope: Namespaced,
        short_names: ["hpa"],
        categories: ["all"],
        subresources: ["status"],
    }

    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.min_replicas.is_none() {
            spec.min_replicas = Some(1);
        }
        if spec.metrics.is_empty() {
            spec.metrics.push(MetricSpec::cpu_utilization(DEFAULT_CPU_UTILIZATION));
        }
        if let Some(behavior) = &mut spec.behavior {
            behavior.scale_up = Some(fill_rules(behavior.scale_up.take(), default_scale_up()));
            behavior.scale_down = Some(fill_rules(behavior.scale_down.take(), default_scale_down()));
        }
    }

    fn validate_fields(&self) -> ErrorList {
        validate_spec(&self.spec, &Path::root("spec"))
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

/// The desired behavior of a [`HorizontalPodAutoscaler`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerSpec {
    /// The workload scaled (through its `scale` subresource).
    #[serde(default)]
    pub scale_target_ref: CrossVersionObjectReference,
    /// The fewest replicas (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// The most replicas; at least `minReplicas`.
    #[serde(default)]
    pub max_replicas: i32,
    /// The metrics to track; the largest replica count any of them asks for
    /// wins.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub metrics: Vec<MetricSpec>,
    /// How fast to scale up and down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// One metric and its target: `type` says which of the sources is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    /// `Object`, `Pods`, `Resource`, `ContainerResource` or `External`.
    #[serde(default)]
    pub r#type: Str,
    /// With type `Object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricSource>,
    /// With type `Pods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetricSource>,
    /// With type `Resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricSource>,
    /// With type `ContainerResource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricSource>,
    /// With type `External`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalMetricSource>,
}

impl MetricSpec {
    /// A `Resource` `cpu` metric with a `Utilization` target of `percent`.
    pub fn cpu_utilization(percent: i32) -> Self {
        MetricSpec {
            r#type: RESOURCE.into(),
            resource: Some(ResourceMetricSource {
                name: "cpu".into(),
                target: MetricTarget {
                    r#type: UTILIZATION.into(),
                    average_utilization: Some(percent),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        }
    }

    /// The utilization percent when this is a `Resource` `cpu` metric with a
    /// `Utilization` target (what `autoscaling/v1` can express).
    pub fn as_cpu_utilization(&self) -> Option<i32> {
        let resource = self.resource.as_ref()?;
        if self.r#type == RESOURCE
            && resource.name == "cpu"
            && resource.target.r#type == UTILIZATION
        {
            resource.target.average_utilization
        } else {
            None
        }
    }
}

/// A metric describing another object (`requests-per-second` of an Ingress).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetricSource {
    /// The object the metric describes.
    #[serde(default)]
    pub described_object: CrossVersionObjectReference,
    /// The target value.
    #[serde(default)]
    pub target: MetricTarget,
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
}

/// A per-pod metric, averaged over the target's pods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodsMetricSource {
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
    /// The target (`AverageValue` only).
    #[serde(default)]
    pub target: MetricTarget,
}

/// A resource of the target's pods, as in their requests and limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetricSource {
    /// The resource (`cpu`, `memory`).
    #[serde(default)]
    pub name: Str,
    /// The target (`Utilization` or `AverageValue`).
    #[serde(default)]
    pub target: MetricTarget,
}

/// A resource of one container of the target's pods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourceMetricSource {
    /// The resource (`cpu`, `memory`).
    #[serde(default)]
    pub name: Str,
    /// The target (`Utilization` or `AverageValue`).
    #[serde(default)]
    pub target: MetricTarget,
    /// The container's name.
    #[serde(default)]
    pub container: Str,
}

/// A metric from outside the cluster (a queue length).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricSource {
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
    /// The target (`Value` or `AverageValue`).
    #[serde(default)]
    pub target: MetricTarget,
}

/// A metric by name, optionally narrowed by labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricIdentifier {
    /// The metric's name.
    #[serde(default)]
    pub name: Str,
    /// Narrows the metric's series by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// The target of a metric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTarget {
    /// `Utilization`, `Value` or `AverageValue`.
    #[serde(default)]
    pub r#type: Str,
    /// With type `Value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// With type `AverageValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    /// With type `Utilization`: percent of the pods' requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
}

/// How fast to scale in each direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerBehavior {
    /// Rules for scaling up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<HpaScalingRules>,
    /// Rules for scaling down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<HpaScalingRules>,
}

/// Scaling rules for one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaScalingRules {
    /// Seconds of past recommendations considered (0 to 3600), against
    /// flapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    /// `Max`, `Min` or `Disabled`: which policy wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<Str>,
    /// The allowed changes per period.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policies: Vec<HpaScalingPolicy>,
    /// The relative metric change ignored (alpha, `HPAConfigurableTolerance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Quantity>,
}

/// One allowed change: `value` pods or percent per `periodSeconds`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(default)]
    pub r#type: Str,
    /// How many pods, or what percent of the current ones.
    #[serde(default)]
    pub value: i32,
    /// The period the change is allowed over (1 to 1800 s).
    #[serde(default)]
    pub period_seconds: i32,
}

/// The observed state of a [`HorizontalPodAutoscaler`].
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
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "crate::api::serde_util::is_default"
    )]
    pub current_replicas: i32,
    /// The replicas the autoscaler wants.
    #[serde(default)]
    pub desired_replicas: i32,
    /// The metrics' last read values.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub current_metrics: Vec<MetricStatus>,
    /// `AbleToScale`, `ScalingActive`, `ScalingLimited`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<HorizontalPodAutoscalerCondition>,
}

/// The last read value of one metric: `type` says which source is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricStatus {
    /// `Object`, `Pods`, `Resource`, `ContainerResource` or `External`.
    #[serde(default)]
    pub r#type: Str,
    /// With type `Object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricStatus>,
    /// With type `Pods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetricStatus>,
    /// With type `Resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricStatus>,
    /// With type `ContainerResource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricStatus>,
    /// With type `External`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalMetricStatus>,
}

/// The current value of an object metric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetricStatus {
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
    /// The value.
    #[serde(default)]
    pub current: MetricValueStatus,
    /// The object it describes.
    #[serde(default)]
    pub described_object: CrossVersionObjectReference,
}

/// The current value of a pods metric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodsMetricStatus {
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
    /// The value.
    #[serde(default)]
    pub current: MetricValueStatus,
}

/// The current value of a resource metric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetricStatus {
    /// The resource.
    #[serde(default)]
    pub name: Str,
    /// The value.
    #[serde(default)]
    pub current: MetricValueStatus,
}

/// The current value of a container resource metric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourceMetricStatus {
    /// The resource.
    #[serde(default)]
    pub name: Str,
    /// The value.
    #[serde(default)]
    pub current: MetricValueStatus,
    /// The container.
    #[serde(default)]
    pub container: Str,
}

/// The current value of an external metric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricStatus {
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
    /// The value.
    #[serde(default)]
    pub current: MetricValueStatus,
}

/// A metric's current value, in the forms its target uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricValueStatus {
    /// The raw value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// The value per pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    /// Percent of the pods' requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
}

/// A condition of an autoscaler.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerCondition {
    /// `AbleToScale`, `ScalingActive` or `ScalingLimited`.
    #[serde(default)]
    pub r#type: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Why, in CamelCase.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// Why, for humans.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

fn policy(kind: &str, value: i32, period_seconds: i32) -> HpaScalingPolicy {
    HpaScalingPolicy {
        r#type: kind.into(),
        value,
        period_seconds,
    }
}

fn default_scale_up() -> HpaScalingRules {
    HpaScalingRules {
        stabilization_window_seconds: Some(0),
        select_policy: Some("Max".into()),
        policies: vec![policy("Pods", 4, 15), policy("Percent", 100, 15)],
        tolerance: None,
    }
}

fn default_scale_down() -> HpaScalingRules {
    HpaScalingRules {
        // Left unset: the controller's --horizontal-pod-autoscaler-downscale-stabilization
        // (300 s) applies.
        stabilization_window_seconds: None,
        select_policy: Some("Max".into()),
        policies: vec![policy("Percent", 100, 15)],
        tolerance: None,
    }
}

/// `set` with its unset fields taken from `defaults`.
fn fill_rules(set: Option<HpaScalingRules>, defaults: HpaScalingRules) -> HpaScalingRules {
    let Some(set) = set else {
        return defaults;
    };
    HpaScalingRules {
        stabilization_window_seconds: set
            .stabilization_window_seconds
            .or(defaults.stabilization_window_seconds),
        select_policy: set.select_policy.or(defaults.select_policy),
        policies: if set.policies.is_empty() {
            defaults.policies
        } else {
            set.policies
        },
        tolerance: set.tolerance.or(defaults.tolerance),
    }
}

fn validate_spec(spec: &HorizontalPodAutoscalerSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = super::validate_replicas(spec.min_replicas, spec.max_replicas, path);
    errors.extend(validate_cross_version_object_reference(
        &spec.scale_target_ref,
        &path.child("scaleTargetRef"),
    ));
    let metrics = path.child("metrics");
    for (i, metric) in spec.metrics.iter().enumerate() {
        errors.extend(validate_metric_spec(metric, &metrics.index(i)));
    }
    if let Some(behavior) = &spec.behavior {
        let behavior_path = path.child("behavior");
        if let Some(rules) = &behavior.scale_up {
            errors.extend(validate_scaling_rules(
                rules,
                &behavior_path.child("scaleUp"),
            ));
        }
        if let Some(rules) = &behavior.scale_down {
            errors.extend(validate_scaling_rules(
                rules,
                &behavior_path.child("scaleDown"),
            ));
        }
    }
    errors
}

fn validate_scaling_rules(rules: &HpaScalingRules, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if let Some(window) = rules.stabilization_window_seconds {
        let window_path = path.child("stabilizationWindowSeconds");
        if window < 0 {
            errors.push(FieldError::invalid(
                &window_path,
                window,
                "must be greater than or equal to zero",
            ));
        }
        if window > MAX_STABILIZATION_WINDOW_SECONDS {
            errors.push(FieldError::invalid(
                &window_path,
                window,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(select) = &rules.select_policy {
        if !SELECT_POLICIES.contains(&select.as_str()) {
            errors.push(FieldError::not_supported(
                &path.child("selectPolicy"),
                select,
                SELECT_POLICIES,
            ));
        }
    }
    let policies = path.child("policies");
    if rules.policies.is_empty() {
        errors.push(FieldError::required(
            &policies,
            "must specify at least one Policy",
        ));
    }
    for (i, p) in rules.policies.iter().enumerate() {
        let p_path = policies.index(i);
        if !POLICY_TYPES.contains(&p.r#type.as_str()) {
            errors.push(FieldError::not_supported(
                &p_path.child("type"),
                &p.r#type,
                POLICY_TYPES,
            ));
        }
        if p.value <= 0 {
            errors.push(FieldError::invalid(
                &p_path.child("value"),
                p.value,
                "must be greater than zero",
            ));
        }
        let period = p_path.child("periodSeconds");
        if p.period_seconds <= 0 {
            errors.push(FieldError::invalid(
                &period,
                p.period_seconds,
                "must be greater than zero",
            ));
        }
        if p.period_seconds > MAX_PERIOD_SECONDS {
            errors.push(FieldError::invalid(
                &period,
                p.period_seconds,
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
    errors
}

fn validate_metric_spec(spec: &MetricSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let type_path = path.child("type");
    if spec.r#type.is_empty() {
        errors.push(FieldError::required(
            &type_path,
            "must specify a metric source type",
        ));
    }
    if !METRIC_TYPES.contains(&spec.r#type.as_str()) {
        errors.push(FieldError::not_supported(
            &type_path,
            &spec.r#type,
            METRIC_TYPES,
        ));
    }
    // The sources present, in Kubernetes' order; only the first is checked.
    let present: Vec<&str> = [
        ("object", spec.object.is_some()),
        ("external", spec.external.is_some()),
        ("pods", spec.pods.is_some()),
        ("resource", spec.resource.is_some()),
        ("containerResource", spec.container_resource.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match present.first().copied() {
        Some("object") => {
            if let Some(src) = &spec.object {
                errors.extend(validate_object_source(src, &path.child("object")));
            }
        }
        Some("external") => {
            if let Some(src) = &spec.external {
                errors.extend(validate_external_source(src, &path.child("external")));
            }
        }
        Some("pods") => {
            if let Some(src) = &spec.pods {
                errors.extend(validate_pods_source(src, &path.child("pods")));
            }
        }
        Some("resource") => {
            if let Some(src) = &spec.resource {
                errors.extend(validate_resource_source(
                    &src.name,
                    None,
                    &src.target,
                    &path.child("resource"),
                ));
            }
        }
        Some(_) => {
            if let Some(src) = &spec.container_resource {
                errors.extend(validate_resource_source(
                    &src.name,
                    Some(&src.container),
                    &src.target,
                    &path.child("containerResource"),
                ));
            }
        }
        None => {}
    }
    let expected = match spec.r#type.as_str() {
        OBJECT => "object",
        PODS => "pods",
        RESOURCE => "resource",
        EXTERNAL => "external",
        CONTAINER_RESOURCE => "containerResource",
        _ => "",
    };
    if !expected.is_empty() && !present.contains(&expected) {
        errors.push(FieldError::required(
            &path.child(expected),
            "must populate information for the given metric source",
        ));
    }
    if present.len() != 1 {
        for name in present.iter().filter(|n| **n != expected) {
            errors.push(FieldError::forbidden(
                &path.child(name),
                "must populate the given metric source only",
            ));
        }
    }
    errors
}

/// A target quantity must parse and be greater than zero.
fn validate_positive(q: &Quantity, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    match q.parsed() {
        Err(e) => errors.push(FieldError::invalid(
            path,
            q.as_str(),
            e.kubernetes_message(),
        )),
        Ok(p) if p.signum() != 1 => {
            errors.push(FieldError::invalid(path, q.as_str(), "must be positive"))
        }
        Ok(_) => {}
    }
    errors
}

fn validate_metric_target(target: &MetricTarget, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let type_path = path.child("type");
    if target.r#type.is_empty() {
        errors.push(FieldError::required(
            &type_path,
            "must specify a metric target type",
        ));
    }
    if ![UTILIZATION, VALUE, AVERAGE_VALUE].contains(&target.r#type.as_str()) {
        errors.push(FieldError::invalid(
            &type_path,
            &target.r#type,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    if let Some(v) = &target.value {
        errors.extend(validate_positive(v, &path.child("value")));
    }
    if let Some(v) = &target.average_value {
        errors.extend(validate_positive(v, &path.child("averageValue")));
    }
    if let Some(u) = target.average_utilization {
        if u < 1 {
            errors.push(FieldError::invalid(
                &path.child("averageUtilization"),
                u,
                "must be greater than 0",
            ));
        }
    }
    errors
}

fn validate_metric_identifier(id: &MetricIdentifier, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let name = path.child("name");
    if id.name.is_empty() {
        errors.push(FieldError::required(&name, "must specify a metric name"));
    }
    for message in is_path_segment_name(&id.name) {
        errors.push(FieldError::invalid(&name, &id.name, message));
    }
    if let Some(selector) = &id.selector {
        errors.extend(validate_label_selector(selector, &path.child("selector")));
    }
    errors
}

fn validate_object_source(src: &ObjectMetricSource, path: &Path<'_>) -> ErrorList {
    let mut errors = validate_cross_version_object_reference(
        &src.described_object,
        &path.child("describedObject"),
    );
    errors.extend(validate_metric_identifier(
        &src.metric,
        &path.child("metric"),
    ));
    let target = path.child("target");
    errors.extend(validate_metric_target(&src.target, &target));
    if src.target.value.is_none() && src.target.average_value.is_none() {
        errors.push(FieldError::required(
            &target.child("averageValue"),
            "must set either a target value or averageValue",
        ));
    }
    errors
}

fn validate_external_source(src: &ExternalMetricSource, path: &Path<'_>) -> ErrorList {
    let mut errors = validate_metric_identifier(&src.metric, &path.child("metric"));
    let target = path.child("target");
    errors.extend(validate_metric_target(&src.target, &target));
    match (&src.target.value, &src.target.average_value) {
        (None, None) => errors.push(FieldError::required(
            &target.child("averageValue"),
            "must set either a target value for metric or a per-pod target",
        )),
        (Some(_), Some(_)) => errors.push(FieldError::forbidden(
            &target.child("value"),
            "may not set both a target value for metric and a per-pod target",
        )),
        _ => {}
    }
    errors
}

fn validate_pods_source(src: &PodsMetricSource, path: &Path<'_>) -> ErrorList {
    let mut errors = validate_metric_identifier(&src.metric, &path.child("metric"));
    let target = path.child("target");
    errors.extend(validate_metric_target(&src.target, &target));
    if src.target.average_value.is_none() {
        errors.push(FieldError::required(
            &target.child("averageValue"),
            "must specify a positive target averageValue",
        ));
    }
    errors
}

/// A `Resource` (no container) or `ContainerResource` source.
fn validate_resource_source(
    name: &Str,
    container: Option<&Str>,
    target: &MetricTarget,
    path: &Path<'_>,
) -> ErrorList {
    let mut errors = ErrorList::new();
    if name.is_empty() {
        errors.push(FieldError::required(
            &path.child("name"),
            "must specify a resource name",
        ));
    }
    if let Some(container) = container {
        let container_path = path.child("container");
        if container.is_empty() {
            errors.push(FieldError::required(
                &container_path,
                "must specify a container",
            ));
        } else {
            for message in is_dns1123_label(container) {
                errors.push(FieldError::invalid(&container_path, container, message));
            }
        }
    }
    let target_path = path.child("target");
    errors.extend(validate_metric_target(target, &target_path));
    match (target.average_utilization, &target.average_value) {
        (None, None) => errors.push(FieldError::required(
            &target_path.child("averageUtilization"),
            "must set either a target raw value or a target utilization",
        )),
        (Some(_), Some(_)) => errors.push(FieldError::forbidden(
            &target_path.child("averageValue"),
            "may not set both a target raw value and a target utilization",
        )),
        _ => {}
    }
    errors
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::{ObjectMeta, Resource};
    use serde_json::{json, Value};

    pub(crate) fn sample() -> Value {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "php-apache", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Object", "object": {
                        "metric": {"name": "requests-per-second"},
                        "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main-route"},
                        "target": {"type": "Value", "value": "10k"}
                    }},
                    {"type": "External", "external": {
                        "metric": {"name": "queue_messages_ready", "selector": {"matchLabels": {"queue": "worker_tasks"}}},
                        "target": {"type": "AverageValue", "averageValue": "30"}
                    }}
                ],
                "behavior": {
                    "scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]},
                    "scaleUp": {"selectPolicy": "Max", "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 15},
                        {"type": "Pods", "value": 4, "periodSeconds": 15}
                    ]}
                }
            },
            "status": {
                "observedGeneration": 1,
                "lastScaleTime": "2024-03-01T12:00:00Z",
                "currentReplicas": 3,
                "desiredReplicas": 4,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "250m", "averageUtilization": 62}}},
                    {"type": "External", "external": {"metric": {"name": "queue_messages_ready"}, "current": {"averageValue": "41"}}}
                ],
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2024-03-01T11:00:00Z", "reason": "SucceededRescale", "message": "the HPA controller was able to update the target scale to 4"},
                    {"type": "ScalingLimited", "status": "False"}
                ]
            }
        })
    }

    #[test]
    fn round_trip() {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(sample()).unwrap();
        assert_eq!(serde_json::to_value(&hpa).unwrap(), sample());
        assert!(hpa.validate().is_empty(), "{}", hpa.validate());
        // maxReplicas and desiredReplicas have no omitempty.
        let empty = serde_json::to_value(HorizontalPodAutoscaler {
            spec: HorizontalPodAutoscalerSpec {
                max_replicas: 1,
                ..HorizontalPodAutoscalerSpec::default()
            },
            ..HorizontalPodAutoscaler::default()
        })
        .unwrap();
        assert_eq!(
            empty["spec"],
            json!({"scaleTargetRef": {"kind": "", "name": ""}, "maxReplicas": 1})
        );
    }

    #[test]
    fn defaults() {
        let mut hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "h", "namespace": "ns"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}
        }))
        .unwrap();
        hpa.apply_defaults();
        assert_eq!(hpa.spec.min_replicas, Some(1));
        assert_eq!(hpa.spec.metrics, vec![MetricSpec::cpu_utilization(80)]);
        assert_eq!(hpa.spec.behavior, None);
        assert!(hpa.validate().is_empty());

        let mut with_behavior: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "spec": {"minReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}
        }))
        .unwrap();
        with_behavior.apply_defaults();
        assert_eq!(with_behavior.spec.min_replicas, Some(3));
        let behavior = serde_json::to_value(&with_behavior.spec.behavior).unwrap();
        assert_eq!(
            behavior,
            json!({
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}
                ]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}
                ]}
            })
        );
    }

    fn validate_spec_json(spec: Value) -> Vec<String> {
        let mut value = json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3
        });
        if let (Some(base), Some(extra)) = (value.as_object_mut(), spec.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        let hpa = HorizontalPodAutoscaler {
            metadata: ObjectMeta::namespaced("ns", "h"),
            spec: serde_json::from_value(value).unwrap(),
            status: HorizontalPodAutoscalerStatus::default(),
        };
        hpa.validate().iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn validation() {
        let cpu = |target: Value| json!({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]});
        let cases: &[(Value, &[&str])] = &[
            (json!({}), &[]),
            (
                json!({"maxReplicas": 0, "minReplicas": 1}),
                &["spec.maxReplicas", "spec.maxReplicas"],
            ),
            (json!({"minReplicas": 0}), &["spec.minReplicas"]),
            (json!({"minReplicas": 5}), &["spec.maxReplicas"]),
            (
                json!({"scaleTargetRef": {"kind": "", "name": "a/b"}}),
                &["spec.scaleTargetRef.kind", "spec.scaleTargetRef.name"],
            ),
            (
                cpu(json!({"type": "Utilization", "averageUtilization": 0})),
                &["spec.metrics[0].resource.target.averageUtilization"],
            ),
            (
                cpu(json!({"type": "Utilization"})),
                &["spec.metrics[0].resource.target.averageUtilization"],
            ),
            (
                cpu(json!({"type": "Bogus", "averageValue": "1"})),
                &["spec.metrics[0].resource.target.type"],
            ),
            (
                cpu(json!({"type": "AverageValue", "averageValue": "-1"})),
                &["spec.metrics[0].resource.target.averageValue"],
            ),
            (
                cpu(json!({"type": "AverageValue", "averageValue": "1x"})),
                &["spec.metrics[0].resource.target.averageValue"],
            ),
            (
                cpu(json!({"type": "AverageValue", "averageValue": "0.0"})),
                &["spec.metrics[0].resource.target.averageValue"],
            ),
            (
                cpu(json!({"type": "Utilization", "averageUtilization": 50, "averageValue": "1"})),
                &["spec.metrics[0].resource.target.averageValue"],
            ),
            (
                json!({"metrics": [{"type": "Resource", "resource": {"target": {"type": "Utilization", "averageUtilization": 5}}}]}),
                &["spec.metrics[0].resource.name"],
            ),
            (
                json!({"metrics": [{"type": "Resource"}]}),
                &["spec.metrics[0].resource"],
            ),
            (
                json!({"metrics": [{}]}),
                &["spec.metrics[0].type", "spec.metrics[0].type"],
            ),
            (
                json!({"metrics": [{"type": "Magic"}]}),
                &["spec.metrics[0].type"],
            ),
            (
                json!({"metrics": [{"type": "Pods", "pods": {"metric": {"name": "m"}, "target": {"type": "AverageValue", "averageValue": "1"}},
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 5}}}]}),
                &["spec.metrics[0].resource"],
            ),
            (
                json!({"metrics": [{"type": "Pods", "pods": {"metric": {}, "target": {"type": "Value", "value": "1"}}}]}),
                &[
                    "spec.metrics[0].pods.metric.name",
                    "spec.metrics[0].pods.target.averageValue",
                ],
            ),
            (
                json!({"metrics": [{"type": "Object", "object": {"metric": {"name": "m"}, "describedObject": {"kind": "Ingress"}, "target": {"type": "Value"}}}]}),
                &[
                    "spec.metrics[0].object.describedObject.name",
                    "spec.metrics[0].object.target.averageValue",
                ],
            ),
            (
                json!({"metrics": [{"type": "External", "external": {"metric": {"name": "m"}, "target": {"type": "Value", "value": "1", "averageValue": "1"}}}]}),
                &["spec.metrics[0].external.target.value"],
            ),
            (
                json!({"metrics": [{"type": "ContainerResource", "containerResource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 5}}}]}),
                &["spec.metrics[0].containerResource.container"],
            ),
            (
                json!({"behavior": {"scaleUp": {"stabilizationWindowSeconds": 3601, "selectPolicy": "Avg", "policies": []}}}),
                &[
                    "spec.behavior.scaleUp.stabilizationWindowSeconds",
                    "spec.behavior.scaleUp.selectPolicy",
                    "spec.behavior.scaleUp.policies",
                ],
            ),
            (
                json!({"behavior": {"scaleDown": {"policies": [{"type": "Nodes", "value": 0, "periodSeconds": 1801}]}}}),
                &[
                    "spec.behavior.scaleDown.policies[0].type",
                    "spec.behavior.scaleDown.policies[0].value",
                    "spec.behavior.scaleDown.policies[0].periodSeconds",
                ],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(&validate_spec_json(spec.clone()), want, "{spec}");
        }
    }

    #[test]
    fn status_update() {
        let old: HorizontalPodAutoscaler = serde_json::from_value(sample()).unwrap();
        let mut new = old.clone();
        new.status.desired_replicas = -1;
        let errors = new.validate_status_update(&old);
        assert_eq!(
            errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["status.desiredReplicas"]
        );
    }
}
