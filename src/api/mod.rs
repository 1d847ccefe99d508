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
pub mod meta;
pub mod networking;
pub mod policy;
pub mod quantity;
pub mod rbac;
pub mod resource;
pub mod scheduling;
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
pub use self::selector::{LabelSelector, LabelSelectorRequirement};
pub use self::status::{Status, StatusCause, StatusDetails};
pub use self::string::{SortedMap, Str, StringMap};
pub use self::time::{MicroTime, Time};
pub use self::validation::{ErrorList, FieldError, NameRule};
pub use self::watch::WatchEvent;
