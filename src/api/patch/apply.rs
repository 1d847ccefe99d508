//! Server-side apply and field ownership (`metadata.managedFields`).
use serde_json::{Map, Value};

use super::fieldset::{FieldPath, FieldSet, PathElement};
use super::schema::PatchSchema;
use super::strategic::strategic_merge;
use super::{Conflict, PatchError};
use crate::api::meta::ManagedFieldsEntry;
use crate::api::{Str, Time};

/// Who applies, and how.
#[derive(Clone, Debug, Default)]
pub struct ApplyOptions<'a> {
    /// The field manager (`kubectl`, `my-controller`).
    pub manager: &'a str,
    /// Take the fields other managers own instead of failing with a
    /// conflict.
    pub force: bool,
    /// The `apiVersion` the configuration is written in.
    pub api_version: &'a str,
    /// The subresource written (`""` or `status`).
    pub subresource: &'a str,
    /// The time recorded in the manager's entry.
    pub time: Option<Time>,
}

struct Entry {
    meta: ManagedFieldsEntry,
    set: FieldSet,
}

fn read_entries(live: &Value) -> Vec<Entry> {
    let Some(list) = live.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    let entries: Vec<ManagedFieldsEntry> = serde_json::from_value(list.clone()).unwrap_or_default();
    entries
        .into_iter()
        .map(|meta| {
            let set = meta
                .fields_v1
                .as_ref()
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default();
            Entry { meta, set }
        })
        .collect()
}

fn write_entries(live: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.set.is_empty())
        .map(|mut e| {
            e.meta.fields_type = Str::from_static("FieldsV1");
            e.meta.fields_v1 = Some(e.set.to_fields_v1());
            serde_json::to_value(&e.meta).unwrap_or(Value::Null)
        })
        .collect();
    if !live.is_object() {
        *live = Value::Object(Map::new());
    }
    let Value::Object(obj) = live else { return };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

fn is_leaf_field(p: &FieldPath) -> bool {
    matches!(p.0.last(), Some(PathElement::Field(_)))
}

/// Applies a configuration (server-side apply) to the live object `live`
/// (an empty object when creating), for the kind's `schema` (`None` for a
/// custom resource: lists are atomic).
///
/// - A field the configuration sets that another manager owns with a
///   different value is a conflict ([`PatchError::Conflicts`], 409) unless
///   `force`, which moves the field to this manager.
/// - Fields this manager applied before and the configuration now leaves
///   out are removed, unless another manager owns them too.
/// - A write to the main resource owns everything but `status`; one to
///   the `status` subresource owns `status` only.
/// - The configuration is merged into the object (strategically, by the
///   schema), and this manager's `Apply` entry in `metadata.managedFields`
///   becomes the set of fields the configuration names.
///
/// Atomic: on error, `live` is unchanged.
///
/// ```
/// use keelson::api::patch::{apply, ApplyOptions, PatchError, PatchSchema};
/// use serde_json::json;
///
/// let schema = PatchSchema::for_kind("apps", "Deployment");
/// let mut live = json!({});
/// let a = ApplyOptions { manager: "alice", api_version: "apps/v1", ..Default::default() };
/// apply(&mut live, &json!({"spec": {"replicas": 2, "paused": true}}), schema, &a).unwrap();
/// // Alice drops `paused`: it goes.
/// apply(&mut live, &json!({"spec": {"replicas": 2}}), schema, &a).unwrap();
/// assert_eq!(live["spec"], json!({"replicas": 2}));
/// // Bob may not change Alice's replicas without force.
/// let b = ApplyOptions { manager: "bob", ..a.clone() };
/// let e = apply(&mut live, &json!({"spec": {"replicas": 5}}), schema, &b).unwrap_err();
/// assert!(matches!(e, PatchError::Conflicts(_)));
/// apply(&mut live, &json!({"spec": {"replicas": 5}}), schema, &ApplyOptions { force: true, ..b }).unwrap();
/// assert_eq!(live["spec"]["replicas"], 5);
/// ```
pub fn apply(
    live: &mut Value,
    config: &Value,
    schema: Option<&PatchSchema>,
    opts: &ApplyOptions<'_>,
) -> Result<(), PatchError> {
    let Value::Object(cfg) = config else {
        return Err(PatchError::bad("an apply configuration must be an object"));
    };
    if opts.manager.is_empty() {
        return Err(PatchError::bad(
            "fieldManager is required for apply requests",
        ));
    }
    let schema = schema.unwrap_or(PatchSchema::empty());
    let mut cfg = cfg.clone();
    if let Some(Value::Object(m)) = cfg.get_mut("metadata") {
        m.remove("managedFields");
    }
    let config = Value::Object(cfg);
    let new_set = owned_part(FieldSet::of_object(&config, schema), opts.subresource);
    let mut entries = read_entries(live);
    let mine = |e: &Entry| {
        e.meta.manager == opts.manager
            && e.meta.operation == "Apply"
            && e.meta.subresource == opts.subresource
    };

    // Conflicts: leaves the configuration sets to a different value than
    // the one another manager set.
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| e.meta.manager != opts.manager) {
        for p in new_set.0.intersection(&e.set.0) {
            if !is_leaf_field(p) {
                continue;
            }
            let (have, want) = (p.resolve(live), p.resolve(&config));
            if have.is_some() && have != want {
                conflicts.push((e.meta.manager.to_string(), p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !opts.force {
        return Err(PatchError::Conflicts(
            conflicts
                .into_iter()
                .map(|(manager, p)| Conflict {
                    manager,
                    field: p.to_string(),
                })
                .collect(),
        ));
    }
    for (manager, p) in &conflicts {
        for e in entries
            .iter_mut()
            .filter(|e| e.meta.manager == manager.as_str())
        {
            e.set.0.remove(p);
        }
    }

    let mut out = live.clone();
    // What this manager applied before and no longer applies.
    let previous = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let others: Vec<&FieldSet> = entries
        .iter()
        .filter(|e| !mine(e))
        .map(|e| &e.set)
        .collect();
    let dropped: Vec<&FieldPath> = previous.0.difference(&new_set.0).collect();
    for p in dropped {
        if new_set.covers(p) || others.iter().any(|s| s.covers(p)) {
            continue;
        }
        p.remove_from(&mut out);
    }
    strategic_merge(&mut out, &config, schema)?;

    match entries.iter_mut().find(|e| mine(e)) {
        Some(e) => {
            e.set = new_set;
            e.meta.time = opts.time;
            e.meta.api_version = Str::from(opts.api_version);
        }
        None => entries.push(Entry {
            meta: ManagedFieldsEntry {
                manager: Str::from(opts.manager),
                operation: Str::from_static("Apply"),
                api_version: Str::from(opts.api_version),
                time: opts.time,
                subresource: Str::from(opts.subresource),
                ..ManagedFieldsEntry::default()
            },
            set: new_set,
        }),
    }
    forget_missing(&mut entries, &out);
    write_entries(&mut out, entries);
    *live = out;
    Ok(())
}

/// The part of an object a write to `subresource` owns: `status` for the
/// status subresource, everything else for the main resource.
fn owned_part(set: FieldSet, subresource: &str) -> FieldSet {
    let status = FieldPath(vec![PathElement::Field("status".into())]);
    FieldSet(
        set.0
            .into_iter()
            .filter(|p| p.starts_with(&status) == (subresource == "status"))
            .collect(),
    )
}

/// Drops owned paths that no longer exist in the object.
fn forget_missing(entries: &mut [Entry], obj: &Value) {
    for e in entries {
        e.set.0.retain(|p| p.resolve(obj).is_some());
    }
}

/// Records a non-apply write (update or patch) by `opts.manager` in the new
/// object's `managedFields`: the fields it changed or added become the
/// manager's (in its `Update` entry) and are taken from other managers, and
/// fields the write removed are no longer anyone's. `old` is the object
/// before the write (an empty object for a create).
///
/// ```
/// use keelson::api::patch::{apply, record_update, ApplyOptions, PatchSchema};
/// use serde_json::json;
///
/// let schema = PatchSchema::for_kind("apps", "Deployment");
/// let mut live = json!({});
/// let a = ApplyOptions { manager: "alice", api_version: "apps/v1", ..Default::default() };
/// apply(&mut live, &json!({"spec": {"replicas": 2}}), schema, &a).unwrap();
/// let old = live.clone();
/// live["spec"]["replicas"] = json!(3);
/// record_update(&old, &mut live, schema, &ApplyOptions { manager: "hpa", ..a.clone() });
/// let managers: Vec<&str> = live["metadata"]["managedFields"].as_array().unwrap()
///     .iter().map(|e| e["manager"].as_str().unwrap()).collect();
/// assert_eq!(managers, ["hpa"]);
/// ```
pub fn record_update(
    old: &Value,
    new: &mut Value,
    schema: Option<&PatchSchema>,
    opts: &ApplyOptions<'_>,
) {
    let schema = schema.unwrap_or(PatchSchema::empty());
    let mut entries = read_entries(new);
    if !opts.manager.is_empty() {
        let changed: FieldSet = FieldSet(
            owned_part(FieldSet::of_object(new, schema), opts.subresource)
                .0
                .into_iter()
                .filter(|p| p.resolve(old) != p.resolve(new))
                .collect(),
        );
        if !changed.is_empty() {
            for e in entries.iter_mut() {
                e.set.0.retain(|p| !changed.0.contains(p));
            }
            let mine = entries.iter_mut().find(|e| {
                e.meta.manager == opts.manager
                    && e.meta.operation == "Update"
                    && e.meta.subresource == opts.subresource
            });
            match mine {
                Some(e) => {
                    e.set.0.extend(changed.0);
                    e.meta.time = opts.time;
                    e.meta.api_version = Str::from(opts.api_version);
                }
                None => entries.push(Entry {
                    meta: ManagedFieldsEntry {
                        manager: Str::from(opts.manager),
                        operation: Str::from_static("Update"),
                        api_version: Str::from(opts.api_version),
                        time: opts.time,
                        subresource: Str::from(opts.subresource),
                        ..ManagedFieldsEntry::default()
                    },
                    set: changed,
                }),
            }
        }
    }
    forget_missing(&mut entries, new);
    if entries.is_empty() && new.pointer("/metadata/managedFields").is_none() {
        return;
    }
    write_entries(new, entries);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(manager: &str) -> ApplyOptions<'_> {
        ApplyOptions {
            manager,
            api_version: "v1",
            ..ApplyOptions::default()
        }
    }

    #[test]
    fn apply_removes_what_the_manager_dropped_and_keeps_others() {
        let schema = PatchSchema::for_kind("", "Pod");
        let mut live = json!({});
        apply(
            &mut live,
            &json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                "spec": {"containers": [{"name": "app", "image": "x"}, {"name": "side", "image": "y"}]}}),
            schema,
            &opts("kubectl"),
        )
        .unwrap();
        // Another manager adds a label and owns it.
        let old = live.clone();
        live["metadata"]["labels"]["c"] = json!("3");
        record_update(&old, &mut live, schema, &opts("ctl"));
        // kubectl drops label b and the sidecar.
        apply(
            &mut live,
            &json!({"metadata": {"labels": {"a": "1"}},
                "spec": {"containers": [{"name": "app", "image": "x"}]}}),
            schema,
            &opts("kubectl"),
        )
        .unwrap();
        assert_eq!(live["metadata"]["labels"], json!({"a": "1", "c": "3"}));
        assert_eq!(
            live["spec"]["containers"],
            json!([{"name": "app", "image": "x"}])
        );
        let mf = live["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 2);
        assert_eq!(mf[0]["manager"], "kubectl");
        assert_eq!(mf[0]["operation"], "Apply");
        assert_eq!(mf[0]["fieldsType"], "FieldsV1");
        assert_eq!(mf[1]["operation"], "Update");
        assert_eq!(
            mf[1]["fieldsV1"],
            json!({"f:metadata": {"f:labels": {"f:c": {}}}})
        );
    }

    #[test]
    fn same_value_is_shared_not_a_conflict() {
        let mut live = json!({});
        apply(&mut live, &json!({"data": {"k": "v"}}), None, &opts("a")).unwrap();
        apply(&mut live, &json!({"data": {"k": "v"}}), None, &opts("b")).unwrap();
        // a lets go; b still owns it, so it stays.
        apply(&mut live, &json!({}), None, &opts("a")).unwrap();
        assert_eq!(live["data"], json!({"k": "v"}));
        let e = apply(&mut live, &json!({"data": {"k": "w"}}), None, &opts("c")).unwrap_err();
        let PatchError::Conflicts(c) = &e else {
            panic!("{e}")
        };
        assert_eq!(
            c,
            &[Conflict {
                manager: "b".into(),
                field: ".data.k".into()
            }]
        );
        assert_eq!(e.code(), 409);
        assert!(
            e.to_string().contains("conflict with \"b\": .data.k"),
            "{e}"
        );
        let e = apply(&mut live, &json!({}), None, &opts("")).unwrap_err();
        assert_eq!(e.code(), 400);
    }

    #[test]
    fn status_is_owned_through_the_status_subresource() {
        let schema = PatchSchema::for_kind("", "Pod");
        let mut live = json!({});
        apply(
            &mut live,
            &json!({"spec": {"nodeName": "a"}, "status": {"phase": "x"}}),
            schema,
            &opts("kubectl"),
        )
        .unwrap();
        let kubelet = ApplyOptions {
            subresource: "status",
            ..opts("kubelet")
        };
        apply(
            &mut live,
            &json!({"status": {"phase": "Running"}}),
            schema,
            &kubelet,
        )
        .unwrap();
        let mf = live["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf[0]["fieldsV1"], json!({"f:spec": {"f:nodeName": {}}}));
        assert_eq!(mf[1]["fieldsV1"], json!({"f:status": {"f:phase": {}}}));
        assert_eq!(mf[1]["subresource"], "status");
    }
}
