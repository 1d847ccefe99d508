//! Label selectors (`app=nginx,env in (prod,qa)`) and field selectors
//! (`spec.nodeName=node-1`).
//!
//! A label selector comes in two forms, with the same meaning:
//!
//! - the structured [`LabelSelector`] of object specs (`matchLabels` and
//!   `matchExpressions`), validated by [`validate_label_selector`];
//! - the string form of `?labelSelector=` and `kubectl -l`, parsed by
//!   [`Selector::parse`] exactly as Kubernetes' `labels.Parse` does.
//!
//! Both become a [`Selector`]: requirements sorted by key, printed in
//! Kubernetes' canonical form, matched against labels without allocating.
//! Parse once, then match many objects.
//!
//! ```
//! use keelson::api::selector::{LabelSelector, LabelSelectorRequirement, Selector};
//! use keelson::api::StringMap;
//!
//! let sel = Selector::parse("tier in (web, api), env!=qa,!canary").unwrap();
//! assert_eq!(sel.to_string(), "!canary,env!=qa,tier in (api,web)");
//!
//! let pod = StringMap::from([("tier", "web"), ("env", "prod")]);
//! assert!(sel.matches(&pod));
//! assert!(!sel.matches(&StringMap::from([("tier", "db")])));
//!
//! // The structured form, as in a Deployment's `spec.selector`.
//! let structured = LabelSelector {
//!     match_labels: StringMap::from([("tier", "web")]),
//!     match_expressions: vec![LabelSelectorRequirement {
//!         key: "env".into(),
//!         operator: "NotIn".into(),
//!         values: vec!["qa".into()],
//!     }],
//! };
//! assert!(structured.matches(&pod));
//! assert_eq!(structured.to_selector_string().unwrap(), "env notin (qa),tier=web");
//! let parsed = Selector::try_from(&structured).unwrap();
//! assert!(parsed.matches(&pod));
//!
//! // Errors say where and what.
//! let err = Selector::parse("env in (a").unwrap_err();
//! assert_eq!(err.to_string(), "unable to parse requirement: found '' at position 9, expected: ',' or ')'");
//! ```
//!
//! Field selectors select on a few fields a kind exposes; the caller supplies
//! the values:
//!
//! ```
//! use keelson::api::selector::FieldSelector;
//!
//! let sel = FieldSelector::parse("spec.nodeName=node-1,status.phase!=Succeeded").unwrap();
//! let get = |field: &str| match field {
//!     "spec.nodeName" => Some("node-1"),
//!     "status.phase" => Some("Running"),
//!     _ => None,
//! };
//! assert!(sel.matches(get));
//! assert_eq!(sel.requires_exact_match("spec.nodeName"), Some("node-1"));
//! ```
use serde::{Deserialize, Serialize};

use super::serde_util::nullable;
use super::validation::{is_qualified_name, is_valid_label_value, validate_labels};
use super::validation::{ErrorList, FieldError, Path};
use super::{Str, StringMap};

mod field;
mod label;

pub use self::field::{FieldOperator, FieldRequirement, FieldSelector};
pub use self::label::{Operator, Requirement, Selector};

/// What can go wrong parsing or converting a selector.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The string form does not follow the grammar.
    #[error(
        "unable to parse requirement: found '{found}' at position {position}, expected: {expected}"
    )]
    Syntax {
        /// Byte offset of the offending token.
        position: usize,
        /// The offending token (empty at the end of the input).
        found: String,
        /// What the grammar allows there.
        expected: &'static str,
    },
    /// A key is not a qualified name.
    #[error("invalid label key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A value is not a valid label value.
    #[error("invalid label value {value:?} for key {key:?}: {reason}")]
    InvalidValue {
        /// The requirement's key.
        key: String,
        /// The value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The operator takes a different number of values.
    #[error("{reason} (operator {operator} with {count} values)")]
    ValueCount {
        /// The operator.
        operator: Operator,
        /// How many values were given.
        count: usize,
        /// The rule broken.
        reason: &'static str,
    },
    /// A `Gt`/`Lt` value is not an integer.
    #[error("for 'Gt', 'Lt' operators, the value must be an integer, not {value:?}")]
    NotAnInteger {
        /// The value.
        value: String,
    },
    /// A structured operator is not `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[error("{operator:?} is not a valid label selector operator")]
    InvalidOperator {
        /// The operator as written.
        operator: String,
    },
    /// A requirement in the string form is invalid.
    #[error("unable to parse requirement at position {position}: {source}")]
    At {
        /// Byte offset of the requirement's key.
        position: usize,
        /// The problem.
        #[source]
        source: Box<Error>,
    },
    /// A field of a structured selector is invalid.
    #[error("{field}: {source}")]
    Field {
        /// The field, as `matchExpressions[0].operator`.
        field: String,
        /// The problem.
        #[source]
        source: Box<Error>,
    },
    /// A field selector term has no operator.
    #[error("invalid field selector {selector:?}: can't understand {term:?}")]
    InvalidFieldTerm {
        /// The whole selector.
        selector: String,
        /// The term.
        term: String,
    },
    /// A field selector value has a bad escape.
    #[error("invalid field selector: invalid escape sequence: {sequence}")]
    InvalidEscape {
        /// The sequence.
        sequence: String,
    },
    /// A field selector value holds an unescaped `,` or `=`.
    #[error("invalid field selector: unescaped character in value: {character}")]
    UnescapedCharacter {
        /// The character.
        character: char,
    },
}

impl Error {
    /// Wraps `source` as a problem with `field`, joining nested fields
    /// (`matchExpressions[0]` + `values` → `matchExpressions[0].values`).
    fn field(field: impl Into<String>, source: Error) -> Error {
        let mut field = field.into();
        match source {
            Error::Field {
                field: inner,
                source,
            } => {
                if !inner.starts_with('[') {
                    field.push('.');
                }
                field.push_str(&inner);
                Error::Field { field, source }
            }
            source => Error::Field {
                field,
                source: Box::new(source),
            },
        }
    }

    fn at(position: usize, source: Error) -> Error {
        Error::At {
            position,
            source: Box::new(source),
        }
    }
}

/// A label selector in its structured form, as in `spec.selector`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with these values.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub match_labels: StringMap,
    /// Set-based requirements, all of which must hold.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement: `key In (a, b)`, `key Exists`, ...
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    #[serde(default)]
    pub key: Str,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[serde(default)]
    pub operator: Str,
    /// The values for `In` and `NotIn`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<Str>,
}

/// The structured operators.
pub mod operator {
    /// `In`.
    pub const IN: &str = "In";
    /// `NotIn`.
    pub const NOT_IN: &str = "NotIn";
    /// `Exists`.
    pub const EXISTS: &str = "Exists";
    /// `DoesNotExist`.
    pub const DOES_NOT_EXIST: &str = "DoesNotExist";
}

fn structured_operator(op: &str) -> Option<Operator> {
    Some(match op {
        operator::IN => Operator::In,
        operator::NOT_IN => Operator::NotIn,
        operator::EXISTS => Operator::Exists,
        operator::DOES_NOT_EXIST => Operator::DoesNotExist,
        _ => return None,
    })
}

impl LabelSelectorRequirement {
    /// True when the requirement is well formed: a valid key, a known
    /// operator (case-sensitive) with the right number of valid values.
    pub fn is_valid(&self) -> bool {
        let count_ok = match structured_operator(&self.operator) {
            Some(Operator::In | Operator::NotIn) => !self.values.is_empty(),
            Some(_) => self.values.is_empty(),
            None => false,
        };
        count_ok
            && is_qualified_name(&self.key).is_empty()
            && self
                .values
                .iter()
                .all(|v| is_valid_label_value(v).is_empty())
    }

    /// True when `labels` satisfy the requirement (false when it is
    /// invalid). Does not allocate.
    pub fn matches(&self, labels: &StringMap) -> bool {
        if !self.is_valid() {
            return false;
        }
        let value = labels.get_str(&self.key);
        let listed = |v: &str| self.values.iter().any(|x| x.as_str() == v);
        match structured_operator(&self.operator) {
            Some(Operator::In) => value.is_some_and(listed),
            Some(Operator::NotIn) => !value.is_some_and(listed),
            Some(Operator::Exists) => value.is_some(),
            Some(Operator::DoesNotExist) => value.is_none(),
            _ => false,
        }
    }
}

impl LabelSelector {
    /// True when there are no labels and no expressions: the selector
    /// matches everything.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// True when the selector is well formed (see [`validate_label_selector`]
    /// for the reasons when it is not).
    pub fn is_valid(&self) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| is_qualified_name(k).is_empty() && is_valid_label_value(v).is_empty())
            && self
                .match_expressions
                .iter()
                .all(LabelSelectorRequirement::is_valid)
    }

    /// True when `labels` satisfy every label and expression. An empty
    /// selector matches everything; an invalid one matches nothing, as
    /// Kubernetes treats a selector it cannot convert.
    ///
    /// This checks validity on each call; to match many objects, convert
    /// once with [`Selector::try_from`] and use [`Selector::matches`].
    pub fn matches(&self, labels: &StringMap) -> bool {
        self.is_valid()
            && self.match_labels.is_subset_of(labels)
            && self.match_expressions.iter().all(|e| e.matches(labels))
    }

    /// The selector's string form (`a=b,c in (d)`), empty when it selects
    /// everything.
    pub fn to_selector_string(&self) -> Result<String, Error> {
        Selector::try_from(self).map(|s| s.to_string())
    }

    /// Converts a string-form selector to the structured form, as
    /// Kubernetes' `ParseToLabelSelector`: `=` becomes `matchLabels`, `!=`
    /// becomes `NotIn`; `>` and `<` have no structured form.
    pub fn parse(input: &str) -> Result<LabelSelector, Error> {
        Selector::parse(input)?.to_label_selector()
    }
}

impl Selector {
    /// The structured form of this selector (`>` and `<` have none).
    pub fn to_label_selector(&self) -> Result<LabelSelector, Error> {
        let mut out = LabelSelector::default();
        for r in self.requirements() {
            let op = match r.operator() {
                Operator::Equals => {
                    if let [v] = r.values() {
                        out.match_labels.insert(r.key(), v.clone());
                    }
                    continue;
                }
                Operator::In => operator::IN,
                Operator::NotIn | Operator::NotEquals => operator::NOT_IN,
                Operator::Exists => operator::EXISTS,
                Operator::DoesNotExist => operator::DOES_NOT_EXIST,
                op @ (Operator::Gt | Operator::Lt) => {
                    return Err(Error::InvalidOperator {
                        operator: op.to_string(),
                    })
                }
            };
            out.match_expressions.push(LabelSelectorRequirement {
                key: Str::from(r.key()),
                operator: Str::from(op),
                values: r.values().to_vec(),
            });
        }
        Ok(out)
    }
}

impl TryFrom<&LabelSelector> for Selector {
    type Error = Error;

    /// Converts as Kubernetes' `LabelSelectorAsSelector`; errors name the
    /// field (`matchExpressions[0].operator`).
    fn try_from(sel: &LabelSelector) -> Result<Selector, Error> {
        let mut requirements =
            Vec::with_capacity(sel.match_labels.len() + sel.match_expressions.len());
        for (k, v) in &sel.match_labels {
            let r = Requirement::new(k, Operator::Equals, [v.clone()])
                .map_err(|e| Error::field("matchLabels", e))?;
            requirements.push(r);
        }
        for (i, e) in sel.match_expressions.iter().enumerate() {
            let at = format!("matchExpressions[{i}]");
            let Some(op) = structured_operator(&e.operator) else {
                return Err(Error::field(
                    format!("{at}.operator"),
                    Error::InvalidOperator {
                        operator: e.operator.to_string(),
                    },
                ));
            };
            let r = Requirement::new(e.key.clone(), op, e.values.iter().cloned())
                .map_err(|err| Error::field(at, err))?;
            requirements.push(r);
        }
        Ok(Selector::from_requirements(requirements))
    }
}

impl TryFrom<LabelSelector> for Selector {
    type Error = Error;
    fn try_from(sel: LabelSelector) -> Result<Selector, Error> {
        Selector::try_from(&sel)
    }
}

/// Validates a structured selector as Kubernetes' `ValidateLabelSelector`:
/// `matchLabels` keys and values, and per expression a known operator, the
/// value count it needs, a valid key and valid values. Paths look like
/// `spec.selector.matchExpressions[0].values`.
pub fn validate_label_selector(sel: &LabelSelector, path: &Path<'_>) -> ErrorList {
    let mut errors = validate_labels(&sel.match_labels, &path.child("matchLabels"));
    let exprs = path.child("matchExpressions");
    for (i, e) in sel.match_expressions.iter().enumerate() {
        errors.extend(validate_requirement(e, &exprs.index(i)));
    }
    errors
}

fn validate_requirement(e: &LabelSelectorRequirement, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let values = path.child("values");
    match structured_operator(&e.operator) {
        Some(Operator::In | Operator::NotIn) => {
            if e.values.is_empty() {
                errors.push(FieldError::required(
                    &values,
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        Some(_) => {
            if !e.values.is_empty() {
                errors.push(FieldError::forbidden(
                    &values,
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        None => errors.push(FieldError::invalid(
            &path.child("operator"),
            e.operator.as_str(),
            "not a valid selector operator",
        )),
    }
    let key = path.child("key");
    for message in is_qualified_name(&e.key) {
        errors.push(FieldError::invalid(&key, e.key.as_str(), message));
    }
    for (i, v) in e.values.iter().enumerate() {
        for message in is_valid_label_value(v) {
            errors.push(FieldError::invalid(&values.index(i), v.as_str(), message));
        }
    }
    errors
}
