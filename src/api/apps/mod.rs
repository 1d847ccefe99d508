//! `apps/v1`: the long-running workloads — [`ReplicaSet`], [`Deployment`],
//! [`DaemonSet`], [`StatefulSet`] — the [`ControllerRevision`] snapshots
//! DaemonSets and StatefulSets roll back to, and the `autoscaling/v1`
//! [`Scale`] served by their `scale` subresource.
//!
//! Every workload holds a pod template and a label selector that must select
//! the template's pods. Defaulting follows Kubernetes' `SetDefaults_*`
//! (`replicas: 1`, a `RollingUpdate` strategy of 25%/25% for Deployments,
//! `revisionHistoryLimit: 10`, ...), and validation reports what the API
//! server would, with the field path. Fields that defaulting fills are
//! accepted when unset, so an object validates the same before and after
//! [`Resource::apply_defaults`].
//!
//! ```
//! use keelson::api::apps::Deployment;
//! use keelson::api::{IntOrString, Resource};
//!
//! let json = r#"{
//!   "apiVersion": "apps/v1", "kind": "Deployment",
//!   "metadata": {"name": "kubia"},
//!   "spec": {
//!     "replicas": 3,
//!     "selector": {"matchLabels": {"app": "kubia"}},
//!     "template": {
//!       "metadata": {"labels": {"app": "kubia"}},
//!       "spec": {"containers": [{"name": "nodejs", "image": "luksa/kubia:v1"}]}
//!     }
//!   }
//! }"#;
//! let mut deployment: Deployment = serde_json::from_str(json).unwrap();
//! deployment.apply_defaults();
//! let rolling = deployment.spec.strategy.rolling_update.as_ref().unwrap();
//! assert_eq!(rolling.max_surge, Some(IntOrString::from("25%")));
//! assert_eq!(deployment.spec.revision_history_limit, Some(10));
//! assert!(deployment.validate().is_empty());
//!
//! // The selector must select the template's pods.
//! deployment.spec.template.metadata.labels.insert("app", "other");
//! assert_eq!(
//!     deployment.validate().to_string(),
//!     "spec.template.metadata.labels: Invalid value: {\"app\": \"other\"}: \
//!      `selector` does not match template `labels`"
//! );
//! ```
//!
//! [`Resource::apply_defaults`]: crate::api::Resource::apply_defaults
pub(crate) mod checks;
mod controller_revision;
mod daemonset;
mod deployment;
mod replicaset;
mod scale;
mod statefulset;
pub(crate) mod template;

pub use self::controller_revision::ControllerRevision;
pub use self::daemonset::{
    DaemonSet, DaemonSetCondition, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy,
    RollingUpdateDaemonSet,
};
pub use self::deployment::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, DeploymentStrategy,
    RollingUpdateDeployment,
};
pub use self::replicaset::{ReplicaSet, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus};
pub use self::scale::{Scale, ScaleSpec, ScaleStatus};
pub use self::statefulset::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetCondition, StatefulSetOrdinals,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetStatus,
    StatefulSetUpdateStrategy,
};

/// The label (on pods and ControllerRevisions) holding the hash of the
/// revision a DaemonSet or StatefulSet pod was created from.
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// The label a Deployment adds to its ReplicaSets' selectors and pods so
/// ReplicaSets of different templates never select each other's pods.
pub const DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY: &str = "pod-template-hash";
/// The label holding a StatefulSet pod's name.
pub const STATEFULSET_POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label holding a StatefulSet pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
