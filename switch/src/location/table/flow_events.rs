//! What the transport reports about flows: closed, or alive (any traffic).

use super::LocationTable;
use crate::location::change::{Cause, Change};
use crate::location::flows::key_of;
use sipcore::transport::{Flow, FlowId};
use std::time::Instant;

impl LocationTable {
    /// The transport closed the flow (a connection, or a whole UDP socket with
    /// every peer on it): each record on it becomes `SignallingDropped` (which
    /// also ends a conflict) and calls go home until the phone registers again.
    pub fn flow_closed(&mut self, now: Instant, id: FlowId) -> Vec<Change> {
        let mut changes = self.handle_timeout(now);
        for entry in self.flows.take_id(id) {
            for number in entry.numbers.keys() {
                self.drop_signalling(number, Cause::FlowClosed, &mut changes);
            }
        }
        changes
    }

    /// Traffic on the flow (a keep-alive ping or pong, or any message): pushes
    /// its silence deadline back to `now + flow_timer + grace`. Takes the whole
    /// [`Flow`] because a UDP socket's id is shared by all its peers. Anything
    /// due at `now` is handled first, so traffic arriving exactly at the
    /// deadline is too late.
    pub fn flow_activity(&mut self, now: Instant, flow: &Flow) -> Vec<Change> {
        let changes = self.handle_timeout(now);
        self.flows.activity(key_of(flow), now);
        changes
    }

    /// When the flow goes silent-dead if nothing arrives: `None` when it carries
    /// no outbound registration (or no registration at all).
    pub fn flow_deadline(&self, flow: &Flow) -> Option<Instant> {
        self.flows.get(key_of(flow)).and_then(|(_, e)| e.deadline)
    }
}
