//! Who holds a number now: the flow its live registration is on, and whether
//! a REGISTER would be refused as a conflict, asked before anything changes
//! (the registrar must not let a possible guess change a number's state).

use super::{Entry, LocationTable, record_key};
use crate::location::flows::key_of;
use crate::location::registration::{Device, Registration};
use sipcore::transport::Flow;
use std::time::Instant;

impl LocationTable {
    /// `number`'s record and the flow it is live on at `now`: TTL not run
    /// out, the flow still in the index and not silent past its deadline.
    fn live(&self, number: &str, now: Instant) -> Option<(&Entry, Flow)> {
        let e = self.records.get(number).filter(|e| e.record.expires_at > now)?;
        let key = record_key(&e.record).filter(|k| self.flows.is_alive(*k, now))?;
        Some((e, self.flows.get(key)?.0))
    }

    /// Whether `flow` is the live flow `number` is registered on (in
    /// `Registered` or `Conflict`): the phone there is the number's holder.
    pub fn holds(&self, number: &str, flow: &Flow, now: Instant) -> bool {
        self.live(number, now).is_some_and(|(_, held)| key_of(&held) == key_of(flow))
    }

    /// Whether [`LocationTable::register`] would refuse `reg` as a conflict
    /// at `now`. Changes nothing.
    pub fn would_conflict(&self, now: Instant, reg: &Registration) -> bool {
        self.live(&reg.number, now).is_some_and(|(e, held)| conflicts(Device::of(&e.record).same_as(&reg.device()), &held))
    }
}

/// A conflict needs another device and a signalling channel that is provably
/// still up: a UDP "flow" never reports its end, so a phone that rebooted (new
/// Call-ID, new NAT port) would be locked out until the TTL. Over UDP the
/// newer registration wins.
pub(super) fn conflicts(same_device: bool, held: &Flow) -> bool {
    !same_device && held.transport.is_reliable()
}
