//! The watch pump: one etcd watch per [`WatchStream`](crate::store::WatchStream),
//! re-opened from the last delivered revision when it breaks.
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use etcd_client::{EventType, WatchOptions, WatchResponse};
use futures::Stream;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use tracing::{debug, Instrument};

use super::retry::{classify, timeout_at, Backoff, Kind};
use super::EtcdStore;
use crate::store::{Error, Event, EventKind, Result, Revision, WatchStream};

/// Open a watch on `[key, range_end)` from `from_revision` (0: now), wait for
/// etcd to confirm it, and hand it to a pump task.
pub(super) async fn start(
    store: EtcdStore,
    key: Vec<u8>,
    range_end: Vec<u8>,
    from_revision: Revision,
    prefix: &str,
) -> Result<WatchStream> {
    let buffer = store.inner.config.watch_buffer;
    let deadline = Instant::now() + store.inner.config.request_timeout;
    let mut task = WatchTask {
        store,
        key: if key.is_empty() { vec![0] } else { key },
        range_end,
        resume: from_revision,
        window_start: from_revision + 1,
        tx: None,
        terminal: Arc::new(Mutex::new(None)),
    };
    let (stream, created) = task.open_until(deadline).await?;
    if from_revision == 0 {
        task.resume = created;
        task.window_start = created + 1;
    }
    let (tx, rx) = mpsc::channel(buffer);
    task.tx = Some(tx);
    let terminal = task.terminal.clone();
    let span = tracing::debug_span!("etcd_watch", prefix = %prefix, from = from_revision);
    tokio::spawn(task.run(stream).instrument(span));
    Ok(Box::pin(EventStream {
        rx,
        terminal,
        done: false,
    }))
}
/// Why opening an etcd watch failed.
enum OpenError {
    /// The start revision is compacted: final.
    Compacted(Revision),
    /// Anything else: worth another try on another member.
    Failed(String, Option<etcd_client::Error>),
}

/// The task that pumps one etcd watch into a [`WatchStream`], re-opening it
/// after failures.
struct WatchTask {
    store: EtcdStore,
    key: Vec<u8>,
    range_end: Vec<u8>,
    /// Every event up to this revision was delivered (or, for a progress
    /// notification, does not exist): a re-opened watch starts after it.
    resume: Revision,
    /// The start revision of the current etcd watch; earlier events are
    /// not ours to deliver.
    window_start: Revision,
    /// Set once the watch is running.
    tx: Option<mpsc::Sender<Event>>,
    /// Why the stream ended, read by the consumer after the last event.
    terminal: Arc<Mutex<Option<Error>>>,
}

/// What the pump does after a batch of events.
enum Flow {
    Continue,
    Stop,
}

impl WatchTask {
    /// Open an etcd watch from `resume + 1` and wait for etcd to confirm
    /// it, so that events written after this returns are seen. Returns the
    /// stream and the revision etcd created it at.
    async fn open(&self) -> Result<(etcd_client::WatchStream, Revision), OpenError> {
        let mut options = WatchOptions::new()
            .with_range(self.range_end.clone())
            .with_prev_key()
            .with_progress_notify();
        if self.resume > 0 {
            options = options.with_start_revision(self.resume + 1);
        }
        let failed = |what: &str, err: Option<etcd_client::Error>| {
            OpenError::Failed(
                match &err {
                    Some(err) => format!("{what}: {err}"),
                    None => what.to_owned(),
                },
                err,
            )
        };
        let wait = self.store.inner.config.request_timeout;
        let mut client = self.store.inner.watch.clone();
        let mut stream = match timeout(wait, client.watch(self.key.clone(), Some(options))).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return Err(failed("opening a watch", Some(err))),
            Err(_) => return Err(failed("opening a watch timed out", None)),
        };
        match timeout(wait, stream.message()).await {
            Ok(Ok(Some(resp))) if resp.created() => {
                if resp.compact_revision() > 0 {
                    return Err(OpenError::Compacted(resp.compact_revision()));
                }
                if resp.canceled() {
                    return Err(failed(
                        &format!("etcd canceled the watch: {}", resp.cancel_reason()),
                        None,
                    ));
                }
                let created = resp.header().map_or(0, |h| h.revision());
                Ok((stream, created))
            }
            Ok(Ok(Some(_))) => Err(failed("etcd sent no watch confirmation", None)),
            Ok(Ok(None)) => Err(failed("etcd closed the watch", None)),
            Ok(Err(err)) => Err(failed("opening a watch", Some(err))),
            Err(_) => Err(failed("etcd did not confirm the watch in time", None)),
        }
    }

    /// [`open`](Self::open), retried on any member until `deadline`.
    async fn open_until(&self, deadline: Instant) -> Result<(etcd_client::WatchStream, Revision)> {
        let mut backoff = Backoff::new();
        loop {
            let attempt = timeout_at(deadline, self.open()).await;
            let (message, source) = match attempt {
                Some(Ok(opened)) => return Ok(opened),
                Some(Err(OpenError::Compacted(compacted))) => {
                    self.store
                        .inner
                        .compacted
                        .fetch_max(compacted, Ordering::Relaxed);
                    return Err(Error::Compacted {
                        requested: self.resume,
                        compacted,
                    });
                }
                Some(Err(OpenError::Failed(message, source))) => (message, source),
                None => ("opening a watch timed out".to_owned(), None),
            };
            let retryable = source
                .as_ref()
                .is_none_or(|err| matches!(classify(err), Kind::NotSent | Kind::Transient));
            if !retryable || Instant::now() + backoff.peek() >= deadline {
                return Err(Error::Unavailable {
                    message,
                    source: source.map(|err| Box::new(err) as _),
                });
            }
            debug!(%message, "opening a watch failed; retrying");
            if let Some(tx) = &self.tx {
                tokio::select! {
                    () = backoff.wait() => {}
                    () = tx.closed() => return Err(Error::Unavailable {
                        message: "watcher gone".into(),
                        source: None,
                    }),
                }
            } else {
                backoff.wait().await;
            }
        }
    }

    async fn run(mut self, mut stream: etcd_client::WatchStream) {
        let Some(tx) = self.tx.clone() else {
            return;
        };
        loop {
            let message = tokio::select! {
                biased;
                () = tx.closed() => return,
                message = stream.message() => message,
            };
            match message {
                Ok(Some(resp)) if resp.compact_revision() > 0 => {
                    // The watch fell behind etcd's compaction.
                    let compacted = resp.compact_revision();
                    self.store
                        .inner
                        .compacted
                        .fetch_max(compacted, Ordering::Relaxed);
                    self.finish(Error::Compacted {
                        requested: self.resume,
                        compacted,
                    });
                    return;
                }
                Ok(Some(resp)) if resp.canceled() => {
                    debug!(
                        reason = resp.cancel_reason(),
                        "etcd canceled the watch; re-opening"
                    );
                }
                Ok(Some(resp)) => match self.deliver(&tx, &resp) {
                    Flow::Continue => continue,
                    Flow::Stop => return,
                },
                Ok(None) => debug!("etcd closed the watch; re-opening"),
                Err(err) => debug!(error = %err, "watch failed; re-opening"),
            }
            // Re-open from the last delivered revision on any live member.
            drop(stream);
            let deadline = Instant::now() + self.store.inner.config.watch_retry_timeout;
            match self.open_until(deadline).await {
                Ok((reopened, _)) => {
                    self.window_start = self.resume + 1;
                    stream = reopened;
                }
                Err(err) => {
                    self.finish(err);
                    return;
                }
            }
        }
    }

    fn deliver(&mut self, tx: &mpsc::Sender<Event>, resp: &WatchResponse) -> Flow {
        let events = resp.events();
        if events.is_empty() {
            // A progress notification: every event up to the header's
            // revision was sent.
            if !resp.created() {
                if let Some(header) = resp.header() {
                    self.resume = self.resume.max(header.revision());
                }
            }
            return Flow::Continue;
        }
        for event in events {
            let Some(kv) = event.kv() else { continue };
            let revision = kv.mod_revision();
            if revision < self.window_start {
                continue;
            }
            let converted = Event {
                kind: match event.event_type() {
                    EventType::Put => EventKind::Put,
                    EventType::Delete => EventKind::Delete,
                },
                kv: self.store.key_value(kv),
                prev: event.prev_kv().map(|prev| self.store.key_value(prev)),
            };
            match tx.try_send(converted) {
                Ok(()) => self.resume = self.resume.max(revision),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.finish(Error::Lagged {
                        revision: self.resume,
                    });
                    return Flow::Stop;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Flow::Stop,
            }
        }
        Flow::Continue
    }

    fn finish(&self, error: Error) {
        debug!(%error, "watch ends");
        *lock(&self.terminal) = Some(error);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The consumer's side of a watch: the buffered events, then the error that
/// ended the watch.
struct EventStream {
    rx: mpsc::Receiver<Event>,
    terminal: Arc<Mutex<Option<Error>>>,
    done: bool,
}

impl Stream for EventStream {
    type Item = Result<Arc<Event>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Some(Ok(Arc::new(event)))),
            Poll::Ready(None) => {
                self.done = true;
                // The pump always records why it stopped; if it could not
                // (it panicked), still never end silently.
                let error = lock(&self.terminal).take().unwrap_or(Error::Unavailable {
                    message: "the watch ended unexpectedly".into(),
                    source: None,
                });
                Poll::Ready(Some(Err(error)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
