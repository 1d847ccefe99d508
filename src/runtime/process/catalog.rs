//! The image catalog: what an image reference means to [`ProcessRuntime`](super::ProcessRuntime).
//!
//! There is no registry behind a process runtime. An image is an entry of
//! the catalog, one of:
//!
//! - a **root filesystem directory** ([`ImageEntry::rootfs`]): the container
//!   runs chrooted into a private copy-on-write view of it (overlayfs) when
//!   the runtime has the privileges, or with the directory's `bin/` first on
//!   `PATH` otherwise;
//! - a **host executable** ([`ImageEntry::executable`]): the container runs
//!   that program (with default arguments and environment) on the host's
//!   filesystem. This is how an application registers demo images that are
//!   implemented by its own binary.
//!
//! Both carry an OCI-style `entrypoint` and `cmd`. As in Kubernetes, a
//! container's `command` replaces the entrypoint (and drops the image's
//! `cmd`), its `args` replace the `cmd`.
//!
//! `busybox` is registered by default when `/bin/busybox` exists (Debian's
//! `busybox-static`): a generated rootfs with the binary and one symlink per
//! applet.
//!
//! ```
//! use keelson::runtime::process::{ImageCatalog, ImageEntry};
//!
//! let catalog = ImageCatalog::new();
//! // `luksa/kubia` (any tag) is this very program run with `--image kubia`.
//! catalog.register(
//!     "luksa/kubia",
//!     ImageEntry::executable("/proc/self/exe", ["--image", "kubia"]).env("PORT", "8080"),
//! );
//! let entry = catalog.resolve("docker.io/luksa/kubia:v1").unwrap();
//! assert_eq!(entry.entrypoint[1], "--image");
//! assert!(catalog.resolve("nginx").is_none());
//! ```

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// One image of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageEntry {
    /// The root filesystem, for rootfs images; `None` for host executables.
    pub rootfs: Option<PathBuf>,
    /// The OCI entrypoint (the program and its fixed arguments).
    pub entrypoint: Vec<String>,
    /// The OCI cmd (default arguments, replaced by a container's `args`).
    pub cmd: Vec<String>,
    /// Default environment, overridden by the container's.
    pub env: Vec<(String, String)>,
    /// Default working directory (inside the rootfs for rootfs images).
    pub working_dir: String,
}

impl ImageEntry {
    /// An image made of a root filesystem directory, running `cmd` by default
    /// (resolved against the rootfs's `PATH`: `/bin`, `/usr/bin`, `/sbin`,
    /// `/usr/sbin`).
    pub fn rootfs<S: Into<String>>(
        dir: impl Into<PathBuf>,
        cmd: impl IntoIterator<Item = S>,
    ) -> Self {
        ImageEntry {
            rootfs: Some(dir.into()),
            entrypoint: Vec::new(),
            cmd: cmd.into_iter().map(Into::into).collect(),
            env: vec![(
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            )],
            working_dir: "/".into(),
        }
    }

    /// An image that is a host program run with `args` first.
    pub fn executable<S: Into<String>>(
        path: impl AsRef<Path>,
        args: impl IntoIterator<Item = S>,
    ) -> Self {
        let mut entrypoint = vec![path.as_ref().display().to_string()];
        entrypoint.extend(args.into_iter().map(Into::into));
        ImageEntry {
            rootfs: None,
            entrypoint,
            cmd: Vec::new(),
            env: Vec::new(),
            working_dir: String::new(),
        }
    }

    /// Adds a default environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.into()));
        self
    }

    /// Sets the default working directory.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = dir.into();
        self
    }

    /// Sets the default arguments (the OCI cmd).
    pub fn cmd<S: Into<String>>(mut self, cmd: impl IntoIterator<Item = S>) -> Self {
        self.cmd = cmd.into_iter().map(Into::into).collect();
        self
    }

    /// The argv a container runs: `command` replaces the entrypoint and the
    /// cmd, `args` replaces the cmd (Kubernetes' rules).
    pub fn argv(&self, command: &[String], args: &[String]) -> Vec<String> {
        let mut argv = if command.is_empty() {
            self.entrypoint.clone()
        } else {
            command.to_vec()
        };
        if !args.is_empty() {
            argv.extend_from_slice(args);
        } else if command.is_empty() {
            argv.extend_from_slice(&self.cmd);
        }
        argv
    }

    /// A stable id for the entry (`sha256:`-shaped; a hash of the entry,
    /// not of image content).
    pub fn id(&self) -> String {
        let mut out = String::from("sha256:");
        for key in 0u64..4 {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            self.hash(&mut hasher);
            out.push_str(&format!("{:016x}", hasher.finish()));
        }
        out
    }

    /// The image's size on disk: the executable's, or the rootfs's files'.
    pub fn size(&self) -> u64 {
        fn walk(dir: &Path, depth: usize) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() && depth < 16 => walk(&e.path(), depth + 1),
                    Ok(m) if m.is_file() => m.len(),
                    _ => 0,
                })
                .sum()
        }
        match &self.rootfs {
            Some(dir) => walk(dir, 0),
            None => self
                .entrypoint
                .first()
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len()),
        }
    }
}

/// Splits a reference into its normalized repository and tag:
/// `docker.io/library/busybox` → (`busybox`, `latest`).
pub(crate) fn normalize(reference: &str) -> (String, String) {
    let reference = reference.split('@').next().unwrap_or(reference);
    let mut name = reference
        .strip_prefix("docker.io/")
        .or_else(|| reference.strip_prefix("index.docker.io/"))
        .unwrap_or(reference);
    if let Some(rest) = name.strip_prefix("library/") {
        name = rest;
    }
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_string(),
            name[slash + i + 1..].to_string(),
        ),
        None => (name.to_string(), "latest".to_string()),
    }
}

/// The catalog key of a reference: its repository, and its tag when it
/// names one.
fn key(reference: &str) -> (String, Option<String>) {
    let (repo, tag) = normalize(reference);
    let base = reference.split('@').next().unwrap_or(reference);
    let slash = base.rfind('/').map_or(0, |i| i + 1);
    let has_tag = base[slash..].contains(':');
    (repo, has_tag.then_some(tag))
}

/// (repository, tag or `None` for every tag) → entry.
type Entries = BTreeMap<(String, Option<String>), ImageEntry>;

/// The images a [`ProcessRuntime`](super::ProcessRuntime) can run, by
/// reference. Cheap to clone (clones share the entries); entries can be
/// added while the runtime runs.
#[derive(Debug, Clone, Default)]
pub struct ImageCatalog {
    entries: Arc<RwLock<Entries>>,
}

impl ImageCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an image. A reference without a tag (`luksa/kubia`) matches
    /// every tag; one with a tag (`luksa/kubia:v2`) only that tag, and wins
    /// over the untagged entry. `docker.io/` and `library/` prefixes are
    /// ignored.
    pub fn register(&self, reference: &str, entry: ImageEntry) {
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(key(reference), entry);
        }
    }

    /// Removes an image (the exact reference it was registered with).
    pub fn unregister(&self, reference: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&key(reference));
        }
    }

    /// The entry an image reference resolves to, if any.
    pub fn resolve(&self, reference: &str) -> Option<ImageEntry> {
        let (repo, tag) = normalize(reference);
        let entries = self.entries.read().ok()?;
        entries
            .get(&(repo.clone(), Some(tag)))
            .or_else(|| entries.get(&(repo, None)))
            .cloned()
    }

    /// Every registered reference and its entry.
    pub fn entries(&self) -> Vec<(String, ImageEntry)> {
        let Ok(entries) = self.entries.read() else {
            return Vec::new();
        };
        entries
            .iter()
            .map(|((repo, tag), entry)| {
                let name = match tag {
                    Some(tag) => format!("{repo}:{tag}"),
                    None => repo.clone(),
                };
                (name, entry.clone())
            })
            .collect()
    }
}

/// The busybox applets given a symlink in the generated busybox rootfs.
const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ash", "cat", "echo", "sleep", "true", "false", "ls", "mkdir", "rm", "cp", "mv", "ln",
    "env", "printf", "test", "[", "kill", "ps", "id", "hostname", "ip", "ifconfig", "wget", "nc",
    "httpd", "grep", "sed", "awk", "head", "tail", "wc", "date", "touch", "pwd", "uname", "mount",
    "df", "du", "chmod", "chown", "stat", "find", "xargs", "yes", "seq", "tee", "dd", "sync",
    "nslookup", "ping", "top", "free", "whoami", "basename", "dirname", "cut", "sort", "uniq",
    "tr", "expr", "timeout", "nohup", "trap", "readlink", "realpath", "vi",
];

/// Builds (once) a busybox rootfs under `dir` from `/bin/busybox`: the binary
/// is hard-linked (or copied) to `bin/busybox`, with applet symlinks, and
/// `etc/passwd`, `tmp`, `proc`, `dev`, `sys` created. Returns the entry, or
/// `None` when `/bin/busybox` is missing.
pub(crate) fn busybox_rootfs(dir: &Path) -> std::io::Result<Option<ImageEntry>> {
    let source = Path::new("/bin/busybox");
    if !source.exists() {
        return Ok(None);
    }
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    for sub in [
        "tmp", "proc", "dev", "sys", "etc", "root", "var/www", "usr/bin",
    ] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let target = bin.join("busybox");
    if !target.exists() && std::fs::hard_link(source, &target).is_err() {
        std::fs::copy(source, &target)?;
    }
    for applet in BUSYBOX_APPLETS {
        let link = bin.join(applet);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("busybox", &link)?;
        }
    }
    let passwd = dir.join("etc/passwd");
    if !passwd.exists() {
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )?;
        std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    }
    Ok(Some(ImageEntry::rootfs(dir, ["sh"])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_references() {
        assert_eq!(normalize("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(
            normalize("docker.io/library/busybox:1.36"),
            ("busybox".into(), "1.36".into())
        );
        assert_eq!(
            normalize("localhost:5000/a/b"),
            ("localhost:5000/a/b".into(), "latest".into())
        );
        assert_eq!(
            normalize("luksa/kubia:v1@sha256:abc"),
            ("luksa/kubia".into(), "v1".into())
        );
    }

    #[test]
    fn tagged_entries_win_and_argv_follows_kubernetes_rules() {
        let catalog = ImageCatalog::new();
        catalog.register("demo", ImageEntry::executable("/bin/a", ["x"]).cmd(["c"]));
        catalog.register(
            "demo:v2",
            ImageEntry::executable("/bin/b", Vec::<String>::new()),
        );
        assert_eq!(catalog.resolve("demo:v1").unwrap().entrypoint[0], "/bin/a");
        assert_eq!(catalog.resolve("demo:v2").unwrap().entrypoint[0], "/bin/b");
        let entry = catalog.resolve("demo").unwrap();
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(entry.argv(&[], &[]), s(&["/bin/a", "x", "c"]));
        assert_eq!(entry.argv(&[], &s(&["y"])), s(&["/bin/a", "x", "y"]));
        assert_eq!(entry.argv(&s(&["sh"]), &[]), s(&["sh"]));
        assert_eq!(entry.argv(&s(&["sh"]), &s(&["-c"])), s(&["sh", "-c"]));
        assert_ne!(entry.id(), catalog.resolve("demo:v2").unwrap().id());
        assert_eq!(catalog.entries().len(), 2);
        catalog.unregister("demo:v2");
        assert_eq!(catalog.resolve("demo:v2").unwrap().entrypoint[0], "/bin/a");
    }
}
