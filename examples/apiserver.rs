//! Serves a keelson API server over HTTP until Ctrl-C, and writes a
//! kubeconfig for kubectl:
//!
//! ```text
//! cargo run --features http --example apiserver -- --listen 127.0.0.1:6443 --kubeconfig /tmp/kc
//! kubectl --kubeconfig /tmp/kc get namespaces
//! ```
//!
//! The store is in memory unless `--etcd URL,...` names etcd endpoints
//! (needs `--features http,etcd`). The built-in controllers (ReplicaSet,
//! Deployment, garbage collector) run in the same process behind leader
//! election, as kube-controller-manager would beside kube-apiserver, so a
//! Deployment gets its ReplicaSet and Pods; `--no-controllers` serves the
//! API alone. (No scheduler or node agent runs yet: Pods stay Pending.)
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use keelson::apiserver::ApiServer;
use keelson::client::LocalClient;
use keelson::controllers::ControllerManager;
use keelson::http::{write_kubeconfig, HttpServer};
use keelson::store::{MemoryStore, Store};

struct Args {
    listen: SocketAddr,
    kubeconfig: Option<PathBuf>,
    etcd: Option<Vec<String>>,
    controllers: bool,
}

fn usage() -> ! {
    eprintln!("usage: apiserver [--listen ADDR:PORT] [--kubeconfig FILE] [--etcd URL,...] [--no-controllers]");
    std::process::exit(2);
}

fn args() -> Args {
    let mut a = Args {
        listen: "127.0.0.1:6443".parse().expect("a valid address"),
        kubeconfig: None,
        etcd: None,
        controllers: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--listen" => {
                a.listen = value().parse().unwrap_or_else(|e| {
                    eprintln!("--listen: {e}");
                    usage()
                })
            }
            "--kubeconfig" => a.kubeconfig = Some(PathBuf::from(value())),
            "--etcd" => a.etcd = Some(value().split(',').map(str::to_string).collect()),
            "--no-controllers" => a.controllers = false,
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other:?}");
                usage()
            }
        }
    }
    a
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

#[tokio::main]
async fn main() {
    let args = args();
    let store: Arc<dyn Store> = match args.etcd {
        Some(endpoints) => match etcd_store(endpoints).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("etcd: {e}");
                std::process::exit(1);
            }
        },
        None => Arc::new(MemoryStore::new()),
    };
    let api = match ApiServer::builder().store(store).build().await {
        Ok(api) => api,
        Err(e) => {
            eprintln!("starting the API server: {e}");
            std::process::exit(1);
        }
    };
    let serving = match HttpServer::new(&api).bind(args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("listening on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    if let Some(path) = &args.kubeconfig {
        if let Err(e) = write_kubeconfig(path, &serving.url(), "keelson") {
            eprintln!("writing {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    println!("serving on {}", serving.url());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let manager = args.controllers.then(|| {
        let identity = format!("apiserver-{}", std::process::id());
        let client = LocalClient::new(&api);
        let manager = ControllerManager::new(&client).leader_election(&identity);
        tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }))
    });
    let _ = tokio::signal::ctrl_c().await;
    // The controllers stop first (releasing their lease), then the server.
    let _ = stop.send(());
    if let Some(manager) = manager {
        let _ = manager.await;
    }
    serving.shutdown().await;
}
