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
//!
//! Two deliberate refinements over Kubernetes, neither changing what
//! matches: requirements on the same key keep their written order (Kubernetes
//! sorts unstably), and field selector terms are ordered by their canonical
//! form, so printing and re-parsing any selector gives an equal one.
use serde::{Deserialize, Serialize};

use super::serde_util::nullable_vec;
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
        deserialize_with = "nullable_vec",
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
        deserialize_with = "nullable_vec",
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
    #[doc(alias = "FormatLabelSelector")]
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
            // Paths as validation reports them: `matchLabels` for a key,
            // `matchLabels[key]` for its value.
            label::check_key(k).map_err(|e| Error::field("matchLabels", e))?;
            label::check_value(k, v).map_err(|e| Error::field(format!("matchLabels[{k}]"), e))?;
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

/// Selectors travel as their string form (query parameters, list options).
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = Str::deserialize(deserializer)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Selector);
string_serde!(FieldSelector);

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
#[doc(alias = "ValidateLabelSelector")]
pub fn validate_label_selector(sel: &LabelSelector, path: &Path<'_>) -> ErrorList {
    validate_label_selector_with(sel, ValidationOptions::default(), path)
}

/// Options for [`validate_label_selector_with`] (Kubernetes'
/// `LabelSelectorValidationOptions`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Accept expression values that are not valid label values (pod
    /// affinity and topology spread allow them for compatibility).
    pub allow_invalid_label_value: bool,
}

impl ValidationOptions {
    /// Sets [`allow_invalid_label_value`](Self::allow_invalid_label_value).
    #[must_use]
    pub fn allow_invalid_label_value(mut self, allow: bool) -> Self {
        self.allow_invalid_label_value = allow;
        self
    }
}

/// [`validate_label_selector`] with options.
pub fn validate_label_selector_with(
    sel: &LabelSelector,
    options: ValidationOptions,
    path: &Path<'_>,
) -> ErrorList {
    let mut errors = validate_labels(&sel.match_labels, &path.child("matchLabels"));
    let exprs = path.child("matchExpressions");
    for (i, e) in sel.match_expressions.iter().enumerate() {
        errors.extend(validate_requirement(e, options, &exprs.index(i)));
    }
    errors
}

fn validate_requirement(
    e: &LabelSelectorRequirement,
    options: ValidationOptions,
    path: &Path<'_>,
) -> ErrorList {
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
    if options.allow_invalid_label_value {
        return errors;
    }
    for (i, v) in e.values.iter().enumerate() {
        for message in is_valid_label_value(v) {
            errors.push(FieldError::invalid(&values.index(i), v.as_str(), message));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn expr(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| Str::from(*v)).collect(),
        }
    }

    fn selector(labels: &[(&str, &str)], exprs: Vec<LabelSelectorRequirement>) -> LabelSelector {
        LabelSelector {
            match_labels: labels.iter().copied().collect(),
            match_expressions: exprs,
        }
    }

    #[test]
    fn structured_matching() {
        let pod: StringMap = [("app", "web"), ("env", "prod")].into_iter().collect();
        let cases = [
            (selector(&[], vec![]), true),
            (selector(&[("app", "web")], vec![]), true),
            (selector(&[("app", "db")], vec![]), false),
            (
                selector(&[], vec![expr("env", "In", &["prod", "qa"])]),
                true,
            ),
            (selector(&[], vec![expr("env", "NotIn", &["prod"])]), false),
            (selector(&[], vec![expr("tier", "NotIn", &["x"])]), true),
            (selector(&[], vec![expr("app", "Exists", &[])]), true),
            (selector(&[], vec![expr("app", "DoesNotExist", &[])]), false),
            (selector(&[], vec![expr("tier", "DoesNotExist", &[])]), true),
            // Invalid selectors match nothing.
            (selector(&[], vec![expr("env", "in", &["prod"])]), false),
            (selector(&[], vec![expr("env", "In", &[])]), false),
            (selector(&[], vec![expr("app", "Exists", &["web"])]), false),
            (
                selector(&[("app", "web")], vec![expr("-bad", "Exists", &[])]),
                false,
            ),
            (selector(&[("-bad", "web")], vec![]), false),
        ];
        for (sel, want) in cases {
            assert_eq!(sel.matches(&pod), want, "{sel:?}");
            match Selector::try_from(&sel) {
                Ok(parsed) => assert_eq!(parsed.matches(&pod), want, "{sel:?}"),
                Err(_) => assert!(!want),
            }
        }
        assert!(selector(&[], vec![]).is_empty());
        assert!(!selector(&[("a", "b")], vec![]).is_empty());
    }

    #[test]
    fn conversion_errors_name_the_field() {
        for (sel, message) in [
            (
                selector(
                    &[],
                    vec![expr("a", "Exists", &[]), expr("env", "in", &["prod"])],
                ),
                "matchExpressions[1].operator: \"in\" is not a valid label selector operator",
            ),
            (
                selector(&[], vec![expr("env", "In", &[])]),
                "matchExpressions[0].values: for 'in', 'notin' operators, values set can't be \
                 empty (operator in with 0 values)",
            ),
            (
                selector(&[], vec![expr("env", "DoesNotExist", &["x"])]),
                "matchExpressions[0].values: values set must be empty for exists and does not \
                 exist (operator ! with 1 values)",
            ),
        ] {
            let err = Selector::try_from(&sel).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert_eq!(sel.to_selector_string().unwrap_err(), err);
        }
        let err =
            Selector::try_from(selector(&[], vec![expr("env", "In", &["ok", "-no"])])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("matchExpressions[0].values[1]: invalid label value \"-no\""),
            "{err}"
        );
        let err = Selector::try_from(selector(&[], vec![expr("-k", "Exists", &[])])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("matchExpressions[0].key: invalid label key \"-k\""),
            "{err}"
        );
        let err = Selector::try_from(&selector(&[("-k", "v")], vec![])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("matchLabels: invalid label key \"-k\""),
            "{err}"
        );
        let err = Selector::try_from(&selector(&[("a", "b c")], vec![])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("matchLabels[a]: invalid label value \"b c\""),
            "{err}"
        );
    }

    #[test]
    fn string_forms() {
        let sel = selector(
            &[("tier", "web"), ("app", "shop")],
            vec![
                expr("env", "In", &["qa", "prod"]),
                expr("canary", "DoesNotExist", &[]),
                expr("track", "Exists", &[]),
            ],
        );
        assert_eq!(
            sel.to_selector_string().unwrap(),
            "app=shop,!canary,env in (prod,qa),tier=web,track"
        );
        assert_eq!(selector(&[], vec![]).to_selector_string().unwrap(), "");
        let parsed = LabelSelector::parse("app=shop,env in (prod,qa),x!=y,!canary,track").unwrap();
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            serde_json::json!({
                "matchLabels": {"app": "shop"},
                "matchExpressions": [
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "env", "operator": "In", "values": ["prod", "qa"]},
                    {"key": "track", "operator": "Exists"},
                    {"key": "x", "operator": "NotIn", "values": ["y"]},
                ]
            })
        );
        assert!(matches!(
            LabelSelector::parse("x>1"),
            Err(Error::InvalidOperator { .. })
        ));
    }

    #[test]
    fn selectors_serialize_as_strings() {
        let sel: Selector = serde_json::from_str(r#""b=1,a in (x)""#).unwrap();
        assert_eq!(serde_json::to_string(&sel).unwrap(), r#""a in (x),b=1""#);
        assert!(serde_json::from_str::<Selector>(r#""a in (""#).is_err());
        let f: FieldSelector = serde_json::from_str(r#""spec.nodeName=n1""#).unwrap();
        assert_eq!(serde_json::to_string(&f).unwrap(), r#""spec.nodeName=n1""#);
        let everything: Selector = serde_json::from_str("null").unwrap();
        assert!(everything.is_empty());
    }

    #[test]
    fn serde_round_trip() {
        let json = serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]
        });
        let sel: LabelSelector = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&sel).unwrap(), json);
        let empty: LabelSelector =
            serde_json::from_str(r#"{"matchLabels":null,"matchExpressions":null}"#).unwrap();
        assert!(empty.is_empty());
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
    }

    #[test]
    fn validation_paths() {
        let spec = Path::root("spec");
        let path = spec.child("selector");
        let cases: Vec<(LabelSelector, Vec<(&str, &str)>)> = vec![
            (
                selector(&[("app", "web")], vec![expr("env", "In", &["a"])]),
                vec![],
            ),
            (
                selector(&[], vec![expr("env", "In", &[])]),
                vec![(
                    "spec.selector.matchExpressions[0].values",
                    "FieldValueRequired",
                )],
            ),
            (
                selector(
                    &[],
                    vec![expr("a", "Exists", &[]), expr("env", "Exists", &["x"])],
                ),
                vec![(
                    "spec.selector.matchExpressions[1].values",
                    "FieldValueForbidden",
                )],
            ),
            (
                selector(&[], vec![expr("env", "Equals", &["x"])]),
                vec![(
                    "spec.selector.matchExpressions[0].operator",
                    "FieldValueInvalid",
                )],
            ),
            (
                selector(&[], vec![expr("-env", "In", &["x", "-y"])]),
                vec![
                    ("spec.selector.matchExpressions[0].key", "FieldValueInvalid"),
                    (
                        "spec.selector.matchExpressions[0].values[1]",
                        "FieldValueInvalid",
                    ),
                ],
            ),
            (
                selector(&[("-app", "web"), ("ok", "-bad")], vec![]),
                vec![
                    ("spec.selector.matchLabels", "FieldValueInvalid"),
                    ("spec.selector.matchLabels[ok]", "FieldValueInvalid"),
                ],
            ),
        ];
        for (sel, want) in cases {
            let errors = validate_label_selector(&sel, &path);
            let got: Vec<(&str, &str)> = errors
                .iter()
                .map(|e| (e.field.as_str(), e.kind.reason()))
                .collect();
            assert_eq!(got, want, "{sel:?}: {errors}");
            assert_eq!(errors.is_empty(), sel.is_valid(), "{sel:?}");
        }
        let errors =
            validate_label_selector(&selector(&[], vec![expr("e", "Equals", &["x"])]), &path);
        assert_eq!(
            errors.to_string(),
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator"
        );
        let lenient = selector(&[], vec![expr("k", "In", &["not a label"])]);
        assert_eq!(validate_label_selector(&lenient, &path).len(), 1);
        let options = ValidationOptions::default().allow_invalid_label_value(true);
        assert!(validate_label_selector_with(&lenient, options, &path).is_empty());
    }

    // ---- property tests ---------------------------------------------------

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-z][a-z0-9]{0,4}",
            1 => "[a-z]{1,3}\\.io/[a-z][a-z0-9_.-]{0,4}[a-z0-9]",
            1 => prop::sample::select(vec!["in".to_string(), "notin".to_string()]),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-z0-9]{0,3}",
            1 => "[A-Za-z0-9][A-Za-z0-9_.-]{0,4}[A-Za-z0-9]",
            1 => prop::sample::select(vec!["in".to_string(), "notin".to_string()]),
        ]
    }

    fn requirement() -> impl Strategy<Value = Requirement> {
        let op = prop::sample::select(vec![
            Operator::Equals,
            Operator::NotEquals,
            Operator::In,
            Operator::NotIn,
            Operator::Exists,
            Operator::DoesNotExist,
            Operator::Gt,
            Operator::Lt,
        ]);
        (key(), op, prop::collection::vec(value(), 1..4), -99i64..99).prop_map(
            |(key, op, values, n)| {
                let values: Vec<String> = match op {
                    Operator::Exists | Operator::DoesNotExist => vec![],
                    Operator::Equals | Operator::NotEquals => values[..1].to_vec(),
                    Operator::Gt | Operator::Lt => vec![n.abs().to_string()],
                    Operator::In | Operator::NotIn => values,
                };
                Requirement::new(key, op, values).expect("generated requirements are valid")
            },
        )
    }

    fn structured() -> impl Strategy<Value = LabelSelector> {
        let op = prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist"]);
        let expression =
            (key(), op, prop::collection::vec(value(), 1..3)).prop_map(|(key, op, values)| {
                LabelSelectorRequirement {
                    key: key.into(),
                    operator: op.into(),
                    values: match op {
                        "In" | "NotIn" => values.into_iter().map(Str::from).collect(),
                        _ => vec![],
                    },
                }
            });
        (
            prop::collection::vec((key(), value()), 0..3),
            prop::collection::vec(expression, 0..3),
        )
            .prop_map(|(labels, exprs)| LabelSelector {
                match_labels: labels.into_iter().collect(),
                match_expressions: exprs,
            })
    }

    fn label_set() -> impl Strategy<Value = StringMap> {
        let value = prop_oneof![value(), (0i64..99).prop_map(|n| n.to_string())];
        prop::collection::vec((key(), value), 0..5).prop_map(|pairs| pairs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn printed_selectors_parse_back(reqs in prop::collection::vec(requirement(), 0..5)) {
            let sel = Selector::from_requirements(reqs);
            let printed = sel.to_string();
            let parsed = Selector::parse(&printed);
            prop_assert_eq!(parsed.as_ref(), Ok(&sel), "{}", printed);
            prop_assert_eq!(parsed.unwrap().to_string(), printed);
        }

        #[test]
        fn structured_and_string_forms_agree(sel in structured(), labels in label_set()) {
            let direct = sel.matches(&labels);
            let converted = Selector::try_from(&sel).unwrap();
            prop_assert_eq!(converted.matches(&labels), direct);
            let printed = sel.to_selector_string().unwrap();
            let reparsed = Selector::parse(&printed).unwrap();
            prop_assert_eq!(reparsed.matches(&labels), direct, "{}", printed);
            let back = LabelSelector::parse(&printed).unwrap();
            prop_assert_eq!(back.matches(&labels), direct);
            prop_assert!(validate_label_selector(&sel, &Path::root("s")).is_empty());
        }

        #[test]
        fn matching_agrees_with_requirement_semantics(
            reqs in prop::collection::vec(requirement(), 0..4), labels in label_set()
        ) {
            let sel = Selector::from_requirements(reqs.clone());
            let want = reqs.iter().all(|r| r.matches_value(labels.get_str(r.key())));
            prop_assert_eq!(sel.matches(&labels), want);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = Selector::parse(&s);
            let _ = FieldSelector::parse(&s);
            let _ = crate::api::quantity::Quantity::parse(&s);
        }

        #[test]
        fn selector_alphabet_round_trips(s in "[a-c !=(),<>0-9\\x00]{0,30}|[a-z ]{0,6}(in|notin)[a-z (),]{0,12}") {
            if let Ok(sel) = Selector::parse(&s) {
                let printed = sel.to_string();
                prop_assert_eq!(Selector::parse(&printed), Ok(sel), "{:?} -> {:?}", s, printed);
            }
        }

        #[test]
        fn field_alphabet_round_trips(s in "[a-c.=!,\\\\]{0,30}") {
            if let Ok(sel) = FieldSelector::parse(&s) {
                let printed = sel.to_string();
                prop_assert_eq!(FieldSelector::parse(&printed), Ok(sel), "{:?} -> {:?}", s, printed);
            }
        }
    }
}
