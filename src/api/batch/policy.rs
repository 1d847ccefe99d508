//! The failure and success policies of a [`Job`](super::Job): how failed
//! pods count, and when an Indexed Job has succeeded early.
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::job::JobSpec;
use crate::api::apps::checks::{invalid_json, nonnegative};
use crate::api::apps::template::container_names;
use crate::api::serde_util::nullable_vec;
use crate::api::validation::{is_qualified_name, ErrorList, FieldError, Path};
use crate::api::Str;

/// The most rules of a pod failure or success policy.
const MAX_POLICY_RULES: usize = 20;
/// The most exit codes of one `onExitCodes` requirement.
const MAX_EXIT_CODES: usize = 255;
/// The most patterns of one `onPodConditions` requirement.
const MAX_POD_CONDITIONS: usize = 20;

/// Validates a Job's `podFailurePolicy`: rule count, actions (`FailIndex`
/// needs `backoffLimitPerIndex`), exactly one requirement per rule, exit
/// codes (ordered, unique, no 0 with `In`, known container) and pod
/// condition patterns.
pub(crate) fn validate_pod_failure_policy(
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

/// Validates a Job's `successPolicy`: Indexed Jobs only, 1 to 20 rules,
/// each with well-formed indexes within `completions` and/or a count no
/// larger than what it counts from.
pub(crate) fn validate_success_policy(
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

/// How a [`Job`](super::Job) treats failed pods: rules evaluated in order, the first
/// match deciding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicy {
    /// The rules (at most 20).
    #[serde(default, deserialize_with = "nullable_vec")]
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
        deserialize_with = "nullable_vec",
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
    #[serde(default, deserialize_with = "nullable_vec")]
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

/// When an Indexed [`Job`](super::Job) counts as succeeded: any rule met.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessPolicy {
    /// The rules (1 to 20).
    #[serde(default, deserialize_with = "nullable_vec")]
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

#[cfg(test)]
mod tests {
    use super::*;

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
