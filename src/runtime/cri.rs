//! `CriRuntime`: the runtime interface over CRI gRPC, for containerd (or any
//! CRI runtime) on its unix socket.
//!
//! Every [`ContainerRuntime`] method is one `RuntimeService` or
//! `ImageService` call of CRI v1 (crate `k8s-cri`), over a tonic channel
//! whose connector dials the socket. gRPC codes map to [`Error`]:
//! `NotFound` → [`Error::NotFound`], `Unavailable` → [`Error::Unavailable`],
//! `DeadlineExceeded` → [`Error::DeadlineExceeded`], `InvalidArgument`,
//! `AlreadyExists` and `FailedPrecondition` → [`Error::InvalidArgument`],
//! `Unimplemented` → [`Error::Unsupported`]; any failure of `PullImage`
//! other than an unreachable runtime is [`Error::ImagePull`]. Removing
//! what is already gone succeeds, as CRI says.
//!
//! ```no_run
//! use keelson::runtime::{ContainerRuntime, CriRuntime};
//!
//! # async fn demo() -> keelson::runtime::Result<()> {
//! let runtime = CriRuntime::connect("/run/containerd/containerd.sock").await?;
//! println!("{:?}", runtime.version().await?);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{
    ContainerConfig, ContainerFilter, ContainerRuntime, ContainerState, ContainerStatus, Error,
    ExecResult, Image, ImageSpec, PodSandboxConfig, PodSandboxStatus, Result, RuntimeStatus,
    SandboxFilter, SandboxState, Version,
};

/// A CRI runtime (containerd) reached over its unix socket.
#[derive(Debug, Clone)]
pub struct CriRuntime {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    socket: PathBuf,
}

/// Maps a gRPC status to a runtime error about `kind` `id`.
fn map_status(status: tonic::Status, kind: &'static str, id: &str) -> Error {
    use tonic::Code;
    let message = status.message().to_string();
    match status.code() {
        Code::NotFound => Error::NotFound {
            kind,
            id: id.to_string(),
        },
        Code::Unavailable => Error::Unavailable(message),
        Code::DeadlineExceeded => Error::DeadlineExceeded(message),
        Code::InvalidArgument | Code::AlreadyExists | Code::FailedPrecondition => {
            Error::InvalidArgument(message)
        }
        Code::Unimplemented => Error::Unsupported("this CRI call"),
        code => Error::Failed(format!("{code:?}: {message}")),
    }
}

fn time_of(nanos: i64) -> Option<SystemTime> {
    (nanos > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos as u64))
}

fn to_hash(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn to_btree(map: HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
}

fn sandbox_state(state: SandboxState) -> i32 {
    match state {
        SandboxState::Ready => cri::PodSandboxState::SandboxReady as i32,
        SandboxState::NotReady => cri::PodSandboxState::SandboxNotready as i32,
    }
}

fn sandbox_state_of(state: i32) -> SandboxState {
    if state == cri::PodSandboxState::SandboxReady as i32 {
        SandboxState::Ready
    } else {
        SandboxState::NotReady
    }
}

fn container_state(state: ContainerState) -> i32 {
    (match state {
        ContainerState::Created => cri::ContainerState::ContainerCreated,
        ContainerState::Running => cri::ContainerState::ContainerRunning,
        ContainerState::Exited => cri::ContainerState::ContainerExited,
        ContainerState::Unknown => cri::ContainerState::ContainerUnknown,
    }) as i32
}

fn container_state_of(state: i32) -> ContainerState {
    match cri::ContainerState::try_from(state) {
        Ok(cri::ContainerState::ContainerCreated) => ContainerState::Created,
        Ok(cri::ContainerState::ContainerRunning) => ContainerState::Running,
        Ok(cri::ContainerState::ContainerExited) => ContainerState::Exited,
        _ => ContainerState::Unknown,
    }
}

/// Our sandbox config as CRI's.
fn sandbox_config(config: &PodSandboxConfig) -> cri::PodSandboxConfig {
    let network = if config.host_network {
        cri::NamespaceMode::Node
    } else {
        cri::NamespaceMode::Pod
    };
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: config.name.clone(),
            uid: config.uid.clone(),
            namespace: config.namespace.clone(),
            attempt: config.attempt,
        }),
        // A host-network pod must not set a hostname (containerd refuses).
        hostname: if config.host_network {
            String::new()
        } else {
            config.hostname.clone()
        },
        log_directory: config.log_directory.clone(),
        port_mappings: config
            .port_mappings
            .iter()
            .map(|p| cri::PortMapping {
                protocol: match p.protocol.as_str() {
                    "UDP" => cri::Protocol::Udp,
                    "SCTP" => cri::Protocol::Sctp,
                    _ => cri::Protocol::Tcp,
                } as i32,
                container_port: i32::from(p.container_port),
                host_port: i32::from(p.host_port),
                host_ip: p.host_ip.clone(),
            })
            .collect(),
        labels: to_hash(&config.labels),
        annotations: to_hash(&config.annotations),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: config.cgroup_parent.clone(),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: network as i32,
                    pid: cri::NamespaceMode::Container as i32,
                    ipc: if config.host_network {
                        cri::NamespaceMode::Node
                    } else {
                        cri::NamespaceMode::Pod
                    } as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Our container config as CRI's.
fn container_config(config: &ContainerConfig) -> cri::ContainerConfig {
    let r = &config.resources;
    let resources = cri::LinuxContainerResources {
        cpu_period: if r.cpu_limit_millis > 0 { 100_000 } else { 0 },
        cpu_quota: i64::try_from(r.cpu_limit_millis.saturating_mul(100)).unwrap_or(i64::MAX),
        cpu_shares: if r.cpu_request_millis > 0 {
            i64::try_from((r.cpu_request_millis.saturating_mul(1024) / 1000).max(2))
                .unwrap_or(i64::MAX)
        } else {
            0
        },
        memory_limit_in_bytes: i64::try_from(r.memory_limit_bytes).unwrap_or(i64::MAX),
        ..Default::default()
    };
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: config.name.clone(),
            attempt: config.attempt,
        }),
        image: Some(cri::ImageSpec {
            image: config.image.image.clone(),
            ..Default::default()
        }),
        command: config.command.clone(),
        args: config.args.clone(),
        working_dir: config.working_dir.clone(),
        envs: config
            .envs
            .iter()
            .map(|(key, value)| cri::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        mounts: config
            .mounts
            .iter()
            .map(|m| cri::Mount {
                container_path: m.container_path.clone(),
                host_path: m.host_path.clone(),
                readonly: m.readonly,
                ..Default::default()
            })
            .collect(),
        labels: to_hash(&config.labels),
        annotations: to_hash(&config.annotations),
        log_path: config.log_path.clone(),
        stdin: config.stdin,
        tty: config.tty,
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(resources),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn sandbox_status_of(
    id: String,
    metadata: Option<cri::PodSandboxMetadata>,
    state: i32,
    created_at: i64,
    network: Option<cri::PodSandboxNetworkStatus>,
    labels: HashMap<String, String>,
    annotations: HashMap<String, String>,
) -> PodSandboxStatus {
    let metadata = metadata.unwrap_or_default();
    let (ip, additional_ips) = match network {
        Some(net) => (
            net.ip.parse::<IpAddr>().ok(),
            net.additional_ips
                .iter()
                .filter_map(|p| p.ip.parse().ok())
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    PodSandboxStatus {
        id,
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        attempt: metadata.attempt,
        state: sandbox_state_of(state),
        created_at: time_of(created_at).unwrap_or(SystemTime::UNIX_EPOCH),
        ip,
        additional_ips,
        labels: to_btree(labels),
        annotations: to_btree(annotations),
    }
}

impl CriRuntime {
    /// Connects to the CRI socket at `socket` (one connection, multiplexed
    /// by HTTP/2). Fails with [`Error::Unavailable`] when nothing listens.
    pub async fn connect(socket: impl AsRef<Path>) -> Result<Self> {
        let socket = socket.as_ref().to_path_buf();
        let path = socket.clone();
        // The URI is required by tonic and ignored by the connector.
        let channel = Endpoint::try_from("http://[::1]:50051")
            .map_err(|e| Error::Failed(e.to_string()))?
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .map_err(|e| Error::Unavailable(format!("{}: {e}", socket.display())))?;
        Ok(CriRuntime {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            socket,
        })
    }

    /// The socket this runtime talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The generated RuntimeService client, for calls the trait lacks.
    pub fn runtime_client(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    /// The generated ImageService client.
    pub fn image_client(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }
}

fn container_status_of(s: cri::ContainerStatus, sandbox_id: String) -> ContainerStatus {
    let metadata = s.metadata.unwrap_or_default();
    let state = container_state_of(s.state);
    ContainerStatus {
        id: s.id,
        sandbox_id,
        name: metadata.name,
        attempt: metadata.attempt,
        image: ImageSpec::new(s.image.map(|i| i.image).unwrap_or_default()),
        image_ref: s.image_ref,
        state,
        created_at: time_of(s.created_at).unwrap_or(SystemTime::UNIX_EPOCH),
        started_at: time_of(s.started_at),
        finished_at: time_of(s.finished_at),
        exit_code: (state == ContainerState::Exited).then_some(s.exit_code),
        reason: s.reason,
        message: s.message,
        log_path: s.log_path,
        labels: to_btree(s.labels),
        annotations: to_btree(s.annotations),
    }
}

#[async_trait]
impl ContainerRuntime for CriRuntime {
    async fn version(&self) -> Result<Version> {
        let v = self
            .runtime
            .clone()
            .version(cri::VersionRequest {
                version: "v1".into(),
            })
            .await
            .map_err(|s| map_status(s, "runtime", ""))?
            .into_inner();
        Ok(Version {
            runtime_name: v.runtime_name,
            runtime_version: v.runtime_version,
            runtime_api_version: v.runtime_api_version,
        })
    }

    async fn status(&self) -> Result<RuntimeStatus> {
        let status = self
            .runtime
            .clone()
            .status(cri::StatusRequest { verbose: false })
            .await
            .map_err(|s| map_status(s, "runtime", ""))?
            .into_inner()
            .status
            .unwrap_or_default();
        let mut out = RuntimeStatus::default();
        let mut messages = Vec::new();
        for c in status.conditions {
            match c.r#type.as_str() {
                "RuntimeReady" => out.runtime_ready = c.status,
                "NetworkReady" => out.network_ready = c.status,
                _ => {}
            }
            if !c.status && !c.message.is_empty() {
                messages.push(format!("{}: {}", c.r#type, c.message));
            }
        }
        out.message = messages.join("; ");
        Ok(out)
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        let response = self
            .runtime
            .clone()
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(sandbox_config(config)),
                runtime_handler: String::new(),
            })
            .await
            .map_err(|s| map_status(s, "sandbox", &config.name))?;
        Ok(response.into_inner().pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        self.runtime
            .clone()
            .stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            })
            .await
            .map_err(|s| map_status(s, "sandbox", id))?;
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        match self
            .runtime
            .clone()
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(map_status(s, "sandbox", id)),
        }
    }

    async fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus> {
        let status = self
            .runtime
            .clone()
            .pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: false,
            })
            .await
            .map_err(|s| map_status(s, "sandbox", id))?
            .into_inner()
            .status
            .ok_or_else(|| Error::NotFound {
                kind: "sandbox",
                id: id.to_string(),
            })?;
        Ok(sandbox_status_of(
            status.id,
            status.metadata,
            status.state,
            status.created_at,
            status.network,
            status.labels,
            status.annotations,
        ))
    }

    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandboxStatus>> {
        let items = self
            .runtime
            .clone()
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    id: filter.id.clone().unwrap_or_default(),
                    state: filter.state.map(|s| cri::PodSandboxStateValue {
                        state: sandbox_state(s),
                    }),
                    label_selector: to_hash(&filter.labels),
                }),
            })
            .await
            .map_err(|s| map_status(s, "sandbox", ""))?
            .into_inner()
            .items;
        // The list lacks IPs: ask for each ready sandbox's status.
        let mut out = Vec::with_capacity(items.len());
        for s in items {
            match self.pod_sandbox_status(&s.id).await {
                Ok(status) => out.push(status),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        let response = self
            .runtime
            .clone()
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.to_string(),
                config: Some(container_config(config)),
                sandbox_config: Some(sandbox_config(sandbox)),
            })
            .await
            .map_err(|s| map_status(s, "sandbox", sandbox_id))?;
        Ok(response.into_inner().container_id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.runtime
            .clone()
            .start_container(cri::StartContainerRequest {
                container_id: id.to_string(),
            })
            .await
            .map_err(|s| map_status(s, "container", id))?;
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX);
        let mut request = tonic::Request::new(cri::StopContainerRequest {
            container_id: id.to_string(),
            timeout: secs,
        });
        request.set_timeout(timeout + Duration::from_secs(30));
        self.runtime
            .clone()
            .stop_container(request)
            .await
            .map_err(|s| map_status(s, "container", id))?;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        match self
            .runtime
            .clone()
            .remove_container(cri::RemoveContainerRequest {
                container_id: id.to_string(),
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(map_status(s, "container", id)),
        }
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        let status = self
            .runtime
            .clone()
            .container_status(cri::ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: false,
            })
            .await
            .map_err(|s| map_status(s, "container", id))?
            .into_inner()
            .status
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                id: id.to_string(),
            })?;
        // ContainerStatus lacks the sandbox id; the list has it.
        let listed = self
            .runtime
            .clone()
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    id: id.to_string(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(|s| map_status(s, "container", id))?
            .into_inner()
            .containers;
        let sandbox_id = listed
            .into_iter()
            .next()
            .map(|c| c.pod_sandbox_id)
            .unwrap_or_default();
        Ok(container_status_of(status, sandbox_id))
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerStatus>> {
        let containers = self
            .runtime
            .clone()
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    id: filter.id.clone().unwrap_or_default(),
                    state: filter.state.map(|s| cri::ContainerStateValue {
                        state: container_state(s),
                    }),
                    pod_sandbox_id: filter.sandbox_id.clone().unwrap_or_default(),
                    label_selector: to_hash(&filter.labels),
                }),
            })
            .await
            .map_err(|s| map_status(s, "container", ""))?
            .into_inner()
            .containers;
        let mut out = Vec::with_capacity(containers.len());
        for c in containers {
            let status = self
                .runtime
                .clone()
                .container_status(cri::ContainerStatusRequest {
                    container_id: c.id.clone(),
                    verbose: false,
                })
                .await;
            match status {
                Ok(response) => {
                    if let Some(status) = response.into_inner().status {
                        out.push(container_status_of(status, c.pod_sandbox_id));
                    }
                }
                Err(s) if s.code() == tonic::Code::NotFound => {}
                Err(s) => return Err(map_status(s, "container", &c.id)),
            }
        }
        out.sort_by_key(|c| c.created_at);
        Ok(out)
    }

    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult> {
        let secs = i64::try_from(timeout.as_secs_f64().ceil() as u64).unwrap_or(i64::MAX);
        let mut request = tonic::Request::new(cri::ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.to_vec(),
            timeout: secs.max(1),
        });
        request.set_timeout(timeout + Duration::from_secs(10));
        let out = self
            .runtime
            .clone()
            .exec_sync(request)
            .await
            .map_err(|s| map_status(s, "container", id))?
            .into_inner();
        Ok(ExecResult {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_code: out.exit_code,
        })
    }

    async fn pull_image(&self, image: &ImageSpec) -> Result<String> {
        let response = self
            .images
            .clone()
            .pull_image(cri::PullImageRequest {
                image: Some(cri::ImageSpec {
                    image: image.image.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::Unavailable => Error::Unavailable(s.message().to_string()),
                _ => Error::ImagePull {
                    image: image.image.clone(),
                    message: s.message().to_string(),
                },
            })?;
        Ok(response.into_inner().image_ref)
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let images = self
            .images
            .clone()
            .list_images(cri::ListImagesRequest { filter: None })
            .await
            .map_err(|s| map_status(s, "image", ""))?
            .into_inner()
            .images;
        Ok(images.into_iter().map(image_of).collect())
    }

    async fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>> {
        let response = self
            .images
            .clone()
            .image_status(cri::ImageStatusRequest {
                image: Some(cri::ImageSpec {
                    image: image.image.clone(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await;
        match response {
            Ok(r) => Ok(r.into_inner().image.map(image_of)),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(map_status(s, "image", &image.image)),
        }
    }

    async fn remove_image(&self, image: &ImageSpec) -> Result<()> {
        let response = self
            .images
            .clone()
            .remove_image(cri::RemoveImageRequest {
                image: Some(cri::ImageSpec {
                    image: image.image.clone(),
                    ..Default::default()
                }),
            })
            .await;
        match response {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(map_status(s, "image", &image.image)),
        }
    }
}

fn image_of(i: cri::Image) -> Image {
    Image {
        id: i.id,
        repo_tags: i.repo_tags,
        repo_digests: i.repo_digests,
        size: i.size,
    }
}
