//! A private containerd for tests: [`Containerd::start`].
//!
//! What it sets up, all under one temporary directory (so several can run at
//! once and nothing touches the host's containerd):
//!
//! - a `config.toml` with its own `root`, `state`, gRPC and ttrpc sockets,
//!   the CRI plugin with `restrict_oom_score_adj = true`, runc, the local
//!   pause image as `sandbox_image`, and CNI from `/usr/lib/cni` with a
//!   conflist of its own (bridge + host-local + portmap) on a bridge name and
//!   `/24` subnet of its own;
//! - two OCI images built from Debian's `busybox-static` and imported with
//!   `ctr images import`: [`BUSYBOX`] (busybox with its applets, `sh` by
//!   default) and [`PAUSE`] (`sleep 2147483647`);
//! - on [`stop`](Containerd::stop) (or drop): every pod sandbox removed, every
//!   task killed, containerd and its shims stopped, the CNI bridge and the
//!   directory removed.
//!
//! Needs root and `apt-get install containerd runc containernetworking-plugins
//! busybox-static iproute2`; [`Containerd::start`] says which is missing.
//!
//! ```no_run
//! # async fn demo() {
//! use keelson::runtime::cri_testing::{Containerd, BUSYBOX};
//! use keelson::runtime::{ContainerRuntime, ImageSpec};
//!
//! let containerd = Containerd::start().await.unwrap();
//! let runtime = containerd.runtime().await.unwrap();
//! assert!(runtime.image_status(&ImageSpec::new(BUSYBOX)).await.unwrap().is_some());
//! containerd.stop().await;
//! # }
//! ```

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{ContainerRuntime, CriRuntime, SandboxFilter};

/// The busybox image every [`Containerd`] holds.
pub const BUSYBOX: &str = "keelson.local/busybox:latest";
/// The pause image (the sandbox image) every [`Containerd`] holds.
pub const PAUSE: &str = "keelson.local/pause:latest";

const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "sleep", "true", "false", "ls", "mkdir", "rm", "env", "hostname", "ip",
    "wget", "nc", "httpd", "grep", "touch", "ps", "kill", "id", "test", "printf", "head", "tail",
];

/// A containerd of the test's own (see the [module guide](self)).
#[derive(Debug)]
pub struct Containerd {
    dir: Option<tempfile::TempDir>,
    child: Option<Child>,
    socket: PathBuf,
    bridge: String,
    subnet: Ipv4Addr,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn require(path: &str, package: &str) -> Result<(), String> {
    if Path::new(path).exists() {
        Ok(())
    } else {
        Err(format!(
            "{path} is missing: install it with `apt-get install -y {package}`"
        ))
    }
}

/// `sha256:<hex>` of a file, and its size.
fn digest(path: &Path) -> Result<(String, u64), String> {
    let out = run(Command::new("sha256sum").arg(path))?;
    let hex = out
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    Ok((format!("sha256:{hex}"), size))
}

/// Stores `path` as a blob of the layout; returns its digest and size.
fn blob(layout: &Path, path: &Path) -> Result<(String, u64), String> {
    let (digest, size) = digest(path)?;
    let hex = digest.trim_start_matches("sha256:");
    std::fs::rename(path, layout.join("blobs/sha256").join(hex)).map_err(|e| e.to_string())?;
    Ok((digest, size))
}

/// Builds an OCI image archive of busybox running `cmd`, named `name`.
pub fn build_busybox_image(work: &Path, name: &str, cmd: &[&str]) -> Result<PathBuf, String> {
    require("/bin/busybox", "busybox-static")?;
    let rootfs = work.join("rootfs");
    let layout = work.join("layout");
    for dir in [
        rootfs.join("bin"),
        rootfs.join("tmp"),
        rootfs.join("etc"),
        layout.join("blobs/sha256"),
    ] {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
    for applet in APPLETS {
        let link = rootfs.join("bin").join(applet);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("busybox", &link).map_err(|e| e.to_string())?;
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")
        .map_err(|e| e.to_string())?;
    let layer = work.join("layer.tar");
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
        .arg(&layer)
        .arg("-C")
        .arg(&rootfs)
        .arg("."))?;
    let (diff_id, _) = digest(&layer)?;
    run(Command::new("gzip").args(["-n", "-f"]).arg(&layer))?;
    let (layer_digest, layer_size) = blob(&layout, &work.join("layer.tar.gz"))?;
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Cmd": cmd,
            "Env": ["PATH=/bin"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let config_path = work.join("config.json");
    std::fs::write(&config_path, config.to_string()).map_err(|e| e.to_string())?;
    let (config_digest, config_size) = blob(&layout, &config_path)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer_size,
        }],
    });
    let manifest_path = work.join("manifest.json");
    std::fs::write(&manifest_path, manifest.to_string()).map_err(|e| e.to_string())?;
    let (manifest_digest, manifest_size) = blob(&layout, &manifest_path)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": "latest",
            },
        }],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).map_err(|e| e.to_string())?;
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .map_err(|e| e.to_string())?;
    let archive = work.join("image.tar");
    run(Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(&layout)
        .arg("."))?;
    Ok(archive)
}

impl Containerd {
    /// Starts a containerd and imports [`BUSYBOX`] and [`PAUSE`]; ready when
    /// its CRI service answers.
    pub async fn start() -> Result<Containerd, String> {
        require("/usr/bin/containerd", "containerd")?;
        require("/usr/bin/ctr", "containerd")?;
        require("/usr/sbin/runc", "runc")?;
        require("/usr/lib/cni/bridge", "containernetworking-plugins")?;
        require("/bin/busybox", "busybox-static")?;
        require("/usr/bin/ip", "iproute2").or_else(|_| require("/usr/sbin/ip", "iproute2"))?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let bridge = format!("kc{}x{}", pid % 100_000, n % 1000);
        let subnet = Ipv4Addr::new(10, 200 + (pid % 50) as u8, (n % 250) as u8, 0);
        let dir = tempfile::Builder::new()
            .prefix("keelson-containerd-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let base = dir.path();
        let socket = base.join("containerd.sock");
        let cni = base.join("cni");
        std::fs::create_dir_all(&cni).map_err(|e| e.to_string())?;
        let conflist = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": format!("keelson-{bridge}"),
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": bridge,
                    "isGateway": true,
                    "ipMasq": false,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": format!("{subnet}/24")}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": base.join("cni-ipam").display().to_string(),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": true}},
            ],
        });
        std::fs::write(cni.join("10-keelson.conflist"), conflist.to_string())
            .map_err(|e| e.to_string())?;
        let d = base.display();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni"
    max_conf_num = 1
"#
        );
        let config_path = base.join("config.toml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(base.join("containerd.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("/usr/bin/containerd")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("starting containerd: {e}"))?;
        let mut containerd = Containerd {
            dir: Some(dir),
            child: Some(child),
            socket,
            bridge,
            subnet,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if containerd.socket.exists() {
                if let Ok(runtime) = CriRuntime::connect(&containerd.socket).await {
                    if runtime.version().await.is_ok() {
                        break;
                    }
                }
            }
            if let Some(Ok(Some(status))) = containerd.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!(
                    "containerd exited ({status}): {}",
                    containerd.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "containerd's CRI service did not answer in 30 s: {}",
                    containerd.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (name, cmd) in [(BUSYBOX, vec!["sh"]), (PAUSE, vec!["sleep", "2147483647"])] {
            let work =
                base_dir(&containerd).join(format!("image-{}", name.replace([':', '/'], "-")));
            std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
            let archive = build_busybox_image(&work, name, &cmd)?;
            containerd.ctr(&["images", "import"], Some(&archive))?;
        }
        Ok(containerd)
    }

    /// containerd's CRI socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The CNI bridge's name and its `/24` subnet.
    pub fn network(&self) -> (&str, Ipv4Addr) {
        (&self.bridge, self.subnet)
    }

    /// A [`CriRuntime`] connected to it.
    pub async fn runtime(&self) -> super::Result<CriRuntime> {
        CriRuntime::connect(&self.socket).await
    }

    /// The last lines of containerd's log (for failure messages).
    pub fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(base_dir(self).join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Runs `ctr --address SOCK -n k8s.io ARGS [FILE]`.
    pub fn ctr(&self, args: &[&str], file: Option<&Path>) -> Result<String, String> {
        let mut cmd = Command::new("/usr/bin/ctr");
        cmd.arg("--address")
            .arg(&self.socket)
            .args(["-n", "k8s.io"])
            .args(args);
        if let Some(file) = file {
            cmd.arg(file);
        }
        run(&mut cmd)
    }

    /// Removes every pod sandbox through CRI, then stops containerd and
    /// removes everything (as drop does).
    pub async fn stop(self) {
        if let Ok(runtime) = self.runtime().await {
            if let Ok(sandboxes) = runtime.list_pod_sandboxes(&SandboxFilter::default()).await {
                for s in sandboxes {
                    let _ = runtime.stop_pod_sandbox(&s.id).await;
                    let _ = runtime.remove_pod_sandbox(&s.id).await;
                }
            }
        }
        drop(self);
    }
}

fn base_dir(c: &Containerd) -> PathBuf {
    c.dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_default()
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks left behind (a test that failed half way): kill them so
        // their shims exit.
        if let Ok(tasks) = self.ctr(&["tasks", "ls", "-q"], None) {
            for task in tasks.lines().map(str::trim).filter(|t| !t.is_empty()) {
                let _ = self.ctr(&["tasks", "kill", "-a", "-s", "SIGKILL", task], None);
                let _ = self.ctr(&["tasks", "delete", "-f", task], None);
            }
        }
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Shims of this containerd (they name its socket on their command line).
        let socket = self.socket.display().to_string();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&socket) {
                    // SAFETY: as above.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        // Mounts left under the directory (snapshots, rootfs, shm).
        let base = base_dir(self).display().to_string();
        if !base.is_empty() {
            let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
            let mut points: Vec<&str> = mounts
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter(|m| m.starts_with(&base))
                .collect();
            points.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for point in points {
                let _ = Command::new("umount").arg("-l").arg(point).status();
            }
        }
        if Path::new("/sys/class/net").join(&self.bridge).exists() {
            let _ = Command::new("ip")
                .args(["link", "del", &self.bridge])
                .status();
        }
        drop(self.dir.take());
    }
}
