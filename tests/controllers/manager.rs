//! The controller manager: Deployment → ReplicaSet → Pods end to end, and
//! deleting a Deployment with each propagation policy (the Deployment and
//! ReplicaSet controllers and the garbage collector together).

use std::time::Duration;

use keelson::api::apps::{Deployment, ReplicaSet};
use keelson::api::core::Pod;
use keelson::api::meta::DeleteOptions;
use keelson::apiserver::{ApiServer, ListOptions};
use keelson::client::{Api, LocalClient};
use keelson::controllers::leader::{Config, LeaderElector};
use keelson::controllers::ControllerManager;
use serde_json::json;
use tokio::sync::oneshot;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "app:v1"}]}
            }
        }
    }))
    .unwrap()
}

struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(manager: ControllerManager) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        Running { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the manager stops")
            .unwrap();
    }
}

/// Polls `check` every 10 ms until it is true (10 s at most).
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "timed out waiting until {what}");
}

async fn counts(client: &LocalClient) -> (usize, usize) {
    let sets: Api<ReplicaSet> = Api::namespaced(client, "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let all = ListOptions::default();
    (
        sets.list(&all).await.unwrap().items.len(),
        pods.list(&all).await.unwrap().items.len(),
    )
}

async fn delete_with(client: &LocalClient, name: &str, policy: &str) {
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let opts = DeleteOptions {
        propagation_policy: Some(policy.into()),
        ..Default::default()
    };
    deployments.delete(name, &opts).await.unwrap();
}

#[tokio::test]
async fn background_deletion_removes_replicasets_and_pods() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let running = Running::start(ControllerManager::new(&client));
    let deployments: Api<Deployment> = Api::namespaced(&client, "default");
    deployments.create(&deployment("web", 3)).await.unwrap();
    until("1 ReplicaSet and 3 pods exist", async || {
        counts(&client).await == (1, 3)
    })
    .await;

    delete_with(&client, "web", "Background").await;
    until("the ReplicaSet and the pods are gone", async || {
        counts(&client).await == (0, 0)
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn foreground_deletion_keeps_the_deployment_until_its_dependents_are_gone() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let running = Running::start(ControllerManager::new(&client));
    let deployments: Api<Deployment> = Api::namespaced(&client, "default");
    deployments.create(&deployment("web", 2)).await.unwrap();
    until("1 ReplicaSet and 2 pods exist", async || {
        counts(&client).await == (1, 2)
    })
    .await;

    delete_with(&client, "web", "Foreground").await;
    until("everything is gone", async || {
        counts(&client).await == (0, 0) && deployments.get_opt("web").await.unwrap().is_none()
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn orphan_deletion_leaves_replicasets_and_pods_without_the_owner() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let running = Running::start(ControllerManager::new(&client));
    let deployments: Api<Deployment> = Api::namespaced(&client, "default");
    deployments.create(&deployment("web", 3)).await.unwrap();
    until("1 ReplicaSet and 3 pods exist", async || {
        counts(&client).await == (1, 3)
    })
    .await;

    delete_with(&client, "web", "Orphan").await;
    let sets: Api<ReplicaSet> = Api::namespaced(&client, "default");
    until(
        "the Deployment is gone and its ReplicaSet is an orphan",
        async || {
            let orphaned = sets.list(&ListOptions::default()).await.unwrap().items;
            deployments.get_opt("web").await.unwrap().is_none()
                && orphaned.len() == 1
                && orphaned[0].metadata.owner_references.is_empty()
        },
    )
    .await;
    // The ReplicaSet still owns its pods, and they stay.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(counts(&client).await, (1, 3));
    running.stop().await;
}

#[tokio::test]
async fn with_leader_election_one_of_two_managers_acts_and_the_other_takes_over() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    // Short timings so the takeover is quick in real time.
    let config = Config::default()
        .lease_duration(Duration::from_millis(1500))
        .renew_deadline(Duration::from_millis(1000))
        .retry_period(Duration::from_millis(200));
    let elector = |id: &str| {
        LeaderElector::new(&client, "kube-system", "keelson-controller-manager", id)
            .with_config(config.clone())
            .unwrap()
    };
    let a = ControllerManager::new(&client).leader_elector(elector("a"));
    let b = ControllerManager::new(&client).leader_elector(elector("b"));
    let (ea, eb) = (a.elector().unwrap().clone(), b.elector().unwrap().clone());
    let ra = Running::start(a);
    let rb = Running::start(b);
    until("one leads", async || ea.is_leader() || eb.is_leader()).await;
    assert!(!(ea.is_leader() && eb.is_leader()), "two leaders");

    let deployments: Api<Deployment> = Api::namespaced(&client, "default");
    deployments.create(&deployment("web", 2)).await.unwrap();
    until("the leader's controllers act", async || {
        counts(&client).await == (1, 2)
    })
    .await;

    // Stop the leader: it releases the lease and the other one acts.
    let (leader, follower, follower_elector) = if ea.is_leader() {
        (ra, rb, eb)
    } else {
        (rb, ra, ea)
    };
    leader.stop().await;
    until("the other manager leads", async || {
        follower_elector.is_leader()
    })
    .await;
    deployments.create(&deployment("api", 1)).await.unwrap();
    until("the new leader's controllers act", async || {
        counts(&client).await == (2, 3)
    })
    .await;
    follower.stop().await;
}

#[tokio::test]
async fn dropping_the_manager_stops_every_controller() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    let deployments: Api<Deployment> = Api::namespaced(&client, "default");
    let task = tokio::spawn(ControllerManager::new(&client).run(futures::future::pending()));
    deployments.create(&deployment("before", 1)).await.unwrap();
    until("the controllers act", async || {
        counts(&client).await == (1, 1)
    })
    .await;

    // Aborting the task drops the manager's future (as a leader whose grace
    // period ran out does): no controller task may keep acting.
    task.abort();
    let _ = task.await;
    deployments.create(&deployment("after", 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counts(&client).await, (1, 1), "a controller kept running");
}
