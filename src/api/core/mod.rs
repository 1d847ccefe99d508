//! `core/v1`: the kinds of the core API group (`apiVersion: v1`).
//!
//! Each kind lives in a module named after its concept (`service`, `node`,
//! `config` for ConfigMap/Secret/ServiceAccount, `volume_claim` for
//! PersistentVolume/PersistentVolumeClaim, `policy` for
//! LimitRange/ResourceQuota, ...); the types are re-exported here and the
//! constants stay qualified by their module (`service::TYPE_NODE_PORT`).
//!
//! ```
//! use keelson::api::core::{service, Service};
//! use keelson::api::Resource;
//!
//! let mut svc: Service = serde_json::from_str(
//!     r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia-nodeport"},
//!         "spec":{"type":"NodePort","ports":[{"port":80,"targetPort":8080,"nodePort":30123}],
//!                 "selector":{"app":"kubia"}}}"#,
//! ).unwrap();
//! svc.apply_defaults();
//! assert_eq!(svc.spec.external_traffic_policy, service::TRAFFIC_POLICY_CLUSTER);
//! assert!(svc.validate().is_empty());
//!
//! svc.spec.ports[0].node_port = 80;
//! assert_eq!(
//!     svc.validate().to_string(),
//!     "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. \
//!      The range of valid ports is 30000-32767"
//! );
//! ```
mod affinity;
mod common;
mod container;
mod container_validation;
mod pod;
mod pod_defaults;
mod pod_status;
mod pod_validation;
mod qos;
mod security;
mod volume;
mod volume_validation;

pub use self::affinity::*;
pub use self::common::*;
pub use self::container::*;
pub use self::container_validation::{is_config_map_key, is_env_var_name, is_valid_port_name};
pub use self::pod::*;
pub use self::pod_defaults::{
    default_container, default_pod, default_probe, default_pull_policy, default_volume,
};
pub use self::pod_status::*;
pub use self::qos::*;
pub use self::security::*;
pub use self::volume::*;

// Kinds other than Pod (api-core).
pub mod base64;
pub mod config;
pub mod endpoints;
pub mod event;
pub mod namespace;
pub mod net;
pub mod node;
pub mod policy;
pub mod service;
pub mod volume_claim;

pub use self::config::{ConfigMap, Secret, ServiceAccount};
pub use self::endpoints::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints};
pub use self::event::{Event, EventSeries, EventSource};
pub use self::namespace::{Namespace, NamespaceCondition, NamespaceSpec, NamespaceStatus};
pub use self::node::{
    AttachedVolume, ConfigMapNodeConfigSource, ContainerImage, DaemonEndpoint, Node, NodeAddress,
    NodeCondition, NodeConfigSource, NodeConfigStatus, NodeDaemonEndpoints, NodeFeatures,
    NodeRuntimeHandler, NodeRuntimeHandlerFeatures, NodeSpec, NodeStatus, NodeSystemInfo,
};
pub use self::policy::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
    ResourceQuotaStatus, ScopeSelector, ScopedResourceSelectorRequirement,
};
pub use self::service::{
    ClientIpConfig, LoadBalancerIngress, LoadBalancerStatus, PortStatus, Service, ServicePort,
    ServiceSpec, ServiceStatus, SessionAffinityConfig,
};
pub use self::volume_claim::{
    CsiPersistentVolumeSource, LocalVolumeSource, ModifyVolumeStatus, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimCondition, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, PersistentVolumeStatus, SecretReference,
    TypedObjectReference, VolumeNodeAffinity, VolumeResourceRequirements,
};
