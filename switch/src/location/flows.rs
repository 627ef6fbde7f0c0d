//! The flow index: which numbers are registered over which flow, when each flow
//! last showed signs of life, and (for outbound flows) when silence kills it.
//!
//! A flow is keyed by its id and remote address: for TCP/TLS the id alone names
//! the connection, but a UDP socket's id is shared by every peer on it. One
//! ordered map by that pair, not a map of maps: a map per TCP flow holding its
//! one peer cost ~700 bytes a parked phone, and the order still finds every
//! peer of a socket (a range of ids). An entry keeps only the rest of its
//! flow (transport and local address): a copy of the key in it cost 40 bytes
//! a parked phone.

use super::flow_numbers::FlowNumbers;
use sipcore::transport::{Flow, FlowId, TransportKind};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Bound;
use std::time::{Duration, Instant};

pub(super) type FlowKey = (FlowId, SocketAddr);

pub(super) fn key_of(flow: &Flow) -> FlowKey {
    (flow.id, flow.remote)
}

/// The least address in `SocketAddr`'s order (V4 before V6, then IP, then port).
const LEAST: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// Every key with this id: from `(id, least)` up to the next id's first.
fn keys_of(id: FlowId) -> (Bound<FlowKey>, Bound<FlowKey>) {
    let end = id.0.checked_add(1).map_or(Bound::Unbounded, |next| Bound::Excluded((FlowId(next), LEAST)));
    (Bound::Included((id, LEAST)), end)
}

/// One flow carrying at least one registration; its id and remote address
/// are the key it is filed under.
#[derive(Debug, Clone)]
pub(super) struct FlowEntry {
    transport: TransportKind,
    local: SocketAddr,
    /// Number → whether that registration is RFC 5626 outbound.
    pub(super) numbers: FlowNumbers,
    pub(super) last_activity: Instant,
    /// `last_activity + silence` when any registration on it is outbound.
    pub(super) deadline: Option<Instant>,
}

impl FlowEntry {
    /// The flow this entry is, filed under `key`.
    fn flow(&self, (id, remote): FlowKey) -> Flow {
        Flow { id, transport: self.transport, local: self.local, remote }
    }

    fn supervised(&self) -> bool {
        self.numbers.any_outbound()
    }
}

#[derive(Debug, Clone)]
pub(super) struct FlowIndex {
    flows: BTreeMap<FlowKey, FlowEntry>,
    deadlines: BTreeSet<(Instant, FlowId, SocketAddr)>,
    silence: Duration,
}

impl FlowIndex {
    pub(super) fn new(silence: Duration) -> Self {
        Self { flows: BTreeMap::new(), deadlines: BTreeSet::new(), silence }
    }

    pub(super) fn clear(&mut self) {
        self.flows.clear();
        self.deadlines.clear();
    }

    pub(super) fn get(&self, key: FlowKey) -> Option<(Flow, &FlowEntry)> {
        self.flows.get(&key).map(|e| (e.flow(key), e))
    }

    /// True when the flow carries registrations and, if supervised, has not
    /// been silent up to `now`.
    pub(super) fn is_alive(&self, key: FlowKey, now: Instant) -> bool {
        self.flows.get(&key).is_some_and(|e| e.deadline.is_none_or(|d| now < d))
    }

    /// Puts `number` on `flow` (a REGISTER on it, which counts as activity).
    pub(super) fn bind(&mut self, flow: Flow, number: &str, outbound: bool, now: Instant) {
        let key = key_of(&flow);
        let entry = match self.flows.entry(key) {
            std::collections::btree_map::Entry::Vacant(v) => v.insert(FlowEntry {
                transport: flow.transport,
                local: flow.local,
                numbers: FlowNumbers::one(number, outbound),
                last_activity: now,
                deadline: None,
            }),
            std::collections::btree_map::Entry::Occupied(o) => {
                let entry = o.into_mut();
                entry.numbers.insert(number, outbound);
                entry
            }
        };
        entry.last_activity = entry.last_activity.max(now);
        Self::reschedule(&mut self.deadlines, self.silence, key, entry);
    }

    /// Takes `number` off the flow; returns the flow when nothing is left on it
    /// (and it has left the index).
    pub(super) fn unbind(&mut self, key: FlowKey, number: &str) -> Option<Flow> {
        let entry = self.flows.get_mut(&key)?;
        entry.numbers.remove(number)?;
        if entry.numbers.is_empty() {
            let entry = self.flows.remove(&key)?;
            if let Some(d) = entry.deadline {
                self.deadlines.remove(&(d, key.0, key.1));
            }
            return Some(entry.flow(key));
        }
        Self::reschedule(&mut self.deadlines, self.silence, key, entry);
        None
    }

    /// A ping, pong or message on the flow; false when the index does not know it.
    pub(super) fn activity(&mut self, key: FlowKey, now: Instant) -> bool {
        let Some(entry) = self.flows.get_mut(&key) else {
            return false;
        };
        entry.last_activity = entry.last_activity.max(now);
        Self::reschedule(&mut self.deadlines, self.silence, key, entry);
        true
    }

    /// Removes every flow with this id (a closed connection, or a closed UDP
    /// socket with all its peers).
    pub(super) fn take_id(&mut self, id: FlowId) -> Vec<FlowEntry> {
        let keys: Vec<FlowKey> = self.flows.range(keys_of(id)).map(|(k, _)| *k).collect();
        let mut out = Vec::with_capacity(keys.len());
        for (id, remote) in keys {
            let Some(e) = self.flows.remove(&(id, remote)) else { continue };
            if let Some(d) = e.deadline {
                self.deadlines.remove(&(d, id, remote));
            }
            out.push(e);
        }
        out
    }

    /// The earliest silence deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(d, _, _)| d)
    }

    /// Removes and returns one flow whose silence deadline is at or before `now`.
    pub(super) fn pop_dead(&mut self, now: Instant) -> Option<(Flow, FlowEntry)> {
        let &(d, id, remote) = self.deadlines.first()?;
        if d > now {
            return None;
        }
        self.deadlines.pop_first();
        self.flows.remove(&(id, remote)).map(|e| (e.flow((id, remote)), e))
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = (Flow, &FlowEntry)> {
        self.flows.iter().map(|(&key, e)| (e.flow(key), e))
    }

    /// Checks the deadline set agrees with the entries.
    pub(super) fn check(&self) -> crate::Result<()> {
        let mut expected = BTreeSet::new();
        for (&(id, remote), e) in &self.flows {
            let flow = e.flow((id, remote));
            if e.numbers.is_empty() {
                return Err(crate::Error::Invariant(format!("{flow}: flow with no registration")));
            }
            let want = e.supervised().then(|| e.last_activity + self.silence);
            if e.deadline != want {
                return Err(crate::Error::Invariant(format!("{flow}: deadline {:?}, expected {want:?}", e.deadline)));
            }
            if let Some(d) = e.deadline {
                expected.insert((d, id, remote));
            }
        }
        if expected != self.deadlines {
            return Err(crate::Error::Invariant(format!("deadline set {:?} != entries {:?}", self.deadlines, expected)));
        }
        Ok(())
    }

    fn reschedule(deadlines: &mut BTreeSet<(Instant, FlowId, SocketAddr)>, silence: Duration, key: FlowKey, e: &mut FlowEntry) {
        if let Some(d) = e.deadline.take() {
            deadlines.remove(&(d, key.0, key.1));
        }
        if e.supervised() {
            let d = e.last_activity + silence;
            e.deadline = Some(d);
            deadlines.insert((d, key.0, key.1));
        }
    }
}
