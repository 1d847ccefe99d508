//! Pod volumes: [`Volume`] is a name plus exactly one source (`emptyDir`,
//! `hostPath`, `configMap`, `secret`, `persistentVolumeClaim`,
//! `downwardAPI`, `nfs`, `gitRepo`, `projected`, `csi`, `ephemeral`,
//! `image`, or one of the deprecated in-tree cloud disks).
//!
//! Every source is an `Option<Box<..>>`, so a `Volume` stays a name plus a
//! row of null pointers. The deprecated in-tree sources (`awsElasticBlockStore`,
//! `gcePersistentDisk`, `rbd`, ...) are kept as raw JSON: they round-trip and
//! count as a source, but keelson does not interpret them.
use serde::{Deserialize, Serialize};

use super::{LocalObjectReference, ObjectFieldSelector, ResourceFieldSelector};
use crate::api::serde_util::{is_false, nullable};
use crate::api::{LabelSelector, ObjectMeta, Quantity, Str, StringMap};

/// The default file mode of ConfigMap, Secret, downward API and projected
/// volumes: `0644`.
pub const DEFAULT_VOLUME_MODE: i32 = 0o644;

/// Defines [`Volume`] with its typed sources and the raw in-tree ones, and
/// the helpers that enumerate them.
macro_rules! volume_struct {
    (
        typed { $( $(#[$tdoc:meta])* $tfield:ident : $tty:ty = $tjson:literal, )* }
        raw { $( $(#[$rdoc:meta])* $rfield:ident = $rjson:literal, )* }
    ) => {
        /// A named volume of a pod: its name and exactly one source.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct Volume {
            /// The name, a DNS-1123 label referenced by volume mounts.
            #[serde(default)]
            pub name: Str,
            $(
                $(#[$tdoc])*
                #[serde(default, rename = $tjson, skip_serializing_if = "Option::is_none")]
                pub $tfield: Option<Box<$tty>>,
            )*
            $(
                $(#[$rdoc])*
                #[serde(default, rename = $rjson, skip_serializing_if = "Option::is_none")]
                pub $rfield: Option<Box<serde_json::Value>>,
            )*
        }

        impl Volume {
            /// How many sources are set (a valid volume has exactly one).
            pub fn source_count(&self) -> usize {
                0 $( + usize::from(self.$tfield.is_some()) )* $( + usize::from(self.$rfield.is_some()) )*
            }

            /// The JSON names of the sources that are set (a valid volume has
            /// exactly one).
            pub fn sources(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $( if self.$tfield.is_some() { out.push($tjson); } )*
                $( if self.$rfield.is_some() { out.push($rjson); } )*
                out
            }
        }
    };
}

volume_struct! {
    typed {
        /// A directory on the node.
        host_path: HostPathVolumeSource = "hostPath",
        /// An empty directory that lives as long as the pod.
        empty_dir: EmptyDirVolumeSource = "emptyDir",
        /// A git repository cloned at start (deprecated).
        git_repo: GitRepoVolumeSource = "gitRepo",
        /// A Secret's keys as files.
        secret: SecretVolumeSource = "secret",
        /// An NFS export.
        nfs: NfsVolumeSource = "nfs",
        /// A PersistentVolumeClaim in the pod's namespace.
        persistent_volume_claim: PersistentVolumeClaimVolumeSource = "persistentVolumeClaim",
        /// Pod fields and resources as files.
        downward_api: DownwardApiVolumeSource = "downwardAPI",
        /// A ConfigMap's keys as files.
        config_map: ConfigMapVolumeSource = "configMap",
        /// Several sources projected into one directory.
        projected: ProjectedVolumeSource = "projected",
        /// An ephemeral volume from a CSI driver.
        csi: CsiVolumeSource = "csi",
        /// A per-pod PersistentVolumeClaim created from a template.
        ephemeral: EphemeralVolumeSource = "ephemeral",
        /// An OCI image or artifact mounted read-only.
        image: ImageVolumeSource = "image",
    }
    raw {
        /// AWS EBS (deprecated in-tree driver; raw JSON).
        aws_elastic_block_store = "awsElasticBlockStore",
        /// GCE persistent disk (deprecated in-tree driver; raw JSON).
        gce_persistent_disk = "gcePersistentDisk",
        /// iSCSI disk (raw JSON).
        iscsi = "iscsi",
        /// GlusterFS (removed in-tree driver; raw JSON).
        glusterfs = "glusterfs",
        /// Ceph RBD (deprecated in-tree driver; raw JSON).
        rbd = "rbd",
        /// FlexVolume driver (deprecated; raw JSON).
        flex_volume = "flexVolume",
        /// OpenStack Cinder (deprecated in-tree driver; raw JSON).
        cinder = "cinder",
        /// CephFS (deprecated in-tree driver; raw JSON).
        cephfs = "cephfs",
        /// Flocker (removed; raw JSON).
        flocker = "flocker",
        /// Fibre Channel disk (raw JSON).
        fc = "fc",
        /// Azure File (deprecated in-tree driver; raw JSON).
        azure_file = "azureFile",
        /// vSphere volume (deprecated in-tree driver; raw JSON).
        vsphere_volume = "vsphereVolume",
        /// Quobyte (removed; raw JSON).
        quobyte = "quobyte",
        /// Azure Disk (deprecated in-tree driver; raw JSON).
        azure_disk = "azureDisk",
        /// Photon persistent disk (removed; raw JSON).
        photon_persistent_disk = "photonPersistentDisk",
        /// Portworx (deprecated in-tree driver; raw JSON).
        portworx_volume = "portworxVolume",
        /// ScaleIO (removed; raw JSON).
        scale_io = "scaleIO",
        /// StorageOS (removed; raw JSON).
        storageos = "storageos",
    }
}

impl Volume {
    /// An `emptyDir` volume.
    pub fn empty_dir(name: impl Into<Str>) -> Self {
        Volume {
            name: name.into(),
            empty_dir: Some(Box::default()),
            ..Volume::default()
        }
    }
}

/// A file or directory on the node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPathVolumeSource {
    /// The path on the node.
    #[serde(default)]
    pub path: Str,
    /// What must be there: `""`, `DirectoryOrCreate`, `Directory`,
    /// `FileOrCreate`, `File`, `Socket`, `CharDevice`, `BlockDevice`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<Str>,
}

/// An empty directory created with the pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDirVolumeSource {
    /// `""` (node disk) or `Memory` (tmpfs).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub medium: Str,
    /// The most it may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<Quantity>,
}

/// A git repository cloned into the volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepoVolumeSource {
    /// The repository URL.
    #[serde(default)]
    pub repository: Str,
    /// The commit hash.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub revision: Str,
    /// The target directory (`.` for the volume root).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub directory: Str,
}

/// A file of a ConfigMap/Secret/projected volume: `key` written to `path`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyToPath {
    /// The key.
    #[serde(default)]
    pub key: Str,
    /// The relative file path.
    #[serde(default)]
    pub path: Str,
    /// The file mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
}

/// A Secret as files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVolumeSource {
    /// The Secret's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub secret_name: Str,
    /// Which keys, where (all keys when empty).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub items: Vec<KeyToPath>,
    /// The files' mode (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
    /// Whether the Secret may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A ConfigMap as files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapVolumeSource {
    /// The ConfigMap's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// Which keys, where (all keys when empty).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub items: Vec<KeyToPath>,
    /// The files' mode (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
    /// Whether the ConfigMap may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// An NFS export.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NfsVolumeSource {
    /// The server's host name or IP.
    #[serde(default)]
    pub server: Str,
    /// The exported path.
    #[serde(default)]
    pub path: Str,
    /// Mount read-only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub read_only: bool,
}

/// A PersistentVolumeClaim used as a volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimVolumeSource {
    /// The claim's name.
    #[serde(default)]
    pub claim_name: Str,
    /// Mount read-only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub read_only: bool,
}

/// Pod fields as files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownwardApiVolumeSource {
    /// The files.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub items: Vec<DownwardApiVolumeFile>,
    /// The files' mode (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
}

/// One downward API file: exactly one of `fieldRef` and `resourceFieldRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownwardApiVolumeFile {
    /// The relative file path.
    #[serde(default)]
    pub path: Str,
    /// A pod field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<ObjectFieldSelector>,
    /// A container resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<ResourceFieldSelector>,
    /// The file mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
}

/// Several sources in one directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectedVolumeSource {
    /// The sources.
    #[serde(default, deserialize_with = "nullable")]
    pub sources: Vec<VolumeProjection>,
    /// The files' mode (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
}

/// One source of a projected volume: exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeProjection {
    /// A Secret's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretProjection>,
    /// Pod fields.
    #[serde(
        default,
        rename = "downwardAPI",
        skip_serializing_if = "Option::is_none"
    )]
    pub downward_api: Option<DownwardApiProjection>,
    /// A ConfigMap's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapProjection>,
    /// A service account token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_token: Option<ServiceAccountTokenProjection>,
    /// Certificates of ClusterTrustBundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_trust_bundle: Option<Box<ClusterTrustBundleProjection>>,
}

/// A Secret's keys in a projected volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretProjection {
    /// The Secret's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// Which keys, where.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub items: Vec<KeyToPath>,
    /// Whether it may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A ConfigMap's keys in a projected volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapProjection {
    /// The ConfigMap's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// Which keys, where.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub items: Vec<KeyToPath>,
    /// Whether it may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// Pod fields in a projected volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownwardApiProjection {
    /// The files.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub items: Vec<DownwardApiVolumeFile>,
}

/// A bound service account token in a projected volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountTokenProjection {
    /// The token's audience (default: the API server).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub audience: Str,
    /// Requested lifetime (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_seconds: Option<i64>,
    /// The file path.
    #[serde(default)]
    pub path: Str,
}

/// ClusterTrustBundle certificates in a projected volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterTrustBundleProjection {
    /// A bundle by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    /// Bundles by signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_name: Option<Str>,
    /// Bundles by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Whether no match is acceptable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// The file path.
    #[serde(default)]
    pub path: Str,
}

/// An ephemeral CSI volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsiVolumeSource {
    /// The driver's name.
    #[serde(default)]
    pub driver: Str,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// The filesystem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_type: Option<Str>,
    /// Driver-specific attributes.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub volume_attributes: StringMap,
    /// A Secret passed to the driver's NodePublishVolume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_publish_secret_ref: Option<LocalObjectReference>,
}

/// A per-pod PersistentVolumeClaim, created from a template and deleted
/// with the pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralVolumeSource {
    /// The claim's template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_template: Option<PersistentVolumeClaimTemplate>,
}

/// The template of an ephemeral volume's claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimTemplate {
    /// Labels and annotations copied to the claim.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "crate::api::serde_util::is_default"
    )]
    pub metadata: ObjectMeta,
    /// The claim's spec (a `PersistentVolumeClaimSpec`, kept as JSON here so
    /// the pod types do not depend on the storage kinds).
    #[serde(default)]
    pub spec: serde_json::Value,
}

/// An OCI image mounted as a volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageVolumeSource {
    /// The image reference.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reference: Str,
    /// `Always`, `Never` or `IfNotPresent`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub pull_policy: Str,
}
