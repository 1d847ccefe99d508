//! Static pods: pods from manifest files in a directory, run by the agent
//! without the API, and mirrored to it (read-only copies, annotated
//! `kubernetes.io/config.mirror`) so that the cluster sees them.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::worker::StaticPod;
use super::{Shared, MIRROR_ANNOTATION, SOURCE_ANNOTATION};
use crate::api::core::Pod;
use crate::api::manifest::Loader;
use crate::api::scheme::Scheme;
use crate::api::Str;
use crate::client::Api;

/// FNV-1a, for uids and the mirror hash.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The pods of one manifest file, as the node runs them.
fn load(node: &str, file: &str, bytes: &[u8]) -> Vec<Pod> {
    let loader = Loader::new(Scheme::builtin());
    let mut out = Vec::new();
    for loaded in loader.load_bytes(bytes) {
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(file, error = %e, "reading a static pod manifest");
                continue;
            }
        };
        let Some(pod) = loaded.object.as_any().downcast_ref::<Pod>() else {
            tracing::warn!(
                file,
                "a static pod manifest holds something other than a Pod"
            );
            continue;
        };
        let mut pod = pod.clone();
        crate::api::Resource::apply_defaults(&mut pod);
        let h = hash(&serde_json::to_vec(&pod).unwrap_or_default()) ^ hash(node.as_bytes());
        pod.metadata.name = Str::from(format!("{}-{node}", pod.metadata.name));
        if pod.metadata.namespace.is_empty() {
            pod.metadata.namespace = Str::from_static("default");
        }
        let hex = format!("{h:016x}{:016x}", hash(file.as_bytes()));
        pod.metadata.uid = Str::from(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ));
        pod.metadata
            .annotations
            .insert("kubernetes.io/config.hash", format!("{h:016x}"));
        pod.metadata.annotations.insert(SOURCE_ANNOTATION, "file");
        pod.spec.node_name = Str::from(node);
        out.push(pod);
    }
    out
}

/// Creates the mirror pod when it is missing.
async fn mirror(shared: &Shared, pod: &Pod) {
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &pod.metadata.namespace);
    match api.get_opt(&pod.metadata.name).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let mut m = pod.clone();
            m.metadata.uid = Str::default();
            m.metadata.resource_version = Str::default();
            let hash = pod
                .metadata
                .annotations
                .get_str("kubernetes.io/config.hash")
                .unwrap_or_default()
                .to_string();
            m.metadata.annotations.insert(MIRROR_ANNOTATION, hash);
            m.status = Default::default();
            if let Err(e) = api.create(&m).await {
                if !e.is_already_exists() {
                    tracing::warn!(pod = %pod.metadata.name, error = %e, "creating a mirror pod");
                }
            }
        }
        Err(e) => tracing::warn!(pod = %pod.metadata.name, error = %e, "reading a mirror pod"),
    }
}

/// Reads `dir` every [`Config::static_pod_interval`](super::Config::static_pod_interval),
/// tells the agent what to run, and keeps the mirror pods present.
pub(crate) async fn run(shared: Arc<Shared>, dir: PathBuf, tx: mpsc::UnboundedSender<StaticPod>) {
    let node = shared.config.node_name.to_string();
    let mut running: HashMap<Str, Arc<Pod>> = HashMap::new();
    loop {
        let mut seen: HashMap<Str, Arc<Pod>> = HashMap::new();
        match tokio::fs::read_dir(&dir).await {
            Ok(mut entries) => {
                while let Ok(Some(entry)) = entries.next_entry().await {
                    let path = entry.path();
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if name.starts_with('.')
                        || !(name.ends_with(".yaml")
                            || name.ends_with(".yml")
                            || name.ends_with(".json"))
                    {
                        continue;
                    }
                    let Ok(bytes) = tokio::fs::read(&path).await else {
                        continue;
                    };
                    for pod in load(&node, &name, &bytes) {
                        seen.insert(pod.metadata.uid.clone(), Arc::new(pod));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "reading the static pod directory")
            }
        }
        for (uid, pod) in &seen {
            mirror(&shared, pod).await;
            if !running.contains_key(uid) && tx.send(StaticPod::Upsert(pod.clone())).is_err() {
                return;
            }
        }
        for uid in running.keys() {
            if !seen.contains_key(uid) && tx.send(StaticPod::Remove(uid.clone())).is_err() {
                return;
            }
        }
        running = seen;
        tokio::time::sleep(shared.config.static_pod_interval).await;
    }
}
