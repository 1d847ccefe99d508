//! `kubectl logs` over the HTTP server reaches the node agent (real
//! kubectl, real time).
use std::process::Command;
use std::time::Duration;

use keelson::apiserver::ApiServer;
use keelson::http::{write_kubeconfig, HttpServer};
use keelson::runtime::fake::Behavior;
use keelson::runtime::FakeRuntime;

use super::{config, pod, running, Node};

const KUBECTL: &str = "/usr/bin/kubectl";

async fn kubectl(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(KUBECTL);
    cmd.arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("running {KUBECTL}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn kubectl_logs_reaches_the_agent() {
    let server = ApiServer::in_memory().await.unwrap();
    let serving = HttpServer::new(&server)
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_kubeconfig(&dir.path().join("kubeconfig"), &serving.url(), "keelson").unwrap();
    let runtime =
        FakeRuntime::new().script("talker", Behavior::run_forever().log("hello").log("world"));
    let node = Node::start_on(
        server,
        config().sync_period(Duration::from_millis(50)),
        runtime,
    )
    .await;
    node.create(pod("talk", &[("talker", "talker")])).await;
    node.create(pod("pair", &[("a", "talker"), ("b", "talker")]))
        .await;
    node.wait("talk", "Running", running).await;
    node.wait("pair", "Running", running).await;

    let (ok, out, err) = kubectl(dir.path(), &["logs", "talk"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "hello\nworld\n");
    let (ok, out, err) = kubectl(dir.path(), &["logs", "talk", "--tail=1"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "world\n");
    let (ok, out, err) = kubectl(dir.path(), &["logs", "pair", "-c", "b"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "hello\nworld\n");
    // The API's 400 for an unnamed container of a two-container pod;
    // kubectl itself would pick the default container, so ask raw.
    let (ok, _, err) = kubectl(
        dir.path(),
        &["get", "--raw", "/api/v1/namespaces/default/pods/pair/log"],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("a container name must be specified"), "{err}");
    node.shutdown().await;
    serving.shutdown().await;
}
