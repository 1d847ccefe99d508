//! Resource limits of the process runtime's containers with cgroup v1
//! (`memory`, `cpu`, `pids` hierarchies under `/sys/fs/cgroup`), where they
//! are mounted and writable.

use std::path::{Path, PathBuf};

use crate::runtime::Resources;

const ROOT: &str = "/sys/fs/cgroup";
const CONTROLLERS: &[&str] = &["memory", "cpu", "pids"];

/// Whether cgroup v1 `memory` and `cpu` hierarchies are writable here.
pub(crate) fn available() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Path::new(ROOT).join("memory/cgroup.procs").exists()
        && Path::new(ROOT).join("cpu/cgroup.procs").exists()
}

/// One container's cgroup directories (one per controller).
#[derive(Debug, Clone, Default)]
pub(crate) struct Cgroup {
    pub dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Creates `<controller>/<parent>/<name>` for each controller and writes
    /// the limits. Directories that cannot be made are skipped (a missing
    /// controller means no limit, not a failed container).
    pub fn create(parent: &str, name: &str, resources: &Resources) -> std::io::Result<Cgroup> {
        let mut cgroup = Cgroup::default();
        for controller in CONTROLLERS {
            let base = Path::new(ROOT).join(controller);
            if !base.join("cgroup.procs").exists() {
                continue;
            }
            let dir = base.join(parent).join(name);
            std::fs::create_dir_all(&dir)?;
            cgroup.dirs.push(dir.clone());
            match *controller {
                "memory" if resources.memory_limit_bytes > 0 => {
                    std::fs::write(
                        dir.join("memory.limit_in_bytes"),
                        resources.memory_limit_bytes.to_string(),
                    )?;
                }
                "cpu" => {
                    if resources.cpu_limit_millis > 0 {
                        // period 100 ms: quota in µs = millicores × 100.
                        std::fs::write(dir.join("cpu.cfs_period_us"), "100000")?;
                        let quota = resources.cpu_limit_millis.saturating_mul(100).max(1000);
                        std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
                    }
                    if resources.cpu_request_millis > 0 {
                        // The kubelet's conversion: 1000m = 1024 shares, at least 2.
                        let shares =
                            (resources.cpu_request_millis.saturating_mul(1024) / 1000).max(2);
                        std::fs::write(dir.join("cpu.shares"), shares.to_string())?;
                    }
                }
                _ => {}
            }
        }
        Ok(cgroup)
    }

    /// The `cgroup.procs` files a new process writes its pid to.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The pids still in the cgroup (the first hierarchy's view).
    pub fn pids(&self) -> Vec<i32> {
        let Some(dir) = self.dirs.first() else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Whether the memory controller recorded an OOM kill.
    pub fn oom_killed(&self) -> bool {
        self.dirs.iter().any(|d| {
            std::fs::read_to_string(d.join("memory.oom_control"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("oom_kill ").map(|v| v.trim() != "0"))
                })
                .unwrap_or(false)
        })
    }

    /// SIGKILLs whatever is left and removes the directories (an `rmdir`
    /// fails while processes remain, so this retries briefly).
    pub fn destroy(&self) {
        for _ in 0..50 {
            let pids = self.pids();
            for pid in &pids {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            let mut left = false;
            for dir in &self.dirs {
                if dir.exists() && std::fs::remove_dir(dir).is_err() {
                    left = true;
                }
            }
            if !left {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Removes the runtime's parent directories (empty once every container's
/// cgroup is gone).
pub(crate) fn remove_parent(parent: &str) {
    for controller in CONTROLLERS {
        let dir = Path::new(ROOT).join(controller).join(parent);
        if dir.exists() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}
