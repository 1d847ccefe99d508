//! The Namespace controller: deleting a namespace empties it (built-in and
//! custom kinds, objects with finalizers and pods in their grace period
//! included) and then removes it.
use std::sync::Arc;
use std::time::Duration;

use keelson::api::apiextensions::CustomResourceDefinition;
use keelson::api::core::{ConfigMap, Namespace, Pod, Secret};
use keelson::api::{DynamicObject, ObjectMeta};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, Client, DynamicApi, LocalClient, PatchType};
use keelson::controllers::{gc, namespace};
use keelson::informer::InformerFactory;
use serde_json::json;
use tokio::sync::watch;

use crate::job::wait_for;

#[tokio::test(start_paused = true)]
async fn namespace_deletion_leaves_nothing_behind() {
    let server = ApiServer::in_memory().await.unwrap();
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let factory = InformerFactory::new(client.clone());
    let (stop, rx) = watch::channel(false);
    let signal = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let controller = tokio::spawn(namespace::run(&factory, signal(rx.clone())));
    let collector = tokio::spawn(
        gc::GarbageCollector::new(&factory)
            .graceful_shutdown_on(signal(rx))
            .run(),
    );

    let namespaces: Api<Namespace> = Api::all(&client);
    namespaces
        .create(&Namespace {
            metadata: ObjectMeta::named("doomed"),
            ..Default::default()
        })
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(&client, "doomed");
    for i in 0..3 {
        cms.create(&ConfigMap {
            metadata: ObjectMeta::named(format!("cm-{i}")),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    // One object with a finalizer of someone else's: it holds the namespace
    // until that finalizer goes.
    let mut held = ObjectMeta::named("held");
    held.finalizers.push("example.com/hold".into());
    let secrets: Api<Secret> = Api::namespaced(&client, "doomed");
    secrets
        .create(&Secret {
            metadata: held,
            ..Default::default()
        })
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(&client, "doomed");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&pod).await.unwrap();
    // A default-namespace object stays.
    Api::<ConfigMap>::namespaced(&client, "default")
        .create(&ConfigMap {
            metadata: ObjectMeta::named("survivor"),
            ..Default::default()
        })
        .await
        .unwrap();
    // A custom resource in the namespace.
    let crds: Api<CustomResourceDefinition> = Api::all(&client);
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    }))
    .unwrap();
    crds.create(&crd).await.unwrap();
    let resource = wait_for("the widget kind", || async {
        server
            .kind("example.com", "v1", "widgets")
            .map(|k| k.resource.clone())
    })
    .await;
    let widgets = DynamicApi::dynamic(&client, &resource, "doomed");
    let w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}
    }))
    .unwrap();
    wait_for("a widget", || async { widgets.create(&w).await.ok() }).await;

    namespaces
        .delete("doomed", &Default::default())
        .await
        .unwrap();
    let ns = namespaces.get("doomed").await.unwrap();
    assert_eq!(ns.status.phase, "Terminating");
    // New content is refused.
    let refused = cms
        .create(&ConfigMap {
            metadata: ObjectMeta::named("late"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(403), "{refused}");
    assert!(
        refused.to_string().contains("being terminated"),
        "{refused}"
    );

    // The held secret keeps the namespace, with a condition saying why.
    let ns = wait_for("the finalizers-remaining condition", || async {
        let ns = namespaces.get("doomed").await.ok()?;
        ns.status
            .conditions
            .iter()
            .any(|c| c.type_ == "NamespaceFinalizersRemaining" && c.status == "True")
            .then_some(ns)
    })
    .await;
    let msg = ns
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "NamespaceFinalizersRemaining")
        .unwrap()
        .message
        .to_string();
    assert!(msg.contains("example.com/hold"), "{msg}");
    assert!(cms
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(namespaces.get_opt("doomed").await.unwrap().is_some());
    secrets
        .patch(
            "held",
            PatchType::Merge,
            &json!({"metadata": {"finalizers": null}}),
        )
        .await
        .unwrap();

    wait_for("the namespace to be gone", || async {
        namespaces
            .get_opt("doomed")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    for r in gc::builtin_resources()
        .into_iter()
        .filter(|r| r.scope.is_namespaced())
        .chain([resource])
    {
        let api = DynamicApi::dynamic(&client, &r, "doomed");
        if let Ok(list) = api.list(&Default::default()).await {
            assert!(list.items.is_empty(), "{} left: {:?}", r.plural, list.items);
        }
    }
    assert!(Api::<ConfigMap>::namespaced(&client, "default")
        .get_opt("survivor")
        .await
        .unwrap()
        .is_some());
    let _ = stop.send(true);
    controller.await.unwrap();
    collector.await.unwrap();
}
