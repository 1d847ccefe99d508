//! End to end: the reference assembly (`examples/cluster`) started as its own
//! process and driven with the real kubectl only, as a newcomer would.
//!
//! `cargo test` builds the example before it runs the tests; these tests
//! find it next to their own binary (`target/<profile>/examples/cluster`).
//! Each test gets its own port, kubeconfig and kubectl cache directory.
//!
//! The seed walkthrough ([`walkthrough`]) runs on the process and fake
//! runtimes here, on containerd in [`cri`] (features `cri` + `test-util`,
//! as root), and [`etcd`] (features `etcd` + `test-util`) restarts the
//! assembly on a real etcd and checks that its state survives.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[cfg(all(feature = "cri", feature = "test-util"))]
mod cri;
#[cfg(all(feature = "etcd", feature = "test-util"))]
mod etcd;
#[cfg(all(feature = "cri", feature = "test-util"))]
mod oci;

const KUBECTL: &str = "/usr/bin/kubectl";

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/manifests/seeds")
}

fn cluster_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("examples").join("cluster");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test` (it builds the examples)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running assembly; killed (and its pods with it) when dropped.
struct Cluster {
    child: Option<Child>,
    kubeconfig: PathBuf,
    cache: PathBuf,
    _dir: tempfile::TempDir,
    binary: PathBuf,
}

impl Cluster {
    fn start(runtime: &str, nodes: usize, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let cache = dir.path().join("kubectl-cache");
        let binary = cluster_binary();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("cluster.log")).expect("log file");
        let child = Command::new(&binary)
            .args(["--runtime", runtime, "--nodes", &nodes.to_string()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(extra)
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting the cluster example");
        let cluster = Cluster {
            child: Some(child),
            kubeconfig,
            cache,
            _dir: dir,
            binary,
        };
        cluster.wait(
            "the kubeconfig to be written",
            Duration::from_secs(30),
            |c| c.kubeconfig.exists() && c.kubectl_ok(&["get", "--raw", "/readyz"]),
        );
        cluster
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("cluster.log")).unwrap_or_default()
    }

    fn kubectl_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .output()
            .expect("running kubectl")
    }

    fn kubectl_ok(&self, args: &[&str]) -> bool {
        self.kubectl_output(args).status.success()
    }

    /// Runs kubectl and returns its stdout; fails the test on an error.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n--- cluster log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&all)).expect("kubectl printed JSON")
    }

    /// Polls `check` every 200 ms until it holds, failing after `timeout`.
    fn wait(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Cluster) -> bool) {
        let start = Instant::now();
        while !check(self) {
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}\n--- cluster log ---\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn pods(&self, selector: &str) -> Vec<Value> {
        self.json(&["get", "pods", "-l", selector])["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Sends SIGINT (Ctrl-C) and waits for a clean exit.
    fn interrupt(&mut self) {
        self.stop_with("-INT");
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn terminate(&mut self) {
        self.stop_with("-TERM");
    }

    fn stop_with(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args([signal, &pid]).status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(
                    status.success(),
                    "the cluster exited with {status}\n{}",
                    self.log()
                );
                return;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!(
                    "the cluster did not stop within 60 s after {signal}\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    }) && pod["metadata"]["deletionTimestamp"].is_null()
}

fn http_get(ip: &str, port: u16) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(
        &format!("{ip}:{port}").parse().ok()?,
        Duration::from_secs(2),
    )
    .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    stream
        .write_all(format!("GET / HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// Processes whose command line names `binary` with `--image` (the demo
/// images' containers; the assemblies of other tests are not counted).
fn container_processes(binary: &Path) -> Vec<String> {
    let needle = binary.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.contains(&needle)) && args.iter().any(|a| a == "--image")
        {
            found.push(args.join(" "));
        }
    }
    found
}

fn nodes_ready(c: &Cluster, n: usize) -> bool {
    let nodes = c.json(&["get", "nodes"]);
    let items = nodes["items"].as_array().cloned().unwrap_or_default();
    items.len() == n
        && items.iter().all(|node| {
            node["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
}

fn ready_pods(c: &Cluster, selector: &str) -> Vec<Value> {
    c.pods(selector).into_iter().filter(ready).collect()
}

/// Waits until exactly `n` pods of the selector exist and are ready, with
/// every container running `image`.
fn wait_rollout(c: &Cluster, n: usize, image: &str) {
    c.wait(
        &format!("{n} ready pods running {image}"),
        Duration::from_secs(120),
        |c| {
            let pods = c.pods("app=kubia");
            pods.len() == n
                && pods.iter().all(|p| {
                    ready(p) && p["spec"]["containers"][0]["image"].as_str() == Some(image)
                })
        },
    );
}

fn answers(c: &Cluster) -> Vec<(String, String)> {
    ready_pods(c, "app=kubia")
        .iter()
        .map(|p| {
            let name = p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let ip = p["status"]["podIP"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (name, ip)
        })
        .collect()
}

/// One assembly at a time: the leftover-process checks look at every
/// process of the example binary on the machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What differs between the runtimes the walkthrough runs on.
struct Flavour<'a> {
    /// `--runtime` of the assembly.
    runtime: &'a str,
    /// More flags of the assembly (`--cri-socket …`).
    extra: Vec<String>,
    /// Whether the pods really serve HTTP and write logs.
    http: bool,
    /// The Job manifest to run.
    job: PathBuf,
    /// What every pod IP starts with, when the runtime's network is known
    /// (containerd's CNI subnet).
    pod_ip_prefix: Option<String>,
    /// The containers of the demo images still on the machine, one line
    /// each (checked after deletes and after Ctrl-C).
    containers: Containers<'a>,
}

/// Lists the demo images' containers left on the machine.
type Containers<'a> = Box<dyn Fn(&Cluster) -> Vec<String> + 'a>;

impl Flavour<'static> {
    /// The process or fake runtime: the containers are child processes of
    /// the example binary.
    fn local(runtime: &'static str, http: bool) -> Self {
        Flavour {
            runtime,
            extra: Vec::new(),
            http,
            job: seeds().join("05-job-batch-job.yaml"),
            pod_ip_prefix: None,
            containers: Box::new(|c: &Cluster| container_processes(&c.binary)),
        }
    }
}

/// Waits until every kubia pod answers HTTP with its own name and `version`.
fn check_answers(c: &Cluster, version: &str) {
    for (name, ip) in answers(c) {
        let mut body = None;
        c.wait(
            &format!("{name} ({version}) to answer on {ip}:8080"),
            Duration::from_secs(20),
            |_| {
                body = http_get(&ip, 8080);
                body.is_some()
            },
        );
        assert_eq!(
            body.unwrap_or_default().trim(),
            format!("This is {version} running in pod {name}")
        );
    }
}

/// Asserts the 3 kubia replicas are ready on 3 different nodes.
fn check_spread(c: &Cluster) {
    let pods = ready_pods(c, "app=kubia");
    let mut nodes: Vec<&str> = pods
        .iter()
        .filter_map(|p| p["spec"]["nodeName"].as_str())
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    assert_eq!(
        nodes.len(),
        3,
        "the 3 replicas spread over the 3 nodes: {nodes:?}"
    );
}

fn walkthrough(flavour: Flavour<'_>) {
    let _serial = serial();
    let http = flavour.http;
    let extra: Vec<&str> = flavour.extra.iter().map(String::as_str).collect();
    let mut c = Cluster::start(flavour.runtime, 3, &extra);
    c.wait("3 nodes Ready", Duration::from_secs(30), |c| {
        nodes_ready(c, 3)
    });

    let deployment = seeds().join("26-deployment-kubia.yaml");
    c.kubectl(&["apply", "-f", deployment.to_str().unwrap()]);
    wait_rollout(&c, 3, "luksa/kubia:v1");
    check_spread(&c);
    if let Some(prefix) = &flavour.pod_ip_prefix {
        for (name, ip) in answers(&c) {
            assert!(
                ip.starts_with(prefix.as_str()),
                "{name}'s IP {ip} is not in {prefix}*"
            );
        }
    }
    if http {
        check_answers(&c, "v1");
    }

    c.kubectl(&["scale", "deployment", "kubia", "--replicas=5"]);
    wait_rollout(&c, 5, "luksa/kubia:v1");
    c.kubectl(&["scale", "deployment", "kubia", "--replicas=2"]);
    wait_rollout(&c, 2, "luksa/kubia:v1");

    c.kubectl(&["set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2"]);
    wait_rollout(&c, 2, "luksa/kubia:v2");
    if http {
        check_answers(&c, "v2");
    }
    c.kubectl(&["rollout", "undo", "deployment/kubia"]);
    wait_rollout(&c, 2, "luksa/kubia:v1");
    if http {
        check_answers(&c, "v1");
    }

    // kubectl logs shows what the container wrote.
    let pod = ready_pods(&c, "app=kubia")
        .first()
        .and_then(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .expect("a kubia pod");
    if http {
        c.wait(
            "kubia's start-up line in its logs",
            Duration::from_secs(20),
            |c| c.kubectl(&["logs", &pod]).contains("Kubia server starting"),
        );
    } else {
        // The fake runtime's containers write nothing; logs must still work.
        c.kubectl(&["logs", &pod]);
    }

    // The seed Job runs to completion (5 completions, 2 at a time).
    c.kubectl(&["apply", "-f", flavour.job.to_str().unwrap()]);
    c.wait(
        "the batch-job Job to complete",
        Duration::from_secs(120),
        |c| {
            let job = c.json(&["get", "job", "batch-job"]);
            job["status"]["succeeded"].as_i64() == Some(5)
                && job["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|x| x["type"] == "Complete" && x["status"] == "True")
                })
        },
    );

    // Deleting the Deployment removes its pods (and their containers).
    c.kubectl(&["delete", "deployment", "kubia"]);
    c.wait("the kubia pods to be gone", Duration::from_secs(60), |c| {
        c.pods("app=kubia").is_empty()
    });
    if http {
        c.wait(
            "the kubia containers to be gone",
            Duration::from_secs(20),
            |c| !(flavour.containers)(c).iter().any(|p| p.contains("kubia")),
        );
    }

    c.interrupt();
    let left = (flavour.containers)(&c);
    assert!(left.is_empty(), "containers left after Ctrl-C: {left:?}");
}

#[test]
fn walkthrough_on_the_process_runtime() {
    walkthrough(Flavour::local("process", true));
}

#[test]
fn walkthrough_on_the_fake_runtime() {
    walkthrough(Flavour::local("fake", false));
}
