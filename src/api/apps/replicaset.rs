//! [`ReplicaSet`]: keeps a number of identical pods running.
use serde::{Deserialize, Serialize};

use super::checks::{self, immutable, nonnegative, nonnegative_opt};
use super::template::{default_pod_template_spec, PodTemplateSpec};
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{self, ErrorList, Path};
use crate::api::{LabelSelector, Str, Time};

object! {
    /// A ReplicaSet: keeps `spec.replicas` pods matching `spec.selector`
    /// running, creating them from `spec.template`. Usually owned by a
    /// [`Deployment`](super::Deployment).
    pub struct ReplicaSet {
        /// The desired state.
        spec: ReplicaSetSpec = "spec",
        /// The observed state, written by the ReplicaSet controller.
        status: ReplicaSetStatus = "status",
    }
    resource {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        scope: Namespaced,
        short_names: ["rs"],
        categories: ["all"],
        subresources: ["status", "scale"],
    }

    /// `replicas: 1` and the pod template's defaults.
    fn apply_defaults(&mut self) {
        self.spec.replicas.get_or_insert(1);
        default_pod_template_spec(&mut self.spec.template);
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        nonnegative_opt(&mut errors, &spec.child("replicas"), self.spec.replicas);
        nonnegative(&mut errors, &spec.child("minReadySeconds"), self.spec.min_ready_seconds.into());
        checks::validate_selector_and_template_labels(
            &mut errors,
            &spec,
            self.spec.selector.as_ref(),
            &self.spec.template,
            "replicaset",
        );
        checks::validate_long_running_template(
            &mut errors,
            &spec.child("template"),
            &self.spec.template,
            "ReplicaSet",
        );
        errors
    }

    /// [`Resource::validate`](crate::api::Resource::validate) plus: `spec.selector` may not change.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        let spec = Path::root("spec");
        immutable(&mut errors, &spec.child("selector"), &self.spec.selector, &old.spec.selector);
        errors
    }
}

/// The desired state of a [`ReplicaSet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetSpec {
    /// How many pods to run; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// How long a new pod must be ready before it counts as available.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub min_ready_seconds: i32,
    /// Which pods the ReplicaSet owns; must match the template's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The pods to create.
    #[serde(default, deserialize_with = "nullable")]
    pub template: PodTemplateSpec,
}

/// The observed state of a [`ReplicaSet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetStatus {
    /// Non-terminating pods currently owned.
    #[serde(default, deserialize_with = "nullable")]
    pub replicas: i32,
    /// Pods whose labels match the template's labels.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub fully_labeled_replicas: i32,
    /// Pods with a Ready condition.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub ready_replicas: i32,
    /// Pods ready for at least `minReadySeconds`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub available_replicas: i32,
    /// Pods being deleted that have not yet finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating_replicas: Option<i32>,
    /// The `metadata.generation` this status describes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub observed_generation: i64,
    /// The latest observations (`ReplicaFailure`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<ReplicaSetCondition>,
}

/// One observation about a ReplicaSet, DaemonSet or StatefulSet (the three
/// share this shape).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetCondition {
    /// The condition type (`ReplicaFailure`).
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A CamelCase reason for the last transition.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// A human-readable message about the last transition.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

impl ReplicaSetCondition {
    /// The condition type added when pods cannot be created or deleted.
    pub const REPLICA_FAILURE: &'static str = "ReplicaFailure";
}

impl ReplicaSet {
    /// The desired replicas (`spec.replicas`, 1 when unset).
    pub fn replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::checks::tests_support::*;
    use crate::api::Resource;

    const SEED: &str = r#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"kubia"},
        "spec":{"replicas":3,"selector":{"matchLabels":{"app":"kubia"}},
        "template":{"metadata":{"labels":{"app":"kubia"}},
        "spec":{"containers":[{"name":"kubia","image":"luksa/kubia"}]}}}}"#;

    #[test]
    fn seed_round_trips_and_validates() {
        let rs: ReplicaSet = round_trip(SEED);
        assert_eq!(rs.replicas(), 3);
        let mut rs = rs;
        assert!(
            rs.validate().is_empty(),
            "before defaulting: {}",
            rs.validate()
        );
        rs.apply_defaults();
        assert!(rs.validate().is_empty(), "{}", rs.validate());
    }

    #[test]
    fn status_round_trips() {
        round_trip::<ReplicaSet>(
            r#"{"apiVersion":"apps/v1","kind":"ReplicaSet",
            "metadata":{"name":"web-5d4f","namespace":"prod","generation":2,
              "labels":{"app":"web","pod-template-hash":"5d4f"},
              "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"u1","controller":true,"blockOwnerDeletion":true}]},
            "spec":{"replicas":0,"minReadySeconds":5,
              "selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["front"]}]},
              "template":{"metadata":{"labels":{"app":"web","tier":"front"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}},
            "status":{"replicas":0,"fullyLabeledReplicas":1,"readyReplicas":1,"availableReplicas":1,
              "terminatingReplicas":0,"observedGeneration":2,
              "conditions":[{"type":"ReplicaFailure","status":"True","lastTransitionTime":"2024-01-01T00:00:00Z","reason":"FailedCreate","message":"quota"}]}}"#,
        );
    }

    #[test]
    fn defaults() {
        let mut rs = ReplicaSet::default();
        rs.apply_defaults();
        assert_eq!(rs.spec.replicas, Some(1));
        let mut rs = ReplicaSet::default();
        rs.spec.replicas = Some(0);
        rs.apply_defaults();
        assert_eq!(rs.spec.replicas, Some(0));
    }

    #[test]
    fn validation() {
        let base = || -> ReplicaSet { defaulted(SEED) };
        type Mutate = Box<dyn Fn(&mut ReplicaSet)>;
        let cases: Vec<(&str, Mutate, &str)> = vec![
            ("negative replicas", Box::new(|rs| rs.spec.replicas = Some(-1)),
             "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
            ("negative minReadySeconds", Box::new(|rs| rs.spec.min_ready_seconds = -1),
             "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"),
            ("no selector", Box::new(|rs| rs.spec.selector = None),
             "spec.selector: Required value"),
            ("empty selector", Box::new(|rs| rs.spec.selector = Some(LabelSelector::default())),
             "spec.selector: Invalid value: {}: empty selector is invalid for replicaset"),
            ("mismatch", Box::new(|rs| { rs.spec.template.metadata.labels.insert("app", "x"); }),
             "spec.template.metadata.labels: Invalid value: {\"app\": \"x\"}: `selector` does not match template `labels`"),
            ("restartPolicy", Box::new(|rs| set_restart_policy(&mut rs.spec.template, "Never")),
             "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""),
            ("activeDeadlineSeconds", Box::new(|rs| set_active_deadline(&mut rs.spec.template, 5)),
             "spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in ReplicaSet is not Supported"),
        ];
        assert!(base().validate().is_empty());
        for (name, mutate, want) in cases {
            let mut rs = base();
            mutate(&mut rs);
            assert_eq!(rs.validate().to_string(), want, "{name}");
        }
    }

    #[test]
    fn selector_is_immutable() {
        let old: ReplicaSet = defaulted(SEED);
        let mut new = old.clone();
        new.spec.replicas = Some(5);
        assert!(new.validate_update(&old).is_empty());
        new.spec
            .selector
            .as_mut()
            .unwrap()
            .match_labels
            .insert("tier", "a");
        new.spec.template.metadata.labels.insert("tier", "a");
        let errors = new.validate_update(&old);
        assert_eq!(errors.len(), 1, "{errors}");
        assert_eq!(errors.iter().next().unwrap().field, "spec.selector");
    }
}
