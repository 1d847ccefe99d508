//! `core/v1`: the kinds of the core API group (`apiVersion: v1`).
mod common;

pub use self::common::*;

// Kinds other than Pod (api-core); constants stay qualified by their module
// (`service::TYPE_NODE_PORT`).
pub mod base64;
pub mod net;
pub mod service;

pub use self::service::{
    ClientIpConfig, LoadBalancerIngress, LoadBalancerStatus, PortStatus, Service, ServicePort,
    ServiceSpec, ServiceStatus, SessionAffinityConfig,
};
pub mod config;

pub use self::config::{ConfigMap, Secret, ServiceAccount};
pub mod endpoints;
pub mod namespace;

pub use self::endpoints::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints};
pub use self::namespace::{Namespace, NamespaceCondition, NamespaceSpec, NamespaceStatus};
pub mod node;

pub use self::node::{
    AttachedVolume, ConfigMapNodeConfigSource, ContainerImage, DaemonEndpoint, Node, NodeAddress,
    NodeCondition, NodeConfigSource, NodeConfigStatus, NodeDaemonEndpoints, NodeFeatures,
    NodeRuntimeHandler, NodeRuntimeHandlerFeatures, NodeSpec, NodeStatus, NodeSystemInfo,
};
pub mod volume_claim;
mod volume_source_shim;

pub use self::volume_claim::{
    CsiPersistentVolumeSource, LocalVolumeSource, ModifyVolumeStatus, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimCondition, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, PersistentVolumeStatus, SecretReference,
    TypedObjectReference, VolumeNodeAffinity, VolumeResourceRequirements,
};
// Until api-pod lands (it defines these in `volume.rs`).
pub use self::volume_source_shim::{HostPathVolumeSource, NfsVolumeSource};
pub mod event;
pub mod policy;

pub use self::event::{Event, EventSeries, EventSource};
pub use self::policy::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
    ResourceQuotaStatus, ScopeSelector, ScopedResourceSelectorRequirement,
};
