//! Validation rules shared by the workload kinds of `apps/v1` and `batch/v1`:
//! non-negative counts, immutable fields, surge/unavailability values, and
//! "the selector must select the template's pods".
use std::fmt::Debug;

use super::template::{
    active_deadline_seconds, restart_policy, validate_pod_template_spec, PodTemplateSpec,
};
use crate::api::intstr::{validate_int_or_percent, validate_percent_at_most_100};
use crate::api::selector::validate_label_selector;
use crate::api::validation::{ErrorList, ErrorType, FieldError, Path};
use crate::api::{IntOrString, LabelSelector};

/// Kubernetes' message for a negative count.
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
/// Kubernetes' message for a changed immutable field.
pub(crate) const IMMUTABLE: &str = "field is immutable";
/// Kubernetes' message when a selector does not select its template's pods.
pub(crate) const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

/// `value` must be ≥ 0.
pub(crate) fn nonnegative(errors: &mut ErrorList, path: &Path<'_>, value: i64) {
    if value < 0 {
        errors.push(FieldError::invalid(path, value, NEGATIVE));
    }
}

/// `value` must be ≥ 0 when set.
pub(crate) fn nonnegative_opt<T: Into<i64> + Copy>(
    errors: &mut ErrorList,
    path: &Path<'_>,
    value: Option<T>,
) {
    if let Some(v) = value {
        nonnegative(errors, path, v.into());
    }
}

/// `new` must equal `old`; the error shows the new value.
pub(crate) fn immutable<T: PartialEq + Debug>(
    errors: &mut ErrorList,
    path: &Path<'_>,
    new: &T,
    old: &T,
) {
    if new != old {
        errors.push(FieldError::invalid(path, new, IMMUTABLE));
    }
}

/// `new` must equal `old`; for large values (pod templates) the error
/// leaves the value out.
pub(crate) fn immutable_large<T: PartialEq>(
    errors: &mut ErrorList,
    path: &Path<'_>,
    new: &T,
    old: &T,
) {
    if new != old {
        errors.push(FieldError::at(
            ErrorType::Invalid,
            path.to_string(),
            IMMUTABLE,
        ));
    }
}

/// An `Invalid value` error showing `value` as JSON (for structured values
/// such as selectors, where Rust's `Debug` form would confuse users).
pub(crate) fn invalid_json<T: serde::Serialize>(
    path: &Path<'_>,
    value: &T,
    detail: impl Into<String>,
) -> FieldError {
    FieldError {
        value: serde_json::to_string(value).ok(),
        ..FieldError::at(ErrorType::Invalid, path.to_string(), detail)
    }
}

/// The number an int-or-percent holds (`5` → 5, `25%` → 25), for the
/// "both zero" checks (Kubernetes' `getIntOrPercentValue`); malformed
/// strings count as 0, an unset value as the `default` defaulting gives it.
pub(crate) fn int_or_percent_value(value: Option<&IntOrString>, default: i64) -> i64 {
    match value {
        Some(IntOrString::Int(i)) => i64::from(*i),
        Some(v) => v.percent().unwrap_or(0),
        None => default,
    }
}

/// When set, an int-or-percent must be an integer ≥ 0 or a percentage.
pub(crate) fn positive_int_or_percent(
    errors: &mut ErrorList,
    path: &Path<'_>,
    value: Option<&IntOrString>,
) {
    if let Some(v) = value {
        errors.extend(validate_int_or_percent(v, path));
    }
}

/// When set, a percentage may not exceed 100%.
pub(crate) fn not_more_than_100_percent(
    errors: &mut ErrorList,
    path: &Path<'_>,
    value: Option<&IntOrString>,
) {
    if let Some(v) = value {
        errors.extend(validate_percent_at_most_100(v, path));
    }
}

/// The `apps/v1` selector rules: present, valid, not empty, and selecting
/// the template's pods. `spec` is the path of the spec holding both.
pub(crate) fn validate_selector_and_template_labels(
    errors: &mut ErrorList,
    spec: &Path<'_>,
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    kind: &str,
) {
    let path = spec.child("selector");
    let Some(selector) = selector else {
        errors.push(FieldError::required(&path, ""));
        return;
    };
    let selector_errors = validate_label_selector(selector, &path);
    let valid = selector_errors.is_empty();
    errors.extend(selector_errors);
    if selector.match_labels.is_empty() && selector.match_expressions.is_empty() {
        errors.push(invalid_json(
            &path,
            selector,
            format!("empty selector is invalid for {kind}"),
        ));
    } else if valid && !selector.matches(&template.metadata.labels) {
        let template_path = spec.child("template");
        let metadata = template_path.child("metadata");
        errors.push(FieldError::invalid(
            &metadata.child("labels"),
            &template.metadata.labels,
            SELECTOR_MISMATCH,
        ));
    }
}

/// The template rules of the long-running workloads (ReplicaSet,
/// Deployment, DaemonSet, StatefulSet): a valid pod template whose
/// `restartPolicy` is `Always` (or unset: it defaults to `Always`) and that
/// sets no `activeDeadlineSeconds`.
pub(crate) fn validate_long_running_template(
    errors: &mut ErrorList,
    template_path: &Path<'_>,
    template: &PodTemplateSpec,
    kind: &str,
) {
    errors.extend(validate_pod_template_spec(template, template_path));
    let spec = template_path.child("spec");
    let policy = restart_policy(template);
    // Values the pod rules refuse anyway are reported once, by them.
    if policy == "OnFailure" || policy == "Never" {
        errors.push(FieldError::not_supported(
            &spec.child("restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if let Some(deadline) = active_deadline_seconds(template) {
        errors.push(FieldError::invalid(
            &spec.child("activeDeadlineSeconds"),
            deadline,
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

/// Helpers for the workload kinds' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::PodTemplateSpec;
    use crate::api::Resource;

    /// Decodes `json`, checks that encoding gives the same JSON back and
    /// that no field went unrecognised, and returns the object.
    pub(crate) fn round_trip<T: Serialize + DeserializeOwned>(json: &str) -> T {
        let input: serde_json::Value = serde_json::from_str(json).expect("test JSON");
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let object: T = serde_ignored::deserialize(&mut de, |p| {
            unknown.push(crate::api::serde_util::field_path(&p))
        })
        .expect("decodes");
        assert!(unknown.is_empty(), "unknown fields: {unknown:?}");
        let output = serde_json::to_value(&object).expect("encodes");
        assert_eq!(output, input);
        object
    }

    /// Decodes `json` and applies the defaults.
    pub(crate) fn defaulted<T: Resource>(json: &str) -> T {
        let mut object: T = serde_json::from_str(json).expect("test JSON");
        object.apply_defaults();
        object
    }

    /// Sets the template's `restartPolicy`.
    pub(crate) fn set_restart_policy(template: &mut PodTemplateSpec, policy: &str) {
        template.spec.restart_policy = policy.into();
    }

    /// Sets the template's `activeDeadlineSeconds`.
    pub(crate) fn set_active_deadline(template: &mut PodTemplateSpec, seconds: i64) {
        template.spec.active_deadline_seconds = Some(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(int_or_percent_value(Some(&"10%".into()), 1), 10);
        assert_eq!(int_or_percent_value(Some(&3.into()), 1), 3);
        assert_eq!(int_or_percent_value(Some(&"x".into()), 1), 0);
        assert_eq!(int_or_percent_value(None, 25), 25);
    }

    #[test]
    fn int_or_percent_rules() {
        let path = Path::root("maxSurge");
        let cases: [(IntOrString, &str); 5] = [
            (1.into(), ""),
            ("30%".into(), ""),
            (
                (-1).into(),
                "maxSurge: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                "abc".into(),
                "maxSurge: Invalid value: \"abc\": a valid percent string",
            ),
            (
                "101%".into(),
                "maxSurge: Invalid value: \"101%\": must not be greater than 100%",
            ),
        ];
        for (value, want) in cases {
            let mut errors = ErrorList::new();
            positive_int_or_percent(&mut errors, &path, Some(&value));
            not_more_than_100_percent(&mut errors, &path, Some(&value));
            let got = errors.to_string();
            if want.is_empty() {
                assert!(got.is_empty(), "{value}: {got}");
            } else {
                assert!(got.starts_with(want), "{value}: {got}");
            }
        }
    }
}
