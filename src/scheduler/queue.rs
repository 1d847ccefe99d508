//! The scheduling queue: pods waiting for a scheduling cycle.
//!
//! Three places a pending pod can be, as in kube-scheduler:
//!
//! - the **active queue**, ordered by the QueueSort plugin (PrioritySort:
//!   higher priority first, then earlier arrival); [`SchedulingQueue::pop`]
//!   takes from it;
//! - the **backoff queue**, for pods that failed recently: a pod waits 1 s
//!   after its first failure, doubling per attempt up to 10 s, before it is
//!   active again;
//! - the **unschedulable pods**, parked after a cycle found no node, until
//!   a cluster event that can help them ([`ClusterEvent`], matched against
//!   the plugins that rejected the pod) moves them back — or until they
//!   have waited 5 minutes ([`SchedulingQueue::flush_unschedulable`]).
//!
//! Pods a PreEnqueue plugin rejects (scheduling gates) are kept aside
//! until they are updated.
//!
//! If an event arrives while a pod is being scheduled and the pod then
//! fails, it goes to the backoff queue instead of being parked: the event
//! may already have fixed what it failed on.
//!
//! ```
//! # tokio_test::block_on(async {
//! use std::sync::Arc;
//! use keelson::api::core::Pod;
//! use keelson::api::ObjectMeta;
//! use keelson::scheduler::{PodInfo, SchedulingQueue, QueueConfig};
//! use keelson::scheduler::plugins::PrioritySort;
//!
//! let queue = SchedulingQueue::new(Arc::new(PrioritySort), QueueConfig::default());
//! for (name, prio) in [("low", 1), ("high", 10)] {
//!     let mut pod = Pod { metadata: ObjectMeta::namespaced("default", name), ..Default::default() };
//!     pod.spec.priority = Some(prio);
//!     queue.add(Arc::new(PodInfo::new(Arc::new(pod))));
//! }
//! assert_eq!(queue.pop().await.unwrap().info.pod.metadata.name, "high");
//! # });
//! ```
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::framework::{ClusterEvent, QueueSort};
use super::info::PodInfo;
use crate::api::Str;

/// A pod in the queue with its scheduling history.
#[derive(Clone, Debug)]
pub struct QueuedPodInfo {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// When it entered the queue (or was last moved to active).
    pub timestamp: Instant,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// When it was first popped.
    pub initial_attempt: Option<Instant>,
    /// The plugins that rejected it in its last attempt.
    pub unschedulable_plugins: Vec<&'static str>,
    /// The cycle it was popped in.
    pub cycle: u64,
    seq: u64,
}

/// Queue timings (kube-scheduler's defaults).
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Backoff after the first failure (1 s).
    pub initial_backoff: Duration,
    /// The longest backoff (10 s).
    pub max_backoff: Duration,
    /// How long an unschedulable pod waits at most before it is retried
    /// without an event (5 min).
    pub max_unschedulable_duration: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_unschedulable_duration: Duration::from_secs(300),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

struct Slot {
    qp: QueuedPodInfo,
    place: Place,
    since: Instant,
}

struct Inner {
    sort: Arc<dyn QueueSort>,
    active: Vec<QueuedPodInfo>,
    backoff: BinaryHeap<std::cmp::Reverse<(Instant, u64, Str)>>,
    slots: HashMap<Str, Slot>,
    parked: std::collections::HashSet<Str>,
    seq: u64,
    cycle: u64,
    move_request_cycle: u64,
    nominated: HashMap<Str, Vec<Arc<PodInfo>>>,
    nominated_of: HashMap<Str, Str>,
    nominated_arc: Option<Arc<HashMap<Str, Vec<Arc<PodInfo>>>>>,
    closed: bool,
}

impl Inner {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        self.sort.less(a, b)
    }

    fn push_active(&mut self, qp: QueuedPodInfo) {
        self.active.push(qp);
        let mut i = self.active.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.less(&self.active[i], &self.active[parent]) {
                self.active.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    fn pop_heap(&mut self) -> Option<QueuedPodInfo> {
        if self.active.is_empty() {
            return None;
        }
        let last = self.active.len() - 1;
        self.active.swap(0, last);
        let top = self.active.pop();
        let n = self.active.len();
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            let r = l + 1;
            let mut m = i;
            if l < n && self.less(&self.active[l], &self.active[m]) {
                m = l;
            }
            if r < n && self.less(&self.active[r], &self.active[m]) {
                m = r;
            }
            if m == i {
                break;
            }
            self.active.swap(i, m);
            i = m;
        }
        top
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn backoff_duration(cfg: &QueueConfig, attempts: u32) -> Duration {
        let mut d = cfg.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= cfg.max_backoff {
                return cfg.max_backoff;
            }
        }
        d.min(cfg.max_backoff)
    }

    fn move_to_active(&mut self, mut qp: QueuedPodInfo, now: Instant) {
        qp.seq = self.next_seq();
        qp.timestamp = now;
        self.slots.insert(
            qp.info.uid.clone(),
            Slot {
                qp: qp.clone(),
                place: Place::Active,
                since: now,
            },
        );
        self.push_active(qp);
    }

    fn move_to_backoff(&mut self, mut qp: QueuedPodInfo, until: Instant, now: Instant) {
        qp.seq = self.next_seq();
        self.backoff
            .push(std::cmp::Reverse((until, qp.seq, qp.info.uid.clone())));
        self.slots.insert(
            qp.info.uid.clone(),
            Slot {
                qp,
                place: Place::Backoff,
                since: now,
            },
        );
    }

    fn flush_backoff(&mut self, now: Instant) {
        while let Some(std::cmp::Reverse((at, seq, uid))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            let live = self
                .slots
                .get(&uid)
                .is_some_and(|s| s.place == Place::Backoff && s.qp.seq == seq);
            if live {
                if let Some(s) = self.slots.remove(&uid) {
                    self.move_to_active(s.qp, now);
                }
            }
        }
    }

    fn move_pod(&mut self, uid: &Str, cfg: &QueueConfig, now: Instant) {
        self.parked.remove(uid);
        let Some(s) = self.slots.remove(uid) else {
            return;
        };
        let qp = s.qp;
        let until = qp
            .timestamp
            .checked_add(Self::backoff_duration(cfg, qp.attempts))
            .unwrap_or(now);
        if qp.attempts > 0 && until > now {
            self.move_to_backoff(qp, until, now);
        } else {
            self.move_to_active(qp, now);
        }
    }

    fn clear_nomination(&mut self, uid: &str) {
        if let Some(node) = self.nominated_of.remove(uid) {
            if let Some(v) = self.nominated.get_mut(&node) {
                v.retain(|p| p.uid != uid);
                if v.is_empty() {
                    self.nominated.remove(&node);
                }
            }
            self.nominated_arc = None;
        }
    }
}

/// The scheduling queue (see the [module docs](self)). Cheap to share
/// behind an `Arc`; every method takes `&self`.
pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    config: QueueConfig,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b, u) = self.lens();
        f.debug_struct("SchedulingQueue")
            .field("active", &a)
            .field("backoff", &b)
            .field("unschedulable", &u)
            .finish()
    }
}

impl SchedulingQueue {
    /// An empty queue ordered by `sort`.
    pub fn new(sort: Arc<dyn QueueSort>, config: QueueConfig) -> SchedulingQueue {
        SchedulingQueue {
            inner: Mutex::new(Inner {
                sort,
                active: Vec::new(),
                backoff: BinaryHeap::new(),
                slots: HashMap::new(),
                parked: std::collections::HashSet::new(),
                seq: 0,
                cycle: 0,
                move_request_cycle: 0,
                nominated: HashMap::new(),
                nominated_of: HashMap::new(),
                nominated_arc: None,
                closed: false,
            }),
            notify: Notify::new(),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new pending pod to the active queue.
    pub fn add(&self, info: Arc<PodInfo>) {
        let now = Instant::now();
        let mut g = self.lock();
        if g.slots.contains_key(&info.uid) {
            drop(g);
            self.update(info);
            return;
        }
        let qp = QueuedPodInfo {
            info,
            timestamp: now,
            attempts: 0,
            initial_attempt: None,
            unschedulable_plugins: Vec::new(),
            cycle: 0,
            seq: 0,
        };
        g.move_to_active(qp, now);
        drop(g);
        self.notify.notify_one();
    }

    /// Adds a pod a PreEnqueue plugin rejected: it waits until updated.
    pub fn add_gated(&self, info: Arc<PodInfo>) {
        let now = Instant::now();
        let mut g = self.lock();
        let uid = info.uid.clone();
        let qp = match g.slots.remove(&uid) {
            Some(mut s) => {
                s.qp.info = info;
                s.qp
            }
            None => QueuedPodInfo {
                info,
                timestamp: now,
                attempts: 0,
                initial_attempt: None,
                unschedulable_plugins: Vec::new(),
                cycle: 0,
                seq: 0,
            },
        };
        g.slots.insert(
            uid,
            Slot {
                qp,
                place: Place::Gated,
                since: now,
            },
        );
    }

    /// A pending pod changed: its new state replaces the queued one; a
    /// parked or gated pod is retried (the change may fix it).
    pub fn update(&self, info: Arc<PodInfo>) {
        let now = Instant::now();
        let mut g = self.lock();
        let uid = info.uid.clone();
        let Some(slot) = g.slots.get_mut(&uid) else {
            drop(g);
            self.add(info);
            return;
        };
        slot.qp.info = info;
        match slot.place {
            Place::Active => {
                // Re-push with the new data; the old heap entry is stale.
                let qp = slot.qp.clone();
                g.slots.remove(&uid);
                g.active.retain(|q| q.info.uid != uid);
                g.move_to_active(qp, now);
            }
            Place::Unschedulable | Place::Gated => {
                g.move_pod(&uid, &self.config, now);
            }
            Place::Backoff | Place::InFlight => {}
        }
        drop(g);
        self.notify.notify_one();
    }

    /// Removes a pod (deleted, or bound by someone else).
    pub fn delete(&self, uid: &str) {
        let mut g = self.lock();
        g.parked.remove(uid);
        if let Some(s) = g.slots.remove(uid) {
            if s.place == Place::Active {
                g.active.retain(|q| q.info.uid != uid);
            }
        }
        g.clear_nomination(uid);
    }

    /// Takes the next pod, waiting for one; `None` once closed.
    pub async fn pop(&self) -> Option<QueuedPodInfo> {
        loop {
            let deadline = {
                let now = Instant::now();
                let mut g = self.lock();
                g.flush_backoff(now);
                while let Some(mut qp) = g.pop_heap() {
                    let live = g
                        .slots
                        .get(&qp.info.uid)
                        .is_some_and(|s| s.place == Place::Active && s.qp.seq == qp.seq);
                    if !live {
                        continue;
                    }
                    g.cycle += 1;
                    qp.cycle = g.cycle;
                    qp.attempts += 1;
                    if qp.initial_attempt.is_none() {
                        qp.initial_attempt = Some(now);
                    }
                    if let Some(s) = g.slots.get_mut(&qp.info.uid) {
                        s.place = Place::InFlight;
                        s.qp = qp.clone();
                    }
                    return Some(qp);
                }
                if g.closed {
                    return None;
                }
                g.backoff.peek().map(|std::cmp::Reverse((at, _, _))| *at)
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => self.notify.notified().await,
            }
        }
    }

    /// The pod was scheduled (assumed): it leaves the queue.
    pub fn done(&self, uid: &str) {
        let mut g = self.lock();
        if g.slots.get(uid).is_some_and(|s| s.place == Place::InFlight) {
            g.slots.remove(uid);
        }
    }

    /// The pod's attempt failed: park it as unschedulable, or back it off
    /// when an event arrived during its cycle (or when `backoff` is asked
    /// for, after an error).
    pub fn add_unschedulable(
        &self,
        mut qp: QueuedPodInfo,
        plugins: Vec<&'static str>,
        backoff: bool,
    ) {
        let now = Instant::now();
        let mut g = self.lock();
        let uid = qp.info.uid.clone();
        // Deleted while in flight: forget it.
        match g.slots.get(&uid) {
            Some(s) if s.place == Place::InFlight => {
                qp.info = s.qp.info.clone();
            }
            _ => return,
        }
        qp.unschedulable_plugins = plugins;
        qp.timestamp = now;
        if backoff || g.move_request_cycle >= qp.cycle {
            let until = now
                .checked_add(Inner::backoff_duration(&self.config, qp.attempts))
                .unwrap_or(now);
            g.move_to_backoff(qp, until, now);
            drop(g);
            self.notify.notify_one();
        } else {
            qp.seq = g.next_seq();
            g.parked.insert(uid.clone());
            g.slots.insert(
                uid,
                Slot {
                    qp,
                    place: Place::Unschedulable,
                    since: now,
                },
            );
        }
    }

    /// Puts a pod whose binding failed (it had left the queue) back, after
    /// its backoff.
    pub fn requeue_backoff(&self, mut qp: QueuedPodInfo) {
        let now = Instant::now();
        let mut g = self.lock();
        if g.slots.contains_key(&qp.info.uid) {
            return;
        }
        qp.timestamp = now;
        let until = now
            .checked_add(Inner::backoff_duration(&self.config, qp.attempts))
            .unwrap_or(now);
        g.move_to_backoff(qp, until, now);
        drop(g);
        self.notify.notify_one();
    }

    /// A cluster event: moves the parked pods it can help back to the
    /// active (or backoff) queue. `interested(plugin, event)` says whether
    /// a plugin's rejection may be undone by the event.
    pub fn on_event(&self, event: ClusterEvent, interested: impl Fn(&str, ClusterEvent) -> bool) {
        let now = Instant::now();
        let mut g = self.lock();
        g.move_request_cycle = g.cycle;
        if g.parked.is_empty() {
            return;
        }
        let uids: Vec<Str> = g
            .parked
            .iter()
            .filter_map(|k| g.slots.get(k).map(|s| (k, s)))
            .filter(|(_, s)| {
                s.place == Place::Unschedulable
                    && (s.qp.unschedulable_plugins.is_empty()
                        || s.qp
                            .unschedulable_plugins
                            .iter()
                            .any(|p| interested(p, event)))
            })
            .map(|(k, _)| k.clone())
            .collect();
        let moved = !uids.is_empty();
        for uid in uids {
            g.move_pod(&uid, &self.config, now);
        }
        drop(g);
        if moved {
            self.notify.notify_one();
        }
    }

    /// Moves every parked pod back (regardless of plugins).
    pub fn move_all(&self) {
        self.on_event(ClusterEvent::NodeAdd, |_, _| true);
    }

    /// Retries pods parked longer than the configured maximum (5 min).
    pub fn flush_unschedulable(&self) {
        let now = Instant::now();
        let max = self.config.max_unschedulable_duration;
        let mut g = self.lock();
        let uids: Vec<Str> = g
            .parked
            .iter()
            .filter_map(|k| g.slots.get(k).map(|s| (k, s)))
            .filter(|(_, s)| {
                s.place == Place::Unschedulable && now.saturating_duration_since(s.since) >= max
            })
            .map(|(k, _)| k.clone())
            .collect();
        let moved = !uids.is_empty();
        for uid in uids {
            g.move_pod(&uid, &self.config, now);
        }
        drop(g);
        if moved {
            self.notify.notify_one();
        }
    }

    /// Records that `pod` is nominated to `node` (after preemption).
    pub fn nominate(&self, pod: Arc<PodInfo>, node: &str) {
        let mut g = self.lock();
        g.clear_nomination(&pod.uid);
        g.nominated_of.insert(pod.uid.clone(), Str::from(node));
        g.nominated.entry(Str::from(node)).or_default().push(pod);
        g.nominated_arc = None;
    }

    /// Clears a pod's nomination (it was scheduled or deleted).
    pub fn clear_nomination(&self, uid: &str) {
        self.lock().clear_nomination(uid);
    }

    /// The nominated pods by node, shared (rebuilt only after a change).
    pub fn nominated(&self) -> Arc<HashMap<Str, Vec<Arc<PodInfo>>>> {
        let mut g = self.lock();
        if let Some(a) = &g.nominated_arc {
            return a.clone();
        }
        let a = Arc::new(g.nominated.clone());
        g.nominated_arc = Some(a.clone());
        a
    }

    /// True when the pod is anywhere in the queue (or in flight).
    pub fn contains(&self, uid: &str) -> bool {
        self.lock().slots.contains_key(uid)
    }

    /// Pods in the active queue, the backoff queue and parked.
    pub fn lens(&self) -> (usize, usize, usize) {
        let g = self.lock();
        let mut out = (0, 0, 0);
        for s in g.slots.values() {
            match s.place {
                Place::Active => out.0 += 1,
                Place::Backoff => out.1 += 1,
                Place::Unschedulable | Place::Gated => out.2 += 1,
                Place::InFlight => {}
            }
        }
        out
    }

    /// Stops the queue: `pop` returns `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}
