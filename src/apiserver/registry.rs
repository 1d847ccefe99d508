//! The verbs: create, get, list, watch, update (main resource and
//! subresources), delete and deletecollection, with Kubernetes' semantics.
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;

use crate::api::apps::{Deployment, ReplicaSet, Scale, StatefulSet};
use crate::api::core::{Binding, Namespace, Pod, PodCondition};
use crate::api::meta::DeleteOptions;
use crate::api::scheme::{AnyObject, FieldValidation, KindInfo};
use crate::api::validation::{FieldError, Path};
use crate::api::{ErrorList, Status, Str, Time, WatchEvent};
use crate::store;

use super::admission::{Attributes, Operation};
use super::cache::{Filter, ObjectRef, Start, WatchConfig, WatchStream};
use super::error::{from_store, Error, Result};
use super::kinds::{Endpoint, Storage};
use super::request::{
    parse_dry_run, propagation_of, ListOptions, Propagation, Target, UserInfo, VersionMatch,
    WriteOptions,
};
use super::{strategy, ApiServer};

/// The result of a write.
#[derive(Clone, Debug)]
pub struct Written {
    /// The object as stored (for a dry run: as it would be stored).
    pub object: ObjectRef,
    /// True when the write created the object (HTTP 201).
    pub created: bool,
    /// Warnings for the client (unknown fields with `fieldValidation=Warn`).
    pub warnings: Vec<String>,
}

/// The result of a delete.
#[derive(Clone, Debug)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(ObjectRef),
    /// The object is being deleted (finalizers, or a pod's grace period);
    /// this is its state now, with `deletionTimestamp` set.
    Pending(ObjectRef),
}

impl Deleted {
    /// The object.
    pub fn object(&self) -> &ObjectRef {
        match self {
            Deleted::Gone(o) | Deleted::Pending(o) => o,
        }
    }
}

/// A list's items and metadata.
#[derive(Clone, Debug)]
pub struct ListResponse {
    /// The kind listed.
    pub kind: Arc<KindInfo>,
    /// The objects, in key order.
    pub items: Vec<ObjectRef>,
    /// The resource version the list reflects (start a watch from it).
    pub resource_version: String,
    /// Present when more items remain.
    pub continue_token: Option<String>,
    /// How many items remain, when known.
    pub remaining: Option<i64>,
}

const MAX_RETRIES: usize = 16;
const GENERATED_SUFFIX: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_suffix() -> String {
    (0..5)
        .map(|_| GENERATED_SUFFIX[fastrand::usize(..GENERATED_SUFFIX.len())] as char)
        .collect()
}

/// A random (version 4) UUID.
pub(crate) fn new_uid() -> Str {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    let a = (a & !0xf000) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    Str::from(format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    ))
}

fn qualified_kind(info: &KindInfo) -> (&str, &str) {
    (&info.resource.group, &info.resource.kind)
}

fn group_resource(info: &KindInfo) -> (&str, &str) {
    (&info.resource.group, &info.resource.plural)
}

impl ApiServer {
    pub(crate) fn endpoint(&self, t: &Target) -> Result<Arc<Endpoint>> {
        let ep = self
            .kinds_read()
            .endpoint(&t.group, &t.version, &t.resource)
            .ok_or_else(|| {
                Error::from(Status::failure(
                    crate::api::status::reason::NOT_FOUND,
                    404,
                    "the server could not find the requested resource",
                ))
            })?;
        if !t.subresource.is_empty() && !ep.info.resource.subresources.contains(&t.subresource) {
            return Err(Status::failure(
                crate::api::status::reason::NOT_FOUND,
                404,
                format!(
                    "the server could not find the requested resource ({} {})",
                    t.resource, t.subresource
                ),
            )
            .into());
        }
        Ok(ep)
    }

    /// The kind a request body must be for this target: the resource's own
    /// kind, or the subresource's (`Scale`, `Binding`, `Eviction`).
    pub fn body_kind(&self, t: &Target) -> Result<Arc<KindInfo>> {
        let ep = self.endpoint(t)?;
        let scheme = crate::api::Scheme::builtin();
        let sub = match t.subresource.as_str() {
            "scale" => {
                // Scale is a subresource body only, not a served kind.
                static SCALE: std::sync::OnceLock<Arc<KindInfo>> = std::sync::OnceLock::new();
                return Ok(SCALE
                    .get_or_init(|| Arc::new(KindInfo::of::<Scale>()))
                    .clone());
            }
            "binding" => scheme.kind("v1", "Binding"),
            "eviction" => scheme.kind("policy/v1", "Eviction"),
            _ => None,
        };
        Ok(sub.cloned().unwrap_or_else(|| ep.info.clone()))
    }

    /// Decodes a JSON request body for `t` with the given field validation;
    /// unknown fields become warnings (or, with `Strict`, the error).
    pub fn decode_body(
        &self,
        t: &Target,
        body: &[u8],
        mode: FieldValidation,
    ) -> Result<(Box<dyn AnyObject>, Vec<String>)> {
        let kind = self.body_kind(t)?;
        let decoded = kind.decode(body, mode)?;
        let warnings = decoded
            .unknown_fields
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        Ok((decoded.object, warnings))
    }

    fn key_of(&self, storage: &Storage, t: &Target) -> Result<String> {
        if storage.info.resource.scope.is_namespaced() && t.namespace.is_empty() {
            return Err(Error::bad_request(
                "the namespace of the request must be set",
            ));
        }
        Ok(storage.key(&t.namespace, &t.name))
    }

    /// The stored object and its revision, preferring the cached copy when
    /// it is the stored one.
    async fn current(&self, storage: &Storage, key: &str) -> Result<Option<(ObjectRef, i64)>> {
        match self.inner.store.get(key).await {
            Ok(kv) => {
                if let Some(cached) = storage.cache.get(key) {
                    if cached.meta().resource_version == kv.mod_revision.to_string().as_str() {
                        return Ok(Some((cached, kv.mod_revision)));
                    }
                }
                let obj = super::decode_stored(&storage.info, &kv).ok_or_else(|| {
                    Error::internal(format!("the stored object at {key} does not decode"))
                })?;
                Ok(Some((obj, kv.mod_revision)))
            }
            Err(store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(from_store(e, "", "", "")),
        }
    }

    fn encode(obj: &dyn AnyObject) -> Result<Bytes> {
        let mut out = Vec::with_capacity(1024);
        obj.write_json(&mut out).map_err(strategy::encode_error)?;
        Ok(Bytes::from(out))
    }

    /// Writes to the store without the resource version (it is the
    /// revision), then sets it on the object.
    fn stored(mut obj: Box<dyn AnyObject>, revision: i64) -> ObjectRef {
        obj.meta_mut().resource_version = Str::from(revision.to_string());
        Arc::from(obj)
    }

    async fn admit(&self, attrs: &Attributes<'_>, obj: &mut dyn AnyObject) -> Result<()> {
        for plugin in &self.inner.admission {
            plugin.admit(attrs, obj, self).await?;
        }
        Ok(())
    }

    async fn validate_admission(
        &self,
        attrs: &Attributes<'_>,
        obj: Option<&dyn AnyObject>,
    ) -> Result<()> {
        for (i, plugin) in self.inner.admission.iter().enumerate() {
            if let Err(e) = plugin.validate(attrs, obj, self).await {
                for earlier in self.inner.admission[..i].iter().rev() {
                    earlier.rollback(attrs, obj, self).await;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    async fn rollback_admission(&self, attrs: &Attributes<'_>, obj: Option<&dyn AnyObject>) {
        for plugin in self.inner.admission.iter().rev() {
            plugin.rollback(attrs, obj, self).await;
        }
    }

    async fn notify_deleted(&self, info: &KindInfo, obj: &dyn AnyObject) {
        for plugin in &self.inner.admission {
            plugin.deleted(info, obj, self).await;
        }
        if obj.as_any().is::<crate::api::core::Service>() {
            self.inner.allocator.release_service(self, obj).await;
        }
    }

    // ---------------------------------------------------------------- create

    /// Creates an object (or posts to a subresource: `pods/binding`,
    /// `pods/eviction`).
    pub async fn create(
        &self,
        t: &Target,
        obj: Box<dyn AnyObject>,
        opts: &WriteOptions,
    ) -> Result<Written> {
        self.create_as(t, obj, opts, &UserInfo::admin()).await
    }

    /// Creates from a JSON body.
    pub async fn create_json(
        &self,
        t: &Target,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written> {
        let (obj, warnings) = self.decode_body(t, body, opts.field_validation)?;
        let mut w = self.create(t, obj, opts).await?;
        w.warnings.extend(warnings);
        Ok(w)
    }

    /// Creates an object as `user`.
    pub async fn create_as(
        &self,
        t: &Target,
        mut obj: Box<dyn AnyObject>,
        opts: &WriteOptions,
        user: &UserInfo,
    ) -> Result<Written> {
        write_yield_point().await;
        let ep = self.endpoint(t)?;
        match t.subresource.as_str() {
            "" => {}
            "binding" => return self.bind(&ep, t, obj, opts, user).await,
            "eviction" => return self.evict(&ep, t, obj, opts).await,
            other => {
                return Err(Error::method_not_allowed(format!(
                    "the server does not allow this method on the requested resource ({} {other})",
                    t.resource
                )))
            }
        }
        let info = &ep.info;
        let storage = &ep.storage;
        let namespaced = info.resource.scope.is_namespaced();
        let tm = obj.type_meta();
        if (!tm.kind.is_empty() && tm.kind != info.resource.kind)
            || (!tm.api_version.is_empty() && tm.api_version != info.resource.api_version)
        {
            return Err(Error::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                tm.api_version, info.resource.api_version
            )));
        }
        let mut t = t.clone();
        {
            let meta = obj.meta_mut();
            if namespaced {
                if t.namespace.is_empty() {
                    t.namespace = meta.namespace.clone();
                }
                if t.namespace.is_empty() {
                    return Err(Error::bad_request(
                        "the namespace of the object must be set",
                    ));
                }
                if !meta.namespace.is_empty() && meta.namespace != t.namespace {
                    return Err(Error::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                meta.namespace = t.namespace.clone();
            } else {
                meta.namespace = Str::default();
            }
            if !meta.resource_version.is_empty() {
                return Err(Error::bad_request(
                    "resourceVersion should not be set on objects to be created",
                ));
            }
            let generated = meta.name.is_empty() && !meta.generate_name.is_empty();
            if meta.name.is_empty() && meta.generate_name.is_empty() {
                let mut errors = ErrorList::new();
                errors.push(FieldError::required(
                    &Path::root("metadata").child("name"),
                    "name or generateName is required",
                ));
                return Err(Error::invalid(
                    info.resource.group.as_str(),
                    &info.resource.kind,
                    "",
                    &errors,
                ));
            }
            if generated {
                meta.name = generate_name(&meta.generate_name);
            }
            meta.uid = super::registry::new_uid();
            meta.creation_timestamp = Some(Time::now());
            meta.generation = 1;
            meta.deletion_timestamp = None;
            meta.deletion_grace_period_seconds = None;
            meta.self_link = Str::default();
            t.name = meta.name.clone();
        }
        let generated = !obj.meta().generate_name.is_empty();
        strategy::prepare_for_create(obj.as_mut(), info);
        obj.apply_defaults();
        let mut warnings = super::crd_schema::prepare(&ep, obj.as_mut(), opts.field_validation)?;
        if let Some(crd) = obj.downcast_mut::<crate::api::apiextensions::CustomResourceDefinition>()
        {
            super::crd::prepare(crd, &self.kinds_read());
        }
        let dry_run = opts.dry_run;
        let attrs = Attributes {
            operation: Operation::Create,
            resource: &info.resource,
            subresource: "",
            namespace: &t.namespace,
            name: &t.name,
            old_object: None,
            user,
            dry_run,
        };
        self.admit(&attrs, obj.as_mut()).await?;
        let mut errors = obj.validate();
        errors.extend(super::crd_schema::validate_object_of(
            &ep,
            obj.as_ref(),
            false,
        ));
        if !errors.is_empty() {
            let (g, k) = qualified_kind(info);
            return Err(Error::invalid(g, k, &obj.meta().name, &errors));
        }
        if obj.as_any().is::<crate::api::core::Service>() {
            self.inner
                .allocator
                .allocate_service(self, obj.as_mut(), None, dry_run)
                .await?;
        }
        if let Err(e) = self.validate_admission(&attrs, Some(obj.as_ref())).await {
            self.release_allocations(obj.as_ref(), dry_run).await;
            return Err(e);
        }
        if dry_run {
            self.rollback_admission(&attrs, Some(obj.as_ref())).await;
            return Ok(Written {
                object: Arc::from(obj),
                created: true,
                warnings,
            });
        }
        let mut obj = ep.to_storage(obj);
        let mut attempts = 0;
        loop {
            let key = storage.key(&t.namespace, &obj.meta().name);
            let bytes = Self::encode(obj.as_ref())?;
            match self.inner.store.create(&key, bytes).await {
                Ok(kv) => {
                    let stored = Self::stored(obj, kv.mod_revision);
                    storage.remember(kv.mod_revision, stored.clone(), self.revision());
                    self.note_write(storage, kv.mod_revision);
                    if info.resource.group == "apiextensions.k8s.io" {
                        // Serve the new kind before answering.
                        self.wait_for_revision(kv.mod_revision).await;
                    }
                    return Ok(Written {
                        object: ep.served(stored),
                        created: true,
                        warnings: std::mem::take(&mut warnings),
                    });
                }
                Err(store::Error::AlreadyExists { .. }) if generated && attempts < 8 => {
                    attempts += 1;
                    let base = obj.meta().generate_name.clone();
                    obj.meta_mut().name = generate_name(&base);
                }
                Err(e) => {
                    self.rollback_admission(&attrs, Some(obj.as_ref())).await;
                    self.release_allocations(obj.as_ref(), false).await;
                    let (g, r) = group_resource(info);
                    return Err(from_store(e, g, r, &obj.meta().name));
                }
            }
        }
    }

    async fn release_allocations(&self, obj: &dyn AnyObject, dry_run: bool) {
        if !dry_run && obj.as_any().is::<crate::api::core::Service>() {
            self.inner.allocator.release_service(self, obj).await;
        }
    }

    // ------------------------------------------------------------------- get

    /// Reads an object (consistent: at least as new as every write that
    /// completed before the call). `scale` returns a `Scale`.
    pub async fn get(&self, t: &Target) -> Result<ObjectRef> {
        self.get_with(t, "").await
    }

    /// Reads an object; `resource_version` `"0"` accepts any cached state.
    pub async fn get_with(&self, t: &Target, resource_version: &str) -> Result<ObjectRef> {
        let ep = self.endpoint(t)?;
        let storage = &ep.storage;
        let key = self.key_of(storage, t)?;
        let obj = if resource_version == "0" {
            storage.cache.get(&key)
        } else {
            let rev = self
                .inner
                .store
                .current_revision()
                .await
                .map_err(|e| from_store(e, "", "", ""))?;
            if self.wait_for_revision(rev).await {
                storage.cache.get(&key)
            } else {
                self.current(storage, &key).await?.map(|(o, _)| o)
            }
        };
        let (g, r) = group_resource(&ep.info);
        let obj = obj.ok_or_else(|| Error::not_found(g, r, &t.name))?;
        match t.subresource.as_str() {
            "scale" => Ok(Arc::new(scale_of(&ep, obj.as_ref())?)),
            "" | "status" => Ok(ep.served(obj)),
            other => Err(Error::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {other})",
                t.resource
            ))),
        }
    }

    // ------------------------------------------------------------------ list

    fn filter(&self, ep: &Endpoint, t: &Target, opts: &ListOptions) -> Result<Filter> {
        let filter = Filter {
            namespace: if ep.info.resource.scope.is_namespaced() {
                t.namespace.clone()
            } else {
                Str::default()
            },
            name: t.name.clone(),
            labels: opts.label_selector.clone(),
            fields: opts.field_selector.clone(),
        };
        filter.check(&ep.info)?;
        Ok(filter)
    }

    /// Lists objects.
    pub async fn list(&self, t: &Target, opts: &ListOptions) -> Result<ListResponse> {
        let ep = self.endpoint(t)?;
        let filter = self.filter(&ep, t, opts)?;
        let storage = &ep.storage;
        let prefix = storage.namespace_prefix(&filter.namespace);
        let rv = opts.resource_version.as_str();
        let requested: Option<i64> = if rv.is_empty() || rv == "0" {
            None
        } else {
            Some(rv.parse().map_err(|_| {
                Error::bad_request(format!(
                    "invalid resourceVersion {rv:?}: must be an integer"
                ))
            })?)
        };
        if opts.version_match == VersionMatch::Exact && requested.is_none() {
            return Err(Error::bad_request(
                "resourceVersionMatch=Exact requires a resourceVersion other than \"\" and \"0\"",
            ));
        }
        if opts.version_match != VersionMatch::Unset && rv.is_empty() {
            return Err(Error::bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        let paginated = (opts.limit > 0 && rv != "0") || opts.continue_token.is_some();
        let use_store = paginated || opts.version_match == VersionMatch::Exact;
        if !use_store {
            let target = match requested {
                Some(r) => r,
                None if rv == "0" => 0,
                None => self
                    .inner
                    .store
                    .current_revision()
                    .await
                    .map_err(|e| from_store(e, "", "", ""))?,
            };
            if self.wait_for_revision(target).await {
                let (items, revision) = storage.cache.list(&prefix, &filter);
                let items = if ep.converts() {
                    items.into_iter().map(|o| ep.served(o)).collect()
                } else {
                    items
                };
                return Ok(ListResponse {
                    kind: ep.info.clone(),
                    items,
                    resource_version: revision.max(target).to_string(),
                    continue_token: None,
                    remaining: None,
                });
            }
            let current = self.inner.store.current_revision().await.unwrap_or(0);
            if target > current {
                return Err(Error::timeout(format!(
                    "Too large resource version: {target}, current: {current}"
                )));
            }
        }
        self.list_from_store(&ep, &prefix, &filter, opts, requested)
            .await
    }

    async fn list_from_store(
        &self,
        ep: &Endpoint,
        prefix: &str,
        filter: &Filter,
        opts: &ListOptions,
        requested: Option<i64>,
    ) -> Result<ListResponse> {
        let mut store_token = match &opts.continue_token {
            Some(t) => Some(decode_continue(t, prefix)?),
            None => None,
        };
        let revision = if store_token.is_none() && opts.version_match == VersionMatch::Exact {
            requested.unwrap_or(0)
        } else {
            0
        };
        let mut items = Vec::new();
        let mut list_revision;
        loop {
            let want = if opts.limit == 0 {
                0
            } else {
                opts.limit - items.len()
            };
            let mut options = store::ListOptions::default().limit(want).revision(revision);
            if let Some(t) = store_token.take() {
                options = options.continue_token(t);
            }
            let page = self.inner.store.list(prefix, options).await.map_err(|e| match e {
                store::Error::Compacted { .. } if opts.continue_token.is_some() => Status::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                )
                .into(),
                e => from_store(e, "", "", ""),
            })?;
            list_revision = page.revision;
            for kv in &page.items {
                if let Some(obj) = super::decode_stored(&ep.storage.info, kv) {
                    if filter.matches(obj.as_ref(), &ep.storage.info) {
                        items.push(ep.served(obj));
                    }
                }
            }
            let remaining = page.remaining;
            match page.continue_token {
                Some(t) if opts.limit > 0 && items.len() < opts.limit => store_token = Some(t),
                Some(t) => {
                    let no_filter = filter.labels.is_none() && filter.fields.is_none();
                    return Ok(ListResponse {
                        kind: ep.info.clone(),
                        items,
                        resource_version: list_revision.to_string(),
                        continue_token: Some(encode_continue(&t, prefix)),
                        remaining: if no_filter { remaining } else { None },
                    });
                }
                None => break,
            }
        }
        Ok(ListResponse {
            kind: ep.info.clone(),
            items,
            resource_version: list_revision.to_string(),
            continue_token: None,
            remaining: None,
        })
    }

    // ----------------------------------------------------------------- watch

    /// Watches objects. A resource version before the cache's window gives
    /// a stream whose only event is `ERROR` with `410 Expired`.
    pub async fn watch(&self, t: &Target, opts: &ListOptions) -> Result<WatchStream> {
        let ep = self.endpoint(t)?;
        let filter = self.filter(&ep, t, opts)?;
        let storage = &ep.storage;
        let prefix = storage.namespace_prefix(&filter.namespace);
        let rv = opts.resource_version.as_str();
        let initial = opts.send_initial_events == Some(true);
        let start = match rv {
            "" => {
                let current = self
                    .inner
                    .store
                    .current_revision()
                    .await
                    .map_err(|e| from_store(e, "", "", ""))?;
                self.wait_for_revision(current).await;
                if opts.send_initial_events == Some(false) {
                    Start::After(self.revision())
                } else {
                    Start::Snapshot {
                        end_bookmark: initial,
                    }
                }
            }
            "0" => Start::Snapshot {
                end_bookmark: initial,
            },
            n => {
                let n: i64 = n.parse().map_err(|_| {
                    Error::bad_request(format!("invalid resourceVersion {n:?}: must be an integer"))
                })?;
                if !self.wait_for_revision(n).await {
                    return Err(Error::timeout(format!(
                        "Too large resource version: {n}, current: {}",
                        self.revision()
                    )));
                }
                if initial {
                    Start::Snapshot { end_bookmark: true }
                } else {
                    Start::After(n)
                }
            }
        };
        let stream = storage.cache.watch(
            &prefix,
            WatchConfig {
                start,
                filter,
                bookmarks: opts.allow_bookmarks,
                bookmark_interval: self.inner.config.bookmark_interval,
                timeout: opts.timeout,
            },
        );
        if !ep.converts() {
            return Ok(stream);
        }
        let ep = ep.clone();
        Ok(Box::pin(stream.map(move |e| match e {
            WatchEvent::Added(o) => WatchEvent::Added(ep.served(o)),
            WatchEvent::Modified(o) => WatchEvent::Modified(ep.served(o)),
            WatchEvent::Deleted(o) => WatchEvent::Deleted(ep.served(o)),
            WatchEvent::Bookmark(o) => WatchEvent::Bookmark(ep.served(o)),
            WatchEvent::Error(s) => WatchEvent::Error(s),
        })))
    }

    // ---------------------------------------------------------------- update

    /// Replaces an object (or its `status`, `scale` or `finalize`
    /// subresource). The object's `resourceVersion`, when set, must be the
    /// current one.
    pub async fn update(
        &self,
        t: &Target,
        obj: Box<dyn AnyObject>,
        opts: &WriteOptions,
    ) -> Result<Written> {
        self.update_as(t, obj, opts, &UserInfo::admin()).await
    }

    /// Replaces from a JSON body.
    pub async fn update_json(
        &self,
        t: &Target,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written> {
        let (obj, warnings) = self.decode_body(t, body, opts.field_validation)?;
        let mut w = self.update(t, obj, opts).await?;
        w.warnings.extend(warnings);
        Ok(w)
    }

    /// Replaces an object as `user`.
    pub async fn update_as(
        &self,
        t: &Target,
        obj: Box<dyn AnyObject>,
        opts: &WriteOptions,
        user: &UserInfo,
    ) -> Result<Written> {
        let ep = self.endpoint(t)?;
        if t.subresource == "scale" {
            return self.update_scale(&ep, t, obj, opts, user).await;
        }
        if !matches!(t.subresource.as_str(), "" | "status" | "finalize") {
            return Err(Error::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                t.resource, t.subresource
            )));
        }
        let mut t = t.clone();
        {
            let meta = obj.meta();
            if t.name.is_empty() {
                t.name = meta.name.clone();
            }
            if !meta.name.is_empty() && meta.name != t.name {
                return Err(Error::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({})",
                    meta.name, t.name
                )));
            }
            if ep.info.resource.scope.is_namespaced() {
                if t.namespace.is_empty() {
                    t.namespace = meta.namespace.clone();
                }
                if !meta.namespace.is_empty() && meta.namespace != t.namespace {
                    return Err(Error::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            }
        }
        let tm = obj.type_meta();
        if !tm.api_version.is_empty() && tm.api_version != ep.info.resource.api_version {
            return Err(Error::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                tm.api_version, ep.info.resource.api_version
            )));
        }
        let obj = ep.to_storage(obj);
        self.update_with(&ep, &t, opts, user, move |_current| Ok(obj.clone_object()))
            .await
    }

    /// The update loop shared by replace, patch and scale: `make` builds
    /// the new object from the current one (called again after a conflict
    /// when the new object carries no resource version).
    pub(crate) fn update_with<'a>(
        &'a self,
        ep: &'a Arc<Endpoint>,
        t: &'a Target,
        opts: &'a WriteOptions,
        user: &'a UserInfo,
        make: impl FnMut(&ObjectRef) -> Result<Box<dyn AnyObject>> + Send + 'a,
    ) -> futures::future::BoxFuture<'a, Result<Written>> {
        Box::pin(self.update_loop(ep, t, opts, user, Box::new(make)))
    }

    async fn update_loop(
        &self,
        ep: &Arc<Endpoint>,
        t: &Target,
        opts: &WriteOptions,
        user: &UserInfo,
        mut make: MakeObject<'_>,
    ) -> Result<Written> {
        write_yield_point().await;
        let info = ep.storage.info.clone();
        let storage = &ep.storage;
        let key = self.key_of(storage, t)?;
        let (g, r) = (info.resource.group.clone(), info.resource.plural.clone());
        for _ in 0..MAX_RETRIES {
            let Some((current, revision)) = self.current(storage, &key).await? else {
                if t.subresource.is_empty() && strategy::allow_create_on_update(&info) {
                    let mut obj = make(&Arc::from(info.empty()))?;
                    obj.meta_mut().resource_version = Str::default();
                    let target = Target {
                        subresource: Str::default(),
                        ..t.clone()
                    };
                    return self
                        .create_as(&target, ep.served_box(obj), opts, user)
                        .await;
                }
                return Err(Error::not_found(&g, &r, &t.name));
            };
            let mut new = make(&current)?;
            let precondition = !new.meta().resource_version.is_empty();
            if precondition && new.meta().resource_version != current.meta().resource_version {
                return Err(Status::conflict(
                    &g,
                    &r,
                    &t.name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
                .into());
            }
            if !new.meta().uid.is_empty() && new.meta().uid != current.meta().uid {
                return Err(Status::conflict(
                    &g,
                    &r,
                    &t.name,
                    &format!(
                        "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                        new.meta().uid,
                        current.meta().uid
                    ),
                )
                .into());
            }
            let status_update = t.subresource == "status";
            let binding = t.subresource == "binding";
            new = match t.subresource.as_str() {
                "status" => strategy::take_new_status(new, current.as_ref(), &info)?,
                // Built from the current pod by `bind`: nodeName and the
                // PodScheduled condition are the only changes.
                "binding" => new,
                "finalize" => finalize_of(new, current.as_ref())?,
                _ => {
                    {
                        let (nm, om) = (new.meta_mut(), current.meta());
                        nm.uid = om.uid.clone();
                        nm.creation_timestamp = om.creation_timestamp;
                        nm.deletion_timestamp = om.deletion_timestamp;
                        nm.deletion_grace_period_seconds = om.deletion_grace_period_seconds;
                        nm.namespace = om.namespace.clone();
                        nm.name = om.name.clone();
                        nm.self_link = Str::default();
                    }
                    if strategy::has_status(&info) {
                        strategy::keep_old_status(&mut new, current.as_ref(), &info)?;
                    }
                    new.apply_defaults();
                    new
                }
            };
            let mut warnings = super::crd_schema::prepare(ep, new.as_mut(), opts.field_validation)?;
            new.meta_mut().resource_version = current.meta().resource_version.clone();
            let generation = current.meta().generation;
            new.meta_mut().generation = if !status_update
                && !binding
                && strategy::spec_changed(new.as_ref(), current.as_ref())?
            {
                generation + 1
            } else {
                generation
            };
            if let Some(crd) =
                new.downcast_mut::<crate::api::apiextensions::CustomResourceDefinition>()
            {
                super::crd::prepare(crd, &self.kinds_read());
            }
            let attrs = Attributes {
                operation: Operation::Update,
                resource: &info.resource,
                subresource: &t.subresource,
                namespace: &t.namespace,
                name: &t.name,
                old_object: Some(current.as_ref()),
                user,
                dry_run: opts.dry_run,
            };
            self.admit(&attrs, new.as_mut()).await?;
            let mut errors = if status_update {
                strategy::validate_status_update(new.as_ref(), current.as_ref())
            } else if binding {
                // Binding may set spec.nodeName, which a pod update may not.
                new.validate()
            } else {
                new.validate_update(current.as_ref())
            };
            errors.extend(super::crd_schema::validate_object_of(
                ep,
                new.as_ref(),
                status_update,
            ));
            if !errors.is_empty() {
                let (g, k) = qualified_kind(&ep.info);
                return Err(Error::invalid(g, k, &t.name, &errors));
            }
            if new.as_any().is::<crate::api::core::Service>() && !status_update {
                self.inner
                    .allocator
                    .allocate_service(self, new.as_mut(), Some(current.as_ref()), opts.dry_run)
                    .await?;
            }
            self.validate_admission(&attrs, Some(new.as_ref())).await?;
            if new.eq_object(current.as_ref()) {
                return Ok(Written {
                    object: ep.served(current),
                    created: false,
                    warnings: std::mem::take(&mut warnings),
                });
            }
            if opts.dry_run {
                return Ok(Written {
                    object: ep.served(Arc::from(new)),
                    created: false,
                    warnings: std::mem::take(&mut warnings),
                });
            }
            // The last finalizer of an object being deleted is gone: delete.
            let meta = new.meta();
            let is_pod = new.as_any().is::<Pod>();
            if meta.deletion_timestamp.is_some()
                && meta.finalizers.is_empty()
                && (!is_pod || meta.deletion_grace_period_seconds.unwrap_or(0) == 0)
                && !ns_has_spec_finalizers(new.as_ref())
            {
                match self.inner.store.delete(&key, Some(revision)).await {
                    Ok(kv) => {
                        self.note_write(storage, kv.mod_revision);
                        let gone = Self::stored(new, kv.mod_revision);
                        self.notify_deleted(&info, gone.as_ref()).await;
                        return Ok(Written {
                            object: ep.served(gone),
                            created: false,
                            warnings: std::mem::take(&mut warnings),
                        });
                    }
                    Err(store::Error::Conflict { .. }) | Err(store::Error::NotFound { .. })
                        if !precondition =>
                    {
                        continue
                    }
                    Err(e) => return Err(from_store(e, &g, &r, &t.name)),
                }
            }
            let bytes = Self::encode(new.as_ref())?;
            match self.inner.store.update(&key, bytes, revision).await {
                Ok(kv) => {
                    let stored = Self::stored(new, kv.mod_revision);
                    storage.remember(kv.mod_revision, stored.clone(), self.revision());
                    self.note_write(storage, kv.mod_revision);
                    return Ok(Written {
                        object: ep.served(stored),
                        created: false,
                        warnings: std::mem::take(&mut warnings),
                    });
                }
                Err(store::Error::Conflict { .. }) if !precondition => continue,
                Err(e) => return Err(from_store(e, &g, &r, &t.name)),
            }
        }
        Err(Status::conflict(
            &g,
            &r,
            &t.name,
            "the object has been modified too many times concurrently; please try again",
        )
        .into())
    }

    async fn update_scale(
        &self,
        ep: &Arc<Endpoint>,
        t: &Target,
        obj: Box<dyn AnyObject>,
        opts: &WriteOptions,
        user: &UserInfo,
    ) -> Result<Written> {
        let scale = obj
            .downcast_ref::<Scale>()
            .cloned()
            .ok_or_else(|| Error::bad_request("the body of a scale update must be a Scale"))?;
        let errors = crate::api::Resource::validate_fields(&scale);
        if !errors.is_empty() {
            return Err(Error::invalid("autoscaling", "Scale", &t.name, &errors));
        }
        if !scale.metadata.name.is_empty() && scale.metadata.name != t.name {
            return Err(Error::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({})",
                scale.metadata.name, t.name
            )));
        }
        let main = Target {
            subresource: Str::default(),
            ..t.clone()
        };
        let ep2 = ep.clone();
        let w = self
            .update_with(ep, &main, opts, user, move |current| {
                let mut obj = current.clone_object();
                obj.meta_mut().resource_version = scale.metadata.resource_version.clone();
                set_scale(&ep2, obj.as_mut(), &scale)?;
                Ok(obj)
            })
            .await?;
        Ok(Written {
            object: Arc::new(scale_of(ep, w.object.as_ref())?),
            created: false,
            warnings: w.warnings,
        })
    }

    // ----------------------------------------------------------------- bind

    async fn bind(
        &self,
        ep: &Arc<Endpoint>,
        t: &Target,
        obj: Box<dyn AnyObject>,
        opts: &WriteOptions,
        user: &UserInfo,
    ) -> Result<Written> {
        if ep.info.resource.kind != "Pod" {
            return Err(Error::method_not_allowed("binding is only served for pods"));
        }
        let binding = obj
            .downcast_ref::<Binding>()
            .cloned()
            .ok_or_else(|| Error::bad_request("the body of a binding must be a Binding"))?;
        let name = if t.name.is_empty() {
            binding.metadata.name.clone()
        } else {
            t.name.clone()
        };
        if !binding.metadata.name.is_empty() && binding.metadata.name != name {
            return Err(Error::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                binding.metadata.name
            )));
        }
        let node = binding.target.name.clone();
        if node.is_empty() {
            let mut errors = ErrorList::new();
            errors.push(FieldError::required(
                &Path::root("target").child("name"),
                "",
            ));
            return Err(Error::invalid("", "Binding", &name, &errors));
        }
        let main = Target {
            subresource: Str::from_static("binding"),
            name: name.clone(),
            ..t.clone()
        };
        let uid = binding.metadata.uid.clone();
        let w = self
            .update_with(ep, &main, opts, user, move |current| {
                let pod = current
                    .downcast_ref::<Pod>()
                    .ok_or_else(|| Error::internal("a pod that is not a Pod"))?;
                if !uid.is_empty() && pod.metadata.uid != uid {
                    return Err(Status::conflict(
                        "",
                        "pods/binding",
                        &name,
                        "the pod's UID does not match the binding's",
                    )
                    .into());
                }
                if pod.metadata.deletion_timestamp.is_some() {
                    return Err(Status::conflict(
                        "",
                        "pods/binding",
                        &name,
                        &format!("pod {name} is being deleted, cannot be assigned to a host"),
                    )
                    .into());
                }
                if !pod.spec.node_name.is_empty() {
                    return Err(Status::conflict(
                        "",
                        "pods/binding",
                        &name,
                        &format!(
                            "pod {name} is already assigned to node {:?}",
                            pod.spec.node_name
                        ),
                    )
                    .into());
                }
                let mut pod = pod.clone();
                pod.spec.node_name = node.clone();
                set_pod_condition(&mut pod, "PodScheduled", "True", "", "");
                Ok(Box::new(pod))
            })
            .await?;
        // The HTTP API answers a binding with a success Status; in process
        // the bound pod is more useful.
        Ok(Written {
            object: w.object,
            created: true,
            warnings: w.warnings,
        })
    }

    async fn evict(
        &self,
        ep: &Arc<Endpoint>,
        t: &Target,
        obj: Box<dyn AnyObject>,
        opts: &WriteOptions,
    ) -> Result<Written> {
        if ep.info.resource.kind != "Pod" {
            return Err(Error::method_not_allowed(
                "eviction is only served for pods",
            ));
        }
        let eviction = obj
            .downcast_ref::<crate::api::policy::Eviction>()
            .cloned()
            .ok_or_else(|| Error::bad_request("the body of an eviction must be an Eviction"))?;
        let target = Target {
            subresource: Str::default(),
            ..t.clone()
        };
        let mut delete = eviction.delete_options.clone().unwrap_or_default();
        if opts.dry_run {
            delete.dry_run = vec![Str::from_static("All")];
        }
        self.check_disruption_budgets(&target).await?;
        let deleted = self.delete(&target, &delete).await?;
        Ok(Written {
            object: deleted.object().clone(),
            created: true,
            warnings: Vec::new(),
        })
    }

    /// Refuses an eviction that would break a PodDisruptionBudget whose
    /// status allows no disruption.
    async fn check_disruption_budgets(&self, pod_target: &Target) -> Result<()> {
        let pod = self.get(pod_target).await?;
        let Some(pod) = pod.downcast_ref::<Pod>() else {
            return Ok(());
        };
        if matches!(
            pod.status.phase.as_str(),
            "Succeeded" | "Failed" | "Pending"
        ) {
            return Ok(());
        }
        let pdbs = self
            .list(
                &Target::new("policy", "v1", "poddisruptionbudgets")
                    .namespace(pod_target.namespace.clone()),
                &ListOptions::default(),
            )
            .await?;
        for item in &pdbs.items {
            let Some(pdb) = item.downcast_ref::<crate::api::policy::PodDisruptionBudget>() else {
                continue;
            };
            let matches = pdb
                .spec
                .selector
                .as_ref()
                .is_some_and(|s| !s.is_empty() && s.matches(&pod.metadata.labels));
            if matches && pdb.status.disruptions_allowed <= 0 {
                let mut status = Status::failure(
                    crate::api::status::reason::TOO_MANY_REQUESTS,
                    429,
                    format!(
                        "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {} needs {} healthy pods and has {} currently",
                        pdb.metadata.name, pdb.status.desired_healthy, pdb.status.current_healthy
                    ),
                );
                status.details = Some(crate::api::StatusDetails {
                    causes: vec![crate::api::StatusCause {
                        reason: Str::from_static("DisruptionBudget"),
                        message: Str::from(format!(
                            "The disruption budget {} needs {} healthy pods and has {} currently",
                            pdb.metadata.name,
                            pdb.status.desired_healthy,
                            pdb.status.current_healthy
                        )),
                        field: Str::default(),
                    }],
                    ..Default::default()
                });
                return Err(status.into());
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- delete

    /// Deletes an object.
    pub async fn delete(&self, t: &Target, opts: &DeleteOptions) -> Result<Deleted> {
        self.delete_as(t, opts, &UserInfo::admin()).await
    }

    /// Deletes an object as `user`.
    pub async fn delete_as(
        &self,
        t: &Target,
        opts: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<Deleted> {
        write_yield_point().await;
        let ep = self.endpoint(t)?;
        if !t.subresource.is_empty() {
            return Err(Error::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                t.resource, t.subresource
            )));
        }
        let dry_run = parse_dry_run(&opts.dry_run)?;
        let propagation = propagation_of(opts)?;
        if let Some(g) = opts.grace_period_seconds {
            if g < 0 {
                return Err(Error::bad_request(
                    "gracePeriodSeconds must be non-negative",
                ));
            }
        }
        let info = ep.storage.info.clone();
        let storage = &ep.storage;
        let key = self.key_of(storage, t)?;
        let (g, r) = (info.resource.group.clone(), info.resource.plural.clone());
        for _ in 0..MAX_RETRIES {
            let Some((current, revision)) = self.current(storage, &key).await? else {
                return Err(Error::not_found(&g, &r, &t.name));
            };
            if let Some(p) = &opts.preconditions {
                if let Some(uid) = &p.uid {
                    if *uid != current.meta().uid {
                        return Err(Status::conflict(&g, &r, &t.name, &format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            current.meta().uid
                        ))
                        .into());
                    }
                }
                if let Some(rv) = &p.resource_version {
                    if *rv != current.meta().resource_version {
                        return Err(Status::conflict(&g, &r, &t.name, &format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                            current.meta().resource_version
                        ))
                        .into());
                    }
                }
            }
            {
                let attrs = Attributes {
                    operation: Operation::Delete,
                    resource: &info.resource,
                    subresource: "",
                    namespace: &t.namespace,
                    name: &t.name,
                    old_object: Some(current.as_ref()),
                    user,
                    dry_run,
                };
                self.validate_admission(&attrs, None).await?;
            }
            let mut obj = current.clone_object();
            let mut pending = false;
            {
                let meta = obj.meta_mut();
                match propagation {
                    Some(Propagation::Orphan) => {
                        meta.finalizers.retain(|f| f != "foregroundDeletion");
                        if !meta.has_finalizer("orphan") {
                            meta.finalizers.push(Str::from_static("orphan"));
                        }
                    }
                    Some(Propagation::Foreground) => {
                        meta.finalizers.retain(|f| f != "orphan");
                        if !meta.has_finalizer("foregroundDeletion") {
                            meta.finalizers.push(Str::from_static("foregroundDeletion"));
                        }
                    }
                    Some(Propagation::Background) => {
                        meta.finalizers
                            .retain(|f| f != "orphan" && f != "foregroundDeletion");
                    }
                    None => {}
                }
            }
            let now = Time::now();
            // Namespaces always terminate through their controller.
            if let Some(ns) = obj.downcast_mut::<Namespace>() {
                if !ns.spec.finalizers.is_empty() {
                    ns.status.phase = Str::from_static("Terminating");
                    pending = true;
                }
            }
            if let Some(pod) = obj.downcast_mut::<Pod>() {
                let mut grace = opts
                    .grace_period_seconds
                    .or(pod.spec.termination_grace_period_seconds)
                    .unwrap_or(crate::api::core::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
                if strategy::pod_deletes_immediately(pod) {
                    grace = 0;
                }
                if let Some(existing) = pod.metadata.deletion_grace_period_seconds {
                    if pod.metadata.deletion_timestamp.is_some() && existing < grace {
                        grace = existing;
                    }
                }
                if grace > 0 {
                    pending = true;
                    let deadline = now.add_seconds(grace);
                    let meta = &mut pod.metadata;
                    let earlier = meta.deletion_timestamp.is_some_and(|d| d <= deadline);
                    if !earlier {
                        meta.deletion_timestamp = Some(deadline);
                    }
                    meta.deletion_grace_period_seconds = Some(grace);
                } else if !pod.metadata.finalizers.is_empty() {
                    pod.metadata.deletion_grace_period_seconds = Some(0);
                }
            }
            if !obj.meta().finalizers.is_empty() {
                pending = true;
            }
            if pending {
                let first = obj.meta().deletion_timestamp.is_none()
                    || current.meta().deletion_timestamp.is_none();
                {
                    let meta = obj.meta_mut();
                    if meta.deletion_timestamp.is_none() {
                        meta.deletion_timestamp = Some(now);
                    }
                    if meta.deletion_grace_period_seconds.is_none() {
                        meta.deletion_grace_period_seconds = Some(0);
                    }
                    if first && meta.generation > 0 {
                        meta.generation += 1;
                    }
                }
                if obj.eq_object(current.as_ref()) {
                    return Ok(Deleted::Pending(ep.served(current)));
                }
                if dry_run {
                    return Ok(Deleted::Pending(ep.served(Arc::from(obj))));
                }
                let bytes = Self::encode(obj.as_ref())?;
                match self.inner.store.update(&key, bytes, revision).await {
                    Ok(kv) => {
                        let stored = Self::stored(obj, kv.mod_revision);
                        storage.remember(kv.mod_revision, stored.clone(), self.revision());
                        self.note_write(storage, kv.mod_revision);
                        return Ok(Deleted::Pending(ep.served(stored)));
                    }
                    Err(store::Error::Conflict { .. }) | Err(store::Error::NotFound { .. }) => {
                        continue
                    }
                    Err(e) => return Err(from_store(e, &g, &r, &t.name)),
                }
            }
            if dry_run {
                return Ok(Deleted::Gone(ep.served(current)));
            }
            match self.inner.store.delete(&key, Some(revision)).await {
                Ok(kv) => {
                    self.note_write(storage, kv.mod_revision);
                    let gone = Self::stored(current.clone_object(), kv.mod_revision);
                    self.notify_deleted(&info, gone.as_ref()).await;
                    return Ok(Deleted::Gone(ep.served(gone)));
                }
                Err(store::Error::Conflict { .. }) => continue,
                Err(store::Error::NotFound { .. }) => {
                    return Err(Error::not_found(&g, &r, &t.name))
                }
                Err(e) => return Err(from_store(e, &g, &r, &t.name)),
            }
        }
        Err(Status::conflict(
            &g,
            &r,
            &t.name,
            "the object was modified too many times concurrently; please try again",
        )
        .into())
    }

    /// Deletes every object a list would return.
    pub async fn delete_collection(
        &self,
        t: &Target,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Deleted>> {
        let items = self.list(t, list).await?.items;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let target = Target {
                namespace: item.meta().namespace.clone(),
                name: item.meta().name.clone(),
                ..t.clone()
            };
            match self.delete(&target, opts).await {
                Ok(d) => out.push(d),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// Builds the next version of an object from the current one (update loops).
type MakeObject<'a> = Box<dyn FnMut(&ObjectRef) -> Result<Box<dyn AnyObject>> + Send + 'a>;

impl Endpoint {
    pub(crate) fn served_box(&self, obj: Box<dyn AnyObject>) -> Box<dyn AnyObject> {
        if self.converts() {
            self.served(Arc::from(obj)).clone_object()
        } else {
            obj
        }
    }
}

/// Every write spends a unit of the task's cooperative budget. An
/// in-process caller writing in a loop whose writes never wait (the memory
/// store answers at once) would otherwise keep its worker thread forever,
/// and the tasks it wakes — the watch-cache dispatcher above all, which
/// sits in that worker's LIFO slot — would starve until the store's history
/// no longer holds the events they missed, forcing a full relist. With the
/// budget, the caller yields every so many writes (tokio's budget is 128)
/// and the dispatcher keeps up.
async fn write_yield_point() {
    tokio::task::consume_budget().await;
}

fn generate_name(base: &str) -> Str {
    // As Kubernetes: the base is cut so the name stays within 63 characters.
    let mut cut = base.len().min(58);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    Str::from(format!("{}{}", &base[..cut], random_suffix()))
}

fn ns_has_spec_finalizers(obj: &dyn AnyObject) -> bool {
    obj.downcast_ref::<Namespace>()
        .is_some_and(|n| !n.spec.finalizers.is_empty())
}

/// `namespaces/{name}/finalize`: only `spec.finalizers` changes.
fn finalize_of(new: Box<dyn AnyObject>, current: &dyn AnyObject) -> Result<Box<dyn AnyObject>> {
    let new_ns = new
        .downcast_ref::<Namespace>()
        .ok_or_else(|| Error::bad_request("the body of finalize must be a Namespace"))?;
    let mut ns = current
        .downcast_ref::<Namespace>()
        .cloned()
        .ok_or_else(|| Error::internal("a namespace that is not a Namespace"))?;
    ns.spec.finalizers = new_ns.spec.finalizers.clone();
    ns.metadata.resource_version = new_ns.metadata.resource_version.clone();
    Ok(Box::new(ns))
}

/// The `Scale` of a scalable object.
fn scale_of(ep: &Endpoint, obj: &dyn AnyObject) -> Result<Scale> {
    let any = obj.as_any();
    if let Some(d) = any.downcast_ref::<Deployment>() {
        return Ok(d.scale());
    }
    if let Some(r) = any.downcast_ref::<ReplicaSet>() {
        return Ok(r.scale());
    }
    if let Some(s) = any.downcast_ref::<StatefulSet>() {
        return Ok(s.scale());
    }
    if let (Some(d), Some(paths)) = (
        any.downcast_ref::<crate::api::DynamicObject>(),
        ep.crd.as_ref().and_then(|c| c.scale.as_ref()),
    ) {
        let value = serde_json::to_value(d).map_err(strategy::encode_error)?;
        let read = |path: &str| -> i32 {
            json_path(&value, path)
                .and_then(|v| v.as_i64())
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(0)
        };
        let mut scale = Scale::of(
            &d.metadata,
            read(&paths.spec_replicas_path),
            read(&paths.status_replicas_path),
            None,
        );
        if let Some(sel) = &paths.label_selector_path {
            if let Some(s) = json_path(&value, sel).and_then(|v| v.as_str()) {
                scale.status.selector = Str::from(s);
            }
        }
        return Ok(scale);
    }
    Err(Error::method_not_allowed(format!(
        "{} does not serve the scale subresource",
        ep.info.resource.plural
    )))
}

fn set_scale(ep: &Endpoint, obj: &mut dyn AnyObject, scale: &Scale) -> Result<()> {
    let any = obj.as_any_mut();
    if let Some(d) = any.downcast_mut::<Deployment>() {
        d.set_scale(scale);
        return Ok(());
    }
    if let Some(r) = any.downcast_mut::<ReplicaSet>() {
        r.set_scale(scale);
        return Ok(());
    }
    if let Some(s) = any.downcast_mut::<StatefulSet>() {
        s.set_scale(scale);
        return Ok(());
    }
    if let (Some(d), Some(paths)) = (
        any.downcast_mut::<crate::api::DynamicObject>(),
        ep.crd.as_ref().and_then(|c| c.scale.as_ref()),
    ) {
        let segments: Vec<&str> = paths
            .spec_replicas_path
            .trim_start_matches('.')
            .split('.')
            .filter(|s| !s.is_empty())
            .collect();
        let Some((last, parents)) = segments.split_last() else {
            return Err(Error::internal("empty specReplicasPath"));
        };
        let mut map = &mut d.data;
        for p in parents {
            let entry = map
                .entry(p.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !entry.is_object() {
                *entry = serde_json::Value::Object(Default::default());
            }
            let Some(m) = entry.as_object_mut() else {
                return Err(Error::internal("specReplicasPath is not an object path"));
            };
            map = m;
        }
        map.insert(
            last.to_string(),
            serde_json::Value::from(scale.spec.replicas),
        );
        return Ok(());
    }
    Err(Error::method_not_allowed(format!(
        "{} does not serve the scale subresource",
        ep.info.resource.plural
    )))
}

/// Reads a simple JSON path (`.spec.replicas`).
fn json_path<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let mut v = value;
    for seg in path
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
    {
        v = v.get(seg)?;
    }
    Some(v)
}

/// Sets (or adds) a pod condition, moving its transition time when the
/// status changes.
pub(crate) fn set_pod_condition(
    pod: &mut Pod,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
) {
    let now = Some(Time::now());
    if let Some(c) = pod.status.conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status {
            c.last_transition_time = now;
        }
        c.status = Str::from(status);
        c.reason = Str::from(reason);
        c.message = Str::from(message);
        return;
    }
    pod.status.conditions.push(PodCondition {
        type_: Str::from(type_),
        status: Str::from(status),
        last_transition_time: now,
        reason: Str::from(reason),
        message: Str::from(message),
        ..Default::default()
    });
}

/// Continue tokens wrap the store's with the prefix they belong to.
fn encode_continue(store_token: &str, prefix: &str) -> String {
    let json = serde_json::json!({"v": "k1", "p": prefix, "t": store_token}).to_string();
    hex_encode(json.as_bytes())
}

fn decode_continue(token: &str, prefix: &str) -> Result<String> {
    let bad = || Error::bad_request(format!("invalid continue token {token:?}"));
    let bytes = hex_decode(token).ok_or_else(bad)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if v.get("p").and_then(|p| p.as_str()) != Some(prefix) {
        return Err(bad());
    }
    v.get("t")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(bad)
}

fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

impl ApiServer {
    /// Objects of a compiled-in kind in a namespace (all namespaces when
    /// empty), straight from the watch cache: no copy, possibly a little
    /// behind the latest write. For admission plugins and tools.
    pub fn cached<K: crate::api::Resource>(&self, namespace: &str) -> Vec<Arc<K>> {
        self.cached_objects(K::GROUP, K::PLURAL, namespace)
            .into_iter()
            .filter_map(|o| o.into_any_arc().downcast::<K>().ok())
            .collect()
    }

    /// One object of a compiled-in kind from the watch cache.
    pub fn cached_one<K: crate::api::Resource>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<K>> {
        let storage = self.kinds_read().storage(K::GROUP, K::PLURAL)?;
        let obj = storage.cache.get(&storage.key(namespace, name))?;
        obj.into_any_arc().downcast::<K>().ok()
    }

    /// Objects of any stored kind (by group and plural) from the watch
    /// cache, in the storage version.
    pub fn cached_objects(&self, group: &str, plural: &str, namespace: &str) -> Vec<ObjectRef> {
        let Some(storage) = self.kinds_read().storage(group, plural) else {
            return Vec::new();
        };
        let prefix = storage.namespace_prefix(namespace);
        storage.cache.list(&prefix, &Filter::default()).0
    }

    /// How many objects of a kind the watch cache holds.
    pub fn cached_count(&self, group: &str, plural: &str) -> usize {
        self.kinds_read()
            .storage(group, plural)
            .map(|s| s.cache.len())
            .unwrap_or(0)
    }
}
