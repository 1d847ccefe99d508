//! The finalizer helper under a real Controller (cleanup runs before the
//! object goes, failures keep it, other finalizers are left alone), and
//! the event recorder (repeats aggregated, distinct events apart, odd
//! inputs handled).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keelson::api::core::{ConfigMap, Event, Namespace};
use keelson::api::meta::DeleteOptions;
use keelson::api::ObjectMeta;
use keelson::apiserver::ApiServer;
use keelson::client::{Api, LocalClient, PatchType};
use keelson::controllers::events::{EventType, Recorder};
use keelson::controllers::finalizer::{self, finalizer};
use keelson::controllers::{reconciler_fn, Action, Controller};
use keelson::informer::InformerFactory;

const FINALIZER: &str = "example.com/cleanup";

#[derive(Debug, thiserror::Error)]
#[error("cleanup not possible yet")]
struct NotYet;

/// What the reconciler saw, in order.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Apply(String),
    /// A cleanup, and whether the object still existed (being deleted)
    /// when it ran.
    Cleanup(String, bool),
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// A ConfigMap controller whose reconciler runs under our finalizer;
/// cleanups of `flaky` fail the first `failures` times.
fn start(client: &LocalClient, seen: Arc<Mutex<Vec<Seen>>>, failures: usize) -> Running {
    let factory = InformerFactory::new(client);
    // Across namespaces: the helper patches in the object's namespace.
    let api: Api<ConfigMap> = Api::all(client);
    let failures = Arc::new(AtomicUsize::new(failures));
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reconciler = reconciler_fn(move |_key, cm: Option<Arc<ConfigMap>>| {
        let (api, seen, failures) = (api.clone(), seen.clone(), failures.clone());
        async move {
            let Some(cm) = cm else {
                return Ok(Action::Done);
            };
            let client = api.client().clone();
            finalizer(&api, FINALIZER, cm, |event| async move {
                match event {
                    finalizer::Event::Apply(cm) => {
                        seen.lock()
                            .unwrap()
                            .push(Seen::Apply(cm.metadata.name.to_string()));
                        Ok(Action::Done)
                    }
                    finalizer::Event::Cleanup(cm) => {
                        let name = cm.metadata.name.to_string();
                        if name == "flaky" && failures.load(Ordering::SeqCst) > 0 {
                            failures.fetch_sub(1, Ordering::SeqCst);
                            return Err(NotYet);
                        }
                        let live = Api::<ConfigMap>::namespaced(client, &cm.metadata.namespace)
                            .get_opt(&name)
                            .await
                            .unwrap()
                            .is_some_and(|c| c.metadata.deletion_timestamp.is_some());
                        seen.lock().unwrap().push(Seen::Cleanup(name, live));
                        Ok(Action::Done)
                    }
                }
            })
            .await
        }
    });
    let task = tokio::spawn(
        Controller::<ConfigMap>::new(&factory)
            .graceful_shutdown_on(async {
                let _ = stop_rx.await;
            })
            .run(reconciler),
    );
    Running { stop, task }
}

async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "timed out waiting until {what}");
}

fn named(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    }
}

#[tokio::test]
async fn deleting_an_object_runs_cleanup_then_the_object_disappears() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let running = start(&client, seen.clone(), 0);
    let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
    cms.create(&named("app")).await.unwrap();

    eventually("the finalizer is added and apply runs", async || {
        let cm = cms.get("app").await.unwrap();
        cm.metadata.has_finalizer(FINALIZER)
            && seen.lock().unwrap().contains(&Seen::Apply("app".into()))
    })
    .await;

    let out = cms.delete("app", &DeleteOptions::default()).await.unwrap();
    assert!(!out.is_gone(), "the finalizer holds the object");
    eventually("the object is gone", async || {
        cms.get_opt("app").await.unwrap().is_none()
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&Seen::Cleanup("app".into(), true)),
        "{seen:?}"
    );
    // Apply never ran for the object being deleted.
    let first_cleanup = seen
        .iter()
        .position(|s| matches!(s, Seen::Cleanup(..)))
        .unwrap();
    assert!(
        !seen[first_cleanup..].contains(&Seen::Apply("app".into())),
        "{seen:?}"
    );

    let _ = running.stop.send(());
    running.task.await.unwrap();
}

#[tokio::test]
async fn a_failing_cleanup_keeps_the_object_until_it_succeeds() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let running = start(&client, seen.clone(), 3);
    let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
    cms.create(&named("flaky")).await.unwrap();
    eventually("the finalizer is added", async || {
        cms.get("flaky")
            .await
            .unwrap()
            .metadata
            .has_finalizer(FINALIZER)
    })
    .await;
    cms.delete("flaky", &DeleteOptions::default())
        .await
        .unwrap();
    eventually("the object is gone after retries", async || {
        cms.get_opt("flaky").await.unwrap().is_none()
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter()
            .filter(|s| matches!(s, Seen::Cleanup(..)))
            .count(),
        1,
        "one successful cleanup after three failures: {seen:?}"
    );
    let _ = running.stop.send(());
    running.task.await.unwrap();
}

#[tokio::test]
async fn other_finalizers_are_left_in_place() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let running = start(&client, seen.clone(), 0);
    let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
    let mut cm = named("shared");
    cm.metadata.finalizers.push("other.example.com/keep".into());
    cms.create(&cm).await.unwrap();
    eventually("ours is added after theirs", async || {
        cms.get("shared").await.unwrap().metadata.finalizers
            == ["other.example.com/keep", FINALIZER]
    })
    .await;

    cms.delete("shared", &DeleteOptions::default())
        .await
        .unwrap();
    eventually("ours is removed after cleanup", async || {
        cms.get("shared").await.unwrap().metadata.finalizers == ["other.example.com/keep"]
    })
    .await;
    assert!(seen
        .lock()
        .unwrap()
        .contains(&Seen::Cleanup("shared".into(), true)));
    // Theirs still holds it.
    assert!(cms
        .get("shared")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_some());
    cms.patch(
        "shared",
        PatchType::Merge,
        &serde_json::json!({"metadata": {"finalizers": null}}),
    )
    .await
    .unwrap();
    eventually("it goes", async || {
        cms.get_opt("shared").await.unwrap().is_none()
    })
    .await;

    let _ = running.stop.send(());
    running.task.await.unwrap();
}

async fn events(client: &LocalClient, ns: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client, ns)
        .list(&Default::default())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn identical_events_aggregate_into_one_with_a_count() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let cm = Api::<ConfigMap>::namespaced(&client, "default")
        .create(&named("app"))
        .await
        .unwrap();
    let recorder = Recorder::new(&client, "test-controller").host("node-1");

    recorder
        .publish(&cm, EventType::Warning, "Failed", "it broke")
        .await
        .unwrap();
    let first = events(&client, "default").await;
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    recorder
        .publish(&cm, EventType::Warning, "Failed", "it broke")
        .await
        .unwrap();

    let evs = events(&client, "default").await;
    assert_eq!(evs.len(), 1, "{evs:?}");
    let e = &evs[0];
    assert_eq!(e.count, 2);
    assert_eq!(e.metadata.name, first[0].metadata.name);
    assert!(e.metadata.name.starts_with("app."), "{}", e.metadata.name);
    assert_eq!(e.first_timestamp, first[0].first_timestamp);
    assert!(
        e.last_timestamp > first[0].last_timestamp,
        "lastTimestamp moved"
    );
    assert_eq!(e.type_, "Warning");
    assert_eq!((&*e.reason, &*e.message), ("Failed", "it broke"));
    assert_eq!(
        (&*e.source.component, &*e.source.host),
        ("test-controller", "node-1")
    );
    let io = &e.involved_object;
    assert_eq!((&*io.kind, &*io.api_version), ("ConfigMap", "v1"));
    assert_eq!((&*io.namespace, &*io.name), ("default", "app"));
    assert_eq!(io.uid, cm.metadata.uid);
}

#[tokio::test]
async fn different_events_are_kept_apart() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let cms = Api::<ConfigMap>::namespaced(&client, "default");
    let a = cms.create(&named("a")).await.unwrap();
    let b = cms.create(&named("b")).await.unwrap();
    let recorder = Recorder::new(&client, "test-controller");

    recorder
        .publish(&a, EventType::Normal, "Created", "x")
        .await
        .unwrap();
    recorder
        .publish(&a, EventType::Normal, "Updated", "x")
        .await
        .unwrap();
    recorder
        .publish(&a, EventType::Warning, "Updated", "x")
        .await
        .unwrap();
    recorder
        .publish(&a, EventType::Normal, "Updated", "y")
        .await
        .unwrap();
    recorder
        .publish(&b, EventType::Normal, "Created", "x")
        .await
        .unwrap();
    recorder
        .publish(&a, EventType::Normal, "Created", "x")
        .await
        .unwrap();

    let evs = events(&client, "default").await;
    assert_eq!(evs.len(), 5, "{evs:?}");
    let created_a = evs
        .iter()
        .find(|e| e.involved_object.name == "a" && e.reason == "Created")
        .unwrap();
    assert_eq!(created_a.count, 2);
    assert!(evs
        .iter()
        .filter(|e| e.reason == "Updated")
        .all(|e| e.count == 1));
    // Another component's identical event is its own.
    Recorder::new(&client, "other")
        .publish(&b, EventType::Normal, "Created", "x")
        .await
        .unwrap();
    assert_eq!(events(&client, "default").await.len(), 6);
}

#[tokio::test]
async fn a_deleted_event_is_started_again_and_odd_inputs_do_not_panic() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let recorder = Recorder::new(&client, "test-controller");

    // Cluster-scoped objects' events live in `default`.
    let ns = Api::<Namespace>::all(&client)
        .get("kube-system")
        .await
        .unwrap();
    recorder
        .publish(&ns, EventType::Normal, "Seen", "hello")
        .await
        .unwrap();
    let evs = events(&client, "default").await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].involved_object.kind, "Namespace");
    assert_eq!(evs[0].involved_object.namespace, "");

    // Expired (deleted): a repeat starts a new Event.
    Api::<Event>::namespaced(&client, "default")
        .delete(&evs[0].metadata.name, &DeleteOptions::default())
        .await
        .unwrap();
    recorder
        .publish(&ns, EventType::Normal, "Seen", "hello")
        .await
        .unwrap();
    let evs = events(&client, "default").await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].count, 1);

    // An object never stored: no name, no namespace, no uid.
    recorder
        .publish(&ConfigMap::default(), EventType::Normal, "Odd", "")
        .await
        .unwrap();
    assert!(events(&client, "default")
        .await
        .iter()
        .any(|e| e.reason == "Odd" && e.metadata.name.starts_with("event.")));
    // A namespace that does not exist: an error, not a panic.
    let mut ghost = named("ghost");
    ghost.metadata.namespace = "no-such-namespace".into();
    assert!(recorder
        .publish(&ghost, EventType::Normal, "Odd", "m")
        .await
        .is_err());
    assert!(recorder
        .publish(&ghost, EventType::Normal, "", "m")
        .await
        .is_err());
}

#[tokio::test(start_paused = true)]
async fn repeats_outside_the_window_start_a_new_event() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let cm = Api::<ConfigMap>::namespaced(&client, "default")
        .create(&named("app"))
        .await
        .unwrap();
    let recorder =
        Recorder::new(&client, "test-controller").aggregation_window(Duration::from_secs(60));
    recorder
        .publish(&cm, EventType::Normal, "Tick", "t")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    recorder
        .publish(&cm, EventType::Normal, "Tick", "t")
        .await
        .unwrap();
    assert_eq!(events(&client, "default").await.len(), 1);
    tokio::time::sleep(Duration::from_secs(90)).await;
    recorder
        .publish(&cm, EventType::Normal, "Tick", "t")
        .await
        .unwrap();
    let mut counts: Vec<i32> = events(&client, "default")
        .await
        .iter()
        .map(|e| e.count)
        .collect();
    counts.sort();
    assert_eq!(counts, vec![1, 2]);
}
