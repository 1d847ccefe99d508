//! The CronJob controller: creates a Job at each time a CronJob's schedule
//! names, as Kubernetes' `cronjob` controller (v2) does.
//!
//! Each reconcile of a CronJob:
//!
//! 1. reads the Jobs it controls: `status.active` lists the unfinished
//!    ones; a Job that completed moves `status.lastSuccessfulTime`
//!    forward; finished Jobs beyond `successfulJobsHistoryLimit` /
//!    `failedJobsHistoryLimit` are deleted, oldest first (with their
//!    pods);
//! 2. unless suspended, finds the most recent scheduled time that has not
//!    run yet — after `status.lastScheduleTime` (or the CronJob's
//!    creation), and not before `now - startingDeadlineSeconds`. Only that
//!    one runs: missed times are **not** all caught up (at most one
//!    catch-up run); more than 100 missed times also records a
//!    `TooManyMissedTimes` warning event. A time older than
//!    `startingDeadlineSeconds` is not run (event `MissSchedule`);
//! 3. applies `concurrencyPolicy`: `Allow` runs it beside active Jobs;
//!    `Forbid` does not run it while a Job is active (it stays due, and
//!    runs once the active Job finishes if still within the deadline —
//!    by then a later time has usually replaced it); `Replace` deletes the
//!    active Jobs first;
//! 4. creates the Job `<cronjob>-<scheduled time in minutes since the
//!    epoch>` from `jobTemplate`, owned by the CronJob, annotated with
//!    `batch.kubernetes.io/cronjob-scheduled-timestamp`, records it in
//!    `status.active` and `status.lastScheduleTime`, and looks again at
//!    the next scheduled time.
//!
//! Schedules are read by [`cron`](super::cron) in `spec.timeZone` (UTC when
//! unset — Kubernetes uses the controller's local zone); time comes from a
//! [`Clock`], so tests run on paused time.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::clock::Clock;
use super::cron::{time_zone, Schedule};
use super::replicaset::{controller_ref, controller_uid, numeric_rv, CONTROLLER_UID_INDEX};
use super::{Action, Controller, Reconciler, Recorder};
use crate::api::batch::{CronJob, Job, JobCondition, CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION};
use crate::api::core::ObjectReference;
use crate::api::meta::{DeleteOptions, Preconditions};
use crate::api::{ObjectMeta, Resource, Str, Time};
use crate::client::{Api, Client, PatchType};
use crate::controllers::events::EventType;
use crate::informer::{Cache, InformerFactory, ObjectKey};

/// Most missed times counted before `TooManyMissedTimes` (100).
pub const MAX_MISSED: usize = 100;

/// What can go wrong in a reconcile of the CronJob controller.
pub use super::ReconcileError as Error;

/// Settings of the CronJob controller.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// CronJobs reconciled at once (Kubernetes' `--concurrent-cron-job-syncs`, 5).
    pub concurrency: usize,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 5,
            clock: Clock::new(),
        }
    }
}

impl Config {
    /// Sets [`clock`](Self::clock).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// The most recent scheduled time in `(earliest, now]` and how many there
/// were (counting stops after [`MAX_MISSED`] + 1), or `None`.
pub fn most_recent_unmet(
    schedule: &Schedule,
    tz: &jiff::tz::TimeZone,
    earliest: Time,
    now: Time,
) -> (Option<Time>, usize) {
    let mut last = None;
    let mut count = 0;
    let mut t = earliest;
    while let Some(next) = schedule.next_after(t, tz) {
        if next > now {
            break;
        }
        last = Some(next);
        count += 1;
        if count > MAX_MISSED {
            // Jump close to now: only the most recent time matters.
            let near = now.add_seconds(-(7 * 24 * 3600));
            if near > next {
                t = near;
                continue;
            }
        }
        t = next;
    }
    (last, count)
}

/// The name of the Job for `scheduled`: `<cronjob>-<minutes since epoch>`.
pub fn job_name(cronjob: &str, scheduled: Time) -> String {
    format!("{cronjob}-{}", scheduled.unix_seconds().div_euclid(60))
}

fn finished(job: &Job) -> Option<&JobCondition> {
    job.status.conditions.iter().find(|c| {
        (c.type_ == JobCondition::COMPLETE || c.type_ == JobCondition::FAILED) && c.status == "True"
    })
}

fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        kind: Str::from_static(Job::KIND),
        namespace: job.metadata.namespace.clone(),
        name: job.metadata.name.clone(),
        uid: job.metadata.uid.clone(),
        api_version: Str::from_static(Job::API_VERSION),
        resource_version: job.metadata.resource_version.clone(),
        field_path: Str::default(),
    }
}

/// The CronJob controller's [`Reconciler`]; see the [module guide](self).
pub struct CronJobReconciler {
    client: Arc<dyn Client>,
    jobs: Cache<Job>,
    recorder: Recorder,
    written: std::sync::Mutex<std::collections::HashMap<ObjectKey, u64>>,
    config: Config,
}

impl std::fmt::Debug for CronJobReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronJobReconciler").finish_non_exhaustive()
    }
}

impl CronJobReconciler {
    /// A reconciler reading Jobs from `factory`'s informer and writing
    /// through its client.
    pub fn new(factory: &InformerFactory, config: Config) -> Self {
        let jobs = factory.informer::<Job>();
        jobs.add_index(CONTROLLER_UID_INDEX, controller_uid::<Job>);
        CronJobReconciler {
            client: factory.client().clone(),
            jobs: jobs.cache(),
            recorder: Recorder::new(factory.client().clone(), "cronjob-controller"),
            written: Default::default(),
            config,
        }
    }

    async fn event(&self, cj: &CronJob, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(cj, type_, reason, message).await {
            tracing::debug!(error = %e, "recording an event");
        }
    }

    async fn delete_job(&self, job: &Job) -> Result<(), Error> {
        let opts = DeleteOptions {
            propagation_policy: Some(Str::from_static("Background")),
            preconditions: Some(Preconditions {
                uid: Some(job.metadata.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match Api::<Job>::namespaced(&self.client, &job.metadata.namespace)
            .delete(&job.metadata.name, &opts)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
            Err(e) => Err(Error::api(format!("deleting job {}", job.metadata.name), e)),
        }
    }
}

#[async_trait]
impl Reconciler<CronJob> for CronJobReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey, cj: Option<Arc<CronJob>>) -> Result<Action, Error> {
        let Some(cj) = cj else {
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
            return Ok(Action::Done);
        };
        if cj.metadata.is_deleting() {
            return Ok(Action::Done);
        }
        {
            let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
            if let (Some(w), Some(have)) = (written.get(key), numeric_rv(&cj.metadata)) {
                if have < *w {
                    return Ok(Action::Done);
                }
            }
        }
        let now = self.config.clock.now();
        let mut jobs: Vec<Arc<Job>> = self
            .jobs
            .by_index(CONTROLLER_UID_INDEX, &cj.metadata.uid)
            .unwrap_or_default()
            .into_iter()
            .filter(|j| !j.metadata.is_deleting())
            .collect();
        jobs.sort_by_key(|j| (j.metadata.creation_timestamp, j.metadata.name.clone()));
        let mut status = cj.status.clone();
        let mut active: Vec<Arc<Job>> = Vec::new();
        let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
        for j in &jobs {
            match finished(j) {
                None => active.push(j.clone()),
                Some(c) if c.type_ == JobCondition::COMPLETE => {
                    let done = j.status.completion_time.or(c.last_transition_time);
                    if done.is_some() && status.last_successful_time < done {
                        status.last_successful_time = done;
                    }
                    succeeded.push(j.clone());
                }
                Some(_) => failed.push(j.clone()),
            }
        }
        // History limits, oldest first.
        for (list, limit) in [
            (
                &succeeded,
                cj.spec.successful_jobs_history_limit.unwrap_or(3),
            ),
            (&failed, cj.spec.failed_jobs_history_limit.unwrap_or(1)),
        ] {
            let limit = usize::try_from(limit.max(0)).unwrap_or(0);
            if list.len() > limit {
                for j in &list[..list.len() - limit] {
                    self.delete_job(j).await?;
                }
            }
        }

        let mut requeue = None;
        let schedule = Schedule::parse(&cj.spec.schedule);
        let tz = time_zone(cj.spec.time_zone.as_deref());
        match (&schedule, &tz) {
            (Err(e), _) | (_, Err(e)) => {
                self.event(&cj, EventType::Warning, "UnparseableSchedule", e)
                    .await;
            }
            (Ok(schedule), Ok(tz)) if cj.spec.suspend != Some(true) => {
                let mut earliest = status
                    .last_schedule_time
                    .or(cj.metadata.creation_timestamp)
                    .unwrap_or(now);
                if let Some(sds) = cj.spec.starting_deadline_seconds {
                    earliest = earliest.max(now.add_seconds(-sds));
                }
                let (due, missed) = most_recent_unmet(schedule, tz, earliest, now);
                if missed > MAX_MISSED {
                    self.event(
                        &cj,
                        EventType::Warning,
                        "TooManyMissedTimes",
                        &format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
                    )
                    .await;
                }
                if let Some(t) = due {
                    let too_late = cj
                        .spec
                        .starting_deadline_seconds
                        .is_some_and(|sds| now > t.add_seconds(sds));
                    let policy = cj.spec.concurrency_policy.as_str();
                    if too_late {
                        self.event(
                            &cj,
                            EventType::Warning,
                            "MissSchedule",
                            &format!("missed the scheduled time {t}"),
                        )
                        .await;
                    } else if policy == "Forbid" && !active.is_empty() {
                        // Stays due; the active Job's end brings us back.
                    } else {
                        if policy == "Replace" {
                            for j in &active {
                                self.delete_job(j).await?;
                                self.event(
                                    &cj,
                                    EventType::Normal,
                                    "SuccessfulDelete",
                                    &format!("Deleted job {}", j.metadata.name),
                                )
                                .await;
                            }
                            active.clear();
                        }
                        let name = job_name(&cj.metadata.name, t);
                        let template = &cj.spec.job_template;
                        let mut annotations = template.metadata.annotations.clone();
                        annotations.insert(CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, t.to_string());
                        let job = Job {
                            metadata: ObjectMeta {
                                name: Str::from(name.as_str()),
                                namespace: cj.metadata.namespace.clone(),
                                labels: template.metadata.labels.clone(),
                                annotations,
                                owner_references: vec![controller_ref(cj.as_ref())],
                                ..ObjectMeta::default()
                            },
                            spec: template.spec.clone(),
                            ..Default::default()
                        };
                        let api = Api::<Job>::namespaced(&self.client, &cj.metadata.namespace);
                        let created = match api.create(&job).await {
                            Ok(j) => {
                                self.event(
                                    &cj,
                                    EventType::Normal,
                                    "SuccessfulCreate",
                                    &format!("Created job {name}"),
                                )
                                .await;
                                Some(j)
                            }
                            Err(e) if e.is_already_exists() => api
                                .get_opt(&name)
                                .await
                                .map_err(|e| Error::api(format!("reading job {name}"), e))?
                                .filter(|j| {
                                    j.metadata
                                        .controller()
                                        .is_some_and(|r| r.uid == cj.metadata.uid)
                                }),
                            Err(e) => return Err(Error::api(format!("creating job {name}"), e)),
                        };
                        if let Some(j) = created {
                            if !active.iter().any(|a| a.metadata.uid == j.metadata.uid)
                                && finished(&j).is_none()
                            {
                                active.push(Arc::new(j));
                            }
                        }
                        status.last_schedule_time = Some(t);
                    }
                }
                if let Some(next) = schedule.next_after(now, tz) {
                    requeue = Some(self.config.clock.until(next));
                }
            }
            _ => {}
        }
        status.active = active.iter().map(|j| job_ref(j)).collect();
        status.active.sort_by(|a, b| a.name.cmp(&b.name));
        if status != cj.status {
            let patch = json!({
                "metadata": {"resourceVersion": cj.metadata.resource_version},
                "status": {
                    "active": status.active,
                    "lastScheduleTime": status.last_schedule_time,
                    "lastSuccessfulTime": status.last_successful_time,
                }
            });
            match Api::<CronJob>::namespaced(&self.client, &cj.metadata.namespace)
                .patch_status(&cj.metadata.name, PatchType::Merge, &patch)
                .await
            {
                Ok(w) => {
                    if let Some(rv) = numeric_rv(&w.metadata) {
                        self.written
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(key.clone(), rv);
                    }
                }
                Err(e) if e.is_not_found() => return Ok(Action::Done),
                Err(e) => return Err(Error::api(format!("writing the status of {key}"), e)),
            }
        }
        Ok(requeue.map_or(Action::Done, |d| {
            Action::requeue(d.max(Duration::from_millis(1)))
        }))
    }
}

/// The CronJob controller, ready to [`run`](Controller::run) with a
/// [`CronJobReconciler`]: CronJobs are primary, Jobs map to their CronJob.
pub fn controller(factory: &InformerFactory, config: &Config) -> Controller<CronJob> {
    Controller::<CronJob>::new(factory)
        .name("cronjob")
        .owns::<Job>()
        .concurrency(config.concurrency)
}

/// Runs the CronJob controller with default settings until `shutdown`.
pub fn run(
    factory: &InformerFactory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    run_with(factory, Config::default(), shutdown)
}

/// [`run`] with settings.
pub fn run_with(
    factory: &InformerFactory,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let controller = controller(factory, &config).graceful_shutdown_on(shutdown);
    let reconciler = CronJobReconciler::new(factory, config);
    controller.run(reconciler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_one_catch_up_and_missed_counts() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        let tz = jiff::tz::TimeZone::UTC;
        let t0 = Time::from_unix_seconds(1_700_000_100); // a multiple of 300 minus 0
        let (due, n) = most_recent_unmet(&s, &tz, t0, t0.add_seconds(3 * 3600));
        assert_eq!(n, 36);
        assert_eq!(
            due,
            Some(Time::from_unix_seconds(
                (1_700_000_100 + 3 * 3600) / 300 * 300
            ))
        );
        let (_, n) = most_recent_unmet(&s, &tz, t0, t0.add_seconds(30 * 24 * 3600));
        assert!(n > MAX_MISSED);
        assert_eq!(job_name("cj", Time::from_unix_seconds(600)), "cj-10");
    }
}
