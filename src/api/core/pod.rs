//! [`Pod`]: a group of containers scheduled together onto one node, and
//! what embeds its spec: [`PodTemplateSpec`] (in workloads), the
//! [`PodTemplate`] kind, and [`Binding`] (the `pods/binding` body the
//! scheduler posts).
//!
//! Defaulting lives in [`default_pod_spec`] (shared with the workload kinds),
//! validation in [`validate_pod_spec`] and [`validate_pod_template_spec`],
//! and the quality-of-service class in [`qos_class`](super::qos_class).
//!
//! ```
//! use keelson::api::core::{Pod, QosClass};
//! use keelson::api::Resource;
//!
//! let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"kubia-manual"},
//!   "spec":{"containers":[{"name":"kubia","image":"luksa/kubia","ports":[{"containerPort":8080}]}]}}"#;
//! let mut pod: Pod = serde_json::from_str(json).unwrap();
//! pod.apply_defaults();
//! assert_eq!(pod.spec.restart_policy, "Always");
//! assert_eq!(pod.spec.containers[0].image_pull_policy, "Always"); // no tag: latest
//! assert_eq!(pod.spec.containers[0].ports[0].protocol, "TCP");
//! assert!(pod.validate().is_empty());
//! assert_eq!(pod.qos_class(), QosClass::BestEffort);
//!
//! pod.spec.containers[0].image = "".into();
//! assert_eq!(pod.validate().to_string(), "spec.containers[0].image: Required value");
//! ```
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
pub use super::pod_validation::{
    validate_pod_spec, validate_pod_spec_update, validate_pod_status_update,
    validate_pod_template_spec,
};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;
    use serde_json::{json, Value};

    /// Decodes `input` as a Pod, encodes it again and checks nothing changed.
    fn round_trip(input: Value) -> Pod {
        let pod: Pod = serde_json::from_value(input.clone()).unwrap();
        let output = serde_json::to_value(&pod).unwrap();
        assert_eq!(output, input, "round trip changed the pod");
        pod
    }

    fn unknown_fields(json: &str) -> Vec<String> {
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let _pod: Pod = serde_ignored::deserialize(&mut de, |p| {
            unknown.push(crate::api::serde_util::field_path(&p))
        })
        .unwrap();
        unknown
    }

    pub(crate) fn field_rich_pod() -> Value {
        serde_json::from_str(
            r#"{
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "prod", "labels": {"app": "web"}},
            "spec": {
                "volumes": [
                    {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
                    {"name": "cfg", "configMap": {"name": "web-config", "items": [{"key": "a", "path": "a.conf", "mode": 256}], "defaultMode": 420, "optional": true}},
                    {"name": "creds", "secret": {"secretName": "web-creds", "defaultMode": 256}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0", "readOnly": true}},
                    {"name": "info", "downwardAPI": {"items": [
                        {"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}},
                        {"path": "cpu", "resourceFieldRef": {"containerName": "web", "resource": "limits.cpu", "divisor": "1m"}}
                    ]}},
                    {"name": "share", "nfs": {"server": "nfs.local", "path": "/exports", "readOnly": true}},
                    {"name": "site", "gitRepo": {"repository": "https://example.com/site.git", "revision": "main", "directory": "."}},
                    {"name": "token", "projected": {"sources": [
                        {"serviceAccountToken": {"audience": "api", "expirationSeconds": 3600, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                    ], "defaultMode": 420}},
                    {"name": "csi", "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": true, "volumeAttributes": {"secretProviderClass": "vault"}}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": {"type": "scratch"}}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}},
                    {"name": "legacy", "awsElasticBlockStore": {"volumeID": "vol-1", "fsType": "ext4"}}
                ],
                "initContainers": [
                    {"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "echo hi"]},
                    {"name": "proxy", "image": "envoy:v1", "restartPolicy": "Always",
                     "readinessProbe": {"tcpSocket": {"port": 9901}, "periodSeconds": 5}}
                ],
                "containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "command": ["nginx"],
                    "args": ["-g", "daemon off;"],
                    "workingDir": "/srv",
                    "ports": [
                        {"name": "http", "containerPort": 80, "protocol": "TCP"},
                        {"name": "metrics", "hostPort": 9100, "containerPort": 9100, "protocol": "TCP", "hostIP": "0.0.0.0"}
                    ],
                    "envFrom": [
                        {"prefix": "CFG_", "configMapRef": {"name": "web-config", "optional": false}},
                        {"secretRef": {"name": "web-creds"}}
                    ],
                    "env": [
                        {"name": "MODE", "value": "prod"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "level", "optional": true}}},
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "web-creds", "key": "password"}}}
                    ],
                    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}},
                    "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                    "volumeMounts": [
                        {"name": "cache", "mountPath": "/cache"},
                        {"name": "cfg", "readOnly": true, "recursiveReadOnly": "IfPossible", "mountPath": "/etc/web", "subPath": "conf", "mountPropagation": "None"},
                        {"name": "info", "mountPath": "/info", "subPathExpr": "$(POD_NAME)"}
                    ],
                    "volumeDevices": [{"name": "data", "devicePath": "/dev/xvda"}],
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "host": "127.0.0.1", "scheme": "HTTP", "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                                      "initialDelaySeconds": 5, "timeoutSeconds": 2, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3, "terminationGracePeriodSeconds": 10},
                    "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}},
                    "startupProbe": {"grpc": {"port": 9000, "service": "health"}, "failureThreshold": 30},
                    "lifecycle": {"postStart": {"exec": {"command": ["touch", "/tmp/started"]}}, "preStop": {"sleep": {"seconds": 5}}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "imagePullPolicy": "IfNotPresent",
                    "securityContext": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "privileged": false, "runAsUser": 1000, "runAsNonRoot": true,
                                        "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false, "seccompProfile": {"type": "RuntimeDefault"}},
                    "stdin": true,
                    "stdinOnce": true,
                    "tty": true
                }],
                "ephemeralContainers": [{"name": "debug", "image": "busybox", "stdin": true, "targetContainerName": "web"}],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 60,
                "activeDeadlineSeconds": 3600,
                "dnsPolicy": "None",
                "nodeSelector": {"disktype": "ssd"},
                "serviceAccountName": "web",
                "serviceAccount": "web",
                "automountServiceAccountToken": false,
                "nodeName": "node-1",
                "hostNetwork": true,
                "hostPID": true,
                "hostIPC": true,
                "shareProcessNamespace": false,
                "securityContext": {"seLinuxOptions": {"level": "s0:c123,c456"}, "runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": true,
                                    "supplementalGroups": [4000], "supplementalGroupsPolicy": "Merge", "fsGroup": 2000,
                                    "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}], "fsGroupChangePolicy": "OnRootMismatch",
                                    "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/audit.json"},
                                    "appArmorProfile": {"type": "RuntimeDefault"}, "seLinuxChangePolicy": "MountOption"},
                "imagePullSecrets": [{"name": "regcred"}],
                "hostname": "web-0",
                "subdomain": "web",
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}], "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-9"]}]}]},
                        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}]
                    },
                    "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "cache"}}, "namespaces": ["prod"], "topologyKey": "kubernetes.io/hostname"}]},
                    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
                        "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                        "namespaceSelector": {}, "topologyKey": "topology.kubernetes.io/zone", "matchLabelKeys": ["pod-template-hash"], "mismatchLabelKeys": ["tenant"]}}]}
                },
                "schedulerName": "default-scheduler",
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ],
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db.local"]}],
                "priorityClassName": "high",
                "priority": 1000,
                "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["prod.svc.cluster.local"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
                "readinessGates": [{"conditionType": "example.com/ready"}],
                "runtimeClassName": "gvisor",
                "enableServiceLinks": false,
                "preemptionPolicy": "Never",
                "overhead": {"cpu": "250m"},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                                               "labelSelector": {"matchLabels": {"app": "web"}}, "minDomains": 2, "nodeAffinityPolicy": "Honor",
                                               "nodeTaintsPolicy": "Ignore", "matchLabelKeys": ["pod-template-hash"]}],
                "setHostnameAsFQDN": true,
                "os": {"name": "linux"},
                "hostUsers": false,
                "schedulingGates": [{"name": "example.com/quota"}],
                "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "gpu-template"}],
                "resources": {"limits": {"cpu": "2"}}
            }
        }"#,
        )
        .unwrap()
    }

    #[test]
    fn field_rich_pod_round_trips() {
        let pod = round_trip(field_rich_pod());
        assert_eq!(pod.spec.volumes.len(), 12);
        assert_eq!(pod.spec.volumes[11].sources(), vec!["awsElasticBlockStore"]);
        assert!(pod.spec.volumes.iter().all(|v| v.source_count() == 1));
        let web = &pod.spec.containers[0];
        assert_eq!(web.ports[1].host_ip, "0.0.0.0");
        assert_eq!(
            web.liveness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap()
                .port,
            crate::api::IntOrString::from("http")
        );
        assert!(pod.spec.host_pid && pod.spec.host_ipc);
        assert_eq!(pod.spec.set_hostname_as_fqdn, Some(true));
        assert!(unknown_fields(&field_rich_pod().to_string()).is_empty());
    }

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let json = r#"{"kind":"Pod","spec":{"containers":[{"name":"a","image":"b","imagePullPolicyy":"Always"}],"volumes":[{"name":"v","emptyDir":{"bogus":1}}]}}"#;
        assert_eq!(
            unknown_fields(json),
            vec![
                "spec.containers[0].imagePullPolicyy",
                "spec.volumes[0].emptyDir.bogus"
            ]
        );
    }

    #[test]
    fn seed_pods_round_trip() {
        // 02-pod-kubia-manual.yaml
        let kubia = round_trip(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia-manual", "labels": {"env": "test"}},
            "spec": {
                "nodeSelector": {"super": "true"},
                "containers": [{"image": "luksa/kubia", "name": "kubia", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]
            }
        }));
        assert_eq!(kubia.spec.node_selector.get_str("super"), Some("true"));
        // 11-pod-fortune.yaml
        let fortune = round_trip(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "fortune"},
            "spec": {
                "containers": [
                    {"image": "luksa/fortune", "name": "html-genrator", "volumeMounts": [{"name": "html", "mountPath": "/var/htdocs"}]},
                    {"image": "nginx:alpine", "name": "web-server",
                     "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html", "readOnly": true}],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}]}
                ],
                "volumes": [{"name": "html", "emptyDir": {}}]
            }
        }));
        assert_eq!(fortune.spec.volumes[0].sources(), vec!["emptyDir"]);
        // 12-pod-gitrepo-volume-pod.yaml
        let git = round_trip(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "gitrepo-volume-pod"},
            "spec": {
                "containers": [{"image": "nginx:alpine", "name": "web-server",
                    "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html", "readOnly": true}],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
                "volumes": [{"name": "html", "gitRepo": {"repository": "https://github.com/luksa/kubia-website-example.git", "revision": "master", "directory": "."}}]
            }
        }));
        for mut pod in [kubia, fortune, git] {
            pod.apply_defaults();
            assert!(pod.validate().is_empty(), "{}", pod.validate());
        }
    }

    #[test]
    fn pod_with_kubelet_status_round_trips() {
        let mut input = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia-manual", "namespace": "default", "uid": "6f0e1d2c-1111-2222-3333-444455556666",
                         "resourceVersion": "4711", "creationTimestamp": "2024-05-01T10:00:00Z"},
            "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}], "nodeName": "node-1"},
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:03Z"},
                    {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:01Z"},
                    {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:05Z"},
                    {"type": "ContainersReady", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:05Z"},
                    {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:00Z"}
                ],
                "hostIP": "192.168.1.10",
                "hostIPs": [{"ip": "192.168.1.10"}],
                "podIP": "10.244.1.5",
                "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
                "startTime": "2024-05-01T10:00:00Z",
                "initContainerStatuses": [{
                    "name": "init", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2024-05-01T10:00:01Z",
                    "finishedAt": "2024-05-01T10:00:02Z", "containerID": "containerd://aaa"}},
                    "lastState": {}, "ready": true, "restartCount": 0, "image": "docker.io/library/busybox:1.36",
                    "imageID": "docker.io/library/busybox@sha256:abc", "containerID": "containerd://aaa", "started": false
                }],
                "containerStatuses": [{
                    "name": "kubia",
                    "state": {"running": {"startedAt": "2024-05-01T10:00:04Z"}},
                    "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled", "message": "killed",
                                  "startedAt": "2024-05-01T09:00:00Z", "finishedAt": "2024-05-01T09:59:59Z", "containerID": "containerd://bbb"}},
                    "ready": true, "restartCount": 1,
                    "image": "docker.io/luksa/kubia:latest", "imageID": "docker.io/luksa/kubia@sha256:def",
                    "containerID": "containerd://ccc", "started": true,
                    "allocatedResources": {"cpu": "100m"},
                    "resources": {"requests": {"cpu": "100m"}},
                    "volumeMounts": [{"name": "kube-api-access-x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true, "recursiveReadOnly": "Disabled"}],
                    "user": {"linux": {"uid": 0, "gid": 0, "supplementalGroups": [0, 10]}},
                    "allocatedResourcesStatus": [{"name": "example.com/gpu", "resources": [{"resourceID": "gpu-0", "health": "Healthy"}]}]
                }, {
                    "name": "sidecar", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
                    "lastState": {}, "ready": false, "restartCount": 3, "image": "envoy:v1", "imageID": "", "started": false
                }],
                "qosClass": "BestEffort",
                "resize": "InProgress",
                "resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "web-0-gpu-x7k2"}]
            }
        });
        let pod: Pod = serde_json::from_value(input.clone()).unwrap();
        assert!(pod.status.is_ready());
        assert_eq!(pod.status.container_statuses[0].restart_count, 1);
        assert_eq!(
            pod.status.container_statuses[0]
                .last_state
                .terminated
                .as_ref()
                .unwrap()
                .exit_code,
            137
        );
        // The kubelet writes `lastProbeTime: null` and `lastState: {}`;
        // we omit both, which decodes to the same object.
        for c in input["status"]["conditions"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().remove("lastProbeTime");
        }
        input["status"]["initContainerStatuses"][0]
            .as_object_mut()
            .unwrap()
            .remove("lastState");
        input["status"]["containerStatuses"][1]
            .as_object_mut()
            .unwrap()
            .remove("lastState");
        assert_eq!(serde_json::to_value(&pod).unwrap(), input);
    }

    #[test]
    fn template_binding_and_type_info() {
        let template: PodTemplate = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PodTemplate",
            "metadata": {"name": "t"},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
        }))
        .unwrap();
        assert_eq!(template.template.metadata.labels.get_str("app"), Some("a"));
        let binding_json = json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": "web-0", "namespace": "prod"},
            "target": {"kind": "Node", "name": "node-1", "apiVersion": "v1"}
        });
        let binding: Binding = serde_json::from_value(binding_json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&binding).unwrap(), binding_json);
        assert!(binding.validate().is_empty());
        let mut empty = Binding::default();
        empty.metadata.name = "x".into();
        assert_eq!(empty.validate().to_string(), "target.name: Required value");
        assert_eq!(
            serde_json::to_value(&empty).unwrap(),
            json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "x"}, "target": {}})
        );
        assert_eq!(Pod::API_VERSION, "v1");
        assert_eq!(Pod::SHORT_NAMES, &["po"]);
        assert_eq!(Pod::CATEGORIES, &["all"]);
        assert!(Pod::SUBRESOURCES.contains(&"binding"));
        assert_eq!(PodTemplate::PLURAL, "podtemplates");
    }

    #[test]
    fn nulls_decode_as_empty() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": null,
            "spec": {"containers": [{"name": "a", "image": "b", "env": null, "ports": null, "resources": null, "stdin": null}],
                     "volumes": null, "nodeSelector": null, "tolerations": null},
            "status": null
        }))
        .unwrap();
        assert_eq!(pod.spec.containers[0], Container::new("a", "b"));
    }

    #[test]
    fn benchmark_pod_is_defaulted_valid_and_burstable() {
        let text = include_str!("../../../benches/data/pod.json");
        let pod: Pod = serde_json::from_str(text).unwrap();
        let mut defaulted = pod.clone();
        defaulted.apply_defaults();
        assert_eq!(
            defaulted, pod,
            "a pod read back from the API server is fully defaulted"
        );
        assert!(pod.validate().is_empty(), "{}", pod.validate());
        assert_eq!(pod.qos_class().as_str(), pod.status.qos_class.as_str());
        assert!(unknown_fields(text).is_empty());
        let mut input: Value = serde_json::from_str(text).unwrap();
        for c in input["status"]["conditions"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().remove("lastProbeTime");
        }
        input["status"]["containerStatuses"][0]
            .as_object_mut()
            .unwrap()
            .remove("lastState");
        assert_eq!(serde_json::to_value(&pod).unwrap(), input);
    }

    #[test]
    fn sizes() {
        use std::mem::size_of;
        println!(
            "size_of: Container {} PodSpec {} PodStatus {} Pod {} Volume {} ContainerStatus {}",
            size_of::<Container>(),
            size_of::<PodSpec>(),
            size_of::<crate::api::core::PodStatus>(),
            size_of::<Pod>(),
            size_of::<Volume>(),
            size_of::<crate::api::core::ContainerStatus>(),
        );
        // Guards against unboxing rarely used parts by accident.
        assert!(size_of::<Container>() <= 520);
        assert!(size_of::<PodSpec>() <= 800);
        assert!(size_of::<Pod>() <= 2000);
    }
}
