//! Writing Kubernetes' protobuf encoding: objects, lists and watch events.
//!
//! The inverse of the decoder in the parent module, driven by the same
//! table. An object is written from its JSON form (as the server stores
//! and serves it): each field of the kind's message, in field-number
//! order, from the JSON member of the same name; a Go embedded struct
//! (`inline`) from the members of the enclosing object. Maps are written
//! with their keys sorted, repeated scalars unpacked (the `proto2` files
//! of `k8s.io/api` declare them so), `Time` as seconds and nanos, a
//! `Quantity` and an `IntOrString` as their messages, and a
//! `RawExtension` (or `FieldsV1`) as its JSON bytes.
//!
//! Nothing is dropped: a JSON member that no field of the message
//! carries, or a value of the wrong JSON type, is an
//! [`Unsupported`](ProtobufError::Unsupported) error naming the message
//! and member, and the caller answers in JSON instead.
//!
//! A watch stream (`application/vnd.kubernetes.protobuf;stream=watch`) is
//! a sequence of frames: a four-byte big-endian length, then a
//! `meta.v1.WatchEvent` message whose object is the enveloped encoding of
//! the event's object ([`watch_frame`]).

use std::str::FromStr;

use serde_json::{Map, Value};

use super::{message_name, schema, Message, ProtobufError, Schema, Type, MAGIC, MAX_DEPTH};
use crate::api::core::base64;
use crate::api::{MicroTime, Time};

/// Whether objects of this kind have a message in the table.
pub(crate) fn encodes(api_version: &str, kind: &str) -> bool {
    let s = schema();
    if let Some(item) = kind.strip_suffix("List") {
        return s.contains_key(message_name(api_version, item).as_str());
    }
    s.contains_key(message_name(api_version, kind).as_str())
}

/// An object (its JSON, `apiVersion` and `kind` included) as a protobuf
/// body: the `k8s\0` envelope around the kind's message.
pub(crate) fn object(value: &Value) -> Result<Vec<u8>, ProtobufError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ProtobufError::Unsupported("a JSON value that is not an object".into()))?;
    let api_version = member_str(obj, "apiVersion")?;
    let kind = member_str(obj, "kind")?;
    let name = message_name(api_version, kind);
    let s = schema();
    let message = s.get(name.as_str()).ok_or_else(|| {
        ProtobufError::Unsupported(format!("protobuf encoding of {kind} ({api_version})"))
    })?;
    let mut raw = Vec::with_capacity(512);
    encode_object(s, &name, message, obj, &mut raw, &["apiVersion", "kind"], 0)?;
    Ok(envelope(api_version, kind, &raw))
}

/// A list as a protobuf body: `metadata` (a `ListMeta` in JSON) and the
/// items (JSON objects of the list's item kind) in the envelope of
/// `kind` (`PodList`). Every Kubernetes list message has these two fields,
/// numbered 1 and 2.
pub(crate) fn list(
    api_version: &str,
    kind: &str,
    metadata: &Value,
    items: &[Value],
) -> Result<Vec<u8>, ProtobufError> {
    let s = schema();
    let item_kind = kind
        .strip_suffix("List")
        .ok_or_else(|| ProtobufError::Unsupported(format!("{kind} is not a list kind")))?;
    let item_name = message_name(api_version, item_kind);
    let item = s.get(item_name.as_str()).ok_or_else(|| {
        ProtobufError::Unsupported(format!("protobuf encoding of {kind} ({api_version})"))
    })?;
    let list_meta = s
        .get("meta.v1.ListMeta")
        .ok_or_else(|| ProtobufError::Unsupported("meta.v1.ListMeta".into()))?;
    let mut raw = Vec::with_capacity(256 + 512 * items.len());
    let mut buf = Vec::new();
    let meta = metadata.as_object().cloned().unwrap_or_default();
    encode_object(s, "meta.v1.ListMeta", list_meta, &meta, &mut buf, &[], 1)?;
    len_field(1, &buf, &mut raw);
    for i in items {
        let obj = i.as_object().ok_or_else(|| {
            ProtobufError::Unsupported(format!("an item of {kind} that is not an object"))
        })?;
        buf.clear();
        encode_object(
            s,
            &item_name,
            item,
            obj,
            &mut buf,
            &["apiVersion", "kind"],
            1,
        )?;
        len_field(2, &buf, &mut raw);
    }
    Ok(envelope(api_version, kind, &raw))
}

/// One frame of a protobuf watch stream: the length of the
/// `meta.v1.WatchEvent` message (four bytes, big-endian), then the message:
/// the event type (`ADDED`, …) and the object's enveloped encoding.
pub(crate) fn watch_frame(event_type: &str, object: &[u8]) -> Vec<u8> {
    let mut raw_extension = Vec::with_capacity(object.len() + 4);
    len_field(1, object, &mut raw_extension);
    let mut event = Vec::with_capacity(raw_extension.len() + event_type.len() + 8);
    len_field(1, event_type.as_bytes(), &mut event);
    len_field(2, &raw_extension, &mut event);
    let mut frame = Vec::with_capacity(event.len() + 4);
    frame.extend_from_slice(&(event.len() as u32).to_be_bytes());
    frame.extend_from_slice(&event);
    frame
}

/// `k8s\0` and a `runtime.Unknown`: the type, the message, and the empty
/// content encoding and type (which gogo-protobuf writes).
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::with_capacity(api_version.len() + kind.len() + 4);
    len_field(1, api_version.as_bytes(), &mut type_meta);
    len_field(2, kind.as_bytes(), &mut type_meta);
    let mut out = Vec::with_capacity(MAGIC.len() + type_meta.len() + raw.len() + 12);
    out.extend_from_slice(MAGIC);
    len_field(1, &type_meta, &mut out);
    len_field(2, raw, &mut out);
    len_field(3, b"", &mut out);
    len_field(4, b"", &mut out);
    out
}

fn member_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, ProtobufError> {
    obj.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ProtobufError::Unsupported(format!("an object without {name}")))
}

/// Writes `obj` as `message`; every non-null member must be carried by a
/// field (or be one of `extra`, which the envelope carries).
fn encode_object(
    schema: &'static Schema,
    name: &str,
    message: &'static Message,
    obj: &Map<String, Value>,
    out: &mut Vec<u8>,
    extra: &[&str],
    depth: usize,
) -> Result<(), ProtobufError> {
    let mut consumed: Vec<&'static str> = Vec::with_capacity(obj.len());
    encode_fields(schema, message, obj, out, &mut consumed, depth)?;
    if consumed.len() < obj.len() {
        for (k, v) in obj {
            if !v.is_null() && !consumed.contains(&k.as_str()) && !extra.contains(&k.as_str()) {
                return Err(ProtobufError::Unsupported(format!(
                    "member {k:?} of {name}, which its protobuf message does not carry"
                )));
            }
        }
    }
    Ok(())
}

fn encode_fields(
    schema: &'static Schema,
    message: &'static Message,
    obj: &Map<String, Value>,
    out: &mut Vec<u8>,
    consumed: &mut Vec<&'static str>,
    depth: usize,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::Unsupported("objects nest too deeply".into()));
    }
    for (&num, f) in message {
        if f.inline {
            let Type::Message(embedded) = &f.ty else {
                continue;
            };
            let m = schema.get(embedded.as_str()).ok_or_else(|| {
                ProtobufError::Unsupported(format!("protobuf message {embedded}"))
            })?;
            // An embedded Go struct is a value: gogo-protobuf always
            // writes it, empty or not.
            let mut buf = Vec::new();
            encode_fields(schema, m, obj, &mut buf, consumed, depth + 1)?;
            len_field(num, &buf, out);
            continue;
        }
        let Some(v) = obj.get(f.json.as_str()) else {
            continue;
        };
        consumed.push(f.json.as_str());
        if v.is_null() {
            continue;
        }
        if let Type::Map(value_type) = &f.ty {
            let entries = v.as_object().ok_or_else(|| wrong(&f.json, "an object"))?;
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort_unstable();
            let mut entry = Vec::new();
            for k in keys {
                entry.clear();
                len_field(1, k.as_bytes(), &mut entry);
                encode_value(
                    schema,
                    2,
                    value_type,
                    &entries[k],
                    &f.json,
                    &mut entry,
                    depth,
                )?;
                len_field(num, &entry, out);
            }
        } else if f.repeated {
            let items = v.as_array().ok_or_else(|| wrong(&f.json, "an array"))?;
            for item in items {
                encode_value(schema, num, &f.ty, item, &f.json, out, depth)?;
            }
        } else {
            encode_value(schema, num, &f.ty, v, &f.json, out, depth)?;
        }
    }
    Ok(())
}

fn wrong(field: &str, what: &str) -> ProtobufError {
    ProtobufError::Unsupported(format!("member {field:?} is not {what}"))
}

fn encode_value(
    schema: &'static Schema,
    num: u32,
    ty: &'static Type,
    v: &Value,
    field: &str,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), ProtobufError> {
    match ty {
        Type::String => {
            let s = v.as_str().ok_or_else(|| wrong(field, "a string"))?;
            len_field(num, s.as_bytes(), out);
        }
        Type::Bytes => {
            let s = v.as_str().ok_or_else(|| wrong(field, "a base64 string"))?;
            let b = base64::decode(s).map_err(|_| wrong(field, "valid base64"))?;
            len_field(num, &b, out);
        }
        Type::Int32 | Type::Int64 => {
            let n = integer(v).ok_or_else(|| wrong(field, "an integer"))?;
            let n = if matches!(ty, Type::Int32) {
                i64::from(i32::try_from(n).map_err(|_| wrong(field, "a 32-bit integer"))?)
            } else {
                n
            };
            key(num, 0, out);
            varint(n as u64, out);
        }
        Type::Bool => {
            let b = v.as_bool().ok_or_else(|| wrong(field, "a boolean"))?;
            key(num, 0, out);
            varint(u64::from(b), out);
        }
        Type::Double => {
            let d = v.as_f64().ok_or_else(|| wrong(field, "a number"))?;
            key(num, 1, out);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Type::Time | Type::MicroTime => {
            let s = v.as_str().ok_or_else(|| wrong(field, "a timestamp"))?;
            let micros = if matches!(ty, Type::Time) {
                Time::from_str(s)
                    .map(|t| t.unix_seconds().saturating_mul(1_000_000))
                    .map_err(|_| wrong(field, "an RFC 3339 timestamp"))?
            } else {
                MicroTime::from_str(s)
                    .map(MicroTime::unix_micros)
                    .map_err(|_| wrong(field, "an RFC 3339 timestamp"))?
            };
            let mut t = Vec::with_capacity(12);
            key(1, 0, &mut t);
            varint(micros.div_euclid(1_000_000) as u64, &mut t);
            key(2, 0, &mut t);
            varint((micros.rem_euclid(1_000_000) * 1_000) as u64, &mut t);
            len_field(num, &t, out);
        }
        Type::Quantity => {
            let q = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(wrong(field, "a quantity")),
            };
            let mut m = Vec::with_capacity(q.len() + 2);
            len_field(1, q.as_bytes(), &mut m);
            len_field(num, &m, out);
        }
        Type::IntOrString => {
            let mut m = Vec::with_capacity(8);
            match v {
                Value::String(s) => {
                    key(1, 0, &mut m);
                    varint(1, &mut m);
                    key(2, 0, &mut m);
                    varint(0, &mut m);
                    len_field(3, s.as_bytes(), &mut m);
                }
                _ => {
                    let n = integer(v)
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| wrong(field, "a 32-bit integer or a string"))?;
                    key(1, 0, &mut m);
                    varint(0, &mut m);
                    key(2, 0, &mut m);
                    varint(i64::from(n) as u64, &mut m);
                    len_field(3, b"", &mut m);
                }
            }
            len_field(num, &m, out);
        }
        Type::Raw => {
            let json = serde_json::to_vec(v)
                .map_err(|e| ProtobufError::Unsupported(format!("member {field:?}: {e}")))?;
            let mut m = Vec::with_capacity(json.len() + 4);
            len_field(1, &json, &mut m);
            len_field(num, &m, out);
        }
        Type::Message(name) => {
            let obj = v.as_object().ok_or_else(|| wrong(field, "an object"))?;
            let m = schema
                .get(name.as_str())
                .ok_or_else(|| ProtobufError::Unsupported(format!("protobuf message {name}")))?;
            let mut buf = Vec::with_capacity(64);
            encode_object(schema, name, m, obj, &mut buf, &[], depth + 1)?;
            len_field(num, &buf, out);
        }
        Type::Map(_) => return Err(wrong(field, "a value (maps do not nest)")),
    }
    Ok(())
}

/// A JSON number that is an integer (`3`, or `3.0` as some clients write).
fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
            .map(|f| f as i64)
    })
}

pub(super) fn key(num: u32, wire: u8, out: &mut Vec<u8>) {
    varint(u64::from(num) << 3 | u64::from(wire), out);
}

pub(super) fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn len_field(num: u32, b: &[u8], out: &mut Vec<u8>) {
    key(num, 2, out);
    varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::super::to_json;
    use super::*;
    use serde_json::json;

    /// Encodes, decodes with the parent module's reader, and compares.
    fn round_trip(v: Value) {
        let body = object(&v).unwrap_or_else(|e| panic!("encodes {v}: {e:?}"));
        let back: Value = serde_json::from_slice(&to_json(&body).expect("decodes")).expect("json");
        assert_eq!(back, v);
    }

    #[test]
    fn objects_round_trip_through_the_reader() {
        round_trip(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-1", "namespace": "default", "uid": "u-1",
                "resourceVersion": "42", "creationTimestamp": "2026-12-08T02:00:00Z",
                "labels": {"b": "2", "a": "1"},
                "annotations": {"x": ""},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web", "uid": "u-0", "controller": true}],
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                    "apiVersion": "v1", "time": "2026-12-08T02:00:00Z",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}],
            },
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx:1.25",
                    "command": ["nginx", "-g", "daemon off;"],
                    "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80},
                        "periodSeconds": 10},
                    "livenessProbe": {"tcpSocket": {"port": "http"}},
                }],
                "volumes": [{"name": "cache", "emptyDir": {}}],
                "terminationGracePeriodSeconds": 0,
                "nodeName": "node-1",
            },
            "status": {"phase": "Running", "podIP": "10.0.0.5",
                "conditions": [{"type": "Ready", "status": "True",
                    "lastTransitionTime": "2026-12-08T02:00:01Z"}]},
        }));
        round_trip(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]}}},
        }));
        round_trip(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "type": "Opaque", "data": {"k": base64::encode(&[0, 1, 2, 250, 251]), "e": ""},
        }));
        round_trip(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
            "spec": {"holderIdentity": "me", "renewTime": "2026-12-08T02:00:00.123456Z"},
        }));
        round_trip(json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 410,
            "reason": "Expired", "message": "too old resource version",
            "metadata": {},
            "details": {"causes": [{"reason": "FieldValueInvalid", "field": "metadata.name"}]},
        }));
    }

    #[test]
    fn members_without_a_field_are_refused_not_dropped() {
        let err = object(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "surprise": 1},
        }))
        .unwrap_err();
        assert!(
            matches!(&err, ProtobufError::Unsupported(m) if m.contains("surprise") && m.contains("ObjectMeta")),
            "{err:?}"
        );
        let err = object(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": 3}}))
        .unwrap_err();
        assert!(matches!(&err, ProtobufError::Unsupported(m) if m.contains("name")));
        assert!(object(&json!({"apiVersion": "example.com/v1", "kind": "Widget"})).is_err());
        assert!(object(&json!([1])).is_err());
    }

    #[test]
    fn lists_carry_their_metadata_and_items() {
        let items = vec![
            json!({"metadata": {"name": "a"}, "data": {"k": "v"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}),
        ];
        let body = list(
            "v1",
            "ConfigMapList",
            &json!({"resourceVersion": "7", "continue": "c"}),
            &items,
        )
        .expect("encodes");
        assert!(encodes("v1", "ConfigMapList") && encodes("v1", "ConfigMap"));
        assert!(!encodes("example.com/v1", "WidgetList"));
        // The list's items are its message's field 2: each decodes as a
        // ConfigMap of its own.
        let rest = &body[MAGIC.len()..];
        let raw = super::super::Fields::new(rest)
            .filter_map(Result::ok)
            .find_map(|(n, w)| match (n, w) {
                (2, super::super::Wire::Len(b)) => Some(b),
                _ => None,
            })
            .expect("raw");
        let mut names = Vec::new();
        for f in super::super::Fields::new(raw) {
            if let (2, super::super::Wire::Len(item)) = f.expect("field") {
                let one = envelope("v1", "ConfigMap", item);
                let v: Value = serde_json::from_slice(&to_json(&one).expect("item")).expect("j");
                names.push(v["metadata"]["name"].as_str().unwrap_or("").to_string());
            }
        }
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_watch_frame_is_a_length_and_a_watch_event() {
        let obj = object(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "n"}}))
        .expect("encodes");
        let frame = watch_frame("ADDED", &obj);
        let len = u32::from_be_bytes(frame[..4].try_into().expect("4 bytes")) as usize;
        assert_eq!(len, frame.len() - 4);
        let fields: Vec<_> = super::super::Fields::new(&frame[4..])
            .map(|f| f.expect("field"))
            .collect();
        assert!(matches!(fields[0], (1, super::super::Wire::Len(b"ADDED"))));
        let (2, super::super::Wire::Len(ext)) = fields[1] else {
            panic!("no object: {fields:?}");
        };
        let inner = super::super::Fields::new(ext)
            .next()
            .expect("raw")
            .expect("ok");
        let (1, super::super::Wire::Len(raw)) = inner else {
            panic!("{inner:?}");
        };
        assert_eq!(raw, obj.as_slice());
    }
}
