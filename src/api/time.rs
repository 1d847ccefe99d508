//! Timestamps as Kubernetes writes them: RFC 3339 in UTC.
//!
//! [`Time`] has second precision (`2024-01-02T03:04:05Z`), as `metav1.Time`;
//! [`MicroTime`] has microsecond precision (`2024-01-02T03:04:05.123456Z`), as
//! `metav1.MicroTime` in Leases and Events. Both parse any RFC 3339 offset and
//! fraction, and are plain integers in memory.
//!
//! ```
//! use keelson::api::Time;
//!
//! let t: Time = "2024-02-29T22:59:59Z".parse().unwrap();
//! assert_eq!(t.to_string(), "2024-02-29T22:59:59Z");
//! assert_eq!(t.unix_seconds(), 1709247599);
//! ```
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// A point in time with second precision, serialized as RFC 3339 UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(i64);

/// A point in time with microsecond precision, serialized as RFC 3339 UTC
/// with six fractional digits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MicroTime(i64);

/// A timestamp that is not valid RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {input:?}: {reason}")]
pub struct ParseTimeError {
    input: String,
    reason: &'static str,
}

impl Time {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Time(system_micros(SystemTime::now()).div_euclid(1_000_000))
    }

    /// From seconds since the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Time(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_seconds(self) -> i64 {
        self.0
    }

    /// This time plus a number of seconds (saturating).
    #[must_use]
    pub const fn add_seconds(self, seconds: i64) -> Self {
        Time(self.0.saturating_add(seconds))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn seconds_since(self, earlier: Time) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl MicroTime {
    /// The current wall-clock time.
    pub fn now() -> Self {
        MicroTime(system_micros(SystemTime::now()))
    }

    /// From microseconds since the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        MicroTime(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// This time plus a duration (saturating).
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        MicroTime(
            self.0
                .saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        )
    }

    /// Truncated to seconds.
    pub const fn to_time(self) -> Time {
        Time(self.0.div_euclid(1_000_000))
    }
}

impl From<Time> for MicroTime {
    fn from(t: Time) -> Self {
        MicroTime(t.0.saturating_mul(1_000_000))
    }
}

impl From<SystemTime> for Time {
    fn from(t: SystemTime) -> Self {
        Time(system_micros(t).div_euclid(1_000_000))
    }
}

impl From<SystemTime> for MicroTime {
    fn from(t: SystemTime) -> Self {
        MicroTime(system_micros(t))
    }
}

fn system_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses RFC 3339 into microseconds since the epoch.
fn parse_rfc3339(s: &str) -> Result<i64, ParseTimeError> {
    let err = |reason| ParseTimeError {
        input: s.chars().take(64).collect(),
        reason,
    };
    let b = s.as_bytes();
    if b.len() < 20 {
        return Err(err("too short"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, ParseTimeError> {
        let part = b.get(range).ok_or_else(|| err("truncated"))?;
        part.iter().try_fold(0u32, |acc, &c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + u32::from(c - b'0'))
            } else {
                Err(err("expected a digit"))
            }
        })
    };
    let year = i64::from(num(0..4)?);
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(err("expected YYYY-MM-DDTHH:MM:SS"));
    }
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if !(1..=12).contains(&month) {
        return Err(err("month out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(err("day out of range"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(err("time of day out of range"));
    }
    let mut i = 19;
    let mut micros: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(err("empty fraction"));
        }
        for _ in (i - start)..6 {
            micros *= 10;
        }
    }
    let offset_seconds: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = i64::from(num(i + 1..i + 3)?);
            let m = i64::from(num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return Err(err("offset out of range"));
            }
            let off = h * 3600 + m * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(err("expected Z or an offset like +01:00 at the end")),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
        - offset_seconds;
    Ok(secs * 1_000_000 + micros)
}

fn write_rfc3339(f: &mut fmt::Formatter<'_>, micros: i64, fraction: bool) -> fmt::Result {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    write!(
        f,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )?;
    if fraction {
        write!(f, ".{frac:06}")?;
    }
    f.write_str("Z")
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rfc3339(f, self.0.saturating_mul(1_000_000), false)
    }
}

impl fmt::Display for MicroTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rfc3339(f, self.0, true)
    }
}

impl FromStr for Time {
    type Err = ParseTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rfc3339(s).map(|us| Time(us.div_euclid(1_000_000)))
    }
}

impl FromStr for MicroTime {
    type Err = ParseTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rfc3339(s).map(MicroTime)
    }
}

macro_rules! serde_via_string {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    };
}

serde_via_string!(Time, "an RFC 3339 timestamp");
serde_via_string!(MicroTime, "an RFC 3339 timestamp");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00Z"),
            (
                "2024-02-29T12:00:00+02:00",
                1709200800,
                "2024-02-29T10:00:00Z",
            ),
            ("1969-12-31T23:59:59.999999Z", -1, "1969-12-31T23:59:59Z"),
            ("2000-03-01t00:00:00.5z", 951868800, "2000-03-01T00:00:00Z"),
        ];
        for (input, secs, out) in cases {
            let t: Time = input.parse().unwrap();
            assert_eq!(t.unix_seconds(), secs, "{input}");
            assert_eq!(t.to_string(), out);
        }
    }

    #[test]
    fn micro_round_trip() {
        let t: MicroTime = "2023-07-04T05:06:07.000123Z".parse().unwrap();
        assert_eq!(t.to_string(), "2023-07-04T05:06:07.000123Z");
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<MicroTime>(&j).unwrap(), t);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+1:00",
            "2024-01-01T00:00:00.Z",
            "２０２４-01-01T00:00:00Z",
            "2024-01-01T00:00:00Zjunk",
        ] {
            assert!(bad.parse::<Time>().is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
