//! `NamespaceLifecycle`: objects are created only in namespaces that exist
//! and are not terminating, and the system namespaces cannot be deleted.
use async_trait::async_trait;

use crate::api::core::Namespace;
use crate::api::scheme::AnyObject;
use crate::api::{Status, StatusCause, StatusDetails, Str};
use crate::apiserver::error::{Error, Result};
use crate::apiserver::{ApiServer, Target};

use super::{Admission, Attributes, Operation};

/// The namespaces that may not be deleted.
pub const PROTECTED: &[&str] = &["default", "kube-system", "kube-public"];

/// Refuses creates in missing or terminating namespaces and deletes of the
/// system namespaces.
#[derive(Clone, Debug, Default)]
pub struct NamespaceLifecycle {}

#[async_trait]
impl Admission for NamespaceLifecycle {
    fn name(&self) -> &str {
        "NamespaceLifecycle"
    }

    async fn validate(
        &self,
        attrs: &Attributes<'_>,
        _object: Option<&dyn AnyObject>,
        api: &ApiServer,
    ) -> Result<()> {
        let r = attrs.resource;
        if attrs.operation == Operation::Delete {
            if r.group.is_empty() && r.plural == "namespaces" && PROTECTED.contains(&attrs.name) {
                return Err(Error::forbidden(
                    "",
                    "namespaces",
                    attrs.name,
                    "this namespace may not be deleted",
                ));
            }
            return Ok(());
        }
        if attrs.operation != Operation::Create || !r.scope.is_namespaced() {
            return Ok(());
        }
        api.caught_up_with("", "namespaces").await;
        let ns = match api.cached_one::<Namespace>("", attrs.namespace) {
            Some(ns) => ns,
            None => {
                // Not in the cache yet: ask for a consistent read.
                let t = Target::new("", "v1", "namespaces").name(attrs.namespace);
                match api.get(&t).await {
                    Ok(o) => match o.downcast_ref::<Namespace>() {
                        Some(n) => std::sync::Arc::new(n.clone()),
                        None => return Ok(()),
                    },
                    Err(e) if e.is_not_found() => {
                        return Err(Error::not_found("", "namespaces", attrs.namespace))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if ns.metadata.deletion_timestamp.is_some() || ns.status.phase == "Terminating" {
            let mut status = Status::forbidden(
                &r.group,
                &r.plural,
                attrs.name,
                &format!(
                    "unable to create new content in namespace {} because it is being terminated",
                    attrs.namespace
                ),
            );
            if let Some(d) = status.details.as_mut() {
                d.causes.push(StatusCause {
                    reason: Str::from_static("NamespaceTerminating"),
                    message: Str::from(format!(
                        "namespace {} is being terminated",
                        attrs.namespace
                    )),
                    field: Str::from_static("metadata.namespace"),
                });
            } else {
                status.details = Some(StatusDetails::default());
            }
            return Err(status.into());
        }
        Ok(())
    }
}
