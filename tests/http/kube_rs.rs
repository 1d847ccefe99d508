//! The kube-rs client (crates `kube` and `k8s-openapi`) against the HTTP
//! server: typed create, get, list, patch (merge, strategic, apply), watch
//! and delete of Pods and Deployments, then kube-runtime's `watcher` and
//! `reflector` filling a cache.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Client, Config};
use serde_json::json;

use super::Cluster;

async fn client(c: &Cluster) -> Client {
    let kubeconfig = Kubeconfig::read_from(c.dir.path().join("kubeconfig")).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}
    }))
    .expect("pod")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_crud_patch_watch() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let info = client.apiserver_version().await.expect("version");
    assert!(!info.git_version.is_empty());

    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    // A watch opened before the writes sees them, in order.
    let list = pods.list(&ListParams::default()).await.expect("list");
    let rv = list.metadata.resource_version.clone().expect("list rv");
    let mut events = pods
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .expect("watch")
        .boxed();

    let created = pods
        .create(&PostParams::default(), &pod("web-1", "web"))
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    // Defaults applied by the server come back typed.
    let spec = created.spec.as_ref().expect("spec");
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    pods.create(&PostParams::default(), &pod("web-2", "web"))
        .await
        .expect("create");
    pods.create(&PostParams::default(), &pod("db-1", "db"))
        .await
        .expect("create");

    // A second create of the same name is a typed 409.
    match pods
        .create(&PostParams::default(), &pod("web-1", "web"))
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 409, "{s:?}");
            assert_eq!(s.reason, "AlreadyExists");
        }
        other => panic!("expected 409, got {other:?}"),
    }

    let web = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    let mut names: Vec<String> = web
        .items
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["web-1", "web-2"]);
    // Paging with limit/continue.
    let page = pods
        .list(&ListParams::default().limit(2))
        .await
        .expect("page");
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("a continue token");
    let rest = pods
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("rest");
    assert_eq!(rest.items.len(), 1);

    // Merge, strategic merge and server-side apply patches.
    let patched = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.metadata.labels.as_ref().unwrap()["tier"], "front");
    let patched = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}),
            ),
        )
        .await
        .expect("strategic patch");
    let containers = &patched.spec.as_ref().unwrap().containers;
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].image.as_deref(), Some("nginx:1.28"));
    let applied = pods
        .patch(
            "web-1",
            &PatchParams::apply("kube-rs-test"),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-1", "annotations": {"owner": "kube-rs"}}
            })),
        )
        .await
        .expect("apply");
    assert_eq!(
        applied.metadata.annotations.as_ref().unwrap()["owner"],
        "kube-rs"
    );
    let fetched = pods.get("web-1").await.expect("get");
    assert_eq!(
        fetched.metadata.resource_version,
        applied.metadata.resource_version
    );

    pods.delete("db-1", &DeleteParams::default())
        .await
        .expect("delete");
    match pods.get("db-1").await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404),
        other => panic!("expected 404, got {other:?}"),
    }

    // The watch saw three ADDED, the patches as MODIFIED, and the DELETED.
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
            .await
            .expect("watch event in time")
            .expect("watch stream")
            .expect("stream open");
        match event {
            WatchEvent::Added(p) => seen.push(format!("ADDED {}", p.metadata.name.unwrap())),
            WatchEvent::Modified(p) => seen.push(format!("MODIFIED {}", p.metadata.name.unwrap())),
            WatchEvent::Deleted(p) => seen.push(format!("DELETED {}", p.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "ADDED web-1",
            "ADDED web-2",
            "ADDED db-1",
            "MODIFIED web-1",
            "MODIFIED web-1",
            "MODIFIED web-1",
            "DELETED db-1"
        ]
    );

    // Deployments: create, scale through the scale subresource, delete.
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}
            }
        }
    }))
    .expect("deployment");
    let created = deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    let spec = &created.spec;
    assert_eq!(
        spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
        Some("RollingUpdate")
    );
    assert_eq!(spec.revision_history_limit, Some(10));
    deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale");
    let scale = deployments.get_scale("web").await.expect("get scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(5));
    assert_eq!(
        deployments.get("web").await.expect("get").spec.replicas,
        Some(5)
    );
    // Invalid objects are refused with the server's field error.
    let mut bad = d.clone();
    bad.metadata.name = Some("Bad_Name".into());
    match deployments.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{s:?}");
            assert!(s.message.contains("metadata.name"), "{}", s.message);
        }
        other => panic!("expected 422, got {other:?}"),
    }
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete deployment");
    c.serving.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_runtime_watcher_and_reflector() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let pods: Api<Pod> = Api::all(client.clone());
    let default: Api<Pod> = Api::default_namespaced(client.clone());
    for i in 0..20 {
        default
            .create(&PostParams::default(), &pod(&format!("pre-{i}"), "web"))
            .await
            .expect("create");
    }
    let (reader, writer) = reflector::store::<Pod>();
    let stream = reflector(writer, watcher(pods, watcher::Config::default()))
        .default_backoff()
        .applied_objects();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            item.expect("watcher stream");
        }
    });
    reader.wait_until_ready().await.expect("initial list");
    assert_eq!(reader.state().len(), 20);

    // Writes after the initial list reach the cache through the watch.
    for i in 0..10 {
        default
            .create(&PostParams::default(), &pod(&format!("post-{i}"), "web"))
            .await
            .expect("create");
    }
    for i in 0..5 {
        default
            .delete(&format!("pre-{i}"), &DeleteParams::default())
            .await
            .expect("delete");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names: std::collections::BTreeSet<String> = reader
            .state()
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if names.len() == 25 && names.contains("post-9") && !names.contains("pre-0") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reflector's cache holds {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    c.serving.shutdown().await;
}
