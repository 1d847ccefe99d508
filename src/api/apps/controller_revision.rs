//! [`ControllerRevision`]: an immutable snapshot of a workload's template,
//! the history DaemonSets and StatefulSets roll back to.
use super::checks::{immutable_large, nonnegative};
use crate::api::resource::object;
use crate::api::validation::{self, ErrorList, FieldError, Path};

object! {
    /// A ControllerRevision: the state (`data`, usually a strategic-merge
    /// patch of a pod template) of revision number `revision` of the
    /// DaemonSet or StatefulSet owning it. `data` may not change once
    /// created; the object may be deleted.
    pub struct ControllerRevision {
        /// The serialized state, as free-form JSON.
        data: serde_json::Value = "data",
        /// The revision number the state represents.
        revision: i64 = "revision" @always,
    }
    resource {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        scope: Namespaced,
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        if self.data.is_null() {
            errors.push(FieldError::required(&Path::root("data"), "data is mandatory"));
        }
        nonnegative(&mut errors, &Path::root("revision"), self.revision);
        errors
    }

    /// [`Resource::validate`](crate::api::Resource::validate) plus: `data` may not change.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        immutable_large(&mut errors, &Path::root("data"), &self.data, &old.data);
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps::checks::tests_support::round_trip;
    use crate::api::Resource;

    const SAMPLE: &str = r#"{"apiVersion":"apps/v1","kind":"ControllerRevision",
        "metadata":{"name":"web-7c9d5b","namespace":"default","labels":{"controller-revision-hash":"7c9d5b"},
          "ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"u1","controller":true}]},
        "data":{"spec":{"template":{"$patch":"replace","spec":{"containers":[{"name":"web","image":"nginx"}]}}}},
        "revision":2}"#;

    #[test]
    fn round_trip_and_validation() {
        let rev: ControllerRevision = round_trip(SAMPLE);
        assert_eq!(rev.revision, 2);
        assert!(rev.validate().is_empty());
        // `revision` is always written, even when 0.
        let zero = ControllerRevision {
            data: serde_json::json!({}),
            ..Default::default()
        };
        let json = serde_json::to_string(&zero).unwrap();
        assert!(json.ends_with(r#""data":{},"revision":0}"#), "{json}");

        let mut bad = rev.clone();
        bad.data = serde_json::Value::Null;
        bad.revision = -1;
        assert_eq!(
            bad.validate().to_string(),
            "[data: Required value: data is mandatory, \
             revision: Invalid value: -1: must be greater than or equal to 0]"
        );
    }

    #[test]
    fn data_is_immutable() {
        let old: ControllerRevision = round_trip(SAMPLE);
        let mut new = old.clone();
        new.revision = 3;
        assert!(new.validate_update(&old).is_empty());
        new.data = serde_json::json!({"spec": {}});
        assert_eq!(
            new.validate_update(&old).to_string(),
            "data: Invalid value: field is immutable"
        );
    }
}
