//! The Job controller: runs a Job's pods to completion, as Kubernetes'
//! `pkg/controller/job` does.
//!
//! Each reconcile of a Job:
//!
//! 1. finds its pods: the pods it controls (by ownerReference uid);
//! 2. **counts finished pods exactly once**, with the
//!    `batch.kubernetes.io/job-tracking` finalizer every pod is created
//!    with. A finished pod (`Succeeded`, `Failed`, or deleted before it
//!    succeeded) that still carries the finalizer is first recorded in
//!    `status.uncountedTerminatedPods` (one status write), then loses the
//!    finalizer, and only then moves from `uncountedTerminatedPods` into
//!    `status.succeeded` / `status.failed` (a second write). A controller
//!    that restarts anywhere in between finds each pod in exactly one of
//!    the three states — finalizer and not listed, listed, or counted — so
//!    nothing is lost or counted twice. Status writes carry the Job's
//!    resourceVersion, so a stale view conflicts instead of double-counting;
//!    and the controller waits for its own pod writes to reach the
//!    informer's cache before counting again (see
//!    [`Expectations`]);
//! 3. decides whether the Job is **finished**: succeeded (`completions`
//!    successes; every index for `completionMode: Indexed`; for a work
//!    queue — `parallelism` without `completions` — one success and no
//!    pod left running) or failed (`backoffLimit` exceeded: more failed pods
//!    than the limit, or with `restartPolicy: OnFailure` container restarts
//!    of running pods reaching it → `BackoffLimitExceeded`;
//!    `activeDeadlineSeconds` since `startTime` passed →
//!    `DeadlineExceeded`). The interim condition (`SuccessCriteriaMet` or
//!    `FailureTarget`) is written first, the pods still running are
//!    deleted, and `Complete` (with `completionTime`) or `Failed` follows
//!    once every pod is counted;
//! 4. otherwise **manages pods**: creates up to `parallelism` (never more
//!    than the completions still missing; for Indexed Jobs the lowest
//!    missing indexes, each pod with the
//!    `batch.kubernetes.io/job-completion-index` annotation and label, the
//!    `JOB_COMPLETION_INDEX` environment variable and the hostname
//!    `<job>-<index>`), deletes the excess, and after failures waits the
//!    back-off (10 s, doubling per failure since the last success, at most
//!    6 minutes) before creating replacements. `suspend: true` deletes the
//!    running pods (without counting them as failures) and sets the
//!    `Suspended` condition; resuming resets `startTime`;
//! 5. writes `status` (active, ready, terminating, succeeded, failed,
//!    completedIndexes, uncountedTerminatedPods, startTime, completionTime,
//!    conditions) when it changed;
//! 6. deletes a finished Job `ttlSecondsAfterFinished` after it finished
//!    (Kubernetes' TTL-after-finished controller), with its pods.
//!
//! Pods carry a controller ownerReference to the Job, so the garbage
//! collector removes them with it; the tracking finalizer of a Job that is
//! gone or being deleted is removed so nothing blocks that.
//!
//! The API server is expected to set `spec.selector` and the template's
//! `controller-uid` / `job-name` labels on create
//! ([`Job::generate_selector`]); when it has not, the controller labels
//! the pods itself the same way.
//!
//! Time comes from a [`Clock`], so back-off, deadlines
//! and TTLs run on paused `tokio::time` in tests. The back-off record (the
//! failures since the last success and when the last one was seen) is
//! kept in memory: after a controller restart the first replacement is
//! not delayed.
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use serde_json::json;

use super::clock::Clock;
use super::replicaset::{
    controller_ref, controller_uid, is_pod_ready, numeric_rv, Expectations, CONTROLLER_UID_INDEX,
};
use super::{Action, Controller, Reconciler};
use crate::api::batch::{
    Job, JobCondition, JobSpec, JobStatus, UncountedTerminatedPods,
    JOB_COMPLETION_INDEX_ANNOTATION, JOB_TRACKING_FINALIZER,
};
use crate::api::core::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use crate::api::meta::{DeleteOptions, Preconditions};
use crate::api::{ObjectMeta, Str, Time};
use crate::client::{Api, Client, PatchType};
use crate::informer::{Cache, InformerFactory, ObjectKey};

/// The environment variable holding an Indexed Job pod's completion index.
pub const JOB_COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Reason of `Failed` when `backoffLimit` is exceeded.
pub const REASON_BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
/// Reason of `Failed` when `activeDeadlineSeconds` passed.
pub const REASON_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
/// Reason of `Complete` / `SuccessCriteriaMet`.
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";
/// Reason of the `Suspended` condition.
pub const REASON_JOB_SUSPENDED: &str = "JobSuspended";
/// Reason of `Suspended: False` after resuming.
pub const REASON_JOB_RESUMED: &str = "JobResumed";

/// What can go wrong in a reconcile of the Job controller.
pub use super::ReconcileError as Error;

/// Settings of the Job controller.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Jobs reconciled at once (Kubernetes' `--concurrent-job-syncs`, 5).
    pub concurrency: usize,
    /// Most pods created or deleted in one reconcile (500).
    pub burst: usize,
    /// The first back-off after a failure (10 s); it doubles per failure.
    pub backoff_base: Duration,
    /// The longest back-off (6 minutes).
    pub backoff_max: Duration,
    /// How long to wait for the cache to show the controller's own pod
    /// writes before acting anyway (5 minutes).
    pub expectations_timeout: Duration,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 5,
            burst: 500,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(360),
            expectations_timeout: Duration::from_secs(300),
            clock: Clock::new(),
        }
    }
}

impl Config {
    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets [`burst`](Self::burst) (at least 1).
    #[must_use]
    pub fn burst(mut self, n: usize) -> Self {
        self.burst = n.max(1);
        self
    }

    /// Sets the back-off: `base` doubling per failure, at most `max`.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Sets [`clock`](Self::clock).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// The back-off delay before the next pod after `failures` consecutive
/// failures (none: no delay): `base * 2^(failures-1)`, at most `max`.
///
/// ```
/// use std::time::Duration;
/// use keelson::controllers::job::backoff_delay;
///
/// let (base, max) = (Duration::from_secs(10), Duration::from_secs(360));
/// assert_eq!(backoff_delay(0, base, max), Duration::ZERO);
/// assert_eq!(backoff_delay(1, base, max), Duration::from_secs(10));
/// assert_eq!(backoff_delay(3, base, max), Duration::from_secs(40));
/// assert_eq!(backoff_delay(20, base, max), Duration::from_secs(360));
/// ```
pub fn backoff_delay(failures: u32, base: Duration, max: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

// ---------------------------------------------------------------------------
// Index sets

/// Parses `completedIndexes` (`1,3-5`); malformed parts are skipped.
pub fn parse_indexes(s: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    if a <= b && b - a <= 1_000_000 {
                        out.extend(a..=b);
                    }
                }
            }
            None => {
                if let Ok(n) = part.parse::<i32>() {
                    out.insert(n);
                }
            }
        }
    }
    out
}

/// Formats indexes as `completedIndexes` does: ascending, runs of three
/// or more consecutive indexes as ranges (`0-2,4,6-9`); two consecutive
/// as a pair (`4,5`).
///
/// ```
/// use keelson::controllers::job::{format_indexes, parse_indexes};
///
/// let s = format_indexes(&[0, 1, 2, 4, 6, 7].into_iter().collect());
/// assert_eq!(s, "0-2,4,6,7");
/// assert_eq!(format_indexes(&parse_indexes(&s)), s);
/// ```
pub fn format_indexes(set: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        match end - start {
            0 => parts.push(start.to_string()),
            1 => {
                parts.push(start.to_string());
                parts.push(end.to_string());
            }
            _ => parts.push(format!("{start}-{end}")),
        }
    }
    parts.join(",")
}

/// The completion index of an Indexed Job's pod (annotation).
pub fn pod_index(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .get_str(JOB_COMPLETION_INDEX_ANNOTATION)
        .and_then(|v| v.parse().ok())
        .filter(|i| *i >= 0)
}

// ---------------------------------------------------------------------------
// Pod facts

fn is_finished(pod: &Pod) -> bool {
    matches!(pod.status.phase.as_str(), "Succeeded" | "Failed")
}

fn is_active(pod: &Pod) -> bool {
    !is_finished(pod) && !pod.metadata.is_deleting()
}

/// How a pod carrying the tracking finalizer counts, when it has finished:
/// `Some(true)` succeeded, `Some(false)` failed (a pod deleted before it
/// succeeded counts as failed), `None` still running.
fn outcome(pod: &Pod) -> Option<bool> {
    match pod.status.phase.as_str() {
        "Succeeded" => Some(true),
        "Failed" => Some(false),
        _ if pod.metadata.is_deleting() => Some(false),
        _ => None,
    }
}

fn restarts(pod: &Pod) -> i64 {
    pod.status
        .init_container_statuses
        .iter()
        .chain(&pod.status.container_statuses)
        .map(|c| i64::from(c.restart_count))
        .sum()
}

fn condition<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    job.status
        .conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// When a finished Job finished: its completionTime, or when its
/// `Complete`/`Failed` condition became true.
pub fn finish_time(job: &Job) -> Option<Time> {
    job.status.completion_time.or_else(|| {
        job.status
            .conditions
            .iter()
            .find(|c| {
                (c.type_ == JobCondition::COMPLETE || c.type_ == JobCondition::FAILED)
                    && c.status == "True"
            })
            .and_then(|c| c.last_transition_time)
    })
}

/// Sets (or updates) a condition, keeping its transition time when the
/// status did not change.
fn set_condition(
    conditions: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Time,
) {
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status {
            c.last_transition_time = Some(now);
        }
        c.status = Str::from(status);
        c.reason = Str::from(reason);
        c.message = Str::from(message);
        c.last_probe_time = Some(now);
        return;
    }
    conditions.push(JobCondition {
        type_: Str::from(type_),
        status: Str::from(status),
        last_probe_time: Some(now),
        last_transition_time: Some(now),
        reason: Str::from(reason),
        message: Str::from(message),
    });
}

/// The Job with the selector and labels the API server generates on
/// create, when it has not (see [`Job::generate_selector`]).
fn effective(job: &Job) -> std::borrow::Cow<'_, Job> {
    if job.spec.selector.is_none() && job.spec.manual_selector != Some(true) {
        let mut j = job.clone();
        j.generate_selector();
        std::borrow::Cow::Owned(j)
    } else {
        std::borrow::Cow::Borrowed(job)
    }
}

/// The pod a Job creates (for `index` when Indexed).
pub fn pod_for(job: &Job, index: Option<i32>) -> Pod {
    let job = effective(job);
    let template = &job.spec.template;
    let mut meta = ObjectMeta {
        namespace: job.metadata.namespace.clone(),
        labels: template.metadata.labels.clone(),
        annotations: template.metadata.annotations.clone(),
        finalizers: template.metadata.finalizers.clone(),
        owner_references: vec![controller_ref(job.as_ref())],
        ..ObjectMeta::default()
    };
    if !meta.has_finalizer(JOB_TRACKING_FINALIZER) {
        meta.finalizers
            .push(Str::from_static(JOB_TRACKING_FINALIZER));
    }
    let mut spec = template.spec.clone();
    match index {
        Some(i) => {
            meta.generate_name = Str::from(format!("{}-{i}-", job.metadata.name));
            meta.annotations
                .insert(JOB_COMPLETION_INDEX_ANNOTATION, i.to_string());
            meta.labels
                .insert(JOB_COMPLETION_INDEX_ANNOTATION, i.to_string());
            if spec.hostname.is_empty() {
                spec.hostname = Str::from(format!("{}-{i}", job.metadata.name));
            }
            let env = EnvVar {
                name: Str::from_static(JOB_COMPLETION_INDEX_ENV),
                value: Str::default(),
                value_from: Some(Box::new(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: Str::default(),
                        field_path: Str::from(format!(
                            "metadata.annotations['{JOB_COMPLETION_INDEX_ANNOTATION}']"
                        )),
                    }),
                    ..Default::default()
                })),
            };
            for c in spec
                .init_containers
                .iter_mut()
                .chain(spec.containers.iter_mut())
            {
                if !c.env.iter().any(|e| e.name == JOB_COMPLETION_INDEX_ENV) {
                    c.env.push(env.clone());
                }
            }
        }
        None => {
            meta.generate_name = Str::from(format!("{}-", job.metadata.name));
        }
    }
    Pod {
        metadata: meta,
        spec,
        ..Pod::default()
    }
}

// ---------------------------------------------------------------------------
// The reconciler

#[derive(Clone, Copy, Debug, Default)]
struct Backoff {
    failures: u32,
    last_failure: Option<crate::api::MicroTime>,
}

/// The Job controller's [`Reconciler`]; see the [module guide](self).
pub struct JobReconciler {
    client: Arc<dyn Client>,
    pods: Cache<Pod>,
    expectations: Expectations,
    written: Mutex<HashMap<ObjectKey, u64>>,
    backoff: Mutex<HashMap<Str, Backoff>>,
    config: Config,
}

impl std::fmt::Debug for JobReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobReconciler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What the counting step found.
#[derive(Default)]
struct Tally {
    /// Pods that may still run (not finished, not being deleted).
    active: Vec<Arc<Pod>>,
    terminating: i32,
}

impl JobReconciler {
    /// A reconciler reading pods from `factory`'s informer (adding the
    /// controller-uid index) and writing through its client.
    pub fn new(factory: &InformerFactory, config: Config) -> Self {
        let pods = factory.informer::<Pod>();
        pods.add_index(CONTROLLER_UID_INDEX, controller_uid::<Pod>);
        JobReconciler {
            client: factory.client().clone(),
            pods: pods.cache(),
            expectations: Expectations::new(config.expectations_timeout),
            written: Mutex::new(HashMap::new()),
            backoff: Mutex::new(HashMap::new()),
            config,
        }
    }

    fn pods_api(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(&self.client, ns)
    }

    fn is_stale(&self, key: &ObjectKey, job: &Job) -> bool {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match (written.get(key), numeric_rv(&job.metadata)) {
            (Some(w), Some(have)) => have < *w,
            _ => false,
        }
    }

    /// Removes the tracking finalizer from `pod` (guarded by its
    /// resourceVersion). Returns false when the pod is gone.
    async fn remove_finalizer(&self, key: &ObjectKey, pod: &Pod) -> Result<bool, Error> {
        let finalizers: Vec<&Str> = pod
            .metadata
            .finalizers
            .iter()
            .filter(|f| *f != JOB_TRACKING_FINALIZER)
            .collect();
        let patch = json!({"metadata": {
            "finalizers": finalizers,
            "uid": pod.metadata.uid,
            "resourceVersion": pod.metadata.resource_version,
        }});
        match self
            .pods_api(&pod.metadata.namespace)
            .patch(&pod.metadata.name, PatchType::Merge, &patch)
            .await
        {
            Ok(p) => {
                self.expectations.expect_written(key, &p.metadata);
                Ok(true)
            }
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(Error::api(
                format!(
                    "removing the tracking finalizer of pod {}/{}",
                    pod.metadata.namespace, pod.metadata.name
                ),
                e,
            )),
        }
    }

    async fn remove_finalizers(&self, key: &ObjectKey, pods: &[Arc<Pod>]) -> Result<(), Error> {
        let results = join_all(pods.iter().map(|p| self.remove_finalizer(key, p))).await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// Deletes pods; with `uncounted`, their finalizer goes first so they
    /// are not counted as failures.
    async fn delete_pods(
        &self,
        key: &ObjectKey,
        pods: &[Arc<Pod>],
        uncounted: bool,
    ) -> Result<(), Error> {
        let results = join_all(pods.iter().map(|p| async move {
            if uncounted && p.metadata.has_finalizer(JOB_TRACKING_FINALIZER) {
                self.remove_finalizer(key, p).await?;
            }
            let opts = DeleteOptions {
                preconditions: Some(Preconditions {
                    uid: Some(p.metadata.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match self
                .pods_api(&p.metadata.namespace)
                .delete(&p.metadata.name, &opts)
                .await
            {
                Ok(_) => {
                    self.expectations.expect_deleted(
                        key,
                        ObjectKey::of(p.as_ref()),
                        p.metadata.uid.clone(),
                    );
                    Ok(())
                }
                Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
                Err(e) => Err(Error::api(
                    format!("deleting pod {}/{}", p.metadata.namespace, p.metadata.name),
                    e,
                )),
            }
        }))
        .await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// Writes the status (guarded by the Job's resourceVersion); `Ok(None)`
    /// when the Job is gone.
    async fn write_status(
        &self,
        key: &ObjectKey,
        job: &Job,
        status: &JobStatus,
    ) -> Result<Option<Job>, Error> {
        let mut value = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
        if let Some(m) = value.as_object_mut() {
            // A merge patch only sets what it names: name every counter.
            for (k, v) in [
                ("active", json!(status.active)),
                ("succeeded", json!(status.succeeded)),
                ("failed", json!(status.failed)),
                ("completedIndexes", json!(status.completed_indexes)),
                ("conditions", json!(status.conditions)),
                ("uncountedTerminatedPods", {
                    // Both lists, even empty: a merge patch leaves out
                    // what it does not name.
                    let u = status.uncounted_terminated_pods.clone().unwrap_or_default();
                    json!({"succeeded": u.succeeded, "failed": u.failed})
                }),
            ] {
                m.insert(k.to_string(), v);
            }
            for k in ["startTime", "completionTime", "ready", "terminating"] {
                m.entry(k.to_string()).or_insert(serde_json::Value::Null);
            }
        }
        let patch = json!({
            "metadata": {"resourceVersion": job.metadata.resource_version},
            "status": value,
        });
        match Api::<Job>::namespaced(&self.client, &job.metadata.namespace)
            .patch_status(&job.metadata.name, PatchType::Merge, &patch)
            .await
        {
            Ok(w) => {
                if let Some(rv) = numeric_rv(&w.metadata) {
                    self.written
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key.clone(), rv);
                }
                Ok(Some(w))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(Error::api(format!("writing the status of job {key}"), e)),
        }
    }

    /// A Job that is gone (or being deleted): its pods lose the tracking
    /// finalizer so nothing holds them.
    async fn release_pods(&self, key: &ObjectKey, uid: Option<&str>) -> Result<(), Error> {
        let pods: Vec<Arc<Pod>> = self
            .pods
            .list_namespace(&key.namespace)
            .into_iter()
            .filter(|p| p.metadata.has_finalizer(JOB_TRACKING_FINALIZER))
            .filter(|p| {
                p.metadata.controller().is_some_and(|r| {
                    r.kind == "Job" && r.name == key.name && uid.is_none_or(|u| r.uid == u)
                })
            })
            .collect();
        self.remove_finalizers(key, &pods).await
    }

    /// Moves newly finished pods into `uncountedTerminatedPods`, removes
    /// their finalizers, and moves those into the counters. Returns the
    /// Job as last written and what is still running.
    async fn track(
        &self,
        key: &ObjectKey,
        job: Arc<Job>,
        pods: &[Arc<Pod>],
    ) -> Result<Option<(Arc<Job>, Tally)>, Error> {
        let indexed = job.spec.is_indexed();
        let completions = job.spec.completions.unwrap_or(0);
        let mut uncounted = job
            .status
            .uncounted_terminated_pods
            .clone()
            .unwrap_or_default();
        let listed: HashSet<Str> = uncounted
            .succeeded
            .iter()
            .chain(&uncounted.failed)
            .cloned()
            .collect();
        let mut completed = parse_indexes(&job.status.completed_indexes);
        let finished = job.is_finished();
        let mut tally = Tally::default();
        let mut new_failures = 0u32;
        let mut new_success = false;
        let mut changed = false;
        for p in pods {
            if is_active(p) {
                tally.active.push(p.clone());
            } else if p.metadata.is_deleting() && !is_finished(p) {
                tally.terminating += 1;
            }
            if !p.metadata.has_finalizer(JOB_TRACKING_FINALIZER) || listed.contains(&p.metadata.uid)
            {
                continue;
            }
            match outcome(p) {
                Some(true) => {
                    uncounted.succeeded.push(p.metadata.uid.clone());
                    if indexed {
                        if let Some(i) = pod_index(p).filter(|i| *i < completions) {
                            completed.insert(i);
                        }
                    }
                    new_success = true;
                    changed = true;
                }
                Some(false) => {
                    uncounted.failed.push(p.metadata.uid.clone());
                    new_failures += 1;
                    changed = true;
                }
                None => {}
            }
        }
        if !finished {
            let now = self.config.clock.now_micros();
            let mut b = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
            let rec = b.entry(job.metadata.uid.clone()).or_default();
            if new_success {
                *rec = Backoff::default();
            }
            if new_failures > 0 {
                rec.failures = rec.failures.saturating_add(new_failures);
                rec.last_failure = Some(now);
            }
        }
        let mut job = job;
        // Step 1: record the newly finished pods.
        if changed {
            let mut status = job.status.clone();
            status.uncounted_terminated_pods = Some(uncounted.clone());
            status.completed_indexes = Str::from(format_indexes(&completed));
            match self.write_status(key, &job, &status).await? {
                Some(w) => job = Arc::new(w),
                None => return Ok(None),
            }
        }
        // Step 2: the listed pods lose their finalizers.
        let by_uid: HashMap<&str, &Arc<Pod>> =
            pods.iter().map(|p| (p.metadata.uid.as_str(), p)).collect();
        let mut strip = Vec::new();
        for uid in uncounted.succeeded.iter().chain(&uncounted.failed) {
            if let Some(p) = by_uid.get(uid.as_str()) {
                if p.metadata.has_finalizer(JOB_TRACKING_FINALIZER) {
                    strip.push((*p).clone());
                }
            }
        }
        let results = join_all(strip.iter().map(|p| self.remove_finalizer(key, p))).await;
        let mut stripped_err = None;
        for r in results {
            if let Err(e) = r {
                stripped_err.get_or_insert(e);
            }
        }
        // Step 3: pods that no longer carry the finalizer (or are gone) move
        // into the counters. A failed removal keeps its pod listed.
        let still_held: HashSet<&str> = pods
            .iter()
            .filter(|p| p.metadata.has_finalizer(JOB_TRACKING_FINALIZER))
            .map(|p| p.metadata.uid.as_str())
            .collect();
        let removed: HashSet<&str> = if stripped_err.is_none() {
            strip.iter().map(|p| p.metadata.uid.as_str()).collect()
        } else {
            HashSet::new()
        };
        let done = |uid: &Str| !still_held.contains(uid.as_str()) || removed.contains(uid.as_str());
        let (moved_s, keep_s): (Vec<Str>, Vec<Str>) =
            uncounted.succeeded.iter().cloned().partition(|u| done(u));
        let (moved_f, keep_f): (Vec<Str>, Vec<Str>) =
            uncounted.failed.iter().cloned().partition(|u| done(u));
        if !moved_s.is_empty() || !moved_f.is_empty() {
            let mut status = job.status.clone();
            if indexed {
                status.succeeded = i32::try_from(completed.len()).unwrap_or(i32::MAX);
            } else {
                status.succeeded = status
                    .succeeded
                    .saturating_add(i32::try_from(moved_s.len()).unwrap_or(i32::MAX));
            }
            status.failed = status
                .failed
                .saturating_add(i32::try_from(moved_f.len()).unwrap_or(i32::MAX));
            status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
                succeeded: keep_s,
                failed: keep_f,
            });
            match self.write_status(key, &job, &status).await? {
                Some(w) => job = Arc::new(w),
                None => return Ok(None),
            }
        }
        if let Some(e) = stripped_err {
            return Err(e);
        }
        Ok(Some((job, tally)))
    }

    async fn sync(&self, key: &ObjectKey, job: Arc<Job>) -> Result<Action, Error> {
        let uid = job.metadata.uid.clone();
        let pods: Vec<Arc<Pod>> = self
            .pods
            .by_index(CONTROLLER_UID_INDEX, &uid)
            .unwrap_or_default();
        if job.metadata.is_deleting() {
            self.release_pods(key, Some(&uid)).await?;
            return Ok(Action::Done);
        }
        let now = self.config.clock.now();
        if job.is_finished() {
            // Counting is over: nothing may hold the pods any more.
            let held: Vec<Arc<Pod>> = pods
                .iter()
                .filter(|p| p.metadata.has_finalizer(JOB_TRACKING_FINALIZER))
                .cloned()
                .collect();
            self.remove_finalizers(key, &held).await?;
            return self.ttl(key, &job, now).await;
        }
        let Some((job, tally)) = self.track(key, job, &pods).await? else {
            return Ok(Action::Done);
        };
        let spec = &job.spec;
        let indexed = spec.is_indexed();
        let uncounted = job
            .status
            .uncounted_terminated_pods
            .clone()
            .unwrap_or_default();
        let succeeded = if indexed {
            job.status.succeeded
        } else {
            job.status
                .succeeded
                .saturating_add(i32::try_from(uncounted.succeeded.len()).unwrap_or(i32::MAX))
        };
        let failed = job
            .status
            .failed
            .saturating_add(i32::try_from(uncounted.failed.len()).unwrap_or(i32::MAX));
        let active = i32::try_from(tally.active.len()).unwrap_or(i32::MAX);
        let suspended = spec.suspend == Some(true);
        let mut status = job.status.clone();
        let mut requeue: Option<Duration> = None;
        let mut first_error: Option<Error> = None;

        if status.start_time.is_none() && !suspended {
            status.start_time = Some(now);
        }
        let completions = spec.completions;
        let completed = parse_indexes(&job.status.completed_indexes);
        let success = match (indexed, completions) {
            (true, Some(c)) => (0..c).all(|i| completed.contains(&i)),
            (false, Some(c)) => succeeded >= c,
            (_, None) => succeeded > 0 && active == 0,
        };
        let backoff_limit = spec.backoff_limit.unwrap_or(6);
        let on_failure = spec.template.spec.restart_policy == "OnFailure";
        let restarts: i64 = tally.active.iter().map(|p| restarts(p)).sum();
        let past_backoff = failed > backoff_limit
            || (on_failure
                && if backoff_limit == 0 {
                    restarts > 0
                } else {
                    restarts >= i64::from(backoff_limit)
                });
        let deadline = match (spec.active_deadline_seconds, status.start_time) {
            (Some(secs), Some(start)) if !suspended => Some(start.add_seconds(secs)),
            _ => None,
        };
        let failure_target = condition(&job, JobCondition::FAILURE_TARGET)
            .map(|c| (c.reason.clone(), c.message.clone()));
        let success_target = condition(&job, JobCondition::SUCCESS_CRITERIA_MET).is_some();
        let failure: Option<(Str, Str)> = failure_target.or_else(|| {
            if success || success_target {
                None
            } else if past_backoff {
                Some((
                    Str::from_static(REASON_BACKOFF_LIMIT_EXCEEDED),
                    Str::from_static("Job has reached the specified backoff limit"),
                ))
            } else if deadline.is_some_and(|d| now >= d) {
                Some((
                    Str::from_static(REASON_DEADLINE_EXCEEDED),
                    Str::from_static("Job was active longer than specified deadline"),
                ))
            } else {
                None
            }
        });
        let expectations_met = self.expectations.satisfied(key, &self.pods);

        if let Some((reason, message)) = failure {
            set_condition(
                &mut status.conditions,
                JobCondition::FAILURE_TARGET,
                "True",
                &reason,
                &message,
                now,
            );
            if !tally.active.is_empty() {
                if let Err(e) = self.delete_pods(key, &tally.active, false).await {
                    first_error = Some(e);
                }
            } else if tally.terminating == 0
                && uncounted.failed.is_empty()
                && uncounted.succeeded.is_empty()
            {
                set_condition(
                    &mut status.conditions,
                    JobCondition::FAILED,
                    "True",
                    &reason,
                    &message,
                    now,
                );
            }
        } else if success || success_target {
            set_condition(
                &mut status.conditions,
                JobCondition::SUCCESS_CRITERIA_MET,
                "True",
                REASON_COMPLETIONS_REACHED,
                "Reached expected number of succeeded pods",
                now,
            );
            if !tally.active.is_empty() {
                if let Err(e) = self.delete_pods(key, &tally.active, true).await {
                    first_error = Some(e);
                }
            } else if tally.terminating == 0
                && uncounted.failed.is_empty()
                && uncounted.succeeded.is_empty()
            {
                set_condition(
                    &mut status.conditions,
                    JobCondition::COMPLETE,
                    "True",
                    REASON_COMPLETIONS_REACHED,
                    "Reached expected number of succeeded pods",
                    now,
                );
                status.completion_time = Some(now);
            }
        } else if suspended {
            if !tally.active.is_empty() {
                if let Err(e) = self.delete_pods(key, &tally.active, true).await {
                    first_error = Some(e);
                }
            }
            if condition(&job, JobCondition::SUSPENDED).is_none() {
                set_condition(
                    &mut status.conditions,
                    JobCondition::SUSPENDED,
                    "True",
                    REASON_JOB_SUSPENDED,
                    "Job suspended",
                    now,
                );
            }
        } else {
            if condition(&job, JobCondition::SUSPENDED).is_some() {
                set_condition(
                    &mut status.conditions,
                    JobCondition::SUSPENDED,
                    "False",
                    REASON_JOB_RESUMED,
                    "Job resumed",
                    now,
                );
                // The deadline counts from the resume.
                status.start_time = Some(now);
            }
            if expectations_met {
                match self.manage(key, &job, &tally, succeeded, &completed).await {
                    Ok(r) => requeue = r,
                    Err(e) => first_error = Some(e),
                }
            }
            if let Some(d) = deadline {
                let wait = self.config.clock.until(d);
                requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
            }
        }

        status.active = active;
        status.terminating = Some(tally.terminating);
        status.ready = Some(
            i32::try_from(tally.active.iter().filter(|p| is_pod_ready(p)).count())
                .unwrap_or(i32::MAX),
        );
        if status != job.status && self.write_status(key, &job, &status).await?.is_none() {
            return Ok(Action::Done);
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if job_finished_status(&status) {
            return self.ttl(key, &job, now).await;
        }
        Ok(requeue.map_or(Action::Done, Action::requeue))
    }

    /// Creates missing pods and deletes excess ones. Returns when to look
    /// again (a back-off in progress).
    async fn manage(
        &self,
        key: &ObjectKey,
        job: &Job,
        tally: &Tally,
        succeeded: i32,
        completed: &BTreeSet<i32>,
    ) -> Result<Option<Duration>, Error> {
        let spec = &job.spec;
        let parallelism = usize::try_from(spec.parallelism.unwrap_or(1).max(0)).unwrap_or(0);
        let active = tally.active.len();
        let burst = self.config.burst.max(1);
        let wanted = match spec.completions {
            Some(c) if spec.is_indexed() => {
                let missing = (0..c).filter(|i| !completed.contains(i)).count();
                parallelism.min(missing)
            }
            Some(c) => {
                parallelism.min(usize::try_from(c.saturating_sub(succeeded).max(0)).unwrap_or(0))
            }
            // A work queue: once one pod succeeded, no new ones.
            None if succeeded > 0 => active.min(parallelism),
            None => parallelism,
        };
        if active > wanted {
            // The newest go first.
            let mut ranked: Vec<Arc<Pod>> = tally.active.clone();
            ranked.sort_by(|a, b| super::replicaset::deletion_order(a, b));
            let victims: Vec<Arc<Pod>> = ranked
                .into_iter()
                .take((active - wanted).min(burst))
                .collect();
            self.delete_pods(key, &victims, true).await?;
            return Ok(None);
        }
        if active == wanted {
            return Ok(None);
        }
        // Back-off after failures.
        let rec = self
            .backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&job.metadata.uid)
            .copied()
            .unwrap_or_default();
        if let Some(last) = rec.last_failure {
            let delay = backoff_delay(
                rec.failures,
                self.config.backoff_base,
                self.config.backoff_max,
            );
            let ready_at = last.plus(delay);
            let now = self.config.clock.now_micros();
            if now < ready_at {
                let wait = u64::try_from(ready_at.unix_micros() - now.unix_micros()).unwrap_or(0);
                return Ok(Some(Duration::from_micros(wait) + Duration::from_millis(1)));
            }
        }
        let n = (wanted - active).min(burst);
        let templates: Vec<Pod> = if spec.is_indexed() {
            let held: HashSet<i32> = tally.active.iter().filter_map(|p| pod_index(p)).collect();
            let c = spec.completions.unwrap_or(0);
            (0..c)
                .filter(|i| !completed.contains(i) && !held.contains(i))
                .take(n)
                .map(|i| pod_for(job, Some(i)))
                .collect()
        } else {
            let pod = pod_for(job, None);
            vec![pod; n]
        };
        let api = self.pods_api(&job.metadata.namespace);
        let results = join_all(templates.iter().map(|p| api.create(p))).await;
        let mut first = None;
        for r in results {
            match r {
                Ok(p) => self.expectations.expect_written(key, &p.metadata),
                Err(e)
                    if e.status()
                        .is_some_and(|s| s.message.contains("is being terminated")) => {}
                Err(e) => {
                    first.get_or_insert(Error::api(format!("creating pods of job {key}"), e));
                }
            }
        }
        first.map_or(Ok(None), Err)
    }

    /// A finished Job: deleted `ttlSecondsAfterFinished` after it finished.
    async fn ttl(&self, key: &ObjectKey, job: &Job, now: Time) -> Result<Action, Error> {
        let (Some(ttl), Some(finished)) = (job.spec.ttl_seconds_after_finished, finish_time(job))
        else {
            return Ok(Action::Done);
        };
        let expires = finished.add_seconds(i64::from(ttl));
        if now < expires {
            return Ok(Action::requeue(self.config.clock.until(expires)));
        }
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
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(Action::Done),
            Err(e) => Err(Error::api(format!("deleting finished job {key}"), e)),
        }
    }
}

fn job_finished_status(s: &JobStatus) -> bool {
    s.conditions.iter().any(|c| {
        (c.type_ == JobCondition::COMPLETE || c.type_ == JobCondition::FAILED) && c.status == "True"
    })
}

/// True when `spec.managedBy` names another controller.
fn managed_elsewhere(spec: &JobSpec) -> bool {
    spec.managed_by
        .as_deref()
        .is_some_and(|m| m != "kubernetes.io/job-controller")
}

#[async_trait]
impl Reconciler<Job> for JobReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey, job: Option<Arc<Job>>) -> Result<Action, Error> {
        let Some(job) = job else {
            self.expectations.forget(key);
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
            self.release_pods(key, None).await?;
            return Ok(Action::Done);
        };
        if managed_elsewhere(&job.spec) || self.is_stale(key, &job) {
            return Ok(Action::Done);
        }
        if !job.is_finished()
            && !job.metadata.is_deleting()
            && !self.expectations.satisfied(key, &self.pods)
        {
            // Our own pod writes are not in the cache yet: counting now
            // could count a pod twice. Their events bring us back.
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let result = self.sync(key, job.clone()).await;
        if job.is_finished() {
            self.backoff
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&job.metadata.uid);
        }
        result
    }
}

/// The Job controller, ready to [`run`](Controller::run) with a
/// [`JobReconciler`]: Jobs are the primary kind, pods map to the Job that
/// controls them.
pub fn controller(factory: &InformerFactory, config: &Config) -> Controller<Job> {
    Controller::<Job>::new(factory)
        .name("job")
        .owns::<Pod>()
        .concurrency(config.concurrency)
}

/// Runs the Job controller with default settings until `shutdown`.
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
    let reconciler = JobReconciler::new(factory, config);
    controller.run(reconciler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip() {
        for s in ["", "0", "0,1", "0-2", "1,3-5,7", "0-9,11,12"] {
            assert_eq!(format_indexes(&parse_indexes(s)), s);
        }
        assert_eq!(
            parse_indexes("x,2,5-3").into_iter().collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn indexed_pods_carry_their_index() {
        let mut job = Job {
            metadata: ObjectMeta::namespaced("ns", "work"),
            ..Default::default()
        };
        job.metadata.uid = "u1".into();
        job.spec.completion_mode = Some("Indexed".into());
        job.spec.template.spec.containers.push(Default::default());
        let pod = pod_for(&job, Some(3));
        assert_eq!(pod.metadata.generate_name, "work-3-");
        assert_eq!(pod_index(&pod), Some(3));
        assert_eq!(pod.spec.hostname, "work-3");
        assert!(pod.metadata.has_finalizer(JOB_TRACKING_FINALIZER));
        assert_eq!(
            pod.metadata
                .labels
                .get_str(crate::api::batch::CONTROLLER_UID_LABEL),
            Some("u1")
        );
        assert_eq!(pod.spec.containers[0].env[0].name, JOB_COMPLETION_INDEX_ENV);
        assert_eq!(pod.metadata.owner_references[0].uid, "u1");
    }
}
