//! TEMPORARY stand-in for `core::PodTemplateSpec` until the `api-pod` branch
//! lands; replaced by re-exports of the real type and functions.
use serde::{Deserialize, Serialize};

use crate::api::serde_util::is_default;
use crate::api::validation::{ErrorList, Path};
use crate::api::ObjectMeta;

/// The pods a workload creates: metadata and a pod spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodTemplateSpec {
    /// Metadata of the pods.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: ObjectMeta,
    /// The pod spec.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub spec: serde_json::Value,
}

pub(crate) fn default_pod_template_spec(template: &mut PodTemplateSpec) {
    if let Some(spec) = template.spec.as_object_mut() {
        spec.entry("restartPolicy").or_insert("Always".into());
    } else {
        template.spec = serde_json::json!({"restartPolicy": "Always"});
    }
}

pub(crate) fn validate_pod_template_spec(
    _template: &PodTemplateSpec,
    _path: &Path<'_>,
) -> ErrorList {
    ErrorList::new()
}

pub(crate) fn restart_policy(template: &PodTemplateSpec) -> &str {
    template
        .spec
        .get("restartPolicy")
        .and_then(|v| v.as_str())
        .unwrap_or("")
}

pub(crate) fn active_deadline_seconds(template: &PodTemplateSpec) -> Option<i64> {
    template
        .spec
        .get("activeDeadlineSeconds")
        .and_then(|v| v.as_i64())
}

pub(crate) fn container_names(template: &PodTemplateSpec) -> Vec<&str> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|field| template.spec.get(field).and_then(|v| v.as_array()))
        .flatten()
        .filter_map(|c| c.get("name").and_then(|n| n.as_str()))
        .collect()
}
