//! Typed access: `Api<K>`, one per kind and namespace.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::api::apps::Scale;
use crate::api::meta::DeleteOptions;
use crate::api::resource::ApiResource;
use crate::api::scheme::AnyObject;
use crate::api::{DynamicObject, List, Resource, Str, WatchEvent};
use crate::apiserver::{ListOptions, Target, WriteOptions};

use super::{Body, Client, DeletePayload, Error, IntoClient, PatchType, Payload, Result};

/// A stream of watch events carrying shared objects.
pub type EventStream<K> = Pin<Box<dyn Stream<Item = Result<WatchEvent<Arc<K>>>> + Send>>;

/// What a delete did.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome<K> {
    /// The object is gone; its last state when the server returned it.
    Gone(Option<K>),
    /// Deletion has begun (finalizers or a grace period hold the object);
    /// the object now, with `deletionTimestamp` set.
    Pending(K),
}

impl<K> DeleteOutcome<K> {
    /// True when the object no longer exists.
    pub fn is_gone(&self) -> bool {
        matches!(self, DeleteOutcome::Gone(_))
    }
}

/// Typed access to one kind, in one namespace or across all of them.
///
/// Built from anything that gives a [`Client`] ([`IntoClient`]): a
/// [`LocalClient`](super::LocalClient), a reference to one, or a shared
/// `Arc<dyn Client>`. Cloning is cheap.
///
/// ```
/// # tokio_test::block_on(async {
/// use keelson::api::core::Namespace;
/// use keelson::apiserver::ApiServer;
/// use keelson::client::{Api, LocalClient};
///
/// let server = ApiServer::in_memory().await.unwrap();
/// let namespaces: Api<Namespace> = Api::all(LocalClient::new(&server));
/// let default = namespaces.get("default").await.unwrap();
/// assert_eq!(default.status.phase, "Active");
/// assert!(namespaces.get_opt("missing").await.unwrap().is_none());
/// # });
/// ```
pub struct Api<K> {
    client: Arc<dyn Client>,
    base: Target,
    resource: Arc<ApiResource>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            client: self.client.clone(),
            base: self.base.clone(),
            resource: self.resource.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("target", &self.base).finish()
    }
}

impl<K: Resource> Api<K> {
    /// Objects of kind `K` in `namespace`.
    pub fn namespaced(client: impl IntoClient, namespace: &str) -> Self {
        Api::with_resource(client, K::api_resource(), namespace)
    }

    /// Objects of kind `K` in every namespace (reads), or a cluster-scoped
    /// kind. Writes of namespaced objects take the namespace from the
    /// object's metadata.
    pub fn all(client: impl IntoClient) -> Self {
        Api::with_resource(client, K::api_resource(), "")
    }
}

impl Api<DynamicObject> {
    /// Objects of a kind known only at run time (a custom resource), as
    /// [`DynamicObject`]s.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use keelson::api::resource::ApiResource;
    /// use keelson::apiserver::ApiServer;
    /// use keelson::client::{DynamicApi, LocalClient};
    ///
    /// let server = ApiServer::in_memory().await.unwrap();
    /// let resource = server.kind("", "v1", "configmaps").unwrap().resource.clone();
    /// let api = DynamicApi::dynamic(LocalClient::new(&server), &resource, "kube-system");
    /// assert!(api.list(&Default::default()).await.unwrap().items.is_empty());
    /// # });
    /// ```
    pub fn dynamic(client: impl IntoClient, resource: &ApiResource, namespace: &str) -> Self {
        Api::with_resource(client, resource.clone(), namespace)
    }
}

/// Access to custom resources and other kinds known at run time.
pub type DynamicApi = Api<DynamicObject>;

impl<K: AnyObject + serde::de::DeserializeOwned + serde::Serialize + Clone> Api<K> {
    fn with_resource(client: impl IntoClient, resource: ApiResource, namespace: &str) -> Self {
        let mut base = Target::of(&resource);
        if resource.scope.is_namespaced() {
            base.namespace = Str::from(namespace);
        }
        Api {
            client: client.into_client(),
            base,
            resource: Arc::new(resource),
            _kind: PhantomData,
        }
    }

    /// The kind served.
    pub fn resource(&self) -> &ApiResource {
        &self.resource
    }

    /// The namespace (empty for all namespaces or a cluster-scoped kind).
    pub fn namespace(&self) -> &str {
        &self.base.namespace
    }

    /// The client underneath.
    pub fn client(&self) -> &Arc<dyn Client> {
        &self.client
    }

    /// The target of one object (or a subresource of it).
    pub fn target(&self, name: &str, subresource: &str) -> Target {
        Target {
            name: Str::from(name),
            subresource: Str::from(subresource),
            ..self.base.clone()
        }
    }

    fn target_of(&self, obj: &K, subresource: &str) -> Target {
        let meta = obj.meta();
        let mut t = self.target(&meta.name, subresource);
        if self.resource.scope.is_namespaced() && t.namespace.is_empty() {
            t.namespace = meta.namespace.clone();
        }
        t
    }

    fn body(obj: &K) -> Body {
        Body::Object(Box::new(obj.clone()))
    }

    /// Creates `obj`; the server's copy (uid, resourceVersion, defaults)
    /// is returned. A `generateName` without a name gets a random suffix.
    pub async fn create(&self, obj: &K) -> Result<K> {
        self.create_with(obj, &WriteOptions::default()).await
    }

    /// Creates with options (dry run, field manager, field validation).
    pub async fn create_with(&self, obj: &K, opts: &WriteOptions) -> Result<K> {
        let mut t = self.target_of(obj, "");
        t.name = Str::default();
        decode(self.client.create(&t, Self::body(obj), opts).await?)
    }

    /// Reads the object `name`.
    pub async fn get(&self, name: &str) -> Result<K> {
        decode(self.client.get(&self.target(name, ""), "").await?)
    }

    /// Reads the object `name`, or `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads the object as shared, without copying it when the client is
    /// in-process.
    pub async fn get_shared(&self, name: &str) -> Result<Arc<K>> {
        decode_arc(self.client.get(&self.target(name, ""), "").await?)
    }

    /// Lists objects (selectors, pagination and resource version in
    /// `opts`).
    pub async fn list(&self, opts: &ListOptions) -> Result<List<K>> {
        let payload = self.client.list(&self.base, opts).await?;
        let items = payload
            .items
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<K>>>()?;
        Ok(List {
            api_version: self.resource.api_version.clone(),
            kind: Str::from(format!("{}List", self.resource.kind)),
            metadata: payload.metadata,
            items,
        })
    }

    /// Lists objects as shared references; the list's resource version
    /// comes with them (start a watch there).
    pub async fn list_shared(&self, opts: &ListOptions) -> Result<(Vec<Arc<K>>, Str)> {
        let payload = self.client.list(&self.base, opts).await?;
        let items = payload
            .items
            .into_iter()
            .map(decode_arc)
            .collect::<Result<Vec<Arc<K>>>>()?;
        Ok((items, payload.metadata.resource_version))
    }

    /// Watches objects from `opts.resource_version` (`""` or `"0"`:
    /// synthetic ADDED events for what exists, then changes).
    pub async fn watch(&self, opts: &ListOptions) -> Result<EventStream<K>> {
        let stream = self.client.watch(&self.base, opts).await?;
        Ok(Box::pin(stream.map(|event| {
            Ok(match event? {
                WatchEvent::Added(p) => WatchEvent::Added(decode_arc(p)?),
                WatchEvent::Modified(p) => WatchEvent::Modified(decode_arc(p)?),
                WatchEvent::Deleted(p) => WatchEvent::Deleted(decode_arc(p)?),
                WatchEvent::Bookmark(p) => WatchEvent::Bookmark(decode_arc(p)?),
                WatchEvent::Error(s) => WatchEvent::Error(s),
            })
        })))
    }

    /// Replaces the object; a set `metadata.resourceVersion` must be the
    /// current one (else `409 Conflict`).
    pub async fn update(&self, obj: &K) -> Result<K> {
        self.update_with(obj, &WriteOptions::default()).await
    }

    /// Replaces with options.
    pub async fn update_with(&self, obj: &K, opts: &WriteOptions) -> Result<K> {
        let t = self.target_of(obj, "");
        decode(self.client.update(&t, Self::body(obj), opts).await?)
    }

    /// Replaces the object's status (the `status` subresource); changes
    /// elsewhere in the object are ignored.
    pub async fn update_status(&self, obj: &K) -> Result<K> {
        let t = self.target_of(obj, "status");
        decode(
            self.client
                .update(&t, Self::body(obj), &WriteOptions::default())
                .await?,
        )
    }

    /// Patches the object `name` with a JSON document of the given type.
    pub async fn patch(
        &self,
        name: &str,
        patch_type: PatchType,
        patch: &serde_json::Value,
    ) -> Result<K> {
        self.patch_subresource(name, "", patch_type, patch, &WriteOptions::default())
            .await
    }

    /// Patches the object's status.
    pub async fn patch_status(
        &self,
        name: &str,
        patch_type: PatchType,
        patch: &serde_json::Value,
    ) -> Result<K> {
        self.patch_subresource(name, "status", patch_type, patch, &WriteOptions::default())
            .await
    }

    /// Patches the object or a subresource, with options.
    pub async fn patch_subresource(
        &self,
        name: &str,
        subresource: &str,
        patch_type: PatchType,
        patch: &serde_json::Value,
        opts: &WriteOptions,
    ) -> Result<K> {
        let bytes = serde_json::to_vec(patch).map_err(|e| Error::Decode(e.to_string()))?;
        let t = self.target(name, subresource);
        decode(
            self.client
                .patch(&t, patch_type, Bytes::from(bytes), opts)
                .await?,
        )
    }

    /// Deletes the object `name`.
    pub async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<DeleteOutcome<K>> {
        Ok(
            match self.client.delete(&self.target(name, ""), opts).await? {
                DeletePayload::Gone(p) => DeleteOutcome::Gone(p.map(decode).transpose()?),
                DeletePayload::Pending(p) => DeleteOutcome::Pending(decode(p)?),
            },
        )
    }

    /// Deletes every object the list options select; returns them.
    pub async fn delete_collection(
        &self,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<K>> {
        let payload = self
            .client
            .delete_collection(&self.base, list, opts)
            .await?;
        payload.items.into_iter().map(decode).collect()
    }

    /// Reads the `scale` subresource (Deployments, ReplicaSets,
    /// StatefulSets, and custom kinds that declare one).
    pub async fn get_scale(&self, name: &str) -> Result<Scale> {
        decode(self.client.get(&self.target(name, "scale"), "").await?)
    }

    /// Replaces the `scale` subresource: sets the replica count.
    pub async fn replace_scale(&self, name: &str, scale: &Scale) -> Result<Scale> {
        decode(
            self.client
                .update(
                    &self.target(name, "scale"),
                    Body::Object(Box::new(scale.clone())),
                    &WriteOptions::default(),
                )
                .await?,
        )
    }

    /// Posts `body` to a subresource of `name` (`binding`, `eviction`).
    pub async fn create_subresource<B: AnyObject + Clone>(
        &self,
        name: &str,
        subresource: &str,
        body: &B,
    ) -> Result<Payload> {
        self.client
            .create(
                &self.target(name, subresource),
                Body::Object(Box::new(body.clone())),
                &WriteOptions::default(),
            )
            .await
    }
}

/// The payload as a `K`: a downcast when it is one in process, else through
/// JSON.
pub(crate) fn decode<K: serde::de::DeserializeOwned + Clone + 'static>(p: Payload) -> Result<K> {
    match p {
        Payload::Object(o) => match o.downcast_ref::<K>() {
            Some(k) => Ok(k.clone()),
            None => {
                let json = o.to_json().map_err(|e| Error::Decode(e.to_string()))?;
                serde_json::from_slice(&json).map_err(|e| Error::Decode(e.to_string()))
            }
        },
        Payload::Json(b) => serde_json::from_slice(&b).map_err(|e| Error::Decode(e.to_string())),
    }
}

/// The payload as a shared `K`, without a copy when it is one.
pub(crate) fn decode_arc<K: serde::de::DeserializeOwned + Send + Sync + 'static>(
    p: Payload,
) -> Result<Arc<K>> {
    match p {
        Payload::Object(o) => {
            if o.as_any().is::<K>() {
                if let Ok(k) = o.clone().into_any_arc().downcast::<K>() {
                    return Ok(k);
                }
            }
            let json = o.to_json().map_err(|e| Error::Decode(e.to_string()))?;
            serde_json::from_slice(&json)
                .map(Arc::new)
                .map_err(|e| Error::Decode(e.to_string()))
        }
        Payload::Json(b) => serde_json::from_slice(&b)
            .map(Arc::new)
            .map_err(|e| Error::Decode(e.to_string())),
    }
}
