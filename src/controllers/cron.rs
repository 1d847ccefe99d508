//! Cron schedules as Kubernetes' CronJob controller reads them (it uses
//! `robfig/cron`'s standard parser): five fields — minute, hour, day of
//! month, month, day of week — each a list of `*`/`?`, numbers, names
//! (`jan`–`dec`, `sun`–`sat`, any case), ranges `a-b` and steps `/n`
//! (`*/5`, `10-40/10`, `5/15` = from 5 to the maximum); the macros
//! `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`,
//! `@hourly` and `@every <duration>`; and an optional `TZ=`/`CRON_TZ=`
//! prefix.
//!
//! **Day of month and day of week** combine as in cron: when either field
//! is unrestricted (`*` or `?`, without a step above 1) both must match;
//! when both are restricted, *either* may match (`0 0 13 * fri` runs on
//! every 13th and every Friday).
//!
//! Times are matched in a time zone (IANA names, from the tz database
//! bundled in the binary through `jiff`). Across a daylight-saving change
//! a local time that does not exist (a spring-forward gap) is skipped, as
//! `robfig/cron` does, and a local time that occurs twice (a fall-back
//! fold) runs once, at its first occurrence.
//!
//! ```
//! use keelson::api::Time;
//! use keelson::controllers::cron::Schedule;
//!
//! let s = Schedule::parse("*/15 9-17 * * mon-fri").unwrap();
//! let tz = keelson::controllers::cron::time_zone(Some("Europe/Paris")).unwrap();
//! // Saturday 2024-06-01 12:00 UTC: the next run is Monday 09:00 in Paris (07:00 UTC).
//! let next = s.next_after(Time::from_unix_seconds(1_717_243_200), &tz).unwrap();
//! assert_eq!(next.to_string(), "2024-06-03T07:00:00Z");
//! ```
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{civil, Timestamp, Zoned};

use crate::api::Time;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A parsed schedule; see the [module guide](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    dom_star: bool,
    dow_star: bool,
    every: Option<Duration>,
    zone: Option<String>,
}

/// The time zone named `name` (IANA), or UTC when `None`.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|e| format!("unknown time zone {n}: {e}")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[n..];
        let (unit, secs) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .filter(|(u, _)| rest.starts_with(u))
        .max_by_key(|(u, _)| u.len())
        .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
        rest = &rest[unit.len()..];
        total += value * secs;
    }
    if !total.is_finite() || !(0.0..=1e12).contains(&total) {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses one field into a bit set; the flag says it was unrestricted.
fn parse_field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                Some(
                    s.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("invalid step {s:?}"))?,
                ),
            ),
            None => (part, None),
        };
        let value = |s: &str| -> Result<u32, String> {
            let n = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u32>()
                    .map_err(|_| format!("value {s} out of range"))?
            } else if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
                min + u32::try_from(i).unwrap_or(0)
            } else {
                return Err(format!("failed to parse {s:?}"));
            };
            if n < min || n > max {
                return Err(format!("{n} out of range [{min}, {max}]"));
            }
            Ok(n)
        };
        let (start, end) = if range == "*" || range == "?" {
            if step.unwrap_or(1) == 1 {
                star = true;
            }
            (min, max)
        } else {
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a)?, value(b)?);
                    if a > b {
                        return Err(format!(
                            "beginning of range ({a}) beyond end of range ({b})"
                        ));
                    }
                    (a, b)
                }
                // `5/15`: from 5 to the maximum.
                None if step.is_some() => (value(range)?, max),
                None => {
                    let v = value(range)?;
                    (v, v)
                }
            }
        };
        let step = step.unwrap_or(1);
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    /// Parses a schedule (see the [module guide](self)).
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let mut expr = expr.trim();
        let mut zone = None;
        if let Some(rest) = expr
            .strip_prefix("CRON_TZ=")
            .or_else(|| expr.strip_prefix("TZ="))
        {
            let (z, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            time_zone(Some(z))?;
            zone = Some(z.to_string());
            expr = rest.trim_start();
        }
        let expanded = match expr.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_string(),
            "@monthly" => "0 0 1 * *".to_string(),
            "@weekly" => "0 0 * * 0".to_string(),
            "@daily" | "@midnight" => "0 0 * * *".to_string(),
            "@hourly" => "0 * * * *".to_string(),
            other => {
                if let Some(d) = other.strip_prefix("@every ") {
                    let every = parse_duration(d)?;
                    if every < Duration::from_secs(1) {
                        return Err(format!("@every {d}: at least one second"));
                    }
                    return Ok(Schedule {
                        minute: 0,
                        hour: 0,
                        dom: 0,
                        month: 0,
                        dow: 0,
                        dom_star: false,
                        dow_star: false,
                        every: Some(every),
                        zone,
                    });
                }
                if other.starts_with('@') {
                    return Err(format!("unrecognized descriptor: {expr}"));
                }
                expr.to_string()
            }
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {expanded:?}",
                fields.len()
            ));
        }
        let (minute, _) = parse_field(fields[0], 0, 59, &[])?;
        let (hour, _) = parse_field(fields[1], 0, 23, &[])?;
        let (dom, dom_star) = parse_field(fields[2], 1, 31, &[])?;
        let (month, _) = parse_field(fields[3], 1, 12, &MONTHS)?;
        let (mut dow, dow_star) = parse_field(fields[4], 0, 7, &DAYS)?;
        if dow & (1 << 7) != 0 {
            dow = (dow & !(1 << 7)) | 1; // 7 is Sunday too
        }
        Ok(Schedule {
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
            every: None,
            zone,
        })
    }

    /// The zone a `TZ=`/`CRON_TZ=` prefix names.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    fn day_matches(&self, z: &Zoned) -> bool {
        let dom = self.dom & (1 << z.day()) != 0;
        let dow = self.dow & (1 << z.weekday().to_sunday_zero_offset()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first scheduled time strictly after `after`, in `tz` (a
    /// `TZ=` prefix of the schedule wins); `None` when there is none in
    /// the next five years (`0 0 30 2 *`).
    pub fn next_after(&self, after: Time, tz: &TimeZone) -> Option<Time> {
        let zone_tz;
        let tz = match &self.zone {
            Some(z) => {
                zone_tz = time_zone(Some(z)).ok()?;
                &zone_tz
            }
            None => tz,
        };
        if let Some(every) = self.every {
            let secs = i64::try_from(every.as_secs().max(1)).ok()?;
            return Some(after.add_seconds(secs));
        }
        // The next whole minute.
        let start = after
            .unix_seconds()
            .div_euclid(60)
            .checked_add(1)?
            .checked_mul(60)?;
        let mut t = Timestamp::from_second(start).ok()?.to_zoned(tz.clone());
        let limit = t.year().saturating_add(5);
        while t.year() <= limit {
            if self.month & (1 << t.month()) == 0 {
                // First day of the next month, at midnight.
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = civil::date(y, m, 1).to_zoned(tz.clone()).ok()?;
                continue;
            }
            if !self.day_matches(&t) {
                t = t.date().tomorrow().ok()?.to_zoned(tz.clone()).ok()?;
                continue;
            }
            if self.hour & (1 << t.hour()) == 0 {
                let into_hour = i64::from(t.minute()) * 60 + i64::from(t.second());
                t = Timestamp::from_second(t.timestamp().as_second() + 3600 - into_hour)
                    .ok()?
                    .to_zoned(tz.clone());
                continue;
            }
            if self.minute & (1 << t.minute()) == 0 {
                t = Timestamp::from_second(t.timestamp().as_second() + 60 - i64::from(t.second()))
                    .ok()?
                    .to_zoned(tz.clone());
                continue;
            }
            // The second occurrence of a repeated local time does not run.
            let first = t.datetime().to_zoned(tz.clone()).ok()?;
            if first.timestamp() != t.timestamp() {
                t = Timestamp::from_second(t.timestamp().as_second() + 60)
                    .ok()?
                    .to_zoned(tz.clone());
                continue;
            }
            return Some(Time::from_unix_seconds(t.timestamp().as_second()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        s.parse().unwrap()
    }

    #[test]
    fn next_times() {
        // (schedule, zone, after, expected next)
        let cases: &[(&str, Option<&str>, &str, &str)] = &[
            (
                "*/5 * * * *",
                None,
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:05:00Z",
            ),
            (
                "*/5 * * * *",
                None,
                "2024-01-01T00:03:59Z",
                "2024-01-01T00:05:00Z",
            ),
            (
                "0,15,30,45 * * * *",
                None,
                "2024-01-01T10:46:00Z",
                "2024-01-01T11:00:00Z",
            ),
            (
                "5/15 * * * *",
                None,
                "2024-01-01T10:21:00Z",
                "2024-01-01T10:35:00Z",
            ),
            (
                "10-40/10 2 * * *",
                None,
                "2024-01-01T02:40:00Z",
                "2024-01-02T02:10:00Z",
            ),
            (
                "0 0 * * *",
                None,
                "2024-02-28T12:00:00Z",
                "2024-02-29T00:00:00Z",
            ),
            (
                "@daily",
                None,
                "2024-02-28T12:00:00Z",
                "2024-02-29T00:00:00Z",
            ),
            (
                "@midnight",
                None,
                "2024-12-31T23:59:59Z",
                "2025-01-01T00:00:00Z",
            ),
            (
                "@hourly",
                None,
                "2024-01-01T10:00:00Z",
                "2024-01-01T11:00:00Z",
            ),
            (
                "@weekly",
                None,
                "2024-06-01T00:00:00Z",
                "2024-06-02T00:00:00Z",
            ),
            (
                "@monthly",
                None,
                "2024-01-31T00:00:00Z",
                "2024-02-01T00:00:00Z",
            ),
            (
                "@yearly",
                None,
                "2024-03-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
            ),
            (
                "@annually",
                None,
                "2024-03-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
            ),
            (
                "0 9 * JAN-mar MON",
                None,
                "2024-03-30T00:00:00Z",
                "2025-01-06T09:00:00Z",
            ),
            (
                "0 0 31 * *",
                None,
                "2024-04-01T00:00:00Z",
                "2024-05-31T00:00:00Z",
            ),
            (
                "0 0 29 2 *",
                None,
                "2024-03-01T00:00:00Z",
                "2028-02-29T00:00:00Z",
            ),
            (
                "0 12 * * 7",
                None,
                "2024-06-03T00:00:00Z",
                "2024-06-09T12:00:00Z",
            ),
            // Day of month OR day of week when both are restricted:
            // 2024-09-13 is a Friday; the 13th of October a Sunday.
            (
                "0 0 13 * fri",
                None,
                "2024-09-13T00:00:00Z",
                "2024-09-20T00:00:00Z",
            ),
            (
                "0 0 13 * fri",
                None,
                "2024-10-12T00:00:00Z",
                "2024-10-13T00:00:00Z",
            ),
            // ... AND when one of them is `*`.
            (
                "0 0 13 * *",
                None,
                "2024-09-13T00:00:00Z",
                "2024-10-13T00:00:00Z",
            ),
            (
                "0 0 * * fri",
                None,
                "2024-09-13T00:00:00Z",
                "2024-09-20T00:00:00Z",
            ),
            // `*/2` restricts (no OR-suppression): every odd day OR Monday.
            (
                "0 0 */2 * mon",
                None,
                "2024-06-03T00:00:00Z",
                "2024-06-05T00:00:00Z",
            ),
            // Time zones.
            (
                "0 9 * * *",
                Some("Europe/Paris"),
                "2024-01-15T00:00:00Z",
                "2024-01-15T08:00:00Z",
            ),
            (
                "0 9 * * *",
                Some("Europe/Paris"),
                "2024-07-15T00:00:00Z",
                "2024-07-15T07:00:00Z",
            ),
            (
                "30 5 * * *",
                Some("Asia/Kolkata"),
                "2024-07-14T12:00:00Z",
                "2024-07-15T00:00:00Z",
            ),
            (
                "TZ=America/New_York 0 0 * * *",
                None,
                "2024-07-15T12:00:00Z",
                "2024-07-16T04:00:00Z",
            ),
            (
                "CRON_TZ=Asia/Tokyo 0 0 1 1 *",
                None,
                "2024-06-01T00:00:00Z",
                "2024-12-31T15:00:00Z",
            ),
            // DST: 2024-03-31 02:30 does not exist in Paris (skipped).
            (
                "30 2 * * *",
                Some("Europe/Paris"),
                "2024-03-30T12:00:00Z",
                "2024-04-01T00:30:00Z",
            ),
            // 2024-10-27 02:30 happens twice in Paris: once, the first (CEST, 00:30Z).
            (
                "30 2 * * *",
                Some("Europe/Paris"),
                "2024-10-26T12:00:00Z",
                "2024-10-27T00:30:00Z",
            ),
            (
                "30 2 * * *",
                Some("Europe/Paris"),
                "2024-10-27T00:30:00Z",
                "2024-10-28T01:30:00Z",
            ),
            // Hourly across the New York spring-forward: 02:00 local does not exist.
            (
                "0 * * * *",
                Some("America/New_York"),
                "2024-03-10T06:00:00Z",
                "2024-03-10T07:00:00Z",
            ),
            (
                "@every 90s",
                None,
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:01:30Z",
            ),
        ];
        for (schedule, zone, after, want) in cases {
            let s = Schedule::parse(schedule).unwrap_or_else(|e| panic!("{schedule}: {e}"));
            let tz = time_zone(*zone).unwrap();
            let next = s.next_after(at(after), &tz);
            assert_eq!(
                next.map(|t| t.to_string()).as_deref(),
                Some(*want),
                "{schedule} in {zone:?} after {after}"
            );
        }
    }

    #[test]
    fn impossible_and_invalid() {
        let s = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(
            s.next_after(at("2024-01-01T00:00:00Z"), &TimeZone::UTC),
            None
        );
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "5-1 * * * *",
            "*/0 * * * *",
            "@often",
            "TZ=Nowhere/City * * * * *",
            "* * * * foo",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
        assert!(time_zone(Some("Mars/Olympus")).is_err());
    }
}
