//! The HTTP server against the real kubectl (`/usr/bin/kubectl`, with a
//! fresh `--cache-dir` and a written kubeconfig) and against raw HTTP
//! requests.

mod bodies;
mod fuzz;
mod kube_rs;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use keelson::apiserver::ApiServer;
use keelson::http::{write_kubeconfig, HttpServer, Serving};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KUBECTL: &str = "/usr/bin/kubectl";

struct Cluster {
    _api: ApiServer,
    serving: Serving,
    dir: tempfile::TempDir,
}

/// A running controller manager ([`Cluster::controllers`]).
struct Controllers {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Controllers {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Cluster {
    async fn start() -> Cluster {
        let api = ApiServer::in_memory().await.expect("api server");
        let serving = HttpServer::new(&api)
            .bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let dir = tempfile::tempdir().expect("tempdir");
        write_kubeconfig(&dir.path().join("kubeconfig"), &serving.url(), "keelson")
            .expect("kubeconfig");
        Cluster {
            _api: api,
            serving,
            dir,
        }
    }

    /// keelson's controller manager on this cluster's API, until stopped.
    fn controllers(&self) -> Controllers {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let client = keelson::client::LocalClient::new(&self._api);
        let task = tokio::spawn(
            keelson::controllers::ControllerManager::new(&client).run(async {
                let _ = stopped.await;
            }),
        );
        Controllers { stop, task }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// Runs kubectl (off the async runtime): (success, stdout, stderr).
    async fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(KUBECTL);
        cmd.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .unwrap_or_else(|e| panic!("running {KUBECTL}: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl(args).await;
        assert!(ok, "kubectl {args:?} failed:\n{out}\n{err}");
        out
    }

    async fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl(args).await;
        assert!(!ok, "kubectl {args:?} succeeded:\n{out}");
        err
    }

    /// One raw HTTP/1.1 request: (status code, headers, body).
    async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let mut s = tokio::net::TcpStream::connect(self.serving.local_addr())
            .await
            .expect("connect");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.expect("write");
        // A server may answer (413) before the body is sent and close.
        let _ = s.write_all(body).await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status code");
        (code, head, buf[split + 4..].to_vec())
    }
}

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/manifests/seeds")
        .join(name)
}

fn seed_str(name: &str) -> String {
    seed(name).to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovery_and_create() {
    let c = Cluster::start().await;
    let out = c.ok(&["version"]).await;
    assert!(out.contains("Server Version: v1.32"), "{out}");
    let out = c.ok(&["api-resources"]).await;
    for line in [
        "pods",
        "po",
        "deployments",
        "deploy",
        "customresourcedefinitions",
    ] {
        assert!(out.contains(line), "api-resources lacks {line}:\n{out}");
    }
    for f in [
        "02-pod-kubia-manual.yaml",
        "26-deployment-kubia.yaml",
        "07-service-kubia.yaml",
        "47-configmap-myconfig.yaml",
        "49-deployment-nginx-nfs.yaml",
    ] {
        c.ok(&["create", "-f", &seed_str(f)]).await;
    }
    let out = c.ok(&["get", "pods", "-o", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["items"][0]["metadata"]["name"], "kubia-manual");
    let out = c.ok(&["get", "pv,pvc,deploy", "-o", "name"]).await;
    for n in [
        "persistentvolume/my-pv",
        "persistentvolumeclaim/my-pvc",
        "deployment.apps/nginx-nfs",
        "deployment.apps/kubia",
    ] {
        assert!(out.contains(n), "{n} missing:\n{out}");
    }
    let out = c.ok(&["get", "svc", "kubia", "-o", "yaml"]).await;
    assert!(out.contains("clusterIP: 10."), "{out}");
    let out = c.ok(&["get", "pods", "-A", "--show-labels"]).await;
    assert!(out.contains("kubia-manual"), "{out}");
    let out = c
        .ok(&["get", "pods", "-l", "app=nothing", "-n", "default"])
        .await;
    assert!(!out.contains("kubia-manual"), "{out}");

    // Errors carry the server's message.
    let err = c
        .fails(&["create", "-f", &seed_str("45-pod-myPod.yaml")])
        .await;
    assert!(
        err.contains("metadata.name: Invalid value: \"myPod\""),
        "{err}"
    );
    let err = c
        .fails(&["create", "-f", &seed_str("43-ingress-example-ingress.yaml")])
        .await;
    assert!(
        err.contains("no matches for kind \"Ingress\" in version \"networking.k8s.io/v1beta1\""),
        "{err}"
    );
    let err = c
        .fails(&["create", "-f", &seed_str("48-deployment-nginx-nfs.yaml")])
        .await;
    assert!(err.contains("line 28"), "{err}");
    let err = c
        .fails(&["create", "-f", &seed_str("02-pod-kubia-manual.yaml")])
        .await;
    assert!(err.contains("AlreadyExists"), "{err}");
    let bad = c.file(
        "unknown-field.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ncolour: blue\n",
    );
    let err = c.fails(&["create", "-f", &bad.to_string_lossy()]).await;
    assert!(err.contains("unknown field \"colour\""), "{err}");
    c.serving.shutdown().await;
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env:
        - {name: A, value: \"1\"}
      - name: sidecar
        image: busybox:1.36
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_edit_and_workload_commands() {
    let c = Cluster::start().await;
    let f = c.file("d.yaml", DEPLOYMENT);
    let path = f.to_string_lossy().into_owned();
    assert!(c.ok(&["apply", "-f", &path]).await.contains("created"));
    // Edit and apply again: a strategic merge patch computed by kubectl.
    c.file(
        "d.yaml",
        &DEPLOYMENT
            .replace("nginx:1.25", "nginx:1.26")
            .replace("replicas: 2", "replicas: 3"),
    );
    assert!(c.ok(&["apply", "-f", &path]).await.contains("configured"));
    let out = c
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[1].name} {.metadata.generation}",
        ])
        .await;
    assert_eq!(out, "3 nginx:1.26 sidecar 2");
    let out = c.ok(&["apply", "--server-side", "-f", &path]).await;
    assert!(out.contains("serverside-applied"), "{out}");
    let out = c
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert!(out.contains("kubectl"), "{out}");

    c.ok(&["label", "deploy", "web", "tier=frontend"]).await;
    c.ok(&["annotate", "deploy", "web", "note=hello"]).await;
    c.ok(&["scale", "deployment", "web", "--replicas=5"]).await;
    c.ok(&["set", "image", "deployment/web", "web=nginx:1.27"])
        .await;
    let out = c
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.labels.tier} {.metadata.annotations.note} {.spec.replicas} {.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(out, "frontend hello 5 nginx:1.27");
    let out = c
        .ok(&["get", "deploy", "-l", "tier=frontend", "--show-labels"])
        .await;
    assert!(out.contains("tier=frontend"), "{out}");
    let out = c.ok(&["describe", "deploy", "web"]).await;
    assert!(
        out.contains("Replicas:") && out.contains("nginx:1.27"),
        "{out}"
    );

    // Orphan propagation leaves the `orphan` finalizer for the garbage
    // collector; without one running, kubectl must not wait for it.
    let out = c
        .ok(&[
            "delete",
            "deploy",
            "web",
            "--cascade=orphan",
            "--wait=false",
        ])
        .await;
    assert!(out.contains("deleted"), "{out}");
    let out = c
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(out.starts_with("[\"orphan\"] 20"), "{out}");
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    let (ok, _, err) = c.kubectl(&["get", "deploy", "web"]).await;
    assert!(!ok && err.contains("NotFound"), "{err}");
    c.serving.shutdown().await;
}

/// With the controller manager beside the server (as `examples/apiserver`
/// runs it): kubectl's Deployment commands drive real ReplicaSets and
/// Pods, `rollout undo` goes back a revision, and deletes cascade (or
/// orphan) through the garbage collector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drives_the_controllers() {
    let c = Cluster::start().await;
    let controllers = c.controllers();
    let seed26 = seed_str("26-deployment-kubia.yaml");
    c.ok(&["apply", "-f", &seed26]).await;
    let pods_of = || async {
        c.ok(&["get", "pods", "-l", "app=kubia", "-o", "name"])
            .await
            .lines()
            .count()
    };
    until_ok("3 kubia pods", pods_of, |n| *n == 3).await;
    c.ok(&["scale", "deployment", "kubia", "--replicas=4"])
        .await;
    until_ok("4 kubia pods", pods_of, |n| *n == 4).await;

    // A new template makes a second ReplicaSet, revision 2.
    c.ok(&["set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2"])
        .await;
    let rs_images = || async {
        c.ok(&[
            "get",
            "rs",
            "-l",
            "app=kubia",
            "-o",
            "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.template.spec.containers[0].image} {end}",
        ])
        .await
    };
    until_ok("a revision-2 ReplicaSet", rs_images, |out: &String| {
        out.contains("2=luksa/kubia:v2") && out.contains("1=luksa/kubia:v1")
    })
    .await;
    let history = c.ok(&["rollout", "history", "deployment/kubia"]).await;
    assert!(history.contains('1') && history.contains('2'), "{history}");
    // Undo: the v1 ReplicaSet comes back as revision 3.
    c.ok(&["rollout", "undo", "deployment/kubia"]).await;
    until_ok(
        "the v1 ReplicaSet is revision 3",
        rs_images,
        |out: &String| out.contains("3=luksa/kubia:v1"),
    )
    .await;

    // Orphan: the ReplicaSets stay, without their owner.
    c.ok(&["delete", "deployment", "kubia", "--cascade=orphan"])
        .await;
    let owners = c
        .ok(&[
            "get",
            "rs",
            "-l",
            "app=kubia",
            "-o",
            "jsonpath={range .items[*]}[{.metadata.ownerReferences}]{end}",
        ])
        .await;
    assert_eq!(owners, "[][]", "{owners}");
    // Background (kubectl's default): a ReplicaSet takes its pods along.
    let sets = c.ok(&["get", "rs", "-l", "app=kubia", "-o", "name"]).await;
    for rs in sets.lines() {
        c.ok(&["delete", rs]).await;
    }
    until_ok("no kubia pods", pods_of, |n| *n == 0).await;
    controllers.stop().await;
    c.serving.shutdown().await;
}

/// Polls `get` until `done` holds for its value (20 s at most).
async fn until_ok<T: std::fmt::Debug, F, Fut>(what: &str, mut get: F, done: impl Fn(&T) -> bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = get().await;
        if done(&v) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_watch_sees_added_and_deleted() {
    let c = Cluster::start().await;
    let mut cmd = tokio::process::Command::new(KUBECTL);
    cmd.arg("--kubeconfig")
        .arg(c.dir.path().join("kubeconfig"))
        .arg("--cache-dir")
        .arg(c.dir.path().join("cache-watch"))
        .args(["get", "pods", "-w", "--output-watch-events", "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("kubectl get -w");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.ok(&["run", "w1", "--image=nginx"]).await;
    c.ok(&["delete", "pod", "w1", "--grace-period=0", "--force"])
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let _ = child.start_kill();
    let out = child.wait_with_output().await.expect("output");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains(r#""type":"ADDED""#) && out.contains(r#""name":"w1""#),
        "{out}"
    );
    assert!(out.contains(r#""type":"DELETED""#), "{out}");
    c.serving.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http_statuses() {
    let c = Cluster::start().await;
    let (code, _, body) = c.http("GET", "/readyz", "", b"").await;
    assert_eq!((code, body.as_slice()), (200, b"ok".as_slice()));

    let status = |body: &[u8]| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_slice(body).expect("a Status");
        assert_eq!(v["kind"], "Status", "{v}");
        v
    };
    let (code, _, body) = c
        .http("GET", "/api/v1/namespaces/default/pods/nope", "", b"")
        .await;
    assert_eq!(code, 404);
    assert_eq!(status(&body)["reason"], "NotFound");
    let (code, _, body) = c.http("GET", "/no/such/path", "", b"").await;
    assert_eq!(code, 404);
    status(&body);
    let (code, _, body) = c
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "Content-Type: application/json\r\n",
            b"{not json",
        )
        .await;
    assert_eq!(code, 400);
    assert_eq!(status(&body)["reason"], "BadRequest");
    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    let (code, _, body) = c
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "Content-Type: application/json\r\n",
            &big,
        )
        .await;
    assert_eq!(code, 413);
    assert_eq!(status(&body)["reason"], "RequestEntityTooLarge");
    let (code, _, body) = c
        .http("GET", "/api/v1/pods?limit=notanumber", "", b"")
        .await;
    assert_eq!(code, 400);
    status(&body);

    // Warn: the unknown field comes back as a Warning header.
    let (code, head, _) = c
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps?fieldValidation=Warn",
            "Content-Type: application/json\r\n",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"},"colour":"x"}"#,
        )
        .await;
    assert_eq!(code, 201, "{head}");
    assert!(
        head.to_lowercase()
            .contains("warning: 299 - \"unknown field \\\"colour\\\"\""),
        "{head}"
    );

    // A watch: one JSON event per line.
    let (code, _, body) = c
        .http(
            "GET",
            "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1",
            "",
            b"",
        )
        .await;
    assert_eq!(code, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(
            "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\""
        ),
        "{text}"
    );

    let (code, _, body) = c.http("GET", "/metrics", "", b"").await;
    assert_eq!(code, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(
            "apiserver_request_total{verb=\"POST\",resource=\"configmaps\",code=\"201\"} 1"
        ),
        "{text}"
    );
    c.serving.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_generators_send_protobuf() {
    let c = Cluster::start().await;
    // These commands use client-go's typed clients, which send protobuf.
    c.ok(&["create", "namespace", "custom-namespace"]).await;
    c.ok(&[
        "create",
        "configmap",
        "fortunes-config",
        "--from-literal=sleep-interval=25",
        "-n",
        "custom-namespace",
    ])
    .await;
    let key = c.file("https.key", "not really a key\n");
    c.ok(&[
        "create",
        "secret",
        "generic",
        "fortune-https",
        &format!("--from-file={}", key.display()),
    ])
    .await;
    c.ok(&["create", "serviceaccount", "foo"]).await;
    let out = c
        .ok(&[
            "get",
            "cm",
            "fortunes-config",
            "-n",
            "custom-namespace",
            "-o",
            "jsonpath={.data.sleep-interval}",
        ])
        .await;
    assert_eq!(out, "25");
    let out = c
        .ok(&[
            "get",
            "secret",
            "fortune-https",
            "-o",
            "jsonpath={.data.https\\.key} {.type}",
        ])
        .await;
    assert_eq!(out, "bm90IHJlYWxseSBhIGtleQo= Opaque");
    let out = c.ok(&["get", "ns", "custom-namespace"]).await;
    assert!(out.contains("custom-namespace   Active"), "{out}");
    let out = c.ok(&["get", "sa", "foo", "-o", "name"]).await;
    assert_eq!(out.trim(), "serviceaccount/foo");

    // Workload and policy generators: every kind's message table, pointer
    // zeros (`--replicas=0` must stay 0, not be defaulted to 1), embedded
    // structs and IntOrString fields.
    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=0",
        "--port=80",
    ])
    .await;
    let out = c
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type}",
        ])
        .await;
    assert_eq!(out, "0 nginx:1.27 80 RollingUpdate");
    c.ok(&[
        "create",
        "job",
        "once",
        "--image=busybox",
        "--",
        "echo",
        "hi",
    ])
    .await;
    let out = c
        .ok(&[
            "get",
            "job",
            "once",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].command} {.spec.template.spec.restartPolicy}",
        ])
        .await;
    assert_eq!(out, r#"["echo","hi"] Never"#);
    c.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox",
        "--schedule=*/5 * * * *",
        "--",
        "date",
    ])
    .await;
    let out = c
        .ok(&["get", "cj", "tick", "-o", "jsonpath={.spec.schedule}"])
        .await;
    assert_eq!(out, "*/5 * * * *");
    c.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"])
        .await;
    let out = c
        .ok(&[
            "get",
            "svc",
            "np",
            "-o",
            "jsonpath={.spec.ports[0].targetPort} {.spec.ports[0].nodePort}",
        ])
        .await;
    let (target, node_port) = out.split_once(' ').expect("two fields");
    assert_eq!(target, "8080");
    let node_port: i32 = node_port.parse().expect("a node port");
    assert!((30000..=32767).contains(&node_port), "{node_port}");
    c.ok(&[
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=pods",
    ])
    .await;
    c.ok(&[
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        "--user=alice",
        "--serviceaccount=default:foo",
    ])
    .await;
    c.ok(&[
        "create",
        "clusterrole",
        "nodes",
        "--verb=get",
        "--resource=nodes",
    ])
    .await;
    c.ok(&[
        "create",
        "clusterrolebinding",
        "nodes",
        "--clusterrole=nodes",
        "--group=ops",
    ])
    .await;
    let out = c.ok(&["get", "rolebinding", "reader", "-o", "wide"]).await;
    assert!(out.contains("Role/reader"), "{out}");
    assert!(
        out.contains("alice") && out.contains("default/foo"),
        "{out}"
    );
    c.ok(&["create", "priorityclass", "high", "--value=1000"])
        .await;
    c.ok(&["create", "priorityclass", "zero", "--value=0"])
        .await;
    let out = c.ok(&["get", "pc", "high"]).await;
    assert!(out.contains("1000"), "{out}");
    c.ok(&[
        "create",
        "quota",
        "small",
        "--hard=cpu=1,pods=2,limits.cpu=2",
    ])
    .await;
    let out = c.ok(&["get", "quota", "small"]).await;
    assert!(out.contains("cpu: 0/1, pods: 0/2"), "{out}");
    assert!(out.contains("limits.cpu: 0/2"), "{out}");
    c.ok(&[
        "create",
        "pdb",
        "web",
        "--selector=app=web",
        "--min-available=50%",
    ])
    .await;
    let out = c.ok(&["get", "pdb", "web"]).await;
    assert!(out.contains("50%") && out.contains("N/A"), "{out}");
    c.ok(&[
        "autoscale",
        "deployment",
        "web",
        "--min=1",
        "--max=5",
        "--cpu-percent=80",
    ])
    .await;
    let out = c
        .ok(&[
            "get",
            "hpa",
            "web",
            "-o",
            "jsonpath={.spec.minReplicas} {.spec.maxReplicas} {.spec.scaleTargetRef.name}",
        ])
        .await;
    assert_eq!(out, "1 5 web");
    c.ok(&[
        "create",
        "ingress",
        "site",
        "--rule=example.com/shop*=np:80",
    ])
    .await;
    let out = c
        .ok(&[
            "get",
            "ing",
            "site",
            "-o",
            "jsonpath={.spec.rules[0].host} {.spec.rules[0].http.paths[0].pathType} {.spec.rules[0].http.paths[0].backend.service.port.number}",
        ])
        .await;
    assert_eq!(out, "example.com Prefix 80");
}

/// Removes Go's zero values (nulls, empty objects, `0`, `false`, `""`):
/// Go prints its zero structs and non-`omitempty` scalars (`"resources":
/// {}`, `"creationTimestamp": null`, a PDB's `"expectedPods": 0`) when it
/// re-encodes an object it decoded into its types, and the server's JSON
/// leaves them out.
fn prune(v: serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(false) => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(m) => {
            let m: serde_json::Map<String, Value> = m
                .into_iter()
                .filter_map(|(k, v)| prune(v).map(|v| (k, v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(a) => Some(Value::Array(a.into_iter().filter_map(prune).collect())),
        other => Some(other),
    }
}

/// client-go's typed clients ask for protobuf responses (`Accept:
/// application/vnd.kubernetes.protobuf,application/json`), so kubectl's
/// generators decode the server's protobuf objects, and `rollout history`
/// its protobuf lists, with Go's generated code: what kubectl prints from
/// them must be what the JSON API serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_protobuf_responses() {
    let c = Cluster::start().await;
    let generators: &[(&str, &[&str])] = &[
        (
            "configmap/c",
            &[
                "create",
                "configmap",
                "c",
                "--from-literal=a=b",
                "--from-literal=empty=",
            ],
        ),
        (
            "secret/s",
            &["create", "secret", "generic", "s", "--from-literal=k=v"],
        ),
        (
            "deployment/web",
            &[
                "create",
                "deployment",
                "web",
                "--image=nginx:1.27",
                "--replicas=0",
                "--port=80",
            ],
        ),
        (
            "service/svc",
            &["create", "service", "nodeport", "svc", "--tcp=80:8080"],
        ),
        (
            "job/once",
            &[
                "create",
                "job",
                "once",
                "--image=busybox",
                "--",
                "echo",
                "hi",
            ],
        ),
        (
            "cronjob/tick",
            &[
                "create",
                "cronjob",
                "tick",
                "--image=busybox",
                "--schedule=*/5 * * * *",
            ],
        ),
        (
            "role/r",
            &["create", "role", "r", "--verb=get,list", "--resource=pods"],
        ),
        (
            "priorityclass/high",
            &["create", "priorityclass", "high", "--value=1000"],
        ),
        (
            "resourcequota/q",
            &["create", "quota", "q", "--hard=cpu=1,pods=2"],
        ),
        (
            "poddisruptionbudget/pdb",
            &[
                "create",
                "pdb",
                "pdb",
                "--selector=app=web",
                "--min-available=50%",
            ],
        ),
        (
            "ingress/site",
            &[
                "create",
                "ingress",
                "site",
                "--rule=example.com/shop*=svc:80",
            ],
        ),
    ];
    for (name, args) in generators {
        // Before any `--`: what follows it is the container's command.
        let mut args = args.to_vec();
        args.splice(1..1, ["-o", "json"]);
        let decoded: serde_json::Value =
            serde_json::from_str(&c.ok(&args).await).expect("kubectl prints JSON");
        let served: serde_json::Value =
            serde_json::from_str(&c.ok(&["get", name, "-o", "json"]).await).expect("json");
        if *name == "deployment/web" {
            // A pointer's zero survives the protobuf round trip.
            assert_eq!(decoded["spec"]["replicas"], 0, "{decoded}");
        }
        assert_eq!(prune(decoded), prune(served), "{name}");
    }

    // The generators were answered in protobuf, not in JSON.
    let accept = "Accept: application/vnd.kubernetes.protobuf,application/json\r\n";
    let (code, head, body) = c
        .http(
            "GET",
            "/api/v1/namespaces/default/configmaps/c",
            accept,
            b"",
        )
        .await;
    assert_eq!(code, 200, "{head}");
    assert!(
        head.contains("application/vnd.kubernetes.protobuf"),
        "{head}"
    );
    assert!(body.starts_with(b"k8s\0"), "{body:?}");

    // A protobuf list: `rollout history` lists the deployment's
    // ReplicaSets with the typed client and reads their revisions.
    let uid = c
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.uid}"])
        .await;
    let rs = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1", "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                "name": "web", "uid": uid, "controller": true}],
        },
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
    });
    let file = c.file("rs.json", &rs.to_string());
    c.ok(&["create", "-f", file.to_str().expect("utf-8")]).await;
    let out = c.ok(&["rollout", "history", "deployment/web"]).await;
    assert!(
        out.lines().any(|l| l.trim_start().starts_with("3 ")),
        "{out}"
    );

    // A kind without protobuf messages is answered in JSON when the client
    // takes JSON too, and refused (406) when it takes only protobuf.
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let (code, head, _) = c.http("GET", crds, accept, b"").await;
    assert_eq!(code, 200, "{head}");
    assert!(head.contains("application/json"), "{head}");
    let only = "Accept: application/vnd.kubernetes.protobuf\r\n";
    let (code, _, body) = c.http("GET", crds, only, b"").await;
    assert_eq!(code, 406);
    let status: serde_json::Value = serde_json::from_slice(&body).expect("a Status");
    assert_eq!(status["reason"], "NotAcceptable", "{status}");
}

/// Every object the seed manifests and the controllers leave in the store
/// has a protobuf form: each built-in resource's list, asked for in
/// protobuf only, comes back in protobuf (a list with an object the table
/// cannot carry would fall back to JSON). Custom resources and CRDs, which
/// have no protobuf messages, are refused with 406.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stored_object_has_a_protobuf_form() {
    let c = Cluster::start().await;
    let controllers = c.controllers();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/manifests/seeds");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("the seed manifests")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for m in &names {
        // Some seeds are broken on purpose; the rest must go in.
        let _ = c.kubectl(&["create", "-f", &m.to_string_lossy()]).await;
    }
    until_ok(
        "the controllers' pods",
        || async { c.ok(&["get", "pods", "-o", "name"]).await.lines().count() },
        |n| *n >= 5,
    )
    .await;
    let json = |body: &[u8]| -> serde_json::Value { serde_json::from_slice(body).expect("json") };
    let mut versions = vec!["/api/v1".to_string()];
    let (_, _, groups) = c.http("GET", "/apis", "", b"").await;
    for g in json(&groups)["groups"].as_array().expect("groups") {
        let gv = g["preferredVersion"]["groupVersion"].as_str().expect("gv");
        versions.push(format!("/apis/{gv}"));
    }
    let only = "Accept: application/vnd.kubernetes.protobuf\r\n";
    let mut checked = 0;
    for v in versions {
        let (_, _, list) = c.http("GET", &v, "", b"").await;
        for r in json(&list)["resources"].as_array().expect("resources") {
            let name = r["name"].as_str().expect("name");
            let lists = r["verbs"]
                .as_array()
                .is_some_and(|vs| vs.iter().any(|v| v == "list"));
            if name.contains('/') || !lists {
                continue;
            }
            let path = format!("{v}/{name}");
            let (code, head, body) = c.http("GET", &path, only, b"").await;
            let custom = v.starts_with("/apis/apiextensions.k8s.io/")
                || v.starts_with("/apis/extensions.example.com/");
            if custom {
                assert_eq!(code, 406, "{path}: {head}");
            } else {
                assert_eq!(
                    code,
                    200,
                    "{path}: {head}\n{}",
                    String::from_utf8_lossy(&body)
                );
                assert!(
                    head.contains("application/vnd.kubernetes.protobuf"),
                    "{path} fell back to JSON: {}",
                    String::from_utf8_lossy(&body)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "only {checked} resources");
    controllers.stop().await;
    c.serving.shutdown().await;
}

/// A protobuf watch stream: length-prefixed `WatchEvent` frames, each with
/// its type and the enveloped object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_watch_streams_frames() {
    let c = Cluster::start().await;
    let mut s = tokio::net::TcpStream::connect(c.serving.local_addr())
        .await
        .expect("connect");
    s.write_all(
        b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.kubernetes.protobuf,application/json\r\n\r\n",
    )
    .await
    .expect("write");
    c.ok(&["create", "configmap", "seen", "--from-literal=a=b"])
        .await;
    c.ok(&["delete", "configmap", "seen"]).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let events = loop {
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .expect("two events within 10 s")
            .expect("read");
        assert!(n > 0, "the stream ended");
        buf.extend_from_slice(&chunk[..n]);
        let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        assert!(
            head.contains("application/vnd.kubernetes.protobuf;stream=watch"),
            "{head}"
        );
        let frames = frames(&dechunk(&buf[split + 4..]));
        if frames.len() >= 2 {
            break frames;
        }
    };
    for (frame, want) in events.iter().zip(["ADDED", "DELETED"]) {
        // WatchEvent: field 1 the type, field 2 a RawExtension whose raw
        // bytes are the enveloped ConfigMap.
        assert_eq!(frame[0], 0x0a, "{frame:?}");
        assert_eq!(&frame[2..2 + usize::from(frame[1])], want.as_bytes());
        let rest = &frame[2 + usize::from(frame[1])..];
        assert_eq!(rest[0], 0x12, "{frame:?}");
        let at = rest
            .windows(4)
            .position(|w| w == b"k8s\0")
            .expect("an envelope");
        let object = &rest[at..];
        assert!(object.windows(9).any(|w| w == b"ConfigMap"), "{object:?}");
        assert!(object.windows(4).any(|w| w == b"seen"), "{object:?}");
    }
}

/// The data of an HTTP/1.1 chunked body (complete chunks only).
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let Ok(len) = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap_or("x"), 16)
        else {
            break;
        };
        if b.len() < eol + 2 + len + 2 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + len]);
        b = &b[eol + 2 + len + 2..];
    }
    out
}

/// Length-prefixed frames (complete ones only).
fn frames(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if b.len() < 4 + len {
            break;
        }
        out.push(b[4..4 + len].to_vec());
        b = &b[4 + len..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_tables() {
    let c = Cluster::start().await;
    c.ok(&["create", "-f", &seed_str("02-pod-kubia-manual.yaml")])
        .await;
    c.ok(&["create", "-f", &seed_str("26-deployment-kubia.yaml")])
        .await;
    c.ok(&["create", "-f", &seed_str("07-service-kubia.yaml")])
        .await;
    let out = c.ok(&["get", "pods"]).await;
    let header: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert!(out.contains("kubia-manual   0/1     Pending   0"), "{out}");
    let out = c.ok(&["get", "pods", "-o", "wide"]).await;
    assert!(
        out.contains("NOMINATED NODE") && out.contains("<none>"),
        "{out}"
    );
    let out = c.ok(&["get", "deploy", "-o", "wide"]).await;
    let header: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{out}"
    );
    assert!(
        out.contains("luksa/kubia:v1") && out.contains("app=kubia"),
        "{out}"
    );
    let out = c.ok(&["get", "svc", "kubia"]).await;
    assert!(out.contains("ClusterIP") && out.contains("80/TCP"), "{out}");
    let out = c.ok(&["get", "pods", "-A", "--show-labels"]).await;
    assert!(out.starts_with("NAMESPACE"), "{out}");
    assert!(
        out.contains("default     kubia-manual") && out.contains("env=test"),
        "{out}"
    );
    let out = c.ok(&["get", "pod", "kubia-manual", "--no-headers"]).await;
    assert!(out.starts_with("kubia-manual"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_client_watch_reconnects_from_the_last_version() {
    use futures::StreamExt;
    use keelson::api::core::ConfigMap;
    use keelson::api::{ObjectMeta, WatchEvent};
    use keelson::client::Api;
    use keelson::http::HttpClient;

    let api = ApiServer::in_memory().await.expect("api server");
    let serving = HttpServer::new(&api)
        .bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = serving.local_addr();
    let client = HttpClient::new(&serving.url()).expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
    let cm = |name: &str| ConfigMap {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    };
    cms.create(&cm("before")).await.expect("create");
    let mut events = cms.watch(&Default::default()).await.expect("watch");
    let first = events.next().await.expect("an event").expect("ok");
    assert!(matches!(&first, WatchEvent::Added(c) if c.metadata.name == "before"));

    // The server goes away (every connection closes) and comes back on the
    // same port; meanwhile an object is created.
    serving.shutdown().await;
    cms_direct(&api, "during").await;
    let serving = HttpServer::new(&api).bind(addr).await.expect("rebind");
    cms.create(&cm("after")).await.expect("create after");

    let mut names = Vec::new();
    while names.len() < 2 {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("the watch resumes")
            .expect("not ended")
            .expect("ok");
        if let WatchEvent::Added(c) = e {
            names.push(c.metadata.name.to_string());
        }
    }
    // Nothing is repeated and nothing is missed.
    assert_eq!(names, ["during", "after"]);
    serving.shutdown().await;
}

/// Creates a ConfigMap in-process (while the HTTP server is down).
async fn cms_direct(api: &ApiServer, name: &str) {
    use keelson::api::core::ConfigMap;
    use keelson::api::ObjectMeta;
    use keelson::client::{Api, LocalClient};
    let cms: Api<ConfigMap> = Api::namespaced(LocalClient::new(api), "default");
    cms.create(&ConfigMap {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    })
    .await
    .expect("create");
}
