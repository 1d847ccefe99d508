use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use keelson::runtime::conformance::{self, Busybox, Capabilities};
use keelson::runtime::process::{BridgeConfig, NetworkMode};
use keelson::runtime::{
    ContainerConfig, ContainerRuntime, ContainerState, ImageSpec, Mount, PodSandboxConfig,
    ProcessRuntime, ProcessRuntimeConfig, Resources,
};

use super::{http_get, require};

fn privileged() -> ProcessRuntime {
    require("busybox", "busybox-static");
    require("ip", "iproute2");
    let runtime = ProcessRuntime::new(ProcessRuntimeConfig::isolated()).expect("ProcessRuntime");
    assert!(
        runtime.uses_network_namespaces() && runtime.is_privileged(),
        "these tests run as root (CI does); the unprivileged path has its own test"
    );
    runtime
}

fn unprivileged() -> ProcessRuntime {
    require("busybox", "busybox-static");
    let runtime =
        ProcessRuntime::new(ProcessRuntimeConfig::unprivileged()).expect("ProcessRuntime");
    assert!(!runtime.uses_network_namespaces() && !runtime.is_privileged());
    runtime
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_network_namespaces() {
    conformance::run(
        || async { privileged() },
        &Capabilities::all(),
        &Busybox::new("busybox"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_unprivileged_loopback() {
    conformance::run(
        || async { unprivileged() },
        &Capabilities::all(),
        &Busybox::new("busybox"),
    )
    .await;
}

fn web_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "served from a mounted directory\n",
    )
    .unwrap();
    dir
}

fn pod(name: &str, logs: &std::path::Path) -> PodSandboxConfig {
    PodSandboxConfig {
        name: name.into(),
        namespace: "default".into(),
        uid: format!("uid-{name}"),
        hostname: name.into(),
        log_directory: logs.display().to_string(),
        ..Default::default()
    }
}

/// Busybox httpd serving a mounted directory on the pod's own IP (a network
/// namespace on the runtime's bridge), reached from the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpd_pod_serves_a_mounted_directory_on_its_ip() {
    let runtime = privileged();
    let www = web_dir();
    let logs = tempfile::tempdir().unwrap();
    let pod = pod("web", logs.path());
    let sandbox = runtime.run_pod_sandbox(&pod).await.unwrap();
    let ip = runtime
        .pod_sandbox_status(&sandbox)
        .await
        .unwrap()
        .ip
        .unwrap();
    let config = ContainerConfig {
        name: "httpd".into(),
        image: ImageSpec::new("busybox"),
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
        resources: Resources {
            memory_limit_bytes: 64 << 20,
            cpu_limit_millis: 500,
            cpu_request_millis: 100,
        },
        ..Default::default()
    };
    let id = runtime
        .create_container(&sandbox, &config, &pod)
        .await
        .unwrap();
    runtime.start_container(&id).await.unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || {
        http_get(
            SocketAddr::new(ip, 80),
            "/index.html",
            Duration::from_secs(10),
        )
    })
    .await
    .unwrap();
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "served from a mounted directory\n");

    // exec sees the pod's network, hostname, root and mounts; writes to the
    // read-only mount fail.
    let exec = |script: &str| vec!["sh".to_string(), "-c".to_string(), script.to_string()];
    let out = runtime
        .exec_sync(&id, &exec("hostname; cat /www/index.html; ip -4 addr show eth0 | grep -c inet; touch /www/x || echo ro"), Duration::from_secs(10))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout, "web\nserved from a mounted directory\n1\nro\n",
        "{out:?}"
    );
    // The limits landed in the container's cgroups.
    let out = runtime
        .exec_sync(&id, &exec("cat /proc/self/cgroup"), Duration::from_secs(10))
        .await
        .unwrap();
    let cgroups = String::from_utf8_lossy(&out.stdout).into_owned();
    let memory = cgroups
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .expect("a memory cgroup");
    let limit = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes"
    ))
    .unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    let cpu = cgroups
        .lines()
        .find_map(|l| l.split_once(":cpu:").map(|(_, p)| p.to_string()))
        .expect("a cpu cgroup");
    let quota =
        std::fs::read_to_string(format!("/sys/fs/cgroup/cpu{cpu}/cpu.cfs_quota_us")).unwrap();
    assert_eq!(quota.trim(), "50000");

    // httpd -v logs the request to stderr, in CRI format.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let logs = conformance::read_logs(&runtime, &id).await;
        if logs.contains("response:200") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "httpd logs: {logs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The pod's own namespace (named after its sandbox id), not a count:
    // other tests make and delete theirs meanwhile.
    let netns = format!("/run/netns/keelson-{}", &sandbox[..12]);
    assert!(std::path::Path::new(&netns).exists(), "{netns}");
    runtime.remove_pod_sandbox(&sandbox).await.unwrap();
    assert!(
        !std::path::Path::new(&netns).exists(),
        "the pod's network namespace {netns} is deleted"
    );
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory{memory}")).exists());
    runtime.shutdown().await;
}

/// Two pods get distinct IPs and reach each other across the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_reach_each_other_and_shutdown_leaves_nothing() {
    let bridge = BridgeConfig::unique();
    let runtime = ProcessRuntime::new(ProcessRuntimeConfig {
        network: NetworkMode::Bridge(bridge.clone()),
        ..Default::default()
    })
    .unwrap();
    let www = web_dir();
    let logs = tempfile::tempdir().unwrap();
    let server_pod = pod("server", logs.path());
    let server = runtime.run_pod_sandbox(&server_pod).await.unwrap();
    let server_ip = runtime
        .pod_sandbox_status(&server)
        .await
        .unwrap()
        .ip
        .unwrap();
    let config = ContainerConfig {
        name: "httpd".into(),
        image: ImageSpec::new("busybox"),
        command: vec![
            "httpd".into(),
            "-f".into(),
            "-p".into(),
            "8080".into(),
            "-h".into(),
            "/www".into(),
        ],
        mounts: vec![Mount {
            container_path: "/www".into(),
            host_path: www.path().display().to_string(),
            readonly: false,
        }],
        ..Default::default()
    };
    let httpd = runtime
        .create_container(&server, &config, &server_pod)
        .await
        .unwrap();
    runtime.start_container(&httpd).await.unwrap();
    tokio::task::spawn_blocking(move || {
        http_get(
            SocketAddr::new(server_ip, 8080),
            "/",
            Duration::from_secs(10),
        )
    })
    .await
    .unwrap();
    let client_pod = pod("client", logs.path());
    let client = runtime.run_pod_sandbox(&client_pod).await.unwrap();
    let client_ip = runtime
        .pod_sandbox_status(&client)
        .await
        .unwrap()
        .ip
        .unwrap();
    assert_ne!(client_ip, server_ip);
    let wget = ContainerConfig {
        name: "wget".into(),
        image: ImageSpec::new("busybox"),
        command: vec![
            "wget".into(),
            "-q".into(),
            "-O".into(),
            "-".into(),
            format!("http://{server_ip}:8080/index.html"),
        ],
        ..Default::default()
    };
    let id = runtime
        .create_container(&client, &wget, &client_pod)
        .await
        .unwrap();
    runtime.start_container(&id).await.unwrap();
    let done = conformance::wait_for_state(
        &runtime,
        &id,
        ContainerState::Exited,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        done.exit_code,
        Some(0),
        "{done:?}: {}",
        conformance::read_logs(&runtime, &id).await
    );
    assert_eq!(
        conformance::read_logs(&runtime, &id).await,
        "served from a mounted directory\n"
    );

    runtime.shutdown().await;
    assert!(
        !std::path::Path::new("/sys/class/net")
            .join(&bridge.bridge)
            .exists(),
        "bridge deleted"
    );
    let leftovers: Vec<_> = std::fs::read_dir("/run/netns")
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    for name in [&server, &client] {
        assert!(
            !leftovers
                .iter()
                .any(|n| n.to_string_lossy().contains(&name[..12])),
            "{leftovers:?}"
        );
    }
    drop(runtime);
}

/// Unprivileged: loopback pod IPs in POD_IP, mounts through KEELSON_ROOT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_pod_serves_on_its_loopback_ip() {
    let runtime = unprivileged();
    let www = web_dir();
    let logs = tempfile::tempdir().unwrap();
    let pod_a = pod("a", logs.path());
    let a = runtime.run_pod_sandbox(&pod_a).await.unwrap();
    let b = runtime
        .run_pod_sandbox(&pod("b", logs.path()))
        .await
        .unwrap();
    let ip = runtime.pod_sandbox_status(&a).await.unwrap().ip.unwrap();
    let ip_b = runtime.pod_sandbox_status(&b).await.unwrap().ip.unwrap();
    assert_ne!(ip, ip_b);
    assert!(matches!(ip, IpAddr::V4(v4) if v4.is_loopback()), "{ip}");
    let config = ContainerConfig {
        name: "httpd".into(),
        image: ImageSpec::new("busybox"),
        command: vec!["sh".into(), "-c".into()],
        args: vec!["exec httpd -f -p $POD_IP:18080 -h $KEELSON_ROOT/www".into()],
        mounts: vec![Mount {
            container_path: "/www".into(),
            host_path: www.path().display().to_string(),
            readonly: true,
        }],
        labels: BTreeMap::from([("app".into(), "web".into())]),
        ..Default::default()
    };
    let id = runtime.create_container(&a, &config, &pod_a).await.unwrap();
    runtime.start_container(&id).await.unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || {
        http_get(
            SocketAddr::new(ip, 18080),
            "/index.html",
            Duration::from_secs(10),
        )
    })
    .await
    .unwrap();
    assert!(
        status.contains("200"),
        "{status}: {}",
        conformance::read_logs(&runtime, &id).await
    );
    assert_eq!(body, "served from a mounted directory\n");
    let out = runtime
        .exec_sync(
            &id,
            &[
                "sh".into(),
                "-c".into(),
                "echo $POD_IP; cat www/index.html".into(),
            ],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{ip}\nserved from a mounted directory\n")
    );
    runtime.shutdown().await;
}
