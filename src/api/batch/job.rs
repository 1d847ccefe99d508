//! [`Job`]: pods that run to completion.
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::api::apps::checks::{
    self, immutable, immutable_large, invalid_json, nonnegative, nonnegative_opt,
};
use crate::api::apps::template::{
    container_names, default_pod_template_spec, restart_policy, validate_pod_template_spec,
    PodTemplateSpec,
};
use crate::api::resource::object;
use crate::api::selector::validate_label_selector;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{self, is_qualified_name, ErrorList, FieldError, Path};
use crate::api::{LabelSelector, Str, Time};

/// The label (`batch.kubernetes.io/job-name`) holding the name of the Job
/// that created a pod.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The unprefixed `job-name` label, still set for compatibility.
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
/// The label (`batch.kubernetes.io/controller-uid`) holding the uid of the
/// Job that created a pod; generated selectors select on it.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The unprefixed `controller-uid` label, still set for compatibility.
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// The annotation holding an Indexed Job pod's completion index.
pub const JOB_COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// The finalizer the Job controller puts on its pods until it has counted
/// them.
pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// The largest `parallelism` of an Indexed Job.
const MAX_PARALLELISM_INDEXED: i32 = 100_000;
/// The largest `completions` (and `maxFailedIndexes`) of an Indexed Job
/// with `backoffLimitPerIndex`.
const MAX_COMPLETIONS_PER_INDEX: i32 = 100_000;
/// The most rules of a pod failure or success policy.
const MAX_POLICY_RULES: usize = 20;
/// The most exit codes of one `onExitCodes` requirement.
const MAX_EXIT_CODES: usize = 255;
/// The most patterns of one `onPodConditions` requirement.
const MAX_POD_CONDITIONS: usize = 20;

object! {
    /// A Job: runs pods of `spec.template` until `spec.completions` of them
    /// succeed (or, with no `completions`, until one does), retrying failed
    /// pods up to `spec.backoffLimit` times.
    ///
    /// `spec.selector` and the `controller-uid` / `job-name` labels of the
    /// template are set by the API server when the Job is created (see
    /// [`Job::generate_selector`]), not by defaulting; a manifest normally
    /// leaves them out.
    pub struct Job {
        /// The desired state.
        spec: JobSpec = "spec",
        /// The observed state, written by the Job controller.
        status: JobStatus = "status",
    }
    resource {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        scope: Namespaced,
        categories: ["all"],
        subresources: ["status"],
    }

    /// As Kubernetes' `SetDefaults_Job`: `completions` and `parallelism` 1
    /// when both are unset (else `parallelism` 1), `backoffLimit` 6 (the
    /// largest i32 with `backoffLimitPerIndex`), `completionMode:
    /// NonIndexed`, `suspend: false`, `manualSelector: false`,
    /// `podReplacementPolicy` (`Failed` with a pod failure policy, else
    /// `TerminatingOrFailed`), pod condition patterns' `status: True`, the
    /// Job's labels from the template when it has none, and the pod
    /// template's defaults.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.completions.is_none() && spec.parallelism.is_none() {
            spec.completions = Some(1);
        }
        spec.parallelism.get_or_insert(1);
        if spec.backoff_limit.is_none() {
            spec.backoff_limit =
                Some(if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 });
        }
        if self.metadata.labels.is_empty() {
            self.metadata.labels = spec.template.metadata.labels.clone();
        }
        spec.completion_mode.get_or_insert(Str::from_static(JobSpec::NON_INDEXED));
        spec.suspend.get_or_insert(false);
        spec.manual_selector.get_or_insert(false);
        if let Some(policy) = &mut spec.pod_failure_policy {
            for pattern in policy.rules.iter_mut().flat_map(|r| r.on_pod_conditions.iter_mut()) {
                if pattern.status.is_empty() {
                    pattern.status = Str::from_static("True");
                }
            }
        }
        if spec.pod_replacement_policy.is_none() {
            spec.pod_replacement_policy = Some(Str::from_static(if spec.pod_failure_policy.is_some() {
                JobSpec::FAILED
            } else {
                JobSpec::TERMINATING_OR_FAILED
            }));
        }
        default_pod_template_spec(&mut spec.template);
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        let manual = self.spec.manual_selector == Some(true);
        if !manual && !self.metadata.name.is_empty() {
            // The name becomes the value of the generated `job-name` label.
            let metadata = Path::root("metadata");
            for message in validation::is_valid_label_value(&self.metadata.name) {
                errors.push(FieldError::invalid(&metadata.child("name"), &self.metadata.name, message));
            }
        }
        if let (true, Some(completions)) = (self.spec.is_indexed(), self.spec.completions.filter(|&c| c > 0)) {
            // Indexed pods are named `<job>-<index>`, which must stay a DNS label.
            let hostname = format!("{}-{}", self.metadata.name, completions - 1);
            if !validation::is_dns1123_label(&hostname).is_empty() {
                let metadata = Path::root("metadata");
                errors.push(FieldError::invalid(
                    &metadata.child("name"),
                    &self.metadata.name,
                    format!("will not able to create pod with invalid DNS label: {hostname}"),
                ));
            }
        }
        validate_job_spec(&mut errors, &spec, &self.spec);
        let selector_path = spec.child("selector");
        match &self.spec.selector {
            None if manual => errors.push(FieldError::required(&selector_path, "")),
            None => {} // generated by the API server on create
            Some(selector) => {
                let selector_errors = validate_label_selector(selector, &selector_path);
                let valid = selector_errors.is_empty();
                errors.extend(selector_errors);
                if valid && !selector.matches(&self.spec.template.metadata.labels) {
                    let template = spec.child("template");
                    let metadata = template.child("metadata");
                    errors.push(FieldError::invalid(
                        &metadata.child("labels"),
                        &self.spec.template.metadata.labels,
                        checks::SELECTOR_MISMATCH,
                    ));
                }
            }
        }
        errors
    }

    /// [`Resource::validate`](crate::api::Resource::validate) plus what may
    /// not change: `selector`, `template`, `completionMode`,
    /// `podFailurePolicy`, `backoffLimitPerIndex`, `managedBy`, and
    /// `completions` (except for an Indexed Job scaled with
    /// `completions == parallelism`).
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        let spec = Path::root("spec");
        let (new_spec, old_spec) = (&self.spec, &old.spec);
        immutable(&mut errors, &spec.child("selector"), &new_spec.selector, &old_spec.selector);
        immutable_large(&mut errors, &spec.child("template"), &new_spec.template, &old_spec.template);
        immutable(&mut errors, &spec.child("completionMode"), &new_spec.completion_mode, &old_spec.completion_mode);
        immutable_large(&mut errors, &spec.child("podFailurePolicy"), &new_spec.pod_failure_policy, &old_spec.pod_failure_policy);
        immutable(&mut errors, &spec.child("backoffLimitPerIndex"), &new_spec.backoff_limit_per_index, &old_spec.backoff_limit_per_index);
        immutable(&mut errors, &spec.child("managedBy"), &new_spec.managed_by, &old_spec.managed_by);
        let elastic = new_spec.is_indexed() && new_spec.completions == new_spec.parallelism;
        if !elastic {
            immutable(&mut errors, &spec.child("completions"), &new_spec.completions, &old_spec.completions);
        }
        errors
    }
}

/// Validates a Job spec (of a Job or of a CronJob's job template): counts,
/// completion mode, failure and success policies, and the pod template with
/// `restartPolicy` `OnFailure` or `Never`. The selector is checked by the
/// caller.
pub(crate) fn validate_job_spec(errors: &mut ErrorList, path: &Path<'_>, spec: &JobSpec) {
    nonnegative_opt(errors, &path.child("parallelism"), spec.parallelism);
    nonnegative_opt(errors, &path.child("completions"), spec.completions);
    nonnegative_opt(
        errors,
        &path.child("activeDeadlineSeconds"),
        spec.active_deadline_seconds,
    );
    nonnegative_opt(errors, &path.child("backoffLimit"), spec.backoff_limit);
    nonnegative_opt(
        errors,
        &path.child("ttlSecondsAfterFinished"),
        spec.ttl_seconds_after_finished,
    );
    let indexed = spec.is_indexed();
    let max_failed_path = path.child("maxFailedIndexes");
    if let Some(per_index) = spec.backoff_limit_per_index {
        let per_index_path = path.child("backoffLimitPerIndex");
        nonnegative(errors, &per_index_path, per_index.into());
        if let Some(max_failed) = spec.max_failed_indexes {
            nonnegative(errors, &max_failed_path, max_failed.into());
            if spec.completions.is_some_and(|c| max_failed > c) {
                errors.push(FieldError::invalid(
                    &max_failed_path,
                    max_failed,
                    "must be less than or equal to completions",
                ));
            }
            if max_failed > MAX_COMPLETIONS_PER_INDEX {
                errors.push(FieldError::invalid(
                    &max_failed_path,
                    max_failed,
                    format!("must be less than or equal to {MAX_COMPLETIONS_PER_INDEX}"),
                ));
            }
        }
        if !indexed {
            errors.push(FieldError::forbidden(
                &per_index_path,
                "requires indexed completion mode",
            ));
        }
    } else if spec.max_failed_indexes.is_some() {
        errors.push(FieldError::forbidden(
            &max_failed_path,
            "cannot be set when backoffLimitPerIndex is not set",
        ));
    }
    if let Some(mode) = &spec.completion_mode {
        let mode_path = path.child("completionMode");
        match mode.as_str() {
            JobSpec::NON_INDEXED => {}
            JobSpec::INDEXED => {
                match spec.completions {
                    None => errors.push(FieldError::required(
                        &path.child("completions"),
                        "when completion mode is Indexed",
                    )),
                    Some(c)
                        if spec.backoff_limit_per_index.is_some()
                            && c > MAX_COMPLETIONS_PER_INDEX =>
                    {
                        errors.push(FieldError::invalid(
                            &path.child("completions"),
                            c,
                            format!("must be less than or equal to {MAX_COMPLETIONS_PER_INDEX} when backoffLimitPerIndex is specified"),
                        ));
                    }
                    Some(_) => {}
                }
                if let Some(p) = spec.parallelism.filter(|&p| p > MAX_PARALLELISM_INDEXED) {
                    errors.push(FieldError::invalid(
                        &path.child("parallelism"),
                        p,
                        format!("must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"),
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                &mode_path,
                other,
                &[JobSpec::NON_INDEXED, JobSpec::INDEXED],
            )),
        }
    }
    if let Some(policy) = &spec.pod_failure_policy {
        validate_pod_failure_policy(errors, &path.child("podFailurePolicy"), spec, policy);
    }
    if let Some(policy) = &spec.success_policy {
        validate_success_policy(errors, &path.child("successPolicy"), spec, policy);
    }
    if let Some(replacement) = &spec.pod_replacement_policy {
        let replacement_path = path.child("podReplacementPolicy");
        if spec.pod_failure_policy.is_some() {
            if replacement != JobSpec::FAILED {
                errors.push(FieldError::not_supported(
                    &replacement_path,
                    replacement,
                    &[JobSpec::FAILED],
                ));
            }
        } else if replacement != JobSpec::FAILED && replacement != JobSpec::TERMINATING_OR_FAILED {
            errors.push(FieldError::not_supported(
                &replacement_path,
                replacement,
                &[JobSpec::FAILED, JobSpec::TERMINATING_OR_FAILED],
            ));
        }
    }
    if let Some(managed_by) = &spec.managed_by {
        if managed_by.is_empty() || managed_by.len() > 63 {
            errors.push(FieldError::invalid(
                &path.child("managedBy"),
                managed_by,
                "must be a non-empty string of at most 63 characters",
            ));
        }
    }
    let template = path.child("template");
    errors.extend(validate_pod_template_spec(&spec.template, &template));
    let template_spec = template.child("spec");
    let restart_path = template_spec.child("restartPolicy");
    match restart_policy(&spec.template) {
        // Unset defaults to `Always`; values the pod rules refuse are
        // reported once, by them.
        "" | "Always" => errors.push(FieldError::required(
            &restart_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" if spec.pod_failure_policy.is_some() => errors.push(FieldError::invalid(
            &restart_path,
            "OnFailure",
            "only \"Never\" is supported when podFailurePolicy is specified",
        )),
        _ => {}
    }
}

fn validate_pod_failure_policy(
    errors: &mut ErrorList,
    path: &Path<'_>,
    spec: &JobSpec,
    policy: &PodFailurePolicy,
) {
    let rules_path = path.child("rules");
    if policy.rules.len() > MAX_POLICY_RULES {
        errors.push(FieldError::too_many(
            &rules_path,
            policy.rules.len(),
            MAX_POLICY_RULES,
        ));
    }
    let containers = container_names(&spec.template);
    for (i, rule) in policy.rules.iter().enumerate() {
        let rule_path = rules_path.index(i);
        let action_path = rule_path.child("action");
        let actions = [
            PodFailurePolicyRule::COUNT,
            PodFailurePolicyRule::FAIL_INDEX,
            PodFailurePolicyRule::FAIL_JOB,
            PodFailurePolicyRule::IGNORE,
        ];
        match rule.action.as_str() {
            "" => errors.push(FieldError::required(
                &action_path,
                "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
            )),
            PodFailurePolicyRule::FAIL_INDEX if spec.backoff_limit_per_index.is_none() => {
                errors.push(FieldError::invalid(
                    &action_path,
                    &rule.action,
                    "requires the backoffLimitPerIndex to be set",
                ));
            }
            action if !actions.contains(&action) => {
                errors.push(FieldError::not_supported(&action_path, action, &actions));
            }
            _ => {}
        }
        if let Some(on_exit) = &rule.on_exit_codes {
            let exit_path = rule_path.child("onExitCodes");
            if let Some(name) = &on_exit.container_name {
                if !containers.contains(&name.as_str()) {
                    errors.push(FieldError::invalid(
                        &exit_path.child("containerName"),
                        name,
                        "must be one of the container or initContainer names in the pod template",
                    ));
                }
            }
            let operator_path = exit_path.child("operator");
            let is_in = on_exit.operator == "In";
            if !is_in && on_exit.operator != "NotIn" {
                errors.push(FieldError::not_supported(
                    &operator_path,
                    &on_exit.operator,
                    &["In", "NotIn"],
                ));
            }
            let values_path = exit_path.child("values");
            if on_exit.values.is_empty() {
                errors.push(FieldError::invalid(
                    &values_path,
                    &on_exit.values,
                    "at least one value is required",
                ));
            } else if on_exit.values.len() > MAX_EXIT_CODES {
                errors.push(FieldError::too_many(
                    &values_path,
                    on_exit.values.len(),
                    MAX_EXIT_CODES,
                ));
            }
            for (j, &value) in on_exit.values.iter().enumerate() {
                let value_path = values_path.index(j);
                if is_in && value == 0 {
                    errors.push(FieldError::invalid(
                        &value_path,
                        value,
                        "must not be 0 for the In operator",
                    ));
                }
                if let Some(&previous) = j.checked_sub(1).and_then(|p| on_exit.values.get(p)) {
                    if previous == value {
                        errors.push(FieldError::duplicate(&value_path, value));
                    } else if previous > value {
                        errors.push(FieldError::invalid(&value_path, value, "must be ordered"));
                    }
                }
            }
        }
        if !rule.on_pod_conditions.is_empty() {
            let conditions_path = rule_path.child("onPodConditions");
            if rule.on_pod_conditions.len() > MAX_POD_CONDITIONS {
                errors.push(FieldError::too_many(
                    &conditions_path,
                    rule.on_pod_conditions.len(),
                    MAX_POD_CONDITIONS,
                ));
            }
            for (j, pattern) in rule.on_pod_conditions.iter().enumerate() {
                let pattern_path = conditions_path.index(j);
                let status = pattern.status.as_str();
                if !matches!(status, "True" | "False" | "Unknown") {
                    errors.push(FieldError::not_supported(
                        &pattern_path.child("status"),
                        status,
                        &["True", "False", "Unknown"],
                    ));
                }
                for message in is_qualified_name(&pattern.type_) {
                    errors.push(FieldError::invalid(
                        &pattern_path.child("type"),
                        &pattern.type_,
                        message,
                    ));
                }
            }
        }
        match (
            rule.on_exit_codes.is_some(),
            !rule.on_pod_conditions.is_empty(),
        ) {
            (true, true) => errors.push(FieldError {
                value: None,
                ..FieldError::invalid(
                    &rule_path,
                    "",
                    "specifying both OnExitCodes and OnPodConditions is not supported",
                )
            }),
            (false, false) => errors.push(FieldError {
                value: None,
                ..FieldError::invalid(
                    &rule_path,
                    "",
                    "specifying one of OnExitCodes and OnPodConditions is required",
                )
            }),
            _ => {}
        }
    }
}

fn validate_success_policy(
    errors: &mut ErrorList,
    path: &Path<'_>,
    spec: &JobSpec,
    policy: &SuccessPolicy,
) {
    let rules_path = path.child("rules");
    if !spec.is_indexed() {
        errors.push(invalid_json(
            path,
            policy,
            "requires indexed completion mode",
        ));
    }
    if policy.rules.is_empty() {
        errors.push(FieldError::required(
            &rules_path,
            "at least one rules must be specified when the successPolicy is specified",
        ));
    } else if policy.rules.len() > MAX_POLICY_RULES {
        errors.push(FieldError::too_many(
            &rules_path,
            policy.rules.len(),
            MAX_POLICY_RULES,
        ));
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let rule_path = rules_path.index(i);
        if rule.succeeded_indexes.is_none() && rule.succeeded_count.is_none() {
            errors.push(FieldError::required(
                &rule_path,
                "at least one of succeededCount or succeededIndexes must be specified",
            ));
        }
        let mut index_count = None;
        if let Some(indexes) = &rule.succeeded_indexes {
            let indexes_path = rule_path.child("succeededIndexes");
            match parse_index_intervals(indexes) {
                Err(message) => errors.push(FieldError::invalid(&indexes_path, indexes, message)),
                Ok(intervals) => {
                    if let (Some(completions), Some(last)) = (spec.completions, intervals.last()) {
                        if *last.end() >= completions {
                            errors.push(FieldError::invalid(
                                &indexes_path,
                                indexes,
                                format!("too large: index {} is not less than completions {completions}", last.end()),
                            ));
                        }
                    }
                    index_count = Some(
                        intervals
                            .iter()
                            .map(|r| i64::from(r.end() - r.start()) + 1)
                            .sum::<i64>(),
                    );
                }
            }
        }
        if let Some(count) = rule.succeeded_count {
            let count_path = rule_path.child("succeededCount");
            nonnegative(errors, &count_path, count.into());
            if let Some(completions) = spec.completions.filter(|&c| count > c) {
                errors.push(FieldError::invalid(
                    &count_path,
                    count,
                    format!("must be less than or equal to {completions} (the number of specified completions)"),
                ));
            }
            if let Some(n) = index_count.filter(|&n| i64::from(count) > n) {
                errors.push(FieldError::invalid(
                    &count_path,
                    count,
                    format!("must be less than or equal to {n} (the number of indexes in the specified succeededIndexes field)"),
                ));
            }
        }
    }
}

/// Parses a list of completion indexes as Jobs write them (`1,3-5,7`):
/// ascending, non-overlapping numbers and inclusive ranges.
pub fn parse_index_intervals(s: &str) -> Result<Vec<RangeInclusive<i32>>, String> {
    let mut intervals: Vec<RangeInclusive<i32>> = Vec::new();
    if s.is_empty() {
        return Ok(intervals);
    }
    let number = |t: &str| -> Result<i32, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("cannot convert string to integer for index: {t:?}"));
        }
        t.parse::<i32>()
            .map_err(|_| format!("index {t} is too large"))
    };
    for part in s.split(',') {
        let interval = match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(format!("non-increasing order, previous: {a}, current: {b}"));
                }
                a..=b
            }
            None => {
                let n = number(part)?;
                n..=n
            }
        };
        if let Some(previous) = intervals.last() {
            if previous.end() >= interval.start() {
                return Err(format!(
                    "overlapping intervals or non-increasing order, previous: {}, current: {}",
                    previous.end(),
                    interval.start()
                ));
            }
        }
        intervals.push(interval);
    }
    Ok(intervals)
}

/// The desired state of a [`Job`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// How many pods may run at once; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    /// How many pods must succeed; unset means "any one success ends the
    /// Job" (with `parallelism` then free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<i32>,
    /// Seconds the Job may be active before it is failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// How pod failures are counted, ignored or fail the Job outright.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_failure_policy: Option<PodFailurePolicy>,
    /// When an Indexed Job counts as succeeded before all indexes do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_policy: Option<SuccessPolicy>,
    /// Retries before the Job is failed; defaults to 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    /// Retries per index of an Indexed Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit_per_index: Option<i32>,
    /// Failed indexes after which the whole Job fails (with
    /// `backoffLimitPerIndex`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failed_indexes: Option<i32>,
    /// The pods of the Job; normally generated by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// True when the user chose `selector` (no labels are generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_selector: Option<bool>,
    /// The pods to run; `restartPolicy` must be `OnFailure` or `Never`.
    #[serde(default, deserialize_with = "nullable")]
    pub template: PodTemplateSpec,
    /// Seconds after finishing before the Job is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,
    /// `NonIndexed` (the default) or `Indexed` (each pod gets an index
    /// `0..completions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_mode: Option<Str>,
    /// True to stop creating pods (and delete running ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// When to create a replacement pod: `TerminatingOrFailed` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_replacement_policy: Option<Str>,
    /// The controller that reconciles the Job, when not the built-in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<Str>,
}

impl JobSpec {
    /// Pods are interchangeable; `completions` successes complete the Job.
    pub const NON_INDEXED: &'static str = "NonIndexed";
    /// Each pod has an index; one success per index completes the Job.
    pub const INDEXED: &'static str = "Indexed";
    /// Replace a pod once it is terminating or failed.
    pub const TERMINATING_OR_FAILED: &'static str = "TerminatingOrFailed";
    /// Replace a pod only once it has fully failed.
    pub const FAILED: &'static str = "Failed";

    /// True for `completionMode: Indexed`.
    pub fn is_indexed(&self) -> bool {
        self.completion_mode.as_deref() == Some(JobSpec::INDEXED)
    }
}

/// How a [`Job`] treats failed pods: rules evaluated in order, the first
/// match deciding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicy {
    /// The rules (at most 20).
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Vec<PodFailurePolicyRule>,
}

/// One rule of a [`PodFailurePolicy`]: an action and one requirement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicyRule {
    /// `FailJob`, `FailIndex`, `Ignore` or `Count`.
    #[serde(default)]
    pub action: Str,
    /// Matches on container exit codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit_codes: Option<PodFailurePolicyOnExitCodesRequirement>,
    /// Matches on pod conditions (any one).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub on_pod_conditions: Vec<PodFailurePolicyOnPodConditionsPattern>,
}

impl PodFailurePolicyRule {
    /// Fail the Job and terminate its pods.
    pub const FAIL_JOB: &'static str = "FailJob";
    /// Fail the pod's index (with `backoffLimitPerIndex`).
    pub const FAIL_INDEX: &'static str = "FailIndex";
    /// Do not count the failure; replace the pod.
    pub const IGNORE: &'static str = "Ignore";
    /// Count the failure against `backoffLimit` (the default handling).
    pub const COUNT: &'static str = "Count";
}

/// A requirement on the exit codes of a failed pod's containers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicyOnExitCodesRequirement {
    /// Only this container's exit code; all containers when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<Str>,
    /// `In` or `NotIn`.
    #[serde(default)]
    pub operator: Str,
    /// The exit codes, ascending and without duplicates (0 is not allowed
    /// with `In`).
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<i32>,
}

/// A pattern matching a condition of a failed pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicyOnPodConditionsPattern {
    /// The pod condition type, such as `DisruptionTarget`.
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// The condition status to match; defaults to `True`.
    #[serde(default)]
    pub status: Str,
}

/// When an Indexed [`Job`] counts as succeeded: any rule met.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessPolicy {
    /// The rules (1 to 20).
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Vec<SuccessPolicyRule>,
}

/// One rule of a [`SuccessPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessPolicyRule {
    /// Indexes that must all succeed (`0,2-4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_indexes: Option<Str>,
    /// How many (of `succeededIndexes`, if set) must succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_count: Option<i32>,
}

/// The observed state of a [`Job`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// The latest observations (`Complete`, `Failed`, `Suspended`, ...).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<JobCondition>,
    /// When the controller started the Job (reset on resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the Job completed successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Pending and running pods.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub active: i32,
    /// Pods that succeeded.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub succeeded: i32,
    /// Pods that failed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub failed: i32,
    /// Pods terminating (being deleted, not yet finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating: Option<i32>,
    /// Completed indexes of an Indexed Job (`1,3-5,7`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub completed_indexes: Str,
    /// Failed indexes of an Indexed Job with `backoffLimitPerIndex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_indexes: Option<Str>,
    /// Finished pods not yet added to the counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncounted_terminated_pods: Option<UncountedTerminatedPods>,
    /// Pods with a Ready condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
}

/// Uids of finished pods the Job controller has not yet counted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UncountedTerminatedPods {
    /// Uids of succeeded pods.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub succeeded: Vec<Str>,
    /// Uids of failed pods.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub failed: Vec<Str>,
}

/// One observation about a [`Job`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCondition {
    /// `Complete`, `Failed`, `Suspended`, `FailureTarget` or
    /// `SuccessCriteriaMet`.
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the condition was last checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A CamelCase reason for the last transition.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// A human-readable message about the last transition.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

impl JobCondition {
    /// The Job finished successfully.
    pub const COMPLETE: &'static str = "Complete";
    /// The Job failed.
    pub const FAILED: &'static str = "Failed";
    /// The Job is suspended.
    pub const SUSPENDED: &'static str = "Suspended";
    /// The Job is about to fail (pods are being terminated).
    pub const FAILURE_TARGET: &'static str = "FailureTarget";
    /// The success policy is met (pods are being terminated).
    pub const SUCCESS_CRITERIA_MET: &'static str = "SuccessCriteriaMet";
}

impl Job {
    /// What the API server does when a Job is created without
    /// `manualSelector: true`: selects the pods by
    /// `batch.kubernetes.io/controller-uid=<metadata.uid>` and labels the
    /// template with the controller uid and the Job name (both prefixed and
    /// legacy keys), keeping labels the template already has.
    pub fn generate_selector(&mut self) {
        if self.spec.manual_selector == Some(true) {
            return;
        }
        let uid = self.metadata.uid.clone();
        let name = self.metadata.name.clone();
        let labels = &mut self.spec.template.metadata.labels;
        for (key, value) in [
            (LEGACY_CONTROLLER_UID_LABEL, &uid),
            (CONTROLLER_UID_LABEL, &uid),
            (LEGACY_JOB_NAME_LABEL, &name),
            (JOB_NAME_LABEL, &name),
        ] {
            if !labels.contains_key(key) {
                labels.insert(key, value.clone());
            }
        }
        let selector = self
            .spec
            .selector
            .get_or_insert_with(LabelSelector::default);
        if !selector.match_labels.contains_key(CONTROLLER_UID_LABEL) {
            selector.match_labels.insert(CONTROLLER_UID_LABEL, uid);
        }
    }

    /// True when a `Complete` or `Failed` condition is `True`.
    pub fn is_finished(&self) -> bool {
        self.status.conditions.iter().any(|c| {
            (c.type_ == JobCondition::COMPLETE || c.type_ == JobCondition::FAILED)
                && c.status == "True"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::checks::tests_support::*;
    use crate::api::Resource;

    const SEED: &str = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"batch-job"},
        "spec":{"completions":5,"parallelism":2,
        "template":{"metadata":{"labels":{"app":"batch-job"}},
        "spec":{"restartPolicy":"OnFailure","containers":[{"name":"main","image":"luksa/batch-job"}]}}}}"#;

    #[test]
    fn seed_round_trips_and_validates() {
        let mut job: Job = round_trip(SEED);
        assert!(
            job.validate().is_empty(),
            "before defaulting: {}",
            job.validate()
        );
        job.apply_defaults();
        assert!(job.validate().is_empty(), "{}", job.validate());
    }

    #[test]
    fn field_rich_round_trip() {
        let job: Job = round_trip(
            r#"{"apiVersion":"batch/v1","kind":"Job",
            "metadata":{"name":"pi","namespace":"jobs","uid":"0b9c","labels":{"app":"pi"}},
            "spec":{"parallelism":3,"completions":10,"activeDeadlineSeconds":600,
              "podFailurePolicy":{"rules":[
                {"action":"FailJob","onExitCodes":{"containerName":"main","operator":"In","values":[1,42]}},
                {"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]},
                {"action":"FailIndex","onExitCodes":{"operator":"NotIn","values":[0]}}]},
              "successPolicy":{"rules":[{"succeededIndexes":"0,2-4","succeededCount":2}]},
              "backoffLimit":4,"backoffLimitPerIndex":1,"maxFailedIndexes":5,
              "selector":{"matchLabels":{"batch.kubernetes.io/controller-uid":"0b9c"}},
              "manualSelector":false,
              "template":{"metadata":{"labels":{"app":"pi","batch.kubernetes.io/controller-uid":"0b9c"}},
                "spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"perl"}]}},
              "ttlSecondsAfterFinished":100,"completionMode":"Indexed","suspend":false,
              "podReplacementPolicy":"Failed","managedBy":"kueue.x-k8s.io/multikueue"},
            "status":{"conditions":[{"type":"Complete","status":"True","lastProbeTime":"2024-01-01T00:05:00Z",
                "lastTransitionTime":"2024-01-01T00:05:00Z","reason":"CompletionsReached","message":"Reached expected number of succeeded pods"}],
              "startTime":"2024-01-01T00:00:00Z","completionTime":"2024-01-01T00:05:00Z",
              "active":1,"succeeded":9,"failed":2,"terminating":0,"completedIndexes":"0-8","failedIndexes":"9",
              "uncountedTerminatedPods":{"succeeded":["u1"],"failed":["u2","u3"]},"ready":1}}"#,
        );
        assert!(job.is_finished());
        let mut job = job;
        job.apply_defaults();
        assert!(job.validate().is_empty(), "{}", job.validate());
    }

    #[test]
    fn defaults() {
        let job: Job = defaulted(SEED);
        assert_eq!(job.spec.completions, Some(5));
        assert_eq!(job.spec.parallelism, Some(2));
        assert_eq!(job.spec.backoff_limit, Some(6));
        assert_eq!(job.spec.completion_mode.as_deref(), Some("NonIndexed"));
        assert_eq!(job.spec.suspend, Some(false));
        assert_eq!(job.spec.manual_selector, Some(false));
        assert_eq!(
            job.spec.pod_replacement_policy.as_deref(),
            Some("TerminatingOrFailed")
        );
        assert_eq!(
            job.spec.selector, None,
            "the API server sets the selector, not defaulting"
        );
        assert_eq!(job.metadata.labels.get_str("app"), Some("batch-job"));

        let mut job = Job::default();
        job.apply_defaults();
        assert_eq!(
            (job.spec.completions, job.spec.parallelism),
            (Some(1), Some(1))
        );

        let mut job = Job::default();
        job.spec.completions = Some(4);
        job.spec.backoff_limit_per_index = Some(1);
        job.spec.pod_failure_policy = Some(PodFailurePolicy {
            rules: vec![PodFailurePolicyRule {
                action: "Ignore".into(),
                on_exit_codes: None,
                on_pod_conditions: vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: "".into(),
                }],
            }],
        });
        job.metadata.labels.insert("mine", "yes");
        job.spec.template.metadata.labels.insert("app", "x");
        job.apply_defaults();
        assert_eq!(
            (job.spec.completions, job.spec.parallelism),
            (Some(4), Some(1))
        );
        assert_eq!(job.spec.backoff_limit, Some(i32::MAX));
        assert_eq!(job.spec.pod_replacement_policy.as_deref(), Some("Failed"));
        let policy = job.spec.pod_failure_policy.as_ref().unwrap();
        assert_eq!(policy.rules[0].on_pod_conditions[0].status, "True");
        assert_eq!(
            job.metadata.labels.get_str("app"),
            None,
            "own labels are kept"
        );
    }

    #[test]
    fn generated_selector() {
        let mut job: Job = defaulted(SEED);
        job.metadata.uid = "0b9c".into();
        job.generate_selector();
        let selector = job.spec.selector.as_ref().unwrap();
        assert_eq!(
            selector.match_labels.get_str(CONTROLLER_UID_LABEL),
            Some("0b9c")
        );
        let labels = &job.spec.template.metadata.labels;
        assert_eq!(labels.get_str(LEGACY_CONTROLLER_UID_LABEL), Some("0b9c"));
        assert_eq!(labels.get_str(JOB_NAME_LABEL), Some("batch-job"));
        assert_eq!(labels.get_str(LEGACY_JOB_NAME_LABEL), Some("batch-job"));
        assert!(job.validate().is_empty(), "{}", job.validate());

        let mut manual: Job = defaulted(SEED);
        manual.spec.manual_selector = Some(true);
        manual.generate_selector();
        assert_eq!(manual.spec.selector, None);
        assert_eq!(
            manual.validate().to_string(),
            "spec.selector: Required value"
        );
    }

    #[test]
    fn validation() {
        type Mutate = Box<dyn Fn(&mut Job)>;
        let indexed = |j: &mut Job| j.spec.completion_mode = Some("Indexed".into());
        let cases: Vec<(&str, Mutate, &str)> = vec![
            ("negative parallelism", Box::new(|j| j.spec.parallelism = Some(-1)),
             "spec.parallelism: Invalid value: -1: must be greater than or equal to 0"),
            ("negative completions", Box::new(|j| j.spec.completions = Some(-1)),
             "spec.completions: Invalid value: -1: must be greater than or equal to 0"),
            ("negative backoffLimit", Box::new(|j| j.spec.backoff_limit = Some(-1)),
             "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"),
            ("negative deadline", Box::new(|j| j.spec.active_deadline_seconds = Some(-5)),
             "spec.activeDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0"),
            ("negative ttl", Box::new(|j| j.spec.ttl_seconds_after_finished = Some(-5)),
             "spec.ttlSecondsAfterFinished: Invalid value: -5: must be greater than or equal to 0"),
            ("completion mode", Box::new(|j| j.spec.completion_mode = Some("Ordered".into())),
             "spec.completionMode: Unsupported value: \"Ordered\": supported values: \"NonIndexed\", \"Indexed\""),
            ("indexed needs completions", Box::new(move |j| { indexed(j); j.spec.completions = None; }),
             "spec.completions: Required value: when completion mode is Indexed"),
            ("indexed parallelism", Box::new(move |j| { indexed(j); j.spec.parallelism = Some(100_001); }),
             "spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed"),
            ("indexed hostname", Box::new(move |j| { indexed(j); j.metadata.name = "a".repeat(62).into(); }),
             "metadata.name: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": will not able to create pod with invalid DNS label: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-4"),
            ("per index needs indexed", Box::new(|j| j.spec.backoff_limit_per_index = Some(1)),
             "spec.backoffLimitPerIndex: Forbidden: requires indexed completion mode"),
            ("maxFailedIndexes alone", Box::new(|j| j.spec.max_failed_indexes = Some(1)),
             "spec.maxFailedIndexes: Forbidden: cannot be set when backoffLimitPerIndex is not set"),
            ("maxFailedIndexes > completions", Box::new(move |j| {
                indexed(j);
                j.spec.backoff_limit_per_index = Some(1);
                j.spec.max_failed_indexes = Some(6);
            }), "spec.maxFailedIndexes: Invalid value: 6: must be less than or equal to completions"),
            ("no image", Box::new(|j| j.spec.template.spec.containers[0].image = "".into()),
             "spec.template.spec.containers[0].image: Required value"),
            ("restart Always", Box::new(|j| set_restart_policy(&mut j.spec.template, "Always")),
             "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""),
            ("restart bogus", Box::new(|j| set_restart_policy(&mut j.spec.template, "Sometimes")),
             "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""),
            ("failure policy needs Never", Box::new(|j| {
                j.spec.pod_failure_policy = Some(PodFailurePolicy { rules: vec![PodFailurePolicyRule {
                    action: "Ignore".into(), on_exit_codes: None,
                    on_pod_conditions: vec![PodFailurePolicyOnPodConditionsPattern { type_: "DisruptionTarget".into(), status: "True".into() }],
                }]});
                j.spec.pod_replacement_policy = Some("Failed".into());
            }), "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified"),
            ("failure policy rules", Box::new(|j| {
                set_restart_policy(&mut j.spec.template, "Never");
                j.spec.pod_replacement_policy = Some("Failed".into());
                j.spec.pod_failure_policy = Some(PodFailurePolicy { rules: vec![
                    PodFailurePolicyRule { action: "Explode".into(), on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: Some("sidecar".into()), operator: "In".into(), values: vec![0, 3, 3, 2] }), on_pod_conditions: vec![] },
                    PodFailurePolicyRule { action: "FailIndex".into(), on_exit_codes: None, on_pod_conditions: vec![] },
                ]});
            }), "[spec.podFailurePolicy.rules[0].action: Unsupported value: \"Explode\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\", \
                 spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: \"sidecar\": must be one of the container or initContainer names in the pod template, \
                 spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator, \
                 spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3, \
                 spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Invalid value: 2: must be ordered, \
                 spec.podFailurePolicy.rules[1].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set, \
                 spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required]"),
            ("replacement with failure policy", Box::new(|j| {
                set_restart_policy(&mut j.spec.template, "Never");
                j.spec.pod_failure_policy = Some(PodFailurePolicy { rules: vec![PodFailurePolicyRule {
                    action: "Count".into(), on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: None, operator: "NotIn".into(), values: vec![0] }), on_pod_conditions: vec![] }]});
            }), "spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\""),
            ("replacement value", Box::new(|j| j.spec.pod_replacement_policy = Some("Never".into())),
             "spec.podReplacementPolicy: Unsupported value: \"Never\": supported values: \"Failed\", \"TerminatingOrFailed\""),
            ("success policy", Box::new(|j| j.spec.success_policy = Some(SuccessPolicy { rules: vec![
                SuccessPolicyRule { succeeded_indexes: None, succeeded_count: None },
                SuccessPolicyRule { succeeded_indexes: Some("3-1".into()), succeeded_count: Some(6) },
            ]})), "[spec.successPolicy: Invalid value: {\"rules\":[{},{\"succeededIndexes\":\"3-1\",\"succeededCount\":6}]}: requires indexed completion mode, \
                   spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified, \
                   spec.successPolicy.rules[1].succeededIndexes: Invalid value: \"3-1\": non-increasing order, previous: 3, current: 1, \
                   spec.successPolicy.rules[1].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)]"),
            ("selector mismatch", Box::new(|j| {
                let mut selector = LabelSelector::default();
                selector.match_labels.insert("app", "other");
                j.spec.selector = Some(selector);
            }), "spec.template.metadata.labels: Invalid value: {\"app\": \"batch-job\"}: `selector` does not match template `labels`"),
            ("long name", Box::new(|j| j.metadata.name = "a".repeat(64).into()),
             "metadata.name: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no more than 63 characters"),
        ];
        let base: Job = defaulted(SEED);
        assert!(base.validate().is_empty());
        for (name, mutate, want) in cases {
            let mut j = base.clone();
            mutate(&mut j);
            assert_eq!(j.validate().to_string(), want, "{name}");
        }
    }

    #[test]
    fn update_rules() {
        let mut old: Job = defaulted(SEED);
        old.metadata.uid = "u".into();
        old.generate_selector();
        let mut new = old.clone();
        new.spec.parallelism = Some(4);
        new.spec.suspend = Some(true);
        new.spec.active_deadline_seconds = Some(100);
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );

        let mut new = old.clone();
        new.spec.completions = Some(6);
        new.spec.template.metadata.labels.insert("extra", "1");
        new.spec.completion_mode = Some("Indexed".into());
        let fields: Vec<String> = new
            .validate_update(&old)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["spec.template", "spec.completionMode", "spec.completions"]
        );

        // An Indexed Job scales with completions == parallelism.
        let mut old_indexed = old.clone();
        old_indexed.spec.completion_mode = Some("Indexed".into());
        old_indexed.spec.parallelism = Some(5);
        let mut new = old_indexed.clone();
        new.spec.completions = Some(8);
        new.spec.parallelism = Some(8);
        assert!(
            new.validate_update(&old_indexed).is_empty(),
            "{}",
            new.validate_update(&old_indexed)
        );
    }

    #[test]
    fn index_intervals() {
        assert_eq!(parse_index_intervals("").unwrap(), vec![]);
        assert_eq!(
            parse_index_intervals("1,3-5,7").unwrap(),
            vec![1..=1, 3..=5, 7..=7]
        );
        for bad in [
            "1,1",
            "3-1",
            "a",
            "1,,2",
            "-1",
            "2,1",
            "1-3,3",
            "99999999999",
        ] {
            assert!(parse_index_intervals(bad).is_err(), "{bad}");
        }
    }
}
