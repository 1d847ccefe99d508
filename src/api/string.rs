//! Compact strings and string maps, the building blocks of every object.
//!
//! Object fields are mostly short strings (names, label keys and values,
//! images), and informer caches hold hundreds of thousands of objects, so
//! keelson stores them as [`Str`]: strings of up to 24 bytes live inline with no
//! heap allocation. Labels, annotations and selectors are [`StringMap`]s: a
//! sorted vector of pairs, far smaller than a tree map for the handful of
//! entries objects carry.
//!
//! Both decode JSON `null` as empty, as Kubernetes does (YAML `labels:` with
//! nothing after it is `null`).
//!
//! ```
//! use keelson::api::{Str, StringMap};
//!
//! let name = Str::from("web-0");
//! assert_eq!(name, "web-0");
//!
//! let mut labels = StringMap::new();
//! labels.insert("app", "web");
//! labels.insert("tier", "front");
//! assert_eq!(labels.get_str("app"), Some("web"));
//! assert_eq!(serde_json::to_string(&labels).unwrap(), r#"{"app":"web","tier":"front"}"#);
//! ```
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// An immutable-by-convention string stored inline up to 24 bytes.
///
/// Dereferences to `str`, compares with `&str` and `String`, and decodes JSON
/// `null` as the empty string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(CompactString);

impl Str {
    /// The empty string.
    pub const EMPTY: Str = Str(CompactString::const_new(""));

    /// A `Str` from a `'static` string, usable in constants.
    pub const fn from_static(s: &'static str) -> Self {
        Str(CompactString::const_new(s))
    }

    /// A `Str` holding `s`.
    pub fn new(s: impl AsRef<str>) -> Self {
        Str(CompactString::new(s.as_ref()))
    }

    /// The string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Appends `s`.
    pub fn push_str(&mut self, s: &str) {
        self.0.push_str(s);
    }

    /// Bytes on the heap owned by this string (0 when stored inline).
    pub fn heap_size(&self) -> usize {
        if self.0.is_heap_allocated() {
            self.0.capacity()
        } else {
            0
        }
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Self {
        Str(CompactString::new(s))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str(CompactString::new(s))
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str(CompactString::from(s))
    }
}

impl From<&Str> for Str {
    fn from(s: &Str) -> Self {
        s.clone()
    }
}

impl From<Str> for String {
    fn from(s: Str) -> Self {
        s.0.into_string()
    }
}

impl std::str::FromStr for Str {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Str::from(s))
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Str {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Str> for str {
    fn eq(&self, other: &Str) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Str> for &str {
    fn eq(&self, other: &Str) -> bool {
        *self == other.as_str()
    }
}

impl Serialize for Str {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str, E> {
        Ok(Str::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Str, E> {
        Ok(Str::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Str, E> {
        Ok(Str::EMPTY)
    }

    fn visit_none<E: de::Error>(self) -> Result<Str, E> {
        Ok(Str::EMPTY)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Str, D::Error> {
        d.deserialize_str(StrVisitor)
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(StrVisitor)
    }
}

/// A small map from string keys to `V`, kept sorted by key: the shape of
/// labels, annotations, selectors and resource lists.
///
/// Serialized as a JSON object in key order; `null` decodes as empty. Lookups
/// are binary searches; inserts shift, which is cheap at the sizes objects
/// use. A vector of pairs is far smaller than a tree map's nodes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SortedMap<V>(Vec<(Str, V)>);

/// Labels, annotations, selectors, ConfigMap data: string to string.
pub type StringMap = SortedMap<Str>;

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<V> SortedMap<V> {
    /// An empty map.
    pub const fn new() -> Self {
        SortedMap(Vec::new())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// The value for `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.position(key).ok().map(|i| &mut self.0[i].1)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<Str>, value: impl Into<V>) -> Option<V> {
        let key = key.into();
        let value = value.into();
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &V)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> + '_ {
        self.0.iter().map(|(_, v)| v)
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    /// Builds from pairs that may be unsorted or repeat keys (the last wins).
    fn from_pairs(mut pairs: Vec<(Str, V)>) -> Self {
        // A stable sort keeps repeated keys in input order, so the last wins
        // when each run collapses to its final element.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Str, V)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        SortedMap(out)
    }
}

impl<V: PartialEq> SortedMap<V> {
    /// True when every entry of `self` is present with the same value in
    /// `other` (what a `matchLabels` selector asks).
    pub fn is_subset_of(&self, other: &SortedMap<V>) -> bool {
        self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl StringMap {
    /// The value for `key` as a `&str`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).map(Str::as_str)
    }

    /// Heap bytes owned by the map and its strings.
    pub fn heap_size(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(Str, Str)>()
            + self
                .0
                .iter()
                .map(|(k, v)| k.heap_size() + v.heap_size())
                .sum::<usize>()
    }
}

impl<V: fmt::Debug> fmt::Debug for SortedMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Str>, V, W: Into<V>> FromIterator<(K, W)> for SortedMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, W)>>(iter: I) -> Self {
        SortedMap::from_pairs(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<Str>, V, W: Into<V>> Extend<(K, W)> for SortedMap<V> {
    fn extend<I: IntoIterator<Item = (K, W)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Into<Str>, V, W: Into<V>, const N: usize> From<[(K, W); N]> for SortedMap<V> {
    fn from(pairs: [(K, W); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<'a, V> IntoIterator for &'a SortedMap<V> {
    type Item = (&'a str, &'a V);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (Str, V)>, fn(&'a (Str, V)) -> (&'a str, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        fn pair<V>(p: &(Str, V)) -> (&str, &V) {
            (p.0.as_str(), &p.1)
        }
        self.0.iter().map(pair)
    }
}

impl<V> IntoIterator for SortedMap<V> {
    type Item = (Str, V);
    type IntoIter = std::vec::IntoIter<(Str, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<V: Serialize> Serialize for SortedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A map key, read as a plain string: keys are never `null`, and wrapping
/// deserializers (`serde_ignored`, which reports unknown fields) only
/// support keys read with `deserialize_str`, not `deserialize_option`.
struct MapKey(Str);

impl<'de> Deserialize<'de> for MapKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor).map(MapKey)
    }
}

struct SortedMapVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for SortedMapVisitor<V> {
    type Value = SortedMap<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map with string keys")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<SortedMap<V>, A::Error> {
        let mut pairs: Vec<(Str, V)> =
            Vec::with_capacity(access.size_hint().unwrap_or(0).min(1024));
        let mut sorted = true;
        while let Some((MapKey(k), v)) = access.next_entry::<MapKey, V>()? {
            if let Some((last, _)) = pairs.last() {
                sorted &= *last < k;
            }
            pairs.push((k, v));
        }
        if sorted {
            // Decoding grew the vector by doubling; trim it for long-lived objects.
            pairs.shrink_to_fit();
            Ok(SortedMap(pairs))
        } else {
            Ok(SortedMap::from_pairs(pairs))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<SortedMap<V>, E> {
        Ok(SortedMap::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<SortedMap<V>, E> {
        Ok(SortedMap::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<SortedMap<V>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SortedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(SortedMapVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_decode_under_serde_ignored() {
        let mut de = serde_json::Deserializer::from_str(r#"{"b":"2","a":"1"}"#);
        let map: StringMap = serde_ignored::deserialize(&mut de, |_| {}).unwrap();
        assert_eq!(map, StringMap::from([("a", "1"), ("b", "2")]));
    }

    #[test]
    fn str_null_is_empty() {
        let s: Str = serde_json::from_str("null").unwrap();
        assert!(s.is_empty());
        let s: Str = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(s, "abc");
        assert!(serde_json::from_str::<Str>("12").is_err());
    }

    #[test]
    fn short_strings_are_inline() {
        assert_eq!(Str::from("kubia-manual").heap_size(), 0);
        assert!(Str::from("a".repeat(100)).heap_size() >= 100);
    }

    #[test]
    fn map_sorted_and_last_wins() {
        let m: StringMap = serde_json::from_str(r#"{"b":"1","a":"2","b":"3"}"#).unwrap();
        assert_eq!(
            m.iter().map(|(k, v)| (k, v.as_str())).collect::<Vec<_>>(),
            vec![("a", "2"), ("b", "3")]
        );
        let m: StringMap = serde_json::from_str("null").unwrap();
        assert!(m.is_empty());
        assert!(serde_json::from_str::<StringMap>(r#"{"a":1}"#).is_err());
    }

    #[test]
    fn map_insert_remove() {
        let mut m = StringMap::new();
        assert_eq!(m.insert("z", "1"), None);
        assert_eq!(m.insert("a", "2"), None);
        assert_eq!(m.insert("z", "3").as_deref(), Some("1"));
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["a", "z"]);
        assert_eq!(m.remove("a").as_deref(), Some("2"));
        assert_eq!(m.len(), 1);
        let sub = StringMap::from([("z", "3")]);
        assert!(sub.is_subset_of(&m));
        assert!(!StringMap::from([("z", "4")]).is_subset_of(&m));
    }
}
