//! re-INVITE from either side (hold, resume, a new address): relayed to the
//! other leg with the SDP rewritten, the answer relayed back (RFC 3261 §14).

use super::{Call, Phase, Retransmit};
use crate::b2bua::Side;
use crate::b2bua::msg;
use crate::b2bua::outbox::{Outbox, TxKind};
use crate::b2bua::{B2buaConfig, CallError};
use sipcore::transaction::TransactionKey;
use sipcore::{Method, Request, Response};
use std::time::Instant;

/// A re-INVITE relayed from one side, waiting for the other's answer.
#[derive(Debug)]
pub(in crate::b2bua) struct Pending {
    pub(in crate::b2bua) from: Side,
    pub(in crate::b2bua) key: TransactionKey,
    pub(in crate::b2bua) request: Request,
}

impl Call {
    /// A re-INVITE from `from` (hold, resume, new address): relayed with its
    /// SDP rewritten for the other leg (§14).
    pub(super) fn reinvite(&mut self, outbox: &mut Outbox, from: Side, key: &TransactionKey, req: Request) {
        if !matches!(self.phase, Phase::Answered | Phase::Confirmed) {
            outbox.respond(key, Response::for_error(&req, &CallError::ReinvitePending));
            return;
        }
        if self.pending.is_some() {
            outbox.respond(key, Response::for_error(&req, &CallError::ReinvitePending));
            return;
        }
        let Some(body) = msg::sdp_of(&req.body).cloned() else {
            outbox.respond(key, Response::for_error(&req, &CallError::NoOffer));
            return;
        };
        let (sdp, seen) = match self.sdp_for(from, &body) {
            Ok(x) => x,
            Err(e) => {
                outbox.respond(key, Response::for_error(&req, &CallError::from(e)));
                return;
            }
        };
        self.update_media(outbox, from, &seen);
        let other = self.leg_mut(from.other());
        let mut out = other.request(Method::Invite, outbox.branch());
        msg::set_body(&mut out.headers, &mut out.body, Some(sdp));
        let flow = other.flow;
        outbox.request(self.id, TxKind::ReInvite { from }, flow, out);
        self.pending = Some(Pending { from, key: key.clone(), request: req });
    }
    /// The other side's answer to a relayed re-INVITE.
    pub(in crate::b2bua) fn reinvite_response(&mut self, now: Instant, cfg: &B2buaConfig, outbox: &mut Outbox, resp: Option<Response>) {
        if let (None, Some(r), Some((flow, ack))) = (&self.pending, &resp, &self.reinvite_ack) {
            if (200..300).contains(&r.status) {
                // The 2xx again: our ACK was lost (UDP).
                outbox.stateless(*flow, ack.clone());
            }
            return;
        }
        let Some(p) = self.pending.as_ref() else { return };
        let from = p.from;
        let to = from.other();
        let Some(resp) = resp else {
            let r = Response::for_error(&p.request, &CallError::ReinviteUnanswered);
            outbox.respond(&p.key.clone(), r);
            self.pending = None;
            return;
        };
        if resp.status < 200 {
            return;
        }
        let Some(p) = self.pending.take() else { return };
        let local_tag = self.leg(from).local_tag().to_owned();
        if resp.status >= 300 {
            outbox.respond(&p.key, msg::response(&p.request, resp.status, Some(&resp.reason), &local_tag, None, None));
            return;
        }
        let other = self.leg(to);
        let cseq = resp.headers.cseq().map(|c| c.seq).unwrap_or(other.dialog.local_cseq);
        let ack = other.ack(cseq, outbox.branch());
        outbox.stateless(other.flow, ack.clone());
        self.reinvite_ack = Some((other.flow, ack));
        let sdp = match msg::sdp_of(&resp.body).cloned().map(|b| self.sdp_for(to, &b)) {
            Some(Ok((b, seen))) => {
                self.update_media(outbox, to, &seen);
                Some(b)
            }
            _ => None,
        };
        let contact = self.leg(from).contact();
        let response = msg::response(&p.request, resp.status, Some(&resp.reason), &local_tag, Some(&contact), sdp);
        outbox.respond(&p.key, response.clone());
        if !self.leg(from).flow.transport.is_reliable() && self.retransmit.is_none() {
            self.retransmit = Some(Retransmit::new(p.key, from, false, response, now, cfg));
        }
    }
}
