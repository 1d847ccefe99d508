//! The node agent (the kubelet): turns pods bound to a node into containers
//! on a [`ContainerRuntime`], and reports what they do.
//!
//! A [`NodeAgent`] talks to the API only through a [`Client`] and to its
//! machine only through an `Arc<dyn ContainerRuntime>`, so the same agent
//! runs real containers (`ProcessRuntime`, `CriRuntime`) or simulated ones
//! ([`FakeRuntime`](crate::runtime::FakeRuntime)), in its own process or by
//! the thousand in one (it starts no thread; each pod is one cheap task).
//!
//! What it does, as the kubelet does:
//!
//! 1. **registers** its Node (capacity and allocatable from [`Config`] or the
//!    host, addresses, node info, labels and taints), renews its `Lease` in
//!    `kube-node-lease` every [`Config::lease_renew_interval`], and keeps the
//!    node's `Ready` condition current;
//! 2. **watches the pods bound to it** (an informer with a `spec.nodeName`
//!    field selector) and runs one worker per pod: *admission* (a pod whose
//!    requests do not fit what is left of allocatable is refused: phase
//!    `Failed`, reason `OutOfcpu`, `OutOfmemory`, `OutOfpods` or
//!    `NodePorts`), image pulls, the *sandbox*, *volumes*, *init containers*
//!    one at a time to success, then the app containers;
//! 3. **restarts** containers by `restartPolicy` (`Always`, `OnFailure`,
//!    `Never`) with `CrashLoopBackOff`: 10 s, doubling to 5 min, reset after
//!    10 min of running;
//! 4. **probes**: startup, liveness (a failure restarts the container) and
//!    readiness (the `Ready` condition), by exec, `httpGet` or `tcpSocket`;
//!    `postStart` and `preStop` hooks;
//! 5. **terminates** gracefully when the pod gets a `deletionTimestamp`:
//!    `preStop`, then `stop_container` with what is left of the grace period
//!    (the runtime sends SIGTERM, then SIGKILL), then the pod object is
//!    deleted for good; `activeDeadlineSeconds` ends a pod `Failed` with
//!    reason `DeadlineExceeded`;
//! 6. **writes the pod's status** (phase, conditions, container statuses,
//!    IPs, start time, QoS class) through the `status` subresource, only
//!    when it changed;
//! 7. runs **static pods** from a directory of manifests and mirrors them to
//!    the API;
//! 8. serves **logs**: it registers itself as the
//!    [`PodLogs`](crate::apiserver::PodLogs) provider of its
//!    node on an in-process [`ApiServer`](crate::apiserver::ApiServer), so
//!    `pods/{name}/log` (and `kubectl logs`) reach it;
//! 9. **recovers** after a restart: what an earlier run left in the runtime
//!    (it was stopped with [`Config::stop_pods_on_shutdown`] off, or
//!    crashed) is adopted — a pod whose sandbox is still ready keeps it, its
//!    IP and its running containers, with their restart counts — and the
//!    sandboxes of pods no longer bound to the node are removed once the
//!    first list of pods is in.
//!
//! ```
//! # tokio_test::block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use keelson::api::core::{Container, Pod};
//! use keelson::api::ObjectMeta;
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::node::{Config, NodeAgent};
//! use keelson::runtime::FakeRuntime;
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let agent = NodeAgent::new(Config::new("node-1"), Arc::new(FakeRuntime::new()), Arc::new(client.clone()));
//! agent.register_logs(&server);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(agent.run(async { let _ = stopped.await; }));
//!
//! let pods: Api<Pod> = Api::namespaced(&client, "default");
//! let mut pod = Pod { metadata: ObjectMeta::named("web"), ..Default::default() };
//! pod.spec.node_name = "node-1".into();
//! pod.spec.containers.push(Container { name: "web".into(), image: "nginx".into(), ..Default::default() });
//! pods.create(&pod).await.unwrap();
//! loop {
//!     let pod = pods.get("web").await.unwrap();
//!     if pod.status.phase == "Running" {
//!         assert!(!pod.status.pod_ip.is_empty());
//!         break;
//!     }
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//! }
//! let _ = stop.send(());
//! task.await.unwrap().unwrap();
//! # });
//! ```
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::api::core::Taint;
use crate::api::quantity::{Quantity, ResourceList};
use crate::api::{Str, StringMap, Time};
use crate::client::Client;
use crate::runtime::ContainerRuntime;

mod admission;
mod env;
mod logs;
mod probe;
mod register;
mod static_pods;
mod status;
mod volumes;
mod worker;

/// The kubelet's version as reported in `nodeInfo`.
pub const KUBELET_VERSION: &str = concat!("v1.33.0-keelson.", env!("CARGO_PKG_VERSION"));

/// The annotation marking a mirror pod (the API copy of a static pod).
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The annotation naming where a pod came from (`file`, `api`).
pub const SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";

/// What can go wrong in the node agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Client(#[from] crate::client::Error),
    /// A runtime call failed.
    #[error("runtime: {0}")]
    Runtime(#[from] crate::runtime::Error),
    /// A file system operation failed.
    #[error("{0}")]
    Io(String),
}

/// `Result` with a node [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings of a [`NodeAgent`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The node's name.
    pub node_name: Str,
    /// Labels of the Node (`kubernetes.io/hostname` and `kubernetes.io/os`
    /// are added).
    pub labels: StringMap,
    /// Taints of the Node.
    pub taints: Vec<Taint>,
    /// Capacity (`cpu`, `memory`, `pods`, …); empty: from the host
    /// (its CPUs and memory, and [`max_pods`](Self::max_pods)).
    pub capacity: ResourceList,
    /// Allocatable; `None`: the capacity.
    pub allocatable: Option<ResourceList>,
    /// Where pod directories (volumes) go; `None`: a directory under the
    /// system's temporary directory named after the node.
    pub root_dir: Option<PathBuf>,
    /// The node's pod CIDR (`spec.podCIDR`), empty for none.
    pub pod_cidr: Str,
    /// The node's `InternalIP`.
    pub address: Str,
    /// The port reported in `status.daemonEndpoints.kubeletEndpoint`.
    pub port: i32,
    /// How long the node Lease lasts.
    pub lease_duration: Duration,
    /// How often the Lease is renewed.
    pub lease_renew_interval: Duration,
    /// How often the node's status is checked (written when it changed).
    pub node_status_interval: Duration,
    /// The node's status is written at least this often even unchanged.
    pub node_status_report_interval: Duration,
    /// How often a pod's containers are checked (the kubelet's relist).
    pub sync_period: Duration,
    /// How often configMap and secret volumes are refreshed.
    pub volume_sync_period: Duration,
    /// The most pods the node runs (`capacity.pods` when capacity comes
    /// from the host).
    pub max_pods: u32,
    /// A directory of static pod manifests (YAML or JSON).
    pub static_pod_dir: Option<PathBuf>,
    /// How often the static pod directory is read again.
    pub static_pod_interval: Duration,
    /// Stop every pod when the agent stops (else they keep running in the
    /// runtime).
    pub stop_pods_on_shutdown: bool,
}

impl Config {
    /// The defaults for a node named `name`.
    ///
    /// ```
    /// let config = keelson::node::Config::new("node-1").max_pods(30);
    /// assert_eq!(config.max_pods, 30);
    /// assert_eq!(config.lease_renew_interval.as_secs(), 10);
    /// ```
    pub fn new(name: impl Into<Str>) -> Self {
        Config {
            node_name: name.into(),
            ..Config::default()
        }
    }

    /// Set the labels.
    #[must_use]
    pub fn labels(mut self, labels: StringMap) -> Self {
        self.labels = labels;
        self
    }

    /// Add a label.
    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key, value);
        self
    }

    /// Set the taints.
    #[must_use]
    pub fn taints(mut self, taints: Vec<Taint>) -> Self {
        self.taints = taints;
        self
    }

    /// Set the capacity (and allocatable, unless set).
    #[must_use]
    pub fn capacity(mut self, capacity: ResourceList) -> Self {
        self.capacity = capacity;
        self
    }

    /// Set allocatable.
    #[must_use]
    pub fn allocatable(mut self, allocatable: ResourceList) -> Self {
        self.allocatable = Some(allocatable);
        self
    }

    /// Set the root directory.
    #[must_use]
    pub fn root_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root_dir = Some(dir.into());
        self
    }

    /// Set the pod CIDR.
    #[must_use]
    pub fn pod_cidr(mut self, cidr: impl Into<Str>) -> Self {
        self.pod_cidr = cidr.into();
        self
    }

    /// Set the node address.
    #[must_use]
    pub fn address(mut self, address: impl Into<Str>) -> Self {
        self.address = address.into();
        self
    }

    /// Set the Lease duration and renewal interval.
    #[must_use]
    pub fn lease(mut self, duration: Duration, renew: Duration) -> Self {
        self.lease_duration = duration;
        self.lease_renew_interval = renew;
        self
    }

    /// Set the pod sync period.
    #[must_use]
    pub fn sync_period(mut self, period: Duration) -> Self {
        self.sync_period = period;
        self
    }

    /// Set the configMap/secret volume refresh period.
    #[must_use]
    pub fn volume_sync_period(mut self, period: Duration) -> Self {
        self.volume_sync_period = period;
        self
    }

    /// Set the most pods.
    #[must_use]
    pub fn max_pods(mut self, pods: u32) -> Self {
        self.max_pods = pods;
        self
    }

    /// Run static pods from `dir`.
    #[must_use]
    pub fn static_pod_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.static_pod_dir = Some(dir.into());
        self
    }

    /// Stop the pods when the agent stops.
    #[must_use]
    pub fn stop_pods_on_shutdown(mut self, stop: bool) -> Self {
        self.stop_pods_on_shutdown = stop;
        self
    }

    /// The capacity to report: configured, or the host's.
    pub fn effective_capacity(&self) -> ResourceList {
        if !self.capacity.is_empty() {
            let mut c = self.capacity.clone();
            if !c.contains_key("pods") {
                c.insert("pods", Quantity::from_value(i64::from(self.max_pods)));
            }
            return c;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut c = ResourceList::new();
        c.insert("cpu", Quantity::from_value(cpus as i64));
        c.insert("memory", Quantity::from_bytes(host_memory_bytes()));
        c.insert("ephemeral-storage", Quantity::from("100Gi"));
        c.insert("pods", Quantity::from_value(i64::from(self.max_pods)));
        c
    }

    /// Allocatable: configured, or the capacity.
    pub fn effective_allocatable(&self) -> ResourceList {
        self.allocatable
            .clone()
            .unwrap_or_else(|| self.effective_capacity())
    }

    fn root(&self) -> PathBuf {
        self.root_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir()
                .join("keelson-node")
                .join(self.node_name.as_str())
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_name: Str::from_static("node"),
            labels: StringMap::new(),
            taints: Vec::new(),
            capacity: ResourceList::new(),
            allocatable: None,
            root_dir: None,
            pod_cidr: Str::default(),
            address: Str::from_static("127.0.0.1"),
            port: 10250,
            lease_duration: Duration::from_secs(40),
            lease_renew_interval: Duration::from_secs(10),
            node_status_interval: Duration::from_secs(10),
            node_status_report_interval: Duration::from_secs(300),
            sync_period: Duration::from_secs(1),
            volume_sync_period: Duration::from_secs(60),
            max_pods: 110,
            static_pod_dir: None,
            static_pod_interval: Duration::from_secs(20),
            stop_pods_on_shutdown: false,
        }
    }
}

/// The host's memory (from `/proc/meminfo`), or 8 GiB when unknown.
fn host_memory_bytes() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map_or(8 << 30, |kb| kb.saturating_mul(1024))
}

/// Wall-clock time that follows tokio's clock (so paused tests see
/// timestamps move with `advance`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    at: Instant,
    wall: SystemTime,
}

impl Clock {
    fn new() -> Self {
        Clock {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    pub(crate) fn wall(&self, at: Instant) -> SystemTime {
        self.wall + at.saturating_duration_since(self.at)
    }

    pub(crate) fn now(&self) -> Time {
        Time::from(self.wall(Instant::now()))
    }

    /// The instant of a wall-clock time reported by the runtime (clamped
    /// to now).
    pub(crate) fn instant_of(&self, t: SystemTime) -> Instant {
        let now = Instant::now();
        let ago = self.wall(now).duration_since(t).unwrap_or_default();
        now.checked_sub(ago).unwrap_or(now)
    }
}

/// Container name → (current id, previous id).
pub(crate) type ContainerIds = HashMap<Str, (Option<String>, Option<String>)>;

/// What the agent knows of one pod it runs, shared between its worker and
/// the log server.
#[derive(Debug, Default)]
pub(crate) struct PodEntry {
    /// Container name → (current id, previous id).
    pub(crate) containers: Mutex<ContainerIds>,
}

impl PodEntry {
    pub(crate) fn containers(&self) -> MutexGuard<'_, ContainerIds> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    /// [`Config::effective_capacity`] and [`Config::effective_allocatable`],
    /// worked out once: from the host they cost a `/proc/meminfo` read,
    /// and admission and every container start ask for them.
    pub(crate) capacity: ResourceList,
    pub(crate) allocatable: ResourceList,
    pub(crate) runtime: Arc<dyn ContainerRuntime>,
    pub(crate) client: Arc<dyn Client>,
    pub(crate) clock: Clock,
    pub(crate) root: PathBuf,
    /// `namespace/name` → the pod's entry.
    pub(crate) pods: Mutex<HashMap<(Str, Str), Arc<PodEntry>>>,
    pub(crate) runtime_name: std::sync::OnceLock<String>,
    /// Sandboxes and containers found in the runtime at start (left by an
    /// earlier run of the agent), adopted by their pods' workers.
    pub(crate) recovered: Mutex<worker::Recovered>,
}

impl Shared {
    pub(crate) fn pods(&self) -> MutexGuard<'_, HashMap<(Str, Str), Arc<PodEntry>>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The node agent; see the [module guide](self).
#[derive(Clone)]
pub struct NodeAgent {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NodeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAgent")
            .field("node", &self.shared.config.node_name)
            .finish()
    }
}

impl NodeAgent {
    /// An agent for `config.node_name` over `runtime`, talking to the API
    /// through `client`. Nothing happens until [`run`](Self::run).
    pub fn new(
        config: Config,
        runtime: Arc<dyn ContainerRuntime>,
        client: Arc<dyn Client>,
    ) -> Self {
        let root = config.root();
        let capacity = config.effective_capacity();
        let allocatable = config
            .allocatable
            .clone()
            .unwrap_or_else(|| capacity.clone());
        NodeAgent {
            shared: Arc::new(Shared {
                config,
                capacity,
                allocatable,
                runtime,
                client,
                clock: Clock::new(),
                root,
                pods: Mutex::new(HashMap::new()),
                runtime_name: std::sync::OnceLock::new(),
                recovered: Mutex::default(),
            }),
        }
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.shared.config.node_name
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Registers this agent as the log provider of its node on an
    /// in-process API server, so `pods/{name}/log` reaches it.
    pub fn register_logs(&self, server: &crate::apiserver::ApiServer) {
        logs::register(
            server,
            &self.shared.config.node_name,
            Arc::new(self.clone()),
        );
    }

    /// Runs the agent until `shutdown` completes: registers the node,
    /// renews its Lease, runs the pods bound to it. Returns once every
    /// task of the agent has ended (with
    /// [`Config::stop_pods_on_shutdown`], once the pods are stopped).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        worker::run_agent(self.shared.clone(), shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_agent_works_out_capacity_and_allocatable_once_as_config_says() {
        let server = crate::apiserver::ApiServer::in_memory().await.unwrap();
        let client: Arc<dyn Client> = Arc::new(crate::client::LocalClient::new(&server));
        let runtime: Arc<dyn ContainerRuntime> = Arc::new(crate::runtime::FakeRuntime::new());
        let mut cpu = ResourceList::new();
        cpu.insert("cpu", Quantity::from("2"));
        let mut half = ResourceList::new();
        half.insert("cpu", Quantity::from("1"));
        for config in [
            Config::new("host"),
            Config::new("set").capacity(cpu.clone()),
            Config::new("split").capacity(cpu).allocatable(half),
        ] {
            let name = config.node_name.clone();
            let (capacity, allocatable) =
                (config.effective_capacity(), config.effective_allocatable());
            let agent = NodeAgent::new(config, runtime.clone(), client.clone());
            assert_eq!(agent.shared.capacity, capacity, "{name}");
            assert_eq!(agent.shared.allocatable, allocatable, "{name}");
            assert!(agent.shared.capacity.contains_key("pods"), "{name}");
        }
    }
}
