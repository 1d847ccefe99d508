//! `scheduling.k8s.io/v1`: [`PriorityClass`], a named pod priority.
//!
//! Pods name a class in `spec.priorityClassName`; admission copies its
//! `value` into `spec.priority`. Higher values schedule first and, with
//! `preemptionPolicy: PreemptLowerPriority` (the default), may evict lower
//! ones. User classes may go up to [`HIGHEST_USER_DEFINABLE_PRIORITY`]
//! (one billion); names starting with `system-` are reserved for the two
//! [`SYSTEM_PRIORITY_CLASSES`].
//!
//! ```
//! use keelson::api::scheduling::PriorityClass;
//! use keelson::api::{ObjectMeta, Resource};
//!
//! let mut class = PriorityClass {
//!     metadata: ObjectMeta::named("high-priority"),
//!     value: 1_000_000,
//!     description: "for critical services".into(),
//!     ..PriorityClass::default()
//! };
//! class.apply_defaults();
//! assert_eq!(class.preemption_policy.as_deref(), Some("PreemptLowerPriority"));
//! assert!(class.validate().is_empty());
//!
//! class.value = 2_000_000_000;
//! assert_eq!(class.validate().iter().next().map(|e| e.field.as_str()), Some("value"));
//! ```
use super::resource::object;
use super::validation::{ErrorList, FieldError, Path};
use super::Str;

/// The highest priority a user-defined class may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;
/// The prefix reserved for system classes.
pub const SYSTEM_PRIORITY_CLASS_PREFIX: &str = "system-";
/// The built-in system classes and their values.
pub const SYSTEM_PRIORITY_CLASSES: &[(&str, i32)] = &[
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];
/// For [`PriorityClass::preemption_policy`]: may preempt lower-priority pods.
pub const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";
/// For [`PriorityClass::preemption_policy`]: never preempts.
pub const PREEMPT_NEVER: &str = "Never";

object! {
    /// A named priority for pods.
    pub struct PriorityClass {
        /// The priority; higher is more important. Always written (Go has no
        /// omitempty on it).
        value: i32 = "value" @always,
        /// Whether pods without a class get this one (at most one class
        /// should be the global default).
        global_default: bool = "globalDefault",
        /// When to use this class, for humans.
        description: Str = "description",
        /// `PreemptLowerPriority` (the default) or `Never`.
        preemption_policy: Option<Str> = "preemptionPolicy",
    }
    resource {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        scope: Cluster,
        short_names: ["pc"],
    }

    fn apply_defaults(&mut self) {
        if self.preemption_policy.is_none() {
            self.preemption_policy = Some(PREEMPT_LOWER_PRIORITY.into());
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let name = &self.metadata.name;
        if name.starts_with(SYSTEM_PRIORITY_CLASS_PREFIX) {
            if let Err(reason) = check_system_class(name, self.value, self.global_default) {
                errors.push(FieldError::forbidden(
                    &Path::root("metadata").child("name"),
                    format!(
                        "priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: {reason}"
                    ),
                ));
            }
        } else if self.value > HIGHEST_USER_DEFINABLE_PRIORITY {
            errors.push(FieldError::forbidden(
                &Path::root("value"),
                format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
            ));
        }
        if let Some(policy) = &self.preemption_policy {
            if policy != PREEMPT_LOWER_PRIORITY && policy != PREEMPT_NEVER {
                errors.push(FieldError::not_supported(
                    &Path::root("preemptionPolicy"),
                    policy,
                    &[PREEMPT_LOWER_PRIORITY, PREEMPT_NEVER],
                ));
            }
        }
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(super::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        if self.value != old.value {
            errors.push(FieldError::forbidden(&Path::root("value"), "may not be changed in an update."));
        }
        if self.preemption_policy != old.preemption_policy {
            errors.push(FieldError::invalid(
                &Path::root("preemptionPolicy"),
                self.preemption_policy.as_deref().unwrap_or(""),
                "field is immutable",
            ));
        }
        errors
    }
}

/// Whether `name` with `value` is one of the system classes as they must be.
fn check_system_class(name: &str, value: i32, global_default: bool) -> Result<(), String> {
    let Some(&(_, want)) = SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) else {
        return Err(format!("{name} is not a known system priority class"));
    };
    if value != want {
        return Err(format!("value of {name} PriorityClass must be {want}"));
    }
    if global_default {
        return Err(format!(
            "globalDefault of {name} PriorityClass must be false"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ObjectMeta, Resource};
    use serde_json::json;

    #[test]
    fn round_trip() {
        let value = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high-priority"},
            "value": 1000000,
            "globalDefault": true,
            "description": "This priority class should be used for XYZ service pods only.",
            "preemptionPolicy": "Never"
        });
        let class: PriorityClass = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&class).unwrap(), value);
        assert!(class.validate().is_empty());

        // `value` is written even when zero.
        let zero = PriorityClass {
            metadata: ObjectMeta::named("zero"),
            ..PriorityClass::default()
        };
        assert_eq!(
            serde_json::to_value(&zero).unwrap(),
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "zero"}, "value": 0})
        );
    }

    #[test]
    fn defaults() {
        let mut class: PriorityClass =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "value": 5})).unwrap();
        class.apply_defaults();
        assert_eq!(
            class.preemption_policy.as_deref(),
            Some(PREEMPT_LOWER_PRIORITY)
        );
        class.preemption_policy = Some(PREEMPT_NEVER.into());
        class.apply_defaults();
        assert_eq!(class.preemption_policy.as_deref(), Some(PREEMPT_NEVER));
    }

    #[test]
    fn validation() {
        // (name, value, globalDefault, preemptionPolicy, error fields)
        type Case<'a> = (&'a str, i32, bool, Option<&'a str>, &'a [&'a str]);
        let cases: &[Case<'_>] = &[
            ("user", HIGHEST_USER_DEFINABLE_PRIORITY, false, None, &[]),
            (
                "user",
                HIGHEST_USER_DEFINABLE_PRIORITY + 1,
                false,
                None,
                &["value"],
            ),
            ("user", -5, false, Some("Never"), &[]),
            ("user", 1, false, Some("Sometimes"), &["preemptionPolicy"]),
            ("system-node-critical", 2_000_001_000, false, None, &[]),
            ("system-cluster-critical", 2_000_000_000, false, None, &[]),
            (
                "system-cluster-critical",
                5,
                false,
                None,
                &["metadata.name"],
            ),
            (
                "system-cluster-critical",
                2_000_000_000,
                true,
                None,
                &["metadata.name"],
            ),
            ("system-mine", 1, false, None, &["metadata.name"]),
            ("Upper", 1, false, None, &["metadata.name"]),
        ];
        for &(name, value, global_default, policy, want) in cases {
            let class = PriorityClass {
                metadata: ObjectMeta::named(name),
                value,
                global_default,
                description: Str::default(),
                preemption_policy: policy.map(Str::from),
            };
            let errors = class.validate();
            let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(&got, want, "{name} {value}: {errors}");
        }
    }

    #[test]
    fn immutable_fields() {
        let mut old = PriorityClass {
            metadata: ObjectMeta::named("p"),
            value: 10,
            ..PriorityClass::default()
        };
        old.apply_defaults();
        let mut new = old.clone();
        new.description = "changed".into();
        new.global_default = true;
        assert!(new.validate_update(&old).is_empty());
        new.value = 11;
        new.preemption_policy = Some(PREEMPT_NEVER.into());
        let errors = new.validate_update(&old);
        let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(got, ["value", "preemptionPolicy"]);
    }
}
