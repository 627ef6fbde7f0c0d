//! One call: the caller's dialog (we are its UAS), the callee's (we are its
//! UAC), the relay ports between them, and the record. Every method takes the
//! time and leaves its effects in `Outbox`; none blocks or reads a clock.

use super::CallRef;
use super::leg::Leg;
use super::media::{LegMedia, MediaCommand, MediaId, MediaPorts, Side};
use super::msg;
use super::outbox::{Outbox, TxKind};
use super::sdp::{self, SdpReject, Seen};
use super::{B2buaConfig, CallError, Target};
use crate::cdr::Cdr;
use crate::core::Output;
use bytes::Bytes;
use sipcore::ToStatus;
use sipcore::transaction::TransactionKey;
use sipcore::transport::Flow;
use sipcore::{HeaderName, Method, Request, Response};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

mod home;
mod reinvite;

pub(super) use home::Abandoned;
pub(super) use reinvite::Pending;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for relay ports.
    Opening,
    /// INVITE sent to the callee, no final yet.
    Inviting,
    /// The caller cancelled (or the ring time ran out): CANCEL sent or due.
    Cancelling,
    /// 2xx sent to the caller, its ACK not yet in.
    Answered,
    Confirmed,
}

/// A 2xx to an INVITE or re-INVITE from a UDP party, retransmitted until its ACK (§13.3.1.4).
#[derive(Debug)]
struct Retransmit {
    key: TransactionKey,
    /// Who must ACK it.
    to: Side,
    /// The initial INVITE's: no ACK ends the call. A re-INVITE's only stops.
    initial: bool,
    response: Response,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

impl Retransmit {
    fn new(key: TransactionKey, to: Side, initial: bool, response: Response, now: Instant, cfg: &B2buaConfig) -> Self {
        Retransmit { key, to, initial, response, next: now + cfg.t1, interval: cfg.t1, give_up: now + cfg.t1 * 64 }
    }
}

#[derive(Debug)]
pub(super) struct Call {
    pub(super) id: CallRef,
    pub(super) phase: Phase,
    pub(super) invite_key: TransactionKey,
    invite: Request,
    pub(super) caller: Leg,
    pub(super) callee: Leg,
    callee_invite: Option<Request>,
    caller_ip: IpAddr,
    target: Target,
    /// The home location, tried when the callee's flow fails or it does not answer in time.
    pub(super) fallback: Option<Target>,
    /// The callee leg given up for the fallback: its late 2xx gets ACK and BYE.
    pub(super) abandoned: Option<Abandoned>,
    media: Option<MediaPorts>,
    /// The configured relay address; `None`: each leg's SDP names the switch address that leg reaches.
    relay_ip: Option<IpAddr>,
    offer: Bytes,
    provisional: bool,
    cancel_pending: bool,
    /// Last `o=` version sent to each leg, and the body last received from each.
    versions: PerLeg<Option<u64>>,
    last_body: PerLeg<Option<Bytes>>,
    retransmit: Option<Retransmit>,
    ring_deadline: Option<Instant>,
    cancel_deadline: Option<Instant>,
    pub(super) pending: Option<Pending>,
    pub(super) cdr: Cdr<Instant>,
    /// The ACK for the callee's 2xx, re-sent when the 2xx is.
    callee_ack: Option<Request>,
    /// Late offer: the CSeq of the callee's 2xx whose ACK waits for the caller's answer.
    late_ack: Option<u32>,
    /// The ACK for the last relayed re-INVITE's 2xx, likewise.
    reinvite_ack: Option<(Flow, Request)>,
}

/// One value per leg.
#[derive(Debug, Default)]
struct PerLeg<T> {
    caller: T,
    callee: T,
}

impl<T> PerLeg<T> {
    fn get(&self, leg: Side) -> &T {
        match leg {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }

    fn get_mut(&mut self, leg: Side) -> &mut T {
        match leg {
            Side::Caller => &mut self.caller,
            Side::Callee => &mut self.callee,
        }
    }
}

/// How long to wait for the callee's final answer after a CANCEL (Timer B's 64*T1).
const CANCEL_WAIT: Duration = Duration::from_secs(32);

impl Call {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        id: CallRef,
        key: TransactionKey,
        invite: Request,
        caller: Leg,
        callee: Leg,
        target: Target,
        relay_ip: Option<IpAddr>,
        cdr: Cdr<Instant>,
    ) -> Self {
        let offer = invite.body.clone();
        let caller_ip = caller.flow.remote.ip();
        Call {
            id,
            phase: Phase::Opening,
            invite_key: key,
            invite,
            caller,
            callee,
            callee_invite: None,
            caller_ip,
            target,
            fallback: None,
            abandoned: None,
            media: None,
            relay_ip,
            offer,
            provisional: false,
            cancel_pending: false,
            versions: PerLeg::default(),
            last_body: PerLeg::default(),
            retransmit: None,
            ring_deadline: None,
            cancel_deadline: None,
            pending: None,
            cdr,
            callee_ack: None,
            late_ack: None,
            reinvite_ack: None,
        }
    }

    pub(super) fn invite_request(&self) -> &Request {
        &self.invite
    }

    pub(super) fn leg(&self, side: Side) -> &Leg {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }

    pub(super) fn leg_mut(&mut self, side: Side) -> &mut Leg {
        match side {
            Side::Caller => &mut self.caller,
            Side::Callee => &mut self.callee,
        }
    }

    pub(super) fn media_id(&self) -> Option<MediaId> {
        self.media.map(|m| m.id)
    }

    /// A response to the caller's INVITE.
    fn answer_caller(&self, outbox: &mut Outbox, status: u16, reason: Option<&str>, sdp: Option<Bytes>) {
        let contact = (status < 300 && status > 100).then(|| self.caller.contact());
        let resp = msg::response(&self.invite, status, reason, self.caller.local_tag(), contact.as_deref(), sdp);
        outbox.respond(&self.invite_key, resp);
    }

    /// The caller's INVITE refused (or failed) with `err`.
    fn refuse_caller(&self, outbox: &mut Outbox, err: &CallError) {
        outbox.respond(&self.invite_key, msg::refusal(&self.invite, err, self.caller.local_tag()));
    }

    /// The relay's copy of `body` (from `from`) for the other leg, and what `from` asked for.
    fn sdp_for(&mut self, from: Side, body: &Bytes) -> Result<(Bytes, Seen), SdpReject> {
        let media = self.media.ok_or(SdpReject::NoStream)?;
        let seen = sdp::examine(body)?;
        let to = from.other();
        let same = self.last_body.get(from).as_ref() == Some(body);
        let version = match (*self.versions.get(to), same) {
            (Some(v), true) => v,
            (Some(v), false) => v.saturating_add(1),
            (None, _) => seen.origin.unwrap_or(1),
        };
        *self.versions.get_mut(to) = Some(version);
        *self.last_body.get_mut(from) = Some(body.clone());
        let port = match to {
            Side::Caller => media.caller_rtp,
            Side::Callee => media.callee_rtp,
        };
        let address = self.relay_ip.unwrap_or(self.leg(to).local.ip());
        Ok((sdp::relay(body, &seen, address, port, version)?, seen))
    }

    /// Points the relay's `side` leg at what that side's SDP asked for.
    fn update_media(&self, outbox: &mut Outbox, side: Side, seen: &Seen) {
        if let Some(m) = self.media {
            let (latch_ip, on_flow) = match side {
                Side::Caller => (Some(self.caller_ip), self.caller.flow.transport.is_reliable()),
                // No flow of the callee's own was observed (a home location): its SDP names
                // where its media comes from, else (on hold, 0.0.0.0) its signalling address.
                // Either way one host, so nobody else can race it to the leg.
                Side::Callee => {
                    let signalling = Some(self.target.flow.remote.ip()).filter(|ip| !ip.is_unspecified());
                    (self.target.latch_ip.or(seen.send_to.map(|to| to.ip())).or(signalling), self.target.route == "flow")
                }
            };
            // A party on its own flow is usually behind a NAT and names its private
            // address in the SDP. Until it latches, send to the address its flow comes
            // from with the SDP's port (rtpengine's SIP-source-address): a phone that
            // only echoes (SIPp -rtp_echo) never sends first, and to a phone behind
            // a NAT the first packets are simply dropped until its own open the leg.
            let send_to = match (seen.send_to, latch_ip) {
                (Some(sdp), Some(ip)) if on_flow => Some(SocketAddr::new(ip, sdp.port())),
                (sdp, _) => sdp,
            };
            outbox.media(MediaCommand::Update { media: m.id, side, target: LegMedia { send_to, latch_ip, tcp: seen.tcp } });
        }
    }

    /// A party spoke from a new TCP/TLS flow (it roamed: new public address,
    /// new connection). Requests to it go down that flow from now on, and its
    /// relay leg latches only to the new address, starting over.
    pub(super) fn moved(&mut self, outbox: &mut Outbox, leg: Side, flow: Flow) {
        let party = self.leg_mut(leg);
        if !flow.transport.is_reliable() || (party.flow.id == flow.id && party.flow.remote == flow.remote) {
            return;
        }
        party.flow = flow;
        if !flow.local.ip().is_unspecified() {
            party.local = flow.local;
        }
        match leg {
            Side::Caller => self.caller_ip = flow.remote.ip(),
            Side::Callee => {
                self.target.flow = flow;
                self.target.latch_ip = Some(flow.remote.ip());
            }
        }
        if let Some(seen) = self.last_body.get(leg).as_ref().and_then(|b| sdp::examine(b).ok()) {
            self.update_media(outbox, leg, &seen);
        }
    }

    /// The relay answered: offer the call to the callee, or refuse it.
    pub(super) fn media_opened(
        &mut self,
        now: Instant,
        cfg: &B2buaConfig,
        outbox: &mut Outbox,
        ports: MediaPorts,
    ) -> Result<(), SdpReject> {
        self.media = Some(ports);
        if let Some(offer) = msg::sdp_of(&self.offer).cloned() {
            let (_, seen) = self.sdp_for(Side::Caller, &offer)?;
            self.update_media(outbox, Side::Caller, &seen);
            if seen.tcp {
                // The callee answers a TCP/RTP/AVP offer by connecting out to its leg
                // (a=setup:active) as it sends its 2xx; the connection can reach the relay
                // before the 2xx reaches us, so the leg takes it from the callee's host now.
                outbox.media(MediaCommand::Update {
                    media: ports.id,
                    side: Side::Callee,
                    target: LegMedia { send_to: None, latch_ip: self.target.latch_ip, tcp: true },
                });
            }
        }
        self.invite_callee(now, cfg, outbox);
        Ok(())
    }

    /// Sends the offer to the callee leg's target (once its flow is connected).
    fn invite_callee(&mut self, now: Instant, cfg: &B2buaConfig, outbox: &mut Outbox) {
        if let Some(to) = self.target.connect.clone() {
            // A home location by name or over TCP: find its flow first; `connected` comes back here.
            outbox.output(Output::Connect { call: self.id, to });
            self.phase = Phase::Opening;
            return;
        }
        let mut req = self.callee.request(Method::Invite, outbox.branch());
        req.uri = self.target.uri.clone().into();
        let mf = self.invite.headers.max_forwards().ok().flatten().unwrap_or(70).saturating_sub(1);
        req.headers.set(HeaderName::MaxForwards, mf.to_string());
        if let Some(hop) = &self.target.hop {
            req.headers.push(HeaderName::Route, hop.route.clone());
        }
        // Rewritten now: the callee leg's switch address is known only once its flow is.
        let offer = msg::sdp_of(&self.offer).cloned().and_then(|o| self.sdp_for(Side::Caller, &o).ok()).map(|(b, _)| b);
        msg::set_body(&mut req.headers, &mut req.body, offer);
        self.callee_invite = Some(req.clone());
        outbox.request(self.id, TxKind::Invite, self.callee.flow, req);
        self.phase = Phase::Inviting;
        self.provisional = false;
        self.ring_deadline = Some(now + cfg.ring_time);
    }

    /// A response to our INVITE to the callee.
    pub(super) fn invite_response(&mut self, now: Instant, cfg: &B2buaConfig, outbox: &mut Outbox, resp: Response) -> Option<End> {
        match resp.status {
            100 => None,
            101..=199 => {
                self.provisional = true;
                if self.cancel_pending {
                    self.send_cancel(now, outbox);
                    return None;
                }
                if self.phase != Phase::Inviting {
                    return None;
                }
                self.callee.dialog.learn(&resp);
                let mut sdp = None;
                if let Some(body) = msg::sdp_of(&resp.body) {
                    match self.sdp_for(Side::Callee, body) {
                        Ok((b, seen)) => {
                            self.update_media(outbox, Side::Callee, &seen);
                            sdp = Some(b);
                        }
                        // An early answer we cannot relay: pass the progress on without it.
                        Err(_) => sdp = None,
                    }
                }
                if self.cdr.ringing_at.is_none() {
                    self.cdr.ringing_at = Some(now);
                    outbox.output(Output::Cdr(Box::new(self.cdr.clone())));
                }
                self.answer_caller(outbox, resp.status, Some(&resp.reason), sdp);
                None
            }
            200..=299 => self.callee_answered(now, cfg, outbox, &resp),
            _ => {
                if self.phase == Phase::Cancelling {
                    return Some(End::quiet(&self.cdr));
                }
                if self.phase != Phase::Inviting {
                    return None;
                }
                self.answer_caller(outbox, resp.status, Some(&resp.reason), None);
                Some(End { status: Some(resp.status), reason: reason_for(resp.status).to_owned() })
            }
        }
    }

    fn callee_answered(&mut self, now: Instant, cfg: &B2buaConfig, outbox: &mut Outbox, resp: &Response) -> Option<End> {
        let cseq = resp.headers.cseq().map(|c| c.seq).unwrap_or(1);
        if let Some(ack) = &self.callee_ack {
            // A retransmitted 2xx: our ACK got lost.
            outbox.stateless(self.callee.flow, ack.clone());
            return None;
        }
        if matches!(self.phase, Phase::Answered | Phase::Confirmed) {
            // A retransmitted 2xx with the offer (late offer): the ACK waits for the caller's answer.
            return None;
        }
        self.callee.dialog.confirm(resp);
        let late_offer = msg::sdp_of(&self.offer).is_none() && self.phase != Phase::Cancelling;
        if late_offer {
            self.late_ack = Some(cseq);
        } else {
            let ack = self.callee.ack(cseq, outbox.branch());
            outbox.stateless(self.callee.flow, ack.clone());
            self.callee_ack = Some(ack);
        }
        if self.phase == Phase::Cancelling {
            // The 2xx crossed our CANCEL: the caller already has its 487.
            self.bye(outbox, Side::Callee, None);
            return Some(End::quiet(&self.cdr));
        }
        let sdp = match msg::sdp_of(&resp.body).map(|b| self.sdp_for(Side::Callee, &b.clone())) {
            Some(Ok((b, seen))) => {
                self.update_media(outbox, Side::Callee, &seen);
                Some(b)
            }
            Some(Err(e)) => {
                self.bye(outbox, Side::Callee, None);
                let err = CallError::Sdp(e);
                self.refuse_caller(outbox, &err);
                return Some(End::new(&err, "callee_sdp"));
            }
            // No answer in the 2xx: the one in an earlier 18x stands (RFC 3261 §13.2.1).
            None => self.last_body.get(Side::Callee).clone().and_then(|b| self.sdp_for(Side::Callee, &b).ok().map(|(b, _)| b)),
        };
        if let Some(m) = self.media {
            outbox.media(MediaCommand::ArmTimeout { media: m.id });
        }
        self.ring_deadline = None;
        self.phase = Phase::Answered;
        self.cdr.answer_at = Some(now);
        self.cdr.status = Some(resp.status);
        outbox.output(Output::Cdr(Box::new(self.cdr.clone())));
        let contact = self.caller.contact();
        let response = msg::response(&self.invite, resp.status, Some(&resp.reason), self.caller.local_tag(), Some(&contact), sdp);
        outbox.respond(&self.invite_key, response.clone());
        if !self.caller.flow.transport.is_reliable() {
            self.retransmit = Some(Retransmit::new(self.invite_key.clone(), Side::Caller, true, response, now, cfg));
        }
        None
    }

    /// The INVITE to the callee failed without a response.
    pub(super) fn invite_failed(&mut self, outbox: &mut Outbox, err: &CallError) -> Option<End> {
        match self.phase {
            Phase::Inviting => {
                self.refuse_caller(outbox, err);
                Some(End::new(err, reason_for(err.status().as_u16())))
            }
            Phase::Cancelling => Some(End::quiet(&self.cdr)),
            _ => None,
        }
    }

    /// CANCEL from the caller, or the ring time ran out: 487/408 to the caller,
    /// CANCEL to the callee once it has sent a provisional (§9.1).
    pub(super) fn cancel(&mut self, now: Instant, outbox: &mut Outbox, err: CallError, why: &str) -> Option<End> {
        match self.phase {
            Phase::Opening => {
                self.refuse_caller(outbox, &err);
                Some(End::new(&err, why))
            }
            Phase::Inviting => {
                self.refuse_caller(outbox, &err);
                self.cdr.status = Some(err.status().as_u16());
                self.cdr.end_reason = Some(why.to_owned());
                self.phase = Phase::Cancelling;
                self.ring_deadline = None;
                if self.provisional {
                    self.send_cancel(now, outbox);
                } else {
                    self.cancel_pending = true;
                    self.cancel_deadline = Some(now + CANCEL_WAIT);
                }
                None
            }
            _ => None,
        }
    }

    fn send_cancel(&mut self, now: Instant, outbox: &mut Outbox) {
        self.cancel_pending = false;
        if let Some(cancel) = self.callee_invite.as_ref().and_then(|i| sipcore::transaction::cancel_for(i).ok()) {
            outbox.request(self.id, TxKind::Cancel, self.callee.flow, cancel);
        }
        self.cancel_deadline = Some(now + CANCEL_WAIT);
    }

    /// Late offer: the ACK to the callee's 2xx, carrying the caller's answer
    /// (from its ACK) rewritten to the relay.
    fn ack_late(&mut self, outbox: &mut Outbox, answer: Option<&Bytes>) {
        let Some(cseq) = self.late_ack.take() else { return };
        let mut ack = self.callee.ack(cseq, outbox.branch());
        if let Some((body, seen)) = answer.and_then(|a| self.sdp_for(Side::Caller, a).ok()) {
            self.update_media(outbox, Side::Caller, &seen);
            msg::set_body(&mut ack.headers, &mut ack.body, Some(body));
        }
        outbox.stateless(self.callee.flow, ack.clone());
        self.callee_ack = Some(ack);
    }

    /// ACK for our 2xx (the initial INVITE's from the caller, or a re-INVITE's).
    pub(super) fn acked(&mut self, outbox: &mut Outbox, from: Side, body: &Bytes) {
        if from == Side::Caller && self.late_ack.is_some() {
            self.ack_late(outbox, msg::sdp_of(body));
        }
        if self.retransmit.as_ref().is_some_and(|r| r.to == from) {
            self.retransmit = None;
        }
        if from == Side::Caller && self.phase == Phase::Answered {
            self.phase = Phase::Confirmed;
        }
    }

    /// Sends BYE on `leg` (with a Reason header when given).
    /// (A late-offer 2xx still waiting for its ACK gets one, without an answer, first.)
    pub(super) fn bye(&mut self, outbox: &mut Outbox, leg: Side, reason: Option<&str>) {
        if leg == Side::Callee {
            self.ack_late(outbox, None);
        }
        let party = self.leg_mut(leg);
        let mut req = party.request(Method::Bye, outbox.branch());
        if let Some(r) = reason {
            req.headers.push(HeaderName::Reason, r.to_owned());
        }
        let flow = party.flow;
        outbox.request(self.id, TxKind::Bye, flow, req);
    }

    /// An in-dialog request from `from`. Returns how the call ends, if it does.
    pub(super) fn in_dialog(&mut self, now: Instant, outbox: &mut Outbox, from: Side, key: &TransactionKey, req: Request) -> Option<End> {
        match req.method {
            Method::Bye if from == Side::Caller && matches!(self.phase, Phase::Opening | Phase::Inviting) => {
                // A BYE in the early dialog (RFC 3261 §15): the caller gives up, as with CANCEL.
                outbox.respond(key, Response::to_request(&req, 200));
                self.cancel(now, outbox, CallError::Cancelled, "caller_bye")
            }
            Method::Bye => {
                outbox.respond(key, Response::to_request(&req, 200));
                if matches!(self.phase, Phase::Answered | Phase::Confirmed) {
                    self.bye(outbox, from.other(), None);
                }
                let reason = if from == Side::Caller { "caller_bye" } else { "callee_bye" };
                Some(End { status: None, reason: reason.to_owned() })
            }
            Method::Invite => {
                self.reinvite(outbox, from, key, req);
                None
            }
            Method::Options => {
                let mut resp = Response::to_request(&req, 200);
                resp.headers.push(HeaderName::Allow, crate::core::ALLOW);
                outbox.respond(key, resp);
                None
            }
            _ => {
                let mut resp = Response::to_request(&req, 405);
                resp.headers.push(HeaderName::Allow, crate::core::ALLOW);
                outbox.respond(key, resp);
                None
            }
        }
    }

    /// The callee has rung for `ring_time` without answering.
    pub(super) fn ring_timed_out(&self, now: Instant) -> bool {
        self.phase == Phase::Inviting && self.ring_deadline.is_some_and(|d| now >= d)
    }

    /// The next instant this call needs `handle_timeout`.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.as_ref().map(|r| r.next.min(r.give_up)), self.ring_deadline, self.cancel_deadline].into_iter().flatten().min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant, cfg: &B2buaConfig, outbox: &mut Outbox) -> Option<End> {
        if let Some(r) = self.retransmit.as_mut() {
            if now >= r.give_up {
                let initial = r.initial;
                self.retransmit = None;
                if initial {
                    // No ACK in 64*T1: the caller is gone (§13.3.1.4).
                    self.bye(outbox, Side::Callee, None);
                    self.bye(outbox, Side::Caller, None);
                    return Some(End { status: None, reason: "no_ack".into() });
                }
            } else if now >= r.next {
                outbox.respond(&r.key, r.response.clone());
                r.interval = (r.interval * 2).min(cfg.t2);
                r.next = now + r.interval;
            }
        }
        if self.ring_deadline.is_some_and(|d| now >= d) {
            self.ring_deadline = None;
            return self.cancel(now, outbox, CallError::RingTimeout, "no_answer");
        }
        if self.cancel_deadline.is_some_and(|d| now >= d) {
            self.cancel_deadline = None;
            return Some(End::quiet(&self.cdr));
        }
        None
    }
}

/// How a call ends: the status the caller got (if this ending gave one) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct End {
    pub(super) status: Option<u16>,
    pub(super) reason: String,
}

impl End {
    /// The caller got `err`'s response; the record says `reason`.
    pub(super) fn new(err: &CallError, reason: &str) -> Self {
        End { status: Some(err.status().as_u16()), reason: reason.to_owned() }
    }

    /// Ends with what the record already says (a CANCEL set it).
    fn quiet(cdr: &Cdr<Instant>) -> Self {
        End { status: cdr.status, reason: cdr.end_reason.clone().unwrap_or_else(|| "cancelled".into()) }
    }
}

/// The end reason for a final status from the callee.
fn reason_for(status: u16) -> &'static str {
    match status {
        486 | 600 => "busy",
        603 => "declined",
        487 => "cancelled",
        408 => "no_answer",
        480 => "unavailable",
        _ => "rejected",
    }
}
