//! Request bodies in YAML: create and server-side apply, and syntax errors
//! that name the line.

use super::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_request_bodies() {
    let c = Cluster::start().await;
    let status = |body: &[u8]| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
        v
    };
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n  labels: {app: web}\ndata:\n  enabled: 'yes'\n  mode: \"0644\"\n";
    let (code, _, body) = c
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "Content-Type: application/yaml\r\n",
            yaml,
        )
        .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    let v = status(&body);
    assert_eq!(v["data"]["enabled"], "yes");
    assert_eq!(v["data"]["mode"], "0644");
    assert_eq!(v["metadata"]["labels"]["app"], "web");

    // YAML 1.1 booleans are booleans, as in Kubernetes: a type error.
    let (code, _, body) = c
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "Content-Type: application/yaml\r\n",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typed\ndata:\n  enabled: yes\n",
        )
        .await;
    let v = status(&body);
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["kind"], "Status");
    assert!(v["message"].as_str().unwrap_or("").contains("data"), "{v}");

    // A syntax error names the line.
    let (code, _, body) = c
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "Content-Type: application/yaml\r\n",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n",
        )
        .await;
    let v = status(&body);
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["reason"], "BadRequest");
    assert!(v["message"].as_str().unwrap_or("").contains("line"), "{v}");
    // Nothing was stored by the rejected requests.
    let (code, _, _) = c
        .http(
            "GET",
            "/api/v1/namespaces/default/configmaps/typed",
            "",
            b"",
        )
        .await;
    assert_eq!(code, 404);

    // Server-side apply with a YAML body creates, then updates.
    let apply = |replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.27\n"
        )
    };
    for (replicas, want) in [(2, 201), (4, 200)] {
        let (code, _, body) = c
            .http(
                "PATCH",
                "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=yaml-test",
                "Content-Type: application/apply-patch+yaml\r\n",
                apply(replicas).as_bytes(),
            )
            .await;
        let v = status(&body);
        assert_eq!(code, want, "{v}");
        assert_eq!(v["spec"]["replicas"], replicas, "{v}");
    }
    c.serving.shutdown().await;
}
