//! The user agent's side of calls: the application's call operations, the
//! bearer's results coming back from the driver, and moving what the call
//! core produced (events, media commands) into the agent's queues.

use super::{Event, Output, UserAgent, identity_of};
use crate::Error;
use crate::call::{CallError, CallId, Calls, Ctx, MediaReport};
use media::Direction;
use media::endpoint::EndpointError;
use sipcore::StatusCode;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

impl UserAgent {
    /// Runs `f` on the call core with what it needs (None without a flow).
    pub(super) fn with_calls<R>(&mut self, now: Instant, f: impl FnOnce(&mut Calls, &mut Ctx<'_>) -> R) -> Option<R> {
        let flow = self.flow?;
        let UserAgent { cfg, layer, rng, keys, digest, calls, mac, instance, .. } = self;
        let me = identity_of(cfg, flow, *mac, instance.as_deref());
        let mut ctx = Ctx {
            now,
            layer,
            flow,
            me,
            rng,
            keys,
            digest,
            password: &cfg.password,
            bearer_transport: cfg.bearer_transport,
            srtp: cfg.srtp,
        };
        Some(f(calls, &mut ctx))
    }

    /// Runs a call operation and moves what it produced into our queues.
    fn call_op<R, E: From<CallError>>(&mut self, now: Instant, f: impl FnOnce(&mut Calls, &mut Ctx<'_>) -> Result<R, E>) -> Result<R, E> {
        let r = self.with_calls(now, f).unwrap_or(Err(CallError::NoFlow.into()));
        self.pump(now);
        r
    }

    /// Calls `number`: a bearer is asked for ([`crate::MediaCommand::Open`]),
    /// then `INVITE sip:<number>@<domain>` goes up the flow with an SDP offer
    /// naming it; [`crate::CallEvent`]s follow as [`Event::Call`].
    pub fn call(&mut self, now: Instant, number: &str) -> Result<CallId, Error> {
        self.call_op(now, |calls, ctx| calls.call(ctx, number).map_err(Error::from))
    }

    /// Answers the ringing incoming call `id`: a bearer is asked for, and the
    /// 200 with the SDP answer follows once it is bound. An offer the agent
    /// cannot use is refused at once (488) and returned as the error.
    pub fn answer_call(&mut self, now: Instant, id: CallId) -> Result<(), Error> {
        self.call_op(now, |calls, ctx| calls.answer(ctx, id))
    }

    /// Refuses the ringing incoming call `id` with `status` (300–699).
    pub fn reject_call(&mut self, now: Instant, id: CallId, status: StatusCode) -> Result<(), Error> {
        self.call_op(now, |calls, ctx| calls.reject(ctx, id, status).map_err(Error::from))
    }

    /// Ends call `id`: BYE when answered, CANCEL (outgoing) or 480 (incoming)
    /// before; with no flow up (the call waits for one) it just ends here.
    pub fn hangup(&mut self, now: Instant, id: CallId) -> Result<(), Error> {
        if self.flow.is_none() {
            let r = self.calls.abandon(id);
            self.take_call_work();
            return r.map_err(Error::from);
        }
        self.call_op(now, |calls, ctx| calls.hangup(ctx, id).map_err(Error::from))
    }

    /// Puts the peer of answered call `id` on hold: a re-INVITE offering
    /// `a=sendonly`. [`crate::CallEvent::Updated`] (and the stream retargeted)
    /// or [`crate::CallEvent::ReofferRejected`] (the call as it was) follows.
    pub fn hold(&mut self, now: Instant, id: CallId) -> Result<(), Error> {
        self.call_op(now, |calls, ctx| calls.reoffer(ctx, id, Direction::SendOnly).map_err(Error::from))
    }

    /// Takes the peer of call `id` off hold: a re-INVITE offering `a=sendrecv`.
    pub fn resume(&mut self, now: Instant, id: CallId) -> Result<(), Error> {
        self.call_op(now, |calls, ctx| calls.reoffer(ctx, id, Direction::SendRecv).map_err(Error::from))
    }

    /// The calls alive now.
    pub fn calls(&self) -> Vec<CallId> {
        self.calls.ids()
    }

    /// The bearer of call `id` is bound at `local` (the answer to
    /// [`crate::MediaCommand::Open`] or [`crate::MediaCommand::Rebind`]).
    pub fn handle_media_opened(&mut self, now: Instant, id: CallId, local: SocketAddr) {
        if self.with_calls(now, |calls, ctx| calls.media_opened(ctx, id, local)).is_none() {
            self.calls.media_opened_offline(id, local);
        }
        self.pump(now);
    }

    /// The stream of call `id` runs as the last [`crate::MediaCommand::Start`] said.
    pub fn handle_media_started(&mut self, now: Instant, id: CallId) {
        self.calls.media_started(id);
        self.pump(now);
    }

    /// An open, rebind or start of call `id`'s bearer failed: the call is
    /// refused or hung up.
    pub fn handle_media_failed(&mut self, now: Instant, id: CallId, error: &EndpointError) {
        if self.with_calls(now, |calls, ctx| calls.media_failed(Some(ctx), id, error)).is_none() {
            self.calls.media_failed(None, id, error);
        }
        self.pump(now);
    }

    /// Call `id`'s bearer is closed (the answer to [`crate::MediaCommand::Close`]):
    /// `report` says what it did; the call's `Ended` follows.
    pub fn handle_media_closed(&mut self, now: Instant, id: CallId, report: MediaReport) {
        self.calls.media_closed(id, report);
        self.pump(now);
        self.finish_stop_when_closed();
    }

    /// An RFC 4733 digit arrived on call `id`'s bearer.
    pub fn handle_dtmf(&mut self, now: Instant, id: CallId, digit: char) {
        self.calls.media_dtmf(id, digit);
        self.pump(now);
    }

    /// Every call ends now (stopping, or refused by the switch): says so at once.
    pub(super) fn end_calls(&mut self) {
        self.calls.end_all();
        self.take_call_work();
    }

    /// The flow died: answered calls wait for a new one (see `call::rejoin`), the others end.
    pub(super) fn strand_calls(&mut self, now: Instant, local: IpAddr) {
        self.calls.flow_lost(now, self.cfg.call_rejoin_grace, local);
        self.take_call_work();
    }

    /// Moves the call core's events and media commands into our queues.
    pub(super) fn take_call_work(&mut self) {
        while let Some(c) = self.calls.poll_command() {
            self.outbox.push_back(Output::Media(c));
        }
        while let Some(ev) = self.calls.poll_event() {
            self.events.push_back(ev);
        }
    }

    /// `Stopped` is the last event: it waits for the calls' bearers to report.
    pub(super) fn finish_stop_when_closed(&mut self) {
        if self.stop_pending && !self.calls.closing() {
            self.stop_pending = false;
            self.events.push_back(Event::Stopped);
        }
    }
}
