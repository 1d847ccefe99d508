//! The controllers' clock: wall time that advances with `tokio::time`.
//!
//! Time-driven controllers (Job back-off and deadlines, CronJob schedules,
//! TTLs) read "now" from a [`Clock`] instead of the system clock. A clock
//! is seeded from the wall clock when it is made and then advances by
//! [`tokio::time::Instant`], so a test on paused time
//! (`#[tokio::test(start_paused = true)]`) moves the controllers' notion
//! of the date with `tokio::time::advance` (or auto-advance) — a CronJob
//! due in five minutes runs in milliseconds of real time.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::controllers::clock::Clock;
//!
//! let clock = Clock::at_unix_seconds(1_700_000_000);
//! assert_eq!(clock.now().unix_seconds(), 1_700_000_000);
//! # });
//! ```
use std::time::Duration;

use crate::api::{MicroTime, Time};

/// Wall time seeded once, advanced by `tokio::time`; cheap to clone.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base_micros: i64,
    base: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// A clock at the current wall time.
    pub fn new() -> Self {
        Clock {
            base_micros: MicroTime::now().unix_micros(),
            base: tokio::time::Instant::now(),
        }
    }

    /// A clock that reads `seconds` (since the Unix epoch) now.
    pub fn at_unix_seconds(seconds: i64) -> Self {
        Clock {
            base_micros: seconds.saturating_mul(1_000_000),
            base: tokio::time::Instant::now(),
        }
    }

    /// Now, with microsecond precision.
    pub fn now_micros(&self) -> MicroTime {
        MicroTime::from_unix_micros(self.base_micros).plus(self.base.elapsed())
    }

    /// Now, with second precision (what object timestamps hold).
    pub fn now(&self) -> Time {
        self.now_micros().to_time()
    }

    /// How long from now until `at` (zero when it has passed), landing just
    /// after `at`'s second begins.
    pub fn until(&self, at: Time) -> Duration {
        let now = self.now_micros().unix_micros();
        let target = MicroTime::from(at).unix_micros();
        let micros = target.saturating_sub(now);
        if micros <= 0 {
            Duration::ZERO
        } else {
            Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
                + Duration::from_millis(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn advances_with_tokio_time() {
        let c = Clock::at_unix_seconds(100);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(c.now(), Time::from_unix_seconds(130));
        assert_eq!(c.until(Time::from_unix_seconds(130)), Duration::ZERO);
        assert_eq!(
            c.until(Time::from_unix_seconds(140)),
            Duration::from_secs(10) + Duration::from_millis(1)
        );
    }
}
