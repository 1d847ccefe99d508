//! `apiextensions.k8s.io/v1`: [`CustomResourceDefinition`], how users add
//! their own kinds.
//!
//! A CRD named `<plural>.<group>` declares a kind (`names`), whether its
//! objects are namespaced (`scope`), and its versions: each is `served` or
//! not, exactly one is the `storage` version, and each has an OpenAPI v3
//! schema ([`JsonSchemaProps`], required in v1), optional `status`/`scale`
//! subresources and extra `kubectl get` columns. Once established, the API
//! server serves the kind's objects as [`DynamicObject`](super::DynamicObject)s;
//! [`CustomResourceDefinition::api_resources`] gives what discovery and
//! routing need.
//!
//! Defaulting as Kubernetes: `singular` is the lower-case kind, `listKind`
//! is `<kind>List`, `conversion` is `{strategy: None}`, a webhook service's
//! port is 443 and `status.storedVersions` starts with the storage version.
//!
//! The older `apiextensions.k8s.io/v1beta1` shape (one top-level `version`,
//! top-level `validation`, no required schema) is not a type here:
//! [`crd_from_v1beta1`] converts it.
//!
//! ```
//! use keelson::api::apiextensions::CustomResourceDefinition;
//! use keelson::api::Resource;
//!
//! let mut crd: CustomResourceDefinition = serde_json::from_str(r#"{
//!     "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
//!     "metadata": {"name": "crontabs.stable.example.com"},
//!     "spec": {
//!         "group": "stable.example.com",
//!         "scope": "Namespaced",
//!         "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
//!         "versions": [{
//!             "name": "v1", "served": true, "storage": true,
//!             "schema": {"openAPIV3Schema": {"type": "object", "properties": {
//!                 "spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}
//!             }}}
//!         }]
//!     }
//! }"#).unwrap();
//! crd.apply_defaults();
//! assert_eq!(crd.spec.names.list_kind, "CronTabList");
//! assert!(crd.validate().is_empty());
//!
//! let resources = crd.api_resources();
//! assert_eq!(resources[0].api_version, "stable.example.com/v1");
//! assert_eq!(resources[0].short_names, ["ct"]);
//!
//! crd.spec.versions[0].schema = None;
//! assert_eq!(
//!     crd.validate().to_string(),
//!     "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
//! );
//! ```
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Number, Value};

use super::resource::{object, ApiResource, Scope};
use super::serde_util::{is_default, nullable};
use super::validation::{is_dns1035_label, is_dns1123_subdomain, ErrorList, FieldError, Path};
use super::{SortedMap, Str, Time};

/// For [`CustomResourceDefinitionSpec::scope`]: objects live in namespaces.
pub const NAMESPACED: &str = "Namespaced";
/// For [`CustomResourceDefinitionSpec::scope`]: objects are cluster-wide.
pub const CLUSTER: &str = "Cluster";
/// For [`CustomResourceConversion::strategy`]: versions differ only in `apiVersion`.
pub const CONVERSION_NONE: &str = "None";
/// For [`CustomResourceConversion::strategy`]: a webhook converts between versions.
pub const CONVERSION_WEBHOOK: &str = "Webhook";
/// Condition type: the kind is served.
pub const ESTABLISHED: &str = "Established";
/// Condition type: the names do not conflict with other kinds.
pub const NAMES_ACCEPTED: &str = "NamesAccepted";

const SCHEMA_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
const COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const COLUMN_FORMATS: &[&str] = &[
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];

object! {
    /// Declares a custom kind and how the API server serves it.
    pub struct CustomResourceDefinition {
        /// The kind, its versions and schemas.
        spec: CustomResourceDefinitionSpec = "spec",
        /// Whether the kind is established, and under which names.
        status: CustomResourceDefinitionStatus = "status",
    }
    resource {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        scope: Cluster,
        short_names: ["crd", "crds"],
        categories: ["api-extensions"],
        subresources: ["status"],
    }

    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.names.singular.is_empty() {
            spec.names.singular = spec.names.kind.to_ascii_lowercase().into();
        }
        if spec.names.list_kind.is_empty() && !spec.names.kind.is_empty() {
            let mut list_kind = spec.names.kind.clone();
            list_kind.push_str("List");
            spec.names.list_kind = list_kind;
        }
        let conversion = spec.conversion.get_or_insert_with(|| CustomResourceConversion {
            strategy: CONVERSION_NONE.into(),
            webhook: None,
        });
        let service = conversion
            .webhook
            .as_mut()
            .and_then(|w| w.client_config.as_mut())
            .and_then(|c| c.service.as_mut());
        if let Some(service) = service {
            service.port.get_or_insert(443);
        }
        if self.status.stored_versions.is_empty() {
            if let Some(v) = spec.versions.iter().find(|v| v.storage) {
                self.status.stored_versions.push(v.name.clone());
            }
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let name = &self.metadata.name;
        let spec = &self.spec;
        if !name.is_empty()
            && (name.len() != spec.names.plural.len() + 1 + spec.group.len()
                || !name.starts_with(spec.names.plural.as_str())
                || !name.ends_with(spec.group.as_str())
                || name.as_bytes().get(spec.names.plural.len()) != Some(&b'.'))
        {
            errors.push(FieldError::invalid(
                &Path::root("metadata").child("name"),
                name,
                r#"must be spec.names.plural+"."+spec.group"#,
            ));
        }
        errors.extend(validate_spec(spec, &Path::root("spec")));
        errors.extend(validate_names(
            &self.status.accepted_names,
            &Path::root("status").child("acceptedNames"),
        ));
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(super::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        let spec = Path::root("spec");
        let names = spec.child("names");
        let mut immutable = |path: &Path<'_>, new: &Str, old: &Str| {
            if new != old {
                errors.push(FieldError::invalid(path, new, "field is immutable"));
            }
        };
        if old.is_established() {
            immutable(&spec.child("scope"), &self.spec.scope, &old.spec.scope);
            immutable(&names.child("kind"), &self.spec.names.kind, &old.spec.names.kind);
        }
        immutable(&spec.child("group"), &self.spec.group, &old.spec.group);
        immutable(&names.child("plural"), &self.spec.names.plural, &old.spec.names.plural);
        errors.extend(validate_stored_versions(
            &self.status.stored_versions,
            &self.spec.versions,
            &Path::root("status").child("storedVersions"),
        ));
        errors
    }
}

impl CustomResourceDefinition {
    /// True when the `Established` condition is `True`.
    pub fn is_established(&self) -> bool {
        self.status
            .conditions
            .iter()
            .any(|c| c.r#type == ESTABLISHED && c.status == "True")
    }

    /// The version objects are stored in.
    pub fn storage_version(&self) -> Option<&CustomResourceDefinitionVersion> {
        self.spec.versions.iter().find(|v| v.storage)
    }

    /// The runtime description of each served version, for discovery and
    /// routing of the custom kind.
    pub fn api_resources(&self) -> Vec<ApiResource> {
        let spec = &self.spec;
        let scope = if spec.scope == CLUSTER {
            Scope::Cluster
        } else {
            Scope::Namespaced
        };
        let singular = if spec.names.singular.is_empty() {
            Str::from(spec.names.kind.to_ascii_lowercase())
        } else {
            spec.names.singular.clone()
        };
        spec.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| {
                let mut subresources = Vec::new();
                if let Some(sub) = &v.subresources {
                    if sub.status.is_some() {
                        subresources.push(Str::from("status"));
                    }
                    if sub.scale.is_some() {
                        subresources.push(Str::from("scale"));
                    }
                }
                ApiResource {
                    group: spec.group.clone(),
                    version: v.name.clone(),
                    api_version: format!("{}/{}", spec.group, v.name).into(),
                    kind: spec.names.kind.clone(),
                    plural: spec.names.plural.clone(),
                    singular: singular.clone(),
                    scope,
                    short_names: spec.names.short_names.clone(),
                    categories: spec.names.categories.clone(),
                    subresources,
                }
            })
            .collect()
    }
}

/// The custom kind a CRD declares.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionSpec {
    /// The API group (`stable.example.com`).
    #[serde(default)]
    pub group: Str,
    /// The kind's names.
    #[serde(default)]
    pub names: CustomResourceDefinitionNames,
    /// `Namespaced` or `Cluster`.
    #[serde(default)]
    pub scope: Str,
    /// The versions, at least one; exactly one is the storage version.
    #[serde(default, deserialize_with = "nullable")]
    pub versions: Vec<CustomResourceDefinitionVersion>,
    /// How objects convert between versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<CustomResourceConversion>,
    /// Legacy: keep fields the schema does not declare (use
    /// `x-kubernetes-preserve-unknown-fields` instead).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub preserve_unknown_fields: bool,
}

/// The names of a custom kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionNames {
    /// The plural used in URLs (`crontabs`).
    #[serde(default)]
    pub plural: Str,
    /// The singular (default: the lower-case kind).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub singular: Str,
    /// Short names for kubectl (`ct`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub short_names: Vec<Str>,
    /// The kind (`CronTab`).
    #[serde(default)]
    pub kind: Str,
    /// The list kind (default `<kind>List`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub list_kind: Str,
    /// Categories for kubectl (`all`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub categories: Vec<Str>,
}

/// One version of a custom kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionVersion {
    /// The version name (`v1`, `v1beta1`), a DNS-1035 label.
    #[serde(default)]
    pub name: Str,
    /// Whether the version is served.
    #[serde(default)]
    pub served: bool,
    /// Whether objects are stored in this version (exactly one is).
    #[serde(default)]
    pub storage: bool,
    /// Whether clients are warned that the version is deprecated.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub deprecated: bool,
    /// The warning sent instead of the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_warning: Option<Str>,
    /// The schema objects of this version must follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<CustomResourceValidation>,
    /// The `status` and `scale` subresources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresources: Option<CustomResourceSubresources>,
    /// Extra columns for `kubectl get`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub additional_printer_columns: Vec<CustomResourceColumnDefinition>,
    /// Fields usable in field selectors.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub selectable_fields: Vec<SelectableField>,
}

/// The schema of a version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomResourceValidation {
    /// The OpenAPI v3 schema of the whole object.
    #[serde(
        default,
        rename = "openAPIV3Schema",
        skip_serializing_if = "Option::is_none"
    )]
    pub open_api_v3_schema: Option<Box<JsonSchemaProps>>,
}

/// The subresources of a version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceSubresources {
    /// Serve `/status`: `status` changes only through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CustomResourceSubresourceStatus>,
    /// Serve `/scale`, for autoscalers and `kubectl scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<CustomResourceSubresourceScale>,
}

/// The `status` subresource (it has no settings: `status: {}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomResourceSubresourceStatus {}

/// The `scale` subresource: where the replica counts live.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceSubresourceScale {
    /// JSON path of the desired replicas, under `.spec` (`.spec.replicas`).
    #[serde(default)]
    pub spec_replicas_path: Str,
    /// JSON path of the current replicas, under `.status`.
    #[serde(default)]
    pub status_replicas_path: Str,
    /// JSON path of the pods' label selector (string form), under `.status`
    /// or `.spec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector_path: Option<Str>,
}

/// An extra `kubectl get` column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceColumnDefinition {
    /// The header.
    #[serde(default)]
    pub name: Str,
    /// `integer`, `number`, `string`, `boolean` or `date`.
    #[serde(default)]
    pub r#type: Str,
    /// A format hint (`int32`, `date-time`, ...).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub format: Str,
    /// What the column shows.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub description: Str,
    /// 0 is shown by default; higher only with `-o wide`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub priority: i32,
    /// The simple JSON path of the value (`.spec.cronSpec`).
    #[serde(default)]
    pub json_path: Str,
}

/// A field usable in field selectors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectableField {
    /// The simple JSON path of the field (`.spec.color`).
    #[serde(default)]
    pub json_path: Str,
}

/// How objects convert between versions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceConversion {
    /// `None` or `Webhook`.
    #[serde(default)]
    pub strategy: Str,
    /// The webhook, with strategy `Webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookConversion>,
}

/// A conversion webhook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConversion {
    /// How to reach it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_config: Option<WebhookClientConfig>,
    /// The `ConversionReview` versions it understands (`v1`).
    #[serde(default, deserialize_with = "nullable")]
    pub conversion_review_versions: Vec<Str>,
}

/// How to reach a webhook: a URL or a Service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookClientConfig {
    /// `https://host:port/path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Str>,
    /// A Service in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceReference>,
    /// PEM CA bundle, base64-encoded as in JSON.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub ca_bundle: Str,
}

/// A Service serving a webhook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReference {
    /// The Service's namespace.
    #[serde(default)]
    pub namespace: Str,
    /// The Service's name.
    #[serde(default)]
    pub name: Str,
    /// The URL path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Str>,
    /// The port (default 443).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// The observed state of a CRD.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionStatus {
    /// `Established`, `NamesAccepted`, `Terminating`, ...
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<CustomResourceDefinitionCondition>,
    /// The names actually served (they may conflict with other kinds).
    #[serde(default)]
    pub accepted_names: CustomResourceDefinitionNames,
    /// Every version objects were ever stored in.
    #[serde(default, deserialize_with = "nullable")]
    pub stored_versions: Vec<Str>,
}

/// A condition of a CRD.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionCondition {
    /// `Established`, `NamesAccepted`, ...
    #[serde(default)]
    pub r#type: Str,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: Str,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Why, in CamelCase.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// Why, for humans.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
}

/// An OpenAPI v3 schema node, with Kubernetes' `x-kubernetes-*` extensions.
/// Recursive through `properties`, `items`, `additionalProperties`, `allOf`
/// and friends; free-form values (`default`, `enum`, `example`) are JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonSchemaProps {
    /// Schema id.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub id: Str,
    /// The JSON Schema dialect.
    #[serde(default, rename = "$schema", skip_serializing_if = "str::is_empty")]
    pub schema: Str,
    /// A reference (not allowed in CRDs, kept for round trips).
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<Str>,
    /// What the field means.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub description: Str,
    /// `object`, `array`, `string`, `integer`, `number` or `boolean`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub r#type: Str,
    /// A format (`int32`, `date-time`, `byte`, ...).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub format: Str,
    /// A title.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub title: Str,
    /// The value filled in when the field is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The largest number allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<Number>,
    /// Whether `maximum` itself is excluded.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub exclusive_maximum: bool,
    /// The smallest number allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Number>,
    /// Whether `minimum` itself is excluded.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub exclusive_minimum: bool,
    /// The longest string allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    /// The shortest string allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i64>,
    /// A regular expression strings must match.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub pattern: Str,
    /// The most items allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
    /// The fewest items allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<i64>,
    /// Whether items must be unique (not allowed in CRDs).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub unique_items: bool,
    /// Numbers must be multiples of this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_of: Option<Number>,
    /// The allowed values.
    #[serde(
        default,
        rename = "enum",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub enum_values: Vec<Value>,
    /// The most properties allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_properties: Option<i64>,
    /// The fewest properties allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_properties: Option<i64>,
    /// Properties that must be present.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub required: Vec<Str>,
    /// The schema of array items (or one schema per position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<JsonSchemaPropsOrArray>,
    /// All of these must hold.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub all_of: Vec<JsonSchemaProps>,
    /// Exactly one of these must hold.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub one_of: Vec<JsonSchemaProps>,
    /// At least one of these must hold.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub any_of: Vec<JsonSchemaProps>,
    /// This must not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<JsonSchemaProps>>,
    /// The schemas of known properties.
    #[serde(default, skip_serializing_if = "SortedMap::is_empty")]
    pub properties: SortedMap<JsonSchemaProps>,
    /// The schema of other properties (a map), or whether they are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_properties: Option<JsonSchemaPropsOrBool>,
    /// Schemas by property-name pattern.
    #[serde(default, skip_serializing_if = "SortedMap::is_empty")]
    pub pattern_properties: SortedMap<JsonSchemaProps>,
    /// Property dependencies.
    #[serde(default, skip_serializing_if = "SortedMap::is_empty")]
    pub dependencies: SortedMap<JsonSchemaPropsOrStringArray>,
    /// The schema of items past `items` positions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_items: Option<JsonSchemaPropsOrBool>,
    /// Named schemas.
    #[serde(default, skip_serializing_if = "SortedMap::is_empty")]
    pub definitions: SortedMap<JsonSchemaProps>,
    /// Further documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_docs: Option<ExternalDocumentation>,
    /// An example value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    /// Whether `null` is allowed (and kept).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub nullable: bool,
    /// Keep fields the schema does not declare.
    #[serde(
        default,
        rename = "x-kubernetes-preserve-unknown-fields",
        skip_serializing_if = "Option::is_none"
    )]
    pub x_kubernetes_preserve_unknown_fields: Option<bool>,
    /// The value is a whole object with `apiVersion`, `kind` and `metadata`.
    #[serde(
        default,
        rename = "x-kubernetes-embedded-resource",
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub x_kubernetes_embedded_resource: bool,
    /// The value is an integer or a string (as a port).
    #[serde(
        default,
        rename = "x-kubernetes-int-or-string",
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub x_kubernetes_int_or_string: bool,
    /// The keys of a `map` list.
    #[serde(
        default,
        rename = "x-kubernetes-list-map-keys",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub x_kubernetes_list_map_keys: Vec<Str>,
    /// `atomic`, `set` or `map`: how server-side apply merges the list.
    #[serde(
        default,
        rename = "x-kubernetes-list-type",
        skip_serializing_if = "Option::is_none"
    )]
    pub x_kubernetes_list_type: Option<Str>,
    /// `granular` or `atomic`: how server-side apply merges the map.
    #[serde(
        default,
        rename = "x-kubernetes-map-type",
        skip_serializing_if = "Option::is_none"
    )]
    pub x_kubernetes_map_type: Option<Str>,
    /// CEL validation rules.
    #[serde(
        default,
        rename = "x-kubernetes-validations",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub x_kubernetes_validations: Vec<ValidationRule>,
}

impl JsonSchemaProps {
    /// A schema of `type`.
    pub fn typed(r#type: &str) -> Self {
        JsonSchemaProps {
            r#type: r#type.into(),
            ..JsonSchemaProps::default()
        }
    }

    /// `{type: object, x-kubernetes-preserve-unknown-fields: true}`: any
    /// object, kept as is.
    pub fn preserve_unknown_object() -> Self {
        JsonSchemaProps {
            r#type: "object".into(),
            x_kubernetes_preserve_unknown_fields: Some(true),
            ..JsonSchemaProps::default()
        }
    }
}

/// Further documentation of a schema.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalDocumentation {
    /// What the link is.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub description: Str,
    /// The link.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub url: Str,
}

/// A CEL validation rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRule {
    /// The CEL expression (`self.minReplicas <= self.replicas`).
    #[serde(default)]
    pub rule: Str,
    /// The message when it fails.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
    /// A CEL expression computing the message.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message_expression: Str,
    /// The reason reported (`FieldValueInvalid`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Str>,
    /// The field path reported.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub field_path: Str,
    /// Whether the rule also runs when there is no old value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional_old_self: Option<bool>,
}

/// `items`: one schema for all items, or one per position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonSchemaPropsOrArray {
    /// One schema for all items.
    Schema(Box<JsonSchemaProps>),
    /// One schema per position.
    Array(Vec<JsonSchemaProps>),
}

/// `additionalProperties`/`additionalItems`: a schema, or allowed or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonSchemaPropsOrBool {
    /// Allowed (`true`) or forbidden (`false`), with any schema.
    Bool(bool),
    /// Allowed, with this schema.
    Schema(Box<JsonSchemaProps>),
}

/// A dependency: a schema, or the properties that must also be present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonSchemaPropsOrStringArray {
    /// A schema the object must also follow.
    Schema(Box<JsonSchemaProps>),
    /// Properties that must also be present.
    Properties(Vec<Str>),
}

impl Serialize for JsonSchemaPropsOrArray {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonSchemaPropsOrArray::Schema(s) => s.serialize(serializer),
            JsonSchemaPropsOrArray::Array(a) => a.serialize(serializer),
        }
    }
}

impl Serialize for JsonSchemaPropsOrBool {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonSchemaPropsOrBool::Bool(b) => serializer.serialize_bool(*b),
            JsonSchemaPropsOrBool::Schema(s) => s.serialize(serializer),
        }
    }
}

impl Serialize for JsonSchemaPropsOrStringArray {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonSchemaPropsOrStringArray::Schema(s) => s.serialize(serializer),
            JsonSchemaPropsOrStringArray::Properties(p) => p.serialize(serializer),
        }
    }
}

/// Decodes a schema from a map or, per `seq`, something else from a list;
/// reads through the same deserializer so unknown-field tracking still sees
/// nested fields.
struct EitherVisitor<T> {
    expecting: &'static str,
    marker: std::marker::PhantomData<T>,
}

trait FromSchemaOr: Sized {
    fn from_schema(schema: JsonSchemaProps) -> Self;
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        let _ = seq;
        Err(de::Error::invalid_type(de::Unexpected::Seq, &"a schema"))
    }
    fn from_bool<E: de::Error>(b: bool) -> Result<Self, E> {
        Err(E::invalid_type(de::Unexpected::Bool(b), &"a schema"))
    }
}

impl FromSchemaOr for JsonSchemaPropsOrArray {
    fn from_schema(schema: JsonSchemaProps) -> Self {
        JsonSchemaPropsOrArray::Schema(Box::new(schema))
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
            .map(JsonSchemaPropsOrArray::Array)
    }
}

impl FromSchemaOr for JsonSchemaPropsOrBool {
    fn from_schema(schema: JsonSchemaProps) -> Self {
        JsonSchemaPropsOrBool::Schema(Box::new(schema))
    }
    fn from_bool<E: de::Error>(b: bool) -> Result<Self, E> {
        Ok(JsonSchemaPropsOrBool::Bool(b))
    }
}

impl FromSchemaOr for JsonSchemaPropsOrStringArray {
    fn from_schema(schema: JsonSchemaProps) -> Self {
        JsonSchemaPropsOrStringArray::Schema(Box::new(schema))
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
            .map(JsonSchemaPropsOrStringArray::Properties)
    }
}

impl<'de, T: FromSchemaOr> Visitor<'de> for EitherVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        JsonSchemaProps::deserialize(de::value::MapAccessDeserializer::new(map)).map(T::from_schema)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<T, E> {
        T::from_bool(b)
    }
}

fn either<'de, D: Deserializer<'de>, T: FromSchemaOr>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error> {
    deserializer.deserialize_any(EitherVisitor {
        expecting,
        marker: std::marker::PhantomData,
    })
}

impl<'de> Deserialize<'de> for JsonSchemaPropsOrArray {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        either(deserializer, "a schema or a list of schemas")
    }
}

impl<'de> Deserialize<'de> for JsonSchemaPropsOrBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        either(deserializer, "a schema or a boolean")
    }
}

impl<'de> Deserialize<'de> for JsonSchemaPropsOrStringArray {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        either(deserializer, "a schema or a list of property names")
    }
}

fn push_all(errors: &mut ErrorList, path: &Path<'_>, value: &str, messages: Vec<String>) {
    if !messages.is_empty() {
        errors.push(FieldError::invalid(path, value, messages.join(",")));
    }
}

fn validate_spec(spec: &CustomResourceDefinitionSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let group = path.child("group");
    if spec.group.is_empty() {
        errors.push(FieldError::required(&group, ""));
    } else {
        let problems = is_dns1123_subdomain(&spec.group);
        if !problems.is_empty() {
            push_all(&mut errors, &group, &spec.group, problems);
        } else if !spec.group.contains('.') {
            errors.push(FieldError::invalid(
                &group,
                &spec.group,
                "should be a domain with at least one dot",
            ));
        }
    }
    let scope = path.child("scope");
    if spec.scope.is_empty() {
        errors.push(FieldError::required(&scope, ""));
    } else if spec.scope != CLUSTER && spec.scope != NAMESPACED {
        errors.push(FieldError::not_supported(
            &scope,
            &spec.scope,
            &[CLUSTER, NAMESPACED],
        ));
    }
    if spec.preserve_unknown_fields {
        errors.push(FieldError::invalid(
            &path.child("preserveUnknownFields"),
            true,
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in \
             spec.versions[*].schema instead",
        ));
    }

    let versions = path.child("versions");
    let mut storage = 0;
    let mut unique = true;
    for (i, version) in spec.versions.iter().enumerate() {
        let v_path = versions.index(i);
        storage += usize::from(version.storage);
        if spec.versions[..i].iter().any(|v| v.name == version.name) {
            unique = false;
        }
        push_all(
            &mut errors,
            &v_path.child("name"),
            &version.name,
            is_dns1035_label(&version.name),
        );
        errors.extend(validate_version(version, &v_path));
    }
    let names: Vec<&str> = spec.versions.iter().map(|v| v.name.as_str()).collect();
    if !unique {
        errors.push(FieldError::invalid(
            &versions,
            &names,
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errors.push(FieldError::invalid(
            &versions,
            &names,
            "must have exactly one version marked as storage version",
        ));
    }

    let names_path = path.child("names");
    for (field, value) in [
        ("plural", &spec.names.plural),
        ("singular", &spec.names.singular),
        ("kind", &spec.names.kind),
        ("listKind", &spec.names.list_kind),
    ] {
        if value.is_empty() {
            errors.push(FieldError::required(&names_path.child(field), ""));
        }
    }
    errors.extend(validate_names(&spec.names, &names_path));

    if let Some(conversion) = &spec.conversion {
        errors.extend(validate_conversion(conversion, &path.child("conversion")));
    }
    errors
}

fn validate_names(names: &CustomResourceDefinitionNames, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    for (field, value) in [("plural", &names.plural), ("singular", &names.singular)] {
        if !value.is_empty() {
            push_all(
                &mut errors,
                &path.child(field),
                value,
                is_dns1035_label(value),
            );
        }
    }
    for (field, value) in [("kind", &names.kind), ("listKind", &names.list_kind)] {
        if value.is_empty() {
            continue;
        }
        let problems = is_dns1035_label(&value.to_ascii_lowercase());
        if !problems.is_empty() {
            errors.push(FieldError::invalid(
                &path.child(field),
                value,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    problems.join(",")
                ),
            ));
        }
    }
    let short_names = path.child("shortNames");
    for (i, name) in names.short_names.iter().enumerate() {
        push_all(
            &mut errors,
            &short_names.index(i),
            name,
            is_dns1035_label(name),
        );
    }
    if !names.kind.is_empty() && names.kind == names.list_kind {
        errors.push(FieldError::invalid(
            &path.child("listKind"),
            &names.list_kind,
            "kind and listKind may not be the same",
        ));
    }
    let categories = path.child("categories");
    for (i, category) in names.categories.iter().enumerate() {
        push_all(
            &mut errors,
            &categories.index(i),
            category,
            is_dns1035_label(category),
        );
    }
    errors
}

fn validate_version(version: &CustomResourceDefinitionVersion, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if let Some(warning) = &version.deprecation_warning {
        let w_path = path.child("deprecationWarning");
        if !version.deprecated {
            errors.push(FieldError::invalid(
                &w_path,
                warning,
                "can only be set for deprecated versions",
            ));
        } else if warning.is_empty() {
            errors.push(FieldError::invalid(
                &w_path,
                warning,
                "must not be an empty string",
            ));
        } else if warning.len() > 256 {
            errors.push(FieldError::invalid(
                &w_path,
                warning,
                "must be <= 256 characters long",
            ));
        }
    }
    let schema_path = path.child("schema");
    let open_api = schema_path.child("openAPIV3Schema");
    match version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_deref())
    {
        None => errors.push(FieldError::required(&open_api, "schemas are required")),
        Some(schema) => errors.extend(validate_schema(schema, &open_api, true)),
    }
    if let Some(sub) = &version.subresources {
        if let Some(scale) = &sub.scale {
            errors.extend(validate_scale(
                scale,
                &path.child("subresources").child("scale"),
            ));
        }
    }
    let columns = path.child("additionalPrinterColumns");
    for (i, column) in version.additional_printer_columns.iter().enumerate() {
        errors.extend(validate_column(column, &columns.index(i)));
    }
    errors
}

/// Validates a schema node: known types, object at the root, a type on
/// every nested node of `properties`/`items`/`additionalProperties` (unless
/// it is int-or-string or preserves unknown fields), `items` on arrays.
fn validate_schema(schema: &JsonSchemaProps, path: &Path<'_>, root: bool) -> ErrorList {
    let mut errors = ErrorList::new();
    let type_path = path.child("type");
    let ty = schema.r#type.as_str();
    if !ty.is_empty() && !SCHEMA_TYPES.contains(&ty) {
        errors.push(FieldError::not_supported(&type_path, ty, SCHEMA_TYPES));
    }
    if root {
        if ty.is_empty() {
            errors.push(FieldError::required(
                &type_path,
                "must not be empty at the root",
            ));
        } else if ty != "object" {
            errors.push(FieldError::invalid(
                &type_path,
                ty,
                "must be object at the root",
            ));
        }
    } else if ty.is_empty()
        && !schema.x_kubernetes_int_or_string
        && schema.x_kubernetes_preserve_unknown_fields != Some(true)
    {
        errors.push(FieldError::required(
            &type_path,
            "must not be empty for specified object fields",
        ));
    }
    if ty == "array" && schema.items.is_none() {
        errors.push(FieldError::required(
            &path.child("items"),
            "must be specified",
        ));
    }
    let properties = path.child("properties");
    for (name, property) in &schema.properties {
        errors.extend(validate_schema(property, &properties.key(name), false));
    }
    match &schema.items {
        Some(JsonSchemaPropsOrArray::Schema(items)) => {
            errors.extend(validate_schema(items, &path.child("items"), false));
        }
        Some(JsonSchemaPropsOrArray::Array(_)) => errors.push(FieldError::forbidden(
            &path.child("items"),
            "items must be a schema object and not an array",
        )),
        None => {}
    }
    if let Some(JsonSchemaPropsOrBool::Schema(additional)) = &schema.additional_properties {
        if !schema.properties.is_empty() {
            errors.push(FieldError::forbidden(
                &path.child("additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        errors.extend(validate_schema(
            additional,
            &path.child("additionalProperties"),
            false,
        ));
    }
    for (field, value) in [
        ("minLength", schema.min_length),
        ("maxLength", schema.max_length),
        ("minItems", schema.min_items),
        ("maxItems", schema.max_items),
        ("minProperties", schema.min_properties),
        ("maxProperties", schema.max_properties),
    ] {
        if let Some(v) = value {
            if v < 0 {
                errors.push(FieldError::invalid(
                    &path.child(field),
                    v,
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    errors
}

fn validate_scale(scale: &CustomResourceSubresourceScale, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let checks: [(&str, &str, &[&str], &str); 2] = [
        (
            "specReplicasPath",
            &scale.spec_replicas_path,
            &[".spec."],
            "should be a json path under .spec",
        ),
        (
            "statusReplicasPath",
            &scale.status_replicas_path,
            &[".status."],
            "should be a json path under .status",
        ),
    ];
    for (field, value, prefixes, message) in checks {
        let f_path = path.child(field);
        if value.is_empty() {
            errors.push(FieldError::required(&f_path, ""));
        } else if !prefixes.iter().any(|p| value.starts_with(p)) {
            errors.push(FieldError::invalid(&f_path, value, message));
        }
    }
    if let Some(selector) = &scale.label_selector_path {
        if !selector.starts_with(".spec.") && !selector.starts_with(".status.") {
            errors.push(FieldError::invalid(
                &path.child("labelSelectorPath"),
                selector,
                "should be a json path under either .spec or .status",
            ));
        }
    }
    errors
}

fn validate_column(column: &CustomResourceColumnDefinition, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if column.name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    }
    let types = format!("must be one of {}", COLUMN_TYPES.join(","));
    if column.r#type.is_empty() {
        errors.push(FieldError::required(&path.child("type"), types));
    } else if !COLUMN_TYPES.contains(&column.r#type.as_str()) {
        errors.push(FieldError::invalid(
            &path.child("type"),
            &column.r#type,
            types,
        ));
    }
    if !column.format.is_empty() && !COLUMN_FORMATS.contains(&column.format.as_str()) {
        errors.push(FieldError::invalid(
            &path.child("format"),
            &column.format,
            format!("must be one of {}", COLUMN_FORMATS.join(",")),
        ));
    }
    if column.priority < 0 {
        errors.push(FieldError::invalid(
            &path.child("priority"),
            column.priority,
            "must be greater than or equal to 0",
        ));
    }
    let json_path = path.child("jsonPath");
    if column.json_path.is_empty() {
        errors.push(FieldError::required(&json_path, ""));
    } else if !column.json_path.starts_with('.') {
        errors.push(FieldError::invalid(
            &json_path,
            &column.json_path,
            "must be a simple json path starting with .",
        ));
    }
    errors
}

fn validate_conversion(conversion: &CustomResourceConversion, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let strategy = path.child("strategy");
    if conversion.strategy.is_empty() {
        errors.push(FieldError::required(&strategy, ""));
    } else if conversion.strategy != CONVERSION_NONE && conversion.strategy != CONVERSION_WEBHOOK {
        errors.push(FieldError::not_supported(
            &strategy,
            &conversion.strategy,
            &[CONVERSION_NONE, CONVERSION_WEBHOOK],
        ));
    }
    let webhook_path = path.child("webhook");
    if conversion.strategy == CONVERSION_WEBHOOK {
        let Some(webhook) = &conversion.webhook else {
            errors.push(FieldError::required(
                &webhook_path,
                "required when strategy is set to Webhook",
            ));
            return errors;
        };
        let config_path = webhook_path.child("clientConfig");
        match &webhook.client_config {
            None => errors.push(FieldError::required(
                &config_path,
                "required when strategy is set to Webhook",
            )),
            Some(config) if config.url.is_some() == config.service.is_some() => errors.push(
                FieldError::required(&config_path, "exactly one of url or service is required"),
            ),
            Some(config) => {
                if let Some(url) = &config.url {
                    if !url.starts_with("https://") {
                        errors.push(FieldError::invalid(
                            &config_path.child("url"),
                            url,
                            "'https' is the only allowed URL scheme",
                        ));
                    }
                }
                if let Some(service) = &config.service {
                    let s_path = config_path.child("service");
                    if service.name.is_empty() {
                        errors.push(FieldError::required(
                            &s_path.child("name"),
                            "service name is required",
                        ));
                    }
                    if service.namespace.is_empty() {
                        errors.push(FieldError::required(
                            &s_path.child("namespace"),
                            "service namespace is required",
                        ));
                    }
                    if let Some(port) = service.port {
                        if !(1..=65535).contains(&port) {
                            errors.push(FieldError::invalid(
                                &s_path.child("port"),
                                port,
                                "port is not valid: must be between 1 and 65535, inclusive",
                            ));
                        }
                    }
                }
            }
        }
        let versions = webhook_path.child("conversionReviewVersions");
        if webhook.conversion_review_versions.is_empty() {
            errors.push(FieldError::required(&versions, ""));
        } else {
            for (i, v) in webhook.conversion_review_versions.iter().enumerate() {
                if webhook.conversion_review_versions[..i].contains(v) {
                    errors.push(FieldError::invalid(
                        &versions.index(i),
                        v,
                        "duplicate version",
                    ));
                } else {
                    push_all(&mut errors, &versions.index(i), v, is_dns1035_label(v));
                }
            }
            if !webhook
                .conversion_review_versions
                .iter()
                .any(|v| v == "v1" || v == "v1beta1")
            {
                errors.push(FieldError::invalid(
                    &versions,
                    &webhook.conversion_review_versions,
                    "must include at least one of v1, v1beta1",
                ));
            }
        }
    } else if conversion.webhook.is_some() {
        errors.push(FieldError::forbidden(
            &webhook_path,
            "should not be set when strategy is not set to Webhook",
        ));
    }
    errors
}

fn validate_stored_versions(
    stored: &[Str],
    versions: &[CustomResourceDefinitionVersion],
    path: &Path<'_>,
) -> ErrorList {
    let mut errors = ErrorList::new();
    if stored.is_empty() {
        errors.push(FieldError::invalid(
            path,
            stored,
            "must have at least one stored version",
        ));
        return errors;
    }
    for v in versions {
        if v.storage && !stored.contains(&v.name) {
            errors.push(FieldError::invalid(
                path,
                stored,
                format!("must have the storage version {}", v.name),
            ));
        }
    }
    for (i, s) in stored.iter().enumerate() {
        if !versions.iter().any(|v| &v.name == s) {
            errors.push(FieldError::invalid(
                &path.index(i),
                s,
                format!(
                    "missing from spec.versions; {s} was previously a storage version, and must \
                     remain in spec.versions until a storage migration ensures no data remains \
                     persisted in {s} and removes {s} from status.storedVersions"
                ),
            ));
        }
    }
    errors
}

/// An error converting a CRD from `apiextensions.k8s.io/v1beta1`.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    /// The input is not a v1beta1 (or v1) CustomResourceDefinition.
    #[error(
        "not an apiextensions.k8s.io/v1beta1 CustomResourceDefinition: apiVersion {api_version:?}, kind {kind:?}"
    )]
    NotACrd {
        /// The input's `apiVersion`.
        api_version: String,
        /// The input's `kind`.
        kind: String,
    },
    /// The input (or its conversion) does not decode as a v1 CRD.
    #[error("invalid CustomResourceDefinition: {0}")]
    Decode(#[source] serde_json::Error),
}

/// Converts an `apiextensions.k8s.io/v1beta1` CustomResourceDefinition to
/// v1, the way the API server upgrades stored v1beta1 CRDs; a v1 input is
/// decoded as is.
///
/// - A top-level `version` with no `versions` becomes
///   `versions: [{name, served: true, storage: true}]`.
/// - Top-level `validation`, `subresources` and `additionalPrinterColumns`
///   move into every version that has none of its own (columns' `JSONPath`
///   becomes `jsonPath`).
/// - A version without a schema gets `{type: object,
///   x-kubernetes-preserve-unknown-fields: true}`, since v1 requires a schema
///   and v1beta1 kept unknown fields. A given schema without a root `type`
///   gets `type: object`; unless v1beta1's `preserveUnknownFields` was
///   explicitly `false` (its default is `true`), the root schema is marked
///   `x-kubernetes-preserve-unknown-fields: true` and `preserveUnknownFields`
///   is dropped (v1 refuses `true` there).
/// - `conversion.webhookClientConfig` and `conversion.conversionReviewVersions`
///   move under `conversion.webhook` (review versions default to
///   `[v1beta1]`, as in v1beta1).
pub fn crd_from_v1beta1(value: &Value) -> Result<CustomResourceDefinition, ConversionError> {
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let not_a_crd = || ConversionError::NotACrd {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    };
    if kind != "CustomResourceDefinition" {
        return Err(not_a_crd());
    }
    match api_version {
        "apiextensions.k8s.io/v1" => {
            return serde_json::from_value(value.clone()).map_err(ConversionError::Decode)
        }
        "apiextensions.k8s.io/v1beta1" => {}
        _ => return Err(not_a_crd()),
    }
    let mut out = value.clone();
    out["apiVersion"] = Value::from("apiextensions.k8s.io/v1");
    if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
        convert_v1beta1_spec(spec);
    }
    serde_json::from_value(out).map_err(ConversionError::Decode)
}

fn convert_v1beta1_spec(spec: &mut serde_json::Map<String, Value>) {
    let version = spec.remove("version");
    let validation = spec.remove("validation");
    let subresources = spec.remove("subresources");
    let columns = spec.remove("additionalPrinterColumns");
    let preserve = spec
        .remove("preserveUnknownFields")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);

    let versions = spec
        .entry("versions")
        .or_insert_with(|| Value::Array(Vec::new()));
    if versions.is_null() {
        *versions = Value::Array(Vec::new());
    }
    if let Value::Array(list) = versions {
        if list.is_empty() {
            if let Some(name) = version {
                list.push(serde_json::json!({"name": name, "served": true, "storage": true}));
            }
        }
        for v in list.iter_mut().filter_map(Value::as_object_mut) {
            if !v.contains_key("schema") {
                if let Some(validation) = &validation {
                    v.insert("schema".into(), validation.clone());
                }
            }
            if !v.contains_key("subresources") {
                if let Some(sub) = &subresources {
                    v.insert("subresources".into(), sub.clone());
                }
            }
            if !v.contains_key("additionalPrinterColumns") {
                if let Some(columns) = &columns {
                    v.insert("additionalPrinterColumns".into(), columns.clone());
                }
            }
            if let Some(Value::Array(cols)) = v.get_mut("additionalPrinterColumns") {
                for col in cols.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(path) = col.remove("JSONPath") {
                        col.insert("jsonPath".into(), path);
                    }
                }
            }
            let schema = v
                .entry("schema")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut()
                .map(|s| {
                    s.entry("openAPIV3Schema")
                        .or_insert_with(|| serde_json::json!({}))
                });
            if let Some(Value::Object(root)) = schema {
                root.entry("type").or_insert_with(|| Value::from("object"));
                if preserve {
                    root.insert(
                        "x-kubernetes-preserve-unknown-fields".into(),
                        Value::Bool(true),
                    );
                }
            }
        }
    }
    if let Some(Value::Object(conversion)) = spec.get_mut("conversion") {
        let config = conversion.remove("webhookClientConfig");
        let review = conversion.remove("conversionReviewVersions");
        if conversion.get("strategy").and_then(Value::as_str) == Some(CONVERSION_WEBHOOK) {
            let mut webhook = serde_json::Map::new();
            if let Some(config) = config {
                webhook.insert("clientConfig".into(), config);
            }
            webhook.insert(
                "conversionReviewVersions".into(),
                review.unwrap_or_else(|| serde_json::json!(["v1beta1"])),
            );
            conversion.insert("webhook".into(), Value::Object(webhook));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;
    use serde_json::json;

    fn fields(errors: &ErrorList) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn rich() -> Value {
        serde_json::from_str(
            r##"{
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com", "resourceVersion": "42"},
            "spec": {
                "group": "stable.example.com",
                "names": {
                    "plural": "crontabs", "singular": "crontab", "kind": "CronTab", "listKind": "CronTabList",
                    "shortNames": ["ct"], "categories": ["all"]
                },
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1", "served": true, "storage": true,
                        "schema": {"openAPIV3Schema": {
                            "type": "object",
                            "description": "A cron tab.",
                            "required": ["spec"],
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$", "minLength": 1, "maxLength": 64},
                                        "image": {"type": "string", "default": "busybox"},
                                        "replicas": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10, "exclusiveMaximum": true},
                                        "ratio": {"type": "number", "multipleOf": 0.5},
                                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                                        "mode": {"type": "string", "enum": ["fast", "slow"], "nullable": true},
                                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5, "x-kubernetes-list-type": "set"},
                                        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                                            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
                                        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "x-kubernetes-map-type": "granular"},
                                        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                                        "config": {"type": "object", "additionalProperties": true, "example": {"a": 1}}
                                    },
                                    "x-kubernetes-validations": [
                                        {"rule": "self.replicas <= 10", "message": "too many", "reason": "FieldValueForbidden", "fieldPath": ".replicas"},
                                        {"rule": "self.image == oldSelf.image", "messageExpression": "'immutable'", "optionalOldSelf": true}
                                    ]
                                },
                                "status": {"type": "object", "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}}}
                            },
                            "externalDocs": {"description": "docs", "url": "https://example.com"}
                        }},
                        "subresources": {
                            "status": {},
                            "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}
                        },
                        "additionalPrinterColumns": [
                            {"name": "Spec", "type": "string", "description": "The cron spec", "jsonPath": ".spec.cronSpec"},
                            {"name": "Replicas", "type": "integer", "format": "int32", "priority": 1, "jsonPath": ".spec.replicas"},
                            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                        ],
                        "selectableFields": [{"jsonPath": ".spec.image"}]
                    },
                    {
                        "name": "v1beta1", "served": true, "storage": false, "deprecated": true,
                        "deprecationWarning": "stable.example.com/v1beta1 CronTab is deprecated; use v1",
                        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                    }
                ],
                "conversion": {
                    "strategy": "Webhook",
                    "webhook": {
                        "clientConfig": {"service": {"namespace": "default", "name": "conv", "path": "/convert", "port": 8443}, "caBundle": "Y2EK"},
                        "conversionReviewVersions": ["v1", "v1beta1"]
                    }
                }
            },
            "status": {
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "NoConflicts", "message": "no conflicts found"},
                    {"type": "Established", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
                ],
                "acceptedNames": {"plural": "crontabs", "singular": "crontab", "shortNames": ["ct"], "kind": "CronTab", "listKind": "CronTabList", "categories": ["all"]},
                "storedVersions": ["v1"]
            }
        }"##,
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let crd: CustomResourceDefinition = serde_json::from_value(rich()).unwrap();
        assert_eq!(serde_json::to_value(&crd).unwrap(), rich());
        assert!(crd.validate().is_empty(), "{}", crd.validate());
        assert!(crd.is_established());
        assert_eq!(crd.storage_version().map(|v| v.name.as_str()), Some("v1"));

        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_deref())
            .unwrap();
        let spec = schema.properties.get("spec").unwrap();
        assert!(matches!(
            spec.properties
                .get("labels")
                .and_then(|l| l.additional_properties.as_ref()),
            Some(JsonSchemaPropsOrBool::Schema(_))
        ));
        assert_eq!(
            spec.properties
                .get("config")
                .and_then(|l| l.additional_properties.clone()),
            Some(JsonSchemaPropsOrBool::Bool(true))
        );
        assert!(
            spec.properties
                .get("port")
                .unwrap()
                .x_kubernetes_int_or_string
        );
        // Integers stay integers: `maximum: 10` is not re-encoded as `10.0`.
        assert_eq!(
            serde_json::to_string(&spec.properties.get("replicas").unwrap().maximum).unwrap(),
            "10"
        );
    }

    #[test]
    fn unknown_schema_fields_are_reported() {
        let json = r#"{"kind":"CustomResourceDefinition","spec":{"versions":[{"name":"v1","schema":{"openAPIV3Schema":{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","bogus":1}}},"additionalProperties":{"typo":true}}}}]}}"#;
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let _crd: CustomResourceDefinition = serde_ignored::deserialize(&mut de, |p| {
            unknown.push(crate::api::serde_util::field_path(&p))
        })
        .unwrap();
        assert_eq!(
            unknown,
            [
                "spec.versions[0].schema.openAPIV3Schema.properties.a.items.bogus",
                "spec.versions[0].schema.openAPIV3Schema.additionalProperties.typo"
            ]
        );
        assert!(serde_json::from_str::<JsonSchemaProps>(r#"{"items": 3}"#).is_err());
        assert!(
            serde_json::from_str::<JsonSchemaProps>(r#"{"additionalProperties": [1]}"#).is_err()
        );
        let deps: JsonSchemaProps =
            serde_json::from_str(r#"{"dependencies": {"a": ["b"], "c": {"type": "object"}}}"#)
                .unwrap();
        assert_eq!(
            deps.dependencies.get("a"),
            Some(&JsonSchemaPropsOrStringArray::Properties(vec!["b".into()]))
        );
        let tuple: JsonSchemaProps =
            serde_json::from_str(r#"{"items": [{"type": "string"}, {"type": "integer"}]}"#)
                .unwrap();
        assert!(matches!(tuple.items, Some(JsonSchemaPropsOrArray::Array(ref a)) if a.len() == 2));
    }

    fn minimal() -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn defaults() {
        let mut crd = minimal();
        assert_eq!(
            fields(&crd.validate()),
            ["spec.names.singular", "spec.names.listKind"]
        );
        crd.apply_defaults();
        assert_eq!(crd.spec.names.singular, "widget");
        assert_eq!(crd.spec.names.list_kind, "WidgetList");
        assert_eq!(
            crd.spec.conversion,
            Some(CustomResourceConversion {
                strategy: "None".into(),
                webhook: None
            })
        );
        assert_eq!(crd.status.stored_versions, ["v1"]);
        assert!(crd.validate().is_empty(), "{}", crd.validate());

        let mut webhook: CustomResourceDefinition = serde_json::from_value(json!({
            "spec": {"conversion": {"strategy": "Webhook", "webhook": {
                "clientConfig": {"service": {"namespace": "ns", "name": "svc"}},
                "conversionReviewVersions": ["v1"]
            }}}
        }))
        .unwrap();
        webhook.apply_defaults();
        let port = webhook
            .spec
            .conversion
            .and_then(|c| c.webhook)
            .and_then(|w| w.client_config)
            .and_then(|c| c.service)
            .and_then(|s| s.port);
        assert_eq!(port, Some(443));

        let resources = crd.api_resources();
        assert_eq!(resources.len(), 1);
        assert_eq!(resources[0].scope, Scope::Cluster);
        assert_eq!(resources[0].singular, "widget");
        assert!(resources[0].subresources.is_empty());
    }

    #[test]
    fn validation() {
        type Edit = fn(&mut Value);
        let cases: &[(Edit, &[&str])] = &[
            (|_| {}, &[]),
            (|v| v["metadata"]["name"] = json!("gadgets.example.com"), &["metadata.name"]),
            (|v| v["metadata"]["name"] = json!("widgetsxexample.com"), &["metadata.name"]),
            (|v| { v["spec"]["group"] = json!("example"); v["metadata"]["name"] = json!("widgets.example"); }, &["spec.group"]),
            (|v| { v["spec"]["group"] = json!(""); v["metadata"]["name"] = json!("widgets."); }, &["metadata.name", "spec.group"]),
            (|v| { v["spec"]["group"] = json!("Example.com"); v["metadata"]["name"] = json!("widgets.Example.com"); }, &["metadata.name", "spec.group"]),
            (|v| v["spec"]["scope"] = json!("Global"), &["spec.scope"]),
            (|v| v["spec"]["scope"] = json!(""), &["spec.scope"]),
            (|v| v["spec"]["versions"] = json!([]), &["spec.versions"]),
            (|v| v["spec"]["versions"][0]["storage"] = json!(false), &["spec.versions"]),
            (|v| { let first = v["spec"]["versions"][0].clone(); v["spec"]["versions"] = json!([first.clone(), first]); },
                &["spec.versions", "spec.versions"]),
            (|v| v["spec"]["versions"][0]["name"] = json!("V1"), &["spec.versions[0].name"]),
            (|v| v["spec"]["versions"][0]["schema"] = json!(null), &["spec.versions[0].schema.openAPIV3Schema"]),
            (|v| v["spec"]["versions"][0]["schema"] = json!({"openAPIV3Schema": {}}), &["spec.versions[0].schema.openAPIV3Schema.type"]),
            (|v| v["spec"]["versions"][0]["schema"] = json!({"openAPIV3Schema": {"type": "string"}}), &["spec.versions[0].schema.openAPIV3Schema.type"]),
            (|v| v["spec"]["versions"][0]["schema"] = json!({"openAPIV3Schema": {"type": "thing"}}),
                &["spec.versions[0].schema.openAPIV3Schema.type", "spec.versions[0].schema.openAPIV3Schema.type"]),
            (|v| v["spec"]["versions"][0]["schema"] = json!({"openAPIV3Schema": {"type": "object", "properties": {
                "a": {"description": "no type"}, "b": {"type": "array"}, "c": {"x-kubernetes-preserve-unknown-fields": true},
                "d": {"type": "array", "items": {"properties": {"e": {"type": "strng"}}}}, "f": {"type": "string", "maxLength": -1}
            }}}),
                &[
                    "spec.versions[0].schema.openAPIV3Schema.properties[a].type",
                    "spec.versions[0].schema.openAPIV3Schema.properties[b].items",
                    "spec.versions[0].schema.openAPIV3Schema.properties[d].items.type",
                    "spec.versions[0].schema.openAPIV3Schema.properties[d].items.properties[e].type",
                    "spec.versions[0].schema.openAPIV3Schema.properties[f].maxLength",
                ]),
            (|v| v["spec"]["names"] = json!({"plural": "Widgets", "singular": "widget_", "kind": "Wid get", "listKind": "Wid get", "shortNames": ["w", "W"], "categories": ["a b"]}),
                &["metadata.name", "spec.names.plural", "spec.names.singular", "spec.names.kind", "spec.names.listKind",
                  "spec.names.shortNames[1]", "spec.names.listKind", "spec.names.categories[0]"]),
            (|v| v["spec"]["names"] = json!({"singular": "w", "listKind": "WL"}), &["metadata.name", "spec.names.plural", "spec.names.kind"]),
            (|v| v["spec"]["versions"][0]["subresources"] = json!({"status": {}, "scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": "", "labelSelectorPath": "selector"}}),
                &["spec.versions[0].subresources.scale.specReplicasPath", "spec.versions[0].subresources.scale.statusReplicasPath",
                  "spec.versions[0].subresources.scale.labelSelectorPath"]),
            (|v| v["spec"]["versions"][0]["additionalPrinterColumns"] = json!([{"name": "", "type": "float", "format": "hex", "priority": -1, "jsonPath": "spec.x"}, {"name": "A"}]),
                &["spec.versions[0].additionalPrinterColumns[0].name", "spec.versions[0].additionalPrinterColumns[0].type",
                  "spec.versions[0].additionalPrinterColumns[0].format", "spec.versions[0].additionalPrinterColumns[0].priority",
                  "spec.versions[0].additionalPrinterColumns[0].jsonPath", "spec.versions[0].additionalPrinterColumns[1].type",
                  "spec.versions[0].additionalPrinterColumns[1].jsonPath"]),
            (|v| v["spec"]["versions"][0]["deprecationWarning"] = json!("old"), &["spec.versions[0].deprecationWarning"]),
            (|v| v["spec"]["conversion"] = json!({"strategy": "Magic"}), &["spec.conversion.strategy"]),
            (|v| v["spec"]["conversion"] = json!({"strategy": "Webhook"}), &["spec.conversion.webhook"]),
            (|v| v["spec"]["conversion"] = json!({"strategy": "None", "webhook": {"conversionReviewVersions": ["v1"]}}), &["spec.conversion.webhook"]),
            (|v| v["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {"clientConfig": {"url": "http://x", "caBundle": "eA=="}, "conversionReviewVersions": ["v2", "v2"]}}),
                &["spec.conversion.webhook.clientConfig.url", "spec.conversion.webhook.conversionReviewVersions[1]", "spec.conversion.webhook.conversionReviewVersions"]),
            (|v| v["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {"clientConfig": {}, "conversionReviewVersions": []}}),
                &["spec.conversion.webhook.clientConfig", "spec.conversion.webhook.conversionReviewVersions"]),
            (|v| v["spec"]["preserveUnknownFields"] = json!(true), &["spec.preserveUnknownFields"]),
        ];
        for (i, (edit, want)) in cases.iter().enumerate() {
            let mut crd = minimal();
            crd.apply_defaults();
            let mut value = serde_json::to_value(&crd).unwrap();
            edit(&mut value);
            let crd: CustomResourceDefinition = serde_json::from_value(value).unwrap();
            let errors = crd.validate();
            assert_eq!(&fields(&errors), want, "case {i}: {errors}");
        }
    }

    #[test]
    fn exact_messages() {
        let mut crd = minimal();
        crd.apply_defaults();
        crd.metadata.name = "gadgets.example.com".into();
        assert_eq!(
            crd.validate().to_string(),
            r#"metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group"#
        );
        let mut crd = minimal();
        crd.apply_defaults();
        crd.spec.versions[0].storage = false;
        assert_eq!(
            crd.validate().to_string(),
            r#"spec.versions: Invalid value: ["v1"]: must have exactly one version marked as storage version"#
        );
    }

    #[test]
    fn update_rules() {
        let mut old = minimal();
        old.apply_defaults();
        let mut new = old.clone();
        new.spec.names.short_names.push("wd".into());
        new.spec.scope = NAMESPACED.into();
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );

        // Once established, scope and kind are fixed too.
        old.status
            .conditions
            .push(CustomResourceDefinitionCondition {
                r#type: ESTABLISHED.into(),
                status: "True".into(),
                ..CustomResourceDefinitionCondition::default()
            });
        new.spec.group = "other.example.com".into();
        new.metadata.name = "widgets.other.example.com".into();
        let errors = new.validate_update(&old);
        assert_eq!(
            fields(&errors),
            ["metadata.name", "spec.scope", "spec.group"]
        );

        // A version once stored may not disappear.
        let mut dropped = old.clone();
        dropped.status.stored_versions = vec!["v1beta1".into(), "v1".into()];
        assert_eq!(
            fields(&dropped.validate_update(&old)),
            ["status.storedVersions[0]"]
        );
    }

    /// `seeds/39-customresourcedefinition-websites.extensions.example.com.yaml`, as JSON.
    fn seed_39() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1beta1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "websites.extensions.example.com"},
            "spec": {
                "scope": "Namespaced",
                "group": "extensions.example.com",
                "version": "v1",
                "names": {"kind": "Website", "singular": "website", "plural": "websites"}
            }
        })
    }

    #[test]
    fn seed_v1beta1_crd_converts() {
        // The v1 type refuses the v1beta1 document outright.
        assert!(serde_json::from_value::<CustomResourceDefinition>(seed_39()).is_err());

        let mut crd = crd_from_v1beta1(&seed_39()).unwrap();
        assert_eq!(
            serde_json::to_value(&crd).unwrap(),
            json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "websites.extensions.example.com"},
                "spec": {
                    "group": "extensions.example.com",
                    "names": {"plural": "websites", "singular": "website", "kind": "Website"},
                    "scope": "Namespaced",
                    "versions": [{"name": "v1", "served": true, "storage": true, "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }}]
                }
            })
        );
        crd.apply_defaults();
        assert!(crd.validate().is_empty(), "{}", crd.validate());
        let resources = crd.api_resources();
        assert_eq!(resources[0].api_version, "extensions.example.com/v1");
        assert_eq!(resources[0].kind, "Website");
        assert_eq!(resources[0].scope, Scope::Namespaced);
    }

    #[test]
    fn v1beta1_conversion_details() {
        let v1beta1 = json!({
            "apiVersion": "apiextensions.k8s.io/v1beta1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {
                "group": "stable.example.com",
                "names": {"plural": "crontabs", "kind": "CronTab"},
                "scope": "Namespaced",
                "preserveUnknownFields": false,
                "versions": [
                    {"name": "v1", "served": true, "storage": true},
                    {"name": "v2", "served": true, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}}
                ],
                "validation": {"openAPIV3Schema": {"properties": {"spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}}},
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Spec", "type": "string", "JSONPath": ".spec.cronSpec"}],
                "conversion": {"strategy": "Webhook", "webhookClientConfig": {"url": "https://conv.example.com/convert"}}
            }
        });
        let mut crd = crd_from_v1beta1(&v1beta1).unwrap();
        let v = serde_json::to_value(&crd).unwrap();
        assert_eq!(
            v["spec"]["versions"][0]["schema"],
            json!({"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}}})
        );
        // v2's own schema wins over the top-level one.
        assert_eq!(
            v["spec"]["versions"][1]["schema"],
            json!({"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}})
        );
        assert_eq!(
            v["spec"]["versions"][1]["subresources"],
            json!({"status": {}})
        );
        assert_eq!(
            v["spec"]["versions"][1]["additionalPrinterColumns"],
            json!([{"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}])
        );
        assert_eq!(
            v["spec"]["conversion"],
            json!({"strategy": "Webhook", "webhook": {
                "clientConfig": {"url": "https://conv.example.com/convert"},
                "conversionReviewVersions": ["v1beta1"]
            }})
        );
        assert!(v["spec"].get("preserveUnknownFields").is_none());
        crd.apply_defaults();
        assert!(crd.validate().is_empty(), "{}", crd.validate());

        // v1 input passes through; other kinds are refused.
        let v1 = crd_from_v1beta1(&rich()).unwrap();
        assert_eq!(serde_json::to_value(&v1).unwrap(), rich());
        assert!(matches!(
            crd_from_v1beta1(&json!({"apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "Pod"})),
            Err(ConversionError::NotACrd { .. })
        ));
        assert!(matches!(
            crd_from_v1beta1(
                &json!({"apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "CustomResourceDefinition", "spec": {"versions": 3}})
            ),
            Err(ConversionError::Decode(_))
        ));
        let err =
            crd_from_v1beta1(&json!({"apiVersion": "v2", "kind": "CustomResourceDefinition"}))
                .unwrap_err();
        assert!(err.to_string().contains("\"v2\""), "{err}");
    }

    #[test]
    fn deeply_nested_schemas_do_not_overflow() {
        // serde_json stops at 128 levels; a schema 63 properties deep is as
        // deep as JSON input gets. Decode (with unknown-field tracking),
        // validate and encode it on a test thread's small stack.
        let depth = 63;
        let mut s = String::new();
        for _ in 0..depth {
            s.push_str(r#"{"type":"object","properties":{"a":"#);
        }
        s.push_str(r#"{"type":"string"}"#);
        for _ in 0..depth {
            s.push_str("}}");
        }
        let mut de = serde_json::Deserializer::from_str(&s);
        let schema: JsonSchemaProps = serde_ignored::deserialize(&mut de, |_| {}).unwrap();
        assert!(validate_schema(&schema, &Path::root("schema"), true).is_empty());
        assert_eq!(serde_json::to_string(&schema).unwrap().len(), s.len());
        let deeper = format!(r#"{{"properties":{{"a":{s}}}}}"#);
        assert!(serde_json::from_str::<JsonSchemaProps>(&deeper).is_err());
    }
}
