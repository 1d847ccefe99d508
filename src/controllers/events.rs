//! Record core/v1 [`Event`]s about objects, as `kubectl describe` shows
//! them, folding repeats into one Event with a count.
//!
//! A [`Recorder`] writes Events from one component (its `source`). Each
//! Event is about an involved object, with a type (`Normal` or
//! `Warning`), a CamelCase reason and a message. As client-go's event
//! correlator does, a repeat of the same event (same involved object,
//! type, reason, message and source) within the aggregation window does
//! not make a new object: the existing Event's `count` goes up and its
//! `lastTimestamp` moves (a merge patch). The recorder remembers the most
//! recent 4096 distinct events; a repeat of a forgotten one, or of one
//! whose Event was deleted (events expire), starts a new Event.
//!
//! Events are named `<object name>.<hex>` (a nanosecond timestamp), live
//! in the involved object's namespace, and, for cluster-scoped objects, in
//! `default`. Recording is best effort: a failure is an [`Error`] to log,
//! never a panic.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::core::{ConfigMap, Event};
//! use keelson::api::ObjectMeta;
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::controllers::events::{EventType, Recorder};
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let cm = Api::<ConfigMap>::namespaced(&client, "default")
//!     .create(&ConfigMap { metadata: ObjectMeta::named("settings"), ..Default::default() })
//!     .await
//!     .unwrap();
//!
//! let recorder = Recorder::new(&client, "my-controller");
//! recorder.publish(&cm, EventType::Normal, "Synced", "settings applied").await.unwrap();
//! recorder.publish(&cm, EventType::Normal, "Synced", "settings applied").await.unwrap();
//!
//! let events = Api::<Event>::namespaced(&client, "default").list(&Default::default()).await.unwrap();
//! assert_eq!(events.items.len(), 1);
//! assert_eq!(events.items[0].count, 2);
//! assert_eq!(events.items[0].source.component, "my-controller");
//! # });
//! ```
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::api::core::event::{TYPE_NORMAL, TYPE_WARNING};
use crate::api::core::{Event, EventSource, ObjectReference};
use crate::api::scheme::AnyObject;
use crate::api::{ObjectMeta, Str, Time};
use crate::client::{self, Api, IntoClient, PatchType};

/// How many distinct events a recorder remembers for aggregation
/// (client-go's cache size).
const CACHE_SIZE: usize = 4096;

/// The longest object name part of an Event name, leaving room for the
/// suffix within 253 characters.
const MAX_NAME_PREFIX: usize = 253 - 17;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Normal operation.
    Normal,
    /// Something may be wrong.
    Warning,
}

impl EventType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => TYPE_NORMAL,
            EventType::Warning => TYPE_WARNING,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong recording an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Writing the Event failed.
    #[error("writing the event failed: {0}")]
    Client(#[from] client::Error),
    /// The reason is empty.
    #[error("an event needs a reason")]
    NoReason,
}

/// The identity of an event for aggregation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    object: (Str, Str, Str, Str, Str),
    type_: EventType,
    reason: Str,
    message: Str,
}

/// What the recorder remembers of an Event it wrote.
#[derive(Clone, Debug)]
struct Seen {
    namespace: Str,
    name: Str,
    count: i32,
    last: Instant,
}

/// Writes Events for one component; cheap to share behind an `Arc`.
pub struct Recorder {
    api: Api<Event>,
    source: EventSource,
    window: Duration,
    seen: Mutex<HashMap<Key, Seen>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("source", &self.source)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder whose Events name `component` as their source.
    pub fn new(client: impl IntoClient, component: impl Into<Str>) -> Self {
        Recorder {
            api: Api::all(client),
            source: EventSource {
                component: component.into(),
                host: Str::default(),
            },
            window: Duration::from_secs(600),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The host (node) in the source.
    #[must_use]
    pub fn host(mut self, host: impl Into<Str>) -> Self {
        self.source.host = host.into();
        self
    }

    /// Repeats further apart than `window` start a new Event (default 10
    /// minutes, client-go's aggregation interval).
    #[must_use]
    pub fn aggregation_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Records an event about `object`.
    pub async fn publish(
        &self,
        object: &(impl AnyObject + ?Sized),
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), Error> {
        let type_meta = object.type_meta();
        let meta = object.meta();
        let reference = ObjectReference {
            kind: type_meta.kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
            uid: meta.uid.clone(),
            api_version: type_meta.api_version,
            resource_version: meta.resource_version.clone(),
            field_path: Str::default(),
        };
        self.publish_for(&reference, type_, reason, message).await
    }

    /// Records an event about the object `reference` names.
    pub async fn publish_for(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), Error> {
        if reason.is_empty() {
            return Err(Error::NoReason);
        }
        let key = Key {
            object: (
                reference.api_version.clone(),
                reference.kind.clone(),
                reference.namespace.clone(),
                reference.name.clone(),
                reference.uid.clone(),
            ),
            type_,
            reason: reason.into(),
            message: message.into(),
        };
        let now = Instant::now();
        // One event at a time, so a repeat never races its first write.
        let mut seen = self.seen.lock().await;
        if let Some(s) = seen
            .get(&key)
            .filter(|s| now.duration_since(s.last) <= self.window)
        {
            let count = s.count.saturating_add(1);
            let (namespace, name) = (s.namespace.clone(), s.name.clone());
            let patch = json!({"count": count, "lastTimestamp": Time::now()});
            let target = Api::<Event>::namespaced(self.api.client().clone(), &namespace);
            match target.patch(&name, PatchType::Merge, &patch).await {
                Ok(_) => {
                    seen.insert(
                        key,
                        Seen {
                            namespace,
                            name,
                            count,
                            last: now,
                        },
                    );
                    return Ok(());
                }
                // The Event expired or was deleted: start a new one.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }

        let namespace = if reference.namespace.is_empty() {
            Str::from("default")
        } else {
            reference.namespace.clone()
        };
        let event = Event {
            metadata: ObjectMeta::namespaced(namespace.clone(), event_name(&reference.name)),
            involved_object: reference.clone(),
            reason: reason.into(),
            message: message.into(),
            source: self.source.clone(),
            first_timestamp: Some(Time::now()),
            last_timestamp: Some(Time::now()),
            count: 1,
            type_: type_.as_str().into(),
            ..Event::default()
        };
        let created = Api::<Event>::namespaced(self.api.client().clone(), &namespace)
            .create(&event)
            .await?;
        if seen.len() >= CACHE_SIZE {
            // Forget the least recently seen.
            if let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, s)| s.last)
                .map(|(k, _)| k.clone())
            {
                seen.remove(&oldest);
            }
        }
        seen.insert(
            key,
            Seen {
                namespace,
                name: created.metadata.name,
                count: 1,
                last: now,
            },
        );
        Ok(())
    }
}

/// `<object>.<hex nanoseconds>`, as client-go names them; the object part
/// is shortened so the name stays within 253 characters, and an unnamed
/// object gives `event`.
fn event_name(object: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Two events in the same nanosecond (coarse clocks) still differ.
    let unique = (nanos as u64) ^ u64::from(fastrand::u16(..));
    let cleaned: String = object
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        .take(MAX_NAME_PREFIX)
        .collect();
    let prefix = cleaned.trim_matches(|c| c == '-' || c == '.');
    let prefix = if prefix.is_empty() { "event" } else { prefix };
    format!("{prefix}.{unique:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        let n = event_name("web-1");
        assert!(n.starts_with("web-1."), "{n}");
        assert!(event_name("").starts_with("event."));
        let long = "a".repeat(300);
        assert!(event_name(&long).len() <= 253);
        assert!(event_name("Bad Name!").starts_with("badname."));
        assert!(event_name("-.-").starts_with("event."));
    }
}
