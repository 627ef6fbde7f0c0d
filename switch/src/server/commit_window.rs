//! How long the store thread lets a small batch gather before writing it.
//!
//! At a steady 1,000 REGISTER/s the registrations arrive one at a time, so
//! without a wait every one is a SQLite transaction of its own (about 4
//! `fcntl` for the WAL locks, 4 `pwrite64`, a wake-up of the driver for its
//! ticket, and a re-read of the provisioning version on the driver's side).
//! Waiting [`WINDOW`] before writing a small batch, while traffic flows,
//! lets the next registrations join it: one transaction and one wake-up for
//! several. Nothing is answered sooner than before (a 200 OK still waits for
//! its commit); it is answered up to [`WINDOW`] later. An idle switch does not
//! wait (a lone REGISTER has nothing to wait for), nor does a busy one whose
//! batches are already large.

use std::time::{Duration, Instant};

/// The wait before writing a small batch while traffic flows.
pub(super) const WINDOW: Duration = Duration::from_millis(1);

/// A batch that arrives within this of the previous one means traffic flows
/// (about 50 batches a second or more).
const FLOWING: Duration = Duration::from_millis(20);

/// Operations (a registration is two: its record and its ticket) below which
/// a batch is small enough to wait for company.
const SMALL: usize = 16;

/// When the previous batch arrived.
#[derive(Debug, Default)]
pub(super) struct CommitWindow {
    last: Option<Instant>,
}

impl CommitWindow {
    /// How long to wait before writing a batch of `ops` operations that
    /// arrived at `now`, if at all.
    pub(super) fn wait(&mut self, now: Instant, ops: usize) -> Option<Duration> {
        let flowing = self.last.is_some_and(|last| now.saturating_duration_since(last) < FLOWING);
        self.last = Some(now);
        (flowing && ops < SMALL).then_some(WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_batch_waits_only_while_traffic_flows() {
        let t0 = Instant::now();
        let mut w = CommitWindow::default();
        assert_eq!(w.wait(t0, 2), None, "the first batch: nothing known to follow");
        assert_eq!(w.wait(t0 + Duration::from_millis(5), 2), Some(WINDOW), "1 ms later traffic flows");
        assert_eq!(w.wait(t0 + Duration::from_millis(6), SMALL), None, "a large batch is written at once");
        assert_eq!(w.wait(t0 + Duration::from_millis(6) + FLOWING, 2), None, "a lull: a lone registration is not held");
        assert_eq!(w.wait(t0 + Duration::from_millis(7) + FLOWING, 2), Some(WINDOW));
    }
}
