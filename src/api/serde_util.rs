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

/// Deserializes a list, `null` as empty, with no spare capacity.
///
/// serde knows no length up front when decoding JSON, so a plain `Vec`
/// grows by doubling and a one-container pod would hold room for four.
/// Informer caches keep objects for long, so lists are sized exactly: one
/// element (the common case) is allocated once, longer lists are trimmed.
pub fn nullable_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ExactVec<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ExactVec<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Vec<T>, D2::Error> {
            d.deserialize_seq(self)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let Some(first) = seq.next_element()? else {
                return Ok(Vec::new());
            };
            let Some(second) = seq.next_element()? else {
                return Ok(vec![first]);
            };
            let hint = seq.size_hint().unwrap_or(0).min(4096);
            let mut list = Vec::with_capacity(hint + 2);
            list.push(first);
            list.push(second);
            while let Some(item) = seq.next_element()? {
                list.push(item);
            }
            list.shrink_to_fit();
            Ok(list)
        }
    }

    deserializer.deserialize_option(ExactVec(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "nullable_vec")]
        items: Vec<u32>,
    }

    #[test]
    fn lists_are_sized_exactly() {
        for (json, len) in [
            (r#"{"items":null}"#, 0),
            (r#"{}"#, 0),
            (r#"{"items":[]}"#, 0),
            (r#"{"items":[7]}"#, 1),
            (r#"{"items":[1,2]}"#, 2),
            (r#"{"items":[1,2,3,4,5]}"#, 5),
        ] {
            let h: Holder = serde_json::from_str(json).unwrap();
            assert_eq!(h.items.len(), len, "{json}");
            assert_eq!(h.items.capacity(), len, "{json}");
        }
        assert!(serde_json::from_str::<Holder>(r#"{"items":{}}"#).is_err());
    }

    #[test]
    fn unknown_fields_inside_lists_keep_their_path() {
        #[derive(Deserialize)]
        struct Item {
            #[allow(dead_code)]
            #[serde(default)]
            name: String,
        }
        #[derive(Deserialize)]
        struct Outer {
            #[allow(dead_code)]
            #[serde(default, deserialize_with = "nullable_vec")]
            list: Vec<Item>,
        }
        let mut seen = Vec::new();
        let mut de = serde_json::Deserializer::from_str(r#"{"list":[{"name":"a"},{"nmae":"b"}]}"#);
        let _: Outer = serde_ignored::deserialize(&mut de, |p| seen.push(field_path(&p))).unwrap();
        assert_eq!(seen, vec!["list[1].nmae"]);
    }
}
