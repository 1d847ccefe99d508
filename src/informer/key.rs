//! [`ObjectKey`]: how caches and work queues name an object
//! (`namespace/name`, or `name` for cluster-scoped kinds).

use std::fmt;

use crate::api::{AnyObject, ObjectMeta, Str};

/// The identity of an object inside one kind: its namespace (empty for
/// cluster-scoped kinds) and name. Orders by namespace, then name; prints
/// as client-go's `MetaNamespaceKeyFunc` does.
///
/// ```
/// use keelson::informer::ObjectKey;
///
/// let key = ObjectKey::new("default", "web");
/// assert_eq!(key.to_string(), "default/web");
/// assert_eq!(ObjectKey::parse("default/web"), Some(key));
/// assert_eq!(ObjectKey::parse("node-1"), Some(ObjectKey::new("", "node-1")));
/// assert_eq!(ObjectKey::parse("a/b/c"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[doc(alias = "MetaNamespaceKeyFunc")]
pub struct ObjectKey {
    /// The namespace; empty for cluster-scoped objects.
    pub namespace: Str,
    /// The name.
    pub name: Str,
}

impl ObjectKey {
    /// The key of `name` in `namespace`.
    pub fn new(namespace: impl Into<Str>, name: impl Into<Str>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of an object's metadata.
    pub fn from_meta(meta: &ObjectMeta) -> Self {
        ObjectKey {
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
        }
    }

    /// The key of an object.
    pub fn of(obj: &(impl AnyObject + ?Sized)) -> Self {
        Self::from_meta(obj.meta())
    }

    /// Parses `namespace/name` or `name`; `None` for anything else (more
    /// than one `/`, an empty name).
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('/');
        let first = parts.next()?;
        match (parts.next(), parts.next()) {
            (None, _) if !first.is_empty() => Some(ObjectKey::new("", first)),
            (Some(name), None) if !name.is_empty() => Some(ObjectKey::new(first, name)),
            _ => None,
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in ["default/web", "node-1", "kube-system/coredns-1"] {
            assert_eq!(
                ObjectKey::parse(s).map(|k| k.to_string()).as_deref(),
                Some(s)
            );
        }
        for bad in ["", "/", "ns/", "a/b/c", "//"] {
            assert_eq!(ObjectKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn orders_by_namespace_then_name() {
        let mut keys = [
            ObjectKey::new("b", "a"),
            ObjectKey::new("a", "z"),
            ObjectKey::new("", "m"),
        ];
        keys.sort();
        let printed: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(printed, ["m", "a/z", "b/a"]);
    }
}
