//! Where a call for a subscriber goes: down the live flow, or home.

use super::table::LocationTable;
use crate::record::{RlRecord, Subscriber};
use sipcore::transport::{FlowId, TransportKind};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

/// Why a call cannot go down a flow (the patent's three revert cases, plus
/// never registered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeReason {
    /// The flow closed or went silent, or the switch restarted.
    SignallingDropped,
    /// Another device tried to register while the flow was still up.
    Conflict,
    /// The RL record's TTL ran out (remembered for `tombstone_for` seconds).
    TtlExpired,
    /// No record at all.
    NotRegistered,
}

impl HomeReason {
    /// The name used in logs and CDRs.
    pub fn as_str(self) -> &'static str {
        match self {
            HomeReason::SignallingDropped => "signalling_dropped",
            HomeReason::Conflict => "conflict",
            HomeReason::TtlExpired => "ttl_expired",
            HomeReason::NotRegistered => "not_registered",
        }
    }
}

impl fmt::Display for HomeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The routing decision for one incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Send the INVITE down this flow: `observed` is the phone's public
    /// address (the flow's remote), `local` the switch address it came in on.
    Flow { flow_id: FlowId, local: SocketAddr, observed: SocketAddr, transport: TransportKind, record: Box<RlRecord<Instant>> },
    /// Send the call to the provisioned home location.
    Home { uri: String, reason: HomeReason },
    /// No flow and no home: answer the caller (480 Temporarily Unavailable).
    Unavailable { reason: HomeReason },
}

/// The B2BUA's one question: where does a call for `subscriber` go at `now`?
/// `Flow` only when the record is `Registered` on a flow that is still in the
/// table, not silent past its deadline, and the TTL has not run out; otherwise
/// home (an empty home URI counts as none), else unavailable.
pub fn route(table: &LocationTable, subscriber: &Subscriber, now: Instant) -> Route {
    let reason = match table.reach(&subscriber.number, now) {
        Ok((flow, record)) => {
            return Route::Flow {
                flow_id: flow.id,
                local: flow.local,
                observed: flow.remote,
                transport: flow.transport,
                record: Box::new(record.clone()),
            };
        }
        Err(reason) => reason,
    };
    match subscriber.home.as_deref().filter(|h| !h.is_empty()) {
        Some(uri) => Route::Home { uri: uri.to_owned(), reason },
        None => Route::Unavailable { reason },
    }
}
