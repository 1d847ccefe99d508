//! The parsed label selector: [`Selector`], [`Requirement`], [`Operator`],
//! and the parser for the string form (`app=web,tier in (a,b),!canary`).
//!
//! The parser follows Kubernetes' `labels.Parse` token for token (`in` and
//! `notin` are also valid keys and values; `(a,,b)` holds an empty value),
//! and [`Selector`]'s `Display` prints the canonical form it re-parses to:
//!
//! ```
//! use keelson::api::selector::{Operator, Requirement, Selector};
//! use keelson::api::StringMap;
//!
//! let sel = Selector::parse("x notin (abc,,def),bar,z in (),w").unwrap();
//! assert_eq!(sel.to_string(), "bar,w,x notin (,abc,def),z in ()");
//!
//! // Built by hand: requirements are validated, values sorted.
//! let sel = Selector::everything()
//!     .and(Requirement::new("tier", Operator::In, ["web", "api"]).unwrap())
//!     .and(Requirement::new("replicas", Operator::Gt, ["2"]).unwrap());
//! assert_eq!(sel.to_string(), "replicas>2,tier in (api,web)");
//! let labels = StringMap::from([("tier", "api"), ("replicas", "3")]);
//! assert!(sel.matches(&labels));
//! assert!(Requirement::new("tier", Operator::In, Vec::<&str>::new()).is_err());
//! ```
use std::fmt;

use super::Error;
use crate::api::validation::{is_qualified_name, is_valid_label_value};
use crate::api::{Str, StringMap};

/// How a [`Requirement`] compares a label with its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `key=value` (also written `key==value`): the label is present and equal.
    Equals,
    /// `key!=value`: the label is absent or different.
    NotEquals,
    /// `key in (a,b)`: the label is present and one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key>5`: the label is an integer greater than the value.
    Gt,
    /// `key<5`: the label is an integer less than the value.
    Lt,
}

impl Operator {
    /// The operator as written in the string form (`=`, `!=`, `in`, `notin`,
    /// `exists`, `!`, `>`, `<`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::Gt => ">",
            Operator::Lt => "<",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition on one label key. Built only through [`Requirement::new`]
/// (or parsing), so it is always valid; its values are kept sorted and
/// de-duplicated, which makes matching a binary search.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: Str,
    op: Operator,
    values: Vec<Str>,
    /// For `Gt`/`Lt`: the value, parsed once.
    bound: i64,
}

impl Requirement {
    /// A validated requirement: the key must be a qualified name, values
    /// valid label values; `In`/`NotIn` need at least one value,
    /// `Equals`/`NotEquals`/`Gt`/`Lt` exactly one (an integer for `Gt`/`Lt`),
    /// `Exists`/`DoesNotExist` none. Values are sorted and de-duplicated.
    ///
    /// Errors name the offending part (`key`, `values`, `values[0]`).
    pub fn new<I, V>(key: impl Into<Str>, op: Operator, values: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = V>,
        V: Into<Str>,
    {
        let key = key.into();
        check_key(&key).map_err(|e| Error::field("key", e))?;
        let mut values: Vec<Str> = values.into_iter().map(Into::into).collect();
        let count_problem = match op {
            Operator::In | Operator::NotIn if values.is_empty() => {
                Some("for 'in', 'notin' operators, values set can't be empty")
            }
            Operator::Equals | Operator::NotEquals if values.len() != 1 => {
                Some("exact-match compatibility requires one single value")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                Some("values set must be empty for exists and does not exist")
            }
            Operator::Gt | Operator::Lt if values.len() != 1 => {
                Some("for 'Gt', 'Lt' operators, exactly one value is required")
            }
            _ => None,
        };
        if let Some(reason) = count_problem {
            return Err(Error::field(
                "values",
                Error::ValueCount {
                    operator: op,
                    count: values.len(),
                    reason,
                },
            ));
        }
        for (i, v) in values.iter().enumerate() {
            check_value(&key, v).map_err(|e| Error::field(format!("values[{i}]"), e))?;
        }
        let mut bound = 0;
        if let (Operator::Gt | Operator::Lt, [v]) = (op, values.as_slice()) {
            bound = v.parse::<i64>().map_err(|_| {
                Error::field(
                    "values[0]",
                    Error::NotAnInteger {
                        value: v.to_string(),
                    },
                )
            })?;
        }
        values.sort_unstable();
        values.dedup();
        Ok(Requirement {
            key,
            op,
            values,
            bound,
        })
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values, sorted and de-duplicated (empty for `Exists` and
    /// `DoesNotExist`).
    pub fn values(&self) -> &[Str] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        match self.values.as_slice() {
            [one] => one.as_str() == value,
            many => many.binary_search_by(|v| v.as_str().cmp(value)).is_ok(),
        }
    }

    /// True when `value` (the label's value, `None` when absent) satisfies
    /// this requirement. `NotIn` and `!=` hold for an absent label, as in
    /// Kubernetes. Does not allocate.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match (self.op, value) {
            (Operator::Equals | Operator::In, Some(v)) => self.has_value(v),
            (Operator::Equals | Operator::In, None) => false,
            (Operator::NotEquals | Operator::NotIn, Some(v)) => !self.has_value(v),
            (Operator::NotEquals | Operator::NotIn, None) => true,
            (Operator::Exists, v) => v.is_some(),
            (Operator::DoesNotExist, v) => v.is_none(),
            (Operator::Gt | Operator::Lt, None) => false,
            (op, Some(v)) => match v.parse::<i64>() {
                Ok(n) if op == Operator::Gt => n > self.bound,
                Ok(n) => n < self.bound,
                Err(_) => false,
            },
        }
    }

    /// True when `labels` satisfy this requirement. Does not allocate.
    pub fn matches(&self, labels: &StringMap) -> bool {
        self.matches_value(labels.get_str(&self.key))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (before, after) = match self.op {
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Exists => return f.write_str(&self.key),
            Operator::In => (" in (", ")"),
            Operator::NotIn => (" notin (", ")"),
            Operator::Equals => ("=", ""),
            Operator::NotEquals => ("!=", ""),
            Operator::Gt => (">", ""),
            Operator::Lt => ("<", ""),
        };
        f.write_str(&self.key)?;
        f.write_str(before)?;
        for (i, v) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(v)?;
        }
        f.write_str(after)
    }
}

/// A parsed label selector: requirements that must all hold, sorted by key.
/// The empty selector matches everything.
///
/// Parse once and match many times: [`Selector::matches`] does not allocate.
#[doc(alias = "labels.Selector")]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches every object (the empty string).
    pub const fn everything() -> Self {
        Selector {
            requirements: Vec::new(),
        }
    }

    /// Parses the string form exactly as Kubernetes' `labels.Parse`:
    /// `app=web`, `app==web`, `env!=qa`, `env in (prod,qa)`,
    /// `tier notin (front)`, `canary`, `!canary`, `n>3`, `n<3`, separated by
    /// commas; whitespace between tokens is ignored; the empty string selects
    /// everything.
    #[doc(alias = "labels.Parse")]
    pub fn parse(input: &str) -> Result<Self, Error> {
        let tokens = lex(input.as_bytes());
        let mut parser = Parser {
            input,
            tokens: &tokens,
            pos: 0,
        };
        let mut requirements = parser.parse()?;
        // A stable sort: requirements on one key keep their written order.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector { requirements })
    }

    /// A selector that matches labels equal to every entry of `labels`
    /// (Kubernetes' `SelectorFromValidatedSet`), validating keys and values.
    #[doc(alias = "SelectorFromSet")]
    pub fn from_labels(labels: &StringMap) -> Result<Self, Error> {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement::new(k, Operator::Equals, [v.clone()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selector { requirements })
    }

    /// Builds from requirements (sorted here by key).
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector { requirements }
    }

    /// Adds a requirement, keeping the order by key.
    #[must_use]
    pub fn and(mut self, requirement: Requirement) -> Self {
        let at = self
            .requirements
            .partition_point(|r| r.key <= requirement.key);
        self.requirements.insert(at, requirement);
        self
    }

    /// True when the selector has no requirements (it matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when `labels` satisfy every requirement. Does not allocate.
    pub fn matches(&self, labels: &StringMap) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Like [`matches`](Selector::matches), with labels looked up through
    /// `get` (for label sources other than a [`StringMap`]).
    pub fn matches_with<'l>(&self, get: impl Fn(&str) -> Option<&'l str>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(get(&r.key)))
    }

    /// The value this selector requires `key` to have, when it pins one
    /// exactly (`key=v` or `key in (v)`): what an index can look up.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.key.as_str() == key)
            .and_then(|r| match (r.op, r.values.as_slice()) {
                (Operator::Equals | Operator::In, [v]) => Some(v.as_str()),
                _ => None,
            })
    }
}

impl fmt::Display for Selector {
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

impl std::str::FromStr for Selector {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Selector::parse(s)
    }
}

pub(super) fn check_key(key: &str) -> Result<(), Error> {
    let problems = is_qualified_name(key);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidKey {
            key: key.to_string(),
            reason: problems.join("; "),
        })
    }
}

pub(super) fn check_value(key: &str, value: &str) -> Result<(), Error> {
    let problems = is_valid_label_value(value);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            reason: problems.join("; "),
        })
    }
}

// ---- lexer ----------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    End,
    OpenPar,
    ClosePar,
    Comma,
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    Gt,
    Lt,
    In,
    NotIn,
    Ident,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn symbol(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b"(" => Tok::OpenPar,
        b")" => Tok::ClosePar,
        b"," => Tok::Comma,
        b"!" => Tok::Not,
        b"=" => Tok::Equals,
        b"==" => Tok::DoubleEquals,
        b"!=" => Tok::NotEquals,
        b">" => Tok::Gt,
        b"<" => Tok::Lt,
        _ => return None,
    })
}

/// Splits the input into tokens the way Kubernetes' lexer does, byte by
/// byte: a NUL byte ends the input where a token could start and separates
/// tokens elsewhere; operator symbols take the longest match (`!=`, `==`).
fn lex(s: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    loop {
        while pos < s.len() && is_whitespace(s[pos]) {
            pos += 1;
        }
        if pos >= s.len() || s[pos] == 0 {
            tokens.push(Token {
                tok: Tok::End,
                start: pos,
                end: pos,
            });
            return tokens;
        }
        let start = pos;
        if is_special(s[pos]) {
            // Every single special byte is a symbol; extend while the longer
            // string still is one.
            let mut end = pos + 1;
            let mut tok = symbol(&s[pos..end]).unwrap_or(Tok::End);
            while end < s.len() && is_special(s[end]) {
                match symbol(&s[pos..=end]) {
                    Some(t) => {
                        tok = t;
                        end += 1;
                    }
                    None => break,
                }
            }
            tokens.push(Token { tok, start, end });
            // A NUL right after a symbol is consumed as a separator.
            pos = if end < s.len() && s[end] == 0 {
                end + 1
            } else {
                end
            };
        } else {
            let mut end = pos;
            while end < s.len() && s[end] != 0 && !is_special(s[end]) && !is_whitespace(s[end]) {
                end += 1;
            }
            let tok = match &s[start..end] {
                b"in" => Tok::In,
                b"notin" => Tok::NotIn,
                _ => Tok::Ident,
            };
            tokens.push(Token { tok, start, end });
            // A NUL inside an identifier is consumed as a separator.
            pos = if end < s.len() && s[end] == 0 {
                end + 1
            } else {
                end
            };
        }
    }
}

// ---- parser ---------------------------------------------------------------

struct Parser<'a> {
    input: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

/// In value and key position the words `in` and `notin` are identifiers.
fn as_value(tok: Tok) -> Tok {
    match tok {
        Tok::In | Tok::NotIn => Tok::Ident,
        t => t,
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Token {
        // The token list always ends with `End`, and the parser never moves
        // past it.
        self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        // Token bounds fall on ASCII bytes or the input's ends, so they are
        // char boundaries; `get` keeps this panic-free regardless.
        self.input.get(t.start..t.end).unwrap_or("")
    }

    fn syntax(&self, t: Token, expected: &'static str) -> Error {
        Error::Syntax {
            position: t.start,
            found: self.text(t).to_string(),
            expected,
        }
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, Error> {
        let mut requirements = Vec::new();
        loop {
            let t = self.peek();
            match as_value(t.tok) {
                Tok::Ident | Tok::Not => {
                    requirements.push(self.requirement()?);
                    let after = self.next();
                    match after.tok {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let t2 = self.peek();
                            if !matches!(as_value(t2.tok), Tok::Ident | Tok::Not) {
                                return Err(self.syntax(t2, "identifier after ','"));
                            }
                        }
                        _ => return Err(self.syntax(after, "',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(requirements),
                _ => return Err(self.syntax(t, "!, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, Error> {
        let mut t = self.next();
        let negated = t.tok == Tok::Not;
        if negated {
            t = self.next();
        }
        if as_value(t.tok) != Tok::Ident {
            return Err(self.syntax(t, "identifier"));
        }
        let key = self.text(t);
        check_key(key).map_err(|e| Error::at(t.start, e))?;
        let ahead = self.peek().tok;
        if negated || matches!(ahead, Tok::End | Tok::Comma) {
            let op = if negated {
                Operator::DoesNotExist
            } else {
                Operator::Exists
            };
            return Requirement::new(key, op, std::iter::empty::<Str>())
                .map_err(|e| Error::at(t.start, e));
        }
        let op_token = self.next();
        let op = match op_token.tok {
            Tok::In => Operator::In,
            Tok::NotIn => Operator::NotIn,
            Tok::Equals | Tok::DoubleEquals => Operator::Equals,
            Tok::NotEquals => Operator::NotEquals,
            Tok::Gt => Operator::Gt,
            Tok::Lt => Operator::Lt,
            _ => return Err(self.syntax(op_token, "in, notin, =, ==, !=, gt, lt")),
        };
        let values = match op {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => vec![self.exact_value()?],
        };
        // Report a bad value at its own position.
        for &(value, position) in &values {
            check_value(key, value).map_err(|e| Error::at(position, e))?;
            if matches!(op, Operator::Gt | Operator::Lt) && value.parse::<i64>().is_err() {
                let value = value.to_string();
                return Err(Error::at(position, Error::NotAnInteger { value }));
            }
        }
        Requirement::new(key, op, values.into_iter().map(|(v, _)| v))
            .map_err(|e| Error::at(t.start, e))
    }

    fn value_set(&mut self) -> Result<Vec<(&'a str, usize)>, Error> {
        let open = self.next();
        if open.tok != Tok::OpenPar {
            return Err(self.syntax(open, "'('"));
        }
        let first = self.peek();
        match as_value(first.tok) {
            Tok::Ident | Tok::Comma => {
                let values = self.identifiers()?;
                let close = self.next();
                if close.tok != Tok::ClosePar {
                    return Err(self.syntax(close, "')'"));
                }
                Ok(values)
            }
            Tok::ClosePar => {
                self.next();
                Ok(vec![("", first.start)])
            }
            _ => Err(self.syntax(first, "',', ')' or identifier")),
        }
    }

    /// A comma-separated list of possibly empty values: `(a,,b)` holds `a`,
    /// `""` and `b`.
    fn identifiers(&mut self) -> Result<Vec<(&'a str, usize)>, Error> {
        let mut values = Vec::new();
        loop {
            let t = self.next();
            match as_value(t.tok) {
                Tok::Ident => {
                    values.push((self.text(t), t.start));
                    let t2 = self.peek();
                    match t2.tok {
                        Tok::Comma => continue,
                        Tok::ClosePar => return Ok(values),
                        _ => return Err(self.syntax(t2, "',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if values.is_empty() {
                        values.push(("", t.start));
                    }
                    match self.peek().tok {
                        Tok::ClosePar => {
                            values.push(("", t.start));
                            return Ok(values);
                        }
                        Tok::Comma => {
                            self.next();
                            values.push(("", t.start));
                        }
                        _ => {}
                    }
                }
                _ => return Err(self.syntax(t, "',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<(&'a str, usize), Error> {
        let t = self.peek();
        if matches!(t.tok, Tok::End | Tok::Comma) {
            return Ok(("", t.start));
        }
        let t = self.next();
        if as_value(t.tok) == Tok::Ident {
            Ok((self.text(t), t.start))
        } else {
            Err(self.syntax(t, "identifier"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> StringMap {
        pairs.iter().copied().collect()
    }

    fn kinds(input: &str) -> Vec<Tok> {
        lex(input.as_bytes()).iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexer() {
        use Tok::*;
        assert_eq!(
            kinds("key in ( value )"),
            [Ident, In, OpenPar, Ident, ClosePar, End]
        );
        assert_eq!(
            kinds("key notin ( value )"),
            [Ident, NotIn, OpenPar, Ident, ClosePar, End]
        );
        assert_eq!(
            kinds("key in ( value1, value2 )"),
            [Ident, In, OpenPar, Ident, Comma, Ident, ClosePar, End]
        );
        assert_eq!(kinds("key"), [Ident, End]);
        assert_eq!(kinds("!key"), [Not, Ident, End]);
        assert_eq!(kinds("()"), [OpenPar, ClosePar, End]);
        assert_eq!(
            kinds("x in (),y"),
            [Ident, In, OpenPar, ClosePar, Comma, Ident, End]
        );
        assert_eq!(
            kinds("== != (), = notin"),
            [
                DoubleEquals,
                NotEquals,
                OpenPar,
                ClosePar,
                Comma,
                Equals,
                NotIn,
                End
            ]
        );
        assert_eq!(kinds("key>2"), [Ident, Gt, Ident, End]);
        assert_eq!(kinds("key<1"), [Ident, Lt, Ident, End]);
        assert_eq!(kinds("a===b"), [Ident, DoubleEquals, Equals, Ident, End]);
        assert_eq!(kinds("a!!b"), [Ident, Not, Not, Ident, End]);
        assert_eq!(kinds(" \t\r\n"), [End]);
        // NUL: the end where a token may start, a separator after one.
        assert_eq!(kinds("a \0b"), [Ident, End]);
        assert_eq!(kinds("a\0b"), [Ident, Ident, End]);
    }

    /// Kubernetes' `TestSelectorParse` and friends.
    #[test]
    fn parse_and_print() {
        for (input, printed) in [
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("", ""),
            ("x!=a,y=b", "x!=a,y=b"),
            ("x=", "x="),
            ("x= ", "x="),
            ("x=,z= ", "x=,z="),
            ("x= ,z= ", "x=,z="),
            ("!x", "!x"),
            ("x>1", "x>1"),
            ("x>1,z<5", "x>1,z<5"),
            ("x==a", "x=a"),
            ("z=a,x=b", "x=b,z=a"),
            ("a=x,x=a", "a=x,x=a"),
            ("x=a,a=x", "a=x,x=a"),
            ("x in (b,a,b)", "x in (a,b)"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("x in ()", "x in ()"),
            ("x in (,)", "x in ()"),
            ("x notin (a)", "x notin (a)"),
            (
                "  tier  in  ( web , api ) ,  !canary ",
                "!canary,tier in (api,web)",
            ),
            ("in in (in),notin=notin", "in in (in),notin=notin"),
            ("example.com/app=web", "example.com/app=web"),
            ("a,b", "a,b"),
            ("a \0garbage", "a"),
        ] {
            let sel = Selector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.to_string(), printed, "{input:?}");
            assert_eq!(Selector::parse(printed).unwrap(), sel, "{printed:?}");
        }
        assert!(Selector::parse("").unwrap().is_empty());
        assert_eq!(Selector::parse("").unwrap(), Selector::everything());
    }

    /// Kubernetes' `TestSetSelectorParser` table: `Some(canonical)` parses,
    /// `None` is an error.
    #[test]
    fn kubernetes_set_selector_parser_table() {
        for (input, want) in [
            ("", Some("")),
            ("\rx", Some("x")),
            (
                "this-is-a-dns.domain.com/key-with-dash",
                Some("this-is-a-dns.domain.com/key-with-dash"),
            ),
            (
                "this-is-another-dns.domain.com/key-with-dash in (so,what)",
                Some("this-is-another-dns.domain.com/key-with-dash in (so,what)"),
            ),
            (
                "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
                Some("0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
            ),
            ("foo  in\t (abc)", Some("foo in (abc)")),
            ("x notin\n (abc)", Some("x notin (abc)")),
            ("x  notin\t\t\t(abc,def)", Some("x notin (abc,def)")),
            ("x in (abc,def)", Some("x in (abc,def)")),
            ("x in (abc,)", Some("x in (,abc)")),
            ("x in ()", Some("x in ()")),
            (
                "x notin (abc,,def),bar,z in (),w",
                Some("bar,w,x notin (,abc,def),z in ()"),
            ),
            ("x,y in (a)", Some("x,y in (a)")),
            ("x=a", Some("x=a")),
            ("x>1", Some("x>1")),
            ("x<7", Some("x<7")),
            ("x=a,y!=b", Some("x=a,y!=b")),
            ("x=a,y!=b,z in (h,i,j)", Some("x=a,y!=b,z in (h,i,j)")),
            ("x=a||y=b", None),
            ("x,,y", None),
            (",x,y", None),
            ("x nott in (y)", None),
            ("x notin ( )", Some("x notin ()")),
            ("x notin (, a)", Some("x notin (,a)")),
            ("a in (xyz),", None),
            ("a in (xyz)b notin ()", None),
            ("a ", Some("a")),
            ("a in (x,y,notin, z,in)", Some("a in (in,notin,x,y,z)")),
            ("a in (xyz abc)", None),
            ("a notin(", None),
            ("a (", None),
            ("(", None),
        ] {
            let got = Selector::parse(input).map(|s| s.to_string()).ok();
            assert_eq!(got.as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn parse_errors() {
        for (input, message) in [
            (
                "x=a||y=b",
                "unable to parse requirement at position 2: invalid label value \"a||y\" for key \
                 \"x\": a valid label must be an empty string or consist of alphanumeric \
                 characters, '-', '_' or '.', and must start and end with an alphanumeric \
                 character (e.g. 'MyValue', or 'my_value', or '12345', regex used for validation \
                 is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
            (
                "x==a==b",
                "unable to parse requirement: found '==' at position 4, expected: ',' or 'end of string'",
            ),
            (
                "!x=a",
                "unable to parse requirement: found '=' at position 2, expected: ',' or 'end of string'",
            ),
            (
                "x<a",
                "unable to parse requirement at position 2: for 'Gt', 'Lt' operators, the value \
                 must be an integer, not \"a\"",
            ),
            (
                "x in (a",
                "unable to parse requirement: found '' at position 7, expected: ',' or ')'",
            ),
            (
                "x in a",
                "unable to parse requirement: found 'a' at position 5, expected: '('",
            ),
            (
                "x in (=)",
                "unable to parse requirement: found '=' at position 6, expected: ',', ')' or identifier",
            ),
            (
                "x in (a b)",
                "unable to parse requirement: found 'b' at position 8, expected: ',' or ')'",
            ),
            (
                "x=a,",
                "unable to parse requirement: found '' at position 4, expected: identifier after ','",
            ),
            (
                ",x",
                "unable to parse requirement: found ',' at position 0, expected: !, identifier, or 'end of string'",
            ),
            (
                "x y",
                "unable to parse requirement: found 'y' at position 2, expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "x=(",
                "unable to parse requirement: found '(' at position 2, expected: identifier",
            ),
            (
                "!",
                "unable to parse requirement: found '' at position 1, expected: identifier",
            ),
        ] {
            let err = Selector::parse(input).expect_err(input);
            assert_eq!(err.to_string(), message, "{input:?}");
        }
        let err = Selector::parse("a=b, Bad_Key-=c").unwrap_err();
        assert!(matches!(err, Error::At { position: 5, .. }), "{err:?}");
        assert!(err.to_string().starts_with(
            "unable to parse requirement at position 5: invalid label key \"Bad_Key-\""
        ));
        assert!(Selector::parse("x in (a,b").is_err());
        assert!(Selector::parse(&format!("x={}", "a".repeat(64))).is_err());
        assert!(Selector::parse(&format!("{}=a", "a".repeat(64))).is_err());
        assert!(Selector::parse("x>99999999999999999999").is_err());
        assert!(Selector::parse("é=a").is_err());
    }

    #[test]
    fn matching() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case<'_>] = &[
            ("", &[("x", "y")], true),
            ("x=y", &[("x", "y")], true),
            ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
            ("x!=y,z!=w", &[("x", "z"), ("z", "a")], true),
            ("notin=in", &[("notin", "in")], true),
            ("x", &[("x", "z")], true),
            ("!x", &[("y", "z")], true),
            ("x>1", &[("x", "2")], true),
            ("x<1", &[("x", "0")], true),
            ("x<1", &[("x", "-5")], true),
            ("x>1", &[("x", "+2")], true),
            ("x in (a,b)", &[("x", "b")], true),
            ("x notin (a,b)", &[("x", "c")], true),
            ("x notin (a,b)", &[], true),
            ("x!=y", &[], true),
            ("x in ()", &[("x", "")], true),
            ("x=", &[("x", "")], true),
            ("x=z", &[], false),
            ("x=y", &[("x", "z")], false),
            ("x=y,z=w", &[("x", "w"), ("z", "w")], false),
            ("x!=y,z!=w", &[("x", "z"), ("z", "w")], false),
            ("x", &[("y", "z")], false),
            ("!x", &[("x", "z")], false),
            ("x>1", &[("x", "0")], false),
            ("x>1", &[("x", "1")], false),
            ("x>1", &[("x", "a")], false),
            ("x>1", &[], false),
            ("x<1", &[("x", "2")], false),
            ("x in (a,b)", &[("x", "c")], false),
            ("x in (a,b)", &[], false),
            ("x notin (a,b)", &[("x", "a")], false),
            ("x=", &[], false),
        ];
        for (selector, set, want) in cases {
            let sel = Selector::parse(selector).unwrap();
            let set = labels(set);
            assert_eq!(sel.matches(&set), *want, "{selector:?} on {set:?}");
            assert_eq!(sel.matches_with(|k| set.get_str(k)), *want, "{selector:?}");
        }
    }

    #[test]
    fn requirement_rules() {
        let err = Requirement::new("x", Operator::In, Vec::<Str>::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: for 'in', 'notin' operators, values set can't be empty (operator in with 0 values)"
        );
        assert!(Requirement::new("x", Operator::Equals, ["a", "b"]).is_err());
        assert!(Requirement::new("x", Operator::Exists, ["a"]).is_err());
        assert!(Requirement::new("x", Operator::Gt, ["a"]).is_err());
        assert!(Requirement::new("x", Operator::Gt, ["1", "2"]).is_err());
        let err = Requirement::new("x", Operator::In, ["ok", "-bad"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("values[1]: invalid label value \"-bad\""),
            "{err}"
        );
        let err = Requirement::new("-x", Operator::Exists, Vec::<Str>::new()).unwrap_err();
        assert!(
            err.to_string().starts_with("key: invalid label key \"-x\""),
            "{err}"
        );
        let r = Requirement::new("x", Operator::NotIn, ["b", "a", "b"]).unwrap();
        assert_eq!(r.values(), ["a", "b"]);
        assert_eq!(r.to_string(), "x notin (a,b)");
        assert_eq!(r.key(), "x");
        assert_eq!(r.operator(), Operator::NotIn);
    }

    #[test]
    fn building_selectors() {
        let set = labels(&[("b", "2"), ("a", "1")]);
        let sel = Selector::from_labels(&set).unwrap();
        assert_eq!(sel.to_string(), "a=1,b=2");
        assert!(sel.matches(&set));
        assert_eq!(sel.requires_exact_match("a"), Some("1"));
        let sel = sel.and(Requirement::new("a0", Operator::Exists, Vec::<Str>::new()).unwrap());
        assert_eq!(sel.to_string(), "a=1,a0,b=2");
        assert_eq!(sel.requirements().len(), 3);
        assert_eq!(
            Selector::parse("x in (a)")
                .unwrap()
                .requires_exact_match("x"),
            Some("a")
        );
        assert_eq!(
            Selector::parse("x in (a,b)")
                .unwrap()
                .requires_exact_match("x"),
            None
        );
        assert!(Selector::from_labels(&labels(&[("a", "-")])).is_err());
        let parsed: Selector = "a=1".parse().unwrap();
        assert_eq!(parsed.to_string(), "a=1");
    }
}
