//! [`DynamicObject`]: any object, for kinds not compiled in (custom
//! resources) and for generic tools.
//!
//! ```
//! use keelson::api::DynamicObject;
//!
//! let obj: DynamicObject = serde_json::from_str(
//!     r#"{"apiVersion":"extensions.example.com/v1","kind":"Website",
//!         "metadata":{"name":"kubia"},"spec":{"gitRepo":"https://example.com/x.git"}}"#,
//! ).unwrap();
//! assert_eq!(obj.metadata.name, "kubia");
//! assert_eq!(obj.data["spec"]["gitRepo"], "https://example.com/x.git");
//! ```
use serde::{Deserialize, Serialize};

use super::resource::{ApiResource, Metadata};
use super::{ObjectMeta, Str, TypeMeta};

/// An object whose kind is known only at run time: type, metadata, and the
/// rest of its fields as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicObject {
    /// `group/version`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_version: Str,
    /// The kind.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub kind: Str,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Every other top-level field (`spec`, `status`, `data`, ...).
    #[serde(flatten)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl DynamicObject {
    /// An empty object of the given kind and name.
    pub fn new(resource: &ApiResource, name: impl Into<Str>) -> Self {
        DynamicObject {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
            metadata: ObjectMeta::named(name),
            data: serde_json::Map::new(),
        }
    }

    /// `apiVersion` and `kind`.
    pub fn type_meta(&self) -> TypeMeta {
        TypeMeta {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl Metadata for DynamicObject {
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
