//! The in-memory store: the default [`Store`], with etcd's
//! semantics and no process to run.
//!
//! [`MemoryStore`] keeps every key in process memory together with a bounded
//! history of recent events. It is what tests, simulations and single-process
//! products use; it starts in microseconds and a clone is a cheap handle to the
//! same store.
//!
//! ```
//! use bytes::Bytes;
//! use futures::StreamExt;
//! use keelson::store::{EventKind, MemoryStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), keelson::store::Error> {
//! let store = MemoryStore::new();
//! let created = store.create("/registry/pods/default/web-0", Bytes::from_static(b"v1")).await?;
//!
//! // Watch everything under the pods prefix from the creation on.
//! let mut watch = store.watch("/registry/pods/", created.mod_revision).await?;
//!
//! // Compare-and-swap: the update names the revision it last saw.
//! let updated = store
//!     .update("/registry/pods/default/web-0", Bytes::from_static(b"v2"), created.mod_revision)
//!     .await?;
//! assert!(updated.mod_revision > created.mod_revision);
//!
//! // A stale revision is refused.
//! let stale = store
//!     .update("/registry/pods/default/web-0", Bytes::from_static(b"v3"), created.mod_revision)
//!     .await;
//! assert!(matches!(stale, Err(keelson::store::Error::Conflict { .. })));
//!
//! let event = watch.next().await.expect("the watch is open")?;
//! assert_eq!(event.kind, EventKind::Put);
//! assert_eq!(event.kv.value, "v2");
//! assert_eq!(event.prev.as_ref().map(|kv| &kv.value), Some(&Bytes::from_static(b"v1")));
//! # Ok(())
//! # }
//! ```
//!
//! # How it works, and what it costs
//!
//! - **Point operations** (`get`, `create`, `put`, `update`, `delete`) go to a hash
//!   map; an ordered index of the keys, used by `list`, is only touched when a
//!   key is created or deleted. A CAS update is one hash lookup under one lock.
//! - **History** is an append-only log of events cut into chunks of
//!   64 events. Every write appends exactly one event, so the event of revision
//!   `r` is found by arithmetic. The log keeps at least [`Config::history`]
//!   events; older chunks are dropped as new ones fill up. That is the
//!   automatic compaction: reads and watches before the oldest retained
//!   revision fail with [`Error::Compacted`]. Each event is built once, as
//!   the `Arc<Event>` every watcher will be handed; its keys share the live
//!   key's allocation.
//! - **Reads at a past revision** start from the current keys and undo the
//!   newer events of the range with their `prev` values, so a paginated list
//!   keeps the revision of its first page for as long as that revision is
//!   retained.
//! - **Watches read the shared log by cursor.** A watcher holds its position
//!   (a revision) and the chunk it is reading; it reads published events
//!   without taking the store's lock and without any per-watcher copy of the
//!   history. A delivery is a reference-count bump on the shared event.
//!   Writers wake the watchers of a matching prefix and never wait for them.
//! - **A slow watcher's buffer is its window on the shared log.** It may trail
//!   the newest revision by as much as the retained history (at least
//!   [`Config::history`] events); when the events it still needs have been
//!   dropped, its stream yields [`Error::Lagged`] and
//!   ends. Nothing is dropped silently, a writer never blocks on a watcher,
//!   and a stalled watcher pins at most one chunk of memory.
//!
//! Writers find the watchers to wake through one wake-up list per watched
//! prefix, so a write wakes only the watchers whose prefix covers its key, and
//! only those that sleep; watchers that are busy read on without being told.
//!
//! A watch keeps the store's state alive: dropping every [`MemoryStore`]
//! handle does not end open watches, they just see no more events.
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::ops::Bound;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use super::{
    Error, Event, EventKind, Key, KeyValue, ListOptions, ListResult, Result, Revision, Store,
    WatchStream, DEFAULT_MAX_VALUE_BYTES,
};

/// Events per chunk of the history log.
const CHUNK: usize = 64;
/// `CHUNK` as a revision distance.
const CHUNK_REVS: Revision = CHUNK as Revision;
/// How many non-matching events a watcher skips before it offers the runtime
/// a chance to run other tasks.
const SCAN_BUDGET: usize = 256;
/// The prefix of continue tokens issued by this store (versioned so the format
/// can change).
const TOKEN_PREFIX: &str = "m1.";

/// Settings of a [`MemoryStore`].
///
/// ```
/// use keelson::store::memory::Config;
///
/// let config = Config::default().history(1_000).max_value_bytes(64 * 1024);
/// assert_eq!(config.history, 1_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest value accepted, in bytes; bigger values get
    /// [`Error::TooLarge`]. Default:
    /// [`DEFAULT_MAX_VALUE_BYTES`] (1.5 MiB, as etcd).
    pub max_value_bytes: usize,
    /// How many recent events to keep for watch resumption and reads at past
    /// revisions (rounded up to whole chunks of 64). Older history is compacted
    /// automatically, and this is also how far a watcher may fall behind before
    /// its stream ends with [`Error::Lagged`]. Default:
    /// 10,000.
    pub history: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            history: 10_000,
        }
    }
}

impl Config {
    /// Set the value size limit.
    #[must_use]
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Set how many events of history to keep.
    #[must_use]
    pub fn history(mut self, events: usize) -> Self {
        self.history = events;
        self
    }
}

/// An in-memory [`Store`] with etcd's semantics. See the [module
/// docs](self) for how it works.
///
/// Cloning is cheap and gives another handle to the same store.
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    state: Mutex<State>,
    /// The slots of the last dropped chunk, emptied, for the next chunk:
    /// a chunk is a 9 KiB allocation, and allocating one every 64 writes
    /// made the allocator consolidate its small-block bins each time.
    spare: Mutex<Option<Slots>>,
}

type Slots = Box<[OnceLock<Arc<Event>>]>;

/// A key's state at some revision, without the key.
#[derive(Clone, Debug)]
struct Record {
    value: Bytes,
    create_revision: Revision,
    mod_revision: Revision,
    version: i64,
}

impl Record {
    #[inline]
    fn to_kv(&self, key: Key) -> KeyValue {
        KeyValue {
            key,
            value: self.value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            version: self.version,
        }
    }
}

/// A live key.
struct Slot {
    key: Key,
    record: Record,
}

/// A key's state at a listed revision: live, or from a newer event's `prev`.
#[derive(Clone, Copy)]
enum At<'a> {
    Live(&'a Record),
    Past(&'a KeyValue),
}

impl At<'_> {
    fn to_kv(self, key: &Key) -> KeyValue {
        match self {
            At::Live(record) => record.to_kv(key.clone()),
            At::Past(kv) => kv.clone(),
        }
    }
}

/// `CHUNK` consecutive revisions of the log, from `base`. Each slot is written
/// once, under the store lock; watchers read published slots without it.
struct Chunk {
    base: Revision,
    slots: Slots,
}

impl Chunk {
    fn new(base: Revision, spare: Option<Slots>) -> Self {
        Self {
            base,
            slots: spare.unwrap_or_else(|| (0..CHUNK).map(|_| OnceLock::new()).collect()),
        }
    }

    /// The event of `revision`, if it is in this chunk and published.
    fn get(&self, revision: Revision) -> Option<&Arc<Event>> {
        let index = usize::try_from(revision.checked_sub(self.base)?).ok()?;
        self.slots.get(index)?.get()
    }
}

/// The watchers of one prefix share a group, so that a write wakes only the
/// watchers whose prefix matches its key.
struct Group {
    prefix: Box<str>,
    /// Whether any watcher of the group sleeps: a write skips the lock when
    /// none does.
    has_sleepers: AtomicBool,
    sleepers: Mutex<Sleepers>,
}

/// The wakers of a group's sleeping watchers, by watcher slot. A watcher is
/// in `sleeping` at most once (`queued`), so the list is bounded by the
/// number of watchers however often they are polled.
#[derive(Default)]
struct Sleepers {
    wakers: Vec<Option<Waker>>,
    queued: Vec<bool>,
    sleeping: Vec<usize>,
    free: Vec<usize>,
}

impl Group {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
            has_sleepers: AtomicBool::new(false),
            sleepers: Mutex::new(Sleepers::default()),
        }
    }

    fn sleepers(&self) -> MutexGuard<'_, Sleepers> {
        self.sleepers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new watcher.
    fn join(&self) -> usize {
        let mut sleepers = self.sleepers();
        match sleepers.free.pop() {
            Some(slot) => slot,
            None => {
                sleepers.wakers.push(None);
                sleepers.queued.push(false);
                sleepers.wakers.len() - 1
            }
        }
    }

    fn leave(&self, slot: usize) {
        let mut sleepers = self.sleepers();
        if let Some(waker) = sleepers.wakers.get_mut(slot) {
            *waker = None;
            sleepers.free.push(slot);
        }
    }

    /// Ask to be woken by the next write of the group. The caller must look
    /// at the log again afterwards: a write that came before it may have
    /// found no sleeper.
    fn sleep(&self, slot: usize, waker: &Waker) {
        let mut guard = self.sleepers();
        let sleepers = &mut *guard;
        let Some(current) = sleepers.wakers.get_mut(slot) else {
            return;
        };
        match current {
            Some(w) if w.will_wake(waker) => {}
            _ => *current = Some(waker.clone()),
        }
        if let Some(queued) = sleepers.queued.get_mut(slot) {
            if !*queued {
                *queued = true;
                sleepers.sleeping.push(slot);
            }
        }
        self.has_sleepers.store(true, Ordering::Relaxed);
        drop(guard);
        // Pairs with the fence in `wake`: either the writer sees
        // `has_sleepers`, or our next look at the log sees its event.
        fence(Ordering::SeqCst);
    }

    /// Wake every sleeping watcher. The caller has published its event and
    /// issued a SeqCst fence.
    fn wake(&self) {
        if !self.has_sleepers.load(Ordering::Relaxed) {
            return;
        }
        let wakers: Vec<Waker> = {
            let mut guard = self.sleepers();
            let sleepers = &mut *guard;
            self.has_sleepers.store(false, Ordering::Relaxed);
            let mut wakers = Vec::with_capacity(sleepers.sleeping.len());
            for slot in sleepers.sleeping.drain(..) {
                if let Some(queued) = sleepers.queued.get_mut(slot) {
                    *queued = false;
                }
                if let Some(waker) = sleepers.wakers.get_mut(slot).and_then(Option::take) {
                    wakers.push(waker);
                }
            }
            wakers
        };
        for waker in wakers {
            waker.wake();
        }
    }
}

struct State {
    revision: Revision,
    /// The revision of the last explicit `compact`.
    compacted: Revision,
    keys: HashMap<Key, Slot, KeyHasher>,
    /// The live keys in order, for `list`.
    index: BTreeSet<Key>,
    log: VecDeque<Arc<Chunk>>,
    /// Watch groups with their watcher counts; a copy of the groups alone is
    /// published in `notify` for writers to wake outside the lock.
    groups: Vec<(Arc<Group>, usize)>,
    notify: Arc<[Arc<Group>]>,
}

impl State {
    /// The oldest revision whose event is still in the log.
    fn log_start(&self) -> Revision {
        self.log.front().map_or(self.revision + 1, |c| c.base)
    }

    /// The compacted revision: reads and watches from before it fail.
    fn compacted(&self) -> Revision {
        self.compacted.max(self.log_start() - 1)
    }

    /// The chunk holding `revision`, if retained.
    fn chunk_for(&self, revision: Revision) -> Option<&Arc<Chunk>> {
        let offset = revision.checked_sub(self.log_start())?;
        self.log.get(usize::try_from(offset / CHUNK_REVS).ok()?)
    }

    fn event(&self, revision: Revision) -> Option<&Arc<Event>> {
        self.chunk_for(revision)?.get(revision)
    }

    /// Append the event of the next revision and drop history beyond the
    /// retention; returns the dropped chunks so they are freed after the lock
    /// is released, and the groups to wake.
    fn append(&mut self, event: Arc<Event>, shared: &Shared) -> Appended {
        let history = shared.config.history;
        let revision = event.revision();
        debug_assert_eq!(revision, self.revision + 1);
        self.revision = revision;
        let needs_chunk = self
            .log
            .back()
            .is_none_or(|c| c.base + CHUNK_REVS <= revision);
        let mut dropped = None;
        if needs_chunk {
            // Keep at least `history` events besides the new chunk's.
            while self.log.len() > 1 {
                let second = self.log.get(1).map_or(revision, |c| c.base);
                if usize::try_from(revision - second).unwrap_or(usize::MAX) < history {
                    break;
                }
                dropped = self.log.pop_front();
            }
            if self.log.len() == 1 && history == 0 {
                dropped = self.log.pop_front();
            }
            let spare = shared.spare().take();
            self.log.push_back(Arc::new(Chunk::new(revision, spare)));
        }
        if let Some(chunk) = self.log.back() {
            // The slot is fresh: revisions are appended once, in order.
            let _ = chunk.slots[(revision - chunk.base) as usize % CHUNK].set(event);
        }
        let wake = if self.notify.is_empty() {
            None
        } else {
            Some(self.notify.clone())
        };
        Appended { dropped, wake }
    }

    fn publish_groups(&mut self) {
        self.notify = self.groups.iter().map(|(g, _)| g.clone()).collect();
    }

    /// Write a key that is absent (the caller checked).
    fn insert(&mut self, key: &str, value: Bytes, shared: &Shared) -> (KeyValue, Appended) {
        let revision = self.revision + 1;
        let record = Record {
            value,
            create_revision: revision,
            mod_revision: revision,
            version: 1,
        };
        let key = Key::from(key);
        self.index.insert(key.clone());
        let kv = record.to_kv(key.clone());
        self.keys.insert(key.clone(), Slot { key, record });
        let event = Arc::new(Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev: None,
        });
        (kv, self.append(event, shared))
    }

    /// Replace the value of a live key, if `expected` is given only when its
    /// `mod_revision` matches.
    fn replace(
        &mut self,
        key: &str,
        value: Bytes,
        expected: Option<Revision>,
        shared: &Shared,
    ) -> Result<(KeyValue, Appended)> {
        let revision = self.revision + 1;
        let Some(slot) = self.keys.get_mut(key) else {
            return Err(not_found(key));
        };
        if let Some(expected) = expected {
            if slot.record.mod_revision != expected {
                return Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    current: slot.record.mod_revision,
                });
            }
        }
        let record = Record {
            value,
            create_revision: slot.record.create_revision,
            mod_revision: revision,
            version: slot.record.version + 1,
        };
        let prev = std::mem::replace(&mut slot.record, record.clone());
        let kv = record.to_kv(slot.key.clone());
        let event = Arc::new(Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev: Some(prev.to_kv(slot.key.clone())),
        });
        Ok((kv, self.append(event, shared)))
    }
}

/// What a write leaves to do once the lock is released.
#[must_use]
struct Appended {
    dropped: Option<Arc<Chunk>>,
    wake: Option<Arc<[Arc<Group>]>>,
}

impl Appended {
    fn finish(self, shared: &Shared, key: &str) {
        if let Some(groups) = self.wake {
            // Pairs with the fence in `Group::sleep`.
            fence(Ordering::SeqCst);
            for group in groups.iter() {
                if key.starts_with(&*group.prefix) {
                    group.wake();
                }
            }
        }
        // Empty the dropped chunk (freeing its values) outside the store
        // lock, and keep its slots for the next chunk unless a watcher still
        // reads it.
        if let Some(Ok(chunk)) = self.dropped.map(Arc::try_unwrap) {
            let mut slots = chunk.slots;
            for slot in slots.iter_mut() {
                drop(slot.take());
            }
            *shared.spare() = Some(slots);
        }
    }
}

impl MemoryStore {
    /// An empty store with the default [`Config`].
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// An empty store with the given settings.
    pub fn with_config(config: Config) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                spare: Mutex::new(None),
                state: Mutex::new(State {
                    revision: 0,
                    compacted: 0,
                    keys: HashMap::with_hasher(KeyHasher::new()),
                    index: BTreeSet::new(),
                    log: VecDeque::new(),
                    groups: Vec::new(),
                    notify: Arc::new([]),
                }),
            }),
        }
    }

    /// The store's settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The compacted revision: lists at an older revision and watches from an
    /// older revision fail with [`Error::Compacted`].
    pub fn compacted_revision(&self) -> Revision {
        self.shared.lock().compacted()
    }

    fn check_write(&self, key: &str, value: &Bytes) -> Result<()> {
        check_key(key)?;
        let limit = self.shared.config.max_value_bytes;
        if value.len() > limit {
            return Err(Error::TooLarge {
                key: key.to_owned(),
                size: value.len(),
                limit,
            });
        }
        Ok(())
    }

    fn do_get(&self, key: &str) -> Result<KeyValue> {
        check_key(key)?;
        let state = self.shared.lock();
        match state.keys.get(key) {
            Some(slot) => Ok(slot.record.to_kv(slot.key.clone())),
            None => Err(not_found(key)),
        }
    }

    fn do_create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.check_write(key, &value)?;
        let mut guard = self.shared.lock();
        if guard.keys.contains_key(key) {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
        let (kv, appended) = guard.insert(key, value, &self.shared);
        drop(guard);
        appended.finish(&self.shared, key);
        Ok(kv)
    }

    fn do_put(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.check_write(key, &value)?;
        let mut guard = self.shared.lock();
        let (kv, appended) = if guard.keys.contains_key(key) {
            guard.replace(key, value, None, &self.shared)?
        } else {
            guard.insert(key, value, &self.shared)
        };
        drop(guard);
        appended.finish(&self.shared, key);
        Ok(kv)
    }

    fn do_update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.check_write(key, &value)?;
        let mut guard = self.shared.lock();
        let (kv, appended) = guard.replace(key, value, Some(expected), &self.shared)?;
        drop(guard);
        appended.finish(&self.shared, key);
        Ok(kv)
    }

    fn do_delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        check_key(key)?;
        let mut guard = self.shared.lock();
        let state = &mut *guard;
        let Some(slot) = state.keys.get(key) else {
            return Err(not_found(key));
        };
        if let Some(expected) = expected {
            if slot.record.mod_revision != expected {
                return Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    current: slot.record.mod_revision,
                });
            }
        }
        let Some(slot) = state.keys.remove(key) else {
            return Err(not_found(key));
        };
        state.index.remove(key);
        let revision = state.revision + 1;
        let prev = slot.record.to_kv(slot.key.clone());
        let event = Arc::new(Event {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: slot.key,
                value: Bytes::new(),
                create_revision: 0,
                mod_revision: revision,
                version: 0,
            },
            prev: Some(prev.clone()),
        });
        let appended = state.append(event, &self.shared);
        drop(guard);
        appended.finish(&self.shared, key);
        Ok(prev)
    }

    fn do_list(&self, prefix: &str, options: &ListOptions) -> Result<ListResult> {
        let (requested, after) = match &options.continue_token {
            Some(token) => {
                let (revision, key) = decode_token(token)?;
                if !key.starts_with(prefix) {
                    return Err(Error::InvalidArgument(format!(
                        "continue token does not belong to a list of prefix {prefix:?}"
                    )));
                }
                if options.revision != 0 && options.revision != revision {
                    return Err(Error::InvalidArgument(format!(
                        "continue token is for revision {revision}, not {}",
                        options.revision
                    )));
                }
                (revision, Some(key))
            }
            None => (options.revision, None),
        };
        check_revision(requested)?;
        let state = self.shared.lock();
        let current = state.revision;
        let at = if requested == 0 { current } else { requested };
        if at > current {
            return Err(Error::FutureRevision {
                requested: at,
                current,
            });
        }
        if at < state.compacted() {
            return Err(Error::Compacted {
                requested: at,
                compacted: state.compacted(),
            });
        }
        let lower = match &after {
            Some(key) => Bound::Excluded(key.as_str()),
            None => Bound::Included(prefix),
        };
        let in_range = |key: &str| {
            key.starts_with(prefix)
                && match lower {
                    Bound::Excluded(after) => key > after,
                    _ => true,
                }
        };
        // The keys written after `at`, with their state at `at` (None: absent).
        // Walking back, the oldest newer event's `prev` is written last.
        let mut undo: BTreeMap<&str, (&Key, Option<At<'_>>)> = BTreeMap::new();
        let mut revision = current;
        while revision > at {
            if let Some(event) = state.event(revision) {
                let key = &event.kv.key;
                if in_range(key) {
                    undo.insert(key, (key, event.prev.as_ref().map(At::Past)));
                }
            }
            revision -= 1;
        }
        let live = state
            .index
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|k| k.starts_with(prefix))
            .map(|k| (k, state.keys.get(k.as_str()).map(|s| At::Live(&s.record))));
        let mut merged = Merge {
            live: live.peekable(),
            undo: undo.into_iter().peekable(),
        };
        let limit = if options.limit == 0 {
            usize::MAX
        } else {
            options.limit
        };
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = 0i64;
        for (key, record) in merged.by_ref() {
            if items.len() == limit {
                remaining = 1;
                continue_token = items.last().map(|kv: &KeyValue| encode_token(at, &kv.key));
                break;
            }
            items.push(record.to_kv(key));
        }
        if continue_token.is_some() {
            remaining += merged.count() as i64;
        }
        Ok(ListResult {
            items,
            revision: at,
            continue_token,
            remaining: Some(remaining),
        })
    }

    fn do_watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        check_revision(from)?;
        let mut state = self.shared.lock();
        let current = state.revision;
        if from > current {
            return Err(Error::FutureRevision {
                requested: from,
                current,
            });
        }
        if from != 0 && from < state.compacted() {
            return Err(Error::Compacted {
                requested: from,
                compacted: state.compacted(),
            });
        }
        let next = if from == 0 { current + 1 } else { from + 1 };
        let existing = state.groups.iter_mut().find(|(g, _)| &*g.prefix == prefix);
        let group = match existing {
            Some((group, count)) => {
                *count += 1;
                group.clone()
            }
            None => {
                let group = Arc::new(Group::new(prefix));
                state.groups.push((group.clone(), 1));
                state.publish_groups();
                group
            }
        };
        let chunk = state.chunk_for(next).cloned();
        drop(state);
        let slot = group.join();
        let watcher = Watcher {
            shared: self.shared.clone(),
            group,
            slot,
            cursor: Cursor { next, chunk },
        };
        Ok(watcher.into_stream())
    }

    fn do_compact(&self, revision: Revision) -> Result<()> {
        check_revision(revision)?;
        let mut state = self.shared.lock();
        if revision > state.revision {
            return Err(Error::FutureRevision {
                requested: revision,
                current: state.revision,
            });
        }
        let compacted = state.compacted();
        if revision <= compacted {
            return Err(Error::Compacted {
                requested: revision,
                compacted,
            });
        }
        state.compacted = revision;
        let mut dropped = Vec::new();
        while let Some(front) = state.log.front() {
            if front.base + CHUNK_REVS - 1 > revision {
                break;
            }
            dropped.extend(state.log.pop_front());
        }
        drop(state);
        drop(dropped);
        Ok(())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("MemoryStore")
            .field("revision", &state.revision)
            .field("compacted", &state.compacted())
            .field("keys", &state.keys.len())
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn spare(&self) -> MutexGuard<'_, Option<Slots>> {
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; if it ever did, the state is
        // still consistent between operations, so keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<KeyValue> {
        self.do_get(key)
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult> {
        self.do_list(prefix, &options)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.do_create(key, value)
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.do_put(key, value)
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.do_update(key, value, expected)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.do_delete(key, expected)
    }

    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        self.do_watch(prefix, from_revision)
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.shared.lock().revision)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.do_compact(revision)
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("empty key".to_owned()));
    }
    Ok(())
}

fn check_revision(revision: Revision) -> Result<()> {
    if revision < 0 {
        return Err(Error::InvalidArgument(format!(
            "negative revision {revision}"
        )));
    }
    Ok(())
}

fn not_found(key: &str) -> Error {
    Error::NotFound {
        key: key.to_owned(),
    }
}

/// The hasher of the key map: SipHash was an eighth of a CAS update's time.
/// This folded-multiply hash (as in foldhash and wyhash) reads the key a word
/// at a time, and is seeded per store from the standard library's random
/// state, so that colliding keys cannot be precomputed.
#[derive(Clone)]
struct KeyHasher {
    seed: u64,
    multiplier: u64,
}

impl KeyHasher {
    fn new() -> Self {
        use std::hash::BuildHasher;
        let random = std::collections::hash_map::RandomState::new();
        Self {
            seed: random.hash_one(0x5eed_u64),
            // Odd, so that the multiplication loses no bits.
            multiplier: random.hash_one(0x3a17_u64) | 1,
        }
    }
}

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = KeyHash;

    fn build_hasher(&self) -> KeyHash {
        KeyHash {
            state: self.seed,
            multiplier: self.multiplier,
        }
    }
}

struct KeyHash {
    state: u64,
    multiplier: u64,
}

impl KeyHash {
    #[inline]
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.state ^ word) * u128::from(self.multiplier);
        self.state = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl std::hash::Hasher for KeyHash {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.mix(u64::from_le_bytes([
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
            ]));
        }
        let tail = words.remainder();
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        // The length keeps "a" and "a\0" apart.
        self.mix(u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.mix(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        // One more round so the last word reaches every bit.
        let product = u128::from(self.state.rotate_left(23)) * u128::from(self.multiplier);
        (product as u64) ^ ((product >> 64) as u64)
    }
}

/// Merges the live keys of a range with the undo map of a past read, in key
/// order; yields the keys present at the read revision.
struct Merge<'a, L: Iterator<Item = (&'a Key, Option<At<'a>>)>> {
    live: std::iter::Peekable<L>,
    undo: std::iter::Peekable<
        std::collections::btree_map::IntoIter<&'a str, (&'a Key, Option<At<'a>>)>,
    >,
}

impl<'a, L: Iterator<Item = (&'a Key, Option<At<'a>>)>> Iterator for Merge<'a, L> {
    type Item = (&'a Key, At<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_undo = match (self.live.peek(), self.undo.peek()) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((l, _)), Some((u, _))) => {
                    if l.as_str() == *u {
                        // The past state wins over the live one.
                        self.live.next();
                        true
                    } else {
                        *u < l.as_str()
                    }
                }
            };
            let (key, at) = if take_undo {
                self.undo.next()?.1
            } else {
                self.live.next()?
            };
            if let Some(at) = at {
                return Some((key, at));
            }
        }
    }
}

/// A continue token: the list's revision and the last key returned, hex
/// encoded so the token is plain ASCII.
fn encode_token(revision: Revision, key: &str) -> String {
    use std::fmt::Write;
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + 21 + key.len() * 2);
    token.push_str(TOKEN_PREFIX);
    let _ = write!(token, "{revision}.");
    for byte in key.bytes() {
        let _ = write!(token, "{byte:02x}");
    }
    token
}

fn decode_token(token: &str) -> Result<(Revision, String)> {
    let invalid = || Error::InvalidArgument(format!("malformed continue token {token:?}"));
    let rest = token.strip_prefix(TOKEN_PREFIX).ok_or_else(invalid)?;
    let (revision, hex) = rest.split_once('.').ok_or_else(invalid)?;
    let revision: Revision = revision.parse().map_err(|_| invalid())?;
    if revision < 0 || hex.len() % 2 != 0 || !hex.is_ascii() {
        return Err(invalid());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let key = String::from_utf8(bytes).map_err(|_| invalid())?;
    Ok((revision, key))
}

/// A watch: a position in the shared log and the group it is woken by.
struct Watcher {
    shared: Arc<Shared>,
    group: Arc<Group>,
    /// This watcher's place among the group's sleepers.
    slot: usize,
    cursor: Cursor,
}

struct Cursor {
    /// The next revision to look at.
    next: Revision,
    /// The chunk holding `next`, once fetched.
    chunk: Option<Arc<Chunk>>,
}

/// What a look at the log found.
enum Step {
    /// The event at `next - 1` matches: read it with [`Cursor::last`].
    Event,
    /// The events the watcher needs are gone; it saw everything up to this
    /// revision.
    Lagged(Revision),
    /// Nothing new yet.
    Empty,
    /// Scanned many events of other prefixes; yield before going on.
    Busy,
}

impl Cursor {
    fn step(&mut self, shared: &Shared, prefix: &str) -> Step {
        let mut skipped = 0;
        loop {
            if let Some(chunk) = &self.chunk {
                if self.next < chunk.base + CHUNK_REVS {
                    let Some(event) = chunk.get(self.next) else {
                        return Step::Empty;
                    };
                    self.next += 1;
                    if event.kv.key.starts_with(prefix) {
                        return Step::Event;
                    }
                    skipped += 1;
                    if skipped == SCAN_BUDGET {
                        return Step::Busy;
                    }
                    continue;
                }
                self.chunk = None;
            }
            let state = shared.lock();
            if self.next < state.log_start() {
                return Step::Lagged(self.next - 1);
            }
            match state.chunk_for(self.next) {
                Some(chunk) => self.chunk = Some(chunk.clone()),
                None => return Step::Empty,
            }
        }
    }

    /// The event just stepped over.
    fn last(&self) -> Option<&Arc<Event>> {
        self.chunk.as_ref()?.get(self.next - 1)
    }
}

impl Watcher {
    fn into_stream(self) -> WatchStream {
        Box::pin(Watch {
            watcher: self,
            done: false,
        })
    }
}

/// The stream of a watch. Hand-written rather than an `async` block so that a
/// delivery moves nothing but the event.
struct Watch {
    watcher: Watcher,
    done: bool,
}

impl Stream for Watch {
    type Item = Result<Arc<Event>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let w = &mut this.watcher;
        let mut asleep = false;
        loop {
            match w.cursor.step(&w.shared, &w.group.prefix) {
                Step::Event => {
                    if let Some(event) = w.cursor.last() {
                        return Poll::Ready(Some(Ok(event.clone())));
                    }
                }
                Step::Lagged(revision) => {
                    tracing::debug!(prefix = %w.group.prefix, revision, "memory store watcher lagged");
                    this.done = true;
                    return Poll::Ready(Some(Err(Error::Lagged { revision })));
                }
                Step::Busy => {
                    // Let other tasks run before scanning further.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Step::Empty if asleep => return Poll::Pending,
                Step::Empty => {
                    // Register, then look once more (see `Group::sleep`).
                    w.group.sleep(w.slot, cx.waker());
                    asleep = true;
                }
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.group.leave(self.slot);
        let mut state = self.shared.lock();
        let Some(position) = state
            .groups
            .iter()
            .position(|(g, _)| Arc::ptr_eq(g, &self.group))
        else {
            return;
        };
        let count = &mut state.groups[position].1;
        *count = count.saturating_sub(1);
        if *count == 0 {
            state.groups.swap_remove(position);
            state.publish_groups();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use tokio::time::Instant;

    use super::*;

    fn val(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Update `key` `n` times (creating it first if needed); returns the last
    /// revision.
    async fn churn(store: &MemoryStore, key: &str, n: usize) -> Revision {
        let mut revision = match store.get(key).await {
            Ok(kv) => kv.mod_revision,
            Err(_) => {
                store
                    .create(key, val("0"))
                    .await
                    .expect("create")
                    .mod_revision
            }
        };
        for i in 0..n {
            revision = store
                .update(key, val(&i.to_string()), revision)
                .await
                .expect("update")
                .mod_revision;
        }
        revision
    }

    fn chunks(store: &MemoryStore) -> usize {
        store.shared.lock().log.len()
    }

    #[tokio::test]
    async fn revisions_advance_by_one_per_write() {
        let store = MemoryStore::new();
        assert_eq!(store.current_revision().await.unwrap(), 0);
        let a = store.create("/k/a", val("1")).await.unwrap();
        let b = store
            .update("/k/a", val("2"), a.mod_revision)
            .await
            .unwrap();
        store.delete("/k/a", None).await.unwrap();
        let c = store.create("/k/a", val("3")).await.unwrap();
        assert_eq!([a.mod_revision, b.mod_revision, c.mod_revision], [1, 2, 4]);
        // Failed writes use no revision.
        assert!(store.create("/k/a", val("4")).await.is_err());
        assert!(store.update("/k/a", val("4"), 1).await.is_err());
        assert_eq!(store.current_revision().await.unwrap(), 4);
    }

    #[tokio::test]
    async fn automatic_compaction_keeps_the_configured_history() {
        let store = MemoryStore::with_config(Config::default().history(100));
        let last = churn(&store, "/k", 1_000).await;
        let compacted = store.compacted_revision();
        // At least `history` events are kept, at most two chunks more.
        assert!(compacted <= last - 100, "compacted {compacted}");
        assert!(
            compacted >= last - 100 - 2 * CHUNK_REVS,
            "compacted {compacted}"
        );
        assert!(
            chunks(&store) <= 100 / CHUNK + 3,
            "{} chunks",
            chunks(&store)
        );

        assert!(matches!(
            store.watch("/k", 1).await,
            Err(Error::Compacted { requested: 1, compacted: c }) if c == compacted
        ));
        assert!(matches!(
            store
                .list("/k", ListOptions::default().revision(compacted - 1))
                .await,
            Err(Error::Compacted { .. })
        ));
        // The retained history replays exactly.
        let from = last - 100;
        let past = store
            .list("/k", ListOptions::default().revision(from))
            .await
            .unwrap();
        assert_eq!(past.items[0].mod_revision, from);
        let mut watch = store.watch("/k", from).await.unwrap();
        for revision in from + 1..=last {
            let event = watch.next().await.unwrap().unwrap();
            assert_eq!(event.revision(), revision);
            assert_eq!(event.prev.as_ref().unwrap().mod_revision, revision - 1);
        }
    }

    #[tokio::test]
    async fn dropped_chunks_are_recycled_unless_a_watcher_reads_them() {
        let store = MemoryStore::with_config(Config::default().history(64));
        churn(&store, "/k", 4 * CHUNK).await;
        let recycled = store.shared.spare().as_ref().map(|s| s.as_ptr());
        assert!(recycled.is_some(), "a dropped chunk was kept for reuse");
        assert!(store
            .shared
            .spare()
            .iter()
            .flat_map(|s| s.iter())
            .all(|s| s.get().is_none()));
        // A watcher parked in the oldest chunk keeps it out of the spare.
        let from = store.compacted_revision();
        let mut watch = store.watch("/k", from).await.unwrap();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.revision(), from + 1);
        let last = churn(&store, "/k", 4 * CHUNK).await;
        let mut expected = from + 2;
        loop {
            match watch.next().await.unwrap() {
                Ok(event) => {
                    assert_eq!(event.revision(), expected);
                    assert_eq!(event.prev.as_ref().unwrap().mod_revision, expected - 1);
                    expected += 1;
                }
                Err(Error::Lagged { revision }) => {
                    assert_eq!(revision, expected - 1);
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(expected <= last);
    }

    #[tokio::test]
    async fn pagination_fails_with_compacted_once_its_revision_is_gone() {
        let store = MemoryStore::with_config(Config::default().history(64));
        for i in 0..10 {
            store.create(&format!("/p/{i}"), val("v")).await.unwrap();
        }
        let first = store
            .list("/p/", ListOptions::default().limit(4))
            .await
            .unwrap();
        let token = first.continue_token.unwrap();
        // Still retained: the next page reads at the first page's revision.
        churn(&store, "/other", 10).await;
        let second = store
            .list(
                "/p/",
                ListOptions::default()
                    .limit(4)
                    .continue_token(token.clone()),
            )
            .await
            .unwrap();
        assert_eq!(second.revision, first.revision);
        // Compacted away: the client must start over, as Kubernetes' 410.
        churn(&store, "/other", 500).await;
        assert!(matches!(
            store.list("/p/", ListOptions::default().limit(4).continue_token(token)).await,
            Err(Error::Compacted { requested, .. }) if requested == first.revision
        ));
    }

    #[tokio::test]
    async fn explicit_compaction_errors_as_etcd() {
        let store = MemoryStore::new();
        let last = churn(&store, "/k", 10).await;
        assert!(matches!(
            store.compact(last + 1).await,
            Err(Error::FutureRevision { requested, current }) if requested == last + 1 && current == last
        ));
        store.compact(5).await.unwrap();
        assert_eq!(store.compacted_revision(), 5);
        assert!(matches!(
            store.compact(5).await,
            Err(Error::Compacted {
                requested: 5,
                compacted: 5
            })
        ));
        // Compacting everything still serves the current state and new events.
        store.compact(last).await.unwrap();
        let list = store.list("/k", ListOptions::default()).await.unwrap();
        assert_eq!(list.items.len(), 1);
        let mut watch = store.watch("/k", last).await.unwrap();
        let next = store.update("/k", val("x"), last).await.unwrap();
        assert_eq!(watch.next().await.unwrap().unwrap().kv, next);
    }

    #[tokio::test]
    async fn lagged_watcher_gets_what_it_can_then_lagged_then_ends() {
        let store = MemoryStore::with_config(Config::default().history(64));
        let start = churn(&store, "/k", 10).await;
        let mut watch = store.watch("/k", 0).await.unwrap();
        let last = churn(&store, "/k", 1_000).await;
        let mut expected = start + 1;
        let lagged_at = loop {
            match watch.next().await {
                Some(Ok(event)) => {
                    assert_eq!(event.revision(), expected, "no gap before the lag");
                    expected += 1;
                }
                Some(Err(Error::Lagged { revision })) => break revision,
                other => panic!("expected Lagged, got {other:?}"),
            }
        };
        assert_eq!(
            lagged_at,
            expected - 1,
            "Lagged names the last revision seen"
        );
        assert!(lagged_at < last, "the watcher could not have kept up");
        assert!(watch.next().await.is_none(), "the stream ends after Lagged");
    }

    #[tokio::test]
    async fn stalled_watcher_blocks_no_writer_and_pins_little_memory() {
        let store = MemoryStore::with_config(Config::default().history(1_000));
        let mut stalled = store.watch("/k", 0).await.unwrap();
        // Never polled while 100,000 writes go by; they must all complete.
        let writes = tokio::time::timeout(Duration::from_secs(30), churn(&store, "/k", 100_000));
        let last = writes.await.expect("writers were blocked");
        assert_eq!(last, 100_001);
        assert!(
            chunks(&store) <= 1_000 / CHUNK + 3,
            "history grew past its bound"
        );
        // When it wakes up it learns that it lagged; nothing is dropped silently.
        let mut delivered = 0;
        loop {
            match stalled.next().await {
                Some(Ok(_)) => delivered += 1,
                Some(Err(Error::Lagged { .. })) => break,
                other => panic!("expected Lagged, got {other:?}"),
            }
        }
        assert!(
            delivered <= CHUNK,
            "delivered {delivered} from the pinned chunk"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn watches_are_woken_by_writes_not_by_timers() {
        let store = MemoryStore::new();
        let mut watch = store.watch("/k", 0).await.unwrap();
        let began = Instant::now();
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                let mut revision = store.create("/k", val("0")).await.unwrap().mod_revision;
                for i in 1..50u64 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let at = began.elapsed().as_millis().to_string();
                    revision = store
                        .update("/k", val(&at), revision)
                        .await
                        .unwrap()
                        .mod_revision;
                    assert_eq!(revision, i as Revision + 1);
                }
            })
        };
        for i in 0..50 {
            let event = watch.next().await.unwrap().unwrap();
            if i > 0 {
                // Delivered at the virtual instant it was written: no timer
                // stands between a write and its watchers.
                let written: u128 = std::str::from_utf8(&event.kv.value)
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(began.elapsed().as_millis(), written, "event {i}");
            }
        }
        writer.await.unwrap();
        assert_eq!(began.elapsed(), Duration::from_millis(490));
    }

    #[tokio::test]
    async fn watcher_skips_many_foreign_events() {
        let store = MemoryStore::with_config(Config::default().history(20_000));
        let mut watch = store.watch("/a/", 0).await.unwrap();
        churn(&store, "/b/x", 10 * SCAN_BUDGET).await;
        let mine = store.create("/a/1", val("1")).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("the watcher was not woken")
            .unwrap()
            .unwrap();
        assert_eq!(event.kv, mine);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_and_watchers_see_every_revision_once() {
        let store = MemoryStore::with_config(Config::default().history(100_000));
        let watches: Vec<_> = futures::future::join_all((0..4).map(|_| store.watch("/", 0)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move { churn(&store, &format!("/w{w}"), 2_000).await })
            })
            .collect();
        let readers: Vec<_> = watches
            .into_iter()
            .map(|watch| {
                tokio::spawn(async move {
                    let events: Vec<_> = watch.take(8_004).collect().await;
                    events
                        .into_iter()
                        .map(|e| e.unwrap().revision())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        for reader in readers {
            let revisions = reader.await.unwrap();
            assert_eq!(revisions, (1..=8_004).collect::<Vec<_>>());
        }
    }

    #[tokio::test]
    async fn repeated_polls_keep_one_sleeper_entry_per_watcher() {
        let store = MemoryStore::new();
        let mut watches = Vec::new();
        for _ in 0..3 {
            watches.push(store.watch("/k", 0).await.unwrap());
        }
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        for _ in 0..100 {
            for watch in &mut watches {
                assert!(watch.as_mut().poll_next(&mut cx).is_pending());
            }
        }
        let group = store.shared.lock().groups[0].0.clone();
        assert_eq!(group.sleepers().sleeping.len(), 3);
        // Slots of dropped watchers are reused.
        watches.pop();
        watches.push(store.watch("/k", 0).await.unwrap());
        assert_eq!(group.sleepers().wakers.len(), 3);
        // A write wakes them all and empties the list.
        store.create("/k", val("v")).await.unwrap();
        assert!(group.sleepers().sleeping.is_empty());
        for watch in &mut watches {
            assert!(matches!(
                watch.as_mut().poll_next(&mut cx),
                Poll::Ready(Some(Ok(_)))
            ));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_wake_up_is_lost_between_threads() {
        let store = MemoryStore::new();
        let mut watch = store.watch("/k", 0).await.unwrap();
        let mut revision = store.create("/k", val("0")).await.unwrap().mod_revision;
        assert_eq!(watch.next().await.unwrap().unwrap().revision(), revision);
        for round in 0..2_000 {
            // The write races the watcher going to sleep on another thread.
            let writer = {
                let store = store.clone();
                tokio::spawn(async move {
                    if round % 2 == 0 {
                        tokio::task::yield_now().await;
                    }
                    store.update("/k", val("x"), revision).await.unwrap()
                })
            };
            let event = tokio::time::timeout(Duration::from_secs(5), watch.next())
                .await
                .unwrap_or_else(|_| panic!("wake-up lost in round {round}"))
                .unwrap()
                .unwrap();
            revision = writer.await.unwrap().mod_revision;
            assert_eq!(event.revision(), revision);
        }
    }

    #[tokio::test]
    async fn dropped_watchers_leave_no_group_behind() {
        let store = MemoryStore::new();
        let a = store.watch("/a/", 0).await.unwrap();
        let b = store.watch("/a/", 0).await.unwrap();
        let c = store.watch("/c/", 0).await.unwrap();
        assert_eq!(store.shared.lock().groups.len(), 2);
        drop(a);
        assert_eq!(store.shared.lock().groups.len(), 2);
        drop((b, c));
        let state = store.shared.lock();
        assert!(state.groups.is_empty() && state.notify.is_empty());
    }

    #[tokio::test]
    async fn invalid_arguments_are_errors_not_panics() {
        let store = MemoryStore::with_config(Config::default().max_value_bytes(4));
        assert!(matches!(
            store.get("").await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            store.create("", val("x")).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            store.create("/k", val("12345")).await,
            Err(Error::TooLarge {
                size: 5,
                limit: 4,
                ..
            })
        ));
        store.create("/k/1", val("1234")).await.unwrap();
        store.create("/k/2", val("1")).await.unwrap();
        store.create("/k/3", val("1")).await.unwrap();
        let page = store
            .list("/k/", ListOptions::default().limit(1))
            .await
            .unwrap();
        let token = page.continue_token.unwrap();
        for (prefix, options) in [
            ("/k/", ListOptions::default().continue_token("m1.x.2f")),
            ("/k/", ListOptions::default().continue_token("m1.-1.2f")),
            ("/k/", ListOptions::default().continue_token("m1.1.2")),
            ("/k/", ListOptions::default().continue_token("m1.1.zz")),
            ("/k/", ListOptions::default().continue_token("m1.1.ff")),
            ("/k/", ListOptions::default().continue_token("m1.1ff")),
            ("/k/", ListOptions::default().continue_token("m1.1.é")),
            (
                "/other/",
                ListOptions::default().continue_token(token.clone()),
            ),
            (
                "/k/",
                ListOptions::default()
                    .continue_token(token.clone())
                    .revision(1),
            ),
        ] {
            assert!(
                matches!(
                    store.list(prefix, options.clone()).await,
                    Err(Error::InvalidArgument(_))
                ),
                "{prefix} {options:?}"
            );
        }
        assert!(matches!(
            store.list("/k/", ListOptions::default().revision(-1)).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            store.watch("/k/", -1).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            store.compact(-1).await,
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn continue_tokens_round_trip_any_key() {
        for key in ["/a", "/registry/pods/ns/名前", "", "/with.dots/and spaces"] {
            let token = encode_token(42, key);
            assert!(token.is_ascii());
            assert_eq!(decode_token(&token).unwrap(), (42, key.to_owned()));
        }
    }

    #[test]
    fn key_hash_separates_similar_keys() {
        use std::hash::BuildHasher;
        let hasher = KeyHasher::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000 {
            let key = format!("/registry/pods/default/web-{i}");
            assert!(
                seen.insert(hasher.hash_one(key.as_str())),
                "collision at {i}"
            );
        }
        assert_ne!(hasher.hash_one("a"), hasher.hash_one("a\0"));
        assert_ne!(hasher.hash_one(""), hasher.hash_one("\0"));
        // Seeded per store.
        assert_ne!(KeyHasher::new().hash_one("a"), hasher.hash_one("a"));
    }
}
