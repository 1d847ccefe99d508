//! Batch controller benchmarks: `cargo bench --bench batch` (release, our
//! own harness). One line per figure, `bench <name>: <value> s`.
//!
//! - `job_10k_completions`: seconds from creating a Job of 10,000
//!   completions with parallelism 500 until it is `Complete`; a helper
//!   task plays the kubelet and marks every pod `Succeeded` as soon as it
//!   appears (every running pod finishes at once). In-memory API server,
//!   the Job controller with default settings.
//! - `daemonset_1000_nodes`: seconds from creating a DaemonSet over 1,000
//!   nodes until every node runs its pod (bound — the controller binds
//!   directly, there is no scheduler — and marked `Running` by the helper).
use std::sync::Arc;
use std::time::{Duration, Instant};

use keelson::api::apps::DaemonSet;
use keelson::api::batch::Job;
use keelson::api::core::{Node, Pod};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, Client, LocalClient};
use keelson::controllers::{daemonset, job};
use keelson::informer::{Event, InformerFactory};
use serde_json::json;

/// Marks each new pod with `phase` (once it is bound, when `bound`).
fn kubelet(
    client: &Arc<dyn Client>,
    phase: &'static str,
    bound: bool,
) -> tokio::task::JoinHandle<()> {
    let factory = InformerFactory::new(client.clone());
    let pods = factory.informer::<Pod>();
    let mut sub = pods.subscribe();
    factory.start();
    let client = client.clone();
    tokio::spawn(async move {
        let _factory = factory;
        let mut done = std::collections::HashSet::new();
        while let Some(e) = sub.recv().await {
            let p = match e {
                Event::Added(p) | Event::Updated { new: p, .. } => p,
                _ => continue,
            };
            if (bound && p.spec.node_name.is_empty())
                || p.metadata.is_deleting()
                || done.contains(&p.metadata.uid)
            {
                continue;
            }
            done.insert(p.metadata.uid.clone());
            let client = client.clone();
            tokio::spawn(async move {
                let api = Api::<Pod>::namespaced(&client, &p.metadata.namespace);
                let mut pod = (*p).clone();
                for _ in 0..10 {
                    pod.status.phase = phase.into();
                    match api.update_status(&pod).await {
                        Ok(_) => return,
                        Err(e) if e.is_conflict() => match api.get(&pod.metadata.name).await {
                            Ok(fresh) => pod = fresh,
                            Err(_) => return,
                        },
                        Err(_) => return,
                    }
                }
            });
        }
    })
}

async fn job_10k() -> f64 {
    let server = ApiServer::in_memory().await.unwrap();
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let factory = InformerFactory::new(client.clone());
    let controller = tokio::spawn(job::run(&factory, futures::future::pending()));
    let helper = kubelet(&client, "Succeeded", false);
    let j: Job = serde_json::from_value(json!({
        "metadata": {"name": "big"},
        "spec": {"completions": 10_000, "parallelism": 500, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    let jobs = Api::<Job>::namespaced(&client, "default");
    let start = Instant::now();
    jobs.create(&j).await.unwrap();
    loop {
        let j = jobs.get("big").await.unwrap();
        if j.is_finished() {
            assert_eq!(j.status.succeeded, 10_000, "{:?}", j.status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    controller.abort();
    helper.abort();
    secs
}

async fn daemonset_1000() -> f64 {
    let server = ApiServer::in_memory().await.unwrap();
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let nodes = Api::<Node>::all(&client);
    for i in 0..1000 {
        let n: Node =
            serde_json::from_value(json!({"metadata": {"name": format!("node-{i}")}})).unwrap();
        nodes.create(&n).await.unwrap();
    }
    let factory = InformerFactory::new(client.clone());
    let config = daemonset::Config::default().bind_directly(true);
    let controller = tokio::spawn(daemonset::run_with(
        &factory,
        config,
        futures::future::pending(),
    ));
    let helper = kubelet(&client, "Running", true);
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    let pods = Api::<Pod>::namespaced(&client, "default");
    let start = Instant::now();
    Api::<DaemonSet>::namespaced(&client, "default")
        .create(&ds)
        .await
        .unwrap();
    loop {
        let (items, _) = pods.list_shared(&Default::default()).await.unwrap();
        let running: std::collections::HashSet<&str> = items
            .iter()
            .filter(|p| p.status.phase == "Running" && !p.spec.node_name.is_empty())
            .map(|p| p.spec.node_name.as_str())
            .collect();
        if running.len() == 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    controller.abort();
    helper.abort();
    secs
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    if wanted("job_10k_completions") {
        let s = rt.block_on(job_10k());
        println!("bench job_10k_completions: {s:.2} s");
    }
    if wanted("daemonset_1000_nodes") {
        let s = rt.block_on(daemonset_1000());
        println!("bench daemonset_1000_nodes: {s:.2} s");
    }
}
