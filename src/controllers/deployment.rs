//! The Deployment controller: rolls a Deployment's pod template out
//! through ReplicaSets, as Kubernetes' `pkg/controller/deployment` does.
//!
//! A Deployment owns ReplicaSets, one per template it has had. The one
//! whose template equals the Deployment's (ignoring the
//! `pod-template-hash` label) is the *new* ReplicaSet; the others are
//! *old*. The new one is named `<deployment>-<hash>`, where the hash is a
//! stable hash of the template ([`template_hash`]), and the hash is added
//! to its selector, labels and template so ReplicaSets never fight over
//! pods. Each reconcile:
//!
//! - claims ReplicaSets (adopting matching orphans, releasing ones that
//!   stopped matching);
//! - when **paused**, or when `spec.replicas` changed (a *scaling event*),
//!   only scales: the one active ReplicaSet, or all of them in proportion
//!   to their size during a rollout (leftovers to the largest), capped by
//!   `replicas + maxSurge`;
//! - otherwise rolls out: **RollingUpdate** scales the new ReplicaSet up
//!   while the total stays within `replicas + maxSurge` and old ones down
//!   while the available pods stay at least `replicas - maxUnavailable`
//!   (surge rounds up, unavailability down; both zero means one may be
//!   unavailable); **Recreate** scales every old ReplicaSet to zero, waits
//!   until their pods are gone, then scales the new one up;
//! - numbers revisions (`deployment.kubernetes.io/revision` on the
//!   ReplicaSets and the Deployment): a new ReplicaSet gets the highest
//!   revision plus one, and so does an old one that becomes new again (a
//!   rollback — `kubectl rollout undo` puts an old ReplicaSet's template back
//!   into the Deployment);
//! - once complete, deletes the oldest old ReplicaSets beyond
//!   `revisionHistoryLimit`;
//! - writes the status: counts, the `Available` condition, and the
//!   `Progressing` condition (`NewReplicaSetCreated`, `FoundNewReplicaSet`,
//!   `ReplicaSetUpdated`, `NewReplicaSetAvailable`, `ProgressDeadlineExceeded`
//!   after `progressDeadlineSeconds` without progress, `DeploymentPaused`,
//!   `DeploymentResumed`).
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::apps::{Deployment, ReplicaSet};
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::controllers::{deployment, replicaset};
//! use keelson::informer::InformerFactory;
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let factory = InformerFactory::new(&client);
//! let (stop, stopped) = tokio::sync::watch::channel(false);
//! let signal = |mut rx: tokio::sync::watch::Receiver<bool>| async move { let _ = rx.wait_for(|s| *s).await; };
//! let deployments = tokio::spawn(deployment::run(&factory, signal(stopped.clone())));
//! let replicasets = tokio::spawn(replicaset::run(&factory, signal(stopped)));
//!
//! let d: Deployment = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "web"},
//!     "spec": {
//!         "replicas": 2,
//!         "selector": {"matchLabels": {"app": "web"}},
//!         "template": {
//!             "metadata": {"labels": {"app": "web"}},
//!             "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}
//!         }
//!     }
//! })).unwrap();
//! Api::<Deployment>::namespaced(&client, "default").create(&d).await.unwrap();
//!
//! let sets = Api::<ReplicaSet>::namespaced(&client, "default");
//! let rs = loop {
//!     if let Some(rs) = sets.list(&Default::default()).await.unwrap().items.pop() {
//!         break rs;
//!     }
//!     tokio::task::yield_now().await;
//! };
//! assert!(rs.metadata.name.starts_with("web-"));
//! assert_eq!(rs.metadata.annotations.get_str(deployment::REVISION_ANNOTATION), Some("1"));
//! let _ = stop.send(true);
//! deployments.await.unwrap();
//! replicasets.await.unwrap();
//! # });
//! ```
use std::cmp::Ordering;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::replicaset::{
    controller_ref, controller_uid, numeric_rv, Expectations, CONTROLLER_UID_INDEX,
};
use super::{Action, Controller, Reconciler};
use crate::api::apps::{
    Deployment, DeploymentCondition, DeploymentStatus, DeploymentStrategy, ReplicaSet,
    ReplicaSetSpec,
};
use crate::api::core::{Pod, PodTemplateSpec};
use crate::api::selector::Selector;
use crate::api::{IntOrString, MicroTime, ObjectMeta, OwnerReference, Str, Time};
use crate::client::{self, Api, Client, PatchType};
use crate::informer::{Cache, InformerFactory, ObjectKey};

/// The label that ties a ReplicaSet and its pods to one template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// The revision of a ReplicaSet, and of the Deployment's current one.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The Deployment's `spec.replicas` when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// `replicas + maxSurge` when the ReplicaSet was last scaled.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";

/// Reasons of the `Progressing` and `Available` conditions.
pub mod reason {
    /// A new ReplicaSet was created.
    pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
    /// An existing ReplicaSet has the Deployment's template.
    pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
    /// The rollout made progress.
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    /// The rollout is complete.
    pub const NEW_REPLICA_SET_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// No progress for `progressDeadlineSeconds`.
    pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
    /// The Deployment is paused.
    pub const DEPLOYMENT_PAUSED: &str = "DeploymentPaused";
    /// The Deployment was resumed.
    pub const DEPLOYMENT_RESUMED: &str = "DeploymentResumed";
    /// At least `replicas - maxUnavailable` pods are available.
    pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// Fewer than `replicas - maxUnavailable` pods are available.
    pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
}

/// What can go wrong in a reconcile of the Deployment controller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A call to the API failed.
    #[error("{action}: {source}")]
    Api {
        /// What the controller was doing.
        action: String,
        /// The API's error.
        #[source]
        source: client::Error,
    },
    /// The new ReplicaSet's name is taken by a ReplicaSet with another
    /// template; `status.collisionCount` was raised so the next try hashes
    /// differently.
    #[error("hash collision: ReplicaSet {name} exists with a different template")]
    HashCollision {
        /// The taken name.
        name: String,
    },
}

impl Error {
    fn api(action: impl Into<String>, source: client::Error) -> Self {
        Error::Api {
            action: action.into(),
            source,
        }
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings of the Deployment controller.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Deployments reconciled at once (Kubernetes'
    /// `--concurrent-deployment-syncs`, 5).
    pub concurrency: usize,
    /// How long to wait for the informer to observe the controller's own
    /// ReplicaSet writes before acting again anyway (5 minutes).
    pub expectations_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 5,
            expectations_timeout: Duration::from_secs(5 * 60),
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

    /// Sets [`expectations_timeout`](Self::expectations_timeout).
    #[must_use]
    pub fn expectations_timeout(mut self, timeout: Duration) -> Self {
        self.expectations_timeout = timeout;
        self
    }
}

// ---------------------------------------------------------------------------
// Pure rules

const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `pod-template-hash` of a template: FNV-1a (32 bits) of its JSON
/// form and the collision count, written with Kubernetes' safe alphabet
/// (no vowels, no look-alike digits). Stable across runs.
///
/// ```
/// use keelson::api::core::PodTemplateSpec;
/// use keelson::controllers::deployment::template_hash;
///
/// let t = PodTemplateSpec::default();
/// assert_eq!(template_hash(&t, None), template_hash(&t, None));
/// assert_ne!(template_hash(&t, None), template_hash(&t, Some(1)));
/// ```
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |b: u8| {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    };
    for b in serde_json::to_vec(template).unwrap_or_default() {
        feed(b);
    }
    if let Some(c) = collision_count {
        for b in c.to_le_bytes() {
            feed(b);
        }
    }
    h.to_string()
        .bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// True when two templates are equal but for the `pod-template-hash`
/// label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        t.metadata.labels.remove(POD_TEMPLATE_HASH_LABEL);
        t
    };
    strip(a) == strip(b)
}

/// The revision annotation of an object (0 when absent or not a number).
pub fn revision(meta: &ObjectMeta) -> i64 {
    meta.annotations
        .get_str(REVISION_ANNOTATION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// `maxSurge` and `maxUnavailable` of a rolling Deployment as counts
/// (surge rounded up, unavailability down; when both are zero, one pod may
/// be unavailable). Zero and zero for `Recreate`.
pub fn resolve_fenceposts(d: &Deployment) -> (i32, i32) {
    let Some(rolling) = rolling(d) else {
        return (0, 0);
    };
    let replicas = d.replicas();
    let scaled = |v: &Option<IntOrString>, default: &str, up: bool| {
        v.clone()
            .unwrap_or_else(|| IntOrString::from(default))
            .scaled_value(replicas, up)
            .unwrap_or(0)
            .max(0)
    };
    let surge = scaled(&rolling.max_surge, "25%", true);
    let unavailable = scaled(&rolling.max_unavailable, "25%", false);
    if surge == 0 && unavailable == 0 {
        return (0, 1);
    }
    (surge, unavailable)
}

fn rolling(d: &Deployment) -> Option<crate::api::apps::RollingUpdateDeployment> {
    let s = &d.spec.strategy;
    (s.type_ != DeploymentStrategy::RECREATE).then(|| s.rolling_update.clone().unwrap_or_default())
}

/// The number of pods that may exist above `spec.replicas`.
pub fn max_surge(d: &Deployment) -> i32 {
    resolve_fenceposts(d).0
}

/// The number of pods that may be unavailable (at most `spec.replicas`).
pub fn max_unavailable(d: &Deployment) -> i32 {
    if rolling(d).is_none() || d.replicas() == 0 {
        return 0;
    }
    resolve_fenceposts(d).1.min(d.replicas())
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

/// Pods a ReplicaSet may have now: its spec, or what it last reported if
/// more (it may not have deleted them yet).
fn pod_count(rs: &ReplicaSet) -> i32 {
    spec_replicas(rs).max(rs.status.replicas)
}

/// Available pods of a ReplicaSet, counting no more than its spec (a
/// scaled-down ReplicaSet is about to lose the rest).
fn available(rs: &ReplicaSet) -> i32 {
    rs.status.available_replicas.min(spec_replicas(rs)).max(0)
}

fn annotation_i32(rs: &ReplicaSet, name: &str) -> Option<i32> {
    rs.metadata.annotations.get_str(name)?.parse().ok()
}

fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .progress_deadline_seconds
        .is_some_and(|s| s != i32::MAX)
}

/// Annotations a ReplicaSet does not inherit from its Deployment.
fn skip_copy(name: &str) -> bool {
    matches!(
        name,
        "kubectl.kubernetes.io/last-applied-configuration"
            | REVISION_ANNOTATION
            | "deployment.kubernetes.io/revision-history"
            | DESIRED_REPLICAS_ANNOTATION
            | MAX_REPLICAS_ANNOTATION
            | "deprecated.deployment.rollback.to"
    )
}

/// The ReplicaSets of one Deployment, the new one (if any) among them.
#[derive(Clone, Debug, Default)]
struct Sets {
    all: Vec<ReplicaSet>,
    new: Option<usize>,
}

impl Sets {
    fn new_rs(&self) -> Option<&ReplicaSet> {
        self.new.and_then(|i| self.all.get(i))
    }

    fn old(&self) -> impl Iterator<Item = (usize, &ReplicaSet)> {
        self.all
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != self.new)
    }

    /// Old indexes, oldest first.
    fn old_by_age(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.old().map(|(i, _)| i).collect();
        v.sort_by(|a, b| by_creation(&self.all[*a], &self.all[*b]));
        v
    }

    fn active(&self) -> Vec<usize> {
        (0..self.all.len())
            .filter(|i| spec_replicas(&self.all[*i]) > 0)
            .collect()
    }
}

fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// A condition with `now` as its update and transition times.
fn condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = Time::now();
    DeploymentCondition {
        type_: Str::from(type_),
        status: Str::from(status),
        last_update_time: Some(now),
        last_transition_time: Some(now),
        reason: Str::from(reason),
        message: Str::from(message),
    }
}

fn get_condition<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.iter().find(|c| c.type_ == type_)
}

/// Kubernetes' `SetDeploymentCondition`: the same status and reason change
/// nothing; the same status keeps the transition time.
fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = get_condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time;
        }
    }
    s.conditions.retain(|x| x.type_ != c.type_);
    s.conditions.push(c);
}

/// The status the ReplicaSets give the Deployment, with the `Available`
/// condition; other conditions as in `base`.
fn calculate_status(d: &Deployment, sets: &Sets, base: &DeploymentStatus) -> DeploymentStatus {
    let sum = |f: fn(&ReplicaSet) -> i32| sets.all.iter().map(f).fold(0i32, i32::saturating_add);
    let available = sum(|rs| rs.status.available_replicas);
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: sum(|rs| rs.status.replicas),
        updated_replicas: sets.new_rs().map_or(0, |rs| rs.status.replicas),
        ready_replicas: sum(|rs| rs.status.ready_replicas),
        available_replicas: available,
        // As Kubernetes: every pod the ReplicaSets want (surge included)
        // that is not available.
        unavailable_replicas: sum(spec_replicas).saturating_sub(available).max(0),
        terminating_replicas: base.terminating_replicas,
        conditions: base.conditions.clone(),
        collision_count: base.collision_count,
    };
    if available >= d.replicas().saturating_sub(max_unavailable(d)) {
        set_condition(
            &mut status,
            condition(
                DeploymentCondition::AVAILABLE,
                "True",
                reason::MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
            ),
        );
    } else {
        set_condition(
            &mut status,
            condition(
                DeploymentCondition::AVAILABLE,
                "False",
                reason::MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
            ),
        );
    }
    status
}

/// Every replica updated and available, and the status is current.
fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let r = d.replicas();
    s.updated_replicas == r
        && s.replicas == r
        && s.available_replicas == r
        && s.observed_generation >= d.metadata.generation
}

/// More updated, ready or available pods, or fewer old ones, than the
/// Deployment's recorded status says.
fn deployment_progressing(d: &Deployment, s: &DeploymentStatus) -> bool {
    let old = &d.status;
    s.updated_replicas > old.updated_replicas
        || (s.replicas - s.updated_replicas) < (old.replicas - old.updated_replicas)
        || s.ready_replicas > old.ready_replicas
        || s.available_replicas > old.available_replicas
}

/// Seconds (fractional) from now until the `Progressing` condition's
/// deadline; negative once it passed.
fn until_deadline(d: &Deployment, c: &DeploymentCondition) -> Option<f64> {
    let deadline = d.spec.progress_deadline_seconds?;
    let from = c.last_update_time?;
    let due = from.unix_seconds().saturating_add(i64::from(deadline)) as f64;
    Some(due - MicroTime::now().unix_micros() as f64 / 1e6)
}

fn timed_out(d: &Deployment, s: &DeploymentStatus) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = get_condition(s, DeploymentCondition::PROGRESSING) else {
        return false;
    };
    if c.reason == reason::NEW_REPLICA_SET_AVAILABLE {
        return false;
    }
    if c.reason == reason::PROGRESS_DEADLINE_EXCEEDED {
        return true;
    }
    until_deadline(d, c).is_some_and(|left| left < 0.0)
}

/// The rollout's status with the `Progressing` condition brought up to
/// date, and when to look again if the rollout may time out.
fn rollout_status(
    d: &Deployment,
    sets: &Sets,
    base: &DeploymentStatus,
) -> (DeploymentStatus, Option<Duration>) {
    let mut s = calculate_status(d, sets, base);
    let name = sets
        .new_rs()
        .map(|rs| rs.metadata.name.to_string())
        .unwrap_or_default();
    if !has_progress_deadline(d) {
        s.conditions
            .retain(|c| c.type_ != DeploymentCondition::PROGRESSING);
        return (s, None);
    }
    let current = get_condition(&s, DeploymentCondition::PROGRESSING).cloned();
    let complete_before = s.replicas == s.updated_replicas
        && current
            .as_ref()
            .is_some_and(|c| c.reason == reason::NEW_REPLICA_SET_AVAILABLE);
    if !complete_before {
        if deployment_complete(d, &s) {
            set_condition(
                &mut s,
                condition(
                    DeploymentCondition::PROGRESSING,
                    "True",
                    reason::NEW_REPLICA_SET_AVAILABLE,
                    format!("ReplicaSet {name:?} has successfully progressed."),
                ),
            );
        } else if deployment_progressing(d, &s) {
            // Progress moves lastUpdateTime even with the same reason.
            let mut c = condition(
                DeploymentCondition::PROGRESSING,
                "True",
                reason::REPLICA_SET_UPDATED,
                format!("ReplicaSet {name:?} is progressing."),
            );
            if let Some(cur) = current.as_ref().filter(|c| c.status == "True") {
                c.last_transition_time = cur.last_transition_time;
            }
            s.conditions
                .retain(|x| x.type_ != DeploymentCondition::PROGRESSING);
            s.conditions.push(c);
        } else if timed_out(d, &s) {
            set_condition(
                &mut s,
                condition(
                    DeploymentCondition::PROGRESSING,
                    "False",
                    reason::PROGRESS_DEADLINE_EXCEEDED,
                    format!("ReplicaSet {name:?} has timed out progressing."),
                ),
            );
        }
    }
    // A rollout that is neither complete nor failed: check again at its
    // deadline.
    let requeue = get_condition(&s, DeploymentCondition::PROGRESSING)
        .filter(|c| {
            !deployment_complete(d, &s)
                && c.reason != reason::PROGRESS_DEADLINE_EXCEEDED
                && c.reason != reason::DEPLOYMENT_PAUSED
        })
        .and_then(|c| until_deadline(d, c))
        .map(|left| Duration::from_secs_f64(left.max(0.0) + 0.05));
    (s, requeue)
}

/// The size of a ReplicaSet's share of `to_add` (negative to remove) in a
/// proportional scale (Kubernetes' `GetProportion`).
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    let size = spec_replicas(rs);
    if size == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if d.replicas() == 0 {
        -size
    } else {
        let total = d.replicas().saturating_add(max_surge(d));
        let annotated = annotation_i32(rs, MAX_REPLICAS_ANNOTATION)
            .filter(|a| *a > 0)
            .unwrap_or(d.status.replicas.max(1));
        let new_size = (f64::from(size) * f64::from(total) / f64::from(annotated)).round();
        new_size as i32 - size
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// The new ReplicaSet's size for the next step of a rollout.
fn new_rs_new_replicas(d: &Deployment, sets: &Sets, new_size: i32) -> i32 {
    if rolling(d).is_none() {
        return d.replicas();
    }
    let current: i32 = sets
        .all
        .iter()
        .map(pod_count)
        .fold(0i32, i32::saturating_add)
        .saturating_add(if sets.new.is_none() { new_size } else { 0 });
    let max_total = d.replicas().saturating_add(max_surge(d));
    if current >= max_total {
        return new_size;
    }
    let up = (max_total - current).min(d.replicas() - new_size).max(0);
    new_size.saturating_add(up)
}

// ---------------------------------------------------------------------------
// The reconciler

/// The Deployment controller's [`Reconciler`]. Build one with
/// [`DeploymentReconciler::new`] and run it on [`controller`]'s
/// [`Controller`], or just call [`run`]. ReplicaSets need the
/// [ReplicaSet controller](super::replicaset) to get pods.
pub struct DeploymentReconciler {
    client: Arc<dyn Client>,
    sets: Cache<ReplicaSet>,
    pods: Cache<Pod>,
    expectations: Expectations,
    /// The resourceVersion of the Deployment's last write by this
    /// controller; older cached states are skipped.
    written: Mutex<HashMap<ObjectKey, u64>>,
    config: Config,
}

impl std::fmt::Debug for DeploymentReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentReconciler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DeploymentReconciler {
    /// A reconciler reading ReplicaSets and pods from `factory`'s informers
    /// (adding the [`CONTROLLER_UID_INDEX`] to both) and writing through
    /// its client.
    pub fn new(factory: &InformerFactory) -> Self {
        Self::with_config(factory, Config::default())
    }

    /// [`new`](Self::new) with settings.
    pub fn with_config(factory: &InformerFactory, config: Config) -> Self {
        let sets = factory.informer::<ReplicaSet>();
        sets.add_index(CONTROLLER_UID_INDEX, controller_uid::<ReplicaSet>);
        let pods = factory.informer::<Pod>();
        pods.add_index(CONTROLLER_UID_INDEX, controller_uid::<Pod>);
        DeploymentReconciler {
            client: factory.client().clone(),
            sets: sets.cache(),
            pods: pods.cache(),
            expectations: Expectations::new(config.expectations_timeout),
            written: Mutex::new(HashMap::new()),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn rs_api(&self, ns: &str) -> Api<ReplicaSet> {
        Api::namespaced(&self.client, ns)
    }

    fn note_written(&self, key: &ObjectKey, meta: &ObjectMeta) {
        if let Some(rv) = numeric_rv(meta) {
            let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
            let e = w.entry(key.clone()).or_insert(rv);
            *e = (*e).max(rv);
        }
    }

    fn is_stale(&self, key: &ObjectKey, d: &Deployment) -> bool {
        let w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        matches!((w.get(key), numeric_rv(&d.metadata)), (Some(w), Some(have)) if have < *w)
    }

    /// The ReplicaSets the Deployment controls and that match, with matching
    /// orphans adopted and non-matching ones released.
    async fn claim_sets(&self, d: &Deployment, selector: &Selector) -> Result<Vec<ReplicaSet>> {
        let key = ObjectKey::of(d);
        let ns = d.metadata.namespace.as_str();
        let api = self.rs_api(ns);
        let mut claimed = Vec::new();
        for rs in self
            .sets
            .by_index(CONTROLLER_UID_INDEX, &d.metadata.uid)
            .unwrap_or_default()
        {
            if selector.matches(&rs.metadata.labels) {
                claimed.push(rs.as_ref().clone());
            } else if !rs.metadata.is_deleting() && !d.metadata.is_deleting() {
                let refs: Vec<OwnerReference> = rs
                    .metadata
                    .owner_references
                    .iter()
                    .filter(|r| r.uid != d.metadata.uid)
                    .cloned()
                    .collect();
                match api
                    .patch(
                        &rs.metadata.name,
                        PatchType::Merge,
                        &refs_patch(&rs.metadata, &refs),
                    )
                    .await
                {
                    Ok(rs) => self.expectations.expect_written(&key, &rs.metadata),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(Error::api(format!("releasing {}", rs.metadata.name), e)),
                }
            }
        }
        if !d.metadata.is_deleting() {
            let mut rechecked = false;
            for rs in self.sets.list_namespace(ns) {
                if rs.metadata.controller().is_some()
                    || rs.metadata.is_deleting()
                    || !selector.matches(&rs.metadata.labels)
                {
                    continue;
                }
                // Before the first adoption, read the Deployment live: the
                // cache may not show yet that it is being deleted (an orphan
                // delete frees its ReplicaSets on another watch).
                if !rechecked {
                    let live = Api::<Deployment>::namespaced(&self.client, ns)
                        .get_opt(&d.metadata.name)
                        .await
                        .map_err(|e| Error::api(format!("re-reading {}", d.metadata.name), e))?;
                    match live {
                        Some(l)
                            if l.metadata.uid == d.metadata.uid && !l.metadata.is_deleting() => {}
                        _ => break,
                    }
                    rechecked = true;
                }
                let mut refs = rs.metadata.owner_references.clone();
                refs.push(controller_ref(d));
                match api
                    .patch(
                        &rs.metadata.name,
                        PatchType::Merge,
                        &refs_patch(&rs.metadata, &refs),
                    )
                    .await
                {
                    Ok(rs) => {
                        self.expectations.expect_written(&key, &rs.metadata);
                        claimed.push(rs);
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(Error::api(format!("adopting {}", rs.metadata.name), e)),
                }
            }
        }
        Ok(claimed)
    }

    /// Finds the new ReplicaSet among `list` and brings revisions up to
    /// date (Kubernetes' `getAllReplicaSetsAndSyncRevision` without
    /// creating).
    async fn sync_revision(
        &self,
        d: &Deployment,
        mut list: Vec<ReplicaSet>,
        status: &mut DeploymentStatus,
    ) -> Result<Sets> {
        list.sort_by(by_creation);
        let new = list
            .iter()
            .position(|rs| equal_ignore_hash(&rs.spec.template, &d.spec.template));
        let mut sets = Sets { all: list, new };
        let Some(i) = sets.new else {
            return Ok(sets);
        };
        let max_old = sets
            .old()
            .map(|(_, rs)| revision(&rs.metadata))
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        let mut rs = sets.all[i].clone();
        let mut changed = copy_annotations(d, &mut rs.metadata);
        if revision(&rs.metadata) < new_revision {
            rs.metadata
                .annotations
                .insert(REVISION_ANNOTATION, new_revision.to_string());
            changed = true;
        }
        if rs.spec.min_ready_seconds != d.spec.min_ready_seconds {
            rs.spec.min_ready_seconds = d.spec.min_ready_seconds;
            changed = true;
        }
        if changed {
            sets.all[i] = self.update_rs(d, &rs).await?;
        }
        if get_condition(status, DeploymentCondition::PROGRESSING).is_none()
            && has_progress_deadline(d)
        {
            let name = &sets.all[i].metadata.name;
            set_condition(
                status,
                condition(
                    DeploymentCondition::PROGRESSING,
                    "True",
                    reason::FOUND_NEW_REPLICA_SET,
                    format!("Found new replica set {name:?}"),
                ),
            );
        }
        Ok(sets)
    }

    /// Creates the new ReplicaSet of `sets` when there is none.
    async fn ensure_new_rs(
        &self,
        d: &Deployment,
        sets: &mut Sets,
        status: &mut DeploymentStatus,
    ) -> Result<()> {
        if sets.new.is_some() {
            return Ok(());
        }
        let hash = template_hash(&d.spec.template, d.status.collision_count);
        let mut template = d.spec.template.clone();
        template
            .metadata
            .labels
            .insert(POD_TEMPLATE_HASH_LABEL, hash.as_str());
        let mut selector = d.spec.selector.clone().unwrap_or_default();
        selector
            .match_labels
            .insert(POD_TEMPLATE_HASH_LABEL, hash.as_str());
        let max_old = sets
            .all
            .iter()
            .map(|rs| revision(&rs.metadata))
            .max()
            .unwrap_or(0);
        let mut meta = ObjectMeta::namespaced(
            d.metadata.namespace.clone(),
            format!("{}-{hash}", d.metadata.name),
        );
        meta.labels = template.metadata.labels.clone();
        meta.owner_references = vec![controller_ref(d)];
        copy_annotations(d, &mut meta);
        meta.annotations
            .insert(REVISION_ANNOTATION, (max_old + 1).to_string());
        let replicas = new_rs_new_replicas(d, sets, 0);
        set_replicas_annotations(&mut meta, d);
        let rs = ReplicaSet {
            metadata: meta,
            spec: ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: d.spec.min_ready_seconds,
                selector: Some(selector),
                template,
            },
            ..ReplicaSet::default()
        };
        let api = self.rs_api(&d.metadata.namespace);
        let key = ObjectKey::of(d);
        let created = match api.create(&rs).await {
            Ok(created) => {
                self.expectations.expect_written(&key, &created.metadata);
                if has_progress_deadline(d) {
                    set_condition(
                        status,
                        condition(
                            DeploymentCondition::PROGRESSING,
                            "True",
                            reason::NEW_REPLICA_SET_CREATED,
                            format!("Created new replica set {:?}", created.metadata.name),
                        ),
                    );
                }
                created
            }
            Err(e) if e.is_already_exists() => {
                let existing = api
                    .get(&rs.metadata.name)
                    .await
                    .map_err(|e| Error::api(format!("reading {}", rs.metadata.name), e))?;
                let ours = existing
                    .metadata
                    .controller()
                    .is_some_and(|r| r.uid == d.metadata.uid);
                if !(ours && equal_ignore_hash(&existing.spec.template, &d.spec.template)) {
                    let count = d.status.collision_count.unwrap_or(0).saturating_add(1);
                    let patch = serde_json::json!({"status": {"collisionCount": count}});
                    let written =
                        Api::<Deployment>::namespaced(&self.client, &d.metadata.namespace)
                            .patch_status(&d.metadata.name, PatchType::Merge, &patch)
                            .await
                            .map_err(|e| {
                                Error::api(format!("raising the collision count of {key}"), e)
                            })?;
                    self.note_written(&key, &written.metadata);
                    return Err(Error::HashCollision {
                        name: rs.metadata.name.to_string(),
                    });
                }
                existing
            }
            Err(e) => return Err(Error::api(format!("creating a ReplicaSet for {key}"), e)),
        };
        sets.all.push(created);
        sets.new = Some(sets.all.len() - 1);
        Ok(())
    }

    async fn update_rs(&self, d: &Deployment, rs: &ReplicaSet) -> Result<ReplicaSet> {
        let updated = self
            .rs_api(&rs.metadata.namespace)
            .update(rs)
            .await
            .map_err(|e| Error::api(format!("updating ReplicaSet {}", rs.metadata.name), e))?;
        self.expectations
            .expect_written(&ObjectKey::of(d), &updated.metadata);
        Ok(updated)
    }

    /// Sets ReplicaSet `i` to `size` replicas (and its replica annotations);
    /// true when that changed its size.
    async fn scale_rs(&self, d: &Deployment, sets: &mut Sets, i: usize, size: i32) -> Result<bool> {
        let Some(current) = sets.all.get(i) else {
            return Ok(false);
        };
        let size = size.max(0);
        let resize = spec_replicas(current) != size;
        let mut rs = current.clone();
        let annotations = set_replicas_annotations(&mut rs.metadata, d);
        if !resize && !annotations {
            return Ok(false);
        }
        rs.spec.replicas = Some(size);
        sets.all[i] = self.update_rs(d, &rs).await?;
        Ok(resize)
    }

    /// Scaling without rollout progress (paused, or `spec.replicas`
    /// changed): Kubernetes' `scale`.
    async fn scale(&self, d: &Deployment, sets: &mut Sets) -> Result<()> {
        let active = sets.active();
        // One active ReplicaSet (or none: the latest) takes all replicas.
        let target = match active.len() {
            0 => sets.new.or_else(|| sets.old_by_age().last().copied()),
            1 => active.first().copied(),
            _ => None,
        };
        if let Some(i) = target {
            self.scale_rs(d, sets, i, d.replicas()).await?;
            return Ok(());
        }
        // A saturated new ReplicaSet: the old ones go.
        if let Some(new) = sets.new_rs() {
            if annotation_i32(new, DESIRED_REPLICAS_ANNOTATION) == Some(d.replicas())
                && spec_replicas(new) == d.replicas()
                && new.status.available_replicas == d.replicas()
            {
                for i in sets.old_by_age() {
                    if spec_replicas(&sets.all[i]) > 0 {
                        self.scale_rs(d, sets, i, 0).await?;
                    }
                }
                return Ok(());
            }
        }
        if rolling(d).is_none() {
            return Ok(());
        }
        // Proportional: spread the difference by size.
        let total: i32 = active
            .iter()
            .map(|i| spec_replicas(&sets.all[*i]))
            .fold(0, i32::saturating_add);
        let allowed = if d.replicas() > 0 {
            d.replicas().saturating_add(max_surge(d))
        } else {
            0
        };
        let to_add = allowed - total;
        let mut order = active.clone();
        order.sort_by(|a, b| {
            let (x, y) = (&sets.all[*a], &sets.all[*b]);
            let by_size = spec_replicas(y).cmp(&spec_replicas(x));
            if to_add > 0 {
                by_size.then_with(|| by_creation(y, x))
            } else {
                by_size.then_with(|| by_creation(x, y))
            }
        });
        let mut sizes: Vec<(usize, i32)> = Vec::new();
        let mut added = 0;
        for &i in &order {
            let rs = &sets.all[i];
            let p = if to_add != 0 {
                proportion(rs, d, to_add, added)
            } else {
                0
            };
            added = added.saturating_add(p);
            sizes.push((i, spec_replicas(rs).saturating_add(p)));
        }
        if to_add != 0 && added != to_add {
            if let Some(first) = sizes.first_mut() {
                first.1 = first.1.saturating_add(to_add).saturating_sub(added).max(0);
            }
        }
        for (i, size) in sizes {
            self.scale_rs(d, sets, i, size).await?;
        }
        Ok(())
    }

    /// A scaling event: an active ReplicaSet was sized for another
    /// `spec.replicas`.
    fn is_scaling_event(d: &Deployment, sets: &Sets) -> bool {
        sets.active().into_iter().any(|i| {
            annotation_i32(&sets.all[i], DESIRED_REPLICAS_ANNOTATION)
                .is_some_and(|want| want != d.replicas())
        })
    }

    /// RollingUpdate's scale-up step; true when it scaled.
    async fn reconcile_new_rs(&self, d: &Deployment, sets: &mut Sets) -> Result<bool> {
        let Some(i) = sets.new else {
            return Ok(false);
        };
        let size = spec_replicas(&sets.all[i]);
        if size == d.replicas() {
            return Ok(false);
        }
        if size > d.replicas() {
            return self.scale_rs(d, sets, i, d.replicas()).await;
        }
        let want = new_rs_new_replicas(d, sets, size);
        self.scale_rs(d, sets, i, want).await
    }

    /// RollingUpdate's scale-down step; true when it scaled.
    async fn reconcile_old_rs(&self, d: &Deployment, sets: &mut Sets) -> Result<bool> {
        let old_count: i32 = sets
            .old()
            .map(|(_, rs)| spec_replicas(rs))
            .fold(0, i32::saturating_add);
        if old_count == 0 {
            return Ok(false);
        }
        let all_count: i32 = sets
            .all
            .iter()
            .map(spec_replicas)
            .fold(0, i32::saturating_add);
        let min_available = d.replicas().saturating_sub(max_unavailable(d));
        let new_unavailable = sets
            .new_rs()
            .map_or(0, |rs| (spec_replicas(rs) - available(rs)).max(0));
        let max_scaled_down = all_count
            .saturating_sub(min_available)
            .saturating_sub(new_unavailable);
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // First the old pods that are not available anyway.
        let mut cleaned = 0;
        for i in sets.old_by_age() {
            if cleaned >= max_scaled_down {
                break;
            }
            let rs = &sets.all[i];
            let size = spec_replicas(rs);
            if size == 0 || available(rs) == size {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(size - available(rs));
            self.scale_rs(d, sets, i, size - n).await?;
            cleaned += n;
        }
        // Then available old pods, keeping `min_available`.
        let available_now: i32 = sets.all.iter().map(available).fold(0, i32::saturating_add);
        let mut scaled = 0;
        if available_now > min_available {
            let budget = available_now - min_available;
            for i in sets.old_by_age() {
                if scaled >= budget {
                    break;
                }
                let size = spec_replicas(&sets.all[i]);
                if size == 0 {
                    continue;
                }
                let n = size.min(budget - scaled);
                self.scale_rs(d, sets, i, size - n).await?;
                scaled += n;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    /// Deletes the oldest old ReplicaSets beyond `revisionHistoryLimit`.
    async fn cleanup(&self, d: &Deployment, sets: &Sets) -> Result<()> {
        let Some(limit) = d.spec.revision_history_limit else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = sets
            .old()
            .map(|(_, rs)| rs)
            .filter(|rs| !rs.metadata.is_deleting())
            .collect();
        let excess = cleanable
            .len()
            .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
        if excess == 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| {
            revision(&a.metadata)
                .cmp(&revision(&b.metadata))
                .then_with(|| by_creation(a, b))
        });
        let api = self.rs_api(&d.metadata.namespace);
        for rs in cleanable.into_iter().take(excess) {
            if rs.status.replicas != 0
                || spec_replicas(rs) != 0
                || rs.metadata.generation > rs.status.observed_generation
            {
                continue;
            }
            match api.delete(&rs.metadata.name, &Default::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(Error::api(
                        format!("deleting old ReplicaSet {}", rs.metadata.name),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }

    /// Pods of old ReplicaSets that still exist and have not finished.
    fn old_pods_running(&self, sets: &Sets) -> bool {
        sets.old().any(|(_, rs)| {
            rs.status.replicas > 0
                || self
                    .pods
                    .by_index(CONTROLLER_UID_INDEX, &rs.metadata.uid)
                    .unwrap_or_default()
                    .iter()
                    .any(|p| !matches!(p.status.phase.as_str(), "Succeeded" | "Failed"))
        })
    }

    /// Writes the Deployment's revision annotation and status when they
    /// changed.
    async fn write_back(
        &self,
        d: &Deployment,
        sets: &Sets,
        status: DeploymentStatus,
    ) -> Result<()> {
        let key = ObjectKey::of(d);
        let api = Api::<Deployment>::namespaced(&self.client, &d.metadata.namespace);
        if let Some(new) = sets.new_rs() {
            let rev = new.metadata.annotations.get_str(REVISION_ANNOTATION);
            if rev.is_some() && d.metadata.annotations.get_str(REVISION_ANNOTATION) != rev {
                let patch =
                    serde_json::json!({"metadata": {"annotations": {REVISION_ANNOTATION: rev}}});
                match api.patch(&d.metadata.name, PatchType::Merge, &patch).await {
                    Ok(w) => self.note_written(&key, &w.metadata),
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(Error::api(format!("writing the revision of {key}"), e)),
                }
            }
        }
        if status != d.status {
            let patch = serde_json::json!({"status": {
                "observedGeneration": status.observed_generation,
                "replicas": status.replicas,
                "updatedReplicas": status.updated_replicas,
                "readyReplicas": status.ready_replicas,
                "availableReplicas": status.available_replicas,
                "unavailableReplicas": status.unavailable_replicas,
                "conditions": status.conditions,
                "collisionCount": status.collision_count,
            }});
            match api
                .patch_status(&d.metadata.name, PatchType::Merge, &patch)
                .await
            {
                Ok(w) => self.note_written(&key, &w.metadata),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(Error::api(format!("writing the status of {key}"), e)),
            }
        }
        Ok(())
    }

    /// Paused or scaling: scale, clean up when paused, write the status.
    async fn sync(&self, d: &Deployment, mut sets: Sets, base: DeploymentStatus) -> Result<Action> {
        self.scale(d, &mut sets).await?;
        if d.spec.paused {
            self.cleanup(d, &sets).await?;
        }
        let status = calculate_status(d, &sets, &base);
        self.write_back(d, &sets, status).await?;
        Ok(Action::Done)
    }

    async fn rollout_rolling(
        &self,
        d: &Deployment,
        mut sets: Sets,
        mut base: DeploymentStatus,
    ) -> Result<Action> {
        self.ensure_new_rs(d, &mut sets, &mut base).await?;
        let scaled = self.reconcile_new_rs(d, &mut sets).await?
            || self.reconcile_old_rs(d, &mut sets).await?;
        if !scaled {
            let s = calculate_status(d, &sets, &base);
            if deployment_complete(d, &s) {
                self.cleanup(d, &sets).await?;
            }
        }
        self.finish(d, &sets, &base).await
    }

    async fn rollout_recreate(
        &self,
        d: &Deployment,
        mut sets: Sets,
        mut base: DeploymentStatus,
    ) -> Result<Action> {
        let mut scaled_down = false;
        for i in sets.old_by_age() {
            if spec_replicas(&sets.all[i]) > 0 {
                scaled_down |= self.scale_rs(d, &mut sets, i, 0).await?;
            }
        }
        if scaled_down || self.old_pods_running(&sets) {
            return self.finish(d, &sets, &base).await;
        }
        self.ensure_new_rs(d, &mut sets, &mut base).await?;
        if let Some(i) = sets.new {
            self.scale_rs(d, &mut sets, i, d.replicas()).await?;
        }
        let s = calculate_status(d, &sets, &base);
        if deployment_complete(d, &s) {
            self.cleanup(d, &sets).await?;
        }
        self.finish(d, &sets, &base).await
    }

    async fn finish(&self, d: &Deployment, sets: &Sets, base: &DeploymentStatus) -> Result<Action> {
        let (status, requeue) = rollout_status(d, sets, base);
        self.write_back(d, sets, status).await?;
        Ok(requeue.map_or(Action::Done, Action::requeue))
    }
}

/// Copies the Deployment's annotations (but the controller's own) onto a
/// ReplicaSet's metadata; true when that changed something.
fn copy_annotations(d: &Deployment, meta: &mut ObjectMeta) -> bool {
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter() {
        if skip_copy(k) || meta.annotations.get_str(k) == Some(v.as_str()) {
            continue;
        }
        meta.annotations.insert(k, v.clone());
        changed = true;
    }
    changed
}

/// Sets the desired- and max-replicas annotations; true when they changed.
fn set_replicas_annotations(meta: &mut ObjectMeta, d: &Deployment) -> bool {
    let desired = d.replicas().to_string();
    let max = (d.replicas().saturating_add(max_surge(d))).to_string();
    let mut changed = false;
    for (k, v) in [
        (DESIRED_REPLICAS_ANNOTATION, desired),
        (MAX_REPLICAS_ANNOTATION, max),
    ] {
        if meta.annotations.get_str(k) != Some(v.as_str()) {
            meta.annotations.insert(k, v);
            changed = true;
        }
    }
    changed
}

fn refs_patch(meta: &ObjectMeta, refs: &[OwnerReference]) -> serde_json::Value {
    serde_json::json!({
        "metadata": {
            "ownerReferences": refs,
            "uid": meta.uid,
            "resourceVersion": meta.resource_version,
        }
    })
}

#[async_trait]
impl Reconciler<Deployment> for DeploymentReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey, d: Option<Arc<Deployment>>) -> Result<Action> {
        let Some(d) = d else {
            self.expectations.forget(key);
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
            return Ok(Action::Done);
        };
        if self.is_stale(key, &d) || !self.expectations.satisfied(key, &self.sets) {
            // The change that catches the cache up queues us again.
            return Ok(Action::Done);
        }
        let selector = match d.spec.selector.as_ref().map(Selector::try_from) {
            Some(Ok(s)) if !s.is_empty() => s,
            _ => {
                tracing::warn!(deployment = %key, "invalid or empty selector; ignoring");
                return Ok(Action::Done);
            }
        };
        let list = self.claim_sets(&d, &selector).await?;
        let mut base = d.status.clone();
        if d.metadata.is_deleting() {
            let sets = self.sync_revision(&d, list, &mut base).await?;
            let status = calculate_status(&d, &sets, &base);
            self.write_back(&d, &sets, status).await?;
            return Ok(Action::Done);
        }
        // Paused and resumed show on the Progressing condition (a timed-out
        // rollout keeps saying so).
        if has_progress_deadline(&d) {
            let cur = get_condition(&base, DeploymentCondition::PROGRESSING);
            let failed = cur.is_some_and(|c| c.reason == reason::PROGRESS_DEADLINE_EXCEEDED);
            let paused_shown = cur.is_some_and(|c| c.reason == reason::DEPLOYMENT_PAUSED);
            if !failed && d.spec.paused && !paused_shown {
                set_condition(
                    &mut base,
                    condition(
                        DeploymentCondition::PROGRESSING,
                        "Unknown",
                        reason::DEPLOYMENT_PAUSED,
                        "Deployment is paused".into(),
                    ),
                );
            } else if !failed && !d.spec.paused && paused_shown {
                set_condition(
                    &mut base,
                    condition(
                        DeploymentCondition::PROGRESSING,
                        "Unknown",
                        reason::DEPLOYMENT_RESUMED,
                        "Deployment is resumed".into(),
                    ),
                );
            }
        }
        let sets = self.sync_revision(&d, list, &mut base).await?;
        if d.spec.paused || Self::is_scaling_event(&d, &sets) {
            return self.sync(&d, sets, base).await;
        }
        if d.spec.strategy.type_ == DeploymentStrategy::RECREATE {
            self.rollout_recreate(&d, sets, base).await
        } else {
            self.rollout_rolling(&d, sets, base).await
        }
    }
}

/// The Deployments in the namespace whose selector matches an orphaned
/// ReplicaSet (they may adopt it).
fn orphan_owners(deployments: &Cache<Deployment>, rs: &ReplicaSet) -> Vec<ObjectKey> {
    if rs.metadata.controller().is_some() || rs.metadata.is_deleting() {
        return Vec::new();
    }
    deployments
        .list_namespace(&rs.metadata.namespace)
        .iter()
        .filter(|d| {
            d.spec
                .selector
                .as_ref()
                .is_some_and(|s| !s.is_empty() && s.matches(&rs.metadata.labels))
        })
        .map(|d| ObjectKey::of(d.as_ref()))
        .collect()
}

/// The Recreate Deployment whose ReplicaSet controls the pod: it waits for
/// old pods to be gone.
fn recreate_owner(
    sets: &Cache<ReplicaSet>,
    deployments: &Cache<Deployment>,
    pod: &Pod,
) -> Vec<ObjectKey> {
    let Some(r) = pod.metadata.controller().filter(|r| r.kind == "ReplicaSet") else {
        return Vec::new();
    };
    let Some(rs) = sets.get_named(&pod.metadata.namespace, &r.name) else {
        return Vec::new();
    };
    let Some(dr) = rs.metadata.controller().filter(|r| r.kind == "Deployment") else {
        return Vec::new();
    };
    deployments
        .get_named(&pod.metadata.namespace, &dr.name)
        .filter(|d| d.spec.strategy.type_ == DeploymentStrategy::RECREATE)
        .map(|d| vec![ObjectKey::of(d.as_ref())])
        .unwrap_or_default()
}

/// The Deployment controller with default settings, ready to
/// [`run`](Controller::run) with a [`DeploymentReconciler`]: Deployments
/// are the primary kind; ReplicaSets map to their controlling Deployment
/// and, when orphaned, to the Deployments that may adopt them; pods of a
/// Recreate Deployment map to it.
pub fn controller(factory: &InformerFactory) -> Controller<Deployment> {
    controller_with(factory, &Config::default())
}

/// [`controller`] with the concurrency of `config`.
pub fn controller_with(factory: &InformerFactory, config: &Config) -> Controller<Deployment> {
    let deployments = factory.informer::<Deployment>().cache();
    let sets = factory.informer::<ReplicaSet>().cache();
    let d2 = deployments.clone();
    Controller::<Deployment>::new(factory)
        .name("deployment")
        .owns::<ReplicaSet>()
        .watches::<ReplicaSet>(move |rs| orphan_owners(&deployments, rs))
        .watches::<Pod>(move |pod| recreate_owner(&sets, &d2, pod))
        .concurrency(config.concurrency)
}

/// Runs the Deployment controller on `factory`'s informers until
/// `shutdown` completes. The future owns what it needs (spawn it).
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
    let controller = controller_with(factory, &config).graceful_shutdown_on(shutdown);
    let reconciler = DeploymentReconciler::with_config(factory, config);
    controller.run(reconciler)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::RollingUpdateDeployment;

    fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        let mut d = Deployment::default();
        d.spec.replicas = Some(replicas);
        d.spec.strategy = DeploymentStrategy {
            type_: DeploymentStrategy::ROLLING_UPDATE.into(),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        };
        d
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let d = deployment(10, "25%".into(), "25%".into());
        assert_eq!(resolve_fenceposts(&d), (3, 2));
        let d = deployment(10, 0.into(), 0.into());
        assert_eq!(resolve_fenceposts(&d), (0, 1));
        let d = deployment(3, 1.into(), 5.into());
        assert_eq!(max_unavailable(&d), 3);
        let mut d = deployment(3, 1.into(), 1.into());
        d.spec.strategy = DeploymentStrategy {
            type_: DeploymentStrategy::RECREATE.into(),
            rolling_update: None,
        };
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }

    #[test]
    fn hash_ignores_nothing_but_is_stable_and_safe() {
        let mut t = PodTemplateSpec::default();
        t.metadata.labels.insert("app", "web");
        let h = template_hash(&t, None);
        assert!(!h.is_empty());
        assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{h}");
        let mut t2 = t.clone();
        t2.metadata
            .labels
            .insert(POD_TEMPLATE_HASH_LABEL, h.as_str());
        assert!(equal_ignore_hash(&t, &t2));
        t2.metadata.labels.insert("app", "db");
        assert!(!equal_ignore_hash(&t, &t2));
    }

    fn rs(name: &str, replicas: i32, available: i32, max: Option<i32>) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = name.into();
        rs.spec.replicas = Some(replicas);
        rs.status.replicas = replicas;
        rs.status.available_replicas = available;
        if let Some(m) = max {
            rs.metadata
                .annotations
                .insert(MAX_REPLICAS_ANNOTATION, m.to_string());
        }
        rs
    }

    #[test]
    fn new_replicas_respect_surge_and_reported_pods() {
        let d = deployment(10, 3.into(), 2.into());
        let sets = Sets {
            all: vec![rs("old", 10, 10, None)],
            new: None,
        };
        assert_eq!(new_rs_new_replicas(&d, &sets, 0), 3);
        // An old ReplicaSet scaled down but still reporting its pods.
        let mut old = rs("old", 7, 7, None);
        old.status.replicas = 10;
        let sets = Sets {
            all: vec![old, rs("new", 3, 0, None)],
            new: Some(1),
        };
        assert_eq!(new_rs_new_replicas(&d, &sets, 3), 3);
    }

    #[test]
    fn proportions_follow_max_replicas() {
        // 10 replicas + 3 surge = 13 as annotated; scale to 20 (+5 surge).
        let d = deployment(20, 5.into(), 0.into());
        let a = rs("a", 8, 8, Some(13));
        let b = rs("b", 5, 0, Some(13));
        assert_eq!(proportion(&a, &d, 12, 0), 7); // 8 * 25 / 13 = 15.4 → 15
        assert_eq!(proportion(&b, &d, 12, 7), 5); // 5 * 25 / 13 = 9.6 → 10, capped at 5 left
    }

    #[test]
    fn conditions_keep_transition_times() {
        let mut s = DeploymentStatus::default();
        let mut c = condition("Available", "True", "A", String::new());
        c.last_transition_time = Some(Time::from_unix_seconds(1));
        set_condition(&mut s, c);
        set_condition(&mut s, condition("Available", "True", "B", String::new()));
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].reason, "B");
        assert_eq!(
            s.conditions[0].last_transition_time,
            Some(Time::from_unix_seconds(1))
        );
        set_condition(&mut s, condition("Available", "False", "C", String::new()));
        assert_ne!(
            s.conditions[0].last_transition_time,
            Some(Time::from_unix_seconds(1))
        );
    }
}
