use std::net::SocketAddr;
use std::time::Duration;

use keelson::runtime::conformance::{self, Busybox, Capabilities};
use keelson::runtime::cri_testing::{Containerd, BUSYBOX};
use keelson::runtime::{
    ContainerConfig, ContainerRuntime, ContainerState, Error, ImageSpec, Mount, PodSandboxConfig,
};

use super::http_get;

async fn containerd() -> Containerd {
    Containerd::start()
        .await
        .unwrap_or_else(|e| panic!("starting a private containerd: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_containerd() {
    let containerd = containerd().await;
    let runtime = containerd.runtime().await.unwrap();
    let version = runtime.version().await.unwrap();
    assert_eq!(version.runtime_name, "containerd");
    conformance::run(
        || {
            let runtime = runtime.clone();
            async move { runtime }
        },
        &Capabilities::all(),
        &Busybox::new(BUSYBOX),
    )
    .await;
    match runtime.container_status("no-such-container").await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    containerd.stop().await;
}

/// Busybox httpd in containerd serves a mounted directory on the pod's CNI
/// IP, reached from the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpd_pod_on_containerd_serves_a_mounted_directory() {
    let containerd = containerd().await;
    let runtime = containerd.runtime().await.unwrap();
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "served by containerd\n").unwrap();
    let logs = tempfile::tempdir().unwrap();
    let pod = PodSandboxConfig {
        name: "web".into(),
        namespace: "default".into(),
        uid: "uid-web".into(),
        hostname: "web".into(),
        log_directory: logs.path().display().to_string(),
        ..Default::default()
    };
    let sandbox = runtime.run_pod_sandbox(&pod).await.unwrap();
    let ip = runtime
        .pod_sandbox_status(&sandbox)
        .await
        .unwrap()
        .ip
        .expect("a pod IP");
    let (_, subnet) = containerd.network();
    assert_eq!(
        ip.to_string().rsplit_once('.').unwrap().0,
        subnet.to_string().rsplit_once('.').unwrap().0
    );
    let config = ContainerConfig {
        name: "httpd".into(),
        image: ImageSpec::new(BUSYBOX),
        command: vec![
            "httpd".into(),
            "-f".into(),
            "-v".into(),
            "-p".into(),
            "80".into(),
            "-h".into(),
            "/www".into(),
        ],
        mounts: vec![Mount {
            container_path: "/www".into(),
            host_path: www.path().display().to_string(),
            readonly: true,
        }],
        log_path: "httpd/0.log".into(),
        ..Default::default()
    };
    let id = runtime
        .create_container(&sandbox, &config, &pod)
        .await
        .unwrap();
    runtime.start_container(&id).await.unwrap();
    conformance::wait_for_state(
        &runtime,
        &id,
        ContainerState::Running,
        Duration::from_secs(20),
    )
    .await;
    let (status, body) = tokio::task::spawn_blocking(move || {
        http_get(
            SocketAddr::new(ip, 80),
            "/index.html",
            Duration::from_secs(15),
        )
    })
    .await
    .unwrap();
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "served by containerd\n");
    let out = runtime
        .exec_sync(&id, &["hostname".into()], Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "web\n");
    runtime
        .stop_container(&id, Duration::from_secs(2))
        .await
        .unwrap();
    runtime.remove_pod_sandbox(&sandbox).await.unwrap();
    containerd.stop().await;
}
