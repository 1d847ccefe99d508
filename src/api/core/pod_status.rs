//! [`PodStatus`]: what the kubelet reports about a pod — phase, conditions,
//! IPs and the state of every container.
use serde::{Deserialize, Serialize};

use super::ResourceRequirements;
use crate::api::serde_util::{is_default, nullable};
use crate::api::{ResourceList, Str, Time};

/// Phase `Pending`: accepted, not all containers running yet.
pub const PHASE_PENDING: &str = "Pending";
/// Phase `Running`: bound, all containers created, one or more running.
pub const PHASE_RUNNING: &str = "Running";
/// Phase `Succeeded`: all containers exited 0 and will not restart.
pub const PHASE_SUCCEEDED: &str = "Succeeded";
/// Phase `Failed`: all containers exited, one or more with failure.
pub const PHASE_FAILED: &str = "Failed";
/// Phase `Unknown`: the node stopped reporting.
pub const PHASE_UNKNOWN: &str = "Unknown";

/// The observed state of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub phase: Str,
    /// `PodScheduled`, `Initialized`, `ContainersReady`, `Ready`, ...
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<PodCondition>,
    /// Why the pod is in this state, for humans.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
    /// Why the pod is in this state, CamelCase (`Evicted`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// The node a preempting pod is expected to run on.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub nominated_node_name: Str,
    /// The node's primary IP.
    #[serde(default, rename = "hostIP", skip_serializing_if = "str::is_empty")]
    pub host_ip: Str,
    /// The node's IPs (`hostIPs[0]` is `hostIP`).
    #[serde(
        default,
        rename = "hostIPs",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub host_ips: Vec<HostIp>,
    /// The pod's primary IP.
    #[serde(default, rename = "podIP", skip_serializing_if = "str::is_empty")]
    pub pod_ip: Str,
    /// The pod's IPs, one per family (`podIPs[0]` is `podIP`).
    #[serde(
        default,
        rename = "podIPs",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub pod_ips: Vec<PodIp>,
    /// When the kubelet acknowledged the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// Init containers, in spec order.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub init_container_statuses: Vec<ContainerStatus>,
    /// Regular containers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub container_statuses: Vec<ContainerStatus>,
    /// `Guaranteed`, `Burstable` or `BestEffort`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub qos_class: Str,
    /// Ephemeral containers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ephemeral_container_statuses: Vec<ContainerStatus>,
    /// The state of an in-place resize: `Proposed`, `InProgress`,
    /// `Deferred`, `Infeasible`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub resize: Str,
    /// Names of the ResourceClaims generated for the pod.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_claim_statuses: Vec<PodResourceClaimStatus>,
}

impl PodStatus {
    /// The condition of type `type_`, if reported.
    pub fn condition(&self, type_: &str) -> Option<&PodCondition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// True when the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.condition("Ready").is_some_and(|c| c.status == "True")
    }
}

/// One aspect of a pod's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    /// The condition type.
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When it was last probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Why, CamelCase.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// Why, for humans.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

/// One of the node's IPs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostIp {
    /// The address.
    #[serde(default)]
    pub ip: Str,
}

/// One of the pod's IPs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodIp {
    /// The address.
    #[serde(default)]
    pub ip: Str,
}

/// A generated ResourceClaim of the pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodResourceClaimStatus {
    /// The claim's name in `spec.resourceClaims`.
    #[serde(default)]
    pub name: Str,
    /// The generated ResourceClaim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_name: Option<Str>,
}

/// The state of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// The container's name.
    #[serde(default)]
    pub name: Str,
    /// Its current state.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub state: ContainerState,
    /// Its previous state (after a restart).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub last_state: ContainerState,
    /// Whether its readiness probe passes.
    #[serde(default, deserialize_with = "nullable")]
    pub ready: bool,
    /// How many times it restarted.
    #[serde(default, deserialize_with = "nullable")]
    pub restart_count: i32,
    /// The image it runs.
    #[serde(default)]
    pub image: Str,
    /// The image's ID (digest).
    #[serde(default, rename = "imageID")]
    pub image_id: Str,
    /// `<runtime>://<id>`.
    #[serde(default, rename = "containerID", skip_serializing_if = "str::is_empty")]
    pub container_id: Str,
    /// Whether it started (passed its startup probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<bool>,
    /// Resources allocated by the node.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub allocated_resources: ResourceList,
    /// Resources actually applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<ResourceRequirements>>,
    /// The mounts' state.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volume_mounts: Vec<VolumeMountStatus>,
    /// The identity of the container's first process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Box<ContainerUser>>,
    /// Health of the devices allocated to it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allocated_resources_status: Vec<ResourceStatus>,
}

/// A container's state: at most one field is set (none means waiting).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Not running yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<ContainerStateWaiting>,
    /// Running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<ContainerStateRunning>,
    /// Exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<Box<ContainerStateTerminated>>,
}

/// A waiting container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateWaiting {
    /// Why (`ContainerCreating`, `CrashLoopBackOff`, `ImagePullBackOff`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// Details.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

/// A running container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateRunning {
    /// When it (re)started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
}

/// An exited container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateTerminated {
    /// The exit code.
    #[serde(default, deserialize_with = "nullable")]
    pub exit_code: i32,
    /// The signal that killed it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub signal: i32,
    /// Why (`Completed`, `Error`, `OOMKilled`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// Details (the termination message).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// `<runtime>://<id>`.
    #[serde(default, rename = "containerID", skip_serializing_if = "str::is_empty")]
    pub container_id: Str,
}

/// The state of a volume mount.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMountStatus {
    /// The volume's name.
    #[serde(default)]
    pub name: Str,
    /// The mount path.
    #[serde(default)]
    pub mount_path: Str,
    /// Whether it is read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// The effective recursive read-only mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_read_only: Option<Str>,
}

/// The identity of a container's first process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerUser {
    /// On Linux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<LinuxContainerUser>,
}

/// A Linux identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxContainerUser {
    /// The UID.
    #[serde(default, deserialize_with = "nullable")]
    pub uid: i64,
    /// The GID.
    #[serde(default, deserialize_with = "nullable")]
    pub gid: i64,
    /// Supplemental groups.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub supplemental_groups: Vec<i64>,
}

/// Health of the devices of one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The resource name.
    #[serde(default)]
    pub name: Str,
    /// Per device.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resources: Vec<ResourceHealth>,
}

/// Health of one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceHealth {
    /// The device.
    #[serde(default, rename = "resourceID")]
    pub resource_id: Str,
    /// `Healthy`, `Unhealthy` or `Unknown`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub health: Str,
}
