//! A node's lease (issue 14 item 4): the key `sw:{node:ID}:lease` in Redis,
//! holding the node's `--node-address`, set to expire [`TTL`] after each
//! refresh and refreshed every [`REFRESH`]. Another node treats a binding as
//! live only while its node's lease exists, so Redis' own expiry is what
//! declares a dead node dead: its numbers route home within `TTL`.
//!
//! [`Lease`] is the schedule, sans-IO: when the next refresh is due, and until
//! when this node may believe it holds the lease (counted from when the last
//! successful refresh was *sent*, since Redis may have applied it at once).
//! The lease thread (`server/lease.rs`) carries it out.

use std::time::{Duration, Instant};

/// How often the lease is refreshed.
pub const REFRESH: Duration = Duration::from_secs(1);

/// How long a lease outlives its last refresh.
pub const TTL: Duration = Duration::from_secs(3);

/// After a failed refresh, the next try comes sooner.
pub const RETRY: Duration = Duration::from_millis(250);

/// The lease's schedule.
#[derive(Debug, Clone)]
pub struct Lease {
    next: Instant,
    held_until: Option<Instant>,
    /// Held as last reported: each change is reported once.
    reported: bool,
}

/// What a refresh changed, for the one log line per change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// The lease is held (again).
    Taken,
    /// The lease ran out before a refresh went through.
    Lost,
}

impl Lease {
    /// A lease to take at once.
    pub fn new(now: Instant) -> Lease {
        Lease { next: now, held_until: None, reported: false }
    }

    /// When [`Lease::refresh_due`] is next true.
    pub fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// Whether a refresh should be sent at `now`.
    pub fn refresh_due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// Whether this node holds its lease at `now`.
    pub fn held(&self, now: Instant) -> bool {
        self.held_until.is_some_and(|t| now < t)
    }

    /// A refresh sent at `sent` came back at `now`, `ok` or not.
    pub fn refreshed(&mut self, sent: Instant, now: Instant, ok: bool) -> Change {
        if ok {
            self.held_until = Some(sent + TTL);
            self.next = sent + REFRESH;
        } else {
            self.next = now + RETRY;
        }
        let held = self.held(now);
        let change = match (self.reported, held) {
            (false, true) => Change::Taken,
            (true, false) => Change::Lost,
            _ => Change::None,
        };
        self.reported = held;
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_every_second_and_is_held_for_three_after_the_last_one_sent() {
        let t0 = Instant::now();
        let mut lease = Lease::new(t0);
        assert!(lease.refresh_due(t0) && !lease.held(t0));
        // Redis answered 5 ms later: held from when it was sent.
        assert_eq!(lease.refreshed(t0, t0 + Duration::from_millis(5), true), Change::Taken);
        assert_eq!(lease.poll_timeout(), t0 + REFRESH);
        assert!(!lease.refresh_due(t0 + Duration::from_millis(999)));
        assert!(lease.held(t0 + TTL - Duration::from_millis(1)));
        assert!(!lease.held(t0 + TTL));
        let t1 = t0 + REFRESH;
        assert_eq!(lease.refreshed(t1, t1, true), Change::None);
        assert_eq!(lease.poll_timeout(), t1 + REFRESH);
        assert!(lease.held(t1 + TTL - Duration::from_millis(1)) && !lease.held(t1 + TTL));
    }

    #[test]
    fn failed_refreshes_retry_sooner_and_the_lease_is_lost_at_its_ttl() {
        let t0 = Instant::now();
        let mut lease = Lease::new(t0);
        lease.refreshed(t0, t0, true);
        let mut now = t0 + REFRESH;
        let mut lost_at = None;
        while now < t0 + Duration::from_secs(5) {
            assert!(lease.refresh_due(now));
            if lease.refreshed(now, now, false) == Change::Lost {
                lost_at.get_or_insert(now);
            }
            assert_eq!(lease.poll_timeout(), now + RETRY);
            now = lease.poll_timeout();
        }
        // The first failed refresh at or after t0 + TTL says so.
        assert_eq!(lost_at, Some(t0 + TTL));
        assert_eq!(lease.refreshed(now, now, true), Change::Taken);
    }
}
