//! Patches: the four ways Kubernetes changes an object with a partial
//! document, as pure functions over [`serde_json::Value`].
//!
//! | patch type | content type | here |
//! |---|---|---|
//! | JSON merge patch (RFC 7386) | `application/merge-patch+json` | [`merge`], [`create_merge_patch`] |
//! | JSON patch (RFC 6902) | `application/json-patch+json` | [`json_patch`] |
//! | strategic merge patch | `application/strategic-merge-patch+json` | [`strategic_merge`], [`create_two_way_merge_patch`], [`create_three_way_merge_patch`] |
//! | server-side apply | `application/apply-patch+yaml` | [`apply`], [`record_update`] |
//!
//! A **merge patch** is a partial object: its fields replace the target's,
//! `null` deletes, objects merge recursively, and lists are replaced whole.
//!
//! A **JSON patch** is a list of operations (`add`, `remove`, `replace`,
//! `move`, `copy`, `test`) addressed by JSON Pointers. It is atomic: when one
//! operation fails, the target is left as it was, and the error names the
//! operation's index and path.
//!
//! A **strategic merge patch** is a merge patch that knows the kind's lists:
//! `spec.containers` merges by `name`, a container's `ports` by
//! `containerPort`, `metadata.finalizers` as a set, and so on (the
//! [`PatchSchema`] of each built-in kind, from the `patchStrategy` and
//! `patchMergeKey` tags of Kubernetes' Go types). Directives refine it:
//! `$patch: replace|delete|merge`, `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`. As in
//! Kubernetes, custom resources have no strategic schema: the API server
//! answers such a patch with 415.
//!
//! **Server-side apply** merges an applied configuration into the live
//! object and records who owns which field in `metadata.managedFields`
//! (the `FieldsV1` format): fields the same manager applied before and now
//! leaves out are removed, and changing a field another manager owns is a
//! conflict unless forced.
//!
//! ```
//! use keelson::api::patch::{strategic_merge, PatchSchema};
//! use serde_json::json;
//!
//! let mut pod = json!({"spec": {"containers": [
//!     {"name": "app", "image": "nginx:1.25"},
//!     {"name": "log", "image": "busybox"},
//! ]}});
//! let schema = PatchSchema::for_kind("", "Pod").unwrap();
//! strategic_merge(&mut pod, &json!({"spec": {"containers": [
//!     {"name": "app", "image": "nginx:1.27"},
//! ]}}), schema).unwrap();
//! assert_eq!(pod, json!({"spec": {"containers": [
//!     {"name": "app", "image": "nginx:1.27"},
//!     {"name": "log", "image": "busybox"},
//! ]}}));
//! ```

mod apply;
mod fieldset;
mod json;
mod merge;
mod schema;
mod strategic;

pub use self::apply::{apply, record_update, ApplyOptions};
pub use self::fieldset::{FieldPath, FieldSet, PathElement};
pub use self::json::json_patch;
pub use self::merge::{create_merge_patch, merge};
pub use self::schema::{FieldStrategy, ListStrategy, PatchSchema};
pub use self::strategic::{
    create_three_way_merge_patch, create_two_way_merge_patch, strategic_merge,
};

/// Why a patch could not be applied.
///
/// [`PatchError::code`] gives the HTTP code Kubernetes' API server answers
/// with: a malformed document is 400, a JSON patch operation that fails
/// (including a failed `test`) is 422, a strategic patch of a kind without a
/// strategic schema is 415, and an apply conflict is 409.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed.
    #[error("invalid patch: {0}")]
    BadDocument(String),
    /// A JSON patch operation failed; the target is unchanged.
    #[error("json patch operation {index} ({op} {path:?}) failed: {reason}")]
    Operation {
        /// The operation's index in the patch (from 0).
        index: usize,
        /// The operation (`add`, `test`, ...).
        op: String,
        /// The operation's `path`.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The patch is well formed but cannot be applied to this object (a
    /// `$retainKeys` list that does not cover the patch, for example).
    #[error("{0}")]
    Unprocessable(String),
    /// The kind has no strategic merge schema (custom resources).
    #[error("strategic merge patch is not supported for {0}")]
    UnsupportedKind(String),
    /// Server-side apply would change fields other managers own.
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
}

/// One apply conflict: a field another manager owns with another value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The field, as `.spec.replicas` or `.spec.containers[name="app"].image`.
    pub field: String,
}

fn conflict_message(conflicts: &[Conflict]) -> String {
    let n = conflicts.len();
    let mut s = format!(
        "Apply failed with {n} conflict{}: ",
        if n == 1 { "" } else { "s" }
    );
    for (i, c) in conflicts.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("conflict with {:?}: {}", c.manager, c.field));
    }
    s
}

impl PatchError {
    /// The HTTP code the API server answers with.
    pub fn code(&self) -> i32 {
        match self {
            PatchError::BadDocument(_) => 400,
            PatchError::Operation { .. } | PatchError::Unprocessable(_) => 422,
            PatchError::UnsupportedKind(_) => 415,
            PatchError::Conflicts(_) => 409,
        }
    }

    pub(crate) fn bad(message: impl Into<String>) -> Self {
        PatchError::BadDocument(message.into())
    }
}

/// True when two JSON values are equal, numbers compared by value (`1` and
/// `1.0` are equal), as RFC 6902's `test` requires.
pub(crate) fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    /// JSON values; objects hold no `null` (a merge patch cannot set one).
    fn value(nulls: bool) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(|n| json!(n)),
            "[a-c]{0,2}".prop_map(Value::String),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-d$/~]{1,3}", inner, 0..4).prop_map(move |m| {
                    Value::Object(
                        m.into_iter()
                            .filter(|(_, v)| nulls || !v.is_null())
                            .collect::<Map<String, Value>>(),
                    )
                }),
            ]
        })
    }

    fn containers() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-e]", ("[1-3]", prop::option::of("[xy]")), 0..5)
            .prop_flat_map(|m| {
                let items: Vec<Value> = m
                    .into_iter()
                    .map(|(name, (image, policy))| {
                        let mut c = json!({"name": name, "image": image});
                        if let Some(p) = policy {
                            c["imagePullPolicy"] = json!(p);
                        }
                        c
                    })
                    .collect();
                Just(items).prop_shuffle()
            })
            .prop_map(|items| json!({"spec": {"containers": items}}))
    }

    proptest! {
        #[test]
        fn merge_patch_round_trips(a in value(false), b in value(false)) {
            let p = create_merge_patch(&a, &b);
            let mut c = a.clone();
            merge(&mut c, &p);
            prop_assert_eq!(c, b);
        }

        #[test]
        fn strategic_two_way_round_trips(a in containers(), b in containers()) {
            let schema = PatchSchema::for_kind("", "Pod").unwrap();
            let p = create_two_way_merge_patch(&a, &b, schema).unwrap();
            let mut c = a.clone();
            strategic_merge(&mut c, &p, schema).unwrap();
            prop_assert_eq!(c, b);
        }

        #[test]
        fn no_patch_document_panics(target in value(true), patch in value(true)) {
            let schema = PatchSchema::for_kind("apps", "Deployment").unwrap();
            let mut t = target.clone();
            merge(&mut t, &patch);
            let mut t = target.clone();
            if json_patch(&mut t, &patch).is_err() {
                prop_assert_eq!(&t, &target);
            }
            let mut t = target.clone();
            if strategic_merge(&mut t, &patch, schema).is_err() {
                prop_assert_eq!(&t, &target);
            }
            let _ = create_two_way_merge_patch(&target, &patch, schema);
            let _ = create_three_way_merge_patch(&target, &patch, &target, schema);
            let opts = ApplyOptions { manager: "m", ..ApplyOptions::default() };
            let mut t = target.clone();
            let _ = apply(&mut t, &patch, Some(schema), &opts);
            let _ = apply(&mut t, &patch, Some(schema), &ApplyOptions { manager: "n", ..opts.clone() });
            let old = t.clone();
            record_update(&old, &mut t, Some(schema), &opts);
        }

        #[test]
        fn json_patch_ops_never_panic(
            target in value(true),
            ops in prop::collection::vec(
                (prop::sample::select(vec!["add", "remove", "replace", "move", "copy", "test"]),
                 "(/[a-d0-9~-]{0,2}){0,3}", "(/[a-d0-9~-]{0,2}){0,3}", value(true)),
                0..4),
        ) {
            let patch: Vec<Value> = ops.into_iter()
                .map(|(op, path, from, v)| json!({"op": op, "path": path, "from": from, "value": v}))
                .collect();
            let mut t = target.clone();
            if json_patch(&mut t, &Value::Array(patch)).is_err() {
                prop_assert_eq!(t, target);
            }
        }
    }
}
