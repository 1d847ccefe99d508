//! The reconcile runtime: which keys reach the reconciler, retries,
//! requeues, exclusivity per key, metrics and graceful shutdown.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keelson::api::core::{ConfigMap, Secret};
use keelson::api::meta::DeleteOptions;
use keelson::api::{ObjectMeta, OwnerReference};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, LocalClient};
use keelson::controllers::{reconciler_fn, Action, Controller};
use keelson::informer::{InformerFactory, ObjectKey};
use tokio::sync::{mpsc, oneshot};

async fn setup() -> (LocalClient, InformerFactory) {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let factory = InformerFactory::new(&client);
    (client, factory)
}

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    }
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    next_within(rx, Duration::from_secs(10)).await
}

async fn next_within<T>(rx: &mut mpsc::UnboundedReceiver<T>, limit: Duration) -> T {
    tokio::time::timeout(limit, rx.recv())
        .await
        .expect("timed out waiting for a reconcile")
        .expect("the controller stopped")
}

#[derive(Debug, thiserror::Error)]
#[error("transient failure")]
struct Transient;

#[tokio::test]
async fn create_update_and_delete_reach_the_reconciler() {
    let (client, factory) = setup().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let controller = Controller::<ConfigMap>::new(&factory).graceful_shutdown_on(async {
        let _ = stopped.await;
    });
    let run = tokio::spawn(controller.run(reconciler_fn(
        move |key: ObjectKey, obj: Option<Arc<ConfigMap>>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((key.to_string(), obj.map(|o| o.data.len())));
                Ok::<_, Transient>(Action::Done)
            }
        },
    )));
    let api: Api<ConfigMap> = Api::namespaced(&client, "default");
    api.create(&cm("a")).await.unwrap();
    assert_eq!(next(&mut rx).await, ("default/a".into(), Some(0)));

    let mut changed = api.get("a").await.unwrap();
    changed.data.insert("k", "v");
    api.update(&changed).await.unwrap();
    assert_eq!(next(&mut rx).await, ("default/a".into(), Some(1)));

    api.delete("a", &DeleteOptions::default()).await.unwrap();
    assert_eq!(next(&mut rx).await, ("default/a".into(), None));
    let _ = stop.send(());
    run.await.unwrap();
}

#[tokio::test]
async fn objects_present_before_start_are_reconciled_once_synced() {
    let (client, factory) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(&client, "default");
    for n in ["x", "y", "z"] {
        api.create(&cm(n)).await.unwrap();
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let controller = Controller::<ConfigMap>::new(&factory);
    let run = tokio::spawn(controller.run(reconciler_fn(
        move |key: ObjectKey, _obj: Option<Arc<ConfigMap>>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(key.to_string());
                Ok::<_, Transient>(Action::Done)
            }
        },
    )));
    let mut seen = HashSet::new();
    while seen.len() < 3 {
        seen.insert(next(&mut rx).await);
    }
    assert_eq!(
        seen,
        ["default/x", "default/y", "default/z"]
            .map(String::from)
            .into()
    );
    run.abort();
}

fn owned_by(owner: &ConfigMap, name: &str) -> Secret {
    let mut meta = ObjectMeta::named(name);
    meta.owner_references.push(OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone(),
        uid: owner.metadata.uid.clone(),
        controller: Some(true),
        block_owner_deletion: None,
    });
    Secret {
        metadata: meta,
        ..Default::default()
    }
}

#[tokio::test]
async fn owned_and_watched_changes_map_to_the_primary_key() {
    let (client, factory) = setup().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(&client, "default");
    let secrets: Api<Secret> = Api::namespaced(&client, "default");
    let owner = configmaps.create(&cm("owner")).await.unwrap();

    let (tx, mut rx) = mpsc::unbounded_channel();
    // Owned Secrets map to their ConfigMap owner; every Secret named
    // `mirror-X` also maps to ConfigMap `X`.
    let controller = Controller::<ConfigMap>::new(&factory)
        .owns::<Secret>()
        .watches::<Secret>(|s| {
            s.metadata
                .name
                .strip_prefix("mirror-")
                .map(|n| vec![ObjectKey::new(s.metadata.namespace.clone(), n)])
                .unwrap_or_default()
        });
    let run = tokio::spawn(controller.run(reconciler_fn(
        move |key: ObjectKey, _obj: Option<Arc<ConfigMap>>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(key.to_string());
                Ok::<_, Transient>(Action::Done)
            }
        },
    )));
    assert_eq!(next(&mut rx).await, "default/owner");

    secrets.create(&owned_by(&owner, "child")).await.unwrap();
    assert_eq!(next(&mut rx).await, "default/owner");

    secrets
        .create(&Secret {
            metadata: ObjectMeta::named("mirror-other"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, "default/other");

    // A Secret owned by something else maps to nothing.
    let mut foreign = owned_by(&owner, "foreign");
    foreign.metadata.owner_references[0].kind = "Deployment".into();
    foreign.metadata.owner_references[0].api_version = "apps/v1".into();
    secrets.create(&foreign).await.unwrap();
    secrets
        .delete("child", &DeleteOptions::default())
        .await
        .unwrap();
    // The delete of the owned child arrives; nothing for "foreign" came first.
    assert_eq!(next(&mut rx).await, "default/owner");
    run.abort();
}

#[tokio::test]
async fn errors_retry_with_backoff_and_are_counted() {
    let (client, factory) = setup().await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let controller = Controller::<ConfigMap>::new(&factory).name("flaky");
    let metrics = controller.metrics();
    let a = attempts.clone();
    let run = tokio::spawn(controller.run(reconciler_fn(
        move |_key: ObjectKey, _obj: Option<Arc<ConfigMap>>| {
            let n = a.fetch_add(1, Ordering::SeqCst) + 1;
            let tx = tx.clone();
            async move {
                if n < 4 {
                    return Err(Transient);
                }
                let _ = tx.send(n);
                Ok(Action::Done)
            }
        },
    )));
    Api::<ConfigMap>::namespaced(&client, "default")
        .create(&cm("a"))
        .await
        .unwrap();
    // Three failures (5 ms, 10 ms, 20 ms backoff), then success.
    assert_eq!(next(&mut rx).await, 4);
    assert_eq!(metrics.errors(), 3);
    assert_eq!(metrics.reconciles(), 4);
    let text = metrics.render("flaky");
    assert!(
        text.contains("controller_reconcile_errors_total{controller=\"flaky\"} 3"),
        "{text}"
    );
    run.abort();
}

#[tokio::test(start_paused = true)]
async fn requeue_after_comes_back_after_its_delay() {
    let (client, factory) = setup().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let controller = Controller::<ConfigMap>::new(&factory);
    let run = tokio::spawn(controller.run(reconciler_fn(
        move |_key: ObjectKey, _obj: Option<Arc<ConfigMap>>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(tokio::time::Instant::now());
                Ok::<_, Transient>(Action::requeue(Duration::from_secs(30)))
            }
        },
    )));
    Api::<ConfigMap>::namespaced(&client, "default")
        .create(&cm("a"))
        .await
        .unwrap();
    // Paused time: the timeout must outlast the requeue delay.
    let limit = Duration::from_secs(120);
    let first = next_within(&mut rx, limit).await;
    let second = next_within(&mut rx, limit).await;
    let third = next_within(&mut rx, limit).await;
    assert!(
        second - first >= Duration::from_secs(30),
        "{:?}",
        second - first
    );
    assert!(
        third - second >= Duration::from_secs(30),
        "{:?}",
        third - second
    );
    run.abort();
}

#[tokio::test]
async fn one_key_is_never_reconciled_twice_at_once() {
    let (client, factory) = setup().await;
    let active: Arc<Mutex<HashSet<ObjectKey>>> = Arc::default();
    let overlaps = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let controller = Controller::<ConfigMap>::new(&factory).concurrency(4);
    let (a, o, c) = (active.clone(), overlaps.clone(), calls.clone());
    let run = tokio::spawn(controller.run(reconciler_fn(
        move |key: ObjectKey, _obj: Option<Arc<ConfigMap>>| {
            let (a, o, c) = (a.clone(), o.clone(), c.clone());
            async move {
                if !a.lock().unwrap().insert(key.clone()) {
                    o.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                a.lock().unwrap().remove(&key);
                c.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Transient>(Action::Done)
            }
        },
    )));
    let api: Api<ConfigMap> = Api::namespaced(&client, "default");
    for n in 0..5 {
        api.create(&cm(&format!("k{n}"))).await.unwrap();
    }
    // Many updates to the same few keys while workers are busy.
    for round in 0..20 {
        for n in 0..5 {
            let mut o = api.get(&format!("k{n}")).await.unwrap();
            o.data.insert("round", round.to_string());
            api.update(&o).await.unwrap();
        }
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while calls.load(Ordering::SeqCst) < 5 || !active.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(overlaps.load(Ordering::SeqCst), 0);
    run.abort();
}

#[tokio::test]
async fn graceful_shutdown_lets_a_running_reconcile_finish() {
    let (client, factory) = setup().await;
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let finished = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = oneshot::channel::<()>();
    let controller = Controller::<ConfigMap>::new(&factory).graceful_shutdown_on(async {
        let _ = stopped.await;
    });
    let f = finished.clone();
    let run = tokio::spawn(controller.run(reconciler_fn(
        move |_key: ObjectKey, _obj: Option<Arc<ConfigMap>>| {
            let (tx, f) = (started_tx.clone(), f.clone());
            async move {
                let _ = tx.send(());
                tokio::time::sleep(Duration::from_millis(200)).await;
                f.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Transient>(Action::Done)
            }
        },
    )));
    Api::<ConfigMap>::namespaced(&client, "default")
        .create(&cm("slow"))
        .await
        .unwrap();
    next(&mut started).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("run returns after shutdown")
        .unwrap();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the running reconcile finished"
    );
}
