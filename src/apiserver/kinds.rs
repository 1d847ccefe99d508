//! The served kinds: one storage per group-resource (its key prefix, watch
//! cache and storage version) and one endpoint per group-version-resource
//! (the version served, converted to and from the storage version).
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use crate::api::scheme::{AnyObject, KindInfo};
use crate::api::Str;

use super::cache::{ObjectRef, ResourceCache};
use super::crd::CrdVersion;

/// The key prefix every object lives under.
pub(crate) const REGISTRY: &str = "/registry/";

/// The group segment of a key (`core` for the legacy group).
pub(crate) fn group_segment(group: &str) -> &str {
    if group.is_empty() {
        "core"
    } else {
        group
    }
}

/// The storage of one group-resource.
pub(crate) struct Storage {
    /// The storage version's kind.
    pub info: Arc<KindInfo>,
    /// `/registry/{group}/{resource}/`.
    pub prefix: String,
    pub cache: Arc<ResourceCache>,
    /// Objects this server wrote, by revision, so the store watch does not
    /// decode them again.
    pub written: Mutex<BTreeMap<i64, ObjectRef>>,
    /// The newest revision this server wrote to this resource.
    pub last_write: AtomicI64,
}

impl Storage {
    pub(crate) fn new(
        info: Arc<KindInfo>,
        capacity: usize,
        progress: Arc<AtomicI64>,
        revision: i64,
    ) -> Self {
        let prefix = format!(
            "{REGISTRY}{}/{}/",
            group_segment(&info.resource.group),
            info.resource.plural
        );
        Storage {
            cache: Arc::new(ResourceCache::new(
                info.clone(),
                capacity,
                progress,
                revision,
            )),
            info,
            prefix,
            written: Mutex::new(BTreeMap::new()),
            last_write: AtomicI64::new(0),
        }
    }

    /// The key of an object.
    pub(crate) fn key(&self, namespace: &str, name: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + namespace.len() + name.len() + 1);
        key.push_str(&self.prefix);
        if self.info.resource.scope.is_namespaced() {
            key.push_str(namespace);
            key.push('/');
        }
        key.push_str(name);
        key
    }

    /// The key prefix of a namespace (or of everything when empty).
    pub(crate) fn namespace_prefix(&self, namespace: &str) -> String {
        if namespace.is_empty() || !self.info.resource.scope.is_namespaced() {
            self.prefix.clone()
        } else {
            format!("{}{namespace}/", self.prefix)
        }
    }

    /// Remembers an object this server just wrote at `revision`.
    pub(crate) fn remember(&self, revision: i64, object: ObjectRef, processed: i64) {
        if revision <= processed {
            return;
        }
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        w.insert(revision, object);
    }

    /// Takes the object written at `revision`, dropping older leftovers.
    pub(crate) fn take_written(&self, revision: i64) -> Option<ObjectRef> {
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if w.is_empty() {
            return None;
        }
        let found = w.remove(&revision);
        if w.first_key_value().is_some_and(|(r, _)| *r < revision) {
            *w = w.split_off(&revision);
        }
        found
    }
}

/// How an endpoint's version relates to its storage version.
#[derive(Clone)]
pub(crate) enum Conversion {
    /// The same version.
    None,
    /// Custom resources: only `apiVersion` changes.
    ApiVersion,
    /// Typed conversion functions.
    Typed {
        to_storage: fn(&dyn AnyObject) -> Option<Box<dyn AnyObject>>,
        from_storage: fn(&dyn AnyObject) -> Option<Box<dyn AnyObject>>,
    },
}

/// One served group-version-resource.
pub(crate) struct Endpoint {
    /// The served version's kind.
    pub info: Arc<KindInfo>,
    pub storage: Arc<Storage>,
    pub conversion: Conversion,
    /// For custom resources: the version's schema and subresources.
    pub crd: Option<Arc<CrdVersion>>,
}

impl Endpoint {
    /// Converts an incoming object to the storage version.
    pub(crate) fn to_storage(&self, obj: Box<dyn AnyObject>) -> Box<dyn AnyObject> {
        match &self.conversion {
            Conversion::None => obj,
            Conversion::ApiVersion => {
                let mut obj = obj;
                if let Some(d) = obj.downcast_mut::<crate::api::DynamicObject>() {
                    d.api_version = self.storage.info.resource.api_version.clone();
                }
                obj
            }
            Conversion::Typed { to_storage, .. } => to_storage(obj.as_ref()).unwrap_or(obj),
        }
    }

    /// Converts a stored object to the served version.
    pub(crate) fn served(&self, obj: ObjectRef) -> ObjectRef {
        match &self.conversion {
            Conversion::None => obj,
            Conversion::ApiVersion => {
                let mut copy = obj.clone_object();
                if let Some(d) = copy.downcast_mut::<crate::api::DynamicObject>() {
                    d.api_version = self.info.resource.api_version.clone();
                }
                Arc::from(copy)
            }
            Conversion::Typed { from_storage, .. } => match from_storage(obj.as_ref()) {
                Some(o) => Arc::from(o),
                None => obj,
            },
        }
    }

    /// True when objects need converting.
    pub(crate) fn converts(&self) -> bool {
        !matches!(self.conversion, Conversion::None)
    }
}

/// Every served kind.
#[derive(Default)]
pub(crate) struct Kinds {
    /// By (group, version, plural).
    pub endpoints: HashMap<(Str, Str, Str), Arc<Endpoint>>,
    /// By (group, plural).
    pub storages: HashMap<(Str, Str), Arc<Storage>>,
    /// Registration order of endpoints, for discovery.
    pub order: Vec<(Str, Str, Str)>,
}

impl Kinds {
    pub(crate) fn endpoint(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<Endpoint>> {
        self.endpoints
            .get(&(Str::from(group), Str::from(version), Str::from(plural)))
            .cloned()
    }

    pub(crate) fn storage(&self, group: &str, plural: &str) -> Option<Arc<Storage>> {
        self.storages
            .get(&(Str::from(group), Str::from(plural)))
            .cloned()
    }

    /// The storage a key belongs to.
    pub(crate) fn storage_of_key(&self, key: &str) -> Option<Arc<Storage>> {
        let rest = key.strip_prefix(REGISTRY)?;
        let mut parts = rest.splitn(3, '/');
        let group = parts.next()?;
        let resource = parts.next()?;
        parts.next()?;
        let group = if group == "core" { "" } else { group };
        self.storage(group, resource)
    }

    pub(crate) fn insert_endpoint(&mut self, endpoint: Endpoint) {
        let r = &endpoint.info.resource;
        let key = (r.group.clone(), r.version.clone(), r.plural.clone());
        if !self.endpoints.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.endpoints.insert(key, Arc::new(endpoint));
    }

    pub(crate) fn remove_group_resource(&mut self, group: &str, plural: &str) {
        self.storages.remove(&(Str::from(group), Str::from(plural)));
        self.endpoints
            .retain(|(g, _, p), _| !(g == group && p == plural));
        let endpoints = &self.endpoints;
        self.order.retain(|k| endpoints.contains_key(k));
    }

    /// Every endpoint, in registration order.
    pub(crate) fn all(&self) -> Vec<Arc<Endpoint>> {
        self.order
            .iter()
            .filter_map(|k| self.endpoints.get(k).cloned())
            .collect()
    }
}
