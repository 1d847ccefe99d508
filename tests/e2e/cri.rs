//! The walkthrough on containerd: `cluster --runtime cri` against a
//! containerd of the test's own (`runtime::cri_testing::Containerd`), with
//! the seed images built as real OCI images ([`super::oci`]) and imported
//! with `ctr images import`.
//!
//! Needs root and containerd, runc and the CNI plugins (`.ci/run` installs
//! them); without them the test says why and passes without running.
//!
//! One difference from the seed manifests, because no registry is
//! reachable: `luksa/batch-job` names no tag, so Kubernetes defaults its
//! `imagePullPolicy` to `Always`, and containerd would try docker.io. The
//! test runs the seed Job with `imagePullPolicy: IfNotPresent` added, as one
//! would on an air-gapped cluster with preloaded images.

use std::path::Path;

use keelson::runtime::cri_testing::Containerd;

use super::{oci, seeds, walkthrough, Cluster, Flavour};

/// Why the test cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (containerd and runc need it)".into());
    }
    for (path, package) in [
        ("/usr/bin/containerd", "containerd"),
        ("/usr/sbin/runc", "runc"),
        ("/usr/lib/cni/bridge", "containernetworking-plugins"),
    ] {
        if !Path::new(path).exists() {
            return Some(format!("{path} is missing (apt-get install -y {package})"));
        }
    }
    None
}

/// Every container in containerd's `k8s.io` namespace (`ID IMAGE RUNTIME`),
/// every running task, and every process running the demo binary from an
/// image.
fn containers(containerd: &Containerd) -> Vec<String> {
    let mut found = Vec::new();
    match containerd.ctr(&["containers", "ls"], None) {
        Ok(out) => found.extend(out.lines().skip(1).map(|l| format!("container {l}"))),
        Err(e) => found.push(format!("ctr containers ls failed: {e}")),
    }
    match containerd.ctr(&["tasks", "ls"], None) {
        Ok(out) => found.extend(
            out.lines()
                .skip(1)
                .filter(|l| l.contains("RUNNING"))
                .map(|l| format!("task {l}")),
        ),
        Err(e) => found.push(format!("ctr tasks ls failed: {e}")),
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if args.first().is_some_and(|a| a == oci::BINARY) {
                found.push(format!("process {}", args.join(" ")));
            }
        }
    }
    found
}

#[test]
fn walkthrough_on_containerd() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipping the containerd walkthrough: {why}");
        return;
    }
    let tokio = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let containerd = tokio
        .block_on(Containerd::start())
        .expect("starting a private containerd");
    let work = tempfile::tempdir().expect("temp dir");
    let binary = super::cluster_binary();
    let archive = oci::archive(work.path(), &binary).expect("building the demo images");
    containerd
        .ctr(&["images", "import"], Some(&archive))
        .expect("importing the demo images");
    let images = containerd
        .ctr(&["images", "ls", "-q"], None)
        .unwrap_or_default();
    for (name, _) in oci::IMAGES {
        assert!(
            images.lines().any(|l| l.trim() == *name),
            "{name} was not imported: {images}"
        );
    }

    let job = seeds().join("05-job-batch-job.yaml");
    let manifest = std::fs::read_to_string(&job).expect("the seed Job");
    let patched = manifest.replace(
        "image: luksa/batch-job\n",
        "image: luksa/batch-job\n        imagePullPolicy: IfNotPresent\n",
    );
    assert_ne!(patched, manifest, "the seed Job names luksa/batch-job");
    let job = work.path().join("batch-job.yaml");
    std::fs::write(&job, patched).expect("writing the Job");

    // "10.201.0.0" → "10.201.0.": the pods get their IPs from containerd's
    // CNI bridge, not from the process runtime's.
    let (_, subnet) = containerd.network();
    let subnet = subnet.to_string();
    let subnet_prefix = subnet.trim_end_matches('0').to_string();
    let before = containers(&containerd);
    assert!(
        before.iter().all(|l| !l.starts_with("container")),
        "a fresh containerd holds no containers: {before:?}"
    );
    walkthrough(Flavour {
        runtime: "cri",
        extra: vec![
            "--cri-socket".into(),
            containerd.socket().display().to_string(),
        ],
        http: true,
        job,
        pod_ip_prefix: Some(subnet_prefix),
        containers: Box::new(|_: &Cluster| containers(&containerd)),
    });
    tokio.block_on(containerd.stop());
}
