//! The agent as UAC: a bearer is bound, then `INVITE sip:<number>@<domain>`
//! with the SDP offer naming it goes up the flow; the switch's 407 is answered
//! with the REGISTER credentials, 180/183 reported, the 2xx ACKed (§13.2.2.4)
//! and its answer started, failures reported; CANCEL before the answer and BYE
//! after it. Our own re-INVITEs (hold, resume, re-join) and their answers too.

use super::{
    Call, CallError, CallEvent, CallId, Calls, Ctx, EndReason, MAX_AUTH_TRIES, MAX_CALLS, MediaCommand, MediaEvent, Party, State,
    in_dialog, sdp, valid_user,
};
use crate::config::SrtpPolicy;
use crate::ua::Event;
use crate::ua::message::domain_host;
use bytes::Bytes;
use media::Direction;
use sipcore::auth::{Challenge, DigestRequest, Secret};
use sipcore::dialog::Dialog;
use sipcore::transaction::TransactionKey;
use sipcore::transport::TransportKind;
use sipcore::{HeaderName, Message, Method, Request, Response};

impl Calls {
    /// Calls `number`: its bearer is asked for first; the INVITE follows
    /// once it is bound (`media_opened`), with the offer naming it.
    pub(crate) fn call(&mut self, ctx: &mut Ctx<'_>, number: &str) -> Result<CallId, CallError> {
        if !valid_user(number) {
            return Err(CallError::BadNumber(number.to_owned()));
        }
        if self.calls.len() >= MAX_CALLS {
            return Err(CallError::TooMany);
        }
        if ctx.srtp == SrtpPolicy::Required && ctx.flow.transport != TransportKind::Tls {
            return Err(CallError::SrtpNeedsTls);
        }
        let local_tag = ctx.rng.hex(8);
        let domain = domain_host(ctx.me.domain);
        let call_id = format!("{}@agent", ctx.rng.hex(12));
        let mut dialog =
            Dialog::uac(call_id, &ctx.me.aor(), local_tag, format!("<sip:{number}@{domain}>"), format!("sip:{number}@{domain}"));
        dialog.next_cseq();
        let id = self.new_id();
        let mut call = Call::new(id, State::Opening, dialog, None, ctx.session(Bytes::new()));
        call.session.opening();
        tracing::info!(call = %id, %number, "calling");
        self.calls.push(call);
        self.media(MediaCommand::Open { call: id, local: ctx.bearer_at() });
        Ok(id)
    }

    /// Sends (or, after a challenge, re-sends with credentials) the INVITE
    /// with our offer.
    pub(super) fn send_invite(ctx: &mut Ctx<'_>, call: &mut Call) -> Result<(), CallError> {
        if call.session.local_sdp.is_empty() {
            call.session.initial_offer();
        }
        // Until the 2xx the dialog is early: the INVITE goes to the AOR, not a Contact.
        let mut req = in_dialog(ctx, &call.dialog, Method::Invite, call.dialog.local_cseq);
        req.headers.push(HeaderName::Contact, ctx.me.contact());
        req.headers.push(HeaderName::Allow, crate::ua::message::ALLOW);
        if let Some((name, value)) = &call.credentials {
            req.headers.push(name.clone(), value.clone());
        }
        sdp::set_sdp(&mut req.headers, &call.session.local_sdp);
        req.body = call.session.local_sdp.clone();
        let key = ctx.layer.send_request(ctx.now, ctx.flow, req.clone()).map_err(CallError::Transaction)?;
        call.invite = Some((key, req));
        if call.state == State::Opening {
            call.state = State::Calling { provisional: false };
        }
        Ok(())
    }

    /// Puts the peer on hold (`a=sendonly`) or takes it off (`a=sendrecv`)
    /// with a re-INVITE; [`CallEvent::Updated`] follows the 2xx (and the
    /// stream is retargeted), [`CallEvent::ReofferRejected`] a failure, after
    /// which the session is as last agreed (491 on glare included).
    pub(crate) fn reoffer(&mut self, ctx: &mut Ctx<'_>, id: CallId, direction: Direction) -> Result<(), CallError> {
        let call = self.get(id)?;
        if call.state != State::Confirmed || call.reoffer.is_some() || call.rejoin_by.is_some() {
            return Err(CallError::WrongState(id, "a re-INVITE needs an answered call with no other re-INVITE pending (§14.1)"));
        }
        let Some(offer) = call.session.propose(direction) else { return Err(CallError::WrongState(id, "the call has no bearer")) };
        if let Err(e) = Self::send_reinvite(ctx, call, offer) {
            call.session.roll_back();
            return Err(e);
        }
        Ok(())
    }

    /// The INVITE again, as a new transaction after a failure response (§8.1.3.5):
    /// the same Call-ID and From tag, the next CSeq, and no To tag (a 1xx
    /// before the failure made an early dialog that the failure ended).
    fn retry_invite(ctx: &mut Ctx<'_>, call: &mut Call) -> Result<(), CallError> {
        let Some((_, sent)) = call.invite.as_ref() else { return Err(CallError::WrongState(call.id, "no INVITE")) };
        let (to, uri) = (sent.headers.get(&HeaderName::To).unwrap_or_default().to_owned(), sent.uri.to_string());
        let d = &call.dialog;
        let mut dialog = Dialog::uac(d.call_id.clone(), &ctx.me.aor(), d.local_tag.clone(), to, uri);
        dialog.local_cseq = d.local_cseq;
        dialog.next_cseq();
        call.dialog = dialog;
        call.state = State::Calling { provisional: false };
        Self::send_invite(ctx, call)
    }

    /// A re-INVITE in the dialog with `offer`.
    pub(super) fn send_reinvite(ctx: &mut Ctx<'_>, call: &mut Call, offer: Bytes) -> Result<(), CallError> {
        let cseq = call.dialog.next_cseq();
        let mut req = in_dialog(ctx, &call.dialog, Method::Invite, cseq);
        req.headers.push(HeaderName::Contact, ctx.me.contact());
        if let Some((name, value)) = &call.credentials {
            req.headers.push(name.clone(), value.clone());
        }
        sdp::set_sdp(&mut req.headers, &offer);
        req.body = offer;
        let key = ctx.layer.send_request(ctx.now, ctx.flow, req).map_err(CallError::Transaction)?;
        call.reoffer = Some(key);
        Ok(())
    }

    /// The answer to our re-INVITE.
    fn on_reoffer_response(&mut self, ctx: &mut Ctx<'_>, id: CallId, resp: &Response) {
        let Ok(call) = self.get(id) else { return };
        if resp.status < 200 {
            return;
        }
        call.reoffer = None;
        let rejoining = std::mem::take(&mut call.rejoining);
        match resp.status {
            200..=299 => {
                let ack = build_ack(ctx, call);
                ctx.layer.send_stateless(ctx.flow, Message::Request(ack));
                if rejoining {
                    tracing::info!(call = %id, "call re-joined on the new flow");
                    self.events.push_back(Event::Call(CallEvent::Rejoined { id }));
                }
                let Ok(call) = self.get(id) else { return };
                let changed = call.session.proposing();
                let Some(answer) = sdp::sdp_body(&resp.headers, &resp.body) else {
                    call.session.roll_back();
                    let _ = self.send_bye(ctx, id);
                    return;
                };
                let agreed = call.session.accept(answer);
                let (local_sdp, remote_sdp) = (call.session.local_sdp.clone(), call.session.remote_sdp.clone());
                match agreed {
                    Ok(_) => {
                        self.events.push_back(Event::Call(CallEvent::Updated { id, local_sdp, remote_sdp }));
                        self.start_media(id, changed);
                    }
                    Err(e) => self.unusable_answer(ctx, id, &e),
                }
            }
            // The switch lost the call while our flow was down (a restart: 481), or
            // will not take it back here: nothing to BYE, the call is over.
            status if rejoining => {
                self.end(id, Party::Network, EndReason::FlowLost, Some(status));
            }
            // §12.2.1.2: the dialog is gone.
            408 | 481 => {
                call.session.roll_back();
                let _ = self.send_bye(ctx, id);
            }
            status => {
                call.session.roll_back();
                self.events.push_back(Event::Call(CallEvent::ReofferRejected { id, status }));
            }
        }
    }

    /// An answer we cannot use: the media cannot go on, so neither does the call.
    pub(super) fn unusable_answer(&mut self, ctx: &mut Ctx<'_>, id: CallId, e: &media::endpoint::EndpointError) {
        tracing::warn!(call = %id, error = %e, "unusable SDP answer: hanging up");
        self.events.push_back(Event::Media(MediaEvent::Failed { id, reason: e.to_string() }));
        let _ = self.send_bye(ctx, id);
    }

    /// A response to one of our client transactions; false when it is not a call's.
    pub(crate) fn handle_response(&mut self, ctx: &mut Ctx<'_>, key: &TransactionKey, resp: &Response) -> bool {
        if let Some(id) = self.calls.iter().find(|c| c.reoffer.as_ref() == Some(key)).map(|c| c.id) {
            self.on_reoffer_response(ctx, id, resp);
            return true;
        }
        let Some(call) = self.calls.iter_mut().find(|c| c.invite.as_ref().is_some_and(|(k, _)| k == key)) else {
            // BYE and CANCEL answers need nothing: the call already ended or the 487 will tell.
            return false;
        };
        let id = call.id;
        if !matches!(call.state, State::Calling { .. }) {
            return true;
        }
        match resp.status {
            100 => {}
            101..=199 => {
                call.dialog.learn(resp);
                call.state = State::Calling { provisional: true };
                let sdp = sdp::sdp_body(&resp.headers, &resp.body);
                if std::mem::take(&mut call.cancel_wanted) {
                    let _ = self.cancel(ctx, id);
                } else {
                    self.events.push_back(Event::Call(CallEvent::Ringing { id, status: resp.status, sdp }));
                }
            }
            200..=299 => self.on_answered(ctx, id, resp),
            // The far end will not take SRTP: offer plain RTP once, when the policy allows.
            488 if !call.cancelled && !call.cancel_wanted && call.session.fall_back_to_plain() => {
                tracing::info!(call = %id, "SRTP offer refused (488): offering plain RTP");
                if Self::retry_invite(ctx, call).is_err() {
                    self.end(id, Party::Remote, EndReason::Rejected, Some(resp.status));
                }
            }
            401 | 407 if !call.cancelled && call.auth_tries < MAX_AUTH_TRIES => {
                call.auth_tries += 1;
                let answered = authorize(ctx, call, resp);
                if !answered || Self::send_invite(ctx, call).is_err() {
                    self.end(id, Party::Remote, EndReason::Rejected, Some(resp.status));
                }
            }
            status => {
                let (by, reason) = if call.cancelled { (Party::Local, EndReason::Cancelled) } else { (Party::Remote, EndReason::Rejected) };
                self.end(id, by, reason, Some(status));
            }
        }
        true
    }

    fn on_answered(&mut self, ctx: &mut Ctx<'_>, id: CallId, resp: &Response) {
        let Ok(call) = self.get(id) else { return };
        call.dialog.learn(resp);
        call.state = State::Confirmed;
        let ack = build_ack(ctx, call);
        let unwanted = call.cancelled || call.cancel_wanted;
        ctx.layer.send_stateless(ctx.flow, Message::Request(ack));
        if unwanted {
            // The 2xx crossed our CANCEL: the call exists now, end it properly (§9.1).
            let _ = self.send_bye(ctx, id);
            return;
        }
        let Some(answer) = sdp::sdp_body(&resp.headers, &resp.body) else {
            tracing::warn!(call = %id, "2xx without SDP answer: hanging up");
            let _ = self.send_bye(ctx, id);
            return;
        };
        tracing::info!(call = %id, "answered");
        self.offer_answered(ctx, id, answer);
    }

    /// The answer to our offer came (a 2xx to our INVITE, or the ACK after a
    /// late offer): the call is answered, and its stream starts, if the
    /// answer is one we can use.
    pub(super) fn offer_answered(&mut self, ctx: &mut Ctx<'_>, id: CallId, answer: Bytes) {
        let Ok(call) = self.get(id) else { return };
        let local_sdp = call.session.local_sdp.clone();
        let agreed = call.session.answered(answer.clone());
        self.events.push_back(Event::Call(CallEvent::Answered { id, local_sdp, remote_sdp: answer }));
        match agreed {
            Ok(_) => self.start_media(id, true),
            Err(e) => self.unusable_answer(ctx, id, &e),
        }
    }

    /// Hangs up an outgoing call not yet answered: CANCEL (§9.1), or once the
    /// first provisional response makes one possible.
    pub(crate) fn cancel(&mut self, ctx: &mut Ctx<'_>, id: CallId) -> Result<(), CallError> {
        let call = self.get(id)?;
        let State::Calling { provisional } = call.state else { return Err(CallError::WrongState(id, "not an outgoing call ringing")) };
        if !provisional {
            call.cancel_wanted = true;
            return Ok(());
        }
        let Some((key, _)) = call.invite.as_ref() else { return Err(CallError::WrongState(id, "no INVITE")) };
        ctx.layer.cancel(ctx.now, key).map_err(CallError::Transaction)?;
        call.cancelled = true;
        Ok(())
    }

    /// BYE (§15.1.1); the call ends at once: whatever the switch answers, we are done.
    pub(crate) fn send_bye(&mut self, ctx: &mut Ctx<'_>, id: CallId) -> Result<(), CallError> {
        let call = self.get(id)?;
        let cseq = call.dialog.next_cseq();
        let bye = in_dialog(ctx, &call.dialog, Method::Bye, cseq);
        let sent = ctx.layer.send_request(ctx.now, ctx.flow, bye).map_err(CallError::Transaction);
        self.end(id, Party::Local, EndReason::Hangup, None);
        sent.map(drop)
    }
}

/// The ACK for a 2xx (§13.2.2.4): a new transaction (own branch), the
/// INVITE's CSeq number, its credentials, to the remote target.
fn build_ack(ctx: &mut Ctx<'_>, call: &Call) -> Request {
    let mut ack = in_dialog(ctx, &call.dialog, Method::Ack, call.dialog.local_cseq);
    if let Some((name, value)) = &call.credentials {
        ack.headers.push(name.clone(), value.clone());
    }
    ack
}

/// Answers a 401/407 with the digest credentials of the REGISTER; the next
/// INVITE gets a new CSeq (§22.2). False when no challenge can be answered.
fn authorize(ctx: &mut Ctx<'_>, call: &mut Call, resp: &Response) -> bool {
    let proxy = resp.status == 407;
    let offered: Vec<Challenge<'_>> = resp.headers.digest_challenges(proxy).filter_map(Result::ok).collect();
    let Some(challenge) = ctx.digest.select(&offered) else { return false };
    let Some((_, invite)) = call.invite.as_ref() else { return false };
    let request = DigestRequest::new("INVITE", &invite.uri).with_body(&call.session.local_sdp);
    match ctx.digest.authorize(challenge, ctx.me.number, Secret::Password(ctx.password), &request) {
        Ok(creds) => {
            let name = if proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
            call.credentials = Some((name, creds.to_string()));
            call.dialog.next_cseq();
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot answer the INVITE's digest challenge");
            false
        }
    }
}
