//! Benchmarks of the reference assembly as a user runs it:
//! `cargo build --release --example cluster && cargo bench --bench assembly`
//! (release, our own harness). Every figure is one line
//! `bench <name>: <value> <unit>`; `docs/BENCHMARKS.md` records them.
//!
//! The bench drives the example binary (`target/release/examples/cluster`,
//! or `KEELSON_CLUSTER_BIN`) as its own process, exactly as a newcomer
//! starts it, and talks to it only over its HTTP API with plain HTTP/1.0
//! requests (no client library in the measured path): what it measures is
//! the whole assembly (process start, API server, controllers, scheduler,
//! node agents, runtimes), not one component in-process.
//!
//! - `cluster_ready_{fake,process}`: from spawning the process to the first
//!   `GET /api/v1/nodes` in which all 3 nodes have `Ready=True` (polled
//!   every 5 ms; median of 5 starts). Target ≤ 1 s.
//! - `deploy_100_ready`: on the process runtime (3 nodes, real processes of
//!   the `luksa/kubia:v1` demo image, one network namespace each when run as
//!   root), from the Deployment's POST to `status.readyReplicas == 100`
//!   (polled every 20 ms).
//! - `scale_*`: on the fake runtime, 1,000 nodes (`scale_nodes_ready`:
//!   process start → 1,000 nodes Ready), then one Deployment of 30,000
//!   replicas: `scale_30000_pods_running` is POST → `readyReplicas ==
//!   30000` (polled every 500 ms, progress printed every 10 s), confirmed by
//!   one list of `status.phase=Running` pods that must hold 30,000 items;
//!   `scale_peak_memory` is the assembly's `VmHWM` from
//!   `/proc/<pid>/status` at the end (the whole process: store, watch
//!   caches, informers of every component, 1,000 agents).
//!
//! Run one group by naming it: `cargo bench --bench assembly -- scale`.
//! `ASSEMBLY_NODES` and `ASSEMBLY_PODS` shrink the scale run (for a quick
//! check against a debug build).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn cluster_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("KEELSON_CLUSTER_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("bench binary path");
    // target/release/deps/assembly-… → target/release/examples/cluster
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the target directory");
    let bin = dir.join("examples").join("cluster");
    if !bin.exists() {
        eprintln!(
            "{} is missing: build it first with `cargo build --release --example cluster`",
            bin.display()
        );
        std::process::exit(2);
    }
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.0 exchange (no chunking, the server closes); the status code
/// and the body, or `None` when the server is not listening yet.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).ok()?;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = std::str::from_utf8(&out[..split])
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, out[split + 4..].to_vec()))
}

fn get_json(addr: SocketAddr, path: &str) -> Option<Value> {
    match request(addr, "GET", path, None)? {
        (200, body) => serde_json::from_slice(&body).ok(),
        _ => None,
    }
}

/// A running assembly, stopped with SIGINT when dropped.
struct Assembly {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Assembly {
    fn spawn(runtime: &str, nodes: usize) -> (Assembly, Instant) {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let log = std::fs::File::create(dir.path().join("cluster.log")).expect("log file");
        let started = Instant::now();
        let child = Command::new(cluster_binary())
            .args([
                "--runtime",
                runtime,
                "--nodes",
                &nodes.to_string(),
                "--quiet",
            ])
            .args(["--listen", &addr.to_string()])
            .arg("--kubeconfig")
            .arg(dir.path().join("kubeconfig"))
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting the cluster example");
        (
            Assembly {
                child,
                addr,
                _dir: dir,
            },
            started,
        )
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self._dir.path().join("cluster.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Polls until `nodes` nodes are Ready; fails after `limit`.
    fn wait_nodes_ready(&mut self, nodes: usize, every: Duration, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Some(list) = get_json(self.addr, "/api/v1/nodes") {
                let items = list["items"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if items.len() == nodes && items.iter().all(node_ready) {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the assembly exited ({status}):\n{}", self.log_tail());
            }
            assert!(
                start.elapsed() < limit,
                "{nodes} nodes not Ready after {limit:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(every);
        }
    }

    fn create_deployment(&self, name: &str, replicas: usize) {
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": "luksa/kubia:v1"}]},
                },
            },
        });
        let path = "/apis/apps/v1/namespaces/default/deployments";
        match request(self.addr, "POST", path, Some(&deployment)) {
            Some((201, _)) => {}
            other => panic!(
                "creating the deployment: {:?}",
                other.map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned()))
            ),
        }
    }

    fn ready_replicas(&self, name: &str) -> i64 {
        get_json(
            self.addr,
            &format!("/apis/apps/v1/namespaces/default/deployments/{name}"),
        )
        .and_then(|d| d["status"]["readyReplicas"].as_i64())
        .unwrap_or(0)
    }

    /// `VmHWM` (peak resident set) of the assembly, in MiB.
    fn peak_memory_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }

    /// SIGINT, then wait for the exit (the pods stop with it).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("the assembly did not stop in 120 s; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_ready(node: &Value) -> bool {
    node["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn cluster_ready(runtime: &str) {
    let mut times = Vec::new();
    for _ in 0..5 {
        let (mut a, started) = Assembly::spawn(runtime, 3);
        a.wait_nodes_ready(3, Duration::from_millis(5), Duration::from_secs(30));
        times.push(started.elapsed());
        a.stop();
    }
    println!(
        "bench cluster_ready_{runtime}: {:.0} ms (median of 5; min {:.0}, max {:.0})",
        median(times.clone()).as_secs_f64() * 1e3,
        times.iter().min().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        times.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
}

fn deploy_100_ready() {
    let (mut a, _) = Assembly::spawn("process", 3);
    a.wait_nodes_ready(3, Duration::from_millis(20), Duration::from_secs(30));
    let start = Instant::now();
    a.create_deployment("bench", 100);
    while a.ready_replicas("bench") < 100 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "100 replicas not ready in 300 s:\n{}",
            a.log_tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "bench deploy_100_ready: {:.2} s",
        start.elapsed().as_secs_f64()
    );
    a.stop();
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scale() {
    let nodes = env_usize("ASSEMBLY_NODES", 1_000);
    let pods = env_usize("ASSEMBLY_PODS", 30_000);
    let (mut a, started) = Assembly::spawn("fake", nodes);
    a.wait_nodes_ready(nodes, Duration::from_millis(100), Duration::from_secs(300));
    println!(
        "bench scale_nodes_ready: {:.2} s ({nodes} nodes, process start → all Ready)",
        started.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    a.create_deployment("scale", pods);
    let mut report = Instant::now();
    loop {
        let ready = a.ready_replicas("scale");
        if ready >= pods as i64 {
            break;
        }
        if report.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "  {:>5.0} s: {ready} of {pods} ready, VmHWM {:.0} MiB",
                start.elapsed().as_secs_f64(),
                a.peak_memory_mib()
            );
            report = Instant::now();
        }
        if let Ok(Some(status)) = a.child.try_wait() {
            panic!("the assembly exited ({status}):\n{}", a.log_tail());
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "{pods} pods not ready in 30 min ({ready} are):\n{}",
            a.log_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let elapsed = start.elapsed();
    let running = get_json(a.addr, "/api/v1/pods?fieldSelector=status.phase%3DRunning")
        .and_then(|l| l["items"].as_array().map(Vec::len))
        .unwrap_or(0);
    assert_eq!(running, pods, "pods Running, as listed");
    println!(
        "bench scale_{pods}_pods_running: {:.1} s ({nodes} nodes, {:.0} pods/s)",
        elapsed.as_secs_f64(),
        pods as f64 / elapsed.as_secs_f64()
    );
    println!("bench scale_peak_memory: {:.0} MiB", a.peak_memory_mib());
    a.stop();
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wanted("cluster_ready") {
        cluster_ready("fake");
        cluster_ready("process");
    }
    if wanted("deploy_100_ready") {
        deploy_100_ready();
    }
    if wanted("scale") {
        scale();
    }
}
