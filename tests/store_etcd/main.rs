//! `EtcdStore` against real etcd members and clusters on loopback: what is
//! specific to etcd (prefix mapping, compaction, continue tokens,
//! reconnection) and the fault test of a leader killed under load.
//!
//! Every test starts its own etcd (own ports, own temporary directory) and
//! stops it on drop, also when it panics.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use keelson::store::etcd_process::{EtcdCluster, EtcdProcess};
use keelson::store::{
    Error, EtcdStore, Event, EventKind, ListOptions, Revision, Store, WatchStream,
    DEFAULT_MAX_VALUE_BYTES,
};
use tokio::time::{sleep, timeout, Instant};

/// A key prefix no other store in this process uses.
fn unique_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // Fixed width, so that no prefix is a prefix of another.
    format!("/t{:06}", NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn start_etcd() -> EtcdProcess {
    EtcdProcess::start().await.expect("start etcd")
}

async fn store_on(etcd: &EtcdProcess) -> EtcdStore {
    EtcdStore::connect(etcd.config().prefix(unique_prefix()))
        .await
        .expect("connect to etcd")
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The next item of a watch, failing the test after 10 s.
async fn next(watch: &mut WatchStream) -> Result<Arc<Event>, Error> {
    timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("watch event within 10 s")
        .expect("watch stream ended")
}

/// Nothing more arrives on the watch for a while.
async fn assert_quiet(watch: &mut WatchStream) {
    if let Ok(item) = timeout(Duration::from_millis(300), watch.next()).await {
        panic!("unexpected watch item {item:?}");
    }
}

/// The shared suite every `Store` must pass, against stores with unique
/// prefixes on one etcd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let etcd = Arc::new(start_etcd().await);
    keelson::store::conformance::run_all(|| {
        let etcd = etcd.clone();
        async move { store_on(&etcd).await }
    })
    .await;
}

#[tokio::test]
async fn keys_live_under_the_prefix_and_come_back_without_it() {
    let etcd = start_etcd().await;
    let a = EtcdStore::connect(etcd.config().prefix("/app-a"))
        .await
        .expect("connect a");
    let ab = EtcdStore::connect(etcd.config().prefix("/app-ab"))
        .await
        .expect("connect ab");
    let mut raw = etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .expect("raw client");

    let created = a.create("/pods/x", bytes("1")).await.expect("create");
    assert_eq!(created.key, "/pods/x");

    // In etcd the key carries the prefix.
    let resp = raw.get("/app-a/pods/x", None).await.expect("raw get");
    let kv = resp.kvs().first().expect("prefixed key in etcd");
    assert_eq!(kv.value(), b"1");
    assert_eq!(kv.mod_revision(), created.mod_revision);
    assert!(raw
        .get("/pods/x", None)
        .await
        .expect("raw get")
        .kvs()
        .is_empty());

    // A key written to etcd under the prefix shows up without it.
    raw.put("/app-a/pods/y", "2", None).await.expect("raw put");
    let listed = a
        .list("/pods/", ListOptions::default())
        .await
        .expect("list");
    let keys: Vec<_> = listed.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/pods/x", "/pods/y"]);
    assert_eq!(a.get("/pods/y").await.expect("get").value, bytes("2"));

    // "/app-a" is a prefix of "/app-ab" in etcd, but the stores are isolated.
    assert!(matches!(
        ab.get("/pods/x").await,
        Err(Error::NotFound { .. })
    ));
    ab.create("/pods/z", bytes("3"))
        .await
        .expect("create in ab");
    let listed = a.list("/", ListOptions::default()).await.expect("list all");
    assert_eq!(listed.items.len(), 2, "{listed:?}");
    // The prefix is prepended verbatim (as etcd's namespaces do): from
    // "/app-a", the keys of "/app-ab" look like keys starting with "b".
    let listed = a.list("b", ListOptions::default()).await.expect("list b");
    assert_eq!(listed.items.len(), 1, "{listed:?}");
    assert_eq!(listed.items[0].key, "b/pods/z");

    // Watches see their own prefix only, keys stripped.
    let from = a.current_revision().await.expect("revision");
    let mut watch = a.watch("/pods/", from).await.expect("watch");
    ab.create("/pods/w", bytes("4"))
        .await
        .expect("create in ab");
    raw.put("/app-a/pods/x", "5", None).await.expect("raw put");
    let event = next(&mut watch).await.expect("event");
    assert_eq!(event.kind, EventKind::Put);
    assert_eq!(event.kv.key, "/pods/x");
    assert_eq!(event.kv.value, bytes("5"));
    assert_eq!(event.prev.as_ref().expect("prev").value, bytes("1"));
    assert_quiet(&mut watch).await;
}

#[tokio::test]
async fn create_update_delete_map_onto_etcd_transactions() {
    let etcd = start_etcd().await;
    let store = store_on(&etcd).await;

    let created = store.create("/k", bytes("a")).await.expect("create");
    assert_eq!(created.version, 1);
    assert_eq!(created.create_revision, created.mod_revision);
    assert!(matches!(
        store.create("/k", bytes("b")).await,
        Err(Error::AlreadyExists { key }) if key == "/k"
    ));

    let updated = store
        .update("/k", bytes("b"), created.mod_revision)
        .await
        .expect("update");
    assert_eq!(updated.create_revision, created.create_revision);
    assert_eq!(updated.version, 2);
    assert!(updated.mod_revision > created.mod_revision);
    assert_eq!(store.get("/k").await.expect("get"), updated);

    match store.update("/k", bytes("c"), created.mod_revision).await {
        Err(Error::Conflict {
            expected, current, ..
        }) => {
            assert_eq!(expected, created.mod_revision);
            assert_eq!(current, updated.mod_revision);
        }
        other => panic!("stale update: {other:?}"),
    }
    // An expected revision of 0 must not create the key.
    assert!(matches!(
        store.update("/absent", bytes("x"), 0).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.get("/absent").await,
        Err(Error::NotFound { .. })
    ));

    assert!(matches!(
        store.delete("/k", Some(created.mod_revision)).await,
        Err(Error::Conflict { current, .. }) if current == updated.mod_revision
    ));
    let deleted = store
        .delete("/k", Some(updated.mod_revision))
        .await
        .expect("delete");
    assert_eq!(deleted.value, bytes("b"));
    assert_eq!(deleted.mod_revision, updated.mod_revision);
    assert!(matches!(
        store.delete("/k", None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.delete("/k", Some(updated.mod_revision)).await,
        Err(Error::NotFound { .. })
    ));

    store.create("/k", bytes("again")).await.expect("recreate");
    let deleted = store
        .delete("/k", None)
        .await
        .expect("unconditional delete");
    assert_eq!(deleted.value, bytes("again"));
    assert_eq!(deleted.version, 1);

    assert!(matches!(
        store.create("", bytes("x")).await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn continue_tokens_page_through_one_revision() {
    let etcd = start_etcd().await;
    let store = store_on(&etcd).await;
    for i in 0..10 {
        store
            .create(&format!("/items/{i:02}"), bytes(&i.to_string()))
            .await
            .expect("create");
    }
    store
        .create("/itemsX", bytes("outside"))
        .await
        .expect("create");

    let first = store
        .list("/items/", ListOptions::default().limit(4))
        .await
        .expect("first page");
    assert_eq!(first.items.len(), 4);
    assert_eq!(first.remaining, Some(6));
    assert_eq!(first.items[0].key, "/items/00");
    let token = first.continue_token.clone().expect("continue token");

    // Changes after the first page do not show up in the later pages.
    store.delete("/items/05", None).await.expect("delete");
    store
        .create("/items/99", bytes("late"))
        .await
        .expect("create");

    let mut keys: Vec<String> = first.items.iter().map(|kv| kv.key.to_string()).collect();
    let mut token = Some(token);
    let mut pages = 1;
    while let Some(t) = token {
        let page = store
            .list("/items/", ListOptions::default().limit(4).continue_token(t))
            .await
            .expect("page");
        assert_eq!(
            page.revision, first.revision,
            "pages keep the first revision"
        );
        assert!(page.items.len() <= 4);
        keys.extend(page.items.iter().map(|kv| kv.key.to_string()));
        token = page.continue_token;
        pages += 1;
    }
    let expected: Vec<String> = (0..10).map(|i| format!("/items/{i:02}")).collect();
    assert_eq!(keys, expected);
    assert_eq!(pages, 3);

    // A fresh list sees the changes.
    let now = store
        .list("/items/", ListOptions::default())
        .await
        .expect("list");
    assert_eq!(now.items.len(), 10);
    assert!(now.items.iter().any(|kv| kv.key == "/items/99"));
    assert!(now.revision > first.revision);
    assert_eq!(now.continue_token, None);

    // Bad tokens are refused, not panicked on.
    for bad in ["garbage", "", "eyJyZXYiOjEsInN0YXJ0IjoiL290aGVyLyJ9"] {
        assert!(
            matches!(
                store
                    .list("/items/", ListOptions::default().continue_token(bad))
                    .await,
                Err(Error::InvalidArgument(_))
            ),
            "token {bad:?}"
        );
    }
    let token = first.continue_token.clone().expect("token");
    assert!(matches!(
        store
            .list(
                "/items/",
                ListOptions::default().continue_token(token).revision(1)
            )
            .await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn compaction_and_future_revisions_map_to_their_errors() {
    let etcd = start_etcd().await;
    let store = store_on(&etcd).await;
    let first = store.create("/c/a", bytes("1")).await.expect("create");
    let second = store
        .update("/c/a", bytes("2"), first.mod_revision)
        .await
        .expect("update");
    store.create("/c/b", bytes("3")).await.expect("create");
    let page = store
        .list("/c/", ListOptions::default().limit(1))
        .await
        .expect("list");
    let third = store.create("/c/c", bytes("4")).await.expect("create");

    // Before compaction, the past is readable.
    let old = store
        .list("/c/", ListOptions::default().revision(first.mod_revision))
        .await
        .expect("list at a past revision");
    assert_eq!(old.items.len(), 1);
    assert_eq!(old.items[0].value, bytes("1"));
    assert_eq!(old.revision, first.mod_revision);

    store.compact(third.mod_revision).await.expect("compact");

    match store
        .list("/c/", ListOptions::default().revision(second.mod_revision))
        .await
    {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => {
            assert_eq!(requested, second.mod_revision);
            assert_eq!(compacted, third.mod_revision);
        }
        other => panic!("list at a compacted revision: {other:?}"),
    }
    // The compaction revision itself stays readable, as in etcd.
    let at = store
        .list("/c/", ListOptions::default().revision(third.mod_revision))
        .await
        .expect("list at the compaction revision");
    assert_eq!(at.items.len(), 3);

    // A continue token from before the compaction has expired.
    let token = page.continue_token.expect("token");
    assert!(matches!(
        store
            .list("/c/", ListOptions::default().continue_token(token))
            .await,
        Err(Error::Compacted { .. })
    ));

    // A watch from before the compaction fails with the compacted revision.
    match store.watch("/c/", first.mod_revision).await {
        Err(Error::Compacted { compacted, .. }) => assert_eq!(compacted, third.mod_revision),
        Ok(_) => panic!("watch from a compacted revision succeeded"),
        Err(other) => panic!("watch from a compacted revision: {other}"),
    }
    // From the compaction revision on, history is still there.
    let mut watch = store
        .watch("/c/", third.mod_revision - 1)
        .await
        .expect("watch from the compaction revision");
    assert_eq!(
        next(&mut watch).await.expect("event").revision(),
        third.mod_revision
    );

    // Compacting again to the same revision is etcd's ErrCompacted.
    assert!(matches!(
        store.compact(third.mod_revision).await,
        Err(Error::Compacted { .. })
    ));

    let current = store.current_revision().await.expect("revision");
    assert_eq!(current, third.mod_revision);
    match store
        .list("/c/", ListOptions::default().revision(current + 10))
        .await
    {
        Err(Error::FutureRevision {
            requested,
            current: now,
        }) => {
            assert_eq!(requested, current + 10);
            assert_eq!(now, current);
        }
        other => panic!("list in the future: {other:?}"),
    }
    assert!(matches!(
        store.compact(current + 10).await,
        Err(Error::FutureRevision { .. })
    ));
    match store.watch("/c/", current + 10).await {
        Err(Error::FutureRevision {
            requested,
            current: now,
        }) => {
            assert_eq!(requested, current + 10);
            assert_eq!(now, current);
        }
        Ok(_) => panic!("watch from the future succeeded"),
        Err(other) => panic!("watch from the future: {other}"),
    }
    // Watching from the current revision itself is watching from now.
    let mut watch = store.watch("/c/", current).await.expect("watch from now");
    let later = store.create("/c/d", bytes("5")).await.expect("create");
    assert_eq!(next(&mut watch).await.expect("event").kv, later);
}

#[tokio::test]
async fn values_over_the_limit_are_refused() {
    let etcd = start_etcd().await;
    let store = store_on(&etcd).await;
    let at_limit = Bytes::from(vec![7u8; DEFAULT_MAX_VALUE_BYTES]);
    let created = store
        .create("/big", at_limit.clone())
        .await
        .expect("a value at the limit fits");
    assert_eq!(store.get("/big").await.expect("get").value, at_limit);

    let over = Bytes::from(vec![7u8; DEFAULT_MAX_VALUE_BYTES + 1]);
    match store
        .update("/big", over.clone(), created.mod_revision)
        .await
    {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!(size, DEFAULT_MAX_VALUE_BYTES + 1);
            assert_eq!(limit, DEFAULT_MAX_VALUE_BYTES);
        }
        other => panic!("update over the limit: {other:?}"),
    }
    assert!(matches!(
        store.create("/big2", over).await,
        Err(Error::TooLarge { .. })
    ));

    // A smaller configured limit applies before anything is sent.
    let small = EtcdStore::connect(etcd.config().prefix(unique_prefix()).max_value_bytes(8))
        .await
        .expect("connect");
    assert!(matches!(
        small.create("/x", bytes("123456789")).await,
        Err(Error::TooLarge { limit: 8, .. })
    ));
    small.create("/x", bytes("12345678")).await.expect("fits");

    // etcd's own request limit maps to TooLarge too, when the store allows
    // more than the server.
    let lax = EtcdStore::connect(
        etcd.config()
            .prefix(unique_prefix())
            .max_value_bytes(8 * 1024 * 1024),
    )
    .await
    .expect("connect");
    assert!(matches!(
        lax.create("/huge", Bytes::from(vec![0u8; 4 * 1024 * 1024]))
            .await,
        Err(Error::TooLarge { .. })
    ));
}

#[tokio::test]
async fn watch_delivers_history_and_live_events_with_previous_values() {
    let etcd = start_etcd().await;
    let store = store_on(&etcd).await;
    let start = store.current_revision().await.expect("revision");
    let a = store.create("/w/a", bytes("1")).await.expect("create");
    let a2 = store
        .update("/w/a", bytes("2"), a.mod_revision)
        .await
        .expect("update");
    store
        .create("/wx", bytes("other prefix"))
        .await
        .expect("create");

    let mut watch = store.watch("/w/", start).await.expect("watch");
    let mut live = store.watch("/w/", 0).await.expect("watch from now");
    let deleted = store.delete("/w/a", None).await.expect("delete");

    let e1 = next(&mut watch).await.expect("event");
    assert_eq!(
        (e1.kind, e1.revision(), e1.prev.clone()),
        (EventKind::Put, a.mod_revision, None)
    );
    let e2 = next(&mut watch).await.expect("event");
    assert_eq!(e2.revision(), a2.mod_revision);
    assert_eq!(e2.prev.as_ref().expect("prev").value, bytes("1"));
    let e3 = next(&mut watch).await.expect("event");
    assert_eq!(e3.kind, EventKind::Delete);
    assert_eq!(e3.kv.key, "/w/a");
    assert!(e3.kv.value.is_empty());
    assert!(e3.revision() > a2.mod_revision);
    assert_eq!(e3.prev.clone().expect("prev"), deleted);
    assert_quiet(&mut watch).await;

    // A watch from "now" sees only what happened after it was opened.
    let only = next(&mut live).await.expect("event");
    assert_eq!(only, e3);
    assert_quiet(&mut live).await;
}

#[tokio::test]
async fn a_slow_watcher_ends_with_lagged_and_never_blocks_writers() {
    let etcd = start_etcd().await;
    let store = EtcdStore::connect(etcd.config().prefix(unique_prefix()).watch_buffer(8))
        .await
        .expect("connect");
    let mut watch = store.watch("/s/", 0).await.expect("watch");
    let mut revisions = Vec::new();
    let writes = async {
        for i in 0..50 {
            let kv = store
                .create(&format!("/s/{i:03}"), bytes("v"))
                .await
                .expect("create");
            revisions.push(kv.mod_revision);
        }
    };
    timeout(Duration::from_secs(10), writes)
        .await
        .expect("writers are not blocked by a watcher that does not read");
    // Give the pump time to notice the full buffer.
    sleep(Duration::from_millis(200)).await;

    let mut delivered = Vec::new();
    let lagged_at = loop {
        match next(&mut watch).await {
            Ok(event) => delivered.push(event.revision()),
            Err(Error::Lagged { revision }) => break revision,
            Err(other) => panic!("unexpected watch error {other}"),
        }
    };
    assert_eq!(
        delivered.len(),
        8,
        "the buffer's worth of events comes first"
    );
    assert_eq!(delivered, revisions[..8], "in order, from the start");
    assert_eq!(lagged_at, revisions[7]);
    assert!(
        timeout(Duration::from_secs(1), watch.next())
            .await
            .expect("ended")
            .is_none(),
        "the stream ends after the error"
    );
}

#[tokio::test]
async fn unreachable_etcd_is_unavailable() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = keelson::store::etcd::Config::default()
        .endpoints([format!("http://127.0.0.1:{port}")])
        .request_timeout(Duration::from_millis(500));
    let started = Instant::now();
    assert!(matches!(
        EtcdStore::connect(config).await,
        Err(Error::Unavailable { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(3));

    // A store whose only member dies answers Unavailable within its timeout.
    let etcd = start_etcd().await;
    let store = EtcdStore::connect(
        etcd.config()
            .prefix(unique_prefix())
            .request_timeout(Duration::from_millis(500)),
    )
    .await
    .expect("connect");
    store.create("/a", bytes("1")).await.expect("create");
    etcd.kill();
    let started = Instant::now();
    assert!(matches!(
        store.get("/a").await,
        Err(Error::Unavailable { .. })
    ));
    assert!(matches!(
        store.create("/b", bytes("2")).await,
        Err(Error::Unavailable { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_watch_survives_its_member_restarting() {
    let etcd = start_etcd().await;
    let store = store_on(&etcd).await;
    let mut watch = store.watch("/r/", 0).await.expect("watch");
    let mut written = Vec::new();
    for key in ["/r/a", "/r/b"] {
        written.push(
            store
                .create(key, bytes("1"))
                .await
                .expect("create")
                .mod_revision,
        );
    }
    // Read part of the history before the member dies.
    assert_eq!(
        next(&mut watch).await.expect("event").revision(),
        written[0]
    );

    etcd.kill();
    sleep(Duration::from_millis(300)).await;
    etcd.restart().await.expect("restart etcd");
    for key in ["/r/c", "/r/d"] {
        written.push(
            store
                .create(key, bytes("1"))
                .await
                .expect("create after restart")
                .mod_revision,
        );
    }
    let mut seen = Vec::new();
    for _ in 1..written.len() {
        seen.push(
            next(&mut watch)
                .await
                .expect("event after restart")
                .revision(),
        );
    }
    assert_eq!(seen, written[1..], "no event lost or repeated");
    assert_quiet(&mut watch).await;
}

/// What the writers of the fault test saw.
#[derive(Default)]
struct Outcome {
    /// Keys whose create returned Ok, with the revision it returned.
    ok: BTreeMap<String, Revision>,
    ok_after_kill: usize,
    failed: usize,
}

/// The fault test: a 3-member cluster loses its leader to SIGKILL while
/// writes stream in. Every acknowledged write survives, and watches opened
/// before the kill deliver every event exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_loses_no_acknowledged_write_and_no_watch_event() {
    let cluster = EtcdCluster::start()
        .await
        .expect("start a 3-member cluster");
    let prefix = unique_prefix();
    // Writes caught in flight by the kill wait in etcd until its own request
    // timeout (5 s); give up on them sooner so that the writers go on.
    let store = EtcdStore::connect(
        cluster
            .config()
            .prefix(prefix.clone())
            .request_timeout(Duration::from_secs(1)),
    )
    .await
    .expect("connect");
    let start = store.current_revision().await.expect("revision");
    // Watches from before the writes, opened until the leader serves at
    // least one (the client balances them over the members), so that the
    // kill breaks it and the store has to move it to a survivor.
    let leader = cluster.leader().await.expect("a leader");
    let leader_endpoint = cluster.endpoint(leader).expect("endpoint");
    let (last_tx, last_rx) = tokio::sync::watch::channel(Revision::MAX);
    let mut consumers = Vec::new();
    while watchers_on(&leader_endpoint).await < 1 {
        assert!(consumers.len() < 40, "no watch landed on the leader");
        let watch = store.watch("/f/", start).await.expect("watch");
        consumers.push(tokio::spawn(consume(watch, last_rx.clone())));
    }
    for _ in 0..3 {
        let watch = store.watch("/f/", start).await.expect("watch");
        consumers.push(tokio::spawn(consume(watch, last_rx.clone())));
    }

    let killed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (store, killed, stop) = (store.clone(), killed.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("/f/{writer}-{n:05}");
                n += 1;
                let after_kill = killed.load(Ordering::Relaxed);
                match store.create(&key, bytes(&key)).await {
                    Ok(kv) => {
                        outcome.ok.insert(key, kv.mod_revision);
                        if after_kill {
                            outcome.ok_after_kill += 1;
                        }
                    }
                    Err(Error::Unavailable { .. }) => outcome.failed += 1,
                    Err(other) => panic!("create {key}: {other}"),
                }
            }
            outcome
        }));
    }

    sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cluster.leader().await,
        Some(leader),
        "leadership moved early"
    );
    assert!(watchers_on(&leader_endpoint).await >= 1);
    cluster.kill(leader).expect("kill the leader");
    killed.store(true, Ordering::Relaxed);
    sleep(Duration::from_millis(3000)).await;
    stop.store(true, Ordering::Relaxed);

    let mut acknowledged = BTreeMap::new();
    let (mut ok_after_kill, mut failed) = (0, 0);
    for writer in writers {
        let outcome = writer.await.expect("writer task");
        acknowledged.extend(outcome.ok);
        ok_after_kill += outcome.ok_after_kill;
        failed += outcome.failed;
    }
    assert!(
        acknowledged.len() > 100,
        "writes went through before the kill ({} acknowledged, {failed} failed)",
        acknowledged.len()
    );
    assert!(
        ok_after_kill > 10,
        "writes went through after the kill ({ok_after_kill})"
    );

    // Every acknowledged write is there, unchanged, on the survivors.
    let survivors: Vec<String> = (0..EtcdCluster::SIZE)
        .filter(|&m| m != leader)
        .map(|m| cluster.endpoint(m).expect("endpoint"))
        .collect();
    let reader = EtcdStore::connect(
        keelson::store::etcd::Config::default()
            .endpoints(survivors)
            .prefix(prefix),
    )
    .await
    .expect("connect to the survivors");
    let listed = reader
        .list("/f/", ListOptions::default())
        .await
        .expect("list");
    let present: BTreeMap<String, Revision> = listed
        .items
        .iter()
        .map(|kv| (kv.key.to_string(), kv.mod_revision))
        .collect();
    for (key, revision) in &acknowledged {
        assert_eq!(
            present.get(key),
            Some(revision),
            "acknowledged write {key} lost"
        );
    }
    // Failed writes may or may not have been applied; none appeared twice.
    assert!(present.len() <= acknowledged.len() + failed);

    // Each watch delivers exactly the writes present, once each, in order.
    let last = present.values().copied().max().expect("some writes");
    last_tx.send_replace(last);
    let expected: BTreeSet<(Revision, String)> =
        present.iter().map(|(k, r)| (*r, k.clone())).collect();
    for (i, consumer) in consumers.into_iter().enumerate() {
        let (seen, mut watch) = timeout(Duration::from_secs(20), consumer)
            .await
            .expect("watch catches up within 20 s")
            .expect("consumer task");
        let seen = seen.unwrap_or_else(|err| panic!("watch {i} failed: {err}"));
        assert!(
            seen.windows(2).all(|w| w[0].0 < w[1].0),
            "watch {i} delivered events out of order or twice"
        );
        let seen: BTreeSet<(Revision, String)> = seen.into_iter().collect();
        assert_eq!(seen, expected, "watch {i} lost or invented events");
        assert_quiet(&mut watch).await;
    }
}

/// How many watchers a member serves, from its Prometheus metrics.
async fn watchers_on(endpoint: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = endpoint.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the metrics endpoint");
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .expect("request metrics");
    let mut body = String::new();
    conn.read_to_string(&mut body).await.expect("read metrics");
    body.lines()
        .find_map(|line| line.strip_prefix("etcd_debugging_mvcc_watcher_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

/// Drain a watch until it delivered the revision `last` says (unknown, and
/// so `Revision::MAX`, while the writes go on).
async fn consume(
    mut watch: WatchStream,
    mut last: tokio::sync::watch::Receiver<Revision>,
) -> (Result<Vec<(Revision, String)>, Error>, WatchStream) {
    let mut seen: Vec<(Revision, String)> = Vec::new();
    loop {
        let target = *last.borrow_and_update();
        if seen.last().is_some_and(|(r, _)| *r >= target) {
            return (Ok(seen), watch);
        }
        tokio::select! {
            item = watch.next() => match item {
                Some(Ok(event)) => {
                    assert_eq!(event.kind, EventKind::Put);
                    seen.push((event.revision(), event.kv.key.to_string()));
                }
                Some(Err(err)) => return (Err(err), watch),
                None => return (Err(Error::Unsupported("watch ended")), watch),
            },
            _ = last.changed() => {}
        }
    }
}

#[tokio::test]
async fn the_helper_reports_a_missing_etcd_binary() {
    use keelson::store::etcd_process::{Error as StartError, Options};
    match EtcdProcess::start_with(Options::default().binary("/nonexistent/etcd")).await {
        Err(err @ StartError::BinaryNotFound { .. }) => {
            assert!(err.to_string().contains("etcd-server"), "{err}");
        }
        other => panic!("start without a binary: {other:?}"),
    }
    // A member that cannot start reports its log.
    match EtcdProcess::start_with(Options::default().arg("--no-such-flag")).await {
        Err(StartError::Exited { tail, .. }) => {
            assert!(tail.contains("no-such-flag"), "{tail}");
        }
        other => panic!("start with a bad flag: {other:?}"),
    }
}
