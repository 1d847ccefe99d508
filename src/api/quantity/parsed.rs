//! [`ParsedQuantity`]: a quantity's exact value, parsed as Kubernetes'
//! `resource.ParseQuantity` does, with its canonical form and arithmetic.
//!
//! ```
//! use keelson::api::quantity::{Format, ParsedQuantity};
//!
//! let q = ParsedQuantity::parse("1.5Gi").unwrap();
//! assert_eq!(q.format(), Format::BinarySI);
//! assert_eq!(q.value(), 1_610_612_736);
//! assert_eq!(q.to_string(), "1536Mi");
//!
//! // Exact: no floating point, rounding only where Kubernetes rounds.
//! let third = ParsedQuantity::parse("333333333n").unwrap();
//! let sum = third.checked_add(&third).unwrap().checked_add(&third).unwrap();
//! assert_eq!(sum.to_string(), "999999999n");
//! assert_eq!(ParsedQuantity::parse("0.1n").unwrap().to_string(), "1n");
//! assert!(ParsedQuantity::parse("1Ki") == ParsedQuantity::parse("1024"));
//! ```
use std::cmp::Ordering;
use std::fmt;

use super::Error;

/// How a quantity prefers to be written, taken from its suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `1e3`, `5E-2`: a base-10 exponent.
    DecimalExponent,
    /// `Ki`, `Mi`, ... `Ei`: powers of 1024.
    BinarySI,
    /// `n`, `u`, `m`, (none), `k`, `M`, `G`, `T`, `P`, `E`: powers of 1000.
    DecimalSI,
}

/// An exact quantity: `mantissa × 10^scale`, plus the [`Format`] its
/// canonical form uses. No floating point anywhere.
///
/// Equality and ordering compare values only (`1Ki == 1024`).
#[derive(Clone, Copy, Debug)]
pub struct ParsedQuantity {
    mantissa: i128,
    scale: i32,
    format: Format,
}

/// The largest magnitude parsing keeps where Kubernetes caps (2^63 - 1).
const MAX_ALLOWED: i128 = i64::MAX as i128;
/// Digits that fit the "fast path" Kubernetes takes without capping.
const MAX_INT64_FACTORS: usize = 18;
const NANO: i64 = -9;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn digit_count(mut m: u128) -> i64 {
    let mut n = 1;
    while m >= 10 {
        m /= 10;
        n += 1;
    }
    n
}

impl ParsedQuantity {
    /// Zero, written `0`.
    pub const ZERO: ParsedQuantity = ParsedQuantity {
        mantissa: 0,
        scale: 0,
        format: Format::DecimalSI,
    };

    /// `mantissa × 10^scale` in `format`.
    pub fn new(mantissa: i128, scale: i32, format: Format) -> Self {
        ParsedQuantity {
            mantissa,
            scale,
            format,
        }
        .normalized()
    }

    /// An integer value in `format` (Kubernetes' `NewQuantity`).
    pub fn from_int(value: i64, format: Format) -> Self {
        Self::new(i128::from(value), 0, format)
    }

    /// Thousandths, in decimal SI (Kubernetes' `NewMilliQuantity`).
    pub fn from_milli(milli: i64) -> Self {
        Self::new(i128::from(milli), -3, Format::DecimalSI)
    }

    /// Moves trailing zeros of the mantissa into the scale.
    fn normalized(mut self) -> Self {
        if self.mantissa == 0 {
            self.scale = 0;
            return self;
        }
        while self.mantissa % 10 == 0 && self.scale < i32::MAX {
            self.mantissa /= 10;
            self.scale += 1;
        }
        self
    }

    /// The mantissa (the value is `mantissa × 10^scale`; trailing zeros are
    /// kept in the scale).
    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// The base-10 scale.
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// The format of the canonical form.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The same value in another format.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.mantissa.signum() as i32
    }

    /// Parses `s` exactly as Kubernetes' `ParseQuantity`: a sign, digits
    /// with an optional `.` fraction, then a suffix (binary SI, decimal SI,
    /// or `e`/`E` and a signed exponent). Values that need more than nine
    /// fractional digits are rounded away from zero to nano units; values
    /// with more than 18 significant digits are capped at 2^63 - 1, as
    /// Kubernetes does.
    #[doc(alias = "ParseQuantity")]
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            return Err(Error::Format {
                input: String::new(),
            });
        }
        if s == "0" {
            return Ok(Self::ZERO);
        }
        let parts = split(s).ok_or_else(|| Error::Format {
            input: s.to_string(),
        })?;
        let (base, exponent, format) = interpret(parts.suffix).ok_or_else(|| Error::Suffix {
            input: s.to_string(),
            suffix: parts.suffix.to_string(),
        })?;
        let digits = parts.num.len() + parts.denom.len();
        let sign: i128 = if parts.positive { 1 } else { -1 };
        if base == 10 {
            let scale = i64::from(exponent) - parts.denom.len() as i64;
            if digits <= MAX_INT64_FACTORS && scale >= NANO {
                let m = parse_digits(parts.num, parts.denom);
                // `scale` lies in [-9, i32::MAX].
                let scale = i32::try_from(scale).unwrap_or(i32::MAX);
                return Ok(Self::new(sign * m, scale, format));
            }
        } else {
            let whole_digits = parts.num.len() as i64;
            let precision = 15 - whole_digits - i64::from(exponent) * 3 / 10 - 1;
            if parts.denom.is_empty() && precision >= 0 {
                let m = parse_digits(parts.num, "");
                if let Some(v) = i64::try_from(m)
                    .ok()
                    .and_then(|v| v.checked_mul(1i64 << exponent))
                {
                    return Ok(Self::new(sign * i128::from(v), 0, format));
                }
            }
        }
        Ok(slow_path(parts, base, exponent, format))
    }

    /// The value in units of `10^scale`, rounded away from zero, saturating
    /// at the `i64` bounds (Kubernetes' `ScaledValue`).
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let m = self.mantissa;
        if m == 0 {
            return 0;
        }
        let diff = i64::from(self.scale) - i64::from(scale);
        let v: i128 = if diff >= 0 {
            match u32::try_from(diff)
                .ok()
                .and_then(pow10)
                .and_then(|p| m.checked_mul(p))
            {
                Some(v) => v,
                None => return if m > 0 { i64::MAX } else { i64::MIN },
            }
        } else {
            match u32::try_from(-diff).ok().and_then(pow10) {
                Some(p) => {
                    let q = m / p;
                    if m % p != 0 {
                        q + m.signum()
                    } else {
                        q
                    }
                }
                // |m| < 10^39: the quotient is zero with a remainder.
                None => m.signum(),
            }
        };
        i64::try_from(v).unwrap_or(if v > 0 { i64::MAX } else { i64::MIN })
    }

    /// The value rounded away from zero to an integer (Kubernetes' `Value`).
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// The value as the nearest `f64` (Kubernetes' `AsApproximateFloat64`),
    /// for scoring and display only: arithmetic stays exact elsewhere.
    pub fn as_approximate_f64(&self) -> f64 {
        let m = self.mantissa as f64;
        // Dividing by an exact power of ten rounds once, where multiplying by
        // an inexact `0.1^n` would round twice. Beyond f64's range the power
        // saturates to infinity, and the value with it.
        if self.scale >= 0 {
            m * 10f64.powi(self.scale)
        } else {
            m / 10f64.powi(self.scale.saturating_neg())
        }
    }

    /// The value in thousandths, rounded away from zero (Kubernetes'
    /// `MilliValue`).
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// Both mantissas at the smaller scale, or `None` if that overflows.
    fn aligned(&self, other: &Self) -> Option<(i128, i128, i32)> {
        if self.mantissa == 0 {
            return Some((0, other.mantissa, other.scale));
        }
        if other.mantissa == 0 {
            return Some((self.mantissa, 0, self.scale));
        }
        let scale = self.scale.min(other.scale);
        let up = |q: &Self| -> Option<i128> {
            let shift = u32::try_from(i64::from(q.scale) - i64::from(scale)).ok()?;
            q.mantissa.checked_mul(pow10(shift)?)
        };
        Some((up(self)?, up(other)?, scale))
    }

    /// `self + other`, or `None` on overflow. Keeps `self`'s format unless
    /// `self` is zero (as Kubernetes' `Add`).
    pub fn checked_add(&self, other: &Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other)?;
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        Some(Self::new(a.checked_add(b)?, scale, format))
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(&self, other: &Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other)?;
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        Some(Self::new(a.checked_sub(b)?, scale, format))
    }

    /// `-self`, or `None` on overflow.
    pub fn checked_neg(&self) -> Option<Self> {
        Some(Self::new(
            self.mantissa.checked_neg()?,
            self.scale,
            self.format,
        ))
    }

    /// The value in Kubernetes' canonical form: `1000m` → `1`, `1024Ki` →
    /// `1Mi`, `0.5` → `500m`, `1.5Gi` → `1536Mi`.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    fn binary_form(&self) -> Option<(i128, usize)> {
        if self.scale < 0 {
            return None;
        }
        let v = self.mantissa.checked_mul(pow10(self.scale as u32)?)?;
        if v > -1024 && v < 1024 {
            return None;
        }
        let mut amount = v;
        let mut exp = 0;
        while exp < BINARY_SUFFIXES.len() - 1 && amount % 1024 == 0 {
            amount /= 1024;
            exp += 1;
        }
        Some((amount, exp))
    }
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
const DECIMAL_SUFFIXES: [&str; 10] = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];

impl fmt::Display for ParsedQuantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mantissa == 0 {
            return f.write_str("0");
        }
        if self.format == Format::BinarySI {
            if let Some((amount, exp)) = self.binary_form() {
                return write!(f, "{amount}{}", BINARY_SUFFIXES[exp]);
            }
        }
        // Move the exponent down to a multiple of three.
        let r = self.scale.rem_euclid(3);
        let exp = i64::from(self.scale) - i64::from(r);
        let write_amount = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            write!(f, "{}", self.mantissa)?;
            for _ in 0..r {
                f.write_str("0")?;
            }
            Ok(())
        };
        // Decimal SI has suffixes from n (-9) to E (18); outside that range
        // the exponent is written out, as Kubernetes does (`1000E` → `1e21`).
        if self.format != Format::DecimalExponent && (NANO..=18).contains(&exp) {
            write_amount(f)?;
            return f.write_str(DECIMAL_SUFFIXES[((exp - NANO) / 3) as usize]);
        }
        write_amount(f)?;
        if exp != 0 {
            write!(f, "e{exp}")?;
        }
        Ok(())
    }
}

impl PartialEq for ParsedQuantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ParsedQuantity {}

impl PartialOrd for ParsedQuantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ParsedQuantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let (sa, sb) = (self.mantissa.signum(), other.mantissa.signum());
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let magnitude = cmp_magnitude(
            self.mantissa.unsigned_abs(),
            self.scale,
            other.mantissa.unsigned_abs(),
            other.scale,
        );
        if sa > 0 {
            magnitude
        } else {
            magnitude.reverse()
        }
    }
}

impl std::hash::Hash for ParsedQuantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equal values have equal normalized forms (normalization stops only
        // at i32::MAX, which no two distinct scales of one value both reach).
        let n = self.normalized();
        n.mantissa.hash(state);
        n.scale.hash(state);
    }
}

/// Compares `a × 10^sa` with `b × 10^sb`, both non-zero.
fn cmp_magnitude(a: u128, sa: i32, b: u128, sb: i32) -> Ordering {
    let order_a = digit_count(a) + i64::from(sa);
    let order_b = digit_count(b) + i64::from(sb);
    if order_a != order_b {
        return order_a.cmp(&order_b);
    }
    // Same order of magnitude: the scales differ by fewer than 39.
    let scale_up = |m: u128, shift: i64| -> Option<u128> {
        10u128
            .checked_pow(u32::try_from(shift).ok()?)
            .and_then(|p| m.checked_mul(p))
    };
    match sa.cmp(&sb) {
        Ordering::Equal => a.cmp(&b),
        Ordering::Greater => match scale_up(a, i64::from(sa) - i64::from(sb)) {
            Some(a) => a.cmp(&b),
            None => Ordering::Greater,
        },
        Ordering::Less => match scale_up(b, i64::from(sb) - i64::from(sa)) {
            Some(b) => a.cmp(&b),
            None => Ordering::Less,
        },
    }
}

impl serde::Serialize for ParsedQuantity {
    /// The canonical string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ParsedQuantity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let q = super::Quantity::deserialize(deserializer)?;
        q.parsed().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for ParsedQuantity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

#[derive(Clone, Copy)]
struct Parts<'a> {
    positive: bool,
    /// Whole digits without leading zeros; `"0"` when there are none.
    num: &'a str,
    /// Fraction digits.
    denom: &'a str,
    suffix: &'a str,
}

/// Splits a quantity into sign, whole digits, fraction digits and suffix,
/// byte by byte as Kubernetes' `parseQuantityString`.
fn split(s: &str) -> Option<Parts<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut parts = Parts {
        positive: true,
        num: "0",
        denom: "",
        suffix: "",
    };
    match b.first() {
        Some(b'-') => {
            parts.positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Some(parts);
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos > start {
        parts.num = &s[start..pos];
    }
    if pos >= end {
        return Some(parts);
    }
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        parts.denom = &s[start..pos];
        if pos >= end {
            return Some(parts);
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return None;
    }
    parts.suffix = &s[suffix_start..];
    Some(parts)
}

/// The base, exponent and format a suffix stands for.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    if let Some(i) = DECIMAL_SUFFIXES.iter().position(|&x| x == suffix) {
        return Some((10, i as i32 * 3 + NANO as i32, Format::DecimalSI));
    }
    if let Some(i) = BINARY_SUFFIXES[1..].iter().position(|&x| x == suffix) {
        return Some((2, (i as i32 + 1) * 10, Format::BinarySI));
    }
    let rest = suffix.strip_prefix(['e', 'E'])?;
    if rest.is_empty() {
        return None;
    }
    let exponent: i64 = rest.parse().ok()?;
    // Kubernetes keeps the exponent as an int32, truncating.
    Some((10, exponent as i32, Format::DecimalExponent))
}

/// At most 18 digits in total, so the result fits.
fn parse_digits(num: &str, denom: &str) -> i128 {
    num.bytes()
        .chain(denom.bytes())
        .fold(0i128, |acc, d| acc * 10 + i128::from(d - b'0'))
}

/// Kubernetes' arbitrary-precision path: the exact value, rounded away from
/// zero to nano units and capped at 2^63 - 1.
fn slow_path(parts: Parts<'_>, base: u32, exponent: i32, format: Format) -> ParsedQuantity {
    if parts.num.len() + parts.denom.len() <= MAX_INT64_FACTORS {
        slow_path_small(parts, base, exponent, format)
    } else {
        slow_path_digits(parts, base, exponent, format)
    }
}

/// The slow path for at most 18 digits, in integers (no allocation): the
/// digits times 2^60 still fit a `u128`.
fn slow_path_small(parts: Parts<'_>, base: u32, exponent: i32, format: Format) -> ParsedQuantity {
    let digits = parse_digits(parts.num, parts.denom).unsigned_abs();
    let mut scale: i64 = -(parts.denom.len() as i64);
    let m = if base == 2 {
        digits << exponent.clamp(0, 60)
    } else {
        scale += i64::from(exponent);
        digits
    };
    if m == 0 {
        return ParsedQuantity::ZERO.with_format(format);
    }
    let nanos = if scale < NANO {
        // Round away from zero to nano units.
        let drop = (NANO - scale) as u64;
        match u32::try_from(drop).ok().and_then(|d| 10u128.checked_pow(d)) {
            Some(p) => Some(m / p + u128::from(m % p != 0)),
            None => Some(1),
        }
    } else {
        u32::try_from(scale - NANO)
            .ok()
            .and_then(|shift| 10u128.checked_pow(shift))
            .and_then(|p| m.checked_mul(p))
    };
    finish(parts.positive, nanos, format)
}

/// Signs, caps and re-formats a magnitude in nano units (`None`: too big).
fn finish(positive: bool, nanos: Option<u128>, mut format: Format) -> ParsedQuantity {
    let max_nanos = MAX_ALLOWED * 1_000_000_000;
    let nanos = nanos
        .and_then(|n| i128::try_from(n).ok())
        .map_or(max_nanos, |n| n.min(max_nanos));
    if format == Format::BinarySI && nanos < 1_000_000_000 {
        format = Format::DecimalSI;
    }
    let sign: i128 = if positive { 1 } else { -1 };
    ParsedQuantity::new(sign * nanos, NANO as i32, format)
}

/// The slow path for many digits, on a decimal digit vector.
fn slow_path_digits(parts: Parts<'_>, base: u32, exponent: i32, format: Format) -> ParsedQuantity {
    let mut digits: Vec<u8> = parts
        .num
        .bytes()
        .chain(parts.denom.bytes())
        .map(|d| d - b'0')
        .collect();
    let mut scale: i64 = -(parts.denom.len() as i64);
    if base == 2 {
        // Multiply the decimal digits by 2^exponent (exponent ≤ 60).
        let factor = 1u128 << exponent.clamp(0, 60);
        let mut carry: u128 = 0;
        for d in digits.iter_mut().rev() {
            let t = u128::from(*d) * factor + carry;
            *d = (t % 10) as u8;
            carry = t / 10;
        }
        let mut head = Vec::new();
        while carry > 0 {
            head.push((carry % 10) as u8);
            carry /= 10;
        }
        head.reverse();
        head.extend_from_slice(&digits);
        digits = head;
    } else {
        scale += i64::from(exponent);
    }
    let leading = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..leading);
    while digits.last() == Some(&0) {
        digits.pop();
        scale += 1;
    }
    if digits.is_empty() {
        return ParsedQuantity::ZERO.with_format(format);
    }
    // Round away from zero to nano units: the dropped digits end in a
    // non-zero digit, so any drop rounds up.
    let mut round_up = 0;
    if scale < NANO {
        let drop = (NANO - scale) as u64;
        if drop >= digits.len() as u64 {
            digits.clear();
        } else {
            digits.truncate(digits.len() - drop as usize);
        }
        round_up = 1;
        scale = NANO;
    }
    let nanos = if digits.len() as i64 + scale > 19 {
        None
    } else {
        // At most 28 digits: fits.
        let m = digits
            .iter()
            .fold(0u128, |acc, &d| acc * 10 + u128::from(d));
        u32::try_from(scale - NANO)
            .ok()
            .and_then(|shift| 10u128.checked_pow(shift))
            .and_then(|p| m.checked_mul(p))
            .map(|n| n + round_up)
    };
    finish(parts.positive, nanos, format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> ParsedQuantity {
        ParsedQuantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn dec(mantissa: i128, scale: i32, format: Format) -> ParsedQuantity {
        ParsedQuantity::new(mantissa, scale, format)
    }

    /// Kubernetes' own parse table (`TestQuantityParse`): value and format.
    #[test]
    fn kubernetes_parse_table() {
        use Format::*;
        let max = dec(i64::MAX as i128, 0, BinarySI);
        let table: &[(&str, ParsedQuantity)] = &[
            ("0", dec(0, 0, DecimalSI)),
            ("0n", dec(0, 0, DecimalSI)),
            ("0u", dec(0, 0, DecimalSI)),
            ("0m", dec(0, 0, DecimalSI)),
            ("0Ki", dec(0, 0, BinarySI)),
            ("0k", dec(0, 0, DecimalSI)),
            ("0Mi", dec(0, 0, BinarySI)),
            ("0M", dec(0, 0, DecimalSI)),
            ("0Gi", dec(0, 0, BinarySI)),
            ("0G", dec(0, 0, DecimalSI)),
            ("0Ti", dec(0, 0, BinarySI)),
            ("0T", dec(0, 0, DecimalSI)),
            ("1", dec(1, 0, DecimalSI)),
            ("1Ki", dec(1024, 0, BinarySI)),
            ("8Ki", dec(8 * 1024, 0, BinarySI)),
            ("7Mi", dec(7 << 20, 0, BinarySI)),
            ("6Gi", dec(6 << 30, 0, BinarySI)),
            ("5Ti", dec(5 << 40, 0, BinarySI)),
            ("4Pi", dec(4 << 50, 0, BinarySI)),
            ("3Ei", dec(3 << 60, 0, BinarySI)),
            ("10Ti", dec(10 << 40, 0, BinarySI)),
            ("100Ti", dec(100 << 40, 0, BinarySI)),
            ("5n", dec(5, -9, DecimalSI)),
            ("4u", dec(4, -6, DecimalSI)),
            ("3m", dec(3, -3, DecimalSI)),
            ("9", dec(9, 0, DecimalSI)),
            ("8k", dec(8, 3, DecimalSI)),
            ("50k", dec(5, 4, DecimalSI)),
            ("7M", dec(7, 6, DecimalSI)),
            ("6G", dec(6, 9, DecimalSI)),
            ("5T", dec(5, 12, DecimalSI)),
            ("40T", dec(4, 13, DecimalSI)),
            ("300T", dec(3, 14, DecimalSI)),
            ("2P", dec(2, 15, DecimalSI)),
            ("1E", dec(1, 18, DecimalSI)),
            ("1E-3", dec(1, -3, DecimalExponent)),
            ("1e3", dec(1, 3, DecimalExponent)),
            ("1E6", dec(1, 6, DecimalExponent)),
            ("1e9", dec(1, 9, DecimalExponent)),
            ("1E12", dec(1, 12, DecimalExponent)),
            ("1e15", dec(1, 15, DecimalExponent)),
            ("1E18", dec(1, 18, DecimalExponent)),
            ("1e14", dec(1, 14, DecimalExponent)),
            ("1e13", dec(1, 13, DecimalExponent)),
            ("100.035k", dec(100035, 0, DecimalSI)),
            ("0.001", dec(1, -3, DecimalSI)),
            ("0.0005k", dec(5, -1, DecimalSI)),
            ("0.005", dec(5, -3, DecimalSI)),
            ("0.05", dec(5, -2, DecimalSI)),
            ("0.5", dec(5, -1, DecimalSI)),
            ("0.00050k", dec(5, -1, DecimalSI)),
            ("0.00500", dec(5, -3, DecimalSI)),
            ("0.05000", dec(5, -2, DecimalSI)),
            ("0.50000", dec(5, -1, DecimalSI)),
            ("0.5e0", dec(5, -1, DecimalExponent)),
            ("0.5e-1", dec(5, -2, DecimalExponent)),
            ("0.5e-2", dec(5, -3, DecimalExponent)),
            ("10.035M", dec(10035, 3, DecimalSI)),
            ("1.2e3", dec(12, 2, DecimalExponent)),
            ("1.3E+6", dec(13, 5, DecimalExponent)),
            ("1.40e9", dec(14, 8, DecimalExponent)),
            ("1.53E12", dec(153, 10, DecimalExponent)),
            ("1.6e15", dec(16, 14, DecimalExponent)),
            ("1.7E18", dec(17, 17, DecimalExponent)),
            ("9.01", dec(901, -2, DecimalSI)),
            ("8.1k", dec(81, 2, DecimalSI)),
            ("7.123456M", dec(7123456, 0, DecimalSI)),
            ("6.987654321G", dec(6987654321, 0, DecimalSI)),
            ("5.444T", dec(5444, 9, DecimalSI)),
            ("40.1T", dec(401, 11, DecimalSI)),
            ("300.2T", dec(3002, 11, DecimalSI)),
            ("2.5P", dec(25, 14, DecimalSI)),
            ("1.01E", dec(101, 16, DecimalSI)),
            // Rounding up to nano units and capping.
            ("3.001n", dec(4, -9, DecimalSI)),
            ("1.1E-9", dec(2, -9, DecimalExponent)),
            ("0.0000000001", dec(1, -9, DecimalSI)),
            ("0.0000000005", dec(1, -9, DecimalSI)),
            ("0.00000000050", dec(1, -9, DecimalSI)),
            ("0.5e-9", dec(1, -9, DecimalExponent)),
            ("0.9n", dec(1, -9, DecimalSI)),
            ("0.00000012345", dec(124, -9, DecimalSI)),
            ("0.00000012354", dec(124, -9, DecimalSI)),
            ("9Ei", max),
            ("9223372036854775807Ki", max),
            ("12E", dec(12, 18, DecimalSI)),
            // Fractional binary amounts.
            ("100.035Ki", dec(10243584, -2, BinarySI)),
            ("0.5Mi", dec(512 * 1024, 0, BinarySI)),
            ("0.05Gi", dec(536870912, -1, BinarySI)),
            ("0.025Ti", dec(274877906944, -1, BinarySI)),
            // Odd but accepted.
            ("0.000000000001Ki", dec(2, -9, DecimalSI)),
            (".001", dec(1, -3, DecimalSI)),
            (".0001k", dec(100, -3, DecimalSI)),
            ("1.", dec(1, 0, DecimalSI)),
            ("1.G", dec(1, 9, DecimalSI)),
        ];
        for (input, want) in table {
            for (prefix, sign) in [("", 1), ("+", 1), ("-", -1)] {
                let text = format!("{prefix}{input}");
                let got = q(&text);
                let want = dec(want.mantissa * sign, want.scale, want.format);
                assert_eq!(got, want, "{text}: value {got} vs {want}");
                assert_eq!(got.format, want.format, "{text}: format");
            }
        }
    }

    #[test]
    fn kubernetes_invalid_table() {
        for input in [
            "",
            "1.1.M",
            "1+1.0M",
            "0.1mi",
            "0.1am",
            "aoeu",
            ".5i",
            "1i",
            "-3.01i",
            "-3.01e-",
            " 1",
            "1 ",
            "1e",
            "1Ki5",
            "1Ee3",
            "1k1",
            "--1",
            "1..",
            "1e+",
            "1e99999999999999999999",
        ] {
            assert!(ParsedQuantity::parse(input).is_err(), "{input:?} parsed");
        }
        assert!(matches!(
            ParsedQuantity::parse("1.1.M"),
            Err(Error::Format { .. })
        ));
        assert!(matches!(
            ParsedQuantity::parse("0.1mi"),
            Err(Error::Suffix { .. })
        ));
    }

    #[test]
    fn sign_and_dot_only_are_zero() {
        // Kubernetes' parser reads these as zero.
        for input in ["-", "+", ".", "-.", "00", "-0", "0.0"] {
            assert!(q(input).is_zero(), "{input}");
        }
    }

    /// Kubernetes' `TestQuantityString` and `TestQuantityParseEmit`.
    #[test]
    fn kubernetes_canonical_table() {
        use Format::*;
        let table: &[(ParsedQuantity, &str, &str)] = &[
            (dec(1 << 30, 0, BinarySI), "1Gi", "1024Mi"),
            (dec(300 << 20, 0, BinarySI), "300Mi", "307200Ki"),
            (dec(6 * 1024, 0, BinarySI), "6Ki", ""),
            (dec(1001 << 30, 0, BinarySI), "1001Gi", "1025024Mi"),
            (dec(1 << 40, 0, BinarySI), "1Ti", "1024Gi"),
            (dec(5, 0, BinarySI), "5", "5000m"),
            (dec(500, -3, BinarySI), "500m", "0.5"),
            (dec(1, 9, DecimalSI), "1G", "1000M"),
            (dec(1000, 6, DecimalSI), "1G", "0.001T"),
            (dec(1000000, 3, DecimalSI), "1G", ""),
            (dec(1000000000, 0, DecimalSI), "1G", ""),
            (dec(1, -3, DecimalSI), "1m", "1000u"),
            (dec(80, -3, DecimalSI), "80m", ""),
            (dec(1080, -3, DecimalSI), "1080m", "1.08"),
            (dec(108, -2, DecimalSI), "1080m", "1080000000n"),
            (dec(10800, -4, DecimalSI), "1080m", ""),
            (dec(300, 6, DecimalSI), "300M", ""),
            (dec(1, 12, DecimalSI), "1T", ""),
            (dec(1, 18, DecimalSI), "1E", ""),
            (dec(1, 21, DecimalSI), "1e21", "1000E"),
            (dec(5, 21, DecimalSI), "5e21", "5000E"),
            (dec(1, 24, DecimalSI), "1e24", "1000000E"),
            (dec(1234567, 6, DecimalSI), "1234567M", ""),
            (dec(1234567, -3, BinarySI), "1234567m", ""),
            (dec(3, 3, DecimalSI), "3k", ""),
            (dec(1025, 0, BinarySI), "1025", ""),
            (dec(0, 0, DecimalSI), "0", ""),
            (dec(0, 0, BinarySI), "0", ""),
            (dec(1, 9, DecimalExponent), "1e9", ".001e12"),
            (dec(1, -3, DecimalExponent), "1e-3", "0.001e0"),
            (dec(1, -9, DecimalExponent), "1e-9", "1000e-12"),
            (dec(80, -3, DecimalExponent), "80e-3", ""),
            (dec(300, 6, DecimalExponent), "300e6", ""),
            (dec(1, 12, DecimalExponent), "1e12", ""),
            (dec(1, 3, DecimalExponent), "1e3", ""),
            (dec(3, 3, DecimalExponent), "3e3", ""),
            (dec(0, 0, DecimalExponent), "0", "00"),
            (dec(1, -9, DecimalSI), "1n", ""),
            (dec(80, -9, DecimalSI), "80n", ""),
            (dec(1080, -9, DecimalSI), "1080n", ""),
            (dec(108, -8, DecimalSI), "1080n", ""),
            (dec(10800, -10, DecimalSI), "1080n", ""),
            (dec(1, -6, DecimalSI), "1u", ""),
            (dec(80, -6, DecimalSI), "80u", ""),
            (dec(1080, -6, DecimalSI), "1080u", ""),
        ];
        for (value, canonical, alternate) in table {
            assert_eq!(value.to_string(), *canonical, "{value:?}");
            assert_eq!(q(canonical), *value, "{canonical} parses back");
            if !alternate.is_empty() {
                assert_eq!(q(alternate).to_string(), *canonical, "{alternate}");
            }
            if !value.is_zero() {
                let neg = value.checked_neg().unwrap();
                assert_eq!(neg.to_string(), format!("-{canonical}"));
            }
        }
        for (input, canonical) in [
            ("1Ki", "1Ki"),
            ("1Mi", "1Mi"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1000M", "1G"),
            (".001Ki", "1024m"),
            (".000001Ki", "1024u"),
            (".000000001Ki", "1024n"),
            (".000000000001Ki", "2n"),
            ("1000m", "1"),
            ("1024Ki", "1Mi"),
            ("0.5", "500m"),
            ("1.5Gi", "1536Mi"),
            ("100M", "100M"),
            ("1.5e3", "1500"),
            ("1e-10", "1e-9"),
            ("10000000000000000000", "9223372036854775807"),
        ] {
            assert_eq!(q(input).to_string(), canonical, "{input}");
            assert_eq!(q(&format!("-{input}")).to_string(), format!("-{canonical}"));
        }
    }

    #[test]
    fn value_rounds_away_from_zero() {
        for (input, value, milli) in [
            ("9.01", 10, 9010),
            ("-9.01", -10, -9010),
            ("1500m", 2, 1500),
            ("0.1m", 1, 1),
            ("-0.1m", -1, -1),
            ("1n", 1, 1),
            ("1Ki", 1024, 1024000),
            ("0", 0, 0),
            ("1e30", i64::MAX, i64::MAX),
            ("-1e30", i64::MIN, i64::MIN),
            ("9223372036854775807", i64::MAX, i64::MAX),
        ] {
            assert_eq!(q(input).value(), value, "{input} value");
            assert_eq!(q(input).milli_value(), milli, "{input} milli");
        }
        assert_eq!(q("1e-9").scaled_value(-9), 1);
        assert_eq!(q("1").scaled_value(-9), 1_000_000_000);
        assert_eq!(q("1").scaled_value(i32::MAX), 1);
        assert_eq!(q("1").scaled_value(i32::MIN), i64::MAX);
    }

    /// Kubernetes' `TestQuantityCmpInt64AndDec`.
    #[test]
    fn comparison() {
        use Format::DecimalSI;
        let most_positive = i64::MAX as i128;
        let most_negative = i64::MIN as i128;
        let e18 = 1_000_000_000_000_000_000i128;
        let table = [
            (
                dec(901, -2, DecimalSI),
                dec(901, -2, DecimalSI),
                Ordering::Equal,
            ),
            (
                dec(90, -1, DecimalSI),
                dec(901, -2, DecimalSI),
                Ordering::Less,
            ),
            (
                dec(901, -2, DecimalSI),
                dec(900, -2, DecimalSI),
                Ordering::Greater,
            ),
            (dec(0, 1, DecimalSI), dec(0, -1, DecimalSI), Ordering::Equal),
            (
                dec(800, -3, DecimalSI),
                dec(1, 0, DecimalSI),
                Ordering::Less,
            ),
            (
                dec(800, -3, DecimalSI),
                dec(79, -2, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(most_positive, 0, DecimalSI),
                dec(1, -1, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(most_positive, 1, DecimalSI),
                dec(1, 0, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(most_positive, 1, DecimalSI),
                dec(1, 1, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(most_positive, 1, DecimalSI),
                dec(0, 1, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(most_positive, -16, DecimalSI),
                dec(1, 3, DecimalSI),
                Ordering::Less,
            ),
            (
                dec(most_negative, 0, DecimalSI),
                dec(0, 0, DecimalSI),
                Ordering::Less,
            ),
            (
                dec(most_negative, -18, DecimalSI),
                dec(-1, 0, DecimalSI),
                Ordering::Less,
            ),
            (
                dec(most_negative, -19, DecimalSI),
                dec(-1, 0, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(e18, -17, DecimalSI),
                dec(1, 1, DecimalSI),
                Ordering::Equal,
            ),
            (
                dec(e18, -17, DecimalSI),
                dec(-10, 0, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(-e18, -17, DecimalSI),
                dec(-10, 0, DecimalSI),
                Ordering::Equal,
            ),
            (
                dec(e18, -17, DecimalSI),
                dec(1, 0, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(e18 + 1, -17, DecimalSI),
                dec(1, 1, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(e18 - 1, -17, DecimalSI),
                dec(1, 1, DecimalSI),
                Ordering::Less,
            ),
            (
                dec(1, i32::MAX, DecimalSI),
                dec(i128::MAX, 0, DecimalSI),
                Ordering::Greater,
            ),
            (
                dec(1, i32::MIN, DecimalSI),
                dec(0, 0, DecimalSI),
                Ordering::Greater,
            ),
        ];
        for (a, b, want) in table {
            assert_eq!(a.cmp(&b), want, "{a:?} vs {b:?}");
            assert_eq!(b.cmp(&a), want.reverse(), "{b:?} vs {a:?}");
        }
        assert_eq!(q("10000T").cmp(&q("100Gi")), Ordering::Greater);
        assert_eq!(q("1Ki"), q("1024"));
    }

    #[test]
    fn arithmetic() {
        let sum = q("100m").checked_add(&q("1Gi")).unwrap();
        assert_eq!(sum.to_string(), "1073741824100m");
        // Adding zero keeps the suffix either way round (Kubernetes'
        // TestQuantityAddZeroPreservesSuffix).
        for v in ["100m", "1Gi"] {
            assert_eq!(q(v).checked_add(&q("0")).unwrap().to_string(), v);
            assert_eq!(q("0").checked_add(&q(v)).unwrap().to_string(), v);
            assert_eq!(q(v).checked_sub(&q("0")).unwrap().to_string(), v);
            assert_eq!(
                q("0").checked_sub(&q(v)).unwrap().to_string(),
                format!("-{v}")
            );
        }
        assert_eq!(
            q("1Gi").checked_sub(&q("512Mi")).unwrap().to_string(),
            "512Mi"
        );
        assert_eq!(
            q("1").checked_sub(&q("1500m")).unwrap().to_string(),
            "-500m"
        );
        assert!(q("1e2147483647").checked_add(&q("1n")).is_none());
        assert_eq!(
            q("1e2147483647").checked_add(&q("0")).unwrap(),
            q("1e2147483647")
        );
        let big = dec(i128::MAX, 0, Format::DecimalSI);
        assert!(big.checked_add(&q("1")).is_none());
    }

    #[test]
    fn serde_and_floats() {
        let v: ParsedQuantity = serde_json::from_str(r#""1024Ki""#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#""1Mi""#);
        assert!(serde_json::from_str::<ParsedQuantity>(r#""1.1.1""#).is_err());
        assert_eq!(q("1.5").as_approximate_f64(), 1.5);
        assert_eq!(q("-250m").as_approximate_f64(), -0.25);
        assert_eq!(q("1Gi").as_approximate_f64(), 1073741824.0);
        assert_eq!(q("1e2147483647").as_approximate_f64(), f64::INFINITY);
        assert_eq!(q("0.3").as_approximate_f64(), 0.3);
        assert_eq!(
            dec(7, i32::MIN, Format::DecimalSI).as_approximate_f64(),
            0.0
        );
    }

    #[test]
    fn from_constructors() {
        // Kubernetes' TestNewSet / TestMilliNewSet.
        assert_eq!(
            ParsedQuantity::from_int(1, Format::DecimalSI).to_string(),
            "1"
        );
        assert_eq!(
            ParsedQuantity::from_int(1000, Format::DecimalSI).to_string(),
            "1k"
        );
        assert_eq!(
            ParsedQuantity::from_int(1234000, Format::DecimalSI).to_string(),
            "1234k"
        );
        assert_eq!(
            ParsedQuantity::from_int(1024, Format::BinarySI).to_string(),
            "1Ki"
        );
        assert_eq!(
            ParsedQuantity::from_int(1000000, Format::DecimalExponent).to_string(),
            "1e6"
        );
        assert_eq!(
            ParsedQuantity::from_int(1 << 20, Format::BinarySI).to_string(),
            "1Mi"
        );
        assert_eq!(ParsedQuantity::from_milli(1).to_string(), "1m");
        assert_eq!(ParsedQuantity::from_milli(1000).to_string(), "1");
        assert_eq!(ParsedQuantity::from_milli(1234000).to_string(), "1234");
    }

    fn quantity_text() -> impl Strategy<Value = String> {
        let suffix = prop_oneof![
            Just(String::new()),
            prop::sample::select(vec![
                "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
            ])
            .prop_map(str::to_string),
            (-12i32..=12, any::<bool>())
                .prop_map(|(e, upper)| format!("{}{e}", if upper { 'E' } else { 'e' })),
        ];
        (
            prop::sample::select(vec!["", "-", "+"]),
            0u64..1_000_000_000,
            prop::option::of(0u32..1_000_000),
            suffix,
        )
            .prop_map(|(sign, whole, frac, suffix)| match frac {
                Some(f) => format!("{sign}{whole}.{f}{suffix}"),
                None => format!("{sign}{whole}{suffix}"),
            })
    }

    proptest! {
        #[test]
        fn canonical_round_trip_preserves_value(text in quantity_text()) {
            let parsed = q(&text);
            let canonical = parsed.to_string();
            let again = q(&canonical);
            prop_assert_eq!(again, parsed, "{} -> {}", text, canonical);
            // Canonical is idempotent.
            prop_assert_eq!(again.to_string(), canonical);
        }

        #[test]
        fn addition_is_commutative_and_associative(
            a in quantity_text(), b in quantity_text(), c in quantity_text()
        ) {
            let (a, b, c) = (q(&a), q(&b), q(&c));
            prop_assert_eq!(a.checked_add(&b), b.checked_add(&a));
            let left = a.checked_add(&b).and_then(|ab| ab.checked_add(&c));
            let right = b.checked_add(&c).and_then(|bc| a.checked_add(&bc));
            if let (Some(l), Some(r)) = (left, right) {
                prop_assert_eq!(l, r);
            }
            if let Some(ab) = a.checked_add(&b) {
                prop_assert_eq!(ab.checked_sub(&b), Some(a));
            }
        }

        #[test]
        fn order_agrees_with_subtraction(a in quantity_text(), b in quantity_text()) {
            let (a, b) = (q(&a), q(&b));
            if let Some(d) = a.checked_sub(&b) {
                prop_assert_eq!(a.cmp(&b), d.signum().cmp(&0));
            }
        }

        #[test]
        fn slow_paths_agree(
            sign in prop::sample::select(vec!["", "-"]),
            whole in "[0-9]{0,9}",
            frac in "[0-9]{0,9}",
            suffix in prop::sample::select(vec![
                "", "n", "m", "k", "E", "Ki", "Mi", "Ei", "e-30", "e-12", "e5", "e20",
            ]),
        ) {
            let text = format!("{sign}{whole}.{frac}{suffix}");
            let parts = split(&text).unwrap();
            let (base, exponent, format) = interpret(parts.suffix).unwrap();
            let small = slow_path_small(parts, base, exponent, format);
            let digits = slow_path_digits(parts, base, exponent, format);
            prop_assert_eq!(small, digits, "{}", text);
            prop_assert_eq!(small.format(), digits.format(), "{}", text);
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = ParsedQuantity::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_quantity_alphabet(s in "[-+0-9.eEinumkKMGTP]{0,60}") {
            if let Ok(v) = ParsedQuantity::parse(&s) {
                let _ = v.to_string();
                let _ = v.milli_value();
            }
        }
    }
}
