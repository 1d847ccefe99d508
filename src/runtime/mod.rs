//! Container runtimes: the CRI-shaped interface the node agent drives.
//!
//! In Kubernetes the kubelet never starts a process itself: it asks a
//! container runtime, over the Container Runtime Interface (CRI), for a *pod
//! sandbox* (the pause container holding the pod's namespaces and IP) and
//! then for *containers* inside it, and it asks the runtime's image service
//! for images. [`ContainerRuntime`] is that interface in Rust, with CRI's
//! vocabulary, so one node agent works over any backend:
//!
//! | backend | what a container is | use it for |
//! |---|---|---|
//! | [`FakeRuntime`] | a simulated state machine, scriptable (exit after a while, crash loops, failing probes, pull errors) | tests and thousands of simulated nodes in one process |
//! | `ProcessRuntime` | a host process, with its own network namespace and cgroup where the privileges allow | the embedded default: real containers with nothing installed |
//! | `CriRuntime` (feature `cri`) | a containerd container over CRI gRPC | the industry runtime |
//!
//! [`process`] documents the process runtime and its image catalog;
//! `conformance` (feature `test-util`) is the suite every backend passes,
//! and `cri_testing` (features `test-util` + `cri`) starts a private
//! containerd with locally built busybox and pause images.
//!
//! The life of a pod, as the node agent drives it:
//!
//! 1. [`pull_image`](ContainerRuntime::pull_image) for every image not yet
//!    present ([`image_status`](ContainerRuntime::image_status) says);
//! 2. [`run_pod_sandbox`](ContainerRuntime::run_pod_sandbox) → a sandbox id
//!    and, through [`pod_sandbox_status`](ContainerRuntime::pod_sandbox_status),
//!    the pod's IP;
//! 3. per container: [`create_container`](ContainerRuntime::create_container)
//!    then [`start_container`](ContainerRuntime::start_container);
//!    [`container_status`](ContainerRuntime::container_status) reports its
//!    state and exit code; [`exec_sync`](ContainerRuntime::exec_sync) runs
//!    exec probes; [`container_logs`](ContainerRuntime::container_logs) reads
//!    what it wrote (in the CRI log format, see [`logs`]);
//! 4. [`stop_container`](ContainerRuntime::stop_container) with the grace
//!    period (SIGTERM, then SIGKILL), [`remove_container`](ContainerRuntime::remove_container),
//!    then [`stop_pod_sandbox`](ContainerRuntime::stop_pod_sandbox) and
//!    [`remove_pod_sandbox`](ContainerRuntime::remove_pod_sandbox).
//!
//! Operations a backend cannot offer return [`Error::Unsupported`], never a
//! silent success. Ids are opaque strings chosen by the runtime.

pub mod fake;
pub mod logs;
pub mod process;
pub use process::{ImageCatalog, ImageEntry, ProcessRuntime, ProcessRuntimeConfig};
#[cfg(feature = "cri")]
pub mod cri;
#[cfg(feature = "cri")]
pub use cri::CriRuntime;
#[cfg(feature = "test-util")]
pub mod conformance;
#[cfg(all(feature = "test-util", feature = "cri"))]
pub mod cri_testing;

pub use self::fake::FakeRuntime;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::BoxStream;

/// What a runtime operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No sandbox, container or image has this id or reference.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// `"sandbox"`, `"container"` or `"image"`.
        kind: &'static str,
        /// The id or image reference asked for.
        id: String,
    },
    /// An image could not be pulled or resolved (the kubelet's `ErrImagePull`).
    #[error("pulling image {image:?}: {message}")]
    ImagePull {
        /// The image reference.
        image: String,
        /// Why.
        message: String,
    },
    /// The request is malformed for this runtime (a bad mount, a duplicate
    /// container name in a sandbox, a container of a stopped sandbox, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The operation is not offered by this runtime.
    #[error("{0} is not supported by this runtime")]
    Unsupported(&'static str),
    /// The operation did not finish within its timeout.
    #[error("timed out: {0}")]
    DeadlineExceeded(String),
    /// The runtime cannot be reached (socket gone, daemon down).
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
    /// Anything else the runtime reported (a failed fork, a containerd error).
    #[error("{0}")]
    Failed(String),
}

/// `Result` with a runtime [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The runtime's name and version (CRI `Version`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Version {
    /// The name of the runtime, e.g. `containerd` or `keelson-process`.
    pub runtime_name: String,
    /// Its version.
    pub runtime_version: String,
    /// The CRI API version it speaks (`v1`).
    pub runtime_api_version: String,
}

/// Whether the runtime and its network are ready (CRI `Status`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeStatus {
    /// The runtime can run containers.
    pub runtime_ready: bool,
    /// Pod networking is ready.
    pub network_ready: bool,
    /// Why not, when one of them is false.
    pub message: String,
}

/// A port of the pod published on the host (a `hostPort`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port inside the pod.
    pub container_port: u16,
    /// The port on the host.
    pub host_port: u16,
    /// The host address to bind; empty for all.
    pub host_ip: String,
}

/// What a pod sandbox is made from (CRI `PodSandboxConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSandboxConfig {
    /// The pod's name.
    pub name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's uid.
    pub uid: String,
    /// How many sandboxes this pod had before (0 for the first).
    pub attempt: u32,
    /// The hostname inside the sandbox (empty for host network).
    pub hostname: String,
    /// Where the runtime writes container logs
    /// (`/var/log/pods/<ns>_<name>_<uid>` in Kubernetes).
    pub log_directory: String,
    /// The pod shares the host's network namespace.
    pub host_network: bool,
    /// Host ports to publish.
    pub port_mappings: Vec<PortMapping>,
    /// Labels for filtering sandboxes.
    pub labels: BTreeMap<String, String>,
    /// Opaque annotations.
    pub annotations: BTreeMap<String, String>,
    /// Parent cgroup for the pod's containers, if the agent uses cgroups.
    pub cgroup_parent: String,
}

/// A sandbox's state (CRI `PodSandboxState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxState {
    /// Running: containers can be created in it.
    Ready,
    /// Stopped (or failed); only removal is left.
    NotReady,
}

/// A sandbox as listed (CRI `PodSandbox`) and its status
/// (CRI `PodSandboxStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSandboxStatus {
    /// The sandbox id.
    pub id: String,
    /// The pod's name, namespace, uid and attempt, as given at creation.
    pub name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's uid.
    pub uid: String,
    /// The attempt number given at creation.
    pub attempt: u32,
    /// Ready or not.
    pub state: SandboxState,
    /// When it was created.
    pub created_at: SystemTime,
    /// The pod's IP, once it has one (host network pods have the host's).
    pub ip: Option<IpAddr>,
    /// Further IPs (dual stack).
    pub additional_ips: Vec<IpAddr>,
    /// The labels given at creation.
    pub labels: BTreeMap<String, String>,
    /// The annotations given at creation.
    pub annotations: BTreeMap<String, String>,
}

/// Which sandboxes to list; empty fields match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SandboxFilter {
    /// Only this id.
    pub id: Option<String>,
    /// Only sandboxes in this state.
    pub state: Option<SandboxState>,
    /// Only sandboxes carrying all these labels.
    pub labels: BTreeMap<String, String>,
}

/// An image reference (CRI `ImageSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ImageSpec {
    /// The reference as written in the pod (`nginx:alpine`,
    /// `docker.io/luksa/kubia:v1`, or an image id).
    pub image: String,
}

impl ImageSpec {
    /// An image reference.
    ///
    /// ```
    /// let spec = keelson::runtime::ImageSpec::new("busybox");
    /// assert_eq!(spec.image, "busybox");
    /// ```
    pub fn new(image: impl Into<String>) -> Self {
        ImageSpec {
            image: image.into(),
        }
    }
}

/// An image the runtime holds (CRI `Image`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image {
    /// The image id.
    pub id: String,
    /// The tags naming it.
    pub repo_tags: Vec<String>,
    /// The digests naming it.
    pub repo_digests: Vec<String>,
    /// Its size in bytes (the node's `status.images` reports it).
    pub size: u64,
}

/// A volume or file mounted into a container (CRI `Mount`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mount {
    /// The path inside the container.
    pub container_path: String,
    /// The path on the host.
    pub host_path: String,
    /// Mounted read-only.
    pub readonly: bool,
}

/// Resource limits of a container (CRI `LinuxContainerResources`, the parts
/// the kubelet sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// CPU request in millicores (sets `cpu.shares`); 0 for none.
    pub cpu_request_millis: u64,
    /// CPU limit in millicores (sets the CFS quota); 0 for none.
    pub cpu_limit_millis: u64,
    /// Memory limit in bytes; 0 for none.
    pub memory_limit_bytes: u64,
}

/// What a container is made from (CRI `ContainerConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerConfig {
    /// The container's name in the pod.
    pub name: String,
    /// How many times this container was created in this sandbox before.
    pub attempt: u32,
    /// The image to run.
    pub image: ImageSpec,
    /// The entrypoint (the pod's `command`); empty for the image's.
    pub command: Vec<String>,
    /// The arguments (the pod's `args`); empty for the image's.
    pub args: Vec<String>,
    /// The working directory; empty for the image's.
    pub working_dir: String,
    /// Environment variables, in order, already expanded by the agent.
    pub envs: Vec<(String, String)>,
    /// Volumes and files to mount.
    pub mounts: Vec<Mount>,
    /// Labels for filtering containers.
    pub labels: BTreeMap<String, String>,
    /// Opaque annotations.
    pub annotations: BTreeMap<String, String>,
    /// The log file, relative to the sandbox's `log_directory`
    /// (`<container>/<attempt>.log` in Kubernetes).
    pub log_path: String,
    /// Resource limits.
    pub resources: Resources,
    /// Allocate a TTY.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin: bool,
}

/// A container's state (CRI `ContainerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited (see the exit code).
    Exited,
    /// The runtime lost track of it.
    Unknown,
}

/// A container as listed (CRI `Container`) and its status
/// (CRI `ContainerStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// The container id.
    pub id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// The name given at creation.
    pub name: String,
    /// The attempt given at creation.
    pub attempt: u32,
    /// The image as asked for.
    pub image: ImageSpec,
    /// The resolved image id (`imageID` in the pod's status).
    pub image_ref: String,
    /// Its state.
    pub state: ContainerState,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it started, once it has.
    pub started_at: Option<SystemTime>,
    /// When it exited, once it has.
    pub finished_at: Option<SystemTime>,
    /// The exit code, once exited (128 + signal for a killed process).
    pub exit_code: Option<i32>,
    /// A one-word reason once exited (`Completed`, `Error`, `OOMKilled`).
    pub reason: String,
    /// A human-readable message.
    pub message: String,
    /// The absolute path of the log file.
    pub log_path: String,
    /// The labels given at creation.
    pub labels: BTreeMap<String, String>,
    /// The annotations given at creation.
    pub annotations: BTreeMap<String, String>,
}

/// Which containers to list; empty fields match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerFilter {
    /// Only this id.
    pub id: Option<String>,
    /// Only containers of this sandbox.
    pub sandbox_id: Option<String>,
    /// Only containers in this state.
    pub state: Option<ContainerState>,
    /// Only containers carrying all these labels.
    pub labels: BTreeMap<String, String>,
}

/// The outcome of [`exec_sync`](ContainerRuntime::exec_sync).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecResult {
    /// What the command wrote to stdout.
    pub stdout: Vec<u8>,
    /// What it wrote to stderr.
    pub stderr: Vec<u8>,
    /// Its exit code.
    pub exit_code: i32,
}

/// What [`container_logs`](ContainerRuntime::container_logs) returns, as
/// `kubectl logs` asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogOptions {
    /// Keep the stream open and send new lines as they are written.
    pub follow: bool,
    /// Only the last this many lines.
    pub tail_lines: Option<usize>,
    /// Only lines written at or after this time.
    pub since: Option<SystemTime>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
}

/// A stream of log bytes (the lines' contents, without the CRI framing).
pub type LogStream = BoxStream<'static, Result<bytes::Bytes>>;

/// A container runtime, shaped after CRI's RuntimeService and ImageService.
///
/// Implementations are cheap to share (`Arc<dyn ContainerRuntime>`) and safe
/// to call concurrently. Calls that name an unknown id fail with
/// [`Error::NotFound`]; stopping or removing something already stopped or
/// removed succeeds (CRI makes them idempotent, and the node agent relies on
/// it when it retries).
#[async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// The runtime's name and version.
    async fn version(&self) -> Result<Version>;

    /// Whether the runtime and its network are ready.
    async fn status(&self) -> Result<RuntimeStatus>;

    /// Creates and starts a pod sandbox; returns its id.
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String>;

    /// Stops a sandbox and every container in it (forcibly: the agent stops
    /// containers gracefully first). Idempotent.
    async fn stop_pod_sandbox(&self, id: &str) -> Result<()>;

    /// Removes a sandbox and its containers. Idempotent.
    async fn remove_pod_sandbox(&self, id: &str) -> Result<()>;

    /// A sandbox's status.
    async fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus>;

    /// The sandboxes matching `filter`.
    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandboxStatus>>;

    /// Creates a container in a sandbox (not started); returns its id.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String>;

    /// Starts a created container.
    async fn start_container(&self, id: &str) -> Result<()>;

    /// Stops a running container: SIGTERM (or the image's stop signal), then
    /// SIGKILL once `timeout` has passed. Idempotent.
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()>;

    /// Removes a container (stopping it forcibly if it still runs). Idempotent.
    async fn remove_container(&self, id: &str) -> Result<()>;

    /// A container's status.
    async fn container_status(&self, id: &str) -> Result<ContainerStatus>;

    /// The containers matching `filter`.
    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerStatus>>;

    /// Runs a command in a running container and waits for it, at most
    /// `timeout` (exec probes, `kubectl exec` without a terminal).
    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult> {
        let _ = (id, cmd, timeout);
        Err(Error::Unsupported("exec_sync"))
    }

    /// What a container wrote. The default reads the CRI-format log file at
    /// the container's [`log_path`](ContainerStatus::log_path) (see
    /// [`logs::read`]), which is where containerd and `ProcessRuntime` write.
    async fn container_logs(&self, id: &str, options: &LogOptions) -> Result<LogStream> {
        let status = self.container_status(id).await?;
        if status.log_path.is_empty() {
            return Err(Error::Unsupported("container_logs"));
        }
        logs::read(status.log_path.into(), options.clone()).await
    }

    /// Pulls (or resolves) an image; returns its id.
    async fn pull_image(&self, image: &ImageSpec) -> Result<String>;

    /// The images the runtime holds.
    async fn list_images(&self) -> Result<Vec<Image>>;

    /// One image, or `None` when it is not present.
    async fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>>;

    /// Removes an image. Idempotent.
    async fn remove_image(&self, image: &ImageSpec) -> Result<()>;
}

/// Forwards to the runtime behind an `Arc`, so `Arc<dyn ContainerRuntime>`
/// is itself a runtime.
#[async_trait]
impl<R: ContainerRuntime + ?Sized> ContainerRuntime for std::sync::Arc<R> {
    async fn version(&self) -> Result<Version> {
        (**self).version().await
    }
    async fn status(&self) -> Result<RuntimeStatus> {
        (**self).status().await
    }
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        (**self).run_pod_sandbox(config).await
    }
    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        (**self).stop_pod_sandbox(id).await
    }
    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        (**self).remove_pod_sandbox(id).await
    }
    async fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus> {
        (**self).pod_sandbox_status(id).await
    }
    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandboxStatus>> {
        (**self).list_pod_sandboxes(filter).await
    }
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        (**self).create_container(sandbox_id, config, sandbox).await
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        (**self).start_container(id).await
    }
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        (**self).stop_container(id, timeout).await
    }
    async fn remove_container(&self, id: &str) -> Result<()> {
        (**self).remove_container(id).await
    }
    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        (**self).container_status(id).await
    }
    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerStatus>> {
        (**self).list_containers(filter).await
    }
    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult> {
        (**self).exec_sync(id, cmd, timeout).await
    }
    async fn container_logs(&self, id: &str, options: &LogOptions) -> Result<LogStream> {
        (**self).container_logs(id, options).await
    }
    async fn pull_image(&self, image: &ImageSpec) -> Result<String> {
        (**self).pull_image(image).await
    }
    async fn list_images(&self) -> Result<Vec<Image>> {
        (**self).list_images().await
    }
    async fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>> {
        (**self).image_status(image).await
    }
    async fn remove_image(&self, image: &ImageSpec) -> Result<()> {
        (**self).remove_image(image).await
    }
}
