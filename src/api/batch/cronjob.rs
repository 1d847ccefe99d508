//! [`CronJob`]: Jobs created on a schedule.
use serde::{Deserialize, Serialize};

use super::job::{validate_job_spec, JobSpec};
use crate::api::apps::checks::{invalid_json, nonnegative_opt};
use crate::api::apps::template::default_pod_template_spec;
use crate::api::core::ObjectReference;
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{self, ErrorList, FieldError, Path};
use crate::api::{ObjectMeta, Str, Time};

/// The annotation on a Job holding the time its CronJob scheduled it.
pub const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION: &str =
    "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// The longest CronJob name: Job names are `<cronjob>-<11 characters>` and
/// must stay DNS labels.
const MAX_NAME_LEN: usize = 52;

object! {
    /// A CronJob: creates a Job from `spec.jobTemplate` at each time
    /// `spec.schedule` (cron syntax, in `spec.timeZone`) names.
    pub struct CronJob {
        /// The desired state.
        spec: CronJobSpec = "spec",
        /// The observed state, written by the CronJob controller.
        status: CronJobStatus = "status",
    }
    resource {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        scope: Namespaced,
        short_names: ["cj"],
        categories: ["all"],
        subresources: ["status"],
    }

    /// As Kubernetes' `SetDefaults_CronJob`: `concurrencyPolicy: Allow`,
    /// `suspend: false`, `successfulJobsHistoryLimit: 3`,
    /// `failedJobsHistoryLimit: 1`, and the job template's pod defaults.
    /// (The Job defaults, such as `backoffLimit`, are applied to each Job
    /// when it is created, not to the template.)
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.concurrency_policy.is_empty() {
            spec.concurrency_policy = Str::from_static(CronJobSpec::ALLOW);
        }
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        default_pod_template_spec(&mut spec.job_template.spec.template);
    }

    fn validate_fields(&self) -> ErrorList {
        self.validate_spec(false)
    }

    /// [`Resource::validate`](crate::api::Resource::validate), except that a
    /// `TZ=`/`CRON_TZ=` prefix in the schedule stays allowed when the old
    /// schedule had one (CronJobs created before `timeZone` existed).
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = validation::validate_object_meta(&self.metadata, Self::SCOPE, Self::NAME_RULE);
        errors.extend(self.validate_spec(old.spec.schedule.contains("TZ")));
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        errors
    }
}

impl CronJob {
    fn validate_spec(&self, allow_tz_in_schedule: bool) -> ErrorList {
        let mut errors = ErrorList::new();
        if self.metadata.name.len() > MAX_NAME_LEN {
            let metadata = Path::root("metadata");
            errors.push(FieldError::invalid(
                &metadata.child("name"),
                &self.metadata.name,
                format!("must be no more than {MAX_NAME_LEN} characters"),
            ));
        }
        let spec = Path::root("spec");
        let s = &self.spec;
        let schedule_path = spec.child("schedule");
        if s.schedule.is_empty() {
            errors.push(FieldError::required(&schedule_path, ""));
        } else {
            if s.schedule.contains("TZ") {
                if s.time_zone.is_some() {
                    errors.push(FieldError::invalid(
                        &schedule_path,
                        &s.schedule,
                        "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                    ));
                } else if !allow_tz_in_schedule {
                    errors.push(FieldError::invalid(
                        &schedule_path,
                        &s.schedule,
                        "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                    ));
                }
            }
            if let Err(message) = check_schedule(&s.schedule) {
                errors.push(FieldError::invalid(&schedule_path, &s.schedule, message));
            }
        }
        nonnegative_opt(
            &mut errors,
            &spec.child("startingDeadlineSeconds"),
            s.starting_deadline_seconds,
        );
        let policy_path = spec.child("concurrencyPolicy");
        match s.concurrency_policy.as_str() {
            "" | CronJobSpec::ALLOW | CronJobSpec::FORBID | CronJobSpec::REPLACE => {}
            other => errors.push(FieldError::not_supported(
                &policy_path,
                other,
                &[
                    CronJobSpec::ALLOW,
                    CronJobSpec::FORBID,
                    CronJobSpec::REPLACE,
                ],
            )),
        }
        let template = spec.child("jobTemplate");
        let template_meta = template.child("metadata");
        errors.extend(validation::validate_labels(
            &s.job_template.metadata.labels,
            &template_meta.child("labels"),
        ));
        errors.extend(validation::validate_annotations(
            &s.job_template.metadata.annotations,
            &template_meta.child("annotations"),
        ));
        let job_spec = template.child("spec");
        validate_job_spec(&mut errors, &job_spec, &s.job_template.spec);
        if let Some(selector) = &s.job_template.spec.selector {
            errors.push(invalid_json(
                &job_spec.child("selector"),
                selector,
                "`selector` will be auto-generated",
            ));
        }
        if s.job_template.spec.manual_selector == Some(true) {
            errors.push(FieldError::not_supported(
                &job_spec.child("manualSelector"),
                true,
                &["nil", "false"],
            ));
        }
        nonnegative_opt(
            &mut errors,
            &spec.child("successfulJobsHistoryLimit"),
            s.successful_jobs_history_limit,
        );
        nonnegative_opt(
            &mut errors,
            &spec.child("failedJobsHistoryLimit"),
            s.failed_jobs_history_limit,
        );
        if let Some(zone) = &s.time_zone {
            if let Err(message) = check_time_zone(zone) {
                errors.push(FieldError::invalid(&spec.child("timeZone"), zone, message));
            }
        }
        errors
    }
}

/// The schedule macros cron accepts besides five fields.
const MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One of the five fields: its name, bounds and value names.
struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    CronField {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    CronField {
        name: "day of week",
        min: 0,
        max: 6,
        names: &DAYS,
    },
];

/// Checks the syntax of a cron schedule: five space-separated fields
/// (minute, hour, day of month, month, day of week) of numbers in range,
/// month and day names, `*`, `?`, ranges `a-b`, lists `a,b` and steps `/n`;
/// or a macro (`@hourly`, `@daily`, ..., `@every 1h30m`). An optional
/// leading `TZ=` or `CRON_TZ=` is skipped. This is a syntactic check only;
/// computing the next run times is the CronJob controller's business.
pub fn check_schedule(schedule: &str) -> Result<(), String> {
    let mut schedule = schedule.trim();
    if schedule.starts_with("TZ=") || schedule.starts_with("CRON_TZ=") {
        schedule = schedule
            .split_once(char::is_whitespace)
            .map_or("", |(_, rest)| rest.trim_start());
    }
    if schedule.starts_with('@') {
        if MACROS.iter().any(|m| m.eq_ignore_ascii_case(schedule)) {
            return Ok(());
        }
        if let Some(duration) = schedule.strip_prefix("@every ") {
            return check_duration(duration.trim())
                .map_err(|e| format!("failed to parse duration {schedule}: {e}"));
        }
        return Err(format!("unrecognized descriptor: {schedule}"));
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Err(format!(
            "expected exactly 5 fields, found {}: {:?}",
            fields.len(),
            fields
        ));
    }
    for (text, field) in fields.iter().zip(&FIELDS) {
        for part in text.split(',') {
            check_cron_part(part, field)
                .map_err(|e| format!("{} field {text:?}: {e}", field.name))?;
        }
    }
    Ok(())
}

fn check_cron_part(part: &str, field: &CronField) -> Result<(), String> {
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (part, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(n) if n > 0 => {}
            _ => return Err(format!("invalid step {step:?}")),
        }
    }
    if range == "*" || range == "?" {
        return Ok(());
    }
    let value = |s: &str| -> Result<u32, String> {
        let n = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u32>()
                .map_err(|_| format!("value {s} out of range"))?
        } else if let Some(i) = field.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            // Months are numbered from 1, days of the week from 0.
            field.min + i as u32
        } else {
            return Err(format!("failed to parse {s:?}"));
        };
        if n < field.min || n > field.max {
            return Err(format!("{n} out of range [{}, {}]", field.min, field.max));
        }
        Ok(n)
    };
    match range.split_once('-') {
        Some((start, end)) => {
            let (start, end) = (value(start)?, value(end)?);
            if start > end {
                return Err(format!(
                    "beginning of range ({start}) beyond end of range ({end})"
                ));
            }
        }
        None => {
            value(range)?;
        }
    }
    Ok(())
}

/// Checks a Go duration such as `1h30m` or `90s`.
fn check_duration(s: &str) -> Result<(), String> {
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".to_string());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(*u))
            .max_by_key(|u| u.len())
            .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
        rest = &rest[unit.len()..];
    }
    Ok(())
}

/// Checks the shape of an IANA time zone name (`Europe/Paris`, `UTC`):
/// slash-separated parts of 1 to 14 letters, digits, `.`, `-`, `_`, `+`,
/// not `.`/`..` and not starting with `-`; `Local` is refused. Whether the
/// zone exists is checked against the time zone database by the CronJob
/// controller.
pub fn check_time_zone(zone: &str) -> Result<(), String> {
    if zone.is_empty() {
        return Err("timeZone must be nil or non-empty string".to_string());
    }
    let part_ok = |part: &str| {
        part != "."
            && part != ".."
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
    };
    if !zone.split('/').all(part_ok) {
        return Err(format!("unknown time zone {zone}"));
    }
    if zone.eq_ignore_ascii_case("Local") {
        return Err(
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                .to_string(),
        );
    }
    Ok(())
}

/// The desired state of a [`CronJob`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec {
    /// When to run, in cron syntax (`0,15,30,45 * * * *`, `@hourly`).
    #[serde(default)]
    pub schedule: Str,
    /// The IANA time zone of the schedule; the controller's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<Str>,
    /// How late a missed run may still start, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// `Allow` (the default), `Forbid` (skip a run while one is active) or
    /// `Replace` (stop the active run).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub concurrency_policy: Str,
    /// True to create no more Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// The Job to create at each run.
    #[serde(default, deserialize_with = "nullable")]
    pub job_template: JobTemplateSpec,
    /// Successful Jobs to keep; defaults to 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<i32>,
    /// Failed Jobs to keep; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<i32>,
}

impl CronJobSpec {
    /// Runs may overlap.
    pub const ALLOW: &'static str = "Allow";
    /// Skip a run while the previous one is active.
    pub const FORBID: &'static str = "Forbid";
    /// Replace the active run with the new one.
    pub const REPLACE: &'static str = "Replace";
}

/// The Job a [`CronJob`] creates: its metadata and spec. The selector is
/// always generated, so the template sets none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplateSpec {
    /// Labels and annotations of the created Jobs.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub metadata: ObjectMeta,
    /// The spec of the created Jobs.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub spec: JobSpec,
}

/// The observed state of a [`CronJob`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobStatus {
    /// The Jobs currently running.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub active: Vec<ObjectReference>,
    /// When a Job was last scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When a Job last completed successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::checks::tests_support::*;
    use crate::api::{LabelSelector, Resource};

    /// The seed `06-cronjob-cron-job.yaml`, as `batch/v1` (the seed says
    /// `batch/v1beta1`, which is no longer served).
    const SEED: &str = r#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"cron-job"},
        "spec":{"schedule":"0,15,30,45 * * * *",
        "jobTemplate":{"spec":{"template":{"metadata":{"labels":{"app":"batch-job"}},
        "spec":{"restartPolicy":"OnFailure","containers":[{"name":"main","image":"luksa/batch-job"}]}}}}}}"#;

    #[test]
    fn seed_round_trips_and_validates() {
        let mut cj: CronJob = round_trip(SEED);
        assert!(
            cj.validate().is_empty(),
            "before defaulting: {}",
            cj.validate()
        );
        cj.apply_defaults();
        assert!(cj.validate().is_empty(), "{}", cj.validate());
        let beta = SEED.replace("batch/v1", "batch/v1beta1");
        let err = serde_json::from_str::<CronJob>(&beta).unwrap_err();
        assert!(
            err.to_string()
                .contains("apiVersion is \"batch/v1beta1\", expected \"batch/v1\""),
            "{err}"
        );
    }

    #[test]
    fn field_rich_round_trip() {
        round_trip::<CronJob>(
            r#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"report","namespace":"ops"},
            "spec":{"schedule":"@hourly","timeZone":"Europe/Paris","startingDeadlineSeconds":200,
              "concurrencyPolicy":"Forbid","suspend":true,
              "jobTemplate":{"metadata":{"labels":{"team":"ops"},"annotations":{"a":"b"}},
                "spec":{"backoffLimit":2,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"r","image":"report"}]}}}},
              "successfulJobsHistoryLimit":5,"failedJobsHistoryLimit":2},
            "status":{"active":[{"kind":"Job","namespace":"ops","name":"report-28400000","uid":"u1","apiVersion":"batch/v1","resourceVersion":"7"}],
              "lastScheduleTime":"2024-01-01T10:00:00Z","lastSuccessfulTime":"2024-01-01T09:00:05Z"}}"#,
        );
    }

    #[test]
    fn defaults() {
        let cj: CronJob = defaulted(SEED);
        assert_eq!(cj.spec.concurrency_policy, "Allow");
        assert_eq!(cj.spec.suspend, Some(false));
        assert_eq!(cj.spec.successful_jobs_history_limit, Some(3));
        assert_eq!(cj.spec.failed_jobs_history_limit, Some(1));
        assert_eq!(
            cj.spec.job_template.spec.backoff_limit, None,
            "Job defaults apply to Jobs"
        );
        let mut cj = CronJob::default();
        cj.spec.concurrency_policy = "Replace".into();
        cj.spec.failed_jobs_history_limit = Some(0);
        cj.apply_defaults();
        assert_eq!(cj.spec.concurrency_policy, "Replace");
        assert_eq!(cj.spec.failed_jobs_history_limit, Some(0));
    }

    #[test]
    fn schedules() {
        for good in [
            "* * * * *",
            "0,15,30,45 * * * *",
            "*/5 1-5 * JAN-mar mon-FRI",
            "0 0 1 */2 ?",
            "5/10 * * * *",
            "@hourly",
            "@Daily",
            "@every 1h30m",
            "TZ=UTC 0 * * * *",
            "  0 9 * * 1  ",
            "0 0 31 12 6",
        ] {
            assert_eq!(check_schedule(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            "@reboot",
            "@every",
            "@every 5",
            "1,,2 * * * *",
            "-1 * * * *",
        ] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_schedule("* * * *").unwrap_err(),
            "expected exactly 5 fields, found 4: [\"*\", \"*\", \"*\", \"*\"]"
        );
    }

    #[test]
    fn time_zones() {
        for good in [
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert_eq!(check_time_zone(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Europe/ Paris",
            "Local",
            "../etc",
            "-x",
            "Abcdefghijklmno",
        ] {
            assert!(check_time_zone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation() {
        type Mutate = Box<dyn Fn(&mut CronJob)>;
        let cases: Vec<(&str, Mutate, &str)> = vec![
            ("no schedule", Box::new(|c| c.spec.schedule = "".into()), "spec.schedule: Required value"),
            ("bad schedule", Box::new(|c| c.spec.schedule = "61 * * * *".into()),
             "spec.schedule: Invalid value: \"61 * * * *\": minute field \"61\": 61 out of range [0, 59]"),
            ("TZ in schedule", Box::new(|c| c.spec.schedule = "CRON_TZ=UTC 0 * * * *".into()),
             "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
            ("TZ and timeZone", Box::new(|c| { c.spec.schedule = "TZ=UTC 0 * * * *".into(); c.spec.time_zone = Some("UTC".into()); }),
             "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use both timeZone field and TZ or CRON_TZ in schedule"),
            ("time zone", Box::new(|c| c.spec.time_zone = Some("Europe/ Paris".into())),
             "spec.timeZone: Invalid value: \"Europe/ Paris\": unknown time zone Europe/ Paris"),
            ("policy", Box::new(|c| c.spec.concurrency_policy = "Queue".into()),
             "spec.concurrencyPolicy: Unsupported value: \"Queue\": supported values: \"Allow\", \"Forbid\", \"Replace\""),
            ("deadline", Box::new(|c| c.spec.starting_deadline_seconds = Some(-1)),
             "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0"),
            ("history", Box::new(|c| c.spec.successful_jobs_history_limit = Some(-1)),
             "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"),
            ("template selector", Box::new(|c| c.spec.job_template.spec.selector = Some(LabelSelector::default())),
             "spec.jobTemplate.spec.selector: Invalid value: {}: `selector` will be auto-generated"),
            ("manual selector", Box::new(|c| c.spec.job_template.spec.manual_selector = Some(true)),
             "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\""),
            ("no image", Box::new(|c| c.spec.job_template.spec.template.spec.containers[0].image = "".into()),
             "spec.jobTemplate.spec.template.spec.containers[0].image: Required value"),
            ("template restart", Box::new(|c| set_restart_policy(&mut c.spec.job_template.spec.template, "Always")),
             "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""),
            ("template labels", Box::new(|c| { c.spec.job_template.metadata.labels.insert("bad key!", "v"); }),
             "spec.jobTemplate.metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
            ("name length", Box::new(|c| c.metadata.name = "c".repeat(53).into()),
             "metadata.name: Invalid value: \"ccccccccccccccccccccccccccccccccccccccccccccccccccccc\": must be no more than 52 characters"),
        ];
        let base: CronJob = defaulted(SEED);
        assert!(base.validate().is_empty());
        for (name, mutate, want) in cases {
            let mut c = base.clone();
            mutate(&mut c);
            assert_eq!(c.validate().to_string(), want, "{name}");
        }
    }

    #[test]
    fn update_keeps_legacy_tz_schedules() {
        let mut old: CronJob = defaulted(SEED);
        old.spec.schedule = "TZ=UTC 0 * * * *".into();
        let mut new = old.clone();
        new.spec.suspend = Some(true);
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );
        assert!(!new.validate().is_empty());
    }
}
