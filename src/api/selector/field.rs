//! Field selectors: `metadata.name=web,status.phase!=Running`.
//!
//! Terms are `field=value`, `field==value` or `field!=value`, separated by
//! commas; a value escapes `\`, `,` and `=` with a backslash. A field the
//! object lacks reads as the empty string, as in Kubernetes.
//!
//! ```
//! use keelson::api::selector::{FieldOperator, FieldSelector};
//!
//! let sel = FieldSelector::parse(r"metadata.name=a\,b,spec.nodeName!=").unwrap();
//! let terms = sel.requirements();
//! assert_eq!(terms[0].field, "metadata.name");
//! assert_eq!(terms[0].value, "a,b");
//! assert_eq!(terms[1].operator, FieldOperator::NotEquals);
//! assert_eq!(sel.to_string(), r"metadata.name=a\,b,spec.nodeName!=");
//!
//! // An unscheduled pod has no node: it fails `spec.nodeName!=`.
//! assert!(!sel.matches(|f| (f == "metadata.name").then_some("a,b")));
//! assert!(sel.matches(|f| Some(if f == "metadata.name" { "a,b" } else { "node-1" })));
//! ```
use std::fmt;

use super::Error;
use crate::api::Str;

/// How a [`FieldRequirement`] compares a field with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

impl FieldOperator {
    /// The operator as written (`=` or `!=`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        }
    }
}

/// One term of a field selector: a field path, an operator and a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field, as `metadata.name` or `spec.nodeName` (kept as written;
    /// the API server decides which fields a kind supports).
    pub field: Str,
    /// The operator.
    pub operator: FieldOperator,
    /// The value, unescaped (may be empty: `spec.nodeName=`).
    pub value: Str,
}

impl FieldRequirement {
    /// True when the field's value (`None` when the object has no such
    /// field, which compares as the empty string) satisfies the term.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        let equal = value.unwrap_or("") == self.value.as_str();
        match self.operator {
            FieldOperator::Equals => equal,
            FieldOperator::NotEquals => !equal,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.field)?;
        f.write_str(self.operator.as_str())?;
        for c in self.value.chars() {
            if matches!(c, '\\' | ',' | '=') {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parsed field selector: terms that must all hold. The empty selector
/// matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches everything.
    pub const fn everything() -> Self {
        FieldSelector {
            requirements: Vec::new(),
        }
    }

    /// Parses the string form as Kubernetes' `fields.ParseSelector`:
    /// comma-separated `field=value`, `field==value` or `field!=value`
    /// terms; in values `\`, `,` and `=` are escaped with a backslash. The
    /// field is everything before the first operator, kept as written.
    #[doc(alias = "fields.ParseSelector")]
    pub fn parse(input: &str) -> Result<Self, Error> {
        let terms = split_terms(input);
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw)) = split_term(term) else {
                return Err(Error::InvalidFieldTerm {
                    selector: input.to_string(),
                    term: term.to_string(),
                });
            };
            requirements.push(FieldRequirement {
                field: Str::from(field),
                operator,
                value: unescape(raw)?,
            });
        }
        // Kubernetes sorts the terms as written; sorting their canonical
        // form instead keeps the order stable across a print/parse round trip.
        requirements.sort_by_cached_key(ToString::to_string);
        Ok(FieldSelector { requirements })
    }

    /// A selector of one `field=value` term.
    pub fn one_term(field: impl Into<Str>, value: impl Into<Str>) -> Self {
        FieldSelector {
            requirements: vec![FieldRequirement {
                field: field.into(),
                operator: FieldOperator::Equals,
                value: value.into(),
            }],
        }
    }

    /// True when there are no terms (it matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms, so the API server can reject fields a kind does not
    /// support.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// True when every term holds; `get` returns an object's value for a
    /// field path (`None` when the object has no such field). Does not
    /// allocate.
    pub fn matches<'o>(&self, get: impl Fn(&str) -> Option<&'o str>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(get(&r.field)))
    }

    /// The value `field` must equal, when a `field=value` term pins it (what
    /// an index, such as pods by `spec.nodeName`, can look up).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field.as_str() == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        FieldSelector::parse(s)
    }
}

/// Splits on commas not escaped by a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits a term at its first operator; `!=` and `==` win over `=`.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

fn unescape(s: &str) -> Result<Str, Error> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(Str::from(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(other) => {
                    return Err(Error::InvalidEscape {
                        sequence: format!("\\{other}"),
                    })
                }
                None => {
                    return Err(Error::InvalidEscape {
                        sequence: "\\".to_string(),
                    })
                }
            },
            ',' | '=' => return Err(Error::UnescapedCharacter { character: c }),
            c => out.push(c),
        }
    }
    Ok(Str::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |f| pairs.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)
    }

    #[test]
    fn parse_and_print() {
        for (input, printed) in [
            ("", ""),
            ("x=a", "x=a"),
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("z=c,x=a", "x=a,z=c"),
            ("x!=a,y=b", "x!=a,y=b"),
            ("x==a", "x=a"),
            ("spec.nodeName=", "spec.nodeName="),
            (
                "metadata.name=x,metadata.namespace!=y",
                "metadata.name=x,metadata.namespace!=y",
            ),
            (r"x=a\,b", r"x=a\,b"),
            (r"x=a\=b", r"x=a\=b"),
            (r"x=a\\b", r"x=a\\b"),
            ("x=a,,y=b", "x=a,y=b"),
            ("x=a,", "x=a"),
        ] {
            let sel = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.to_string(), printed, "{input:?}");
            assert_eq!(FieldSelector::parse(printed).unwrap(), sel, "{printed:?}");
        }
        let sel = FieldSelector::parse(r"x=a\,b\=c\\d").unwrap();
        assert_eq!(sel.requirements()[0].value, r"a,b=c\d");
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert_eq!(
            FieldSelector::parse("").unwrap(),
            FieldSelector::everything()
        );
    }

    #[test]
    fn parse_errors() {
        for (input, message) in [
            ("x", "invalid field selector \"x\": can't understand \"x\""),
            (
                "x=a,y",
                "invalid field selector \"x=a,y\": can't understand \"y\"",
            ),
            (
                "x=a||y=b",
                "invalid field selector: unescaped character in value: =",
            ),
            (
                "x==a==b",
                "invalid field selector: unescaped character in value: =",
            ),
            (
                r"x=a\b",
                r"invalid field selector: invalid escape sequence: \b",
            ),
            (
                r"x=a\",
                r"invalid field selector: invalid escape sequence: \",
            ),
        ] {
            let err = FieldSelector::parse(input).expect_err(input);
            assert_eq!(err.to_string(), message, "{input:?}");
        }
    }

    #[test]
    fn matching() {
        let pod = [
            ("metadata.name", "web"),
            ("spec.nodeName", ""),
            ("status.phase", "Running"),
        ];
        for (selector, want) in [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name!=db", true),
            ("spec.nodeName=", true),
            ("status.phase=Running,metadata.name=web", true),
            ("metadata.namespace=", true),
            ("metadata.namespace!=x", true),
            ("metadata.name=db", false),
            ("metadata.name!=web", false),
            ("spec.nodeName!=", false),
            ("status.phase=Running,metadata.name=db", false),
            ("metadata.namespace=x", false),
        ] {
            let sel = FieldSelector::parse(selector).unwrap();
            assert_eq!(sel.matches(fields(&pod)), want, "{selector:?}");
        }
        let sel = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed").unwrap();
        assert_eq!(sel.requires_exact_match("spec.nodeName"), Some("n1"));
        assert_eq!(sel.requires_exact_match("status.phase"), None);
        assert_eq!(
            sel.requirements()
                .iter()
                .map(|r| r.field.as_str())
                .collect::<Vec<_>>(),
            ["spec.nodeName", "status.phase"]
        );
        assert_eq!(
            FieldSelector::one_term("metadata.name", "a,b").to_string(),
            r"metadata.name=a\,b"
        );
    }
}
