//! Container runtime benchmarks: pod startup (sandbox + container created
//! and running) on `ProcessRuntime`, and with `--features test-util,cri` on
//! containerd through `CriRuntime`, with containerd's own figures beside it
//! (the same raw CRI calls without keelson, and `ctr run` without CRI).
//!
//! `cargo bench --bench runtime --features test-util,cri` (root: network
//! namespaces, containerd). Prints `bench <name>: <value> <unit>`.

use std::time::{Duration, Instant};

use keelson::runtime::{
    ContainerConfig, ContainerRuntime, ContainerState, ImageSpec, PodSandboxConfig, ProcessRuntime,
    ProcessRuntimeConfig,
};

const PODS: usize = 20;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i.min(samples.len() - 1)]
}

fn report(name: &str, samples: &mut [Duration]) {
    let p50 = percentile(samples, 0.5);
    let p99 = percentile(samples, 0.99);
    println!("bench {name}_p50: {:.1} ms", p50.as_secs_f64() * 1e3);
    println!("bench {name}_p99: {:.1} ms", p99.as_secs_f64() * 1e3);
}

fn pod(i: usize, logs: &std::path::Path) -> PodSandboxConfig {
    PodSandboxConfig {
        name: format!("bench-{i}"),
        namespace: "bench".into(),
        uid: format!("uid-bench-{i}-{}", fastrand::u32(..)),
        hostname: format!("bench-{i}"),
        log_directory: logs.display().to_string(),
        ..Default::default()
    }
}

fn sleeper(image: &str) -> ContainerConfig {
    ContainerConfig {
        name: "main".into(),
        image: ImageSpec::new(image),
        command: vec!["sleep".into(), "3600".into()],
        log_path: "main/0.log".into(),
        ..Default::default()
    }
}

/// Sandbox + container created and running, `PODS` times; then removes them.
async fn pod_startup<R: ContainerRuntime>(runtime: &R, image: &str) -> Vec<Duration> {
    let logs = tempfile::tempdir().unwrap();
    let mut samples = Vec::new();
    let mut sandboxes = Vec::new();
    for i in 0..PODS {
        let config = pod(i, logs.path());
        let started = Instant::now();
        let sandbox = runtime.run_pod_sandbox(&config).await.unwrap();
        let id = runtime
            .create_container(&sandbox, &sleeper(image), &config)
            .await
            .unwrap();
        runtime.start_container(&id).await.unwrap();
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(status.state, ContainerState::Running);
        samples.push(started.elapsed());
        sandboxes.push(sandbox);
    }
    for sandbox in sandboxes {
        runtime.stop_pod_sandbox(&sandbox).await.unwrap();
        runtime.remove_pod_sandbox(&sandbox).await.unwrap();
    }
    samples
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runtime = ProcessRuntime::new(ProcessRuntimeConfig::isolated()).unwrap();
    println!(
        "# process runtime: network namespaces {}, privileged {}",
        runtime.uses_network_namespaces(),
        runtime.is_privileged()
    );
    runtime
        .pull_image(&ImageSpec::new("busybox"))
        .await
        .unwrap();
    let mut samples = pod_startup(&runtime, "busybox").await;
    report("process_pod_startup", &mut samples);
    runtime.shutdown().await;

    let unprivileged = ProcessRuntime::new(ProcessRuntimeConfig::unprivileged()).unwrap();
    let mut samples = pod_startup(&unprivileged, "busybox").await;
    report("process_pod_startup_unprivileged", &mut samples);
    unprivileged.shutdown().await;

    #[cfg(feature = "cri")]
    cri::run().await;
}

#[cfg(feature = "cri")]
mod cri {
    use super::*;
    use k8s_cri::v1 as api;
    use keelson::runtime::cri_testing::{Containerd, BUSYBOX};

    /// The same pod through the generated CRI client alone.
    async fn raw_pod_startup(runtime: &keelson::runtime::CriRuntime) -> Vec<Duration> {
        let logs = tempfile::tempdir().unwrap();
        let mut client = runtime.runtime_client();
        let mut samples = Vec::new();
        let mut sandboxes = Vec::new();
        for i in 0..PODS {
            let config = api::PodSandboxConfig {
                metadata: Some(api::PodSandboxMetadata {
                    name: format!("raw-{i}"),
                    uid: format!("uid-raw-{i}-{}", fastrand::u32(..)),
                    namespace: "bench".into(),
                    attempt: 0,
                }),
                hostname: format!("raw-{i}"),
                log_directory: logs.path().display().to_string(),
                linux: Some(api::LinuxPodSandboxConfig::default()),
                ..Default::default()
            };
            let started = Instant::now();
            let sandbox = client
                .run_pod_sandbox(api::RunPodSandboxRequest {
                    config: Some(config.clone()),
                    runtime_handler: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .pod_sandbox_id;
            let container = client
                .create_container(api::CreateContainerRequest {
                    pod_sandbox_id: sandbox.clone(),
                    config: Some(api::ContainerConfig {
                        metadata: Some(api::ContainerMetadata {
                            name: "main".into(),
                            attempt: 0,
                        }),
                        image: Some(api::ImageSpec {
                            image: BUSYBOX.into(),
                            ..Default::default()
                        }),
                        command: vec!["sleep".into(), "3600".into()],
                        log_path: "main/0.log".into(),
                        ..Default::default()
                    }),
                    sandbox_config: Some(config),
                })
                .await
                .unwrap()
                .into_inner()
                .container_id;
            client
                .start_container(api::StartContainerRequest {
                    container_id: container,
                })
                .await
                .unwrap();
            samples.push(started.elapsed());
            sandboxes.push(sandbox);
        }
        for sandbox in sandboxes {
            runtime.stop_pod_sandbox(&sandbox).await.unwrap();
            runtime.remove_pod_sandbox(&sandbox).await.unwrap();
        }
        samples
    }

    pub async fn run() {
        let containerd = Containerd::start().await.unwrap();
        let runtime = containerd.runtime().await.unwrap();
        // Warm up (first sandbox unpacks the pause image's snapshot).
        let _ = pod_startup(&runtime, BUSYBOX).await;
        let mut samples = pod_startup(&runtime, BUSYBOX).await;
        report("cri_pod_startup", &mut samples);
        let mut samples = raw_pod_startup(&runtime).await;
        report("containerd_raw_cri_pod_startup", &mut samples);
        // containerd without CRI or CNI: `ctr run --rm` of a no-op container.
        let mut samples = Vec::new();
        for i in 0..PODS {
            let id = format!("ctr-bench-{i}");
            let started = Instant::now();
            containerd
                .ctr(&["run", "--rm", BUSYBOX, &id, "true"], None)
                .unwrap();
            samples.push(started.elapsed());
        }
        report("containerd_ctr_run_true", &mut samples);
        containerd.stop().await;
    }
}
