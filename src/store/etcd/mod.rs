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
//! | [`put`](Store::put) | `Put` with `prev_kv`: the previous key-value gives the new `create_revision` and `version` |
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
mod retry;
mod token;
mod watch;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, KvClient, PutOptions,
    Txn, TxnOp, TxnOpResponse, TxnResponse, WatchClient, WatchOptions,
};
use tokio::time::{timeout, Instant};
use tracing::{debug, warn};

use super::{
    Error, Key, KeyValue, ListOptions, ListResult, Result, Revision, Store, WatchStream,
    DEFAULT_MAX_VALUE_BYTES,
};
use retry::{classify, timeout_at, Backoff, Failed, Kind, Retry};
use token::ContinueToken;

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

    fn user_key(&self, full: &[u8]) -> Key {
        let key = full
            .strip_prefix(self.inner.prefix.as_slice())
            .unwrap_or(full);
        match std::str::from_utf8(key) {
            Ok(key) => Key::from(key),
            Err(_) => {
                // Only another writer can put such a key under our prefix.
                warn!(key = ?key, "etcd key is not UTF-8");
                Key::from(String::from_utf8_lossy(key).into_owned())
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
            key: Key::from(key),
            value,
            create_revision: revision,
            mod_revision: revision,
            version: 1,
        })
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        validate_key(key)?;
        self.check_size(key, &value)?;
        let full = self.full_key(key);
        let bytes = value.to_vec();
        // A plain put, as cheap as etcd writes get; the previous key-value
        // (read in the same apply) gives the new create revision and version.
        let resp = self
            .call(Retry::Write, |mut kv| {
                let (full, bytes) = (full.clone(), bytes.clone());
                async move {
                    kv.put(full, bytes, Some(PutOptions::new().with_prev_key()))
                        .await
                }
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
            Err(failed) => return Err(self.failure("put", failed, 0).await),
        };
        let revision = header_revision(resp.header())?;
        let (create_revision, version) = match resp.prev_key() {
            Some(prev) => (prev.create_revision(), prev.version() + 1),
            None => (revision, 1),
        };
        Ok(KeyValue {
            key: Key::from(key),
            value,
            create_revision,
            mod_revision: revision,
            version,
        })
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        validate_key(key)?;
        self.check_size(key, &value)?;
        let full = self.full_key(key);
        // On success the put returns the previous key-value, whose revisions
        // give the new ones (no extra read); on failure, read the current
        // revision.
        let txn = Txn::new()
            .when(cas_compares(&full, expected))
            .and_then([TxnOp::put(
                full.clone(),
                value.to_vec(),
                Some(PutOptions::new().with_prev_key()),
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
            Err(Failed::Etcd(_, Kind::TooLarge)) => {
                return Err(Error::TooLarge {
                    key: key.to_owned(),
                    size: value.len(),
                    limit: self.inner.config.max_value_bytes,
                })
            }
            Err(failed) => return Err(self.failure("update", failed, 0).await),
        };
        if !resp.succeeded() {
            let current = first_range(&resp).and_then(|get| get.kvs().first().cloned());
            return Err(Self::compare_failed(
                key,
                expected,
                current.map(|kv| kv.mod_revision()),
            ));
        }
        let revision = header_revision(resp.header())?;
        let previous = resp.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Put(put) => put
                .prev_key()
                .map(|kv| (kv.create_revision(), kv.version())),
            _ => None,
        });
        let (create_revision, version) = match previous {
            Some((create_revision, version)) => (create_revision, version + 1),
            // Not reachable: the compare required the key to exist. Keep the
            // answer well-formed anyway.
            None => (revision, 1),
        };
        Ok(KeyValue {
            key: Key::from(key),
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
        watch::start(self.clone(), key, range_end, from_revision, prefix).await
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
}
