//! Run cleanup before an object is deleted: the finalizer helper, in the
//! shape of kube-rs's `finalizer()`.
//!
//! A finalizer is a name in `metadata.finalizers`; the API server keeps a
//! deleted object (with `deletionTimestamp` set) until every finalizer is
//! removed. [`finalizer`] drives the protocol from a reconciler:
//!
//! | the object | what happens |
//! |---|---|
//! | not being deleted, without our finalizer | the finalizer is added (a JSON patch that tests the resourceVersion); the change brings the object back for an `Apply` |
//! | not being deleted, with our finalizer | [`Event::Apply`]: your normal reconcile |
//! | being deleted, with our finalizer | [`Event::Cleanup`]; when it succeeds the finalizer is removed (a JSON patch that tests its position), and the server can finish the delete |
//! | being deleted, without our finalizer | nothing: someone else's finalizer holds it |
//!
//! Cleanup must be idempotent: if removing the finalizer fails, it runs
//! again.
//!
//! ```
//! use std::sync::Arc;
//! use keelson::api::core::ConfigMap;
//! use keelson::client::Api;
//! use keelson::controllers::finalizer::{finalizer, Error, Event};
//! use keelson::controllers::Action;
//!
//! async fn reconcile(
//!     api: &Api<ConfigMap>,
//!     cm: Arc<ConfigMap>,
//! ) -> Result<Action, Error<std::io::Error>> {
//!     finalizer(api, "example.com/cleanup", cm, |event| async move {
//!         match event {
//!             Event::Apply(cm) => {
//!                 println!("apply {}", cm.metadata.name);
//!                 Ok(Action::Done)
//!             }
//!             Event::Cleanup(cm) => {
//!                 println!("release what {} held", cm.metadata.name);
//!                 Ok(Action::Done)
//!             }
//!         }
//!     })
//!     .await
//! }
//! # let _ = reconcile;
//! ```
use std::future::Future;
use std::sync::Arc;

use serde_json::json;

use super::Action;
use crate::client::{self, Api};
use crate::informer::Object;

/// What the reconcile closure is asked to do.
#[derive(Clone, Debug)]
pub enum Event<K> {
    /// The object lives (and carries our finalizer): reconcile it.
    Apply(Arc<K>),
    /// The object is being deleted: release what it holds; the finalizer
    /// is removed when this succeeds.
    Cleanup(Arc<K>),
}

/// What can go wrong in [`finalizer`]; `E` is the closure's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E: std::error::Error + 'static> {
    /// [`Event::Apply`] failed.
    #[error("apply failed: {0}")]
    ApplyFailed(#[source] E),
    /// [`Event::Cleanup`] failed; the finalizer stays.
    #[error("cleanup failed: {0}")]
    CleanupFailed(#[source] E),
    /// Adding the finalizer failed (a conflict is retried by the
    /// reconcile's backoff).
    #[error("adding the finalizer failed: {0}")]
    AddFinalizer(#[source] client::Error),
    /// Removing the finalizer failed.
    #[error("removing the finalizer failed: {0}")]
    RemoveFinalizer(#[source] client::Error),
    /// The object has no name, so it cannot be patched.
    #[error("the object has no name")]
    UnnamedObject,
    /// The finalizer name is empty or not a qualified name.
    #[error("invalid finalizer name {0:?}")]
    InvalidFinalizer(String),
}

/// Runs `reconcile` under the finalizer `name` for `obj` (see the
/// [module guide](self)). `api` must reach the object: a namespaced `Api`
/// of its namespace, or `Api::all` (writes take the namespace from the
/// object).
pub async fn finalizer<K, F, Fut, E>(
    api: &Api<K>,
    name: &str,
    obj: Arc<K>,
    reconcile: F,
) -> Result<Action, Error<E>>
where
    K: Object,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
    E: std::error::Error + 'static,
{
    if !valid_finalizer(name) {
        return Err(Error::InvalidFinalizer(name.to_string()));
    }
    let meta = obj.meta();
    if meta.name.is_empty() {
        return Err(Error::UnnamedObject);
    }
    let position = meta.finalizers.iter().position(|f| f == name);
    match (meta.deletion_timestamp.is_some(), position) {
        (false, Some(_)) => reconcile(Event::Apply(obj))
            .await
            .map_err(Error::ApplyFailed),
        (true, Some(i)) => {
            let object_name = meta.name.clone();
            let obj_namespace = meta.namespace.clone();
            let action = reconcile(Event::Cleanup(obj))
                .await
                .map_err(Error::CleanupFailed)?;
            // Test that the finalizer is still where we saw it, so a
            // concurrent change to the list does not make us remove
            // someone else's.
            let path = format!("/metadata/finalizers/{i}");
            let patch = json!([
                {"op": "test", "path": path, "value": name},
                {"op": "remove", "path": path},
            ]);
            match patch_object(api, &obj_namespace, &object_name, &patch).await {
                Ok(_) => Ok(action),
                // Gone already: nothing holds it any more.
                Err(e) if e.is_not_found() => Ok(action),
                Err(e) => Err(Error::RemoveFinalizer(e)),
            }
        }
        (false, None) => {
            let patch = if meta.finalizers.is_empty() {
                json!([
                    {"op": "test", "path": "/metadata/resourceVersion", "value": meta.resource_version},
                    {"op": "add", "path": "/metadata/finalizers", "value": [name]},
                ])
            } else {
                json!([
                    {"op": "test", "path": "/metadata/resourceVersion", "value": meta.resource_version},
                    {"op": "add", "path": "/metadata/finalizers/-", "value": name},
                ])
            };
            patch_object(api, &meta.namespace, &meta.name, &patch)
                .await
                .map_err(Error::AddFinalizer)?;
            // The patch is a change: the object comes back for an Apply.
            Ok(Action::Done)
        }
        (true, None) => Ok(Action::Done),
    }
}

/// JSON-patches the object `name` through `api`, in the object's own
/// namespace when `api` spans all of them (a patch needs a namespace).
async fn patch_object<K: Object>(
    api: &Api<K>,
    namespace: &str,
    name: &str,
    patch: &serde_json::Value,
) -> Result<(), client::Error> {
    let mut target = api.target(name, "");
    if target.namespace.is_empty() && api.resource().scope.is_namespaced() {
        target.namespace = namespace.into();
    }
    let body = serde_json::to_vec(patch).map_err(|e| client::Error::Decode(e.to_string()))?;
    api.client()
        .patch(
            &target,
            client::PatchType::Json,
            bytes::Bytes::from(body),
            &crate::apiserver::WriteOptions::default(),
        )
        .await
        .map(|_| ())
}

/// A finalizer is a qualified name (`example.com/cleanup`, or a bare
/// name such as `orphan`).
fn valid_finalizer(name: &str) -> bool {
    !name.is_empty() && crate::api::validation::is_qualified_name(name).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalizer_names() {
        assert!(valid_finalizer("example.com/cleanup"));
        assert!(valid_finalizer("orphan"));
        assert!(!valid_finalizer(""));
        assert!(!valid_finalizer("not a name"));
    }
}
