//! The reference assembly: a whole cluster in one process.
//!
//! ```text
//! cargo run --features http --example cluster
//! kubectl --kubeconfig /tmp/keelson/kubeconfig get nodes
//! ```
//!
//! It starts, on embedded defaults:
//!
//! - an API server on the in-memory store (or on etcd with `--etcd`),
//!   serving Kubernetes' REST protocol on `--listen` (127.0.0.1:6443), with a
//!   kubeconfig written to `--kubeconfig` (the path is printed);
//! - the controller manager (every built-in controller, behind leader
//!   election as in a real control plane) and the scheduler;
//! - `--nodes` node agents (3), each with its own container runtime:
//!   `process` (default: real processes, a network namespace and IP per pod
//!   when run as root), `fake` (simulated containers) or `cri` (containerd
//!   at `--cri-socket`, needs `--features cri`).
//!
//! The images of the seed manifests (`luksa/kubia`, `luksa/batch-job`,
//! `nginx`, …) are small programs inside this binary ([`images`]),
//! registered in each process runtime's image catalog.
//!
//! Progress is printed as it happens (`node/node-1 Ready`, `pod
//! default/kubia-7d9c-x2 scheduled to node-2`, …), read from the API like
//! any other client. Ctrl-C (or SIGTERM) stops the node agents with their
//! pods, then the control plane; nothing is left running.
mod images;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use keelson::api::core::{Node, Pod};
use keelson::api::WatchEvent;
use keelson::apiserver::{ApiServer, ListOptions};
use keelson::client::{Api, Client, LocalClient};
use keelson::controllers::ControllerManager;
use keelson::http::{write_kubeconfig, HttpServer};
use keelson::node::{self, NodeAgent};
use keelson::runtime::fake::Behavior;
use keelson::runtime::process::{
    BridgeConfig, ImageEntry, NetworkMode, ProcessRuntime, ProcessRuntimeConfig,
};
use keelson::runtime::{ContainerRuntime, FakeRuntime};
use keelson::scheduler::{self, Scheduler};
use keelson::store::{MemoryStore, Store};

#[derive(Clone, Copy, PartialEq, Eq)]
enum RuntimeKind {
    Fake,
    Process,
    Cri,
}

struct Args {
    nodes: usize,
    runtime: RuntimeKind,
    etcd: Option<Vec<String>>,
    listen: SocketAddr,
    kubeconfig: PathBuf,
    cri_socket: PathBuf,
    quiet: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: cluster [--nodes N] [--runtime fake|process|cri] [--etcd URL,...]\n\
         \x20              [--listen ADDR:PORT] [--kubeconfig FILE] [--cri-socket PATH] [--quiet]"
    );
    std::process::exit(2);
}

fn args() -> Args {
    let mut a = Args {
        nodes: 3,
        runtime: RuntimeKind::Process,
        etcd: None,
        listen: "127.0.0.1:6443".parse().expect("a valid address"),
        kubeconfig: std::env::temp_dir().join("keelson").join("kubeconfig"),
        cri_socket: PathBuf::from("/run/containerd/containerd.sock"),
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--nodes" => {
                a.nodes = value().parse().unwrap_or_else(|e| {
                    eprintln!("--nodes: {e}");
                    usage()
                })
            }
            "--runtime" => {
                a.runtime = match value().as_str() {
                    "fake" => RuntimeKind::Fake,
                    "process" => RuntimeKind::Process,
                    "cri" => RuntimeKind::Cri,
                    other => {
                        eprintln!("--runtime: unknown runtime {other:?} (fake, process or cri)");
                        usage()
                    }
                }
            }
            "--etcd" => a.etcd = Some(value().split(',').map(str::to_string).collect()),
            "--listen" => {
                a.listen = value().parse().unwrap_or_else(|e| {
                    eprintln!("--listen: {e}");
                    usage()
                })
            }
            "--kubeconfig" => a.kubeconfig = PathBuf::from(value()),
            "--cri-socket" => a.cri_socket = PathBuf::from(value()),
            "--quiet" => a.quiet = true,
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other:?}");
                usage()
            }
        }
    }
    a
}

fn say(component: &str, message: impl std::fmt::Display) {
    println!("{:>10}  {message}", component);
}

#[cfg(feature = "etcd")]
async fn etcd_store(endpoints: Vec<String>) -> Result<Arc<dyn Store>, String> {
    let config = keelson::store::etcd::Config {
        endpoints,
        ..Default::default()
    };
    keelson::store::EtcdStore::connect(config)
        .await
        .map(|s| Arc::new(s) as Arc<dyn Store>)
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "etcd"))]
async fn etcd_store(_endpoints: Vec<String>) -> Result<Arc<dyn Store>, String> {
    Err("this build has no etcd support: rebuild with --features http,etcd".into())
}

#[cfg(feature = "cri")]
async fn cri_runtime(socket: &std::path::Path) -> Result<Arc<dyn ContainerRuntime>, String> {
    keelson::runtime::CriRuntime::connect(socket)
        .await
        .map(|r| Arc::new(r) as Arc<dyn ContainerRuntime>)
        .map_err(|e| format!("connecting to containerd at {}: {e}", socket.display()))
}

#[cfg(not(feature = "cri"))]
async fn cri_runtime(_socket: &std::path::Path) -> Result<Arc<dyn ContainerRuntime>, String> {
    Err("this build has no CRI support: rebuild with --features http,cri".into())
}

/// One process runtime per node: its own bridge and /24, and the demo
/// images in its catalog.
fn process_runtime(index: usize) -> Result<ProcessRuntime, String> {
    let bridge = BridgeConfig {
        bridge: format!("keelson{index}"),
        subnet: std::net::Ipv4Addr::new(10, 244, index as u8, 0),
    };
    let config = ProcessRuntimeConfig {
        network: NetworkMode::Auto(bridge),
        ..Default::default()
    };
    let runtime = ProcessRuntime::new(config).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    for (reference, program) in images::IMAGES {
        runtime.catalog().register(
            reference,
            ImageEntry::executable(exe.clone(), ["--image", program]),
        );
    }
    Ok(runtime)
}

/// A simulated runtime whose demo images behave like the real ones in
/// time: servers run until stopped, `luksa/batch-job` works 3 s and exits 0.
fn fake_runtime() -> FakeRuntime {
    let mut runtime = FakeRuntime::new();
    for (reference, program) in images::IMAGES {
        let behavior = match *program {
            "batch-job" => Behavior::exit_after(Duration::from_secs(3), 0)
                .log("Batch job starting")
                .log("Finished succesfully"),
            "kubia" | "kubia-v1" | "kubia-v2" | "kubia-v3" | "kubia-pet" => {
                Behavior::run_forever().log("Kubia server starting...")
            }
            _ => Behavior::run_forever(),
        };
        runtime = runtime.script(*reference, behavior);
    }
    runtime
}

/// Prints what happens to nodes and pods, from the API.
async fn progress(client: LocalClient) {
    let nodes: Api<Node> = Api::all(&client);
    let pods: Api<Pod> = Api::all(&client);
    let node_task = async {
        let mut ready = std::collections::BTreeMap::<String, bool>::new();
        let Ok(mut events) = nodes.watch(&ListOptions::default()).await else {
            return;
        };
        while let Some(Ok(event)) = events.next().await {
            let Some(node) = event.object() else { continue };
            let name = node.metadata.name.to_string();
            let is_ready = node
                .status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready.insert(name.clone(), is_ready) != Some(is_ready) {
                say(
                    "node",
                    format!(
                        "node/{name} {}",
                        if is_ready { "Ready" } else { "NotReady" }
                    ),
                );
            }
        }
    };
    let pod_task = async {
        let mut seen = std::collections::BTreeMap::<String, (String, String)>::new();
        let Ok(mut events) = pods.watch(&ListOptions::default()).await else {
            return;
        };
        while let Some(Ok(event)) = events.next().await {
            let deleted = matches!(event, WatchEvent::Deleted(_));
            let Some(pod) = event.object() else { continue };
            let key = format!("{}/{}", pod.metadata.namespace, pod.metadata.name);
            if deleted {
                seen.remove(&key);
                say("pod", format!("pod {key} deleted"));
                continue;
            }
            let node = pod.spec.node_name.to_string();
            let phase = if pod.metadata.deletion_timestamp.is_some() {
                "Terminating".to_string()
            } else {
                pod.status.phase.to_string()
            };
            let before = seen.insert(key.clone(), (node.clone(), phase.clone()));
            match before {
                None => say("pod", format!("pod {key} created")),
                Some((old_node, old_phase)) => {
                    if old_node.is_empty() && !node.is_empty() {
                        say("scheduler", format!("pod {key} scheduled to {node}"));
                    }
                    if old_phase != phase && !phase.is_empty() {
                        let ip = &pod.status.pod_ip;
                        let at = if ip.is_empty() {
                            String::new()
                        } else {
                            format!(" ({ip})")
                        };
                        say("kubelet", format!("pod {key} {phase}{at} on {node}"));
                    }
                }
            }
        }
    };
    futures::join!(node_task, pod_task);
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(code) = images::run_if_image() {
        return code;
    }
    let started = Instant::now();
    let args = args();
    match run(args, started).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, started: Instant) -> Result<(), String> {
    let store: Arc<dyn Store> = match args.etcd.clone() {
        Some(endpoints) => {
            let s = etcd_store(endpoints)
                .await
                .map_err(|e| format!("etcd: {e}"))?;
            say("store", "etcd connected");
            s
        }
        None => Arc::new(MemoryStore::new()),
    };
    let api = ApiServer::builder()
        .store(store)
        .build()
        .await
        .map_err(|e| format!("starting the API server: {e}"))?;
    let serving = HttpServer::new(&api)
        .bind(args.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    if let Some(dir) = args.kubeconfig.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    write_kubeconfig(&args.kubeconfig, &serving.url(), "keelson")
        .map_err(|e| format!("writing {}: {e}", args.kubeconfig.display()))?;
    say("apiserver", format!("serving on {}", serving.url()));
    say(
        "apiserver",
        format!("kubeconfig: {}", args.kubeconfig.display()),
    );
    say(
        "apiserver",
        format!(
            "try: kubectl --kubeconfig {} get nodes",
            args.kubeconfig.display()
        ),
    );

    let client = LocalClient::new(&api);
    let identity = format!("cluster-{}", std::process::id());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    let mut control = tokio::task::JoinSet::new();
    let manager = ControllerManager::new(&client).leader_election(&identity);
    control.spawn(manager.run(stopped()));
    let scheduler = Scheduler::new(&client, scheduler::Config::default());
    let handle = scheduler.handle();
    control.spawn(async move {
        if let Err(e) = scheduler.run().await {
            eprintln!("scheduler: {e}");
        }
    });
    say("controller", "controller manager started");
    say("scheduler", "scheduler started");
    let printer = (!args.quiet).then(|| tokio::spawn(progress(client.clone())));

    let mut agents = tokio::task::JoinSet::new();
    let mut process_runtimes = Vec::new();
    for i in 1..=args.nodes {
        let runtime: Arc<dyn ContainerRuntime> = match args.runtime {
            RuntimeKind::Fake => Arc::new(fake_runtime()),
            RuntimeKind::Process => {
                let r = Arc::new(process_runtime(i)?);
                process_runtimes.push(r.clone());
                r
            }
            RuntimeKind::Cri => cri_runtime(&args.cri_socket).await?,
        };
        let name = format!("node-{i}");
        let config = node::Config::new(name.as_str()).stop_pods_on_shutdown(true);
        let agent = NodeAgent::new(config, runtime, Arc::new(client.clone()) as Arc<dyn Client>);
        agent.register_logs(&api);
        let stop = stopped();
        agents.spawn(async move {
            if let Err(e) = agent.run(stop).await {
                eprintln!("node {name}: {e}");
            }
        });
    }
    say(
        "cluster",
        format!(
            "{} node(s) on the {} runtime, started in {} ms; Ctrl-C stops",
            args.nodes,
            match args.runtime {
                RuntimeKind::Fake => "fake",
                RuntimeKind::Process => "process",
                RuntimeKind::Cri => "cri",
            },
            started.elapsed().as_millis()
        ),
    );

    shutdown_signal().await;
    say("cluster", "stopping: node agents and their pods first");
    let _ = stop_tx.send(true);
    let deadline = Duration::from_secs(40);
    if tokio::time::timeout(deadline, async {
        while agents.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        eprintln!("cluster: node agents did not stop within {deadline:?}");
        agents.abort_all();
    }
    for runtime in &process_runtimes {
        runtime.shutdown().await;
    }
    if let Some(printer) = printer {
        printer.abort();
    }
    handle.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while control.join_next().await.is_some() {}
    })
    .await;
    control.abort_all();
    serving.shutdown().await;
    say("cluster", "stopped");
    Ok(())
}
