//! [`StatefulSet`]: pods with stable names, network identities and storage.
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::checks::{
    self, immutable, int_or_percent_value, invalid_json, nonnegative, nonnegative_opt,
    not_more_than_100_percent, positive_int_or_percent,
};
use super::replicaset::ReplicaSetCondition;
use super::template::{default_pod_template_spec, PodTemplateSpec};
use crate::api::core::{PersistentVolumeClaimVolumeSource, Volume};
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{
    self, is_dns1035_label, is_dns1123_label, ErrorList, FieldError, Path,
};
use crate::api::{IntOrString, LabelSelector, Str};

/// TEMPORARY: the claim template type until `core::PersistentVolumeClaim`
/// lands from the `api-core` branch.
pub type PersistentVolumeClaim = serde_json::Value;

object! {
    /// A StatefulSet: runs `spec.replicas` pods named `<name>-0`,
    /// `<name>-1`, ..., each with a stable hostname under the headless
    /// Service `spec.serviceName` and its own PersistentVolumeClaims made
    /// from `spec.volumeClaimTemplates`.
    pub struct StatefulSet {
        /// The desired state.
        spec: StatefulSetSpec = "spec",
        /// The observed state, written by the StatefulSet controller.
        status: StatefulSetStatus = "status",
    }
    resource {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        scope: Namespaced,
        short_names: ["sts"],
        categories: ["all"],
        subresources: ["status", "scale"],
    }

    /// As Kubernetes' `SetDefaults_StatefulSet`: `replicas: 1`,
    /// `podManagementPolicy: OrderedReady`, update strategy `RollingUpdate`
    /// with `partition: 0`, `revisionHistoryLimit: 10`, claim retention
    /// `Retain`/`Retain`, and the pod template's defaults. (`maxUnavailable`
    /// is not defaulted: it belongs to the alpha `MaxUnavailableStatefulSet`
    /// feature.)
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.pod_management_policy.is_empty() {
            spec.pod_management_policy = Str::from_static(StatefulSetSpec::ORDERED_READY);
        }
        let strategy = &mut spec.update_strategy;
        if strategy.type_.is_empty() {
            strategy.type_ = Str::from_static(StatefulSetUpdateStrategy::ROLLING_UPDATE);
            strategy.rolling_update.get_or_insert_with(Default::default);
        }
        if strategy.type_ == StatefulSetUpdateStrategy::ROLLING_UPDATE {
            if let Some(rolling) = &mut strategy.rolling_update {
                rolling.partition.get_or_insert(0);
            }
        }
        let retention = spec
            .persistent_volume_claim_retention_policy
            .get_or_insert_with(Default::default);
        for policy in [&mut retention.when_deleted, &mut retention.when_scaled] {
            if policy.is_empty() {
                *policy = Str::from_static(StatefulSetPersistentVolumeClaimRetentionPolicy::RETAIN);
            }
        }
        spec.replicas.get_or_insert(1);
        spec.revision_history_limit.get_or_insert(10);
        default_pod_template_spec(&mut spec.template);
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        let s = &self.spec;
        let policy_path = spec.child("podManagementPolicy");
        match s.pod_management_policy.as_str() {
            "" | StatefulSetSpec::ORDERED_READY | StatefulSetSpec::PARALLEL => {}
            other => errors.push(FieldError::not_supported(
                &policy_path,
                other,
                &[StatefulSetSpec::ORDERED_READY, StatefulSetSpec::PARALLEL],
            )),
        }
        validate_update_strategy(&mut errors, &spec.child("updateStrategy"), &s.update_strategy);
        if let Some(retention) = &s.persistent_volume_claim_retention_policy {
            let path = spec.child("persistentVolumeClaimRetentionPolicy");
            for (field, value) in [("whenDeleted", &retention.when_deleted), ("whenScaled", &retention.when_scaled)] {
                if !value.is_empty()
                    && value != StatefulSetPersistentVolumeClaimRetentionPolicy::RETAIN
                    && value != StatefulSetPersistentVolumeClaimRetentionPolicy::DELETE
                {
                    errors.push(FieldError::not_supported(
                        &path.child(field),
                        value,
                        &[
                            StatefulSetPersistentVolumeClaimRetentionPolicy::RETAIN,
                            StatefulSetPersistentVolumeClaimRetentionPolicy::DELETE,
                        ],
                    ));
                }
            }
        }
        nonnegative_opt(&mut errors, &spec.child("revisionHistoryLimit"), s.revision_history_limit);
        nonnegative_opt(&mut errors, &spec.child("replicas"), s.replicas);
        nonnegative(&mut errors, &spec.child("minReadySeconds"), s.min_ready_seconds.into());
        if let Some(ordinals) = &s.ordinals {
            let ordinals_path = spec.child("ordinals");
            nonnegative(&mut errors, &ordinals_path.child("start"), ordinals.start.into());
        }
        if !s.service_name.is_empty() {
            for message in is_dns1035_label(&s.service_name) {
                errors.push(FieldError::invalid(&spec.child("serviceName"), &s.service_name, message));
            }
        }
        checks::validate_selector_and_template_labels(
            &mut errors,
            &spec,
            s.selector.as_ref(),
            &s.template,
            "statefulset",
        );
        let claims = spec.child("volumeClaimTemplates");
        for (i, claim) in s.volume_claim_templates.iter().enumerate() {
            let claim_path = claims.index(i);
            let metadata = claim_path.child("metadata");
            let name_path = metadata.child("name");
            let name = claim_name(claim);
            if name.is_empty() {
                errors.push(FieldError::required(&name_path, ""));
            } else {
                for message in is_dns1123_label(name) {
                    errors.push(FieldError::invalid(&name_path, name, message));
                }
            }
        }
        // Volume mounts may name a claim template instead of a volume: check
        // the template with one claim volume per template added.
        checks::validate_long_running_template(
            &mut errors,
            &spec.child("template"),
            &s.template_with_claim_volumes(),
            "StatefulSet",
        );
        errors
    }

    /// [`Resource::validate`](crate::api::Resource::validate) plus what may not change: `spec.selector`,
    /// and every spec field but `replicas`, `ordinals`, `template`,
    /// `updateStrategy`, `revisionHistoryLimit`,
    /// `persistentVolumeClaimRetentionPolicy` and `minReadySeconds`.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        let spec = Path::root("spec");
        immutable(&mut errors, &spec.child("selector"), &self.spec.selector, &old.spec.selector);
        // The old spec with every mutable field (and the selector, reported
        // above) taken from the new one must equal the new spec.
        let mut frozen = old.spec.clone();
        frozen.replicas = self.spec.replicas;
        frozen.ordinals = self.spec.ordinals.clone();
        frozen.template = self.spec.template.clone();
        frozen.update_strategy = self.spec.update_strategy.clone();
        frozen.revision_history_limit = self.spec.revision_history_limit;
        frozen.persistent_volume_claim_retention_policy =
            self.spec.persistent_volume_claim_retention_policy.clone();
        frozen.min_ready_seconds = self.spec.min_ready_seconds;
        frozen.selector = self.spec.selector.clone();
        if frozen != self.spec {
            errors.push(FieldError::forbidden(
                &spec,
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', \
                 'template', 'updateStrategy', 'revisionHistoryLimit', \
                 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
        errors
    }
}

fn validate_update_strategy(
    errors: &mut ErrorList,
    path: &Path<'_>,
    strategy: &StatefulSetUpdateStrategy,
) {
    let rolling_path = path.child("rollingUpdate");
    match strategy.type_.as_str() {
        StatefulSetUpdateStrategy::ON_DELETE => {
            if let Some(rolling) = &strategy.rolling_update {
                errors.push(invalid_json(
                    &rolling_path,
                    rolling,
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "" | StatefulSetUpdateStrategy::ROLLING_UPDATE => {
            let Some(rolling) = &strategy.rolling_update else {
                return;
            };
            nonnegative_opt(errors, &rolling_path.child("partition"), rolling.partition);
            if let Some(max) = &rolling.max_unavailable {
                let max_path = rolling_path.child("maxUnavailable");
                positive_int_or_percent(errors, &max_path, Some(max));
                if int_or_percent_value(Some(max), 1) == 0 {
                    errors.push(invalid_json(&max_path, max, "cannot be 0"));
                }
                not_more_than_100_percent(errors, &max_path, Some(max));
            }
        }
        other => errors.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &[
                StatefulSetUpdateStrategy::ROLLING_UPDATE,
                StatefulSetUpdateStrategy::ON_DELETE,
            ],
        )),
    }
}

/// The desired state of a [`StatefulSet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    /// How many pods to run; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Which pods the StatefulSet manages; must match the template's labels.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The pods to run; only `restartPolicy: Always` is allowed.
    #[serde(default, deserialize_with = "nullable")]
    pub template: PodTemplateSpec,
    /// Claims each pod gets its own copy of (`<claim>-<pod name>`), mounted
    /// by name. Immutable.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volume_claim_templates: Vec<PersistentVolumeClaim>,
    /// The headless Service giving the pods their DNS names. Immutable.
    #[serde(default)]
    pub service_name: Str,
    /// `OrderedReady` (the default: one pod at a time, in order) or
    /// `Parallel`. Immutable.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub pod_management_policy: Str,
    /// How to replace pods when the template changes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub update_strategy: StatefulSetUpdateStrategy,
    /// How many old revisions to keep for rollback; defaults to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// How long a new pod must be ready before it counts as available.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub min_ready_seconds: i32,
    /// Whether claims are deleted with the StatefulSet or on scale-down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_retention_policy:
        Option<StatefulSetPersistentVolumeClaimRetentionPolicy>,
    /// Where pod numbering starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordinals: Option<StatefulSetOrdinals>,
}

impl StatefulSetSpec {
    /// Create pods in order, each after the previous one is ready; delete
    /// in reverse order.
    pub const ORDERED_READY: &'static str = "OrderedReady";
    /// Create and delete pods all at once.
    pub const PARALLEL: &'static str = "Parallel";
}

/// How a [`StatefulSet`] replaces its pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetUpdateStrategy {
    /// `RollingUpdate` (the default) or `OnDelete`.
    #[serde(default, rename = "type", skip_serializing_if = "str::is_empty")]
    pub type_: Str,
    /// The rolling update's parameters; only with `RollingUpdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateStatefulSetStrategy>,
}

impl StatefulSetUpdateStrategy {
    /// Replace pods one by one from the highest ordinal down.
    pub const ROLLING_UPDATE: &'static str = "RollingUpdate";
    /// Replace a pod only when it is deleted.
    pub const ON_DELETE: &'static str = "OnDelete";
}

/// The parameters of a StatefulSet's rolling update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateStatefulSetStrategy {
    /// Only pods with an ordinal ≥ this are updated (canaries); defaults
    /// to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// How many pods may be unavailable during the update: a number or a
    /// percentage (rounded up), not 0 (alpha `MaxUnavailableStatefulSet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

/// What happens to the claims of a [`StatefulSet`]'s pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetPersistentVolumeClaimRetentionPolicy {
    /// `Retain` (the default) or `Delete` when the StatefulSet is deleted.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub when_deleted: Str,
    /// `Retain` (the default) or `Delete` for pods removed by a scale-down.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub when_scaled: Str,
}

impl StatefulSetPersistentVolumeClaimRetentionPolicy {
    /// Keep the claims.
    pub const RETAIN: &'static str = "Retain";
    /// Delete the claims.
    pub const DELETE: &'static str = "Delete";
}

/// The numbering of a [`StatefulSet`]'s pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetOrdinals {
    /// The first pod's ordinal; pods are `start .. start + replicas`.
    #[serde(default, deserialize_with = "nullable")]
    pub start: i32,
}

/// The observed state of a [`StatefulSet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetStatus {
    /// The `metadata.generation` this status describes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub observed_generation: i64,
    /// Pods created by the controller.
    #[serde(default, deserialize_with = "nullable")]
    pub replicas: i32,
    /// Pods with a Ready condition.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub ready_replicas: i32,
    /// Pods of `currentRevision`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub current_replicas: i32,
    /// Pods of `updateRevision`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub updated_replicas: i32,
    /// The revision of the pods `[0, currentReplicas)`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub current_revision: Str,
    /// The revision of the pods `[replicas - updatedReplicas, replicas)`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub update_revision: Str,
    /// Hash collisions met when naming the newest ControllerRevision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// The latest observations.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<StatefulSetCondition>,
    /// Pods ready for at least `minReadySeconds`.
    #[serde(default, deserialize_with = "nullable")]
    pub available_replicas: i32,
}

/// One observation about a [`StatefulSet`] (the shape of
/// [`ReplicaSetCondition`]).
pub type StatefulSetCondition = ReplicaSetCondition;

/// The name of a claim template (`metadata.name`).
fn claim_name(claim: &PersistentVolumeClaim) -> &str {
    claim
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("")
}

impl StatefulSetSpec {
    /// The pod template as the controller stamps it: for each claim
    /// template, a `persistentVolumeClaim` volume of that name (replacing a
    /// template volume of the same name). The claim a pod uses is named
    /// `<claim template>-<pod name>`; here the source names the template.
    pub fn template_with_claim_volumes(&self) -> Cow<'_, PodTemplateSpec> {
        if self.volume_claim_templates.is_empty() {
            return Cow::Borrowed(&self.template);
        }
        let mut template = self.template.clone();
        let volumes = &mut template.spec.volumes;
        for claim in &self.volume_claim_templates {
            let name = claim_name(claim);
            volumes.retain(|v| v.name != name);
            volumes.push(Volume {
                name: name.into(),
                persistent_volume_claim: Some(Box::new(PersistentVolumeClaimVolumeSource {
                    claim_name: name.into(),
                    ..Default::default()
                })),
                ..Default::default()
            });
        }
        Cow::Owned(template)
    }
}

impl StatefulSet {
    /// The desired replicas (`spec.replicas`, 1 when unset).
    pub fn replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }

    /// The first pod ordinal (`spec.ordinals.start`, 0 when unset).
    pub fn start_ordinal(&self) -> i32 {
        self.spec.ordinals.as_ref().map_or(0, |o| o.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::checks::tests_support::*;
    use crate::api::Resource;

    const SEED: &str = r#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"kubia"},
        "spec":{"serviceName":"kubia","replicas":2,"selector":{"matchLabels":{"app":"kubia"}},
        "template":{"metadata":{"labels":{"app":"kubia"}},
          "spec":{"containers":[{"name":"kubia","image":"luksa/kubia-pet",
            "ports":[{"name":"http","containerPort":8080}],
            "volumeMounts":[{"name":"data","mountPath":"/var/data"}]}]}},
        "volumeClaimTemplates":[{"metadata":{"name":"data"},
          "spec":{"resources":{"requests":{"storage":"1Mi"}},"accessModes":["ReadWriteOnce"]}}]}}"#;

    #[test]
    fn seed_round_trips_and_validates() {
        let mut sts: StatefulSet = round_trip(SEED);
        assert_eq!(sts.replicas(), 2);
        assert_eq!(sts.spec.volume_claim_templates.len(), 1);
        assert!(
            sts.validate().is_empty(),
            "before defaulting: {}",
            sts.validate()
        );
        sts.apply_defaults();
        assert!(sts.validate().is_empty(), "{}", sts.validate());
    }

    #[test]
    fn field_rich_round_trip() {
        let sts: StatefulSet = round_trip(
            r#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"data"},
            "spec":{"replicas":3,"selector":{"matchLabels":{"app":"db"}},
              "template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"postgres"}]}},
              "serviceName":"db","podManagementPolicy":"Parallel",
              "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2,"maxUnavailable":"50%"}},
              "revisionHistoryLimit":5,"minReadySeconds":3,
              "persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Retain"},
              "ordinals":{"start":0}},
            "status":{"observedGeneration":2,"replicas":3,"readyReplicas":3,"currentReplicas":2,"updatedReplicas":1,
              "currentRevision":"db-7c9d","updateRevision":"db-5b6f","collisionCount":0,
              "conditions":[{"type":"Ready","status":"True"}],"availableReplicas":3}}"#,
        );
        assert_eq!(sts.start_ordinal(), 0);
    }

    #[test]
    fn defaults() {
        let sts: StatefulSet = defaulted(SEED);
        assert_eq!(sts.spec.pod_management_policy, "OrderedReady");
        assert_eq!(sts.spec.update_strategy.type_, "RollingUpdate");
        let rolling = sts.spec.update_strategy.rolling_update.as_ref().unwrap();
        assert_eq!(rolling.partition, Some(0));
        assert_eq!(rolling.max_unavailable, None);
        assert_eq!(sts.spec.revision_history_limit, Some(10));
        let retention = sts
            .spec
            .persistent_volume_claim_retention_policy
            .as_ref()
            .unwrap();
        assert_eq!(
            (
                retention.when_deleted.as_str(),
                retention.when_scaled.as_str()
            ),
            ("Retain", "Retain")
        );
        assert_eq!(sts.spec.replicas, Some(2));

        let mut sts = StatefulSet::default();
        sts.spec.update_strategy.type_ = "OnDelete".into();
        sts.apply_defaults();
        assert_eq!(sts.spec.update_strategy.rolling_update, None);
        assert_eq!(sts.spec.replicas, Some(1));
    }

    #[test]
    fn validation() {
        type Mutate = Box<dyn Fn(&mut StatefulSet)>;
        let cases: Vec<(&str, Mutate, &str)> = vec![
            ("policy", Box::new(|s| s.spec.pod_management_policy = "Random".into()),
             "spec.podManagementPolicy: Unsupported value: \"Random\": supported values: \"OrderedReady\", \"Parallel\""),
            ("no policy", Box::new(|s| s.spec.pod_management_policy = "".into()), ""),
            ("no strategy", Box::new(|s| s.spec.update_strategy = StatefulSetUpdateStrategy::default()), ""),
            ("strategy", Box::new(|s| s.spec.update_strategy.type_ = "Recreate".into()),
             "spec.updateStrategy.type: Unsupported value: \"Recreate\": supported values: \"RollingUpdate\", \"OnDelete\""),
            ("on delete with rollingUpdate", Box::new(|s| s.spec.update_strategy.type_ = "OnDelete".into()),
             "spec.updateStrategy.rollingUpdate: Invalid value: {\"partition\":0}: only allowed for updateStrategy 'RollingUpdate'"),
            ("negative partition", Box::new(|s| s.spec.update_strategy.rolling_update.as_mut().unwrap().partition = Some(-1)),
             "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"),
            ("zero maxUnavailable", Box::new(|s| s.spec.update_strategy.rolling_update.as_mut().unwrap().max_unavailable = Some(0.into())),
             "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"),
            ("retention", Box::new(|s| s.spec.persistent_volume_claim_retention_policy.as_mut().unwrap().when_scaled = "Keep".into()),
             "spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\""),
            ("negative replicas", Box::new(|s| s.spec.replicas = Some(-1)),
             "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
            ("negative ordinal", Box::new(|s| s.spec.ordinals = Some(StatefulSetOrdinals { start: -1 })),
             "spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0"),
            ("service name", Box::new(|s| s.spec.service_name = "Kubia".into()),
             "spec.serviceName: Invalid value: \"Kubia\": a DNS-1035 label must consist of lower case \
              alphanumeric characters or '-', start with an alphabetic character, and end with an \
              alphanumeric character (e.g. 'my-name', or 'abc-123', regex used for validation is \
              '[a-z]([-a-z0-9]*[a-z0-9])?')"),
            ("mismatch", Box::new(|s| { s.spec.template.metadata.labels.insert("app", "x"); }),
             "spec.template.metadata.labels: Invalid value: {\"app\": \"x\"}: `selector` does not match template `labels`"),
            ("mount without claim", Box::new(|s| s.spec.volume_claim_templates.clear()),
             "spec.template.spec.containers[0].volumeMounts[0].name: Invalid value: \"data\": not found: must be the name of a volume in spec.volumes"),
            ("restartPolicy", Box::new(|s| set_restart_policy(&mut s.spec.template, "Never")),
             "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""),
        ];
        let base: StatefulSet = defaulted(SEED);
        assert!(base.validate().is_empty());
        for (name, mutate, want) in cases {
            let mut s = base.clone();
            mutate(&mut s);
            assert_eq!(s.validate().to_string(), want, "{name}");
        }
    }

    #[test]
    fn update_rules() {
        let old: StatefulSet = defaulted(SEED);
        let mut new = old.clone();
        new.spec.replicas = Some(5);
        new.spec.min_ready_seconds = 10;
        new.spec
            .update_strategy
            .rolling_update
            .as_mut()
            .unwrap()
            .partition = Some(3);
        set_restart_policy(&mut new.spec.template, "Always");
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );

        let mut new = old.clone();
        new.spec.service_name = "other".into();
        assert_eq!(
            new.validate_update(&old).to_string(),
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', \
             'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', \
             'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        );

        let mut new = old.clone();
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
