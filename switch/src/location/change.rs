//! What every mutating call hands back (through the core, to its driver):
//! records to persist or delete, flows to close or forget. One `Change` about
//! a record is one log line.

use crate::record::RlRecord;
use sipcore::headers::MacAddr;
use sipcore::transport::{Flow, FlowId, TransportKind};
use std::net::SocketAddr;
use std::time::Instant;

/// Why a record or flow changed; the word the driver logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A new registration (no record, or one that was no longer live).
    Registered,
    /// The same device registered again on the same flow.
    Refreshed,
    /// The same device registered from a new flow; the old flow is replaced.
    Roamed,
    /// A REGISTER with `Expires: 0` from the registered device.
    Unregistered,
    /// A REGISTER with `Contact: *`.
    UnregisteredAll,
    /// The transport reported the flow closed.
    FlowClosed,
    /// An outbound flow stayed silent past `flow_timer + grace`.
    FlowSilent,
    /// The record's TTL ran out.
    TtlExpired,
    /// Loaded after a restart: the old process's flows are gone.
    Restarted,
    /// The number is no longer provisioned (`switch subscriber remove`).
    Deprovisioned,
    /// The store could not take the write that made this record, so the
    /// phone was told 503: it must not be routed to as if registered.
    StoreRefused,
}

impl Cause {
    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Registered => "registered",
            Cause::Refreshed => "refreshed",
            Cause::Roamed => "roamed",
            Cause::Unregistered => "unregistered",
            Cause::UnregisteredAll => "unregistered_all",
            Cause::FlowClosed => "flow_closed",
            Cause::FlowSilent => "flow_silent",
            Cause::TtlExpired => "ttl_expired",
            Cause::Restarted => "restarted",
            Cause::Deprovisioned => "deprovisioned",
            Cause::StoreRefused => "store_refused",
        }
    }
}

/// The device whose REGISTER was refused because the number is held by another
/// device on a live flow (what the conflict log line reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenger {
    pub at: Instant,
    pub observed: SocketAddr,
    pub flow_id: FlowId,
    pub transport: TransportKind,
    pub mac: Option<MacAddr>,
    pub instance: Option<String>,
    pub call_id: String,
    pub user_agent: Option<String>,
}

/// One thing the driver must do after a call into the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Store this record (insert or replace by number) and log it.
    Upserted { record: RlRecord<Instant>, cause: Cause },
    /// Another device tried to take the number: store the record (now in
    /// `Conflict`) and log the challenger.
    Challenged { record: RlRecord<Instant>, challenger: Box<Challenger> },
    /// Delete the stored record for this number and log it.
    Removed { record: RlRecord<Instant>, cause: Cause },
    /// Close this flow: no registration is on it any more and it is either
    /// replaced (roaming) or dead (silent). For UDP there is nothing to close;
    /// the driver just forgets the peer.
    CloseFlow { flow: Flow, cause: Cause },
    /// No registration is on this flow any more (unregistered or expired). The
    /// phone may still use it, so it stays open; the driver stops treating it
    /// as a registration flow.
    ForgetFlow { flow: Flow, cause: Cause },
}

impl Change {
    /// The record this change stores or deletes, if it is about one.
    pub fn record(&self) -> Option<&RlRecord<Instant>> {
        match self {
            Change::Upserted { record, .. } | Change::Challenged { record, .. } | Change::Removed { record, .. } => Some(record),
            Change::CloseFlow { .. } | Change::ForgetFlow { .. } => None,
        }
    }

    /// The flow this change closes or forgets, if it is about one.
    pub fn flow(&self) -> Option<&Flow> {
        match self {
            Change::CloseFlow { flow, .. } | Change::ForgetFlow { flow, .. } => Some(flow),
            _ => None,
        }
    }
}
