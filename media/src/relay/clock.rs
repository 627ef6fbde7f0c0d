//! The media timeout of one call: armed at answer, it fires once when no RTP
//! arrived on either leg for the configured time. Sans-IO: the driver feeds
//! it `now` and sleeps until [`MediaClock::poll_timeout`].

use std::time::{Duration, Instant};

/// Tracks the last RTP of a call against its media timeout.
#[derive(Clone, Debug)]
pub struct MediaClock {
    timeout: Duration,
    armed_at: Option<Instant>,
    last_rtp: Option<Instant>,
    fired: bool,
}

impl MediaClock {
    /// A clock that fires `timeout` after arming or the last RTP, whichever is later.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout, armed_at: None, last_rtp: None, fired: false }
    }

    /// Starts watching (the call was answered). Arming again restarts the wait.
    pub fn arm(&mut self, now: Instant) {
        self.armed_at = Some(now);
    }

    /// RTP arrived on either leg.
    pub fn on_rtp(&mut self, now: Instant) {
        self.last_rtp = Some(now);
    }

    /// When the timeout would fire if no more RTP comes; None when unarmed or fired already.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.fired {
            return None;
        }
        let armed = self.armed_at?;
        let since = self.last_rtp.map_or(armed, |last| last.max(armed));
        Some(since + self.timeout)
    }

    /// True exactly once: the first time `now` is at or past the deadline.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {
                self.fired = true;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_after_silence_and_not_while_rtp_flows() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut clock = MediaClock::new(ms(500));
        clock.on_rtp(t0);
        assert_eq!(clock.poll_timeout(), None, "not armed before answer");
        assert!(!clock.handle_timeout(t0 + ms(10_000)));
        clock.arm(t0 + ms(100));
        assert_eq!(clock.poll_timeout(), Some(t0 + ms(600)), "RTP before arming does not count");
        for i in 1..=20 {
            clock.on_rtp(t0 + ms(100 + 20 * i));
            assert!(!clock.handle_timeout(t0 + ms(100 + 20 * i)));
        }
        assert_eq!(clock.poll_timeout(), Some(t0 + ms(1000)));
        assert!(!clock.handle_timeout(t0 + ms(999)));
        assert!(clock.handle_timeout(t0 + ms(1000)));
        assert!(!clock.handle_timeout(t0 + ms(5000)), "only once");
        assert_eq!(clock.poll_timeout(), None);
    }
}
