//! The running timers of one transaction: a handful of (timer, deadline) pairs.

use super::config::Timer;
use std::time::{Duration, Instant};

/// At most one deadline per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    running: Vec<(Timer, Instant)>,
}

impl Timers {
    /// Starts (or restarts) `timer` to fire at `now + after`.
    pub(crate) fn start(&mut self, timer: Timer, now: Instant, after: Duration) {
        let at = now.checked_add(after).unwrap_or(now);
        match self.running.iter_mut().find(|(t, _)| *t == timer) {
            Some(slot) => slot.1 = at,
            None => self.running.push((timer, at)),
        }
    }

    /// Stops `timer` if it is running.
    pub(crate) fn stop(&mut self, timer: Timer) {
        self.running.retain(|(t, _)| *t != timer);
    }

    /// Stops every timer.
    pub(crate) fn clear(&mut self) {
        self.running.clear();
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.running.iter().map(|(_, at)| *at).min()
    }

    /// Removes and returns the timers due at `now`, earliest first. Timers that
    /// the handlers restart are not fired again in the same call, even when
    /// restarted with a zero length.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<Timer> {
        let mut due: Vec<(Timer, Instant)> = self.running.iter().copied().filter(|(_, at)| *at <= now).collect();
        self.running.retain(|(_, at)| *at > now);
        due.sort_by_key(|(t, at)| (*at, *t));
        due.into_iter().map(|(t, _)| t).collect()
    }
}
