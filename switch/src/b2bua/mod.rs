//! The B2BUA (issue 5): every call is two independent dialogs — the caller's,
//! where the switch is the UAS, and the callee's, where it is the UAC — with
//! the media relay between them and each side's SDP rewritten to point at it.
//!
//! A part of the switch core ([`crate::core`]), sans-IO: the core
//! authenticates and routes the INVITE, then feeds requests, client-transaction
//! events, relay answers and the time in (`handle_*`), and carries out what
//! [`B2bua::poll_action`] asks: SIP it sends through its transaction layer,
//! [`Output`]s it passes to the driver (relay, home connection, call records).
//! `poll_timeout` says when to call `handle_timeout`. Nothing here blocks,
//! reads a clock or touches a socket; tags, Call-IDs and branches come from
//! the seeded RNG it was given.

mod call;
mod error;
mod leg;
mod media;
pub(crate) mod msg;
mod outbox;
mod sdp;

pub use error::CallError;
pub use media::{LegMedia, MediaCommand, MediaId, MediaOpenError, MediaPorts, Side};
pub use outbox::{CallAction, ClientEvent, TxId};
pub use sdp::SdpReject;

use crate::ConnectError;
use crate::cdr::Cdr;
use crate::core::Output;
use call::{Call, End, Phase};
use leg::Leg;
use outbox::{Outbox, TxKind};
use rand::rngs::StdRng;
use sipcore::transaction::TransactionKey;
use sipcore::transport::Flow;
use sipcore::{Method, Request, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// The switch's handle for one call in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

impl std::fmt::Display for CallRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// Call policy.
#[derive(Debug, Clone)]
pub struct B2buaConfig {
    pub domain: String,
    /// How long the callee may ring before the call is cancelled (408).
    pub ring_time: Duration,
    /// RFC 3261 T1/T2, for retransmitting our 2xx to a caller on UDP.
    pub t1: Duration,
    pub t2: Duration,
}

/// Where the callee leg goes (from the registrar's `route()`).
#[derive(Debug, Clone)]
pub struct Target {
    /// The flow the INVITE goes down: the callee's own flow, or a flow to the home address.
    pub flow: Flow,
    /// The switch's address on that flow as the callee reaches it (Via, Contact).
    pub local: SocketAddr,
    /// Request-URI: the registered Contact or the home URI.
    pub uri: String,
    /// The only source the relay latches the callee's media to (the flow's observed IP).
    pub latch_ip: Option<IpAddr>,
    /// `flow` or `home`, and why (a `HomeReason`).
    pub route: &'static str,
    /// `flow` is only a template: find the flow first (resolve a host name,
    /// connect over TCP) — a home location that is not a UDP IP literal.
    pub connect: Option<Connect>,
    pub reason: Option<String>,
    /// The callee's flow is on another node: the INVITE goes there with this
    /// Call-ID and Route (its flow token) ([`crate::cluster`]).
    pub hop: Option<Hop>,
}

/// The one hop to the node holding the callee's flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The callee leg's Call-ID: the flow token is bound to it.
    pub call_id: String,
    /// The `Route` header value carrying the token.
    pub route: String,
}

/// Where a home location is, when the driver must find its flow first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// A host name or an IP literal.
    pub host: String,
    pub port: u16,
    pub transport: sipcore::transport::TransportKind,
}

/// An authenticated, routed INVITE that starts a call.
#[derive(Debug)]
pub struct NewCall {
    pub key: TransactionKey,
    pub flow: Flow,
    /// The switch's address on the caller's flow as the caller reaches it.
    pub local: SocketAddr,
    pub request: Request,
    pub caller: String,
    pub callee: String,
    pub target: Target,
    /// The relay address written into both legs' SDP (`--relay-address`); `None`:
    /// each leg's SDP names the switch address that leg's flow reaches.
    pub relay_ip: Option<IpAddr>,
    /// The home location to fall back to when `target` is the callee's flow
    /// and that flow fails or the callee does not answer within `ring_time`.
    pub fallback: Option<Target>,
}

/// Every call in progress.
#[derive(Debug)]
pub struct B2bua {
    cfg: B2buaConfig,
    calls: HashMap<CallRef, Call>,
    /// Call-ID -> call and leg, for in-dialog requests.
    by_call_id: HashMap<String, (CallRef, Side)>,
    by_invite: HashMap<TransactionKey, CallRef>,
    by_media: HashMap<MediaId, CallRef>,
    outbox: Outbox,
    next_call: CallRef,
}

impl B2bua {
    /// No call yet; `rng` draws every tag, Call-ID and branch.
    pub fn new(cfg: B2buaConfig, rng: StdRng) -> Self {
        B2bua {
            cfg,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            by_invite: HashMap::new(),
            by_media: HashMap::new(),
            outbox: Outbox::new(rng),
            next_call: CallRef(0),
        }
    }

    pub fn config(&self) -> &B2buaConfig {
        &self.cfg
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Every call in progress: its record so far and its relay id, for the
    /// admin API's live list (the relay has the packet counters).
    pub fn active(&self) -> impl Iterator<Item = (&Cdr<Instant>, Option<MediaId>)> {
        self.calls.values().map(|c| (&c.cdr, c.media_id()))
    }

    /// Whether a Call-ID belongs to a call here (an INVITE with it and no To tag is a loop or a merge).
    pub fn knows_call_id(&self, call_id: &str) -> bool {
        self.by_call_id.contains_key(call_id)
    }

    /// Starts a call: asks the relay for ports, then (in `handle_media_opened`) invites the callee.
    /// Without an offer in the INVITE (late offer) the callee's 2xx carries it and the caller's ACK the answer.
    pub fn handle_invite(&mut self, now: Instant, new: NewCall) {
        let req = &new.request;
        let tag = self.outbox.token();
        let Ok(caller) = Leg::caller(req, &tag, new.flow, new.local) else {
            self.outbox.respond(&new.key, Response::for_error(req, &CallError::Malformed));
            return;
        };
        self.next_call.0 += 1;
        let id = self.next_call;
        let domain = &self.cfg.domain;
        let callee_call_id = match &new.target.hop {
            Some(hop) => hop.call_id.clone(),
            None => format!("{}@{domain}", self.outbox.token()),
        };
        let callee = Leg::callee(
            callee_call_id,
            self.outbox.token(),
            &format!("<sip:{}@{domain}>", new.caller),
            &format!("<sip:{}@{domain}>", new.callee),
            new.target.uri.clone(),
            new.target.flow,
            new.target.local,
        );
        let mut cdr = Cdr::new(caller.call_id().to_owned(), new.caller.clone(), new.callee.clone(), new.target.route, now);
        cdr.callee_call_id = Some(callee.call_id().to_owned());
        cdr.route_reason = new.target.reason.clone();
        self.by_call_id.insert(caller.call_id().to_owned(), (id, Side::Caller));
        self.by_call_id.insert(callee.call_id().to_owned(), (id, Side::Callee));
        self.by_invite.insert(new.key.clone(), id);
        let label = format!("{}->{}", new.caller, new.callee);
        self.outbox.output(Output::Cdr(Box::new(cdr.clone())));
        let mut call = Call::new(id, new.key, new.request, caller, callee, new.target, new.relay_ip, cdr);
        call.fallback = new.fallback;
        self.calls.insert(id, call);
        self.outbox.media(MediaCommand::Open { call: id, label });
    }

    /// The relay's answer to `OpenMedia`.
    pub fn handle_media_opened(&mut self, now: Instant, call: CallRef, result: Result<MediaPorts, MediaOpenError>) {
        let Some(c) = self.calls.get_mut(&call).filter(|c| c.phase == Phase::Opening) else {
            // The caller gave up while the ports were being opened.
            if let Ok(ports) = result {
                self.outbox.media(MediaCommand::Close { media: ports.id });
            }
            return;
        };
        let end = match result {
            Ok(ports) => {
                self.by_media.insert(ports.id, call);
                match c.media_opened(now, &self.cfg, &mut self.outbox, ports) {
                    Ok(()) => None,
                    Err(e) => Some((CallError::Sdp(e), "caller_sdp")),
                }
            }
            Err(MediaOpenError::NoPorts) => Some((CallError::NoRelayPorts, "no_relay_ports")),
            Err(MediaOpenError::Failed(e)) => Some((CallError::Relay(e), "relay_failed")),
        };
        if let Some((err, reason)) = end {
            self.outbox.respond(&c.invite_key.clone(), Response::for_error(c.invite_request(), &err));
            self.end(now, call, End::new(&err, reason));
        }
    }

    /// The answer to `Output::Connect`.
    /// `Ok`: the flow, and the switch's address on it as the peer reaches it.
    pub fn handle_connected(&mut self, now: Instant, call: CallRef, result: Result<(Flow, SocketAddr), ConnectError>) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        if let Err(why) = &result
            && c.connecting_to_node()
            && c.fallback.is_some()
        {
            // The node holding the flow cannot be reached (it died before its
            // lease ran out): home, as for a flow of our own that failed.
            tracing::info!(call_id = %c.caller.call_id(), error = %why, "the node holding the callee's flow cannot be reached");
            return self.fail_over_now(now, call, "flow_failed");
        }
        let end = match result {
            Ok((flow, local)) => {
                c.connected(now, &self.cfg, &mut self.outbox, flow, local);
                None
            }
            Err(why) => c.connect_failed(&mut self.outbox, why),
        };
        if let Some(end) = end {
            self.end(now, call, end);
        }
    }

    /// An event of a client transaction started by `Output::Request`.
    pub fn handle_client_event(&mut self, now: Instant, tx: TxId, ev: ClientEvent) {
        let Some(&(call, kind)) = self.outbox.txs.get(&tx) else { return };
        let last = !matches!(&ev, ClientEvent::Response(r) if r.status < 200);
        if last && !matches!((&ev, kind), (ClientEvent::Response(r), TxKind::Invite | TxKind::ReInvite { .. }) if r.status < 300) {
            // INVITE 2xx may repeat (retransmissions, to be ACKed again); everything else ends here.
            self.outbox.txs.remove(&tx);
        }
        let Some(c) = self.calls.get_mut(&call) else { return };
        let end = match (kind, ev) {
            (TxKind::Invite, ClientEvent::Response(r)) if r.status == 430 => {
                // The node we forwarded to no longer has the callee's flow
                // (RFC 5626 §5.3): as if our own flow had failed.
                return self.fail_over_or(now, call, "flow_failed", CallError::FlowFailed);
            }
            (TxKind::Invite, ClientEvent::Response(r)) => c.invite_response(now, &self.cfg, &mut self.outbox, r),
            (TxKind::Invite, ClientEvent::Timeout) => {
                return self.fail_over_or(now, call, "no_answer", CallError::NoAnswer);
            }
            (TxKind::Invite, ClientEvent::TransportError) => {
                return self.fail_over_or(now, call, "flow_failed", CallError::FlowFailed);
            }
            (TxKind::Abandoned, ClientEvent::Response(r)) => {
                c.abandoned_response(&mut self.outbox, &r);
                None
            }
            (TxKind::Abandoned, _) => None,
            (TxKind::ReInvite { .. }, ClientEvent::Response(r)) => {
                c.reinvite_response(now, &self.cfg, &mut self.outbox, Some(r));
                None
            }
            (TxKind::ReInvite { .. }, _) => {
                c.reinvite_response(now, &self.cfg, &mut self.outbox, None);
                None
            }
            (TxKind::Cancel | TxKind::Bye, _) => None,
        };
        if let Some(end) = end {
            self.end(now, call, end);
        }
    }

    /// CANCEL for a server INVITE transaction. False when it is not one of ours (answer 481).
    pub fn handle_cancel(&mut self, now: Instant, key: &TransactionKey, req: &Request, invite: Option<&TransactionKey>) -> bool {
        let Some(call) = invite.and_then(|k| self.by_invite.get(k)).copied() else { return false };
        let Some(c) = self.calls.get_mut(&call) else { return false };
        // The To tag of the INVITE's responses (RFC 3261 §9.2).
        self.outbox.respond(key, msg::response(req, 200, None, c.caller.local_tag(), None, None));
        if let Some(end) = c.cancel(now, &mut self.outbox, CallError::Cancelled, "cancelled") {
            self.end(now, call, end);
        }
        true
    }

    /// ACK for a 2xx (the stack hands these over outside transactions).
    pub fn handle_ack(&mut self, req: &Request) {
        let Some((call, leg)) = req.headers.call_id().ok().and_then(|id| self.by_call_id.get(id)).copied() else { return };
        if let Some(c) = self.calls.get_mut(&call) {
            c.acked(&mut self.outbox, leg, &req.body);
        }
    }

    /// A request inside one of our dialogs (BYE, re-INVITE, OPTIONS…).
    /// Hands the request back when it matches no call (the driver answers it
    /// as out-of-dialog, or 481).
    /// `flow` is the one it came on: a party that roamed (a new TCP/TLS flow) is
    /// followed there.
    pub fn handle_request(&mut self, now: Instant, key: &TransactionKey, flow: Flow, req: Request) -> Result<(), Box<Request>> {
        let Some((call, leg)) = req.headers.call_id().ok().and_then(|id| self.by_call_id.get(id)).copied() else {
            return Err(Box::new(req));
        };
        let Some(c) = self.calls.get_mut(&call) else { return Err(Box::new(req)) };
        if !c.leg(leg).dialog.matches(&req) {
            let untagged = sipcore::dialog::tag_of(&req.headers, &sipcore::HeaderName::To).is_none();
            let err = if untagged && req.method == Method::Invite { CallError::Loop } else { CallError::NoSuchDialog };
            self.outbox.respond(key, Response::for_error(&req, &err));
            return Ok(());
        }
        c.moved(&mut self.outbox, leg, flow);
        if let Some(end) = c.in_dialog(now, &mut self.outbox, leg, key, req) {
            self.end(now, call, end);
        }
        Ok(())
    }

    /// A flow closed: a call still being offered down it goes home, or fails (480).
    pub fn handle_flow_closed(&mut self, now: Instant, flow: sipcore::transport::FlowId) {
        let hit: Vec<CallRef> =
            self.calls.values().filter(|c| c.phase == Phase::Inviting && c.callee.flow.id == flow).map(|c| c.id).collect();
        for call in hit {
            self.fail_over_or(now, call, "flow_failed", CallError::FlowClosed);
        }
    }

    /// Sends a call still being offered to its home location, or fails it with `status`.
    fn fail_over_or(&mut self, now: Instant, call: CallRef, why: &str, err: CallError) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        if c.phase == Phase::Inviting && c.fallback.is_some() {
            return self.fail_over_now(now, call, why);
        }
        if let Some(end) = c.invite_failed(&mut self.outbox, &err) {
            self.end(now, call, end);
        }
    }

    /// Sends the call's callee leg to its home location (it has one).
    fn fail_over_now(&mut self, now: Instant, call: CallRef, why: &str) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        if let Some((old, new)) = c.fail_over(now, &self.cfg, &mut self.outbox, why) {
            tracing::info!(call_id = %c.caller.call_id(), why, "callee leg failed over to the home location");
            self.by_call_id.remove(&old);
            self.by_call_id.insert(new, (call, Side::Callee));
        }
    }

    /// The relay saw no media for `media_timeout`: BYE both legs (RFC 3326 Reason).
    pub fn handle_media_timeout(&mut self, now: Instant, media: MediaId) {
        let Some(call) = self.by_media.get(&media).copied() else { return };
        let Some(c) = self.calls.get_mut(&call) else { return };
        let reason = "SIP;cause=408;text=\"media timeout\"";
        c.bye(&mut self.outbox, Side::Caller, Some(reason));
        c.bye(&mut self.outbox, Side::Callee, Some(reason));
        self.end(now, call, End { status: None, reason: "media_timeout".into() });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls.values().filter_map(Call::poll_timeout).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<CallRef> = self.calls.values().filter(|c| c.poll_timeout().is_some_and(|t| t <= now)).map(|c| c.id).collect();
        for call in due {
            let Some(c) = self.calls.get_mut(&call) else { continue };
            if c.ring_timed_out(now) && c.fallback.is_some() {
                self.fail_over_or(now, call, "no_answer", CallError::RingTimeout);
                continue;
            }
            if let Some(end) = c.handle_timeout(now, &self.cfg, &mut self.outbox) {
                self.end(now, call, end);
            }
        }
    }

    /// Ends every call without signalling (the transport is going away).
    pub fn end_all(&mut self, now: Instant, reason: &str) {
        let all: Vec<CallRef> = self.calls.keys().copied().collect();
        for call in all {
            self.end(now, call, End { status: None, reason: reason.to_owned() });
        }
    }

    /// The next thing the core must do for a call.
    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.outbox.pop()
    }

    fn end(&mut self, now: Instant, call: CallRef, end: End) {
        let Some(mut c) = self.calls.remove(&call) else { return };
        self.by_call_id.remove(c.caller.call_id());
        self.by_call_id.remove(c.callee.call_id());
        self.by_invite.remove(&c.invite_key);
        let media = c.media_id();
        if let Some(m) = media {
            self.by_media.remove(&m);
        }
        self.outbox.txs.retain(|_, (owner, _)| *owner != call);
        c.cdr.end_at = Some(now);
        if c.cdr.status.is_none() {
            c.cdr.status = end.status;
        }
        c.cdr.end_reason = Some(end.reason);
        self.outbox.output(Output::CallEnded { media, cdr: Box::new(c.cdr) });
    }
}

#[cfg(test)]
mod tests;
