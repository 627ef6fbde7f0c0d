//! The header timeout of a stream connection: when it must have completed
//! the message it is in, sans-IO (the connection task owns the one timer).
//!
//! A slow or half-open client (slowloris: one byte a second of a header that
//! never ends, or a connection that sends nothing) would otherwise hold its
//! connection, its buffer and its per-IP slot forever. The rule:
//!
//! * A message, header and body, must be complete within `timeout` of its
//!   first byte. Bytes trickling in do not extend it.
//! * An accepted connection must complete its first message within `timeout`
//!   of the TCP accept (the TLS handshake, when there is one, counts against
//!   the same deadline): a connection that sends nothing, or only keep-alive
//!   CRLFs, is closed then.
//! * Between messages nothing is due: an idle flow (a registered phone that
//!   pings with CRLFs every Flow-Timer) stays open for as long as it likes,
//!   and its keep-alives never start a deadline. Dead idle flows are the
//!   kernel's TCP keep-alive probes' and the registrar's flow supervision's job.
//!
//! A connection we opened has no accept deadline: the peer may stay silent
//! until we have spoken.

use std::time::Duration;
use tokio::time::Instant;

/// When a stream connection must have completed the message it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MessageDeadline {
    timeout: Duration,
    due: Option<Instant>,
    /// An accepted connection that has not completed a message yet: its
    /// accept deadline stands whatever it sends.
    first_pending: bool,
}

impl MessageDeadline {
    /// A connection accepted at `at`: its first message is due `timeout` later.
    pub(super) fn accepted(at: Instant, timeout: Duration) -> Self {
        Self { timeout, due: at.checked_add(timeout), first_pending: true }
    }

    /// A connection we opened: nothing is due until the peer starts a message.
    pub(super) fn opened(timeout: Duration) -> Self {
        Self { timeout, due: None, first_pending: false }
    }

    /// Bytes were read at `now` and framed: `completed` messages came out
    /// whole, and `in_message` says whether part of another is buffered now.
    pub(super) fn framed(&mut self, now: Instant, completed: usize, in_message: bool) {
        if completed > 0 {
            self.first_pending = false;
            self.due = None;
        }
        if self.first_pending {
            return;
        }
        if !in_message {
            self.due = None;
        } else if self.due.is_none() {
            // The message began in this read (a new one, or the one after
            // those just completed).
            self.due = now.checked_add(self.timeout);
        }
    }

    /// When the connection is to be closed unless a message completes first.
    pub(super) fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn an_accepted_connection_owes_its_first_message_from_the_accept() {
        let t0 = Instant::now();
        let mut d = MessageDeadline::accepted(t0, T);
        assert_eq!(d.due(), Some(t0 + T), "nothing sent at all");
        // Keep-alives before any message do not count.
        d.framed(t0 + secs(2), 0, false);
        assert_eq!(d.due(), Some(t0 + T));
        // Nor does the first message's first byte move it later.
        d.framed(t0 + secs(4), 0, true);
        assert_eq!(d.due(), Some(t0 + T));
        d.framed(t0 + secs(6), 1, false);
        assert_eq!(d.due(), None, "the first message came: idle from now on");
    }

    #[test]
    fn a_message_is_due_from_its_first_byte_and_trickling_does_not_extend_it() {
        let t0 = Instant::now();
        let mut d = MessageDeadline::accepted(t0, T);
        d.framed(t0, 1, false);
        // An hour of idling and keep-alives: nothing due.
        for s in (30..3600).step_by(30) {
            d.framed(t0 + secs(s), 0, false);
            assert_eq!(d.due(), None, "idle at {s} s");
        }
        let start = t0 + secs(3600);
        d.framed(start, 0, true);
        assert_eq!(d.due(), Some(start + T));
        for s in 1..20 {
            d.framed(start + secs(s), 0, true);
            assert_eq!(d.due(), Some(start + T), "a byte at +{s} s");
        }
    }

    #[test]
    fn each_message_gets_its_own_deadline() {
        let t0 = Instant::now();
        let mut d = MessageDeadline::opened(T);
        d.framed(t0, 0, true);
        assert_eq!(d.due(), Some(t0 + T));
        // It completes, and the next one starts in the same read.
        d.framed(t0 + secs(9), 1, true);
        assert_eq!(d.due(), Some(t0 + secs(9) + T));
        // Several at once, nothing left over.
        d.framed(t0 + secs(12), 3, false);
        assert_eq!(d.due(), None);
    }

    #[test]
    fn a_connection_we_opened_may_stay_silent() {
        let t0 = Instant::now();
        let mut d = MessageDeadline::opened(T);
        assert_eq!(d.due(), None);
        d.framed(t0 + secs(100), 0, false);
        assert_eq!(d.due(), None, "pongs are not a message");
    }

    #[test]
    fn a_deadline_past_the_end_of_time_is_none() {
        let t0 = Instant::now();
        assert_eq!(MessageDeadline::accepted(t0, Duration::MAX).due(), None);
    }
}
