//! Watch events as the API sends them: `{"type": "ADDED", "object": {...}}`.
//!
//! ```
//! use keelson::api::{WatchEvent, Status};
//!
//! let e: WatchEvent<serde_json::Value> =
//!     serde_json::from_str(r#"{"type":"ADDED","object":{"kind":"Pod"}}"#).unwrap();
//! assert!(matches!(e, WatchEvent::Added(_)));
//! let gone = WatchEvent::<serde_json::Value>::Error(Status::expired("too old resource version"));
//! assert!(serde_json::to_string(&gone).unwrap().starts_with(r#"{"type":"ERROR","object":{"#));
//! ```
use serde::{Deserialize, Serialize};

use super::Status;

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "object", rename_all = "UPPERCASE")]
// Errors are rare and short-lived; boxing them would cost every consumer a deref.
#[allow(clippy::large_enum_variant)]
pub enum WatchEvent<T> {
    /// The object was created (or existed when the watch started).
    Added(T),
    /// The object changed.
    Modified(T),
    /// The object was deleted; this is its last state.
    Deleted(T),
    /// A progress marker: only `metadata.resourceVersion` is meaningful.
    Bookmark(T),
    /// The watch failed; `410 Expired` means re-list.
    Error(Status),
}

impl<T> WatchEvent<T> {
    /// The event type as sent on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }

    /// The object, unless this is an error.
    pub fn object(&self) -> Option<&T> {
        match self {
            WatchEvent::Added(o)
            | WatchEvent::Modified(o)
            | WatchEvent::Deleted(o)
            | WatchEvent::Bookmark(o) => Some(o),
            WatchEvent::Error(_) => None,
        }
    }
}
