//! [`Scale`] (`autoscaling/v1`): the `scale` subresource of ReplicaSets,
//! Deployments and StatefulSets (and of custom resources that enable it).
//!
//! `GET .../deployments/web/scale` returns a `Scale` whose `spec.replicas`
//! is the Deployment's and whose `status.selector` is its selector in string
//! form; `PUT` of a `Scale` changes only the replica count. Autoscalers and
//! `kubectl scale` work through it without knowing the workload's kind.
//!
//! It lives here, beside the kinds that serve it, but its `apiVersion` is
//! `autoscaling/v1` (group `autoscaling`, plural `scale`).
use serde::{Deserialize, Serialize};

use super::checks::nonnegative;
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{ErrorList, Path};
use crate::api::Str;

object! {
    /// The replica count of a scalable object (`autoscaling/v1`).
    pub struct Scale {
        /// The desired replicas.
        spec: ScaleSpec = "spec",
        /// The current replicas and the pod selector.
        status: ScaleStatus = "status",
    }
    resource {
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        plural: "scale",
        scope: Namespaced,
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        nonnegative(&mut errors, &spec.child("replicas"), self.spec.replicas.into());
        errors
    }
}

/// The desired state of a [`Scale`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSpec {
    /// The desired number of instances.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub replicas: i32,
}

/// The observed state of a [`Scale`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStatus {
    /// The current number of instances.
    #[serde(default, deserialize_with = "nullable")]
    pub replicas: i32,
    /// The label selector of the pods, in string form (`app=web`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub selector: Str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::checks::tests_support::round_trip;
    use crate::api::Resource;

    #[test]
    fn round_trip_and_validation() {
        let scale: Scale = round_trip(
            r#"{"apiVersion":"autoscaling/v1","kind":"Scale",
            "metadata":{"name":"web","namespace":"default","resourceVersion":"42"},
            "spec":{"replicas":5},"status":{"replicas":3,"selector":"app=web"}}"#,
        );
        assert_eq!(Scale::API_VERSION, "autoscaling/v1");
        assert_eq!(Scale::PLURAL, "scale");
        assert!(scale.validate().is_empty());
        let mut bad = scale;
        bad.spec.replicas = -1;
        assert_eq!(
            bad.validate().to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert!(
            serde_json::from_str::<Scale>(r#"{"apiVersion":"apps/v1","kind":"Scale"}"#).is_err()
        );
    }
}
