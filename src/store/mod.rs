//! The store: a revisioned key-value store with watch, with etcd's semantics.
//!
//! The store is the cluster's memory, as etcd is Kubernetes'. Only the API
//! server talks to it; everything else goes through the API. It deals in keys
//! (`/registry/pods/default/web-0`) and opaque byte values; it knows nothing of
//! objects.
//!
//! # Guarantees (every backend)
//!
//! - **One global revision.** Every successful write (create, put, update, delete)
//!   advances a single counter; revisions are strictly increasing. A key's
//!   `mod_revision` is the revision of its last write, and that is what the API
//!   server exposes as `resourceVersion`.
//! - **Compare-and-swap.** [`Store::update`] and [`Store::delete`] take the
//!   `mod_revision` the caller last saw; if the key changed since, the write
//!   fails with [`Error::Conflict`] carrying the current revision. Single-key
//!   operations are linearizable.
//! - **Ordered, gap-free watches.** [`Store::watch`] delivers every event with
//!   a revision greater than `from_revision`, exactly once, in revision order.
//!   A watch from a revision whose history was compacted away fails with
//!   [`Error::Compacted`].
//! - **Slow watchers never block writers.** Each watcher has a bounded buffer;
//!   when it overflows, its stream ends with [`Error::Lagged`], which tells the
//!   consumer to list again and watch from the list's revision. Events are
//!   never dropped silently.
//! - **Cheap to share.** Keys are [`Key`]s and values [`Bytes`]: both are
//!   reference counted, so cloning a [`KeyValue`] allocates nothing. A watch
//!   yields each event as an [`Arc<Event>`](Event): every watcher of a change
//!   shares one event.
//! - **Bounded values.** Values over the size limit (1.5 MiB by default, as
//!   etcd) are refused with [`Error::TooLarge`].
//!
//! # Picking a backend
//!
//! | backend | when |
//! |---|---|
//! | [`MemoryStore`] | tests, single-process products, simulations: starts in microseconds, nothing to install |
//! | `EtcdStore` (feature `etcd`) | state that must survive the process, or several API servers sharing one cluster |
//!
//! Every backend must pass `store::conformance` (feature `test-util`), the
//! suite that checks the guarantees above.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use futures::StreamExt;
//! use keelson::store::{EventKind, MemoryStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), keelson::store::Error> {
//! let store = MemoryStore::new();
//! let mut watch = store.watch("/pods/", 0).await?;
//! let first = store.put("/pods/web-0", Bytes::from_static(b"v1")).await?;
//! let second = store.put("/pods/web-0", Bytes::from_static(b"v2")).await?;
//! assert_eq!((first.version, second.version), (1, 2));
//!
//! let created = watch.next().await.expect("open")?;
//! assert_eq!(created.kind, EventKind::Put);
//! assert_eq!(created.kv.key, "/pods/web-0");
//! let replaced = watch.next().await.expect("open")?;
//! assert_eq!(replaced.prev.as_ref(), Some(&first));
//! # Ok(())
//! # }
//! ```
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
pub mod memory;

pub use memory::MemoryStore;

#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(all(feature = "etcd", feature = "test-util"))]
pub mod etcd_process;

#[cfg(feature = "etcd")]
pub use etcd::EtcdStore;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// A store revision: the value of the global write counter. `0` means "none".
pub type Revision = i64;

/// The default limit on the size of one value: 1.5 MiB, as etcd's
/// `--max-request-bytes`.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1536 * 1024;

/// A key: an immutable, reference-counted string, so that the key-values
/// and events of one key share it and a clone is a reference-count bump.
///
/// Dereferences to `str` and compares with `str`, `&str` and `String`.
///
/// ```
/// use keelson::store::Key;
///
/// let key = Key::from("/registry/pods/default/web-0");
/// let again = key.clone(); // no allocation
/// assert_eq!(again, "/registry/pods/default/web-0");
/// assert!(key.starts_with("/registry/pods/"));
/// let owned: String = key.into();
/// assert_eq!(owned, "/registry/pods/default/web-0");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(Arc<str>);

impl Key {
    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Key {
    fn default() -> Self {
        Key(Arc::from(""))
    }
}

impl Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl From<&str> for Key {
    fn from(key: &str) -> Self {
        Key(Arc::from(key))
    }
}

impl From<String> for Key {
    fn from(key: String) -> Self {
        Key(Arc::from(key))
    }
}

impl From<&String> for Key {
    fn from(key: &String) -> Self {
        Key(Arc::from(key.as_str()))
    }
}

impl From<Arc<str>> for Key {
    fn from(key: Arc<str>) -> Self {
        Key(key)
    }
}

impl From<Key> for Arc<str> {
    fn from(key: Key) -> Self {
        key.0
    }
}

impl From<Key> for String {
    fn from(key: Key) -> Self {
        String::from(&*key.0)
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Key {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<Key> for str {
    fn eq(&self, other: &Key) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Key> for &str {
    fn eq(&self, other: &Key) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Key> for String {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == &*other.0
    }
}

/// One key with its value and revisions, as etcd's `mvccpb.KeyValue`.
/// Cloning is cheap: reference-count bumps, no allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: Key,
    /// The value; cheap to clone.
    pub value: Bytes,
    /// The revision at which the key was created (since its last deletion).
    pub create_revision: Revision,
    /// The revision of the key's last write.
    pub mod_revision: Revision,
    /// How many times the key was written since it was created (1 after create).
    pub version: i64,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted.
    Delete,
}

/// One change, as delivered by a watch (shared: see [`WatchStream`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key after the change. For a delete, `value` is empty and
    /// `mod_revision` is the revision of the delete.
    pub kv: KeyValue,
    /// The key before the change, if it existed.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision at which the change happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// Options for [`Store::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// At most this many items; `0` means no limit.
    pub limit: usize,
    /// Continue a paginated list: the token from the previous page's
    /// [`ListResult::continue_token`].
    pub continue_token: Option<String>,
    /// Read at this past revision (within the retained history); `0` means
    /// the latest. A paginated list keeps the revision of its first page.
    pub revision: Revision,
}

impl ListOptions {
    /// Set the page size.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continue from a previous page.
    #[must_use]
    pub fn continue_token(mut self, token: impl Into<String>) -> Self {
        self.continue_token = Some(token.into());
        self
    }

    /// Read at a past revision.
    #[must_use]
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }
}

/// One page of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResult {
    /// The items, in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at (the store's revision for a read at
    /// the latest).
    pub revision: Revision,
    /// Present when more items remain: pass it to the next call.
    pub continue_token: Option<String>,
    /// How many items remain after this page, when known.
    pub remaining: Option<i64>,
}

/// A watch: a stream of events in revision order. It ends with an error when
/// the watcher lagged ([`Error::Lagged`]) or the backend failed.
///
/// Events are shared: a backend hands every watcher of a change the same
/// `Arc<Event>`, so fanning an event out to many watchers costs a
/// reference-count bump per watcher. Read fields through the `Arc`; clone a
/// field (cheap: see [`KeyValue`]) or the event
/// ([`Arc::unwrap_or_clone`]) to own it.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Arc<Event>>> + Send>>;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key does not exist.
    #[error("key {key:?} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// `create` of a key that exists.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// The key's `mod_revision` is not the expected one.
    #[error("key {key:?} was modified: expected revision {expected}, current {current}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The key's current `mod_revision` (0 when it no longer exists).
        current: Revision,
    },
    /// The requested revision is older than the retained history.
    #[error("revision {requested} has been compacted; oldest available is {compacted}")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The store's compacted revision.
        compacted: Revision,
    },
    /// A revision in the future.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// A watcher fell too far behind and its buffer overflowed: list again and
    /// watch from the list's revision.
    #[error("watcher fell behind at revision {revision}; re-list and watch again")]
    Lagged {
        /// The revision up to which the watcher had delivered every event of
        /// its prefix.
        revision: Revision,
    },
    /// The value exceeds the store's size limit.
    #[error("value for key {key:?} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The key.
        key: String,
        /// The value's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A malformed argument, such as a bad continue token.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The operation is not supported by this backend.
    #[error("operation not supported: {0}")]
    Unsupported(&'static str),
    /// The backend cannot be reached or failed.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// The result type of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A revisioned key-value store with watch. See the [module docs](self) for
/// the guarantees every implementation keeps; `store::conformance` (feature
/// `test-util`) checks them.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Read one key at the latest revision.
    async fn get(&self, key: &str) -> Result<KeyValue>;

    /// List the keys starting with `prefix` (a plain string prefix: `/a`
    /// also lists `/ab`), in key order. A read at a revision older than the
    /// compacted one fails with [`Error::Compacted`], at a revision newer than
    /// the current one with [`Error::FutureRevision`], and a continue token
    /// the store did not issue with [`Error::InvalidArgument`].
    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult>;

    /// Create a key; fails with [`Error::AlreadyExists`] if it exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Create a key or replace its value, whatever its revision (etcd's
    /// `Put`). Returns the new key-value: on a create `version` is 1 and
    /// `create_revision == mod_revision`; on a replace `create_revision` is
    /// kept and `version` goes up by one. The watch event carries the
    /// replaced key-value as `prev` (none on a create).
    async fn put(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replace a key's value if its `mod_revision` is `expected`; fails with
    /// [`Error::Conflict`] otherwise and [`Error::NotFound`] if it is absent.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Delete a key, if `expected` is given only when its `mod_revision`
    /// matches. Returns the deleted key-value.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Watch the keys starting with `prefix`: every event with a revision
    /// greater than `from_revision`, in order. `from_revision = 0` watches
    /// from the current revision on: the stream then holds every write made
    /// after this call returned. A `from_revision` older than the compacted
    /// revision fails with [`Error::Compacted`], one newer than the current
    /// revision with [`Error::FutureRevision`]; a backend that learns this
    /// from its server may instead return a stream whose only item is that
    /// error.
    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream>;

    /// The store's current revision (that of the last write).
    async fn current_revision(&self) -> Result<Revision>;

    /// Discard history up to `revision`; reads and watches before it then fail
    /// with [`Error::Compacted`]. As etcd, compacting at or below the
    /// compacted revision fails with [`Error::Compacted`] and above the
    /// current one with [`Error::FutureRevision`].
    async fn compact(&self, revision: Revision) -> Result<()>;
}
