//! Pod admission on the node: do the pod's requests fit what is left?
use std::collections::HashSet;

use crate::api::core::Pod;
use crate::api::quantity::{Quantity, ResourceList};

/// The pod's effective requests: the larger of the app containers' sum and
/// each init container's, plus the pod overhead (as the scheduler counts).
pub(crate) fn pod_requests(pod: &Pod) -> (i64, i64) {
    let req = |r: &ResourceList, name: &str| r.get(name).map_or(0, Quantity::milli_value);
    let mem = |r: &ResourceList| r.get("memory").map_or(0, Quantity::value);
    let (mut cpu, mut memory) = (0i64, 0i64);
    for c in &pod.spec.containers {
        cpu = cpu.saturating_add(req(&c.resources.requests, "cpu"));
        memory = memory.saturating_add(mem(&c.resources.requests));
    }
    for c in &pod.spec.init_containers {
        cpu = cpu.max(req(&c.resources.requests, "cpu"));
        memory = memory.max(mem(&c.resources.requests));
    }
    cpu = cpu.saturating_add(req(&pod.spec.overhead, "cpu"));
    memory = memory.saturating_add(mem(&pod.spec.overhead));
    (cpu, memory)
}

fn host_ports(pod: &Pod) -> Vec<(String, i32)> {
    pod.spec
        .containers
        .iter()
        .chain(&pod.spec.init_containers)
        .flat_map(|c| &c.ports)
        .filter(|p| p.host_port > 0)
        .map(|p| {
            let proto = if p.protocol.is_empty() {
                "TCP"
            } else {
                p.protocol.as_str()
            };
            (proto.to_string(), p.host_port)
        })
        .collect()
}

/// Why a pod is refused: `(reason, message)`, or `None` when it fits next
/// to `admitted`.
pub(crate) fn refuse<'a>(
    pod: &Pod,
    admitted: impl Iterator<Item = &'a Pod>,
    allocatable: &ResourceList,
) -> Option<(&'static str, String)> {
    let (mut used_cpu, mut used_mem, mut count) = (0i64, 0i64, 0i64);
    let mut ports = HashSet::new();
    for p in admitted {
        let (c, m) = pod_requests(p);
        used_cpu = used_cpu.saturating_add(c);
        used_mem = used_mem.saturating_add(m);
        count += 1;
        ports.extend(host_ports(p));
    }
    let (cpu, mem) = pod_requests(pod);
    if let Some(max) = allocatable.get("pods").map(Quantity::value) {
        if count + 1 > max {
            return Some((
                "OutOfpods",
                format!("Node didn't have enough resource: pods, requested: 1, used: {count}, capacity: {max}"),
            ));
        }
    }
    if let Some(cap) = allocatable.get("cpu").map(Quantity::milli_value) {
        if cpu > 0 && used_cpu.saturating_add(cpu) > cap {
            return Some((
                "OutOfcpu",
                format!("Node didn't have enough resource: cpu, requested: {cpu}, used: {used_cpu}, capacity: {cap}"),
            ));
        }
    }
    if let Some(cap) = allocatable.get("memory").map(Quantity::value) {
        if mem > 0 && used_mem.saturating_add(mem) > cap {
            return Some((
                "OutOfmemory",
                format!("Node didn't have enough resource: memory, requested: {mem}, used: {used_mem}, capacity: {cap}"),
            ));
        }
    }
    for p in host_ports(pod) {
        if ports.contains(&p) {
            return Some((
                "NodePorts",
                "Node didn't have free ports for the requested pod ports".to_string(),
            ));
        }
    }
    None
}
