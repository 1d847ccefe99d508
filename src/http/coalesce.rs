//! Batching of watch events for busy servers.
//!
//! A watch connection costs a wake-up and a socket write per delivery. With
//! a thousand watchers of one resource, every event becomes a thousand of
//! each, and on a small machine that cost — not the events — decides how
//! far behind the watchers fall. [`Coalesce`] trades a bounded delay for
//! fewer deliveries: after the first event of a batch it stops listening to
//! the event stream and sleeps until the next tick of a process-wide grid
//! (every `window`), then takes every event that is ready as one batch. All
//! watchers wake on the same ticks, each once per tick at most, however many
//! events arrived meanwhile. With a zero window it is plain batching of
//! what is ready (`ready_chunks`).
//!
//! The HTTP server turns the window on only while many watches are open
//! ([`HttpServer::watch_coalescing`](super::HttpServer::watch_coalescing)),
//! so a lone `kubectl get -w` sees every event at once.

use std::future::Future;
use std::pin::Pin;
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

/// The first tick of the grid after `now`.
fn next_tick(now: Instant, window: Duration) -> Instant {
    let origin = grid_origin();
    let since = now.saturating_duration_since(origin).as_nanos();
    let step = window.as_nanos().max(1);
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
    sleep: Option<Pin<Box<Sleep>>>,
    batch: Vec<S::Item>,
    done: bool,
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
            batch: Vec::new(),
            done: false,
        }
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
        if let Some(sleep) = this.sleep.as_mut() {
            // Waiting for the tick: the event stream is not polled, so its
            // events do not wake this task.
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
            this.drain(cx);
            return Poll::Ready(Some(std::mem::take(&mut this.batch)));
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
            return Poll::Ready(Some(std::mem::take(&mut this.batch)));
        }
        let mut sleep = Box::pin(tokio::time::sleep_until(next_tick(Instant::now(), window)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.drain(cx);
            return Poll::Ready(Some(std::mem::take(&mut this.batch)));
        }
        this.sleep = Some(sleep);
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
    fn ticks_are_on_one_grid() {
        let w = Duration::from_millis(2);
        let _ = grid_origin();
        let now = Instant::now();
        let a = next_tick(now, w);
        let b = next_tick(now + Duration::from_micros(500), w);
        assert!(a > now && a <= now + w);
        assert!(b == a || b == a + w);
        assert_eq!(next_tick(a, w), a + w);
    }
}
