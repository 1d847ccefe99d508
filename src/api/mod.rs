//! The object model: Kubernetes' API types, with no I/O.
//!
//! Everything keelson stores, serves and reconciles is an API object: a kind
//! (`Pod`, `Deployment`, ...) with `apiVersion`, `kind`, [`ObjectMeta`] and
//! usually a `spec` (desired state) and a `status` (observed state). The types
//! here encode to exactly Kubernetes' JSON (field names, omitted empty
//! fields), so kubectl, kube-rs and YAML manifests work with them unchanged.
//!
//! - [`Resource`]: what a kind is (group, version, plural, scope) and how it is
//!   defaulted and validated; [`DynamicObject`] for kinds known only at run
//!   time (custom resources).
//! - [`ObjectMeta`], [`TypeMeta`], [`ListMeta`], [`List`]: metadata and lists.
//! - [`Status`]: errors as the API reports them; [`WatchEvent`]: watch events.
//! - [`validation`]: field paths, field errors and the shared name/label rules.
//! - [`Str`] and [`StringMap`]: the compact strings and maps objects are made of.
//! - [`Time`] and [`MicroTime`]: RFC 3339 timestamps.
//! - [`patch`]: JSON merge patch, JSON patch, strategic merge patch and
//!   server-side apply, as pure functions over JSON values.
//! - [`selector`]: label and field selectors; [`quantity`]: exact resource
//!   quantities; [`intstr`]: numbers-or-strings and percentages.
//!
//! The built-in kinds, one module per API group:
//!
//! | module | `apiVersion` | kinds |
//! |---|---|---|
//! | [`core`] | `v1` | Pod, PodTemplate, Binding, Node, Service, Endpoints, Namespace, ConfigMap, Secret, ServiceAccount, PersistentVolume, PersistentVolumeClaim, Event, LimitRange, ResourceQuota |
//! | [`apps`] | `apps/v1` | ReplicaSet, Deployment, DaemonSet, StatefulSet, ControllerRevision (and `autoscaling/v1` Scale) |
//! | [`batch`] | `batch/v1` | Job, CronJob |
//! | [`discovery`] | `discovery.k8s.io/v1` | EndpointSlice |
//! | [`coordination`] | `coordination.k8s.io/v1` | Lease |
//! | [`rbac`] | `rbac.authorization.k8s.io/v1` | Role, ClusterRole, RoleBinding, ClusterRoleBinding |
//! | [`networking`] | `networking.k8s.io/v1` | Ingress, IngressClass, NetworkPolicy |
//! | [`autoscaling`] | `autoscaling/v2`, `autoscaling/v1` | HorizontalPodAutoscaler |
//! | [`storage`] | `storage.k8s.io/v1` | StorageClass |
//! | [`scheduling`] | `scheduling.k8s.io/v1` | PriorityClass |
//! | [`policy`] | `policy/v1` | PodDisruptionBudget, Eviction |
//! | [`apiextensions`] | `apiextensions.k8s.io/v1` | CustomResourceDefinition |
//!
//! Each kind implements [`Resource`]: `apply_defaults` fills in what
//! Kubernetes defaults, `validate` returns every problem with its field path.
//!
//! ```
//! use keelson::api::coordination::{Lease, LeaseSpec};
//! use keelson::api::{ObjectMeta, Resource};
//!
//! let mut lease = Lease {
//!     metadata: ObjectMeta::namespaced("kube-system", "scheduler"),
//!     spec: LeaseSpec { holder_identity: Some("node-1".into()), ..LeaseSpec::default() },
//! };
//! lease.apply_defaults();
//! assert!(lease.validate().is_empty());
//! let json = serde_json::to_string(&lease).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"scheduler","namespace":"kube-system"},"spec":{"holderIdentity":"node-1"}}"#
//! );
//! assert_eq!(serde_json::from_str::<Lease>(&json).unwrap(), lease);
//! ```

pub mod apiextensions;
pub mod apps;
pub mod autoscaling;
pub mod batch;
pub mod coordination;
pub mod core;
pub mod discovery;
pub mod dynamic;
pub mod intstr;
pub mod manifest;
pub mod meta;
pub mod networking;
pub mod patch;
pub mod policy;
pub mod quantity;
pub mod rbac;
pub mod resource;
pub mod scheduling;
pub mod scheme;
pub mod selector;
pub mod serde_util;
pub mod status;
pub mod storage;
pub mod string;
pub mod time;
pub mod validation;
pub mod watch;

pub use self::dynamic::DynamicObject;
pub use self::intstr::IntOrString;
pub use self::meta::{
    split_api_version, Condition, List, ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference,
    TypeMeta,
};
pub use self::quantity::{Quantity, ResourceList};
pub use self::resource::{ApiResource, Metadata, Resource, Scope};
pub use self::scheme::{AnyObject, FieldValidation, Scheme};
pub use self::selector::{LabelSelector, LabelSelectorRequirement};
pub use self::status::{Status, StatusCause, StatusDetails};
pub use self::string::{SortedMap, Str, StringMap};
pub use self::time::{MicroTime, Time};
pub use self::validation::{ErrorList, FieldError, NameRule};
pub use self::watch::WatchEvent;
