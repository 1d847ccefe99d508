//! `batch/v1`: run-to-completion workloads — [`Job`] and [`CronJob`].
//!
//! A Job runs pods until enough of them succeed; a CronJob creates Jobs on a
//! cron schedule. Defaulting follows Kubernetes' `SetDefaults_Job` and
//! `SetDefaults_CronJob` (`backoffLimit: 6`, `completionMode: NonIndexed`,
//! `concurrencyPolicy: Allow`, history limits 3 and 1, ...). A Job's
//! `spec.selector` and its pods' `controller-uid` labels are not defaults:
//! the API server sets them when the Job is created
//! ([`Job::generate_selector`]). Fields that defaulting fills are accepted
//! when unset, so an object validates the same before and after defaulting.
//!
//! ```
//! use keelson::api::batch::Job;
//! use keelson::api::Resource;
//!
//! let json = r#"{
//!   "apiVersion": "batch/v1", "kind": "Job",
//!   "metadata": {"name": "batch-job"},
//!   "spec": {
//!     "completions": 5, "parallelism": 2,
//!     "template": {
//!       "metadata": {"labels": {"app": "batch-job"}},
//!       "spec": {
//!         "restartPolicy": "OnFailure",
//!         "containers": [{"name": "main", "image": "luksa/batch-job"}]
//!       }
//!     }
//!   }
//! }"#;
//! let mut job: Job = serde_json::from_str(json).unwrap();
//! job.apply_defaults();
//! assert_eq!(job.spec.backoff_limit, Some(6));
//! assert_eq!(job.spec.completion_mode.as_deref(), Some("NonIndexed"));
//! assert!(job.validate().is_empty());
//!
//! // Jobs run to completion: their pods may not restart forever.
//! let mut always = job.clone();
//! always.spec.template = Default::default();
//! always.apply_defaults(); // restartPolicy defaults to Always
//! assert!(always
//!     .validate()
//!     .to_string()
//!     .contains("spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""));
//! ```
mod cronjob;
mod job;

pub use self::cronjob::{
    check_schedule, check_time_zone, CronJob, CronJobSpec, CronJobStatus, JobTemplateSpec,
    CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION,
};
pub use self::job::{
    parse_index_intervals, Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy,
    PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule, UncountedTerminatedPods,
    CONTROLLER_UID_LABEL, JOB_COMPLETION_INDEX_ANNOTATION, JOB_NAME_LABEL, JOB_TRACKING_FINALIZER,
    LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
