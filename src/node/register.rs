//! Registration and heartbeats: the Node object, its status and its Lease.
use std::sync::Arc;

use tokio::time::Instant;

use super::{Result, Shared, KUBELET_VERSION};
use crate::api::coordination::{Lease, LeaseSpec};
use crate::api::core::{Node, NodeAddress, NodeCondition, NodeStatus, NodeSystemInfo};
use crate::api::{MicroTime, ObjectMeta, Str};
use crate::client::Api;

/// The namespace of node Leases.
pub(crate) const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The Node this agent reports (without status heartbeat times).
fn desired_node(shared: &Shared, runtime_version: &str) -> Node {
    let c = &shared.config;
    let mut node = Node {
        metadata: ObjectMeta::named(c.node_name.clone()),
        ..Node::default()
    };
    node.metadata.labels = c.labels.clone();
    node.metadata
        .labels
        .insert("kubernetes.io/hostname", c.node_name.clone());
    node.metadata.labels.insert("kubernetes.io/os", "linux");
    node.metadata
        .labels
        .insert("kubernetes.io/arch", std::env::consts::ARCH);
    node.spec.taints = c.taints.clone();
    node.spec.pod_cidr = c.pod_cidr.clone();
    if !c.pod_cidr.is_empty() {
        node.spec.pod_cidrs = vec![c.pod_cidr.clone()];
    }
    node.status = NodeStatus {
        capacity: shared.capacity.clone(),
        allocatable: shared.allocatable.clone(),
        addresses: vec![
            NodeAddress {
                type_: Str::from_static("InternalIP"),
                address: c.address.clone(),
            },
            NodeAddress {
                type_: Str::from_static("Hostname"),
                address: c.node_name.clone(),
            },
        ],
        node_info: NodeSystemInfo {
            machine_id: c.node_name.clone(),
            system_uuid: c.node_name.clone(),
            boot_id: c.node_name.clone(),
            kernel_version: Str::from_static("keelson"),
            os_image: Str::from_static("keelson"),
            container_runtime_version: Str::from(runtime_version),
            kubelet_version: Str::from_static(KUBELET_VERSION),
            kube_proxy_version: Str::default(),
            operating_system: Str::from_static("linux"),
            architecture: Str::from_static(std::env::consts::ARCH),
            swap: None,
        },
        ..NodeStatus::default()
    };
    node.status.daemon_endpoints.kubelet_endpoint.port = c.port;
    node
}

/// The node's conditions given the runtime's readiness, keeping transition
/// times of unchanged conditions.
fn conditions(
    old: &[NodeCondition],
    ready: bool,
    message: &str,
    now: crate::api::Time,
) -> Vec<NodeCondition> {
    let mut out = Vec::new();
    let mut push = |type_: &'static str, status: bool, reason: &'static str, message: String| {
        let status = Str::from_static(if status { "True" } else { "False" });
        let transition = old
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time)
            .unwrap_or(now);
        out.push(NodeCondition {
            type_: Str::from_static(type_),
            status,
            last_heartbeat_time: Some(now),
            last_transition_time: Some(transition),
            reason: Str::from_static(reason),
            message: Str::from(message),
        });
    };
    push(
        "MemoryPressure",
        false,
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available".into(),
    );
    push(
        "DiskPressure",
        false,
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure".into(),
    );
    push(
        "PIDPressure",
        false,
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available".into(),
    );
    if ready {
        push(
            "Ready",
            true,
            "KubeletReady",
            "kubelet is posting ready status".into(),
        );
    } else {
        push(
            "Ready",
            false,
            "KubeletNotReady",
            format!("container runtime is not ready: {message}"),
        );
    }
    out
}

/// True when two statuses differ in more than heartbeat times.
fn status_changed(a: &NodeStatus, b: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_heartbeat_time = None;
        }
        s
    };
    strip(a) != strip(b)
}

/// Creates the Node or brings it up to date; returns the node as written.
pub(crate) async fn register(shared: &Shared, previous: Option<&Node>) -> Result<Node> {
    let version = shared.runtime.version().await?;
    let status = shared.runtime.status().await;
    let (ready, message) = match &status {
        Ok(s) => (s.runtime_ready && s.network_ready, s.message.clone()),
        Err(e) => (false, e.to_string()),
    };
    let desired = desired_node(
        shared,
        &format!("{}://{}", version.runtime_name, version.runtime_version),
    );
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let now = shared.clock.now();
    let current = match previous {
        Some(n) => Some(n.clone()),
        None => nodes.get_opt(&shared.config.node_name).await?,
    };
    let Some(mut current) = current else {
        let mut node = desired;
        node.status.conditions = conditions(&[], ready, &message, now);
        let created = match nodes.create(&node).await {
            Ok(n) => n,
            Err(e) if e.is_already_exists() => nodes.get(&shared.config.node_name).await?,
            Err(e) => return Err(e.into()),
        };
        let mut with_status = created.clone();
        with_status.status = node.status;
        return Ok(nodes.update_status(&with_status).await?);
    };
    let mut status = desired.status.clone();
    status.conditions = conditions(&current.status.conditions, ready, &message, now);
    status.images = current.status.images.clone();
    if previous.is_some() && !status_changed(&status, &current.status) {
        return Ok(current);
    }
    // Labels and taints the agent owns are kept in place; others'
    // additions stay.
    let mut meta_changed = false;
    for (k, v) in desired.metadata.labels.iter() {
        if current.metadata.labels.get(k) != Some(v) {
            current.metadata.labels.insert(k, v.clone());
            meta_changed = true;
        }
    }
    if previous.is_none()
        && current.spec.taints != desired.spec.taints
        && !desired.spec.taints.is_empty()
    {
        current.spec.taints = desired.spec.taints.clone();
        meta_changed = true;
    }
    if meta_changed {
        current = nodes.update(&current).await?;
    }
    current.status = status;
    current.metadata.resource_version = Str::default();
    Ok(nodes.update_status(&current).await?)
}

/// Renews (or creates) the node's Lease.
pub(crate) async fn renew_lease(shared: &Shared, node: &Node) -> Result<()> {
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), LEASE_NAMESPACE);
    let name = &shared.config.node_name;
    let now = MicroTime::from(shared.clock.wall(Instant::now()));
    let seconds = i32::try_from(shared.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    match leases.get_opt(name).await? {
        Some(mut lease) => {
            lease.spec.renew_time = Some(now);
            lease.spec.holder_identity = Some(name.clone());
            lease.spec.lease_duration_seconds = Some(seconds);
            leases.update(&lease).await?;
        }
        None => {
            let mut lease = Lease {
                metadata: ObjectMeta::namespaced(LEASE_NAMESPACE, name.clone()),
                spec: LeaseSpec {
                    holder_identity: Some(name.clone()),
                    lease_duration_seconds: Some(seconds),
                    renew_time: Some(now),
                    ..LeaseSpec::default()
                },
            };
            lease.metadata.owner_references = vec![crate::api::meta::OwnerReference {
                api_version: Str::from_static("v1"),
                kind: Str::from_static("Node"),
                name: node.metadata.name.clone(),
                uid: node.metadata.uid.clone(),
                ..Default::default()
            }];
            match leases.create(&lease).await {
                Ok(_) => {}
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Renews the Lease and refreshes the node status until the task is
/// dropped.
pub(crate) async fn heartbeat(shared: Arc<Shared>, mut node: Node) {
    let c = &shared.config;
    let mut next_lease = Instant::now();
    let mut next_status = Instant::now() + c.node_status_interval;
    let mut last_report = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_lease {
            if let Err(e) = renew_lease(&shared, &node).await {
                tracing::warn!(node = %c.node_name, error = %e, "renewing the node lease");
                next_lease = now
                    + c.lease_renew_interval
                        .min(std::time::Duration::from_secs(1))
                        .max(c.lease_renew_interval / 10);
            } else {
                next_lease = now + c.lease_renew_interval;
            }
        }
        if now >= next_status {
            let force = now.duration_since(last_report) >= c.node_status_report_interval;
            let prev = (!force).then_some(&node);
            match register(&shared, prev).await {
                Ok(n) => {
                    if n.metadata.resource_version != node.metadata.resource_version {
                        last_report = now;
                    }
                    node = n;
                }
                Err(e) => {
                    tracing::warn!(node = %c.node_name, error = %e, "updating the node status")
                }
            }
            next_status = now + c.node_status_interval;
        }
        tokio::time::sleep_until(next_lease.min(next_status)).await;
    }
}
