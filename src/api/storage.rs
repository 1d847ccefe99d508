//! `storage.k8s.io/v1`: [`StorageClass`], a class of dynamically provisioned
//! volumes.
//!
//! A PersistentVolumeClaim names a class; the class's `provisioner` creates a
//! PersistentVolume for it with the class's `parameters`, `reclaimPolicy`
//! (default `Delete`) and `mountOptions`. `volumeBindingMode` (default
//! `Immediate`) decides whether the volume is provisioned at once or only when
//! a pod using the claim is scheduled (`WaitForFirstConsumer`).
//!
//! The class is cluster-scoped and, unlike most kinds, has no `spec`: its
//! fields sit at the top level. `provisioner`, `parameters`, `reclaimPolicy`
//! and `volumeBindingMode` cannot change after creation.
//!
//! ```
//! use keelson::api::storage::StorageClass;
//! use keelson::api::Resource;
//!
//! let mut class: StorageClass = serde_json::from_str(r#"{
//!     "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
//!     "metadata": {"name": "fast"},
//!     "provisioner": "k8s.io/minikube-hostpath",
//!     "parameters": {"type": "pd-ssd"}
//! }"#).unwrap();
//! class.apply_defaults();
//! assert_eq!(class.reclaim_policy.as_deref(), Some("Delete"));
//! assert_eq!(class.volume_binding_mode.as_deref(), Some("Immediate"));
//! assert!(class.validate().is_empty());
//! ```
use serde::{Deserialize, Serialize};

use super::resource::object;
use super::serde_util::nullable;
use super::validation::{is_qualified_name, ErrorList, FieldError, Path};
use super::{Str, StringMap};

/// For [`StorageClass::reclaim_policy`]: delete the volume with its claim.
pub const RECLAIM_DELETE: &str = "Delete";
/// For [`StorageClass::reclaim_policy`]: keep the volume for manual reclamation.
pub const RECLAIM_RETAIN: &str = "Retain";
/// For [`StorageClass::volume_binding_mode`]: provision and bind at once.
pub const BINDING_IMMEDIATE: &str = "Immediate";
/// For [`StorageClass::volume_binding_mode`]: wait until a pod uses the claim.
pub const BINDING_WAIT_FOR_FIRST_CONSUMER: &str = "WaitForFirstConsumer";

/// At most this many parameters.
const MAX_PARAMETERS: usize = 512;
/// At most this many bytes of parameter keys and values together.
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;

object! {
    /// A class of volumes and the provisioner that creates them.
    pub struct StorageClass {
        /// The volume plugin that provisions volumes (`kubernetes.io/gce-pd`,
        /// a CSI driver name).
        provisioner: Str = "provisioner" @always,
        /// Provisioner-specific parameters.
        parameters: StringMap = "parameters",
        /// `Delete` (the default) or `Retain`, copied to provisioned volumes.
        reclaim_policy: Option<Str> = "reclaimPolicy",
        /// Mount options of provisioned volumes (`ro`, `soft`).
        mount_options: Vec<Str> = "mountOptions",
        /// Whether claims of this class may grow.
        allow_volume_expansion: Option<bool> = "allowVolumeExpansion",
        /// `Immediate` (the default) or `WaitForFirstConsumer`.
        volume_binding_mode: Option<Str> = "volumeBindingMode",
        /// Where volumes may be provisioned; empty means anywhere.
        allowed_topologies: Vec<TopologySelectorTerm> = "allowedTopologies",
    }
    resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        plural: "storageclasses",
        scope: Cluster,
        short_names: ["sc"],
    }

    fn apply_defaults(&mut self) {
        if self.reclaim_policy.is_none() {
            self.reclaim_policy = Some(RECLAIM_DELETE.into());
        }
        if self.volume_binding_mode.is_none() {
            self.volume_binding_mode = Some(BINDING_IMMEDIATE.into());
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let provisioner = Path::root("provisioner");
        if self.provisioner.is_empty() {
            errors.push(FieldError::required(&provisioner, ""));
        } else {
            for message in is_qualified_name(&self.provisioner.to_ascii_lowercase()) {
                errors.push(FieldError::invalid(&provisioner, &self.provisioner, message));
            }
        }
        let parameters = Path::root("parameters");
        if self.parameters.len() > MAX_PARAMETERS {
            errors.push(FieldError::too_many(&parameters, self.parameters.len(), MAX_PARAMETERS));
        }
        let mut size = 0;
        for (key, value) in &self.parameters {
            if key.is_empty() {
                errors.push(FieldError::invalid(&parameters, key, "keys must be non-empty"));
            }
            size += key.len() + value.len();
        }
        if size > MAX_PARAMETERS_SIZE {
            errors.push(FieldError::too_long(&parameters, MAX_PARAMETERS_SIZE));
        }
        if let Some(policy) = &self.reclaim_policy {
            if policy != RECLAIM_DELETE && policy != RECLAIM_RETAIN {
                errors.push(FieldError::not_supported(
                    &Path::root("reclaimPolicy"),
                    policy,
                    &[RECLAIM_DELETE, RECLAIM_RETAIN],
                ));
            }
        }
        if let Some(mode) = &self.volume_binding_mode {
            if mode != BINDING_IMMEDIATE && mode != BINDING_WAIT_FOR_FIRST_CONSUMER {
                errors.push(FieldError::not_supported(
                    &Path::root("volumeBindingMode"),
                    mode,
                    &[BINDING_IMMEDIATE, BINDING_WAIT_FOR_FIRST_CONSUMER],
                ));
            }
        }
        let topologies = Path::root("allowedTopologies");
        for (i, term) in self.allowed_topologies.iter().enumerate() {
            errors.extend(validate_topology_selector_term(term, &topologies.index(i)));
        }
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(super::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        if self.parameters != old.parameters {
            errors.push(FieldError::forbidden(&Path::root("parameters"), "updates to parameters are forbidden."));
        }
        if self.provisioner != old.provisioner {
            errors.push(FieldError::forbidden(&Path::root("provisioner"), "updates to provisioner are forbidden."));
        }
        if self.reclaim_policy != old.reclaim_policy {
            errors.push(FieldError::forbidden(&Path::root("reclaimPolicy"), "updates to reclaimPolicy are forbidden."));
        }
        if self.volume_binding_mode != old.volume_binding_mode {
            errors.push(FieldError::forbidden(&Path::root("volumeBindingMode"), "updates to volumeBindingMode are forbidden."));
        }
        errors
    }
}

/// A topology: all of its label requirements must hold (the requirements are
/// ANDed; the terms of a list are ORed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySelectorTerm {
    /// The label requirements.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_label_expressions: Vec<TopologySelectorLabelRequirement>,
}

/// A topology label and the values it may have.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySelectorLabelRequirement {
    /// The label key (`topology.kubernetes.io/zone`).
    #[serde(default)]
    pub key: Str,
    /// The allowed values; at least one.
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<Str>,
}

fn validate_topology_selector_term(term: &TopologySelectorTerm, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let expressions = path.child("matchLabelExpressions");
    if term.match_label_expressions.is_empty() {
        errors.push(FieldError::required(
            &expressions,
            "must have at least one label expression",
        ));
    }
    for (i, requirement) in term.match_label_expressions.iter().enumerate() {
        let req_path = expressions.index(i);
        let key = req_path.child("key");
        for message in is_qualified_name(&requirement.key) {
            errors.push(FieldError::invalid(&key, &requirement.key, message));
        }
        let values = req_path.child("values");
        if requirement.values.is_empty() {
            errors.push(FieldError::required(
                &values,
                "must specify as least one value",
            ));
        }
        for (j, value) in requirement.values.iter().enumerate() {
            if requirement.values[..j].contains(value) {
                errors.push(FieldError::duplicate(&values.index(j), value));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ObjectMeta, Resource};
    use serde_json::{json, Value};

    /// `seeds/16-storageclass-fast.yaml`, as JSON.
    fn seed_16() -> Value {
        json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast"},
            "provisioner": "k8s.io/minikube-hostpath",
            "parameters": {"type": "pd-ssd"}
        })
    }

    #[test]
    fn round_trips() {
        let seed: StorageClass = serde_json::from_value(seed_16()).unwrap();
        assert_eq!(serde_json::to_value(&seed).unwrap(), seed_16());
        assert!(seed.validate().is_empty());

        let rich = json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "ebs.csi.aws.com",
            "parameters": {"csi.storage.k8s.io/fstype": "ext4", "type": "gp3"},
            "reclaimPolicy": "Retain",
            "mountOptions": ["debug", "noatime"],
            "allowVolumeExpansion": true,
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [
                {"key": "topology.kubernetes.io/zone", "values": ["us-east-2a", "us-east-2b"]}
            ]}]
        });
        let class: StorageClass = serde_json::from_value(rich.clone()).unwrap();
        assert_eq!(serde_json::to_value(&class).unwrap(), rich);
        assert!(class.validate().is_empty(), "{}", class.validate());

        // `provisioner` has no omitempty.
        assert_eq!(
            serde_json::to_value(StorageClass::default()).unwrap()["provisioner"],
            json!("")
        );
    }

    #[test]
    fn defaults() {
        let mut class: StorageClass = serde_json::from_value(seed_16()).unwrap();
        class.apply_defaults();
        let json = serde_json::to_value(&class).unwrap();
        assert_eq!(json["reclaimPolicy"], "Delete");
        assert_eq!(json["volumeBindingMode"], "Immediate");
        assert!(json.get("allowVolumeExpansion").is_none());

        let mut retain = class.clone();
        retain.reclaim_policy = Some(RECLAIM_RETAIN.into());
        retain.apply_defaults();
        assert_eq!(retain.reclaim_policy.as_deref(), Some("Retain"));
    }

    #[test]
    fn validation() {
        let cases: &[(Value, &[&str])] = &[
            (json!({"provisioner": "a.io/b"}), &[]),
            (json!({}), &["provisioner"]),
            (json!({"provisioner": "a/b/c"}), &["provisioner"]),
            (
                json!({"provisioner": "p", "reclaimPolicy": "Recycle"}),
                &["reclaimPolicy"],
            ),
            (
                json!({"provisioner": "p", "volumeBindingMode": "Later"}),
                &["volumeBindingMode"],
            ),
            (
                json!({"provisioner": "p", "parameters": {"": "x"}}),
                &["parameters"],
            ),
            (
                json!({"provisioner": "p", "allowedTopologies": [{}]}),
                &["allowedTopologies[0].matchLabelExpressions"],
            ),
            (
                json!({"provisioner": "p", "allowedTopologies": [{"matchLabelExpressions": [
                    {"key": "zone", "values": []},
                    {"key": "bad key", "values": ["a", "b", "a"]}
                ]}]}),
                &[
                    "allowedTopologies[0].matchLabelExpressions[0].values",
                    "allowedTopologies[0].matchLabelExpressions[1].key",
                    "allowedTopologies[0].matchLabelExpressions[1].values[2]",
                ],
            ),
        ];
        for (fields, want) in cases {
            let mut value = fields.clone();
            value["metadata"] = json!({"name": "sc"});
            let class: StorageClass = serde_json::from_value(value).unwrap();
            let errors = class.validate();
            let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(&got, want, "{fields}: {errors}");
        }

        let mut namespaced: StorageClass = serde_json::from_value(seed_16()).unwrap();
        namespaced.metadata = ObjectMeta::namespaced("default", "fast");
        assert_eq!(
            namespaced
                .validate()
                .iter()
                .next()
                .map(|e| e.field.as_str()),
            Some("metadata.namespace")
        );
    }

    #[test]
    fn immutable_fields() {
        let mut old: StorageClass = serde_json::from_value(seed_16()).unwrap();
        old.apply_defaults();
        let mut new = old.clone();
        new.allow_volume_expansion = Some(true);
        new.mount_options.push("ro".into());
        assert!(new.validate_update(&old).is_empty());
        new.provisioner = "other.io/x".into();
        new.parameters.insert("type", "pd-standard");
        new.reclaim_policy = Some(RECLAIM_RETAIN.into());
        new.volume_binding_mode = Some(BINDING_WAIT_FOR_FIRST_CONSUMER.into());
        let errors = new.validate_update(&old);
        let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            got,
            [
                "parameters",
                "provisioner",
                "reclaimPolicy",
                "volumeBindingMode"
            ]
        );
    }
}
