//! The quality-of-service class of a pod: how the kubelet ranks it when the
//! node runs short of memory (BestEffort pods are evicted first, Guaranteed
//! pods last).
//!
//! ```
//! use keelson::api::core::{qos_class, Container, PodSpec, QosClass};
//! use keelson::api::ResourceList;
//!
//! let mut spec = PodSpec::default();
//! spec.containers.push(Container::new("app", "nginx"));
//! assert_eq!(qos_class(&spec), QosClass::BestEffort);
//!
//! // Limits alone: requests default to them, so the pod is Guaranteed.
//! spec.containers[0].resources.limits = ResourceList::from([("cpu", "1"), ("memory", "1Gi")]);
//! assert_eq!(qos_class(&spec), QosClass::Guaranteed);
//!
//! spec.containers[0].resources.requests = ResourceList::from([("cpu", "500m")]);
//! assert_eq!(qos_class(&spec), QosClass::Burstable);
//! ```
use super::{PodSpec, ResourceRequirements};
use crate::api::quantity::ParsedQuantity;
use crate::api::{Quantity, SortedMap};

/// A pod's quality-of-service class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QosClass {
    /// Every container has CPU and memory limits, and requests equal to them.
    Guaranteed,
    /// Some requests or limits, but not guaranteed.
    Burstable,
    /// No CPU or memory requests or limits at all.
    BestEffort,
}

impl QosClass {
    /// The name written to `status.qosClass`.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

impl std::fmt::Display for QosClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resources QoS looks at.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// Sums of positive quantities per QoS resource.
#[derive(Default)]
struct Totals(SortedMap<ParsedQuantity>);

impl Totals {
    fn add(&mut self, name: &str, q: &Quantity) {
        // Malformed quantities are a validation error; here they count as 0.
        let Ok(v) = q.parsed() else { return };
        if v.signum() <= 0 {
            return;
        }
        let total = match self.0.get(name) {
            Some(sum) => sum.checked_add(&v).unwrap_or(v),
            None => v,
        };
        self.0.insert(name, total);
    }
}

/// The QoS class of a pod spec, as Kubernetes' `GetPodQOS` computes it:
/// only `cpu` and `memory` count; requests default to limits; with no
/// requests or limits the pod is `BestEffort`; when every container limits
/// both and requests equal limits it is `Guaranteed`; otherwise
/// `Burstable`. Pod-level `resources`, when they set CPU or memory, decide
/// instead of the containers.
pub fn qos_class(spec: &PodSpec) -> QosClass {
    let mut requests = Totals::default();
    let mut limits = Totals::default();
    let mut guaranteed = true;
    let mut account = |r: &ResourceRequirements| {
        for name in QOS_RESOURCES {
            let limit = r.limits.get(name);
            if let Some(q) = r.requests.get(name).or(limit) {
                requests.add(name, q);
            }
            match limit {
                Some(q) if q.parsed().is_ok_and(|v| v.signum() > 0) => limits.add(name, q),
                _ => guaranteed = false,
            }
        }
    };
    match spec.resources.as_deref().filter(|r| {
        QOS_RESOURCES
            .iter()
            .any(|n| r.requests.contains_key(n) || r.limits.contains_key(n))
    }) {
        Some(pod_level) => account(pod_level),
        None => {
            for c in spec.all_containers() {
                account(&c.resources);
            }
        }
    }
    if requests.0.is_empty() && limits.0.is_empty() {
        return QosClass::BestEffort;
    }
    let equal = requests.0.len() == limits.0.len()
        && requests
            .0
            .iter()
            .all(|(name, req)| limits.0.get(name) == Some(req));
    if guaranteed && equal {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::Container;
    use crate::api::ResourceList;

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let mut c = Container::new("c", "nginx");
        c.resources.requests = requests.iter().copied().collect::<ResourceList>();
        c.resources.limits = limits.iter().copied().collect::<ResourceList>();
        c
    }

    #[test]
    fn qos_table() {
        use QosClass::*;
        let full = [("cpu", "1"), ("memory", "1Gi")];
        let cases: Vec<(&str, Vec<Container>, Vec<Container>, QosClass)> = vec![
            ("nothing", vec![container(&[], &[])], vec![], BestEffort),
            (
                "only other resources",
                vec![container(
                    &[("ephemeral-storage", "1Gi")],
                    &[("nvidia.com/gpu", "1")],
                )],
                vec![],
                BestEffort,
            ),
            (
                "zero requests",
                vec![container(&[("cpu", "0")], &[])],
                vec![],
                BestEffort,
            ),
            (
                "limits equal requests",
                vec![container(&full, &full)],
                vec![],
                Guaranteed,
            ),
            (
                "limits only (requests default)",
                vec![container(&[], &full)],
                vec![],
                Guaranteed,
            ),
            (
                "same value, other units",
                vec![container(&[("cpu", "1000m"), ("memory", "1024Mi")], &full)],
                vec![],
                Guaranteed,
            ),
            (
                "request below limit",
                vec![container(&[("cpu", "500m"), ("memory", "1Gi")], &full)],
                vec![],
                Burstable,
            ),
            (
                "cpu limit only",
                vec![container(&[], &[("cpu", "1")])],
                vec![],
                Burstable,
            ),
            (
                "request only",
                vec![container(&[("memory", "64Mi")], &[])],
                vec![],
                Burstable,
            ),
            (
                "one guaranteed, one best effort",
                vec![container(&[], &full), container(&[], &[])],
                vec![],
                Burstable,
            ),
            (
                "init container counts",
                vec![container(&[], &full)],
                vec![container(&[("cpu", "100m")], &[])],
                Burstable,
            ),
            (
                "all guaranteed incl. init",
                vec![container(&[], &full)],
                vec![container(&full, &full)],
                Guaranteed,
            ),
            (
                "best effort with init requests",
                vec![container(&[], &[])],
                vec![container(&[("memory", "1Mi")], &[])],
                Burstable,
            ),
        ];
        for (name, containers, init, want) in cases {
            let spec = PodSpec {
                containers,
                init_containers: init,
                ..PodSpec::default()
            };
            assert_eq!(qos_class(&spec), want, "{name}");
        }
    }

    #[test]
    fn pod_level_resources_decide() {
        let mut spec = PodSpec::default();
        spec.containers.push(container(&[], &[]));
        spec.resources = Some(Box::new(ResourceRequirements {
            limits: ResourceList::from([("cpu", "2"), ("memory", "2Gi")]),
            ..ResourceRequirements::default()
        }));
        assert_eq!(qos_class(&spec), QosClass::Guaranteed);
        assert_eq!(QosClass::Guaranteed.to_string(), "Guaranteed");
    }
}
