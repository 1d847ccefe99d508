//! Builders for nodes and pods.
use std::sync::Arc;

use keelson::api::core::{
    Affinity, Container, ContainerPort, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity, Taint, Toleration,
    TopologySpreadConstraint,
};
use keelson::api::{LabelSelector, ObjectMeta, Quantity};
use keelson::scheduler::{NodeInfo, PodInfo};

pub const ZONE: &str = "topology.kubernetes.io/zone";
pub const HOST: &str = "kubernetes.io/hostname";

pub fn node(name: &str, cpu: &str, mem: &str, pods: u32) -> Node {
    let mut n = Node {
        metadata: ObjectMeta::named(name),
        ..Default::default()
    };
    for (k, v) in [
        ("cpu", cpu.to_string()),
        ("memory", mem.to_string()),
        ("pods", pods.to_string()),
    ] {
        n.status.allocatable.insert(k, Quantity::from(v.as_str()));
        n.status.capacity.insert(k, Quantity::from(v.as_str()));
    }
    n.metadata.labels.insert(HOST, name);
    n
}

pub fn label(mut n: Node, k: &str, v: &str) -> Node {
    n.metadata.labels.insert(k, v);
    n
}

pub fn taint(mut n: Node, k: &str, v: &str, effect: &str) -> Node {
    n.spec.taints.push(Taint {
        key: k.into(),
        value: v.into(),
        effect: effect.into(),
        ..Default::default()
    });
    n
}

pub fn pod(ns: &str, name: &str, cpu: &str, mem: &str) -> Pod {
    let mut p = Pod {
        metadata: ObjectMeta::namespaced(ns, name),
        ..Default::default()
    };
    p.metadata.uid = format!("uid-{ns}-{name}").into();
    let mut c = Container {
        name: "c".into(),
        image: "registry.k8s.io/pause:3.9".into(),
        ..Default::default()
    };
    if !cpu.is_empty() {
        c.resources.requests.insert("cpu", Quantity::from(cpu));
    }
    if !mem.is_empty() {
        c.resources.requests.insert("memory", Quantity::from(mem));
    }
    p.spec.containers.push(c);
    p
}

pub fn plabel(mut p: Pod, k: &str, v: &str) -> Pod {
    p.metadata.labels.insert(k, v);
    p
}

pub fn priority(mut p: Pod, prio: i32) -> Pod {
    p.spec.priority = Some(prio);
    p
}

pub fn host_port(mut p: Pod, port: i32) -> Pod {
    p.spec.containers[0].ports.push(ContainerPort {
        container_port: port,
        host_port: port,
        protocol: "TCP".into(),
        ..Default::default()
    });
    p
}

pub fn tolerate(mut p: Pod, k: &str, v: &str, effect: &str) -> Pod {
    p.spec.tolerations.push(Toleration {
        key: k.into(),
        value: v.into(),
        effect: effect.into(),
        operator: if v.is_empty() {
            "Exists".into()
        } else {
            "Equal".into()
        },
        ..Default::default()
    });
    p
}

fn affinity(p: &mut Pod) -> &mut Affinity {
    p.spec.affinity.get_or_insert_with(Default::default)
}

pub fn require_node(mut p: Pod, key: &str, op: &str, values: &[&str]) -> Pod {
    let na = affinity(&mut p)
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let sel = na
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(|| NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm::default()],
        });
    sel.node_selector_terms[0]
        .match_expressions
        .push(NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.iter().map(|v| (*v).into()).collect(),
        });
    p
}

pub fn prefer_node(mut p: Pod, key: &str, value: &str, weight: i32) -> Pod {
    let na = affinity(&mut p)
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    na.preferred_during_scheduling_ignored_during_execution
        .push(keelson::api::core::PreferredSchedulingTerm {
            weight,
            preference: NodeSelectorTerm {
                match_expressions: vec![NodeSelectorRequirement {
                    key: key.into(),
                    operator: "In".into(),
                    values: vec![value.into()],
                }],
                ..Default::default()
            },
        });
    p
}

pub fn term(k: &str, v: &str, topology: &str) -> PodAffinityTerm {
    let mut sel = LabelSelector::default();
    sel.match_labels.insert(k, v);
    PodAffinityTerm {
        label_selector: Some(sel),
        topology_key: topology.into(),
        ..Default::default()
    }
}

pub fn pod_affinity(mut p: Pod, t: PodAffinityTerm) -> Pod {
    affinity(&mut p)
        .pod_affinity
        .get_or_insert_with(PodAffinity::default)
        .required_during_scheduling_ignored_during_execution
        .push(t);
    p
}

pub fn pod_anti_affinity(mut p: Pod, t: PodAffinityTerm) -> Pod {
    affinity(&mut p)
        .pod_anti_affinity
        .get_or_insert_with(PodAntiAffinity::default)
        .required_during_scheduling_ignored_during_execution
        .push(t);
    p
}

pub fn spread(mut p: Pod, key: &str, max_skew: i32, k: &str, v: &str, hard: bool) -> Pod {
    let mut sel = LabelSelector::default();
    sel.match_labels.insert(k, v);
    p.spec
        .topology_spread_constraints
        .push(TopologySpreadConstraint {
            max_skew,
            topology_key: key.into(),
            when_unsatisfiable: if hard {
                "DoNotSchedule"
            } else {
                "ScheduleAnyway"
            }
            .into(),
            label_selector: Some(sel),
            ..Default::default()
        });
    p
}

pub fn info(p: Pod) -> Arc<PodInfo> {
    Arc::new(PodInfo::new(Arc::new(p)))
}

/// A node info with these pods on it.
pub fn node_info(n: Node, pods: Vec<Pod>) -> NodeInfo {
    let mut ni = NodeInfo::new(Arc::new(n));
    for mut p in pods {
        p.spec.node_name = ni.name().into();
        ni.add_pod(info(p));
    }
    ni
}
