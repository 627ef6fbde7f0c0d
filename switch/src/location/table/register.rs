//! REGISTER: new registration, refresh, roaming, or conflict.

use super::holder::conflicts;
use super::{Entry, LocationTable, record_key};
use crate::location::change::{Cause, Challenger, Change};
use crate::location::flows::key_of;
use crate::location::registration::{Device, Registration};
use crate::record::{RlRecord, RlState};
use sipcore::transport::Flow;
use sipcore::{StatusCode, ToStatus};
use std::fmt;
use std::time::{Duration, Instant};

/// What an accepted REGISTER did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterKind {
    /// No live record: this one is new (it may replace a dropped one).
    New,
    /// The same device on the same flow: TTL extended, facts updated.
    Refreshed,
    /// The same device on a new flow: the new flow replaces `from` (which the
    /// changes close unless another number still uses it).
    Roamed { from: Flow },
}

/// The 200 OK case: what happened and what to persist, the new record among it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub kind: RegisterKind,
    pub changes: Vec<Change>,
}

impl RegisterOutcome {
    /// The record as it now stands: the registration's own `Upserted` change
    /// carries it (the last one; what expired before it comes first), so the
    /// outcome need not hold a copy of its own.
    pub fn record(&self) -> Option<&RlRecord<Instant>> {
        self.changes.iter().rev().find_map(|c| match c {
            Change::Upserted { record, .. } => Some(record),
            _ => None,
        })
    }
}

/// A REGISTER the table will not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another device holds the number on a live flow that was never
    /// unregistered (the patent's "new registration attempted but old
    /// registration not dropped"): answer 403. The holder's record is now in
    /// `Conflict`; `changes` persist that (and anything that timed out first).
    Conflict { holder: Box<RlRecord<Instant>>, changes: Vec<Change> },
    /// `expires` was 0: that is an unregistration, see
    /// [`LocationTable::unregister`]. Nothing changed.
    ZeroExpires,
}

impl Refusal {
    /// What to persist and log even though the REGISTER was refused.
    pub fn changes(&self) -> &[Change] {
        match self {
            Refusal::Conflict { changes, .. } => changes,
            Refusal::ZeroExpires => &[],
        }
    }

    /// Takes those changes out (to hand them to the driver).
    pub fn take_changes(&mut self) -> Vec<Change> {
        match self {
            Refusal::Conflict { changes, .. } => std::mem::take(changes),
            Refusal::ZeroExpires => Vec::new(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Conflict { .. } => "number active on another device",
            Refusal::ZeroExpires => "zero expires is not a registration",
        })
    }
}

impl std::error::Error for Refusal {}

/// The answer to the REGISTER: 403 for a conflict, 400 for `expires` 0.
impl ToStatus for Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Conflict { .. } => StatusCode::FORBIDDEN,
            Refusal::ZeroExpires => StatusCode::BAD_REQUEST,
        }
    }

    fn reason(&self) -> String {
        format!("{} ({self})", self.status().reason())
    }
}

impl LocationTable {
    /// Takes one accepted REGISTER (see the module docs for the rules).
    pub fn register(&mut self, now: Instant, reg: Registration) -> Result<RegisterOutcome, Refusal> {
        if reg.expires == 0 {
            return Err(Refusal::ZeroExpires);
        }
        // Whatever was due by `now` happens first, so "live" below means: has a
        // flow that is still in the index, and the TTL has not run out.
        let mut changes = self.handle_timeout(now);
        let holder = self.records.get(&reg.number).and_then(|e| {
            let flow = record_key(&e.record).and_then(|k| self.flows.get(k)).map(|(flow, _)| flow)?;
            Some((Device::of(&e.record).same_as(&reg.device()), flow, e.record.state, e.record.registered_at))
        });

        let Some((same_device, held_flow, state, registered_at)) = holder else {
            return Ok(self.register_new(now, reg, changes));
        };
        if conflicts(same_device, &held_flow) {
            return self.challenge(now, reg, changes);
        }
        if !same_device {
            return Ok(self.register_new(now, reg, changes));
        }

        // The same device: a refresh on the same flow, roaming on a new one.
        // Either way the state stays (a conflict lasts until this registration ends).
        let same_flow = key_of(&held_flow) == key_of(&reg.flow);
        let (challenger, freed) = self.take(&reg.number).map_or((None, None), |(e, f)| (e.challenger, f));
        let since = if same_flow { registered_at } else { now };
        let record = build(reg, now, since, state);
        self.put(Entry { record: record.clone(), challenger }, now);
        if same_flow {
            changes.push(Change::Upserted { record, cause: Cause::Refreshed });
            return Ok(RegisterOutcome { kind: RegisterKind::Refreshed, changes });
        }
        changes.push(Change::Upserted { record, cause: Cause::Roamed });
        if let Some(flow) = freed {
            changes.push(Change::CloseFlow { flow, cause: Cause::Roamed });
        }
        Ok(RegisterOutcome { kind: RegisterKind::Roamed { from: held_flow }, changes })
    }

    /// No live record: a fresh one replaces whatever (dropped) record there was.
    fn register_new(&mut self, now: Instant, reg: Registration, mut changes: Vec<Change>) -> RegisterOutcome {
        self.take(&reg.number);
        let record = build(reg, now, now, RlState::Registered);
        self.put(Entry { record: record.clone(), challenger: None }, now);
        changes.push(Change::Upserted { record, cause: Cause::Registered });
        RegisterOutcome { kind: RegisterKind::New, changes }
    }

    /// Another device while the record is live: the record goes to `Conflict`
    /// (keeping the holder's flow and facts) and the REGISTER is refused.
    fn challenge(&mut self, now: Instant, reg: Registration, mut changes: Vec<Change>) -> Result<RegisterOutcome, Refusal> {
        // Out of the set and filed again (a set gives no `&mut`); the
        // indexes keep it, as only its state and challenger change.
        let Some(mut entry) = self.records.remove(&reg.number) else {
            return Ok(self.register_new(now, reg, changes));
        };
        let challenger = Box::new(Challenger {
            at: now,
            observed: reg.flow.remote,
            flow_id: reg.flow.id,
            transport: reg.flow.transport,
            mac: reg.mac,
            instance: reg.instance,
            call_id: reg.call_id,
            user_agent: reg.user_agent,
        });
        entry.record.state = RlState::Conflict;
        entry.challenger = Some(challenger.clone());
        let record = entry.record.clone();
        self.records.insert(entry);
        changes.push(Change::Challenged { record: record.clone(), challenger });
        Err(Refusal::Conflict { holder: Box::new(record), changes })
    }
}

/// The record a REGISTER makes.
fn build(reg: Registration, now: Instant, registered_at: Instant, state: RlState) -> RlRecord<Instant> {
    let behind_nat = reg.behind_nat();
    RlRecord {
        number: reg.number.into(),
        mac: reg.mac,
        private_ip: reg.private_ip,
        public_ip_claimed: reg.public_ip_claimed,
        observed: reg.flow.remote,
        behind_nat,
        bearer_port: reg.bearer_port,
        transport: reg.flow.transport,
        flow_id: Some(reg.flow.id),
        local: Some(reg.flow.local),
        instance: reg.instance.map(Into::into),
        reg_id: reg.reg_id,
        call_id: reg.call_id.into(),
        contact: reg.contact.into(),
        user_agent: reg.user_agent.map(Into::into),
        registered_at,
        expires_at: now + Duration::from_secs(u64::from(reg.expires)),
        state,
        outbound: reg.outbound,
    }
}
