//! The scheme: which kinds exist, and how to decode, default, validate and
//! encode them without knowing their Rust type.
//!
//! The API server, the manifest loader and generic tools handle objects of
//! many kinds at once. [`AnyObject`] is the object-safe face of every kind
//! (each [`Resource`] and [`DynamicObject`] implements it), and a [`Scheme`]
//! maps `apiVersion` + `kind` (or group + version + plural, as URLs name
//! them) to a [`KindInfo`] that decodes JSON into the right type.
//!
//! ```
//! use keelson::api::scheme::{FieldValidation, Scheme};
//! use keelson::api::core::Pod;
//!
//! let scheme = Scheme::builtin();
//! let kind = scheme.kind("v1", "Pod").expect("Pod is built in");
//! assert_eq!(kind.resource.plural, "pods");
//!
//! let json = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
//!     "spec":{"containers":[{"name":"c","image":"nginx","colour":"blue"}]}}"#;
//! let decoded = kind.decode(json, FieldValidation::Warn).unwrap();
//! assert_eq!(decoded.unknown_fields, ["spec.containers[0].colour"]);
//!
//! let mut pod = decoded.object;
//! pod.apply_defaults();
//! assert!(pod.validate().is_empty());
//! let pod: &Pod = pod.as_any().downcast_ref().unwrap();
//! assert_eq!(pod.spec.restart_policy, "Always");
//! ```
//!
//! Decoding with [`FieldValidation::Strict`] fails on the first unknown field
//! instead, naming it as Kubernetes does (`unknown field "spec.colour"`).
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;

use super::resource::{ApiResource, Resource, Scope};
use super::validation::{self, ErrorList, NameRule};
use super::{DynamicObject, ObjectMeta, Str, TypeMeta};

/// An object of any kind, behind a pointer: what the API server passes
/// around. Every [`Resource`] implements it, and so does [`DynamicObject`].
///
/// Downcast to the concrete type with [`as_any`](AnyObject::as_any).
pub trait AnyObject: Any + Send + Sync + fmt::Debug {
    /// The metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The metadata, mutably.
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// `apiVersion` and `kind`.
    fn type_meta(&self) -> TypeMeta;
    /// Fills in what Kubernetes defaults.
    fn apply_defaults(&mut self);
    /// Validates the object as for a create.
    fn validate(&self) -> ErrorList;
    /// Validates an update from `old` (which must be of the same type; a
    /// different type is reported as a field error on `kind`).
    fn validate_update(&self, old: &dyn AnyObject) -> ErrorList;
    /// Appends the object's JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
    /// The object as a JSON value.
    fn to_value(&self) -> Result<serde_json::Value, serde_json::Error>;
    /// A deep copy.
    fn clone_object(&self) -> Box<dyn AnyObject>;
    /// True when `other` is the same type and equal.
    fn eq_object(&self, other: &dyn AnyObject) -> bool;
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// For downcasting a box.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    /// For downcasting a shared pointer.
    fn into_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<K: Resource> AnyObject for K {
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
    fn type_meta(&self) -> TypeMeta {
        TypeMeta {
            api_version: Str::from_static(K::API_VERSION),
            kind: Str::from_static(K::KIND),
        }
    }
    fn apply_defaults(&mut self) {
        Resource::apply_defaults(self)
    }
    fn validate(&self) -> ErrorList {
        Resource::validate(self)
    }
    fn validate_update(&self, old: &dyn AnyObject) -> ErrorList {
        match old.as_any().downcast_ref::<K>() {
            Some(old) => Resource::validate_update(self, old),
            None => type_mismatch(K::KIND, old),
        }
    }
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, self)
    }
    fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn clone_object(&self) -> Box<dyn AnyObject> {
        Box::new(self.clone())
    }
    fn eq_object(&self, other: &dyn AnyObject) -> bool {
        other.as_any().downcast_ref::<K>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn into_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

fn type_mismatch(kind: &str, old: &dyn AnyObject) -> ErrorList {
    let mut errors = ErrorList::new();
    errors.push(validation::FieldError::invalid(
        &validation::Path::root("kind"),
        old.type_meta().kind.as_str(),
        format!("must be {kind}"),
    ));
    errors
}

/// A dynamic object's metadata is validated here; its other fields are
/// checked against its CustomResourceDefinition's schema by the API server.
impl AnyObject for DynamicObject {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
    fn type_meta(&self) -> TypeMeta {
        DynamicObject::type_meta(self)
    }
    fn apply_defaults(&mut self) {}
    fn validate(&self) -> ErrorList {
        // The scope is not known from the object alone; namespaced is the
        // stricter check only for the namespace field, which the API server
        // sets from the URL.
        let scope = if self.metadata.namespace.is_empty() {
            Scope::Cluster
        } else {
            Scope::Namespaced
        };
        validation::validate_object_meta(&self.metadata, scope, NameRule::Subdomain)
    }
    fn validate_update(&self, old: &dyn AnyObject) -> ErrorList {
        let mut errors = AnyObject::validate(self);
        errors.extend(validation::validate_object_meta_update(
            &self.metadata,
            old.meta(),
        ));
        errors
    }
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, self)
    }
    fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn clone_object(&self) -> Box<dyn AnyObject> {
        Box::new(self.clone())
    }
    fn eq_object(&self, other: &dyn AnyObject) -> bool {
        other.as_any().downcast_ref::<DynamicObject>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn into_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl dyn AnyObject {
    /// The object as `K`, if it is one.
    pub fn downcast_ref<K: Any>(&self) -> Option<&K> {
        self.as_any().downcast_ref()
    }

    /// The object as `K`, mutably, if it is one.
    pub fn downcast_mut<K: Any>(&mut self) -> Option<&mut K> {
        self.as_any_mut().downcast_mut()
    }

    /// Encodes the object to JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(512);
        self.write_json(&mut out)?;
        Ok(out)
    }
}

impl Clone for Box<dyn AnyObject> {
    fn clone(&self) -> Self {
        self.clone_object()
    }
}

/// What to do with fields the kind does not know, as Kubernetes'
/// `fieldValidation` query parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FieldValidation {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop unknown fields and report them as warnings (the server default).
    #[default]
    Warn,
    /// Refuse the object if it has unknown fields.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter (`Ignore`, `Warn`, `Strict`; empty is
    /// `Warn`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "" | "Warn" => Some(FieldValidation::Warn),
            "Ignore" => Some(FieldValidation::Ignore),
            "Strict" => Some(FieldValidation::Strict),
            _ => None,
        }
    }
}

/// A decoded object and the unknown fields it held (paths as
/// `spec.containers[0].colour`).
#[derive(Debug)]
pub struct Decoded {
    /// The object.
    pub object: Box<dyn AnyObject>,
    /// Fields the kind does not know, dropped while decoding (empty with
    /// [`FieldValidation::Ignore`], which does not look for them).
    pub unknown_fields: Vec<String>,
}

/// Why an object could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid JSON, or a field has the wrong type.
    #[error("{kind} in version {version:?} cannot be handled as a {kind}: {message}")]
    Malformed {
        /// The kind being decoded.
        kind: Str,
        /// Its version.
        version: Str,
        /// What is wrong, with line and column.
        message: String,
    },
    /// [`FieldValidation::Strict`] and the object has unknown fields.
    #[error("strict decoding error: {}", unknown_list(.fields))]
    UnknownFields {
        /// The unknown fields' paths.
        fields: Vec<String>,
    },
}

fn unknown_list(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

type DecodeFn = fn(&[u8], FieldValidation) -> Result<Decoded, DecodeError>;
type FromValueFn = fn(serde_json::Value, FieldValidation) -> Result<Decoded, DecodeError>;
type EmptyFn = fn(&ApiResource) -> Box<dyn AnyObject>;
type FromValueTracedFn =
    fn(serde_json::Value, FieldValidation) -> Result<Decoded, (DecodeError, String)>;

/// One kind of a [`Scheme`]: its description and its decoder.
#[derive(Clone)]
pub struct KindInfo {
    /// What the kind is (group, version, plural, scope, ...).
    pub resource: ApiResource,
    /// The list kind (`PodList`).
    pub list_kind: Str,
    decode: DecodeFn,
    from_value: FromValueFn,
    from_value_traced: FromValueTracedFn,
    empty: EmptyFn,
    dynamic: bool,
}

impl fmt::Debug for KindInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindInfo")
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl KindInfo {
    /// The entry for a compiled-in kind.
    pub fn of<K: Resource>() -> Self {
        KindInfo {
            resource: K::api_resource(),
            list_kind: Str::from(format!("{}List", K::KIND)),
            decode: decode_typed::<K>,
            from_value: from_value_typed::<K>,
            from_value_traced: from_value_traced_typed::<K>,
            empty: |_| Box::new(K::default()),
            dynamic: false,
        }
    }

    /// The entry for a kind served as [`DynamicObject`]s (custom resources).
    pub fn dynamic(resource: ApiResource, list_kind: impl Into<Str>) -> Self {
        KindInfo {
            resource,
            list_kind: list_kind.into(),
            decode: decode_dynamic,
            from_value: from_value_dynamic,
            from_value_traced: |v, m| from_value_dynamic(v, m).map_err(|e| (e, String::new())),
            empty: |r| Box::new(DynamicObject::new(r, "")),
            dynamic: true,
        }
    }

    /// True for kinds served as [`DynamicObject`]s.
    pub fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    /// An empty object of this kind (all fields default; for dynamic kinds,
    /// just `apiVersion` and `kind`).
    pub fn empty(&self) -> Box<dyn AnyObject> {
        (self.empty)(&self.resource)
    }

    /// Decodes JSON bytes into an object of this kind.
    pub fn decode(&self, json: &[u8], mode: FieldValidation) -> Result<Decoded, DecodeError> {
        (self.decode)(json, mode).map_err(|e| self.name_error(e))
    }

    /// Decodes a JSON value into an object of this kind.
    pub fn from_value(
        &self,
        value: serde_json::Value,
        mode: FieldValidation,
    ) -> Result<Decoded, DecodeError> {
        (self.from_value)(value, mode).map_err(|e| self.name_error(e))
    }

    /// Decodes a JSON value like [`from_value`](KindInfo::from_value), and on
    /// failure also returns the path of the offending field
    /// (`spec.containers[0].ports[0].containerPort`; empty for the whole
    /// object). A little slower: the manifest loader uses it to name fields.
    pub fn from_value_traced(
        &self,
        value: serde_json::Value,
        mode: FieldValidation,
    ) -> Result<Decoded, (DecodeError, String)> {
        (self.from_value_traced)(value, mode).map_err(|(e, path)| (self.name_error(e), path))
    }

    fn name_error(&self, e: DecodeError) -> DecodeError {
        match e {
            DecodeError::Malformed { message, .. } => DecodeError::Malformed {
                kind: self.resource.kind.clone(),
                version: self.resource.version.clone(),
                message,
            },
            other => other,
        }
    }
}

fn malformed(e: impl fmt::Display) -> DecodeError {
    DecodeError::Malformed {
        kind: Str::default(),
        version: Str::default(),
        message: e.to_string(),
    }
}

fn finish(
    object: Box<dyn AnyObject>,
    unknown: Vec<String>,
    mode: FieldValidation,
) -> Result<Decoded, DecodeError> {
    if mode == FieldValidation::Strict && !unknown.is_empty() {
        return Err(DecodeError::UnknownFields { fields: unknown });
    }
    Ok(Decoded {
        object,
        unknown_fields: unknown,
    })
}

fn decode_with<'de, T, D>(de: D, mode: FieldValidation) -> Result<(T, Vec<String>), D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    if mode == FieldValidation::Ignore {
        return T::deserialize(de).map(|t| (t, Vec::new()));
    }
    let mut unknown = Vec::new();
    let value = serde_ignored::deserialize(de, |path| unknown.push(field_path(&path)))?;
    Ok((value, unknown))
}

fn decode_typed<K: Resource + DeserializeOwned>(
    json: &[u8],
    mode: FieldValidation,
) -> Result<Decoded, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let (object, unknown): (K, _) = match decode_with(&mut de, mode) {
        Ok(decoded) => decoded,
        Err(e) => return Err(name_failing_field::<K>(json, mode, e)),
    };
    de.end().map_err(malformed)?;
    finish(Box::new(object), unknown, mode)
}

/// The fast path knows no field paths; a failed decode (rare) runs again
/// with tracking so the error names the field (`data.enabled: invalid
/// type: ...`), as Kubernetes' does.
fn name_failing_field<K: Resource + DeserializeOwned>(
    json: &[u8],
    mode: FieldValidation,
    e: serde_json::Error,
) -> DecodeError {
    if e.is_syntax() || e.is_eof() {
        return malformed(e);
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return malformed(e);
    };
    match from_value_traced_typed::<K>(value, mode) {
        Err((_, path)) if !path.is_empty() => malformed(format!("{path}: {e}")),
        _ => malformed(e),
    }
}

fn from_value_typed<K: Resource + DeserializeOwned>(
    value: serde_json::Value,
    mode: FieldValidation,
) -> Result<Decoded, DecodeError> {
    let (object, unknown): (K, _) = decode_with(value, mode).map_err(malformed)?;
    finish(Box::new(object), unknown, mode)
}

fn from_value_traced_typed<K: Resource + DeserializeOwned>(
    value: serde_json::Value,
    mode: FieldValidation,
) -> Result<Decoded, (DecodeError, String)> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    match decode_with::<K, _>(de, mode) {
        Ok((object, unknown)) => {
            finish(Box::new(object), unknown, mode).map_err(|e| (e, String::new()))
        }
        Err(e) => {
            let path = track.path().to_string();
            let path = if path == "." { String::new() } else { path };
            Err((malformed(e), path))
        }
    }
}

fn decode_dynamic(json: &[u8], _mode: FieldValidation) -> Result<Decoded, DecodeError> {
    // Unknown fields of custom resources are found by pruning against the
    // CRD's schema, not here.
    let object: DynamicObject = serde_json::from_slice(json).map_err(malformed)?;
    finish(Box::new(object), Vec::new(), FieldValidation::Ignore)
}

fn from_value_dynamic(
    value: serde_json::Value,
    _mode: FieldValidation,
) -> Result<Decoded, DecodeError> {
    let object: DynamicObject = serde_json::from_value(value).map_err(malformed)?;
    finish(Box::new(object), Vec::new(), FieldValidation::Ignore)
}

/// Formats a `serde_ignored` path as Kubernetes names fields:
/// `spec.containers[0].colour`.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    fn walk(path: &Path<'_>, out: &mut String) {
        match path {
            Path::Root => {}
            Path::Seq { parent, index } => {
                walk(parent, out);
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Path::Map { parent, key } => {
                walk(parent, out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Path::Some { parent } | Path::NewtypeStruct { parent } => walk(parent, out),
            Path::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    let mut out = String::new();
    walk(path, &mut out);
    out
}

/// A registry of kinds: lookups by `apiVersion` + `kind` and by URL
/// coordinates (group, version, plural).
#[derive(Clone, Debug, Default)]
pub struct Scheme {
    kinds: Vec<Arc<KindInfo>>,
    by_kind: HashMap<(Str, Str), usize>,
    by_resource: HashMap<(Str, Str, Str), usize>,
}

impl Scheme {
    /// An empty scheme.
    pub fn new() -> Self {
        Scheme::default()
    }

    /// Every built-in kind (shared, built once).
    pub fn builtin() -> &'static Scheme {
        static BUILTIN: OnceLock<Scheme> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut s = Scheme::new();
            register_builtins(&mut s);
            s
        })
    }

    /// Adds a compiled-in kind; replaces an earlier entry for the same kind.
    pub fn register<K: Resource>(&mut self) -> &mut Self {
        self.insert(KindInfo::of::<K>());
        self
    }

    /// Adds (or replaces) a kind's entry.
    pub fn insert(&mut self, info: KindInfo) {
        let r = &info.resource;
        let kind_key = (r.api_version.clone(), r.kind.clone());
        let res_key = (r.group.clone(), r.version.clone(), r.plural.clone());
        let index = match self.by_kind.get(&kind_key) {
            Some(&i) => {
                let old = &self.kinds[i].resource;
                self.by_resource.remove(&(
                    old.group.clone(),
                    old.version.clone(),
                    old.plural.clone(),
                ));
                self.kinds[i] = Arc::new(info);
                i
            }
            None => {
                self.kinds.push(Arc::new(info));
                self.kinds.len() - 1
            }
        };
        self.by_kind.insert(kind_key, index);
        self.by_resource.insert(res_key, index);
    }

    /// Removes a kind (a deleted CustomResourceDefinition).
    pub fn remove(&mut self, api_version: &str, kind: &str) -> Option<Arc<KindInfo>> {
        let index = self
            .by_kind
            .remove(&(Str::from(api_version), Str::from(kind)))?;
        let removed = self.kinds.remove(index);
        let r = &removed.resource;
        self.by_resource
            .remove(&(r.group.clone(), r.version.clone(), r.plural.clone()));
        for i in self
            .by_kind
            .values_mut()
            .chain(self.by_resource.values_mut())
        {
            if *i > index {
                *i -= 1;
            }
        }
        Some(removed)
    }

    /// The kind with this `apiVersion` and `kind`.
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<&Arc<KindInfo>> {
        let i = self
            .by_kind
            .get(&(Str::from(api_version), Str::from(kind)))?;
        self.kinds.get(*i)
    }

    /// The kind served at `group`/`version`/`plural`.
    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<KindInfo>> {
        let i = self
            .by_resource
            .get(&(Str::from(group), Str::from(version), Str::from(plural)))?;
        self.kinds.get(*i)
    }

    /// The versions in which `kind` of `group` is known, as a hint for
    /// "no kind X in version Y" errors.
    pub fn versions_of(&self, group: &str, kind: &str) -> Vec<Str> {
        self.kinds
            .iter()
            .filter(|k| k.resource.group == group && k.resource.kind == kind)
            .map(|k| k.resource.api_version.clone())
            .collect()
    }

    /// Every kind, in registration order.
    pub fn kinds(&self) -> impl Iterator<Item = &Arc<KindInfo>> + '_ {
        self.kinds.iter()
    }

    /// Decodes an object of any kind in the scheme: reads `apiVersion` and
    /// `kind`, then decodes as that kind.
    pub fn decode(&self, json: &[u8], mode: FieldValidation) -> Result<Decoded, SchemeError> {
        let type_meta: TypeMeta = serde_json::from_slice::<TypeOnly>(json)
            .map_err(|e| SchemeError::Decode(malformed(e)))?
            .into();
        let info = self.lookup(&type_meta)?;
        info.decode(json, mode).map_err(SchemeError::Decode)
    }

    /// The entry for a type, or the error Kubernetes gives for an unknown one.
    pub fn lookup(&self, type_meta: &TypeMeta) -> Result<&Arc<KindInfo>, SchemeError> {
        if type_meta.kind.is_empty() {
            return Err(SchemeError::MissingKind);
        }
        if type_meta.api_version.is_empty() {
            return Err(SchemeError::MissingApiVersion {
                kind: type_meta.kind.clone(),
            });
        }
        self.kind(&type_meta.api_version, &type_meta.kind)
            .ok_or_else(|| SchemeError::UnknownKind {
                api_version: type_meta.api_version.clone(),
                kind: type_meta.kind.clone(),
                known_versions: self.versions_of(type_meta.group(), &type_meta.kind),
            })
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeOnly {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

impl From<TypeOnly> for TypeMeta {
    fn from(t: TypeOnly) -> Self {
        TypeMeta {
            api_version: Str::from(t.api_version.unwrap_or_default()),
            kind: Str::from(t.kind.unwrap_or_default()),
        }
    }
}

/// Why the scheme cannot decode an object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    /// The object has no `kind`.
    #[error("Object 'Kind' is missing")]
    MissingKind,
    /// The object has no `apiVersion`.
    #[error("Object 'apiVersion' is missing in object of kind {kind:?}")]
    MissingApiVersion {
        /// The kind.
        kind: Str,
    },
    /// The kind is not known in that version.
    #[error("no kind {kind:?} is registered for version {api_version:?}{}", hint(.known_versions))]
    UnknownKind {
        /// The requested `apiVersion`.
        api_version: Str,
        /// The requested kind.
        kind: Str,
        /// The versions in which the kind is known.
        known_versions: Vec<Str>,
    },
    /// The object is malformed.
    #[error(transparent)]
    Decode(DecodeError),
}

fn hint(known: &[Str]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        let list: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
        format!(" (it is served as {})", list.join(", "))
    }
}

fn register_builtins(s: &mut Scheme) {
    use super::{
        apiextensions, apps, autoscaling, batch, coordination, core, discovery, networking, policy,
        rbac, scheduling, storage,
    };
    s.register::<core::Pod>()
        .register::<core::PodTemplate>()
        .register::<core::Binding>()
        .register::<core::Node>()
        .register::<core::Service>()
        .register::<core::Endpoints>()
        .register::<core::Namespace>()
        .register::<core::ConfigMap>()
        .register::<core::Secret>()
        .register::<core::ServiceAccount>()
        .register::<core::PersistentVolume>()
        .register::<core::PersistentVolumeClaim>()
        .register::<core::Event>()
        .register::<core::LimitRange>()
        .register::<core::ResourceQuota>()
        .register::<apps::Deployment>()
        .register::<apps::ReplicaSet>()
        .register::<apps::DaemonSet>()
        .register::<apps::StatefulSet>()
        .register::<apps::ControllerRevision>()
        .register::<batch::Job>()
        .register::<batch::CronJob>()
        .register::<discovery::EndpointSlice>()
        .register::<coordination::Lease>()
        .register::<rbac::Role>()
        .register::<rbac::ClusterRole>()
        .register::<rbac::RoleBinding>()
        .register::<rbac::ClusterRoleBinding>()
        .register::<networking::Ingress>()
        .register::<networking::IngressClass>()
        .register::<networking::NetworkPolicy>()
        .register::<autoscaling::v2::HorizontalPodAutoscaler>()
        .register::<autoscaling::v1::HorizontalPodAutoscaler>()
        .register::<storage::StorageClass>()
        .register::<scheduling::PriorityClass>()
        .register::<policy::PodDisruptionBudget>()
        .register::<policy::Eviction>()
        .register::<apiextensions::CustomResourceDefinition>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::Pod;

    #[test]
    fn every_builtin_kind_is_found_by_type_and_by_url() {
        let s = Scheme::builtin();
        assert!(s.kinds().count() >= 38);
        for k in s.kinds() {
            let r = &k.resource;
            assert!(Arc::ptr_eq(s.kind(&r.api_version, &r.kind).unwrap(), k));
            assert!(Arc::ptr_eq(
                s.resource(&r.group, &r.version, &r.plural).unwrap(),
                k
            ));
            assert!(!k.is_dynamic());
        }
        assert_eq!(
            s.resource("apps", "v1", "deployments")
                .unwrap()
                .resource
                .kind,
            "Deployment"
        );
    }

    #[test]
    fn unknown_kinds_name_the_versions_that_exist() {
        let s = Scheme::builtin();
        let err = s
            .decode(
                br#"{"apiVersion":"batch/v1beta1","kind":"CronJob","metadata":{"name":"x"}}"#,
                FieldValidation::Strict,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"no kind "CronJob" is registered for version "batch/v1beta1" (it is served as batch/v1)"#
        );
        assert_eq!(
            s.decode(br#"{"apiVersion":"v1"}"#, FieldValidation::Warn)
                .unwrap_err(),
            SchemeError::MissingKind
        );
        assert!(matches!(
            s.decode(br#"{"kind":"Pod"}"#, FieldValidation::Warn),
            Err(SchemeError::MissingApiVersion { .. })
        ));
        assert!(matches!(
            s.decode(b"{not json", FieldValidation::Warn),
            Err(SchemeError::Decode(_))
        ));
    }

    #[test]
    fn strict_decoding_names_every_unknown_field() {
        let s = Scheme::builtin();
        let json = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","colour":1},
            "spec":{"containers":[{"name":"a","image":"i"},{"name":"b","image":"i","x":{"y":1}}]},"extra":true}"#;
        let err = s.decode(json, FieldValidation::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"strict decoding error: unknown field "metadata.colour", unknown field "spec.containers[1].x", unknown field "extra""#
        );
        let ok = s.decode(json, FieldValidation::Ignore).unwrap();
        assert!(ok.unknown_fields.is_empty());
        assert_eq!(ok.object.meta().name, "p");
    }

    #[test]
    fn malformed_objects_are_named_by_kind_and_version() {
        let kind = Scheme::builtin().kind("v1", "Pod").unwrap();
        let err = kind
            .decode(br#"{"spec":{"containers":"nope"}}"#, FieldValidation::Warn)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(r#"Pod in version "v1" cannot be handled as a Pod: "#),
            "{text}"
        );
        let err = kind
            .decode(br#"{"kind":"Service"}"#, FieldValidation::Warn)
            .unwrap_err();
        assert!(err.to_string().contains("expected \"Pod\""), "{err}");
        assert!(kind
            .decode(
                br#"{"metadata":{"name":"a"}} trailing"#,
                FieldValidation::Warn
            )
            .is_err());
    }

    #[test]
    fn any_object_round_trips_and_downcasts() {
        let kind = Scheme::builtin().kind("v1", "Pod").unwrap();
        let decoded = kind
            .decode(
                br#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#,
                FieldValidation::Strict,
            )
            .unwrap();
        let mut obj = decoded.object;
        obj.apply_defaults();
        let copy = obj.clone();
        assert!(copy.eq_object(obj.as_ref()));
        let json = obj.to_json().unwrap();
        let again = kind.decode(&json, FieldValidation::Strict).unwrap().object;
        assert!(again.eq_object(obj.as_ref()));
        assert!(obj.downcast_ref::<Pod>().is_some());
        assert!(obj
            .validate_update(&crate::api::core::Service::default())
            .iter()
            .any(|e| e.field == "kind"));
        let arc: Arc<dyn AnyObject> = Arc::from(obj);
        let pod: Arc<Pod> = arc.into_any_arc().downcast().unwrap();
        assert_eq!(pod.metadata.name, "p");
    }

    #[test]
    fn dynamic_kinds_can_be_added_and_removed() {
        let mut s = Scheme::builtin().clone();
        let resource = ApiResource {
            group: "extensions.example.com".into(),
            version: "v1".into(),
            api_version: "extensions.example.com/v1".into(),
            kind: "Website".into(),
            plural: "websites".into(),
            singular: "website".into(),
            scope: Scope::Namespaced,
            short_names: vec![],
            categories: vec![],
            subresources: vec![],
        };
        s.insert(KindInfo::dynamic(resource, "WebsiteList"));
        let w = s.kind("extensions.example.com/v1", "Website").unwrap();
        assert!(w.is_dynamic());
        let d = s
            .decode(
                br#"{"apiVersion":"extensions.example.com/v1","kind":"Website","metadata":{"name":"kubia"},"spec":{"gitRepo":"x"}}"#,
                FieldValidation::Strict,
            )
            .unwrap();
        assert_eq!(d.object.meta().name, "kubia");
        assert!(s.remove("extensions.example.com/v1", "Website").is_some());
        assert!(s.kind("extensions.example.com/v1", "Website").is_none());
        // Indexes still point at the right kinds after the removal.
        for k in s.kinds() {
            let r = &k.resource;
            assert!(Arc::ptr_eq(s.kind(&r.api_version, &r.kind).unwrap(), k));
        }
    }
}
