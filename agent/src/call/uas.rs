//! The agent as UAS: an INVITE down the flow rings (100, 180), the
//! application answers (200 + SDP) or rejects; CANCEL before the answer gets
//! 200 and the INVITE 487; BYE gets 200; a re-INVITE (hold, resume, a new
//! relay port) goes to the application for its SDP answer.

use super::{Call, CallError, CallEvent, CallId, Calls, Ctx, EndReason, MAX_CALLS, Party, State, sdp};
use crate::ua::message::add_to_tag;
use bytes::Bytes;
use sipcore::dialog::{self, Dialog};
use sipcore::transaction::TransactionKey;
use sipcore::{HeaderName, Method, Request, Response};

/// A response to `req` with the reason phrase given and our tag on To.
fn reply(req: &Request, status: u16, reason: Option<&'static str>, tag: Option<&str>) -> Response {
    let mut r = Response::to_request(req, status);
    if let Some(reason) = reason {
        r = r.with_reason(reason);
    }
    if let Some(tag) = tag {
        add_to_tag(&mut r, tag);
    }
    r
}

impl Calls {
    fn send(ctx: &mut Ctx<'_>, key: &TransactionKey, resp: Response) {
        let status = resp.status;
        if let Err(e) = ctx.layer.send_response(ctx.now, key, resp) {
            tracing::debug!(status, error = %e, "call response not sent");
        }
    }

    /// A request from the switch that is the call core's business (INVITE,
    /// BYE). Returns false for anything else, which the user agent surfaces.
    pub(crate) fn handle_request(&mut self, ctx: &mut Ctx<'_>, key: &TransactionKey, req: Request) -> bool {
        match req.method {
            Method::Invite if dialog::tag_of(&req.headers, &HeaderName::To).is_some() => self.on_reinvite(ctx, key, req),
            Method::Invite => self.on_invite(ctx, key, req),
            Method::Bye => self.on_bye(ctx, key, &req),
            _ => return false,
        }
        true
    }

    fn on_invite(&mut self, ctx: &mut Ctx<'_>, key: &TransactionKey, req: Request) {
        let bad = |status, reason| reply(&req, status, Some(reason), None);
        let (Ok(from), Ok(to), Ok(_)) = (req.headers.from_addr(), req.headers.to_addr(), req.headers.call_id()) else {
            return Self::send(ctx, key, bad(400, "Bad Request (From, To or Call-ID unreadable)"));
        };
        if from.tag().is_none() {
            return Self::send(ctx, key, bad(400, "Bad Request (From has no tag)"));
        }
        if dialog::contact_uri(&req.headers).is_none() {
            return Self::send(ctx, key, bad(400, "Bad Request (no Contact)"));
        }
        if req.headers.cseq().is_err() {
            return Self::send(ctx, key, bad(400, "Bad Request (CSeq unreadable)"));
        }
        // No body: a late offer (RFC 3264 §4: our 200 offers, the ACK answers);
        // the offer is then empty. A body that is not a usable SDP is refused.
        let offer = if req.body.is_empty() {
            Bytes::new()
        } else {
            match sdp::sdp_body(&req.headers, &req.body) {
                Some(offer) => offer,
                None => return Self::send(ctx, key, bad(488, "Not Acceptable Here (the body is not a usable SDP offer)")),
            }
        };
        if self.calls.len() >= MAX_CALLS {
            return Self::send(ctx, key, bad(486, "Busy Here (too many calls)"));
        }
        let (from_uri, to_uri) = (from.uri.as_str().to_owned(), to.uri.as_str().to_owned());
        let local_tag = ctx.rng.hex(8);
        let dialog = match Dialog::uas(&req, &local_tag) {
            Ok(d) => d,
            Err(e) => return Self::send(ctx, key, reply(&req, 400, None, None).with_reason(format!("Bad Request ({e})"))),
        };
        let id = self.new_id();
        // 100 at once (the transaction would send one itself after 200 ms),
        // then 180: the switch tells the caller it rings.
        Self::send(ctx, key, reply(&req, 100, None, None));
        let mut ringing = reply(&req, 180, None, Some(&local_tag));
        ringing.headers.push(HeaderName::Contact, ctx.me.contact());
        Self::send(ctx, key, ringing);
        tracing::info!(call = %id, from = %from_uri, "incoming call");
        self.events.push_back(CallEvent::Incoming { id, from: from_uri, to: to_uri, offer: offer.clone() });
        self.calls.push(Call::new(id, State::Ringing, dialog, Some((key.clone(), req)), Bytes::new(), offer));
    }

    /// Answers a ringing incoming call: 200 with `sdp`, the SDP answer; or,
    /// when the INVITE had no offer, our offer, answered in the ACK (and
    /// [`CallEvent::Answered`] waits for that).
    pub(crate) fn answer(&mut self, ctx: &mut Ctx<'_>, id: CallId, sdp: Bytes) -> Result<(), CallError> {
        let contact = ctx.me.contact();
        let call = self.get(id)?;
        if call.state != State::Ringing {
            return Err(CallError::WrongState(id, "only a ringing incoming call can be answered"));
        }
        let Some((key, req)) = call.invite.as_ref() else { return Err(CallError::WrongState(id, "no INVITE")) };
        let mut ok = reply(req, 200, None, Some(&call.dialog.local_tag));
        ok.headers.push(HeaderName::Contact, contact);
        ok.headers.push(HeaderName::Allow, crate::ua::message::ALLOW);
        sdp::set_sdp(&mut ok.headers, &sdp);
        ok.body = sdp.clone();
        ctx.layer.send_response(ctx.now, key, ok).map_err(|e| CallError::Transaction(e.to_string()))?;
        call.state = State::Confirmed;
        call.local_sdp = sdp.clone();
        let remote_sdp = call.remote_sdp.clone();
        tracing::info!(call = %id, late_offer = remote_sdp.is_empty(), "answered");
        if !remote_sdp.is_empty() {
            self.events.push_back(CallEvent::Answered { id, local_sdp: sdp, remote_sdp });
        }
        Ok(())
    }

    /// Refuses a ringing incoming call with a final `status` (486, 603, 480…).
    pub(crate) fn reject(&mut self, ctx: &mut Ctx<'_>, id: CallId, status: u16) -> Result<(), CallError> {
        let call = self.get(id)?;
        if call.state != State::Ringing {
            return Err(CallError::WrongState(id, "only a ringing incoming call can be rejected"));
        }
        if !(300..=699).contains(&status) {
            return Err(CallError::WrongState(id, "a rejection takes a status from 300 to 699"));
        }
        if let Some((key, req)) = call.invite.as_ref() {
            let resp = reply(req, status, None, Some(&call.dialog.local_tag));
            Self::send(ctx, &key.clone(), resp);
        }
        self.end(id, Party::Local, EndReason::Rejected, Some(status));
        Ok(())
    }

    /// A CANCEL from the switch (§9.2): 200 to it; the ringing INVITE gets 487.
    pub(crate) fn handle_cancel(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &TransactionKey,
        req: &Request,
        invite: Option<&TransactionKey>,
    ) -> bool {
        let ringing =
            invite.and_then(|k| self.calls.iter().find(|c| c.state == State::Ringing && c.invite.as_ref().is_some_and(|(ik, _)| ik == k)));
        let Some(call) = ringing else {
            let status = if invite.is_some() { 200 } else { 481 };
            Self::send(ctx, key, reply(req, status, None, None));
            return invite.is_some();
        };
        let id = call.id;
        let terminated = call.invite.as_ref().map(|(k, r)| (k.clone(), reply(r, 487, None, Some(&call.dialog.local_tag))));
        Self::send(ctx, key, reply(req, 200, None, None));
        if let Some((k, resp)) = terminated {
            Self::send(ctx, &k, resp);
        }
        self.end(id, Party::Remote, EndReason::Cancelled, Some(487));
        true
    }

    /// The ACK for our 2xx (it has a transaction of its own, §13.2.2.4).
    /// After a late offer it carries the answer: the call is answered now, or,
    /// without one, hung up (RFC 3264 §4 leaves no other way).
    pub(crate) fn handle_ack(&mut self, ctx: &mut Ctx<'_>, req: &Request) {
        let Some(call) = self.calls.iter_mut().find(|c| c.dialog.matches(req)) else { return };
        call.invite = None;
        if call.state != State::Confirmed || !call.remote_sdp.is_empty() {
            return;
        }
        let id = call.id;
        match sdp::sdp_body(&req.headers, &req.body) {
            Some(answer) => {
                call.remote_sdp = answer.clone();
                let local_sdp = call.local_sdp.clone();
                self.events.push_back(CallEvent::Answered { id, local_sdp, remote_sdp: answer });
            }
            None => {
                tracing::warn!(call = %id, "the ACK carries no answer to our offer: hanging up");
                let _ = self.send_bye(ctx, id);
            }
        }
    }

    fn on_bye(&mut self, ctx: &mut Ctx<'_>, key: &TransactionKey, req: &Request) {
        let Some(call) = self.calls.iter().find(|c| c.dialog.matches(req)) else {
            return Self::send(ctx, key, reply(req, 481, Some("Call/Transaction Does Not Exist"), None));
        };
        let (id, state, tag) = (call.id, call.state, call.dialog.local_tag.clone());
        // A BYE on an early dialog ends the INVITE too (§15.1.2).
        if state == State::Ringing
            && let Some((k, r)) = call.invite.as_ref()
        {
            let terminated = reply(r, 487, None, Some(&tag));
            Self::send(ctx, &k.clone(), terminated);
        }
        Self::send(ctx, key, reply(req, 200, None, Some(&tag)));
        self.end(id, Party::Remote, EndReason::Hangup, None);
    }

    fn on_reinvite(&mut self, ctx: &mut Ctx<'_>, key: &TransactionKey, req: Request) {
        let Some(call) = self.calls.iter_mut().find(|c| c.dialog.matches(&req)) else {
            return Self::send(ctx, key, reply(&req, 481, Some("Call/Transaction Does Not Exist"), None));
        };
        let tag = call.dialog.local_tag.clone();
        // §12.2.2: a lower CSeq is out of order; §14.2: one re-INVITE at a time.
        if call.state != State::Confirmed || !call.dialog.accept_next_remote_cseq(&req) {
            return Self::send(ctx, key, reply(&req, 500, Some("Server Internal Error (out of order)"), Some(&tag)));
        }
        if call.reoffer.is_some() {
            // Glare (§14.2): ours is in flight; theirs waits and tries again.
            return Self::send(ctx, key, reply(&req, 491, None, Some(&tag)));
        }
        if call.reinvite.is_some() {
            let mut r = reply(&req, 500, Some("Server Internal Error (a re-INVITE is pending)"), Some(&tag));
            r.headers.push(HeaderName::RetryAfter, "1");
            return Self::send(ctx, key, r);
        }
        let Some(offer) = sdp::sdp_body(&req.headers, &req.body) else {
            return Self::send(ctx, key, reply(&req, 488, Some("Not Acceptable Here (an SDP offer is required)"), Some(&tag)));
        };
        if let Some(target) = dialog::contact_uri(&req.headers) {
            call.dialog.remote_target = target;
        }
        let id = call.id;
        call.reinvite = Some((key.clone(), req));
        self.events.push_back(CallEvent::Reoffer { id, offer });
    }

    /// Answers the pending re-INVITE: `Ok(sdp)` = 200 with that SDP answer;
    /// `Err(status)` = that failure (488 when the offer is unusable), the call stays as it was.
    pub(crate) fn answer_reoffer(&mut self, ctx: &mut Ctx<'_>, id: CallId, answer: Result<Bytes, u16>) -> Result<(), CallError> {
        let contact = ctx.me.contact();
        let call = self.get(id)?;
        let Some((key, req)) = call.reinvite.take() else { return Err(CallError::WrongState(id, "no re-INVITE is pending")) };
        let tag = call.dialog.local_tag.clone();
        match answer {
            Ok(sdp) => {
                let mut ok = reply(&req, 200, None, Some(&tag));
                ok.headers.push(HeaderName::Contact, contact);
                sdp::set_sdp(&mut ok.headers, &sdp);
                ok.body = sdp.clone();
                call.local_sdp = sdp.clone();
                call.remote_sdp = req.body.clone();
                let remote_sdp = call.remote_sdp.clone();
                Self::send(ctx, &key, ok);
                self.events.push_back(CallEvent::Updated { id, local_sdp: sdp, remote_sdp });
            }
            Err(status) => Self::send(ctx, &key, reply(&req, status.clamp(400, 699), None, Some(&tag))),
        }
        Ok(())
    }
}
