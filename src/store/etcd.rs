//! [`EtcdStore`]: the [`Store`] on a real etcd cluster (feature `etcd`).
//!
//! etcd is the distributed key-value store Kubernetes keeps its state in: a
//! raft-replicated, multi-version store with one global revision, transactions
//! and watches. `EtcdStore` maps the [`Store`] trait onto etcd's v3 API one to
//! one, so every guarantee of the trait is one of etcd's own; nothing here is a
//! home-made consensus or cache.
//!
//! # Starting etcd
//!
//! Any etcd 3.4 or newer works (Debian: `apt-get install etcd-server`). One
//! member on loopback is enough for development:
//!
//! ```text
//! etcd --name s1 --data-dir /tmp/etcd-s1 \
//!   --listen-client-urls http://127.0.0.1:2379 \
//!   --advertise-client-urls http://127.0.0.1:2379 \
//!   --max-request-bytes 2621440
//! ```
//!
//! etcd refuses requests larger than `--max-request-bytes` (1.5 MiB by
//! default); a put carries the key and some framing besides the value, so give
//! etcd some room above [`Config::max_value_bytes`] (as above) if values may
//! come close to the limit. Production clusters have three or five members;
//! pass all of their client URLs as endpoints.
//!
//! Tests and benchmarks can start throwaway members and clusters with the
//! helpers in `store::etcd_process` (features `etcd` and `test-util`).
//!
//! # Configuring the store
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use keelson::store::{etcd, EtcdStore, Store};
//!
//! # async fn example() -> Result<(), keelson::store::Error> {
//! let config = etcd::Config::default()
//!     .endpoints(["http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"])
//!     .prefix("/keelson") // every key lives under this prefix in etcd
//!     .request_timeout(Duration::from_secs(5));
//! let store = EtcdStore::connect(config).await?;
//!
//! let created = store.create("/pods/default/web-0", Bytes::from_static(b"{}")).await?;
//! // Compare-and-swap on the revision we last saw.
//! let updated = store
//!     .update("/pods/default/web-0", Bytes::from_static(b"{\"x\":1}"), created.mod_revision)
//!     .await?;
//! assert!(updated.mod_revision > created.mod_revision);
//! # Ok(())
//! # }
//! ```
//!
//! # How the guarantees map onto etcd
//!
//! | [`Store`] | etcd |
//! |---|---|
//! | keys | `prefix + key`; the prefix is stripped from every key returned |
//! | revisions | etcd's global revision; `mod_revision`, `create_revision` and `version` are etcd's |
//! | [`create`](Store::create) | `Txn(create_revision(key) == 0) → Put`, else [`Error::AlreadyExists`] |
//! | [`update`](Store::update) | `Txn(mod_revision(key) == expected) → Put` (and `create_revision(key) > 0` when `expected` is 0), else a read tells [`Error::Conflict`] (with the current revision) from [`Error::NotFound`] |
//! | [`delete`](Store::delete) | `DeleteRange` with `prev_kv`, inside the same kind of transaction when a revision is expected |
//! | [`list`](Store::list) | `Range` over the prefix with `limit`, at the revision of the first page; the continue token holds the next key and that revision |
//! | [`watch`](Store::watch) | `Watch` with `start_revision = from_revision + 1` and `prev_kv`, after a read at that revision checks it is neither compacted nor in the future |
//! | [`compact`](Store::compact) | `Compact`; older reads fail with etcd's "required revision has been compacted", mapped to [`Error::Compacted`] |
//! | reads in the future | etcd's "required revision is a future revision" → [`Error::FutureRevision`] |
//! | value size | checked here against [`Config::max_value_bytes`], and etcd's "request is too large" → [`Error::TooLarge`] |
//! | unreachable cluster, timeouts | [`Error::Unavailable`] |
//!
//! Reads are linearizable (etcd's default), so a read after a successful
//! write, from any client, sees it.
//!
//! Differences from [`Store`]'s letter worth knowing, all etcd's own:
//!
//! - Compaction keeps the compaction revision itself: after `compact(r)`,
//!   reads at `r` and watches from `r - 1` still work; anything older fails.
//!   Compacting to a revision at or below an earlier compaction fails with
//!   [`Error::Compacted`], to one beyond the current revision with
//!   [`Error::FutureRevision`].
//! - A watch from a revision after the current one fails with
//!   [`Error::FutureRevision`], as in the other backends (etcd itself would
//!   wait for it; the store does so only when it re-opens a broken watch on
//!   a member that is behind).
//! - [`watch`](Store::watch) checks for a compacted start before it returns;
//!   if a compaction races with the opening, the stream's first item is
//!   [`Error::Compacted`] instead.
//! - The key prefix is prepended verbatim, like etcd's namespaces: with a
//!   prefix `/a`, the keys of a store with prefix `/ab` look like keys
//!   starting with `b`. Give stores sharing a cluster prefixes that do not
//!   extend one another (`/app-1/`, `/app-2/`, or fixed-width names).
//! - [`delete`](Store::delete) returns the key-value as it was before the
//!   delete (its `mod_revision` is that of its last write).
//!
//! # Failover
//!
//! The client balances requests over all endpoints and requires the member
//! it talks to to have a leader, so a member that is down or cut off from the
//! cluster answers quickly with an error instead of serving stale data.
//!
//! - **Reads** (get, list, current revision) and opening a watch are retried
//!   on another member until [`Config::request_timeout`] runs out.
//! - **Writes** are retried only when the request demonstrably never reached
//!   etcd (the connection was refused, or the member had no leader). A write
//!   that may have been applied (the member died while it was in flight) fails
//!   with [`Error::Unavailable`] and the caller decides, as with etcd's own
//!   client: a write that returned `Ok` is durable; one that failed may or may
//!   not have happened.
//! - **Watches** survive member failures: when the stream breaks, the store
//!   opens a new one on any live member from the last delivered revision + 1,
//!   so no event is lost or delivered twice. If no member answers for
//!   [`Config::watch_retry_timeout`], the stream ends with
//!   [`Error::Unavailable`]; if the history was compacted meanwhile, with
//!   [`Error::Compacted`].
//! - **Slow watchers** never hold etcd back: each watch has a buffer of
//!   [`Config::watch_buffer`] events, and when it is full the stream ends with
//!   [`Error::Lagged`] after the events already buffered.
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, KvClient,
    Txn, TxnOp, TxnOpResponse, TxnResponse, WatchClient, WatchOptions, WatchResponse,
};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};
use tracing::{debug, warn, Instrument};

use super::{
    Error, Event, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, Store,
    WatchStream, DEFAULT_MAX_VALUE_BYTES,
};

/// How an [`EtcdStore`] reaches etcd and what it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Client URLs of the etcd members, such as `http://127.0.0.1:2379`. Give
    /// all members so that the store can fail over.
    pub endpoints: Vec<String>,
    /// Prepended to every key in etcd and stripped from every key returned,
    /// so that several stores (or applications) can share one cluster. It
    /// is prepended verbatim: see the [module docs](self) on choosing
    /// prefixes that do not extend one another. Empty by default.
    pub prefix: String,
    /// The largest value accepted; larger ones fail with [`Error::TooLarge`]
    /// before they are sent. Default [`DEFAULT_MAX_VALUE_BYTES`] (etcd's
    /// default request limit).
    pub max_value_bytes: usize,
    /// The largest response accepted from etcd (a big list, a burst of watch
    /// events). Default 2 GiB.
    pub max_response_bytes: usize,
    /// How long one operation may take, retries included. Default 5 s.
    pub request_timeout: Duration,
    /// How long connecting to one member may take. Default 2 s.
    pub connect_timeout: Duration,
    /// HTTP/2 keep-alive ping interval on connections with open streams, to
    /// notice dead members behind silent networks. etcd refuses pings more
    /// often than its `--grpc-keepalive-min-time` (5 s by default). Default
    /// 10 s.
    pub keep_alive_interval: Duration,
    /// How long to wait for a keep-alive answer before dropping the
    /// connection. Default 5 s.
    pub keep_alive_timeout: Duration,
    /// Events buffered per watch for a slow consumer; when the buffer is full
    /// the watch ends with [`Error::Lagged`]. Default 1024.
    pub watch_buffer: usize,
    /// How long a broken watch keeps trying to re-open on some member before
    /// it ends with [`Error::Unavailable`]. Default 60 s.
    pub watch_retry_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: String::new(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            max_response_bytes: i32::MAX as usize,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            keep_alive_interval: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            watch_buffer: 1024,
            watch_retry_timeout: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Set the members' client URLs.
    #[must_use]
    pub fn endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.endpoints = endpoints.into_iter().map(Into::into).collect();
        self
    }

    /// Set the key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Set the largest value accepted.
    #[must_use]
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Set the largest response accepted.
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Set the time limit of one operation, retries included.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Set the time limit for connecting to one member.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Set the HTTP/2 keep-alive interval and timeout.
    #[must_use]
    pub fn keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive_interval = interval;
        self.keep_alive_timeout = timeout;
        self
    }

    /// Set how many events a watch buffers for a slow consumer.
    #[must_use]
    pub fn watch_buffer(mut self, events: usize) -> Self {
        self.watch_buffer = events;
        self
    }

    /// Set how long a broken watch keeps trying to re-open.
    #[must_use]
    pub fn watch_retry_timeout(mut self, timeout: Duration) -> Self {
        self.watch_retry_timeout = timeout;
        self
    }
}

/// The [`Store`] on etcd. See the [module docs](self).
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct EtcdStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    prefix: Vec<u8>,
    kv: KvClient,
    watch: WatchClient,
    /// The highest compaction revision this store has seen, for error
    /// reports when etcd does not say.
    compacted: AtomicI64,
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.inner.config.endpoints)
            .field("prefix", &self.inner.config.prefix)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connect to the cluster and check that it answers (a read of the
    /// current revision), so that a wrong endpoint fails here with
    /// [`Error::Unavailable`] rather than on first use.
    pub async fn connect(config: Config) -> Result<Self> {
        if config.endpoints.is_empty() {
            return Err(Error::InvalidArgument("no etcd endpoints given".into()));
        }
        if config.watch_buffer == 0 {
            return Err(Error::InvalidArgument(
                "watch_buffer must be at least 1".into(),
            ));
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(config.connect_timeout)
            .with_keep_alive(config.keep_alive_interval, config.keep_alive_timeout)
            // etcd closes connections that ping while idle (GOAWAY
            // "too_many_pings"), so ping only while a stream is open.
            .with_keep_alive_while_idle(false)
            // A member without a leader refuses requests and closes watches,
            // so the store moves to a member that is part of a quorum.
            .with_require_leader(true);
        let client = match timeout(
            config.connect_timeout,
            Client::connect(&config.endpoints, Some(options)),
        )
        .await
        {
            Ok(Ok(client)) => client,
            Ok(Err(etcd_client::Error::InvalidUri(err))) => {
                return Err(Error::InvalidArgument(format!(
                    "bad etcd endpoint in {:?}: {err}",
                    config.endpoints
                )))
            }
            Ok(Err(err)) => return Err(unavailable("connecting to etcd", err)),
            Err(_) => {
                return Err(Error::Unavailable {
                    message: format!("connecting to etcd at {:?} timed out", config.endpoints),
                    source: None,
                })
            }
        };
        let kv = client
            .kv_client()
            .max_decoding_message_size(config.max_response_bytes);
        let watch = client
            .watch_client()
            .max_decoding_message_size(config.max_response_bytes);
        let store = Self {
            inner: Arc::new(Inner {
                prefix: config.prefix.as_bytes().to_vec(),
                config,
                kv,
                watch,
                compacted: AtomicI64::new(0),
            }),
        };
        store.current_revision().await?;
        Ok(store)
    }

    /// The configuration the store was connected with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    fn full_key(&self, key: &str) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.inner.prefix.len() + key.len());
        full.extend_from_slice(&self.inner.prefix);
        full.extend_from_slice(key.as_bytes());
        full
    }

    fn user_key(&self, full: &[u8]) -> String {
        let key = full
            .strip_prefix(self.inner.prefix.as_slice())
            .unwrap_or(full);
        match std::str::from_utf8(key) {
            Ok(key) => key.to_owned(),
            Err(_) => {
                // Only another writer can put such a key under our prefix.
                warn!(key = ?key, "etcd key is not UTF-8");
                String::from_utf8_lossy(key).into_owned()
            }
        }
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> KeyValue {
        KeyValue {
            key: self.user_key(kv.key()),
            value: Bytes::copy_from_slice(kv.value()),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
            version: kv.version(),
        }
    }

    fn owned_key_value(&self, kv: etcd_client::KeyValue) -> KeyValue {
        let (create_revision, mod_revision, version) =
            (kv.create_revision(), kv.mod_revision(), kv.version());
        let (key, value) = kv.into_key_value();
        KeyValue {
            key: self.user_key(&key),
            value: Bytes::from(value),
            create_revision,
            mod_revision,
            version,
        }
    }

    fn check_size(&self, key: &str, value: &Bytes) -> Result<()> {
        let limit = self.inner.config.max_value_bytes;
        if value.len() > limit {
            return Err(Error::TooLarge {
                key: key.to_owned(),
                size: value.len(),
                limit,
            });
        }
        Ok(())
    }

    /// Run one etcd request, retrying it on other members while that is
    /// safe (see [`Retry`]) and time remains.
    async fn call<T, F, Fut>(&self, retry: Retry, mut op: F) -> Result<T, Failed>
    where
        F: FnMut(KvClient) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.inner.config.request_timeout;
        let mut backoff = Backoff::new();
        loop {
            let attempt = timeout_at(deadline, op(self.inner.kv.clone())).await;
            match attempt {
                None => return Err(Failed::TimedOut),
                Some(Ok(value)) => return Ok(value),
                Some(Err(err)) => {
                    let kind = classify(&err);
                    if !retry.allows(kind) || Instant::now() + backoff.peek() >= deadline {
                        return Err(Failed::Etcd(err, kind));
                    }
                    debug!(error = %err, "etcd request failed; retrying");
                    backoff.wait().await;
                }
            }
        }
    }

    /// The error for a request that failed for reasons other than the
    /// operation's own outcome.
    async fn failure(&self, what: &str, failed: Failed, revision: Revision) -> Error {
        match failed {
            Failed::TimedOut => Error::Unavailable {
                message: format!(
                    "{what}: no answer from etcd within {:?}",
                    self.inner.config.request_timeout
                ),
                source: None,
            },
            Failed::Etcd(_, Kind::Compacted) => Error::Compacted {
                requested: revision,
                compacted: self.compacted_revision().await,
            },
            Failed::Etcd(err, Kind::FutureRevision) => match self.current_revision().await {
                Ok(current) => Error::FutureRevision {
                    requested: revision,
                    current,
                },
                Err(_) => unavailable(what, err),
            },
            Failed::Etcd(err, _) => unavailable(what, err),
        }
    }

    /// The revision etcd compacted to. etcd 3.4 reports it only to watchers
    /// that start before it, so ask with a watch from revision 1 on a key
    /// nobody writes; fall back to the highest compaction seen here.
    async fn compacted_revision(&self) -> Revision {
        let known = self.inner.compacted.load(Ordering::Relaxed);
        let probe = async {
            let mut key = self.inner.prefix.clone();
            key.extend_from_slice(b"\0keelson-compaction-probe");
            let mut client = self.inner.watch.clone();
            let options = WatchOptions::new().with_start_revision(1);
            let mut stream = client.watch(key, Some(options)).await.ok()?;
            while let Ok(Some(resp)) = stream.message().await {
                if resp.compact_revision() > 0 {
                    return Some(resp.compact_revision());
                }
                if resp.canceled() {
                    return None;
                }
            }
            None
        };
        let wait = self
            .inner
            .config
            .request_timeout
            .min(Duration::from_secs(1));
        match timeout(wait, probe).await {
            Ok(Some(revision)) => {
                self.inner.compacted.fetch_max(revision, Ordering::Relaxed);
                revision.max(known)
            }
            _ => known,
        }
    }

    /// The error for a failed compare-and-swap: the key is absent, or its
    /// revision is not the expected one.
    fn compare_failed(key: &str, expected: Revision, current: Option<Revision>) -> Error {
        match current {
            None => Error::NotFound {
                key: key.to_owned(),
            },
            Some(current) => Error::Conflict {
                key: key.to_owned(),
                expected,
                current,
            },
        }
    }
}

fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("empty key".into()));
    }
    Ok(())
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header
        .map(etcd_client::ResponseHeader::revision)
        .ok_or_else(|| Error::Unavailable {
            message: "etcd response without a header".into(),
            source: None,
        })
}

fn unavailable(what: &str, err: etcd_client::Error) -> Error {
    Error::Unavailable {
        message: format!("{what}: {err}"),
        source: Some(Box::new(err)),
    }
}

/// The end of the key range holding every key that starts with `prefix`
/// (etcd's `range_end`); `\0` (all keys from the start) when no key is
/// larger.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The compares of a compare-and-swap on `full`'s `mod_revision`. An absent
/// key has `mod_revision` 0, so for a positive `expected` the revision alone
/// proves the key exists (one compare is cheaper for etcd); for 0 the
/// existence must be checked too, or an update would create the key.
fn cas_compares(full: &[u8], expected: Revision) -> Vec<Compare> {
    let mut compares = Vec::with_capacity(2);
    if expected <= 0 {
        compares.push(Compare::create_revision(full, CompareOp::Greater, 0));
    }
    compares.push(Compare::mod_revision(full, CompareOp::Equal, expected));
    compares
}

/// The first result of a transaction's chosen branch, when it is a range.
fn first_range(resp: &TxnResponse) -> Option<etcd_client::GetResponse> {
    resp.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => Some(get),
        _ => None,
    })
}

/// Where a paginated list continues: the next key (without the store's
/// prefix) and the revision of the first page. Serialized as URL-safe
/// base64 of JSON, opaque to callers.
#[derive(Serialize, Deserialize)]
struct ContinueToken {
    rev: Revision,
    start: String,
}

impl ContinueToken {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(token: &str) -> Result<Self> {
        let bad = |why: String| Error::InvalidArgument(format!("bad continue token: {why}"));
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|e| bad(e.to_string()))?;
        let token: Self = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
        if token.rev <= 0 {
            return Err(bad(format!("revision {}", token.rev)));
        }
        Ok(token)
    }
}

/// What kind of failure an etcd error is, for retries and error mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The request never reached a member that could apply it: retrying is
    /// safe for any request.
    NotSent,
    /// Transient, but a write may have been applied: retry reads only.
    Transient,
    /// etcd's "required revision has been compacted".
    Compacted,
    /// etcd's "required revision is a future revision".
    FutureRevision,
    /// etcd's "request is too large".
    TooLarge,
    /// Anything else; not retried.
    Permanent,
}

fn classify(err: &etcd_client::Error) -> Kind {
    use tonic::Code;
    match err {
        etcd_client::Error::GRpcStatus(status) => {
            let message = status.message();
            if message.contains("required revision has been compacted") {
                Kind::Compacted
            } else if message.contains("required revision is a future revision") {
                Kind::FutureRevision
            } else if message.contains("request is too large")
                || (status.code() == Code::ResourceExhausted && message.contains("larger than max"))
            {
                Kind::TooLarge
            } else if message.contains("no leader")
                || message.contains("too many requests")
                || is_connect_error(message)
            {
                // "no leader" is the require-leader check, made before the
                // request is proposed.
                Kind::NotSent
            } else {
                match status.code() {
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Unknown
                    | Code::Aborted
                    | Code::Cancelled
                    | Code::Internal => Kind::Transient,
                    _ => Kind::Permanent,
                }
            }
        }
        etcd_client::Error::TransportError(err) if is_connect_error(&err.to_string()) => {
            Kind::NotSent
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => Kind::Transient,
        _ => Kind::Permanent,
    }
}

/// Whether a transport error happened while connecting, before the request
/// was written.
fn is_connect_error(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("connection refused")
        || message.contains("tcp connect error")
        || message.contains("error trying to connect")
        || message.contains("connect timed out")
}

/// Which failures a request may be retried on.
#[derive(Clone, Copy, Debug)]
enum Retry {
    /// Reads: any transient failure.
    Read,
    /// Writes: only failures where the request never got to etcd.
    Write,
}

impl Retry {
    fn allows(self, kind: Kind) -> bool {
        match self {
            Retry::Read => matches!(kind, Kind::NotSent | Kind::Transient),
            Retry::Write => kind == Kind::NotSent,
        }
    }
}

/// Why an etcd request finally failed.
enum Failed {
    Etcd(etcd_client::Error, Kind),
    TimedOut,
}

/// Exponential backoff between retries: 10 ms doubling to 500 ms.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(Duration::from_millis(10))
    }

    fn peek(&self) -> Duration {
        self.0
    }

    async fn wait(&mut self) {
        sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_millis(500));
    }
}

/// `None` when `deadline` passed first.
async fn timeout_at<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, future).await.ok()
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<KeyValue> {
        validate_key(key)?;
        let full = self.full_key(key);
        let resp = self
            .call(Retry::Read, |mut kv| {
                let full = full.clone();
                async move { kv.get(full, None).await }
            })
            .await;
        let mut resp = match resp {
            Ok(resp) => resp,
            Err(failed) => return Err(self.failure("get", failed, 0).await),
        };
        match resp.take_kvs().into_iter().next() {
            Some(kv) => Ok(self.owned_key_value(kv)),
            None => Err(Error::NotFound {
                key: key.to_owned(),
            }),
        }
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult> {
        if options.revision < 0 {
            return Err(Error::InvalidArgument(format!(
                "negative revision {}",
                options.revision
            )));
        }
        let (start, revision) = match options.continue_token.as_deref() {
            Some(token) => {
                let token = ContinueToken::decode(token)?;
                if !token.start.starts_with(prefix) {
                    return Err(Error::InvalidArgument(format!(
                        "continue token for key {:?} does not belong to prefix {prefix:?}",
                        token.start
                    )));
                }
                if options.revision != 0 && options.revision != token.rev {
                    return Err(Error::InvalidArgument(format!(
                        "revision {} conflicts with the continue token's revision {}",
                        options.revision, token.rev
                    )));
                }
                (token.start, token.rev)
            }
            None => (prefix.to_owned(), options.revision),
        };
        let start = self.full_key(&start);
        let end = prefix_end(&self.full_key(prefix));
        let limit = i64::try_from(options.limit).unwrap_or(i64::MAX);
        let resp = self
            .call(Retry::Read, |mut kv| {
                let mut get = GetOptions::new().with_range(end.clone());
                if limit > 0 {
                    get = get.with_limit(limit);
                }
                if revision > 0 {
                    get = get.with_revision(revision);
                }
                let start = start.clone();
                async move { kv.get(start, Some(get)).await }
            })
            .await;
        let mut resp = match resp {
            Ok(resp) => resp,
            Err(failed) => return Err(self.failure("list", failed, revision).await),
        };
        let read_at = if revision > 0 {
            revision
        } else {
            header_revision(resp.header())?
        };
        let (more, count) = (resp.more(), resp.count());
        let items: Vec<KeyValue> = resp
            .take_kvs()
            .into_iter()
            .map(|kv| self.owned_key_value(kv))
            .collect();
        let continue_token = match items.last() {
            Some(last) if more => Some(
                ContinueToken {
                    rev: read_at,
                    start: format!("{}\0", last.key),
                }
                .encode(),
            ),
            _ => None,
        };
        let returned = i64::try_from(items.len()).unwrap_or(i64::MAX);
        Ok(ListResult {
            items,
            revision: read_at,
            continue_token,
            remaining: Some(count.saturating_sub(returned).max(0)),
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        validate_key(key)?;
        self.check_size(key, &value)?;
        let full = self.full_key(key);
        let txn = Txn::new()
            .when([Compare::create_revision(full.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(full, value.to_vec(), None)]);
        let resp = self
            .call(Retry::Write, |mut kv| {
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })
            .await;
        let resp = match resp {
            Ok(resp) => resp,
            Err(Failed::Etcd(_, Kind::TooLarge)) => {
                return Err(Error::TooLarge {
                    key: key.to_owned(),
                    size: value.len(),
                    limit: self.inner.config.max_value_bytes,
                })
            }
            Err(failed) => return Err(self.failure("create", failed, 0).await),
        };
        if !resp.succeeded() {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
        let revision = header_revision(resp.header())?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
            version: 1,
        })
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        validate_key(key)?;
        self.check_size(key, &value)?;
        let full = self.full_key(key);
        // On success, read back the key's revisions (not its value) in the
        // same transaction; on failure, its current revision.
        let txn = Txn::new()
            .when(cas_compares(&full, expected))
            .and_then([
                TxnOp::put(full.clone(), value.to_vec(), None),
                TxnOp::get(full.clone(), Some(GetOptions::new().with_keys_only())),
            ])
            .or_else([TxnOp::get(full, Some(GetOptions::new().with_keys_only()))]);
        let resp = self
            .call(Retry::Write, |mut kv| {
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })
            .await;
        let resp = match resp {
            Ok(resp) => resp,
            Err(Failed::Etcd(_, Kind::TooLarge)) => {
                return Err(Error::TooLarge {
                    key: key.to_owned(),
                    size: value.len(),
                    limit: self.inner.config.max_value_bytes,
                })
            }
            Err(failed) => return Err(self.failure("update", failed, 0).await),
        };
        let current = first_range(&resp).and_then(|get| get.kvs().first().cloned());
        if !resp.succeeded() {
            return Err(Self::compare_failed(
                key,
                expected,
                current.map(|kv| kv.mod_revision()),
            ));
        }
        let revision = header_revision(resp.header())?;
        let (create_revision, version) = match current {
            Some(kv) => (kv.create_revision(), kv.version()),
            // Not reachable with etcd's transaction semantics; keep the
            // answer well-formed anyway.
            None => (revision, 1),
        };
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision: revision,
            version,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        validate_key(key)?;
        let full = self.full_key(key);
        let Some(expected) = expected else {
            let resp = self
                .call(Retry::Write, |mut kv| {
                    let full = full.clone();
                    async move {
                        kv.delete(full, Some(DeleteOptions::new().with_prev_key()))
                            .await
                    }
                })
                .await;
            let mut resp = match resp {
                Ok(resp) => resp,
                Err(failed) => return Err(self.failure("delete", failed, 0).await),
            };
            return match resp.take_prev_kvs().into_iter().next() {
                Some(kv) => Ok(self.owned_key_value(kv)),
                None => Err(Error::NotFound {
                    key: key.to_owned(),
                }),
            };
        };
        let txn = Txn::new()
            .when(cas_compares(&full, expected))
            .and_then([TxnOp::delete(
                full.clone(),
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(full, Some(GetOptions::new().with_keys_only()))]);
        let resp = self
            .call(Retry::Write, |mut kv| {
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })
            .await;
        let resp = match resp {
            Ok(resp) => resp,
            Err(failed) => return Err(self.failure("delete", failed, 0).await),
        };
        if !resp.succeeded() {
            let current = first_range(&resp)
                .and_then(|get| get.kvs().first().map(etcd_client::KeyValue::mod_revision));
            return Err(Self::compare_failed(key, expected, current));
        }
        let deleted = resp.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Delete(mut delete) => delete.take_prev_kvs().into_iter().next(),
            _ => None,
        });
        match deleted {
            Some(kv) => Ok(self.owned_key_value(kv)),
            // The compare proved the key existed in this transaction.
            None => Err(Error::Unavailable {
                message: format!("etcd deleted {key:?} but returned no previous value"),
                source: None,
            }),
        }
    }

    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        if from_revision < 0 {
            return Err(Error::InvalidArgument(format!(
                "negative revision {from_revision}"
            )));
        }
        let key = self.full_key(prefix);
        let range_end = prefix_end(&key);
        if from_revision > 0 {
            // etcd reports a compacted start only asynchronously, after the
            // watch was created, and accepts starts in the future; a read at
            // the start revision tells both, synchronously.
            let probe_key = if key.is_empty() { vec![0] } else { key.clone() };
            let resp = self
                .call(Retry::Read, |mut kv| {
                    let options = GetOptions::new()
                        .with_range(range_end.clone())
                        .with_count_only()
                        .with_revision(from_revision + 1);
                    let probe_key = probe_key.clone();
                    async move { kv.get(probe_key, Some(options)).await }
                })
                .await;
            match resp {
                Ok(_) => {}
                Err(Failed::Etcd(_, Kind::FutureRevision)) => {
                    // The start is after the current revision: fine when
                    // watching from the current revision itself.
                    let current = self.current_revision().await?;
                    if from_revision > current {
                        return Err(Error::FutureRevision {
                            requested: from_revision,
                            current,
                        });
                    }
                }
                Err(failed) => return Err(self.failure("watch", failed, from_revision).await),
            }
        }
        let mut task = WatchTask {
            store: self.clone(),
            key: if key.is_empty() { vec![0] } else { key },
            range_end,
            resume: from_revision,
            window_start: from_revision + 1,
            tx: None,
            terminal: Arc::new(Mutex::new(None)),
        };
        let deadline = Instant::now() + self.inner.config.request_timeout;
        let (stream, created) = task.open_until(deadline).await?;
        if from_revision == 0 {
            task.resume = created;
            task.window_start = created + 1;
        }
        let (tx, rx) = mpsc::channel(self.inner.config.watch_buffer);
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

    async fn current_revision(&self) -> Result<Revision> {
        let key = if self.inner.prefix.is_empty() {
            vec![0]
        } else {
            self.inner.prefix.clone()
        };
        let resp = self
            .call(Retry::Read, |mut kv| {
                let key = key.clone();
                async move { kv.get(key, Some(GetOptions::new().with_count_only())).await }
            })
            .await;
        match resp {
            Ok(resp) => header_revision(resp.header()),
            Err(failed) => Err(self
                .failure("reading the current revision", failed, 0)
                .await),
        }
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        if revision <= 0 {
            return Err(Error::InvalidArgument(format!(
                "cannot compact to revision {revision}"
            )));
        }
        // Compaction is idempotent, so it may be retried like a read.
        let resp = self
            .call(Retry::Read, |mut kv| async move {
                kv.compact(revision, None).await
            })
            .await;
        match resp {
            Ok(_) => {
                self.inner.compacted.fetch_max(revision, Ordering::Relaxed);
                Ok(())
            }
            Err(failed) => Err(self.failure("compact", failed, revision).await),
        }
    }
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
    type Item = Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Some(Ok(event))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"/a", b"/b"),
            (b"/a/", b"/a0"),
            (b"a\xff", b"b"),
            (b"a\xff\xff", b"b"),
            (b"\xff", b"\0"),
            (b"", b"\0"),
        ];
        for (prefix, end) in cases {
            assert_eq!(prefix_end(prefix), end.to_vec(), "prefix {prefix:?}");
        }
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = ContinueToken {
            rev: 42,
            start: "/pods/a\0".into(),
        }
        .encode();
        let decoded = ContinueToken::decode(&token).expect("valid token");
        assert_eq!(decoded.rev, 42);
        assert_eq!(decoded.start, "/pods/a\0");
        for bad in ["", "!!!", "e30", "eyJyZXYiOjAsInN0YXJ0IjoiIn0"] {
            assert!(
                matches!(ContinueToken::decode(bad), Err(Error::InvalidArgument(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn config_setters_chain() {
        let config = Config::default()
            .endpoints(["http://a:1", "http://b:2"])
            .prefix("/p")
            .max_value_bytes(10)
            .watch_buffer(3)
            .request_timeout(Duration::from_millis(7));
        assert_eq!(config.endpoints, vec!["http://a:1", "http://b:2"]);
        assert_eq!(config.prefix, "/p");
        assert_eq!(config.max_value_bytes, 10);
        assert_eq!(config.watch_buffer, 3);
        assert_eq!(config.request_timeout, Duration::from_millis(7));
        assert_eq!(Config::default().max_value_bytes, DEFAULT_MAX_VALUE_BYTES);
    }

    #[test]
    fn etcd_errors_are_classified_by_code_and_message() {
        use tonic::{Code, Status};
        let cases = [
            (
                Code::OutOfRange,
                "etcdserver: mvcc: required revision has been compacted",
                Kind::Compacted,
            ),
            (
                Code::OutOfRange,
                "etcdserver: mvcc: required revision is a future revision",
                Kind::FutureRevision,
            ),
            (
                Code::InvalidArgument,
                "etcdserver: request is too large",
                Kind::TooLarge,
            ),
            (
                Code::ResourceExhausted,
                "grpc: received message larger than max (4194330 vs. 3145728)",
                Kind::TooLarge,
            ),
            (Code::Unavailable, "etcdserver: no leader", Kind::NotSent),
            (
                Code::Unavailable,
                "error trying to connect: tcp connect error: Connection refused (os error 111)",
                Kind::NotSent,
            ),
            (
                Code::Unavailable,
                "etcdserver: request timed out",
                Kind::Transient,
            ),
            (
                Code::Unavailable,
                "etcdserver: leader changed",
                Kind::Transient,
            ),
            (Code::Unknown, "h2 protocol error", Kind::Transient),
            (
                Code::InvalidArgument,
                "etcdserver: key is not provided",
                Kind::Permanent,
            ),
            (
                Code::PermissionDenied,
                "etcdserver: permission denied",
                Kind::Permanent,
            ),
        ];
        for (code, message, kind) in cases {
            let err = etcd_client::Error::GRpcStatus(Status::new(code, message));
            assert_eq!(classify(&err), kind, "{code:?} {message:?}");
        }
        assert_eq!(
            classify(&etcd_client::Error::InvalidArgs("x".into())),
            Kind::Permanent
        );
    }

    #[test]
    fn connect_errors_may_be_retried_for_writes() {
        assert!(is_connect_error(
            "error trying to connect: tcp connect error: Connection refused (os error 111)"
        ));
        assert!(!is_connect_error("etcdserver: request timed out"));
        assert!(Retry::Write.allows(Kind::NotSent));
        assert!(!Retry::Write.allows(Kind::Transient));
        assert!(Retry::Read.allows(Kind::Transient));
        assert!(!Retry::Read.allows(Kind::Compacted));
    }
}
