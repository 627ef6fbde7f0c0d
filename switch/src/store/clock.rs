//! Where the wall clock meets the switch's one clock. The running switch
//! counts every deadline on the monotonic clock ([`Instant`]); the store keeps
//! Unix times (a record must still mean something after a restart) and the
//! logs and CLI print them. [`WallClock`] is the one anchor between the two:
//! an `(Instant, Unix time)` pair taken at start, through which every stored
//! or printed time is computed and every loaded one read back.
//!
//! A step of the wall clock (NTP, a VM resumed) moves no deadline: bindings
//! expire when their monotonic time is up. [`WallClock::resync`] notices the
//! step and moves the anchor, so that what is stored and printed from then on
//! follows the new wall clock.

use crate::cdr::{Cdr, UnixMs};
use crate::record::{RlRecord, UnixTime};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How far the wall clock may drift from the anchor before it counts as a step.
const STEP: Duration = Duration::from_secs(1);

/// The `(Instant, Unix time)` anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    at: Instant,
    unix_ms: UnixMs,
}

impl WallClock {
    /// The anchor `at` is `unix_ms` on the wall clock.
    pub fn new(at: Instant, unix_ms: UnixMs) -> Self {
        WallClock { at, unix_ms }
    }

    /// Both clocks read now.
    pub fn now() -> Self {
        WallClock::new(Instant::now(), system_unix_ms())
    }

    /// `t` in Unix milliseconds.
    pub fn unix_ms(&self, t: Instant) -> UnixMs {
        if t >= self.at {
            self.unix_ms.saturating_add(millis(t.duration_since(self.at)))
        } else {
            self.unix_ms.saturating_sub(millis(self.at.duration_since(t)))
        }
    }

    /// `t` in Unix seconds (whole seconds, rounded down).
    pub fn unix_secs(&self, t: Instant) -> UnixTime {
        self.unix_ms(t) / 1000
    }

    /// Unix milliseconds back on the monotonic clock. A time before the
    /// monotonic clock can count (not on Linux, where it reaches back decades)
    /// reads as its earliest instant.
    pub fn instant_ms(&self, ms: UnixMs) -> Instant {
        if ms >= self.unix_ms {
            let ahead = Duration::from_millis(ms - self.unix_ms);
            self.at.checked_add(ahead).unwrap_or(self.at)
        } else {
            let behind = Duration::from_millis(self.unix_ms - ms);
            self.at.checked_sub(behind).unwrap_or(self.at)
        }
    }

    /// Unix seconds back on the monotonic clock.
    pub fn instant_secs(&self, secs: UnixTime) -> Instant {
        self.instant_ms(secs.saturating_mul(1000))
    }

    /// A live record as the store keeps it.
    pub fn stored_record(&self, r: RlRecord<Instant>) -> RlRecord<UnixTime> {
        r.map_times(|t| self.unix_secs(t))
    }

    /// A stored record back on the monotonic clock.
    pub fn live_record(&self, r: RlRecord<UnixTime>) -> RlRecord<Instant> {
        r.map_times(|t| self.instant_secs(t))
    }

    /// A call record as the store keeps it.
    pub fn stored_cdr(&self, c: Cdr<Instant>) -> Cdr<UnixMs> {
        c.map_times(|t| self.unix_ms(t))
    }

    /// Re-reads the wall clock: when it is more than a second away from what
    /// the anchor says it should be at `now`, it was stepped, and the anchor
    /// moves to it. Returns the step in milliseconds (positive: forward).
    pub fn resync(&mut self, now: Instant) -> Option<i64> {
        self.resync_to(now, system_unix_ms())
    }

    /// [`WallClock::resync`] with the wall clock's reading given.
    pub fn resync_to(&mut self, now: Instant, unix_ms: UnixMs) -> Option<i64> {
        let expected = self.unix_ms(now);
        let step = i64::try_from(unix_ms).unwrap_or(i64::MAX).saturating_sub(i64::try_from(expected).unwrap_or(i64::MAX));
        if step.unsigned_abs() <= millis(STEP) {
            return None;
        }
        *self = WallClock::new(now, unix_ms);
        Some(step)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn system_unix_ms() -> UnixMs {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_round_trip_through_the_anchor() {
        let t0 = Instant::now();
        let clock = WallClock::new(t0, 1_800_000_000_500);
        for ms in [1_800_000_000_500, 1_800_000_600_000, 1_799_999_000_000, 1_000] {
            assert_eq!(clock.unix_ms(clock.instant_ms(ms)), ms);
        }
        assert_eq!(clock.unix_secs(t0 + Duration::from_millis(499)), 1_800_000_000);
        assert_eq!(clock.unix_secs(t0 + Duration::from_millis(500)), 1_800_000_001);
        assert_eq!(clock.instant_secs(1_800_000_600), t0 + Duration::from_millis(599_500));
    }

    #[test]
    fn a_step_moves_the_anchor_and_drift_does_not() {
        let t0 = Instant::now();
        let mut clock = WallClock::new(t0, 1_800_000_000_000);
        let t = t0 + Duration::from_secs(10);
        assert_eq!(clock.resync_to(t, 1_800_000_010_900), None, "within a second: drift, not a step");
        assert_eq!(clock.unix_ms(t), 1_800_000_010_000, "the anchor stays");
        assert_eq!(clock.resync_to(t, 1_800_003_610_000), Some(3_600_000));
        assert_eq!(clock.unix_ms(t + Duration::from_secs(5)), 1_800_003_615_000, "stored times follow the new wall clock");
        assert_eq!(clock.resync_to(t, 1_800_000_010_000), Some(-3_600_000), "and back");
    }
}
