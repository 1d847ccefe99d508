//! The pod template every workload embeds, from `core/v1`, and the few
//! facts about it the workload rules need.
pub(crate) use crate::api::core::{
    default_pod_template_spec, validate_pod_template_spec, PodTemplateSpec,
};

/// The template's `restartPolicy` (empty when unset).
pub(crate) fn restart_policy(template: &PodTemplateSpec) -> &str {
    &template.spec.restart_policy
}

/// The template's `activeDeadlineSeconds`.
pub(crate) fn active_deadline_seconds(template: &PodTemplateSpec) -> Option<i64> {
    template.spec.active_deadline_seconds
}

/// The names of the template's containers and init containers.
pub(crate) fn container_names(template: &PodTemplateSpec) -> Vec<&str> {
    let spec = &template.spec;
    spec.containers
        .iter()
        .chain(&spec.init_containers)
        .map(|c| c.name.as_str())
        .collect()
}
