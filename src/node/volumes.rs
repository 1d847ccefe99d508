//! Pod volumes as host directories: emptyDir, hostPath, configMap, secret,
//! downwardAPI, and persistentVolumeClaim through the bound volume's path.
//!
//! Each pod owns `<root>/pods/<uid>/volumes/<name>/`; emptyDir, configMap,
//! secret and downwardAPI volumes live there and go with the pod. Files
//! are written atomically (a temporary file renamed into place), and
//! configMap, secret and downwardAPI volumes are rewritten on every
//! [`Config::volume_sync_period`](super::Config::volume_sync_period).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::env::{field_value, resource_value, PodContext};
use crate::api::core::{
    ConfigMap, Container, KeyToPath, PersistentVolume, PersistentVolumeClaim, Secret, Volume,
};
use crate::api::Str;
use crate::client::{Api, Client};
use crate::runtime::Mount;

/// The host paths of a pod's volumes by name.
pub(crate) type VolumePaths = HashMap<Str, PathBuf>;

/// The directory of a pod's volumes.
pub(crate) fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

fn io(e: std::io::Error, what: &Path) -> String {
    format!("{}: {e}", what.display())
}

/// Writes `files` (relative path → content) into `dir` atomically, and
/// removes top-level entries `dir` holds that are no longer wanted.
async fn write_files(dir: &Path, files: Vec<(String, Vec<u8>)>) -> Result<(), String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io(e, dir))?;
    let mut keep = std::collections::HashSet::new();
    for (rel, content) in files {
        let rel_path = Path::new(&rel);
        if rel_path.is_absolute()
            || rel_path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!("invalid volume file path {rel:?}"));
        }
        if let Some(first) = rel_path.components().next() {
            keep.insert(first.as_os_str().to_owned());
        }
        let path = dir.join(rel_path);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io(e, parent))?;
        }
        if tokio::fs::read(&path).await.ok().as_deref() == Some(&content[..]) {
            continue;
        }
        let tmp = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        tokio::fs::write(&tmp, &content)
            .await
            .map_err(|e| io(e, &tmp))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| io(e, &path))?;
    }
    let mut entries = tokio::fs::read_dir(dir).await.map_err(|e| io(e, dir))?;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        if !keep.contains(&name) && !name.to_string_lossy().starts_with('.') {
            let path = entry.path();
            let _ = match tokio::fs::metadata(&path).await {
                Ok(m) if m.is_dir() => tokio::fs::remove_dir_all(&path).await,
                _ => tokio::fs::remove_file(&path).await,
            };
        }
    }
    Ok(())
}

/// The files of a keyed source (configMap, secret): every key, or the
/// listed items.
fn keyed_files(
    data: Vec<(String, Vec<u8>)>,
    items: &[KeyToPath],
    what: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    if items.is_empty() {
        return Ok(data);
    }
    let map: HashMap<_, _> = data.into_iter().collect();
    items
        .iter()
        .map(|i| {
            map.get(i.key.as_str())
                .map(|v| (i.path.to_string(), v.clone()))
                .ok_or_else(|| format!("couldn't find key {} in {what}", i.key))
        })
        .collect()
}

fn configmap_data(cm: &ConfigMap) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = cm
        .data
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    for (k, _) in &cm.binary_data {
        if let Ok(b) = cm.binary(k) {
            out.push((k.to_string(), b));
        }
    }
    out
}

/// Sets up (or refreshes) every volume of the pod; returns their host
/// paths. An error names the first volume that could not be set up.
pub(crate) async fn setup(
    client: &Arc<dyn Client>,
    root: &Path,
    ctx: &PodContext<'_>,
) -> Result<VolumePaths, String> {
    let pod = ctx.pod;
    let mut out = VolumePaths::new();
    if pod.spec.volumes.is_empty() {
        return Ok(out);
    }
    let ns = pod.metadata.namespace.as_str();
    let base = pod_dir(root, &pod.metadata.uid).join("volumes");
    for v in &pod.spec.volumes {
        let dir = base.join(v.name.as_str());
        let path = setup_one(client, ns, ctx, v, &dir)
            .await
            .map_err(|e| format!("MountVolume.SetUp failed for volume {:?}: {e}", v.name))?;
        out.insert(v.name.clone(), path);
    }
    Ok(out)
}

async fn setup_one(
    client: &Arc<dyn Client>,
    ns: &str,
    ctx: &PodContext<'_>,
    v: &Volume,
    dir: &Path,
) -> Result<PathBuf, String> {
    if let Some(h) = &v.host_path {
        let path = PathBuf::from(h.path.as_str());
        let t = h.type_.as_deref().unwrap_or("");
        match t {
            "DirectoryOrCreate" => tokio::fs::create_dir_all(&path)
                .await
                .map_err(|e| io(e, &path))?,
            "FileOrCreate" if tokio::fs::metadata(&path).await.is_err() => {
                tokio::fs::write(&path, b"")
                    .await
                    .map_err(|e| io(e, &path))?
            }
            "Directory" | "File" | "Socket" | "CharDevice" | "BlockDevice" => {
                tokio::fs::metadata(&path).await.map_err(|e| io(e, &path))?;
            }
            _ => {}
        }
        return Ok(path);
    }
    if let Some(c) = &v.persistent_volume_claim {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
        let pvc = pvcs.get(&c.claim_name).await.map_err(|e| e.to_string())?;
        if pvc.spec.volume_name.is_empty() {
            return Err(format!(
                "persistentvolumeclaim {:?} is not bound",
                c.claim_name
            ));
        }
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        let pv = pvs
            .get(&pvc.spec.volume_name)
            .await
            .map_err(|e| e.to_string())?;
        let path = pv
            .spec
            .host_path
            .as_ref()
            .map(|h| h.path.clone())
            .or_else(|| pv.spec.local.as_ref().map(|l| l.path.clone()))
            .ok_or_else(|| {
                format!(
                    "persistentvolume {:?} has no hostPath or local path",
                    pvc.spec.volume_name
                )
            })?;
        let path = PathBuf::from(path.as_str());
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|e| io(e, &path))?;
        return Ok(path);
    }
    if let Some(s) = &v.config_map {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        match api.get_opt(&s.name).await.map_err(|e| e.to_string())? {
            Some(cm) => {
                let files = keyed_files(
                    configmap_data(&cm),
                    &s.items,
                    &format!("ConfigMap {ns}/{}", s.name),
                )?;
                write_files(dir, files).await?;
            }
            None if s.optional == Some(true) => write_files(dir, Vec::new()).await?,
            None => return Err(format!("configmap {:?} not found", s.name)),
        }
        return Ok(dir.to_path_buf());
    }
    if let Some(s) = &v.secret {
        let api: Api<Secret> = Api::namespaced(client.clone(), ns);
        match api
            .get_opt(&s.secret_name)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(secret) => {
                let data = secret
                    .data
                    .iter()
                    .filter_map(|(k, _)| secret.decoded(k).ok().map(|b| (k.to_string(), b)))
                    .collect();
                let files = keyed_files(data, &s.items, &format!("Secret {ns}/{}", s.secret_name))?;
                write_files(dir, files).await?;
            }
            None if s.optional == Some(true) => write_files(dir, Vec::new()).await?,
            None => return Err(format!("secret {:?} not found", s.secret_name)),
        }
        return Ok(dir.to_path_buf());
    }
    if let Some(d) = &v.downward_api {
        let first = ctx.pod.spec.containers.first().cloned().unwrap_or_default();
        let mut files = Vec::new();
        for item in &d.items {
            let value = if let Some(f) = &item.field_ref {
                field_value(ctx, &f.field_path)?
            } else if let Some(r) = &item.resource_field_ref {
                resource_value(ctx, &first, r)?
            } else {
                String::new()
            };
            files.push((item.path.to_string(), value.into_bytes()));
        }
        write_files(dir, files).await?;
        return Ok(dir.to_path_buf());
    }
    if v.empty_dir.is_some() || v.source_count() == 0 {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io(e, dir))?;
        return Ok(dir.to_path_buf());
    }
    Err(format!(
        "volume type {:?} is not supported by this node",
        v.sources()
    ))
}

/// True when the pod has volumes that follow API objects.
pub(crate) fn has_synced_volumes(volumes: &[Volume]) -> bool {
    volumes
        .iter()
        .any(|v| v.config_map.is_some() || v.secret.is_some() || v.downward_api.is_some())
}

/// The mounts of a container.
pub(crate) fn mounts(container: &Container, paths: &VolumePaths) -> Result<Vec<Mount>, String> {
    container
        .volume_mounts
        .iter()
        .map(|m| {
            let base = paths
                .get(&m.name)
                .ok_or_else(|| format!("volume {:?} not found", m.name))?;
            let host = if m.sub_path.is_empty() {
                base.clone()
            } else {
                if Path::new(m.sub_path.as_str())
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return Err(format!("invalid subPath {:?}", m.sub_path));
                }
                base.join(m.sub_path.as_str())
            };
            Ok(Mount {
                container_path: m.mount_path.to_string(),
                host_path: host.display().to_string(),
                readonly: m.read_only,
            })
        })
        .collect()
}

/// Removes the pod's directory (its emptyDir, configMap, secret and
/// downwardAPI volumes).
pub(crate) async fn teardown(root: &Path, uid: &str) {
    let dir = pod_dir(root, uid);
    if tokio::fs::metadata(&dir).await.is_ok() {
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            tracing::warn!(dir = %dir.display(), error = %e, "removing the pod directory");
        }
    }
}
