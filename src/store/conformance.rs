//! The conformance suite every [`Store`] must pass (feature `test-util`).
//!
//! Each case is an `async fn` taking a store and panicking, with a message
//! naming the case, when the store breaks a guarantee of the
//! [module docs](super). [`run_all`] runs every case, each against a fresh
//! store from a factory; a backend's test calls it once:
//!
//! ```
//! use keelson::store::{conformance, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // One case on its own...
//! conformance::prefix_isolation(&MemoryStore::new()).await;
//! // ...or the whole suite, a fresh store per case.
//! conformance::run_all(|| async { MemoryStore::new() }).await;
//! # }
//! ```
//!
//! # What a backend may and may not assume
//!
//! The suite only uses keys under `/` and only asks a store about the keys it
//! wrote, so a backend may hand each case a store confined to a fresh key
//! prefix of a shared server (as the etcd backend does). For the same reason
//! it never assumes that revisions start at 0 or advance by exactly one per
//! write: other clients of a shared server advance the revision too. It does
//! assume that nothing else writes under the store's keys, that values up to
//! [`DEFAULT_MAX_VALUE_BYTES`] are accepted and bigger ones refused (an etcd
//! server needs a `--max-request-bytes` above that, for the request's own
//! overhead), that a `compact` it asks for is not undone, and that a watch
//! sees every write made after `watch` returned, also from revision `0`.
//! A watch that must fail (from a compacted or a future revision) may fail
//! in `watch` itself or with its stream's first item.
//!
//! # Cases
//!
//! | case | checks |
//! |---|---|
//! | [`prefix_isolation`] | lists and watches of `/a/` never see `/ab` |
//! | [`create_get_update_delete`] | etcd's single-key semantics and errors |
//! | [`put_creates_or_replaces`] | unconditional put: revisions, version, watch events with `prev` |
//! | [`revision_monotonicity`] | every write gets a revision above all earlier ones |
//! | [`cas_races`] | concurrent read-modify-write with retry loses no update |
//! | [`watch_ordering`] | concurrent writers; each watcher gets every event once, in order |
//! | [`watch_prev_values`] | events carry the previous key-value |
//! | [`watch_resume`] | a watch from a past revision replays exactly what followed it |
//! | [`compaction`] | reads and watches before a compaction fail with `Compacted` |
//! | [`list_at_revision`] | a list at a past revision shows that revision's state |
//! | [`pagination`] | limit and continue, all pages at the first page's revision |
//! | [`large_values`] | values at the limit pass, over it fail with `TooLarge` |
//! | [`model_based`] | random operation sequences against a `BTreeMap` model (proptest) |
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use super::{
    Error, Event, EventKind, Key, KeyValue, ListOptions, Revision, Store, WatchStream,
    DEFAULT_MAX_VALUE_BYTES,
};

/// How long a case waits for an event it expects before failing.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many random sequences [`model_based`] runs.
const MODEL_CASES: u32 = 48;

/// Run every case, each against a fresh, empty store from `new_store`.
pub async fn run_all<S, F, Fut>(mut new_store: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    macro_rules! case {
        ($name:ident) => {{
            tracing::info!(case = stringify!($name), "store conformance");
            $name(&new_store().await).await;
        }};
    }
    case!(prefix_isolation);
    case!(create_get_update_delete);
    case!(put_creates_or_replaces);
    case!(revision_monotonicity);
    case!(cas_races);
    case!(watch_ordering);
    case!(watch_prev_values);
    case!(watch_resume);
    case!(compaction);
    case!(list_at_revision);
    case!(pagination);
    case!(large_values);
    case!(model_based);
}

fn val(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn must<T>(case: &str, what: &str, op: impl Future<Output = Result<T, Error>>) -> T {
    match op.await {
        Ok(v) => v,
        Err(e) => panic!("{case}: {what} failed: {e}"),
    }
}

async fn keys_of<S: Store>(case: &str, store: &S, prefix: &str) -> Vec<String> {
    let list = must(case, "list", store.list(prefix, ListOptions::default())).await;
    list.items.into_iter().map(|kv| kv.key.into()).collect()
}

async fn next_event(case: &str, watch: &mut WatchStream) -> Arc<Event> {
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("{case}: watch failed: {e}"),
        Ok(None) => panic!("{case}: watch ended"),
        Err(_) => panic!("{case}: no event within {EVENT_TIMEOUT:?}"),
    }
}

/// The error of a watch that must fail: from `watch` itself or, for backends
/// that learn it from the server (as etcd reports a compacted start
/// revision), as the stream's first item, after which the stream ends.
async fn watch_error<S: Store>(case: &str, store: &S, prefix: &str, from: Revision) -> Error {
    let mut watch = match store.watch(prefix, from).await {
        Err(e) => return e,
        Ok(watch) => watch,
    };
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(Err(e))) => {
            let after = tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await;
            assert!(
                matches!(after, Ok(None)),
                "{case}: a failed watch went on with {after:?}"
            );
            e
        }
        other => panic!("{case}: watch from {from} should fail, got {other:?}"),
    }
}

/// Lists and watches are by plain key prefix: `/a/` does not reach `/ab`, and
/// `/a` reaches both.
pub async fn prefix_isolation<S: Store>(store: &S) {
    const CASE: &str = "prefix_isolation";
    for key in ["/a", "/a/1", "/a/2", "/ab", "/ab/1", "/b/1"] {
        must(CASE, "create", store.create(key, val(key))).await;
    }
    assert_eq!(
        keys_of(CASE, store, "/a/").await,
        ["/a/1", "/a/2"],
        "{CASE}"
    );
    assert_eq!(
        keys_of(CASE, store, "/ab").await,
        ["/ab", "/ab/1"],
        "{CASE}"
    );
    assert_eq!(
        keys_of(CASE, store, "/a").await,
        ["/a", "/a/1", "/a/2", "/ab", "/ab/1"],
        "{CASE}: a prefix without a trailing slash is a plain string prefix"
    );
    assert!(keys_of(CASE, store, "/c/").await.is_empty(), "{CASE}");
    assert!(
        matches!(store.get("/a/").await, Err(Error::NotFound { .. })),
        "{CASE}: get is by exact key"
    );

    let mut watch = must(CASE, "watch", store.watch("/a/", 0)).await;
    let ab = must(CASE, "get", store.get("/ab/1")).await;
    must(
        CASE,
        "update",
        store.update("/ab/1", val("x"), ab.mod_revision),
    )
    .await;
    must(CASE, "delete", store.delete("/ab", None)).await;
    let created = must(CASE, "create", store.create("/a/3", val("3"))).await;
    let event = next_event(CASE, &mut watch).await;
    assert_eq!(
        (event.kv.key.as_str(), event.revision()),
        ("/a/3", created.mod_revision),
        "{CASE}: a watch of /a/ saw a write outside it"
    );
}

/// Create, get, update and delete with etcd's semantics and errors.
pub async fn create_get_update_delete<S: Store>(store: &S) {
    const CASE: &str = "create_get_update_delete";
    let key = "/crud/k";
    assert!(
        matches!(store.get(key).await, Err(Error::NotFound { .. })),
        "{CASE}: get of a missing key"
    );
    let created = must(CASE, "create", store.create(key, val("v1"))).await;
    assert_eq!(created.key, key, "{CASE}");
    assert_eq!(created.value, "v1", "{CASE}");
    assert_eq!(created.version, 1, "{CASE}: version after create");
    assert_eq!(created.create_revision, created.mod_revision, "{CASE}");
    assert!(created.mod_revision > 0, "{CASE}: revisions start above 0");
    assert_eq!(must(CASE, "get", store.get(key)).await, created, "{CASE}");
    assert!(
        must(CASE, "current_revision", store.current_revision()).await >= created.mod_revision,
        "{CASE}: current revision below a write's"
    );

    match store.create(key, val("again")).await {
        Err(Error::AlreadyExists { key: k }) => assert_eq!(k, key, "{CASE}"),
        other => panic!("{CASE}: second create gave {other:?}"),
    }
    assert_eq!(
        must(CASE, "get", store.get(key)).await,
        created,
        "{CASE}: a failed create changed the key"
    );

    let updated = must(
        CASE,
        "update",
        store.update(key, val("v2"), created.mod_revision),
    )
    .await;
    assert_eq!(updated.value, "v2", "{CASE}");
    assert_eq!(updated.version, 2, "{CASE}");
    assert_eq!(updated.create_revision, created.create_revision, "{CASE}");
    assert!(updated.mod_revision > created.mod_revision, "{CASE}");
    assert_eq!(must(CASE, "get", store.get(key)).await, updated, "{CASE}");

    match store.update(key, val("v3"), created.mod_revision).await {
        Err(Error::Conflict {
            key: k,
            expected,
            current,
        }) => {
            assert_eq!(k, key, "{CASE}");
            assert_eq!(expected, created.mod_revision, "{CASE}");
            assert_eq!(current, updated.mod_revision, "{CASE}: Conflict's current");
        }
        other => panic!("{CASE}: stale update gave {other:?}"),
    }
    assert!(
        matches!(
            store
                .update("/crud/missing", val("x"), updated.mod_revision)
                .await,
            Err(Error::NotFound { .. })
        ),
        "{CASE}: update of a missing key"
    );
    match store.delete(key, Some(created.mod_revision)).await {
        Err(Error::Conflict { current, .. }) => {
            assert_eq!(current, updated.mod_revision, "{CASE}")
        }
        other => panic!("{CASE}: stale delete gave {other:?}"),
    }
    assert_eq!(
        must(CASE, "get", store.get(key)).await,
        updated,
        "{CASE}: a failed update or delete changed the key"
    );

    let deleted = must(
        CASE,
        "delete",
        store.delete(key, Some(updated.mod_revision)),
    )
    .await;
    assert_eq!(
        deleted, updated,
        "{CASE}: delete returns the deleted key-value"
    );
    assert!(
        matches!(store.get(key).await, Err(Error::NotFound { .. })),
        "{CASE}: get after delete"
    );
    assert!(
        matches!(store.delete(key, None).await, Err(Error::NotFound { .. })),
        "{CASE}: delete of a missing key"
    );
    let after_delete = must(CASE, "current_revision", store.current_revision()).await;
    assert!(
        after_delete > updated.mod_revision,
        "{CASE}: delete is a write"
    );

    let recreated = must(CASE, "create", store.create(key, Bytes::new())).await;
    assert_eq!(
        recreated.version, 1,
        "{CASE}: version restarts after delete"
    );
    assert!(recreated.create_revision > after_delete, "{CASE}");
    assert!(
        recreated.value.is_empty(),
        "{CASE}: empty values are allowed"
    );
    let gone = must(CASE, "delete", store.delete(key, None)).await;
    assert_eq!(gone, recreated, "{CASE}: unconditional delete");
}

/// `put` creates an absent key and replaces a present one whatever its
/// revision, with etcd's revisions and versions; its watch events carry the
/// replaced key-value; it is refused for bad keys and oversized values.
pub async fn put_creates_or_replaces<S: Store>(store: &S) {
    const CASE: &str = "put_creates_or_replaces";
    let key = "/put/k";
    let from = must(CASE, "current_revision", store.current_revision()).await;
    let mut watch = must(CASE, "watch", store.watch("/put/", from)).await;

    let first = must(CASE, "put of an absent key", store.put(key, val("v1"))).await;
    assert_eq!(first.key, key, "{CASE}");
    assert_eq!(first.value, "v1", "{CASE}");
    assert_eq!(first.version, 1, "{CASE}: version after a creating put");
    assert_eq!(first.create_revision, first.mod_revision, "{CASE}");
    assert!(first.mod_revision > from, "{CASE}");
    assert_eq!(must(CASE, "get", store.get(key)).await, first, "{CASE}");

    let second = must(CASE, "put over a key", store.put(key, val("v2"))).await;
    assert_eq!(second.value, "v2", "{CASE}");
    assert_eq!(second.version, 2, "{CASE}: version after a replacing put");
    assert_eq!(
        second.create_revision, first.create_revision,
        "{CASE}: a replacing put keeps the create revision"
    );
    assert!(second.mod_revision > first.mod_revision, "{CASE}");
    assert_eq!(must(CASE, "get", store.get(key)).await, second, "{CASE}");

    // A put ignores revisions: the key's CAS revision moves on with it.
    match store.update(key, val("stale"), first.mod_revision).await {
        Err(Error::Conflict { current, .. }) => {
            assert_eq!(
                current, second.mod_revision,
                "{CASE}: put moved mod_revision"
            )
        }
        other => panic!("{CASE}: update at the pre-put revision gave {other:?}"),
    }
    let updated = must(
        CASE,
        "update after put",
        store.update(key, val("v3"), second.mod_revision),
    )
    .await;
    assert_eq!(updated.version, 3, "{CASE}");
    let deleted = must(CASE, "delete", store.delete(key, None)).await;
    assert_eq!(deleted, updated, "{CASE}");
    let again = must(CASE, "put after delete", store.put(key, Bytes::new())).await;
    assert_eq!(again.version, 1, "{CASE}: version restarts after delete");
    assert_eq!(again.create_revision, again.mod_revision, "{CASE}");
    assert!(again.value.is_empty(), "{CASE}: empty values are allowed");

    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kind, EventKind::Put, "{CASE}");
    assert_eq!(event.kv, first, "{CASE}: creating put's event");
    assert_eq!(event.prev, None, "{CASE}: a creating put has no prev");
    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kind, EventKind::Put, "{CASE}");
    assert_eq!(event.kv, second, "{CASE}: replacing put's event");
    assert_eq!(
        event.prev.as_ref(),
        Some(&first),
        "{CASE}: replacing put's prev"
    );
    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kv, updated, "{CASE}: update's event");
    assert_eq!(event.prev.as_ref(), Some(&second), "{CASE}: update's prev");
    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kind, EventKind::Delete, "{CASE}");
    assert_eq!(event.prev.as_ref(), Some(&updated), "{CASE}: delete's prev");
    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kv, again, "{CASE}: put after delete");
    assert_eq!(event.prev, None, "{CASE}: a put after delete has no prev");

    assert!(
        matches!(
            store.put("", val("x")).await,
            Err(Error::InvalidArgument(_))
        ),
        "{CASE}: put of an empty key"
    );
    let over = Bytes::from(vec![0u8; DEFAULT_MAX_VALUE_BYTES + 1]);
    match store.put(key, over).await {
        Err(Error::TooLarge { size, .. }) => {
            assert_eq!(size, DEFAULT_MAX_VALUE_BYTES + 1, "{CASE}")
        }
        other => panic!("{CASE}: put over the limit gave {other:?}"),
    }
    assert_eq!(
        must(CASE, "get", store.get(key)).await,
        again,
        "{CASE}: a refused put changed the key"
    );
}

/// Every write's revision is above every earlier one, and the current
/// revision never goes back.
pub async fn revision_monotonicity<S: Store>(store: &S) {
    const CASE: &str = "revision_monotonicity";
    let mut last = must(CASE, "current_revision", store.current_revision()).await;
    for i in 0..30 {
        let key = format!("/mono/{}", i % 4);
        let revision = match store.get(&key).await {
            Ok(kv) if i % 3 == 0 => {
                must(CASE, "delete", store.delete(&key, Some(kv.mod_revision))).await;
                must(CASE, "current_revision", store.current_revision()).await
            }
            Ok(kv) => {
                must(
                    CASE,
                    "update",
                    store.update(&key, val("u"), kv.mod_revision),
                )
                .await
                .mod_revision
            }
            Err(Error::NotFound { .. }) => {
                must(CASE, "create", store.create(&key, val("c")))
                    .await
                    .mod_revision
            }
            Err(e) => panic!("{CASE}: get failed: {e}"),
        };
        assert!(
            revision > last,
            "{CASE}: write {i} got {revision} after {last}"
        );
        last = revision;
        let current = must(CASE, "current_revision", store.current_revision()).await;
        assert!(
            current >= last,
            "{CASE}: current revision {current} below {last}"
        );
    }
}

/// Tasks incrementing one counter with read-modify-write and retry on
/// Conflict lose no update.
pub async fn cas_races<S: Store>(store: &S) {
    const CASE: &str = "cas_races";
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 20;
    let key = "/cas/counter";
    must(CASE, "create", store.create(key, val("0"))).await;
    let workers = (0..TASKS).map(|_| async move {
        let mut revisions = Vec::new();
        let mut conflicts = 0u64;
        for _ in 0..INCREMENTS {
            loop {
                let kv = must(CASE, "get", store.get(key)).await;
                let n: u64 = std::str::from_utf8(&kv.value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("{CASE}: counter holds {:?}", kv.value));
                // Let the other tasks read the same value.
                tokio::task::yield_now().await;
                match store
                    .update(key, val(&(n + 1).to_string()), kv.mod_revision)
                    .await
                {
                    Ok(kv) => {
                        revisions.push(kv.mod_revision);
                        break;
                    }
                    Err(Error::Conflict { current, .. }) => {
                        assert!(current > kv.mod_revision, "{CASE}: Conflict's current");
                        conflicts += 1;
                    }
                    Err(e) => panic!("{CASE}: update failed: {e}"),
                }
            }
        }
        (revisions, conflicts)
    });
    let results = futures::future::join_all(workers).await;
    let mut all = HashSet::new();
    for (revisions, _) in &results {
        assert!(
            revisions.windows(2).all(|w| w[0] < w[1]),
            "{CASE}: one task's revisions went back"
        );
        all.extend(revisions.iter().copied());
    }
    assert_eq!(
        all.len() as u64,
        TASKS * INCREMENTS,
        "{CASE}: two updates got one revision"
    );
    let kv = must(CASE, "get", store.get(key)).await;
    assert_eq!(
        kv.value,
        (TASKS * INCREMENTS).to_string(),
        "{CASE}: lost updates"
    );
    assert_eq!(kv.version as u64, TASKS * INCREMENTS + 1, "{CASE}");
    let conflicts: u64 = results.iter().map(|(_, c)| c).sum();
    tracing::debug!(conflicts, "{CASE}");
}

/// Concurrent writers; two watchers of the prefix each get every event
/// exactly once, in revision order, and nothing else.
pub async fn watch_ordering<S: Store>(store: &S) {
    const CASE: &str = "watch_ordering";
    const WRITERS: usize = 4;
    const KEYS: usize = 8;
    let from = must(CASE, "current_revision", store.current_revision()).await;
    let mut watches = [
        must(CASE, "watch", store.watch("/w/", from)).await,
        must(CASE, "watch", store.watch("/w/", from)).await,
    ];
    let writers = (0..WRITERS).map(|w| async move {
        // (revision or 0 for deletes, kind, key, value)
        let mut writes = Vec::new();
        for k in 0..KEYS {
            let key = format!("/w/{w}/{k}");
            let kv = must(CASE, "create", store.create(&key, val("1"))).await;
            writes.push((kv.mod_revision, EventKind::Put, key.clone(), kv.value));
            // A write outside the prefix, which no watcher may see.
            must(
                CASE,
                "create",
                store.create(&format!("/wx/{w}/{k}"), val("x")),
            )
            .await;
            tokio::task::yield_now().await;
            let kv = must(
                CASE,
                "update",
                store.update(&key, val("2"), kv.mod_revision),
            )
            .await;
            writes.push((kv.mod_revision, EventKind::Put, key.clone(), kv.value));
            tokio::task::yield_now().await;
            if k % 2 == 0 {
                must(CASE, "delete", store.delete(&key, Some(kv.mod_revision))).await;
                writes.push((0, EventKind::Delete, key, Bytes::new()));
            }
        }
        writes
    });
    let writes: Vec<_> = futures::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let end = must(CASE, "create", store.create("/w/~end", val("end"))).await;

    for watch in &mut watches {
        let mut seen = Vec::new();
        let mut last = from;
        loop {
            let event = next_event(CASE, watch).await;
            assert!(
                event.revision() > last,
                "{CASE}: event {} after {last}",
                event.revision()
            );
            last = event.revision();
            if event.kv.key == "/w/~end" {
                assert_eq!(event.revision(), end.mod_revision, "{CASE}");
                break;
            }
            assert!(
                event.kv.key.starts_with("/w/"),
                "{CASE}: saw {}",
                event.kv.key
            );
            seen.push(event);
        }
        assert_eq!(seen.len(), writes.len(), "{CASE}: missing or extra events");
        let seen_puts: BTreeSet<_> = seen
            .iter()
            .filter(|e| e.kind == EventKind::Put)
            .map(|e| {
                (
                    e.revision(),
                    String::from(e.kv.key.clone()),
                    e.kv.value.clone(),
                )
            })
            .collect();
        let puts: BTreeSet<_> = writes
            .iter()
            .filter(|w| w.1 == EventKind::Put)
            .map(|w| (w.0, w.2.clone(), w.3.clone()))
            .collect();
        assert_eq!(seen_puts, puts, "{CASE}: puts seen differ from puts made");
        let seen_deletes: BTreeSet<_> = seen
            .iter()
            .filter(|e| e.kind == EventKind::Delete)
            .map(|e| String::from(e.kv.key.clone()))
            .collect();
        let deletes: BTreeSet<_> = writes
            .iter()
            .filter(|w| w.1 == EventKind::Delete)
            .map(|w| w.2.clone())
            .collect();
        assert_eq!(seen_deletes, deletes, "{CASE}: deletes");
        // Per key, the events follow the writes: create, update, delete.
        for key in deletes {
            let kinds: Vec<_> = seen
                .iter()
                .filter(|e| e.kv.key == key)
                .map(|e| (e.kind, e.kv.value.clone()))
                .collect();
            assert_eq!(
                kinds,
                [
                    (EventKind::Put, val("1")),
                    (EventKind::Put, val("2")),
                    (EventKind::Delete, Bytes::new())
                ],
                "{CASE}: events of {key}"
            );
        }
    }
}

/// Events carry the key-value as it was before the change.
pub async fn watch_prev_values<S: Store>(store: &S) {
    const CASE: &str = "watch_prev_values";
    let key = "/prev/k";
    let from = must(CASE, "current_revision", store.current_revision()).await;
    let mut watch = must(CASE, "watch", store.watch("/prev/", from)).await;
    let created = must(CASE, "create", store.create(key, val("v1"))).await;
    let updated = must(
        CASE,
        "update",
        store.update(key, val("v2"), created.mod_revision),
    )
    .await;
    must(CASE, "delete", store.delete(key, None)).await;
    let recreated = must(CASE, "create", store.create(key, val("v3"))).await;

    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kind, EventKind::Put, "{CASE}");
    assert_eq!(event.kv, created, "{CASE}: create event");
    assert_eq!(event.prev, None, "{CASE}: a create has no prev");

    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kind, EventKind::Put, "{CASE}");
    assert_eq!(event.kv, updated, "{CASE}: update event");
    assert_eq!(event.prev.as_ref(), Some(&created), "{CASE}: update's prev");

    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kind, EventKind::Delete, "{CASE}");
    assert_eq!(event.kv.key, key, "{CASE}");
    assert!(
        event.kv.value.is_empty(),
        "{CASE}: a delete event has no value"
    );
    assert!(event.revision() > updated.mod_revision, "{CASE}");
    assert!(event.revision() < recreated.mod_revision, "{CASE}");
    assert_eq!(event.prev.as_ref(), Some(&updated), "{CASE}: delete's prev");

    let event = next_event(CASE, &mut watch).await;
    assert_eq!(event.kv, recreated, "{CASE}: re-create event");
    assert_eq!(event.prev, None, "{CASE}: a re-create has no prev");
}

/// A watch from a past revision replays exactly the events after it, then
/// goes on live; `0` watches from now; future revisions are refused.
pub async fn watch_resume<S: Store>(store: &S) {
    const CASE: &str = "watch_resume";
    let mut written = Vec::new();
    for i in 0..6 {
        written.push(must(CASE, "create", store.create(&format!("/r/{i}"), val("v"))).await);
    }
    let mut resumed = must(CASE, "watch", store.watch("/r/", written[2].mod_revision)).await;
    for kv in &written[3..] {
        let event = next_event(CASE, &mut resumed).await;
        assert_eq!(&event.kv, kv, "{CASE}: replayed event");
    }
    let mut now = must(CASE, "watch", store.watch("/r/", 0)).await;
    let current = must(CASE, "current_revision", store.current_revision()).await;
    let mut at_current = must(CASE, "watch", store.watch("/r/", current)).await;
    let live = must(
        CASE,
        "update",
        store.update("/r/0", val("w"), written[0].mod_revision),
    )
    .await;
    for watch in [&mut resumed, &mut now, &mut at_current] {
        let event = next_event(CASE, watch).await;
        assert_eq!(event.kv, live, "{CASE}: live event after replay");
    }

    let future = current + 1_000_000;
    match watch_error(CASE, store, "/r/", future).await {
        Error::FutureRevision { requested, .. } => assert_eq!(requested, future, "{CASE}"),
        other => panic!("{CASE}: watch from a future revision gave {other:?}"),
    }
    assert!(
        matches!(
            store
                .list("/r/", ListOptions::default().revision(future))
                .await,
            Err(Error::FutureRevision { .. })
        ),
        "{CASE}: list at a future revision"
    );
}

/// After `compact(c)`, lists before `c` and watches from well before it fail
/// with Compacted; lists at `c` and watches from `c` work.
pub async fn compaction<S: Store>(store: &S) {
    const CASE: &str = "compaction";
    let k0 = must(CASE, "create", store.create("/c/0", val("a"))).await;
    let k1 = must(CASE, "create", store.create("/c/1", val("b"))).await;
    let k2 = must(CASE, "create", store.create("/c/2", val("c"))).await;
    let k0b = must(
        CASE,
        "update",
        store.update("/c/0", val("a2"), k0.mod_revision),
    )
    .await;
    let k3 = must(CASE, "create", store.create("/c/3", val("d"))).await;
    let at = k2.mod_revision;
    must(CASE, "compact", store.compact(at)).await;

    match store
        .list("/c/", ListOptions::default().revision(k1.mod_revision))
        .await
    {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => {
            assert_eq!(requested, k1.mod_revision, "{CASE}");
            assert!(compacted >= at, "{CASE}: compacted {compacted} below {at}");
        }
        other => panic!("{CASE}: list before the compaction gave {other:?}"),
    }
    assert!(
        matches!(
            watch_error(CASE, store, "/c/", k0.mod_revision).await,
            Error::Compacted { .. }
        ),
        "{CASE}: watch from before the compaction"
    );
    let list = must(
        CASE,
        "list at the compacted revision",
        store.list("/c/", ListOptions::default().revision(at)),
    )
    .await;
    assert_eq!(list.items, [k0, k1, k2], "{CASE}: state at the compaction");
    let mut watch = must(CASE, "watch from the compaction", store.watch("/c/", at)).await;
    assert_eq!(next_event(CASE, &mut watch).await.kv, k0b, "{CASE}");
    assert_eq!(next_event(CASE, &mut watch).await.kv, k3, "{CASE}");

    let current = must(CASE, "current_revision", store.current_revision()).await;
    assert!(
        matches!(
            store.compact(current + 1_000_000).await,
            Err(Error::FutureRevision { .. })
        ),
        "{CASE}: compact at a future revision"
    );
}

/// A list at a past revision shows that revision's keys and values,
/// including keys deleted since and without keys created since.
pub async fn list_at_revision<S: Store>(store: &S) {
    const CASE: &str = "list_at_revision";
    let a = must(CASE, "create", store.create("/l/a", val("a1"))).await;
    let b = must(CASE, "create", store.create("/l/b", val("b1"))).await;
    let c = must(CASE, "create", store.create("/l/c", val("c1"))).await;
    let at = c.mod_revision;
    let a2 = must(
        CASE,
        "update",
        store.update("/l/a", val("a2"), a.mod_revision),
    )
    .await;
    must(CASE, "delete", store.delete("/l/b", None)).await;
    let d = must(CASE, "create", store.create("/l/d", val("d1"))).await;

    let past = must(
        CASE,
        "list at a past revision",
        store.list("/l/", ListOptions::default().revision(at)),
    )
    .await;
    assert_eq!(past.revision, at, "{CASE}");
    assert_eq!(past.items, [a.clone(), b, c.clone()], "{CASE}: past state");
    let between = must(
        CASE,
        "list",
        store.list("/l/", ListOptions::default().revision(a2.mod_revision)),
    )
    .await;
    assert_eq!(
        between.items.iter().map(|kv| &kv.value).collect::<Vec<_>>(),
        ["a2", "b1", "c1"],
        "{CASE}: state after the update"
    );
    let latest = must(CASE, "list", store.list("/l/", ListOptions::default())).await;
    assert!(latest.revision >= d.mod_revision, "{CASE}: list revision");
    assert_eq!(latest.items, [a2, c, d], "{CASE}: latest state");
}

/// Limit and continue: every page is read at the first page's revision, so
/// writes between pages do not show; the last page has no token.
pub async fn pagination<S: Store>(store: &S) {
    const CASE: &str = "pagination";
    let mut originals = Vec::new();
    for i in 0..10 {
        originals.push(
            must(
                CASE,
                "create",
                store.create(&format!("/p/{i:02}"), val("v1")),
            )
            .await,
        );
    }
    let first = must(
        CASE,
        "first page",
        store.list("/p/", ListOptions::default().limit(3)),
    )
    .await;
    assert_eq!(first.items, originals[..3], "{CASE}: first page");
    if let Some(remaining) = first.remaining {
        assert_eq!(remaining, 7, "{CASE}: remaining after the first page");
    }
    let revision = first.revision;

    // Writes between pages: none of them may show.
    must(CASE, "create", store.create("/p/055", val("new"))).await;
    must(CASE, "delete", store.delete("/p/07", None)).await;
    must(
        CASE,
        "update",
        store.update("/p/08", val("v2"), originals[8].mod_revision),
    )
    .await;

    let mut items = first.items;
    let mut token = first.continue_token;
    let mut pages = 1;
    while let Some(t) = token {
        let page = must(
            CASE,
            "next page",
            store.list("/p/", ListOptions::default().limit(3).continue_token(t)),
        )
        .await;
        assert_eq!(page.revision, revision, "{CASE}: page at another revision");
        assert!(page.items.len() <= 3, "{CASE}: page over the limit");
        pages += 1;
        if let Some(remaining) = page.remaining {
            assert_eq!(
                remaining as usize,
                10 - items.len() - page.items.len(),
                "{CASE}: remaining"
            );
        }
        items.extend(page.items);
        token = page.continue_token;
        assert!(pages <= 4, "{CASE}: too many pages");
    }
    assert_eq!(pages, 4, "{CASE}: 10 items in pages of 3");
    assert_eq!(
        items, originals,
        "{CASE}: pages differ from the first page's state"
    );

    let all = must(CASE, "list", store.list("/p/", ListOptions::default())).await;
    assert_eq!(all.items.len(), 10, "{CASE}: limit 0 is no limit");
    assert!(all.continue_token.is_none(), "{CASE}");
    let big = must(
        CASE,
        "list",
        store.list("/p/", ListOptions::default().limit(100)),
    )
    .await;
    assert_eq!(big.items, all.items, "{CASE}");
    assert!(
        big.continue_token.is_none(),
        "{CASE}: a short list has no token"
    );
    assert!(
        matches!(
            store
                .list("/p/", ListOptions::default().continue_token("not a token!"))
                .await,
            Err(Error::InvalidArgument(_))
        ),
        "{CASE}: a malformed continue token"
    );
}

/// Values of exactly [`DEFAULT_MAX_VALUE_BYTES`] are stored; one byte more is
/// refused with TooLarge on create and update, and changes nothing.
pub async fn large_values<S: Store>(store: &S) {
    const CASE: &str = "large_values";
    let limit = DEFAULT_MAX_VALUE_BYTES;
    let big = |len: usize| Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let key = "/big/k";
    let created = must(CASE, "create at the limit", store.create(key, big(limit))).await;
    assert_eq!(created.value.len(), limit, "{CASE}");
    assert_eq!(
        must(CASE, "get", store.get(key)).await.value,
        big(limit),
        "{CASE}: value read back"
    );
    match store.create("/big/over", big(limit + 1)).await {
        Err(Error::TooLarge { size, .. }) => assert_eq!(size, limit + 1, "{CASE}"),
        other => panic!("{CASE}: create over the limit gave {other:?}"),
    }
    assert!(
        matches!(store.get("/big/over").await, Err(Error::NotFound { .. })),
        "{CASE}: a refused create stored the key"
    );
    assert!(
        matches!(
            store
                .update(key, big(limit + 1), created.mod_revision)
                .await,
            Err(Error::TooLarge { .. })
        ),
        "{CASE}: update over the limit"
    );
    assert_eq!(
        must(CASE, "get", store.get(key)).await.mod_revision,
        created.mod_revision,
        "{CASE}: a refused update changed the key"
    );
    let updated = must(
        CASE,
        "update at the limit",
        store.update(key, big(limit), created.mod_revision),
    )
    .await;
    assert!(updated.mod_revision > created.mod_revision, "{CASE}");
}

/// One step of a random sequence for [`model_based`].
#[derive(Clone, Debug)]
enum Op {
    Create(usize, u8),
    Put(usize, u8),
    Update(usize, u8, bool),
    Delete(usize, Option<bool>),
    Get(usize),
    List(usize, usize),
    ListAt(usize, usize),
}

/// Keys (under a per-sequence base) that share prefixes with each other.
const MODEL_KEYS: [&str; 5] = ["a", "a/b", "ab", "b", "b/c/d"];
const MODEL_PREFIXES: [&str; 5] = ["", "a", "a/", "b", "c"];

fn op_strategy() -> impl Strategy<Value = Op> {
    let key = 0..MODEL_KEYS.len();
    let prefix = 0..MODEL_PREFIXES.len();
    proptest::prop_oneof![
        3 => (key.clone(), proptest::num::u8::ANY).prop_map(|(k, v)| Op::Create(k, v)),
        2 => (key.clone(), proptest::num::u8::ANY).prop_map(|(k, v)| Op::Put(k, v)),
        4 => (key.clone(), proptest::num::u8::ANY, proptest::bool::weighted(0.8))
            .prop_map(|(k, v, fresh)| Op::Update(k, v, fresh)),
        2 => (key.clone(), proptest::option::of(proptest::bool::weighted(0.8)))
            .prop_map(|(k, fresh)| Op::Delete(k, fresh)),
        2 => key.prop_map(Op::Get),
        2 => (prefix.clone(), 0..4usize).prop_map(|(p, limit)| Op::List(p, limit)),
        1 => (prefix, 0..8usize).prop_map(|(p, back)| Op::ListAt(p, back)),
    ]
}

/// The reference model: a BTreeMap of key-values, the snapshots after each
/// put (whose revision is known) and the events expected from a watch.
#[derive(Default)]
struct Model {
    keys: BTreeMap<String, KeyValue>,
    snapshots: Vec<(Revision, BTreeMap<String, KeyValue>)>,
    events: Vec<(EventKind, String, Bytes, Option<KeyValue>)>,
    last: Revision,
}

impl Model {
    fn put(&mut self, kv: &KeyValue, prev: Option<KeyValue>) -> Result<(), String> {
        if kv.mod_revision <= self.last {
            return Err(format!(
                "revision {} not above {}",
                kv.mod_revision, self.last
            ));
        }
        self.last = kv.mod_revision;
        self.events
            .push((EventKind::Put, kv.key.to_string(), kv.value.clone(), prev));
        self.keys.insert(kv.key.to_string(), kv.clone());
        self.snapshots.push((kv.mod_revision, self.keys.clone()));
        Ok(())
    }

    fn listed(keys: &BTreeMap<String, KeyValue>, prefix: &str) -> Vec<KeyValue> {
        keys.range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| kv.clone())
            .collect()
    }
}

fn check<T: std::fmt::Debug + PartialEq>(what: &str, got: &T, want: &T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, model says {want:?}"))
    }
}

async fn list_all<S: Store>(
    store: &S,
    prefix: &str,
    limit: usize,
    revision: Revision,
) -> Result<Vec<KeyValue>, String> {
    let mut options = ListOptions::default().limit(limit).revision(revision);
    let mut items = Vec::new();
    let mut first_revision = None;
    loop {
        let page = store
            .list(prefix, options.clone())
            .await
            .map_err(|e| format!("list {prefix:?}: {e}"))?;
        if *first_revision.get_or_insert(page.revision) != page.revision {
            return Err("pages at different revisions".to_owned());
        }
        if limit > 0 && page.items.len() > limit {
            return Err(format!("page of {} over limit {limit}", page.items.len()));
        }
        items.extend(page.items);
        match page.continue_token {
            Some(token) if items.len() <= 100 => {
                options = ListOptions::default().limit(limit).continue_token(token)
            }
            Some(_) => return Err("list does not end".to_owned()),
            None => return Ok(items),
        }
    }
}

/// Run one sequence under `base` and compare every result with the model.
async fn run_sequence<S: Store>(store: &S, base: &str, ops: &[Op]) -> Result<(), String> {
    let start = store
        .current_revision()
        .await
        .map_err(|e| format!("current_revision: {e}"))?;
    let mut watch = store
        .watch(base, start)
        .await
        .map_err(|e| format!("watch: {e}"))?;
    let mut model = Model {
        last: start,
        ..Model::default()
    };
    for (i, op) in ops.iter().enumerate() {
        let at = |e: String| format!("op {i} {op:?}: {e}");
        match *op {
            Op::Create(k, v) => {
                let key = format!("{base}{}", MODEL_KEYS[k]);
                let result = store.create(&key, Bytes::from(vec![v])).await;
                match (result, model.keys.contains_key(&key)) {
                    (Err(Error::AlreadyExists { .. }), true) => {}
                    (Ok(kv), false) => {
                        if kv.version != 1 || kv.create_revision != kv.mod_revision {
                            return Err(at(format!("created {kv:?}")));
                        }
                        model.put(&kv, None).map_err(at)?;
                    }
                    (other, exists) => {
                        return Err(at(format!("got {other:?}, key exists: {exists}")))
                    }
                }
            }
            Op::Put(k, v) => {
                let key = format!("{base}{}", MODEL_KEYS[k]);
                let current = model.keys.get(&key).cloned();
                let got = store
                    .put(&key, Bytes::from(vec![v]))
                    .await
                    .map_err(|e| at(format!("put: {e}")))?;
                let want = match &current {
                    Some(kv) => KeyValue {
                        mod_revision: got.mod_revision,
                        version: kv.version + 1,
                        value: Bytes::from(vec![v]),
                        ..kv.clone()
                    },
                    None => KeyValue {
                        key: Key::from(key.as_str()),
                        value: Bytes::from(vec![v]),
                        create_revision: got.mod_revision,
                        mod_revision: got.mod_revision,
                        version: 1,
                    },
                };
                check("put", &got, &want).map_err(at)?;
                model.put(&got, current).map_err(at)?;
            }
            Op::Update(k, v, fresh) => {
                let key = format!("{base}{}", MODEL_KEYS[k]);
                let current = model.keys.get(&key).cloned();
                let expected = match (&current, fresh) {
                    (Some(kv), true) => kv.mod_revision,
                    (Some(kv), false) => kv.mod_revision - 1,
                    (None, _) => model.last,
                };
                let result = store.update(&key, Bytes::from(vec![v]), expected).await;
                match (result, current) {
                    (Err(Error::NotFound { .. }), None) => {}
                    (Err(Error::Conflict { current, .. }), Some(kv)) if !fresh => {
                        check("Conflict's current", &current, &kv.mod_revision).map_err(at)?
                    }
                    (Ok(got), Some(kv)) if fresh => {
                        let want = KeyValue {
                            mod_revision: got.mod_revision,
                            version: kv.version + 1,
                            value: Bytes::from(vec![v]),
                            ..kv.clone()
                        };
                        check("updated", &got, &want).map_err(at)?;
                        model.put(&got, Some(kv)).map_err(at)?;
                    }
                    (other, current) => {
                        return Err(at(format!("got {other:?}, model has {current:?}")))
                    }
                }
            }
            Op::Delete(k, fresh) => {
                let key = format!("{base}{}", MODEL_KEYS[k]);
                let current = model.keys.get(&key).cloned();
                let expected = match (&current, fresh) {
                    (_, None) => None,
                    (Some(kv), Some(true)) => Some(kv.mod_revision),
                    (Some(kv), Some(false)) => Some(kv.mod_revision - 1),
                    (None, Some(_)) => Some(model.last),
                };
                let result = store.delete(&key, expected).await;
                match (result, current) {
                    (Err(Error::NotFound { .. }), None) => {}
                    (Err(Error::Conflict { current, .. }), Some(kv)) if fresh == Some(false) => {
                        check("Conflict's current", &current, &kv.mod_revision).map_err(at)?
                    }
                    (Ok(got), Some(kv)) if fresh != Some(false) => {
                        check("deleted", &got, &kv).map_err(at)?;
                        model.keys.remove(&key);
                        model
                            .events
                            .push((EventKind::Delete, key, Bytes::new(), Some(kv)));
                    }
                    (other, current) => {
                        return Err(at(format!("got {other:?}, model has {current:?}")))
                    }
                }
            }
            Op::Get(k) => {
                let key = format!("{base}{}", MODEL_KEYS[k]);
                match (store.get(&key).await, model.keys.get(&key)) {
                    (Ok(got), Some(want)) => check("get", &got, want).map_err(at)?,
                    (Err(Error::NotFound { .. }), None) => {}
                    (other, want) => return Err(at(format!("got {other:?}, model has {want:?}"))),
                }
            }
            Op::List(p, limit) => {
                let prefix = format!("{base}{}", MODEL_PREFIXES[p]);
                let got = list_all(store, &prefix, limit, 0).await.map_err(at)?;
                check("list", &got, &Model::listed(&model.keys, &prefix)).map_err(at)?;
            }
            Op::ListAt(p, back) => {
                let Some(index) = model.snapshots.len().checked_sub(back + 1) else {
                    continue;
                };
                let (revision, keys) = &model.snapshots[index];
                let prefix = format!("{base}{}", MODEL_PREFIXES[p]);
                let got = list_all(store, &prefix, 2, *revision).await.map_err(at)?;
                check("list at revision", &got, &Model::listed(keys, &prefix)).map_err(at)?;
            }
        }
    }
    // The watch saw exactly the model's events, then the end marker.
    let end_key = format!("{base}~end");
    let end = store
        .create(&end_key, Bytes::new())
        .await
        .map_err(|e| format!("create end marker: {e}"))?;
    let mut last = start;
    for (i, (kind, key, value, prev)) in model.events.iter().enumerate() {
        let event = match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
            Ok(Some(Ok(event))) => event,
            other => return Err(format!("watch event {i}: {other:?}")),
        };
        let got = (
            event.kind,
            &event.kv.key,
            &event.kv.value,
            event.prev.as_ref(),
        );
        check(
            &format!("watch event {i}"),
            &got,
            &(*kind, &Key::from(key), value, prev.as_ref()),
        )?;
        if event.revision() <= last {
            return Err(format!("watch event {i} out of order"));
        }
        last = event.revision();
    }
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(Ok(event))) if event.kv == end => Ok(()),
        other => Err(format!("watch after the model's events: {other:?}")),
    }
}

/// Random sequences of creates, updates, deletes, gets and (paginated,
/// past-revision) lists, generated with proptest, each compared step by step
/// with a `BTreeMap` model, and a watch of the sequence's keys compared with
/// the model's events. Each sequence runs under its own key prefix, which
/// makes it a fresh, empty store as far as its keys go; a failing sequence is
/// shrunk and reported.
pub async fn model_based<S: Store>(store: &S) {
    const CASE: &str = "model_based";
    let strategy = proptest::collection::vec(op_strategy(), 1..40);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: MODEL_CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let mut runs = 0u32;
    let mut base = || {
        runs += 1;
        format!("/model/{runs}/")
    };
    for _ in 0..MODEL_CASES {
        let mut tree = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree,
            Err(e) => panic!("{CASE}: generating a sequence: {e}"),
        };
        let ops = tree.current();
        let Err(error) = run_sequence(store, &base(), &ops).await else {
            continue;
        };
        // Shrink: simplify while the sequence still fails.
        let mut failure = (ops, error);
        let mut budget = 200;
        if tree.simplify() {
            while budget > 0 {
                budget -= 1;
                let ops = tree.current();
                match run_sequence(store, &base(), &ops).await {
                    Err(error) => {
                        failure = (ops, error);
                        if !tree.simplify() {
                            break;
                        }
                    }
                    Ok(()) => {
                        if !tree.complicate() {
                            break;
                        }
                    }
                }
            }
        }
        panic!(
            "{CASE}: {}\nminimal failing sequence: {:#?}",
            failure.1, failure.0
        );
    }
}
