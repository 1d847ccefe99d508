//! Persistent storage: a [`PersistentVolume`] is a piece of storage in the
//! cluster (an NFS export, a host directory, a local disk, a CSI volume); a
//! [`PersistentVolumeClaim`] is a namespaced request for storage that binds
//! to one volume.
//!
//! Defaulting follows Kubernetes: reclaim policy `Retain`, volume mode
//! `Filesystem`, phase `Pending`, `hostPath.type: ""`. The in-tree sources
//! Kubernetes deprecated in favour of CSI (`gcePersistentDisk`, `rbd`, ...)
//! are kept as raw JSON: they round-trip and count as a source.
//!
//! ```
//! use keelson::api::core::PersistentVolumeClaim;
//! use keelson::api::Resource;
//!
//! let mut pvc: PersistentVolumeClaim = serde_json::from_str(
//!     r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},
//!         "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}"#,
//! ).unwrap();
//! pvc.apply_defaults();
//! assert_eq!(pvc.spec.volume_mode.as_deref(), Some("Filesystem"));
//! assert_eq!(pvc.status.phase, "Pending");
//! assert!(pvc.validate().is_empty());
//! ```
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{
    HostPathVolumeSource, NfsVolumeSource, NodeSelector, ObjectReference, TypedLocalObjectReference,
};
use crate::api::quantity::{validate_nonnegative_quantity, validate_positive_quantity};
use crate::api::resource::object;
use crate::api::selector::validate_label_selector;
use crate::api::serde_util::{is_default, is_false, nullable};
use crate::api::validation::{
    self, is_dns1123_subdomain, is_qualified_name, is_valid_label_value, ErrorList, FieldError,
    Path,
};
use crate::api::{LabelSelector, ResourceList, Str, StringMap, Time};

/// Mounted read-write by a single node.
pub const READ_WRITE_ONCE: &str = "ReadWriteOnce";
/// Mounted read-only by many nodes.
pub const READ_ONLY_MANY: &str = "ReadOnlyMany";
/// Mounted read-write by many nodes.
pub const READ_WRITE_MANY: &str = "ReadWriteMany";
/// Mounted read-write by a single pod.
pub const READ_WRITE_ONCE_POD: &str = "ReadWriteOncePod";
/// The access modes.
pub const ACCESS_MODES: &[&str] = &[
    READ_WRITE_ONCE,
    READ_ONLY_MANY,
    READ_WRITE_MANY,
    READ_WRITE_ONCE_POD,
];

/// Keep the volume after its claim is deleted (the default).
pub const RECLAIM_RETAIN: &str = "Retain";
/// Delete the volume with its claim.
pub const RECLAIM_DELETE: &str = "Delete";
/// Scrub the volume and make it available again (deprecated).
pub const RECLAIM_RECYCLE: &str = "Recycle";
/// The reclaim policies.
pub const RECLAIM_POLICIES: &[&str] = &[RECLAIM_RECYCLE, RECLAIM_DELETE, RECLAIM_RETAIN];

/// A volume with a filesystem (the default).
pub const VOLUME_MODE_FILESYSTEM: &str = "Filesystem";
/// A raw block device.
pub const VOLUME_MODE_BLOCK: &str = "Block";
/// The volume modes.
pub const VOLUME_MODES: &[&str] = &[VOLUME_MODE_BLOCK, VOLUME_MODE_FILESYSTEM];

/// Volume phase: not yet available.
pub const PHASE_PENDING: &str = "Pending";
/// Volume phase: free to bind.
pub const PHASE_AVAILABLE: &str = "Available";
/// Volume or claim phase: bound.
pub const PHASE_BOUND: &str = "Bound";
/// Volume phase: its claim is gone, not yet reclaimed.
pub const PHASE_RELEASED: &str = "Released";
/// Volume phase: reclamation failed.
pub const PHASE_FAILED: &str = "Failed";
/// Claim phase: the bound volume is gone.
pub const PHASE_LOST: &str = "Lost";

/// The `hostPath.type` values.
pub const HOST_PATH_TYPES: &[&str] = &[
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
];

/// The resource a claim requests and a volume offers.
pub const RESOURCE_STORAGE: &str = "storage";

object! {
    /// A piece of storage in the cluster.
    pub struct PersistentVolume {
        /// What the volume is and how it may be used.
        spec: PersistentVolumeSpec = "spec",
        /// The volume's phase.
        status: PersistentVolumeStatus = "status",
    }
    resource {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        scope: Cluster,
        short_names: ["pv"],
        subresources: ["status"],
    }

    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.persistent_volume_reclaim_policy.is_empty() {
            spec.persistent_volume_reclaim_policy = Str::from_static(RECLAIM_RETAIN);
        }
        spec.volume_mode.get_or_insert_with(|| Str::from_static(VOLUME_MODE_FILESYSTEM));
        if let Some(host_path) = &mut spec.host_path {
            host_path.type_.get_or_insert(Str::EMPTY);
        }
        if self.status.phase.is_empty() {
            self.status.phase = Str::from_static(PHASE_PENDING);
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        self.spec.validate(&Path::root("spec"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        let spec = Path::root("spec");
        if self.spec.sources_json() != old.spec.sources_json() {
            errors.push(FieldError::forbidden(
                &spec.child("persistentvolumesource"),
                "spec.persistentvolumesource is immutable after creation",
            ));
        }
        if self.spec.volume_mode != old.spec.volume_mode && old.spec.volume_mode.is_some() {
            errors.push(FieldError::invalid(
                &spec.child("volumeMode"),
                self.spec.volume_mode.as_deref().unwrap_or(""),
                "field is immutable",
            ));
        }
        errors
    }
}

/// What a [`PersistentVolume`] is and how it may be used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeSpec {
    /// The volume's size (`storage`).
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub capacity: ResourceList,
    /// A directory on one node (testing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<Box<HostPathVolumeSource>>,
    /// An NFS export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs: Option<Box<NfsVolumeSource>>,
    /// A local disk, partition or directory (needs `nodeAffinity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Box<LocalVolumeSource>>,
    /// A volume managed by a CSI driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csi: Option<Box<CsiPersistentVolumeSource>>,
    /// GCE persistent disk (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gce_persistent_disk: Option<Box<serde_json::Value>>,
    /// AWS EBS (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_elastic_block_store: Option<Box<serde_json::Value>>,
    /// GlusterFS (removed in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glusterfs: Option<Box<serde_json::Value>>,
    /// Ceph RBD (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbd: Option<Box<serde_json::Value>>,
    /// iSCSI disk (raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iscsi: Option<Box<serde_json::Value>>,
    /// OpenStack Cinder (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cinder: Option<Box<serde_json::Value>>,
    /// CephFS (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cephfs: Option<Box<serde_json::Value>>,
    /// Fibre Channel disk (raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fc: Option<Box<serde_json::Value>>,
    /// Flocker (removed; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flocker: Option<Box<serde_json::Value>>,
    /// FlexVolume driver (deprecated; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flex_volume: Option<Box<serde_json::Value>>,
    /// Azure File (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_file: Option<Box<serde_json::Value>>,
    /// vSphere volume (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsphere_volume: Option<Box<serde_json::Value>>,
    /// Quobyte (removed; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quobyte: Option<Box<serde_json::Value>>,
    /// Azure Disk (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_disk: Option<Box<serde_json::Value>>,
    /// Photon persistent disk (removed; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photon_persistent_disk: Option<Box<serde_json::Value>>,
    /// Portworx (deprecated in-tree driver; raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portworx_volume: Option<Box<serde_json::Value>>,
    /// ScaleIO (removed; raw JSON).
    #[serde(rename = "scaleIO", default, skip_serializing_if = "Option::is_none")]
    pub scale_io: Option<Box<serde_json::Value>>,
    /// StorageOS (removed; raw JSON).
    #[serde(rename = "storageos", default, skip_serializing_if = "Option::is_none")]
    pub storage_os: Option<Box<serde_json::Value>>,
    /// How the volume may be mounted.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub access_modes: Vec<Str>,
    /// The claim bound to (or reserved for) this volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_ref: Option<ObjectReference>,
    /// `Retain` (default), `Delete` or `Recycle`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub persistent_volume_reclaim_policy: Str,
    /// The StorageClass the volume belongs to; empty for none.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub storage_class_name: Str,
    /// Mount options (`hard`, `nfsvers=4.1`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mount_options: Vec<Str>,
    /// `Filesystem` (default) or `Block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<Str>,
    /// The nodes the volume can be reached from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<VolumeNodeAffinity>,
    /// The VolumeAttributesClass the volume belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<Str>,
}

/// A local disk, partition or directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalVolumeSource {
    /// The full path on the node.
    #[serde(default)]
    pub path: Str,
    /// The filesystem type, for block devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_type: Option<Str>,
}

/// A persistent volume managed by a CSI driver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsiPersistentVolumeSource {
    /// The driver's name (`ebs.csi.aws.com`).
    #[serde(default)]
    pub driver: Str,
    /// The driver's id of the volume.
    #[serde(default)]
    pub volume_handle: Str,
    /// Mount read-only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub read_only: bool,
    /// The filesystem type (`ext4`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub fs_type: Str,
    /// Driver-specific attributes.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub volume_attributes: StringMap,
    /// Credentials for ControllerPublishVolume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_publish_secret_ref: Option<SecretReference>,
    /// Credentials for NodeStageVolume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_stage_secret_ref: Option<SecretReference>,
    /// Credentials for NodePublishVolume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_publish_secret_ref: Option<SecretReference>,
    /// Credentials for ControllerExpandVolume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_expand_secret_ref: Option<SecretReference>,
    /// Credentials for NodeExpandVolume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_expand_secret_ref: Option<SecretReference>,
}

/// A Secret in any namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// The Secret's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The Secret's namespace.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub namespace: Str,
}

/// The nodes a volume can be reached from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeNodeAffinity {
    /// Nodes that must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<NodeSelector>,
}

/// The phase of a [`PersistentVolume`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeStatus {
    /// `Pending`, `Available`, `Bound`, `Released` or `Failed`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub phase: Str,
    /// Why the volume is in this phase, for humans.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
    /// Why the volume is in this phase, CamelCase.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// When the phase last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_phase_transition_time: Option<Time>,
}

impl PersistentVolumeSpec {
    /// The JSON names of the volume sources that are set (a valid volume has
    /// exactly one).
    pub fn sources(&self) -> Vec<&'static str> {
        // Kubernetes' order, which decides which of two sources is reported.
        let set = [
            ("hostPath", self.host_path.is_some()),
            ("gcePersistentDisk", self.gce_persistent_disk.is_some()),
            (
                "awsElasticBlockStore",
                self.aws_elastic_block_store.is_some(),
            ),
            ("glusterfs", self.glusterfs.is_some()),
            ("flocker", self.flocker.is_some()),
            ("nfs", self.nfs.is_some()),
            ("rbd", self.rbd.is_some()),
            ("quobyte", self.quobyte.is_some()),
            ("cephfs", self.cephfs.is_some()),
            ("iscsi", self.iscsi.is_some()),
            ("cinder", self.cinder.is_some()),
            ("fc", self.fc.is_some()),
            ("flexVolume", self.flex_volume.is_some()),
            ("azureFile", self.azure_file.is_some()),
            ("vsphereVolume", self.vsphere_volume.is_some()),
            (
                "photonPersistentDisk",
                self.photon_persistent_disk.is_some(),
            ),
            ("portworxVolume", self.portworx_volume.is_some()),
            ("azureDisk", self.azure_disk.is_some()),
            ("scaleIO", self.scale_io.is_some()),
            ("local", self.local.is_some()),
            ("storageos", self.storage_os.is_some()),
            ("csi", self.csi.is_some()),
        ];
        set.into_iter()
            .filter(|(_, is_set)| *is_set)
            .map(|(name, _)| name)
            .collect()
    }

    fn raw_sources(&self) -> impl Iterator<Item = (&'static str, Option<&serde_json::Value>)> {
        [
            ("gcePersistentDisk", &self.gce_persistent_disk),
            ("awsElasticBlockStore", &self.aws_elastic_block_store),
            ("glusterfs", &self.glusterfs),
            ("rbd", &self.rbd),
            ("iscsi", &self.iscsi),
            ("cinder", &self.cinder),
            ("cephfs", &self.cephfs),
            ("fc", &self.fc),
            ("flocker", &self.flocker),
            ("flexVolume", &self.flex_volume),
            ("azureFile", &self.azure_file),
            ("vsphereVolume", &self.vsphere_volume),
            ("quobyte", &self.quobyte),
            ("azureDisk", &self.azure_disk),
            ("photonPersistentDisk", &self.photon_persistent_disk),
            ("portworxVolume", &self.portworx_volume),
            ("scaleIO", &self.scale_io),
            ("storageos", &self.storage_os),
        ]
        .into_iter()
        .map(|(name, v)| (name, v.as_deref()))
    }

    /// The volume source fields, for immutability checks.
    fn sources_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        let mut put = |name: &str, value: Result<serde_json::Value, serde_json::Error>| {
            if let Ok(v) = value {
                if !v.is_null() {
                    map.insert(name.to_string(), v);
                }
            }
        };
        put("hostPath", serde_json::to_value(&self.host_path));
        put("nfs", serde_json::to_value(&self.nfs));
        put("local", serde_json::to_value(&self.local));
        put("csi", serde_json::to_value(&self.csi));
        for (name, v) in self.raw_sources() {
            put(name, Ok(v.cloned().unwrap_or_default()));
        }
        serde_json::Value::Object(map)
    }

    fn validate(&self, path: &Path<'_>, errors: &mut ErrorList) {
        validate_access_modes(&self.access_modes, &path.child("accessModes"), "", errors);

        let capacity = path.child("capacity");
        if self.capacity.is_empty() {
            errors.push(FieldError::required(&capacity, ""));
        } else if !self.capacity.contains_key(RESOURCE_STORAGE) || self.capacity.len() > 1 {
            let keys: Vec<&str> = self.capacity.keys().collect();
            errors.push(FieldError::not_supported(
                &capacity,
                keys,
                &[RESOURCE_STORAGE],
            ));
        }
        for (name, q) in &self.capacity {
            let p = capacity.key(name);
            errors.extend(validate_positive_quantity(q, &p));
        }

        let policy = &self.persistent_volume_reclaim_policy;
        if !policy.is_empty() && !RECLAIM_POLICIES.contains(&&**policy) {
            errors.push(FieldError::not_supported(
                &path.child("persistentVolumeReclaimPolicy"),
                policy,
                RECLAIM_POLICIES,
            ));
        }
        if !self.storage_class_name.is_empty() {
            for msg in is_dns1123_subdomain(&self.storage_class_name) {
                errors.push(FieldError::invalid(
                    &path.child("storageClassName"),
                    &self.storage_class_name,
                    msg,
                ));
            }
        }
        validate_volume_mode(
            self.volume_mode.as_deref(),
            &path.child("volumeMode"),
            errors,
        );
        if let Some(claim) = &self.claim_ref {
            if claim.name.is_empty() {
                errors.push(FieldError::required(
                    &path.child("claimRef").child("name"),
                    "",
                ));
            }
        }

        let sources = self.sources();
        match sources.as_slice() {
            [] => errors.push(FieldError::required(path, "must specify a volume type")),
            [_] => {}
            [_, second, ..] => errors.push(FieldError::forbidden(
                &path.child(second),
                "may not specify more than 1 volume type",
            )),
        }
        if let Some(host_path) = &self.host_path {
            let p = path.child("hostPath");
            validate_absolute_path(&host_path.path, &p.child("path"), errors);
            if let Some(t) = &host_path.type_ {
                if !HOST_PATH_TYPES.contains(&&**t) {
                    errors.push(FieldError::not_supported(
                        &p.child("type"),
                        t,
                        HOST_PATH_TYPES,
                    ));
                }
            }
        }
        if let Some(nfs) = &self.nfs {
            let p = path.child("nfs");
            if nfs.server.is_empty() {
                errors.push(FieldError::required(&p.child("server"), ""));
            }
            validate_absolute_path(&nfs.path, &p.child("path"), errors);
        }
        if let Some(local) = &self.local {
            let p = path.child("local");
            validate_absolute_path(&local.path, &p.child("path"), errors);
            let has_affinity = self
                .node_affinity
                .as_ref()
                .is_some_and(|a| a.required.is_some());
            if !has_affinity {
                errors.push(FieldError::required(
                    &path.child("nodeAffinity"),
                    "Local volume requires node affinity",
                ));
            }
        }
        if let Some(csi) = &self.csi {
            let p = path.child("csi");
            let driver = p.child("driver");
            if csi.driver.is_empty() {
                errors.push(FieldError::required(&driver, ""));
            } else {
                if csi.driver.len() > 63 {
                    errors.push(FieldError::too_long(&driver, 63));
                }
                for msg in is_dns1123_subdomain(&csi.driver.to_ascii_lowercase()) {
                    errors.push(FieldError::invalid(&driver, &csi.driver, msg));
                }
            }
            if csi.volume_handle.is_empty() {
                errors.push(FieldError::required(&p.child("volumeHandle"), ""));
            }
            let refs = [
                (
                    "controllerPublishSecretRef",
                    &csi.controller_publish_secret_ref,
                ),
                ("nodeStageSecretRef", &csi.node_stage_secret_ref),
                ("nodePublishSecretRef", &csi.node_publish_secret_ref),
                (
                    "controllerExpandSecretRef",
                    &csi.controller_expand_secret_ref,
                ),
                ("nodeExpandSecretRef", &csi.node_expand_secret_ref),
            ];
            for (field, secret) in refs {
                if let Some(secret) = secret {
                    let sp = p.child(field);
                    if secret.name.is_empty() {
                        errors.push(FieldError::required(&sp.child("name"), ""));
                    }
                    if secret.namespace.is_empty() {
                        errors.push(FieldError::required(&sp.child("namespace"), ""));
                    }
                }
            }
        }
        if let Some(host_path) = &self.host_path {
            let root =
                host_path.path.trim_end_matches('/').is_empty() && !host_path.path.is_empty();
            if root && self.persistent_volume_reclaim_policy == RECLAIM_RECYCLE {
                errors.push(FieldError::forbidden(
                    &path.child("persistentVolumeReclaimPolicy"),
                    "may not be 'recycle' for a hostPath mount of '/'",
                ));
            }
        }
        if let Some(class) = &self.volume_attributes_class_name {
            let p = path.child("volumeAttributesClassName");
            if class.is_empty() {
                errors.push(FieldError::required(&p, "an empty string is disallowed"));
            }
            for msg in is_dns1123_subdomain(class)
                .into_iter()
                .filter(|_| !class.is_empty())
            {
                errors.push(FieldError::invalid(&p, class, msg));
            }
            if self.csi.is_none() {
                errors.push(FieldError::required(
                    &path.child("csi"),
                    "has to be specified when using volumeAttributesClassName",
                ));
            }
        }
        if let Some(affinity) = &self.node_affinity {
            let p = path.child("nodeAffinity");
            match &affinity.required {
                Some(selector) => validate_node_selector(selector, &p.child("required"), errors),
                None => errors.push(FieldError::required(
                    &p.child("required"),
                    "must specify required node constraints",
                )),
            }
        }
    }
}

object! {
    /// A namespaced request for storage, bound to one [`PersistentVolume`].
    pub struct PersistentVolumeClaim {
        /// What is requested.
        spec: PersistentVolumeClaimSpec = "spec",
        /// The binding's state.
        status: PersistentVolumeClaimStatus = "status",
    }
    resource {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        scope: Namespaced,
        short_names: ["pvc"],
        subresources: ["status"],
    }

    fn apply_defaults(&mut self) {
        self.spec.volume_mode.get_or_insert_with(|| Str::from_static(VOLUME_MODE_FILESYSTEM));
        if self.status.phase.is_empty() {
            self.status.phase = Str::from_static(PHASE_PENDING);
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        self.spec.validate(&Path::root("spec"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        // Only the storage request, the attributes class and (while unbound)
        // the volume name may change.
        let mut comparable = self.spec.clone();
        if self.status.phase == PHASE_BOUND {
            match old.spec.resources.requests.get(RESOURCE_STORAGE) {
                Some(q) => {
                    comparable.resources.requests.insert(RESOURCE_STORAGE, q.clone());
                }
                None => {
                    comparable.resources.requests.remove(RESOURCE_STORAGE);
                }
            }
        }
        comparable.volume_attributes_class_name = old.spec.volume_attributes_class_name.clone();
        if old.spec.volume_name.is_empty() {
            comparable.volume_name = old.spec.volume_name.clone();
        }
        let spec = Path::root("spec");
        if comparable != old.spec {
            errors.push(FieldError::forbidden(
                &spec,
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        let new_size = self.spec.resources.requests.get(RESOURCE_STORAGE);
        let old_size = old.spec.resources.requests.get(RESOURCE_STORAGE);
        if let (Some(new_size), Some(old_size)) = (new_size, old_size) {
            if new_size.compare(old_size) == Some(std::cmp::Ordering::Less) {
                let resources = spec.child("resources");
                let requests = resources.child("requests");
                errors.push(FieldError::forbidden(
                    &requests.child(RESOURCE_STORAGE),
                    "field can not be less than previous value",
                ));
            }
        }
        errors
    }
}

/// What a [`PersistentVolumeClaim`] requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimSpec {
    /// How the volume must be mountable.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub access_modes: Vec<Str>,
    /// Labels the volume must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The storage requested (`requests.storage`) and its limit.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub resources: VolumeResourceRequirements,
    /// The volume to bind to.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub volume_name: Str,
    /// The StorageClass; `""` asks for a volume without one, absent for the
    /// default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<Str>,
    /// `Filesystem` (default) or `Block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<Str>,
    /// A snapshot or claim to pre-populate the volume from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<TypedLocalObjectReference>,
    /// Any populator object to pre-populate the volume from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source_ref: Option<TypedObjectReference>,
    /// The VolumeAttributesClass to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<Str>,
}

/// Storage requests and limits of a claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeResourceRequirements {
    /// The most storage the claim may use.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub limits: ResourceList,
    /// The storage the claim needs.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub requests: ResourceList,
}

/// A reference by group, kind, name and optional namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedObjectReference {
    /// The API group; absent for the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<Str>,
    /// The kind.
    #[serde(default)]
    pub kind: Str,
    /// The name.
    #[serde(default)]
    pub name: Str,
    /// The namespace, for cross-namespace sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Str>,
}

/// The binding's state of a [`PersistentVolumeClaim`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimStatus {
    /// `Pending`, `Bound` or `Lost`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub phase: Str,
    /// The access modes of the bound volume.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub access_modes: Vec<Str>,
    /// The size of the bound volume.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub capacity: ResourceList,
    /// Conditions (resizing).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<PersistentVolumeClaimCondition>,
    /// Storage allocated to the claim (resizing).
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub allocated_resources: ResourceList,
    /// The state of each resize operation.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub allocated_resource_statuses: StringMap,
    /// The VolumeAttributesClass currently applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_volume_attributes_class_name: Option<Str>,
    /// The state of a VolumeAttributesClass change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_volume_status: Option<ModifyVolumeStatus>,
}

/// One condition of a [`PersistentVolumeClaim`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimCondition {
    /// The condition's type (`Resizing`, `FileSystemResizePending`).
    #[serde(rename = "type", default)]
    pub type_: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the condition was last probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A CamelCase reason.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

/// The state of a VolumeAttributesClass change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifyVolumeStatus {
    /// The class being applied.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub target_volume_attributes_class_name: Str,
    /// `Pending`, `InProgress` or `Infeasible`.
    #[serde(default)]
    pub status: Str,
}

impl PersistentVolumeClaimSpec {
    fn validate(&self, path: &Path<'_>, errors: &mut ErrorList) {
        validate_access_modes(
            &self.access_modes,
            &path.child("accessModes"),
            "at least 1 access mode is required",
            errors,
        );
        if let Some(selector) = &self.selector {
            errors.extend(validate_label_selector(selector, &path.child("selector")));
        }
        let resources = path.child("resources");
        match self.resources.requests.get(RESOURCE_STORAGE) {
            None => errors.push(FieldError::required(&resources.key(RESOURCE_STORAGE), "")),
            Some(q) => {
                let p = resources.key(RESOURCE_STORAGE);
                errors.extend(validate_positive_quantity(q, &p));
            }
        }
        for (field, list) in [
            ("requests", &self.resources.requests),
            ("limits", &self.resources.limits),
        ] {
            let p = resources.child(field);
            for (name, q) in list {
                // The storage request was checked (as positive) above.
                if field == "limits" || name != RESOURCE_STORAGE {
                    errors.extend(validate_nonnegative_quantity(q, &p.key(name)));
                }
            }
        }
        if let Some(class) = self.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
            for msg in is_dns1123_subdomain(class) {
                errors.push(FieldError::invalid(
                    &path.child("storageClassName"),
                    class,
                    msg,
                ));
            }
        }
        validate_volume_mode(
            self.volume_mode.as_deref(),
            &path.child("volumeMode"),
            errors,
        );
        if let Some(source) = &self.data_source {
            let p = path.child("dataSource");
            validate_data_source(
                source.api_group.as_deref(),
                &source.kind,
                &source.name,
                &p,
                errors,
            );
        }
        if let Some(source) = &self.data_source_ref {
            let p = path.child("dataSourceRef");
            validate_data_source(
                source.api_group.as_deref(),
                &source.kind,
                &source.name,
                &p,
                errors,
            );
            if let Some(ns) = source.namespace.as_deref().filter(|ns| !ns.is_empty()) {
                for msg in validation::is_dns1123_label(ns) {
                    errors.push(FieldError::invalid(&p.child("namespace"), ns, msg));
                }
            }
            let cross_namespace = source.namespace.as_deref().is_some_and(|ns| !ns.is_empty());
            if let Some(ds) = &self.data_source {
                let same = ds.api_group == source.api_group
                    && ds.kind == source.kind
                    && ds.name == source.name;
                let detail = if cross_namespace {
                    Some("may not be specified when dataSourceRef.namespace is specified")
                } else if !same {
                    Some("must match dataSourceRef")
                } else {
                    None
                };
                if let Some(detail) = detail {
                    errors.push(FieldError::invalid(path, "spec.dataSource", detail));
                }
            }
        }
        if let Some(class) = &self.volume_attributes_class_name {
            if !class.is_empty() {
                for msg in is_dns1123_subdomain(class) {
                    errors.push(FieldError::invalid(
                        &path.child("volumeAttributesClassName"),
                        class,
                        msg,
                    ));
                }
            }
        }
    }
}

fn validate_data_source(
    group: Option<&str>,
    kind: &str,
    name: &str,
    path: &Path<'_>,
    errors: &mut ErrorList,
) {
    if name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    }
    if kind.is_empty() {
        errors.push(FieldError::required(&path.child("kind"), ""));
    }
    match group.filter(|g| !g.is_empty()) {
        None if kind != "PersistentVolumeClaim" => errors.push(FieldError::invalid(
            path,
            kind,
            "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
        )),
        None => {}
        Some(group) => {
            for msg in is_dns1123_subdomain(group) {
                errors.push(FieldError::invalid(&path.child("apiGroup"), group, msg));
            }
        }
    }
}

fn validate_access_modes(
    modes: &[Str],
    path: &Path<'_>,
    required_detail: &str,
    errors: &mut ErrorList,
) {
    if modes.is_empty() {
        errors.push(FieldError::required(path, required_detail));
        return;
    }
    let mut seen = HashSet::new();
    for mode in modes {
        if !ACCESS_MODES.contains(&&**mode) {
            errors.push(FieldError::not_supported(path, mode, ACCESS_MODES));
        }
        seen.insert(&**mode);
    }
    if seen.contains(READ_WRITE_ONCE_POD) && seen.len() > 1 {
        errors.push(FieldError::forbidden(
            path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn validate_volume_mode(mode: Option<&str>, path: &Path<'_>, errors: &mut ErrorList) {
    if let Some(mode) = mode {
        if !VOLUME_MODES.contains(&mode) {
            errors.push(FieldError::not_supported(path, mode, VOLUME_MODES));
        }
    }
}

fn validate_absolute_path(value: &str, path: &Path<'_>, errors: &mut ErrorList) {
    if value.is_empty() {
        errors.push(FieldError::required(path, ""));
        return;
    }
    if !value.starts_with('/') {
        errors.push(FieldError::invalid(path, value, "must be an absolute path"));
    }
    if value.split('/').any(|segment| segment == "..") {
        errors.push(FieldError::invalid(path, value, "must not contain '..'"));
    }
}

/// The operators of node selector requirements.
const NODE_SELECTOR_OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

fn validate_node_selector(selector: &NodeSelector, path: &Path<'_>, errors: &mut ErrorList) {
    let terms = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        errors.push(FieldError::required(
            &terms,
            "must have at least one node selector term",
        ));
    }
    for (i, term) in selector.node_selector_terms.iter().enumerate() {
        let t = terms.index(i);
        for (field, reqs) in [
            ("matchExpressions", &term.match_expressions),
            ("matchFields", &term.match_fields),
        ] {
            let list = t.child(field);
            for (j, req) in reqs.iter().enumerate() {
                let p = list.index(j);
                let op = &*req.operator;
                if !NODE_SELECTOR_OPERATORS.contains(&op) {
                    errors.push(FieldError::not_supported(
                        &p.child("operator"),
                        op,
                        NODE_SELECTOR_OPERATORS,
                    ));
                    continue;
                }
                let values = p.child("values");
                match op {
                    "In" | "NotIn" if req.values.is_empty() => errors.push(FieldError::required(
                        &values,
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )),
                    "Exists" | "DoesNotExist" if !req.values.is_empty() => {
                        errors.push(FieldError::forbidden(
                            &values,
                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                        ))
                    }
                    "Gt" | "Lt" if req.values.len() != 1 => errors.push(FieldError::required(
                        &values,
                        "must be specified single value when `operator` is 'Lt' or 'Gt'",
                    )),
                    _ => {}
                }
                if field == "matchExpressions" {
                    for msg in is_qualified_name(&req.key) {
                        errors.push(FieldError::invalid(&p.child("key"), &req.key, msg));
                    }
                    for (k, v) in req.values.iter().enumerate() {
                        for msg in is_valid_label_value(v) {
                            errors.push(FieldError::invalid(&values.index(k), v, msg));
                        }
                    }
                } else if req.key != "metadata.name" {
                    errors.push(FieldError::not_supported(
                        &p.child("key"),
                        &req.key,
                        &["metadata.name"],
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    fn round_trip<T: Resource>(json: &str) -> T {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let obj: T = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&obj).unwrap(), value);
        obj
    }

    // Seed 13-persistentvolume-mongodb-pv.yaml.
    const SEED_13: &str = r#"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"mongodb-pv"},
        "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce","ReadOnlyMany"],
                "persistentVolumeReclaimPolicy":"Retain","hostPath":{"path":"/tmp/mongodb"}}}"#;
    // Seed 14-persistentvolumeclaim-mongodb-pvc.yaml (`storageClassName: ""` is kept).
    const SEED_14: &str = r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"mongodb-pvc"},
        "spec":{"resources":{"requests":{"storage":"1Gi"}},"accessModes":["ReadWriteOnce"],"storageClassName":""}}"#;
    // Seed 49-deployment-nginx-nfs.yaml, its PVC and PV documents.
    const SEED_49_PVC: &str = r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"my-pvc"},
        "spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"5Gi"}}}}"#;
    const SEED_49_PV: &str = r#"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"my-pv"},
        "spec":{"capacity":{"storage":"5Gi"},"accessModes":["ReadWriteMany"],"nfs":{"path":"/k8s/nfs","server":"192.168.44.134"}}}"#;

    #[test]
    fn seeds() {
        for json in [SEED_13, SEED_49_PV] {
            let mut pv: PersistentVolume = round_trip(json);
            pv.apply_defaults();
            assert!(pv.validate().is_empty(), "{json}: {}", pv.validate());
        }
        for json in [SEED_14, SEED_49_PVC] {
            let mut pvc: PersistentVolumeClaim = round_trip(json);
            pvc.apply_defaults();
            assert!(pvc.validate().is_empty(), "{json}: {}", pvc.validate());
        }
        let pvc: PersistentVolumeClaim = round_trip(SEED_14);
        assert_eq!(pvc.spec.storage_class_name.as_deref(), Some(""));
        let pv: PersistentVolume = round_trip(SEED_49_PV);
        assert_eq!(pv.spec.sources(), ["nfs"]);
        assert_eq!(
            pv.spec.nfs.as_ref().map(|n| n.server.as_str()),
            Some("192.168.44.134")
        );
    }

    #[test]
    fn defaults() {
        let mut pv: PersistentVolume = round_trip(SEED_49_PV);
        pv.spec.nfs = None;
        pv.spec.host_path = Some(Box::new(HostPathVolumeSource {
            path: "/data".into(),
            type_: None,
        }));
        pv.apply_defaults();
        assert_eq!(pv.spec.persistent_volume_reclaim_policy, RECLAIM_RETAIN);
        assert_eq!(pv.spec.volume_mode.as_deref(), Some(VOLUME_MODE_FILESYSTEM));
        assert_eq!(pv.status.phase, PHASE_PENDING);
        assert_eq!(
            pv.spec.host_path.as_ref().and_then(|h| h.type_.as_deref()),
            Some("")
        );

        let mut pvc: PersistentVolumeClaim = round_trip(SEED_49_PVC);
        pvc.apply_defaults();
        assert_eq!(
            serde_json::to_string(&pvc).unwrap(),
            r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"my-pvc"},"spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"5Gi"}},"volumeMode":"Filesystem"},"status":{"phase":"Pending"}}"#
        );
    }

    #[test]
    fn field_rich_round_trips() {
        let pv: PersistentVolume = round_trip(
            r#"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv-csi","labels":{"tier":"ssd"},"finalizers":["kubernetes.io/pv-protection"]},
              "spec":{"capacity":{"storage":"100Gi"},
                      "csi":{"driver":"ebs.csi.aws.com","volumeHandle":"vol-0abc","readOnly":true,"fsType":"ext4","volumeAttributes":{"type":"gp3"},
                             "controllerPublishSecretRef":{"name":"creds","namespace":"kube-system"},"nodeStageSecretRef":{"name":"creds","namespace":"kube-system"},
                             "nodePublishSecretRef":{"name":"creds","namespace":"kube-system"},"controllerExpandSecretRef":{"name":"creds","namespace":"kube-system"},
                             "nodeExpandSecretRef":{"name":"creds","namespace":"kube-system"}},
                      "accessModes":["ReadWriteOnce"],"claimRef":{"kind":"PersistentVolumeClaim","namespace":"db","name":"data-0","uid":"c-1","apiVersion":"v1","resourceVersion":"5"},
                      "persistentVolumeReclaimPolicy":"Delete","storageClassName":"fast","mountOptions":["noatime"],"volumeMode":"Block",
                      "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"topology.kubernetes.io/zone","operator":"In","values":["eu-west-1a"]}]}]}},
                      "volumeAttributesClassName":"gold"},
              "status":{"phase":"Bound","message":"bound","reason":"Bound","lastPhaseTransitionTime":"2024-06-01T00:00:00Z"}}"#,
        );
        assert!(pv.validate().is_empty(), "{}", pv.validate());

        let local: PersistentVolume = round_trip(
            r#"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"local-1"},
              "spec":{"capacity":{"storage":"10Gi"},"local":{"path":"/mnt/disks/ssd1","fsType":"xfs"},"accessModes":["ReadWriteOncePod"],
                      "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node-1"]}]}]}}}}"#,
        );
        assert!(local.validate().is_empty(), "{}", local.validate());

        let legacy: PersistentVolume = round_trip(
            r#"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"legacy"},
              "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"iscsi":{"targetPortal":"10.0.0.1:3260","iqn":"iqn.2001-04.com.example:storage","lun":0}}}"#,
        );
        assert_eq!(legacy.spec.sources(), ["iscsi"]);
        assert!(legacy.validate().is_empty());

        let pvc: PersistentVolumeClaim = round_trip(
            r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-0","namespace":"db"},
              "spec":{"accessModes":["ReadWriteOnce"],"selector":{"matchLabels":{"tier":"ssd"}},
                      "resources":{"limits":{"storage":"20Gi"},"requests":{"storage":"10Gi"}},"volumeName":"pv-csi","storageClassName":"fast","volumeMode":"Block",
                      "dataSource":{"apiGroup":"snapshot.storage.k8s.io","kind":"VolumeSnapshot","name":"snap-1"},
                      "dataSourceRef":{"apiGroup":"snapshot.storage.k8s.io","kind":"VolumeSnapshot","name":"snap-1"},
                      "volumeAttributesClassName":"gold"},
              "status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"100Gi"},
                        "conditions":[{"type":"Resizing","status":"True","lastProbeTime":"2024-06-01T00:00:00Z","lastTransitionTime":"2024-06-01T00:00:00Z","reason":"Resize","message":"resizing"}],
                        "allocatedResources":{"storage":"100Gi"},"allocatedResourceStatuses":{"storage":"ControllerResizeInProgress"},
                        "currentVolumeAttributesClassName":"silver","modifyVolumeStatus":{"targetVolumeAttributesClassName":"gold","status":"InProgress"}}}"#,
        );
        assert!(pvc.validate().is_empty(), "{}", pvc.validate());
        assert_eq!(PersistentVolume::SHORT_NAMES, ["pv"]);
        assert_eq!(PersistentVolumeClaim::SHORT_NAMES, ["pvc"]);
    }

    #[test]
    fn pv_validation_table() {
        type Edit = fn(&mut PersistentVolume);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "no access modes",
                |p| p.spec.access_modes.clear(),
                "spec.accessModes: Required value",
            ),
            (
                "bad access mode",
                |p| p.spec.access_modes = vec!["ReadSometimes".into()],
                "spec.accessModes: Unsupported value: \"ReadSometimes\"",
            ),
            (
                "rwop mixed",
                |p| p.spec.access_modes.push(READ_WRITE_ONCE_POD.into()),
                "spec.accessModes: Forbidden",
            ),
            (
                "no capacity",
                |p| p.spec.capacity.clear(),
                "spec.capacity: Required value",
            ),
            (
                "cpu capacity",
                |p| {
                    p.spec.capacity.insert("cpu", "1");
                },
                "spec.capacity: Unsupported value",
            ),
            (
                "no source",
                |p| p.spec.host_path = None,
                "spec: Required value: must specify a volume type",
            ),
            (
                "two sources",
                |p| {
                    p.spec.nfs = Some(Box::new(NfsVolumeSource {
                        server: "s".into(),
                        path: "/x".into(),
                        read_only: false,
                    }))
                },
                "spec.nfs: Forbidden: may not specify more than 1 volume type",
            ),
            (
                "relative host path",
                |p| {
                    p.spec.host_path = Some(Box::new(HostPathVolumeSource {
                        path: "tmp".into(),
                        type_: None,
                    }))
                },
                "spec.hostPath.path: Invalid value: \"tmp\": must be an absolute path",
            ),
            (
                "bad host path type",
                |p| {
                    p.spec.host_path = Some(Box::new(HostPathVolumeSource {
                        path: "/tmp".into(),
                        type_: Some("Pipe".into()),
                    }))
                },
                "spec.hostPath.type: Unsupported value: \"Pipe\"",
            ),
            (
                "bad policy",
                |p| p.spec.persistent_volume_reclaim_policy = "Keep".into(),
                "spec.persistentVolumeReclaimPolicy: Unsupported value: \"Keep\"",
            ),
            (
                "bad class",
                |p| p.spec.storage_class_name = "Fast".into(),
                "spec.storageClassName: Invalid value: \"Fast\"",
            ),
            (
                "bad mode",
                |p| p.spec.volume_mode = Some("Raw".into()),
                "spec.volumeMode: Unsupported value: \"Raw\"",
            ),
            (
                "claim without name",
                |p| p.spec.claim_ref = Some(ObjectReference::default()),
                "spec.claimRef.name: Required value",
            ),
            (
                "local without affinity",
                |p| {
                    p.spec.host_path = None;
                    p.spec.local = Some(Box::new(LocalVolumeSource {
                        path: "/mnt".into(),
                        fs_type: None,
                    }));
                },
                "spec.nodeAffinity: Required value: Local volume requires node affinity",
            ),
            (
                "empty affinity",
                |p| {
                    p.spec.node_affinity = Some(VolumeNodeAffinity {
                        required: Some(NodeSelector::default()),
                    })
                },
                "spec.nodeAffinity.required.nodeSelectorTerms: Required value",
            ),
            (
                "csi without handle",
                |p| {
                    p.spec.host_path = None;
                    p.spec.csi = Some(Box::new(CsiPersistentVolumeSource {
                        driver: "csi.example.com".into(),
                        ..Default::default()
                    }));
                },
                "spec.csi.volumeHandle: Required value",
            ),
            (
                "cluster scoped",
                |p| p.metadata.namespace = "default".into(),
                "metadata.namespace: Forbidden",
            ),
            (
                "zero capacity",
                |p| {
                    p.spec.capacity.insert("storage", "0");
                },
                "spec.capacity[storage]: Invalid value: \"0\": must be greater than 0",
            ),
            (
                "bad capacity",
                |p| {
                    p.spec.capacity.insert("storage", "1 Gi");
                },
                "spec.capacity[storage]: Invalid value: \"1 Gi\"",
            ),
        ];
        for (what, edit, want) in cases {
            let mut pv: PersistentVolume = round_trip(SEED_13);
            edit(&mut pv);
            let errors = pv.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
    }

    #[test]
    fn pvc_validation_table() {
        type Edit = fn(&mut PersistentVolumeClaim);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "no access modes",
                |p| p.spec.access_modes.clear(),
                "spec.accessModes: Required value",
            ),
            (
                "no storage",
                |p| p.spec.resources.requests.clear(),
                "spec.resources[storage]: Required value",
            ),
            (
                "negative storage",
                |p| {
                    p.spec.resources.requests.insert("storage", "-1Gi");
                },
                "spec.resources[storage]: Invalid value: \"-1Gi\": must be greater than 0",
            ),
            (
                "malformed limit",
                |p| {
                    p.spec.resources.limits.insert("storage", "lots");
                },
                "spec.resources.limits[storage]: Invalid value: \"lots\"",
            ),
            (
                "bad selector",
                |p| {
                    p.spec.selector = Some(LabelSelector {
                        match_labels: Default::default(),
                        match_expressions: vec![crate::api::LabelSelectorRequirement {
                            key: "tier".into(),
                            operator: "Near".into(),
                            values: vec![],
                        }],
                    })
                },
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Near\"",
            ),
            (
                "bad class",
                |p| p.spec.storage_class_name = Some("a_b".into()),
                "spec.storageClassName: Invalid value: \"a_b\"",
            ),
            (
                "bad data source",
                |p| {
                    p.spec.data_source = Some(TypedLocalObjectReference {
                        api_group: None,
                        kind: "Pod".into(),
                        name: "x".into(),
                    })
                },
                "spec.dataSource: Invalid value: \"Pod\": must be 'PersistentVolumeClaim'",
            ),
            (
                "data source without name",
                |p| {
                    p.spec.data_source = Some(TypedLocalObjectReference {
                        api_group: None,
                        kind: "PersistentVolumeClaim".into(),
                        name: "".into(),
                    })
                },
                "spec.dataSource.name: Required value",
            ),
            (
                "mismatched sources",
                |p| {
                    p.spec.data_source = Some(TypedLocalObjectReference {
                        api_group: None,
                        kind: "PersistentVolumeClaim".into(),
                        name: "a".into(),
                    });
                    p.spec.data_source_ref = Some(TypedObjectReference {
                        api_group: None,
                        kind: "PersistentVolumeClaim".into(),
                        name: "b".into(),
                        namespace: None,
                    });
                },
                "spec: Invalid value: \"spec.dataSource\": must match dataSourceRef",
            ),
        ];
        for (what, edit, want) in cases {
            let mut pvc: PersistentVolumeClaim = round_trip(SEED_14);
            edit(&mut pvc);
            let errors = pvc.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
    }

    #[test]
    fn updates() {
        let mut old: PersistentVolumeClaim = round_trip(SEED_14);
        old.apply_defaults();
        let mut new = old.clone();
        // Binding sets the volume name once.
        new.spec.volume_name = "mongodb-pv".into();
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );
        // Only bound claims may be resized.
        new.spec.resources.requests.insert("storage", "2Gi");
        assert_eq!(
            new.validate_update(&old)
                .iter()
                .next()
                .map(|e| e.field.as_str()),
            Some("spec")
        );
        new.status.phase = PHASE_BOUND.into();
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );
        let mut shrunk = new.clone();
        shrunk.spec.resources.requests.insert("storage", "1500Mi");
        assert_eq!(
            shrunk.validate_update(&new).to_string(),
            "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
        );
        new.spec.access_modes = vec![READ_WRITE_MANY.into()];
        assert_eq!(
            new.validate_update(&old)
                .iter()
                .map(|e| e.field.as_str())
                .collect::<Vec<_>>(),
            ["spec"]
        );

        let old_pv: PersistentVolume = round_trip(SEED_13);
        let mut new_pv = old_pv.clone();
        new_pv.spec.host_path = Some(Box::new(HostPathVolumeSource {
            path: "/other".into(),
            type_: None,
        }));
        assert_eq!(
            new_pv.validate_update(&old_pv).to_string(),
            "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"
        );
    }

    #[test]
    fn pv_source_rules() {
        let mut pv: PersistentVolume = round_trip(SEED_13);
        pv.spec.host_path = Some(Box::new(HostPathVolumeSource {
            path: "/".into(),
            type_: None,
        }));
        pv.spec.persistent_volume_reclaim_policy = RECLAIM_RECYCLE.into();
        assert_eq!(
            pv.validate().to_string(),
            "spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'"
        );
        let mut pv: PersistentVolume = round_trip(SEED_13);
        pv.spec.volume_attributes_class_name = Some("gold".into());
        assert_eq!(
            pv.validate().to_string(),
            "spec.csi: Required value: has to be specified when using volumeAttributesClassName"
        );
        // With two sources the later one in Kubernetes' order is reported.
        let mut pv: PersistentVolume = round_trip(SEED_49_PV);
        pv.spec.iscsi = Some(Box::new(
            serde_json::json!({"targetPortal": "10.0.0.1:3260"}),
        ));
        assert_eq!(pv.spec.sources(), ["nfs", "iscsi"]);
        assert_eq!(
            pv.validate().to_string(),
            "spec.iscsi: Forbidden: may not specify more than 1 volume type"
        );
    }
}
