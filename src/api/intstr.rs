//! `IntOrString`: a field that holds a number or a string, such as a port
//! (`8080` or `http`) or a surge (`1` or `25%`).
//!
//! Rollout fields (`maxSurge`, `maxUnavailable`, a budget's `minAvailable`)
//! take either an absolute count or a percentage of a total;
//! [`IntOrString::scaled_value`] turns either into a count, as Kubernetes'
//! `GetScaledValueFromIntOrPercent` does, with exact integer arithmetic.
//!
//! ```
//! use keelson::api::IntOrString;
//!
//! let surge = IntOrString::from("25%");
//! assert!(surge.is_percent());
//! assert_eq!(surge.scaled_value(10, true).unwrap(), 3);  // 2.5 rounded up
//! assert_eq!(surge.scaled_value(10, false).unwrap(), 2); // 2.5 rounded down
//! assert_eq!(IntOrString::Int(4).scaled_value(10, true).unwrap(), 4);
//! assert!(IntOrString::from("http").scaled_value(10, true).is_err());
//! ```
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::validation::{ErrorList, FieldError, Path};
use super::Str;

/// What can go wrong turning an [`IntOrString`] into a count.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string that does not end in `%`.
    #[error("invalid value for IntOrString: invalid type: string {value:?} is not a percentage")]
    NotPercent {
        /// The string.
        value: String,
    },
    /// A percentage whose number does not parse.
    #[error("invalid value for IntOrString: invalid value {value:?}: {source}")]
    InvalidPercent {
        /// The string.
        value: String,
        /// Why the number does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
    /// The scaled value does not fit an `i32`.
    #[error("{value} of {total} is out of range")]
    OutOfRange {
        /// The value, as written.
        value: String,
        /// The total it was scaled against.
        total: i32,
    },
}

const PERCENT_MESSAGE: &str = "a valid percent string must be a numeric string followed by an \
     ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')";

/// A number or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// A number.
    Int(i32),
    /// A string (a port name, a percentage).
    String(Str),
}

impl IntOrString {
    /// A number when `s` is one (`"8080"` → `Int(8080)`), else a string
    /// (Kubernetes' `intstr.Parse`).
    pub fn parse(s: &str) -> IntOrString {
        match s.parse::<i32>() {
            Ok(i) => IntOrString::Int(i),
            Err(_) => IntOrString::String(Str::from(s)),
        }
    }

    /// The number, or the string read as a number, or 0 (Kubernetes'
    /// `IntValue`).
    pub fn int_value(&self) -> i32 {
        match self {
            IntOrString::Int(i) => *i,
            IntOrString::String(s) => s.parse().unwrap_or(0),
        }
    }

    /// True for a string ending in `%`.
    pub fn is_percent(&self) -> bool {
        matches!(self, IntOrString::String(s) if s.ends_with('%'))
    }

    /// The number of a percentage (`"25%"` → 25), if this is a percentage
    /// whose number parses.
    pub fn percent(&self) -> Option<i64> {
        match self {
            IntOrString::String(s) => s.strip_suffix('%')?.parse().ok(),
            IntOrString::Int(_) => None,
        }
    }

    /// The count this value stands for against `total`: an integer as is, a
    /// percentage as `value * total / 100`, rounded up or down (Kubernetes'
    /// `GetScaledValueFromIntOrPercent`). A string that is not a percentage
    /// is an error.
    #[doc(alias = "GetScaledValueFromIntOrPercent")]
    pub fn scaled_value(&self, total: i32, round_up: bool) -> Result<i32, Error> {
        let s = match self {
            IntOrString::Int(v) => return Ok(*v),
            IntOrString::String(s) => s,
        };
        let Some(number) = s.strip_suffix('%') else {
            return Err(Error::NotPercent {
                value: s.to_string(),
            });
        };
        let percent: i64 = number.parse().map_err(|source| Error::InvalidPercent {
            value: s.to_string(),
            source,
        })?;
        let out_of_range = || Error::OutOfRange {
            value: s.to_string(),
            total,
        };
        let product = i128::from(percent) * i128::from(total);
        let scaled = if round_up {
            // Ceiling division for either sign.
            -((-product).div_euclid(100))
        } else {
            product.div_euclid(100)
        };
        i32::try_from(scaled).map_err(|_| out_of_range())
    }
}

/// Checks a non-negative integer or a percentage `N%` (Kubernetes'
/// `ValidatePositiveIntOrPercent`).
pub fn validate_int_or_percent(v: &IntOrString, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    match v {
        IntOrString::Int(i) => {
            if *i < 0 {
                errors.push(FieldError::invalid(
                    path,
                    i,
                    "must be greater than or equal to 0",
                ));
            }
        }
        IntOrString::String(s) => {
            if !is_valid_percent(s) {
                errors.push(FieldError::invalid(path, s.as_str(), PERCENT_MESSAGE));
            }
        }
    }
    errors
}

/// Checks that a percentage is at most `100%` (integers pass; Kubernetes'
/// `IsNotMoreThan100Percent`).
pub fn validate_percent_at_most_100(v: &IntOrString, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if let (IntOrString::String(s), Some(p)) = (v, v.percent()) {
        if p > 100 {
            errors.push(FieldError::invalid(
                path,
                s.as_str(),
                "must not be greater than 100%",
            ));
        }
    }
    errors
}

/// Problems with `port` as a port number (empty when it is 1 to 65535).
pub fn is_valid_port_num(port: i32) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// Problems with `name` as a port name (an IANA service name: at most 15
/// lower-case alphanumerics and hyphens, at least one letter, no `--`, no
/// hyphen at either end).
pub fn is_valid_port_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    let charset_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !charset_ok {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    } else if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Checks a port given by number (1 to 65535) or by name (Kubernetes'
/// `ValidatePortNumOrName`, for probes and a Service's `targetPort`).
pub fn validate_port_num_or_name(port: &IntOrString, path: &Path<'_>) -> ErrorList {
    match port {
        IntOrString::Int(i) => is_valid_port_num(*i)
            .into_iter()
            .map(|m| FieldError::invalid(path, i, m))
            .collect(),
        IntOrString::String(s) => is_valid_port_name(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, s.as_str(), m))
            .collect(),
    }
}

/// True for `[0-9]+%`.
fn is_valid_percent(s: &str) -> bool {
    s.strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl From<i32> for IntOrString {
    fn from(v: i32) -> Self {
        IntOrString::Int(v)
    }
}

impl From<&str> for IntOrString {
    fn from(v: &str) -> Self {
        IntOrString::String(Str::from(v))
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => serializer.serialize_i32(*i),
            IntOrString::String(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(Str::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format_args!("integer {v} out of range")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format_args!("integer {v} out of range")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> IntOrString {
        IntOrString::from(v)
    }

    /// Kubernetes' `TestGetScaledValueFromIntOrPercent`, plus edges.
    #[test]
    fn scaled_values() {
        let table: &[(IntOrString, i32, bool, Result<i32, ()>)] = &[
            (IntOrString::Int(123), 100, true, Ok(123)),
            (s("90%"), 100, true, Ok(90)),
            (s("90%"), 95, true, Ok(86)),
            (s("90%"), 95, false, Ok(85)),
            (s("%"), 100, false, Err(())),
            (s("90#"), 100, false, Err(())),
            (s("#%"), 100, false, Err(())),
            (s("90"), 100, false, Err(())),
            (s("25%"), 10, true, Ok(3)),
            (s("25%"), 10, false, Ok(2)),
            (s("0%"), 10, true, Ok(0)),
            (s("100%"), 7, false, Ok(7)),
            (s("+50%"), 3, true, Ok(2)),
            (s("-25%"), 10, true, Ok(-2)),
            (s("-25%"), 10, false, Ok(-3)),
            (s("1%"), 1, true, Ok(1)),
            (s("1%"), 1, false, Ok(0)),
            (s("200%"), i32::MAX, false, Err(())),
            (s("99999999999999999999%"), 1, false, Err(())),
            (s("http"), 10, true, Err(())),
        ];
        for (value, total, round_up, want) in table {
            let got = value.scaled_value(*total, *round_up).map_err(|_| ());
            assert_eq!(got, *want, "{value} of {total} (round up {round_up})");
        }
        assert_eq!(
            s("http").scaled_value(10, true).unwrap_err().to_string(),
            "invalid value for IntOrString: invalid type: string \"http\" is not a percentage"
        );
        assert!(matches!(
            s("x%").scaled_value(10, true),
            Err(Error::InvalidPercent { .. })
        ));
        assert!(s("5%").is_percent());
        assert!(!s("5").is_percent());
        assert!(!IntOrString::Int(5).is_percent());
        assert_eq!(s("5%").percent(), Some(5));
    }

    #[test]
    fn validation() {
        let path = Path::root("spec");
        let strategy = path.child("strategy");
        let field = strategy.child("maxSurge");
        for (value, want) in [
            (IntOrString::Int(0), None),
            (IntOrString::Int(3), None),
            (IntOrString::Int(-1), Some("spec.strategy.maxSurge: Invalid value: -1: must be greater than or equal to 0")),
            (s("0%"), None),
            (s("25%"), None),
            (s("150%"), None),
            (s("-1%"), Some("spec.strategy.maxSurge: Invalid value: \"-1%\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')")),
            (s("%"), Some("spec.strategy.maxSurge: Invalid value: \"%\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')")),
            (s("25"), Some("spec.strategy.maxSurge: Invalid value: \"25\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')")),
        ] {
            let errors = validate_int_or_percent(&value, &field);
            assert_eq!(errors.iter().next().map(ToString::to_string).as_deref(), want, "{value}");
            assert!(errors.len() <= 1);
        }
        assert!(validate_percent_at_most_100(&s("100%"), &field).is_empty());
        assert!(validate_percent_at_most_100(&IntOrString::Int(500), &field).is_empty());
        assert_eq!(
            validate_percent_at_most_100(&s("101%"), &field).to_string(),
            "spec.strategy.maxSurge: Invalid value: \"101%\": must not be greater than 100%"
        );
    }

    #[test]
    fn ports() {
        let path = Path::root("port");
        for (port, want) in [
            (IntOrString::Int(80), vec![]),
            (IntOrString::Int(65535), vec![]),
            (
                IntOrString::Int(0),
                vec!["must be between 1 and 65535, inclusive"],
            ),
            (
                IntOrString::Int(65536),
                vec!["must be between 1 and 65535, inclusive"],
            ),
            (s("http"), vec![]),
            (s("h2c-web"), vec![]),
            (
                s("a-very-long-port-name"),
                vec!["must be no more than 15 characters"],
            ),
            (
                s("HTTP"),
                vec!["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"],
            ),
            (
                s(""),
                vec!["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"],
            ),
            (s("8080"), vec!["must contain at least one letter (a-z)"]),
            (s("a--b"), vec!["must not contain consecutive hyphens"]),
            (s("-ab"), vec!["must not begin or end with a hyphen"]),
        ] {
            let errors = validate_port_num_or_name(&port, &path);
            let got: Vec<&str> = errors.iter().map(|e| e.detail.as_str()).collect();
            assert_eq!(got, want, "{port}");
        }
        assert_eq!(IntOrString::parse("8080"), IntOrString::Int(8080));
        assert_eq!(IntOrString::parse("http"), s("http"));
        assert_eq!(s("42").int_value(), 42);
        assert_eq!(s("x").int_value(), 0);
    }

    proptest::proptest! {
        #[test]
        fn scaled_value_never_panics(text in "\\PC{0,12}", total in proptest::prelude::any::<i32>(), up in proptest::prelude::any::<bool>()) {
            let _ = s(&text).scaled_value(total, up);
            let _ = s(&format!("{text}%")).scaled_value(total, up);
        }

        #[test]
        fn percent_scaling_is_exact(p in 0i64..=1000, total in 0i32..100_000) {
            let v = s(&format!("{p}%"));
            let down = v.scaled_value(total, false).unwrap();
            let up = v.scaled_value(total, true).unwrap();
            let exact = p * i64::from(total);
            proptest::prop_assert_eq!(i64::from(down), exact / 100);
            proptest::prop_assert_eq!(i64::from(up), (exact + 99) / 100);
        }
    }

    #[test]
    fn serde_round_trip() {
        for json in ["25", r#""25%""#, r#""http""#] {
            let v: IntOrString = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&v).unwrap(), json);
        }
        assert!(serde_json::from_str::<IntOrString>("4294967296").is_err());
    }
}
