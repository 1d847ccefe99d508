//! Sets of field paths, as server-side apply records them in
//! `metadata.managedFields` (the `FieldsV1` format).
//!
//! `FieldsV1` is a trie of path elements: `f:<field>` for an object field,
//! `k:<json>` for a list element matched by its merge key, `v:<json>` for a
//! member of a set of scalars, and `.` for "this element itself". A leaf is
//! an empty object:
//!
//! ```json
//! {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
//!     "k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}
//! ```
use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use super::schema::{ListStrategy, PatchSchema};

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// An object field.
    Field(String),
    /// The list element whose merge key has this value: the key object as
    /// compact JSON, `{"name":"app"}`.
    Key(String),
    /// The member of a set of scalars with this value, as JSON (`"x"`).
    Value(String),
}

/// A path to a field, a list element or a set member.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<PathElement>);

impl fmt::Display for FieldPath {
    /// Kubernetes' form: `.spec.containers[name="app"].image`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            match e {
                PathElement::Field(n) => write!(f, ".{n}")?,
                PathElement::Key(k) => {
                    let parsed: Option<Map<String, Value>> = serde_json::from_str(k).ok();
                    f.write_str("[")?;
                    for (i, (kk, kv)) in parsed.unwrap_or_default().iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{kk}={kv}")?;
                    }
                    f.write_str("]")?;
                }
                PathElement::Value(v) => write!(f, "[={v}]")?,
            }
        }
        Ok(())
    }
}

impl FieldPath {
    /// True when `self` starts with `prefix` (a path is its own prefix).
    pub fn starts_with(&self, prefix: &FieldPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The value at this path in `v`.
    pub fn resolve<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(v, step)
    }

    /// Removes what this path names from `v` (a field, a list element or a
    /// set member); false when it was not there.
    pub fn remove_from(&self, v: &mut Value) -> bool {
        let Some((last, parent)) = self.0.split_last() else {
            return false;
        };
        let mut cur = v;
        for e in parent {
            match step_mut(cur, e) {
                Some(next) => cur = next,
                None => return false,
            }
        }
        match (last, cur) {
            (PathElement::Field(f), Value::Object(m)) => m.remove(f).is_some(),
            (PathElement::Key(k), Value::Array(a)) => {
                let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else {
                    return false;
                };
                let n = a.len();
                a.retain(|e| !matches_key(e, &key));
                a.len() != n
            }
            (PathElement::Value(s), Value::Array(a)) => {
                let Ok(want) = serde_json::from_str::<Value>(s) else {
                    return false;
                };
                let n = a.len();
                a.retain(|e| *e != want);
                a.len() != n
            }
            _ => false,
        }
    }
}

fn matches_key(e: &Value, key: &Map<String, Value>) -> bool {
    !key.is_empty() && key.iter().all(|(k, v)| e.get(k) == Some(v))
}

fn step<'a>(v: &'a Value, e: &PathElement) -> Option<&'a Value> {
    match (e, v) {
        (PathElement::Field(f), Value::Object(m)) => m.get(f),
        (PathElement::Key(k), Value::Array(a)) => {
            let key: Map<String, Value> = serde_json::from_str(k).ok()?;
            a.iter().find(|x| matches_key(x, &key))
        }
        (PathElement::Value(s), Value::Array(a)) => {
            let want: Value = serde_json::from_str(s).ok()?;
            a.iter().find(|x| **x == want)
        }
        _ => None,
    }
}

fn step_mut<'a>(v: &'a mut Value, e: &PathElement) -> Option<&'a mut Value> {
    match (e, v) {
        (PathElement::Field(f), Value::Object(m)) => m.get_mut(f),
        (PathElement::Key(k), Value::Array(a)) => {
            let key: Map<String, Value> = serde_json::from_str(k).ok()?;
            a.iter_mut().find(|x| matches_key(x, &key))
        }
        _ => None,
    }
}

/// A set of field paths: what one manager owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<FieldPath>);

impl FieldSet {
    /// The fields an object sets, by the kind's schema: each scalar, empty
    /// object or atomic list is a leaf, each keyed list element and set
    /// member is named. `apiVersion`, `kind` and the metadata the
    /// server owns (`name`, `uid`, `resourceVersion`, `managedFields`, ...)
    /// are left out.
    ///
    /// ```
    /// use keelson::api::patch::{FieldSet, PatchSchema};
    /// use serde_json::json;
    ///
    /// let schema = PatchSchema::for_kind("", "Pod").unwrap();
    /// let set = FieldSet::of_object(&json!({
    ///     "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
    ///     "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    /// }), schema);
    /// assert_eq!(set.to_fields_v1(), json!({
    ///     "f:metadata": {"f:labels": {"f:app": {}}},
    ///     "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}},
    /// }));
    /// ```
    pub fn of_object(obj: &Value, schema: &PatchSchema) -> FieldSet {
        let mut out = BTreeSet::new();
        let mut prefix = Vec::new();
        collect(obj, schema, &mut prefix, &mut out);
        out.retain(|p| !ignored(p));
        FieldSet(out)
    }

    /// True when no field is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the set has `p` or a path under it.
    pub fn covers(&self, p: &FieldPath) -> bool {
        self.0
            .range(p.clone()..)
            .next()
            .is_some_and(|q| q.starts_with(p))
    }

    /// The `FieldsV1` trie.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Trie::default();
        for p in &self.0 {
            let mut node = &mut root;
            for e in &p.0 {
                let k = match e {
                    PathElement::Field(f) => format!("f:{f}"),
                    PathElement::Key(k) => format!("k:{k}"),
                    PathElement::Value(v) => format!("v:{v}"),
                };
                node = node.children.entry(k).or_default();
            }
            node.own = true;
        }
        root.to_value()
    }

    /// Parses a `FieldsV1` trie; unknown entries are skipped.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut out = BTreeSet::new();
        if let Value::Object(m) = v {
            parse_node(m, &mut Vec::new(), &mut out);
        }
        FieldSet(out)
    }
}

#[derive(Default)]
struct Trie {
    own: bool,
    children: std::collections::BTreeMap<String, Trie>,
}

impl Trie {
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        // An owned node with children says so with ".".
        if self.own && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_value());
        }
        Value::Object(m)
    }
}

fn parse_node(
    m: &Map<String, Value>,
    prefix: &mut Vec<PathElement>,
    out: &mut BTreeSet<FieldPath>,
) {
    if (m.is_empty() || m.contains_key(".")) && !prefix.is_empty() {
        out.insert(FieldPath(prefix.clone()));
    }
    for (k, v) in m {
        let e = if let Some(f) = k.strip_prefix("f:") {
            PathElement::Field(f.to_string())
        } else if let Some(key) = k.strip_prefix("k:") {
            PathElement::Key(key.to_string())
        } else if let Some(val) = k.strip_prefix("v:") {
            PathElement::Value(val.to_string())
        } else {
            continue;
        };
        prefix.push(e);
        match v {
            Value::Object(c) => parse_node(c, prefix, out),
            _ => {
                out.insert(FieldPath(prefix.clone()));
            }
        }
        prefix.pop();
    }
}

fn ignored(p: &FieldPath) -> bool {
    let f = |i: usize| match p.0.get(i) {
        Some(PathElement::Field(f)) => Some(f.as_str()),
        _ => None,
    };
    match f(0) {
        Some("apiVersion" | "kind") => true,
        Some("metadata") => {
            matches!(
                f(1),
                Some(
                    "name"
                        | "namespace"
                        | "uid"
                        | "resourceVersion"
                        | "generation"
                        | "creationTimestamp"
                        | "deletionTimestamp"
                        | "deletionGracePeriodSeconds"
                        | "managedFields"
                        | "selfLink"
                )
            ) || p.0.len() == 1
        }
        _ => false,
    }
}

fn collect(
    v: &Value,
    schema: &PatchSchema,
    prefix: &mut Vec<PathElement>,
    out: &mut BTreeSet<FieldPath>,
) {
    let Value::Object(m) = v else { return };
    for (k, child) in m {
        if k.starts_with('$') {
            continue;
        }
        prefix.push(PathElement::Field(k.clone()));
        match child {
            Value::Object(c) if !c.is_empty() => collect(child, schema.child(k), prefix, out),
            Value::Array(items) => {
                match schema.field(k).map_or(ListStrategy::Replace, |s| s.list) {
                    ListStrategy::MergeByKey(key) if items.iter().all(|e| e.get(key).is_some()) => {
                        for e in items {
                            let kv = e.get(key).cloned().unwrap_or(Value::Null);
                            let id = Value::Object(Map::from_iter([(key.to_string(), kv)]));
                            prefix.push(PathElement::Key(id.to_string()));
                            out.insert(FieldPath(prefix.clone()));
                            collect(e, schema.child(k), prefix, out);
                            prefix.pop();
                        }
                    }
                    ListStrategy::MergeSet if !items.iter().any(Value::is_object) => {
                        for e in items {
                            prefix.push(PathElement::Value(e.to_string()));
                            out.insert(FieldPath(prefix.clone()));
                            prefix.pop();
                        }
                    }
                    _ => {
                        out.insert(FieldPath(prefix.clone()));
                    }
                }
            }
            _ => {
                out.insert(FieldPath(prefix.clone()));
            }
        }
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_and_resolves() {
        let schema = PatchSchema::for_kind("apps", "Deployment").unwrap();
        let obj = json!({"metadata": {"finalizers": ["a"], "labels": {}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "app", "image": "x", "args": ["1"]}]}}}});
        let set = FieldSet::of_object(&obj, schema);
        let v1 = set.to_fields_v1();
        assert_eq!(FieldSet::from_fields_v1(&v1), set);
        let shown: Vec<String> = set.0.iter().map(|p| p.to_string()).collect();
        assert!(shown.contains(&".spec.template.spec.containers[name=\"app\"].image".to_string()));
        assert!(shown.contains(&".metadata.finalizers[=\"a\"]".to_string()));
        assert!(shown.contains(&".metadata.labels".to_string()));
        for p in &set.0 {
            assert!(p.resolve(&obj).is_some(), "{p}");
        }
        let mut o = obj.clone();
        let app = set
            .0
            .iter()
            .find(|p| matches!(p.0.last(), Some(PathElement::Key(_))))
            .unwrap();
        assert!(app.remove_from(&mut o));
        assert_eq!(o["spec"]["template"]["spec"]["containers"], json!([]));
        assert!(!app.remove_from(&mut o));
    }
}
