//! The conformance suite every [`ContainerRuntime`] passes.
//!
//! One set of checks, run against any backend: version and status; sandbox
//! run / status / list / stop / remove and their idempotency; containers
//! created, started, and exiting with their exit code; a graceful stop, and
//! a stop whose grace period runs out on a process ignoring SIGTERM; logs in
//! the CRI format read back through
//! [`container_logs`](ContainerRuntime::container_logs); `exec_sync`; the
//! pull of an unknown image failing with [`Error::ImagePull`]; list filters
//! by id, sandbox, state and labels; and removing a sandbox removing its
//! containers.
//!
//! A backend says what it can express in [`Capabilities`] and how to make
//! its containers behave in [`Workloads`] ([`Busybox`] for real runtimes:
//! shell commands run by a busybox image; [`FakeScripts`] for
//! [`FakeRuntime`](super::FakeRuntime)). Each check gets a runtime from
//! the factory (a fresh one, or a clone of a shared one: every check labels
//! and cleans up what it creates).
//!
//! ```no_run
//! use keelson::runtime::conformance::{self, Busybox, Capabilities};
//! use keelson::runtime::{ProcessRuntime, ProcessRuntimeConfig};
//!
//! # async fn demo() {
//! conformance::run(
//!     || async { ProcessRuntime::new(ProcessRuntimeConfig::isolated()).unwrap() },
//!     &Capabilities::all(),
//!     &Busybox::new("busybox"),
//! )
//! .await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{
    logs, ContainerConfig, ContainerFilter, ContainerRuntime, ContainerState, Error, ImageSpec,
    LogOptions, PodSandboxConfig, SandboxFilter, SandboxState,
};

/// What the backend under test can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `exec_sync` runs commands.
    pub exec: bool,
    /// A container can ignore SIGTERM (so a stop must escalate to SIGKILL).
    pub ignore_sigterm: bool,
    /// Sandboxes report a pod IP.
    pub pod_ip: bool,
    /// Containers write CRI-format log files at their `log_path`.
    pub log_files: bool,
}

impl Capabilities {
    /// Everything (real runtimes).
    pub fn all() -> Self {
        Capabilities {
            exec: true,
            ignore_sigterm: true,
            pod_ip: true,
            log_files: true,
        }
    }
}

/// How to make the backend's containers behave: the command and args of
/// containers for each behaviour the suite needs.
pub trait Workloads: Send + Sync {
    /// The image every container of the suite uses; present in the runtime
    /// (pulled, imported or in its catalog) before the suite runs.
    fn image(&self) -> ImageSpec;
    /// `(command, args)`: write `line` and a newline to stdout, then exit
    /// with `code`.
    fn print_and_exit(&self, line: &str, code: i32) -> (Vec<String>, Vec<String>);
    /// `(command, args)`: run until SIGTERM, then exit 0.
    fn run_until_sigterm(&self) -> (Vec<String>, Vec<String>);
    /// `(command, args)`: run forever, ignoring SIGTERM.
    fn ignore_sigterm(&self) -> (Vec<String>, Vec<String>);
    /// An exec command writing `text` and a newline to stdout and exiting
    /// with `code`.
    fn exec_print(&self, text: &str, code: i32) -> Vec<String>;
}

/// [`Workloads`] as busybox shell commands.
#[derive(Debug, Clone)]
pub struct Busybox {
    image: String,
}

impl Busybox {
    /// Busybox workloads run by `image`.
    pub fn new(image: impl Into<String>) -> Self {
        Busybox {
            image: image.into(),
        }
    }
}

fn sh(script: String) -> (Vec<String>, Vec<String>) {
    (vec!["sh".into(), "-c".into()], vec![script])
}

impl Workloads for Busybox {
    fn image(&self) -> ImageSpec {
        ImageSpec::new(self.image.clone())
    }
    fn print_and_exit(&self, line: &str, code: i32) -> (Vec<String>, Vec<String>) {
        sh(format!("echo '{line}'; exit {code}"))
    }
    fn run_until_sigterm(&self) -> (Vec<String>, Vec<String>) {
        sh("trap 'exit 0' TERM; while true; do sleep 1; done".into())
    }
    fn ignore_sigterm(&self) -> (Vec<String>, Vec<String>) {
        sh("trap '' TERM; while true; do sleep 1; done".into())
    }
    fn exec_print(&self, text: &str, code: i32) -> Vec<String> {
        vec![
            "sh".into(),
            "-c".into(),
            format!("echo '{text}'; exit {code}"),
        ]
    }
}

/// [`Workloads`] for [`FakeRuntime`](super::FakeRuntime): containers
/// scripted through its command form ([`SCRIPT_COMMAND`](super::fake::SCRIPT_COMMAND)),
/// so the suite checks the simulation's lifecycle, exit codes, stop
/// semantics, logs, exec and image pulls as it checks a real runtime's.
#[derive(Debug, Clone, Default)]
pub struct FakeScripts;

fn fake(directives: &[String]) -> (Vec<String>, Vec<String>) {
    (
        vec![super::fake::SCRIPT_COMMAND.to_string()],
        directives.to_vec(),
    )
}

impl Workloads for FakeScripts {
    fn image(&self) -> ImageSpec {
        ImageSpec::new("registry.keelson.test/conformance:1")
    }
    fn print_and_exit(&self, line: &str, code: i32) -> (Vec<String>, Vec<String>) {
        fake(&[format!("log={line}"), format!("exit=0s:{code}")])
    }
    fn run_until_sigterm(&self) -> (Vec<String>, Vec<String>) {
        fake(&["term=0".to_string()])
    }
    fn ignore_sigterm(&self) -> (Vec<String>, Vec<String>) {
        // Longer to stop than any grace period the suite gives.
        fake(&["stop=1h".to_string()])
    }
    fn exec_print(&self, text: &str, code: i32) -> Vec<String> {
        vec![
            super::fake::SCRIPT_COMMAND.to_string(),
            format!("out={text}"),
            format!("code={code}"),
        ]
    }
}

/// Runs every check, each on a runtime from `factory`. Panics with the
/// check's name and what went wrong on the first failure.
pub async fn run<R, F, Fut>(factory: F, capabilities: &Capabilities, workloads: &dyn Workloads)
where
    R: ContainerRuntime,
    F: Fn() -> Fut,
    Fut: Future<Output = R>,
{
    version_and_status(&factory().await).await;
    sandbox_lifecycle(&factory().await, capabilities).await;
    container_exit_code_and_logs(&factory().await, capabilities, workloads).await;
    stop_graceful_and_forced(&factory().await, capabilities, workloads).await;
    exec_sync(&factory().await, capabilities, workloads).await;
    images(&factory().await, workloads).await;
    list_filters(&factory().await, workloads).await;
    remove_sandbox_removes_containers(&factory().await, workloads).await;
}

/// A pod config with a fresh name, a `conformance` label and a log dir.
pub fn pod(test: &str, log_dir: &Path) -> PodSandboxConfig {
    let suffix = format!("{:08x}", fastrand::u32(..));
    PodSandboxConfig {
        name: format!("{test}-{suffix}"),
        namespace: "conformance".into(),
        uid: format!("uid-{test}-{suffix}"),
        hostname: format!("{test}-{suffix}").chars().take(60).collect(),
        log_directory: log_dir.display().to_string(),
        labels: BTreeMap::from([
            ("conformance".to_string(), test.to_string()),
            ("run".to_string(), suffix),
        ]),
        ..Default::default()
    }
}

/// A container config of `workloads`' image with `(command, args)`.
pub fn container(
    name: &str,
    workloads: &dyn Workloads,
    (command, args): (Vec<String>, Vec<String>),
) -> ContainerConfig {
    ContainerConfig {
        name: name.into(),
        image: workloads.image(),
        command,
        args,
        log_path: format!("{name}/0.log"),
        labels: BTreeMap::from([("container".to_string(), name.to_string())]),
        ..Default::default()
    }
}

/// Waits until the container is in `state` (polling), at most `timeout`.
pub async fn wait_for_state<R: ContainerRuntime + ?Sized>(
    runtime: &R,
    id: &str,
    state: ContainerState,
    timeout: Duration,
) -> super::ContainerStatus {
    let deadline = Instant::now() + timeout;
    loop {
        let status = runtime
            .container_status(id)
            .await
            .unwrap_or_else(|e| panic!("container_status({id}): {e}"));
        if status.state == state {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "container {id} still {:?} after {timeout:?}, waiting for {state:?}: {status:?}",
            status.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything a container's log holds (not following).
pub async fn read_logs<R: ContainerRuntime + ?Sized>(runtime: &R, id: &str) -> String {
    let mut stream = runtime
        .container_logs(id, &LogOptions::default())
        .await
        .unwrap_or_else(|e| panic!("container_logs({id}): {e}"));
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap_or_else(|e| panic!("reading logs of {id}: {e}")));
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Creates and starts a container and waits (at most 20 s) until it runs.
async fn start_running<R: ContainerRuntime + ?Sized>(
    runtime: &R,
    sandbox: &str,
    config: &ContainerConfig,
    pod: &PodSandboxConfig,
) -> String {
    let id = runtime
        .create_container(sandbox, config, pod)
        .await
        .expect("create");
    runtime.start_container(&id).await.expect("start");
    wait_for_state(
        runtime,
        &id,
        ContainerState::Running,
        Duration::from_secs(20),
    )
    .await;
    id
}

fn log_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("keelson-conformance-")
        .tempdir()
        .unwrap_or_else(|e| panic!("making a log directory: {e}"))
}

/// `version` names the runtime and `status` is ready.
pub async fn version_and_status<R: ContainerRuntime>(runtime: &R) {
    let version = runtime.version().await.expect("version");
    assert!(!version.runtime_name.is_empty(), "version: {version:?}");
    assert!(!version.runtime_version.is_empty(), "version: {version:?}");
    let status = runtime.status().await.expect("status");
    assert!(status.runtime_ready, "status: {status:?}");
    assert!(status.network_ready, "status: {status:?}");
}

/// A sandbox runs, reports itself, lists, stops and is removed, twice over.
pub async fn sandbox_lifecycle<R: ContainerRuntime>(runtime: &R, capabilities: &Capabilities) {
    let logs = log_dir();
    let config = pod("sandbox", logs.path());
    let id = runtime
        .run_pod_sandbox(&config)
        .await
        .expect("run_pod_sandbox");
    let status = runtime
        .pod_sandbox_status(&id)
        .await
        .expect("pod_sandbox_status");
    assert_eq!(status.id, id);
    assert_eq!(status.name, config.name);
    assert_eq!(status.namespace, config.namespace);
    assert_eq!(status.uid, config.uid);
    assert_eq!(status.state, SandboxState::Ready);
    assert_eq!(status.labels, config.labels);
    if capabilities.pod_ip {
        assert!(status.ip.is_some(), "a ready sandbox has an IP: {status:?}");
    }
    let mine = SandboxFilter {
        labels: config.labels.clone(),
        ..Default::default()
    };
    let listed = runtime.list_pod_sandboxes(&mine).await.expect("list");
    assert_eq!(listed.iter().map(|s| &s.id).collect::<Vec<_>>(), [&id]);
    let by_id = SandboxFilter {
        id: Some(id.clone()),
        ..Default::default()
    };
    assert_eq!(
        runtime
            .list_pod_sandboxes(&by_id)
            .await
            .expect("list")
            .len(),
        1
    );
    let other = SandboxFilter {
        labels: BTreeMap::from([("conformance".into(), "nobody".into())]),
        ..Default::default()
    };
    assert!(runtime
        .list_pod_sandboxes(&other)
        .await
        .expect("list")
        .is_empty());

    runtime
        .stop_pod_sandbox(&id)
        .await
        .expect("stop_pod_sandbox");
    runtime
        .stop_pod_sandbox(&id)
        .await
        .expect("stop_pod_sandbox again is a no-op");
    let status = runtime
        .pod_sandbox_status(&id)
        .await
        .expect("status after stop");
    assert_eq!(status.state, SandboxState::NotReady);
    let ready = SandboxFilter {
        state: Some(SandboxState::Ready),
        ..mine.clone()
    };
    assert!(runtime
        .list_pod_sandboxes(&ready)
        .await
        .expect("list")
        .is_empty());
    let not_ready = SandboxFilter {
        state: Some(SandboxState::NotReady),
        ..mine.clone()
    };
    assert_eq!(
        runtime
            .list_pod_sandboxes(&not_ready)
            .await
            .expect("list")
            .len(),
        1
    );

    runtime
        .remove_pod_sandbox(&id)
        .await
        .expect("remove_pod_sandbox");
    runtime
        .remove_pod_sandbox(&id)
        .await
        .expect("remove_pod_sandbox again is a no-op");
    match runtime.pod_sandbox_status(&id).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("status of a removed sandbox: {other:?}"),
    }
    assert!(runtime
        .list_pod_sandboxes(&mine)
        .await
        .expect("list")
        .is_empty());
}

/// A container runs to completion with its exit code; its log is CRI-format
/// and reads back.
pub async fn container_exit_code_and_logs<R: ContainerRuntime>(
    runtime: &R,
    capabilities: &Capabilities,
    workloads: &dyn Workloads,
) {
    let logs_dir = log_dir();
    let pod = pod("exit", logs_dir.path());
    let sandbox = runtime
        .run_pod_sandbox(&pod)
        .await
        .expect("run_pod_sandbox");
    let config = container(
        "exits",
        workloads,
        workloads.print_and_exit("hello conformance", 3),
    );
    let id = runtime
        .create_container(&sandbox, &config, &pod)
        .await
        .expect("create_container");
    let created = runtime
        .container_status(&id)
        .await
        .expect("container_status");
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.sandbox_id, sandbox);
    assert_eq!(created.name, "exits");
    assert!(created.started_at.is_none());
    runtime.start_container(&id).await.expect("start_container");
    let exited = wait_for_state(
        runtime,
        &id,
        ContainerState::Exited,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(exited.exit_code, Some(3), "{exited:?}");
    assert!(
        exited.started_at.is_some() && exited.finished_at.is_some(),
        "{exited:?}"
    );
    assert!(!exited.image_ref.is_empty(), "{exited:?}");
    assert_eq!(exited.labels, config.labels);
    if capabilities.log_files {
        let raw = std::fs::read(&exited.log_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", exited.log_path));
        let records: Vec<&[u8]> = raw
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert!(!records.is_empty(), "empty log {}", exited.log_path);
        for record in records {
            assert!(
                logs::parse(record).is_some(),
                "not a CRI log record: {:?}",
                String::from_utf8_lossy(record)
            );
        }
    }
    assert_eq!(read_logs(runtime, &id).await, "hello conformance\n");
    let ok = container("succeeds", workloads, workloads.print_and_exit("ok", 0));
    let id = runtime
        .create_container(&sandbox, &ok, &pod)
        .await
        .expect("create");
    runtime.start_container(&id).await.expect("start");
    let exited = wait_for_state(
        runtime,
        &id,
        ContainerState::Exited,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(exited.exit_code, Some(0), "{exited:?}");
    assert_eq!(exited.reason, "Completed", "{exited:?}");
    runtime
        .remove_container(&id)
        .await
        .expect("remove_container");
    runtime
        .remove_container(&id)
        .await
        .expect("remove_container again");
    match runtime.container_status(&id).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("status of a removed container: {other:?}"),
    }
    runtime
        .remove_pod_sandbox(&sandbox)
        .await
        .expect("remove_pod_sandbox");
}

/// A stop within the grace period exits gracefully; a process ignoring
/// SIGTERM is killed once the grace period runs out (exit code 137).
pub async fn stop_graceful_and_forced<R: ContainerRuntime>(
    runtime: &R,
    capabilities: &Capabilities,
    workloads: &dyn Workloads,
) {
    let logs_dir = log_dir();
    let pod = pod("stop", logs_dir.path());
    let sandbox = runtime
        .run_pod_sandbox(&pod)
        .await
        .expect("run_pod_sandbox");
    let config = container("graceful", workloads, workloads.run_until_sigterm());
    let id = start_running(runtime, &sandbox, &config, &pod).await;
    // Let the shell install its trap.
    tokio::time::sleep(Duration::from_millis(300)).await;
    runtime
        .stop_container(&id, Duration::from_secs(20))
        .await
        .expect("stop_container");
    let status = runtime.container_status(&id).await.expect("status");
    assert_eq!(status.state, ContainerState::Exited, "{status:?}");
    assert_eq!(status.exit_code, Some(0), "graceful stop: {status:?}");
    runtime
        .stop_container(&id, Duration::from_secs(1))
        .await
        .expect("stop_container again is a no-op");

    if capabilities.ignore_sigterm {
        let config = container("stubborn", workloads, workloads.ignore_sigterm());
        let id = start_running(runtime, &sandbox, &config, &pod).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        runtime
            .stop_container(&id, Duration::from_secs(1))
            .await
            .expect("stop_container");
        let took = started.elapsed();
        let status = runtime.container_status(&id).await.expect("status");
        assert_eq!(status.state, ContainerState::Exited, "{status:?}");
        assert_eq!(status.exit_code, Some(137), "killed by SIGKILL: {status:?}");
        assert!(
            took >= Duration::from_millis(900),
            "SIGKILL came before the grace period ended ({took:?})"
        );
        assert!(took < Duration::from_secs(10), "stop took {took:?}");
    }
    runtime
        .remove_pod_sandbox(&sandbox)
        .await
        .expect("remove_pod_sandbox");
}

/// `exec_sync` runs a command in a running container.
pub async fn exec_sync<R: ContainerRuntime>(
    runtime: &R,
    capabilities: &Capabilities,
    workloads: &dyn Workloads,
) {
    let logs_dir = log_dir();
    let pod = pod("exec", logs_dir.path());
    let sandbox = runtime
        .run_pod_sandbox(&pod)
        .await
        .expect("run_pod_sandbox");
    let config = container("target", workloads, workloads.run_until_sigterm());
    let id = start_running(runtime, &sandbox, &config, &pod).await;
    let cmd = workloads.exec_print("from exec", 4);
    let result = runtime.exec_sync(&id, &cmd, Duration::from_secs(20)).await;
    if capabilities.exec {
        let result = result.expect("exec_sync");
        assert_eq!(result.exit_code, 4, "{result:?}");
        assert_eq!(String::from_utf8_lossy(&result.stdout), "from exec\n");
    } else {
        assert!(matches!(result, Err(Error::Unsupported(_))), "{result:?}");
    }
    match runtime
        .exec_sync("no-such-container", &cmd, Duration::from_secs(5))
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("exec in an unknown container: {other:?}"),
    }
    runtime
        .remove_pod_sandbox(&sandbox)
        .await
        .expect("remove_pod_sandbox");
}

/// The workload image is present; an unknown image fails to pull.
pub async fn images<R: ContainerRuntime>(runtime: &R, workloads: &dyn Workloads) {
    let image = workloads.image();
    let present = runtime.image_status(&image).await.expect("image_status");
    let present = match present {
        Some(image) => image,
        None => {
            runtime.pull_image(&image).await.expect("pull_image");
            runtime
                .image_status(&image)
                .await
                .expect("image_status")
                .expect("the pulled image is present")
        }
    };
    assert!(!present.id.is_empty());
    let listed = runtime.list_images().await.expect("list_images");
    assert!(listed.iter().any(|i| i.id == present.id), "{listed:?}");
    let unknown = ImageSpec::new("keelson.invalid/no-such-image:1");
    match runtime.pull_image(&unknown).await {
        Err(Error::ImagePull { image, message }) => {
            assert_eq!(image, unknown.image);
            assert!(!message.is_empty());
        }
        other => panic!("pulling an unknown image: {other:?}"),
    }
    assert_eq!(
        runtime.image_status(&unknown).await.expect("image_status"),
        None
    );
}

/// Containers list by id, sandbox, state and labels.
pub async fn list_filters<R: ContainerRuntime>(runtime: &R, workloads: &dyn Workloads) {
    let logs_dir = log_dir();
    let pod = pod("list", logs_dir.path());
    let sandbox = runtime
        .run_pod_sandbox(&pod)
        .await
        .expect("run_pod_sandbox");
    let done = container("done", workloads, workloads.print_and_exit("done", 0));
    let done = runtime
        .create_container(&sandbox, &done, &pod)
        .await
        .expect("create");
    runtime.start_container(&done).await.expect("start");
    wait_for_state(
        runtime,
        &done,
        ContainerState::Exited,
        Duration::from_secs(20),
    )
    .await;
    let running = container("running", workloads, workloads.run_until_sigterm());
    let running = start_running(runtime, &sandbox, &running, &pod).await;

    let ids = |list: Vec<super::ContainerStatus>| {
        let mut ids: Vec<String> = list.into_iter().map(|c| c.id).collect();
        ids.sort();
        ids
    };
    let mut both = vec![done.clone(), running.clone()];
    both.sort();
    let in_sandbox = ContainerFilter {
        sandbox_id: Some(sandbox.clone()),
        ..Default::default()
    };
    assert_eq!(
        ids(runtime.list_containers(&in_sandbox).await.expect("list")),
        both
    );
    let exited = ContainerFilter {
        state: Some(ContainerState::Exited),
        ..in_sandbox.clone()
    };
    assert_eq!(
        ids(runtime.list_containers(&exited).await.expect("list")),
        vec![done.clone()]
    );
    let labelled = ContainerFilter {
        labels: BTreeMap::from([("container".into(), "running".into())]),
        ..in_sandbox.clone()
    };
    assert_eq!(
        ids(runtime.list_containers(&labelled).await.expect("list")),
        vec![running.clone()]
    );
    let by_id = ContainerFilter {
        id: Some(done.clone()),
        ..Default::default()
    };
    assert_eq!(
        ids(runtime.list_containers(&by_id).await.expect("list")),
        vec![done.clone()]
    );
    let sandboxes = runtime
        .list_pod_sandboxes(&SandboxFilter {
            labels: pod.labels.clone(),
            state: Some(SandboxState::Ready),
            ..Default::default()
        })
        .await
        .expect("list sandboxes");
    assert_eq!(sandboxes.len(), 1);
    runtime
        .remove_pod_sandbox(&sandbox)
        .await
        .expect("remove_pod_sandbox");
}

/// Removing a sandbox removes its containers, running or not.
pub async fn remove_sandbox_removes_containers<R: ContainerRuntime>(
    runtime: &R,
    workloads: &dyn Workloads,
) {
    let logs_dir = log_dir();
    let pod = pod("cascade", logs_dir.path());
    let sandbox = runtime
        .run_pod_sandbox(&pod)
        .await
        .expect("run_pod_sandbox");
    let config = container("running", workloads, workloads.run_until_sigterm());
    let id = start_running(runtime, &sandbox, &config, &pod).await;
    let idle = container("idle", workloads, workloads.print_and_exit("x", 0));
    let idle = runtime
        .create_container(&sandbox, &idle, &pod)
        .await
        .expect("create");
    runtime
        .remove_pod_sandbox(&sandbox)
        .await
        .expect("remove_pod_sandbox");
    for id in [&id, &idle] {
        match runtime.container_status(id).await {
            Err(Error::NotFound { .. }) => {}
            other => panic!("a container of a removed sandbox: {other:?}"),
        }
    }
    let in_sandbox = ContainerFilter {
        sandbox_id: Some(sandbox.clone()),
        ..Default::default()
    };
    assert!(runtime
        .list_containers(&in_sandbox)
        .await
        .expect("list")
        .is_empty());
}
