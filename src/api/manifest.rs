//! Manifest loading: multi-document YAML and JSON files into API objects,
//! with line numbers on every error.
//!
//! A [`Loader`] reads what users feed `kubectl apply -f`: YAML streams of
//! documents separated by `---`, JSON objects (one or several in a row), and
//! `kind: List` (or any `*List` with `items`) whose items are loaded one by
//! one. Each object is decoded through a [`Scheme`] into its typed Rust value
//! (or a [`DynamicObject`] for kinds the scheme does not know, when allowed)
//! and comes back as a [`Loaded`]: the object, where it was found (document,
//! item, line) and the warnings it raised (unknown or duplicate fields).
//!
//! Every failure is a [`ManifestError`] carrying the document and item
//! index, the line and column, and the field path in Kubernetes' notation
//! (`spec.template.spec.containers[0].image`) with a typed
//! [`ManifestErrorKind`].
//!
//! ```
//! use keelson::api::manifest::{Loader, ManifestErrorKind};
//! use keelson::api::{core::Pod, FieldValidation, Scheme};
//!
//! let yaml = "\
//! apiVersion: v1
//! kind: Pod
//! metadata:
//!   name: web
//! spec:
//!   containers:
//!   - name: nginx
//!     image: nginx:1.27
//!     colour: blue
//! ---
//! apiVersion: v1
//! kind: Pod
//! metadata:
//!   name: Web
//! spec:
//!   containers:
//!   - {name: nginx, image: nginx}
//! ";
//! let loader = Loader::new(Scheme::builtin()).field_validation(FieldValidation::Warn);
//! let mut results = loader.load_str(yaml);
//!
//! let mut first = results.remove(0).unwrap();
//! assert_eq!((first.document, first.line), (0, 1));
//! assert_eq!(first.warnings[0].field, "spec.containers[0].colour");
//! assert_eq!(first.warnings[0].line, 9);
//! first.default_and_validate().unwrap();
//! let pod: &Pod = first.object.as_any().downcast_ref().unwrap();
//! assert_eq!(pod.spec.restart_policy, "Always");
//!
//! let mut second = results.remove(0).unwrap();
//! let errors = second.default_and_validate().unwrap_err();
//! assert_eq!(errors[0].field, "metadata.name");
//! assert_eq!(errors[0].line, 14);
//! assert!(matches!(*errors[0].kind, ManifestErrorKind::Invalid(_)));
//!
//! // Syntax errors name the line.
//! let err = loader.load_str("kind: Pod\nmetadata:\n  name: [x\n").remove(0).unwrap_err();
//! assert!(matches!(*err.kind, ManifestErrorKind::Syntax(_)));
//! assert_eq!(err.line, 4);
//! ```
//!
//! # YAML as Kubernetes reads it
//!
//! Kubernetes reads YAML with `sigs.k8s.io/yaml`, which resolves scalars by
//! YAML 1.1 rules (go-yaml v2) and then converts the document to JSON. The
//! loader does the same, so a manifest means the same here as in kubectl:
//!
//! - unquoted `yes`/`no`/`on`/`off`/`y`/`n` (and `true`/`false` in three
//!   casings) are booleans, so `value: yes` in an env var is a type error
//!   exactly as Kubernetes reports it; quote it (`"yes"`) for a string;
//! - unquoted numbers are numbers (`port: 80`), quoted ones strings
//!   (`"80"`); a leading `0` is octal (`defaultMode: 0644` is 420), `0x` is
//!   hex, `0b` binary, `_` separators are dropped;
//! - `~`, `null` and empty values are null; `.inf`/`.nan` are refused
//!   (JSON cannot carry them);
//! - anchors, aliases and `<<` merge keys, block scalars (`|`, `>`), flow
//!   collections, comments, `---` and `...` all work; empty documents are
//!   skipped (they still count in document indexes);
//! - non-string mapping keys become their string form (`true`, `80`);
//! - tabs in indentation are syntax errors with the line.
//!
//! Alias expansion is bounded ([`Loader::max_nodes`], against "billion
//! laughs" inputs) and so is nesting ([`Loader::max_depth`]); no input makes
//! the loader panic.
//!
//! # Removed API versions
//!
//! Versions that Kubernetes stopped serving (`extensions/v1beta1`
//! Deployment, `batch/v1beta1` CronJob, `networking.k8s.io/v1beta1` Ingress,
//! `apiextensions.k8s.io/v1beta1` CustomResourceDefinition, ...) are refused
//! with [`ManifestErrorKind::RemovedApi`], naming the release that removed
//! them and the version to use instead.
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span};
use serde_json::{Map, Value};

use super::scheme::{AnyObject, DecodeError, FieldValidation, Scheme, SchemeError};
use super::validation::FieldError;
use super::{DynamicObject, Str, TypeMeta};

/// What went wrong, without the position (see [`ManifestError`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ManifestErrorKind {
    /// The input is not UTF-8.
    #[error("the input is not valid UTF-8: {0}")]
    Encoding(String),
    /// The YAML is malformed.
    #[error("error converting YAML to JSON: yaml: {0}")]
    Syntax(String),
    /// The JSON is malformed.
    #[error("error parsing JSON: {0}")]
    Json(String),
    /// A value YAML can express and JSON cannot (`.nan`, a mapping as a key).
    #[error("unsupported YAML value: {0}")]
    Unsupported(String),
    /// Nesting deeper than [`Loader::max_depth`].
    #[error("the document nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More values than [`Loader::max_nodes`] (after expanding aliases).
    #[error("the document expands to more than {max} values")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The document is not a mapping (a scalar or a sequence at top level).
    #[error("the document is a {found}, not an object")]
    NotAnObject {
        /// What it is: `string`, `number`, `boolean`, `sequence`.
        found: &'static str,
    },
    /// No `kind`.
    #[error("Object 'Kind' is missing")]
    MissingKind,
    /// No `apiVersion`.
    #[error("Object 'apiVersion' is missing in object of kind {kind:?}")]
    MissingApiVersion {
        /// The kind.
        kind: Str,
    },
    /// A version Kubernetes no longer serves.
    #[error(
        "no kind {kind:?} in version {api_version:?}: it was removed in Kubernetes {removed_in}{}",
        replacement_hint(.replacement)
    )]
    RemovedApi {
        /// The requested `apiVersion`.
        api_version: Str,
        /// The kind.
        kind: Str,
        /// The Kubernetes release that stopped serving it (`1.16`).
        removed_in: &'static str,
        /// The `apiVersion` to use instead, when there is one.
        replacement: Option<&'static str>,
    },
    /// The scheme does not know the kind (and unknown kinds are not allowed).
    #[error(
        "no matches for kind {kind:?} in version {api_version:?}{} (ensure CRDs are installed first)",
        served_hint(.known_versions)
    )]
    UnknownKind {
        /// The requested `apiVersion`.
        api_version: Str,
        /// The kind.
        kind: Str,
        /// The versions in which the scheme knows the kind.
        known_versions: Vec<Str>,
    },
    /// A field has the wrong type (the message is serde's).
    #[error("{message}")]
    InvalidType {
        /// What is wrong.
        message: String,
    },
    /// [`FieldValidation::Strict`]: fields the kind does not know.
    #[error("strict decoding error: {}", quoted_list("unknown field", .fields))]
    UnknownFields {
        /// Their paths.
        fields: Vec<String>,
    },
    /// [`FieldValidation::Strict`]: a key given twice in one mapping.
    #[error("strict decoding error: {}", quoted_list("duplicate field", .fields))]
    DuplicateFields {
        /// Their paths.
        fields: Vec<String>,
    },
    /// A validation error (after defaulting).
    #[error("{0}")]
    Invalid(FieldError),
}

fn replacement_hint(replacement: &Option<&'static str>) -> String {
    match replacement {
        Some(r) => format!("; use {r}"),
        None => "; it has no replacement".to_string(),
    }
}

fn served_hint(known: &[Str]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        let list: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
        format!(" (it is served as {})", list.join(", "))
    }
}

fn quoted_list(what: &str, fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("{what} {f:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An error in a manifest, with where it is.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ManifestError {
    /// The document's index in the stream (0-based, counting empty ones).
    pub document: usize,
    /// The item's index when the document is a `List`.
    pub item: Option<usize>,
    /// The line (1-based) of the offending field, or of the document when
    /// no field is to blame.
    pub line: usize,
    /// The column (1-based).
    pub column: usize,
    /// The field path (`spec.template.spec.containers[0].image`), empty when
    /// the error is not about one field.
    pub field: String,
    /// What is wrong.
    pub kind: Box<ManifestErrorKind>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: ", self.line, self.column)?;
        let names_field = matches!(
            *self.kind,
            ManifestErrorKind::Invalid(_)
                | ManifestErrorKind::UnknownFields { .. }
                | ManifestErrorKind::DuplicateFields { .. }
        );
        if !self.field.is_empty() && !names_field {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.kind)
    }
}

/// A warning about a loaded object (the object is still usable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The line (1-based) of the field.
    pub line: usize,
    /// The column (1-based).
    pub column: usize,
    /// The field path.
    pub field: String,
    /// What Kubernetes would say (`unknown field "spec.colour"`).
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Line and column (both 1-based) of every field of a document, by path.
#[derive(Clone, Debug, Default)]
pub struct Positions {
    by_path: HashMap<String, (u32, u32)>,
}

impl Positions {
    fn insert(&mut self, path: &str, mark: Marker) {
        let line = u32::try_from(mark.line()).unwrap_or(u32::MAX);
        let col = u32::try_from(mark.col().saturating_add(1)).unwrap_or(u32::MAX);
        self.by_path.entry(path.to_string()).or_insert((line, col));
    }

    /// The position of `path`, or of its nearest ancestor that has one.
    ///
    /// Map entries may be named either way: `data.key` as the parser
    /// records them, or `data[key]` as validation errors name them.
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let mut path = path;
        loop {
            if let Some(&(l, c)) = self.by_path.get(path) {
                return Some((l as usize, c as usize));
            }
            if let Some(&(l, c)) = map_keys_as_fields(path).and_then(|p| self.by_path.get(&p)) {
                return Some((l as usize, c as usize));
            }
            if path.is_empty() {
                return None;
            }
            path = parent_path(path);
        }
    }
}

/// `data[my key]` → `data.my key`, `requests[cpu]` → `requests.cpu`:
/// validation names map entries by key, the parser records them as fields.
/// Index segments (`[0]`) stay; `None` when there is no key segment.
fn map_keys_as_fields(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut changed = false;
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let key = &after[..close];
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(key);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
            changed = true;
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// `a.b[0]` → `a.b`, `a.b` → `a`, `a` → ``.
fn parent_path(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// One parsed document: its JSON value and where its fields are.
#[derive(Clone, Debug)]
pub struct Document {
    /// The index in the stream (0-based, counting empty documents).
    pub index: usize,
    /// The line (1-based) where the document's content starts.
    pub line: usize,
    /// The content, converted to JSON as Kubernetes converts YAML.
    pub value: Value,
    /// Positions of its fields.
    pub positions: Arc<Positions>,
    /// Paths of keys given twice in one mapping (the last one wins).
    pub duplicates: Vec<String>,
}

/// An object loaded from a manifest.
#[derive(Debug)]
pub struct Loaded {
    /// The object (typed, or a [`DynamicObject`]).
    pub object: Box<dyn AnyObject>,
    /// The document's index in the stream (0-based).
    pub document: usize,
    /// The item's index when the document is a `List`.
    pub item: Option<usize>,
    /// The line (1-based) where the object starts.
    pub line: usize,
    /// Unknown and duplicate fields (with [`FieldValidation::Warn`]).
    pub warnings: Vec<Warning>,
    positions: Arc<Positions>,
    prefix: String,
}

impl Loaded {
    /// Line and column (1-based) of a field of this object
    /// (`spec.replicas`), or of its nearest ancestor; the object's own line
    /// when nothing matches.
    pub fn position(&self, field: &str) -> (usize, usize) {
        self.positions
            .locate(&join_path(&self.prefix, field))
            .unwrap_or((self.line, 1))
    }

    /// The object as kubectl names it: `deployment.apps/kubia`, `pod/web`.
    pub fn display_name(&self) -> String {
        display_name(&self.object.type_meta(), &self.object.meta().name)
    }

    /// Applies Kubernetes' defaults to the object, then validates it as for
    /// a create. Each validation error comes back with the line of its
    /// field.
    pub fn default_and_validate(&mut self) -> Result<(), Vec<ManifestError>> {
        self.object.apply_defaults();
        let errors = self.object.validate();
        if errors.is_empty() {
            return Ok(());
        }
        Err(errors
            .into_vec()
            .into_iter()
            .map(|e| {
                let (line, column) = self.position(&e.field);
                ManifestError {
                    document: self.document,
                    item: self.item,
                    line,
                    column,
                    field: e.field.clone(),
                    kind: Box::new(ManifestErrorKind::Invalid(e)),
                }
            })
            .collect())
    }
}

/// kubectl's name for an object: lower-case kind, `.group` unless core,
/// `/name`.
pub fn display_name(type_meta: &TypeMeta, name: &str) -> String {
    let kind = type_meta.kind.to_ascii_lowercase();
    let group = type_meta.group();
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
}

/// Loads manifests through a [`Scheme`]; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Loader<'s> {
    scheme: &'s Scheme,
    field_validation: FieldValidation,
    allow_unknown_kinds: bool,
    max_depth: usize,
    max_nodes: usize,
}

impl<'s> Loader<'s> {
    /// A loader over `scheme` with `fieldValidation=Strict` (kubectl's
    /// default), unknown kinds refused, nesting up to 256 levels and up to
    /// 1,000,000 values per document.
    pub fn new(scheme: &'s Scheme) -> Self {
        Loader {
            scheme,
            field_validation: FieldValidation::Strict,
            allow_unknown_kinds: false,
            max_depth: 256,
            max_nodes: 1_000_000,
        }
    }

    /// What to do with unknown (and duplicate) fields: refuse the object
    /// (`Strict`), warn (`Warn`) or drop them silently (`Ignore`).
    pub fn field_validation(mut self, mode: FieldValidation) -> Self {
        self.field_validation = mode;
        self
    }

    /// Load kinds the scheme does not know as [`DynamicObject`]s instead of
    /// refusing them (removed versions of built-in kinds are still refused).
    pub fn allow_unknown_kinds(mut self, allow: bool) -> Self {
        self.allow_unknown_kinds = allow;
        self
    }

    /// The deepest nesting accepted.
    pub fn max_depth(mut self, max: usize) -> Self {
        self.max_depth = max;
        self
    }

    /// The most values one document may hold after expanding aliases.
    pub fn max_nodes(mut self, max: usize) -> Self {
        self.max_nodes = max;
        self
    }

    /// Loads every object of a stream of bytes (UTF-8, an optional byte
    /// order mark).
    pub fn load_bytes(&self, input: &[u8]) -> Vec<Result<Loaded, ManifestError>> {
        match std::str::from_utf8(input) {
            Ok(s) => self.load_str(s),
            Err(e) => {
                let before = &input[..e.valid_up_to()];
                let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
                let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
                vec![Err(ManifestError {
                    document: 0,
                    item: None,
                    line,
                    column,
                    field: String::new(),
                    kind: Box::new(ManifestErrorKind::Encoding(e.to_string())),
                })]
            }
        }
    }

    /// Loads every object of a YAML or JSON stream: one result per object
    /// (per item of a list), in order. A syntax error ends the stream: the
    /// objects before it are returned, then the error.
    pub fn load_str(&self, input: &str) -> Vec<Result<Loaded, ManifestError>> {
        let (documents, error) = self.parse_documents(input);
        let mut out = Vec::new();
        for doc in documents {
            self.load_document(doc, &mut out);
        }
        if let Some(e) = error {
            out.push(Err(e));
        }
        out
    }

    /// Loads every object, or returns the first error.
    pub fn load_all(&self, input: &str) -> Result<Vec<Loaded>, ManifestError> {
        self.load_str(input).into_iter().collect()
    }

    /// Parses a stream into documents (JSON values with positions) without
    /// decoding them as objects. Empty documents are left out. JSON input
    /// (starting with `{`) is read as a sequence of JSON objects.
    pub fn parse_documents(&self, input: &str) -> (Vec<Document>, Option<ManifestError>) {
        let input = input.strip_prefix('\u{feff}').unwrap_or(input);
        if input.trim_start().starts_with('{') {
            parse_json_stream(input)
        } else {
            YamlBuilder::new(self.max_depth, self.max_nodes).parse(input)
        }
    }

    fn load_document(&self, doc: Document, out: &mut Vec<Result<Loaded, ManifestError>>) {
        let at = At {
            document: doc.index,
            item: None,
            line: doc.line,
            positions: doc.positions.clone(),
            prefix: String::new(),
        };
        let value = match doc.value {
            Value::Object(map) => map,
            other => {
                out.push(Err(at.error(
                    "",
                    ManifestErrorKind::NotAnObject {
                        found: type_name(&other),
                    },
                )));
                return;
            }
        };
        let duplicates = doc.duplicates;
        if is_list(&value, self.scheme) {
            let Some(Value::Array(items)) = value.get("items") else {
                return;
            };
            let items = items.clone();
            for (i, item) in items.into_iter().enumerate() {
                let prefix = format!("items[{i}]");
                let line = doc
                    .positions
                    .locate(&prefix)
                    .map(|(l, _)| l)
                    .unwrap_or(doc.line);
                let item_at = At {
                    document: doc.index,
                    item: Some(i),
                    line,
                    positions: doc.positions.clone(),
                    prefix: prefix.clone(),
                };
                let dups: Vec<String> = duplicates
                    .iter()
                    .filter_map(|d| d.strip_prefix(&prefix))
                    .map(|d| d.trim_start_matches('.').to_string())
                    .collect();
                out.push(match item {
                    Value::Object(map) => self.load_object(map, dups, item_at),
                    other => Err(item_at.error(
                        "",
                        ManifestErrorKind::NotAnObject {
                            found: type_name(&other),
                        },
                    )),
                });
            }
            return;
        }
        out.push(self.load_object(value, duplicates, at));
    }

    fn load_object(
        &self,
        map: Map<String, Value>,
        duplicates: Vec<String>,
        at: At,
    ) -> Result<Loaded, ManifestError> {
        let type_meta = read_type_meta(&map, &at)?;
        if self.field_validation == FieldValidation::Strict && !duplicates.is_empty() {
            let field = duplicates[0].clone();
            return Err(at.error(
                &field,
                ManifestErrorKind::DuplicateFields { fields: duplicates },
            ));
        }
        let mut warnings = Vec::new();
        if self.field_validation == FieldValidation::Warn {
            for d in &duplicates {
                warnings.push(at.warning(d, format!("duplicate field {d:?}")));
            }
        }
        let value = Value::Object(map);
        let decoded = match self.scheme.lookup(&type_meta) {
            Ok(info) => info.from_value_traced(value, self.field_validation),
            Err(SchemeError::UnknownKind {
                api_version,
                kind,
                known_versions,
            }) => {
                if let Some((removed_in, replacement)) = removed_api(&api_version, &kind) {
                    return Err(at.error(
                        "apiVersion",
                        ManifestErrorKind::RemovedApi {
                            api_version,
                            kind,
                            removed_in,
                            replacement,
                        },
                    ));
                }
                if !self.allow_unknown_kinds {
                    return Err(at.error(
                        "apiVersion",
                        ManifestErrorKind::UnknownKind {
                            api_version,
                            kind,
                            known_versions,
                        },
                    ));
                }
                let mut track = serde_path_to_error::Track::new();
                let de = serde_path_to_error::Deserializer::new(value, &mut track);
                match <DynamicObject as serde::Deserialize>::deserialize(de) {
                    Ok(obj) => Ok(super::scheme::Decoded {
                        object: Box::new(obj),
                        unknown_fields: Vec::new(),
                    }),
                    Err(e) => {
                        let path = clean_path(track.path().to_string());
                        return Err(at.error(
                            &path,
                            ManifestErrorKind::InvalidType {
                                message: e.to_string(),
                            },
                        ));
                    }
                }
            }
            Err(SchemeError::MissingKind) => {
                return Err(at.error("kind", ManifestErrorKind::MissingKind))
            }
            Err(SchemeError::MissingApiVersion { kind }) => {
                return Err(at.error("apiVersion", ManifestErrorKind::MissingApiVersion { kind }))
            }
            Err(SchemeError::Decode(e)) => Err((e, String::new())),
        };
        match decoded {
            Ok(decoded) => {
                for field in &decoded.unknown_fields {
                    warnings.push(at.warning(field, format!("unknown field {field:?}")));
                }
                Ok(Loaded {
                    object: decoded.object,
                    document: at.document,
                    item: at.item,
                    line: at.line,
                    warnings,
                    positions: at.positions,
                    prefix: at.prefix,
                })
            }
            Err((DecodeError::UnknownFields { fields }, _)) => {
                let field = fields.first().cloned().unwrap_or_default();
                Err(at.error(&field, ManifestErrorKind::UnknownFields { fields }))
            }
            Err((DecodeError::Malformed { message, .. }, path)) => {
                let path = clean_path(path);
                Err(at.error(&path, ManifestErrorKind::InvalidType { message }))
            }
        }
    }
}

fn clean_path(path: String) -> String {
    if path == "." || path == "?" {
        String::new()
    } else {
        path
    }
}

/// Where an object is, to build its errors and warnings.
struct At {
    document: usize,
    item: Option<usize>,
    line: usize,
    positions: Arc<Positions>,
    prefix: String,
}

impl At {
    fn locate(&self, field: &str) -> (usize, usize) {
        if field.is_empty() {
            return self
                .positions
                .locate(&self.prefix)
                .filter(|_| !self.prefix.is_empty())
                .unwrap_or((self.line, 1));
        }
        self.positions
            .locate(&join_path(&self.prefix, field))
            .unwrap_or((self.line, 1))
    }

    fn error(&self, field: &str, kind: ManifestErrorKind) -> ManifestError {
        let (line, column) = self.locate(field);
        ManifestError {
            document: self.document,
            item: self.item,
            line,
            column,
            field: field.to_string(),
            kind: Box::new(kind),
        }
    }

    fn warning(&self, field: &str, message: String) -> Warning {
        let (line, column) = self.locate(field);
        Warning {
            line,
            column,
            field: field.to_string(),
            message,
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "mapping",
    }
}

fn read_type_meta(map: &Map<String, Value>, at: &At) -> Result<TypeMeta, ManifestError> {
    let field = |name: &str| -> Result<Str, ManifestError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(Str::default()),
            Some(Value::String(s)) => Ok(Str::from(s.as_str())),
            Some(other) => Err(at.error(
                name,
                ManifestErrorKind::InvalidType {
                    message: format!("invalid type: {}, expected a string", type_name(other)),
                },
            )),
        }
    };
    Ok(TypeMeta {
        api_version: field("apiVersion")?,
        kind: field("kind")?,
    })
}

/// `kind: List`, or a `*List` kind the scheme does not know with `items`.
fn is_list(map: &Map<String, Value>, scheme: &Scheme) -> bool {
    let Some(Value::String(kind)) = map.get("kind") else {
        return false;
    };
    if !matches!(map.get("items"), Some(Value::Array(_))) {
        return false;
    }
    if kind == "List" {
        return true;
    }
    let api_version = match map.get("apiVersion") {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    };
    kind.ends_with("List") && scheme.kind(api_version, kind).is_none()
}

/// Versions Kubernetes stopped serving: (apiVersion, kind) → (release that
/// removed it, replacement apiVersion). From the Kubernetes deprecated API
/// migration guide.
const REMOVED_APIS: &[(&str, &str, &str, Option<&str>)] = &[
    ("extensions/v1beta1", "Deployment", "1.16", Some("apps/v1")),
    ("extensions/v1beta1", "DaemonSet", "1.16", Some("apps/v1")),
    ("extensions/v1beta1", "ReplicaSet", "1.16", Some("apps/v1")),
    (
        "extensions/v1beta1",
        "NetworkPolicy",
        "1.16",
        Some("networking.k8s.io/v1"),
    ),
    (
        "extensions/v1beta1",
        "PodSecurityPolicy",
        "1.16",
        Some("policy/v1beta1"),
    ),
    (
        "extensions/v1beta1",
        "Ingress",
        "1.22",
        Some("networking.k8s.io/v1"),
    ),
    ("apps/v1beta1", "Deployment", "1.16", Some("apps/v1")),
    ("apps/v1beta1", "StatefulSet", "1.16", Some("apps/v1")),
    ("apps/v1beta1", "ReplicaSet", "1.16", Some("apps/v1")),
    ("apps/v1beta1", "DaemonSet", "1.16", Some("apps/v1")),
    (
        "apps/v1beta1",
        "ControllerRevision",
        "1.16",
        Some("apps/v1"),
    ),
    ("apps/v1beta2", "Deployment", "1.16", Some("apps/v1")),
    ("apps/v1beta2", "StatefulSet", "1.16", Some("apps/v1")),
    ("apps/v1beta2", "ReplicaSet", "1.16", Some("apps/v1")),
    ("apps/v1beta2", "DaemonSet", "1.16", Some("apps/v1")),
    (
        "apps/v1beta2",
        "ControllerRevision",
        "1.16",
        Some("apps/v1"),
    ),
    ("batch/v1beta1", "CronJob", "1.25", Some("batch/v1")),
    ("batch/v2alpha1", "CronJob", "1.21", Some("batch/v1")),
    (
        "networking.k8s.io/v1beta1",
        "Ingress",
        "1.22",
        Some("networking.k8s.io/v1"),
    ),
    (
        "networking.k8s.io/v1beta1",
        "IngressClass",
        "1.22",
        Some("networking.k8s.io/v1"),
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        "1.22",
        Some("apiextensions.k8s.io/v1"),
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "Role",
        "1.22",
        Some("rbac.authorization.k8s.io/v1"),
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        "1.22",
        Some("rbac.authorization.k8s.io/v1"),
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        "1.22",
        Some("rbac.authorization.k8s.io/v1"),
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        "1.22",
        Some("rbac.authorization.k8s.io/v1"),
    ),
    (
        "coordination.k8s.io/v1beta1",
        "Lease",
        "1.22",
        Some("coordination.k8s.io/v1"),
    ),
    (
        "scheduling.k8s.io/v1beta1",
        "PriorityClass",
        "1.22",
        Some("scheduling.k8s.io/v1"),
    ),
    (
        "storage.k8s.io/v1beta1",
        "StorageClass",
        "1.22",
        Some("storage.k8s.io/v1"),
    ),
    (
        "discovery.k8s.io/v1beta1",
        "EndpointSlice",
        "1.25",
        Some("discovery.k8s.io/v1"),
    ),
    (
        "policy/v1beta1",
        "PodDisruptionBudget",
        "1.25",
        Some("policy/v1"),
    ),
    ("policy/v1beta1", "PodSecurityPolicy", "1.25", None),
    (
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        "1.25",
        Some("autoscaling/v2"),
    ),
    (
        "autoscaling/v2beta2",
        "HorizontalPodAutoscaler",
        "1.26",
        Some("autoscaling/v2"),
    ),
];

/// The release that removed `apiVersion`/`kind` and its replacement, if
/// Kubernetes once served it.
pub fn removed_api(api_version: &str, kind: &str) -> Option<(&'static str, Option<&'static str>)> {
    REMOVED_APIS
        .iter()
        .find(|(v, k, _, _)| *v == api_version && *k == kind)
        .map(|&(_, _, removed, replacement)| (removed, replacement))
}

/// Converts one YAML document to JSON as Kubernetes does (see the
/// [module docs](self)); for YAML request bodies. An empty input is `null`;
/// more than one document is an error.
///
/// ```
/// let v = keelson::api::manifest::yaml_to_json("a: yes\nb: '80'\nc: 0644\n").unwrap();
/// assert_eq!(v, serde_json::json!({"a": true, "b": "80", "c": 420}));
/// ```
pub fn yaml_to_json(input: &str) -> Result<Value, ManifestError> {
    let (mut docs, error) = YamlBuilder::new(256, 1_000_000).parse(input);
    if let Some(e) = error {
        return Err(e);
    }
    if docs.len() > 1 {
        let line = docs[1].line;
        return Err(ManifestError {
            document: docs[1].index,
            item: None,
            line,
            column: 1,
            field: String::new(),
            kind: Box::new(ManifestErrorKind::Syntax(
                "expected a single document".to_string(),
            )),
        });
    }
    Ok(docs.pop().map(|d| d.value).unwrap_or(Value::Null))
}

fn parse_json_stream(input: &str) -> (Vec<Document>, Option<ManifestError>) {
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(input).into_iter::<Value>();
    let mut index = 0;
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => return (docs, None),
            Some(Ok(value)) => {
                let skipped = input
                    .get(offset..)
                    .map(|rest| rest.len() - rest.trim_start().len())
                    .unwrap_or(0);
                let start = offset + skipped;
                let line = 1 + input
                    .get(..start)
                    .map(|s| s.matches('\n').count())
                    .unwrap_or(0);
                docs.push(Document {
                    index,
                    line,
                    value,
                    positions: Arc::new(Positions::default()),
                    duplicates: Vec::new(),
                });
                index += 1;
            }
            Some(Err(e)) => {
                return (
                    docs,
                    Some(ManifestError {
                        document: index,
                        item: None,
                        line: e.line().max(1),
                        column: e.column().max(1),
                        field: String::new(),
                        kind: Box::new(ManifestErrorKind::Json(e.to_string())),
                    }),
                );
            }
        }
    }
}

/// A collection being built.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        path_len: usize,
        nodes: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<(String, bool)>,
        anchor: usize,
        path_len: usize,
        merges: Vec<Value>,
        nodes: usize,
    },
}

/// Builds JSON values from saphyr's events, recording field positions.
struct YamlBuilder {
    max_depth: usize,
    max_nodes: usize,
    anchors: HashMap<usize, (Value, usize)>,
    frames: Vec<Frame>,
    path: String,
    positions: Positions,
    duplicates: Vec<String>,
    nodes: usize,
    root: Option<(Value, Marker)>,
    root_mark: Option<Marker>,
}

impl YamlBuilder {
    fn new(max_depth: usize, max_nodes: usize) -> Self {
        YamlBuilder {
            max_depth,
            max_nodes,
            anchors: HashMap::new(),
            frames: Vec::new(),
            path: String::new(),
            positions: Positions::default(),
            duplicates: Vec::new(),
            nodes: 0,
            root: None,
            root_mark: None,
        }
    }

    fn parse(mut self, input: &str) -> (Vec<Document>, Option<ManifestError>) {
        let mut docs = Vec::new();
        let mut index = 0usize;
        let mut parser = Parser::new_from_str(input);
        let err = |index: usize, mark: Marker, kind: ManifestErrorKind| ManifestError {
            document: index,
            item: None,
            line: mark.line().max(1),
            column: mark.col() + 1,
            field: String::new(),
            kind: Box::new(kind),
        };
        loop {
            let (event, span) = match parser.next_event() {
                None => return (docs, None),
                Some(Ok(e)) => e,
                Some(Err(e)) => return (docs, Some(syntax_error(index, &e))),
            };
            match self.event(event, span) {
                Ok(Some(())) => {
                    if let Some((value, mark)) = self.root.take() {
                        if !value.is_null() {
                            docs.push(Document {
                                index,
                                line: mark.line().max(1),
                                value,
                                positions: Arc::new(std::mem::take(&mut self.positions)),
                                duplicates: std::mem::take(&mut self.duplicates),
                            });
                        }
                    }
                    self.reset();
                    index += 1;
                }
                Ok(None) => {}
                Err((mark, kind)) => return (docs, Some(err(index, mark, kind))),
            }
        }
    }

    fn reset(&mut self) {
        self.anchors.clear();
        self.frames.clear();
        self.path.clear();
        self.positions = Positions::default();
        self.duplicates.clear();
        self.nodes = 0;
        self.root = None;
        self.root_mark = None;
    }

    /// Handles one event; `Some(())` at the end of a document.
    fn event(
        &mut self,
        event: Event<'_>,
        span: Span,
    ) -> Result<Option<()>, (Marker, ManifestErrorKind)> {
        let mark = span.start;
        match event {
            Event::DocumentEnd => return Ok(Some(())),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) => {}
            Event::Alias(id) => {
                let is_key = self.begin_node(mark);
                let Some((value, size)) = self.anchors.get(&id).cloned() else {
                    return Err((
                        mark,
                        ManifestErrorKind::Syntax("unknown anchor".to_string()),
                    ));
                };
                self.count(size, mark)?;
                self.emit(value, size, mark, is_key, false)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_key = self.begin_node(mark);
                let tag = tag.map(|t| t.suffix.clone());
                let value = resolve_scalar(&text, style, tag.as_deref(), is_key)
                    .map_err(|m| (mark, ManifestErrorKind::Unsupported(m)))?;
                self.count(1, mark)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), 1));
                }
                let merge_key = is_key && style == ScalarStyle::Plain && text == "<<";
                self.emit(value, 1, mark, is_key, merge_key)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let is_key = self.begin_node(mark);
                if is_key {
                    return Err((
                        mark,
                        ManifestErrorKind::Unsupported(
                            "a mapping or sequence as a mapping key".to_string(),
                        ),
                    ));
                }
                if self.frames.len() >= self.max_depth {
                    return Err((
                        mark,
                        ManifestErrorKind::TooDeep {
                            max: self.max_depth,
                        },
                    ));
                }
                self.count(1, mark)?;
                let path_len = self.path.len();
                self.frames
                    .push(if matches!(event, Event::SequenceStart(..)) {
                        Frame::Seq {
                            items: Vec::new(),
                            anchor,
                            path_len,
                            nodes: 1,
                        }
                    } else {
                        Frame::Map {
                            map: Map::new(),
                            key: None,
                            anchor,
                            path_len,
                            merges: Vec::new(),
                            nodes: 1,
                        }
                    });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.frames.pop() else {
                    return Ok(None);
                };
                let (value, anchor, path_len, nodes) = match frame {
                    Frame::Seq {
                        items,
                        anchor,
                        path_len,
                        nodes,
                    } => (Value::Array(items), anchor, path_len, nodes),
                    Frame::Map {
                        mut map,
                        anchor,
                        path_len,
                        merges,
                        nodes,
                        ..
                    } => {
                        for merge in merges {
                            apply_merge(&mut map, merge)
                                .map_err(|m| (mark, ManifestErrorKind::Unsupported(m)))?;
                        }
                        (Value::Object(map), anchor, path_len, nodes)
                    }
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), nodes));
                }
                self.path.truncate(path_len);
                self.emit(value, nodes, mark, false, false)?;
            }
        }
        Ok(None)
    }

    fn count(&mut self, n: usize, mark: Marker) -> Result<(), (Marker, ManifestErrorKind)> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.max_nodes {
            return Err((
                mark,
                ManifestErrorKind::TooLarge {
                    max: self.max_nodes,
                },
            ));
        }
        Ok(())
    }

    /// Called at the start of every node: extends the path for sequence
    /// items and records positions. True when the node is a mapping key.
    fn begin_node(&mut self, mark: Marker) -> bool {
        match self.frames.last() {
            None => {
                if self.root_mark.is_none() {
                    self.root_mark = Some(mark);
                    self.positions.insert("", mark);
                }
                false
            }
            Some(Frame::Seq { items, .. }) => {
                use std::fmt::Write;
                let _ = write!(self.path, "[{}]", items.len());
                self.positions.insert(&self.path, mark);
                false
            }
            Some(Frame::Map { key: None, .. }) => true,
            Some(Frame::Map { key: Some(_), .. }) => false,
        }
    }

    /// Places a finished node into its parent.
    fn emit(
        &mut self,
        value: Value,
        nodes: usize,
        mark: Marker,
        is_key: bool,
        merge_key: bool,
    ) -> Result<(), (Marker, ManifestErrorKind)> {
        let path = &mut self.path;
        match self.frames.last_mut() {
            None => {
                let start = self.root_mark.unwrap_or(mark);
                self.root = Some((value, start));
            }
            Some(Frame::Seq {
                items,
                path_len,
                nodes: n,
                ..
            }) => {
                items.push(value);
                *n = n.saturating_add(nodes);
                path.truncate(*path_len);
            }
            Some(Frame::Map {
                map,
                key,
                path_len,
                merges,
                nodes: n,
                ..
            }) => {
                *n = n.saturating_add(nodes);
                match key.take() {
                    None => {
                        debug_assert!(is_key);
                        let name = key_string(&value)
                            .map_err(|m| (mark, ManifestErrorKind::Unsupported(m)))?;
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(&name);
                        self.positions.insert(path, mark);
                        *key = Some((name, merge_key));
                    }
                    Some((_, true)) => {
                        merges.push(value);
                        path.truncate(*path_len);
                    }
                    Some((name, false)) => {
                        if map.insert(name, value).is_some() {
                            self.duplicates.push(path.clone());
                        }
                        path.truncate(*path_len);
                    }
                }
            }
        }
        Ok(())
    }
}

fn syntax_error(document: usize, e: &ScanError) -> ManifestError {
    let mark = e.marker();
    ManifestError {
        document,
        item: None,
        line: mark.line().max(1),
        column: mark.col() + 1,
        field: String::new(),
        kind: Box::new(ManifestErrorKind::Syntax(format!(
            "line {}: {}",
            mark.line().max(1),
            e.info()
        ))),
    }
}

/// `<<: *base` or `<<: [*a, *b]`: keys of the merged mappings that the
/// mapping does not set itself (earlier mappings in a list win).
fn apply_merge(map: &mut Map<String, Value>, merge: Value) -> Result<(), String> {
    let sources = match merge {
        Value::Object(m) => vec![m],
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::Object(m) => out.push(m),
                    _ => return Err("map merge requires a mapping or a list of mappings".into()),
                }
            }
            out
        }
        _ => return Err("map merge requires a mapping or a list of mappings".into()),
    };
    for source in sources {
        for (k, v) in source {
            map.entry(k).or_insert(v);
        }
    }
    Ok(())
}

/// A mapping key as the string JSON needs.
fn key_string(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => {
            return Err("a mapping or sequence as a mapping key".to_string())
        }
    })
}

/// Resolves a scalar as go-yaml v2 does (YAML 1.1 booleans, octal with a
/// leading 0, ...). `tag` is the suffix of a `!!` tag, if any.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    _is_key: bool,
) -> Result<Value, String> {
    match tag {
        Some("str") | Some("binary") => return Ok(Value::String(text.to_string())),
        Some("null") => return Ok(Value::Null),
        Some("bool") => {
            return resolve_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("cannot decode {text:?} as a !!bool"))
        }
        Some("int") => {
            return match resolve_number(text) {
                Some(Value::Number(n)) if !n.is_f64() => Ok(Value::Number(n)),
                _ => Err(format!("cannot decode {text:?} as an !!int")),
            }
        }
        Some("float") => {
            return match resolve_number(text) {
                Some(v) => Ok(v),
                None => Err(format!("cannot decode {text:?} as a !!float")),
            }
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = resolve_bool(text) {
        return Ok(Value::Bool(b));
    }
    if matches!(
        text,
        ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    ) {
        return Err(format!("{text} has no JSON representation"));
    }
    Ok(resolve_number(text).unwrap_or_else(|| Value::String(text.to_string())))
}

fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// Integers as Go's `strconv.ParseInt(s, 0, 64)` after removing `_`
/// (`0x`, `0o`, `0b`, leading-0 octal), then unsigned, then floats.
fn resolve_number(text: &str) -> Option<Value> {
    let first = text.as_bytes().first()?;
    if !matches!(first, b'+' | b'-' | b'.' | b'0'..=b'9') {
        return None;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if !body.is_empty() && body.chars().all(|c| c.is_digit(radix)) {
        if let Ok(u) = u64::from_str_radix(body, radix) {
            if negative {
                if let Some(i) = 0i64.checked_sub_unsigned(u) {
                    return Some(Value::from(i));
                }
            } else {
                return Some(Value::from(u));
            }
        }
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            if f.is_finite() {
                return serde_json::Number::from_f64(f).map(Value::Number);
            }
        }
    }
    None
}

/// go-yaml's float syntax: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_resolve_as_kubernetes_yaml() {
        let v = yaml_to_json(
            "a: yes\nb: \"yes\"\nc: 80\nd: '80'\ne: 0644\nf: 0x1F\ng: 1_000\nh: ~\ni: 1.5\n\
             j: Off\nk: -3\nl: 08\nm: 1e3\nn: abc\n80: port\ntrue: t\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": true, "b": "yes", "c": 80, "d": "80", "e": 420, "f": 31, "g": 1000,
                   "h": null, "i": 1.5, "j": false, "k": -3, "l": 8.0, "m": 1000.0, "false": "abc",
                   "80": "port", "true": "t"})
        );
    }

    #[test]
    fn anchors_merges_and_blocks() {
        let v = yaml_to_json(
            "base: &b {x: 1, q: 2}\nother:\n  <<: *b\n  q: 3\nlist: [*b]\n\
             lit: |\n  one\n  two\nfold: >\n  one\n  two\n",
        )
        .unwrap();
        assert_eq!(v["other"], json!({"x": 1, "q": 3}));
        assert_eq!(v["list"], json!([{"x": 1, "q": 2}]));
        assert_eq!(v["lit"], "one\ntwo\n");
        assert_eq!(v["fold"], "one two\n");
    }

    #[test]
    fn positions_and_duplicates() {
        let (docs, err) = YamlBuilder::new(10, 100)
            .parse("---\n# c\na:\n  b:\n  - x\n  - q: 1\n    q: 2\n...\n---\n---\nz: 1\n");
        assert!(err.is_none());
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].line), (0, 3));
        assert_eq!(docs[0].positions.locate("a.b[1].q"), Some((6, 5)));
        assert_eq!(docs[0].positions.locate("a.b[1].zz"), Some((6, 5)));
        assert_eq!(docs[0].duplicates, ["a.b[1].q"]);
        assert_eq!((docs[1].index, docs[1].line), (2, 11));
    }

    #[test]
    fn map_entries_named_by_key_are_located() {
        let (docs, _) = YamlBuilder::new(10, 100)
            .parse("data:\n  plain: 1\n  my key: 2\n  a.b/c: 3\nlist:\n- requests:\n    cpu: 1\n");
        let p = &docs[0].positions;
        assert_eq!(p.locate("data[plain]"), Some((2, 3)));
        assert_eq!(p.locate("data[my key]"), Some((3, 3)));
        assert_eq!(p.locate("data[a.b/c]"), Some((4, 3)));
        assert_eq!(p.locate("list[0].requests[cpu]"), Some((7, 5)));
        // Unknown keys fall back to the nearest ancestor.
        assert_eq!(p.locate("data[nope]"), Some((1, 1)));
        assert_eq!(p.locate("data[unclosed"), Some((1, 1)));
        assert_eq!(map_keys_as_fields("a[0].b"), None);
        assert_eq!(map_keys_as_fields("a[x][1]").as_deref(), Some("a.x[1]"));
    }

    #[test]
    fn limits_hold() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n";
        let (_, err) = YamlBuilder::new(10, 1000).parse(bomb);
        assert!(matches!(
            *err.unwrap().kind,
            ManifestErrorKind::TooLarge { .. }
        ));
        let deep = "[".repeat(300);
        let (_, err) = YamlBuilder::new(256, 1000).parse(&deep);
        // saphyr's own nesting limit may answer first, as a syntax error.
        assert!(matches!(
            *err.unwrap().kind,
            ManifestErrorKind::TooDeep { .. } | ManifestErrorKind::Syntax(_)
        ));
        let (_, err) = YamlBuilder::new(5, 1000).parse("a: [[[[[[[1]]]]]]]\n");
        assert!(matches!(
            *err.unwrap().kind,
            ManifestErrorKind::TooDeep { .. }
        ));
        assert!(yaml_to_json("a: .nan\n").is_err());
    }
}
