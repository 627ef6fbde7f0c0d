//! What the driver records for `/metrics` (see [`crate::admin::metrics`]):
//! read off the core's outputs and state, so the sans-IO core keeps no
//! globals. The relay's per-leg counters are not counted a second time per
//! packet: [`RelayTotals`] reads them.

use crate::cdr::Cdr;
use crate::core::Core;
use crate::record::{RlState, transport_name};
use media::relay::{LegStats, Relay};
use metrics::{counter, gauge};
use sipcore::transport::TransportEvent;
use sipcore::{Message, Method};
use std::time::Instant;

/// A response the core sent: REGISTER's and INVITE's final ones by status.
pub(super) fn sent(message: &Message) {
    let Message::Response(r) = message else { return };
    if r.status < 200 {
        return;
    }
    let Ok(cseq) = r.headers.cseq() else { return };
    let (name, method) = match cseq.method {
        Method::Register => ("switch_register_responses_total", "REGISTER"),
        Method::Invite => ("switch_invite_responses_total", "INVITE"),
        _ => return,
    };
    counter!(name, "status" => r.status.to_string()).increment(1);
    if r.status == 403 {
        counter!("switch_auth_failures_total", "method" => method).increment(1);
    }
}

/// Connections (TCP, TLS) opened and closed: the flows open, by transport.
pub(super) fn transport(event: &TransportEvent) {
    let (flow, delta) = match event {
        TransportEvent::Opened { flow } => (flow, 1.0),
        TransportEvent::Closed { flow, .. } => (flow, -1.0),
        _ => return,
    };
    gauge!("switch_flows_open", "transport" => transport_name(flow.transport)).increment(delta);
}

/// An ended call, by its reason.
pub(super) fn call_ended(cdr: &Cdr<Instant>) {
    counter!("switch_calls_ended_total", "reason" => cdr.end_reason.clone().unwrap_or_else(|| "unknown".into())).increment(1);
}

/// The relay's counters as Prometheus counters: those of ended calls (added
/// once, from their records) plus those of the calls open now (read from the
/// relay at each tick), so a call's packets show while it runs and are never
/// counted twice. Monotonic: a call's final counters are at least what a
/// tick read of it.
#[derive(Debug, Default)]
pub(super) struct RelayTotals {
    ended: Totals,
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    packets_in: u64,
    packets_out: u64,
    bytes_in: u64,
    bytes_out: u64,
    dropped: u64,
    foreign: u64,
}

impl Totals {
    fn add(&mut self, leg: &LegStats) {
        self.packets_in += leg.packets_in;
        self.packets_out += leg.packets_out;
        self.bytes_in += leg.bytes_in;
        self.bytes_out += leg.bytes_out;
        self.dropped += leg.dropped;
        self.foreign += leg.foreign;
    }
}

impl RelayTotals {
    /// An ended call's final counters (from its record).
    pub(super) fn call_ended(&mut self, cdr: &Cdr<Instant>) {
        for leg in [&cdr.caller_media, &cdr.callee_media].into_iter().flatten() {
            self.ended.add(leg);
        }
    }

    /// Sets the counters: the ended calls' and the open calls' now.
    pub(super) fn publish(&self, relay: &Relay) {
        let mut t = self.ended;
        for call in relay.live_stats() {
            t.add(&call.caller);
            t.add(&call.callee);
        }
        counter!("switch_relay_packets_total", "direction" => "in").absolute(t.packets_in);
        counter!("switch_relay_packets_total", "direction" => "out").absolute(t.packets_out);
        counter!("switch_relay_bytes_total", "direction" => "in").absolute(t.bytes_in);
        counter!("switch_relay_bytes_total", "direction" => "out").absolute(t.bytes_out);
        counter!("switch_relay_dropped_packets_total").absolute(t.dropped);
        counter!("switch_relay_foreign_packets_total").absolute(t.foreign);
    }
}

/// A call hung up for want of media.
pub(super) fn media_timeout() {
    counter!("switch_media_timeouts_total").increment(1);
}

/// The gauges, from the core's state (once a tick: counting the table is
/// linear in the registrations).
pub(super) fn gauges(now: Instant, core: &Core, relay: &Relay) {
    let mut by_state = [(RlState::Registered, 0usize), (RlState::SignallingDropped, 0), (RlState::Conflict, 0)];
    for record in core.table().records() {
        if let Some((_, n)) = by_state.iter_mut().find(|(s, _)| *s == record.state) {
            *n += 1;
        }
    }
    for (state, n) in by_state {
        gauge!("switch_registrations", "state" => state.as_str()).set(n as f64);
    }
    gauge!("switch_calls_active").set(core.calls() as f64);
    let blocked = core.blocked(now);
    gauge!("switch_abuse_sources_blocked").set(blocked.sources as f64);
    gauge!("switch_abuse_numbers_locked").set(blocked.numbers as f64);
    gauge!("switch_relay_ports_in_use").set(relay.ports_in_use() as f64);
}
