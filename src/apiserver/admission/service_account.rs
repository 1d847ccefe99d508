//! `ServiceAccount`: pods without a service account run as `default`.
use async_trait::async_trait;

use crate::api::core::{Pod, ServiceAccount as Account};
use crate::api::scheme::AnyObject;
use crate::api::Str;
use crate::apiserver::error::{Error, Result};
use crate::apiserver::ApiServer;

use super::{Admission, Attributes, Operation};

/// Sets `spec.serviceAccountName` of new pods to `default` when empty, and
/// (with [`require_existing`](ServiceAccount::require_existing)) refuses
/// pods whose service account does not exist, as Kubernetes does. The
/// check is off by default because nothing creates the `default` account
/// of new namespaces until a service-account controller runs.
#[derive(Clone, Debug, Default)]
pub struct ServiceAccount {
    require_existing: bool,
}

impl ServiceAccount {
    /// Refuse pods whose service account does not exist.
    #[must_use]
    pub fn require_existing(mut self, require: bool) -> Self {
        self.require_existing = require;
        self
    }
}

#[async_trait]
impl Admission for ServiceAccount {
    fn name(&self) -> &str {
        "ServiceAccount"
    }

    async fn admit(
        &self,
        attrs: &Attributes<'_>,
        object: &mut dyn AnyObject,
        _api: &ApiServer,
    ) -> Result<()> {
        if attrs.operation != Operation::Create || !attrs.subresource.is_empty() {
            return Ok(());
        }
        if let Some(pod) = object.downcast_mut::<Pod>() {
            if pod.spec.service_account_name.is_empty() {
                pod.spec.service_account_name = if pod.spec.service_account.is_empty() {
                    Str::from_static("default")
                } else {
                    pod.spec.service_account.clone()
                };
            }
            if pod.spec.service_account.is_empty() {
                pod.spec.service_account = pod.spec.service_account_name.clone();
            }
        }
        Ok(())
    }

    async fn validate(
        &self,
        attrs: &Attributes<'_>,
        object: Option<&dyn AnyObject>,
        api: &ApiServer,
    ) -> Result<()> {
        if !self.require_existing || attrs.operation != Operation::Create {
            return Ok(());
        }
        let Some(pod) = object.and_then(|o| o.downcast_ref::<Pod>()) else {
            return Ok(());
        };
        let name = &pod.spec.service_account_name;
        if api.cached_one::<Account>(attrs.namespace, name).is_none() {
            return Err(Error::forbidden(
                "",
                "pods",
                attrs.name,
                &format!(
                    "error looking up service account {}/{name}: serviceaccount {name:?} not found",
                    attrs.namespace
                ),
            ));
        }
        Ok(())
    }
}
