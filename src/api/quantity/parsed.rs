//! [`ParsedQuantity`]: a quantity's exact value, parsed as Kubernetes'
//! `resource.ParseQuantity` does, with its canonical form and arithmetic.
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
        let write_amount = |f: &mut fmt::Formatter<'_>, extra_zeros: i64| -> fmt::Result {
            write!(f, "{}", self.mantissa)?;
            for _ in 0..(i64::from(r) + extra_zeros) {
                f.write_str("0")?;
            }
            Ok(())
        };
        // Decimal SI has suffixes from n (-9) to E (18); beyond E the amount
        // grows (Kubernetes writes no suffix there, which changes the value).
        if self.format != Format::DecimalExponent && (NANO..=18 + 36).contains(&exp) {
            let (extra, exp) = if exp > 18 { (exp - 18, 18) } else { (0, exp) };
            write_amount(f, extra)?;
            return f.write_str(DECIMAL_SUFFIXES[((exp - NANO) / 3) as usize]);
        }
        write_amount(f, 0)?;
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

impl std::str::FromStr for ParsedQuantity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

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
fn slow_path(parts: Parts<'_>, base: u32, exponent: i32, mut format: Format) -> ParsedQuantity {
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
    let sign: i128 = if parts.positive { 1 } else { -1 };
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
    let max_nanos = MAX_ALLOWED * 1_000_000_000;
    let nanos = if digits.len() as i64 + scale > 19 {
        max_nanos
    } else {
        // At most 28 digits: fits.
        let m = digits
            .iter()
            .fold(0i128, |acc, &d| acc * 10 + i128::from(d));
        let shift = u32::try_from(scale - NANO).unwrap_or(0);
        let nanos = pow10(shift)
            .and_then(|p| m.checked_mul(p))
            .unwrap_or(max_nanos)
            + round_up;
        nanos.min(max_nanos)
    };
    if format == Format::BinarySI && nanos < 1_000_000_000 {
        format = Format::DecimalSI;
    }
    ParsedQuantity::new(sign * nanos, NANO as i32, format)
}
