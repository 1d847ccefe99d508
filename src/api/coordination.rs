//! `coordination.k8s.io/v1`: [`Lease`], the object node heartbeats and
//! leader election are built on.
use serde::{Deserialize, Serialize};

use super::resource::object;
use super::validation::{ErrorList, FieldError, Path};
use super::{MicroTime, Str};

object! {
    /// A lease: who holds a lock, since when, and for how long.
    pub struct Lease {
        /// The desired state of the lease.
        spec: LeaseSpec = "spec",
    }
    resource {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        scope: Namespaced,
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        if let Some(d) = self.spec.lease_duration_seconds {
            if d <= 0 {
                errors.push(FieldError::invalid(&spec.child("leaseDurationSeconds"), d, "must be greater than 0"));
            }
        }
        if let Some(t) = self.spec.lease_transitions {
            if t < 0 {
                errors.push(FieldError::invalid(&spec.child("leaseTransitions"), t, "must be greater than or equal to 0"));
            }
        }
        errors
    }
}

/// The state of a [`Lease`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSpec {
    /// The current holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<Str>,
    /// How long a holder keeps the lease without renewing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i32>,
    /// When the current holder acquired the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<MicroTime>,
    /// When the current holder last renewed the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<MicroTime>,
    /// How many times the lease changed holders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
    /// The strategy for choosing the next holder (coordinated leader election).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Str>,
    /// The proposed next holder (coordinated leader election).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_holder: Option<Str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    #[test]
    fn round_trip_and_type_checks() {
        let json = r#"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"},"spec":{"holderIdentity":"n1","leaseDurationSeconds":40,"renewTime":"2024-01-01T00:00:00.000001Z"}}"#;
        let lease: Lease = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&lease).unwrap(), json);
        assert!(serde_json::from_str::<Lease>(r#"{"kind":"Pod"}"#).is_err());
        let nulls: Lease = serde_json::from_str(r#"{"metadata":null,"spec":null}"#).unwrap();
        assert_eq!(nulls, Lease::default());
    }

    #[test]
    fn unknown_fields_are_reported() {
        let json = r#"{"kind":"Lease","metadata":{"name":"x","bogus":1},"spec":{"holderIdentity":"a","nope":true},"extra":2}"#;
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let _lease: Lease = serde_ignored::deserialize(&mut de, |p| {
            unknown.push(crate::api::serde_util::field_path(&p))
        })
        .unwrap();
        assert_eq!(unknown, vec!["metadata.bogus", "spec.nope", "extra"]);
    }

    #[test]
    fn validation() {
        let mut lease = Lease::default();
        lease.metadata.name = "x".into();
        lease.spec.lease_duration_seconds = Some(0);
        let errors = lease.validate();
        assert_eq!(
            errors.to_string(),
            "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
        );
        assert_eq!(Lease::API_VERSION, "coordination.k8s.io/v1");
    }
}
