//! The assembly on a real etcd keeps its state across a restart.
//!
//! The test starts a throwaway etcd member
//! (`store::etcd_process::EtcdProcess`), runs `cluster --etcd URL` on the
//! process runtime, creates the seed Deployment, stops the assembly with
//! SIGTERM (its pods stop with it), starts a new assembly on the same etcd
//! and checks with kubectl that the same Deployment, Pods and Nodes are
//! there, that the node agents come back (their leases renewed after the
//! restart), that the same pods run again and answer HTTP, and that the
//! controllers still reconcile (scale up, delete).

use std::collections::BTreeSet;
use std::time::Duration;

use keelson::store::etcd_process::EtcdProcess;

use super::{
    check_answers, check_spread, container_processes, nodes_ready, seeds, serial, wait_rollout,
    Cluster,
};

fn uids(items: &serde_json::Value) -> BTreeSet<String> {
    items["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["metadata"]["uid"].as_str().map(str::to_string))
        .collect()
}

/// `spec.renewTime` of each node's Lease.
fn lease_renewals(c: &Cluster) -> Vec<(String, String)> {
    let leases = c.json(&["get", "leases", "-n", "kube-node-lease"]);
    let mut out: Vec<(String, String)> = leases["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                l["spec"]["renewTime"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn state_survives_a_restart_on_etcd() {
    if !std::path::Path::new("/usr/bin/etcd").exists()
        && std::env::var_os("KEELSON_ETCD_BIN").is_none()
    {
        eprintln!("skipping the etcd restart test: etcd is not installed (apt-get install -y etcd-server)");
        return;
    }
    let _serial = serial();
    let tokio = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let etcd = tokio.block_on(EtcdProcess::start()).expect("starting etcd");
    let endpoint = etcd.endpoint();
    let args = ["--etcd", endpoint.as_str()];

    let mut first = Cluster::start("process", 3, &args);
    first.wait("3 nodes Ready", Duration::from_secs(30), |c| {
        nodes_ready(c, 3)
    });
    let deployment = seeds().join("26-deployment-kubia.yaml");
    first.kubectl(&["apply", "-f", deployment.to_str().unwrap()]);
    wait_rollout(&first, 3, "luksa/kubia:v1");
    check_spread(&first);
    check_answers(&first, "v1");

    let deployment_uid = first.json(&["get", "deployment", "kubia"])["metadata"]["uid"]
        .as_str()
        .map(str::to_string)
        .expect("the deployment's uid");
    let replica_sets = uids(&first.json(&["get", "replicasets", "-l", "app=kubia"]));
    let pods = uids(&first.json(&["get", "pods", "-l", "app=kubia"]));
    let nodes = uids(&first.json(&["get", "nodes"]));
    assert_eq!(pods.len(), 3);
    assert_eq!(nodes.len(), 3);
    let renewed_before = lease_renewals(&first);
    assert_eq!(
        renewed_before.len(),
        3,
        "one lease per node: {renewed_before:?}"
    );

    first.terminate();
    let left = container_processes(&first.binary);
    assert!(left.is_empty(), "processes left after SIGTERM: {left:?}");
    drop(first);

    let mut second = Cluster::start("process", 3, &args);
    // The objects are read back from etcd, not made again.
    let deployment = second.json(&["get", "deployment", "kubia"]);
    assert_eq!(
        deployment["metadata"]["uid"].as_str(),
        Some(deployment_uid.as_str()),
        "the same Deployment after the restart"
    );
    assert_eq!(
        uids(&second.json(&["get", "replicasets", "-l", "app=kubia"])),
        replica_sets
    );
    assert_eq!(
        uids(&second.json(&["get", "nodes"])),
        nodes,
        "the same Nodes"
    );
    assert_eq!(
        uids(&second.json(&["get", "pods", "-l", "app=kubia"])),
        pods,
        "the same Pods"
    );

    // The new node agents take their nodes back: every lease renewed after
    // the restart, every node Ready.
    second.wait(
        "the node leases to be renewed by the new agents",
        Duration::from_secs(30),
        |c| {
            let now = lease_renewals(c);
            now.len() == 3
                && now
                    .iter()
                    .zip(&renewed_before)
                    .all(|((n1, t1), (n0, t0))| n1 == n0 && t1 != t0)
        },
    );
    second.wait("3 nodes Ready", Duration::from_secs(30), |c| {
        nodes_ready(c, 3)
    });

    // The same pods run again on their nodes (their old processes are
    // gone, so an answer means the new agents started them).
    wait_rollout(&second, 3, "luksa/kubia:v1");
    assert_eq!(
        uids(&second.json(&["get", "pods", "-l", "app=kubia"])),
        pods,
        "the pods were restarted in place, not replaced"
    );
    check_answers(&second, "v1");

    // The controllers reconcile on the restored state.
    second.kubectl(&["scale", "deployment", "kubia", "--replicas=4"]);
    wait_rollout(&second, 4, "luksa/kubia:v1");
    check_answers(&second, "v1");
    second.kubectl(&["delete", "deployment", "kubia"]);
    second.wait("the kubia pods to be gone", Duration::from_secs(60), |c| {
        c.pods("app=kubia").is_empty()
    });
    second.interrupt();
    let left = container_processes(&second.binary);
    assert!(left.is_empty(), "processes left after Ctrl-C: {left:?}");
    drop(etcd);
}
