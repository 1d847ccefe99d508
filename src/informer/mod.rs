//! Informers: watch → cache → events → work queue, the machinery that
//! feeds controllers.
//!
//! | piece | does |
//! |---|---|
//! | [`Reflector`] | lists a kind through any [`Client`](crate::client::Client), then watches from the list's resource version; resumes closed watches, lists again on `410 Gone` (swapping the cache atomically), asks for bookmarks, backs off with jitter on errors |
//! | [`cache`] | one [`Writer`] and many cheap [`Cache`] readers of `Arc<K>`: get by [`ObjectKey`], list, namespace ranges, label and user indexes, [`Cache::wait_until_ready`] |
//! | [`SharedInformer`], [`InformerFactory`] | one reflector per kind for every consumer of a process; consumers get [`Event`]s (added, updated with old and new, deleted) as a [`Subscription`] stream or a closure, with an optional resync |
//! | [`WorkQueue`] | de-duplicated keys, never one key to two workers, delayed and rate-limited adds, draining shutdown |
//!
//! Everything works for typed kinds ([`Resource`](crate::api::Resource)s)
//! and for [`DynamicObject`](crate::api::DynamicObject)s alike (see
//! [`Object`]).
//!
//! # A controller's loop
//!
//! A shared informer turns changes into keys on a work queue; workers take
//! keys, read the current state from the cache, and act. A failure goes
//! back on the queue with backoff; a success forgets the key's failures.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::core::ConfigMap;
//! use keelson::api::ObjectMeta;
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::informer::{InformerFactory, ObjectKey, WorkQueue};
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let factory = InformerFactory::new(&client);
//! let configmaps = factory.informer::<ConfigMap>();
//!
//! // Every add, update and delete becomes the object's key on the queue.
//! let queue: WorkQueue<ObjectKey> = WorkQueue::new();
//! let q = queue.clone();
//! configmaps.on_event(move |event| q.add(event.key()));
//!
//! factory.start();
//! factory.wait_for_sync().await.unwrap();
//!
//! // One worker: the cache says what the object looks like now.
//! let cache = configmaps.cache();
//! let worker = tokio::spawn({
//!     let queue = queue.clone();
//!     async move {
//!         let mut seen = Vec::new();
//!         while let Some(key) = queue.get().await {
//!             match cache.get(&key) {
//!                 Some(cm) => seen.push(format!("{key}: {} keys", cm.data.len())),
//!                 None => seen.push(format!("{key}: deleted")),
//!             }
//!             queue.forget(&key); // success: reset its backoff
//!             queue.done(&key);
//!         }
//!         seen
//!     }
//! });
//!
//! let api: Api<ConfigMap> = Api::namespaced(&client, "default");
//! let mut cm = ConfigMap { metadata: ObjectMeta::named("settings"), ..Default::default() };
//! cm.data.insert("colour", "blue");
//! api.create(&cm).await.unwrap();
//! while !configmaps.cache().get_named("default", "settings").is_some() {
//!     tokio::task::yield_now().await;
//! }
//! // Let the worker catch up, then stop: what was queued is still handled.
//! while !queue.is_empty() {
//!     tokio::task::yield_now().await;
//! }
//! queue.shut_down_with_drain().await;
//! factory.shutdown();
//! let seen = worker.await.unwrap();
//! assert!(seen.iter().any(|s| s == "default/settings: 1 keys"), "{seen:?}");
//! # });
//! ```
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::AnyObject;

pub mod cache;
mod key;
pub mod reflector;
mod shared;
pub mod workqueue;

pub use self::cache::{Cache, Event, Writer};
pub use self::key::ObjectKey;
pub use self::reflector::Reflector;
pub use self::shared::{InformerFactory, SharedInformer, Subscription};
pub use self::workqueue::WorkQueue;

/// What an informer can hold: any object an [`Api`](crate::client::Api)
/// reads (every typed kind, and `DynamicObject`).
pub trait Object: AnyObject + DeserializeOwned + Serialize + Clone {}

impl<T: AnyObject + DeserializeOwned + Serialize + Clone> Object for T {}

/// What can go wrong in an informer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The informer stopped (or its cache's writer went away) before the
    /// cache was ready.
    #[error("the informer stopped before its cache was ready")]
    Stopped,
}
