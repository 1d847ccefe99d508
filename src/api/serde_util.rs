//! Small serde helpers shared by the object model.
//!
//! Kubernetes decodes JSON `null` as a field's zero value (YAML `env:` with
//! nothing after it is `null`), and omits zero values when encoding
//! (`omitempty`). Fields use [`nullable`] and [`is_default`] to do the same:
//!
//! ```
//! use keelson::api::serde_util::{is_default, nullable};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, PartialEq, Serialize, Deserialize)]
//! struct Spec {
//!     #[serde(default, deserialize_with = "nullable", skip_serializing_if = "is_default")]
//!     args: Vec<String>,
//! }
//!
//! let spec: Spec = serde_json::from_str(r#"{"args": null}"#).unwrap();
//! assert!(spec.args.is_empty());
//! assert_eq!(serde_json::to_string(&spec).unwrap(), "{}");
//! ```
use serde::{Deserialize, Deserializer};

/// Deserializes `null` as `T::default()`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// True when `value` equals its type's default: the `omitempty` test.
pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// True for `false` (for `skip_serializing_if` on Go `bool` fields with `omitempty`).
pub fn is_false(value: &bool) -> bool {
    !*value
}

/// Formats a path reported by `serde_ignored` the way Kubernetes writes
/// field paths: `spec.containers[0].imagePullPolicyy`.
pub fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    fn walk(path: &P<'_>, out: &mut String) {
        match path {
            P::Root => {}
            P::Seq { parent, index } => {
                walk(parent, out);
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            P::Map { parent, key } => {
                walk(parent, out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                walk(parent, out)
            }
        }
    }
    let mut out = String::new();
    walk(path, &mut out);
    out
}

/// Deserializes a list, `null` as empty, and trims its spare capacity.
///
/// Decoding grows vectors by doubling (serde knows no length up front), so a
/// one-container pod would otherwise hold room for four. Informer caches
/// keep objects for long, so the one reallocation here pays for itself.
pub fn nullable_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut list = Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default();
    list.shrink_to_fit();
    Ok(list)
}
