//! [`DaemonSet`]: one pod on every (selected) node.
use serde::{Deserialize, Serialize};

use super::checks::{
    self, immutable, int_or_percent_value, invalid_json, nonnegative, nonnegative_opt,
    not_more_than_100_percent, positive_int_or_percent,
};
use super::replicaset::ReplicaSetCondition;
use super::template::{default_pod_template_spec, PodTemplateSpec};
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{self, ErrorList, FieldError, Path};
use crate::api::{IntOrString, LabelSelector, Str};

object! {
    /// A DaemonSet: runs one pod of `spec.template` on every node that
    /// matches the template's node selector and affinity (and tolerates
    /// the node's taints).
    pub struct DaemonSet {
        /// The desired state.
        spec: DaemonSetSpec = "spec",
        /// The observed state, written by the DaemonSet controller.
        status: DaemonSetStatus = "status",
    }
    resource {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        scope: Namespaced,
        short_names: ["ds"],
        categories: ["all"],
        subresources: ["status"],
    }

    /// As Kubernetes' `SetDefaults_DaemonSet`: update strategy
    /// `RollingUpdate` with `maxUnavailable: 1` and `maxSurge: 0`,
    /// `revisionHistoryLimit: 10`, and the pod template's defaults.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        let strategy = &mut spec.update_strategy;
        if strategy.type_.is_empty() {
            strategy.type_ = Str::from_static(DaemonSetUpdateStrategy::ROLLING_UPDATE);
        }
        if strategy.type_ == DaemonSetUpdateStrategy::ROLLING_UPDATE {
            let rolling = strategy.rolling_update.get_or_insert_with(Default::default);
            rolling.max_unavailable.get_or_insert(IntOrString::Int(1));
            rolling.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        default_pod_template_spec(&mut spec.template);
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        let s = &self.spec;
        checks::validate_selector_and_template_labels(
            &mut errors,
            &spec,
            s.selector.as_ref(),
            &s.template,
            "daemonset",
        );
        checks::validate_long_running_template(
            &mut errors,
            &spec.child("template"),
            &s.template,
            "DaemonSet",
        );
        nonnegative(&mut errors, &spec.child("minReadySeconds"), s.min_ready_seconds.into());
        validate_update_strategy(&mut errors, &spec.child("updateStrategy"), &s.update_strategy);
        nonnegative_opt(&mut errors, &spec.child("revisionHistoryLimit"), s.revision_history_limit);
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

fn validate_update_strategy(
    errors: &mut ErrorList,
    path: &Path<'_>,
    strategy: &DaemonSetUpdateStrategy,
) {
    match strategy.type_.as_str() {
        DaemonSetUpdateStrategy::ON_DELETE => {}
        // An unset type or unset limits are valid: defaulting fills them.
        "" | DaemonSetUpdateStrategy::ROLLING_UPDATE => {
            let rolling_path = path.child("rollingUpdate");
            let Some(rolling) = &strategy.rolling_update else {
                return;
            };
            let unavailable_path = rolling_path.child("maxUnavailable");
            let surge_path = rolling_path.child("maxSurge");
            let unavailable = rolling.max_unavailable.as_ref();
            let surge = rolling.max_surge.as_ref();
            positive_int_or_percent(errors, &unavailable_path, unavailable);
            positive_int_or_percent(errors, &surge_path, surge);
            not_more_than_100_percent(errors, &unavailable_path, unavailable);
            not_more_than_100_percent(errors, &surge_path, surge);
            // Exactly one of the two may be non-zero: a surge replaces pods
            // before stopping them, unavailability stops them first.
            let has_unavailable = int_or_percent_value(unavailable, 1) != 0;
            let has_surge = int_or_percent_value(surge, 0) != 0;
            if has_unavailable && has_surge {
                errors.push(invalid_json(
                    &surge_path,
                    &surge,
                    "may not be set when maxUnavailable is non-zero",
                ));
            } else if !has_unavailable && !has_surge {
                errors.push(FieldError::required(
                    &unavailable_path,
                    "cannot be 0 when maxSurge is 0",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &[
                DaemonSetUpdateStrategy::ROLLING_UPDATE,
                DaemonSetUpdateStrategy::ON_DELETE,
            ],
        )),
    }
}

/// The desired state of a [`DaemonSet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetSpec {
    /// Which pods the DaemonSet manages; must match the template's labels.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The pod to run on each node; only `restartPolicy: Always` is allowed.
    #[serde(default, deserialize_with = "nullable")]
    pub template: PodTemplateSpec,
    /// How to replace pods when the template changes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub update_strategy: DaemonSetUpdateStrategy,
    /// How long a new pod must be ready before it counts as available.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub min_ready_seconds: i32,
    /// How many old revisions to keep for rollback; defaults to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
}

/// How a [`DaemonSet`] replaces its pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetUpdateStrategy {
    /// `RollingUpdate` (the default) or `OnDelete`.
    #[serde(default, rename = "type", skip_serializing_if = "str::is_empty")]
    pub type_: Str,
    /// The rolling update's limits; only with `RollingUpdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateDaemonSet>,
}

impl DaemonSetUpdateStrategy {
    /// Replace pods node by node.
    pub const ROLLING_UPDATE: &'static str = "RollingUpdate";
    /// Replace a pod only when it is deleted.
    pub const ON_DELETE: &'static str = "OnDelete";
}

/// The limits of a DaemonSet's rolling update; exactly one is non-zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateDaemonSet {
    /// How many nodes' pods may be down during the update: a number or a
    /// percentage of `desiredNumberScheduled` (rounded up); defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// How many nodes may run an updated pod beside the old one: a number or
    /// a percentage (rounded up, at least 1); defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

/// The observed state of a [`DaemonSet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetStatus {
    /// Nodes running at least one daemon pod that should run it.
    #[serde(default, deserialize_with = "nullable")]
    pub current_number_scheduled: i32,
    /// Nodes running the daemon pod that should not.
    #[serde(default, deserialize_with = "nullable")]
    pub number_misscheduled: i32,
    /// Nodes that should run the daemon pod.
    #[serde(default, deserialize_with = "nullable")]
    pub desired_number_scheduled: i32,
    /// Nodes whose daemon pod is Ready.
    #[serde(default, deserialize_with = "nullable")]
    pub number_ready: i32,
    /// The `metadata.generation` this status describes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub observed_generation: i64,
    /// Nodes running the updated daemon pod.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub updated_number_scheduled: i32,
    /// Nodes whose daemon pod is available (ready for `minReadySeconds`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub number_available: i32,
    /// Nodes that should run the daemon pod but have none available.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub number_unavailable: i32,
    /// Hash collisions met when naming the newest ControllerRevision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// The latest observations.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<DaemonSetCondition>,
}

/// One observation about a [`DaemonSet`] (the shape of
/// [`ReplicaSetCondition`]).
pub type DaemonSetCondition = ReplicaSetCondition;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::checks::tests_support::*;
    use crate::api::Resource;

    const SEED: &str = r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"ssd-monitor"},
        "spec":{"selector":{"matchLabels":{"app":"ssd-monitor"}},
        "template":{"metadata":{"labels":{"app":"ssd-monitor"}},
        "spec":{"nodeSelector":{"disk":"ssd"},"containers":[{"name":"main","image":"luksa/ssd-monitor"}]}}}}"#;

    #[test]
    fn seed_round_trips_and_validates() {
        let mut ds: DaemonSet = round_trip(SEED);
        assert!(
            ds.validate().is_empty(),
            "before defaulting: {}",
            ds.validate()
        );
        ds.apply_defaults();
        assert!(ds.validate().is_empty(), "{}", ds.validate());
    }

    #[test]
    fn field_rich_round_trip() {
        round_trip::<DaemonSet>(
            r#"{"apiVersion":"apps/v1","kind":"DaemonSet",
            "metadata":{"name":"fluentd","namespace":"kube-system","generation":3},
            "spec":{"selector":{"matchLabels":{"name":"fluentd"}},
              "template":{"metadata":{"labels":{"name":"fluentd"}},"spec":{"containers":[{"name":"fluentd","image":"fluentd:v1"}]}},
              "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"10%"}},
              "minReadySeconds":5,"revisionHistoryLimit":4},
            "status":{"currentNumberScheduled":3,"numberMisscheduled":0,"desiredNumberScheduled":3,"numberReady":2,
              "observedGeneration":3,"updatedNumberScheduled":3,"numberAvailable":2,"numberUnavailable":1,
              "collisionCount":0,
              "conditions":[{"type":"Healthy","status":"False","lastTransitionTime":"2024-01-01T00:00:00Z","reason":"X","message":"y"}]}}"#,
        );
        round_trip::<DaemonSet>(
            r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"a"},
            "spec":{"template":{},"updateStrategy":{"type":"OnDelete"}},
            "status":{"currentNumberScheduled":0,"numberMisscheduled":0,"desiredNumberScheduled":1,"numberReady":0}}"#,
        );
    }

    #[test]
    fn defaults() {
        let ds: DaemonSet = defaulted(SEED);
        assert_eq!(ds.spec.update_strategy.type_, "RollingUpdate");
        let rolling = ds.spec.update_strategy.rolling_update.unwrap();
        assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(0)));
        assert_eq!(ds.spec.revision_history_limit, Some(10));

        let mut ds = DaemonSet::default();
        ds.spec.update_strategy.type_ = "OnDelete".into();
        ds.apply_defaults();
        assert_eq!(ds.spec.update_strategy.rolling_update, None);
    }

    #[test]
    fn validation() {
        fn rolling(ds: &mut DaemonSet) -> &mut RollingUpdateDaemonSet {
            ds.spec.update_strategy.rolling_update.as_mut().unwrap()
        }
        type Mutate = Box<dyn Fn(&mut DaemonSet)>;
        let cases: Vec<(&str, Mutate, &str)> = vec![
            ("no selector", Box::new(|ds| ds.spec.selector = None), "spec.selector: Required value"),
            ("empty selector", Box::new(|ds| ds.spec.selector = Some(LabelSelector::default())),
             "spec.selector: Invalid value: {}: empty selector is invalid for daemonset"),
            ("mismatch", Box::new(|ds| { ds.spec.template.metadata.labels.insert("app", "x"); }),
             "spec.template.metadata.labels: Invalid value: {\"app\": \"x\"}: `selector` does not match template `labels`"),
            ("restartPolicy", Box::new(|ds| set_restart_policy(&mut ds.spec.template, "Never")),
             "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""),
            ("strategy type", Box::new(|ds| ds.spec.update_strategy.type_ = "Recreate".into()),
             "spec.updateStrategy.type: Unsupported value: \"Recreate\": supported values: \"RollingUpdate\", \"OnDelete\""),
            ("missing rollingUpdate", Box::new(|ds| ds.spec.update_strategy.rolling_update = None), ""),
            ("no strategy", Box::new(|ds| ds.spec.update_strategy = DaemonSetUpdateStrategy::default()), ""),
            ("both set", Box::new(|ds| rolling(ds).max_surge = Some("20%".into())),
             "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: \"20%\": may not be set when maxUnavailable is non-zero"),
            ("both zero", Box::new(|ds| rolling(ds).max_unavailable = Some(0.into())),
             "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"),
            ("surge only", Box::new(|ds| {
                let r = rolling(ds);
                r.max_unavailable = Some(0.into());
                r.max_surge = Some(2.into());
            }), ""),
            ("surge over 100%", Box::new(|ds| {
                let r = rolling(ds);
                r.max_unavailable = Some(0.into());
                r.max_surge = Some("101%".into());
            }), "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: \"101%\": must not be greater than 100%"),
            ("negative history", Box::new(|ds| ds.spec.revision_history_limit = Some(-1)),
             "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"),
            ("negative minReadySeconds", Box::new(|ds| ds.spec.min_ready_seconds = -3),
             "spec.minReadySeconds: Invalid value: -3: must be greater than or equal to 0"),
        ];
        let base: DaemonSet = defaulted(SEED);
        assert!(base.validate().is_empty());
        for (name, mutate, want) in cases {
            let mut ds = base.clone();
            mutate(&mut ds);
            assert_eq!(ds.validate().to_string(), want, "{name}");
        }
    }

    #[test]
    fn selector_is_immutable() {
        let old: DaemonSet = defaulted(SEED);
        let mut new = old.clone();
        new.spec.min_ready_seconds = 30;
        assert!(new.validate_update(&old).is_empty());
        new.spec
            .selector
            .as_mut()
            .unwrap()
            .match_labels
            .insert("x", "y");
        new.spec.template.metadata.labels.insert("x", "y");
        let errors = new.validate_update(&old);
        assert_eq!(errors.len(), 1, "{errors}");
        assert_eq!(errors.iter().next().unwrap().field, "spec.selector");
    }
}
