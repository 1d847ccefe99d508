//! [`Node`]: a worker machine, its taints and pod CIDRs (spec) and what the
//! node agent reports about it (status: capacity, conditions, addresses,
//! system info, images).
//!
//! ```
//! use keelson::api::core::{node, Node};
//!
//! let node: Node = serde_json::from_str(
//!     r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},
//!         "status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
//! ).unwrap();
//! assert!(node.is_ready());
//! assert_eq!(node.condition(node::CONDITION_READY).map(|c| c.status.as_str()), Some("True"));
//! ```
use serde::{Deserialize, Serialize};

use super::{net, Taint};
use crate::api::quantity;
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{
    self, is_qualified_name, is_valid_label_value, ErrorList, FieldError, Path,
};
use crate::api::{ResourceList, Str, Time};

/// `Ready`: the node is healthy and accepts pods.
pub const CONDITION_READY: &str = "Ready";
/// `MemoryPressure`: the node is low on memory.
pub const CONDITION_MEMORY_PRESSURE: &str = "MemoryPressure";
/// `DiskPressure`: the node is low on disk.
pub const CONDITION_DISK_PRESSURE: &str = "DiskPressure";
/// `PIDPressure`: the node is low on process ids.
pub const CONDITION_PID_PRESSURE: &str = "PIDPressure";
/// `NetworkUnavailable`: the node's network is not configured.
pub const CONDITION_NETWORK_UNAVAILABLE: &str = "NetworkUnavailable";

/// Address type `Hostname`.
pub const ADDRESS_HOSTNAME: &str = "Hostname";
/// Address type `InternalIP`.
pub const ADDRESS_INTERNAL_IP: &str = "InternalIP";
/// Address type `ExternalIP`.
pub const ADDRESS_EXTERNAL_IP: &str = "ExternalIP";
/// Address type `InternalDNS`.
pub const ADDRESS_INTERNAL_DNS: &str = "InternalDNS";
/// Address type `ExternalDNS`.
pub const ADDRESS_EXTERNAL_DNS: &str = "ExternalDNS";

/// Taint effect `NoSchedule`: new pods without a toleration stay away.
pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";
/// Taint effect `PreferNoSchedule`: the scheduler avoids the node.
pub const EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
/// Taint effect `NoExecute`: running pods without a toleration are evicted.
pub const EFFECT_NO_EXECUTE: &str = "NoExecute";
/// The taint effects.
pub const TAINT_EFFECTS: &[&str] = &[
    EFFECT_NO_SCHEDULE,
    EFFECT_PREFER_NO_SCHEDULE,
    EFFECT_NO_EXECUTE,
];

/// Taint key of a node whose `Ready` condition is `False`.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint key of a node whose `Ready` condition is `Unknown`.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint key of a cordoned node (`spec.unschedulable`).
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Taint key of a node under memory pressure.
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// Taint key of a node under disk pressure.
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// Taint key of a node under PID pressure.
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// Taint key of a node whose network is unavailable.
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// Node label with the node's hostname.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// Node label with the node's operating system.
pub const LABEL_OS: &str = "kubernetes.io/os";
/// Node label with the node's CPU architecture.
pub const LABEL_ARCH: &str = "kubernetes.io/arch";
/// Node label with the node's zone.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// Node label with the node's region.
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";

object! {
    /// A worker machine.
    pub struct Node {
        /// The desired configuration.
        spec: NodeSpec = "spec",
        /// The state the node agent reports.
        status: NodeStatus = "status",
    }
    resource {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        scope: Cluster,
        short_names: ["no"],
        subresources: ["status", "proxy"],
    }

    fn apply_defaults(&mut self) {
        if self.status.allocatable.is_empty() && !self.status.capacity.is_empty() {
            self.status.allocatable = self.status.capacity.clone();
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        let taints = spec.child("taints");
        for (i, taint) in self.spec.taints.iter().enumerate() {
            let p = taints.index(i);
            validate_taint(taint, &p, &mut errors);
            let repeated = self.spec.taints[..i]
                .iter()
                .any(|t| t.key == taint.key && t.effect == taint.effect);
            if repeated {
                errors.push(FieldError::duplicate(&p, format!("{}:{}", taint.key, taint.effect)));
            }
        }
        let cidrs = spec.child("podCIDRs");
        if self.spec.pod_cidrs.len() > 2 {
            errors.push(FieldError::too_many(&cidrs, self.spec.pod_cidrs.len(), 2));
        }
        for (i, cidr) in self.spec.pod_cidrs.iter().enumerate() {
            for msg in net::is_valid_cidr(cidr) {
                errors.push(FieldError::invalid(&cidrs.index(i), cidr, msg));
            }
        }
        if let [a, b] = self.spec.pod_cidrs.as_slice() {
            if net::cidr_family(a).is_some() && net::cidr_family(a) == net::cidr_family(b) {
                errors.push(FieldError::invalid(&cidrs, b, "may specify no more than one CIDR for each IP family"));
            }
        }
        let status = Path::root("status");
        errors.extend(quantity::validate_resource_list(&self.status.capacity, &status.child("capacity")));
        errors.extend(quantity::validate_resource_list(&self.status.allocatable, &status.child("allocatable")));
        if !self.spec.pod_cidr.is_empty() {
            let p = spec.child("podCIDR");
            for msg in net::is_valid_cidr(&self.spec.pod_cidr) {
                errors.push(FieldError::invalid(&p, &self.spec.pod_cidr, msg));
            }
            if self.spec.pod_cidrs.first().is_some_and(|first| *first != self.spec.pod_cidr) {
                errors.push(FieldError::invalid(&p, &self.spec.pod_cidr, "must match `podCIDRs[0]`"));
            }
        }
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        let spec = Path::root("spec");
        if !old.spec.pod_cidrs.is_empty() && self.spec.pod_cidrs != old.spec.pod_cidrs {
            errors.push(FieldError::forbidden(
                &spec.child("podCIDRs"),
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        }
        if !old.spec.provider_id.is_empty() && self.spec.provider_id != old.spec.provider_id {
            errors.push(FieldError::forbidden(
                &spec.child("providerID"),
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        errors
    }
}

impl Node {
    /// The status condition of `type_`, if reported.
    pub fn condition(&self, type_: &str) -> Option<&NodeCondition> {
        self.status.conditions.iter().find(|c| c.type_ == type_)
    }

    /// True when the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.condition(CONDITION_READY)
            .is_some_and(|c| c.status == "True")
    }

    /// The first address of `type_` (`InternalIP`, `Hostname`, ...).
    pub fn address(&self, type_: &str) -> Option<&str> {
        self.status
            .addresses
            .iter()
            .find(|a| a.type_ == type_)
            .map(|a| a.address.as_str())
    }
}

/// Checks a taint at `path`: key, value and effect.
pub fn validate_taint(taint: &Taint, path: &Path<'_>, errors: &mut ErrorList) {
    let key = path.child("key");
    for msg in is_qualified_name(&taint.key) {
        errors.push(FieldError::invalid(&key, &taint.key, msg));
    }
    for msg in is_valid_label_value(&taint.value) {
        errors.push(FieldError::invalid(&path.child("value"), &taint.value, msg));
    }
    let effect = path.child("effect");
    if taint.effect.is_empty() {
        errors.push(FieldError::required(&effect, ""));
    } else if !TAINT_EFFECTS.contains(&&*taint.effect) {
        errors.push(FieldError::not_supported(
            &effect,
            &taint.effect,
            TAINT_EFFECTS,
        ));
    }
}

/// The desired configuration of a [`Node`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// The pod IP range assigned to the node.
    #[serde(rename = "podCIDR", default, skip_serializing_if = "str::is_empty")]
    pub pod_cidr: Str,
    /// The pod IP ranges, one per family; the first equals `podCIDR`.
    #[serde(
        rename = "podCIDRs",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub pod_cidrs: Vec<Str>,
    /// The cloud provider's id of the machine.
    #[serde(rename = "providerID", default, skip_serializing_if = "str::is_empty")]
    pub provider_id: Str,
    /// Cordoned: no new pods are scheduled here.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub unschedulable: bool,
    /// Taints that repel pods without matching tolerations.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub taints: Vec<Taint>,
    /// Deprecated dynamic kubelet configuration source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_source: Option<NodeConfigSource>,
    /// Deprecated external id.
    #[serde(rename = "externalID", default, skip_serializing_if = "str::is_empty")]
    pub external_id: Str,
}

/// A (deprecated) source of node configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfigSource {
    /// A ConfigMap holding the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapNodeConfigSource>,
}

/// A ConfigMap holding node configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapNodeConfigSource {
    /// The ConfigMap's namespace.
    #[serde(default)]
    pub namespace: Str,
    /// The ConfigMap's name.
    #[serde(default)]
    pub name: Str,
    /// The ConfigMap's uid.
    #[serde(rename = "uid", default, skip_serializing_if = "str::is_empty")]
    pub uid: Str,
    /// The ConfigMap's resource version.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub resource_version: Str,
    /// The key holding the kubelet configuration.
    #[serde(default)]
    pub kubelet_config_key: Str,
}

/// The state the node agent reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Total resources of the node.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub capacity: ResourceList,
    /// Resources available to pods (capacity minus reservations).
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub allocatable: ResourceList,
    /// Deprecated lifecycle phase.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub phase: Str,
    /// Current conditions (`Ready`, pressures).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<NodeCondition>,
    /// Reachable addresses.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<NodeAddress>,
    /// Ports of daemons on the node.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub daemon_endpoints: NodeDaemonEndpoints,
    /// Versions and identifiers of the machine and its software.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub node_info: NodeSystemInfo,
    /// Container images present on the node.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub images: Vec<ContainerImage>,
    /// Volumes in use (mounted).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes_in_use: Vec<Str>,
    /// Volumes attached to the node.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes_attached: Vec<AttachedVolume>,
    /// Status of the (deprecated) dynamic configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<NodeConfigStatus>,
    /// The container runtime's handlers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub runtime_handlers: Vec<NodeRuntimeHandler>,
    /// Features the node supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<NodeFeatures>,
}

/// One condition of a [`Node`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCondition {
    /// The condition's type (`Ready`, ...).
    #[serde(rename = "type", default)]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the condition was last probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<Time>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A CamelCase reason.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

/// One address of a [`Node`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAddress {
    /// `Hostname`, `InternalIP`, `ExternalIP`, `InternalDNS` or `ExternalDNS`.
    #[serde(rename = "type", default)]
    pub type_: Str,
    /// The address.
    #[serde(default)]
    pub address: Str,
}

/// Ports of daemons running on a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeDaemonEndpoints {
    /// The node agent's port.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub kubelet_endpoint: DaemonEndpoint,
}

/// A daemon's port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonEndpoint {
    /// The port (Kubernetes spells this field `Port`).
    #[serde(rename = "Port", default, deserialize_with = "nullable")]
    pub port: i32,
}

/// Identifiers and versions of a node's machine and software.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSystemInfo {
    /// The machine id (`/etc/machine-id`).
    #[serde(rename = "machineID", default)]
    pub machine_id: Str,
    /// The system UUID.
    #[serde(rename = "systemUUID", default)]
    pub system_uuid: Str,
    /// The boot id.
    #[serde(rename = "bootID", default)]
    pub boot_id: Str,
    /// `uname -r`.
    #[serde(default)]
    pub kernel_version: Str,
    /// The OS image (`/etc/os-release`).
    #[serde(default)]
    pub os_image: Str,
    /// The container runtime and its version (`containerd://1.7.0`).
    #[serde(default)]
    pub container_runtime_version: Str,
    /// The node agent's version.
    #[serde(default)]
    pub kubelet_version: Str,
    /// Deprecated kube-proxy version.
    #[serde(default)]
    pub kube_proxy_version: Str,
    /// `linux`, `windows`, ...
    #[serde(default)]
    pub operating_system: Str,
    /// `amd64`, `arm64`, ...
    #[serde(default)]
    pub architecture: Str,
}

/// A container image present on a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    /// The image's names and digests.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<Str>,
    /// The image's size.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub size_bytes: i64,
}

/// A volume attached to a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedVolume {
    /// The volume's unique name.
    #[serde(default)]
    pub name: Str,
    /// Where the volume is available on the node.
    #[serde(default)]
    pub device_path: Str,
}

/// The state of a node's (deprecated) dynamic configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfigStatus {
    /// The configuration the node should use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<NodeConfigSource>,
    /// The configuration in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<NodeConfigSource>,
    /// The last configuration known to work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_good: Option<NodeConfigSource>,
    /// A configuration error.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub error: Str,
}

/// A runtime handler (`runc`, `kata`) and its features.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRuntimeHandler {
    /// The handler's name; empty for the default handler.
    #[serde(default)]
    pub name: Str,
    /// The handler's features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<NodeRuntimeHandlerFeatures>,
}

/// Features of a runtime handler.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRuntimeHandlerFeatures {
    /// Recursive read-only mounts are supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_read_only_mounts: Option<bool>,
    /// User namespaces are supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_namespaces: Option<bool>,
}

/// Features a node supports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFeatures {
    /// `supplementalGroupsPolicy` is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplemental_groups_policy: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    const SAMPLE: &str = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","uid":"n-1","labels":{"kubernetes.io/hostname":"node-1","kubernetes.io/os":"linux"}},
      "spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24","fd00:1::/64"],"providerID":"kind://docker/kind/node-1",
              "unschedulable":true,"taints":[{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule","timeAdded":"2024-03-01T00:00:00Z"},
                                              {"key":"dedicated","value":"gpu","effect":"NoExecute"}],
              "configSource":{"configMap":{"namespace":"kube-system","name":"kubelet","uid":"c-1","resourceVersion":"9","kubeletConfigKey":"kubelet"}}},
      "status":{"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"7500m","memory":"30Gi","pods":"110"},"phase":"Running",
                "conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2024-03-01T00:00:10Z","lastTransitionTime":"2024-03-01T00:00:00Z","reason":"KubeletReady","message":"kubelet is posting ready status"},
                              {"type":"MemoryPressure","status":"False"}],
                "addresses":[{"type":"InternalIP","address":"172.18.0.2"},{"type":"Hostname","address":"node-1"}],
                "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
                "nodeInfo":{"machineID":"m","systemUUID":"s","bootID":"b","kernelVersion":"6.1.0","osImage":"Debian GNU/Linux 12","containerRuntimeVersion":"containerd://1.7.0","kubeletVersion":"v1.32.0","kubeProxyVersion":"","operatingSystem":"linux","architecture":"amd64"},
                "images":[{"names":["docker.io/library/nginx@sha256:abc","docker.io/library/nginx:1.27"],"sizeBytes":72000000}],
                "volumesInUse":["kubernetes.io/csi/driver^vol-1"],"volumesAttached":[{"name":"kubernetes.io/csi/driver^vol-1","devicePath":"/dev/sdb"}],
                "config":{"assigned":{"configMap":{"namespace":"kube-system","name":"kubelet","kubeletConfigKey":"kubelet"}},"error":"none"},
                "runtimeHandlers":[{"name":"","features":{"recursiveReadOnlyMounts":true,"userNamespaces":false}},{"name":"runc"}],
                "features":{"supplementalGroupsPolicy":true}}}"#;

    fn sample() -> Node {
        serde_json::from_str(SAMPLE).unwrap()
    }

    #[test]
    fn round_trip_and_helpers() {
        let value: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        let node: Node = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&node).unwrap(), value);
        assert!(node.validate().is_empty(), "{}", node.validate());
        assert!(node.is_ready());
        assert_eq!(node.address(ADDRESS_INTERNAL_IP), Some("172.18.0.2"));
        assert_eq!(node.status.daemon_endpoints.kubelet_endpoint.port, 10250);
        assert_eq!(Node::SHORT_NAMES, ["no"]);
    }

    #[test]
    fn allocatable_defaults_to_capacity() {
        let mut node = sample();
        node.status.allocatable.clear();
        node.apply_defaults();
        assert_eq!(node.status.allocatable, node.status.capacity);
        let mut full = sample();
        full.apply_defaults();
        assert_eq!(full, sample());
    }

    #[test]
    fn validation_table() {
        type Edit = fn(&mut Node);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "namespaced",
                |n| n.metadata.namespace = "default".into(),
                "metadata.namespace: Forbidden",
            ),
            (
                "taint key",
                |n| n.spec.taints[1].key = "bad key".into(),
                "spec.taints[1].key: Invalid value: \"bad key\"",
            ),
            (
                "taint value",
                |n| n.spec.taints[1].value = "a b".into(),
                "spec.taints[1].value: Invalid value: \"a b\"",
            ),
            (
                "taint effect missing",
                |n| n.spec.taints[1].effect = "".into(),
                "spec.taints[1].effect: Required value",
            ),
            (
                "taint effect",
                |n| n.spec.taints[1].effect = "Evict".into(),
                "spec.taints[1].effect: Unsupported value: \"Evict\"",
            ),
            (
                "duplicate taint",
                |n| {
                    n.spec.taints[1] = n.spec.taints[0].clone();
                },
                "spec.taints[1]: Duplicate value",
            ),
            (
                "bad cidr",
                |n| n.spec.pod_cidrs[1] = "fd00::/200".into(),
                "spec.podCIDRs[1]: Invalid value: \"fd00::/200\"",
            ),
            (
                "same family",
                |n| n.spec.pod_cidrs[1] = "10.245.0.0/24".into(),
                "spec.podCIDRs: Invalid value: \"10.245.0.0/24\"",
            ),
            (
                "three cidrs",
                |n| n.spec.pod_cidrs.push("10.0.0.0/8".into()),
                "spec.podCIDRs: Too many: 3",
            ),
            (
                "mismatch",
                |n| n.spec.pod_cidr = "10.9.0.0/24".into(),
                "spec.podCIDR: Invalid value: \"10.9.0.0/24\": must match",
            ),
        ];
        for (what, edit, want) in cases {
            let mut node = sample();
            edit(&mut node);
            let errors = node.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
    }

    #[test]
    fn status_quantities() {
        let mut node = sample();
        node.status.allocatable.insert("memory", "-1Gi");
        node.status.capacity.insert("cpu", "eight");
        let fields: Vec<String> = node.validate().iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            fields,
            ["status.capacity[cpu]", "status.allocatable[memory]"]
        );
    }

    #[test]
    fn pod_cidr_and_provider_are_immutable() {
        let old = sample();
        let mut new = sample();
        new.spec.pod_cidr = "10.244.9.0/24".into();
        new.spec.pod_cidrs = vec!["10.244.9.0/24".into()];
        new.spec.provider_id = "other".into();
        let fields: Vec<String> = new
            .validate_update(&old)
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(fields, ["spec.podCIDRs", "spec.providerID"]);
        let mut unset = sample();
        unset.spec.pod_cidr = "".into();
        unset.spec.pod_cidrs.clear();
        unset.spec.provider_id = "".into();
        assert!(sample().validate_update(&unset).is_empty());
    }
}
