//! The [`Controller`] runtime: informers feed a work queue, workers call a
//! [`Reconciler`].
//!
//! ```text
//!  primary informer ──key──┐
//!  owned informer ─owner's key─┤──▶ WorkQueue ──▶ N workers ──▶ Reconciler
//!  watched informer ─mapper's keys┘        ▲                  │
//!                                          └── requeue / backoff ┘
//! ```
//!
//! The queue never hands one key to two workers, so a reconciler sees each
//! object serially even with many workers. Errors come back with per-key
//! exponential backoff (the queue's rate limiter); `Action::RequeueAfter`
//! comes back after its delay.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tracing::Instrument;

use super::{Action, Reconciler};
use crate::api::{AnyObject, ApiResource, Resource, Scope};
use crate::informer::{Event, InformerFactory, Object, ObjectKey, SharedInformer, WorkQueue};

type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;
/// Feeds the queue from one informer (the future runs as a task).
type Trigger =
    Box<dyn FnOnce(WorkQueue<ObjectKey>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;
/// Waits for one informer's cache.
type SyncWait = Pin<Box<dyn Future<Output = Result<(), crate::informer::Error>> + Send>>;

/// A controller under construction, then running: the primary kind `K`,
/// the kinds whose changes map to it, and the workers.
///
/// ```
/// # tokio_test::block_on(async {
/// use std::sync::Arc;
/// use keelson::api::core::{ConfigMap, Secret};
/// use keelson::api::ObjectMeta;
/// use keelson::apiserver::ApiServer;
/// use keelson::client::{Api, LocalClient};
/// use keelson::controllers::{reconciler_fn, Action, Controller};
/// use keelson::informer::{InformerFactory, ObjectKey};
///
/// let server = ApiServer::in_memory().await.unwrap();
/// let client = LocalClient::new(&server);
/// let factory = InformerFactory::new(&client);
///
/// // Reconcile ConfigMaps; a Secret of the same name also triggers one.
/// let (tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
/// let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
/// let controller = Controller::<ConfigMap>::new(&factory)
///     .watches::<Secret>(|s| vec![ObjectKey::of(s)])
///     .concurrency(2)
///     .graceful_shutdown_on(async { let _ = stop_rx.await; });
/// let run = tokio::spawn(controller.run(reconciler_fn(move |key, cm: Option<Arc<ConfigMap>>| {
///     let tx = tx.clone();
///     async move {
///         let _ = tx.send((key.to_string(), cm.is_some()));
///         Ok::<_, std::convert::Infallible>(Action::Done)
///     }
/// })));
///
/// Api::<ConfigMap>::namespaced(&client, "default")
///     .create(&ConfigMap { metadata: ObjectMeta::named("app"), ..Default::default() })
///     .await
///     .unwrap();
/// assert_eq!(seen.recv().await.unwrap(), ("default/app".to_string(), true));
/// let _ = stop_tx.send(());
/// run.await.unwrap();
/// # });
/// ```
pub struct Controller<K: Object> {
    name: String,
    factory: InformerFactory,
    primary: SharedInformer<K>,
    primary_resource: ApiResource,
    triggers: Vec<Trigger>,
    syncs: Vec<SyncWait>,
    concurrency: usize,
    resync: Option<Duration>,
    queue: WorkQueue<ObjectKey>,
    shutdown: Option<Shutdown>,
    metrics: Arc<ControllerMetrics>,
}

impl<K: Object> fmt::Debug for Controller<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller")
            .field("name", &self.name)
            .field("primary", &self.primary_resource.kind)
            .field("triggers", &self.triggers.len())
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl<K: Resource> Controller<K> {
    /// A controller of `K` across all namespaces, with informers from
    /// `factory` (shared with everything else that uses the factory).
    pub fn new(factory: &InformerFactory) -> Self {
        Self::for_informer(factory, factory.informer::<K>())
    }
}

impl<K: Object> Controller<K> {
    /// A controller whose primary objects come from `informer` (a namespace
    /// or selector of its own, or a dynamic kind). Owned and watched kinds
    /// come from `factory`.
    pub fn for_informer(factory: &InformerFactory, informer: SharedInformer<K>) -> Self {
        let primary_resource = informer.api().resource().clone();
        let name = primary_resource.kind.to_lowercase();
        let mut c = Controller {
            name,
            factory: factory.clone(),
            primary: informer.clone(),
            primary_resource,
            triggers: Vec::new(),
            syncs: Vec::new(),
            concurrency: 1,
            resync: None,
            queue: WorkQueue::new(),
            shutdown: None,
            metrics: Arc::new(ControllerMetrics::default()),
        };
        c.add_sync(&informer);
        c
    }

    fn add_sync<O: Object>(&mut self, informer: &SharedInformer<O>) {
        let cache = informer.cache();
        self.syncs
            .push(Box::pin(async move { cache.wait_until_ready().await }));
    }

    /// The name used in tracing spans and metrics (default: the primary
    /// kind in lower case).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Reconcile the owner of every changed `C`: an event on a `C` whose
    /// ownerReferences name the primary kind queues that owner (both the
    /// old and the new owners when they changed).
    pub fn owns<C: Resource>(self) -> Self {
        let informer = self.factory.informer::<C>();
        self.owns_informer(informer)
    }

    /// [`owns`](Self::owns) with an informer of your own (a namespace, a
    /// selector or a dynamic kind).
    pub fn owns_informer<C: Object>(mut self, informer: SharedInformer<C>) -> Self {
        let owner = self.primary_resource.clone();
        self.add_sync(&informer);
        self.triggers.push(Box::new(move |queue| {
            let mut sub = informer.subscribe();
            Box::pin(async move {
                while let Some(event) = sub.recv().await {
                    for key in owner_keys(&owner, &event) {
                        queue.add(key);
                    }
                }
            })
        }));
        self
    }

    /// Reconcile the keys `mapper` returns for every changed `O` (for an
    /// update, the keys of both the old and the new state).
    pub fn watches<O: Resource>(
        self,
        mapper: impl Fn(&O) -> Vec<ObjectKey> + Send + Sync + 'static,
    ) -> Self {
        let informer = self.factory.informer::<O>();
        self.watches_informer(informer, mapper)
    }

    /// [`watches`](Self::watches) with an informer of your own.
    pub fn watches_informer<O: Object>(
        mut self,
        informer: SharedInformer<O>,
        mapper: impl Fn(&O) -> Vec<ObjectKey> + Send + Sync + 'static,
    ) -> Self {
        self.add_sync(&informer);
        self.triggers.push(Box::new(move |queue| {
            let mut sub = informer.subscribe();
            Box::pin(async move {
                while let Some(event) = sub.recv().await {
                    let mut keys = mapper(event.object());
                    if let Event::Updated { old, new } = &event {
                        if !Arc::ptr_eq(old, new) {
                            keys.extend(mapper(old));
                        }
                    }
                    keys.sort();
                    keys.dedup();
                    for key in keys {
                        queue.add(key);
                    }
                }
            })
        }));
        self
    }

    /// How many keys are reconciled at once (default 1; different keys
    /// only — one key is never reconciled twice at once).
    pub fn concurrency(mut self, workers: usize) -> Self {
        self.concurrency = workers.max(1);
        self
    }

    /// Reconcile every primary object again every `period`, changed or
    /// not.
    pub fn resync(mut self, period: Duration) -> Self {
        self.resync = Some(period).filter(|p| !p.is_zero());
        self
    }

    /// Stop when `signal` completes: no new reconciles start, the ones
    /// running finish, then [`run`](Self::run) returns.
    pub fn graceful_shutdown_on(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// The controller's queue: add keys to reconcile them (for example
    /// from a timer or another source).
    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// The primary kind's informer (its cache is what reconcilers see).
    pub fn informer(&self) -> &SharedInformer<K> {
        &self.primary
    }

    /// Counters and timings of this controller's reconciles.
    pub fn metrics(&self) -> Arc<ControllerMetrics> {
        self.metrics.clone()
    }

    /// Runs until the shutdown signal (or forever without one): starts the
    /// factory's informers, waits for their caches, then reconciles.
    pub async fn run<R: Reconciler<K>>(self, reconciler: R) {
        let Controller {
            name,
            factory,
            primary,
            primary_resource: _,
            triggers,
            syncs,
            concurrency,
            resync,
            queue,
            shutdown,
            metrics,
        } = self;
        let mut shutdown: Shutdown =
            shutdown.unwrap_or_else(|| Box::pin(futures::future::pending()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

        // Feed the queue: the primary kind's own events, then the mapped ones.
        // JoinSets abort their tasks when dropped: if this future is dropped
        // (say, by a leader that lost its lease), nothing keeps running.
        let mut feeders = tokio::task::JoinSet::new();
        let mut sub = match resync {
            Some(p) => primary.subscribe_with_resync(p),
            None => primary.subscribe(),
        };
        feeders.spawn({
            let queue = queue.clone();
            async move {
                while let Some(event) = sub.recv().await {
                    queue.add(event.key());
                }
            }
        });
        for t in triggers {
            let feed = t(queue.clone());
            feeders.spawn(feed);
        }
        factory.start();
        primary.start();

        let synced = async {
            for s in syncs {
                s.await?;
            }
            Ok::<_, crate::informer::Error>(())
        };
        tokio::select! {
            r = synced => {
                // Acting on a cache that never filled would, for example,
                // create every ReplicaSet's pods again: stop instead.
                if r.is_err() {
                    tracing::error!(controller = %name, "an informer stopped before its cache was ready; the controller stops");
                    let _ = stop_tx.send(true);
                }
            }
            _ = &mut shutdown => {
                let _ = stop_tx.send(true);
            }
        }

        let reconciler = Arc::new(reconciler);
        let cache = primary.cache();
        let mut workers = tokio::task::JoinSet::new();
        if !*stop_tx.borrow() {
            for _ in 0..concurrency {
                let queue = queue.clone();
                let reconciler = reconciler.clone();
                let cache = cache.clone();
                let metrics = metrics.clone();
                let name = name.clone();
                let mut stop = stop_rx.clone();
                workers.spawn(async move {
                    loop {
                        let key = tokio::select! {
                            biased;
                            _ = stop.wait_for(|s| *s) => break,
                            k = queue.get() => match k { Some(k) => k, None => break },
                        };
                        metrics.set_depth(queue.len());
                        let object = cache.get(&key);
                        let span = tracing::info_span!("reconcile", controller = %name, object = %key);
                        let started = Instant::now();
                        // A panicking reconcile counts as a failure: the key is
                        // retried and the worker lives on.
                        let result = std::panic::AssertUnwindSafe(
                            reconciler.reconcile(&key, object).instrument(span.clone()),
                        )
                        .catch_unwind()
                        .await
                        .map_err(|_| None)
                        .and_then(|r| r.map_err(Some));
                        let elapsed = started.elapsed();
                        match result {
                            Ok(Action::Done) => {
                                metrics.record(elapsed, false);
                                queue.forget(&key);
                            }
                            Ok(Action::RequeueAfter(delay)) => {
                                metrics.record(elapsed, false);
                                queue.forget(&key);
                                queue.add_after(key.clone(), delay);
                            }
                            Err(e) => {
                                metrics.record(elapsed, true);
                                span.in_scope(|| match e {
                                    Some(e) => tracing::warn!(error = %e, retries = queue.num_requeues(&key), "reconcile failed"),
                                    None => tracing::error!(retries = queue.num_requeues(&key), "reconcile panicked"),
                                });
                                queue.add_rate_limited(key.clone());
                            }
                        }
                        queue.done(&key);
                        metrics.set_depth(queue.len());
                    }
                });
            }
            shutdown.await;
            let _ = stop_tx.send(true);
        }
        queue.shut_down();
        while workers.join_next().await.is_some() {}
        feeders.abort_all();
        drop(stop_rx);
    }
}

/// The keys of the owners of `event`'s object (old and new states) that
/// are of the `owner` kind. The controller reference comes first; every
/// matching reference counts (as kube-rs's `owns` does).
fn owner_keys<C: AnyObject>(owner: &ApiResource, event: &Event<C>) -> Vec<ObjectKey> {
    let mut keys = Vec::new();
    let mut push = |obj: &C| {
        let meta = obj.meta();
        for r in &meta.owner_references {
            if r.kind != owner.kind || group_of(&r.api_version) != owner.group.as_str() {
                continue;
            }
            let ns = match owner.scope {
                Scope::Namespaced => meta.namespace.clone(),
                Scope::Cluster => Default::default(),
            };
            keys.push(ObjectKey::new(ns, r.name.clone()));
        }
    };
    match event {
        Event::Added(o) | Event::Deleted(o) => push(o),
        Event::Updated { old, new } => {
            push(new);
            if !Arc::ptr_eq(old, new) {
                push(old);
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// `apps` of `apps/v1`; `""` of `v1`.
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Reconcile counters and timings of one controller, in the Prometheus
/// text format with [`render`](Self::render).
#[derive(Debug, Default)]
pub struct ControllerMetrics {
    reconciles: AtomicU64,
    errors: AtomicU64,
    depth: AtomicI64,
    /// Bucket upper bound (seconds, as text) → count, plus sum in µs.
    durations: Mutex<Durations>,
}

#[derive(Debug, Default)]
struct Durations {
    buckets: BTreeMap<u64, u64>,
    sum_micros: u64,
}

/// Histogram bounds in microseconds: 1 ms … 60 s.
const BOUNDS_MICROS: [u64; 10] = [
    1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000, 10_000_000, 60_000_000,
];

impl ControllerMetrics {
    fn record(&self, elapsed: Duration, failed: bool) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let mut d = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        d.sum_micros = d.sum_micros.saturating_add(micros);
        let bound = BOUNDS_MICROS
            .iter()
            .copied()
            .find(|b| micros <= *b)
            .unwrap_or(u64::MAX);
        *d.buckets.entry(bound).or_default() += 1;
    }

    fn set_depth(&self, depth: usize) {
        self.depth
            .store(i64::try_from(depth).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Reconciles run (successful or not).
    pub fn reconciles(&self) -> u64 {
        self.reconciles.load(Ordering::Relaxed)
    }

    /// Reconciles that returned an error.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Keys waiting in the queue when last looked at.
    pub fn queue_depth(&self) -> i64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text format, labelled with the
    /// controller's `name`.
    ///
    /// ```
    /// let m = keelson::controllers::ControllerMetrics::default();
    /// let text = m.render("replicaset");
    /// assert!(text.contains("controller_reconcile_total{controller=\"replicaset\"} 0"));
    /// ```
    pub fn render(&self, name: &str) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "# TYPE controller_reconcile_total counter");
        let _ = writeln!(
            out,
            "controller_reconcile_total{{controller=\"{name}\"}} {}",
            self.reconciles()
        );
        let _ = writeln!(out, "# TYPE controller_reconcile_errors_total counter");
        let _ = writeln!(
            out,
            "controller_reconcile_errors_total{{controller=\"{name}\"}} {}",
            self.errors()
        );
        let _ = writeln!(out, "# TYPE controller_workqueue_depth gauge");
        let _ = writeln!(
            out,
            "controller_workqueue_depth{{controller=\"{name}\"}} {}",
            self.queue_depth()
        );
        let _ = writeln!(out, "# TYPE controller_reconcile_time_seconds histogram");
        let d = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        let mut cumulative = 0;
        for b in BOUNDS_MICROS {
            cumulative += d.buckets.get(&b).copied().unwrap_or(0);
            let le = b as f64 / 1e6;
            let _ = writeln!(
                out,
                "controller_reconcile_time_seconds_bucket{{controller=\"{name}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let total: u64 = d.buckets.values().sum();
        let _ = writeln!(
            out,
            "controller_reconcile_time_seconds_bucket{{controller=\"{name}\",le=\"+Inf\"}} {total}"
        );
        let _ = writeln!(
            out,
            "controller_reconcile_time_seconds_sum{{controller=\"{name}\"}} {}",
            d.sum_micros as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "controller_reconcile_time_seconds_count{{controller=\"{name}\"}} {total}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::Pod;
    use crate::api::{ObjectMeta, OwnerReference};

    fn rs_resource() -> ApiResource {
        <crate::api::apps::ReplicaSet as Resource>::api_resource()
    }

    fn pod_owned_by(kind: &str, api_version: &str, name: &str) -> Arc<Pod> {
        let mut meta = ObjectMeta::namespaced("ns", "p");
        meta.owner_references.push(OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: None,
        });
        Arc::new(Pod {
            metadata: meta,
            ..Default::default()
        })
    }

    #[test]
    fn owner_keys_match_kind_and_group() {
        let e = Event::Added(pod_owned_by("ReplicaSet", "apps/v1", "web"));
        assert_eq!(
            owner_keys(&rs_resource(), &e),
            vec![ObjectKey::new("ns", "web")]
        );
        let e = Event::Added(pod_owned_by("ReplicaSet", "extensions/v1beta1", "web"));
        assert!(owner_keys(&rs_resource(), &e).is_empty());
        let e = Event::Added(pod_owned_by("Deployment", "apps/v1", "web"));
        assert!(owner_keys(&rs_resource(), &e).is_empty());
    }

    #[test]
    fn owner_change_queues_both_owners() {
        let e = Event::Updated {
            old: pod_owned_by("ReplicaSet", "apps/v1", "a"),
            new: pod_owned_by("ReplicaSet", "apps/v1", "b"),
        };
        assert_eq!(
            owner_keys(&rs_resource(), &e),
            vec![ObjectKey::new("ns", "a"), ObjectKey::new("ns", "b")]
        );
    }

    #[test]
    fn metrics_render_a_histogram() {
        let m = ControllerMetrics::default();
        m.record(Duration::from_millis(3), false);
        m.record(Duration::from_secs(120), true);
        let text = m.render("x");
        assert!(
            text.contains("controller_reconcile_total{controller=\"x\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("controller_reconcile_errors_total{controller=\"x\"} 1"),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"60\"} 1"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
    }
}
