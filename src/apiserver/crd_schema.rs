//! Custom resources against their schema: the `openAPIV3Schema` of a
//! CustomResourceDefinition version, compiled once when the CRD is
//! registered into a [`Validator`] that prunes, defaults and validates the
//! version's objects, with the semantics of Kubernetes' apiextensions
//! server (structural schemas).
//!
//! Every write of a custom object (create, update, patch, apply, the status
//! and scale subresources) goes through two steps:
//!
//! 1. [`Validator::prepare`], right after decoding: **pruning** drops the
//!    fields the schema does not declare (`properties`, `additionalProperties`,
//!    `items`), except under `x-kubernetes-preserve-unknown-fields: true`, in
//!    the `apiVersion`/`kind`/`metadata` of an
//!    `x-kubernetes-embedded-resource`, and at the root's `apiVersion`,
//!    `kind` and `metadata` (the server owns those); a CRD with
//!    `spec.preserveUnknownFields: true` prunes nothing. With
//!    `fieldValidation=Strict` a dropped field is a 400 (`strict decoding
//!    error: unknown field "spec.foo"`), with `Warn` (the default) a warning
//!    each, with `Ignore` nothing. Then **defaulting** fills absent fields
//!    (and `null`s of fields that are not `nullable`) with their `default`,
//!    recursively, so the defaults of a defaulted object apply too; other
//!    `null`s of non-nullable fields are dropped, as Kubernetes does.
//! 2. [`Validator::validate`], after mutating admission: the value
//!    validations (`type`, `nullable`, `x-kubernetes-int-or-string`,
//!    `required`, `enum`, numeric bounds and `multipleOf`, string lengths,
//!    `pattern`, common `format`s, item and property counts, `uniqueItems`,
//!    `x-kubernetes-list-type` `set`/`map`, `allOf`/`anyOf`/`oneOf`/`not`),
//!    reported as field errors with Kubernetes' paths and wording
//!    (`spec.replicas: Invalid value: "string": spec.replicas in body must be
//!    of type integer: "string"`), which the server turns into a 422 Invalid
//!    `Status` with one cause per field. With a status subresource, an update
//!    of the main resource validates everything but `status` (which it
//!    cannot change) and a status update validates `status` only.
//!
//! Nothing here panics on any schema or object: unknown `type`s and
//! `format`s are not checked, a `pattern` the built-in matcher cannot read
//! is not enforced (logged once at registration), and schemas and objects
//! are walked at most [`MAX_DEPTH`] levels deep.
//!
//! `pattern` uses a small linear-time matcher of the RE2 syntax Kubernetes
//! uses (literals, `.`, classes and `\d \w \s`, `^ $`, groups, `|`, `* + ?
//! {n,m}`), because the `regex` crate is not a dependency of keelson; flags,
//! Unicode classes and word boundaries are not supported.
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::api::apiextensions::{JsonSchemaProps, JsonSchemaPropsOrArray, JsonSchemaPropsOrBool};
use crate::api::scheme::{AnyObject, DecodeError, FieldValidation};
use crate::api::validation::{ErrorList, ErrorType, FieldError};
use crate::api::DynamicObject;

/// How deep schemas are compiled and objects walked; deeper schema nodes
/// accept (and keep) anything.
pub(crate) const MAX_DEPTH: usize = 64;

/// The most characters of a value repeated in an error message.
const MAX_RENDERED: usize = 256;

/// Which part of an object [`Validator::validate`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The whole object.
    All,
    /// Everything but `status` (an update of the main resource when the
    /// status subresource is on).
    AllButStatus,
    /// `status` only (an update of the status subresource).
    Status,
}

/// A version's schema, compiled.
#[derive(Debug)]
pub(crate) struct Validator {
    /// `None`: no schema at all (everything is kept, nothing checked).
    root: Option<Node>,
    /// False with the CRD's `spec.preserveUnknownFields` (v1beta1 CRDs):
    /// nothing is pruned, at any level.
    prune: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Any,
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Any => "any",
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
        }
    }
}

#[derive(Debug)]
enum Additional {
    /// Not set.
    Unset,
    /// `true` (anything, kept) or `false` (nothing else).
    Bool(bool),
    Schema(Box<Node>),
}

#[derive(Debug)]
enum Items {
    None,
    One(Box<Node>),
    Tuple(Vec<Node>),
}

#[derive(Debug)]
enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

#[derive(Debug)]
enum Format {
    None,
    Int32,
    Int64,
    DateTime,
    Date,
    Byte,
    Uuid,
    Ipv4,
    Ipv6,
    Hostname,
}

/// One schema node, compiled.
#[derive(Debug)]
struct Node {
    ty: Type,
    nullable: bool,
    int_or_string: bool,
    preserve_unknown: bool,
    embedded: bool,
    default: Option<Value>,
    properties: BTreeMap<String, Node>,
    additional: Additional,
    items: Items,
    required: Vec<String>,
    enum_values: Vec<Value>,
    minimum: Option<f64>,
    exclusive_minimum: bool,
    maximum: Option<f64>,
    exclusive_maximum: bool,
    multiple_of: Option<f64>,
    min_length: Option<i64>,
    max_length: Option<i64>,
    pattern: Option<(String, pattern::Regex)>,
    format: Format,
    min_items: Option<i64>,
    max_items: Option<i64>,
    unique_items: bool,
    list_type: ListType,
    min_properties: Option<i64>,
    max_properties: Option<i64>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Box<Node>>,
}

impl Node {
    /// Accepts and keeps anything.
    fn any() -> Node {
        Node {
            ty: Type::Any,
            nullable: true,
            int_or_string: false,
            preserve_unknown: true,
            embedded: false,
            default: None,
            properties: BTreeMap::new(),
            additional: Additional::Unset,
            items: Items::None,
            required: Vec::new(),
            enum_values: Vec::new(),
            minimum: None,
            exclusive_minimum: false,
            maximum: None,
            exclusive_maximum: false,
            multiple_of: None,
            min_length: None,
            max_length: None,
            pattern: None,
            format: Format::None,
            min_items: None,
            max_items: None,
            unique_items: false,
            list_type: ListType::Atomic,
            min_properties: None,
            max_properties: None,
            all_of: Vec::new(),
            any_of: Vec::new(),
            one_of: Vec::new(),
            not: None,
        }
    }

    fn compile(s: &JsonSchemaProps, depth: usize) -> Node {
        if depth >= MAX_DEPTH {
            return Node::any();
        }
        let d = depth + 1;
        let ty = match s.r#type.as_str() {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            _ => Type::Any,
        };
        let pattern = if s.pattern.is_empty() {
            None
        } else {
            match pattern::Regex::new(&s.pattern) {
                Ok(re) => Some((s.pattern.to_string(), re)),
                Err(why) => {
                    tracing::warn!(pattern = %s.pattern, %why, "a CRD schema pattern is not enforced");
                    None
                }
            }
        };
        let list_type = match s.x_kubernetes_list_type.as_deref() {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                s.x_kubernetes_list_map_keys
                    .iter()
                    .map(|k| k.to_string())
                    .collect(),
            ),
            _ => ListType::Atomic,
        };
        let format = match s.format.as_str() {
            "int32" => Format::Int32,
            "int64" => Format::Int64,
            "date-time" | "datetime" => Format::DateTime,
            "date" => Format::Date,
            "byte" => Format::Byte,
            "uuid" | "uuid3" | "uuid4" | "uuid5" => Format::Uuid,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "hostname" => Format::Hostname,
            _ => Format::None,
        };
        let compile_all = |list: &[JsonSchemaProps]| -> Vec<Node> {
            list.iter().map(|s| Node::compile(s, d)).collect()
        };
        Node {
            ty,
            nullable: s.nullable,
            int_or_string: s.x_kubernetes_int_or_string,
            preserve_unknown: s.x_kubernetes_preserve_unknown_fields == Some(true),
            embedded: s.x_kubernetes_embedded_resource,
            default: s.default.clone(),
            properties: s
                .properties
                .iter()
                .map(|(k, v)| (k.to_string(), Node::compile(v, d)))
                .collect(),
            additional: match &s.additional_properties {
                None => Additional::Unset,
                Some(JsonSchemaPropsOrBool::Bool(b)) => Additional::Bool(*b),
                Some(JsonSchemaPropsOrBool::Schema(s)) => {
                    Additional::Schema(Box::new(Node::compile(s, d)))
                }
            },
            items: match &s.items {
                None => Items::None,
                Some(JsonSchemaPropsOrArray::Schema(s)) => {
                    Items::One(Box::new(Node::compile(s, d)))
                }
                Some(JsonSchemaPropsOrArray::Array(list)) => Items::Tuple(compile_all(list)),
            },
            required: s.required.iter().map(|r| r.to_string()).collect(),
            enum_values: s.enum_values.clone(),
            minimum: s.minimum.as_ref().and_then(|n| n.as_f64()),
            exclusive_minimum: s.exclusive_minimum,
            maximum: s.maximum.as_ref().and_then(|n| n.as_f64()),
            exclusive_maximum: s.exclusive_maximum,
            multiple_of: s
                .multiple_of
                .as_ref()
                .and_then(|n| n.as_f64())
                .filter(|m| *m > 0.0 && m.is_finite()),
            min_length: s.min_length,
            max_length: s.max_length,
            pattern,
            format,
            min_items: s.min_items,
            max_items: s.max_items,
            unique_items: s.unique_items,
            list_type,
            min_properties: s.min_properties,
            max_properties: s.max_properties,
            all_of: compile_all(&s.all_of),
            any_of: compile_all(&s.any_of),
            one_of: compile_all(&s.one_of),
            not: s.not.as_ref().map(|n| Box::new(Node::compile(n, d))),
        }
    }

    /// The schema of `key` in an object of this node, for pruning and
    /// defaulting: `Some(None)` keeps the value as it is, `None` prunes it.
    fn child(&self, key: &str) -> Option<Option<&Node>> {
        if let Some(p) = self.properties.get(key) {
            return Some(Some(p));
        }
        match &self.additional {
            Additional::Schema(s) => Some(Some(s)),
            Additional::Bool(true) => Some(None),
            _ if self.preserve_unknown => Some(None),
            _ => None,
        }
    }
}

/// A field path under construction (`spec.items[0].name`).
struct PathBuf(String);

impl PathBuf {
    fn field(&mut self, name: &str) -> usize {
        let len = self.0.len();
        if !self.0.is_empty() {
            self.0.push('.');
        }
        self.0.push_str(name);
        len
    }
    fn index(&mut self, i: usize) -> usize {
        let len = self.0.len();
        let _ = write!(self.0, "[{i}]");
        len
    }
    fn pop(&mut self, len: usize) {
        self.0.truncate(len);
    }
}

impl Validator {
    /// Compiles a version's schema; `preserve_unknown_fields` is the CRD's
    /// `spec.preserveUnknownFields` (keep everything at every level).
    pub(crate) fn compile(
        schema: Option<&JsonSchemaProps>,
        preserve_unknown_fields: bool,
    ) -> Validator {
        Validator {
            root: schema.map(|s| Node::compile(s, 0)),
            prune: !preserve_unknown_fields,
        }
    }

    /// Prunes and defaults a decoded object (the first step of every write).
    /// Returns the warnings to give the client (`Warn`), or the 400 strict
    /// decoding error (`Strict`).
    pub(crate) fn prepare(
        &self,
        obj: &mut DynamicObject,
        mode: FieldValidation,
    ) -> Result<Vec<String>, DecodeError> {
        let Some(root) = &self.root else {
            return Ok(Vec::new());
        };
        let mut pruned = Vec::new();
        let mut path = PathBuf(String::new());
        if self.prune {
            prune_map(&mut obj.data, root, &mut path, &mut pruned, 0, true);
        }
        if mode == FieldValidation::Strict && !pruned.is_empty() {
            return Err(DecodeError::UnknownFields { fields: pruned });
        }
        default_map(&mut obj.data, root, 0);
        Ok(match mode {
            FieldValidation::Warn => pruned
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// Checks an object against the schema.
    pub(crate) fn validate(&self, obj: &DynamicObject, part: Part) -> ErrorList {
        let mut errors = ErrorList::new();
        let Some(root) = &self.root else {
            return errors;
        };
        let mut path = PathBuf(String::new());
        match part {
            Part::Status => {
                if let (Some(status), Some(schema)) =
                    (obj.data.get("status"), root.properties.get("status"))
                {
                    let mark = path.field("status");
                    validate(status, schema, &mut path, &mut errors, 1);
                    path.pop(mark);
                }
            }
            Part::All | Part::AllButStatus => {
                // Of metadata, a schema may only constrain the name and
                // generateName.
                if let Some(meta) = root.properties.get("metadata") {
                    let m = &obj.metadata;
                    for (field, value) in [("name", &m.name), ("generateName", &m.generate_name)] {
                        if let (false, Some(node)) = (value.is_empty(), meta.properties.get(field))
                        {
                            let outer = path.field("metadata");
                            let inner = path.field(field);
                            validate(
                                &Value::from(value.as_str()),
                                node,
                                &mut path,
                                &mut errors,
                                2,
                            );
                            path.pop(inner);
                            path.pop(outer);
                        }
                    }
                }
                validate_object(
                    &obj.data,
                    root,
                    &mut path,
                    &mut errors,
                    0,
                    part == Part::AllButStatus,
                );
            }
        }
        errors
    }
}

/// The schema validator of an endpoint's custom kind, if it has one.
fn validator_of(ep: &super::kinds::Endpoint) -> Option<&Validator> {
    ep.crd.as_ref().and_then(|c| c.schema.as_ref())
}

/// The first step of a write of a custom object: prune and default (see
/// [`Validator::prepare`]). A no-op for other kinds.
pub(crate) fn prepare(
    ep: &super::kinds::Endpoint,
    obj: &mut dyn AnyObject,
    mode: FieldValidation,
) -> super::error::Result<Vec<String>> {
    let (Some(v), Some(d)) = (validator_of(ep), obj.downcast_mut::<DynamicObject>()) else {
        return Ok(Vec::new());
    };
    Ok(v.prepare(d, mode)?)
}

/// The schema errors of a custom object being written; `status_update` for
/// the status subresource. Empty for other kinds.
pub(crate) fn validate_object_of(
    ep: &super::kinds::Endpoint,
    obj: &dyn AnyObject,
    status_update: bool,
) -> ErrorList {
    let (Some(v), Some(d)) = (validator_of(ep), obj.downcast_ref::<DynamicObject>()) else {
        return ErrorList::new();
    };
    let part = if status_update {
        Part::Status
    } else if super::strategy::has_status(&ep.info) {
        Part::AllButStatus
    } else {
        Part::All
    };
    v.validate(d, part)
}

// ------------------------------------------------------------------ pruning

fn prune(
    value: &mut Value,
    node: &Node,
    path: &mut PathBuf,
    pruned: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => prune_map(map, node, path, pruned, depth, false),
        Value::Array(list) => {
            for (i, item) in list.iter_mut().enumerate() {
                let item_node = match &node.items {
                    Items::One(n) => Some(&**n),
                    Items::Tuple(list) => list.get(i),
                    Items::None => None,
                };
                if let Some(n) = item_node {
                    let mark = path.index(i);
                    prune(item, n, path, pruned, depth + 1);
                    path.pop(mark);
                }
            }
        }
        _ => {}
    }
}

fn prune_map(
    map: &mut Map<String, Value>,
    node: &Node,
    path: &mut PathBuf,
    pruned: &mut Vec<String>,
    depth: usize,
    root: bool,
) {
    map.retain(|key, value| {
        if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            return true;
        }
        if node.embedded
            && ((matches!(key.as_str(), "apiVersion" | "kind") && value.is_string())
                || (key == "metadata" && value.is_object()))
        {
            return true;
        }
        let mark = path.field(key);
        let keep = match node.child(key) {
            Some(Some(child)) => {
                prune(value, child, path, pruned, depth + 1);
                true
            }
            Some(None) => true,
            None => {
                pruned.push(path.0.clone());
                false
            }
        };
        path.pop(mark);
        keep
    });
}

// --------------------------------------------------------------- defaulting

fn default_value(value: &mut Value, node: &Node, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => default_map(map, node, depth),
        Value::Array(list) => {
            for (i, item) in list.iter_mut().enumerate() {
                let n = match &node.items {
                    Items::One(n) => Some(&**n),
                    Items::Tuple(list) => list.get(i),
                    Items::None => None,
                };
                if let Some(n) = n {
                    default_value(item, n, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn default_map(map: &mut Map<String, Value>, node: &Node, depth: usize) {
    for (key, prop) in &node.properties {
        match map.get(key) {
            None => {
                if let Some(d) = &prop.default {
                    map.insert(key.clone(), d.clone());
                }
            }
            Some(Value::Null) if !prop.nullable => match &prop.default {
                Some(d) => {
                    map.insert(key.clone(), d.clone());
                }
                None => {
                    map.remove(key);
                }
            },
            Some(_) => {}
        }
    }
    let additional = match &node.additional {
        Additional::Schema(s) => Some(&**s),
        _ => None,
    };
    for (key, value) in map.iter_mut() {
        let child = node.properties.get(key).or(additional);
        if let Some(child) = child {
            default_value(value, child, depth + 1);
        }
    }
}

// --------------------------------------------------------------- validation

/// The JSON type name of a value, as Kubernetes reports it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_matches(ty: Type, v: &Value) -> bool {
    match ty {
        Type::Any => true,
        Type::Object => v.is_object(),
        Type::Array => v.is_array(),
        Type::String => v.is_string(),
        Type::Integer => is_integer(v),
        Type::Number => v.is_number(),
        Type::Boolean => v.is_boolean(),
    }
}

/// A value rendered for an error message: compact JSON (strings quoted),
/// cut short when long.
fn render(v: &Value) -> String {
    let mut s = match v {
        Value::Array(_) | Value::Object(_) => {
            let mut out = String::new();
            canonical(v, &mut out, 0);
            out
        }
        other => other.to_string(),
    };
    if s.len() > MAX_RENDERED {
        let mut cut = MAX_RENDERED;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// A canonical text of a value (sorted keys, integral numbers without a
/// fraction), for equality and uniqueness; bounded in depth.
fn canonical(v: &Value, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                let _ = write!(out, "{}", f as i64);
            }
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::Array(list) => {
            out.push('[');
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's map keeps keys sorted.
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(k.clone()));
                canonical(item, out, depth + 1);
            }
            out.push('}');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn canonical_string(v: &Value) -> String {
    let mut out = String::new();
    canonical(v, &mut out, 0);
    out
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            canonical_string(a) == canonical_string(b)
        }
        _ => a == b,
    }
}

fn error(kind: ErrorType, path: &PathBuf, value: Option<String>, detail: String) -> FieldError {
    FieldError {
        kind,
        field: path.0.clone(),
        value,
        detail,
    }
}

/// `{path} in body ...`, Kubernetes' wording of schema errors.
fn in_body(path: &PathBuf, rest: std::fmt::Arguments<'_>) -> String {
    format!("{} in body {rest}", path.0)
}

fn type_error(path: &PathBuf, expected: &str, found: &str) -> FieldError {
    error(
        ErrorType::TypeInvalid,
        path,
        Some(format!("{found:?}")),
        in_body(path, format_args!("must be of type {expected}: {found:?}")),
    )
}

fn invalid(path: &PathBuf, v: &Value, detail: String) -> FieldError {
    error(ErrorType::Invalid, path, Some(render(v)), detail)
}

fn validate(v: &Value, node: &Node, path: &mut PathBuf, errors: &mut ErrorList, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if v.is_null() {
        if node.nullable || (node.ty == Type::Any && !node.int_or_string) {
            return;
        }
        let expected = if node.int_or_string {
            "int-or-string"
        } else {
            node.ty.name()
        };
        errors.push(type_error(path, expected, "null"));
        return;
    }
    if node.int_or_string {
        if !(is_integer(v) || v.is_string()) {
            errors.push(type_error(path, "int-or-string", type_name(v)));
            return;
        }
    } else if !type_matches(node.ty, v) {
        errors.push(type_error(path, node.ty.name(), type_name(v)));
        return;
    }
    if !node.enum_values.is_empty() && !node.enum_values.iter().any(|e| json_eq(e, v)) {
        let supported: Vec<String> = node.enum_values.iter().map(render).collect();
        errors.push(error(
            ErrorType::NotSupported,
            path,
            Some(render(v)),
            format!("supported values: {}", supported.join(", ")),
        ));
    }
    match v {
        Value::Number(n) => validate_number(v, n, node, path, errors),
        Value::String(s) => validate_string(v, s, node, path, errors),
        Value::Array(list) => validate_array(v, list, node, path, errors, depth),
        Value::Object(map) => validate_object(map, node, path, errors, depth, false),
        _ => {}
    }
    validate_combinators(v, node, path, errors, depth);
}

fn validate_number(
    v: &Value,
    n: &serde_json::Number,
    node: &Node,
    path: &PathBuf,
    errors: &mut ErrorList,
) {
    let Some(f) = n.as_f64() else { return };
    if let Some(min) = node.minimum {
        if f < min || (node.exclusive_minimum && f == min) {
            let op = if node.exclusive_minimum {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("should be {op} {}", num(min))),
            ));
        }
    }
    if let Some(max) = node.maximum {
        if f > max || (node.exclusive_maximum && f == max) {
            let op = if node.exclusive_maximum {
                "less than"
            } else {
                "less than or equal to"
            };
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("should be {op} {}", num(max))),
            ));
        }
    }
    if let Some(m) = node.multiple_of {
        let ok = match (n.as_i64(), m.fract() == 0.0 && m.abs() < 9.0e15) {
            (Some(i), true) => (i as i128) % (m as i128) == 0,
            _ => {
                let q = f / m;
                q.is_finite() && (q - q.round()).abs() < 1e-9
            }
        };
        if !ok {
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("should be a multiple of {}", num(m))),
            ));
        }
    }
    let range = match node.format {
        Format::Int32 => Some((i32::MIN as f64, i32::MAX as f64, "int32")),
        Format::Int64 => Some((i64::MIN as f64, i64::MAX as f64, "int64")),
        _ => None,
    };
    if let Some((lo, hi, name)) = range {
        let fits = match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => name == "int64" || i32::try_from(i).is_ok(),
            (None, Some(_)) => false,
            _ => f >= lo && f <= hi,
        };
        if !fits {
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("must be of type {name}: {}", render(v))),
            ));
        }
    }
}

/// A bound as Kubernetes prints it (no `.0` on integral values).
fn num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn validate_string(v: &Value, s: &str, node: &Node, path: &PathBuf, errors: &mut ErrorList) {
    let chars = s.chars().count() as i64;
    if let Some(min) = node.min_length {
        if chars < min {
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("should be at least {min} chars long")),
            ));
        }
    }
    if let Some(max) = node.max_length {
        if chars > max {
            errors.push(error(
                ErrorType::TooLong,
                path,
                None,
                format!("may not be more than {max} bytes"),
            ));
        }
    }
    if let Some((text, re)) = &node.pattern {
        if !re.is_match(s) {
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("should match '{text}'")),
            ));
        }
    }
    let (ok, name) = match node.format {
        Format::DateTime => (formats::date_time(s), "date-time"),
        Format::Date => (formats::date(s), "date"),
        Format::Byte => (formats::byte(s), "byte"),
        Format::Uuid => (formats::uuid(s), "uuid"),
        Format::Ipv4 => (s.parse::<std::net::Ipv4Addr>().is_ok(), "ipv4"),
        Format::Ipv6 => (s.parse::<std::net::Ipv6Addr>().is_ok(), "ipv6"),
        Format::Hostname => (formats::hostname(s), "hostname"),
        _ => (true, ""),
    };
    if !ok {
        errors.push(error(
            ErrorType::TypeInvalid,
            path,
            Some(render(v)),
            in_body(path, format_args!("must be of type {name}: {}", render(v))),
        ));
    }
}

fn validate_array(
    v: &Value,
    list: &[Value],
    node: &Node,
    path: &mut PathBuf,
    errors: &mut ErrorList,
    depth: usize,
) {
    let len = list.len() as i64;
    if let Some(min) = node.min_items {
        if len < min {
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("should have at least {min} items")),
            ));
        }
    }
    if let Some(max) = node.max_items {
        if len > max {
            errors.push(error(
                ErrorType::TooMany,
                path,
                Some(len.to_string()),
                format!("must have at most {max} items"),
            ));
        }
    }
    if node.unique_items && !matches!(node.list_type, ListType::Set) {
        let mut seen = HashSet::with_capacity(list.len());
        if !list.iter().all(|item| seen.insert(canonical_string(item))) {
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("shouldn't contain duplicates")),
            ));
        }
    }
    match &node.list_type {
        ListType::Set => {
            let mut seen = HashSet::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                if !seen.insert(canonical_string(item)) {
                    let mark = path.index(i);
                    errors.push(error(
                        ErrorType::Duplicate,
                        path,
                        Some(render(item)),
                        String::new(),
                    ));
                    path.pop(mark);
                }
            }
        }
        ListType::Map(keys) if !keys.is_empty() => {
            let mut seen = HashSet::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                let Value::Object(m) = item else { continue };
                let mut key = Map::new();
                for k in keys {
                    if let Some(kv) = m.get(k) {
                        key.insert(k.clone(), kv.clone());
                    }
                }
                let key = Value::Object(key);
                if !seen.insert(canonical_string(&key)) {
                    let mark = path.index(i);
                    errors.push(error(
                        ErrorType::Duplicate,
                        path,
                        Some(render(&key)),
                        String::new(),
                    ));
                    path.pop(mark);
                }
            }
        }
        _ => {}
    }
    for (i, item) in list.iter().enumerate() {
        let n = match &node.items {
            Items::One(n) => Some(&**n),
            Items::Tuple(list) => list.get(i),
            Items::None => None,
        };
        if let Some(n) = n {
            let mark = path.index(i);
            validate(item, n, path, errors, depth + 1);
            path.pop(mark);
        }
    }
}

fn validate_object(
    map: &Map<String, Value>,
    node: &Node,
    path: &mut PathBuf,
    errors: &mut ErrorList,
    depth: usize,
    skip_status: bool,
) {
    let root = depth == 0;
    for name in &node.required {
        // The root's type and metadata are the server's.
        if root && matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if skip_status && name == "status" {
            continue;
        }
        if !map.contains_key(name) {
            let mark = path.field(name);
            errors.push(error(ErrorType::Required, path, None, String::new()));
            path.pop(mark);
        }
    }
    let count = map.len() as i64 + if root { 3 } else { 0 };
    if let Some(min) = node.min_properties {
        if count < min {
            errors.push(error(
                ErrorType::Invalid,
                path,
                None,
                in_body(path, format_args!("should have at least {min} properties")),
            ));
        }
    }
    if let Some(max) = node.max_properties {
        if count > max {
            errors.push(error(
                ErrorType::TooMany,
                path,
                Some(count.to_string()),
                format!("must have at most {max} items"),
            ));
        }
    }
    for (key, value) in map {
        if skip_status && key == "status" {
            continue;
        }
        if node.embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let mark = path.field(key);
        if let Some(p) = node.properties.get(key) {
            validate(value, p, path, errors, depth + 1);
        } else {
            match &node.additional {
                Additional::Schema(s) => validate(value, s, path, errors, depth + 1),
                Additional::Bool(false) if !node.preserve_unknown => {
                    errors.push(error(
                        ErrorType::Forbidden,
                        path,
                        None,
                        in_body(path, format_args!("is a forbidden property")),
                    ));
                }
                _ => {}
            }
        }
        path.pop(mark);
    }
}

fn validate_combinators(
    v: &Value,
    node: &Node,
    path: &mut PathBuf,
    errors: &mut ErrorList,
    depth: usize,
) {
    let passes = |n: &Node, path: &mut PathBuf| {
        let mut sub = ErrorList::new();
        validate(v, n, path, &mut sub, depth + 1);
        sub.is_empty()
    };
    for n in &node.all_of {
        validate(v, n, path, errors, depth + 1);
    }
    if !node.any_of.is_empty() && !node.any_of.iter().any(|n| passes(n, path)) {
        errors.push(invalid(
            path,
            v,
            in_body(
                path,
                format_args!("must validate at least one schema (anyOf)"),
            ),
        ));
    }
    if !node.one_of.is_empty() {
        let matched = node.one_of.iter().filter(|n| passes(n, path)).count();
        if matched != 1 {
            errors.push(invalid(
                path,
                v,
                in_body(
                    path,
                    format_args!("must validate one and only one schema (oneOf)"),
                ),
            ));
        }
    }
    if let Some(n) = &node.not {
        if passes(n, path) {
            errors.push(invalid(
                path,
                v,
                in_body(path, format_args!("must not validate the schema (not)")),
            ));
        }
    }
}

// ------------------------------------------------------------------ formats

/// The common string formats, checked leniently.
mod formats {
    fn digits(s: &str, n: usize) -> bool {
        s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
    }

    /// `2024-01-31`.
    pub(super) fn date(s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return false;
        }
        let (y, m, d) = (&s[0..4], &s[5..7], &s[8..10]);
        if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
            return false;
        }
        let (m, d): (u32, u32) = (m.parse().unwrap_or(0), d.parse().unwrap_or(0));
        (1..=12).contains(&m) && (1..=31).contains(&d)
    }

    /// RFC 3339: `2024-01-31T12:00:00Z`, `...T12:00:00.5+01:00`.
    pub(super) fn date_time(s: &str) -> bool {
        if s.len() < 20 || !s.is_char_boundary(10) || !s.is_char_boundary(11) {
            return false;
        }
        if !date(&s[..10]) || !matches!(s.as_bytes()[10], b'T' | b't' | b' ') {
            return false;
        }
        let rest = &s[11..];
        if rest.len() < 8 || !rest.is_char_boundary(8) {
            return false;
        }
        let (time, mut zone) = rest.split_at(8);
        let t = time.as_bytes();
        if t[2] != b':' || t[5] != b':' {
            return false;
        }
        let (h, mi, se) = (&time[0..2], &time[3..5], &time[6..8]);
        if !(digits(h, 2) && digits(mi, 2) && digits(se, 2)) {
            return false;
        }
        if h > "23" || mi > "59" || se > "60" {
            return false;
        }
        if let Some(frac) = zone.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return false;
            }
            zone = &frac[n..];
        }
        match zone {
            "Z" | "z" => true,
            z => {
                let b = z.as_bytes();
                b.len() == 6
                    && matches!(b[0], b'+' | b'-')
                    && b[3] == b':'
                    && digits(&z[1..3], 2)
                    && digits(&z[4..6], 2)
            }
        }
    }

    /// Standard base64.
    pub(super) fn byte(s: &str) -> bool {
        let body = s.trim_end_matches('=');
        s.len() % 4 == 0
            && s.len() - body.len() <= 2
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    }

    /// `8-4-4-4-12` hexadecimal digits.
    pub(super) fn uuid(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() == 5
            && parts
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// An RFC 1123 host name.
    pub(super) fn hostname(s: &str) -> bool {
        let s = s.strip_suffix('.').unwrap_or(s);
        !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                let b = l.as_bytes();
                !b.is_empty()
                    && b.len() <= 63
                    && b[0].is_ascii_alphanumeric()
                    && b[b.len() - 1].is_ascii_alphanumeric()
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            })
    }
}

// ------------------------------------------------------------------ pattern

/// A small regular-expression matcher for `pattern`: RE2 syntax without
/// flags, Unicode classes or word boundaries, matched by a Pike VM (linear
/// in the text, no backtracking, no recursion while matching).
mod pattern {
    use std::fmt;

    /// The most instructions a compiled pattern may have (counted
    /// repetitions are expanded).
    const MAX_PROGRAM: usize = 10_000;
    /// The deepest group nesting read.
    const MAX_NESTING: usize = 64;

    /// Why a pattern cannot be used.
    #[derive(Debug)]
    pub(crate) struct Unsupported(String);

    impl fmt::Display for Unsupported {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    #[derive(Clone, Debug)]
    struct Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    }

    impl Class {
        fn matches(&self, c: char) -> bool {
            self.ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != self.negated
        }
    }

    #[derive(Clone, Debug)]
    enum Ast {
        Empty,
        Class(Class),
        Start,
        End,
        Concat(Vec<Ast>),
        Alt(Vec<Ast>),
        Repeat {
            node: Box<Ast>,
            min: u32,
            max: Option<u32>,
        },
    }

    #[derive(Clone, Debug)]
    enum Inst {
        Class(Class),
        Start,
        End,
        Split(usize, usize),
        Jmp(usize),
        Match,
    }

    /// A compiled pattern.
    #[derive(Debug)]
    pub(crate) struct Regex {
        prog: Vec<Inst>,
    }

    struct Parser<'a> {
        chars: std::iter::Peekable<std::str::Chars<'a>>,
        depth: usize,
    }

    fn unsupported<T>(what: impl Into<String>) -> Result<T, Unsupported> {
        Err(Unsupported(what.into()))
    }

    fn lit(c: char) -> Class {
        Class {
            ranges: vec![(c, c)],
            negated: false,
        }
    }

    /// `\d`, `\w`, `\s` and their negations.
    fn perl_class(c: char) -> Option<Class> {
        let (ranges, negated) = match c {
            'd' => (vec![('0', '9')], false),
            'D' => (vec![('0', '9')], true),
            'w' => (vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')], false),
            'W' => (vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')], true),
            's' => (vec![('\t', '\n'), ('\x0c', '\r'), (' ', ' ')], false),
            'S' => (vec![('\t', '\n'), ('\x0c', '\r'), (' ', ' ')], true),
            _ => return None,
        };
        Some(Class { ranges, negated })
    }

    /// The character an escape stands for (`\n`, `\.`, ...).
    fn escaped_char(c: char) -> Result<char, Unsupported> {
        Ok(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => '\x0c',
            'v' => '\x0b',
            'a' => '\x07',
            c if c.is_ascii_punctuation() => c,
            c => return unsupported(format!("the escape \\{c}")),
        })
    }

    impl Parser<'_> {
        fn alternation(&mut self) -> Result<Ast, Unsupported> {
            let mut branches = vec![self.concat()?];
            while self.chars.peek() == Some(&'|') {
                self.chars.next();
                branches.push(self.concat()?);
            }
            Ok(if branches.len() == 1 {
                branches.pop().unwrap_or(Ast::Empty)
            } else {
                Ast::Alt(branches)
            })
        }

        fn concat(&mut self) -> Result<Ast, Unsupported> {
            let mut items = Vec::new();
            while let Some(&c) = self.chars.peek() {
                if c == '|' || c == ')' {
                    break;
                }
                let atom = self.atom()?;
                let atom = self.quantified(atom)?;
                items.push(atom);
            }
            Ok(Ast::Concat(items))
        }

        fn atom(&mut self) -> Result<Ast, Unsupported> {
            let Some(c) = self.chars.next() else {
                return Ok(Ast::Empty);
            };
            Ok(match c {
                '.' => Ast::Class(Class {
                    ranges: vec![('\n', '\n')],
                    negated: true,
                }),
                '^' => Ast::Start,
                '$' => Ast::End,
                '(' => {
                    self.depth += 1;
                    if self.depth > MAX_NESTING {
                        return unsupported("groups nested too deep");
                    }
                    if self.chars.peek() == Some(&'?') {
                        self.chars.next();
                        match self.chars.next() {
                            Some(':') => {}
                            Some('P') | Some('<') => {
                                // A named group: skip the name.
                                if self.chars.peek() == Some(&'<') {
                                    self.chars.next();
                                }
                                loop {
                                    match self.chars.next() {
                                        Some('>') => break,
                                        Some(_) => {}
                                        None => return unsupported("an unterminated group name"),
                                    }
                                }
                            }
                            _ => return unsupported("group flags"),
                        }
                    }
                    let inner = self.alternation()?;
                    if self.chars.next() != Some(')') {
                        return unsupported("a missing )");
                    }
                    self.depth -= 1;
                    inner
                }
                ')' => return unsupported("an unexpected )"),
                '[' => Ast::Class(self.class()?),
                '\\' => self.escape()?,
                '*' | '+' | '?' => return unsupported("a repetition of nothing"),
                c => Ast::Class(lit(c)),
            })
        }

        fn escape(&mut self) -> Result<Ast, Unsupported> {
            let Some(c) = self.chars.next() else {
                return unsupported("a trailing \\");
            };
            if let Some(class) = perl_class(c) {
                return Ok(Ast::Class(class));
            }
            Ok(match c {
                'A' => Ast::Start,
                'z' => Ast::End,
                c => Ast::Class(lit(escaped_char(c)?)),
            })
        }

        fn class(&mut self) -> Result<Class, Unsupported> {
            let mut negated = false;
            if self.chars.peek() == Some(&'^') {
                self.chars.next();
                negated = true;
            }
            let mut ranges = Vec::new();
            let mut first = true;
            loop {
                let Some(c) = self.chars.next() else {
                    return unsupported("a missing ]");
                };
                if c == ']' && !first {
                    break;
                }
                first = false;
                let lo = match c {
                    '[' if self.chars.peek() == Some(&':') => return unsupported("POSIX classes"),
                    '\\' => {
                        let Some(e) = self.chars.next() else {
                            return unsupported("a trailing \\");
                        };
                        if let Some(class) = perl_class(e) {
                            if class.negated {
                                return unsupported("a negated class inside []");
                            }
                            ranges.extend(class.ranges);
                            continue;
                        }
                        escaped_char(e)?
                    }
                    c => c,
                };
                // A range `a-z` (a `-` before `]` is literal).
                let mut ahead = self.chars.clone();
                if ahead.next() == Some('-') && !matches!(ahead.peek(), Some(']') | None) {
                    self.chars.next();
                    let hi = match self.chars.next() {
                        Some('\\') => match self.chars.next() {
                            Some(e) => escaped_char(e)?,
                            None => return unsupported("a trailing \\"),
                        },
                        Some(h) => h,
                        None => return unsupported("a missing ]"),
                    };
                    if hi < lo {
                        return unsupported("a reversed range");
                    }
                    ranges.push((lo, hi));
                } else {
                    ranges.push((lo, lo));
                }
            }
            Ok(Class { ranges, negated })
        }

        /// `{n}`, `{n,}` or `{n,m}`; `None` (and nothing read) when the
        /// brace is a literal.
        fn counted(&mut self) -> Option<(u32, Option<u32>)> {
            let mut ahead = self.chars.clone();
            ahead.next(); // '{'
            let mut text = String::new();
            for c in ahead.by_ref() {
                if c == '}' {
                    break;
                }
                if text.len() > 16 {
                    return None;
                }
                text.push(c);
            }
            let (min, max) = match text.split_once(',') {
                None => {
                    let n = text.parse().ok()?;
                    (n, Some(n))
                }
                Some((a, "")) => (a.parse().ok()?, None),
                Some((a, b)) => (a.parse().ok()?, Some(b.parse().ok()?)),
            };
            if max.is_some_and(|m| m < min) || min > 1000 || max.is_some_and(|m| m > 1000) {
                return None;
            }
            self.chars = ahead;
            Some((min, max))
        }

        fn quantified(&mut self, mut atom: Ast) -> Result<Ast, Unsupported> {
            loop {
                let (min, max) = match self.chars.peek() {
                    Some('*') => (0, None),
                    Some('+') => (1, None),
                    Some('?') => (0, Some(1)),
                    Some('{') => match self.counted() {
                        Some(q) => {
                            atom = Ast::Repeat {
                                node: Box::new(atom),
                                min: q.0,
                                max: q.1,
                            };
                            self.lazy();
                            continue;
                        }
                        None => return Ok(atom),
                    },
                    _ => return Ok(atom),
                };
                self.chars.next();
                self.lazy();
                if matches!(atom, Ast::Repeat { .. }) {
                    return unsupported("a repetition of a repetition");
                }
                atom = Ast::Repeat {
                    node: Box::new(atom),
                    min,
                    max,
                };
            }
        }

        /// A `?` after a quantifier (lazy): the same for a yes/no match.
        fn lazy(&mut self) {
            if self.chars.peek() == Some(&'?') {
                self.chars.next();
            }
        }
    }

    struct Compiler {
        prog: Vec<Inst>,
    }

    impl Compiler {
        fn push(&mut self, inst: Inst) -> Result<usize, Unsupported> {
            if self.prog.len() >= MAX_PROGRAM {
                return unsupported("the pattern is too large");
            }
            self.prog.push(inst);
            Ok(self.prog.len() - 1)
        }

        fn emit(&mut self, ast: &Ast, depth: usize) -> Result<(), Unsupported> {
            if depth > MAX_NESTING * 4 {
                return unsupported("the pattern is nested too deep");
            }
            match ast {
                Ast::Empty => {}
                Ast::Class(c) => {
                    self.push(Inst::Class(c.clone()))?;
                }
                Ast::Start => {
                    self.push(Inst::Start)?;
                }
                Ast::End => {
                    self.push(Inst::End)?;
                }
                Ast::Concat(items) => {
                    for item in items {
                        self.emit(item, depth + 1)?;
                    }
                }
                Ast::Alt(branches) => {
                    let mut jumps = Vec::new();
                    for (i, b) in branches.iter().enumerate() {
                        if i + 1 < branches.len() {
                            let split = self.push(Inst::Split(0, 0))?;
                            self.emit(b, depth + 1)?;
                            jumps.push(self.push(Inst::Jmp(0))?);
                            let next = self.prog.len();
                            self.prog[split] = Inst::Split(split + 1, next);
                        } else {
                            self.emit(b, depth + 1)?;
                        }
                    }
                    let end = self.prog.len();
                    for j in jumps {
                        self.prog[j] = Inst::Jmp(end);
                    }
                }
                Ast::Repeat { node, min, max } => {
                    for _ in 0..*min {
                        self.emit(node, depth + 1)?;
                    }
                    match max {
                        None => {
                            // L: split body, out; body; jmp L
                            let split = self.push(Inst::Split(0, 0))?;
                            self.emit(node, depth + 1)?;
                            self.push(Inst::Jmp(split))?;
                            let out = self.prog.len();
                            self.prog[split] = Inst::Split(split + 1, out);
                        }
                        Some(max) => {
                            let mut splits = Vec::new();
                            for _ in *min..*max {
                                splits.push(self.push(Inst::Split(0, 0))?);
                                self.emit(node, depth + 1)?;
                            }
                            let out = self.prog.len();
                            for s in splits {
                                self.prog[s] = Inst::Split(s + 1, out);
                            }
                        }
                    }
                }
            }
            Ok(())
        }
    }

    impl Regex {
        /// Compiles `pattern`, or says what it uses that is not supported.
        pub(crate) fn new(pattern: &str) -> Result<Regex, Unsupported> {
            let mut parser = Parser {
                chars: pattern.chars().peekable(),
                depth: 0,
            };
            let ast = parser.alternation()?;
            if parser.chars.next().is_some() {
                return unsupported("an unexpected )");
            }
            let mut c = Compiler { prog: Vec::new() };
            c.emit(&ast, 0)?;
            c.push(Inst::Match)?;
            Ok(Regex { prog: c.prog })
        }

        /// Adds the thread at `pc` (and what it reaches without reading)
        /// to `list`.
        fn add(
            &self,
            list: &mut Vec<usize>,
            seen: &mut [usize],
            mark: usize,
            pc: usize,
            at_start: bool,
            at_end: bool,
        ) -> bool {
            let mut stack = vec![pc];
            let mut matched = false;
            while let Some(pc) = stack.pop() {
                if pc >= self.prog.len() || seen[pc] == mark {
                    continue;
                }
                seen[pc] = mark;
                match &self.prog[pc] {
                    Inst::Jmp(t) => stack.push(*t),
                    Inst::Split(a, b) => {
                        stack.push(*b);
                        stack.push(*a);
                    }
                    Inst::Start => {
                        if at_start {
                            stack.push(pc + 1);
                        }
                    }
                    Inst::End => {
                        if at_end {
                            stack.push(pc + 1);
                        }
                    }
                    Inst::Match => matched = true,
                    Inst::Class(_) => list.push(pc),
                }
            }
            matched
        }

        /// True when the pattern matches somewhere in `text`.
        pub(crate) fn is_match(&self, text: &str) -> bool {
            let chars: Vec<char> = text.chars().collect();
            let mut seen = vec![usize::MAX; self.prog.len()];
            let mut current = Vec::new();
            let mut next = Vec::new();
            let mut mark = 0;
            for i in 0..=chars.len() {
                let at_end = i == chars.len();
                // Unanchored: a new thread starts at every position.
                if self.add(&mut current, &mut seen, mark, 0, i == 0, at_end) {
                    return true;
                }
                if at_end {
                    break;
                }
                let c = chars[i];
                mark += 1;
                next.clear();
                for &pc in &current {
                    if let Inst::Class(class) = &self.prog[pc] {
                        if class.matches(c)
                            && self.add(
                                &mut next,
                                &mut seen,
                                mark,
                                pc + 1,
                                false,
                                i + 1 == chars.len(),
                            )
                        {
                            return true;
                        }
                    }
                }
                std::mem::swap(&mut current, &mut next);
            }
            false
        }
    }

    #[cfg(test)]
    mod tests {
        use super::Regex;

        fn m(p: &str, t: &str) -> bool {
            Regex::new(p).unwrap().is_match(t)
        }

        #[test]
        fn matches_like_re2() {
            assert!(m("^https?://", "https://example.com"));
            assert!(!m("^https?://", "ftp://example.com"));
            assert!(m("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "my-site"));
            assert!(!m("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "My-site"));
            assert!(!m("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "site-"));
            assert!(m(r"^\d{3}-\d{4}$", "555-1234"));
            assert!(!m(r"^\d{3}-\d{4}$", "5555-1234"));
            assert!(m("b", "abc"), "unanchored");
            assert!(m("^(red|green|blue)$", "green"));
            assert!(!m("^(red|green|blue)$", "greenish"));
            assert!(m(r"^[^\s]+$", "no-spaces"));
            assert!(!m(r"^[^\s]+$", "a space"));
            assert!(m("^a{2,}$", "aaaa"));
            assert!(!m("^a{2,3}$", "aaaa"));
            assert!(m("x{", "x{"), "a brace that is no count is literal");
            assert!(m("^$", ""));
            assert!(m("^(?:ab)*c$", "ababc"));
            assert!(m("^(?P<n>[0-9]+)$", "42"));
            assert!(m("^.+\\.example\\.com$", "a.example.com"));
            assert!(!m("^.+\\.example\\.com$", "a.exampleXcom"));
        }

        #[test]
        fn unsupported_syntax_is_an_error_not_a_panic() {
            for p in [
                "(?i)abc",
                "\\bword",
                "[[:alpha:]]",
                "(",
                ")",
                "a**",
                "[z-a]",
                "\\",
                "[abc",
                "\\p{L}",
            ] {
                assert!(Regex::new(p).is_err(), "{p}");
            }
            // Huge counted repetitions are refused, not expanded.
            assert!(Regex::new("(a{1000}){1000}").is_err());
            let deep = "(".repeat(200) + &")".repeat(200);
            assert!(Regex::new(&deep).is_err());
        }

        #[test]
        fn matching_is_linear() {
            let re = Regex::new("^(a+)+$").unwrap();
            let text = "a".repeat(5000) + "b";
            assert!(!re.is_match(&text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator(schema: Value) -> Validator {
        let s: JsonSchemaProps = serde_json::from_value(schema).unwrap();
        Validator::compile(Some(&s), false)
    }

    fn object(data: Value) -> DynamicObject {
        let mut v =
            json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "a"}});
        if let (Value::Object(m), Value::Object(d)) = (&mut v, data) {
            m.extend(d);
        }
        serde_json::from_value(v).unwrap()
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    fn spec_schema(spec: Value) -> Value {
        json!({"type": "object", "properties": {"spec": spec}})
    }

    #[test]
    fn type_errors_use_kubernetes_wording() {
        let v = validator(spec_schema(json!({
            "type": "object",
            "properties": {"replicas": {"type": "integer"}, "name": {"type": "string"}}
        })));
        let obj = object(json!({"spec": {"replicas": "three", "name": 5}}));
        let errors = v.validate(&obj, Part::All);
        assert_eq!(
            messages(&errors),
            [
                "spec.name: Invalid value: \"integer\": spec.name in body must be of type string: \"integer\"",
                "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
            ]
        );
        assert!(errors.iter().all(|e| e.kind == ErrorType::TypeInvalid));
    }

    #[test]
    fn required_enum_and_bounds() {
        let v = validator(spec_schema(json!({
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "multipleOf": 0.5},
                "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"}
            }
        })));
        let obj = object(json!({"spec": {"color": "pink", "ratio": 0, "name": "ABCDE"}}));
        let got = messages(&v.validate(&obj, Part::All));
        assert_eq!(
            got,
            [
                "spec.size: Required value",
                "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
                "spec.name: Too long: may not be more than 4 bytes",
                "spec.name: Invalid value: \"ABCDE\": spec.name in body should match '^[a-z]+$'",
                "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0",
            ]
        );
        let obj = object(json!({"spec": {"size": 11, "ratio": 0.75}}));
        assert_eq!(
            messages(&v.validate(&obj, Part::All)),
            [
                "spec.ratio: Invalid value: 0.75: spec.ratio in body should be a multiple of 0.5",
                "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
            ]
        );
        let ok = object(json!({"spec": {"size": 10, "color": "red", "ratio": 1.5, "name": "ab"}}));
        assert!(v.validate(&ok, Part::All).is_empty());
    }

    #[test]
    fn pruning_defaulting_and_field_validation() {
        let v = validator(spec_schema(json!({
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "template": {
                    "type": "object",
                    "default": {},
                    "properties": {"image": {"type": "string", "default": "nginx"}}
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        })));
        let data = json!({"spec": {
            "extra": 1, "free": {"any": {"thing": true}},
            "labels": {"a": "b"}, "template": {"junk": 2}
        }, "top": 3});
        let mut obj = object(data.clone());
        let warnings = v.prepare(&mut obj, FieldValidation::Warn).unwrap();
        assert_eq!(
            warnings,
            [
                "unknown field \"spec.extra\"",
                "unknown field \"spec.template.junk\"",
                "unknown field \"top\""
            ]
        );
        assert_eq!(
            Value::Object(obj.data.clone()),
            json!({"spec": {
                "replicas": 1, "free": {"any": {"thing": true}},
                "labels": {"a": "b"}, "template": {"image": "nginx"}
            }})
        );
        let mut obj = object(data.clone());
        let e = v.prepare(&mut obj, FieldValidation::Strict).unwrap_err();
        assert_eq!(
            e.to_string(),
            "strict decoding error: unknown field \"spec.extra\", unknown field \"spec.template.junk\", unknown field \"top\""
        );
        let mut obj = object(data);
        assert!(v
            .prepare(&mut obj, FieldValidation::Ignore)
            .unwrap()
            .is_empty());
        assert!(!obj.data.contains_key("top"));
        // Nested defaults of an absent parent.
        let mut obj = object(json!({"spec": {}}));
        v.prepare(&mut obj, FieldValidation::Warn).unwrap();
        assert_eq!(obj.data["spec"]["template"]["image"], "nginx");
    }

    #[test]
    fn nulls_nullable_and_int_or_string() {
        let v = validator(spec_schema(json!({
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": true},
                "note": {"type": "string", "nullable": true},
                "mode": {"type": "string", "default": "fast"},
                "gone": {"type": "string"},
                "list": {"type": "array", "items": {"type": "string"}}
            }
        })));
        let mut obj = object(
            json!({"spec": {"port": "http", "note": null, "mode": null, "gone": null, "list": ["a", null]}}),
        );
        v.prepare(&mut obj, FieldValidation::Strict).unwrap();
        assert_eq!(
            Value::Object(obj.data.clone()),
            json!({"spec": {"port": "http", "note": null, "mode": "fast", "list": ["a", null]}})
        );
        assert_eq!(
            messages(&v.validate(&obj, Part::All)),
            ["spec.list[1]: Invalid value: \"null\": spec.list[1] in body must be of type string: \"null\""]
        );
        let obj = object(json!({"spec": {"port": 8080}}));
        assert!(v.validate(&obj, Part::All).is_empty());
        let obj = object(json!({"spec": {"port": true}}));
        assert_eq!(
            messages(&v.validate(&obj, Part::All)),
            ["spec.port: Invalid value: \"boolean\": spec.port in body must be of type int-or-string: \"boolean\""]
        );
    }

    #[test]
    fn arrays_lists_and_combinators() {
        let v = validator(spec_schema(json!({
            "type": "object",
            "properties": {
                "tags": {"type": "array", "maxItems": 3, "minItems": 1,
                         "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {
                              "name": {"type": "string"}, "port": {"type": "integer", "format": "int32"}}}},
                "when": {"type": "string", "format": "date-time"},
                "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "notfive": {"type": "integer", "not": {"enum": [5]}}
            }
        })));
        let obj = object(json!({"spec": {
            "tags": ["a", "b", "a", "c"],
            "ports": [{"name": "http", "port": 80}, {"name": "http", "port": 5000000000u64}],
            "when": "yesterday",
            "choice": true,
            "notfive": 5
        }}));
        let got = messages(&v.validate(&obj, Part::All));
        assert!(
            got.contains(&"spec.tags: Too many: 4: must have at most 3 items".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"spec.tags[2]: Duplicate value: \"a\"".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"spec.ports[1]: Duplicate value: {\"name\":\"http\"}".to_string()),
            "{got:?}"
        );
        assert!(got.iter().any(|m| m.starts_with("spec.ports[1].port: Invalid value: 5000000000: spec.ports[1].port in body must be of type int32")), "{got:?}");
        assert!(got.contains(&"spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"".to_string()), "{got:?}");
        assert!(got.iter().any(|m| m.contains("(oneOf)")), "{got:?}");
        assert!(got.iter().any(|m| m.contains("(not)")), "{got:?}");
        let obj = object(
            json!({"spec": {"tags": ["a"], "when": "2024-01-31T12:00:00Z", "choice": 3, "notfive": 4}}),
        );
        assert!(v.validate(&obj, Part::All).is_empty());
    }

    #[test]
    fn metadata_name_constraints() {
        let v = validator(json!({
            "type": "object",
            "properties": {"metadata": {"type": "object", "properties": {
                "name": {"type": "string", "maxLength": 3}
            }}}
        }));
        let mut obj = object(json!({}));
        obj.metadata.name = "long".into();
        assert_eq!(
            messages(&v.validate(&obj, Part::All)),
            ["metadata.name: Too long: may not be more than 3 bytes"]
        );
        obj.metadata.name = "ok".into();
        assert!(v.validate(&obj, Part::All).is_empty());
    }

    #[test]
    fn status_parts() {
        let v = validator(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        }));
        let obj = object(json!({"spec": {"size": "x"}, "status": {"ready": "yes"}}));
        assert_eq!(v.validate(&obj, Part::All).len(), 2);
        let main = messages(&v.validate(&obj, Part::AllButStatus));
        assert_eq!(main.len(), 1);
        assert!(main[0].starts_with("spec.size"));
        let status = messages(&v.validate(&obj, Part::Status));
        assert_eq!(status.len(), 1);
        assert!(status[0].starts_with("status.ready"));
    }

    #[test]
    fn weird_schemas_and_deep_objects_do_not_panic() {
        // A schema deeper than MAX_DEPTH, with odd combinations at every
        // level (built in code: serde would need a deep stack for it).
        let odd: JsonSchemaProps = serde_json::from_value(json!({
            "type": "object", "minimum": 3, "pattern": "(", "items": {"type": "bogus"},
            "multipleOf": 0, "additionalProperties": false, "anyOf": [{}],
            "x-kubernetes-list-type": "map", "format": "int32"
        }))
        .unwrap();
        let mut schema = JsonSchemaProps::typed("string");
        for _ in 0..200 {
            let mut o = odd.clone();
            o.properties.insert("a", schema);
            schema = o;
        }
        let v = Validator::compile(Some(&schema), false);
        let mut deep = json!("leaf");
        for _ in 0..100 {
            deep = json!({"a": deep, "b": [1, 2, 2]});
        }
        let mut obj = object(json!({"a": deep}));
        let _ = v.prepare(&mut obj, FieldValidation::Warn);
        let _ = v.validate(&obj, Part::All);
        // spec.preserveUnknownFields: nothing pruned, at any depth.
        let s: JsonSchemaProps = serde_json::from_value(
            json!({"type": "object", "properties": {"spec": {"type": "object"}}}),
        )
        .unwrap();
        let keep = Validator::compile(Some(&s), true);
        let mut obj = object(json!({"spec": {"x": 1}, "y": 2}));
        assert!(keep
            .prepare(&mut obj, FieldValidation::Strict)
            .unwrap()
            .is_empty());
        assert_eq!(obj.data["spec"]["x"], 1);
        // No schema: everything kept, nothing checked.
        let none = Validator::compile(None, false);
        let mut obj = object(json!({"x": 1}));
        assert!(none
            .prepare(&mut obj, FieldValidation::Strict)
            .unwrap()
            .is_empty());
        assert!(none.validate(&obj, Part::All).is_empty());
    }
}
