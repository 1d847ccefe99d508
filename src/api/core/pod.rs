//! [`Pod`]: a group of containers scheduled together onto one node, and
//! what embeds its spec: [`PodTemplateSpec`] (in workloads), the
//! [`PodTemplate`] kind, and [`Binding`] (the `pods/binding` body the
//! scheduler posts).
//!
//! Defaulting lives in [`default_pod_spec`] (shared with the workload kinds),
//! validation in [`validate_pod_spec`] and [`validate_pod_template_spec`],
//! and the quality-of-service class in [`qos_class`](super::qos_class).
use serde::{Deserialize, Serialize};

use super::pod_defaults;
use super::pod_validation;
use super::{
    Affinity, Container, EphemeralContainer, LocalObjectReference, ObjectReference,
    PodSecurityContext, PodStatus, ResourceRequirements, Toleration, TopologySpreadConstraint,
    Volume,
};
use crate::api::resource::object;
use crate::api::serde_util::{is_default, is_false, nullable};
use crate::api::validation::{ErrorList, Path};
use crate::api::{ObjectMeta, ResourceList, Str, StringMap};

pub use super::pod_defaults::{default_pod_spec, default_pod_template_spec};
pub use super::pod_validation::{validate_pod_spec, validate_pod_template_spec};

/// `restartPolicy: Always` (the default).
pub const RESTART_ALWAYS: &str = "Always";
/// `restartPolicy: OnFailure`.
pub const RESTART_ON_FAILURE: &str = "OnFailure";
/// `restartPolicy: Never`.
pub const RESTART_NEVER: &str = "Never";
/// `dnsPolicy: ClusterFirst` (the default).
pub const DNS_CLUSTER_FIRST: &str = "ClusterFirst";
/// `dnsPolicy: ClusterFirstWithHostNet`.
pub const DNS_CLUSTER_FIRST_WITH_HOST_NET: &str = "ClusterFirstWithHostNet";
/// `dnsPolicy: Default` (the node's resolver).
pub const DNS_DEFAULT: &str = "Default";
/// `dnsPolicy: None` (only `dnsConfig`).
pub const DNS_NONE: &str = "None";
/// The scheduler that handles pods without `schedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// The default `terminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;

object! {
    /// A pod: containers that share a network namespace and volumes, run
    /// together on one node.
    pub struct Pod {
        /// The desired state.
        spec: PodSpec = "spec",
        /// The observed state, written by the kubelet.
        status: PodStatus = "status",
    }
    resource {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        scope: Namespaced,
        short_names: ["po"],
        categories: ["all"],
        subresources: ["status", "binding", "log"],
    }

    fn apply_defaults(&mut self) {
        pod_defaults::default_pod(self);
    }

    fn validate_fields(&self) -> ErrorList {
        validate_pod_spec(&self.spec, &Path::root("spec"))
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = crate::api::Resource::validate(self);
        errors.extend(crate::api::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        errors.extend(pod_validation::validate_pod_spec_update(&self.spec, &old.spec));
        errors
    }
}

impl Pod {
    /// The pod's quality-of-service class, computed from its spec.
    pub fn qos_class(&self) -> super::QosClass {
        super::qos_class(&self.spec)
    }
}

object! {
    /// A named pod template, stored on its own.
    pub struct PodTemplate {
        /// The template.
        template: PodTemplateSpec = "template",
    }
    resource {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
        scope: Namespaced,
    }

    fn apply_defaults(&mut self) {
        default_pod_template_spec(&mut self.template);
    }

    fn validate_fields(&self) -> ErrorList {
        validate_pod_template_spec(&self.template, &Path::root("template"))
    }
}

object! {
    /// Binds a pod to a node: the body of `POST pods/<name>/binding`.
    pub struct Binding {
        /// The node the pod is bound to (`kind: Node`, `name`).
        target: ObjectReference = "target" @always,
    }
    resource {
        group: "",
        version: "v1",
        kind: "Binding",
        plural: "bindings",
        scope: Namespaced,
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        if self.target.name.is_empty() {
            errors.push(crate::api::FieldError::required(&Path::root("target").child("name"), ""));
        }
        if !self.target.kind.is_empty() && self.target.kind != "Node" {
            errors.push(crate::api::FieldError::not_supported(
                &Path::root("target").child("kind"),
                &self.target.kind,
                &["Node", ""],
            ));
        }
        errors
    }
}

/// A pod's metadata and spec, as embedded in workloads
/// (`spec.template` of Deployments, Jobs, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    /// Labels and annotations of the pods created from the template.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub metadata: ObjectMeta,
    /// The pods' spec.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub spec: PodSpec,
}

/// The desired state of a pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Volumes the containers can mount.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes: Vec<Volume>,
    /// Containers run to completion, in order, before the others start
    /// (or kept running, as sidecars, with `restartPolicy: Always`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub init_containers: Vec<Container>,
    /// The containers (at least one).
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    /// Debug containers added to the running pod.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ephemeral_containers: Vec<EphemeralContainer>,
    /// `Always` (default), `OnFailure` or `Never`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub restart_policy: Str,
    /// Seconds between SIGTERM and SIGKILL on deletion (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    /// Seconds the pod may run before it is failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// `ClusterFirst` (default), `ClusterFirstWithHostNet`, `Default` or `None`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub dns_policy: Str,
    /// Node labels the node must have.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub node_selector: StringMap,
    /// The service account the pod runs as.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub service_account_name: Str,
    /// Deprecated alias of `serviceAccountName`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub service_account: Str,
    /// Whether the service account token is mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    /// The node the pod is bound to (set by the scheduler).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub node_name: Str,
    /// Use the node's network namespace.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub host_network: bool,
    /// Use the node's PID namespace.
    #[serde(
        default,
        rename = "hostPID",
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub host_pid: bool,
    /// Use the node's IPC namespace.
    #[serde(
        default,
        rename = "hostIPC",
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub host_ipc: bool,
    /// Share one PID namespace between the containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_process_namespace: Option<bool>,
    /// Pod-wide security settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Box<PodSecurityContext>>,
    /// Secrets used to pull the images.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// The pod's host name (default: the pod's name).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub hostname: Str,
    /// With a headless service of this name: `<hostname>.<subdomain>.<ns>.svc`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub subdomain: Str,
    /// Node and pod (anti-)affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Box<Affinity>>,
    /// The scheduler that places the pod (default `default-scheduler`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub scheduler_name: Str,
    /// Taints the pod tolerates.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tolerations: Vec<Toleration>,
    /// Extra `/etc/hosts` entries.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub host_aliases: Vec<HostAlias>,
    /// The PriorityClass, resolved into `priority` on admission.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub priority_class_name: Str,
    /// The priority (higher preempts lower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// DNS settings merged with `dnsPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_config: Option<Box<PodDnsConfig>>,
    /// Extra conditions that must be true for the pod to be ready.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub readiness_gates: Vec<PodReadinessGate>,
    /// The RuntimeClass to run with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<Str>,
    /// Inject service environment variables (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_service_links: Option<bool>,
    /// `PreemptLowerPriority` (default) or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<Str>,
    /// Resources used by the pod sandbox, set from the RuntimeClass.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub overhead: ResourceList,
    /// How to spread the pods across topology domains.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Use the FQDN as the host name.
    #[serde(
        default,
        rename = "setHostnameAsFQDN",
        skip_serializing_if = "Option::is_none"
    )]
    pub set_hostname_as_fqdn: Option<bool>,
    /// The operating system (`linux` or `windows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<PodOs>,
    /// Use the host's user namespace (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_users: Option<bool>,
    /// Gates that hold the pod back from scheduling until removed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scheduling_gates: Vec<PodSchedulingGate>,
    /// Dynamic resource claims.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_claims: Vec<PodResourceClaim>,
    /// Pod-level resource requests and limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<ResourceRequirements>>,
}

impl PodSpec {
    /// The regular and init containers, init containers first.
    pub fn all_containers(&self) -> impl Iterator<Item = &Container> + '_ {
        self.init_containers.iter().chain(self.containers.iter())
    }
}

/// An `/etc/hosts` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostAlias {
    /// The IP address.
    #[serde(default)]
    pub ip: Str,
    /// Its host names.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub hostnames: Vec<Str>,
}

/// DNS resolver settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDnsConfig {
    /// Name server IPs.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub nameservers: Vec<Str>,
    /// Search domains.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub searches: Vec<Str>,
    /// Resolver options (`ndots`, ...).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub options: Vec<PodDnsConfigOption>,
}

/// A resolver option.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDnsConfigOption {
    /// The option.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// Its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Str>,
}

/// A pod condition that must be true for readiness.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodReadinessGate {
    /// The condition type.
    #[serde(default)]
    pub condition_type: Str,
}

/// The pod's operating system.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodOs {
    /// `linux` or `windows`.
    #[serde(default)]
    pub name: Str,
}

/// A scheduling gate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSchedulingGate {
    /// The gate's name (a qualified name).
    #[serde(default)]
    pub name: Str,
}

/// A dynamic resource claim of the pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodResourceClaim {
    /// The name containers refer to.
    #[serde(default)]
    pub name: Str,
    /// An existing ResourceClaim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_name: Option<Str>,
    /// A ResourceClaimTemplate to create a claim from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_template_name: Option<Str>,
}
