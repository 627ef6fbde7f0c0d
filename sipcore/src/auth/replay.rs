//! Nonce-count replay protection (RFC 7616 §3.4: the server should reject a
//! repeated nc for a nonce).
//!
//! Memory is bounded: entries are dropped when their nonce expires, and when
//! the table is full the oldest nonce is evicted. To stay safe after an
//! eviction, every untracked nonce issued no later than the evicted one is
//! treated as stale, so a forgotten nonce can never be replayed; the client
//! just gets a fresh nonce. Under overload this degrades to shorter nonce
//! lifetimes rather than to accepting replays.

use std::collections::{BTreeSet, HashMap};

use super::AuthError;
use super::nonce::NonceId;

#[derive(Debug, Clone)]
pub(crate) struct NcTracker {
    max: usize,
    /// Highest accepted nc per nonce. Its issue time is only in `by_issued`,
    /// which is all that reads it: one entry per registered phone, so every
    /// byte here is a byte per flow.
    highest: HashMap<NonceId, u32>,
    /// The same nonces ordered by issue time, for expiry and eviction.
    by_issued: BTreeSet<(u64, NonceId)>,
    /// Issue time of the newest evicted nonce.
    evicted_up_to: Option<u64>,
}

impl NcTracker {
    pub(crate) fn new(max: usize) -> Self {
        NcTracker { max: max.max(1), highest: HashMap::new(), by_issued: BTreeSet::new(), evicted_up_to: None }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.highest.len()
    }

    /// Records `nc` for a genuine, fresh nonce if it is above every nc
    /// accepted before for that nonce.
    pub(crate) fn accept(&mut self, id: NonceId, issued: u64, nc: u32, now: u64, lifetime: u64) -> Result<(), AuthError> {
        self.prune(now, lifetime);
        if let Some(last) = self.highest.get_mut(&id) {
            if nc <= *last {
                return Err(AuthError::Replay { nc, last: *last });
            }
            *last = nc;
            return Ok(());
        }
        if self.evicted_up_to.is_some_and(|w| issued <= w) {
            return Err(AuthError::StaleNonce);
        }
        if nc == 0 {
            return Err(AuthError::Replay { nc, last: 0 });
        }
        if self.highest.len() >= self.max && self.by_issued.first().is_some_and(|&(oldest, _)| oldest > issued) {
            // Evicting a newer nonce to track an older one would be backwards.
            self.evicted_up_to = Some(self.evicted_up_to.map_or(issued, |w| w.max(issued)));
            return Err(AuthError::StaleNonce);
        }
        while self.highest.len() >= self.max {
            let Some((old_issued, old_id)) = self.by_issued.pop_first() else {
                break;
            };
            self.highest.remove(&old_id);
            self.evicted_up_to = Some(self.evicted_up_to.map_or(old_issued, |w| w.max(old_issued)));
        }
        self.highest.insert(id, nc);
        self.by_issued.insert((issued, id));
        Ok(())
    }

    /// Forgets nonces that have expired; they are rejected as stale anyway.
    fn prune(&mut self, now: u64, lifetime: u64) {
        while let Some(&(issued, id)) = self.by_issued.first() {
            if issued.saturating_add(lifetime) > now {
                break;
            }
            self.by_issued.pop_first();
            self.highest.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(n: u8) -> NonceId {
        [n; 16]
    }

    #[test]
    fn nc_must_increase_per_nonce() {
        let mut t = NcTracker::new(10);
        t.accept(id(1), 100, 1, 100, 60).unwrap();
        assert_eq!(t.accept(id(1), 100, 1, 101, 60), Err(AuthError::Replay { nc: 1, last: 1 }));
        t.accept(id(1), 100, 3, 101, 60).unwrap();
        assert_eq!(t.accept(id(1), 100, 2, 101, 60), Err(AuthError::Replay { nc: 2, last: 3 }));
        // Independent per nonce.
        t.accept(id(2), 100, 1, 101, 60).unwrap();
        assert_eq!(t.accept(id(3), 100, 0, 101, 60), Err(AuthError::Replay { nc: 0, last: 0 }));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let mut t = NcTracker::new(10);
        t.accept(id(1), 100, 1, 100, 60).unwrap();
        t.accept(id(2), 150, 1, 150, 60).unwrap();
        assert_eq!(t.len(), 2);
        t.accept(id(3), 160, 1, 160, 60).unwrap();
        assert_eq!(t.len(), 2, "nonce issued at 100 expired at 160");
    }

    #[test]
    fn eviction_makes_older_untracked_nonces_stale() {
        let mut t = NcTracker::new(2);
        t.accept(id(1), 100, 1, 100, 600).unwrap();
        t.accept(id(2), 101, 1, 101, 600).unwrap();
        t.accept(id(3), 102, 1, 102, 600).unwrap();
        assert_eq!(t.len(), 2);
        // id(1) was evicted: replaying it must not look like a first use.
        assert_eq!(t.accept(id(1), 100, 1, 103, 600), Err(AuthError::StaleNonce));
        // An untracked nonce older than everything tracked is refused too.
        assert_eq!(t.accept(id(9), 99, 1, 103, 600), Err(AuthError::StaleNonce));
        // Tracked ones keep working; newer nonces are admitted.
        t.accept(id(3), 102, 2, 103, 600).unwrap();
        t.accept(id(4), 103, 1, 103, 600).unwrap();
    }

    #[test]
    fn zero_capacity_is_clamped() {
        let mut t = NcTracker::new(0);
        t.accept(id(1), 100, 1, 100, 60).unwrap();
        t.accept(id(2), 101, 1, 101, 60).unwrap();
        assert_eq!(t.len(), 1);
    }
}
