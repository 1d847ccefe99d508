//! The node agent on FakeRuntime against the in-memory API server, in
//! paused time: registration and lease, pod lifecycle, restarts and
//! backoff, probes, termination, admission, env, volumes, static pods and
//! logs.

mod config;
#[cfg(feature = "http")]
mod kubectl;
mod lifecycle;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use keelson::api::core::{Container, Pod};
use keelson::api::ObjectMeta;
use keelson::apiserver::ApiServer;
use keelson::client::{Api, Client, LocalClient};
use keelson::node::{Config, NodeAgent};
use keelson::runtime::{
    ContainerConfig, ContainerFilter, ContainerRuntime, ContainerStatus, ExecResult, FakeRuntime,
    Image, ImageSpec, LogOptions, LogStream, PodSandboxConfig, PodSandboxStatus, Result,
    RuntimeStatus, SandboxFilter, Version,
};
use tokio::time::Instant;

/// How long (in virtual time) a condition may take.
const WAIT: Duration = Duration::from_secs(1200);

/// A runtime that records the calls that matter for ordering, then
/// forwards them to a FakeRuntime.
#[derive(Clone)]
pub struct Recorder {
    pub inner: FakeRuntime,
    pub calls: Arc<Mutex<Vec<(Instant, String)>>>,
    pub configs: Arc<Mutex<Vec<ContainerConfig>>>,
}

impl Recorder {
    pub fn new(inner: FakeRuntime) -> Self {
        Recorder {
            inner,
            calls: Arc::default(),
            configs: Arc::default(),
        }
    }

    fn note(&self, call: String) {
        self.calls.lock().unwrap().push((Instant::now(), call));
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// The instants of calls starting with `prefix`.
    pub fn times(&self, prefix: &str) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c)| c.starts_with(prefix))
            .map(|(t, _)| *t)
            .collect()
    }

    pub fn config_of(&self, name: &str) -> Option<ContainerConfig> {
        self.configs
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c.name == name)
            .cloned()
    }

    fn name_of(&self, id: &str) -> String {
        futures::executor::block_on(self.inner.container_status(id))
            .map(|s| s.name)
            .unwrap_or_default()
    }
}

#[async_trait]
impl ContainerRuntime for Recorder {
    async fn version(&self) -> Result<Version> {
        self.inner.version().await
    }
    async fn status(&self) -> Result<RuntimeStatus> {
        self.inner.status().await
    }
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        self.note(format!("run_sandbox {}", config.name));
        self.inner.run_pod_sandbox(config).await
    }
    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        self.note("stop_sandbox".to_string());
        self.inner.stop_pod_sandbox(id).await
    }
    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        self.note("remove_sandbox".to_string());
        self.inner.remove_pod_sandbox(id).await
    }
    async fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus> {
        self.inner.pod_sandbox_status(id).await
    }
    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandboxStatus>> {
        self.inner.list_pod_sandboxes(filter).await
    }
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        self.note(format!("create {}", config.name));
        self.configs.lock().unwrap().push(config.clone());
        self.inner
            .create_container(sandbox_id, config, sandbox)
            .await
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        self.note(format!("start {}", self.name_of(id)));
        self.inner.start_container(id).await
    }
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        self.note(format!("stop {} {}", self.name_of(id), timeout.as_secs()));
        let r = self.inner.stop_container(id, timeout).await;
        self.note(format!("stopped {}", self.name_of(id)));
        r
    }
    async fn remove_container(&self, id: &str) -> Result<()> {
        self.inner.remove_container(id).await
    }
    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        self.inner.container_status(id).await
    }
    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerStatus>> {
        self.inner.list_containers(filter).await
    }
    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult> {
        self.note(format!("exec {} {}", self.name_of(id), cmd.join(" ")));
        self.inner.exec_sync(id, cmd, timeout).await
    }
    async fn container_logs(&self, id: &str, options: &LogOptions) -> Result<LogStream> {
        self.inner.container_logs(id, options).await
    }
    async fn pull_image(&self, image: &ImageSpec) -> Result<String> {
        self.inner.pull_image(image).await
    }
    async fn list_images(&self) -> Result<Vec<Image>> {
        self.inner.list_images().await
    }
    async fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>> {
        self.inner.image_status(image).await
    }
    async fn remove_image(&self, image: &ImageSpec) -> Result<()> {
        self.inner.remove_image(image).await
    }
}

/// An API server, a client and one node agent over a recorded FakeRuntime.
pub struct Node {
    pub server: ApiServer,
    pub client: Arc<dyn Client>,
    pub runtime: Recorder,
    pub pods: Api<Pod>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<keelson::node::Result<()>>>,
}

impl Node {
    pub async fn start(config: Config, runtime: FakeRuntime) -> Node {
        let server = ApiServer::in_memory().await.unwrap();
        Self::start_on(server, config, runtime).await
    }

    pub async fn start_on(server: ApiServer, config: Config, runtime: FakeRuntime) -> Node {
        let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
        let runtime = Recorder::new(runtime);
        let agent = NodeAgent::new(config, Arc::new(runtime.clone()), client.clone());
        agent.register_logs(&server);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(agent.run(async {
            let _ = stopped.await;
        }));
        Node {
            pods: Api::namespaced(client.clone(), "default"),
            server,
            client,
            runtime,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the agent and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Creates a pod bound to `node-1`.
    pub async fn create(&self, mut pod: Pod) -> Pod {
        if pod.spec.node_name.is_empty() {
            pod.spec.node_name = "node-1".into();
        }
        self.pods.create(&pod).await.unwrap()
    }

    /// Waits until the pod satisfies `check`; returns it.
    pub async fn wait(&self, name: &str, what: &str, check: impl Fn(&Pod) -> bool) -> Pod {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(p) = self.pods.get_opt(name).await.unwrap() {
                if check(&p) {
                    return p;
                }
                if Instant::now() > deadline {
                    panic!(
                        "pod {name}: timed out waiting for {what}; status: {:#?}",
                        p.status
                    );
                }
            } else if Instant::now() > deadline {
                panic!("pod {name}: timed out waiting for {what}; the pod is gone");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the pod object is gone.
    pub async fn wait_gone(&self, name: &str) {
        let deadline = Instant::now() + WAIT;
        while self.pods.get_opt(name).await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "pod {name} still exists");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A pod with one container per `(name, image)`.
pub fn pod(name: &str, containers: &[(&str, &str)]) -> Pod {
    let mut pod = Pod {
        metadata: ObjectMeta::named(name),
        ..Pod::default()
    };
    for (n, image) in containers {
        pod.spec.containers.push(Container {
            name: (*n).into(),
            image: (*image).into(),
            ..Container::default()
        });
    }
    pod
}

pub fn condition(pod: &Pod, type_: &str) -> Option<String> {
    pod.status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.to_string())
}

pub fn running(pod: &Pod) -> bool {
    pod.status.phase == "Running"
        && pod
            .status
            .container_statuses
            .iter()
            .all(|c| c.state.running.is_some())
}

pub fn config() -> Config {
    Config::new("node-1")
}
