//! Containers: [`Container`] and everything it holds — ports, environment,
//! volume mounts, probes, lifecycle hooks — plus [`EphemeralContainer`]
//! (debug containers added to a running pod).
//!
//! Probes, lifecycle and security context are boxed: most containers have
//! none, and a `None` box costs one word.
use serde::{Deserialize, Serialize};

use super::{ResourceRequirements, SecurityContext};
use crate::api::serde_util::{is_default, is_false, nullable};
use crate::api::{IntOrString, Quantity, Str};

/// `imagePullPolicy`: always pull.
pub const PULL_ALWAYS: &str = "Always";
/// `imagePullPolicy`: pull only when the image is missing.
pub const PULL_IF_NOT_PRESENT: &str = "IfNotPresent";
/// `imagePullPolicy`: never pull.
pub const PULL_NEVER: &str = "Never";
/// Protocol `TCP` (the default).
pub const PROTOCOL_TCP: &str = "TCP";
/// Protocol `UDP`.
pub const PROTOCOL_UDP: &str = "UDP";
/// Protocol `SCTP`.
pub const PROTOCOL_SCTP: &str = "SCTP";
/// The default `terminationMessagePath`.
pub const TERMINATION_MESSAGE_PATH_DEFAULT: &str = "/dev/termination-log";
/// `terminationMessagePolicy`: read the message from the file.
pub const TERMINATION_MESSAGE_READ_FILE: &str = "File";
/// `terminationMessagePolicy`: fall back to the log tail on error.
pub const TERMINATION_MESSAGE_FALLBACK_TO_LOGS_ON_ERROR: &str = "FallbackToLogsOnError";

/// Defines a container struct: the fields every container kind shares, plus
/// `$extra` fields (ephemeral containers add `targetContainerName`).
macro_rules! container_struct {
    ($(#[$attr:meta])* pub struct $name:ident { $($extra:tt)* }) => {
        $(#[$attr])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// The container's name: a DNS-1123 label, unique in the pod.
            #[serde(default)]
            pub name: Str,
            /// The image reference.
            #[serde(default, skip_serializing_if = "str::is_empty")]
            pub image: Str,
            /// The entrypoint; the image's `ENTRYPOINT` when empty.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub command: Vec<Str>,
            /// Arguments; the image's `CMD` when empty.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub args: Vec<Str>,
            /// The working directory.
            #[serde(default, skip_serializing_if = "str::is_empty")]
            pub working_dir: Str,
            /// Ports the container exposes (informational, except `hostPort`).
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub ports: Vec<ContainerPort>,
            /// Environment imported from ConfigMaps and Secrets.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub env_from: Vec<EnvFromSource>,
            /// Environment variables.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub env: Vec<EnvVar>,
            /// Compute resources.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_default")]
            pub resources: ResourceRequirements,
            /// How each resource is resized in place.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub resize_policy: Vec<ContainerResizePolicy>,
            /// `Always` makes an init container a sidecar.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub restart_policy: Option<Str>,
            /// Volumes mounted into the filesystem.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub volume_mounts: Vec<VolumeMount>,
            /// Block devices.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
            pub volume_devices: Vec<VolumeDevice>,
            /// Restart the container when this fails.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub liveness_probe: Option<Box<Probe>>,
            /// Remove the pod from endpoints while this fails.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub readiness_probe: Option<Box<Probe>>,
            /// Hold the other probes until this succeeds once.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub startup_probe: Option<Box<Probe>>,
            /// Hooks run after start and before stop.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub lifecycle: Option<Box<Lifecycle>>,
            /// Where the container writes its termination message.
            #[serde(default, skip_serializing_if = "str::is_empty")]
            pub termination_message_path: Str,
            /// `File` or `FallbackToLogsOnError`.
            #[serde(default, skip_serializing_if = "str::is_empty")]
            pub termination_message_policy: Str,
            /// `Always`, `IfNotPresent` or `Never`.
            #[serde(default, skip_serializing_if = "str::is_empty")]
            pub image_pull_policy: Str,
            /// Security settings.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub security_context: Option<Box<SecurityContext>>,
            /// Allocate a stdin buffer.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_false")]
            pub stdin: bool,
            /// Close stdin after the first attach detaches.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_false")]
            pub stdin_once: bool,
            /// Allocate a TTY.
            #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_false")]
            pub tty: bool,
            $($extra)*
        }
    };
}

container_struct! {
    /// A container of a pod (`spec.containers[]`, `spec.initContainers[]`).
    pub struct Container {}
}

container_struct! {
    /// A debugging container added to a running pod
    /// (`spec.ephemeralContainers[]`): no ports, probes or resources.
    pub struct EphemeralContainer {
        /// The container whose namespaces (process, IPC) it joins.
        #[serde(default, skip_serializing_if = "str::is_empty")]
        pub target_container_name: Str,
    }
}

impl Container {
    /// A container with a name and an image.
    pub fn new(name: impl Into<Str>, image: impl Into<Str>) -> Self {
        Container {
            name: name.into(),
            image: image.into(),
            ..Container::default()
        }
    }
}

/// A port a container listens on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// An IANA service name, referenced by services' `targetPort`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The port on the host (avoid: it limits scheduling).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub host_port: i32,
    /// The port in the pod's network namespace.
    #[serde(default, deserialize_with = "nullable")]
    pub container_port: i32,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub protocol: Str,
    /// The host IP to bind `hostPort` to.
    #[serde(default, rename = "hostIP", skip_serializing_if = "str::is_empty")]
    pub host_ip: Str,
}

/// An environment variable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// The name.
    #[serde(default)]
    pub name: Str,
    /// A literal value (`$(VAR)` references are expanded).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub value: Str,
    /// Where the value comes from, instead of `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<Box<EnvVarSource>>,
}

/// The source of an environment variable's value: exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// A field of the pod (`metadata.name`, `status.podIP`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<ObjectFieldSelector>,
    /// A container's resource limit or request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<ResourceFieldSelector>,
    /// A key of a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
    /// A key of a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// A field of the pod, by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectFieldSelector {
    /// The schema version of `fieldPath` (`v1` by default).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
    /// The path, as `metadata.labels['app']`.
    #[serde(default)]
    pub field_path: Str,
}

/// A container resource, as `limits.cpu`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFieldSelector {
    /// The container (required for volumes, optional for env).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub container_name: Str,
    /// The resource, as `requests.memory`.
    #[serde(default)]
    pub resource: Str,
    /// The unit the value is divided by (`1m`, `1Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divisor: Option<Quantity>,
}

/// A key of a ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeySelector {
    /// The ConfigMap's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The key.
    #[serde(default)]
    pub key: Str,
    /// Whether the ConfigMap or key may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A key of a Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// The Secret's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The key.
    #[serde(default)]
    pub key: Str,
    /// Whether the Secret or key may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// Environment variables imported from every key of a ConfigMap or Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    /// Prepended to every key.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub prefix: Str,
    /// The ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapEnvSource>,
    /// The Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretEnvSource>,
}

/// A ConfigMap imported as environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapEnvSource {
    /// The ConfigMap's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// Whether it may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A Secret imported as environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretEnvSource {
    /// The Secret's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// Whether it may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// How a resource is resized in place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResizePolicy {
    /// `cpu` or `memory`.
    #[serde(default)]
    pub resource_name: Str,
    /// `NotRequired` or `RestartContainer`.
    #[serde(default)]
    pub restart_policy: Str,
}

/// A volume mounted into a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// The volume's name in `spec.volumes`.
    #[serde(default)]
    pub name: Str,
    /// Mount read-only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub read_only: bool,
    /// `Disabled`, `IfPossible` or `Enabled`: read-only submounts too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_read_only: Option<Str>,
    /// Where in the container.
    #[serde(default)]
    pub mount_path: Str,
    /// A path within the volume to mount instead of its root.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub sub_path: Str,
    /// `None`, `HostToContainer` or `Bidirectional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<Str>,
    /// Like `subPath`, with `$(VAR)` expanded from the environment.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub sub_path_expr: Str,
}

/// A raw block volume mapped into a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeDevice {
    /// The volume's name (a PVC volume).
    #[serde(default)]
    pub name: Str,
    /// The device path in the container.
    #[serde(default)]
    pub device_path: Str,
}

/// A health check run by the kubelet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Run a command; exit status 0 is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// An HTTP GET; 2xx and 3xx are healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// A TCP connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    /// A gRPC health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcAction>,
    /// Seconds after start before the first probe.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub initial_delay_seconds: i32,
    /// Seconds before a probe times out (default 1).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub timeout_seconds: i32,
    /// Seconds between probes (default 10).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub period_seconds: i32,
    /// Consecutive successes to be healthy again (default 1).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub success_threshold: i32,
    /// Consecutive failures to be unhealthy (default 3).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub failure_threshold: i32,
    /// Grace period when a liveness or startup probe kills the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
}

impl Probe {
    /// How many handlers are set (a valid probe has exactly one).
    pub fn handler_count(&self) -> usize {
        usize::from(self.exec.is_some())
            + usize::from(self.http_get.is_some())
            + usize::from(self.tcp_socket.is_some())
            + usize::from(self.grpc.is_some())
    }
}

/// Run a command in the container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecAction {
    /// The command and its arguments (not run in a shell).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub command: Vec<Str>,
}

/// An HTTP GET request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    /// The path (default `/`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub path: Str,
    /// The port number or name.
    #[serde(default)]
    pub port: IntOrString,
    /// The host (default: the pod IP).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub host: Str,
    /// `HTTP` (default) or `HTTPS`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub scheme: Str,
    /// Extra request headers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_headers: Vec<HttpHeader>,
}

/// An HTTP header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeader {
    /// The header name.
    #[serde(default)]
    pub name: Str,
    /// The value.
    #[serde(default)]
    pub value: Str,
}

/// A TCP connection attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpSocketAction {
    /// The port number or name.
    #[serde(default)]
    pub port: IntOrString,
    /// The host (default: the pod IP).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub host: Str,
}

/// A gRPC health check (`grpc.health.v1.Health`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcAction {
    /// The port number.
    #[serde(default, deserialize_with = "nullable")]
    pub port: i32,
    /// The service name sent in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Str>,
}

/// Hooks run by the kubelet around the container's life.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    /// Run right after the container is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_start: Option<LifecycleHandler>,
    /// Run before the container is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_stop: Option<LifecycleHandler>,
}

/// A lifecycle hook action: exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHandler {
    /// Run a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// Send an HTTP GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// Connect over TCP (deprecated for hooks, kept for compatibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    /// Sleep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep: Option<SleepAction>,
}

impl LifecycleHandler {
    /// How many actions are set (a valid handler has exactly one).
    pub fn handler_count(&self) -> usize {
        usize::from(self.exec.is_some())
            + usize::from(self.http_get.is_some())
            + usize::from(self.tcp_socket.is_some())
            + usize::from(self.sleep.is_some())
    }
}

/// Sleep for a while.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepAction {
    /// How long.
    #[serde(default, deserialize_with = "nullable")]
    pub seconds: i64,
}
