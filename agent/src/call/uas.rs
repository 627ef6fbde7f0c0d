//! The agent as UAS: an INVITE down the flow rings (100, 180); when the
//! application answers, a bearer is bound and the 200 carries our SDP answer
//! (an offer we cannot use is refused 488 before any socket is opened), or
//! the application rejects; CANCEL before the answer gets 200 and the INVITE
//! 487; BYE gets 200; a re-INVITE (hold, resume, a new relay port) is
//! answered here, and an offer we cannot use leaves the call as it was.

use super::{Call, CallError, CallEvent, CallId, Calls, Ctx, EndReason, MAX_CALLS, MediaCommand, Party, State, sdp};
use crate::Error;
use crate::ua::Event;
use crate::ua::message::add_to_tag;
use bytes::Bytes;
use sipcore::dialog::{self, Dialog};
use sipcore::transaction::TransactionKey;
use sipcore::{HeaderName, Method, Request, Response, StatusCode, ToStatus};

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
        self.events.push_back(Event::Call(CallEvent::Incoming { id, from: from_uri, to: to_uri, offer: offer.clone() }));
        let session = ctx.session(offer);
        self.calls.push(Call::new(id, State::Ringing, dialog, Some((key.clone(), req)), session));
    }

    /// Answers a ringing incoming call: an offer we cannot use is refused
    /// (488) at once; otherwise a bearer is asked for, and the 200 with our
    /// answer (or, when the INVITE had no offer, our offer, answered in the
    /// ACK) follows once it is bound (`send_answer`).
    pub(crate) fn answer(&mut self, ctx: &mut Ctx<'_>, id: CallId) -> Result<(), Error> {
        let at = ctx.bearer_at();
        let call = self.get(id)?;
        if call.state != State::Ringing {
            return Err(CallError::WrongState(id, "only a ringing incoming call can be answered").into());
        }
        let offer = call.session.remote_sdp.clone();
        if !offer.is_empty()
            && let Err(e) = call.session.check_offer(&offer, at)
        {
            tracing::warn!(call = %id, error = %e, "unusable offer: refused");
            self.refuse(ctx, id, &e);
            return Err(e.into());
        }
        call.state = State::Answering;
        call.session.opening();
        self.media(MediaCommand::Open { call: id, local: at });
        Ok(())
    }

    /// The bearer of a call being answered is bound: the 200 goes with our SDP.
    pub(super) fn send_answer(&mut self, ctx: &mut Ctx<'_>, id: CallId) {
        let contact = ctx.me.contact();
        let Ok(call) = self.get(id) else { return };
        let (sdp, agreed) = match call.session.answer_invite() {
            Ok(answer) => answer,
            Err(e) => return self.refuse(ctx, id, &e),
        };
        let Some((key, req)) = call.invite.as_ref() else { return };
        let mut ok = reply(req, 200, None, Some(&call.dialog.local_tag));
        ok.headers.push(HeaderName::Contact, contact);
        ok.headers.push(HeaderName::Allow, crate::ua::message::ALLOW);
        sdp::set_sdp(&mut ok.headers, &sdp);
        ok.body = sdp.clone();
        if let Err(e) = ctx.layer.send_response(ctx.now, key, ok) {
            // The INVITE is gone (cancelled as we answered): so is the call.
            tracing::debug!(call = %id, error = %e, "200 not sent");
            return self.end(id, Party::Remote, EndReason::Cancelled, None);
        }
        call.state = State::Confirmed;
        let remote_sdp = call.session.remote_sdp.clone();
        tracing::info!(call = %id, late_offer = agreed.is_none(), "answered");
        if agreed.is_some() {
            self.events.push_back(Event::Call(CallEvent::Answered { id, local_sdp: sdp, remote_sdp }));
            self.start_media(id, true);
        }
    }

    /// Refuses a ringing incoming call with a final `status` (486, 603, 480…).
    pub(crate) fn reject(&mut self, ctx: &mut Ctx<'_>, id: CallId, status: StatusCode) -> Result<(), CallError> {
        let call = self.get(id)?;
        if !matches!(call.state, State::Ringing | State::Answering) {
            return Err(CallError::WrongState(id, "only a ringing incoming call can be rejected"));
        }
        if status.as_u16() < 300 {
            return Err(CallError::WrongState(id, "a rejection takes a status from 300 to 699"));
        }
        if let Some((key, req)) = call.invite.as_ref() {
            let resp = reply(req, status.as_u16(), None, Some(&call.dialog.local_tag));
            Self::send(ctx, &key.clone(), resp);
        }
        self.end(id, Party::Local, EndReason::Rejected, Some(status.as_u16()));
        Ok(())
    }

    /// Refuses a call we cannot take for `error` (its [`ToStatus`]: 488 for an
    /// offer we cannot use, 500 for our own trouble).
    pub(super) fn refuse(&mut self, ctx: &mut Ctx<'_>, id: CallId, error: &impl ToStatus) {
        let Ok(call) = self.get(id) else { return };
        if let Some((key, req)) = call.invite.as_ref() {
            let mut resp = Response::for_error(req, error);
            add_to_tag(&mut resp, &call.dialog.local_tag);
            Self::send(ctx, &key.clone(), resp);
        }
        self.end(id, Party::Local, EndReason::Rejected, Some(error.status().as_u16()));
    }

    /// A CANCEL from the switch (§9.2): 200 to it; the ringing INVITE gets 487.
    pub(crate) fn handle_cancel(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &TransactionKey,
        req: &Request,
        invite: Option<&TransactionKey>,
    ) -> bool {
        let ringing = invite.and_then(|k| {
            self.calls
                .iter()
                .find(|c| matches!(c.state, State::Ringing | State::Answering) && c.invite.as_ref().is_some_and(|(ik, _)| ik == k))
        });
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
        if call.state != State::Confirmed || call.session.agreed().is_some() {
            return;
        }
        let id = call.id;
        match sdp::sdp_body(&req.headers, &req.body) {
            Some(answer) => self.offer_answered(ctx, id, answer),
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
        if matches!(state, State::Ringing | State::Answering)
            && let Some((k, r)) = call.invite.as_ref()
        {
            let terminated = reply(r, 487, None, Some(&tag));
            Self::send(ctx, &k.clone(), terminated);
        }
        Self::send(ctx, key, reply(req, 200, None, Some(&tag)));
        self.end(id, Party::Remote, EndReason::Hangup, None);
    }

    /// Their re-INVITE: answered here from the session (a new o= version, the
    /// direction mirrored, the stream retargeted); an offer we cannot use is
    /// refused and the call goes on as last agreed.
    fn on_reinvite(&mut self, ctx: &mut Ctx<'_>, key: &TransactionKey, req: Request) {
        let contact = ctx.me.contact();
        let Some(call) = self.calls.iter_mut().find(|c| c.dialog.matches(&req)) else {
            return Self::send(ctx, key, reply(&req, 481, Some("Call/Transaction Does Not Exist"), None));
        };
        let tag = call.dialog.local_tag.clone();
        // §12.2.2: a CSeq not above the last is out of order.
        if call.state != State::Confirmed || !call.dialog.accept_next_remote_cseq(&req) {
            return Self::send(ctx, key, reply(&req, 500, Some("Server Internal Error (out of order)"), Some(&tag)));
        }
        if call.reoffer.is_some() {
            // Glare (§14.2): ours is in flight; theirs waits and tries again.
            return Self::send(ctx, key, reply(&req, 491, None, Some(&tag)));
        }
        let Some(offer) = sdp::sdp_body(&req.headers, &req.body) else {
            return Self::send(ctx, key, reply(&req, 488, Some("Not Acceptable Here (an SDP offer is required)"), Some(&tag)));
        };
        if let Some(target) = dialog::contact_uri(&req.headers) {
            call.dialog.remote_target = target;
        }
        let id = call.id;
        self.events.push_back(Event::Call(CallEvent::Reoffer { id, offer: offer.clone() }));
        match call.session.reanswer(offer) {
            Ok((sdp, _)) => {
                let mut ok = reply(&req, 200, None, Some(&tag));
                ok.headers.push(HeaderName::Contact, contact);
                sdp::set_sdp(&mut ok.headers, &sdp);
                ok.body = sdp.clone();
                let remote_sdp = call.session.remote_sdp.clone();
                Self::send(ctx, key, ok);
                self.events.push_back(Event::Call(CallEvent::Updated { id, local_sdp: sdp, remote_sdp }));
                self.start_media(id, true);
            }
            Err(e) => {
                tracing::info!(call = %id, error = %e, "re-offer refused; the call goes on as it was");
                let mut refused = Response::for_error(&req, &e);
                add_to_tag(&mut refused, &tag);
                Self::send(ctx, key, refused);
            }
        }
    }
}
