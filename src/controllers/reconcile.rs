//! The [`Reconciler`] contract: given a key (and the object the cache holds
//! for it, if any), drive the world towards the object's spec and say what
//! should happen next.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::informer::{Object, ObjectKey};

/// What a successful reconcile asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Nothing until the object (or something mapped to it) changes again.
    Done,
    /// Reconcile this key again after the delay, even without a change.
    RequeueAfter(Duration),
}

impl Action {
    /// Reconcile again after `delay`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keelson::controllers::Action;
    ///
    /// assert_eq!(Action::requeue(Duration::from_secs(5)), Action::RequeueAfter(Duration::from_secs(5)));
    /// ```
    pub fn requeue(delay: Duration) -> Self {
        Action::RequeueAfter(delay)
    }

    /// Wait for the next change.
    pub fn await_change() -> Self {
        Action::Done
    }
}

/// Drives one kind's objects towards their desired state.
///
/// The runtime calls `reconcile` with the key of an object that changed
/// (or was mapped from a change to an owned or watched object) and the
/// object as the primary kind's cache holds it now: `None` when it is gone
/// (deleted, or never existed). A key is never reconciled by two workers at
/// once. An `Err` puts the key back with per-key exponential backoff; an
/// `Ok` forgets the key's failures.
///
/// Reconcilers must be idempotent: they are called for resyncs, repeated
/// events and after restarts, and must read the current state rather than
/// trust what the previous call did.
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use keelson::api::core::ConfigMap;
/// use keelson::controllers::{Action, Reconciler};
/// use keelson::informer::ObjectKey;
///
/// struct CountKeys;
///
/// #[async_trait]
/// impl Reconciler<ConfigMap> for CountKeys {
///     type Error = std::convert::Infallible;
///     async fn reconcile(&self, key: &ObjectKey, cm: Option<Arc<ConfigMap>>) -> Result<Action, Self::Error> {
///         if let Some(cm) = cm {
///             println!("{key} has {} keys", cm.data.len());
///         }
///         Ok(Action::Done)
///     }
/// }
/// ```
#[async_trait]
pub trait Reconciler<K: Object>: Send + Sync + 'static {
    /// The reconcile's failure; its `Display` is logged and counted.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reconcile the object under `key`, which the cache holds as `object`.
    async fn reconcile(
        &self,
        key: &ObjectKey,
        object: Option<Arc<K>>,
    ) -> Result<Action, Self::Error>;
}

#[async_trait]
impl<K: Object, R: Reconciler<K>> Reconciler<K> for Arc<R> {
    type Error = R::Error;

    async fn reconcile(
        &self,
        key: &ObjectKey,
        object: Option<Arc<K>>,
    ) -> Result<Action, Self::Error> {
        (**self).reconcile(key, object).await
    }
}

/// A [`Reconciler`] made from an async closure; see [`reconciler_fn`].
pub struct ReconcilerFn<F, K> {
    f: F,
    _kind: PhantomData<fn(K)>,
}

/// Make a [`Reconciler`] from a closure taking the key and the cached
/// object and returning a future of `Result<Action, E>`.
///
/// ```
/// use keelson::api::core::ConfigMap;
/// use keelson::controllers::{reconciler_fn, Action};
///
/// let reconciler = reconciler_fn(|key, cm: Option<std::sync::Arc<ConfigMap>>| async move {
///     println!("{key}: present={}", cm.is_some());
///     Ok::<_, std::io::Error>(Action::Done)
/// });
/// # let _ = reconciler;
/// ```
pub fn reconciler_fn<K, F, Fut, E>(f: F) -> ReconcilerFn<F, K>
where
    K: Object,
    F: Fn(ObjectKey, Option<Arc<K>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    ReconcilerFn {
        f,
        _kind: PhantomData,
    }
}

#[async_trait]
impl<K, F, Fut, E> Reconciler<K> for ReconcilerFn<F, K>
where
    K: Object,
    F: Fn(ObjectKey, Option<Arc<K>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    type Error = E;

    async fn reconcile(&self, key: &ObjectKey, object: Option<Arc<K>>) -> Result<Action, E> {
        (self.f)(key.clone(), object).await
    }
}

/// What can go wrong in a reconcile of a built-in controller whose only
/// failures are API calls (ReplicaSet, Job, CronJob, DaemonSet, Namespace;
/// each module re-exports it as its `Error`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// A call to the API failed.
    #[error("{action}: {source}")]
    Api {
        /// What the controller was doing (`creating pods of default/web`).
        action: String,
        /// The API's error.
        #[source]
        source: crate::client::Error,
    },
}

impl ReconcileError {
    pub(crate) fn api(action: impl Into<String>, source: crate::client::Error) -> Self {
        ReconcileError::Api {
            action: action.into(),
            source,
        }
    }
}
