//! Reading (and, in [`encode`], writing) Kubernetes' protobuf encoding
//! (`application/vnd.kubernetes.protobuf`).
//!
//! client-go's typed clients — and so kubectl's `create namespace`,
//! `create configmap`, `create secret`, `create deployment`, `autoscale`
//! and friends — send protobuf rather than JSON. A body is the four bytes
//! `k8s\0` followed by a `runtime.Unknown` message: the object's
//! `apiVersion` and `kind`, and the object itself as the protobuf encoding
//! of its Go struct (`raw`).
//!
//! This module turns such a body into the JSON the rest of the server
//! reads. It is driven by a table of message descriptors
//! (`protobuf.schema`: for each message, its field numbers, JSON names and
//! types, taken from the `generated.proto` files of `k8s.io/api` and
//! `k8s.io/apimachinery`), not by generated code. The table covers every
//! built-in kind of the scheme except CustomResourceDefinition (whose
//! JSON-schema messages have JSON forms of their own) plus
//! `DeleteOptions`; `scripts/protobuf-schema.py` writes it from the
//! `k8s-pb` crate's field numbers and `k8s-openapi`'s JSON names, so adding
//! a kind is adding it to the script's roots. Go embedded structs (a
//! volume's source, a probe's handler) are marked `inline`: their fields
//! land in the enclosing JSON object. Go's JSON rules are followed: a
//! non-pointer scalar at its zero value (which gogo-protobuf always writes)
//! is left out, as `omitempty` would; pointer scalars keep their zero.
//!
//! Kinds whose messages are not in the table are refused with
//! `415 Unsupported Media Type` naming the kind, and a field number the
//! table does not know with `400 Bad Request` naming the message and
//! field: never a silently dropped field.
//!
//! The [`encode`] submodule writes the same encoding from an object's JSON,
//! for clients that ask for protobuf responses and watch streams (client-go
//! components do; every client also accepts JSON, which stays the default).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::{Map, Number, Value};

use crate::api::core::base64;
use crate::api::{MicroTime, Time};

pub(crate) mod encode;

/// The media type of Kubernetes' protobuf encoding.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The media type of a protobuf watch stream (length-prefixed frames).
pub(crate) const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// The envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProtobufError {
    /// The body is not well-formed protobuf, or not what its schema says.
    Malformed(String),
    /// The kind (or a message it uses) is not in the table.
    Unsupported(String),
}

/// Decodes a protobuf body into the object's JSON.
pub(crate) fn to_json(body: &[u8]) -> Result<Vec<u8>, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or_else(|| {
        ProtobufError::Malformed("the protobuf body does not start with the k8s envelope".into())
    })?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    let mut encoding = String::new();
    for field in Fields::new(rest) {
        let (num, value) = field?;
        match (num, value) {
            (1, Wire::Len(type_meta)) => {
                for f in Fields::new(type_meta) {
                    match f? {
                        (1, Wire::Len(b)) => api_version = utf8(b, "apiVersion")?,
                        (2, Wire::Len(b)) => kind = utf8(b, "kind")?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(b)) => raw = b,
            (3, Wire::Len(b)) => encoding = utf8(b, "contentEncoding")?,
            _ => {}
        }
    }
    if !encoding.is_empty() {
        return Err(ProtobufError::Unsupported(format!(
            "protobuf content encoding {encoding:?}"
        )));
    }
    if kind.is_empty() || api_version.is_empty() {
        return Err(ProtobufError::Malformed(
            "the protobuf envelope names no apiVersion and kind".into(),
        ));
    }
    let name = message_name(&api_version, &kind);
    let schema = schema();
    let message = schema.get(name.as_str()).ok_or_else(|| {
        ProtobufError::Unsupported(format!(
            "protobuf bodies for {kind} ({api_version}); send application/json"
        ))
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    decode_message(schema, message, raw, &mut object, 0)?;
    serde_json::to_vec(&Value::Object(object))
        .map_err(|e| ProtobufError::Malformed(format!("encoding JSON: {e}")))
}

/// `apps/v1` + `Deployment` → `apps.v1.Deployment`; the core group is
/// `core`, and a group's first label names its package
/// (`rbac.authorization.k8s.io` → `rbac`).
fn message_name(api_version: &str, kind: &str) -> String {
    // `Status` is served as `v1` but is apimachinery's.
    if kind == "Status" && matches!(api_version, "v1" | "meta.k8s.io/v1") {
        return "meta.v1.Status".into();
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let package = group
        .split('.')
        .next()
        .filter(|g| !g.is_empty())
        .unwrap_or("core");
    format!("{package}.{version}.{kind}")
}

/// The type of one field.
#[derive(Debug)]
enum Type {
    String,
    Bytes,
    Int32,
    Int64,
    Bool,
    Double,
    /// `meta.v1.Time`: seconds and nanos, as an RFC 3339 string.
    Time,
    /// `meta.v1.MicroTime`: the same message, with six fractional digits.
    MicroTime,
    /// `resource.Quantity`: its string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `runtime.RawExtension`: embedded JSON.
    Raw,
    /// A map (a repeated key/value entry message) with string keys.
    Map(Box<Type>),
    /// Another message of the table.
    Message(String),
}

#[derive(Debug)]
struct Field {
    json: String,
    ty: Type,
    repeated: bool,
    /// A Go pointer (or a field without `omitempty`): its zero value is
    /// kept.
    pointer: bool,
    /// A Go embedded struct (`localObjectReference`, a probe's handler, a
    /// volume's source): its fields are the enclosing object's in JSON.
    inline: bool,
}

/// A message's fields by number, in order (the encoder writes them so).
type Message = BTreeMap<u32, Field>;
type Schema = HashMap<String, Message>;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| parse_schema(include_str!("protobuf.schema")))
}

fn parse_type(t: &str) -> Type {
    match t {
        "string" => Type::String,
        "bytes" => Type::Bytes,
        "int32" => Type::Int32,
        "int64" => Type::Int64,
        "bool" => Type::Bool,
        "double" => Type::Double,
        "meta.v1.Time" => Type::Time,
        "meta.v1.MicroTime" => Type::MicroTime,
        "resource.Quantity" => Type::Quantity,
        "intstr.IntOrString" => Type::IntOrString,
        "runtime.RawExtension" => Type::Raw,
        other => match other
            .strip_prefix("map<string,")
            .and_then(|v| v.strip_suffix('>'))
        {
            Some(value) => Type::Map(Box::new(parse_type(value))),
            None => Type::Message(other.to_string()),
        },
    }
}

/// Parses the table: `message NAME` lines, then `NUMBER JSON-NAME
/// [repeated] TYPE [ptr] [inline]` lines; `#` starts a comment. A line
/// that does not parse is dropped here and caught by the
/// `every_table_line_parses` test.
fn parse_schema(text: &str) -> Schema {
    let mut schema = Schema::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("message ") {
            let name = name.trim().to_string();
            schema.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let (Some(message), Some(parsed)) = (current.as_ref(), parse_field(line)) else {
            continue;
        };
        if let Some(m) = schema.get_mut(message) {
            m.insert(parsed.0, parsed.1);
        }
    }
    schema
}

fn parse_field(line: &str) -> Option<(u32, Field)> {
    let mut words = line.split_whitespace();
    let num: u32 = words.next()?.parse().ok()?;
    let json = words.next()?.to_string();
    let mut ty = words.next()?;
    let repeated = ty == "repeated";
    if repeated {
        ty = words.next()?;
    }
    let (mut pointer, mut inline) = (false, false);
    for w in words {
        match w {
            "ptr" => pointer = true,
            "inline" => inline = true,
            _ => return None,
        }
    }
    Some((
        num,
        Field {
            json,
            ty: parse_type(ty),
            repeated,
            pointer,
            inline,
        },
    ))
}

/// One field's value on the wire.
#[derive(Clone, Copy, Debug)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    /// No type of the table uses fixed32; its bytes are skipped.
    Fixed32,
}

/// The fields of one message, in order.
struct Fields<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf, failed: false }
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| ProtobufError::Malformed("truncated varint".into()))?;
            self.buf = rest;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed(
            "varint longer than 10 bytes".into(),
        ))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtobufError> {
        if n > self.buf.len() {
            return Err(ProtobufError::Malformed("truncated field".into()));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn next_field(&mut self) -> Result<(u32, Wire<'a>), ProtobufError> {
        let key = self.varint()?;
        let num = u32::try_from(key >> 3)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ProtobufError::Malformed(format!("invalid field key {key}")))?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let b = self.bytes(8)?;
                Wire::Fixed64(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| ProtobufError::Malformed("field length overflows".into()))?;
                Wire::Len(self.bytes(len)?)
            }
            5 => {
                self.bytes(4)?;
                Wire::Fixed32
            }
            other => {
                return Err(ProtobufError::Malformed(format!(
                    "unsupported wire type {other} for field {num}"
                )))
            }
        };
        Ok((num, wire))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), ProtobufError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() || self.failed {
            return None;
        }
        let r = self.next_field();
        self.failed = r.is_err();
        Some(r)
    }
}

fn utf8(b: &[u8], what: &str) -> Result<String, ProtobufError> {
    String::from_utf8(b.to_vec())
        .map_err(|_| ProtobufError::Malformed(format!("{what} is not valid UTF-8")))
}

/// Messages nest at most this deep (a bound against hostile input).
const MAX_DEPTH: usize = 64;

fn decode_message(
    schema: &Schema,
    message: &Message,
    buf: &[u8],
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::Malformed("messages nest too deeply".into()));
    }
    for field in Fields::new(buf) {
        let (num, wire) = field?;
        let Some(f) = message.get(&num) else {
            let name = schema
                .iter()
                .find(|(_, m)| std::ptr::eq(*m, message))
                .map_or("?", |(n, _)| n.as_str());
            return Err(ProtobufError::Unsupported(format!(
                "field {num} of protobuf message {name}"
            )));
        };
        if let (true, Type::Message(name), Wire::Len(b)) = (f.inline, &f.ty, wire) {
            let embedded = schema.get(name).ok_or_else(|| {
                ProtobufError::Unsupported(format!("protobuf message {name} (field {:?})", f.json))
            })?;
            decode_message(schema, embedded, b, out, depth + 1)?;
            continue;
        }
        if let Type::Map(value_type) = &f.ty {
            let Wire::Len(entry) = wire else {
                return Err(wrong_wire(&f.json));
            };
            let (key, value) = decode_entry(schema, value_type, entry, &f.json, depth)?;
            let map = out
                .entry(f.json.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = map {
                map.insert(key, value);
            }
            continue;
        }
        if f.repeated {
            let items = out
                .entry(f.json.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else {
                continue;
            };
            match (wire, packable(&f.ty)) {
                // Packed repeated scalars: one run of varints or fixed64s.
                (Wire::Len(run), true) => {
                    let mut run = Fields::new(run);
                    while !run.buf.is_empty() {
                        let w = if matches!(f.ty, Type::Double) {
                            Wire::Fixed64(u64::from_le_bytes(
                                run.bytes(8)?.try_into().unwrap_or([0; 8]),
                            ))
                        } else {
                            Wire::Varint(run.varint()?)
                        };
                        items.push(scalar(&f.ty, w, &f.json)?);
                    }
                }
                _ => items.push(decode_value(schema, &f.ty, wire, &f.json, depth)?),
            }
            continue;
        }
        let value = decode_value(schema, &f.ty, wire, &f.json, depth)?;
        if f.pointer || !is_zero(&value) || matches!(f.ty, Type::Message(_)) {
            out.insert(f.json.clone(), value);
        } else {
            out.remove(&f.json);
        }
    }
    Ok(())
}

fn packable(ty: &Type) -> bool {
    matches!(ty, Type::Int32 | Type::Int64 | Type::Bool | Type::Double)
}

/// The zero values `omitempty` leaves out.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

fn wrong_wire(field: &str) -> ProtobufError {
    ProtobufError::Malformed(format!("field {field:?} has the wrong wire type"))
}

fn decode_entry(
    schema: &Schema,
    value_type: &Type,
    entry: &[u8],
    field: &str,
    depth: usize,
) -> Result<(String, Value), ProtobufError> {
    let mut key = String::new();
    let mut value = None;
    for f in Fields::new(entry) {
        match f? {
            (1, Wire::Len(b)) => key = utf8(b, field)?,
            (2, w) => value = Some(decode_value(schema, value_type, w, field, depth)?),
            (n, _) => {
                return Err(ProtobufError::Malformed(format!(
                    "map entry of {field:?} has a field {n}"
                )))
            }
        }
    }
    let value = match value {
        Some(v) => v,
        None => match value_type {
            Type::Bytes | Type::String | Type::Quantity => Value::String(String::new()),
            Type::Message(_) => Value::Object(Map::new()),
            _ => Value::Null,
        },
    };
    Ok((key, value))
}

fn scalar(ty: &Type, wire: Wire<'_>, field: &str) -> Result<Value, ProtobufError> {
    Ok(match (ty, wire) {
        (Type::Int32, Wire::Varint(v)) => Value::from(v as i64 as i32),
        (Type::Int64, Wire::Varint(v)) => Value::from(v as i64),
        (Type::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        (Type::Double, Wire::Fixed64(v)) => Number::from_f64(f64::from_bits(v))
            .map(Value::Number)
            .ok_or_else(|| ProtobufError::Malformed(format!("{field:?} is not a finite number")))?,
        _ => return Err(wrong_wire(field)),
    })
}

fn decode_value(
    schema: &Schema,
    ty: &Type,
    wire: Wire<'_>,
    field: &str,
    depth: usize,
) -> Result<Value, ProtobufError> {
    let Wire::Len(b) = wire else {
        return scalar(ty, wire, field);
    };
    Ok(match ty {
        Type::String => Value::String(utf8(b, field)?),
        Type::Bytes => Value::String(base64::encode(b)),
        Type::Time | Type::MicroTime => {
            let (mut seconds, mut nanos) = (0i64, 0i64);
            for f in Fields::new(b) {
                match f? {
                    (1, Wire::Varint(v)) => seconds = v as i64,
                    (2, Wire::Varint(v)) => nanos = v as i64,
                    _ => return Err(wrong_wire(field)),
                }
            }
            // Go's zero time (year 1) and an empty message are "unset".
            if (seconds == 0 && nanos == 0) || seconds <= -62_135_596_800 {
                Value::Null
            } else if matches!(ty, Type::MicroTime) {
                let micros = seconds.saturating_mul(1_000_000) + nanos / 1_000;
                Value::String(MicroTime::from_unix_micros(micros).to_string())
            } else {
                Value::String(Time::from_unix_seconds(seconds).to_string())
            }
        }
        Type::Quantity => {
            let mut s = String::new();
            for f in Fields::new(b) {
                if let (1, Wire::Len(v)) = f? {
                    s = utf8(v, field)?;
                }
            }
            Value::String(s)
        }
        Type::IntOrString => {
            let (mut kind, mut int, mut string) = (0u64, 0i64, String::new());
            for f in Fields::new(b) {
                match f? {
                    (1, Wire::Varint(v)) => kind = v,
                    (2, Wire::Varint(v)) => int = i64::from(v as i64 as i32),
                    (3, Wire::Len(v)) => string = utf8(v, field)?,
                    _ => return Err(wrong_wire(field)),
                }
            }
            if kind == 1 {
                Value::String(string)
            } else {
                Value::from(int)
            }
        }
        Type::Raw => {
            let mut raw: &[u8] = &[];
            for f in Fields::new(b) {
                if let (1, Wire::Len(v)) = f? {
                    raw = v;
                }
            }
            if raw.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(raw).map_err(|e| {
                    ProtobufError::Malformed(format!("{field:?} holds invalid JSON: {e}"))
                })?
            }
        }
        Type::Message(name) => {
            let message = schema.get(name).ok_or_else(|| {
                ProtobufError::Unsupported(format!("protobuf message {name} (field {field:?})"))
            })?;
            let mut out = Map::new();
            decode_message(schema, message, b, &mut out, depth + 1)?;
            Value::Object(out)
        }
        Type::Map(_) | Type::Int32 | Type::Int64 | Type::Bool | Type::Double => {
            return Err(wrong_wire(field))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The encoder's wire writers build the test bodies by hand.
    use super::encode::{key, len_field as bytes, varint};

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut tm = Vec::new();
        bytes(1, api_version.as_bytes(), &mut tm);
        bytes(2, kind.as_bytes(), &mut tm);
        let mut out = MAGIC.to_vec();
        bytes(1, &tm, &mut out);
        bytes(2, raw, &mut out);
        bytes(3, b"", &mut out);
        bytes(4, b"", &mut out);
        out
    }
    fn entry(k: &str, v: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        bytes(1, k.as_bytes(), &mut e);
        bytes(2, v, &mut e);
        e
    }

    /// What kubectl sends for `create configmap c --from-literal=a=b`:
    /// gogo writes empty strings and an empty creationTimestamp.
    fn configmap() -> Vec<u8> {
        let mut meta = Vec::new();
        bytes(1, b"c", &mut meta);
        bytes(2, b"", &mut meta);
        bytes(3, b"", &mut meta);
        bytes(8, b"", &mut meta);
        let mut cm = Vec::new();
        bytes(1, &meta, &mut cm);
        bytes(2, &entry("a", b"b"), &mut cm);
        bytes(3, &entry("bin", &[0, 255, 1]), &mut cm);
        envelope("v1", "ConfigMap", &cm)
    }

    #[test]
    fn embedded_structs_are_inline_and_micro_times_keep_micros() {
        // A Pod with a volume whose source (an embedded Go struct) is an
        // emptyDir, and a container whose probe handler is embedded too.
        let mut empty_dir = Vec::new();
        bytes(1, b"Memory", &mut empty_dir);
        let mut source = Vec::new();
        bytes(2, &empty_dir, &mut source);
        let mut volume = Vec::new();
        bytes(1, b"cache", &mut volume);
        bytes(2, &source, &mut volume);
        let mut exec = Vec::new();
        bytes(1, b"true", &mut exec);
        let mut handler = Vec::new();
        bytes(1, &exec, &mut handler);
        let mut probe = Vec::new();
        bytes(1, &handler, &mut probe);
        key(2, 0, &mut probe); // initialDelaySeconds
        varint(5, &mut probe);
        let mut container = Vec::new();
        bytes(1, b"app", &mut container);
        bytes(10, &probe, &mut container);
        let mut spec = Vec::new();
        bytes(1, &volume, &mut spec);
        bytes(2, &container, &mut spec);
        let mut meta = Vec::new();
        bytes(1, b"p", &mut meta);
        let mut pod = Vec::new();
        bytes(1, &meta, &mut pod);
        bytes(2, &spec, &mut pod);
        let json = to_json(&envelope("v1", "Pod", &pod)).expect("decodes");
        let v: Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(
            v["spec"]["volumes"][0],
            serde_json::json!({"name": "cache", "emptyDir": {"medium": "Memory"}})
        );
        let probe = &v["spec"]["containers"][0]["livenessProbe"];
        assert_eq!(probe["exec"]["command"], serde_json::json!(["true"]));
        assert_eq!(probe["initialDelaySeconds"], 5);

        // A Lease's renewTime is a MicroTime: microseconds survive.
        let mut renew = Vec::new();
        key(1, 0, &mut renew);
        varint(1_700_000_000, &mut renew);
        key(2, 0, &mut renew);
        varint(123_456_000, &mut renew);
        let mut lease_spec = Vec::new();
        bytes(4, &renew, &mut lease_spec);
        let mut lease = Vec::new();
        bytes(1, &meta, &mut lease);
        bytes(2, &lease_spec, &mut lease);
        let json = to_json(&envelope("coordination.k8s.io/v1", "Lease", &lease)).expect("decodes");
        let v: Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(v["spec"]["renewTime"], "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn decodes_a_configmap() {
        let json = to_json(&configmap()).expect("decodes");
        let v: Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"a": "b"},
                "binaryData": {"bin": "AP8B"},
            })
        );
    }

    #[test]
    fn pointer_zero_is_kept_and_ints_decode() {
        // DeploymentSpec.replicas is a *int32: 0 stays.
        let mut spec = Vec::new();
        key(1, 0, &mut spec);
        varint(0, &mut spec);
        let mut d = Vec::new();
        bytes(1, b"", &mut d);
        bytes(2, &spec, &mut d);
        let v: Value =
            serde_json::from_slice(&to_json(&envelope("apps/v1", "Deployment", &d)).expect("ok"))
                .expect("json");
        assert_eq!(v["spec"]["replicas"], 0, "{v}");
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused_by_name() {
        let err = to_json(&envelope("example.com/v1", "Widget", b"")).unwrap_err();
        assert!(
            matches!(&err, ProtobufError::Unsupported(m) if m.contains("Widget")),
            "{err:?}"
        );
        let mut cm = Vec::new();
        bytes(99, b"x", &mut cm);
        let err = to_json(&envelope("v1", "ConfigMap", &cm)).unwrap_err();
        assert!(
            matches!(&err, ProtobufError::Unsupported(m) if m.contains("field 99") && m.contains("core.v1.ConfigMap")),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(to_json(b"not protobuf").is_err());
        let good = configmap();
        for cut in 0..good.len() {
            let _ = to_json(&good[..cut]);
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = to_json(&bad);
        }
    }

    #[test]
    fn base64_matches_go() {
        assert_eq!(base64::encode(b""), "");
        assert_eq!(base64::encode(b"f"), "Zg==");
        assert_eq!(base64::encode(b"fo"), "Zm8=");
        assert_eq!(base64::encode(b"foo"), "Zm9v");
        assert_eq!(base64::encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn names_follow_the_group() {
        assert_eq!(message_name("v1", "Pod"), "core.v1.Pod");
        assert_eq!(
            message_name("rbac.authorization.k8s.io/v1", "Role"),
            "rbac.v1.Role"
        );
        assert_eq!(message_name("autoscaling/v2", "X"), "autoscaling.v2.X");
    }

    #[test]
    fn the_table_is_closed() {
        // Every message a field refers to is in the table.
        let s = schema();
        for (name, m) in s {
            for f in m.values() {
                let mut ty = &f.ty;
                if let Type::Map(v) = ty {
                    ty = v;
                }
                if let Type::Message(r) = ty {
                    assert!(s.contains_key(r), "{name}.{} refers to {r}", f.json);
                }
            }
        }
    }
}
