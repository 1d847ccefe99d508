//! Admission: plugins that see every write after it is decoded and
//! defaulted, and before it is stored.
//!
//! The chain runs in two phases, as Kubernetes': every plugin's
//! [`admit`](Admission::admit) (mutating: may change the object), then
//! validation of the object itself, then every plugin's
//! [`validate`](Admission::validate) (may only refuse). A refusal is the
//! request's error (usually `403 Forbidden`).
//!
//! The built-in plugins, in order: [`NamespaceLifecycle`], [`LimitRanger`],
//! [`ServiceAccount`], [`ResourceQuota`]. Add your own with
//! [`Builder::admission`](super::Builder::admission), as a type implementing
//! [`Admission`] or from closures with [`mutating`] and [`validating`]:
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::core::ConfigMap;
//! use keelson::api::{ObjectMeta, Status};
//! use keelson::apiserver::{admission, ApiServer, Operation, Target, WriteOptions};
//!
//! let server = ApiServer::builder()
//!     .admission(admission::mutating("team-label", |attrs, obj| {
//!         if attrs.operation == Operation::Create {
//!             obj.meta_mut().labels.insert("team", "platform");
//!         }
//!         Ok(())
//!     }))
//!     .admission(admission::validating("no-secrets-in-default", |attrs, _obj| {
//!         if attrs.resource.kind == "Secret" && attrs.namespace == "default" {
//!             return Err(Status::forbidden("", "secrets", attrs.name, "not in default").into());
//!         }
//!         Ok(())
//!     }))
//!     .build()
//!     .await
//!     .unwrap();
//! let cm = ConfigMap { metadata: ObjectMeta::named("a"), ..Default::default() };
//! let t = Target::new("", "v1", "configmaps").namespace("default");
//! let w = server.create(&t, Box::new(cm), &WriteOptions::default()).await.unwrap();
//! assert_eq!(w.object.meta().labels.get_str("team"), Some("platform"));
//! # });
//! ```
use async_trait::async_trait;

use crate::api::scheme::{AnyObject, KindInfo};
use crate::api::ApiResource;

use super::error::Result;
use super::request::UserInfo;
use super::ApiServer;

mod limit_ranger;
mod namespace;
mod quota;
mod service_account;

pub use self::limit_ranger::LimitRanger;
pub use self::namespace::NamespaceLifecycle;
pub use self::quota::ResourceQuota;
pub use self::service_account::ServiceAccount;

/// The kind of write being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A create.
    Create,
    /// An update, patch, or write to a subresource.
    Update,
    /// A delete.
    Delete,
}

/// What a write is about.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    /// Create, update or delete.
    pub operation: Operation,
    /// The kind written.
    pub resource: &'a ApiResource,
    /// The subresource (`status`), or empty.
    pub subresource: &'a str,
    /// The namespace (empty for cluster-scoped kinds).
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// The stored object, for updates and deletes.
    pub old_object: Option<&'a dyn AnyObject>,
    /// Who is writing.
    pub user: &'a UserInfo,
    /// A dry run: plugins must not persist side effects.
    pub dry_run: bool,
}

/// An admission plugin. Every method has a default that does nothing, so a
/// plugin implements only the phases it needs.
#[async_trait]
pub trait Admission: Send + Sync + 'static {
    /// The plugin's name (for errors and logs).
    fn name(&self) -> &str;

    /// Mutating phase of creates and updates: may change `object`.
    async fn admit(
        &self,
        _attrs: &Attributes<'_>,
        _object: &mut dyn AnyObject,
        _api: &ApiServer,
    ) -> Result<()> {
        Ok(())
    }

    /// Validating phase of creates, updates (`object` is the new object)
    /// and deletes (`object` is `None`; the stored one is in `attrs`).
    async fn validate(
        &self,
        _attrs: &Attributes<'_>,
        _object: Option<&dyn AnyObject>,
        _api: &ApiServer,
    ) -> Result<()> {
        Ok(())
    }

    /// The write this plugin validated was not persisted (a later plugin
    /// refused it, it was a dry run, or the store failed): undo side effects
    /// such as quota charges.
    async fn rollback(
        &self,
        _attrs: &Attributes<'_>,
        _object: Option<&dyn AnyObject>,
        _api: &ApiServer,
    ) {
    }

    /// An object was removed from the store.
    async fn deleted(&self, _kind: &KindInfo, _object: &dyn AnyObject, _api: &ApiServer) {}
}

/// The built-in plugins, in Kubernetes' order.
pub(crate) fn defaults() -> Vec<std::sync::Arc<dyn Admission>> {
    vec![
        std::sync::Arc::new(NamespaceLifecycle::default()),
        std::sync::Arc::new(LimitRanger::default()),
        std::sync::Arc::new(ServiceAccount::default()),
        std::sync::Arc::new(ResourceQuota::default()),
    ]
}

/// A mutating plugin from a closure.
pub fn mutating<F>(name: impl Into<String>, f: F) -> impl Admission
where
    F: Fn(&Attributes<'_>, &mut dyn AnyObject) -> Result<()> + Send + Sync + 'static,
{
    Mutating {
        name: name.into(),
        f,
    }
}

/// A validating plugin from a closure (called for creates and updates with
/// the new object, for deletes with `None`).
pub fn validating<F>(name: impl Into<String>, f: F) -> impl Admission
where
    F: Fn(&Attributes<'_>, Option<&dyn AnyObject>) -> Result<()> + Send + Sync + 'static,
{
    Validating {
        name: name.into(),
        f,
    }
}

struct Mutating<F> {
    name: String,
    f: F,
}

#[async_trait]
impl<F> Admission for Mutating<F>
where
    F: Fn(&Attributes<'_>, &mut dyn AnyObject) -> Result<()> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn admit(
        &self,
        attrs: &Attributes<'_>,
        object: &mut dyn AnyObject,
        _api: &ApiServer,
    ) -> Result<()> {
        (self.f)(attrs, object)
    }
}

struct Validating<F> {
    name: String,
    f: F,
}

#[async_trait]
impl<F> Admission for Validating<F>
where
    F: Fn(&Attributes<'_>, Option<&dyn AnyObject>) -> Result<()> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn validate(
        &self,
        attrs: &Attributes<'_>,
        object: Option<&dyn AnyObject>,
        _api: &ApiServer,
    ) -> Result<()> {
        (self.f)(attrs, object)
    }
}
