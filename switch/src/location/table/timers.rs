//! Deadlines: silent outbound flows, TTLs, and tombstones to forget.

use super::LocationTable;
use crate::location::change::{Cause, Change};
use std::time::Instant;

impl LocationTable {
    /// The next instant [`Self::handle_timeout`] has work: the earliest TTL,
    /// flow silence deadline or tombstone purge.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ttl = self.expiry.first().map(|(t, _)| *t);
        let flow = self.flows.next_deadline();
        let purge = self.purge.first().map(|(t, _)| *t);
        [ttl, flow, purge].into_iter().flatten().min()
    }

    /// Does everything due at or before `now`, in this order:
    /// 1. outbound flows silent for `flow_timer + grace`: their records become
    ///    `SignallingDropped` and the flow is to be closed;
    /// 2. records whose TTL ran out (at exactly `expires_at`): removed and kept
    ///    as tombstones for `tombstone_for` seconds; a flow left without any
    ///    registration is to be forgotten (not closed: the phone may still use it);
    /// 3. tombstones past their time: forgotten (no change to report; they are
    ///    never stored).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        while let Some((flow, dead)) = self.flows.pop_dead(now) {
            for number in dead.numbers.keys() {
                self.drop_signalling(number, Cause::FlowSilent, &mut changes);
            }
            changes.push(Change::CloseFlow { flow, cause: Cause::FlowSilent });
        }
        while let Some((t, number)) = self.expiry.first().cloned() {
            if t > now {
                break;
            }
            let Some(record) = self.remove(&number, Cause::TtlExpired, &mut changes) else {
                // An index entry without a record: drop it rather than spin.
                self.expiry.remove(&(t, number));
                continue;
            };
            let purge_at = record.expires_at + self.cfg.tombstone_time();
            self.purge.insert((purge_at, number.clone()));
            self.tombstones.insert(number, (record, purge_at));
        }
        while let Some((t, number)) = self.purge.first().cloned() {
            if t > now {
                break;
            }
            self.purge.pop_first();
            self.tombstones.remove(&number);
        }
        changes
    }
}
