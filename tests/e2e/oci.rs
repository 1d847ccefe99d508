//! OCI images of the demo programs, for the walkthrough on containerd.
//!
//! No registry is reachable, so the test builds the seed images itself: one
//! layer holding the cluster example binary (at [`BINARY`]) and the shared
//! libraries `ldd` says it needs, and one image per seed reference whose
//! entrypoint runs that binary as the image (`cluster --image kubia-v1`,
//! exactly what the process runtime runs). [`archive`] writes them as one
//! OCI image layout, `ctr images import` takes them all at once.
//!
//! The layer is an uncompressed tar (media type
//! `application/vnd.oci.image.layer.v1.tar`): the binary is large in debug
//! builds, and gzip would add seconds for nothing on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

/// Where the cluster binary sits inside the images.
pub const BINARY: &str = "/keelson/cluster";

/// The seed references (as containerd names them) and the demo program each
/// one runs.
pub const IMAGES: &[(&str, &str)] = &[
    ("docker.io/luksa/kubia:latest", "kubia"),
    ("docker.io/luksa/kubia:v1", "kubia-v1"),
    ("docker.io/luksa/kubia:v2", "kubia-v2"),
    ("docker.io/luksa/batch-job:latest", "batch-job"),
];

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `sha256:<hex>` and size of a file.
fn digest(path: &Path) -> Result<(String, u64), String> {
    let out = run(Command::new("sha256sum").arg(path))?;
    let hex = out.split_whitespace().next().unwrap_or_default();
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    Ok((format!("sha256:{hex}"), size))
}

/// Moves a file into the layout's blobs; returns its descriptor fields.
fn blob(layout: &Path, path: &Path) -> Result<(String, u64), String> {
    let (digest, size) = digest(path)?;
    let target = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::rename(path, target).map_err(|e| e.to_string())?;
    Ok((digest, size))
}

fn write_blob(
    layout: &Path,
    work: &Path,
    value: &serde_json::Value,
) -> Result<(String, u64), String> {
    let path = work.join("blob.json");
    std::fs::write(&path, value.to_string()).map_err(|e| e.to_string())?;
    blob(layout, &path)
}

/// The absolute paths of the shared libraries `binary` loads (and the
/// dynamic loader), from `ldd`.
fn libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = run(Command::new("ldd").arg(binary))?;
    let mut libs = Vec::new();
    for line in out.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"; "linux-vdso.so.1 (0x...)"
        // has no file.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    if libs.is_empty() && !out.contains("statically linked") {
        return Err(format!(
            "ldd {} named no libraries: {out}",
            binary.display()
        ));
    }
    Ok(libs)
}

/// Builds the image archive of [`IMAGES`] under `work`, from the cluster
/// binary at `binary`.
pub fn archive(work: &Path, binary: &Path) -> Result<PathBuf, String> {
    let rootfs = work.join("rootfs");
    let layout = work.join("layout");
    for dir in ["keelson", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(dir)).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(layout.join("blobs/sha256")).map_err(|e| e.to_string())?;
    // Debug builds carry hundreds of MB of debug sections the image does
    // not need: strip a copy when binutils is there.
    let target = rootfs.join(BINARY.trim_start_matches('/'));
    let stripped = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&target)
        .arg(binary)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(binary, &target).map_err(|e| format!("copying {}: {e}", binary.display()))?;
    }
    for lib in libraries(binary)? {
        let target = rootfs.join(lib.strip_prefix("/").map_err(|e| e.to_string())?);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        // fs::copy follows symlinks: the file itself lands under its name.
        std::fs::copy(&lib, &target).map_err(|e| format!("copying {}: {e}", lib.display()))?;
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/:/keelson/cluster\n",
    )
    .map_err(|e| e.to_string())?;
    let layer = work.join("layer.tar");
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
        .arg(&layer)
        .arg("-C")
        .arg(&rootfs)
        .arg("."))?;
    let (layer_digest, layer_size) = blob(&layout, &layer)?;

    let mut manifests = Vec::new();
    for (name, program) in IMAGES {
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Entrypoint": [BINARY, "--image", program],
                "Env": ["PATH=/keelson"],
                "WorkingDir": "/",
            },
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        let (config_digest, config_size) = write_blob(&layout, work, &config)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": layer_size,
            }],
        });
        let (manifest_digest, manifest_size) = write_blob(&layout, work, &manifest)?;
        let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
        manifests.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag,
            },
        }));
    }
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(layout.join("index.json"), index.to_string()).map_err(|e| e.to_string())?;
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .map_err(|e| e.to_string())?;
    let archive = work.join("images.tar");
    run(Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(&layout)
        .arg("."))?;
    Ok(archive)
}
