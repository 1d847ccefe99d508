//! Kubernetes' strategic merge patch: applying one, and computing one from
//! two (or three) versions of an object.
use serde_json::{Map, Value};

use super::schema::{ListStrategy, PatchSchema};
use super::PatchError;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// True for the keys that are directives rather than fields.
fn is_directive(k: &str) -> bool {
    k == PATCH
        || k == RETAIN_KEYS
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        || k.starts_with(SET_ELEMENT_ORDER)
}

/// Applies a strategic merge patch to `target` with the kind's `schema`
/// (see [`PatchSchema::for_kind`]).
///
/// Like a merge patch, fields replace, `null` deletes and objects merge;
/// lists the schema marks as merging are merged (by key, or as sets of
/// scalars) instead of replaced. The directives:
///
/// - `"$patch": "replace"` in an object replaces the object with the rest
///   of the patch object; as an element of a merging list, it replaces the
///   whole list with the other elements;
/// - `"$patch": "delete"` deletes the object (in a list: the element with
///   the same merge key);
/// - `"$retainKeys": [...]` clears the object's keys not listed;
/// - `"$deleteFromPrimitiveList/<field>": [...]` removes those scalars from
///   the list `<field>`;
/// - `"$setElementOrder/<field>": [...]` orders the list `<field>` (by
///   merge key, as `{"name": "app"}`, or by value).
///
/// Atomic: on error, `target` is unchanged.
///
/// ```
/// use keelson::api::patch::{strategic_merge, PatchSchema};
/// use serde_json::json;
///
/// let schema = PatchSchema::for_kind("", "Pod").unwrap();
/// let mut pod = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [
///     {"name": "app", "image": "nginx"}, {"name": "log", "image": "busybox"},
/// ]}});
/// strategic_merge(&mut pod, &json!({
///     "metadata": {"finalizers": ["b"]},
///     "spec": {"containers": [{"name": "log", "$patch": "delete"}]},
/// }), schema).unwrap();
/// assert_eq!(pod, json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"containers": [
///     {"name": "app", "image": "nginx"},
/// ]}}));
/// ```
pub fn strategic_merge(
    target: &mut Value,
    patch: &Value,
    schema: &PatchSchema,
) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::bad(
            "a strategic merge patch must be a JSON object",
        ));
    };
    let mut result = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    if merge_map(&mut result, patch, schema)? {
        result = Map::new();
    }
    *target = Value::Object(result);
    Ok(())
}

/// Merges `patch` into `orig`; true when the patch deletes the object.
fn merge_map(
    orig: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    schema: &PatchSchema,
) -> Result<bool, PatchError> {
    if let Some(d) = patch.get(PATCH) {
        match d.as_str() {
            Some("delete") => return Ok(true),
            Some("replace") => orig.clear(),
            Some("merge") => {}
            _ => {
                return Err(PatchError::bad(format!(
                    "unknown patch directive {PATCH}: {d}"
                )))
            }
        }
    }
    if let Some(rk) = patch.get(RETAIN_KEYS) {
        let keys = string_list(rk).ok_or_else(|| {
            PatchError::bad(format!("{RETAIN_KEYS} must be a list of field names"))
        })?;
        for (k, v) in patch {
            if !is_directive(k) && !v.is_null() && !keys.contains(&k.as_str()) {
                return Err(PatchError::Unprocessable(format!(
                    "the patch has field {k:?}, which its {RETAIN_KEYS} list does not name"
                )));
            }
        }
        orig.retain(|k, _| keys.contains(&k.as_str()));
    }
    for (k, v) in patch {
        let Some(field) = k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) else {
            continue;
        };
        let Value::Array(gone) = v else {
            return Err(PatchError::bad(format!("{k} must be a list")));
        };
        if let Some(Value::Array(list)) = orig.get_mut(field) {
            list.retain(|x| !gone.contains(x));
        }
    }
    for (k, v) in patch {
        if is_directive(k) {
            continue;
        }
        let strategy = schema.field(k);
        match v {
            Value::Null => {
                orig.remove(k);
            }
            Value::Object(pm) => {
                let child = schema.child(k);
                let slot = orig
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let delete = match slot {
                    Value::Object(m) => merge_map(m, pm, child)?,
                    _ => false,
                };
                if delete {
                    orig.remove(k);
                }
            }
            Value::Array(pl) => {
                let list = strategy.map_or(ListStrategy::Replace, |s| s.list);
                match list {
                    ListStrategy::Replace => {
                        orig.insert(k.clone(), v.clone());
                    }
                    ListStrategy::MergeByKey(key) => {
                        let current = take_list(orig, k);
                        let merged = merge_keyed(current, pl, key, schema.child(k), k)?;
                        orig.insert(k.clone(), Value::Array(merged));
                    }
                    ListStrategy::MergeSet => {
                        let current = take_list(orig, k);
                        orig.insert(k.clone(), Value::Array(merge_set(current, pl)));
                    }
                }
            }
            _ => {
                orig.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in patch {
        let Some(field) = k.strip_prefix(SET_ELEMENT_ORDER) else {
            continue;
        };
        let Value::Array(order) = v else {
            return Err(PatchError::bad(format!("{k} must be a list")));
        };
        let key = match schema.field(field).map(|s| s.list) {
            Some(ListStrategy::MergeByKey(key)) => Some(key),
            Some(ListStrategy::MergeSet) => None,
            _ => {
                return Err(PatchError::bad(format!(
                    "{k}: the field {field:?} is not a merging list"
                )))
            }
        };
        if let Some(Value::Array(list)) = orig.get_mut(field) {
            reorder(list, order, key);
        }
    }
    Ok(false)
}

fn string_list(v: &Value) -> Option<Vec<&str>> {
    v.as_array()?.iter().map(Value::as_str).collect()
}

fn take_list(orig: &mut Map<String, Value>, k: &str) -> Vec<Value> {
    match orig.remove(k) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

fn is_replace_marker(v: &Value) -> bool {
    v.get(PATCH).and_then(Value::as_str) == Some("replace")
}

fn merge_keyed(
    mut list: Vec<Value>,
    patch: &[Value],
    key: &str,
    item: &PatchSchema,
    field: &str,
) -> Result<Vec<Value>, PatchError> {
    if patch.iter().any(is_replace_marker) {
        list.clear();
    }
    for e in patch {
        let Value::Object(em) = e else {
            // Scalars in a keyed list merge as a set.
            if !list.contains(e) {
                list.push(e.clone());
            }
            continue;
        };
        if is_replace_marker(e) && em.len() == 1 {
            continue;
        }
        let kv = em.get(key).ok_or_else(|| {
            PatchError::bad(format!(
                "an element of {field:?} does not have its merge key {key:?}"
            ))
        })?;
        match em.get(PATCH).and_then(Value::as_str) {
            Some("delete") => {
                list.retain(|o| o.get(key) != Some(kv));
                continue;
            }
            Some("merge") | Some("replace") | None => {}
            Some(other) => {
                return Err(PatchError::bad(format!(
                    "unknown patch directive {PATCH}: {other:?}"
                )))
            }
        }
        let replace_element = em.get(PATCH).and_then(Value::as_str) == Some("replace");
        match list.iter_mut().find(|o| o.get(key) == Some(kv)) {
            Some(Value::Object(om)) if !replace_element => {
                merge_map(om, em, item)?;
            }
            Some(slot) => {
                let mut n = Map::new();
                merge_map(&mut n, em, item)?;
                *slot = Value::Object(n);
            }
            None => {
                let mut n = Map::new();
                merge_map(&mut n, em, item)?;
                list.push(Value::Object(n));
            }
        }
    }
    Ok(list)
}

fn merge_set(mut list: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    if patch.iter().any(is_replace_marker) {
        list.clear();
    }
    for e in patch {
        if is_replace_marker(e) {
            continue;
        }
        if !list.contains(e) {
            list.push(e.clone());
        }
    }
    list
}

/// Orders the elements `order` names as it names them, in the slots those
/// elements hold; elements it does not name keep their places.
fn reorder(list: &mut [Value], order: &[Value], key: Option<&str>) {
    let id = |v: &Value| -> Option<Value> {
        match key {
            Some(k) => v.get(k).cloned(),
            None => Some(v.clone()),
        }
    };
    let wanted: Vec<Value> = order.iter().filter_map(&id).collect();
    let rank = |v: &Value| id(v).and_then(|i| wanted.iter().position(|w| *w == i));
    let slots: Vec<usize> = (0..list.len())
        .filter(|&i| rank(&list[i]).is_some())
        .collect();
    let mut ordered: Vec<Value> = slots.iter().map(|&i| list[i].clone()).collect();
    ordered.sort_by_key(|v| rank(v).unwrap_or(usize::MAX));
    for (slot, v) in slots.into_iter().zip(ordered) {
        list[slot] = v;
    }
}

#[derive(Clone, Copy)]
struct DiffOptions {
    ignore_deletions: bool,
    ignore_changes: bool,
}

/// The strategic merge patch that turns `original` into `modified` for a
/// kind with `schema`: what [`strategic_merge`] applied to `original` turns
/// into `modified`. Merging lists are described element by element
/// (deleted elements as `$patch: delete`, removed scalars with
/// `$deleteFromPrimitiveList`, the new order with `$setElementOrder`).
///
/// ```
/// use keelson::api::patch::{create_two_way_merge_patch, strategic_merge, PatchSchema};
/// use serde_json::json;
///
/// let schema = PatchSchema::for_kind("", "Pod").unwrap();
/// let a = json!({"spec": {"containers": [{"name": "app", "image": "nginx:1"}, {"name": "log", "image": "b"}]}});
/// let b = json!({"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}});
/// let p = create_two_way_merge_patch(&a, &b, schema).unwrap();
/// assert_eq!(p, json!({"spec": {
///     "$setElementOrder/containers": [{"name": "app"}],
///     "containers": [{"name": "app", "image": "nginx:2"}, {"name": "log", "$patch": "delete"}],
/// }}));
/// let mut c = a.clone();
/// strategic_merge(&mut c, &p, schema).unwrap();
/// assert_eq!(c, b);
/// ```
pub fn create_two_way_merge_patch(
    original: &Value,
    modified: &Value,
    schema: &PatchSchema,
) -> Result<Value, PatchError> {
    let (Value::Object(o), Value::Object(m)) = (original, modified) else {
        return Err(PatchError::bad(
            "a strategic merge patch is computed between two objects",
        ));
    };
    let opts = DiffOptions {
        ignore_deletions: false,
        ignore_changes: false,
    };
    diff_map(o, m, schema, opts).map(Value::Object)
}

/// The three-way strategic merge patch of `kubectl apply`: deletions are
/// what `modified` (the new configuration) dropped from `original` (the
/// last applied configuration); additions and changes are what `modified`
/// has that `current` (the live object) lacks. Fields that others set on
/// the live object and that the configurations never named are left alone.
///
/// ```
/// use keelson::api::patch::{create_three_way_merge_patch, strategic_merge, PatchSchema};
/// use serde_json::json;
///
/// let schema = PatchSchema::for_kind("apps", "Deployment").unwrap();
/// let last = json!({"spec": {"replicas": 2, "paused": false}});
/// let config = json!({"spec": {"replicas": 3}});
/// let live = json!({"spec": {"replicas": 2, "paused": false, "revisionHistoryLimit": 10}});
/// let p = create_three_way_merge_patch(&last, &config, &live, schema).unwrap();
/// assert_eq!(p, json!({"spec": {"replicas": 3, "paused": null}}));
/// let mut obj = live.clone();
/// strategic_merge(&mut obj, &p, schema).unwrap();
/// assert_eq!(obj, json!({"spec": {"replicas": 3, "revisionHistoryLimit": 10}}));
/// ```
pub fn create_three_way_merge_patch(
    original: &Value,
    modified: &Value,
    current: &Value,
    schema: &PatchSchema,
) -> Result<Value, PatchError> {
    let empty = Map::new();
    let o = original.as_object().unwrap_or(&empty);
    let (Value::Object(m), Value::Object(c)) = (modified, current) else {
        return Err(PatchError::bad(
            "a strategic merge patch is computed between objects",
        ));
    };
    let deletions = diff_map(
        o,
        m,
        schema,
        DiffOptions {
            ignore_deletions: false,
            ignore_changes: true,
        },
    )?;
    let mut delta = diff_map(
        c,
        m,
        schema,
        DiffOptions {
            ignore_deletions: true,
            ignore_changes: false,
        },
    )?;
    combine(&mut delta, deletions);
    Ok(Value::Object(delta))
}

fn combine(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => combine(a, b),
            (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
            (Some(_), _) => {}
            (None, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn diff_map(
    o: &Map<String, Value>,
    m: &Map<String, Value>,
    schema: &PatchSchema,
    opts: DiffOptions,
) -> Result<Map<String, Value>, PatchError> {
    let mut p = Map::new();
    if !opts.ignore_deletions {
        for k in o.keys() {
            if !m.contains_key(k) {
                p.insert(k.clone(), Value::Null);
            }
        }
    }
    for (k, mv) in m {
        let strategy = schema.field(k);
        let ov = match o.get(k) {
            None => {
                if !opts.ignore_changes {
                    p.insert(k.clone(), mv.clone());
                }
                continue;
            }
            Some(ov) if ov == mv => continue,
            Some(ov) => ov,
        };
        match (ov, mv) {
            (Value::Object(om), Value::Object(mm)) => {
                let mut sub = diff_map(om, mm, schema.child(k), opts)?;
                if !sub.is_empty() {
                    if strategy.is_some_and(|s| s.retain_keys) && !opts.ignore_changes {
                        let keys = mm.keys().map(|k| Value::String(k.clone())).collect();
                        sub.insert(RETAIN_KEYS.to_string(), Value::Array(keys));
                    }
                    p.insert(k.clone(), Value::Object(sub));
                }
            }
            (Value::Array(oa), Value::Array(ma)) => {
                match strategy.map_or(ListStrategy::Replace, |s| s.list) {
                    ListStrategy::Replace => {
                        if !opts.ignore_changes {
                            p.insert(k.clone(), mv.clone());
                        }
                    }
                    ListStrategy::MergeByKey(key) => {
                        diff_keyed(&mut p, k, oa, ma, key, schema.child(k), opts)?
                    }
                    ListStrategy::MergeSet => diff_set(&mut p, k, oa, ma, opts),
                }
            }
            _ => {
                if !opts.ignore_changes {
                    p.insert(k.clone(), mv.clone());
                }
            }
        }
    }
    Ok(p)
}

fn diff_keyed(
    p: &mut Map<String, Value>,
    field: &str,
    oa: &[Value],
    ma: &[Value],
    key: &str,
    item: &PatchSchema,
    opts: DiffOptions,
) -> Result<(), PatchError> {
    let key_of = |v: &Value| -> Result<Value, PatchError> {
        v.get(key).cloned().ok_or_else(|| {
            PatchError::bad(format!(
                "an element of {field:?} does not have its merge key {key:?}"
            ))
        })
    };
    let mut elems = Vec::new();
    let mut order = Vec::new();
    for m in ma {
        let kv = key_of(m)?;
        order.push(Value::Object(Map::from_iter([(
            key.to_string(),
            kv.clone(),
        )])));
        match oa.iter().find(|o| o.get(key) == Some(&kv)) {
            Some(o) if o == m => {}
            Some(o) => {
                if let (Value::Object(om), Value::Object(mm)) = (o, m) {
                    let mut sub = diff_map(om, mm, item, opts)?;
                    if !sub.is_empty() {
                        sub.insert(key.to_string(), kv);
                        elems.push(Value::Object(sub));
                    }
                }
            }
            None => {
                if !opts.ignore_changes {
                    elems.push(m.clone());
                }
            }
        }
    }
    if !opts.ignore_deletions {
        for o in oa {
            let kv = key_of(o)?;
            if !ma.iter().any(|m| m.get(key) == Some(&kv)) {
                elems.push(Value::Object(Map::from_iter([
                    (key.to_string(), kv),
                    (PATCH.to_string(), Value::String("delete".into())),
                ])));
            }
        }
    }
    let reordered = oa
        .iter()
        .filter(|o| ma.iter().any(|m| m.get(key) == o.get(key)))
        .map(|o| o.get(key))
        .ne(ma.iter().map(|m| m.get(key)));
    if !opts.ignore_changes && (!elems.is_empty() || reordered) {
        p.insert(format!("{SET_ELEMENT_ORDER}{field}"), Value::Array(order));
    }
    if !elems.is_empty() {
        p.insert(field.to_string(), Value::Array(elems));
    }
    Ok(())
}

fn diff_set(
    p: &mut Map<String, Value>,
    field: &str,
    oa: &[Value],
    ma: &[Value],
    opts: DiffOptions,
) {
    let added: Vec<Value> = ma.iter().filter(|v| !oa.contains(v)).cloned().collect();
    let removed: Vec<Value> = oa.iter().filter(|v| !ma.contains(v)).cloned().collect();
    if !opts.ignore_changes {
        p.insert(
            format!("{SET_ELEMENT_ORDER}{field}"),
            Value::Array(ma.to_vec()),
        );
        if !added.is_empty() {
            p.insert(field.to_string(), Value::Array(added));
        }
    }
    if !opts.ignore_deletions && !removed.is_empty() {
        p.insert(
            format!("{DELETE_FROM_PRIMITIVE_LIST}{field}"),
            Value::Array(removed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> &'static PatchSchema {
        PatchSchema::for_kind("", "Pod").unwrap()
    }

    fn smp(doc: Value, patch: Value, schema: &PatchSchema) -> Value {
        let mut d = doc;
        strategic_merge(&mut d, &patch, schema).unwrap();
        d
    }

    #[test]
    fn containers_merge_by_name_and_ports_by_container_port() {
        let doc = json!({"spec": {"containers": [
            {"name": "app", "image": "nginx", "ports": [{"containerPort": 80}],
             "env": [{"name": "A", "value": "1"}]},
            {"name": "log", "image": "busybox"},
        ]}});
        let out = smp(
            doc,
            json!({"spec": {"containers": [
                {"name": "app", "ports": [{"containerPort": 443, "name": "https"}],
                 "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}]},
                {"name": "sidecar", "image": "envoy"},
            ]}}),
            pod(),
        );
        assert_eq!(
            out,
            json!({"spec": {"containers": [
                {"name": "app", "image": "nginx",
                 "ports": [{"containerPort": 80}, {"containerPort": 443, "name": "https"}],
                 "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}]},
                {"name": "log", "image": "busybox"},
                {"name": "sidecar", "image": "envoy"},
            ]}})
        );
    }

    /// From Kubernetes' "Update API Objects in Place Using kubectl patch":
    /// tolerations have no patch strategy, so they are replaced.
    #[test]
    fn lists_without_a_strategy_are_replaced() {
        let doc = json!({"spec": {"tolerations": [{"key": "a", "effect": "NoSchedule"}]}});
        let out = smp(
            doc,
            json!({"spec": {"tolerations": [{"key": "b", "effect": "NoSchedule"}]}}),
            pod(),
        );
        assert_eq!(
            out,
            json!({"spec": {"tolerations": [{"key": "b", "effect": "NoSchedule"}]}})
        );
    }

    #[test]
    fn patch_directives() {
        let doc = json!({"spec": {"containers": [
            {"name": "a", "image": "x"}, {"name": "b", "image": "y"}
        ], "nodeSelector": {"disk": "ssd", "zone": "1"}}});
        // $patch: delete of an element.
        let out = smp(
            doc.clone(),
            json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
            pod(),
        );
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "b", "image": "y"}],
                "nodeSelector": {"disk": "ssd", "zone": "1"}}})
        );
        // $patch: replace of a list.
        let out = smp(
            doc.clone(),
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "z"}]}}),
            pod(),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "c", "image": "z"}])
        );
        // $patch: replace of a map.
        let out = smp(
            doc.clone(),
            json!({"spec": {"nodeSelector": {"$patch": "replace", "gpu": "yes"}}}),
            pod(),
        );
        assert_eq!(out["spec"]["nodeSelector"], json!({"gpu": "yes"}));
        // $patch: delete of a map.
        let out = smp(
            doc.clone(),
            json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
            pod(),
        );
        assert!(out["spec"].get("nodeSelector").is_none());
        // null deletes a field.
        let out = smp(
            doc.clone(),
            json!({"spec": {"nodeSelector": {"zone": null}}}),
            pod(),
        );
        assert_eq!(out["spec"]["nodeSelector"], json!({"disk": "ssd"}));
        // An unknown directive is a bad request.
        let mut d = doc.clone();
        let e = strategic_merge(&mut d, &json!({"spec": {"$patch": "frob"}}), pod()).unwrap_err();
        assert_eq!(e.code(), 400);
        assert_eq!(d, doc);
        // An element without its merge key.
        let e = strategic_merge(
            &mut d,
            &json!({"spec": {"containers": [{"image": "q"}]}}),
            pod(),
        )
        .unwrap_err();
        assert_eq!(e.code(), 400);
    }

    /// From Kubernetes' docs: switching a Deployment from RollingUpdate to
    /// Recreate needs `$retainKeys` to drop `rollingUpdate`.
    #[test]
    fn retain_keys() {
        let schema = PatchSchema::for_kind("apps", "Deployment").unwrap();
        let doc = json!({"spec": {"strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}});
        let out = smp(
            doc.clone(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            schema,
        );
        assert_eq!(out, json!({"spec": {"strategy": {"type": "Recreate"}}}));
        let mut d = doc;
        let e = strategic_merge(
            &mut d,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
            schema,
        )
        .unwrap_err();
        assert_eq!(e.code(), 422);
        let e = strategic_merge(
            &mut d,
            &json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
            schema,
        )
        .unwrap_err();
        assert_eq!(e.code(), 400);
    }

    #[test]
    fn primitive_lists_and_element_order() {
        let doc = json!({"metadata": {"finalizers": ["a", "b", "c"]},
            "spec": {"containers": [{"name": "x"}, {"name": "y"}, {"name": "z"}]}});
        let out = smp(
            doc,
            json!({
                "metadata": {"$deleteFromPrimitiveList/finalizers": ["b"], "finalizers": ["d"],
                    "$setElementOrder/finalizers": ["d", "a", "c"]},
                "spec": {"$setElementOrder/containers": [{"name": "z"}, {"name": "x"}, {"name": "y"}]},
            }),
            pod(),
        );
        assert_eq!(
            out,
            json!({"metadata": {"finalizers": ["d", "a", "c"]},
                "spec": {"containers": [{"name": "z"}, {"name": "x"}, {"name": "y"}]}})
        );
    }

    #[test]
    fn volumes_and_service_ports() {
        let doc = json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}}]}});
        let out = smp(
            doc,
            json!({"spec": {"volumes": [{"name": "data", "$retainKeys": ["name", "hostPath"],
                "hostPath": {"path": "/d"}}]}}),
            pod(),
        );
        assert_eq!(
            out,
            json!({"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/d"}}]}})
        );
        let svc = PatchSchema::for_kind("", "Service").unwrap();
        let out = smp(
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
            svc,
        );
        assert_eq!(
            out,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}})
        );
    }

    #[test]
    fn two_way_round_trips() {
        let a = json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x", "y"]},
            "spec": {"containers": [
                {"name": "app", "image": "1", "env": [{"name": "A", "value": "1"}]},
                {"name": "log", "image": "2"}],
             "tolerations": [{"key": "k"}]}});
        let b = json!({"metadata": {"labels": {"b": "2"}, "finalizers": ["y", "z"]},
            "spec": {"containers": [
                {"name": "new", "image": "3"},
                {"name": "app", "image": "1", "env": [{"name": "B", "value": "2"}]}],
             "tolerations": []}});
        let p = create_two_way_merge_patch(&a, &b, pod()).unwrap();
        assert_eq!(smp(a.clone(), p, pod()), b);
        let p = create_two_way_merge_patch(&b, &a, pod()).unwrap();
        assert_eq!(smp(b.clone(), p, pod()), a);
        assert_eq!(
            create_two_way_merge_patch(&a, &a, pod()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn three_way_keeps_what_others_set() {
        let last =
            json!({"spec": {"containers": [{"name": "app", "image": "1"}, {"name": "old"}]}});
        let config = json!({"spec": {"containers": [{"name": "app", "image": "2"}]}});
        let live = json!({"spec": {"containers": [
            {"name": "app", "image": "1", "imagePullPolicy": "Always"},
            {"name": "old"}, {"name": "injected"}]}});
        let p = create_three_way_merge_patch(&last, &config, &live, pod()).unwrap();
        let out = smp(live, p, pod());
        assert_eq!(
            out,
            json!({"spec": {"containers": [
                {"name": "app", "image": "2", "imagePullPolicy": "Always"},
                {"name": "injected"}]}})
        );
    }
}
