//! [`Event`] (core/v1): a report of something that happened to an object
//! (`Scheduled`, `Pulled`, `BackOff`, ...), as `kubectl describe` and
//! `kubectl get events` show them.
//!
//! Old-style events carry `source`, `firstTimestamp`, `lastTimestamp` and
//! `count`; new-style ones (written through events.k8s.io) carry
//! `eventTime`, `series`, `action` and `reportingComponent`. Both shapes are
//! served here.
use serde::{Deserialize, Serialize};

use super::ObjectReference;
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{is_qualified_name, ErrorList, FieldError, Path};
use crate::api::{MicroTime, Str, Time};

/// An event about normal operation.
pub const TYPE_NORMAL: &str = "Normal";
/// An event about a problem.
pub const TYPE_WARNING: &str = "Warning";

/// The most bytes of `action`, `reason` and `reportingInstance` in a
/// new-style event.
const MAX_SHORT_FIELD: usize = 128;
/// The most bytes of `message` in a new-style event.
const MAX_MESSAGE: usize = 1024;

object! {
    /// Something that happened to an object.
    pub struct Event {
        /// The object the event is about.
        involved_object: ObjectReference = "involvedObject" @always,
        /// A short CamelCase reason (`FailedScheduling`).
        reason: Str = "reason",
        /// A human-readable description.
        message: Str = "message",
        /// The component (and host) that reported it.
        source: EventSource = "source",
        /// When the event was first seen.
        first_timestamp: Option<Time> = "firstTimestamp",
        /// When the event was last seen.
        last_timestamp: Option<Time> = "lastTimestamp",
        /// How many times it was seen.
        count: i32 = "count",
        /// `Normal` or `Warning`.
        type_: Str = "type",
        /// When the event was first observed (new-style events).
        event_time: Option<MicroTime> = "eventTime",
        /// Data about a series of repeats.
        series: Option<EventSeries> = "series",
        /// What was done (`Binding`, `Preempting`).
        action: Str = "action",
        /// A second object involved (the preemptor of a pod).
        related: Option<ObjectReference> = "related",
        /// The controller that emitted the event (`kubelet`).
        reporting_component: Str = "reportingComponent" @always,
        /// The instance of that controller (`kubelet-node-1`).
        reporting_instance: Str = "reportingInstance" @always,
    }
    resource {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        scope: Namespaced,
        short_names: ["ev"],
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let event_ns = &*self.metadata.namespace;
        let object_ns = &*self.involved_object.namespace;
        // An empty event namespace is filled in from the request later.
        let mismatch = !event_ns.is_empty()
            && match (self.event_time.is_some(), object_ns.is_empty()) {
                // Events about cluster-scoped objects live in `default`.
                (false, true) => event_ns != "default",
                (false, false) => event_ns != object_ns,
                (true, true) => event_ns != "default" && event_ns != "kube-system",
                (true, false) => false,
            };
        if mismatch {
            errors.push(FieldError::invalid(
                &Path::root("involvedObject").child("namespace"),
                object_ns,
                "does not match event.namespace",
            ));
        }
        if self.event_time.is_some() {
            self.validate_new_style(&mut errors);
        }
        errors
    }
}

impl Event {
    /// True for a `Warning` event.
    pub fn is_warning(&self) -> bool {
        self.type_ == TYPE_WARNING
    }

    /// The fields required of events that carry `eventTime` (written by
    /// the events.k8s.io API and new-style recorders).
    fn validate_new_style(&self, errors: &mut ErrorList) {
        let component = Path::root("reportingComponent");
        if self.reporting_component.is_empty() {
            errors.push(FieldError::required(&component, ""));
        } else {
            for msg in is_qualified_name(&self.reporting_component) {
                errors.push(FieldError::invalid(
                    &component,
                    &self.reporting_component,
                    msg,
                ));
            }
        }
        for (field, value) in [
            ("reportingInstance", &self.reporting_instance),
            ("action", &self.action),
            ("reason", &self.reason),
        ] {
            let p = Path::root(field);
            if value.is_empty() {
                errors.push(FieldError::required(&p, ""));
            } else if value.len() > MAX_SHORT_FIELD {
                errors.push(FieldError::invalid(
                    &p,
                    "",
                    format!("can have at most {MAX_SHORT_FIELD} characters"),
                ));
            }
        }
        if self.message.len() > MAX_MESSAGE {
            errors.push(FieldError::invalid(
                &Path::root("message"),
                "",
                format!("can have at most {MAX_MESSAGE} characters"),
            ));
        }
    }
}

/// The component that reported an [`Event`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    /// The component (`default-scheduler`, `kubelet`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub component: Str,
    /// The node it runs on.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub host: Str,
}

/// Repeats of an [`Event`] folded into one object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSeries {
    /// How many times the event repeated.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub count: i32,
    /// When the last repeat was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_observed_time: Option<MicroTime>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    const OLD_STYLE: &str = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"kubia-0.17a1","namespace":"default"},
      "involvedObject":{"kind":"Pod","namespace":"default","name":"kubia-0","uid":"p-1","apiVersion":"v1","resourceVersion":"12","fieldPath":"spec.containers{kubia}"},
      "reason":"BackOff","message":"Back-off restarting failed container","source":{"component":"kubelet","host":"node-1"},
      "firstTimestamp":"2024-04-01T10:00:00Z","lastTimestamp":"2024-04-01T10:05:00Z","count":7,"type":"Warning",
      "reportingComponent":"","reportingInstance":""}"#;

    const NEW_STYLE: &str = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"kubia-0.17a2","namespace":"default"},
      "involvedObject":{"kind":"Pod","namespace":"default","name":"kubia-0"},
      "reason":"Preempted","message":"Preempted by pod web-1","source":{},
      "type":"Normal","eventTime":"2024-04-01T10:00:00.123456Z","series":{"count":3,"lastObservedTime":"2024-04-01T10:02:00.000001Z"},
      "action":"Preempting","related":{"kind":"Pod","namespace":"default","name":"web-1"},
      "reportingComponent":"default-scheduler","reportingInstance":"default-scheduler-master-1"}"#;

    fn round_trip(json: &str) -> Event {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let ev: Event = serde_json::from_value(value.clone()).unwrap();
        let mut expected = value;
        // `source: {}` is empty and omitted, as for any empty struct.
        if let Some(map) = expected.as_object_mut() {
            if map.get("source") == Some(&serde_json::json!({})) {
                map.remove("source");
            }
        }
        assert_eq!(serde_json::to_value(&ev).unwrap(), expected);
        ev
    }

    #[test]
    fn round_trips() {
        let old = round_trip(OLD_STYLE);
        assert_eq!(old.count, 7);
        assert!(old.validate().is_empty(), "{}", old.validate());
        let new = round_trip(NEW_STYLE);
        assert_eq!(new.series.as_ref().map(|s| s.count), Some(3));
        assert!(new.validate().is_empty(), "{}", new.validate());
        assert_eq!(Event::SHORT_NAMES, ["ev"]);
        // reportingComponent and reportingInstance are always written.
        let bare = Event::default();
        let json = serde_json::to_string(&bare).unwrap();
        assert_eq!(
            json,
            r#"{"apiVersion":"v1","kind":"Event","metadata":{},"involvedObject":{},"reportingComponent":"","reportingInstance":""}"#
        );
    }

    #[test]
    fn validation_table() {
        type Edit = fn(&mut Event);
        let cases: &[(&str, Edit, &str)] = &[
            ("namespace mismatch", |e| e.involved_object.namespace = "other".into(),
                "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"),
            ("cluster object in a namespace", |e| {
                e.metadata.namespace = "shop".into();
                e.involved_object.namespace = "".into();
            }, "involvedObject.namespace: Invalid value: \"\": does not match event.namespace"),
            ("long reason", |e| {
                e.event_time = Some(MicroTime::from_unix_micros(1));
                e.action = "Pulling".into();
                e.reporting_component = "kubelet".into();
                e.reporting_instance = "kubelet-1".into();
                e.reason = "R".repeat(129).into();
            }, "reason: Invalid value: \"\": can have at most 128 characters"),
            ("new style without component", |e| {
                e.event_time = Some(MicroTime::from_unix_micros(1));
                e.action = "Pulling".into();
                e.reporting_instance = "kubelet-1".into();
            }, "reportingComponent: Required value"),
            ("new style without action", |e| {
                e.event_time = Some(MicroTime::from_unix_micros(1));
                e.reporting_component = "kubelet".into();
                e.reporting_instance = "kubelet-1".into();
            }, "action: Required value"),
        ];
        for (what, edit, want) in cases {
            let mut ev = round_trip(OLD_STYLE);
            edit(&mut ev);
            let errors = ev.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
        // New-style events about any object in another namespace are allowed.
        let mut new = round_trip(NEW_STYLE);
        new.involved_object.namespace = "elsewhere".into();
        assert!(new.validate().is_empty(), "{}", new.validate());
        assert!(round_trip(OLD_STYLE).is_warning());
        // Node events live in `default`.
        let mut node_event = round_trip(OLD_STYLE);
        node_event.involved_object.namespace = "".into();
        node_event.involved_object.kind = "Node".into();
        assert!(node_event.validate().is_empty());
    }
}
