//! The answers to the control socket: `probe NUMBER` sends an OPTIONS down the
//! number's registered flow and says whether (and how fast) the phone
//! answered; `route NUMBER` says where a call for it would go now; `locks`
//! lists the numbers locked against password guessing.

use super::provisioning::Parked;
use super::{Client, ControlId, Core, Output};
use crate::b2bua::{ClientEvent, msg};
use crate::location::{Route, route};
use crate::record::transport_name;
use rand::Rng;
use sipcore::transport::Flow;
use sipcore::{HeaderName, Method, Request};
use std::time::{Duration, Instant};
use tracing::info;

/// How long a probe waits for the phone's final answer.
pub(super) const PROBE_WAIT: Duration = Duration::from_secs(5);

/// An OPTIONS in flight for `switch probe`.
#[derive(Debug)]
pub(super) struct Probe {
    number: String,
    flow: Flow,
    started: Instant,
    pub(super) deadline: Instant,
}

impl Core {
    /// `switch probe NUMBER`: OPTIONS down the number's flow; the answer comes
    /// as [`Output::ControlReply`] once the phone answers, the transaction
    /// fails, or five seconds pass.
    pub fn handle_probe(&mut self, now: Instant, id: ControlId, number: &str) {
        let (flow, contact) = match self.registrar.table.reach(number, now) {
            Ok((flow, record)) => (flow, record.contact.clone()),
            Err(reason) => return self.reply(id, format!("unreachable {number}: {}", reason.as_str())),
        };
        let request = options_for(&mut self.rng, &flow, &contact, &self.config.registrar.realm);
        match self.layer.send_request(now, flow, request) {
            Ok(key) => {
                self.clients.insert(key, Client::Probe(id));
                self.probes.insert(id, Probe { number: number.to_owned(), flow, started: now, deadline: now + PROBE_WAIT });
            }
            Err(e) => self.reply(id, format!("unreachable {number}: transaction: {e} after 0 ms via {flow}")),
        }
        self.pump(now);
    }

    /// `switch route NUMBER`: answered once the subscribers are current.
    pub fn handle_route(&mut self, now: Instant, id: ControlId, number: &str) {
        self.with_subscribers(now, Parked::Route { id, number: number.to_owned() });
        self.pump(now);
    }

    /// One line saying where a call for `number` would go now.
    pub(super) fn route(&mut self, id: ControlId, number: &str, now: Instant) {
        let line = match self.provisioning.subscribers.get(number) {
            None => format!("route {number} unknown"),
            Some(sub) => match route(&self.registrar.table, sub, now) {
                Route::Flow { observed, transport, .. } => {
                    format!("route {number} flow observed={observed} transport={}", transport_name(transport))
                }
                Route::Home { uri, reason } => format!("route {number} home reason={reason} uri={uri}"),
                Route::Unavailable { reason } => format!("route {number} unavailable reason={reason}"),
            },
        };
        self.reply(id, line);
    }

    /// `locks`: the numbers locked against password guessing now, as one
    /// line of JSON (an array of [`NumberLock`](crate::abuse::NumberLock)).
    pub fn handle_locks(&mut self, now: Instant, id: ControlId) {
        let line = serde_json::to_string(&self.registrar.locks(now)).unwrap_or_else(|e| format!("error: {e}"));
        self.reply(id, line);
    }

    pub(super) fn reply(&mut self, id: ControlId, line: String) {
        self.out.push_back(Output::ControlReply { id, line });
    }

    /// What became of a probe's OPTIONS.
    pub(super) fn probe_event(&mut self, now: Instant, id: ControlId, event: ClientEvent) {
        let why = match event {
            ClientEvent::Response(r) if r.status < 200 => return,
            ClientEvent::Response(r) => {
                return self.probe_done(now, id, |number, ms, flow| {
                    format!("reachable {number}: {} {} in {ms} ms via {flow}", r.status, r.reason)
                });
            }
            ClientEvent::Timeout => "no final response (timer B/F)",
            ClientEvent::TransportError => "the flow failed",
        };
        self.probe_done(now, id, |number, ms, flow| format!("unreachable {number}: {why} after {ms} ms via {flow}"));
    }

    /// Probes that waited [`PROBE_WAIT`] for nothing.
    pub(super) fn expire_probes(&mut self, now: Instant) {
        let due: Vec<ControlId> = self.probes.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for id in due {
            self.probe_done(now, id, |number, _, flow| format!("unreachable {number}: no answer in {} s via {flow}", PROBE_WAIT.as_secs()));
        }
    }

    fn probe_done(&mut self, now: Instant, id: ControlId, line: impl FnOnce(&str, u128, &Flow) -> String) {
        let Some(p) = self.probes.remove(&id) else { return };
        let line = line(&p.number, now.saturating_duration_since(p.started).as_millis(), &p.flow);
        info!("probe: {line}");
        self.reply(id, line);
    }
}

/// An OPTIONS for the phone at `contact`, to go down `flow` (RFC 3261 §11).
fn options_for(rng: &mut impl Rng, flow: &Flow, contact: &str, domain: &str) -> Request {
    let mut req = Request::new(Method::Options, contact.to_owned());
    let h = &mut req.headers;
    h.push(HeaderName::Via, format!("SIP/2.0/{} {};branch={}", flow.transport.via_token(), flow.local, msg::branch(rng)));
    h.push(HeaderName::MaxForwards, "70");
    h.push(HeaderName::From, format!("<sip:switch@{domain}>;tag={:08x}", rng.random::<u32>()));
    h.push(HeaderName::To, format!("<{contact}>"));
    h.push(HeaderName::CallId, format!("{}@{domain}", msg::token(rng)));
    h.push(HeaderName::CSeq, "1 OPTIONS");
    h.push(HeaderName::ContentLength, "0");
    req
}
