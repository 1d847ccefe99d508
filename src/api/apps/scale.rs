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
use super::{Deployment, ReplicaSet, StatefulSet};
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{ErrorList, Path};
use crate::api::{LabelSelector, ObjectMeta, Str};

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

impl Scale {
    /// The Scale the API server serves for an object with `metadata`: its
    /// identity (name, namespace, uid, resourceVersion, creation time), the
    /// desired and current replicas, and the selector in string form (empty
    /// when there is none or it cannot be converted).
    pub fn of(
        metadata: &ObjectMeta,
        desired: i32,
        current: i32,
        selector: Option<&LabelSelector>,
    ) -> Scale {
        Scale {
            metadata: ObjectMeta {
                name: metadata.name.clone(),
                namespace: metadata.namespace.clone(),
                uid: metadata.uid.clone(),
                resource_version: metadata.resource_version.clone(),
                creation_timestamp: metadata.creation_timestamp,
                ..ObjectMeta::default()
            },
            spec: ScaleSpec { replicas: desired },
            status: ScaleStatus {
                replicas: current,
                selector: selector
                    .and_then(|s| s.to_selector_string().ok())
                    .map(Str::from)
                    .unwrap_or_default(),
            },
        }
    }
}

/// The kinds that serve the `scale` subresource.
macro_rules! scalable {
    ($($kind:ident),*) => {$(
        impl $kind {
            /// This object's `scale` subresource.
            pub fn scale(&self) -> Scale {
                Scale::of(
                    &self.metadata,
                    self.replicas(),
                    self.status.replicas,
                    self.spec.selector.as_ref(),
                )
            }

            /// Applies a `scale` update: only `spec.replicas` changes.
            pub fn set_scale(&mut self, scale: &Scale) {
                self.spec.replicas = Some(scale.spec.replicas);
            }
        }
    )*};
}

scalable!(ReplicaSet, Deployment, StatefulSet);

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

    #[test]
    fn workloads_serve_scale() {
        let mut d: Deployment = serde_json::from_str(
            r#"{"metadata":{"name":"web","namespace":"default","uid":"u1","resourceVersion":"9","labels":{"x":"y"}},
            "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},
              "matchExpressions":[{"key":"tier","operator":"In","values":["front","edge"]}]}},
            "status":{"replicas":2}}"#,
        )
        .unwrap();
        let scale = d.scale();
        assert_eq!(
            serde_json::to_string(&scale).unwrap(),
            r#"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"default","uid":"u1","resourceVersion":"9"},"spec":{"replicas":3},"status":{"replicas":2,"selector":"app=web,tier in (edge,front)"}}"#
        );
        let mut up = scale.clone();
        up.spec.replicas = 10;
        d.set_scale(&up);
        assert_eq!(d.spec.replicas, Some(10));

        let sts = StatefulSet::default();
        assert_eq!(sts.scale().spec.replicas, 1, "unset replicas default to 1");
        assert_eq!(sts.scale().status.selector, "");
        let mut rs = ReplicaSet::default();
        rs.set_scale(&up);
        assert_eq!(rs.scale().spec.replicas, 10);
    }
}
