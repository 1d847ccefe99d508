//! [`Deployment`]: declarative rollouts of a pod template through
//! ReplicaSets.
use serde::{Deserialize, Serialize};

use super::checks::{
    self, immutable, int_or_percent_value, invalid_json, nonnegative, nonnegative_opt,
    not_more_than_100_percent, positive_int_or_percent,
};
use super::template::{default_pod_template_spec, PodTemplateSpec};
use crate::api::resource::object;
use crate::api::serde_util::{is_default, is_false, nullable};
use crate::api::validation::{self, ErrorList, FieldError, Path};
use crate::api::{IntOrString, LabelSelector, Str, Time};

object! {
    /// A Deployment: runs `spec.replicas` pods of `spec.template` and
    /// rolls out template changes by scaling a new ReplicaSet up and the old
    /// ones down, as `spec.strategy` says.
    pub struct Deployment {
        /// The desired state.
        spec: DeploymentSpec = "spec",
        /// The observed state, written by the Deployment controller.
        status: DeploymentStatus = "status",
    }
    resource {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        scope: Namespaced,
        short_names: ["deploy"],
        categories: ["all"],
        subresources: ["status", "scale"],
    }

    /// As Kubernetes' `SetDefaults_Deployment`: `replicas: 1`, strategy
    /// `RollingUpdate` with `maxUnavailable` and `maxSurge` of 25%,
    /// `revisionHistoryLimit: 10`, `progressDeadlineSeconds: 600`, and the
    /// pod template's defaults.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        spec.replicas.get_or_insert(1);
        let strategy = &mut spec.strategy;
        if strategy.type_.is_empty() {
            strategy.type_ = Str::from_static(DeploymentStrategy::ROLLING_UPDATE);
        }
        if strategy.type_ == DeploymentStrategy::ROLLING_UPDATE {
            let rolling = strategy.rolling_update.get_or_insert_with(Default::default);
            rolling.max_unavailable.get_or_insert_with(|| IntOrString::from("25%"));
            rolling.max_surge.get_or_insert_with(|| IntOrString::from("25%"));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        default_pod_template_spec(&mut spec.template);
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        let s = &self.spec;
        nonnegative_opt(&mut errors, &spec.child("replicas"), s.replicas);
        checks::validate_selector_and_template_labels(
            &mut errors,
            &spec,
            s.selector.as_ref(),
            &s.template,
            "deployment",
        );
        checks::validate_long_running_template(
            &mut errors,
            &spec.child("template"),
            &s.template,
            "ReplicaSet",
        );
        validate_strategy(&mut errors, &spec.child("strategy"), &s.strategy);
        nonnegative(&mut errors, &spec.child("minReadySeconds"), s.min_ready_seconds.into());
        nonnegative_opt(&mut errors, &spec.child("revisionHistoryLimit"), s.revision_history_limit);
        if let Some(deadline) = s.progress_deadline_seconds {
            let path = spec.child("progressDeadlineSeconds");
            nonnegative(&mut errors, &path, deadline.into());
            if deadline <= s.min_ready_seconds {
                errors.push(FieldError::invalid(&path, deadline, "must be greater than minReadySeconds"));
            }
        }
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

fn validate_strategy(errors: &mut ErrorList, path: &Path<'_>, strategy: &DeploymentStrategy) {
    let rolling_path = path.child("rollingUpdate");
    match strategy.type_.as_str() {
        DeploymentStrategy::RECREATE => {
            if strategy.rolling_update.is_some() {
                errors.push(FieldError::forbidden(
                    &rolling_path,
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        // An unset type or unset limits are valid: defaulting fills them.
        "" | DeploymentStrategy::ROLLING_UPDATE => match &strategy.rolling_update {
            None => {}
            Some(rolling) => {
                let unavailable = rolling_path.child("maxUnavailable");
                let surge = rolling_path.child("maxSurge");
                let max_unavailable = rolling.max_unavailable.as_ref();
                let max_surge = rolling.max_surge.as_ref();
                positive_int_or_percent(errors, &unavailable, max_unavailable);
                positive_int_or_percent(errors, &surge, max_surge);
                if int_or_percent_value(max_unavailable, 25) == 0
                    && int_or_percent_value(max_surge, 25) == 0
                {
                    let shown = max_unavailable.cloned().unwrap_or_default();
                    errors.push(invalid_json(
                        &unavailable,
                        &shown,
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_more_than_100_percent(errors, &unavailable, max_unavailable);
            }
        },
        other => errors.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &[
                DeploymentStrategy::RECREATE,
                DeploymentStrategy::ROLLING_UPDATE,
            ],
        )),
    }
}

/// The desired state of a [`Deployment`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// How many pods to run; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Which pods the Deployment manages; must match the template's labels.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The pods to run; only `restartPolicy: Always` is allowed.
    #[serde(default, deserialize_with = "nullable")]
    pub template: PodTemplateSpec,
    /// How to replace old pods with new ones.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub strategy: DeploymentStrategy,
    /// How long a new pod must be ready before it counts as available.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub min_ready_seconds: i32,
    /// How many old ReplicaSets to keep for rollback; defaults to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// True to stop rolling out template changes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub paused: bool,
    /// Seconds without progress before the rollout is reported as failed
    /// (`ProgressDeadlineExceeded`); defaults to 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
}

/// How a [`Deployment`] replaces pods: all at once or rolling.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    /// `RollingUpdate` (the default) or `Recreate`.
    #[serde(default, rename = "type", skip_serializing_if = "str::is_empty")]
    pub type_: Str,
    /// The rolling update's limits; only with `RollingUpdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateDeployment>,
}

impl DeploymentStrategy {
    /// Kill all old pods before creating new ones.
    pub const RECREATE: &'static str = "Recreate";
    /// Scale the new ReplicaSet up and the old ones down gradually.
    pub const ROLLING_UPDATE: &'static str = "RollingUpdate";
}

/// The limits of a Deployment's rolling update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateDeployment {
    /// How many pods may be unavailable during the update: a number or a
    /// percentage of the desired pods (rounded down); defaults to 25%. May
    /// not be 0 when `maxSurge` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// How many pods may exist above the desired number: a number or a
    /// percentage (rounded up); defaults to 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

/// The observed state of a [`Deployment`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    /// The `metadata.generation` this status describes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub observed_generation: i64,
    /// Non-terminating pods targeted by the Deployment.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub replicas: i32,
    /// Non-terminating pods with the current template.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub updated_replicas: i32,
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
    /// Pods still needed for full availability.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub unavailable_replicas: i32,
    /// Pods being deleted that have not yet finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating_replicas: Option<i32>,
    /// The latest observations (`Available`, `Progressing`, `ReplicaFailure`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<DeploymentCondition>,
    /// Hash collisions met when naming the newest ReplicaSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
}

/// One observation about a [`Deployment`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCondition {
    /// `Available`, `Progressing` or `ReplicaFailure`.
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the condition was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
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

impl DeploymentCondition {
    /// At least the minimum available replicas are up.
    pub const AVAILABLE: &'static str = "Available";
    /// A rollout is making progress (or has finished).
    pub const PROGRESSING: &'static str = "Progressing";
    /// Pods could not be created or deleted.
    pub const REPLICA_FAILURE: &'static str = "ReplicaFailure";
}

impl Deployment {
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

    const SEED: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kubia"},
        "spec":{"replicas":3,"selector":{"matchLabels":{"app":"kubia"}},
        "template":{"metadata":{"name":"kubia","labels":{"app":"kubia"}},
        "spec":{"containers":[{"image":"luksa/kubia:v1","name":"nodejs"}]}}}}"#;

    #[test]
    fn seed_round_trips_and_validates() {
        let mut d: Deployment = round_trip(SEED);
        assert!(
            d.validate().is_empty(),
            "before defaulting: {}",
            d.validate()
        );
        d.apply_defaults();
        assert!(d.validate().is_empty(), "{}", d.validate());
    }

    #[test]
    fn field_rich_round_trip() {
        round_trip::<Deployment>(
            r#"{"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"web","namespace":"prod","generation":4,"annotations":{"deployment.kubernetes.io/revision":"3"}},
            "spec":{"replicas":5,"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}},
              "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"50%"}},
              "minReadySeconds":10,"revisionHistoryLimit":3,"paused":true,"progressDeadlineSeconds":120},
            "status":{"observedGeneration":4,"replicas":5,"updatedReplicas":5,"readyReplicas":4,
              "availableReplicas":4,"unavailableReplicas":1,"terminatingReplicas":1,"collisionCount":1,
              "conditions":[
                {"type":"Available","status":"True","lastUpdateTime":"2024-05-01T10:00:00Z","lastTransitionTime":"2024-05-01T10:00:00Z","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."},
                {"type":"Progressing","status":"True","lastUpdateTime":"2024-05-01T10:01:00Z","lastTransitionTime":"2024-05-01T09:00:00Z","reason":"NewReplicaSetAvailable","message":"ReplicaSet \"web-5d4f\" has successfully progressed."}]}}"#,
        );
        let recreate: Deployment = round_trip(
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"db"},
            "spec":{"selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}}},
              "strategy":{"type":"Recreate"}}}"#,
        );
        assert_eq!(recreate.spec.strategy.type_, DeploymentStrategy::RECREATE);
    }

    #[test]
    fn defaults() {
        let d: Deployment = defaulted(SEED);
        assert_eq!(d.spec.replicas, Some(3));
        assert_eq!(d.spec.strategy.type_, "RollingUpdate");
        let rolling = d.spec.strategy.rolling_update.as_ref().unwrap();
        assert_eq!(rolling.max_unavailable, Some(IntOrString::from("25%")));
        assert_eq!(rolling.max_surge, Some(IntOrString::from("25%")));
        assert_eq!(d.spec.revision_history_limit, Some(10));
        assert_eq!(d.spec.progress_deadline_seconds, Some(600));

        let mut d = Deployment::default();
        d.spec.strategy.type_ = "Recreate".into();
        d.spec.revision_history_limit = Some(0);
        d.apply_defaults();
        assert_eq!(d.spec.replicas, Some(1));
        assert_eq!(d.spec.strategy.rolling_update, None);
        assert_eq!(d.spec.revision_history_limit, Some(0));

        // A partial rolling update keeps what was given.
        let mut d = Deployment::default();
        d.spec.strategy.rolling_update = Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: None,
        });
        d.apply_defaults();
        let rolling = d.spec.strategy.rolling_update.unwrap();
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
        assert_eq!(rolling.max_unavailable, Some(IntOrString::from("25%")));
    }

    fn rolling(d: &mut Deployment) -> &mut RollingUpdateDeployment {
        d.spec.strategy.rolling_update.as_mut().unwrap()
    }

    #[test]
    fn validation() {
        type Mutate = Box<dyn Fn(&mut Deployment)>;
        let cases: Vec<(&str, Mutate, &str)> = vec![
            ("negative replicas", Box::new(|d| d.spec.replicas = Some(-2)),
             "spec.replicas: Invalid value: -2: must be greater than or equal to 0"),
            ("no selector", Box::new(|d| d.spec.selector = None), "spec.selector: Required value"),
            ("empty selector", Box::new(|d| d.spec.selector = Some(LabelSelector::default())),
             "spec.selector: Invalid value: {}: empty selector is invalid for deployment"),
            ("mismatch", Box::new(|d| d.spec.template.metadata.labels.clear()),
             "spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`"),
            ("no image", Box::new(|d| d.spec.template.spec.containers[0].image = "".into()),
             "spec.template.spec.containers[0].image: Required value"),
            ("activeDeadlineSeconds", Box::new(|d| set_active_deadline(&mut d.spec.template, 5)),
             "spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in ReplicaSet is not Supported"),
            ("restartPolicy", Box::new(|d| set_restart_policy(&mut d.spec.template, "OnFailure")),
             "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""),
            ("strategy type", Box::new(|d| d.spec.strategy.type_ = "Blue".into()),
             "spec.strategy.type: Unsupported value: \"Blue\": supported values: \"Recreate\", \"RollingUpdate\""),
            ("recreate with rollingUpdate", Box::new(|d| d.spec.strategy.type_ = "Recreate".into()),
             "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"),
            ("rolling without rollingUpdate", Box::new(|d| d.spec.strategy.rolling_update = None), ""),
            ("no strategy", Box::new(|d| d.spec.strategy = DeploymentStrategy::default()), ""),
            ("surge 0, unavailable unset", Box::new(|d| {
                d.spec.strategy.rolling_update = Some(RollingUpdateDeployment { max_surge: Some(0.into()), max_unavailable: None });
            }), ""),
            ("both zero", Box::new(|d| {
                let r = rolling(d);
                r.max_surge = Some(0.into());
                r.max_unavailable = Some("0%".into());
            }), "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"),
            ("negative surge", Box::new(|d| rolling(d).max_surge = Some((-1).into())),
             "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"),
            ("bad percent", Box::new(|d| rolling(d).max_unavailable = Some("ten%".into())),
             "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"ten%\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')"),
            ("over 100%", Box::new(|d| rolling(d).max_unavailable = Some("150%".into())),
             "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"),
            ("surge may exceed 100%", Box::new(|d| rolling(d).max_surge = Some("200%".into())), ""),
            ("negative minReadySeconds", Box::new(|d| { d.spec.min_ready_seconds = -1; }),
             "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"),
            ("negative history", Box::new(|d| d.spec.revision_history_limit = Some(-1)),
             "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"),
            ("deadline vs minReady", Box::new(|d| { d.spec.min_ready_seconds = 600; }),
             "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"),
        ];
        let base: Deployment = defaulted(SEED);
        assert!(base.validate().is_empty());
        for (name, mutate, want) in cases {
            let mut d = base.clone();
            mutate(&mut d);
            assert_eq!(d.validate().to_string(), want, "{name}");
        }
    }

    #[test]
    fn selector_is_immutable() {
        let old: Deployment = defaulted(SEED);
        let mut new = old.clone();
        new.spec.replicas = Some(10);
        new.spec.paused = true;
        assert!(new.validate_update(&old).is_empty());
        new.spec.selector = Some(LabelSelector::default());
        let errors = new.validate_update(&old);
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.selector" && e.detail == "field is immutable"),
            "{errors}"
        );
    }

    #[test]
    fn nulls_and_unknown_fields() {
        let d: Deployment = serde_json::from_str(
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
            "spec":{"replicas":null,"selector":null,"template":null,"strategy":null,"paused":null,"minReadySeconds":null},
            "status":null}"#,
        )
        .unwrap();
        assert_eq!(d.spec, DeploymentSpec::default());
        let json = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
            "spec":{"replica":3,"strategy":{"rollingUpdate":{"maxSurge":1,"maxSurges":2}},
            "template":{"spec":{"containers":[{"name":"a","image":"b","imagee":"c"}]}}}}"#;
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let _: Deployment = serde_ignored::deserialize(&mut de, |p| {
            unknown.push(crate::api::serde_util::field_path(&p))
        })
        .unwrap();
        assert_eq!(
            unknown,
            [
                "spec.replica",
                "spec.strategy.rollingUpdate.maxSurges",
                "spec.template.spec.containers[0].imagee"
            ]
        );
    }
}
