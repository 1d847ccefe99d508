//! Temporary copies of the `hostPath` and `nfs` volume sources, which the
//! `api-pod` branch defines in `core/volume.rs` with the same names and
//! fields. PersistentVolume needs them before that branch lands in main;
//! delete this file (and its `mod` line) when it does.
use serde::{Deserialize, Serialize};

use crate::api::serde_util::{is_false, nullable};
use crate::api::Str;

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
