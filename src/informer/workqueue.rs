//! A work queue for controllers: de-duplicating, never handing one item to
//! two workers at once, with delayed and rate-limited adds and a graceful,
//! draining shutdown — client-go's `workqueue` semantics.
//!
//! - [`WorkQueue::add`] of an item already waiting does nothing; of an item
//!   being processed marks it, and [`WorkQueue::done`] queues it again, so
//!   a change seen during a reconcile is never lost nor handled twice at
//!   once.
//! - [`WorkQueue::add_after`] waits first (an item waiting twice keeps the
//!   earlier time); [`WorkQueue::add_rate_limited`] asks the
//!   [`RateLimiter`] how long ([`default_rate_limiter`]: per item 5 ms
//!   doubling to 1000 s, and at most 10 per second overall with bursts of
//!   100); [`WorkQueue::forget`] resets an item's failures.
//! - [`WorkQueue::shut_down`] refuses new items and drops delayed ones;
//!   workers still get what was queued, then `None`.
//!   [`WorkQueue::shut_down_with_drain`] also waits until every handed-out
//!   item is done.
//!
//! All timing is `tokio::time`, so tests can run with paused time.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::informer::WorkQueue;
//!
//! let queue: WorkQueue<String> = WorkQueue::new();
//! queue.add("default/web".to_string());
//! queue.add("default/web".to_string()); // de-duplicated
//! assert_eq!(queue.len(), 1);
//!
//! let key = queue.get().await.unwrap();
//! queue.add(key.clone()); // re-added while processing: not handed out yet
//! assert_eq!(queue.len(), 0);
//! queue.done(&key); // ... now it is queued again
//! assert_eq!(queue.len(), 1);
//!
//! queue.shut_down();
//! assert_eq!(queue.get().await, Some(key.clone()));
//! queue.done(&key);
//! assert_eq!(queue.get().await, None);
//! # });
//! ```
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long an item waits before it is retried.
pub trait RateLimiter<T>: Send {
    /// The delay for the next retry of `item` (recording the attempt).
    fn when(&mut self, item: &T) -> Duration;
    /// Forgets `item`'s failures.
    fn forget(&mut self, item: &T);
    /// How many times `item` has been retried since it was last forgotten.
    fn retries(&self, item: &T) -> u32;
}

/// Per-item exponential backoff: `base · 2^failures`, at most `max`.
#[derive(Debug)]
pub struct ItemExponential<T> {
    base: Duration,
    max: Duration,
    failures: HashMap<T, u32>,
}

impl<T> ItemExponential<T> {
    /// Backoff from `base` doubling to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        ItemExponential {
            base,
            max,
            failures: HashMap::new(),
        }
    }
}

impl<T: Eq + Hash + Clone + Send> RateLimiter<T> for ItemExponential<T> {
    fn when(&mut self, item: &T) -> Duration {
        let n = self.failures.entry(item.clone()).or_insert(0);
        let exp = *n;
        *n = n.saturating_add(1);
        let factor = 2u32.checked_pow(exp).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max))
    }

    fn forget(&mut self, item: &T) {
        self.failures.remove(item);
    }

    fn retries(&self, item: &T) -> u32 {
        self.failures.get(item).copied().unwrap_or(0)
    }
}

/// An overall token bucket: `qps` tokens a second, at most `burst` saved.
/// Each retry takes a token, waiting for one if none is left (as Go's
/// `rate.Limiter.Reserve`).
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `qps` a second.
    pub fn new(qps: f64, burst: u32) -> Self {
        TokenBucket {
            qps: if qps.is_finite() && qps > 0.0 {
                qps
            } else {
                f64::MIN_POSITIVE
            },
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: None,
        }
    }
}

impl<T> RateLimiter<T> for TokenBucket {
    fn when(&mut self, _item: &T) -> Duration {
        let now = Instant::now();
        let elapsed = self.last.map_or(0.0, |l| (now - l).as_secs_f64());
        self.last = Some(now);
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(-self.tokens / self.qps).unwrap_or(Duration::MAX)
        }
    }

    fn forget(&mut self, _item: &T) {}

    fn retries(&self, _item: &T) -> u32 {
        0
    }
}

/// The longest delay of several limiters.
pub struct MaxOf<T>(pub Vec<Box<dyn RateLimiter<T>>>);

impl<T> fmt::Debug for MaxOf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaxOf({} limiters)", self.0.len())
    }
}

impl<T> RateLimiter<T> for MaxOf<T> {
    fn when(&mut self, item: &T) -> Duration {
        self.0
            .iter_mut()
            .map(|l| l.when(item))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    fn forget(&mut self, item: &T) {
        for l in &mut self.0 {
            l.forget(item);
        }
    }

    fn retries(&self, item: &T) -> u32 {
        self.0.iter().map(|l| l.retries(item)).max().unwrap_or(0)
    }
}

/// client-go's `DefaultControllerRateLimiter`: per item 5 ms doubling to
/// 1000 s, combined with an overall 10 qps / 100 burst bucket.
#[doc(alias = "DefaultControllerRateLimiter")]
pub fn default_rate_limiter<T: Eq + Hash + Clone + Send + 'static>() -> MaxOf<T> {
    MaxOf(vec![
        Box::new(ItemExponential::new(
            Duration::from_millis(5),
            Duration::from_secs(1000),
        )),
        Box::new(TokenBucket::new(10.0, 100)),
    ])
}

struct State<T> {
    queue: VecDeque<T>,
    /// Items that need processing (queued, or re-added while processing).
    dirty: HashSet<T>,
    processing: HashSet<T>,
    /// Delayed items: the time and sequence number of their entry.
    waiting: HashMap<T, (Instant, u64)>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    heap_items: HashMap<u64, T>,
    seq: u64,
    shutting_down: bool,
}

impl<T: Clone + Eq + Hash> State<T> {
    fn add(&mut self, item: T) -> bool {
        if self.shutting_down || self.dirty.contains(&item) {
            return false;
        }
        self.dirty.insert(item.clone());
        if self.processing.contains(&item) {
            return false;
        }
        self.queue.push_back(item);
        true
    }

    /// Moves delayed items whose time has come to the queue.
    fn promote(&mut self, now: Instant) -> usize {
        let mut moved = 0;
        while let Some(Reverse((at, seq))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(item) = self.heap_items.remove(&seq) else {
                continue;
            };
            if self.waiting.get(&item).map(|w| w.1) == Some(seq) {
                self.waiting.remove(&item);
                if self.add(item) {
                    moved += 1;
                }
            }
        }
        moved
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    fn is_drained(&self) -> bool {
        self.queue.is_empty() && self.processing.is_empty()
    }
}

struct Inner<T> {
    state: Mutex<State<T>>,
    /// Wakes workers: an item is ready, an earlier delay, or shutdown.
    ready: Notify,
    /// Wakes a draining shutdown.
    drained: Notify,
    limiter: Mutex<Box<dyn RateLimiter<T>>>,
}

/// A de-duplicating, delaying, rate-limiting queue of items (object keys).
/// Cheap to clone; clones share the queue.
pub struct WorkQueue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("WorkQueue")
            .field("queued", &st.queue.len())
            .field("processing", &st.processing.len())
            .field("waiting", &st.waiting.len())
            .field("shutting_down", &st.shutting_down)
            .finish()
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> WorkQueue<T> {
    /// A queue with the [`default_rate_limiter`].
    pub fn new() -> Self {
        Self::with_rate_limiter(default_rate_limiter())
    }

    /// A queue with its own rate limiter.
    pub fn with_rate_limiter(limiter: impl RateLimiter<T> + 'static) -> Self {
        WorkQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    waiting: HashMap::new(),
                    heap: BinaryHeap::new(),
                    heap_items: HashMap::new(),
                    seq: 0,
                    shutting_down: false,
                }),
                ready: Notify::new(),
                drained: Notify::new(),
                limiter: Mutex::new(Box::new(limiter)),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Box<dyn RateLimiter<T>>> {
        self.inner.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item` unless it is already queued (ignored after shutdown).
    pub fn add(&self, item: T) {
        let queued = self.state().add(item);
        if queued {
            self.inner.ready.notify_one();
        }
    }

    /// Queues `item` after `delay`. An item already waiting keeps the
    /// earlier of the two times.
    #[doc(alias = "AddAfter")]
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let Some(at) = Instant::now().checked_add(delay) else {
            // Further away than time can count: never.
            return;
        };
        let mut st = self.state();
        if st.shutting_down {
            return;
        }
        if let Some((existing, _)) = st.waiting.get(&item) {
            if *existing <= at {
                return;
            }
        }
        let earliest = st.next_deadline().is_none_or(|d| at < d);
        st.seq += 1;
        let seq = st.seq;
        st.waiting.insert(item.clone(), (at, seq));
        st.heap.push(Reverse((at, seq)));
        st.heap_items.insert(seq, item);
        drop(st);
        if earliest {
            // Sleeping workers recompute their deadline.
            self.inner.ready.notify_waiters();
        }
    }

    /// Queues `item` after the rate limiter's delay for it.
    #[doc(alias = "AddRateLimited")]
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.limiter().when(&item);
        self.add_after(item, delay);
    }

    /// Forgets `item`'s failures (call after a success).
    pub fn forget(&self, item: &T) {
        self.limiter().forget(item);
    }

    /// How many times `item` has been re-queued through the rate limiter.
    #[doc(alias = "NumRequeues")]
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.limiter().retries(item)
    }

    /// The number of items ready to be handed out.
    pub fn len(&self) -> usize {
        let mut st = self.state();
        st.promote(Instant::now());
        st.queue.len()
    }

    /// True when no item is ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of items waiting for their delay.
    pub fn delayed_len(&self) -> usize {
        self.state().waiting.len()
    }

    /// True once [`WorkQueue::shut_down`] has been called.
    pub fn is_shutting_down(&self) -> bool {
        self.state().shutting_down
    }

    /// The next item to process; `None` once the queue is shut down and
    /// empty. The item is the caller's until [`WorkQueue::done`].
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.inner.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let deadline = {
                let mut st = self.state();
                st.promote(Instant::now());
                if let Some(item) = st.queue.pop_front() {
                    st.dirty.remove(&item);
                    st.processing.insert(item.clone());
                    let more = !st.queue.is_empty();
                    drop(st);
                    if more {
                        // Promotion may have queued several at once.
                        self.inner.ready.notify_one();
                    }
                    return Some(item);
                }
                if st.shutting_down {
                    return None;
                }
                st.next_deadline()
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `item` processed; if it was added meanwhile, it is queued
    /// again.
    pub fn done(&self, item: &T) {
        let mut st = self.state();
        if !st.processing.remove(item) {
            return;
        }
        let requeue = st.dirty.contains(item);
        if requeue {
            st.queue.push_back(item.clone());
        }
        let drained = st.shutting_down && st.is_drained();
        drop(st);
        if requeue {
            self.inner.ready.notify_one();
        }
        if drained {
            self.inner.drained.notify_waiters();
        }
    }

    /// Stops accepting items and drops delayed ones; workers get what is
    /// queued, then `None`.
    #[doc(alias = "ShutDown")]
    pub fn shut_down(&self) {
        let mut st = self.state();
        st.shutting_down = true;
        st.waiting.clear();
        st.heap.clear();
        st.heap_items.clear();
        drop(st);
        self.inner.ready.notify_waiters();
    }

    /// [`WorkQueue::shut_down`], then waits until every queued and
    /// handed-out item is done.
    #[doc(alias = "ShutDownWithDrain")]
    pub async fn shut_down_with_drain(&self) {
        self.shut_down();
        loop {
            let notified = self.inner.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.state().is_drained() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn item_exponential_doubles_to_the_cap_and_forgets() {
        let mut l = ItemExponential::new(ms(5), Duration::from_secs(1000));
        let got: Vec<Duration> = (0..5).map(|_| l.when(&"a")).collect();
        assert_eq!(got, [ms(5), ms(10), ms(20), ms(40), ms(80)]);
        assert_eq!(l.retries(&"a"), 5);
        assert_eq!(l.when(&"b"), ms(5));
        for _ in 0..100 {
            l.when(&"a");
        }
        assert_eq!(l.when(&"a"), Duration::from_secs(1000));
        l.forget(&"a");
        assert_eq!(l.retries(&"a"), 0);
        assert_eq!(l.when(&"a"), ms(5));
    }

    #[tokio::test(start_paused = true)]
    async fn token_bucket_allows_a_burst_then_paces() {
        let mut b = TokenBucket::new(10.0, 100);
        for i in 0..100 {
            assert_eq!(RateLimiter::<u32>::when(&mut b, &i), Duration::ZERO, "{i}");
        }
        assert_eq!(RateLimiter::<u32>::when(&mut b, &0), ms(100));
        assert_eq!(RateLimiter::<u32>::when(&mut b, &0), ms(200));
        tokio::time::advance(Duration::from_secs(1)).await;
        // 10 tokens came back, 2 were owed.
        let d = RateLimiter::<u32>::when(&mut b, &0);
        assert_eq!(d, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn default_limiter_is_the_larger_of_both() {
        let mut l = default_rate_limiter::<u32>();
        assert_eq!(l.when(&1), ms(5));
        assert_eq!(l.when(&1), ms(10));
        // Exhaust the bucket with other items: the bucket's wait wins.
        for i in 100..198 {
            l.when(&i);
        }
        assert_eq!(l.when(&2), ms(100));
        assert_eq!(l.retries(&1), 2);
    }

    #[tokio::test]
    async fn deduplicates_and_requeues_after_done() {
        let q = WorkQueue::new();
        q.add(1);
        q.add(2);
        q.add(1);
        assert_eq!(q.len(), 2);
        let a = q.get().await.unwrap();
        assert_eq!(a, 1);
        q.add(1);
        assert_eq!(q.len(), 1, "1 is processing: only 2 is ready");
        let b = q.get().await.unwrap();
        assert_eq!(b, 2);
        assert!(tokio::time::timeout(ms(20), q.get()).await.is_err());
        q.done(&1);
        assert_eq!(q.get().await, Some(1));
        q.done(&1);
        q.done(&2);
        assert_eq!(q.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_waits_and_keeps_the_earlier_time() {
        let q = WorkQueue::new();
        let start = Instant::now();
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(5));
        q.add_after("a", Duration::from_secs(20));
        assert_eq!(q.delayed_len(), 1);
        assert_eq!(q.len(), 0);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        q.done(&"a");
        // The superseded entries do not bring it back.
        assert!(tokio::time::timeout(Duration::from_secs(60), q.get())
            .await
            .is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_delay_wakes_a_sleeping_worker() {
        let q = WorkQueue::new();
        q.add_after(1, Duration::from_secs(100));
        let worker = tokio::spawn({
            let q = q.clone();
            async move {
                let start = Instant::now();
                (q.get().await, start.elapsed())
            }
        });
        tokio::task::yield_now().await;
        q.add_after(2, Duration::from_secs(1));
        let (item, took) = worker.await.unwrap();
        assert_eq!(item, Some(2));
        assert_eq!(took, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_adds_back_off_and_forget_resets() {
        let q = WorkQueue::new();
        let start = Instant::now();
        q.add_rate_limited("k");
        assert_eq!(q.get().await, Some("k"));
        assert_eq!(start.elapsed(), ms(5));
        q.done(&"k");
        q.add_rate_limited("k");
        assert_eq!(q.get().await, Some("k"));
        assert_eq!(start.elapsed(), ms(15));
        assert_eq!(q.num_requeues(&"k"), 2);
        q.forget(&"k");
        assert_eq!(q.num_requeues(&"k"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_hands_out_what_is_queued_then_none_and_drain_waits() {
        let q = WorkQueue::new();
        q.add(1);
        q.add(2);
        q.add_after(3, Duration::from_secs(1));
        let one = q.get().await.unwrap();
        let drain = tokio::spawn({
            let q = q.clone();
            async move { q.shut_down_with_drain().await }
        });
        tokio::task::yield_now().await;
        q.add(4);
        assert_eq!(q.get().await, Some(2));
        q.done(&2);
        assert!(!drain.is_finished(), "1 is still being processed");
        q.done(&one);
        drain.await.unwrap();
        assert_eq!(q.get().await, None);
        assert_eq!(q.delayed_len(), 0);
    }

    #[tokio::test]
    async fn shutdown_wakes_idle_workers() {
        let q: WorkQueue<u8> = WorkQueue::new();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move { q.get().await })
            })
            .collect();
        tokio::task::yield_now().await;
        q.shut_down();
        for w in workers {
            assert_eq!(w.await.unwrap(), None);
        }
    }
}
