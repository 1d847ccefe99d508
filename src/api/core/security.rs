//! Security settings of pods and containers: [`PodSecurityContext`] (applies
//! to every container and the pod's volumes) and [`SecurityContext`] (one
//! container; its fields win over the pod's).
use serde::{Deserialize, Serialize};

use crate::api::serde_util::nullable;
use crate::api::Str;

/// Pod-wide security settings (`spec.securityContext`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    /// SELinux context applied to all containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se_linux_options: Option<Box<SeLinuxOptions>>,
    /// Windows-specific settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_options: Option<Box<WindowsSecurityContextOptions>>,
    /// The UID containers run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    /// The GID containers run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    /// Refuse to start containers that would run as root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// Extra groups of every container's first process.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub supplemental_groups: Vec<i64>,
    /// `Merge` (default) or `Strict`: how supplemental groups are computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplemental_groups_policy: Option<Str>,
    /// The group that owns the pod's volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<i64>,
    /// Namespaced kernel parameters.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sysctls: Vec<Sysctl>,
    /// `OnRootMismatch` or `Always`: when volume ownership is changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_group_change_policy: Option<Str>,
    /// The seccomp profile of all containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<SeccompProfile>,
    /// The AppArmor profile of all containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_armor_profile: Option<AppArmorProfile>,
    /// `MountOption` or `Recursive`: how the SELinux label is applied to volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se_linux_change_policy: Option<Str>,
}

/// One container's security settings (`containers[].securityContext`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// Linux capabilities to add and drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// Run as privileged (root on the host, all devices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// SELinux context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se_linux_options: Option<Box<SeLinuxOptions>>,
    /// Windows-specific settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_options: Option<Box<WindowsSecurityContextOptions>>,
    /// The UID the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    /// The GID the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    /// Refuse to start if the image would run as root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// Mount the root filesystem read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    /// Whether a process may gain more privileges than its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    /// `Default` or `Unmasked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc_mount: Option<Str>,
    /// The seccomp profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<SeccompProfile>,
    /// The AppArmor profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_armor_profile: Option<AppArmorProfile>,
}

/// Linux capabilities (`NET_ADMIN`, `SYS_TIME`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Capabilities added.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub add: Vec<Str>,
    /// Capabilities dropped.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub drop: Vec<Str>,
}

/// An SELinux label.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeLinuxOptions {
    /// The user.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub user: Str,
    /// The role.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub role: Str,
    /// The type.
    #[serde(default, skip_serializing_if = "str::is_empty", rename = "type")]
    pub type_: Str,
    /// The level.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub level: Str,
}

/// Windows container settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowsSecurityContextOptions {
    /// Where the GMSA admission webhook inlines the credential spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmsa_credential_spec_name: Option<Str>,
    /// The GMSA credential spec itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmsa_credential_spec: Option<Str>,
    /// The user name the entrypoint runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user_name: Option<Str>,
    /// Run as a host process container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_process: Option<bool>,
}

/// A seccomp profile: `RuntimeDefault`, `Unconfined` or `Localhost`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    /// The profile type.
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// For `Localhost`: the profile's path relative to the kubelet's seccomp dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localhost_profile: Option<Str>,
}

/// An AppArmor profile: `RuntimeDefault`, `Unconfined` or `Localhost`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorProfile {
    /// The profile type.
    #[serde(default, rename = "type")]
    pub type_: Str,
    /// For `Localhost`: the profile loaded on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localhost_profile: Option<Str>,
}

/// A namespaced kernel parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sysctl {
    /// The parameter, as `net.core.somaxconn`.
    #[serde(default)]
    pub name: Str,
    /// Its value.
    #[serde(default)]
    pub value: Str,
}
