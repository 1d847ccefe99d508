//! Clients: how components and programs reach the API.
//!
//! [`Client`] is the transport: an object-safe trait over targets
//! ([`Target`]: group, version, resource, namespace, name, subresource) and
//! payloads that are either shared objects (in process, no encoding) or
//! JSON (over HTTP). [`LocalClient`] talks to an in-process
//! [`ApiServer`](crate::apiserver::ApiServer); an HTTP client implements
//! the same trait.
//!
//! [`Api<K>`] is the typed access every component uses, in the style of
//! kube-rs: one per kind and namespace.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::core::ConfigMap;
//! use keelson::api::ObjectMeta;
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
//!
//! let mut cm = ConfigMap { metadata: ObjectMeta::named("settings"), ..Default::default() };
//! cm.data.insert("colour", "blue");
//! let created = cms.create(&cm).await.unwrap();
//!
//! let mut changed = created.clone();
//! changed.data.insert("colour", "green");
//! let updated = cms.update(&changed).await.unwrap();
//! assert_ne!(updated.metadata.resource_version, created.metadata.resource_version);
//!
//! // A stale resourceVersion loses: 409 Conflict.
//! let err = cms.update(&created).await.unwrap_err();
//! assert_eq!(err.status().map(|s| s.code), Some(409));
//!
//! let list = cms.list(&Default::default()).await.unwrap();
//! assert_eq!(list.items.len(), 1);
//! # });
//! ```
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::api::meta::DeleteOptions;
use crate::api::scheme::AnyObject;
use crate::api::{ListMeta, Status, WatchEvent};
pub use crate::apiserver::PatchType;
use crate::apiserver::{ListOptions, ObjectRef, Target, WriteOptions};

mod api;
mod local;

pub use self::api::{Api, DeleteOutcome, DynamicApi, EventStream};
pub use self::local::LocalClient;

/// What can go wrong talking to the API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the request; the status says why (`404
    /// NotFound`, `409 Conflict`, `422 Invalid`, ...).
    #[error("{}", .0.message)]
    Api(Box<Status>),
    /// A response could not be decoded into the expected kind.
    #[error("decoding the response: {0}")]
    Decode(String),
    /// The request could not be sent or the connection failed.
    #[error("transport: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The client does not support the operation.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
}

impl Error {
    /// The server's status, for [`Error::Api`].
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Api(s) => Some(s),
            _ => None,
        }
    }

    /// The HTTP code of an API error.
    pub fn code(&self) -> Option<i32> {
        self.status().map(|s| s.code)
    }

    /// True for `404 NotFound`.
    pub fn is_not_found(&self) -> bool {
        self.status().is_some_and(|s| s.reason == "NotFound")
    }

    /// True for `409 Conflict`.
    pub fn is_conflict(&self) -> bool {
        self.status().is_some_and(|s| s.reason == "Conflict")
    }

    /// True for `409 AlreadyExists`.
    pub fn is_already_exists(&self) -> bool {
        self.status().is_some_and(|s| s.reason == "AlreadyExists")
    }

    /// True for `410 Gone`/`Expired`: list again.
    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }
}

impl From<crate::apiserver::Error> for Error {
    fn from(e: crate::apiserver::Error) -> Self {
        Error::Api(Box::new(e.into_status()))
    }
}

impl From<Status> for Error {
    fn from(s: Status) -> Self {
        Error::Api(Box::new(s))
    }
}

/// The result type of client calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A request body: an object (in process) or its JSON.
#[derive(Debug)]
pub enum Body {
    /// An object.
    Object(Box<dyn AnyObject>),
    /// JSON bytes.
    Json(Bytes),
}

/// A response: a shared object (in process) or JSON.
#[derive(Clone, Debug)]
pub enum Payload {
    /// A shared object.
    Object(ObjectRef),
    /// JSON bytes.
    Json(Bytes),
}

/// A list response.
#[derive(Clone, Debug)]
pub struct ListPayload {
    /// The list's metadata (resource version, continue token).
    pub metadata: ListMeta,
    /// The items.
    pub items: Vec<Payload>,
}

/// A watch: events whose objects are payloads. It ends when the server
/// closes it; an `Error` event with `410` means: list again.
pub type PayloadStream = Pin<Box<dyn Stream<Item = Result<WatchEvent<Payload>>> + Send>>;

/// The outcome of a delete.
#[derive(Clone, Debug)]
pub enum DeletePayload {
    /// The object is gone; its last state (or a success status).
    Gone(Option<Payload>),
    /// Deletion has started (finalizers, grace period); the object now.
    Pending(Payload),
}

/// The API, as every component sees it. Object safe: share it as
/// `Arc<dyn Client>`.
#[async_trait]
pub trait Client: Send + Sync + 'static {
    /// Creates an object (or posts to a subresource such as `binding`).
    async fn create(&self, target: &Target, body: Body, opts: &WriteOptions) -> Result<Payload>;

    /// Reads an object; `resource_version` `"0"` accepts a cached state.
    async fn get(&self, target: &Target, resource_version: &str) -> Result<Payload>;

    /// Lists objects.
    async fn list(&self, target: &Target, opts: &ListOptions) -> Result<ListPayload>;

    /// Watches objects.
    async fn watch(&self, target: &Target, opts: &ListOptions) -> Result<PayloadStream>;

    /// Replaces an object (or a subresource: `status`, `scale`).
    async fn update(&self, target: &Target, body: Body, opts: &WriteOptions) -> Result<Payload>;

    /// Patches an object (or a subresource).
    async fn patch(
        &self,
        target: &Target,
        patch_type: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Payload>;

    /// Deletes an object.
    async fn delete(&self, target: &Target, opts: &DeleteOptions) -> Result<DeletePayload>;

    /// Deletes every object a list would return.
    async fn delete_collection(
        &self,
        target: &Target,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<ListPayload>;
}

/// Anything an [`Api`] can be built from: a client, a reference to one, or
/// a shared `Arc<dyn Client>`.
pub trait IntoClient {
    /// The shared client.
    fn into_client(self) -> Arc<dyn Client>;
}

impl IntoClient for Arc<dyn Client> {
    fn into_client(self) -> Arc<dyn Client> {
        self
    }
}

impl IntoClient for &Arc<dyn Client> {
    fn into_client(self) -> Arc<dyn Client> {
        self.clone()
    }
}

impl<C: Client + Clone> IntoClient for &C {
    fn into_client(self) -> Arc<dyn Client> {
        Arc::new(self.clone())
    }
}

impl IntoClient for LocalClient {
    fn into_client(self) -> Arc<dyn Client> {
        Arc::new(self)
    }
}
