//! The controller manager: the built-in controllers (ReplicaSet,
//! Deployment, Job, CronJob, DaemonSet, Namespace, garbage collector) in one process, sharing one set of
//! informers, optionally behind leader election so that only one of
//! several replicas acts.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::apiserver::ApiServer;
//! use keelson::client::LocalClient;
//! use keelson::controllers::ControllerManager;
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let manager = ControllerManager::new(&client).leader_election("manager-1");
//! let running = tokio::spawn(manager.run(async { let _ = stopped.await; }));
//! // ... Deployments now get ReplicaSets, ReplicaSets get Pods, and
//! // deleting an owner deletes what it owns.
//! let _ = stop.send(());
//! running.await.unwrap();
//! # });
//! ```

use std::future::Future;

use futures::future::{FutureExt, Shared};

use super::leader::{self, LeaderElector};
use super::{cronjob, daemonset, deployment, gc, job, namespace, replicaset};
use crate::client::IntoClient;
use crate::informer::InformerFactory;

/// The namespace of the manager's Lease, as Kubernetes'
/// kube-controller-manager.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// The name of the manager's Lease.
pub const LEASE_NAME: &str = "keelson-controller-manager";

/// Which built-in controllers run, and whether they wait for a Lease.
pub struct ControllerManager {
    factory: InformerFactory,
    leader: Option<LeaderElector>,
    replicasets: bool,
    deployments: bool,
    garbage_collector: bool,
    jobs: bool,
    cronjobs: bool,
    daemonsets: bool,
    namespaces: bool,
}

impl std::fmt::Debug for ControllerManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerManager")
            .field(
                "leader_election",
                &self.leader.as_ref().map(|l| l.identity().to_string()),
            )
            .field("replicasets", &self.replicasets)
            .field("deployments", &self.deployments)
            .field("garbage_collector", &self.garbage_collector)
            .field("jobs", &self.jobs)
            .field("cronjobs", &self.cronjobs)
            .field("daemonsets", &self.daemonsets)
            .field("namespaces", &self.namespaces)
            .finish()
    }
}

type Stop = Shared<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>;

impl ControllerManager {
    /// Every built-in controller over `client`, without leader election.
    pub fn new(client: impl IntoClient) -> Self {
        Self::with_factory(&InformerFactory::new(client))
    }

    /// Every built-in controller, with informers from `factory` (shared
    /// with whatever else uses it).
    pub fn with_factory(factory: &InformerFactory) -> Self {
        ControllerManager {
            factory: factory.clone(),
            leader: None,
            replicasets: true,
            deployments: true,
            garbage_collector: true,
            jobs: true,
            cronjobs: true,
            daemonsets: true,
            namespaces: true,
        }
    }

    /// Act only while holding the Lease `kube-system/keelson-controller-manager`
    /// as `identity` (unique per replica, such as the host name), with the
    /// default timings (lease 15 s, renew 10 s, retry 2 s).
    pub fn leader_election(self, identity: &str) -> Self {
        let elector =
            LeaderElector::new(self.factory.client(), LEASE_NAMESPACE, LEASE_NAME, identity);
        self.leader_elector(elector)
    }

    /// Act only while `elector` leads (your own Lease or timings).
    pub fn leader_elector(mut self, elector: LeaderElector) -> Self {
        self.leader = Some(elector);
        self
    }

    /// Run the ReplicaSet controller (default on).
    pub fn replicasets(mut self, on: bool) -> Self {
        self.replicasets = on;
        self
    }

    /// Run the Deployment controller (default on).
    pub fn deployments(mut self, on: bool) -> Self {
        self.deployments = on;
        self
    }

    /// Run the garbage collector (default on).
    pub fn garbage_collector(mut self, on: bool) -> Self {
        self.garbage_collector = on;
        self
    }

    /// Run the Job controller (default on).
    pub fn jobs(mut self, on: bool) -> Self {
        self.jobs = on;
        self
    }

    /// Run the CronJob controller (default on).
    pub fn cronjobs(mut self, on: bool) -> Self {
        self.cronjobs = on;
        self
    }

    /// Run the DaemonSet controller (default on; pods are left to the
    /// scheduler to bind).
    pub fn daemonsets(mut self, on: bool) -> Self {
        self.daemonsets = on;
        self
    }

    /// Run the Namespace controller (default on).
    pub fn namespaces(mut self, on: bool) -> Self {
        self.namespaces = on;
        self
    }

    /// The elector, when leader election is on.
    pub fn elector(&self) -> Option<&LeaderElector> {
        self.leader.as_ref()
    }

    /// Runs until `shutdown`: the controllers at once, or with leader
    /// election every time this replica becomes leader (stopping them
    /// gracefully when leadership is lost, then standing again).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let shutdown: Stop =
            (Box::pin(shutdown) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>).shared();
        let Some(elector) = self.leader.clone() else {
            self.run_controllers(shutdown).await;
            return;
        };
        loop {
            let outcome = elector
                .run(shutdown.clone(), |leading| {
                    let lost: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> =
                        Box::pin(leading.lost());
                    self.run_controllers(lost.shared())
                })
                .await;
            match outcome {
                leader::Outcome::Lost => {
                    tracing::warn!("controller manager lost leadership; standing again");
                }
                _ => return,
            }
        }
    }

    /// Runs the enabled controllers until `stop`.
    async fn run_controllers(&self, stop: Stop) {
        // A JoinSet aborts its tasks when dropped: if this future is dropped
        // (leadership lost and the grace period over), the controllers stop.
        let mut running = tokio::task::JoinSet::new();
        if self.replicasets {
            running.spawn(replicaset::run(&self.factory, stop.clone()));
        }
        if self.deployments {
            running.spawn(deployment::run(&self.factory, stop.clone()));
        }
        if self.jobs {
            running.spawn(job::run(&self.factory, stop.clone()));
        }
        if self.cronjobs {
            running.spawn(cronjob::run(&self.factory, stop.clone()));
        }
        if self.daemonsets {
            running.spawn(daemonset::run(&self.factory, stop.clone()));
        }
        if self.namespaces {
            running.spawn(namespace::run(&self.factory, stop.clone()));
        }
        if self.garbage_collector {
            let collector =
                gc::GarbageCollector::new(&self.factory).graceful_shutdown_on(stop.clone());
            running.spawn(collector.run());
        }
        while running.join_next().await.is_some() {}
    }
}
