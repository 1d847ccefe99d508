//! The API server's semantics, through the typed client (`Api<K>` over the
//! transport's `Client`) and the server's own entry points. The same suite
//! runs over `LocalClient` (`tests/apiserver`) and over `HttpClient` and
//! the HTTP server (`tests/apiserver_http`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use keelson::api::apps::{Deployment, Scale};
use keelson::api::core::{ConfigMap, Namespace, Pod, ResourceQuota, Service};
use keelson::api::meta::DeleteOptions;
use keelson::api::{DynamicObject, ObjectMeta, Resource, WatchEvent};
use keelson::apiserver::{ApiServer, Config, ListOptions, PatchType, Target, WriteOptions};
use keelson::client::{Api, Client, DeleteOutcome, DynamicApi, Error};

use crate::transport;
use keelson::store::{MemoryStore, Store};

async fn server() -> (ApiServer, Arc<dyn Client>) {
    let server = ApiServer::in_memory().await.unwrap();
    let client: Arc<dyn Client> = transport::client(&server).await;
    (server, client)
}

fn from_json<K: Resource>(v: serde_json::Value) -> K {
    serde_json::from_value(v).unwrap()
}

fn pod(name: &str, labels: serde_json::Value) -> Pod {
    from_json(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    }))
}

fn configmap(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    }
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    from_json(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}
            }
        }
    }))
}

fn code(e: &Error) -> (i32, String) {
    let s = e.status().expect("an API error");
    (s.code, s.reason.to_string())
}

// ------------------------------------------------------------------ create

#[tokio::test]
async fn create_fills_metadata() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    let created = pods
        .create(&pod("web", json!({"app": "web"})))
        .await
        .unwrap();
    let m = &created.metadata;
    assert_eq!(m.namespace, "default");
    assert!(!m.uid.is_empty());
    assert!(m.creation_timestamp.is_some());
    assert_eq!(m.generation, 1);
    assert!(m.resource_version.parse::<i64>().unwrap() > 0);
    // Defaults were applied.
    assert_eq!(created.spec.restart_policy, "Always");
    assert_eq!(created.spec.scheduler_name, "default-scheduler");

    let mut generated = pod("", json!({}));
    generated.metadata.generate_name = "web-".into();
    let g = pods.create(&generated).await.unwrap();
    assert!(g.metadata.name.starts_with("web-"), "{}", g.metadata.name);
    assert_eq!(g.metadata.name.len(), "web-".len() + 5);
}

#[tokio::test]
async fn create_errors_carry_kubernetes_reasons() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    cms.create(&configmap("a")).await.unwrap();

    // 409 AlreadyExists.
    let e = cms.create(&configmap("a")).await.unwrap_err();
    assert_eq!(code(&e), (409, "AlreadyExists".into()));

    // 422 Invalid, with the field named in the causes.
    let e = cms.create(&configmap("Not_Valid")).await.unwrap_err();
    assert_eq!(code(&e), (422, "Invalid".into()));
    let causes = &e.status().unwrap().details.as_ref().unwrap().causes;
    assert!(
        causes.iter().any(|c| c.field == "metadata.name"),
        "{causes:?}"
    );

    // 404 NotFound: the namespace does not exist.
    let missing: Api<ConfigMap> = Api::namespaced(&c, "nowhere");
    let e = missing.create(&configmap("a")).await.unwrap_err();
    assert_eq!(code(&e), (404, "NotFound".into()));

    // 404 on a read.
    let e = cms.get("b").await.unwrap_err();
    assert_eq!(code(&e), (404, "NotFound".into()));
    assert!(e.is_not_found());

    // 400 BadRequest: the body's apiVersion is not the resource's.
    let t = Target::new("", "v1", "configmaps").namespace("default");
    let body = br#"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"x"}}"#;
    let e = c
        .create(
            &t,
            keelson::client::Body::Json(body.to_vec().into()),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 400, "{e}");

    // 400 BadRequest: malformed JSON names the problem.
    let e = c
        .create(
            &t,
            keelson::client::Body::Json(b"{\"metadata\": {".to_vec().into()),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 400, "{e}");

    // 404: an unknown resource.
    let e = c
        .get(&Target::new("", "v1", "widgets").name("x"), "")
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 404);
}

#[tokio::test]
async fn strict_field_validation_rejects_unknown_fields() {
    let (s, _c) = server().await;
    let t = Target::new("", "v1", "configmaps").namespace("default");
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"colour":"red"}"#;
    let strict =
        WriteOptions::default().field_validation(keelson::api::scheme::FieldValidation::Strict);
    let e = s.create_json(&t, body, &strict).await.unwrap_err();
    assert_eq!(e.code(), 400);
    assert!(
        e.status().message.contains("colour"),
        "{}",
        e.status().message
    );
    // Warn (the default): created, with a warning naming the field.
    let w = s
        .create_json(&t, body, &WriteOptions::default())
        .await
        .unwrap();
    assert!(
        w.warnings.iter().any(|w| w.contains("colour")),
        "{:?}",
        w.warnings
    );
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    let dry = WriteOptions::default().dry_run(true);
    let out = cms.create_with(&configmap("ghost"), &dry).await.unwrap();
    assert_eq!(out.metadata.name, "ghost");
    assert!(cms.get_opt("ghost").await.unwrap().is_none());

    let real = cms.create(&configmap("real")).await.unwrap();
    let mut changed = real.clone();
    changed.data.insert("k", "v");
    cms.update_with(&changed, &dry).await.unwrap();
    assert!(cms.get("real").await.unwrap().data.is_empty());
}

// ------------------------------------------------------------------ update

#[tokio::test]
async fn concurrent_updates_from_one_version_exactly_one_wins() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    let base = cms.create(&configmap("race")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let cms = cms.clone();
        let mut mine = base.clone();
        mine.data.insert("writer", i.to_string());
        tasks.push(tokio::spawn(async move { cms.update(&mine).await }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert_eq!(code(&e), (409, "Conflict".into())),
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn generation_moves_only_with_the_spec() {
    let (_s, c) = server().await;
    let deps: Api<Deployment> = Api::namespaced(&c, "default");
    let d = deps.create(&deployment("web", 2)).await.unwrap();
    assert_eq!(d.metadata.generation, 1);

    let mut labelled = d.clone();
    labelled.metadata.labels.insert("tier", "front");
    let d2 = deps.update(&labelled).await.unwrap();
    assert_eq!(
        d2.metadata.generation, 1,
        "a metadata change keeps the generation"
    );

    let mut scaled = d2.clone();
    scaled.spec.replicas = Some(3);
    let d3 = deps.update(&scaled).await.unwrap();
    assert_eq!(d3.metadata.generation, 2);
}

#[tokio::test]
async fn status_and_spec_are_written_separately() {
    let (_s, c) = server().await;
    let deps: Api<Deployment> = Api::namespaced(&c, "default");
    let d = deps.create(&deployment("web", 2)).await.unwrap();

    // A status write cannot change the spec.
    let mut s = d.clone();
    s.spec.replicas = Some(9);
    s.status.replicas = 2;
    let after = deps.update_status(&s).await.unwrap();
    assert_eq!(after.spec.replicas, Some(2));
    assert_eq!(after.status.replicas, 2);
    assert_eq!(after.metadata.generation, 1);

    // The main resource ignores status.
    let mut m = after.clone();
    m.status.replicas = 7;
    m.spec.replicas = Some(4);
    let after = deps.update(&m).await.unwrap();
    assert_eq!(after.status.replicas, 2);
    assert_eq!(after.spec.replicas, Some(4));
}

#[tokio::test]
async fn scale_subresource() {
    let (_s, c) = server().await;
    let deps: Api<Deployment> = Api::namespaced(&c, "default");
    deps.create(&deployment("web", 2)).await.unwrap();
    let scale = deps.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.replicas, 2);
    let mut more: Scale = scale.clone();
    more.spec.replicas = 5;
    let out = deps.replace_scale("web", &more).await.unwrap();
    assert_eq!(out.spec.replicas, 5);
    assert_eq!(deps.get("web").await.unwrap().spec.replicas, Some(5));

    // kubectl scale sends a merge patch to the scale subresource.
    let out: Scale = {
        let api: Api<Deployment> = deps.clone();
        let t = api.target("web", "scale");
        let p = api
            .client()
            .patch(
                &t,
                PatchType::Merge,
                br#"{"spec":{"replicas":1}}"#.to_vec().into(),
                &WriteOptions::default(),
            )
            .await
            .unwrap();
        match p {
            keelson::client::Payload::Object(o) => o.downcast_ref::<Scale>().unwrap().clone(),
            keelson::client::Payload::Json(b) => serde_json::from_slice(&b).unwrap(),
        }
    };
    assert_eq!(out.spec.replicas, 1);
    assert_eq!(deps.get("web").await.unwrap().spec.replicas, Some(1));
}

#[tokio::test]
async fn merge_patch_changes_only_what_it_names() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    pods.create(&pod("web", json!({"app": "web", "tier": "front"})))
        .await
        .unwrap();
    let patched = pods
        .patch(
            "web",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"tier": null, "env": "qa"}}}),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.metadata.labels.get("app").map(|s| s.as_str()),
        Some("web")
    );
    assert_eq!(
        patched.metadata.labels.get("env").map(|s| s.as_str()),
        Some("qa")
    );
    assert_eq!(patched.metadata.labels.get("tier"), None);

    // A stale resourceVersion in the patch is a precondition: 409.
    let e = pods
        .patch(
            "web",
            PatchType::Merge,
            &json!({"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}}),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 409);

    // A patch that makes the object invalid: 422.
    let e = pods
        .patch(
            "web",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"bad key!": "x"}}}),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 422);

    // A patch of a missing object: 404.
    let e = pods
        .patch("nope", PatchType::Merge, &json!({}))
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 404);
}

// ------------------------------------------------------------------ delete

#[tokio::test]
async fn a_finalizer_keeps_a_deleted_object_readable() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    let mut cm = configmap("held");
    cm.metadata.finalizers.push("example.com/hold".into());
    cms.create(&cm).await.unwrap();

    let out = cms.delete("held", &DeleteOptions::default()).await.unwrap();
    let DeleteOutcome::Pending(pending) = out else {
        panic!("expected pending, got {out:?}")
    };
    assert!(pending.metadata.deletion_timestamp.is_some());
    let still = cms.get("held").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());

    // Removing the last finalizer completes the deletion.
    let mut release = still.clone();
    release.metadata.finalizers.clear();
    cms.update(&release).await.unwrap();
    assert!(cms.get_opt("held").await.unwrap().is_none());
}

#[tokio::test]
async fn pods_are_deleted_gracefully() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    // A pod no node has taken is deleted at once.
    pods.create(&pod("unscheduled", json!({}))).await.unwrap();
    let out = pods
        .delete("unscheduled", &DeleteOptions::default())
        .await
        .unwrap();
    assert!(out.is_gone(), "{out:?}");

    // A pod on a node waits for the node agent to stop it.
    let mut bound = pod("web", json!({}));
    bound.spec.node_name = "node-1".into();
    pods.create(&bound).await.unwrap();
    let out = pods.delete("web", &DeleteOptions::default()).await.unwrap();
    let DeleteOutcome::Pending(p) = out else {
        panic!("a scheduled pod with a grace period waits: {out:?}")
    };
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(30));
    // The node agent (or a forced delete) finishes it.
    let now = DeleteOptions {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    assert!(pods.delete("web", &now).await.unwrap().is_gone());
    assert!(pods.get_opt("web").await.unwrap().is_none());
}

#[tokio::test]
async fn propagation_policies_are_recorded_as_finalizers() {
    let (_s, c) = server().await;
    let deps: Api<Deployment> = Api::namespaced(&c, "default");
    deps.create(&deployment("fg", 1)).await.unwrap();
    deps.create(&deployment("orphan", 1)).await.unwrap();

    let fg = DeleteOptions {
        propagation_policy: Some("Foreground".into()),
        ..Default::default()
    };
    let DeleteOutcome::Pending(d) = deps.delete("fg", &fg).await.unwrap() else {
        panic!("foreground deletion waits for the dependents")
    };
    assert!(d
        .metadata
        .finalizers
        .iter()
        .any(|f| f == "foregroundDeletion"));

    let orphan = DeleteOptions {
        propagation_policy: Some("Orphan".into()),
        ..Default::default()
    };
    let DeleteOutcome::Pending(d) = deps.delete("orphan", &orphan).await.unwrap() else {
        panic!("orphan deletion waits for the garbage collector")
    };
    assert!(d.metadata.finalizers.iter().any(|f| f == "orphan"));

    // Background: gone at once.
    deps.create(&deployment("bg", 1)).await.unwrap();
    assert!(deps
        .delete("bg", &DeleteOptions::default())
        .await
        .unwrap()
        .is_gone());
}

#[tokio::test]
async fn delete_collection_by_label() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    for (name, team) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let mut cm = configmap(name);
        cm.metadata.labels.insert("team", team);
        cms.create(&cm).await.unwrap();
    }
    let gone = cms
        .delete_collection(
            &ListOptions::default().labels("team=x").unwrap(),
            &DeleteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(gone.len(), 2);
    let left = cms.list(&ListOptions::default()).await.unwrap();
    assert_eq!(left.items.len(), 1);
    assert_eq!(left.items[0].metadata.name, "c");
}

// ------------------------------------------------------------------ list

#[tokio::test]
async fn list_selects_and_paginates() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    for i in 0..25 {
        let env = if i % 2 == 0 { "prod" } else { "qa" };
        pods.create(&pod(&format!("p{i:02}"), json!({"env": env})))
            .await
            .unwrap();
    }
    let prod = pods
        .list(&ListOptions::default().labels("env=prod").unwrap())
        .await
        .unwrap();
    assert_eq!(prod.items.len(), 13);
    let not_qa = pods
        .list(&ListOptions::default().labels("env notin (qa)").unwrap())
        .await
        .unwrap();
    assert_eq!(not_qa.items.len(), 13);
    let by_name = pods
        .list(&ListOptions::default().fields("metadata.name=p03").unwrap())
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    // Pages of 10: 10, 10, 5, and every name exactly once.
    let mut seen = Vec::new();
    let mut opts = ListOptions::default().limit(10);
    loop {
        let page = pods.list(&opts).await.unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|p| p.metadata.name.to_string()));
        if page.metadata.continue_token.is_empty() {
            break;
        }
        opts = ListOptions::default()
            .limit(10)
            .continue_token(page.metadata.continue_token.to_string());
    }
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25);

    // Across namespaces.
    let all: Api<Pod> = Api::all(&c);
    assert_eq!(
        all.list(&ListOptions::default()).await.unwrap().items.len(),
        25
    );

    // resourceVersion "0": any cached state is fine.
    let cached = pods
        .list(&ListOptions::default().resource_version("0"))
        .await
        .unwrap();
    assert_eq!(cached.items.len(), 25);

    // A bad selector is a 400.
    assert!(ListOptions::default().labels("env in (").is_err());
}

// ------------------------------------------------------------------ watch

#[tokio::test]
async fn watch_from_a_revision_sees_later_changes_in_order() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    let first = cms.create(&configmap("a")).await.unwrap();
    let mut w = cms
        .watch(&ListOptions::default().resource_version(first.metadata.resource_version.clone()))
        .await
        .unwrap();
    cms.create(&configmap("b")).await.unwrap();
    let mut b = cms.get("b").await.unwrap();
    b.data.insert("k", "v");
    cms.update(&b).await.unwrap();
    cms.delete("b", &DeleteOptions::default()).await.unwrap();

    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
            .await
            .expect("an event")
            .unwrap()
            .unwrap();
        match ev {
            WatchEvent::Added(o) => kinds.push(("ADDED", o.metadata.name.to_string())),
            WatchEvent::Modified(o) => kinds.push(("MODIFIED", o.metadata.name.to_string())),
            WatchEvent::Deleted(o) => kinds.push(("DELETED", o.metadata.name.to_string())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(s) => panic!("{s:?}"),
        }
    }
    assert_eq!(
        kinds,
        vec![
            ("ADDED", "b".to_string()),
            ("MODIFIED", "b".to_string()),
            ("DELETED", "b".to_string())
        ]
    );
}

#[tokio::test]
async fn watch_without_a_revision_starts_with_what_exists() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    cms.create(&configmap("a")).await.unwrap();
    cms.create(&configmap("b")).await.unwrap();
    let mut w = cms.watch(&ListOptions::default()).await.unwrap();
    let mut names = Vec::new();
    for _ in 0..2 {
        match w.next().await.unwrap().unwrap() {
            WatchEvent::Added(o) => names.push(o.metadata.name.to_string()),
            other => panic!("{other:?}"),
        }
    }
    names.sort();
    assert_eq!(names, ["a", "b"]);
}

#[tokio::test]
async fn a_watch_too_far_behind_the_cache_gets_410() {
    let server = ApiServer::builder()
        .config(Config::default().watch_cache_capacity(8))
        .build()
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(transport::client(&server).await, "default");
    let first = cms.create(&configmap("c0")).await.unwrap();
    for i in 1..40 {
        cms.create(&configmap(&format!("c{i}"))).await.unwrap();
    }
    let mut w = cms
        .watch(&ListOptions::default().resource_version(first.metadata.resource_version.clone()))
        .await
        .unwrap();
    match w.next().await {
        Some(Ok(WatchEvent::Error(s))) => {
            assert_eq!(s.code, 410);
            assert_eq!(s.reason, "Expired");
        }
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn a_watch_from_before_the_store_compaction_gets_410() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let server = ApiServer::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(transport::client(&server).await, "default");
    let first = cms.create(&configmap("c0")).await.unwrap();
    for i in 1..10 {
        cms.create(&configmap(&format!("c{i}"))).await.unwrap();
    }
    let rev = store.current_revision().await.unwrap();
    store.compact(rev).await.unwrap();
    drop(cms);
    drop(server);

    // A server started on the compacted store cannot replay old history.
    let server = ApiServer::builder().store(store).build().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(transport::client(&server).await, "default");
    assert_eq!(
        cms.list(&ListOptions::default()).await.unwrap().items.len(),
        10
    );
    let mut w = cms
        .watch(&ListOptions::default().resource_version(first.metadata.resource_version.clone()))
        .await
        .unwrap();
    match w.next().await {
        Some(Ok(WatchEvent::Error(s))) => assert_eq!((s.code, s.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn bookmarks_when_asked() {
    let server = ApiServer::builder()
        .config(Config::default().bookmark_interval(Duration::from_millis(50)))
        .build()
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(transport::client(&server).await, "default");
    let mut w = cms
        .watch(
            &ListOptions::default()
                .resource_version(server.revision().to_string())
                .bookmarks(true),
        )
        .await
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("a bookmark")
        .unwrap()
        .unwrap();
    let WatchEvent::Bookmark(b) = ev else {
        panic!("{ev:?}")
    };
    assert!(!b.metadata.resource_version.is_empty());
}

// ------------------------------------------------------------------ pods

#[tokio::test]
async fn binding_sets_the_node() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    pods.create(&pod("web", json!({}))).await.unwrap();
    let binding: keelson::api::core::Binding = from_json(json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "web"},
        "target": {"kind": "Node", "name": "node-1"}
    }));
    pods.create_subresource("web", "binding", &binding)
        .await
        .unwrap();
    let p = pods.get("web").await.unwrap();
    assert_eq!(p.spec.node_name, "node-1");
    assert!(p
        .status
        .conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.status == "True"));

    // A bound pod cannot be bound again.
    let e = pods
        .create_subresource("web", "binding", &binding)
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 409);
}

/// A node agent's watch (`spec.nodeName=NODE`, which the cache indexes)
/// sees its pods arrive when they are bound, change and go, and nothing of
/// the pods of other nodes; a watch of another operator on the same field
/// is not indexed and still sees what it selects.
#[tokio::test]
async fn a_node_watch_sees_only_the_pods_bound_to_its_node() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::all(&c);
    let default: Api<Pod> = Api::namespaced(&c, "default");
    let mut on_a = pods
        .watch(
            &ListOptions::default()
                .fields("spec.nodeName=node-a")
                .unwrap(),
        )
        .await
        .unwrap();
    let mut on_b = pods
        .watch(
            &ListOptions::default()
                .fields("spec.nodeName=node-b")
                .unwrap(),
        )
        .await
        .unwrap();
    let mut not_on_a = pods
        .watch(
            &ListOptions::default()
                .fields("spec.nodeName!=node-a")
                .unwrap(),
        )
        .await
        .unwrap();
    let bind = |name: &str, node: &str| -> keelson::api::core::Binding {
        from_json(json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name},
            "target": {"kind": "Node", "name": node}
        }))
    };
    for (name, node) in [("p1", "node-a"), ("p2", "node-b"), ("p3", "node-a")] {
        default.create(&pod(name, json!({}))).await.unwrap();
        default
            .create_subresource(name, "binding", &bind(name, node))
            .await
            .unwrap();
    }
    let mut p1 = default.get("p1").await.unwrap();
    p1.metadata.labels.insert("seen", "yes");
    default.update(&p1).await.unwrap();
    // Bound pods wait for their node to stop them unless forced: force.
    let now = DeleteOptions {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    default.delete("p3", &now).await.unwrap();
    // A last event on node-b marks the end for that watch.
    default.delete("p2", &now).await.unwrap();

    async fn collect(
        w: &mut (impl futures::Stream<Item = keelson::client::Result<WatchEvent<Arc<Pod>>>> + Unpin),
        n: usize,
    ) -> Vec<(&'static str, String)> {
        let mut seen = Vec::new();
        while seen.len() < n {
            let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
                .await
                .expect("an event")
                .unwrap()
                .unwrap();
            match ev {
                WatchEvent::Added(o) => seen.push(("ADDED", o.metadata.name.to_string())),
                WatchEvent::Modified(o) => seen.push(("MODIFIED", o.metadata.name.to_string())),
                WatchEvent::Deleted(o) => seen.push(("DELETED", o.metadata.name.to_string())),
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(s) => panic!("{s:?}"),
            }
        }
        seen
    }
    let a = collect(&mut on_a, 4).await;
    assert_eq!(
        a,
        [
            ("ADDED", "p1".to_string()),
            ("ADDED", "p3".to_string()),
            ("MODIFIED", "p1".to_string()),
            ("DELETED", "p3".to_string()),
        ]
    );
    let b = collect(&mut on_b, 2).await;
    assert_eq!(
        b,
        [("ADDED", "p2".to_string()), ("DELETED", "p2".to_string())]
    );
    // `!=` is not indexed: it sees every pod until it is bound to node-a.
    let not_a = collect(&mut not_on_a, 3).await;
    assert_eq!(not_a[0], ("ADDED", "p1".to_string()));
    assert_eq!(not_a[1], ("DELETED", "p1".to_string()));
    assert_eq!(not_a[2], ("ADDED", "p2".to_string()));
    // Nothing else reached the node-a watch (p2's delete came after).
    let extra = tokio::time::timeout(Duration::from_millis(200), async {
        loop {
            match on_a.next().await {
                Some(Ok(WatchEvent::Bookmark(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(extra.is_err(), "unexpected event on node-a: {extra:?}");
}

// ------------------------------------------------------------------ admission

#[tokio::test]
async fn quota_is_exact_under_concurrent_creates() {
    let (_s, c) = server().await;
    let quotas: Api<ResourceQuota> = Api::namespaced(&c, "default");
    quotas
        .create(&from_json(json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "pods"},
            "spec": {"hard": {"pods": "5", "configmaps": "100"}}
        })))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let pods = pods.clone();
        tasks.push(tokio::spawn(async move {
            pods.create(&pod(&format!("p{i}"), json!({}))).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(code(&e), (403, "Forbidden".into()), "{e}");
                assert!(e.to_string().contains("exceeded quota"), "{e}");
            }
        }
    }
    assert_eq!(ok, 5);
    let q = quotas.get("pods").await.unwrap();
    assert_eq!(
        q.status.used.get("pods").map(|q| q.to_string()),
        Some("5".into())
    );
    assert_eq!(
        pods.list(&ListOptions::default())
            .await
            .unwrap()
            .items
            .len(),
        5
    );

    // Deleting a pod gives its share back.
    let now = DeleteOptions {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let name = pods.list(&ListOptions::default()).await.unwrap().items[0]
        .metadata
        .name
        .clone();
    pods.delete(&name, &now).await.unwrap();
    let q = quotas.get("pods").await.unwrap();
    assert_eq!(
        q.status.used.get("pods").map(|q| q.to_string()),
        Some("4".into())
    );
    pods.create(&pod("again", json!({}))).await.unwrap();
}

#[tokio::test]
async fn limit_ranger_defaults_requests_and_limits() {
    let (_s, c) = server().await;
    let lr: Api<keelson::api::core::LimitRange> = Api::namespaced(&c, "default");
    lr.create(&from_json(json!({
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "defaults"},
        "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}
        }]}
    })))
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    let p = pods.create(&pod("web", json!({}))).await.unwrap();
    let r = &p.spec.containers[0].resources;
    assert_eq!(r.requests.get("cpu").unwrap().to_string(), "100m");
    assert_eq!(r.limits.get("memory").unwrap().to_string(), "256Mi");
}

#[tokio::test]
async fn a_terminating_namespace_refuses_new_objects() {
    let (_s, c) = server().await;
    let nss: Api<Namespace> = Api::all(&c);
    nss.create(&Namespace {
        metadata: ObjectMeta::named("doomed"),
        ..Default::default()
    })
    .await
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(&c, "doomed");
    cms.create(&configmap("a")).await.unwrap();
    let out = nss
        .delete("doomed", &DeleteOptions::default())
        .await
        .unwrap();
    let DeleteOutcome::Pending(ns) = out else {
        panic!("a namespace is finalized by its controller")
    };
    assert_eq!(ns.status.phase, "Terminating");
    let e = cms.create(&configmap("b")).await.unwrap_err();
    assert_eq!(code(&e), (403, "Forbidden".into()));

    // The built-in namespaces cannot be deleted.
    let e = nss
        .delete("kube-system", &DeleteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 403);
}

// ------------------------------------------------------------------ services

#[tokio::test]
async fn services_get_unique_cluster_ips_and_node_ports() {
    let (_s, c) = server().await;
    let svcs: Api<Service> = Api::namespaced(&c, "default");
    let svc = |name: &str, extra: serde_json::Value| -> Service {
        let mut spec = json!({"selector": {"app": name}, "ports": [{"port": 80}]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        from_json(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}),
        )
    };
    let a = svcs.create(&svc("a", json!({}))).await.unwrap();
    let b = svcs.create(&svc("b", json!({}))).await.unwrap();
    assert!(!a.spec.cluster_ip.is_empty());
    assert_ne!(a.spec.cluster_ip, b.spec.cluster_ip);
    assert_eq!(a.spec.ports[0].target_port.to_string(), "80");

    // Asking for a taken IP is 422 naming spec.clusterIPs.
    let e = svcs
        .create(&svc(
            "c",
            json!({"clusterIP": a.spec.cluster_ip.to_string()}),
        ))
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 422, "{e}");

    let np = svcs
        .create(&svc(
            "np",
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
        ))
        .await
        .unwrap();
    assert_eq!(np.spec.ports[0].node_port, 30080);
    let e = svcs
        .create(&svc(
            "np2",
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
        ))
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 422, "{e}");

    // Ports the server picks are in 30000-32767, distinct (many draws, so
    // a bad random start would show).
    let mut picked = Vec::new();
    for i in 0..40 {
        let s = svcs
            .create(&svc(&format!("auto{i}"), json!({"type": "NodePort"})))
            .await
            .unwrap();
        let p = s.spec.ports[0].node_port;
        assert!((30000..=32767).contains(&p), "allocated node port {p}");
        assert!(!picked.contains(&p), "node port {p} allocated twice");
        picked.push(p);
    }

    // Deleting a service frees its IP and port.
    svcs.delete("np", &DeleteOptions::default()).await.unwrap();
    svcs.create(&svc(
        "np3",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    ))
    .await
    .unwrap();
}

// ------------------------------------------------------------------ bootstrap

#[tokio::test]
async fn bootstrap_objects_exist() {
    let (_s, c) = server().await;
    let nss: Api<Namespace> = Api::all(&c);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(nss.get(ns).await.unwrap().status.phase, "Active", "{ns}");
    }
    let svcs: Api<Service> = Api::namespaced(&c, "default");
    let k = svcs.get("kubernetes").await.unwrap();
    assert_eq!(k.spec.cluster_ip, "10.96.0.1");
}

// ------------------------------------------------------------------ CRDs

fn website_crd() -> serde_json::Value {
    // The seed (39-customresourcedefinition-websites...), a v1beta1 CRD.
    json!({
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "websites.extensions.example.com"},
        "spec": {
            "scope": "Namespaced",
            "group": "extensions.example.com",
            "version": "v1",
            "names": {"kind": "Website", "singular": "website", "plural": "websites"}
        }
    })
}

#[tokio::test]
async fn the_seed_crd_converted_to_v1_serves_websites() {
    let (server, c) = server().await;
    let crd = keelson::api::apiextensions::crd_from_v1beta1(&website_crd()).unwrap();
    let crds: Api<keelson::api::apiextensions::CustomResourceDefinition> = Api::all(&c);
    crds.create(&crd).await.unwrap();

    // Established: the kind is served.
    let mut established = false;
    for _ in 0..100 {
        if let Some(c) = crds
            .get_opt("websites.extensions.example.com")
            .await
            .unwrap()
        {
            if c.is_established()
                && server
                    .kind("extensions.example.com", "v1", "websites")
                    .is_some()
            {
                established = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(established);

    let resource = server
        .kind("extensions.example.com", "v1", "websites")
        .unwrap()
        .resource
        .clone();
    let sites = DynamicApi::dynamic(&c, &resource, "default");
    // The seed Website (40-website-kubia.yaml).
    let site: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "extensions.example.com/v1",
        "kind": "Website",
        "metadata": {"name": "kubia"},
        "spec": {"gitRepo": "https://github.com/luksa/kubia-website-example.git"}
    }))
    .unwrap();
    let created = sites.create(&site).await.unwrap();
    assert_eq!(created.metadata.namespace, "default");
    assert!(!created.metadata.uid.is_empty());
    let got = sites.get("kubia").await.unwrap();
    assert_eq!(
        got.data["spec"]["gitRepo"],
        "https://github.com/luksa/kubia-website-example.git"
    );
    assert_eq!(
        sites
            .list(&ListOptions::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // A Website with a bad name is refused like any object.
    let mut bad = site.clone();
    bad.metadata.name = "Not Valid".into();
    let e = sites.create(&bad).await.unwrap_err();
    assert_eq!(code(&e).0, 422);

    // Deleting the CRD stops serving the kind.
    crds.delete("websites.extensions.example.com", &DeleteOptions::default())
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if server
            .kind("extensions.example.com", "v1", "websites")
            .is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone);
}

#[tokio::test]
async fn a_v1beta1_crd_without_conversion_is_refused_clearly() {
    let (_s, c) = server().await;
    let t = Target::new("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    let body = serde_json::to_vec(&website_crd()).unwrap();
    let e = c
        .create(
            &t,
            keelson::client::Body::Json(body.into()),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 400, "{e}");
    assert!(e.to_string().contains("v1beta1"), "{e}");
}

// ------------------------------------------------------------------ patch types

fn two_container_deployment(name: &str) -> Deployment {
    from_json(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "app", "image": "nginx:1.25",
                     "env": [{"name": "MODE", "value": "a"}],
                     "ports": [{"containerPort": 80}]},
                    {"name": "log", "image": "busybox:1.36"}
                ]}
            }
        }
    }))
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    let mut p = pod("web", json!({"app": "web"}));
    p.spec
        .containers
        .push(serde_json::from_value(json!({"name": "log", "image": "busybox:1.36"})).unwrap());
    pods.create(&p).await.unwrap();
    // Only the named container changes; the other is kept (a merge patch
    // would have replaced the whole list).
    let patched = pods
        .patch(
            "web",
            PatchType::Strategic,
            &json!({"spec": {"containers": [{"name": "log", "image": "busybox:1.37"}]}}),
        )
        .await
        .unwrap();
    let images: Vec<(&str, &str)> = patched
        .spec
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.image.as_str()))
        .collect();
    assert_eq!(images, [("app", "nginx:1.25"), ("log", "busybox:1.37")]);

    let deps: Api<Deployment> = Api::namespaced(&c, "default");
    deps.create(&two_container_deployment("web")).await.unwrap();
    let patched = deps
        .patch(
            "web",
            PatchType::Strategic,
            &json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "env": [{"name": "DEBUG", "value": "1"}],
                 "ports": [{"containerPort": 443}]},
                {"name": "log", "$patch": "delete"},
                {"name": "proxy", "image": "envoy:1.30"}
            ]}}}}),
        )
        .await
        .unwrap();
    let v = serde_json::to_value(&patched.spec.template.spec).unwrap();
    let names: Vec<&str> = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "proxy"]);
    let app = &v["containers"][0];
    assert_eq!(app["image"], "nginx:1.25");
    assert_eq!(
        app["env"],
        json!([{"name": "MODE", "value": "a"}, {"name": "DEBUG", "value": "1"}])
    );
    let ports: Vec<i64> = app["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [80, 443]);
    assert_eq!(patched.metadata.generation, 2);

    // A malformed directive is 400; an element without its key too.
    for bad in [
        json!({"spec": {"$patch": "frob"}}),
        json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
    ] {
        let e = deps
            .patch("web", PatchType::Strategic, &bad)
            .await
            .unwrap_err();
        assert_eq!(code(&e).0, 400, "{bad}: {e}");
    }
}

#[tokio::test]
async fn json_patch_through_the_server() {
    let (_s, c) = server().await;
    let pods: Api<Pod> = Api::namespaced(&c, "default");
    pods.create(&pod("web", json!({"app": "web", "tier": "front"})))
        .await
        .unwrap();
    let patched = pods
        .patch(
            "web",
            PatchType::Json,
            &json!([
                {"op": "test", "path": "/metadata/labels/app", "value": "web"},
                {"op": "add", "path": "/metadata/labels/env", "value": "qa"},
                {"op": "remove", "path": "/metadata/labels/tier"},
                {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.27"}
            ]),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.metadata.labels.get("env").map(|s| s.as_str()),
        Some("qa")
    );
    assert_eq!(patched.metadata.labels.get("tier"), None);
    assert_eq!(patched.spec.containers[0].image, "nginx:1.27");

    // A failed test is 422 (as kube-apiserver answers), and nothing changes.
    let before = pods.get("web").await.unwrap();
    let e = pods
        .patch(
            "web",
            PatchType::Json,
            &json!([
                {"op": "add", "path": "/metadata/labels/x", "value": "y"},
                {"op": "test", "path": "/metadata/labels/app", "value": "nope"}
            ]),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), (422, "Invalid".to_string()), "{e}");
    assert!(e.to_string().contains("operation 1"), "{e}");
    let after = pods.get("web").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(after.metadata.labels.get("x"), None);

    // Not a list of operations: 400.
    let e = pods
        .patch("web", PatchType::Json, &json!({"op": "add"}))
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 400);
}

fn managers(cm: &ConfigMap) -> Vec<(String, String)> {
    cm.metadata
        .managed_fields
        .iter()
        .map(|e| (e.manager.to_string(), e.operation.to_string()))
        .collect()
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_detects_conflicts() {
    let (_s, c) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(&c, "default");
    let as_mgr = |m: &str| WriteOptions::default().field_manager(m);
    let config = |data: serde_json::Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "labels": {"app": "web"}}, "data": data})
    };

    // Apply creates.
    let created = cms
        .patch_subresource(
            "settings",
            "",
            PatchType::Apply,
            &config(json!({"a": "1", "b": "2"})),
            &as_mgr("alice"),
        )
        .await
        .unwrap();
    assert!(!created.metadata.uid.is_empty());
    assert_eq!(managers(&created), [("alice".into(), "Apply".into())]);
    let fields = created.metadata.managed_fields[0]
        .fields_v1
        .clone()
        .unwrap();
    assert_eq!(
        fields,
        json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
    );

    // Someone else edits with a merge patch under their own name: they own
    // what they changed.
    cms.patch_subresource(
        "settings",
        "",
        PatchType::Merge,
        &json!({"data": {"c": "3"}}),
        &as_mgr("editor"),
    )
    .await
    .unwrap();

    // Alice applies again without b: b goes, c (the editor's) stays.
    let updated = cms
        .patch_subresource(
            "settings",
            "",
            PatchType::Apply,
            &config(json!({"a": "1"})),
            &as_mgr("alice"),
        )
        .await
        .unwrap();
    let data = updated
        .data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<(String, String)>>();
    assert_eq!(data, [("a".into(), "1".into()), ("c".into(), "3".into())]);
    assert_eq!(
        managers(&updated),
        [
            ("alice".into(), "Apply".into()),
            ("editor".into(), "Update".into())
        ]
    );

    // Bob applies a different value of alice's field: 409 naming it.
    let e = cms
        .patch_subresource(
            "settings",
            "",
            PatchType::Apply,
            &config(json!({"a": "9"})),
            &as_mgr("bob"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), (409, "Conflict".to_string()), "{e}");
    let s = e.status().unwrap();
    let causes = &s.details.as_ref().unwrap().causes;
    assert!(
        causes
            .iter()
            .any(|c| c.field == ".data.a" && c.message.contains("alice")),
        "{causes:?}"
    );
    assert_eq!(
        cms.get("settings")
            .await
            .unwrap()
            .data
            .get("a")
            .map(|s| s.as_str()),
        Some("1")
    );

    // With force, bob takes the field.
    let forced = cms
        .patch_subresource(
            "settings",
            "",
            PatchType::Apply,
            &config(json!({"a": "9"})),
            &as_mgr("bob").force(true),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.get("a").map(|s| s.as_str()), Some("9"));
    let bob = forced
        .metadata
        .managed_fields
        .iter()
        .find(|e| e.manager == "bob")
        .unwrap();
    assert!(bob.fields_v1.as_ref().unwrap()["f:data"]
        .get("f:a")
        .is_some());
    let alice = forced
        .metadata
        .managed_fields
        .iter()
        .find(|e| e.manager == "alice")
        .unwrap();
    assert!(alice.fields_v1.as_ref().unwrap()["f:data"]
        .get("f:a")
        .is_none());

    // Apply needs a field manager, and force is for apply only: 422.
    let e = cms
        .patch_subresource(
            "settings",
            "",
            PatchType::Apply,
            &config(json!({})),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 422, "{e}");
    let e = cms
        .patch_subresource(
            "settings",
            "",
            PatchType::Merge,
            &json!({}),
            &as_mgr("x").force(true),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 422, "{e}");
}

#[tokio::test]
async fn strategic_merge_patch_of_a_custom_resource_is_415() {
    let (server, c) = server().await;
    let crd = keelson::api::apiextensions::crd_from_v1beta1(&website_crd()).unwrap();
    let crds: Api<keelson::api::apiextensions::CustomResourceDefinition> = Api::all(&c);
    crds.create(&crd).await.unwrap();
    let mut resource = None;
    for _ in 0..100 {
        if let Some(k) = server.kind("extensions.example.com", "v1", "websites") {
            resource = Some(k.resource.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resource = resource.expect("websites served");
    let sites = DynamicApi::dynamic(&c, &resource, "default");
    let site: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "extensions.example.com/v1", "kind": "Website",
        "metadata": {"name": "kubia"}, "spec": {"gitRepo": "a"}
    }))
    .unwrap();
    sites.create(&site).await.unwrap();
    let e = sites
        .patch(
            "kubia",
            PatchType::Strategic,
            &json!({"spec": {"gitRepo": "b"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 415, "{e}");
    // Merge patch and JSON patch work on custom resources.
    let got = sites
        .patch(
            "kubia",
            PatchType::Merge,
            &json!({"spec": {"gitRepo": "b"}}),
        )
        .await
        .unwrap();
    assert_eq!(got.data["spec"]["gitRepo"], "b");
    let got = sites
        .patch(
            "kubia",
            PatchType::Json,
            &json!([{"op": "replace", "path": "/spec/gitRepo", "value": "c"}]),
        )
        .await
        .unwrap();
    assert_eq!(got.data["spec"]["gitRepo"], "c");
}
