//! Batching of watch events for busy servers.
//!
//! A watch connection costs a wake-up and a socket write per delivery. With
//! a thousand watchers of one resource, every event becomes a thousand of
//! each, and on a small machine that cost — not the events — decides how
//! far behind the watchers fall. [`Coalesce`] trades a bounded delay for
//! fewer deliveries: after the first event of a batch it stops listening to
//! the event stream and sleeps until its next tick (every `window`), then
//! takes every event that is ready as one batch. A watcher wakes once per
//! tick at most, however many events arrived meanwhile. With a zero window
//! it is plain batching of what is ready (`ready_chunks`).
//!
//! Each watcher has its own phase on the tick grid, spread evenly over the
//! window (as finely as tokio's 1 ms timer allows). Were all of them to
//! tick together, a thousand connection tasks would queue at once every
//! tick, and every other task — the request that creates the next object,
//! the watch cache that fans it out — would wait behind the whole round.
//! Staggered, a window's work is spread over the window. (On a saturated
//! machine it makes no difference: `docs/BENCHMARKS.md` has the fan-out
//! figures.)
//!
//! The HTTP server turns the window on only while many watches are open
//! ([`HttpServer::watch_coalescing`](super::HttpServer::watch_coalescing)),
//! so a lone `kubectl get -w` sees every event at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::time::{Instant, Sleep};

/// The origin of the tick grid shared by every watcher of the process.
fn grid_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// A new watcher's phase: a fraction of the window (in 1/2^32), taken
/// from the golden-ratio sequence so that any number of watchers spread
/// evenly, whenever they come and go.
fn next_phase() -> u32 {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    // 2^32 / golden ratio.
    (n.wrapping_mul(2_654_435_769) & u64::from(u32::MAX)) as u32
}

/// The first tick after `now` of the grid with this window and phase
/// (ticks at `origin + phase·window + k·window`).
fn next_tick(now: Instant, window: Duration, phase: u32) -> Instant {
    let step = window.as_nanos().max(1);
    let shift = (step * u128::from(phase)) >> 32;
    let origin = grid_origin() + Duration::from_nanos(u64::try_from(shift).unwrap_or(0));
    if now < origin {
        return origin;
    }
    let since = now.duration_since(origin).as_nanos();
    let ticks = since / step + 1;
    let offset = u64::try_from(ticks * step).unwrap_or(u64::MAX);
    origin + Duration::from_nanos(offset)
}

/// Batches a stream's items: everything ready at once, and — when `window`
/// says so — everything that arrives until the next tick.
pub(crate) struct Coalesce<S: Stream> {
    inner: S,
    max: usize,
    window: Box<dyn Fn() -> Duration + Send>,
    /// The tick timer, made once and reset for every batch.
    sleep: Option<Pin<Box<Sleep>>>,
    sleeping: bool,
    batch: Vec<S::Item>,
    /// The size of the last batch: the next one starts with that much
    /// room, so a busy watcher does not grow a vector at every tick.
    last_len: usize,
    done: bool,
    phase: u32,
}

impl<S: Stream + Unpin> Coalesce<S> {
    /// Batches of at most `max` items; `window` is asked at the start of
    /// every batch (zero: no waiting).
    pub(crate) fn new(
        inner: S,
        max: usize,
        window: impl Fn() -> Duration + Send + 'static,
    ) -> Self {
        Coalesce {
            inner,
            max: max.max(1),
            window: Box::new(window),
            sleep: None,
            sleeping: false,
            batch: Vec::new(),
            last_len: 0,
            done: false,
            phase: next_phase(),
        }
    }

    /// The batch gathered so far; the next starts with as much room.
    fn take(&mut self) -> Vec<S::Item> {
        self.last_len = self.batch.len();
        let room = self.last_len.min(self.max);
        std::mem::replace(&mut self.batch, Vec::with_capacity(room))
    }

    /// Moves ready items into the batch (and notes the end of the stream).
    fn drain(&mut self, cx: &mut Context<'_>) {
        while !self.done && self.batch.len() < self.max {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(item)) => self.batch.push(item),
                Poll::Ready(None) => self.done = true,
                Poll::Pending => break,
            }
        }
    }
}

// Nothing is pinned through a `Coalesce`: the items are only moved.
impl<S: Stream + Unpin> Unpin for Coalesce<S> {}

impl<S: Stream + Unpin> Stream for Coalesce<S> {
    type Item = Vec<S::Item>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.sleeping {
            // Waiting for the tick: the event stream is not polled, so its
            // events do not wake this task.
            if let Some(sleep) = this.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            this.sleeping = false;
            this.drain(cx);
            return Poll::Ready(Some(this.take()));
        }
        this.drain(cx);
        if this.batch.is_empty() {
            return if this.done {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
        let window = (this.window)();
        if this.done || this.batch.len() >= this.max || window.is_zero() {
            return Poll::Ready(Some(this.take()));
        }
        let tick = next_tick(Instant::now(), window, this.phase);
        let sleep = match this.sleep.as_mut() {
            Some(sleep) => {
                sleep.as_mut().reset(tick);
                sleep
            }
            None => this.sleep.insert(Box::pin(tokio::time::sleep_until(tick))),
        };
        if sleep.as_mut().poll(cx).is_ready() {
            this.drain(cx);
            return Poll::Ready(Some(this.take()));
        }
        this.sleeping = true;
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn zero_window_sends_what_is_ready() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let mut batches = Coalesce::new(rx, 3, || Duration::ZERO);
        for i in 0..5 {
            tx.unbounded_send(i).unwrap();
        }
        assert_eq!(batches.next().await, Some(vec![0, 1, 2]));
        assert_eq!(batches.next().await, Some(vec![3, 4]));
        drop(tx);
        assert_eq!(batches.next().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_gathers_events_until_the_tick() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let window = Duration::from_millis(4);
        let mut batches = Coalesce::new(rx, 256, move || window);
        let sender = tokio::spawn(async move {
            for i in 0..6 {
                tx.unbounded_send(i).unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let start = Instant::now();
        let mut seen = Vec::new();
        let mut batch_count = 0;
        while seen.len() < 6 {
            let batch = batches.next().await.unwrap();
            assert!(!batch.is_empty());
            batch_count += 1;
            seen.extend(batch);
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4, 5]);
        // 6 events 1 ms apart (tokio's timer resolution; 5 ms in all)
        // touch at most 3 ticks of a 4 ms grid: fewer writes than events,
        // and none later than a window after the last event.
        assert!(batch_count <= 3, "{batch_count} batches");
        assert!(start.elapsed() <= Duration::from_millis(10));
        sender.await.unwrap();
    }

    #[test]
    fn each_phase_ticks_on_its_own_grid() {
        let w = Duration::from_millis(2);
        let _ = grid_origin();
        let now = Instant::now();
        for phase in [0, 1 << 30, u32::MAX / 3, u32::MAX] {
            let a = next_tick(now, w, phase);
            let b = next_tick(now + Duration::from_micros(500), w, phase);
            assert!(a > now && a <= now + w);
            assert!(b == a || b == a + w);
            assert_eq!(next_tick(a, w, phase), a + w);
        }
        // A quarter of a window apart.
        let a = next_tick(now, w, 0);
        let b = next_tick(a, w, 1 << 30);
        assert_eq!(b, a + w / 4);
    }

    #[test]
    fn phases_spread_over_the_window() {
        // Any run of new watchers lands in every quarter of the window.
        let mut quarters = [0; 4];
        for _ in 0..40 {
            quarters[(next_phase() >> 30) as usize] += 1;
        }
        assert!(quarters.iter().all(|&q| q >= 5), "{quarters:?}");
    }
}
