//! keelson: composable control-plane components, the parts Kubernetes is made
//! of, shaped so that an application can embed any of them and replace any of
//! them.
//!
//! | module | holds |
//! |---|---|
//! | [`api`] | the object model: kinds, metadata, selectors, quantities, validation (no I/O) |
//! | [`store`] | a revisioned key-value store with watch: in memory, or etcd |
//! | [`informer`] | reflectors, caches, shared informers and work queues for controllers |
//! | [`controllers`] | the reconcile runtime, leader election, and the built-in controllers |
//! | [`node`] | the node agent (kubelet): registration, pod workers, probes, restarts, volumes, status |
//! | [`runtime`] | the CRI-shaped container runtime interface the node agent drives |
//! | [`scheduler`] | the scheduling framework, queue, cache, default plugins and the scheduler |
//!
//! Start with [`prelude`]:
//!
//! ```
//! use keelson::prelude::*;
//!
//! let meta = ObjectMeta::namespaced("default", "web");
//! assert_eq!(meta.name, "web");
//! ```
#![warn(missing_docs)]

pub mod api;
pub mod apiserver;
pub mod client;
pub mod controllers;
#[cfg(feature = "http")]
pub mod http;
pub mod informer;
pub mod node;
pub mod runtime;
pub mod scheduler;
pub mod store;

/// The types most programs need.
pub mod prelude {
    pub use crate::api::{
        DynamicObject, ErrorList, List, Metadata, ObjectMeta, Resource, Scope, Status, Str,
        StringMap, Time, WatchEvent,
    };
    pub use crate::store::Store;
}
