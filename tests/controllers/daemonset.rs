//! The DaemonSet controller: placement over nodes with labels, taints and
//! cordons, nodes joining and leaving, rolling updates; pods bound by the
//! controller itself (`bind_directly`) or by a stand-in scheduler.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use keelson::api::apps::{ControllerRevision, DaemonSet};
use keelson::api::core::{Binding, Node, ObjectReference, Pod};
use keelson::api::ObjectMeta;
use keelson::apiserver::ApiServer;
use keelson::client::{Api, Client, LocalClient, PatchType};
use keelson::controllers::daemonset::{self, CONTROLLER_REVISION_HASH_LABEL};
use keelson::informer::{Event, InformerFactory};
use serde_json::json;
use tokio::sync::watch;

use crate::job::{wait_for, PodDriver, Step};

struct Cluster {
    client: Arc<dyn Client>,
    _server: ApiServer,
    _stop: watch::Sender<bool>,
    _driver: PodDriver,
}

async fn cluster(bind_directly: bool) -> Cluster {
    let server = ApiServer::in_memory().await.unwrap();
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let factory = InformerFactory::new(client.clone());
    let (stop, mut rx) = watch::channel(false);
    let config = daemonset::Config::default().bind_directly(bind_directly);
    tokio::spawn(daemonset::run_with(&factory, config, async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    let driver = PodDriver::start(&client, |_| Step::Run);
    Cluster {
        client,
        _server: server,
        _stop: stop,
        _driver: driver,
    }
}

async fn add_node(
    c: &Cluster,
    name: &str,
    labels: serde_json::Value,
    taints: serde_json::Value,
    unschedulable: bool,
) {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints, "unschedulable": unschedulable}
    }))
    .unwrap();
    Api::<Node>::all(&c.client).create(&node).await.unwrap();
}

/// Node name → (running pods there, their revision hashes).
async fn placement(c: &Cluster) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in Api::<Pod>::namespaced(&c.client, "default")
        .list(&Default::default())
        .await
        .unwrap()
        .items
    {
        if p.metadata.is_deleting() || p.spec.node_name.is_empty() || p.status.phase != "Running" {
            continue;
        }
        out.entry(p.spec.node_name.to_string()).or_default().push(
            p.metadata
                .labels
                .get_str(CONTROLLER_REVISION_HASH_LABEL)
                .unwrap_or("")
                .to_string(),
        );
    }
    out
}

async fn wait_placement(c: &Cluster, want: &[&str]) -> BTreeMap<String, Vec<String>> {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    wait_for(&format!("pods on exactly {want:?}"), || async {
        let p = placement(c).await;
        let all_pods = Api::<Pod>::namespaced(&c.client, "default")
            .list(&Default::default())
            .await
            .unwrap()
            .items;
        (p.keys().cloned().collect::<Vec<_>>() == want
            && p.values().all(|v| v.len() == 1)
            && all_pods.len() == want.len())
        .then_some(p)
    })
    .await
}

fn seed() -> DaemonSet {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/manifests/seeds/04-daemonset-ssd-monitor.yaml"
    ))
    .unwrap();
    let loaded = keelson::api::manifest::Loader::new(keelson::api::Scheme::builtin())
        .load_all(&text)
        .unwrap();
    serde_json::from_value(loaded[0].object.to_value().unwrap()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn seed_daemonset_places_pods_and_follows_nodes() {
    let c = cluster(true).await;
    add_node(&c, "n1", json!({"disk": "ssd"}), json!([]), false).await;
    add_node(
        &c,
        "n2",
        json!({"disk": "ssd"}),
        json!([{"key": "gpu", "effect": "NoSchedule"}]),
        false,
    )
    .await;
    add_node(&c, "n3", json!({"disk": "hdd"}), json!([]), false).await;
    add_node(&c, "n4", json!({"disk": "ssd"}), json!([]), true).await;
    add_node(
        &c,
        "n5",
        json!({"disk": "ssd"}),
        json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
        false,
    )
    .await;
    add_node(
        &c,
        "n6",
        json!({"disk": "ssd"}),
        json!([{"key": "dedicated", "value": "db", "effect": "NoExecute"}]),
        false,
    )
    .await;
    let sets = Api::<DaemonSet>::namespaced(&c.client, "default");
    sets.create(&seed()).await.unwrap();
    // ssd nodes; not the gpu-tainted or the dedicated one; the cordoned
    // and the not-ready one are tolerated by default.
    wait_placement(&c, &["n1", "n4", "n5"]).await;
    let ds = wait_for("status", || async {
        let ds = sets.get("ssd-monitor").await.ok()?;
        (ds.status.number_ready == 3).then_some(ds)
    })
    .await;
    assert_eq!(ds.status.desired_number_scheduled, 3);
    assert_eq!(ds.status.current_number_scheduled, 3);
    assert_eq!(ds.status.updated_number_scheduled, 3);
    assert_eq!(ds.status.number_available, 3);
    assert_eq!(ds.status.number_misscheduled, 0);
    assert_eq!(ds.status.number_unavailable, 0);
    assert_eq!(ds.status.observed_generation, ds.metadata.generation);
    let revisions = Api::<ControllerRevision>::namespaced(&c.client, "default")
        .list(&Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].revision, 1);

    // A node joins; one leaves; one is relabelled into the selector, and
    // one out of it.
    add_node(&c, "n7", json!({"disk": "ssd"}), json!([]), false).await;
    Api::<Node>::all(&c.client)
        .delete("n1", &Default::default())
        .await
        .unwrap();
    let nodes = Api::<Node>::all(&c.client);
    nodes
        .patch(
            "n3",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"disk": "ssd"}}}),
        )
        .await
        .unwrap();
    nodes
        .patch(
            "n4",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"disk": "hdd"}}}),
        )
        .await
        .unwrap();
    wait_placement(&c, &["n3", "n5", "n7"]).await;
}

#[tokio::test(start_paused = true)]
async fn rolling_update_replaces_every_pod_within_max_unavailable() {
    let c = cluster(true).await;
    for i in 0..5 {
        add_node(
            &c,
            &format!("n{i}"),
            json!({"disk": "ssd"}),
            json!([]),
            false,
        )
        .await;
    }
    let sets = Api::<DaemonSet>::namespaced(&c.client, "default");
    sets.create(&seed()).await.unwrap();
    let before = wait_placement(&c, &["n0", "n1", "n2", "n3", "n4"]).await;
    let old_hash = before["n0"][0].clone();

    // Watch how many nodes lack a running pod during the update.
    let factory = InformerFactory::new(c.client.clone());
    let pods = factory.informer::<Pod>();
    let mut sub = pods.subscribe();
    let cache = pods.cache();
    factory.start();
    let worst = Arc::new(std::sync::Mutex::new(0usize));
    let w = worst.clone();
    let watcher = tokio::spawn(async move {
        while let Some(e) = sub.recv().await {
            if matches!(
                e,
                Event::Added(_) | Event::Updated { .. } | Event::Deleted(_)
            ) {
                let running: std::collections::HashSet<String> = cache
                    .list()
                    .iter()
                    .filter(|p| !p.metadata.is_deleting() && p.status.phase == "Running")
                    .map(|p| p.spec.node_name.to_string())
                    .collect();
                let mut worst = w.lock().unwrap();
                *worst = (*worst).max(5 - running.len().min(5));
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    sets.patch(
        "ssd-monitor",
        PatchType::Merge,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "luksa/ssd-monitor:v2"}]}}}}),
    )
    .await
    .unwrap();
    let after = wait_for("every pod updated", || async {
        let p = placement(&c).await;
        (p.len() == 5 && p.values().all(|v| v.len() == 1 && v[0] != old_hash)).then_some(p)
    })
    .await;
    assert!(after.values().all(|v| v[0] == after["n0"][0]));
    watcher.abort();
    assert!(
        *worst.lock().unwrap() <= 1,
        "at most maxUnavailable=1 node without its pod, saw {}",
        worst.lock().unwrap()
    );
    let revisions = Api::<ControllerRevision>::namespaced(&c.client, "default")
        .list(&Default::default())
        .await
        .unwrap()
        .items;
    let mut numbers: Vec<i64> = revisions.iter().map(|r| r.revision).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2]);
    let ds = wait_for("status", || async {
        let ds = sets.get("ssd-monitor").await.ok()?;
        (ds.status.updated_number_scheduled == 5 && ds.status.number_available == 5).then_some(ds)
    })
    .await;
    assert_eq!(ds.status.observed_generation, 2);
}

#[tokio::test(start_paused = true)]
async fn max_surge_starts_the_new_pod_before_the_old_one_goes() {
    let c = cluster(true).await;
    for i in 0..3 {
        add_node(&c, &format!("n{i}"), json!({}), json!([]), false).await;
    }
    let mut ds = seed();
    ds.spec.template.spec.node_selector = Default::default();
    ds.spec.update_strategy = serde_json::from_value(json!({
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}
    }))
    .unwrap();
    let sets = Api::<DaemonSet>::namespaced(&c.client, "default");
    sets.create(&ds).await.unwrap();
    let before = wait_placement(&c, &["n0", "n1", "n2"]).await;
    let old_hash = before["n0"][0].clone();
    sets.patch(
        "ssd-monitor",
        PatchType::Merge,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "v2"}]}}}}),
    )
    .await
    .unwrap();
    let max_pods = std::sync::Mutex::new(0usize);
    wait_for("every pod updated", || async {
        let p = placement(&c).await;
        let total = Api::<Pod>::namespaced(&c.client, "default")
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len();
        let mut m = max_pods.lock().unwrap();
        *m = (*m).max(total);
        (p.len() == 3 && total == 3 && p.values().all(|v| v.len() == 1 && v[0] != old_hash))
            .then_some(())
    })
    .await;
    let max_pods = *max_pods.lock().unwrap();
    assert!(max_pods <= 4, "maxSurge 1: at most 4 pods, saw {max_pods}");
}

#[tokio::test(start_paused = true)]
async fn without_bind_directly_a_scheduler_binds_by_node_affinity() {
    let c = cluster(false).await;
    // A stand-in scheduler: binds each pod to the node its affinity names.
    let client = c.client.clone();
    let factory = InformerFactory::new(client.clone());
    let pods = factory.informer::<Pod>();
    let mut sub = pods.subscribe();
    factory.start();
    let scheduler = tokio::spawn(async move {
        while let Some(e) = sub.recv().await {
            let Event::Added(p) = e else { continue };
            if !p.spec.node_name.is_empty() {
                continue;
            }
            let Some(node) = daemonset::pod_node(&p) else {
                continue;
            };
            let binding = Binding {
                metadata: ObjectMeta::namespaced(
                    p.metadata.namespace.clone(),
                    p.metadata.name.clone(),
                ),
                target: ObjectReference {
                    kind: "Node".into(),
                    name: node,
                    ..Default::default()
                },
            };
            let _ = Api::<Pod>::namespaced(&client, "default")
                .create_subresource(&p.metadata.name, "binding", &binding)
                .await;
        }
    });
    for i in 0..3 {
        add_node(
            &c,
            &format!("n{i}"),
            json!({"disk": "ssd"}),
            json!([]),
            false,
        )
        .await;
    }
    Api::<DaemonSet>::namespaced(&c.client, "default")
        .create(&seed())
        .await
        .unwrap();
    wait_placement(&c, &["n0", "n1", "n2"]).await;
    scheduler.abort();
}
