//! The location table: the current RL record per number, an ordered expiry
//! index (mini-redis `db.rs` style), the flow index, and tombstones of records
//! whose TTL ran out. A plain state machine: every call takes `now`, nothing
//! reads a clock or touches a socket, and every mutation returns the
//! [`Change`]s the driver persists and logs.

mod check;
mod flow_events;
mod holder;
mod records;
mod register;
mod timers;

use super::change::{Cause, Challenger, Change};
use super::config::LocationConfig;
use super::flows::{FlowIndex, FlowKey};
use super::registration::{Device, Unregistration};
use super::route::HomeReason;
use crate::record::{RlRecord, RlState};
use records::Records;
use sipcore::transport::Flow;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

pub use register::{Refusal, RegisterKind, RegisterOutcome};

/// A record and, while in `Conflict`, the last device refused (boxed: a
/// conflict is rare, and every parked phone's entry would carry its room).
#[derive(Debug, Clone)]
struct Entry {
    record: RlRecord<Instant>,
    challenger: Option<Box<Challenger>>,
}

/// Where every registered number's phone is now.
#[derive(Debug, Clone)]
pub struct LocationTable {
    cfg: LocationConfig,
    /// One boxed entry per number, found by its record's number.
    records: Records,
    /// `(expires_at, number)` for every record.
    expiry: BTreeSet<(Instant, Box<str>)>,
    flows: FlowIndex,
    /// Records whose TTL ran out, with when they are forgotten.
    tombstones: HashMap<Box<str>, (RlRecord<Instant>, Instant)>,
    /// `(purge_at, number)` for every tombstone.
    purge: BTreeSet<(Instant, Box<str>)>,
}

impl Default for LocationTable {
    fn default() -> Self {
        Self::new(LocationConfig::default())
    }
}

impl LocationTable {
    pub fn new(cfg: LocationConfig) -> Self {
        Self {
            cfg,
            records: Records::default(),
            expiry: BTreeSet::new(),
            flows: FlowIndex::new(cfg.silence_limit()),
            tombstones: HashMap::new(),
            purge: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &LocationConfig {
        &self.cfg
    }

    /// The number's current record (not a tombstone).
    pub fn get(&self, number: &str) -> Option<&RlRecord<Instant>> {
        self.records.get(number).map(|e| &e.record)
    }

    /// The device last refused for this number while its record is in `Conflict`.
    pub fn challenger(&self, number: &str) -> Option<&Challenger> {
        self.records.get(number).and_then(|e| e.challenger.as_deref())
    }

    /// The record whose TTL ran out, kept for `tombstone_for` seconds.
    pub fn expired(&self, number: &str) -> Option<&RlRecord<Instant>> {
        self.tombstones.get(number).map(|(r, _)| r)
    }

    /// Every current record, in no particular order.
    pub fn records(&self) -> impl Iterator<Item = &RlRecord<Instant>> {
        self.records.iter().map(|e| &e.record)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Where a call for `number` can go at `now`: the live flow and the record,
    /// or why it has to go home. Checks the clock itself, so a TTL or silence
    /// deadline that [`Self::handle_timeout`] has not yet processed still counts.
    pub fn reach(&self, number: &str, now: Instant) -> Result<(Flow, &RlRecord<Instant>), HomeReason> {
        let Some(entry) = self.records.get(number) else {
            return Err(if self.tombstones.contains_key(number) { HomeReason::TtlExpired } else { HomeReason::NotRegistered });
        };
        let r = &entry.record;
        if r.expires_at <= now {
            return Err(HomeReason::TtlExpired);
        }
        match r.state {
            RlState::Conflict => Err(HomeReason::Conflict),
            RlState::SignallingDropped => Err(HomeReason::SignallingDropped),
            RlState::Registered => {
                let key = record_key(r).ok_or(HomeReason::SignallingDropped)?;
                match self.flows.get(key) {
                    Some((flow, _)) if self.flows.is_alive(key, now) => Ok((flow, r)),
                    _ => Err(HomeReason::SignallingDropped),
                }
            }
        }
    }

    /// `Expires: 0` from a device: removes its record if that device holds it.
    /// Another device's unregistration changes nothing (RFC 3261 §10.3: removing
    /// a binding that does not exist is not an error).
    pub fn unregister(&mut self, now: Instant, req: &Unregistration) -> Vec<Change> {
        let mut changes = self.handle_timeout(now);
        let mine = self.records.get(&req.number).is_some_and(|e| Device::of(&e.record).same_as(&req.device()));
        if mine {
            self.remove(&req.number, Cause::Unregistered, &mut changes);
        }
        changes
    }

    /// `Contact: *`: removes the number's record whoever holds it (the request
    /// is authenticated for the number; RFC 3261 §10.3 step 6).
    pub fn unregister_all(&mut self, now: Instant, number: &str) -> Vec<Change> {
        let mut changes = self.handle_timeout(now);
        self.remove(number, Cause::UnregisteredAll, &mut changes);
        changes
    }

    /// The number is no longer provisioned: its record goes, whoever holds it
    /// (no tombstone: there is nothing to route to any more). The flow stays
    /// open, as after an unregistration; the phone's next REGISTER gets 404.
    pub fn deprovision(&mut self, now: Instant, number: &str) -> Vec<Change> {
        let mut changes = self.handle_timeout(now);
        self.remove(number, Cause::Deprovisioned, &mut changes);
        changes
    }

    /// The store refused the write of `record`: if it is still the number's
    /// record (nothing replaced it since), it goes, with no tombstone. The
    /// flow stays open, as after an unregistration: the phone told 503 tries
    /// again on it.
    pub fn refused(&mut self, now: Instant, record: &RlRecord<Instant>) -> Vec<Change> {
        let mut changes = self.handle_timeout(now);
        if self.get(&record.number) == Some(record) {
            self.remove(&record.number, Cause::StoreRefused, &mut changes);
        }
        changes
    }

    /// After a restart: replaces the table with the stored records. Expired ones
    /// are removed (no tombstone: the restart forgets them); every other record
    /// becomes `SignallingDropped` with no flow, since the flows died with the
    /// old process, and keeps its TTL so the phone has until then to come back.
    pub fn load(&mut self, now: Instant, stored: Vec<RlRecord<Instant>>) -> Vec<Change> {
        self.records.clear();
        self.expiry.clear();
        self.flows.clear();
        self.tombstones.clear();
        self.purge.clear();
        let mut changes = Vec::new();
        for mut record in stored {
            if record.expires_at <= now {
                changes.push(Change::Removed { record, cause: Cause::TtlExpired });
                continue;
            }
            record.state = RlState::SignallingDropped;
            record.flow_id = None;
            let number = record.number.clone();
            self.take(&number);
            self.put(Entry { record: record.clone(), challenger: None }, now);
            changes.push(Change::Upserted { record, cause: Cause::Restarted });
        }
        changes
    }

    /// Inserts a record (its number must be absent) into the map and indexes.
    fn put(&mut self, entry: Entry, now: Instant) {
        let r = &entry.record;
        self.expiry.insert((r.expires_at, r.number.clone()));
        if let Some(flow) = record_flow(r) {
            self.flows.bind(flow, &r.number, r.outbound, now);
        }
        if let Some((_, purge_at)) = self.tombstones.remove(&r.number) {
            self.purge.remove(&(purge_at, r.number.clone()));
        }
        self.records.insert(Box::new(entry));
    }

    /// Takes a record out of the map and indexes; the flow comes back when the
    /// record was the last one on it.
    fn take(&mut self, number: &str) -> Option<(Entry, Option<Flow>)> {
        let entry = *self.records.remove(number)?;
        let r = &entry.record;
        self.expiry.remove(&(r.expires_at, r.number.clone()));
        let freed = record_key(r).and_then(|key| self.flows.unbind(key, number));
        Some((entry, freed))
    }

    /// Removes a record for good, reporting it and the flow it leaves unused.
    fn remove(&mut self, number: &str, cause: Cause, changes: &mut Vec<Change>) -> Option<RlRecord<Instant>> {
        let (entry, freed) = self.take(number)?;
        changes.push(Change::Removed { record: entry.record.clone(), cause });
        if let Some(flow) = freed {
            changes.push(Change::ForgetFlow { flow, cause });
        }
        Some(entry.record)
    }

    /// The record's flow is gone (already out of the flow index): it becomes
    /// `SignallingDropped`, which also ends a conflict.
    fn drop_signalling(&mut self, number: &str, cause: Cause, changes: &mut Vec<Change>) {
        let dropped = self.records.update(number, |entry| {
            entry.record.state = RlState::SignallingDropped;
            entry.record.flow_id = None;
            entry.challenger = None;
            entry.record.clone()
        });
        if let Some(record) = dropped {
            changes.push(Change::Upserted { record, cause });
        }
    }
}

/// The flow key a record is bound under, if it has a flow.
fn record_key(r: &RlRecord<Instant>) -> Option<FlowKey> {
    r.flow_id.map(|id| (id, r.observed))
}

/// The whole flow a record is bound to, if it has one.
fn record_flow(r: &RlRecord<Instant>) -> Option<Flow> {
    Some(Flow { id: r.flow_id?, transport: r.transport, local: r.local?, remote: r.observed })
}
