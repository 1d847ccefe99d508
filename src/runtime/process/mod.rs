//! `ProcessRuntime`: real containers as host processes, with nothing installed.
//!
//! Each container is a child process of this program. What isolates it
//! depends on what the process may do:
//!
//! | | as root (`CAP_SYS_ADMIN`, `CAP_NET_ADMIN`) | otherwise |
//! |---|---|---|
//! | pod IP | a network namespace per pod, on a Linux bridge through a veth pair; the bridge and `/24` subnet are [configurable](BridgeConfig) | a distinct loopback address (127.x.y.z) per pod, in `POD_IP`; the container must bind to it |
//! | filesystem | rootfs images: a private mount namespace, an overlay of the image rootfs (writes stay per container), `/proc`, `/dev`, `/sys`, and the mounts bound at their paths, then `chroot` | the host's; `bin/` of a rootfs image comes first on `PATH` |
//! | mounts of host-executable images, or unprivileged | — | a per-container directory holding one symlink per mount at its container path, exported as `KEELSON_ROOT` and used as the default working directory |
//! | resources | cgroup v1 `memory` (`memory.limit_in_bytes`), `cpu` (`cpu.cfs_quota_us`, `cpu.shares`) and `pids` directories per container, removed with it | none |
//! | hostname | a UTS namespace with the pod's hostname | the host's |
//!
//! In every mode: stdout and stderr are written to the container's log file
//! in the CRI format ([`logs`]), so
//! [`container_logs`](ContainerRuntime::container_logs) and `kubectl logs`
//! work; the container is the leader of its own process group, and when it
//! exits whatever it left behind in its group (and cgroup) is killed, as in
//! a pid namespace; [`stop_container`](ContainerRuntime::stop_container)
//! sends SIGTERM, then SIGKILL after the grace period; a process killed by
//! a signal reports exit code 128 + the signal;
//! [`exec_sync`](ContainerRuntime::exec_sync) runs the command in the
//! container's namespaces, root and cgroups.
//!
//! Images come from an [`ImageCatalog`]: a root filesystem directory or a
//! host executable per reference (see [`catalog`]). `busybox` is there by
//! default when `/bin/busybox` exists. An unknown image fails the pull with
//! [`Error::ImagePull`].
//!
//! The runtime cleans up after itself: removing a sandbox deletes its
//! namespace and veth; [`shutdown`](ProcessRuntime::shutdown) (or dropping
//! the runtime) kills every container and removes its cgroups, namespaces,
//! the bridge and the state directory.
//!
//! ```no_run
//! use keelson::runtime::process::{ImageEntry, ProcessRuntime, ProcessRuntimeConfig};
//! use keelson::runtime::{ContainerConfig, ContainerRuntime, ImageSpec, PodSandboxConfig};
//!
//! # async fn demo() -> keelson::runtime::Result<()> {
//! let runtime = ProcessRuntime::new(ProcessRuntimeConfig::default())?;
//! runtime
//!     .catalog()
//!     .register("luksa/kubia", ImageEntry::executable(std::env::current_exe().unwrap(), ["--image", "kubia"]));
//! let pod = PodSandboxConfig { name: "web".into(), namespace: "default".into(), uid: "u1".into(), ..Default::default() };
//! let sandbox = runtime.run_pod_sandbox(&pod).await?;
//! let config = ContainerConfig {
//!     name: "main".into(),
//!     image: ImageSpec::new("busybox"),
//!     command: vec!["sh".into(), "-c".into(), "echo hello from $POD_IP".into()],
//!     ..Default::default()
//! };
//! let id = runtime.create_container(&sandbox, &config, &pod).await?;
//! runtime.start_container(&id).await?;
//! runtime.shutdown().await;
//! # Ok(()) }
//! ```

pub mod catalog;
mod cgroup;
mod network;
mod spawn;

pub use catalog::{ImageCatalog, ImageEntry};
pub use network::{BridgeConfig, NetworkMode};

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::logs::{self, Stream};
use super::{
    ContainerConfig, ContainerFilter, ContainerRuntime, ContainerState, ContainerStatus, Error,
    ExecResult, Image, ImageSpec, PodSandboxConfig, PodSandboxStatus, Result, RuntimeStatus,
    SandboxFilter, SandboxState, Version,
};
use crate::api::MicroTime;
use cgroup::Cgroup;
use network::{Allocator, PodNetwork};

/// How strongly containers are isolated from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Namespaces, chroot and cgroups when running as root, none otherwise.
    #[default]
    Auto,
    /// Always namespaces, chroot and cgroups; [`ProcessRuntime::new`] fails
    /// without the privileges.
    Namespaces,
    /// Plain host processes, even as root (pods still get distinct
    /// addresses as the [`NetworkMode`] says, loopback unless `Bridge`).
    None,
}

/// How to build a [`ProcessRuntime`].
#[derive(Debug, Clone, Default)]
pub struct ProcessRuntimeConfig {
    /// Where container state (overlay layers, mount views, default logs)
    /// lives; `None` for a fresh temporary directory removed at shutdown.
    pub state_dir: Option<PathBuf>,
    /// How pods get their IPs.
    pub network: NetworkMode,
    /// How containers are isolated.
    pub isolation: Isolation,
    /// The images; `busybox` is added when `/bin/busybox` exists and the
    /// catalog has no `busybox` entry.
    pub catalog: ImageCatalog,
}

impl ProcessRuntimeConfig {
    /// A configuration for tests: a bridge name and subnet of its own
    /// ([`BridgeConfig::unique`]), so runtimes of parallel tests do not meet.
    pub fn isolated() -> Self {
        ProcessRuntimeConfig {
            network: NetworkMode::Auto(BridgeConfig::unique()),
            ..Default::default()
        }
    }

    /// Plain host processes with loopback pod addresses: what an
    /// unprivileged process gets, chosen explicitly.
    pub fn unprivileged() -> Self {
        let n = BridgeConfig::unique().subnet.octets();
        ProcessRuntimeConfig {
            network: NetworkMode::Loopback {
                base: Ipv4Addr::new(127, n[1].wrapping_add(n[2]), 0, 0),
            },
            isolation: Isolation::None,
            ..Default::default()
        }
    }
}

/// The runtime's resolved networking.
#[derive(Debug, Clone)]
enum Net {
    Bridge(BridgeConfig),
    Loopback,
}

#[derive(Debug)]
struct Sandbox {
    config: PodSandboxConfig,
    state: SandboxState,
    created_at: SystemTime,
    ip: Option<IpAddr>,
    network: Option<PodNetwork>,
}

#[derive(Debug)]
struct Container {
    sandbox_id: String,
    config: ContainerConfig,
    entry: ImageEntry,
    image_ref: String,
    state: ContainerState,
    created_at: SystemTime,
    started_at: Option<SystemTime>,
    finished_at: Option<SystemTime>,
    exit_code: Option<i32>,
    reason: String,
    message: String,
    log_path: PathBuf,
    /// `<state>/containers/<id>`.
    dir: PathBuf,
    pid: Option<i32>,
    cgroup: Option<Cgroup>,
    /// The environment it runs with (exec_sync uses it too).
    env: Vec<(String, String)>,
    /// Its working directory (inside its root).
    cwd: String,
    /// Chrooted into an overlay of its image.
    chrooted: bool,
    /// Turns `true` once the process has exited and its logs are flushed.
    exited: watch::Receiver<bool>,
}

#[derive(Debug, Default)]
struct State {
    sandboxes: HashMap<String, Sandbox>,
    containers: HashMap<String, Container>,
    /// Normalized reference → entry, for pulled images.
    pulled: BTreeMap<String, ImageEntry>,
}

/// Real containers as host processes (see the [module guide](self)).
///
/// Not `Clone`: share it as `Arc<ProcessRuntime>`; dropping the last handle
/// kills its containers and removes what it created.
#[derive(Debug)]
pub struct ProcessRuntime {
    state: Arc<Mutex<State>>,
    addresses: Mutex<Allocator>,
    net: Net,
    privileged: bool,
    use_cgroups: bool,
    cgroup_parent: String,
    state_dir: PathBuf,
    owns_state_dir: bool,
    catalog: ImageCatalog,
    host_ip: Ipv4Addr,
}

fn random_id() -> String {
    (0..4)
        .map(|_| format!("{:016x}", fastrand::u64(..)))
        .collect()
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io_failed(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Failed(format!("{what}: {e}"))
}

impl ProcessRuntime {
    /// Starts a runtime: makes its state directory, its bridge (in bridge
    /// mode) and registers `busybox`.
    pub fn new(config: ProcessRuntimeConfig) -> Result<Self> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let privileged = match config.isolation {
            Isolation::Auto => root,
            Isolation::Namespaces if root => true,
            Isolation::Namespaces => {
                return Err(Error::Failed(
                    "Isolation::Namespaces needs root (CAP_SYS_ADMIN)".into(),
                ))
            }
            Isolation::None => false,
        };
        let (net, addresses) = match &config.network {
            NetworkMode::Bridge(bridge) => {
                if !network::can_create_netns() {
                    return Err(Error::Failed(
                        "NetworkMode::Bridge needs root and the `ip` command (iproute2)".into(),
                    ));
                }
                network::ensure_bridge(bridge)?;
                (
                    Net::Bridge(bridge.clone()),
                    Allocator::bridge(bridge.subnet),
                )
            }
            NetworkMode::Auto(bridge)
                if config.isolation != Isolation::None && network::can_create_netns() =>
            {
                network::ensure_bridge(bridge)?;
                (
                    Net::Bridge(bridge.clone()),
                    Allocator::bridge(bridge.subnet),
                )
            }
            NetworkMode::Auto(bridge) => {
                let [_, b, c, _] = bridge.subnet.octets();
                (
                    Net::Loopback,
                    Allocator::loopback(Ipv4Addr::new(127, b ^ c, 0, 0)),
                )
            }
            NetworkMode::Loopback { base } => (Net::Loopback, Allocator::loopback(*base)),
        };
        let (state_dir, owns_state_dir) = match &config.state_dir {
            Some(dir) => (dir.clone(), false),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "keelson-process-{}-{}",
                    std::process::id(),
                    &random_id()[..8]
                ));
                (dir, true)
            }
        };
        let runtime = ProcessRuntime {
            state: Arc::default(),
            addresses: Mutex::new(addresses),
            net,
            privileged,
            use_cgroups: privileged && cgroup::available(),
            cgroup_parent: format!("keelson-{}-{}", std::process::id(), &random_id()[..8]),
            owns_state_dir,
            catalog: config.catalog.clone(),
            host_ip: network::host_ip(),
            state_dir,
        };
        std::fs::create_dir_all(runtime.state_dir.join("containers"))
            .map_err(io_failed("creating the state directory"))?;
        if runtime.catalog.resolve("busybox").is_none() {
            let dir = runtime.state_dir.join("images/busybox");
            if let Some(entry) =
                catalog::busybox_rootfs(&dir).map_err(io_failed("building the busybox rootfs"))?
            {
                runtime.catalog.register("busybox", entry);
            }
        }
        Ok(runtime)
    }

    /// The image catalog (shared: entries registered here are visible at
    /// once).
    pub fn catalog(&self) -> &ImageCatalog {
        &self.catalog
    }

    /// Whether pods get network namespaces (else loopback addresses).
    pub fn uses_network_namespaces(&self) -> bool {
        matches!(self.net, Net::Bridge(_))
    }

    /// Whether containers get mount namespaces, chroot and cgroups.
    pub fn is_privileged(&self) -> bool {
        self.privileged
    }

    /// Removes every sandbox (killing its containers), then the bridge,
    /// cgroups and state directory. Dropping the runtime does the same
    /// (without waiting for processes to be reaped).
    pub async fn shutdown(&self) {
        let ids: Vec<String> = lock(&self.state).sandboxes.keys().cloned().collect();
        for id in ids {
            let _ = self.remove_pod_sandbox(&id).await;
        }
        self.cleanup();
    }

    /// The synchronous teardown of shutdown and drop.
    fn cleanup(&self) {
        let (containers, networks) = {
            let mut state = lock(&self.state);
            let containers: Vec<Container> = state.containers.drain().map(|(_, c)| c).collect();
            let networks: Vec<PodNetwork> = state
                .sandboxes
                .drain()
                .filter_map(|(_, s)| s.network)
                .collect();
            (containers, networks)
        };
        for container in &containers {
            if let Some(pid) = container
                .pid
                .filter(|_| container.state == ContainerState::Running)
            {
                kill_group(pid, libc::SIGKILL);
            }
            if let Some(cgroup) = &container.cgroup {
                cgroup.destroy();
            }
        }
        for net in &networks {
            network::delete_pod_network(net);
        }
        if let Net::Bridge(bridge) = &self.net {
            network::delete_bridge(bridge);
        }
        if self.use_cgroups {
            cgroup::remove_parent(&self.cgroup_parent);
        }
        if self.owns_state_dir {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }

    fn sandbox_status(id: &str, s: &Sandbox) -> PodSandboxStatus {
        PodSandboxStatus {
            id: id.to_string(),
            name: s.config.name.clone(),
            namespace: s.config.namespace.clone(),
            uid: s.config.uid.clone(),
            attempt: s.config.attempt,
            state: s.state,
            created_at: s.created_at,
            ip: s.ip,
            additional_ips: Vec::new(),
            labels: s.config.labels.clone(),
            annotations: s.config.annotations.clone(),
        }
    }

    fn container_status_of(id: &str, c: &Container) -> ContainerStatus {
        ContainerStatus {
            id: id.to_string(),
            sandbox_id: c.sandbox_id.clone(),
            name: c.config.name.clone(),
            attempt: c.config.attempt,
            image: c.config.image.clone(),
            image_ref: c.image_ref.clone(),
            state: c.state,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            exit_code: c.exit_code,
            reason: c.reason.clone(),
            message: c.message.clone(),
            log_path: c.log_path.display().to_string(),
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
        }
    }

    /// Kills a running container at once and waits for it.
    async fn kill_now(&self, id: &str) -> Result<()> {
        self.stop_container(id, Duration::ZERO).await
    }

    /// Builds and spawns the container's process.
    fn spawn(&self, id: &str, state: &mut State) -> Result<tokio::process::Child> {
        let container = state.containers.get(id).ok_or_else(|| Error::NotFound {
            kind: "container",
            id: id.to_string(),
        })?;
        let sandbox = state.sandboxes.get(&container.sandbox_id).ok_or_else(|| {
            Error::InvalidArgument(format!("sandbox {} is gone", container.sandbox_id))
        })?;
        if sandbox.state != SandboxState::Ready {
            return Err(Error::InvalidArgument(format!(
                "sandbox {} is not ready",
                container.sandbox_id
            )));
        }
        let argv = container
            .entry
            .argv(&container.config.command, &container.config.args);
        let Some(program) = argv.first() else {
            return Err(Error::InvalidArgument(
                "no command: the container and its image give none".into(),
            ));
        };
        let env_path = container
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        let mut plan = spawn::Plan {
            setsid: true,
            ..Default::default()
        };
        if let Some(cgroup) = &container.cgroup {
            for file in cgroup.procs_files() {
                plan.cgroup_procs
                    .push(spawn::cstr(file).map_err(io_failed("cgroup path"))?);
            }
        }
        let netns = match &sandbox.network {
            Some(net) => Some(
                std::fs::File::open(net.netns_path())
                    .map_err(io_failed("opening the pod's network namespace"))?,
            ),
            None => None,
        };
        plan.netns_fd = netns.as_ref().map(|f| f.as_raw_fd());
        if self.privileged && !sandbox.config.hostname.is_empty() && !sandbox.config.host_network {
            plan.hostname = Some(
                CString::new(sandbox.config.hostname.clone())
                    .map_err(|_| Error::InvalidArgument("hostname holds a NUL byte".into()))?,
            );
        }
        let view = container.dir.join("root");
        let resolved_program;
        let mut env = container.env.clone();
        if container.chrooted {
            let rootfs = container.entry.rootfs.as_deref().unwrap_or(Path::new("/"));
            resolved_program = resolve_in(rootfs, program, &env_path, true).ok_or_else(|| {
                Error::Failed(format!("{program:?}: executable file not found in $PATH"))
            })?;
            let upper = container.dir.join("upper");
            let work = container.dir.join("work");
            let merged = container.dir.join("merged");
            for dir in [&upper, &work, &merged] {
                std::fs::create_dir_all(dir).map_err(io_failed("making the overlay"))?;
            }
            let options = format!(
                "lowerdir={},upperdir={},workdir={}",
                rootfs.display(),
                upper.display(),
                work.display()
            );
            let mut binds = Vec::new();
            for m in &container.config.mounts {
                binds.push(
                    spawn::bind(
                        &merged,
                        Path::new(&m.host_path),
                        &m.container_path,
                        m.readonly,
                    )
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?,
                );
            }
            plan.rootfs = Some(spawn::Rootfs {
                overlay_options: spawn::cstr(&options).map_err(io_failed("overlay"))?,
                proc_dir: spawn::cstr(merged.join("proc")).map_err(io_failed("rootfs"))?,
                dev_dir: spawn::cstr(merged.join("dev")).map_err(io_failed("rootfs"))?,
                sys_dir: spawn::cstr(merged.join("sys")).map_err(io_failed("rootfs"))?,
                merged: spawn::cstr(&merged).map_err(io_failed("rootfs"))?,
                binds,
            });
            plan.chdir = Some(spawn::cstr(&container.cwd).map_err(io_failed("working dir"))?);
        } else {
            // The mount view: a symlink per mount at its container path.
            std::fs::create_dir_all(&view).map_err(io_failed("making the mount view"))?;
            for m in &container.config.mounts {
                let rel = m.container_path.trim_start_matches('/');
                let link = view.join(rel);
                if let Some(parent) = link.parent() {
                    std::fs::create_dir_all(parent).map_err(io_failed("making the mount view"))?;
                }
                if std::fs::symlink_metadata(&link).is_err() {
                    std::os::unix::fs::symlink(&m.host_path, &link)
                        .map_err(io_failed("linking a mount"))?;
                }
            }
            env.push(("KEELSON_ROOT".into(), view.display().to_string()));
            let mut path = env_path.clone();
            if let Some(rootfs) = &container.entry.rootfs {
                let inside: Vec<String> = env_path
                    .split(':')
                    .map(|d| rootfs.join(d.trim_start_matches('/')).display().to_string())
                    .collect();
                path = format!("{}:{}", inside.join(":"), env_path);
                resolved_program = resolve_in(rootfs, program, &env_path, false)
                    .or_else(|| resolve_in(Path::new("/"), program, &env_path, false))
                    .ok_or_else(|| {
                        Error::Failed(format!("{program:?}: executable file not found in $PATH"))
                    })?;
            } else {
                resolved_program = resolve_in(Path::new("/"), program, &env_path, false)
                    .unwrap_or_else(|| program.clone());
            }
            env.retain(|(k, _)| k != "PATH");
            env.push(("PATH".into(), path));
            let cwd = if container.cwd.is_empty() {
                view.clone()
            } else {
                PathBuf::from(&container.cwd)
            };
            plan.chdir = Some(spawn::cstr(&cwd).map_err(io_failed("working dir"))?);
        }
        let mut cmd = tokio::process::Command::new(&resolved_program);
        cmd.arg0(program)
            .args(&argv[1..])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(false);
        // SAFETY: `Plan::apply` only makes system calls on data prepared
        // before the fork (no allocation, no locks).
        unsafe {
            cmd.pre_exec(move || plan.apply());
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::Failed(format!("starting {program:?}: {e}")))?;
        drop(netns);
        Ok(child)
    }
}

/// Where `program` is found, as the path to exec: inside `root` (returned
/// relative to it when `inside`, else as a host path).
fn resolve_in(root: &Path, program: &str, path: &str, inside: bool) -> Option<String> {
    let exists = |p: &str| std::fs::symlink_metadata(root.join(p.trim_start_matches('/'))).is_ok();
    let found = if program.contains('/') {
        exists(program).then(|| program.to_string())
    } else {
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .find(|p| exists(p))
    }?;
    if inside || root == Path::new("/") {
        Some(found)
    } else {
        Some(
            root.join(found.trim_start_matches('/'))
                .display()
                .to_string(),
        )
    }
}

/// Signals a container's process group (its pid is the group id).
fn kill_group(pid: i32, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-pid, signal);
        libc::kill(pid, signal);
    }
}

/// Copies one output stream into the log file, CRI-framed.
async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    stream: Stream,
    file: Arc<Mutex<std::fs::File>>,
) {
    use std::io::Write;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let records = logs::encode_lines(MicroTime::now(), stream, &buf[..n]);
                let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                let _ = file.write_all(&records);
            }
        }
    }
}

/// Whether a container matches a label selector (all labels equal).
fn has_labels(have: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

impl Drop for ProcessRuntime {
    fn drop(&mut self) {
        self.cleanup();
    }
}

#[async_trait]
impl ContainerRuntime for ProcessRuntime {
    async fn version(&self) -> Result<Version> {
        Ok(Version {
            runtime_name: "keelson-process".into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: "v1".into(),
        })
    }

    async fn status(&self) -> Result<RuntimeStatus> {
        let bridge_up = match &self.net {
            Net::Bridge(b) => Path::new("/sys/class/net").join(&b.bridge).exists(),
            Net::Loopback => true,
        };
        Ok(RuntimeStatus {
            runtime_ready: true,
            network_ready: bridge_up,
            message: if bridge_up {
                String::new()
            } else {
                "the pod bridge is gone".into()
            },
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        let id = random_id();
        if !config.log_directory.is_empty() {
            std::fs::create_dir_all(&config.log_directory)
                .map_err(io_failed("creating the log directory"))?;
        }
        let (ip, network) = if config.host_network {
            (IpAddr::V4(self.host_ip), None)
        } else {
            let addr = lock_alloc(&self.addresses).allocate()?;
            match &self.net {
                Net::Bridge(bridge) => {
                    let bridge = bridge.clone();
                    let key = id[..12].to_string();
                    let made = tokio::task::spawn_blocking(move || {
                        network::create_pod_network(&bridge, &key, addr)
                    })
                    .await
                    .map_err(|e| Error::Failed(e.to_string()))
                    .and_then(|r| r);
                    match made {
                        Ok(net) => (IpAddr::V4(addr), Some(net)),
                        Err(e) => {
                            lock_alloc(&self.addresses).release(addr);
                            return Err(e);
                        }
                    }
                }
                Net::Loopback => (IpAddr::V4(addr), None),
            }
        };
        lock(&self.state).sandboxes.insert(
            id.clone(),
            Sandbox {
                config: config.clone(),
                state: SandboxState::Ready,
                created_at: SystemTime::now(),
                ip: Some(ip),
                network,
            },
        );
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let containers: Vec<String> = {
            let state = lock(&self.state);
            if !state.sandboxes.contains_key(id) {
                return Err(Error::NotFound {
                    kind: "sandbox",
                    id: id.to_string(),
                });
            }
            state
                .containers
                .iter()
                .filter(|(_, c)| c.sandbox_id == id)
                .map(|(cid, _)| cid.clone())
                .collect()
        };
        for cid in containers {
            self.kill_now(&cid).await?;
        }
        let network = {
            let mut state = lock(&self.state);
            let Some(sandbox) = state.sandboxes.get_mut(id) else {
                return Ok(());
            };
            sandbox.state = SandboxState::NotReady;
            sandbox.network.take()
        };
        if let Some(net) = network {
            tokio::task::spawn_blocking(move || network::delete_pod_network(&net))
                .await
                .map_err(|e| Error::Failed(e.to_string()))?;
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        if !lock(&self.state).sandboxes.contains_key(id) {
            return Ok(());
        }
        self.stop_pod_sandbox(id).await?;
        let containers: Vec<String> = lock(&self.state)
            .containers
            .iter()
            .filter(|(_, c)| c.sandbox_id == id)
            .map(|(cid, _)| cid.clone())
            .collect();
        for cid in containers {
            self.remove_container(&cid).await?;
        }
        let removed = lock(&self.state).sandboxes.remove(id);
        if let Some(sandbox) = removed {
            if let (Some(IpAddr::V4(ip)), false) = (sandbox.ip, sandbox.config.host_network) {
                lock_alloc(&self.addresses).release(ip);
            }
        }
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus> {
        let state = lock(&self.state);
        state
            .sandboxes
            .get(id)
            .map(|s| Self::sandbox_status(id, s))
            .ok_or_else(|| Error::NotFound {
                kind: "sandbox",
                id: id.to_string(),
            })
    }

    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandboxStatus>> {
        let state = lock(&self.state);
        let mut out: Vec<PodSandboxStatus> = state
            .sandboxes
            .iter()
            .filter(|(id, s)| {
                filter.id.as_ref().is_none_or(|want| want == *id)
                    && filter.state.is_none_or(|want| want == s.state)
                    && has_labels(&s.config.labels, &filter.labels)
            })
            .map(|(id, s)| Self::sandbox_status(id, s))
            .collect();
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        _sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        if config.name.is_empty() {
            return Err(Error::InvalidArgument("a container needs a name".into()));
        }
        let entry = {
            let state = lock(&self.state);
            let (repo, tag) = catalog::normalize(&config.image.image);
            state.pulled.get(&format!("{repo}:{tag}")).cloned()
        }
        .or_else(|| self.catalog.resolve(&config.image.image))
        .ok_or_else(|| Error::NotFound {
            kind: "image",
            id: config.image.image.clone(),
        })?;
        for m in &config.mounts {
            if !m.container_path.starts_with('/') {
                return Err(Error::InvalidArgument(format!(
                    "mount path {:?} is not absolute",
                    m.container_path
                )));
            }
            if !Path::new(&m.host_path).exists() {
                return Err(Error::InvalidArgument(format!(
                    "mount source {:?} does not exist",
                    m.host_path
                )));
            }
        }
        let id = random_id();
        let dir = self.state_dir.join("containers").join(&id);
        let (sandbox_config, pod_ip) = {
            let state = lock(&self.state);
            let sandbox = state
                .sandboxes
                .get(sandbox_id)
                .ok_or_else(|| Error::NotFound {
                    kind: "sandbox",
                    id: sandbox_id.to_string(),
                })?;
            if sandbox.state != SandboxState::Ready {
                return Err(Error::InvalidArgument(format!(
                    "sandbox {sandbox_id} is not ready"
                )));
            }
            let taken = state.containers.values().any(|c| {
                c.sandbox_id == sandbox_id
                    && c.config.name == config.name
                    && c.config.attempt == config.attempt
            });
            if taken {
                return Err(Error::InvalidArgument(format!(
                    "container {:?} attempt {} already exists in sandbox {sandbox_id}",
                    config.name, config.attempt
                )));
            }
            (sandbox.config.clone(), sandbox.ip)
        };
        let log_path = if sandbox_config.log_directory.is_empty() || config.log_path.is_empty() {
            dir.join(format!("{}.log", config.name))
        } else {
            Path::new(&sandbox_config.log_directory).join(&config.log_path)
        };
        std::fs::create_dir_all(&dir).map_err(io_failed("creating the container directory"))?;
        if let Some(parent) = log_path.parent() {
            std::fs::create_dir_all(parent).map_err(io_failed("creating the log directory"))?;
        }
        let chrooted = self.privileged && entry.rootfs.is_some();
        let mut env = entry.env.clone();
        let hostname = if sandbox_config.hostname.is_empty() {
            sandbox_config.name.clone()
        } else {
            sandbox_config.hostname.clone()
        };
        env.push(("HOSTNAME".into(), hostname));
        if let Some(ip) = pod_ip {
            env.push(("POD_IP".into(), ip.to_string()));
        }
        for (k, v) in &config.envs {
            env.retain(|(n, _)| n != k);
            env.push((k.clone(), v.clone()));
        }
        let cwd = if !config.working_dir.is_empty() {
            config.working_dir.clone()
        } else if chrooted && entry.working_dir.is_empty() {
            "/".into()
        } else {
            entry.working_dir.clone()
        };
        let cwd = if !chrooted && entry.rootfs.is_some() && cwd == "/" {
            String::new()
        } else {
            cwd
        };
        let cgroup = if self.use_cgroups {
            let made = Cgroup::create(&self.cgroup_parent, &id, &config.resources);
            match made {
                Ok(cgroup) => Some(cgroup),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(Error::Failed(format!("setting resource limits: {e}")));
                }
            }
        } else {
            None
        };
        let (_, exited) = watch::channel(false);
        let image_ref = entry.id();
        lock(&self.state).containers.insert(
            id.clone(),
            Container {
                sandbox_id: sandbox_id.to_string(),
                config: config.clone(),
                entry,
                image_ref,
                state: ContainerState::Created,
                created_at: SystemTime::now(),
                started_at: None,
                finished_at: None,
                exit_code: None,
                reason: String::new(),
                message: String::new(),
                log_path,
                dir,
                pid: None,
                cgroup,
                env,
                cwd,
                chrooted,
                exited,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut state = lock(&self.state);
        let container = state.containers.get(id).ok_or_else(|| Error::NotFound {
            kind: "container",
            id: id.to_string(),
        })?;
        if container.state != ContainerState::Created {
            return Err(Error::InvalidArgument(format!(
                "container {id} is {:?}, not Created",
                container.state
            )));
        }
        let log_path = container.log_path.clone();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_failed("opening the log file"))?;
        let mut child = match self.spawn(id, &mut state) {
            Ok(child) => child,
            Err(e) => {
                if let Some(c) = state.containers.get_mut(id) {
                    c.state = ContainerState::Exited;
                    c.exit_code = Some(128);
                    c.finished_at = Some(SystemTime::now());
                    c.reason = "StartError".into();
                    c.message = e.to_string();
                }
                return Err(e);
            }
        };
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        let (done, exited) = watch::channel(false);
        if let Some(c) = state.containers.get_mut(id) {
            c.state = ContainerState::Running;
            c.started_at = Some(SystemTime::now());
            c.pid = pid;
            c.exited = exited;
        }
        drop(state);
        let log = Arc::new(Mutex::new(log));
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(out, Stream::Stdout, log.clone())));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, Stream::Stderr, log)));
        }
        let shared = self.state.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let status = child.wait().await;
            if let Some(pid) = pid {
                // What the container left in its group dies with it.
                kill_group(pid, libc::SIGKILL);
            }
            let cgroup = lock(&shared)
                .containers
                .get(&id)
                .and_then(|c| c.cgroup.clone());
            let oom = cgroup.as_ref().is_some_and(Cgroup::oom_killed);
            if let Some(cgroup) = &cgroup {
                for pid in cgroup.pids() {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            for pump in pumps {
                let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
            }
            let code = match &status {
                Ok(s) => {
                    use std::os::unix::process::ExitStatusExt;
                    s.code()
                        .or_else(|| s.signal().map(|sig| 128 + sig))
                        .unwrap_or(255)
                }
                Err(_) => 255,
            };
            let mut state = lock(&shared);
            if let Some(c) = state.containers.get_mut(&id) {
                c.state = ContainerState::Exited;
                c.exit_code = Some(code);
                c.finished_at = Some(SystemTime::now());
                c.reason = if oom {
                    "OOMKilled"
                } else if code == 0 {
                    "Completed"
                } else {
                    "Error"
                }
                .into();
                if let Err(e) = &status {
                    c.message = format!("waiting for the process: {e}");
                }
            }
            let _ = done.send(true);
        });
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let (pid, mut exited) = {
            let state = lock(&self.state);
            let c = state.containers.get(id).ok_or_else(|| Error::NotFound {
                kind: "container",
                id: id.to_string(),
            })?;
            match (c.state, c.pid) {
                (ContainerState::Running, Some(pid)) => (pid, c.exited.clone()),
                (ContainerState::Created, _) => {
                    drop(state);
                    let mut state = lock(&self.state);
                    if let Some(c) = state.containers.get_mut(id) {
                        c.state = ContainerState::Exited;
                        c.finished_at = Some(SystemTime::now());
                        c.exit_code = Some(0);
                        c.reason = "Completed".into();
                        c.message = "stopped before it started".into();
                    }
                    return Ok(());
                }
                _ => return Ok(()),
            }
        };
        if !timeout.is_zero() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let graceful = tokio::time::timeout(timeout, exited.wait_for(|done| *done))
                .await
                .is_ok_and(|r| r.is_ok());
            if graceful {
                return Ok(());
            }
        }
        kill_group(pid, libc::SIGKILL);
        let killed = tokio::time::timeout(Duration::from_secs(10), exited.wait_for(|done| *done))
            .await
            .is_ok();
        match killed {
            true => Ok(()),
            false => Err(Error::DeadlineExceeded(format!(
                "container {id} (pid {pid}) did not exit after SIGKILL"
            ))),
        }
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        if !lock(&self.state).containers.contains_key(id) {
            return Ok(());
        }
        self.kill_now(id).await?;
        let removed = lock(&self.state).containers.remove(id);
        if let Some(c) = removed {
            tokio::task::spawn_blocking(move || {
                if let Some(cgroup) = &c.cgroup {
                    cgroup.destroy();
                }
                let _ = std::fs::remove_dir_all(&c.dir);
            })
            .await
            .map_err(|e| Error::Failed(e.to_string()))?;
        }
        Ok(())
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        let state = lock(&self.state);
        state
            .containers
            .get(id)
            .map(|c| Self::container_status_of(id, c))
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                id: id.to_string(),
            })
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerStatus>> {
        let state = lock(&self.state);
        let mut out: Vec<ContainerStatus> = state
            .containers
            .iter()
            .filter(|(id, c)| {
                filter.id.as_ref().is_none_or(|want| want == *id)
                    && filter
                        .sandbox_id
                        .as_ref()
                        .is_none_or(|want| *want == c.sandbox_id)
                    && filter.state.is_none_or(|want| want == c.state)
                    && has_labels(&c.config.labels, &filter.labels)
            })
            .map(|(id, c)| Self::container_status_of(id, c))
            .collect();
        out.sort_by_key(|c| c.created_at);
        Ok(out)
    }

    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult> {
        let Some(program) = cmd.first() else {
            return Err(Error::InvalidArgument("exec needs a command".into()));
        };
        let (pid, env, cwd, chrooted, cgroup, rootfs, view) = {
            let state = lock(&self.state);
            let c = state.containers.get(id).ok_or_else(|| Error::NotFound {
                kind: "container",
                id: id.to_string(),
            })?;
            let (ContainerState::Running, Some(pid)) = (c.state, c.pid) else {
                return Err(Error::InvalidArgument(format!(
                    "container {id} is not running"
                )));
            };
            (
                pid,
                c.env.clone(),
                c.cwd.clone(),
                c.chrooted,
                c.cgroup.clone(),
                c.entry.rootfs.clone(),
                c.dir.join("root"),
            )
        };
        let open = |ns: &str| {
            std::fs::File::open(format!("/proc/{pid}/{ns}"))
                .map_err(io_failed("opening the container's namespaces"))
        };
        let mut plan = spawn::Plan::default();
        if let Some(cgroup) = &cgroup {
            for file in cgroup.procs_files() {
                plan.cgroup_procs
                    .push(spawn::cstr(file).map_err(io_failed("cgroup path"))?);
            }
        }
        let mut held = Vec::new();
        // Join the container's network namespace only when it has its own
        // (setns needs CAP_SYS_ADMIN even into our own namespace).
        let same_netns = {
            use std::os::unix::fs::MetadataExt;
            let ino = |p: String| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
            ino(format!("/proc/{pid}/ns/net")) == ino("/proc/self/ns/net".to_string())
        };
        if !same_netns {
            let netns = open("ns/net")?;
            plan.netns_fd = Some(netns.as_raw_fd());
            held.push(netns);
        }
        let mut env = env;
        let mut command = tokio::process::Command::new(program);
        if chrooted {
            for (ns, slot) in [("ns/uts", 0), ("ns/mnt", 1), ("root", 2)] {
                let file = open(ns)?;
                let fd = Some(file.as_raw_fd());
                match slot {
                    0 => plan.uts_fd = fd,
                    1 => plan.mnt_fd = fd,
                    _ => plan.root_fd = fd,
                }
                held.push(file);
            }
            plan.chdir = Some(
                spawn::cstr(if cwd.is_empty() { "/" } else { &cwd })
                    .map_err(io_failed("working dir"))?,
            );
        } else {
            let path = env
                .iter()
                .rev()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            if let Some(resolved) = rootfs
                .as_deref()
                .and_then(|r| resolve_in(r, program, &path, false))
            {
                command = tokio::process::Command::new(resolved);
                command.arg0(program);
            }
            if let Some(rootfs) = &rootfs {
                let inside: Vec<String> = path
                    .split(':')
                    .map(|d| rootfs.join(d.trim_start_matches('/')).display().to_string())
                    .collect();
                env.retain(|(k, _)| k != "PATH");
                env.push(("PATH".into(), format!("{}:{path}", inside.join(":"))));
            }
            env.push(("KEELSON_ROOT".into(), view.display().to_string()));
            let dir = if cwd.is_empty() {
                view
            } else {
                PathBuf::from(cwd)
            };
            plan.chdir = Some(spawn::cstr(dir).map_err(io_failed("working dir"))?);
        }
        command
            .args(&cmd[1..])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: `Plan::apply` only makes system calls on prepared data.
        unsafe {
            command.pre_exec(move || plan.apply());
        }
        let child = command
            .spawn()
            .map_err(|e| Error::Failed(format!("exec {program:?}: {e}")))?;
        drop(held);
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => {
                use std::os::unix::process::ExitStatusExt;
                let exit_code = out
                    .status
                    .code()
                    .or_else(|| out.status.signal().map(|s| 128 + s))
                    .unwrap_or(255);
                Ok(ExecResult {
                    stdout: out.stdout,
                    stderr: out.stderr,
                    exit_code,
                })
            }
            Ok(Err(e)) => Err(Error::Failed(format!("exec {program:?}: {e}"))),
            Err(_) => Err(Error::DeadlineExceeded(format!(
                "exec {program:?} in container {id} took longer than {timeout:?}"
            ))),
        }
    }

    async fn pull_image(&self, image: &ImageSpec) -> Result<String> {
        let entry = self.catalog.resolve(&image.image).ok_or_else(|| {
            let known: Vec<String> = self.catalog.entries().into_iter().map(|(n, _)| n).collect();
            Error::ImagePull {
                image: image.image.clone(),
                message: format!(
                    "not in the process runtime's image catalog (known: {}); register it with \
                     ImageCatalog::register",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            }
        })?;
        let id = entry.id();
        let (repo, tag) = catalog::normalize(&image.image);
        lock(&self.state)
            .pulled
            .insert(format!("{repo}:{tag}"), entry);
        Ok(id)
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let pulled: Vec<(String, ImageEntry)> = lock(&self.state)
            .pulled
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(pulled
            .into_iter()
            .map(|(name, entry)| Image {
                id: entry.id(),
                repo_tags: vec![name],
                repo_digests: Vec::new(),
                size: entry.size(),
            })
            .collect())
    }

    async fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>> {
        let (repo, tag) = catalog::normalize(&image.image);
        let name = format!("{repo}:{tag}");
        let entry = {
            let state = lock(&self.state);
            state.pulled.get(&name).cloned().or_else(|| {
                state
                    .pulled
                    .values()
                    .find(|e| e.id() == image.image)
                    .cloned()
            })
        };
        Ok(entry.map(|entry| Image {
            id: entry.id(),
            repo_tags: vec![name],
            repo_digests: Vec::new(),
            size: entry.size(),
        }))
    }

    async fn remove_image(&self, image: &ImageSpec) -> Result<()> {
        let (repo, tag) = catalog::normalize(&image.image);
        lock(&self.state).pulled.remove(&format!("{repo}:{tag}"));
        Ok(())
    }
}

fn lock_alloc(a: &Mutex<Allocator>) -> MutexGuard<'_, Allocator> {
    a.lock().unwrap_or_else(|p| p.into_inner())
}
