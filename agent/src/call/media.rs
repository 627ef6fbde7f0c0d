//! What the call core asks of the bearer side ([`MediaCommand`]), what it
//! tells the application of a call's media ([`MediaEvent`]), and how the
//! bearer's results come back (`Calls::media_*`, behind the user agent's
//! `handle_media_*`).

use super::{CallId, Calls, Ctx, EndReason, Party, State};
use crate::ua::Event;
use media::endpoint::{EndpointError, EndpointReport};
use media::offer::{Codec, Negotiated};
use media::{BearerTransport, Direction};
use std::net::SocketAddr;
use std::sync::Arc;

/// Work for the bearer (RTP) side of the driver; one bearer per call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaCommand {
    /// Bind the call's bearer on `local`: the flow's private IP and the
    /// bearer port (0: any). The port is a wish: when it is taken (a second
    /// call at once), bind any other, since the SDP names what was bound.
    /// Answer with `handle_media_opened` or `handle_media_failed`.
    Open {
        /// The call.
        call: CallId,
        /// Where to bind.
        local: SocketAddr,
    },
    /// Start the stream as agreed, or retarget the running one (a re-INVITE,
    /// hold, resume). Its first packet opens the NAT leg toward the relay.
    /// Answer with `handle_media_started` or `handle_media_failed`.
    Start {
        /// The call.
        call: CallId,
        /// Where to send, the codec, DTMF, transport and the peer's direction.
        stream: Negotiated,
    },
    /// The phone changed networks: bind a new bearer on `local` in place of
    /// the call's old one (whose counts and recording carry on into the final
    /// report); it starts with the next `Start`. Answer as for `Open`.
    Rebind {
        /// The call.
        call: CallId,
        /// Where to bind now.
        local: SocketAddr,
    },
    /// The call is over: close its bearer and report what it did with
    /// `handle_media_closed` (the call's `Ended` waits for that).
    Close {
        /// The call.
        call: CallId,
    },
}

/// News of a call's media, in order with its [`crate::CallEvent`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// RTP flows (or was retargeted by a re-INVITE): from `local` to `remote`.
    Started {
        /// The call.
        id: CallId,
        /// The bearer address bound (private IP, bearer port).
        local: SocketAddr,
        /// Where RTP goes: the relay's address from the switch's SDP.
        remote: SocketAddr,
        /// The codec negotiated.
        codec: Codec,
        /// UDP, or RFC 4571 TCP.
        transport: BearerTransport,
        /// The peer's direction (`SendOnly`/`Inactive`: it holds us).
        direction: Direction,
        /// The stream is SRTP (SDES keys agreed in the SDP); false: plain RTP.
        srtp: bool,
    },
    /// An RFC 4733 DTMF digit arrived (once per key press).
    Dtmf {
        /// The call.
        id: CallId,
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
    },
    /// The media could not be set up (no bearer, an unusable SDP) or could
    /// not start; the call is refused or hung up.
    Failed {
        /// The call.
        id: CallId,
        /// Why.
        reason: String,
    },
    /// The call ended; this is what its media did. Comes just before the
    /// call's `Ended` event.
    Stopped {
        /// The call.
        id: CallId,
        /// The counts and recording.
        report: MediaReport,
    },
}

impl MediaEvent {
    /// The call this is about.
    pub fn id(&self) -> CallId {
        match self {
            MediaEvent::Started { id, .. }
            | MediaEvent::Dtmf { id, .. }
            | MediaEvent::Failed { id, .. }
            | MediaEvent::Stopped { id, .. } => *id,
        }
    }
}

/// What one call's media did, once it stopped. Its `Debug` gives the
/// recording's length, not its samples (logs stay readable).
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MediaReport {
    /// RTP packets sent.
    pub sent_packets: u64,
    /// RTP packets received from the peer.
    pub received_packets: u64,
    /// Packets ignored (foreign source, unparseable, other payload types).
    pub dropped_packets: u64,
    /// The decoded audio received (8 kHz), when recording.
    pub recorded: Arc<[i16]>,
    /// DTMF digits received (RFC 4733).
    pub dtmf_received: String,
}

impl std::fmt::Debug for MediaReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaReport")
            .field("sent_packets", &self.sent_packets)
            .field("received_packets", &self.received_packets)
            .field("dropped_packets", &self.dropped_packets)
            .field("recorded_samples", &self.recorded.len())
            .field("dtmf_received", &self.dtmf_received)
            .finish()
    }
}

impl MediaReport {
    /// This report followed by `later`'s (a call whose media moved to a new bearer).
    pub fn then(self, later: MediaReport) -> MediaReport {
        let mut recorded = self.recorded.to_vec();
        recorded.extend_from_slice(&later.recorded);
        MediaReport {
            sent_packets: self.sent_packets.saturating_add(later.sent_packets),
            received_packets: self.received_packets.saturating_add(later.received_packets),
            dropped_packets: self.dropped_packets.saturating_add(later.dropped_packets),
            recorded: recorded.into(),
            dtmf_received: self.dtmf_received + &later.dtmf_received,
        }
    }
}

impl From<EndpointReport> for MediaReport {
    fn from(r: EndpointReport) -> Self {
        Self {
            sent_packets: r.sent_packets,
            received_packets: r.received_packets,
            dropped_packets: r.dropped_packets,
            recorded: r.recorded.into(),
            dtmf_received: r.dtmf_received,
        }
    }
}

impl Calls {
    pub(super) fn media(&mut self, command: MediaCommand) {
        self.commands.push_back(command);
    }

    /// Asks for the stream agreed last, when it must be (re)started.
    pub(super) fn start_media(&mut self, id: CallId, changed: bool) {
        let Ok(call) = self.get(id) else { return };
        if let Some(stream) = call.session.start(changed) {
            self.media(MediaCommand::Start { call: id, stream });
        }
    }

    /// The bearer of call `id` is bound at `local` (after `Open` or `Rebind`).
    pub(crate) fn media_opened(&mut self, ctx: &mut Ctx<'_>, id: CallId, local: SocketAddr) {
        let Ok(call) = self.get(id) else { return };
        if !call.session.is_opening() {
            return;
        }
        match call.state {
            State::Opening => {
                call.session.bound(local);
                if let Err(e) = Self::send_invite(ctx, call) {
                    tracing::warn!(call = %id, error = %e, "INVITE not sent");
                    self.end(id, Party::Local, EndReason::MediaFailed, None);
                }
            }
            State::Answering => {
                call.session.bound(local);
                self.send_answer(ctx, id);
            }
            State::Confirmed => {
                call.session.moved(local);
                call.bearer_ip = Some(local.ip());
                if local.ip() == ctx.me.local.ip() && call.rejoin_by.is_some() {
                    let sdp = call.session.local_sdp.clone();
                    if let Err(e) = self.rejoin_with(ctx, id, sdp) {
                        tracing::warn!(call = %id, error = %e, "cannot re-INVITE from the new address");
                        self.end(id, Party::Network, EndReason::FlowLost, None);
                    }
                }
            }
            State::Ringing | State::Calling { .. } => {}
        }
    }

    /// As [`Calls::media_opened`] with no flow up: a moved bearer waits with
    /// its call for the next flow; any other call cannot go on.
    pub(crate) fn media_opened_offline(&mut self, id: CallId, local: SocketAddr) {
        let Ok(call) = self.get(id) else { return };
        if !call.session.is_opening() {
            return;
        }
        if call.state == State::Confirmed {
            call.session.moved(local);
            call.bearer_ip = Some(local.ip());
        } else {
            call.session.bound(local);
            self.end(id, Party::Network, EndReason::FlowLost, None);
        }
    }

    /// The stream of call `id` runs as last asked.
    pub(crate) fn media_started(&mut self, id: CallId) {
        let Ok(call) = self.get(id) else { return };
        let (Some(local), Some(n)) = (call.session.bound_at(), call.session.agreed()) else { return };
        let ev = MediaEvent::Started {
            id,
            local,
            remote: n.remote,
            codec: n.codec,
            transport: n.transport,
            direction: n.direction,
            srtp: n.srtp.is_some(),
        };
        self.events.push_back(Event::Media(ev));
    }

    /// Opening, rebinding or starting the bearer of call `id` failed: the call
    /// is refused (before its answer) or hung up. `ctx` is `None` with no flow up.
    pub(crate) fn media_failed(&mut self, ctx: Option<&mut Ctx<'_>>, id: CallId, error: &EndpointError) {
        let Ok(call) = self.get(id) else { return };
        call.session.open_failed();
        let state = call.state;
        tracing::warn!(call = %id, %error, "media failed");
        self.events.push_back(Event::Media(MediaEvent::Failed { id, reason: error.to_string() }));
        match (state, ctx) {
            (State::Answering, Some(ctx)) => self.refuse(ctx, id, error),
            (State::Confirmed | State::Calling { .. }, Some(ctx)) => {
                if let Err(e) = self.hangup(ctx, id) {
                    tracing::debug!(call = %id, error = %e, "hang-up after a media failure");
                }
            }
            (State::Confirmed, None) => self.end(id, Party::Local, EndReason::Hangup, None),
            _ => self.end(id, Party::Local, EndReason::MediaFailed, None),
        }
    }

    /// The bearer of call `id` is closed: its report, then the call's end.
    pub(crate) fn media_closed(&mut self, id: CallId, report: MediaReport) {
        let Some(i) = self.closing.iter().position(|(c, _)| *c == id) else { return };
        let (_, ended) = self.closing.swap_remove(i);
        self.events.push_back(Event::Media(MediaEvent::Stopped { id, report }));
        self.events.push_back(Event::Call(ended));
    }

    /// An RFC 4733 digit arrived on call `id`'s bearer.
    pub(crate) fn media_dtmf(&mut self, id: CallId, digit: char) {
        if self.get(id).is_ok() {
            self.events.push_back(Event::Media(MediaEvent::Dtmf { id, digit }));
        }
    }
}
