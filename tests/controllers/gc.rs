//! The garbage collector against the in-memory API server: background
//! cascades (one and several levels, built-in and custom kinds),
//! foreground deletion (the owner goes last), orphaning, several owners,
//! and owners verified by uid.

use std::time::Duration;

use serde_json::json;

use keelson::api::apiextensions::CustomResourceDefinition;
use keelson::api::apps::{Deployment, ReplicaSet};
use keelson::api::core::{ConfigMap, Pod, Secret};
use keelson::api::meta::DeleteOptions;
use keelson::api::{AnyObject, DynamicObject, ObjectMeta, OwnerReference, Resource, Str};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, DynamicApi, LocalClient, PatchType};
use keelson::controllers::gc::GarbageCollector;
use keelson::informer::InformerFactory;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Cluster {
    server: ApiServer,
    client: LocalClient,
    stop: Option<oneshot::Sender<()>>,
    gc: Option<JoinHandle<()>>,
}

impl Cluster {
    async fn start() -> Self {
        let server = ApiServer::in_memory().await.unwrap();
        let client = LocalClient::new(&server);
        let factory = InformerFactory::new(&client);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let gc = tokio::spawn(
            GarbageCollector::new(&factory)
                .graceful_shutdown_on(async {
                    let _ = stop_rx.await;
                })
                .run(),
        );
        Cluster {
            server,
            client,
            stop: Some(stop),
            gc: Some(gc),
        }
    }

    fn cms(&self) -> Api<ConfigMap> {
        Api::namespaced(&self.client, "default")
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(gc) = self.gc.take() {
            tokio::time::timeout(Duration::from_secs(10), gc)
                .await
                .expect("the collector stopped")
                .unwrap();
        }
    }
}

fn owner_ref<K: Resource>(owner: &K, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: K::API_VERSION.into(),
        kind: K::KIND.into(),
        name: owner.meta().name.clone(),
        uid: owner.meta().uid.clone(),
        controller: None,
        block_owner_deletion: block.then_some(true),
    }
}

fn cm(name: &str, owners: Vec<OwnerReference>) -> ConfigMap {
    let mut metadata = ObjectMeta::named(name);
    metadata.owner_references = owners;
    ConfigMap {
        metadata,
        ..Default::default()
    }
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

async fn gone(api: &Api<ConfigMap>, name: &str) -> bool {
    api.get_opt(name).await.unwrap().is_none()
}

/// Waits a while for something that must not happen.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn background_deletion_collects_dependents_of_every_kind() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    cms.create(&cm("dep-1", vec![owner_ref(&owner, false)]))
        .await
        .unwrap();
    cms.create(&cm("dep-2", vec![owner_ref(&owner, true)]))
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(&c.client, "default");
    let mut s = Secret {
        metadata: ObjectMeta::named("dep-secret"),
        ..Default::default()
    };
    s.metadata.owner_references.push(owner_ref(&owner, false));
    secrets.create(&s).await.unwrap();
    cms.create(&cm("bystander", vec![])).await.unwrap();

    // Background (the default): the owner goes at once.
    let out = cms
        .delete("owner", &DeleteOptions::default())
        .await
        .unwrap();
    assert!(out.is_gone());
    eventually("the dependents are collected", async || {
        gone(&cms, "dep-1").await
            && gone(&cms, "dep-2").await
            && secrets.get_opt("dep-secret").await.unwrap().is_none()
    })
    .await;
    settle().await;
    assert!(cms.get_opt("bystander").await.unwrap().is_some());
    c.stop().await;
}

fn labels() -> serde_json::Value {
    json!({"app": "web"})
}

fn template() -> serde_json::Value {
    json!({"metadata": {"labels": labels()}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

#[tokio::test]
async fn background_deletion_cascades_deployment_replicaset_pod() {
    let c = Cluster::start().await;
    let deployments: Api<Deployment> = Api::namespaced(&c.client, "default");
    let replicasets: Api<ReplicaSet> = Api::namespaced(&c.client, "default");
    let pods: Api<Pod> = Api::namespaced(&c.client, "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels()}, "template": template()}
    }))
    .unwrap();
    let d = deployments.create(&d).await.unwrap();
    let mut rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web-1"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels()}, "template": template()}
    }))
    .unwrap();
    rs.metadata.owner_references.push(owner_ref(&d, true));
    let rs = replicasets.create(&rs).await.unwrap();
    let mut names = Vec::new();
    for i in 0..3 {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("web-1-{i}"), "labels": labels()},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        p.metadata.owner_references.push(owner_ref(&rs, true));
        names.push(pods.create(&p).await.unwrap().metadata.name);
    }

    deployments
        .delete("web", &DeleteOptions::default())
        .await
        .unwrap();
    eventually("the replicaset and its pods are collected", async || {
        if replicasets.get_opt("web-1").await.unwrap().is_some() {
            return false;
        }
        for n in &names {
            if pods.get_opt(n).await.unwrap().is_some() {
                return false;
            }
        }
        true
    })
    .await;
    c.stop().await;
}

/// Removes a finalizer of ours from a ConfigMap.
async fn release(cms: &Api<ConfigMap>, name: &str) {
    cms.patch(
        name,
        PatchType::Merge,
        &json!({"metadata": {"finalizers": null}}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn foreground_deletion_keeps_the_owner_until_its_blocking_dependents_are_gone() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    // A blocking dependent that a finalizer of its own holds for a while.
    let mut held = cm("held", vec![owner_ref(&owner, true)]);
    held.metadata.finalizers.push("example.com/hold".into());
    cms.create(&held).await.unwrap();
    // A dependent with dependents of its own, and a non-blocking one.
    let mid = cms
        .create(&cm("mid", vec![owner_ref(&owner, true)]))
        .await
        .unwrap();
    cms.create(&cm("leaf", vec![owner_ref(&mid, true)]))
        .await
        .unwrap();
    cms.create(&cm("loose", vec![owner_ref(&owner, false)]))
        .await
        .unwrap();

    let opts = DeleteOptions {
        propagation_policy: Some("Foreground".into()),
        ..Default::default()
    };
    let out = cms.delete("owner", &opts).await.unwrap();
    assert!(!out.is_gone(), "foreground deletion waits");

    // Every dependent goes, except the one its finalizer holds: that one
    // is being deleted, and the owner waits for it.
    eventually("the free dependents are collected", async || {
        gone(&cms, "mid").await && gone(&cms, "leaf").await && gone(&cms, "loose").await
    })
    .await;
    eventually("the held dependent is being deleted", async || {
        cms.get("held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    settle().await;
    let o = cms.get("owner").await.unwrap();
    assert!(o.metadata.deletion_timestamp.is_some());
    assert!(o.metadata.has_finalizer("foregroundDeletion"));

    release(&cms, "held").await;
    eventually("the owner goes last", async || gone(&cms, "owner").await).await;
    assert!(gone(&cms, "held").await);
    c.stop().await;
}

#[tokio::test]
async fn foreground_deletion_is_not_held_by_non_blocking_dependents() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    let mut held = cm("held", vec![owner_ref(&owner, false)]);
    held.metadata.finalizers.push("example.com/hold".into());
    cms.create(&held).await.unwrap();

    let opts = DeleteOptions {
        propagation_policy: Some("Foreground".into()),
        ..Default::default()
    };
    cms.delete("owner", &opts).await.unwrap();
    eventually("the owner goes", async || gone(&cms, "owner").await).await;
    // The dependent was deleted too (held by its own finalizer).
    let h = cms.get("held").await.unwrap();
    assert!(h.metadata.deletion_timestamp.is_some());
    release(&cms, "held").await;
    c.stop().await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    let other = cms.create(&cm("other", vec![])).await.unwrap();
    cms.create(&cm(
        "dep",
        vec![owner_ref(&owner, true), owner_ref(&other, false)],
    ))
    .await
    .unwrap();
    cms.create(&cm("only", vec![owner_ref(&owner, false)]))
        .await
        .unwrap();

    let opts = DeleteOptions {
        propagation_policy: Some("Orphan".into()),
        ..Default::default()
    };
    cms.delete("owner", &opts).await.unwrap();
    eventually("the owner goes", async || gone(&cms, "owner").await).await;
    settle().await;
    let dep = cms.get("dep").await.unwrap();
    let refs: Vec<&str> = dep
        .metadata
        .owner_references
        .iter()
        .map(|r| &*r.name)
        .collect();
    assert_eq!(refs, vec!["other"]);
    let only = cms.get("only").await.unwrap();
    assert!(only.metadata.owner_references.is_empty());
    assert!(only.metadata.deletion_timestamp.is_none());
    c.stop().await;
}

#[tokio::test]
async fn a_dependent_survives_while_one_of_its_owners_remains() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let a = cms.create(&cm("a", vec![])).await.unwrap();
    let b = cms.create(&cm("b", vec![])).await.unwrap();
    cms.create(&cm("dep", vec![owner_ref(&a, false), owner_ref(&b, false)]))
        .await
        .unwrap();

    cms.delete("a", &DeleteOptions::default()).await.unwrap();
    eventually("the reference to the absent owner is removed", async || {
        let dep = cms.get("dep").await.unwrap();
        dep.metadata.owner_references.len() == 1
    })
    .await;
    let dep = cms.get("dep").await.unwrap();
    assert_eq!(dep.metadata.owner_references[0].uid, b.metadata.uid);
    assert!(dep.metadata.deletion_timestamp.is_none());

    cms.delete("b", &DeleteOptions::default()).await.unwrap();
    eventually("the dependent goes with its last owner", async || {
        gone(&cms, "dep").await
    })
    .await;
    c.stop().await;
}

#[tokio::test]
async fn an_owner_reference_with_another_uid_counts_as_absent() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    // The name matches a live object, the uid does not: the owner this
    // dependent had is gone (deleted and recreated under the same name).
    let mut stale = owner_ref(&owner, false);
    stale.uid = Str::from("00000000-0000-0000-0000-000000000000");
    cms.create(&cm("orphaned", vec![stale])).await.unwrap();
    cms.create(&cm("owned", vec![owner_ref(&owner, false)]))
        .await
        .unwrap();

    eventually(
        "the dependent of the absent owner is collected",
        async || gone(&cms, "orphaned").await,
    )
    .await;
    settle().await;
    assert!(cms.get_opt("owned").await.unwrap().is_some());
    assert!(cms.get_opt("owner").await.unwrap().is_some());
    c.stop().await;
}

#[tokio::test]
async fn an_owner_recreated_under_the_same_name_does_not_keep_old_dependents() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    let mut dep = cm("dep", vec![owner_ref(&owner, false)]);
    // Held, so that the collector's delete leaves it visible for a moment.
    dep.metadata.finalizers.push("example.com/hold".into());
    cms.create(&dep).await.unwrap();

    cms.delete("owner", &DeleteOptions::default())
        .await
        .unwrap();
    let again = cms.create(&cm("owner", vec![])).await.unwrap();
    assert_ne!(again.metadata.uid, owner.metadata.uid);
    eventually("the old dependent is deleted", async || {
        cms.get("dep")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    release(&cms, "dep").await;
    eventually("it is gone", async || gone(&cms, "dep").await).await;
    assert!(cms.get_opt("owner").await.unwrap().is_some());
    c.stop().await;
}

#[tokio::test]
async fn custom_resources_own_and_are_owned() {
    let c = Cluster::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(&c.client);
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
    let mut resource = None;
    eventually("the kind is served", async || {
        resource = c
            .server
            .kind("example.com", "v1", "widgets")
            .map(|k| k.resource.clone());
        resource.is_some()
    })
    .await;
    let resource = resource.unwrap();
    let widgets = DynamicApi::dynamic(&c.client, &resource, "default");
    let w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}
    }))
    .unwrap();
    let w = widgets.create(&w).await.unwrap();
    let w_ref = OwnerReference {
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        name: "w".into(),
        uid: w.metadata.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let cms = c.cms();
    let owned = cms.create(&cm("of-widget", vec![w_ref])).await.unwrap();
    // A widget owned by a ConfigMap.
    let mut part: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "part"}
    }))
    .unwrap();
    part.metadata
        .owner_references
        .push(owner_ref(&owned, false));
    widgets.create(&part).await.unwrap();

    widgets
        .delete("w", &DeleteOptions::default())
        .await
        .unwrap();
    eventually(
        "the cascade crosses custom and built-in kinds",
        async || gone(&cms, "of-widget").await && widgets.get_opt("part").await.unwrap().is_none(),
    )
    .await;
    c.stop().await;
}

#[tokio::test]
async fn dependents_of_owners_deleted_while_the_collector_was_down_are_collected_at_start() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    let live = cms.create(&cm("live", vec![])).await.unwrap();
    cms.create(&cm("dep", vec![owner_ref(&owner, false)]))
        .await
        .unwrap();
    cms.create(&cm("kept", vec![owner_ref(&live, false)]))
        .await
        .unwrap();
    cms.delete("owner", &DeleteOptions::default())
        .await
        .unwrap();

    let factory = InformerFactory::new(&client);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let gc = tokio::spawn(
        GarbageCollector::new(&factory)
            .graceful_shutdown_on(async {
                let _ = stop_rx.await;
            })
            .run(),
    );
    eventually("the dangling dependent is collected", async || {
        gone(&cms, "dep").await
    })
    .await;
    settle().await;
    assert!(cms.get_opt("kept").await.unwrap().is_some());
    let _ = stop.send(());
    gc.await.unwrap();
}

#[tokio::test]
async fn a_foreground_deletion_through_an_ownership_cycle_completes() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let a = cms.create(&cm("a", vec![])).await.unwrap();
    let b = cms
        .create(&cm("b", vec![owner_ref(&a, true)]))
        .await
        .unwrap();
    // a and b own each other, both blocking.
    cms.patch(
        "a",
        PatchType::Merge,
        &json!({"metadata": {"ownerReferences": [owner_ref(&b, true)]}}),
    )
    .await
    .unwrap();

    let opts = DeleteOptions {
        propagation_policy: Some("Foreground".into()),
        ..Default::default()
    };
    cms.delete("a", &opts).await.unwrap();
    eventually("both go", async || {
        gone(&cms, "a").await && gone(&cms, "b").await
    })
    .await;
    c.stop().await;
}

#[tokio::test]
async fn a_wide_cascade_is_collected() {
    let c = Cluster::start().await;
    let cms = c.cms();
    let owner = cms.create(&cm("owner", vec![])).await.unwrap();
    for i in 0..300 {
        cms.create(&cm(&format!("dep-{i}"), vec![owner_ref(&owner, false)]))
            .await
            .unwrap();
    }
    cms.delete("owner", &DeleteOptions::default())
        .await
        .unwrap();
    eventually("every dependent is collected", async || {
        cms.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    })
    .await;
    c.stop().await;
}
