//! `Quantity`: resource amounts such as `100m`, `1.5Gi`, `2e3`.
//!
//! A [`Quantity`] keeps the string it was written as, so decoding is cheap
//! and a JSON round trip returns the input unchanged. Its value is computed
//! on demand by [`Quantity::parse`] into a [`ParsedQuantity`]: an exact
//! `mantissa × 10^scale` (no floating point), parsed exactly as Kubernetes'
//! `resource.ParseQuantity` does:
//!
//! - binary SI suffixes `Ki Mi Gi Ti Pi Ei` (powers of 1024);
//! - decimal SI suffixes `n u m` (none) `k M G T P E` (powers of 1000);
//! - decimal exponents `1e3`, `1E-3`; signs; fractions (`0.5`, `.5`, `1.`);
//! - values needing more than nine fractional digits round away from zero
//!   to nano units (`0.1n` is `1n`); more than 18 significant digits cap at
//!   2^63 - 1.
//!
//! ```
//! use keelson::api::quantity::{Quantity, ResourceList};
//! use std::cmp::Ordering;
//!
//! let cpu = Quantity::from("1500m");
//! assert_eq!(cpu.milli_value(), 1500);
//! assert_eq!(cpu.value(), 2); // rounded up, as Kubernetes' Value()
//!
//! assert_eq!(Quantity::from("1024Ki").canonical().unwrap(), "1Mi");
//! assert_eq!(Quantity::from("0.5").canonical().unwrap(), "500m");
//! assert_eq!(Quantity::from("1.5Gi").canonical().unwrap(), "1536Mi");
//!
//! let sum = Quantity::from("1Gi").checked_add(&Quantity::from("512Mi")).unwrap();
//! assert_eq!(sum, "1536Mi");
//! assert_eq!(Quantity::from("1k").compare(&Quantity::from("1000")), Some(Ordering::Equal));
//!
//! // Resource lists: sum requests, check they fit.
//! let requests = ResourceList::from([("cpu", "250m"), ("memory", "64Mi")]);
//! let more = ResourceList::from([("cpu", "750m")]);
//! let total = keelson::api::quantity::sum(&requests, &more).unwrap();
//! assert_eq!(total.get("cpu").unwrap(), "1");
//! let allocatable = ResourceList::from([("cpu", "2"), ("memory", "1Gi")]);
//! assert!(keelson::api::quantity::fits(&total, &allocatable));
//! ```
//!
//! Malformed quantities are reported by [`validate_quantity`] with
//! Kubernetes' message.
//!
//! Where Kubernetes overflows silently, keelson does not: an exponent whose
//! scale would wrap a 32-bit integer is read at its true size (and rounds or
//! caps like any other value), `value()` and `milli_value()` saturate at the
//! `i64` bounds, and sums are checked (`checked_add`, [`sum`]).
use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::validation::{is_qualified_name, ErrorList, FieldError, Path};
use super::{SortedMap, Str};

mod parsed;

pub use self::parsed::{Format, ParsedQuantity};

/// The pattern Kubernetes names when a quantity is malformed.
pub const QUANTITY_PATTERN: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// What can go wrong with a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a number followed by a suffix.
    #[error("invalid quantity {input:?}: quantities must match the regular expression '{QUANTITY_PATTERN}'")]
    Format {
        /// The text.
        input: String,
    },
    /// The suffix is not one Kubernetes knows.
    #[error("invalid quantity {input:?}: unable to parse quantity's suffix {suffix:?}")]
    Suffix {
        /// The text.
        input: String,
        /// The suffix.
        suffix: String,
    },
    /// A sum or difference does not fit.
    #[error("quantity arithmetic overflowed for {resource:?}")]
    Overflow {
        /// The resource (`cpu`, `memory`), or empty.
        resource: String,
    },
    /// A quantity in a resource list is malformed.
    #[error("resource {resource:?}: {source}")]
    Resource {
        /// The resource name.
        resource: String,
        /// The problem.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Kubernetes' message for this error, without the input.
    pub fn kubernetes_message(&self) -> String {
        match self {
            Error::Format { .. } => {
                format!("quantities must match the regular expression '{QUANTITY_PATTERN}'")
            }
            Error::Suffix { .. } => "unable to parse quantity's suffix".to_string(),
            Error::Overflow { .. } => "quantity overflows".to_string(),
            Error::Resource { source, .. } => source.kubernetes_message(),
        }
    }
}

/// A resource amount in Kubernetes' quantity syntax, kept as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quantity(pub Str);

/// Amounts per resource name (`cpu`, `memory`, ...), as in `requests` and
/// `capacity`.
pub type ResourceList = SortedMap<Quantity>;

impl Quantity {
    /// Zero, written `0`.
    pub const ZERO: Quantity = Quantity(Str::from_static("0"));

    /// The quantity as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a quantity's text (see the [module docs](self)).
    pub fn parse(s: &str) -> Result<ParsedQuantity, Error> {
        ParsedQuantity::parse(s)
    }

    /// This quantity's value.
    pub fn parsed(&self) -> Result<ParsedQuantity, Error> {
        ParsedQuantity::parse(&self.0)
    }

    /// The value rounded away from zero to an integer (Kubernetes'
    /// `Value()`), or 0 when the quantity is malformed (validation rejects
    /// those before they are stored).
    pub fn value(&self) -> i64 {
        self.parsed().map_or(0, |q| q.value())
    }

    /// The value in thousandths, rounded away from zero (Kubernetes'
    /// `MilliValue()`), or 0 when the quantity is malformed.
    pub fn milli_value(&self) -> i64 {
        self.parsed().map_or(0, |q| q.milli_value())
    }

    /// [`value`](Quantity::value), with malformed quantities as errors.
    pub fn try_value(&self) -> Result<i64, Error> {
        self.parsed().map(|q| q.value())
    }

    /// [`milli_value`](Quantity::milli_value), with malformed quantities as
    /// errors.
    pub fn try_milli_value(&self) -> Result<i64, Error> {
        self.parsed().map(|q| q.milli_value())
    }

    /// `milli` thousandths, canonical decimal SI (`1500` → `1500m`, `2000` →
    /// `2`).
    pub fn from_milli(milli: i64) -> Quantity {
        Quantity::from(ParsedQuantity::from_milli(milli))
    }

    /// An integer, canonical decimal SI (`1000` → `1k`).
    pub fn from_value(value: i64) -> Quantity {
        Quantity::from(ParsedQuantity::from_int(value, Format::DecimalSI))
    }

    /// An integer of bytes, canonical binary SI (`1073741824` → `1Gi`).
    pub fn from_bytes(bytes: i64) -> Quantity {
        Quantity::from(ParsedQuantity::from_int(bytes, Format::BinarySI))
    }

    /// Kubernetes' canonical form of this quantity (`1000m` → `1`, `1024Ki`
    /// → `1Mi`, `0.5` → `500m`, `100M` → `100M`).
    pub fn canonical(&self) -> Result<Quantity, Error> {
        self.parsed().map(Quantity::from)
    }

    /// True when the value is zero (false when malformed).
    pub fn is_zero(&self) -> bool {
        self.parsed().is_ok_and(|q| q.is_zero())
    }

    /// `self + other` in canonical form, keeping `self`'s format; `None`
    /// when either is malformed or the sum overflows.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let sum = self.parsed().ok()?.checked_add(&other.parsed().ok()?)?;
        Some(Quantity::from(sum))
    }

    /// `self - other` in canonical form; `None` when either is malformed or
    /// the difference overflows.
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        let diff = self.parsed().ok()?.checked_sub(&other.parsed().ok()?)?;
        Some(Quantity::from(diff))
    }

    /// Compares values (`1Ki` equals `1024`); `None` when either is
    /// malformed. (The derived `Ord` compares the text.)
    pub fn compare(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.parsed().ok()?.cmp(&other.parsed().ok()?))
    }

    /// Same as [`compare`](Quantity::compare) (Kubernetes' `Cmp`).
    pub fn cmp_value(&self, other: &Quantity) -> Option<Ordering> {
        self.compare(other)
    }
}

impl std::str::FromStr for Quantity {
    type Err = Error;

    /// A validated quantity, kept as written.
    fn from_str(s: &str) -> Result<Quantity, Error> {
        ParsedQuantity::parse(s)?;
        Ok(Quantity(Str::from(s)))
    }
}

impl From<ParsedQuantity> for Quantity {
    /// The canonical form.
    fn from(q: ParsedQuantity) -> Self {
        Quantity(Str::from(q.to_string()))
    }
}

impl From<&ParsedQuantity> for Quantity {
    fn from(q: &ParsedQuantity) -> Self {
        Quantity(Str::from(q.to_string()))
    }
}

impl PartialEq<str> for Quantity {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Quantity {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Checks that `q` is a well-formed quantity, with Kubernetes' message.
pub fn validate_quantity(q: &Quantity, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if let Err(e) = q.parsed() {
        errors.push(FieldError::invalid(
            path,
            q.as_str(),
            e.kubernetes_message(),
        ));
    }
    errors
}

/// Checks that `q` is well formed and not negative (Kubernetes'
/// `ValidateNonnegativeQuantity`).
pub fn validate_nonnegative_quantity(q: &Quantity, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    match q.parsed() {
        Err(e) => errors.push(FieldError::invalid(
            path,
            q.as_str(),
            e.kubernetes_message(),
        )),
        Ok(v) if v.signum() < 0 => errors.push(FieldError::invalid(
            path,
            q.as_str(),
            "must be greater than or equal to 0",
        )),
        Ok(_) => {}
    }
    errors
}

/// Checks that `q` is well formed and greater than zero.
pub fn validate_positive_quantity(q: &Quantity, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    match q.parsed() {
        Err(e) => errors.push(FieldError::invalid(
            path,
            q.as_str(),
            e.kubernetes_message(),
        )),
        Ok(v) if v.signum() <= 0 => errors.push(FieldError::invalid(
            path,
            q.as_str(),
            "must be greater than 0",
        )),
        Ok(_) => {}
    }
    errors
}

/// Validates every quantity of a resource list as non-negative, at
/// `path[name]`.
pub fn validate_resource_list(list: &ResourceList, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    for (name, q) in list {
        errors.extend(validate_nonnegative_quantity(q, &path.key(name)));
    }
    errors
}

/// Resources counted in whole units (Kubernetes' `IsIntegerResourceName`):
/// object counts for quota and extended resources such as
/// `nvidia.com/gpu`.
pub fn is_integer_resource_name(name: &str) -> bool {
    const INTEGER_RESOURCES: [&str; 9] = [
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    ];
    INTEGER_RESOURCES.contains(&name) || is_extended_resource_name(name)
}

/// True for a resource outside the `kubernetes.io` domain with a
/// `domain/name` form (`nvidia.com/gpu`), Kubernetes' `IsExtendedResourceName`.
pub fn is_extended_resource_name(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    !native
        && !name.starts_with("requests.")
        && is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// Validates the amount of resource `name` as Kubernetes'
/// `ValidateResourceQuantityValue`: well formed, not negative, and whole
/// for integer resources.
pub fn validate_resource_quantity(name: &str, q: &Quantity, path: &Path<'_>) -> ErrorList {
    let mut errors = validate_nonnegative_quantity(q, path);
    if errors.is_empty() && is_integer_resource_name(name) && q.milli_value() % 1000 != 0 {
        errors.push(FieldError::invalid(path, q.as_str(), "must be an integer"));
    }
    errors
}

fn parse_in(resource: &str, q: &Quantity) -> Result<ParsedQuantity, Error> {
    q.parsed().map_err(|e| Error::Resource {
        resource: resource.to_string(),
        source: Box::new(e),
    })
}

/// The per-resource sum of two lists (resources in either), in canonical
/// form.
pub fn sum(a: &ResourceList, b: &ResourceList) -> Result<ResourceList, Error> {
    let mut out = ResourceList::new();
    for (name, q) in a.iter().chain(b.iter()) {
        let value = parse_in(name, q)?;
        let total = match out.get(name) {
            Some(acc) => {
                parse_in(name, acc)?
                    .checked_add(&value)
                    .ok_or_else(|| Error::Overflow {
                        resource: name.to_string(),
                    })?
            }
            None => value,
        };
        out.insert(name, Quantity::from(total));
    }
    Ok(out)
}

/// The per-resource sum of many lists, parsing each quantity once (what a
/// node's requested total over its pods needs).
pub fn sum_all<'a>(
    lists: impl IntoIterator<Item = &'a ResourceList>,
) -> Result<ResourceList, Error> {
    let mut totals: SortedMap<ParsedQuantity> = SortedMap::new();
    for list in lists {
        for (name, q) in list {
            let value = parse_in(name, q)?;
            match totals.get_mut(name) {
                Some(acc) => {
                    *acc = acc.checked_add(&value).ok_or_else(|| Error::Overflow {
                        resource: name.to_string(),
                    })?;
                }
                None => {
                    totals.insert(name, value);
                }
            }
        }
    }
    Ok(totals
        .iter()
        .map(|(name, total)| (name, Quantity::from(total)))
        .collect())
}

/// `a - b` per resource of `a` (what remains of `a` after `b`; resources only
/// in `b` are ignored). Results may be negative.
pub fn difference(a: &ResourceList, b: &ResourceList) -> Result<ResourceList, Error> {
    let mut out = ResourceList::new();
    for (name, q) in a {
        let mut value = parse_in(name, q)?;
        if let Some(other) = b.get(name) {
            value = value
                .checked_sub(&parse_in(name, other)?)
                .ok_or_else(|| Error::Overflow {
                    resource: name.to_string(),
                })?;
        }
        out.insert(name, Quantity::from(value));
    }
    Ok(out)
}

/// The resources of `requested` that `allocatable` cannot hold (a missing
/// allocatable resource holds zero; a malformed quantity never fits).
pub fn exceeding<'a>(requested: &'a ResourceList, allocatable: &ResourceList) -> Vec<&'a str> {
    requested
        .iter()
        .filter(|(name, want)| {
            let Ok(want) = want.parsed() else {
                return true;
            };
            let have = match allocatable.get(name) {
                Some(have) => match have.parsed() {
                    Ok(have) => have,
                    Err(_) => return true,
                },
                None => ParsedQuantity::ZERO,
            };
            want > have
        })
        .map(|(name, _)| name)
        .collect()
}

/// True when every requested amount is at most the allocatable one (a
/// missing allocatable resource holds zero).
pub fn fits(requested: &ResourceList, allocatable: &ResourceList) -> bool {
    exceeding(requested, allocatable).is_empty()
}

impl From<&str> for Quantity {
    fn from(s: &str) -> Self {
        Quantity(Str::from(s))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity (string or number)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                // Kubernetes trims surrounding whitespace when decoding.
                Ok(Quantity(Str::from(v.trim())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(Str::from(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(Str::from(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(Str::from(v.to_string())))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_helpers() {
        let q = Quantity::from("1500m");
        assert_eq!(q.value(), 2);
        assert_eq!(q.milli_value(), 1500);
        assert_eq!(q.try_milli_value(), Ok(1500));
        assert_eq!(Quantity::from("abc").milli_value(), 0);
        assert!(Quantity::from("abc").try_value().is_err());
        assert_eq!(Quantity::from_milli(1500), "1500m");
        assert_eq!(Quantity::from_milli(2000), "2");
        assert_eq!(Quantity::from_value(1000), "1k");
        assert_eq!(Quantity::from_bytes(1 << 30), "1Gi");
        assert_eq!(Quantity::from("2000m").canonical().unwrap(), "2");
        assert!(Quantity::from("0Gi").is_zero());
        assert!(!Quantity::from("x").is_zero());
        assert_eq!(
            Quantity::from("1Gi")
                .checked_sub(&Quantity::from("1Gi"))
                .unwrap(),
            "0"
        );
        assert_eq!(Quantity::from("x").checked_add(&Quantity::from("1")), None);
        assert_eq!(
            Quantity::from("100m").compare(&Quantity::from("50m")),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Quantity::from("1Ki").cmp_value(&Quantity::from("1024")),
            Some(Ordering::Equal)
        );
        assert_eq!(Quantity::from("1").compare(&Quantity::from("?")), None);
        // The text is kept as written.
        assert_eq!(Quantity::from("1000m").as_str(), "1000m");
        assert_eq!("1000m".parse::<Quantity>().unwrap(), "1000m");
        assert!("1000q".parse::<Quantity>().is_err());
    }

    #[test]
    fn serde_keeps_text_and_trims_like_kubernetes() {
        let q: Quantity = serde_json::from_str(r#""1000m""#).unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), r#""1000m""#);
        let q: Quantity = serde_json::from_str(r#"" 1 ""#).unwrap();
        assert_eq!(q, "1");
        let q: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(q, "2");
        let q: Quantity = serde_json::from_str("0.5").unwrap();
        assert_eq!(q.milli_value(), 500);
    }

    #[test]
    fn validation_messages_and_paths() {
        let path = Path::root("spec");
        let resources = path.child("resources");
        let requests = resources.child("requests");
        let cpu = requests.key("cpu");
        let errors = validate_quantity(&Quantity::from("1.1.M"), &cpu);
        assert_eq!(
            errors.to_string(),
            "spec.resources.requests[cpu]: Invalid value: \"1.1.M\": quantities must match the \
             regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        assert!(validate_quantity(&Quantity::from("-1"), &cpu).is_empty());
        let errors = validate_nonnegative_quantity(&Quantity::from("-1"), &cpu);
        assert_eq!(
            errors.to_string(),
            "spec.resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"
        );
        assert!(validate_nonnegative_quantity(&Quantity::from("0"), &cpu).is_empty());
        assert_eq!(
            validate_positive_quantity(&Quantity::from("0"), &cpu).len(),
            1
        );
        assert_eq!(
            validate_quantity(&Quantity::from("1Qi"), &cpu)
                .iter()
                .next()
                .unwrap()
                .detail,
            format!("quantities must match the regular expression '{QUANTITY_PATTERN}'")
        );
        assert_eq!(
            validate_quantity(&Quantity::from("1ki"), &cpu)
                .iter()
                .next()
                .unwrap()
                .detail,
            "unable to parse quantity's suffix"
        );
        let list = ResourceList::from([("cpu", "-1"), ("memory", "1Gi"), ("pods", "x")]);
        let errors = validate_resource_list(&list, &requests);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.resources.requests[cpu]",
                "spec.resources.requests[pods]"
            ]
        );
    }

    #[test]
    fn resource_lists() {
        let a = ResourceList::from([("cpu", "250m"), ("memory", "64Mi")]);
        let b = ResourceList::from([("cpu", "1"), ("nvidia.com/gpu", "1")]);
        let total = sum(&a, &b).unwrap();
        assert_eq!(total.get("cpu").unwrap(), "1250m");
        assert_eq!(total.get("memory").unwrap(), "64Mi");
        assert_eq!(total.get("nvidia.com/gpu").unwrap(), "1");
        let err = sum(&a, &ResourceList::from([("cpu", "lots")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resource \"cpu\": invalid quantity \"lots\": quantities must match the regular \
             expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );

        let allocatable = ResourceList::from([("cpu", "2"), ("memory", "1Gi")]);
        assert!(fits(&a, &allocatable));
        assert!(!fits(&total, &allocatable));
        assert_eq!(exceeding(&total, &allocatable), ["nvidia.com/gpu"]);
        let big = ResourceList::from([("cpu", "2001m"), ("memory", "1025Mi")]);
        assert_eq!(exceeding(&big, &allocatable), ["cpu", "memory"]);
        // Zero requests fit where nothing is allocatable.
        assert!(fits(
            &ResourceList::from([("gpu", "0")]),
            &ResourceList::new()
        ));
        assert!(!fits(&ResourceList::from([("cpu", "bad")]), &allocatable));

        let pods = [a.clone(), b.clone(), ResourceList::from([("cpu", "1500m")])];
        let all = sum_all(&pods).unwrap();
        assert_eq!(all.get("cpu").unwrap(), "2750m");
        assert_eq!(all.get("memory").unwrap(), "64Mi");
        assert_eq!(sum_all(&pods[..2]).unwrap(), sum(&a, &b).unwrap());
        assert!(sum_all(&[ResourceList::from([("cpu", "?")])]).is_err());
        let left = difference(&allocatable, &a).unwrap();
        assert_eq!(left.get("cpu").unwrap(), "1750m");
        assert_eq!(left.get("memory").unwrap(), "960Mi");
        let over = difference(&a, &allocatable).unwrap();
        assert_eq!(over.get("cpu").unwrap(), "-1750m");
    }

    #[test]
    fn integer_resources() {
        for (name, integer) in [
            ("pods", true),
            ("services.nodeports", true),
            ("nvidia.com/gpu", true),
            ("example.com/foo", true),
            ("cpu", false),
            ("memory", false),
            ("hugepages-2Mi", false),
            ("kubernetes.io/foo", false),
            ("requests.example.com/foo", false),
        ] {
            assert_eq!(is_integer_resource_name(name), integer, "{name}");
        }
        let path = Path::root("spec");
        assert!(validate_resource_quantity("cpu", &Quantity::from("500m"), &path).is_empty());
        assert!(
            validate_resource_quantity("nvidia.com/gpu", &Quantity::from("2"), &path).is_empty()
        );
        assert_eq!(
            validate_resource_quantity("nvidia.com/gpu", &Quantity::from("500m"), &path)
                .to_string(),
            "spec: Invalid value: \"500m\": must be an integer"
        );
        assert_eq!(Quantity::ZERO, "0");
        assert!(Quantity::ZERO.is_zero());
    }
}
