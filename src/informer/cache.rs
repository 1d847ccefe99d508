//! The informer cache: one [`Writer`] (the reflector's) and many cheap,
//! cloneable [`Cache`] readers sharing the same `Arc<K>` objects.
//!
//! Objects are kept by [`ObjectKey`] in key order, so a namespace is a
//! range (the namespace index costs nothing). Other indexes map the values
//! an index function returns for an object (for pods by node:
//! `spec.nodeName`) to the keys of the objects; [`LABELS`] is a built-in
//! one (`key=value` for every label) that label-selector queries use when
//! present.
//!
//! ```
//! use std::sync::Arc;
//! use keelson::api::core::Pod;
//! use keelson::api::{ObjectMeta, WatchEvent};
//! use keelson::informer::cache::Writer;
//! use keelson::informer::ObjectKey;
//!
//! let mut writer = Writer::<Pod>::new().with_index("node", |p: &Pod| vec![p.spec.node_name.clone()]);
//! let cache = writer.reader();
//!
//! let mut pod = Pod { metadata: ObjectMeta::namespaced("default", "web-1"), ..Default::default() };
//! pod.spec.node_name = "node-a".into();
//! writer.replace(vec![Arc::new(pod)], "10".into());
//! assert!(cache.is_ready());
//! assert_eq!(cache.by_index("node", "node-a").map(|v| v.len()), Some(1));
//! assert!(cache.get(&ObjectKey::new("default", "web-1")).is_some());
//!
//! let gone = cache.get(&ObjectKey::new("default", "web-1")).unwrap();
//! writer.apply(WatchEvent::Deleted(gone));
//! assert!(cache.is_empty());
//! ```
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use crate::api::selector::Selector;
use crate::api::{AnyObject, Str, WatchEvent};

use super::{Error, ObjectKey};

/// The name of the built-in label index: values are `key=value`.
pub const LABELS: &str = "labels";

/// An index function: the values under which an object is found.
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<Str> + Send + Sync>;

/// A change the cache applied, as consumers of an informer see it.
#[derive(Debug)]
pub enum Event<K> {
    /// A new object.
    Added(Arc<K>),
    /// A changed object. On a resync `old` and `new` are the same `Arc`
    /// ([`Event::is_resync`]).
    Updated {
        /// The state before.
        old: Arc<K>,
        /// The state now.
        new: Arc<K>,
    },
    /// A deleted object: its last known state.
    Deleted(Arc<K>),
}

impl<K> Clone for Event<K> {
    fn clone(&self) -> Self {
        match self {
            Event::Added(o) => Event::Added(o.clone()),
            Event::Updated { old, new } => Event::Updated {
                old: old.clone(),
                new: new.clone(),
            },
            Event::Deleted(o) => Event::Deleted(o.clone()),
        }
    }
}

impl<K: AnyObject> Event<K> {
    /// The object as it is now (for a delete, its last state).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Event::Added(o) | Event::Deleted(o) => o,
            Event::Updated { new, .. } => new,
        }
    }

    /// The key of the object.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(self.object().as_ref())
    }

    /// True for the periodic re-delivery of an unchanged object.
    pub fn is_resync(&self) -> bool {
        matches!(self, Event::Updated { old, new } if Arc::ptr_eq(old, new))
    }
}

struct Index<K> {
    func: IndexFn<K>,
    // The objects themselves, not only their keys: `by_index` then needs
    // no lookup in `State::objects` per entry (an owner's index value may
    // hold tens of thousands of pods).
    entries: HashMap<Str, BTreeMap<ObjectKey, Arc<K>>>,
}

impl<K> Index<K> {
    fn insert(&mut self, key: &ObjectKey, obj: &Arc<K>) {
        for v in (self.func)(&**obj) {
            self.entries
                .entry(v)
                .or_default()
                .insert(key.clone(), obj.clone());
        }
    }

    fn remove(&mut self, key: &ObjectKey, obj: &K) {
        for v in (self.func)(obj) {
            if let Some(set) = self.entries.get_mut(v.as_str()) {
                set.remove(key);
                if set.is_empty() {
                    self.entries.remove(v.as_str());
                }
            }
        }
    }
}

struct State<K> {
    objects: BTreeMap<ObjectKey, Arc<K>>,
    indexes: HashMap<Str, Index<K>>,
    resource_version: Str,
}

impl<K> State<K> {
    fn index_all(&mut self) {
        for index in self.indexes.values_mut() {
            index.entries.clear();
            for (k, o) in &self.objects {
                index.insert(k, o);
            }
        }
    }
}

struct Shared<K> {
    state: RwLock<State<K>>,
    ready: tokio::sync::watch::Receiver<bool>,
}

impl<K> Shared<K> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<K>> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<K>> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The one writer of a cache: the reflector applies lists and watch events
/// through it. Not cloneable; readers come from [`Writer::reader`].
pub struct Writer<K> {
    shared: Arc<Shared<K>>,
    // Held here, not in `Shared`: readers waiting for readiness learn
    // that the writer is gone when it drops.
    ready: tokio::sync::watch::Sender<bool>,
}

impl<K> fmt::Debug for Writer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("objects", &self.shared.read().objects.len())
            .finish()
    }
}

impl<K: AnyObject> Default for Writer<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: AnyObject> Writer<K> {
    /// An empty cache, not ready.
    pub fn new() -> Self {
        let (ready, rx) = tokio::sync::watch::channel(false);
        Writer {
            shared: Arc::new(Shared {
                state: RwLock::new(State {
                    objects: BTreeMap::new(),
                    indexes: HashMap::new(),
                    resource_version: Str::default(),
                }),
                ready: rx,
            }),
            ready,
        }
    }

    /// Adds an index (builder form of [`Writer::add_index`]).
    #[must_use]
    pub fn with_index(
        self,
        name: &str,
        func: impl Fn(&K) -> Vec<Str> + Send + Sync + 'static,
    ) -> Self {
        self.add_index(name, Arc::new(func));
        self
    }

    /// Adds the built-in [`LABELS`] index.
    #[must_use]
    pub fn with_label_index(self) -> Self {
        self.add_index(LABELS, label_index());
        self
    }

    /// Adds (or replaces) the index `name`, indexing what the cache holds.
    pub fn add_index(&self, name: &str, func: IndexFn<K>) {
        add_index(&self.shared, name, func);
    }

    /// A reader.
    pub fn reader(&self) -> Cache<K> {
        Cache {
            shared: self.shared.clone(),
        }
    }

    /// The resource version the cache reflects.
    pub fn resource_version(&self) -> Str {
        self.shared.read().resource_version.clone()
    }

    /// Records progress without a change (a bookmark).
    pub fn set_resource_version(&mut self, rv: Str) {
        self.shared.write().resource_version = rv;
    }

    /// Replaces the whole content with a fresh list, in one step: readers
    /// see the old content or the new one, never a mix. Marks the cache
    /// ready. Returns what changed: objects that are new (`Added`), whose
    /// resource version moved (`Updated`), and that are gone (`Deleted`,
    /// with their last known state).
    pub fn replace(&mut self, items: Vec<Arc<K>>, resource_version: Str) -> Vec<Event<K>> {
        let mut objects = BTreeMap::new();
        for o in items {
            objects.insert(ObjectKey::of(o.as_ref()), o);
        }
        let mut events = Vec::new();
        let mut st = self.shared.write();
        let old = std::mem::take(&mut st.objects);
        for (k, o) in &objects {
            match old.get(k) {
                None => events.push(Event::Added(o.clone())),
                Some(prev) if prev.meta().resource_version != o.meta().resource_version => events
                    .push(Event::Updated {
                        old: prev.clone(),
                        new: o.clone(),
                    }),
                Some(_) => {}
            }
        }
        for (k, prev) in old {
            if !objects.contains_key(&k) {
                events.push(Event::Deleted(prev));
            }
        }
        st.objects = objects;
        st.index_all();
        st.resource_version = resource_version;
        drop(st);
        self.ready.send_replace(true);
        events
    }

    /// Applies one watch event; returns the change, if any (bookmarks and
    /// errors change no object; a bookmark moves the resource version).
    pub fn apply(&mut self, event: WatchEvent<Arc<K>>) -> Option<Event<K>> {
        let mut st = self.shared.write();
        let st = &mut *st;
        match event {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                let key = ObjectKey::of(o.as_ref());
                st.resource_version = o.meta().resource_version.clone();
                let prev = st.objects.insert(key.clone(), o.clone());
                for index in st.indexes.values_mut() {
                    if let Some(p) = &prev {
                        index.remove(&key, p);
                    }
                    index.insert(&key, &o);
                }
                Some(match prev {
                    Some(old) => Event::Updated { old, new: o },
                    None => Event::Added(o),
                })
            }
            WatchEvent::Deleted(o) => {
                let key = ObjectKey::of(o.as_ref());
                st.resource_version = o.meta().resource_version.clone();
                if let Some(prev) = st.objects.remove(&key) {
                    for index in st.indexes.values_mut() {
                        index.remove(&key, &prev);
                    }
                }
                Some(Event::Deleted(o))
            }
            WatchEvent::Bookmark(o) => {
                st.resource_version = o.meta().resource_version.clone();
                None
            }
            WatchEvent::Error(_) => None,
        }
    }
}

fn add_index<K>(shared: &Shared<K>, name: &str, func: IndexFn<K>) {
    let mut st = shared.write();
    let mut index = Index {
        func,
        entries: HashMap::new(),
    };
    for (k, o) in &st.objects {
        index.insert(k, o);
    }
    st.indexes.insert(Str::from(name), index);
}

/// The built-in label index function: `key=value` for every label.
pub fn label_index<K: AnyObject>() -> IndexFn<K> {
    Arc::new(|o: &K| {
        o.meta()
            .labels
            .iter()
            .map(|(k, v)| {
                let mut s = Str::from(k);
                s.push_str("=");
                s.push_str(v);
                s
            })
            .collect()
    })
}

/// A reader of a cache: cheap to clone, never blocks the writer for long
/// (reads hold a lock only while copying out `Arc`s).
pub struct Cache<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Cache {
            shared: self.shared.clone(),
        }
    }
}

impl<K> fmt::Debug for Cache<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.read();
        f.debug_struct("Cache")
            .field("objects", &st.objects.len())
            .field("resource_version", &st.resource_version)
            .finish()
    }
}

impl<K: AnyObject> Cache<K> {
    /// The object with this key.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.shared.read().objects.get(key).cloned()
    }

    /// The object `name` in `namespace` (empty for cluster-scoped kinds).
    pub fn get_named(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.get(&ObjectKey::new(namespace, name))
    }

    /// Every object, in key order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.shared.read().objects.values().cloned().collect()
    }

    /// Every key, in order.
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.shared.read().objects.keys().cloned().collect()
    }

    /// The objects of one namespace, in name order.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let st = self.shared.read();
        let start = ObjectKey::new(namespace, "");
        st.objects
            .range(start..)
            .take_while(|(k, _)| k.namespace == namespace)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// The objects the index `name` files under `value`, in key order;
    /// `None` when there is no such index.
    pub fn by_index(&self, name: &str, value: &str) -> Option<Vec<Arc<K>>> {
        let st = self.shared.read();
        let index = st.indexes.get(name)?;
        Some(
            index
                .entries
                .get(value)
                .map(|objects| objects.values().cloned().collect())
                .unwrap_or_default(),
        )
    }

    /// The values of index `name` that have objects; `None` when there is
    /// no such index.
    pub fn index_values(&self, name: &str) -> Option<Vec<Str>> {
        let st = self.shared.read();
        let mut values: Vec<Str> = st.indexes.get(name)?.entries.keys().cloned().collect();
        values.sort();
        Some(values)
    }

    /// The objects whose labels match `selector`, in key order. With the
    /// [`LABELS`] index and a selector that pins a label (`app=web`), only
    /// the objects filed under it are examined.
    pub fn list_selected(&self, selector: &Selector) -> Vec<Arc<K>> {
        let st = self.shared.read();
        let matches = |o: &Arc<K>| selector.matches(&o.meta().labels);
        if let Some(index) = st.indexes.get(LABELS) {
            let pinned = selector
                .requirements()
                .iter()
                .find_map(|r| selector.requires_exact_match(r.key()).map(|v| (r.key(), v)));
            if let Some((k, v)) = pinned {
                let wanted = format!("{k}={v}");
                return index
                    .entries
                    .get(wanted.as_str())
                    .map(|objects| objects.values().filter(|o| matches(o)).cloned().collect())
                    .unwrap_or_default();
            }
        }
        st.objects
            .values()
            .filter(|o| matches(o))
            .cloned()
            .collect()
    }

    /// How many objects the cache holds.
    pub fn len(&self) -> usize {
        self.shared.read().objects.len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The resource version the cache reflects (of the last list, event
    /// or bookmark).
    pub fn resource_version(&self) -> Str {
        self.shared.read().resource_version.clone()
    }

    /// True once the first list has been applied.
    pub fn is_ready(&self) -> bool {
        *self.shared.ready.borrow()
    }

    /// Waits until the first list has been applied (`HasSynced`). Fails
    /// with [`Error::Stopped`] if the writer goes away first.
    #[doc(alias = "HasSynced")]
    #[doc(alias = "WaitForCacheSync")]
    pub async fn wait_until_ready(&self) -> Result<(), Error> {
        let mut rx = self.shared.ready.clone();
        rx.wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| Error::Stopped)
    }

    pub(crate) fn add_index(&self, name: &str, func: IndexFn<K>) {
        add_index(&self.shared, name, func);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::Pod;
    use crate::api::ObjectMeta;

    fn pod(ns: &str, name: &str, rv: &str, node: &str, app: &str) -> Arc<Pod> {
        let mut p = Pod {
            metadata: ObjectMeta::namespaced(ns, name),
            ..Default::default()
        };
        p.metadata.resource_version = rv.into();
        p.metadata.labels.insert("app", app);
        p.spec.node_name = node.into();
        Arc::new(p)
    }

    fn writer() -> Writer<Pod> {
        Writer::new()
            .with_index("node", |p: &Pod| {
                if p.spec.node_name.is_empty() {
                    vec![]
                } else {
                    vec![p.spec.node_name.clone()]
                }
            })
            .with_label_index()
    }

    fn names(v: &[Arc<Pod>]) -> Vec<String> {
        v.iter()
            .map(|p| ObjectKey::of(p.as_ref()).to_string())
            .collect()
    }

    #[test]
    fn replace_reports_the_difference_and_swaps_indexes() {
        let mut w = writer();
        let c = w.reader();
        assert!(!c.is_ready());
        let first = w.replace(
            vec![
                pod("a", "1", "1", "n1", "web"),
                pod("a", "2", "2", "n1", "web"),
            ],
            "2".into(),
        );
        assert_eq!(first.len(), 2);
        assert!(c.is_ready());
        let second = w.replace(
            vec![
                pod("a", "2", "5", "n2", "web"),
                pod("b", "3", "6", "n2", "db"),
            ],
            "6".into(),
        );
        let kinds: Vec<(&str, String)> = second
            .iter()
            .map(|e| {
                let k = match e {
                    Event::Added(_) => "added",
                    Event::Updated { .. } => "updated",
                    Event::Deleted(_) => "deleted",
                };
                (k, e.key().to_string())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("updated", "a/2".into()),
                ("added", "b/3".into()),
                ("deleted", "a/1".into())
            ]
        );
        assert_eq!(c.by_index("node", "n1").map(|v| v.len()), Some(0));
        assert_eq!(
            names(&c.by_index("node", "n2").unwrap_or_default()),
            ["a/2", "b/3"]
        );
        assert_eq!(c.resource_version(), "6");
        // Unchanged resource versions report nothing.
        let third = w.replace(c.list(), "7".into());
        assert!(third.is_empty());
    }

    #[test]
    fn watch_events_move_objects_between_index_values() {
        let mut w = writer();
        let c = w.reader();
        w.replace(vec![], "1".into());
        assert!(matches!(
            w.apply(WatchEvent::Added(pod("a", "1", "2", "n1", "web"))),
            Some(Event::Added(_))
        ));
        let ev = w.apply(WatchEvent::Modified(pod("a", "1", "3", "n2", "web")));
        assert!(
            matches!(ev, Some(Event::Updated { ref old, .. }) if old.metadata.resource_version == "2")
        );
        assert_eq!(c.by_index("node", "n1").map(|v| v.len()), Some(0));
        assert_eq!(c.by_index("node", "n2").map(|v| v.len()), Some(1));
        assert_eq!(c.index_values("node"), Some(vec![Str::from("n2")]));
        assert!(w
            .apply(WatchEvent::Bookmark(pod("", "", "9", "", "")))
            .is_none());
        assert_eq!(c.resource_version(), "9");
        w.apply(WatchEvent::Deleted(pod("a", "1", "10", "n2", "web")));
        assert!(c.is_empty());
        assert_eq!(c.index_values("node"), Some(vec![]));
        assert_eq!(c.by_index("missing", "x").map(|v| v.len()), None);
    }

    #[test]
    fn namespace_ranges_and_label_selectors() {
        let mut w = writer();
        let c = w.reader();
        w.replace(
            vec![
                pod("a", "1", "1", "", "web"),
                pod("ab", "1", "1", "", "web"),
                pod("a", "2", "1", "", "db"),
                pod("b", "1", "1", "", "web"),
            ],
            "1".into(),
        );
        assert_eq!(names(&c.list_namespace("a")), ["a/1", "a/2"]);
        assert!(c.list_namespace("c").is_empty());
        let web = Selector::parse("app=web").unwrap();
        assert_eq!(names(&c.list_selected(&web)), ["a/1", "ab/1", "b/1"]);
        let not_web = Selector::parse("app!=web").unwrap();
        assert_eq!(names(&c.list_selected(&not_web)), ["a/2"]);
        // Without the label index the same answers come from a scan.
        let mut plain = Writer::<Pod>::new();
        plain.replace(c.list(), "1".into());
        assert_eq!(
            names(&plain.reader().list_selected(&web)),
            ["a/1", "ab/1", "b/1"]
        );
    }

    #[test]
    fn an_index_added_later_covers_existing_objects() {
        let mut w = Writer::<Pod>::new();
        w.replace(vec![pod("a", "1", "1", "n1", "web")], "1".into());
        let c = w.reader();
        c.add_index("node", Arc::new(|p: &Pod| vec![p.spec.node_name.clone()]));
        assert_eq!(c.by_index("node", "n1").map(|v| v.len()), Some(1));
    }

    #[tokio::test]
    async fn wait_until_ready_resolves_on_first_list_and_fails_without_writer() {
        let mut w = Writer::<Pod>::new();
        let c = w.reader();
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.wait_until_ready().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        w.replace(vec![], "1".into());
        assert!(waiter.await.unwrap().is_ok());

        let w2 = Writer::<Pod>::new();
        let c2 = w2.reader();
        drop(w2);
        assert!(matches!(c2.wait_until_ready().await, Err(Error::Stopped)));
    }
}
