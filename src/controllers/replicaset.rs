//! The ReplicaSet controller: keeps `spec.replicas` pods of a ReplicaSet's
//! template running, as Kubernetes' `pkg/controller/replicaset` does.
//!
//! Each reconcile of a ReplicaSet:
//!
//! 1. **claims** pods: the active pods of its namespace it controls and
//!    that still match its selector are its own; matching orphans (no
//!    controller reference, not being deleted) are adopted (a controller
//!    ownerReference is added); pods it controls that stop matching are
//!    released (its ownerReference is removed);
//! 2. **manages** replicas, unless its earlier writes are not yet in the
//!    informer's cache (see [`Expectations`]): too few pods → create them
//!    from the template (`generateName: <rs>-`, in slow-start batches of
//!    1, 2, 4, … at most [`Config::burst_replicas`] per reconcile); too many
//!    → delete the least valuable first (unscheduled, then pending, then not
//!    ready, then ready for the shortest time, then most restarted, then
//!    newest);
//! 3. writes the **status** (`replicas`, `fullyLabeledReplicas`,
//!    `readyReplicas`, `availableReplicas` honouring `minReadySeconds`,
//!    `observedGeneration`, a `ReplicaFailure` condition when creating or
//!    deleting failed) through the status subresource, only when it
//!    changed.
//!
//! Pods that are terminating or have finished (`Succeeded`, `Failed`) do
//! not count.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::apps::ReplicaSet;
//! use keelson::api::core::Pod;
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::controllers::replicaset;
//! use keelson::informer::InformerFactory;
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let factory = InformerFactory::new(&client);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let controller = tokio::spawn(replicaset::run(&factory, async { let _ = stopped.await; }));
//!
//! let rs: ReplicaSet = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "web"},
//!     "spec": {
//!         "replicas": 2,
//!         "selector": {"matchLabels": {"app": "web"}},
//!         "template": {
//!             "metadata": {"labels": {"app": "web"}},
//!             "spec": {"containers": [{"name": "web", "image": "nginx"}]}
//!         }
//!     }
//! })).unwrap();
//! Api::<ReplicaSet>::namespaced(&client, "default").create(&rs).await.unwrap();
//!
//! let pods = Api::<Pod>::namespaced(&client, "default");
//! while pods.list(&Default::default()).await.unwrap().items.len() < 2 {
//!     tokio::task::yield_now().await;
//! }
//! let _ = stop.send(());
//! controller.await.unwrap();
//! # });
//! ```
use std::cmp::Ordering;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;

use super::{Action, Controller, Reconciler};
use crate::api::apps::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use crate::api::core::Pod;
use crate::api::selector::Selector;
use crate::api::{AnyObject, MicroTime, ObjectMeta, OwnerReference, Resource, Str, Time};
use crate::client::{self, Api, Client, PatchType};
use crate::informer::{Cache, InformerFactory, Object, ObjectKey};

/// The name of the index, on pod and ReplicaSet informers, of objects by
/// the uid of their controller (the ownerReference with
/// `controller: true`).
pub const CONTROLLER_UID_INDEX: &str = "controller-uid";

/// The name of the index, on the pod informer, of active pods without a
/// controller (the orphans a ReplicaSet may adopt) by namespace: a
/// reconcile looks at these, not at every pod of the namespace.
pub const ORPHAN_INDEX: &str = "active-orphan-namespace";

/// What can go wrong in a reconcile of the ReplicaSet controller.
pub use super::ReconcileError as Error;

/// Settings of the ReplicaSet controller.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Most pods created or deleted in one reconcile (Kubernetes'
    /// `burstReplicas`, 500).
    pub burst_replicas: usize,
    /// ReplicaSets reconciled at once (Kubernetes' `--concurrent-replicaset-syncs`, 5).
    pub concurrency: usize,
    /// How long to wait for the informer to observe the controller's own
    /// creates and deletes before acting again anyway (5 minutes).
    pub expectations_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            burst_replicas: 500,
            concurrency: 5,
            expectations_timeout: Duration::from_secs(5 * 60),
        }
    }
}

impl Config {
    /// Sets [`burst_replicas`](Self::burst_replicas) (at least 1).
    #[must_use]
    pub fn burst_replicas(mut self, n: usize) -> Self {
        self.burst_replicas = n.max(1);
        self
    }

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
// Expectations

/// What a controller wrote and waits to see in an informer's cache before
/// it acts on that cache again — Kubernetes' `ControllerExpectations`,
/// keyed by the owner (a ReplicaSet, a Deployment).
///
/// Instead of counting events, an owner's expectations hold the highest
/// resourceVersion of the objects it created or changed and the uids it
/// deleted: they are met once the cache's resourceVersion has reached
/// the writes (a watch delivers changes in order, so the cache then holds
/// them) and no deleted uid is left active in the cache — or once
/// `timeout` has passed since they were recorded. A resourceVersion that
/// is not a number (an unusual backend) falls back to looking the created
/// object up by key.
#[derive(Debug)]
pub struct Expectations {
    timeout: Duration,
    owners: Mutex<HashMap<ObjectKey, Expected>>,
}

#[derive(Debug)]
struct Expected {
    since: tokio::time::Instant,
    /// The highest numeric resourceVersion written.
    resource_version: Option<u64>,
    /// Written objects whose resourceVersion is not a number.
    keys: Vec<ObjectKey>,
    /// Deleted objects: key and uid.
    deleted: Vec<(ObjectKey, Str)>,
}

impl Expectations {
    /// Expectations that are given up on after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Expectations {
            timeout,
            owners: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, owner: &ObjectKey, f: impl FnOnce(&mut Expected) -> R) -> R {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        let e = owners.entry(owner.clone()).or_insert_with(|| Expected {
            since: tokio::time::Instant::now(),
            resource_version: None,
            keys: Vec::new(),
            deleted: Vec::new(),
        });
        f(e)
    }

    /// Records that `owner` wrote (created or changed) the object `written`
    /// (as the API returned it).
    pub fn expect_written(&self, owner: &ObjectKey, written: &ObjectMeta) {
        self.with(owner, |e| {
            e.since = tokio::time::Instant::now();
            match written.resource_version.parse::<u64>() {
                Ok(rv) => e.resource_version = Some(e.resource_version.map_or(rv, |m| m.max(rv))),
                Err(_) => e.keys.push(ObjectKey::from_meta(written)),
            }
        });
    }

    /// Records that `owner` deleted the object with this key and uid.
    pub fn expect_deleted(&self, owner: &ObjectKey, key: ObjectKey, uid: Str) {
        self.with(owner, |e| {
            e.since = tokio::time::Instant::now();
            e.deleted.push((key, uid));
        });
    }

    /// True when `cache` has observed everything `owner` is waiting for
    /// (or nothing is awaited, or the wait timed out); met expectations
    /// are forgotten.
    pub fn satisfied<K: Object>(&self, owner: &ObjectKey, cache: &Cache<K>) -> bool {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        let Some(e) = owners.get(owner) else {
            return true;
        };
        let met = e.since.elapsed() >= self.timeout || {
            let cache_rv = cache.resource_version().parse::<u64>().ok();
            let written = match (e.resource_version, cache_rv) {
                (None, _) => true,
                (Some(want), Some(have)) => have >= want,
                (Some(_), None) => false,
            };
            written
                && e.keys.iter().all(|k| cache.get(k).is_some())
                && e.deleted.iter().all(|(k, uid)| {
                    cache
                        .get(k)
                        .is_none_or(|o| o.meta().uid != *uid || o.meta().is_deleting())
                })
        };
        if met {
            owners.remove(owner);
        }
        met
    }

    /// Forgets what `owner` waits for (it was deleted).
    pub fn forget(&self, owner: &ObjectKey) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(owner);
    }
}

// ---------------------------------------------------------------------------
// Pod facts

/// True when the pod counts towards a ReplicaSet: not terminating and not
/// finished (`Succeeded` or `Failed`).
pub fn is_pod_active(pod: &Pod) -> bool {
    !pod.metadata.is_deleting() && !matches!(pod.status.phase.as_str(), "Succeeded" | "Failed")
}

/// The pod's `Ready` condition, when it is `True`: since when.
fn ready_condition(pod: &Pod) -> Option<Option<Time>> {
    pod.status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .filter(|c| c.status == "True")
        .map(|c| c.last_transition_time)
}

/// True when the pod's `Ready` condition is `True`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some()
}

/// True when the pod has been ready for at least `min_ready_seconds` at
/// `now` (by the `Ready` condition's lastTransitionTime; a ready pod
/// without one counts as available).
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Time) -> bool {
    match ready_condition(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => true,
        Some(Some(since)) => now.seconds_since(since) >= i64::from(min_ready_seconds),
    }
}

/// The index function of [`CONTROLLER_UID_INDEX`]: the uid of the
/// object's controller, if any.
pub fn controller_uid<K: AnyObject>(obj: &K) -> Vec<Str> {
    obj.meta()
        .controller()
        .map(|r| vec![r.uid.clone()])
        .unwrap_or_default()
}

/// The index function of [`ORPHAN_INDEX`]: the namespace of an active pod
/// that has no controller ownerReference.
pub fn orphan_namespace(pod: &Pod) -> Vec<Str> {
    if pod.metadata.controller().is_none() && is_pod_active(pod) {
        vec![pod.metadata.namespace.clone()]
    } else {
        Vec::new()
    }
}

/// A controller ownerReference to `owner` (`blockOwnerDeletion: true`).
pub fn controller_ref<K: Resource>(owner: &K) -> OwnerReference {
    let meta = owner.metadata();
    OwnerReference {
        api_version: Str::from_static(K::API_VERSION),
        kind: Str::from_static(K::KIND),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Orders pods so that the ones to delete first come first (Kubernetes'
/// `ActivePods` ranking, simplified): unscheduled before scheduled,
/// `Pending` before `Unknown` before `Running`, not ready before ready,
/// ready for a shorter time before longer, more restarts before fewer,
/// newer before older.
pub fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    let scheduled = |p: &Pod| !p.spec.node_name.is_empty();
    let phase = |p: &Pod| match p.status.phase.as_str() {
        "Pending" | "" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    let ready = |p: &Pod| ready_condition(p);
    let restarts = |p: &Pod| -> i64 {
        p.status
            .container_statuses
            .iter()
            .map(|c| i64::from(c.restart_count))
            .sum()
    };
    scheduled(a)
        .cmp(&scheduled(b))
        .then_with(|| phase(a).cmp(&phase(b)))
        .then_with(|| ready(a).is_some().cmp(&ready(b).is_some()))
        .then_with(|| match (ready(a).flatten(), ready(b).flatten()) {
            // Ready more recently (a later time) goes first.
            (Some(x), Some(y)) => y.cmp(&x),
            _ => Ordering::Equal,
        })
        .then_with(|| restarts(b).cmp(&restarts(a)))
        .then_with(|| {
            b.metadata
                .creation_timestamp
                .cmp(&a.metadata.creation_timestamp)
        })
}

/// The status a ReplicaSet has with these (active, claimed) pods at `now`,
/// keeping the conditions it has except `ReplicaFailure`, which reflects
/// `failure` (reason and message) when given.
pub fn calculate_status(
    rs: &ReplicaSet,
    pods: &[Arc<Pod>],
    failure: Option<(&str, String)>,
    now: Time,
) -> ReplicaSetStatus {
    let mut counter = Counter::new(rs, None, now);
    for p in pods {
        counter.add(p);
    }
    status_from(rs, &counter.counts, failure, now)
}

/// What the status counts of a ReplicaSet's pods, gathered in one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PodCounts {
    replicas: i32,
    fully_labeled: i32,
    ready: i32,
    available: i32,
    /// Seconds until the first pod that is ready but not yet available
    /// (`minReadySeconds`) becomes available.
    next_available: Option<i64>,
}

/// Counts pods towards a ReplicaSet's status, one pod at a time.
struct Counter<'a> {
    template_labels: &'a crate::api::StringMap,
    /// True when the selector pins every template label to its value, so
    /// a pod the selector matched is fully labeled without looking.
    labels_implied: bool,
    min_ready: i32,
    now: Time,
    counts: PodCounts,
}

impl<'a> Counter<'a> {
    /// A counter for `rs`'s pods at `now`; `selector`, when given, is one
    /// that every pod added matches.
    fn new(rs: &'a ReplicaSet, selector: Option<&Selector>, now: Time) -> Self {
        let template_labels = &rs.spec.template.metadata.labels;
        let labels_implied = selector.is_some_and(|s| {
            template_labels
                .iter()
                .all(|(k, v)| s.requires_exact_match(k) == Some(v.as_str()))
        });
        Counter {
            template_labels,
            labels_implied,
            min_ready: rs.spec.min_ready_seconds,
            now,
            counts: PodCounts::default(),
        }
    }

    fn add(&mut self, pod: &Pod) {
        let c = &mut self.counts;
        c.replicas = c.replicas.saturating_add(1);
        if self.labels_implied || self.template_labels.is_subset_of(&pod.metadata.labels) {
            c.fully_labeled = c.fully_labeled.saturating_add(1);
        }
        let Some(since) = ready_condition(pod) else {
            return;
        };
        c.ready = c.ready.saturating_add(1);
        // As `is_pod_available`, remembering how long the rest have to go.
        match since {
            Some(since) if self.min_ready > 0 => {
                let wait = i64::from(self.min_ready) - self.now.seconds_since(since);
                if wait <= 0 {
                    c.available = c.available.saturating_add(1);
                } else {
                    c.next_available = Some(c.next_available.map_or(wait, |w| w.min(wait)));
                }
            }
            _ => c.available = c.available.saturating_add(1),
        }
    }
}

/// The status with these counts; see [`calculate_status`].
fn status_from(
    rs: &ReplicaSet,
    counts: &PodCounts,
    failure: Option<(&str, String)>,
    now: Time,
) -> ReplicaSetStatus {
    let mut conditions: Vec<ReplicaSetCondition> = rs
        .status
        .conditions
        .iter()
        .filter(|c| c.type_ != ReplicaSetCondition::REPLICA_FAILURE)
        .cloned()
        .collect();
    if let Some((reason, message)) = failure {
        let previous = rs
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == ReplicaSetCondition::REPLICA_FAILURE);
        let unchanged = previous.filter(|c| c.status == "True" && c.reason == reason);
        conditions.push(ReplicaSetCondition {
            type_: Str::from_static(ReplicaSetCondition::REPLICA_FAILURE),
            status: Str::from_static("True"),
            last_transition_time: unchanged.and_then(|c| c.last_transition_time).or(Some(now)),
            reason: Str::from(reason),
            message: Str::from(message),
        });
    }
    ReplicaSetStatus {
        replicas: counts.replicas,
        fully_labeled_replicas: counts.fully_labeled,
        ready_replicas: counts.ready,
        available_replicas: counts.available,
        terminating_replicas: rs.status.terminating_replicas,
        observed_generation: rs.metadata.generation,
        conditions,
    }
}

/// The status as a merge patch that sets every field (zeros included).
fn status_patch(s: &ReplicaSetStatus) -> serde_json::Value {
    serde_json::json!({
        "status": {
            "replicas": s.replicas,
            "fullyLabeledReplicas": s.fully_labeled_replicas,
            "readyReplicas": s.ready_replicas,
            "availableReplicas": s.available_replicas,
            "observedGeneration": s.observed_generation,
            "conditions": s.conditions,
        }
    })
}

/// The pod a ReplicaSet creates from its template.
fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template = &rs.spec.template;
    let mut name = rs.metadata.name.clone();
    name.push_str("-");
    Pod {
        metadata: ObjectMeta {
            generate_name: name,
            namespace: rs.metadata.namespace.clone(),
            labels: template.metadata.labels.clone(),
            annotations: template.metadata.annotations.clone(),
            finalizers: template.metadata.finalizers.clone(),
            owner_references: vec![controller_ref(rs)],
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        ..Pod::default()
    }
}

/// A merge patch that sets a pod's ownerReferences, guarded by its uid and
/// resourceVersion (a concurrent change makes it fail with a conflict).
fn owner_refs_patch(pod: &Pod, refs: &[OwnerReference]) -> serde_json::Value {
    serde_json::json!({
        "metadata": {
            "ownerReferences": refs,
            "uid": pod.metadata.uid,
            "resourceVersion": pod.metadata.resource_version,
        }
    })
}

/// The numeric resourceVersion of an object, if it is one.
pub(crate) fn numeric_rv(meta: &ObjectMeta) -> Option<u64> {
    meta.resource_version.parse().ok()
}

// ---------------------------------------------------------------------------
// The reconciler

/// The ReplicaSet controller's [`Reconciler`]. Build one with
/// [`ReplicaSetReconciler::new`] and run it on [`controller`]'s
/// [`Controller`], or just call [`run`].
pub struct ReplicaSetReconciler {
    client: Arc<dyn Client>,
    pods: Cache<Pod>,
    expectations: Expectations,
    /// The resourceVersion of the last status this controller wrote per
    /// ReplicaSet: an older cached ReplicaSet is skipped (its update is on
    /// the way).
    written: Mutex<HashMap<ObjectKey, u64>>,
    config: Config,
}

impl std::fmt::Debug for ReplicaSetReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaSetReconciler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReplicaSetReconciler {
    /// A reconciler reading pods and ReplicaSets from `factory`'s informers
    /// (adding the [`CONTROLLER_UID_INDEX`] and [`ORPHAN_INDEX`] to the pod
    /// informer) and
    /// writing through its client.
    pub fn new(factory: &InformerFactory) -> Self {
        Self::with_config(factory, Config::default())
    }

    /// [`new`](Self::new) with settings.
    pub fn with_config(factory: &InformerFactory, config: Config) -> Self {
        let pods = factory.informer::<Pod>();
        pods.add_index(CONTROLLER_UID_INDEX, controller_uid::<Pod>);
        pods.add_index(ORPHAN_INDEX, orphan_namespace);
        ReplicaSetReconciler {
            client: factory.client().clone(),
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

    fn pods_api(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(&self.client, namespace)
    }

    /// Claims the namespace's active pods for `rs`: its own that match,
    /// adopted orphans; releases its own that stopped matching. Counts the
    /// claimed pods for the status at `now` on the way.
    async fn claim_pods(
        &self,
        rs: &ReplicaSet,
        selector: &Selector,
        now: Time,
    ) -> Result<(Vec<Arc<Pod>>, PodCounts), Error> {
        let uid = &rs.metadata.uid;
        let ns = rs.metadata.namespace.as_str();
        let mut counter = Counter::new(rs, Some(selector), now);
        let owned = self
            .pods
            .by_index(CONTROLLER_UID_INDEX, uid)
            .unwrap_or_default();
        let mut claimed = Vec::with_capacity(owned.len());
        let mut release = Vec::new();
        for pod in owned {
            if !is_pod_active(&pod) {
                continue;
            }
            if selector.matches(&pod.metadata.labels) {
                counter.add(&pod);
                claimed.push(pod);
            } else {
                release.push(pod);
            }
        }
        // An owner being deleted neither releases nor adopts (Kubernetes'
        // ClaimObject).
        if rs.metadata.is_deleting() {
            release.clear();
        }
        let mut adopt = Vec::new();
        if !rs.metadata.is_deleting() {
            // The index holds the namespace's active orphans only.
            for pod in self.pods.by_index(ORPHAN_INDEX, ns).unwrap_or_default() {
                if pod.metadata.controller().is_none()
                    && is_pod_active(&pod)
                    && selector.matches(&pod.metadata.labels)
                {
                    adopt.push(pod);
                }
            }
        }
        let api = self.pods_api(ns);
        let key = ObjectKey::of(rs);
        let mut first_error = None;
        for pod in release {
            let refs: Vec<OwnerReference> = pod
                .metadata
                .owner_references
                .iter()
                .filter(|r| r.uid != *uid)
                .cloned()
                .collect();
            match api
                .patch(
                    &pod.metadata.name,
                    PatchType::Merge,
                    &owner_refs_patch(&pod, &refs),
                )
                .await
            {
                Ok(p) => self.expectations.expect_written(&key, &p.metadata),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    first_error.get_or_insert(Error::api(
                        format!("releasing pod {ns}/{} from {key}", pod.metadata.name),
                        e,
                    ));
                }
            }
        }
        // Before adopting, read the ReplicaSet live: the cache may not show
        // yet that it is being deleted (an orphan delete frees its pods on
        // another watch), and adopting then would get the pods collected.
        if !adopt.is_empty() {
            let live = Api::<ReplicaSet>::namespaced(&self.client, ns)
                .get_opt(&rs.metadata.name)
                .await
                .map_err(|e| Error::api(format!("re-reading {key}"), e))?;
            if !matches!(&live, Some(l) if l.metadata.uid == *uid && !l.metadata.is_deleting()) {
                adopt.clear();
            }
        }
        for pod in adopt {
            let mut refs = pod.metadata.owner_references.clone();
            refs.push(controller_ref(rs));
            match api
                .patch(
                    &pod.metadata.name,
                    PatchType::Merge,
                    &owner_refs_patch(&pod, &refs),
                )
                .await
            {
                Ok(p) => {
                    self.expectations.expect_written(&key, &p.metadata);
                    counter.add(&p);
                    claimed.push(Arc::new(p));
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    first_error.get_or_insert(Error::api(
                        format!("adopting pod {ns}/{} into {key}", pod.metadata.name),
                        e,
                    ));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((claimed, counter.counts)),
        }
    }

    /// Creates or deletes pods towards `spec.replicas`. Returns the failure
    /// for the `ReplicaFailure` condition.
    async fn manage_replicas(
        &self,
        rs: &ReplicaSet,
        pods: &[Arc<Pod>],
    ) -> Result<(), (&'static str, Error)> {
        let key = ObjectKey::of(rs);
        let want = usize::try_from(rs.replicas().max(0)).unwrap_or(0);
        let api = self.pods_api(&rs.metadata.namespace);
        let burst = self.config.burst_replicas.max(1);
        if pods.len() < want {
            let mut remaining = (want - pods.len()).min(burst);
            let template = pod_from_template(rs);
            // Slow start: a failing create (quota, admission) fails one
            // pod, not hundreds.
            let mut batch = 1;
            while remaining > 0 {
                let n = batch.min(remaining);
                let results = join_all((0..n).map(|_| api.create(&template))).await;
                let mut failed = None;
                for r in results {
                    match r {
                        Ok(p) => self.expectations.expect_written(&key, &p.metadata),
                        // The namespace is going away: nothing to retry.
                        Err(e)
                            if e.status().is_some_and(|s| s.code == 403)
                                && is_terminating_ns(&e) => {}
                        Err(e) => {
                            failed.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = failed {
                    return Err((
                        "FailedCreate",
                        Error::api(format!("creating pods of {key}"), e),
                    ));
                }
                remaining -= n;
                batch = n.saturating_mul(2);
            }
        } else if pods.len() > want {
            let n = (pods.len() - want).min(burst);
            let mut ranked: Vec<&Arc<Pod>> = pods.iter().collect();
            ranked.sort_by(|a, b| deletion_order(a, b));
            let victims = &ranked[..n];
            let results = join_all(victims.iter().map(|p| {
                let api = api.clone();
                async move { (p, api.delete(&p.metadata.name, &Default::default()).await) }
            }))
            .await;
            let mut failed = None;
            for (p, r) in results {
                match r {
                    Ok(_) => self.expectations.expect_deleted(
                        &key,
                        ObjectKey::of(p.as_ref()),
                        p.metadata.uid.clone(),
                    ),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failed {
                return Err((
                    "FailedDelete",
                    Error::api(format!("deleting pods of {key}"), e),
                ));
            }
        }
        Ok(())
    }

    fn is_stale(&self, key: &ObjectKey, rs: &ReplicaSet) -> bool {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match (written.get(key), numeric_rv(&rs.metadata)) {
            (Some(w), Some(have)) => have < *w,
            _ => false,
        }
    }
}

fn is_terminating_ns(e: &client::Error) -> bool {
    e.status()
        .is_some_and(|s| s.message.contains("is being terminated"))
}

#[async_trait]
impl Reconciler<ReplicaSet> for ReplicaSetReconciler {
    type Error = Error;

    async fn reconcile(
        &self,
        key: &ObjectKey,
        rs: Option<Arc<ReplicaSet>>,
    ) -> Result<Action, Error> {
        let Some(rs) = rs else {
            self.expectations.forget(key);
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
            return Ok(Action::Done);
        };
        if self.is_stale(key, &rs) {
            return Ok(Action::Done);
        }
        let selector = match rs.spec.selector.as_ref().map(Selector::try_from) {
            Some(Ok(s)) if !s.is_empty() => s,
            // Validation keeps these out; retrying would not help.
            _ => {
                tracing::warn!(replicaset = %key, "invalid or empty selector; ignoring");
                return Ok(Action::Done);
            }
        };
        let needs_sync = self.expectations.satisfied(key, &self.pods) && !rs.metadata.is_deleting();
        // One `now` for the claim's counts, the status and the requeue.
        let now = Time::now();
        let (pods, counts) = self.claim_pods(&rs, &selector, now).await?;

        let mut failure = None;
        if needs_sync {
            if let Err((reason, e)) = self.manage_replicas(&rs, &pods).await {
                failure = Some((reason, e));
            }
        }
        let status = status_from(
            &rs,
            &counts,
            failure.as_ref().map(|(r, e)| (*r, e.to_string())),
            now,
        );
        if status != rs.status {
            let api = Api::<ReplicaSet>::namespaced(&self.client, &rs.metadata.namespace);
            match api
                .patch_status(&rs.metadata.name, PatchType::Merge, &status_patch(&status))
                .await
            {
                Ok(written) => {
                    if let Some(rv) = numeric_rv(&written.metadata) {
                        self.written
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(key.clone(), rv);
                    }
                }
                Err(e) if e.is_not_found() => return Ok(Action::Done),
                Err(e) => {
                    return Err(Error::api(format!("writing the status of {key}"), e));
                }
            }
        }
        if let Some((_, e)) = failure {
            return Err(e);
        }
        // Pods that are ready but not yet available: look again when the
        // first of them becomes available.
        if let Some(secs) = counts.next_available {
            let secs = u64::try_from(secs).unwrap_or(1);
            return Ok(Action::requeue(Duration::from_secs(secs) + sub_second(now)));
        }
        Ok(Action::Done)
    }
}

/// What is left of the current second: `Time` has second precision, so
/// waiting `n` whole seconds plus this lands just after the boundary.
pub(crate) fn sub_second(_now: Time) -> Duration {
    let micros = MicroTime::now().unix_micros().rem_euclid(1_000_000);
    Duration::from_micros(u64::try_from(1_000_000 - micros).unwrap_or(0) + 10_000)
}

/// The ReplicaSets in the pod's namespace whose selector matches an
/// orphaned, active pod (they may adopt it).
fn orphan_owners(sets: &Cache<ReplicaSet>, pod: &Pod) -> Vec<ObjectKey> {
    if pod.metadata.controller().is_some() || !is_pod_active(pod) {
        return Vec::new();
    }
    sets.list_namespace(&pod.metadata.namespace)
        .iter()
        .filter(|rs| {
            rs.spec
                .selector
                .as_ref()
                .is_some_and(|s| !s.is_empty() && s.matches(&pod.metadata.labels))
        })
        .map(|rs| ObjectKey::of(rs.as_ref()))
        .collect()
}

/// The ReplicaSet controller with default settings, ready to
/// [`run`](Controller::run) with a [`ReplicaSetReconciler`]: ReplicaSets
/// are the primary kind, pods map to their controlling ReplicaSet and,
/// when orphaned, to the ReplicaSets that may adopt them.
pub fn controller(factory: &InformerFactory) -> Controller<ReplicaSet> {
    controller_with(factory, &Config::default())
}

/// [`controller`] with the concurrency of `config`.
pub fn controller_with(factory: &InformerFactory, config: &Config) -> Controller<ReplicaSet> {
    let sets = factory.informer::<ReplicaSet>().cache();
    Controller::<ReplicaSet>::new(factory)
        .name("replicaset")
        .owns::<Pod>()
        .watches::<Pod>(move |pod| orphan_owners(&sets, pod))
        .concurrency(config.concurrency)
}

/// Runs the ReplicaSet controller on `factory`'s informers until
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
    let reconciler = ReplicaSetReconciler::with_config(factory, config);
    controller.run(reconciler)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::PodCondition;

    fn pod(name: &str, node: &str, phase: &str, ready_at: Option<i64>, created: i64) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.creation_timestamp = Some(Time::from_unix_seconds(created));
        p.spec.node_name = node.into();
        p.status.phase = phase.into();
        if let Some(t) = ready_at {
            p.status.conditions.push(PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time::from_unix_seconds(t)),
                ..Default::default()
            });
        }
        p
    }

    #[test]
    fn deletion_prefers_unscheduled_then_pending_then_unready_then_newer() {
        let mut pods = [
            pod("ready-old", "n", "Running", Some(100), 10),
            pod("ready-new", "n", "Running", Some(200), 20),
            pod("unready", "n", "Running", None, 5),
            pod("pending", "n", "Pending", None, 1),
            pod("unscheduled", "", "Pending", None, 0),
        ];
        pods.sort_by(deletion_order);
        let names: Vec<&str> = pods.iter().map(|p| p.metadata.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "unscheduled",
                "pending",
                "unready",
                "ready-new",
                "ready-old"
            ]
        );
    }

    #[test]
    fn availability_honours_min_ready_seconds() {
        let p = pod("a", "n", "Running", Some(100), 0);
        assert!(is_pod_available(&p, 0, Time::from_unix_seconds(100)));
        assert!(!is_pod_available(&p, 10, Time::from_unix_seconds(105)));
        assert!(is_pod_available(&p, 10, Time::from_unix_seconds(110)));
        assert!(!is_pod_available(
            &pod("b", "n", "Running", None, 0),
            0,
            Time::from_unix_seconds(100)
        ));
    }

    #[test]
    fn finished_and_terminating_pods_are_inactive() {
        assert!(is_pod_active(&pod("a", "", "Pending", None, 0)));
        assert!(!is_pod_active(&pod("a", "", "Succeeded", None, 0)));
        assert!(!is_pod_active(&pod("a", "", "Failed", None, 0)));
        let mut p = pod("a", "", "Running", None, 0);
        p.metadata.deletion_timestamp = Some(Time::from_unix_seconds(1));
        assert!(!is_pod_active(&p));
    }

    #[test]
    fn status_counts_and_failure_condition() {
        let mut rs = ReplicaSet::default();
        rs.metadata.generation = 3;
        rs.spec.min_ready_seconds = 10;
        rs.spec.template.metadata.labels.insert("app", "web");
        rs.spec.template.metadata.labels.insert("tier", "front");
        let mut a = pod("a", "n", "Running", Some(100), 0);
        a.metadata.labels.insert("app", "web");
        a.metadata.labels.insert("tier", "front");
        let mut b = pod("b", "n", "Running", Some(95), 0);
        b.metadata.labels.insert("app", "web");
        let c = pod("c", "", "Pending", None, 0);
        let pods = vec![Arc::new(a), Arc::new(b), Arc::new(c)];
        let now = Time::from_unix_seconds(106);
        let s = calculate_status(&rs, &pods, None, now);
        assert_eq!(
            (
                s.replicas,
                s.fully_labeled_replicas,
                s.ready_replicas,
                s.available_replicas,
                s.observed_generation
            ),
            (3, 1, 2, 1, 3)
        );
        assert!(s.conditions.is_empty());
        let s = calculate_status(&rs, &pods, Some(("FailedCreate", "quota".into())), now);
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].reason, "FailedCreate");
        rs.status = s.clone();
        // The same failure keeps its transition time; success clears it.
        let later = calculate_status(
            &rs,
            &pods,
            Some(("FailedCreate", "quota".into())),
            Time::from_unix_seconds(200),
        );
        assert_eq!(
            later.conditions[0].last_transition_time,
            Some(Time::from_unix_seconds(106))
        );
        assert!(calculate_status(&rs, &pods, None, now)
            .conditions
            .is_empty());
    }

    #[test]
    fn one_pass_counts_agree_with_the_pod_predicates() {
        let labelled = |mut p: Pod, labels: &[(&str, &str)]| {
            for (k, v) in labels {
                p.metadata.labels.insert(*k, *v);
            }
            p
        };
        let full = [("app", "web"), ("tier", "front")];
        let mut no_time = pod("no-time", "n", "Running", None, 0);
        no_time.status.conditions.push(PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            ..Default::default()
        });
        let pods: Vec<Arc<Pod>> = [
            labelled(pod("old", "n", "Running", Some(50), 0), &full),
            labelled(pod("recent", "n", "Running", Some(103), 0), &full),
            labelled(pod("just", "n", "Running", Some(100), 0), &[("app", "web")]),
            labelled(pod("unready", "", "Pending", None, 0), &full),
            labelled(no_time, &full),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let now = Time::from_unix_seconds(106);
        for (min_ready, selector, next_available) in [
            (0, "app=web", None),
            (5, "app=web", Some(2)),
            (10, "app=web,tier=front", Some(7)),
            (60, "app=web,tier in (front)", Some(4)),
        ] {
            let mut rs = ReplicaSet::default();
            rs.spec.min_ready_seconds = min_ready;
            for (k, v) in full {
                rs.spec.template.metadata.labels.insert(k, v);
            }
            let selector = Selector::parse(selector).unwrap();
            // Only the pods the selector matches, as a claim passes them.
            let claimed: Vec<&Arc<Pod>> = pods
                .iter()
                .filter(|p| selector.matches(&p.metadata.labels))
                .collect();
            let mut counter = Counter::new(&rs, Some(&selector), now);
            for p in &claimed {
                counter.add(p);
            }
            let count = |f: &dyn Fn(&Pod) -> bool| claimed.iter().filter(|p| f(p)).count() as i32;
            let want = PodCounts {
                replicas: claimed.len() as i32,
                fully_labeled: count(&|p| {
                    rs.spec
                        .template
                        .metadata
                        .labels
                        .is_subset_of(&p.metadata.labels)
                }),
                ready: count(&is_pod_ready),
                available: count(&|p| is_pod_available(p, min_ready, now)),
                next_available,
            };
            assert_eq!(
                counter.counts, want,
                "minReadySeconds {min_ready}, {selector}"
            );
        }
    }

    #[test]
    fn the_orphan_index_holds_active_pods_without_a_controller() {
        let mut orphan = pod("a", "", "Running", None, 0);
        orphan.metadata.namespace = "ns".into();
        assert_eq!(orphan_namespace(&orphan), [Str::from("ns")]);
        let mut owned = orphan.clone();
        let mut owner = ReplicaSet::default();
        owner.metadata.uid = "u".into();
        owned.metadata.owner_references.push(controller_ref(&owner));
        assert!(orphan_namespace(&owned).is_empty());
        // A non-controller ownerReference leaves it an orphan.
        let mut referenced = orphan.clone();
        let mut r = controller_ref(&owner);
        r.controller = None;
        referenced.metadata.owner_references.push(r);
        assert_eq!(orphan_namespace(&referenced), [Str::from("ns")]);
        let mut finished = orphan.clone();
        finished.status.phase = "Failed".into();
        assert!(orphan_namespace(&finished).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn expectations_wait_for_the_cache_or_time_out() {
        use crate::api::WatchEvent;
        use crate::informer::Writer;
        let mut writer = Writer::<Pod>::new();
        let cache = writer.reader();
        writer.replace(Vec::new(), "10".into());
        let e = Expectations::new(Duration::from_secs(60));
        let owner = ObjectKey::new("ns", "rs");
        assert!(e.satisfied(&owner, &cache));

        let mut created = Pod {
            metadata: ObjectMeta::namespaced("ns", "rs-abcde"),
            ..Default::default()
        };
        created.metadata.resource_version = "12".into();
        e.expect_written(&owner, &created.metadata);
        assert!(!e.satisfied(&owner, &cache));
        writer.apply(WatchEvent::Added(Arc::new(created.clone())));
        assert!(e.satisfied(&owner, &cache));

        // A deleted uid still active in the cache holds the owner back.
        created.metadata.uid = "u1".into();
        e.expect_deleted(&owner, ObjectKey::new("ns", "other"), "u0".into());
        e.expect_deleted(&owner, ObjectKey::of(&created), "u1".into());
        writer.apply(WatchEvent::Modified(Arc::new(created.clone())));
        assert!(!e.satisfied(&owner, &cache));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(e.satisfied(&owner, &cache));
    }
}
