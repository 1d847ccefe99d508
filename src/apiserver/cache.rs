//! The watch cache: the current objects of one resource and a window of its
//! recent events, fed by the API server's single store watch and fanned out
//! to every API watcher.
//!
//! Lists without pagination are served from here (after waiting until the
//! cache has seen the store's current revision, so they are consistent);
//! watches start from a resource version inside the window, or from a
//! snapshot (`ADDED` for every current object), and then follow live
//! events. A watch from before the window gets one `ERROR` event with a
//! `410 Expired` status; a watcher that falls behind the window has its
//! stream closed, as Kubernetes closes it, and resumes from its last
//! resource version.
//!
//! Fan-out is indexed for the watchers that ask for one value of a
//! trigger field, as Kubernetes' watch cache indexes its "triggers": a pod
//! watch with `spec.nodeName=NODE` (every node agent has one) subscribes to
//! that node's channel and is woken only by events of pods on that node
//! (before or after the change), not by every pod event of the cluster.
//! All other watchers share one channel and filter for themselves.
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::broadcast;

use crate::api::scheme::{AnyObject, KindInfo};
use crate::api::selector::{FieldSelector, Selector};
use crate::api::{Status, Str, WatchEvent};

use super::error::Result;
use super::strategy;

/// A shared object as the API server hands it out.
pub type ObjectRef = Arc<dyn AnyObject>;

/// A watch of the API: events in resource-version order. An `Error` event
/// (`410 Expired`) means: list again.
pub type WatchStream = Pin<Box<dyn Stream<Item = WatchEvent<ObjectRef>> + Send>>;

/// What happened to an object, as the cache records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

/// One event of the cache, shared by every watcher.
#[derive(Debug)]
pub struct CacheEvent {
    /// The store revision of the change.
    pub revision: i64,
    /// Added, modified or deleted.
    pub kind: EventType,
    /// The object after the change (for a delete: its last state, with the
    /// delete's resource version).
    pub object: ObjectRef,
    /// The object before the change.
    pub prev: Option<ObjectRef>,
    json: OnceLock<Bytes>,
}

impl CacheEvent {
    /// The object's JSON, encoded once for every watcher that needs it.
    pub fn object_json(&self) -> &Bytes {
        self.json
            .get_or_init(|| Bytes::from(self.object.to_json().unwrap_or_else(|_| b"{}".to_vec())))
    }
}

struct State {
    objects: BTreeMap<String, ObjectRef>,
    events: VecDeque<Arc<CacheEvent>>,
    /// Every event with a revision above this one is in `events`.
    window_start: i64,
    /// The revision of the last event applied.
    last_applied: i64,
    tx: broadcast::Sender<Arc<CacheEvent>>,
    /// Per value of the trigger field, the channel of the watchers that
    /// select exactly that value.
    triggered: HashMap<String, broadcast::Sender<Arc<CacheEvent>>>,
}

/// Events buffered per trigger value before a slow watcher of it is closed
/// (it then resumes from its last resource version, from the window).
const TRIGGER_CAPACITY: usize = 256;

/// The field whose value indexes a kind's watchers, if any (Kubernetes
/// indexes pods by `spec.nodeName`).
fn trigger_field(info: &KindInfo) -> Option<&'static str> {
    (info.resource.group.is_empty() && info.resource.plural == "pods").then_some("spec.nodeName")
}

/// The cache of one resource.
pub(crate) struct ResourceCache {
    pub(crate) info: Arc<KindInfo>,
    state: RwLock<State>,
    capacity: usize,
    /// The revision up to which the server's store watch has delivered
    /// everything (shared by every cache).
    progress: Arc<AtomicI64>,
    /// See [`trigger_field`].
    trigger: Option<&'static str>,
}

/// What a watcher wants to see.
#[derive(Clone, Default)]
pub(crate) struct Filter {
    /// Only this namespace (empty: all).
    pub namespace: Str,
    /// Only this name (empty: all).
    pub name: Str,
    /// Only objects whose labels match.
    pub labels: Option<Selector>,
    /// Only objects whose fields match.
    pub fields: Option<FieldSelector>,
}

impl Filter {
    pub(crate) fn matches(&self, obj: &dyn AnyObject, info: &KindInfo) -> bool {
        let meta = obj.meta();
        if !self.namespace.is_empty() && meta.namespace != self.namespace {
            return false;
        }
        if !self.name.is_empty() && meta.name != self.name {
            return false;
        }
        if let Some(l) = &self.labels {
            if !l.matches(&meta.labels) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            let values: Vec<(&str, Option<Cow<'_, str>>)> = f
                .requirements()
                .iter()
                .map(|r| {
                    let field = r.field.as_str();
                    (
                        field,
                        strategy::field_value(obj, info, field).ok().flatten(),
                    )
                })
                .collect();
            return f.matches(|field| {
                values
                    .iter()
                    .find(|(n, _)| *n == field)
                    .and_then(|(_, v)| v.as_deref())
            });
        }
        true
    }

    /// Checks that every field of the field selector is supported.
    pub(crate) fn check(&self, info: &KindInfo) -> Result<()> {
        if let Some(f) = &self.fields {
            let empty = info.empty();
            for r in f.requirements() {
                strategy::field_value(empty.as_ref(), info, &r.field)?;
            }
        }
        Ok(())
    }
}

/// Where a watch starts.
pub(crate) enum Start {
    /// After this revision: replay the window's later events.
    After(i64),
    /// `ADDED` for every current object, then live events; with
    /// `end_bookmark`, a bookmark marking the end of the initial events.
    Snapshot { end_bookmark: bool },
}

/// Options of a cache watch.
pub(crate) struct WatchConfig {
    pub start: Start,
    pub filter: Filter,
    pub bookmarks: bool,
    pub bookmark_interval: Duration,
    pub timeout: Option<Duration>,
}

impl ResourceCache {
    pub(crate) fn new(
        info: Arc<KindInfo>,
        capacity: usize,
        progress: Arc<AtomicI64>,
        revision: i64,
    ) -> Self {
        let capacity = capacity.max(16);
        let (tx, _) = broadcast::channel(capacity);
        let trigger = trigger_field(&info);
        ResourceCache {
            info,
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                events: VecDeque::new(),
                window_start: revision,
                last_applied: revision,
                tx,
                triggered: HashMap::new(),
            }),
            capacity,
            progress,
            trigger,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the whole content (after a relist at `revision`). Current
    /// watchers are closed; they resume from their last resource version,
    /// which is then before the window and gets `410 Expired`.
    pub(crate) fn reset(&self, objects: BTreeMap<String, ObjectRef>, revision: i64) {
        let mut st = self.write();
        st.objects = objects;
        st.events.clear();
        st.window_start = revision;
        st.last_applied = revision;
        let (tx, _) = broadcast::channel(self.capacity);
        st.tx = tx;
        // Dropping the senders closes the indexed watchers too.
        st.triggered.clear();
    }

    /// Inserts an object during the initial load (no event).
    pub(crate) fn load(&self, key: String, object: ObjectRef) {
        self.write().objects.insert(key, object);
    }

    /// Applies a put of `key` at `revision`.
    pub(crate) fn put(&self, key: &str, object: ObjectRef, revision: i64) {
        let mut st = self.write();
        let prev = st.objects.insert(key.to_string(), object.clone());
        let kind = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.push(
            &mut st,
            CacheEvent {
                revision,
                kind,
                object,
                prev,
                json: OnceLock::new(),
            },
        );
    }

    /// Applies a delete of `key` at `revision`.
    pub(crate) fn delete(&self, key: &str, revision: i64) {
        let mut st = self.write();
        let Some(prev) = st.objects.remove(key) else {
            st.last_applied = revision;
            return;
        };
        let mut last = prev.clone_object();
        last.meta_mut().resource_version = Str::from(revision.to_string());
        self.push(
            &mut st,
            CacheEvent {
                revision,
                kind: EventType::Deleted,
                object: Arc::from(last),
                prev: Some(prev),
                json: OnceLock::new(),
            },
        );
    }

    fn push(&self, st: &mut State, event: CacheEvent) {
        let event = Arc::new(event);
        st.last_applied = event.revision;
        if st.events.len() >= self.capacity {
            if let Some(old) = st.events.pop_front() {
                st.window_start = old.revision;
            }
        }
        st.events.push_back(event.clone());
        if let (Some(field), false) = (self.trigger, st.triggered.is_empty()) {
            fn value<'o>(o: &'o ObjectRef, info: &KindInfo, field: &str) -> Cow<'o, str> {
                strategy::field_value(o.as_ref(), info, field)
                    .ok()
                    .flatten()
                    .unwrap_or(Cow::Borrowed(""))
            }
            let now = value(&event.object, &self.info, field);
            Self::trigger(&mut st.triggered, &now, &event);
            if let Some(before) = event.prev.as_ref().map(|p| value(p, &self.info, field)) {
                if before != now {
                    Self::trigger(&mut st.triggered, &before, &event);
                }
            }
        }
        // No receivers is fine.
        let _ = st.tx.send(event);
    }

    /// Sends `event` to the watchers of one trigger value; forgets the
    /// value when none is left.
    fn trigger(
        triggered: &mut HashMap<String, broadcast::Sender<Arc<CacheEvent>>>,
        value: &str,
        event: &Arc<CacheEvent>,
    ) {
        if let Some(tx) = triggered.get(value) {
            if tx.send(event.clone()).is_err() {
                triggered.remove(value);
            }
        }
    }

    /// The channel a watcher with `filter` listens on: its trigger value's
    /// when it selects exactly one, else the shared one.
    fn subscribe(&self, st: &mut State, filter: &Filter) -> broadcast::Receiver<Arc<CacheEvent>> {
        let value = self.trigger.and_then(|field| {
            filter.fields.as_ref()?.requirements().iter().find(|r| {
                r.field == field && r.operator == crate::api::selector::FieldOperator::Equals
            })
        });
        match value {
            Some(r) => {
                // Forget the values whose watchers have all gone.
                st.triggered.retain(|_, tx| tx.receiver_count() > 0);
                st.triggered
                    .entry(r.value.to_string())
                    .or_insert_with(|| broadcast::channel(TRIGGER_CAPACITY).0)
                    .subscribe()
            }
            None => st.tx.subscribe(),
        }
    }

    /// One object by key.
    pub(crate) fn get(&self, key: &str) -> Option<ObjectRef> {
        self.read().objects.get(key).cloned()
    }

    /// The objects under a key prefix that pass the filter, in key order,
    /// and the revision they reflect.
    pub(crate) fn list(&self, prefix: &str, filter: &Filter) -> (Vec<ObjectRef>, i64) {
        let st = self.read();
        let revision = st.last_applied.max(self.progress.load(Ordering::Acquire));
        let items = st
            .objects
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, o)| filter.matches(o.as_ref(), &self.info))
            .map(|(_, o)| o.clone())
            .collect();
        (items, revision)
    }

    /// How many objects the cache holds.
    pub(crate) fn len(&self) -> usize {
        self.read().objects.len()
    }

    /// Starts a watch.
    pub(crate) fn watch(self: &Arc<Self>, prefix: &str, config: WatchConfig) -> WatchStream {
        let mut st = self.write();
        let rx = self.subscribe(&mut st, &config.filter);
        let mut initial: VecDeque<WatchEvent<ObjectRef>> = VecDeque::new();
        let revision = st.last_applied.max(self.progress.load(Ordering::Acquire));
        match config.start {
            Start::After(rv) => {
                if rv < st.window_start {
                    let status = Status::expired(format!(
                        "too old resource version: {rv} ({})",
                        st.window_start
                    ));
                    return Box::pin(futures::stream::iter([WatchEvent::Error(status)]));
                }
                let first = st.events.partition_point(|e| e.revision <= rv);
                for e in st.events.range(first..) {
                    if let Some(ev) = convert(e, &config.filter, &self.info) {
                        initial.push_back(ev);
                    }
                }
            }
            Start::Snapshot { end_bookmark } => {
                for (_, o) in st
                    .objects
                    .range::<str, _>((
                        std::ops::Bound::Included(prefix),
                        std::ops::Bound::Unbounded,
                    ))
                    .take_while(|(k, _)| k.starts_with(prefix))
                {
                    if config.filter.matches(o.as_ref(), &self.info) {
                        initial.push_back(WatchEvent::Added(o.clone()));
                    }
                }
                if end_bookmark && config.bookmarks {
                    initial.push_back(WatchEvent::Bookmark(bookmark(&self.info, revision, true)));
                }
            }
        }
        drop(st);
        let state = Watcher {
            cache: self.clone(),
            initial,
            rx,
            filter: config.filter,
            bookmarks: config.bookmarks,
            interval: config.bookmark_interval,
            next_bookmark: tokio::time::Instant::now() + config.bookmark_interval,
            deadline: config.timeout.map(|t| tokio::time::Instant::now() + t),
            last_sent: revision,
        };
        Box::pin(WatcherStream::Ready(Box::new(state)))
    }
}

/// An empty object of the kind carrying only a resource version (and the
/// initial-events-end annotation when asked).
fn bookmark(info: &KindInfo, revision: i64, end_of_initial: bool) -> ObjectRef {
    let mut obj = info.empty();
    obj.meta_mut().resource_version = Str::from(revision.to_string());
    if end_of_initial {
        obj.meta_mut()
            .annotations
            .insert("k8s.io/initial-events-end", "true");
    }
    Arc::from(obj)
}

/// The event a watcher with `filter` sees for `e`, as Kubernetes'
/// cacheWatcher: an object that starts matching is `ADDED`, one that stops
/// matching is `DELETED` (with its previous state).
fn convert(e: &CacheEvent, filter: &Filter, info: &KindInfo) -> Option<WatchEvent<ObjectRef>> {
    let cur = filter.matches(e.object.as_ref(), info);
    let old = e
        .prev
        .as_ref()
        .map(|p| filter.matches(p.as_ref(), info))
        .unwrap_or(false);
    match e.kind {
        EventType::Added => cur.then(|| WatchEvent::Added(e.object.clone())),
        EventType::Deleted => {
            // The delete event's object is the previous state with the
            // delete's resource version.
            let passes = filter.matches(e.object.as_ref(), info);
            passes.then(|| WatchEvent::Deleted(e.object.clone()))
        }
        EventType::Modified => match (cur, old) {
            (true, true) => Some(WatchEvent::Modified(e.object.clone())),
            (true, false) => Some(WatchEvent::Added(e.object.clone())),
            (false, true) => {
                let mut last = e.prev.as_ref()?.clone_object();
                last.meta_mut().resource_version = Str::from(e.revision.to_string());
                Some(WatchEvent::Deleted(Arc::from(last)))
            }
            (false, false) => None,
        },
    }
}

struct Watcher {
    cache: Arc<ResourceCache>,
    initial: VecDeque<WatchEvent<ObjectRef>>,
    rx: broadcast::Receiver<Arc<CacheEvent>>,
    filter: Filter,
    bookmarks: bool,
    interval: Duration,
    next_bookmark: tokio::time::Instant,
    deadline: Option<tokio::time::Instant>,
    last_sent: i64,
}

/// A [`Watcher`] as a stream. Events that are ready are taken without a
/// future (a busy watcher takes thousands a second, and building
/// [`Watcher::next`]'s future, timers and all, for each would cost more
/// than the event); only an empty channel sets up the wait.
enum WatcherStream {
    Ready(Box<Watcher>),
    Waiting(Pin<Box<dyn Future<Output = Waited> + Send>>),
    Done,
}

/// What a wait gives back: the event (none: the watch ended) and the watcher.
type Waited = (Option<WatchEvent<ObjectRef>>, Box<Watcher>);

impl Stream for WatcherStream {
    type Item = WatchEvent<ObjectRef>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        loop {
            match std::mem::replace(&mut *self, WatcherStream::Done) {
                WatcherStream::Ready(mut w) => match w.ready() {
                    Poll::Ready(Some(ev)) => {
                        *self = WatcherStream::Ready(w);
                        return Poll::Ready(Some(ev));
                    }
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => {
                        *self = WatcherStream::Waiting(Box::pin(async move {
                            let ev = w.next().await;
                            (ev, w)
                        }));
                    }
                },
                WatcherStream::Waiting(mut wait) => match wait.as_mut().poll(cx) {
                    Poll::Ready((Some(ev), w)) => {
                        *self = WatcherStream::Ready(w);
                        return Poll::Ready(Some(ev));
                    }
                    Poll::Ready((None, _)) => return Poll::Ready(None),
                    Poll::Pending => {
                        *self = WatcherStream::Waiting(wait);
                        return Poll::Pending;
                    }
                },
                WatcherStream::Done => return Poll::Ready(None),
            }
        }
    }
}

impl Watcher {
    /// An event that is ready now (`Ready(None)`: the watch has ended, having
    /// fallen behind the window or seen the cache reset).
    fn ready(&mut self) -> std::task::Poll<Option<WatchEvent<ObjectRef>>> {
        use std::task::Poll;
        if let Some(e) = self.initial.pop_front() {
            return Poll::Ready(Some(e));
        }
        loop {
            match self.rx.try_recv() {
                Ok(e) => {
                    if let Some(ev) = self.accept(&e) {
                        return Poll::Ready(Some(ev));
                    }
                }
                Err(broadcast::error::TryRecvError::Empty) => return Poll::Pending,
                Err(_) => return Poll::Ready(None),
            }
        }
    }

    /// The event this watcher sends for `e`, if any (events at or below
    /// the last revision sent are skipped).
    fn accept(&mut self, e: &CacheEvent) -> Option<WatchEvent<ObjectRef>> {
        if e.revision <= self.last_sent {
            return None;
        }
        self.last_sent = e.revision;
        convert(e, &self.filter, &self.cache.info)
    }

    async fn next(&mut self) -> Option<WatchEvent<ObjectRef>> {
        loop {
            // An event already waiting needs no timers.
            if let std::task::Poll::Ready(ev) = self.ready() {
                return ev;
            }
            let deadline = self.deadline;
            let sleep_until = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => futures::future::pending().await,
                }
            };
            let bookmarks = self.bookmarks;
            let next_bookmark = self.next_bookmark;
            let tick = async move {
                if bookmarks {
                    tokio::time::sleep_until(next_bookmark).await
                } else {
                    futures::future::pending().await
                }
            };
            tokio::select! {
                biased;
                r = self.rx.recv() => match r {
                    Ok(e) => {
                        if let Some(ev) = self.accept(&e) {
                            return Some(ev);
                        }
                    }
                    // Fell behind the window, or the cache was reset: close,
                    // as Kubernetes closes a slow watcher.
                    Err(_) => return None,
                },
                _ = tick => {
                    self.next_bookmark = tokio::time::Instant::now() + self.interval;
                    // Read the progress first: anything at or below it was
                    // already sent to our channel, so an empty channel means
                    // we have seen it all.
                    let progress = self.cache.progress.load(Ordering::Acquire).max(self.last_sent);
                    if self.rx.is_empty() {
                        self.last_sent = progress;
                        return Some(WatchEvent::Bookmark(bookmark(&self.cache.info, progress, false)));
                    }
                }
                _ = sleep_until => return None,
            }
        }
    }
}
