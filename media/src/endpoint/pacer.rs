//! The send clock of an RTP stream, sans-IO: one 20 ms slot after another,
//! RTP timestamps +160 per slot, driven by the `now` the caller passes in.

use std::time::{Duration, Instant};

/// One packet's worth of time.
pub const FRAME: Duration = Duration::from_millis(20);
/// Samples (timestamp units at 8 kHz) per frame.
pub const FRAME_SAMPLES: u32 = 160;
/// When the driver falls this many frames behind (a stalled task, a suspended
/// laptop), the missed slots are skipped rather than sent in a burst; their
/// timestamps are still consumed so the receiver sees the gap.
pub const MAX_LAG_FRAMES: u32 = 10;

/// The slot clock. While running, a slot is due at every `poll_timeout()`; a
/// pause keeps the clock so that resuming advances the timestamp by the time
/// that passed (RTP timestamps follow the sampling clock, not the packet count).
#[derive(Debug)]
pub struct Pacer {
    timestamp: u32,
    /// The instant the next slot is due (kept while paused).
    next: Option<Instant>,
    running: bool,
}

impl Pacer {
    /// A stopped clock whose first slot will carry `timestamp`.
    pub fn new(timestamp: u32) -> Pacer {
        Pacer { timestamp, next: None, running: false }
    }

    /// (Re)starts the clock: the next slot is due at once (`now`), with the
    /// timestamp advanced past any slots that elapsed since the clock stopped.
    pub fn start(&mut self, now: Instant) {
        if let Some(next) = self.next {
            self.skip_to(next, now);
        }
        self.next = Some(now);
        self.running = true;
    }

    /// Stops producing slots (hold); time keeps counting for the timestamp.
    pub fn pause(&mut self) {
        self.running = false;
    }

    /// Whether slots are being produced.
    pub fn running(&self) -> bool {
        self.running
    }

    /// When the next slot is due, while running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next.filter(|_| self.running)
    }

    /// The RTP timestamp of the slot due at `now`, if one is due; the caller
    /// sends one packet per `Some` and calls again until `None`.
    pub fn poll_slot(&mut self, now: Instant) -> Option<u32> {
        let next = self.poll_timeout()?;
        if now < next {
            return None;
        }
        let next = if now.duration_since(next) >= FRAME * MAX_LAG_FRAMES { self.skip_to(next, now) } else { next };
        let ts = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES);
        self.next = Some(next + FRAME);
        Some(ts)
    }

    /// Consumes the slots from `next` up to `now` without sending them;
    /// returns the instant of the slot that is due at `now`.
    fn skip_to(&mut self, next: Instant, now: Instant) -> Instant {
        let missed = (now.saturating_duration_since(next).as_micros() / FRAME.as_micros()) as u32;
        self.timestamp = self.timestamp.wrapping_add(missed.wrapping_mul(FRAME_SAMPLES));
        next + FRAME * missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_slot_at_once_then_every_20ms() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1000);
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.poll_slot(t0), None);
        p.start(t0);
        assert_eq!(p.poll_timeout(), Some(t0));
        assert_eq!(p.poll_slot(t0), Some(1000));
        assert_eq!(p.poll_slot(t0), None);
        assert_eq!(p.poll_timeout(), Some(t0 + ms(20)));
        assert_eq!(p.poll_slot(t0 + ms(19)), None);
        assert_eq!(p.poll_slot(t0 + ms(20)), Some(1160));
        // Late by 45 ms: the two overdue slots come back to back, on the 20 ms grid.
        assert_eq!(p.poll_slot(t0 + ms(85)), Some(1320));
        assert_eq!(p.poll_slot(t0 + ms(85)), Some(1480));
        assert_eq!(p.poll_slot(t0 + ms(85)), Some(1640));
        assert_eq!(p.poll_slot(t0 + ms(85)), None);
        assert_eq!(p.poll_timeout(), Some(t0 + ms(100)));
    }

    #[test]
    fn long_stall_skips_slots_but_keeps_the_clock() {
        let t0 = Instant::now();
        let mut p = Pacer::new(0);
        p.start(t0);
        assert_eq!(p.poll_slot(t0), Some(0));
        // 1 s later: 49 slots were missed; one packet goes, stamped for now.
        assert_eq!(p.poll_slot(t0 + ms(1000)), Some(50 * 160));
        assert_eq!(p.poll_slot(t0 + ms(1000)), None);
        assert_eq!(p.poll_timeout(), Some(t0 + ms(1020)));
    }

    #[test]
    fn pause_and_resume_follow_wall_clock() {
        let t0 = Instant::now();
        let mut p = Pacer::new(u32::MAX - 159);
        p.start(t0);
        assert_eq!(p.poll_slot(t0), Some(u32::MAX - 159));
        assert_eq!(p.poll_slot(t0 + ms(20)), Some(0)); // wraps
        p.pause();
        assert!(!p.running());
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.poll_slot(t0 + ms(500)), None);
        // Resumed 1 s after the last slot: sent at once, timestamp 50 slots on.
        p.start(t0 + ms(1020));
        assert_eq!(p.poll_slot(t0 + ms(1020)), Some(50 * 160));
        assert_eq!(p.poll_timeout(), Some(t0 + ms(1040)));
        // A retarget while running sends at once too, no timestamp jump.
        p.start(t0 + ms(1030));
        assert_eq!(p.poll_slot(t0 + ms(1030)), Some(51 * 160));
    }
}
