//! What the call core tells the application.

use super::CallId;
use bytes::Bytes;

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Party {
    /// This agent (hang-up, reject, cancel).
    Local,
    /// The other side, through the switch (BYE, CANCEL, a final failure).
    Remote,
    /// Neither: the flow died or a transaction timed out.
    Network,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// A BYE after the call was answered.
    Hangup,
    /// Cancelled before it was answered (CANCEL, or our own hang-up while ringing).
    Cancelled,
    /// Refused with a final status (`status` says which: 486, 603, 404…).
    Rejected,
    /// No answer in time (Timer B/H).
    Timeout,
    /// The flow to the switch was lost.
    FlowLost,
    /// Its media could not be set up (no bearer could be bound) before the
    /// call went out.
    MediaFailed,
}

impl EndReason {
    /// A short token for logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Hangup => "hangup",
            EndReason::Cancelled => "cancelled",
            EndReason::Rejected => "rejected",
            EndReason::Timeout => "timeout",
            EndReason::FlowLost => "flow-lost",
            EndReason::MediaFailed => "media-failed",
        }
    }
}

impl Party {
    /// A short token for logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Local => "local",
            Party::Remote => "remote",
            Party::Network => "network",
        }
    }
}

/// A call's news. [`crate::MediaEvent`]s of the same call come in order with these.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEvent {
    /// An INVITE came down the flow; `100 Trying` and `180 Ringing` went back.
    /// Answer it (the core answers `offer` with the bearer it binds) or reject it.
    Incoming {
        /// The call.
        id: CallId,
        /// The caller's URI (From).
        from: String,
        /// The URI called (To).
        to: String,
        /// The SDP offer.
        offer: Bytes,
    },
    /// Our INVITE got a 180 or 183 (`sdp`: early media, when present).
    Ringing {
        /// The call.
        id: CallId,
        /// 180, 183…
        status: u16,
        /// The SDP of a 183, if any.
        sdp: Option<Bytes>,
    },
    /// Answered (our 200 sent, or the 200 to our INVITE received and ACKed).
    /// Media may start at once.
    Answered {
        /// The call.
        id: CallId,
        /// Our SDP (offer or answer).
        local_sdp: Bytes,
        /// Theirs.
        remote_sdp: Bytes,
    },
    /// A re-INVITE from the switch (hold, resume, a new relay port). The call
    /// core answers it: [`CallEvent::Updated`] follows, or, for an offer it
    /// cannot use, nothing (the call goes on as it was).
    Reoffer {
        /// The call.
        id: CallId,
        /// The new SDP offer.
        offer: Bytes,
    },
    /// A re-INVITE (theirs or ours) was answered 200: the media now follows these bodies.
    Updated {
        /// The call.
        id: CallId,
        /// Our answer.
        local_sdp: Bytes,
        /// Their offer.
        remote_sdp: Bytes,
    },
    /// Our re-INVITE (hold, resume) was refused with `status` (491 on glare):
    /// the call goes on as it was.
    ReofferRejected {
        /// The call.
        id: CallId,
        /// The final status.
        status: u16,
    },
    /// The flow died under this answered call; it waits up to `rejoin_within`
    /// for a new flow (media goes on meanwhile, into the void if the NAT moved).
    Interrupted {
        /// The call.
        id: CallId,
        /// How long it waits before it ends as `FlowLost`.
        rejoin_within: std::time::Duration,
    },
    /// The agent is registered again, from a new local address (it changed
    /// networks): the call's bearer moves there (a
    /// [`crate::MediaCommand::Rebind`]) and the call re-INVITEs from it.
    Relocating {
        /// The call.
        id: CallId,
        /// The new local address.
        local: std::net::IpAddr,
    },
    /// The re-INVITE sent on the new flow was answered: the switch follows
    /// the call to the new flow and relays its media anew.
    Rejoined {
        /// The call.
        id: CallId,
    },
    /// The call is over.
    Ended {
        /// The call.
        id: CallId,
        /// Who ended it.
        by: Party,
        /// Why.
        reason: EndReason,
        /// The final status involved (486, 487, 408…), when one was.
        status: Option<u16>,
    },
}

impl CallEvent {
    /// The call this is about.
    pub fn id(&self) -> CallId {
        match self {
            CallEvent::Incoming { id, .. }
            | CallEvent::Ringing { id, .. }
            | CallEvent::Answered { id, .. }
            | CallEvent::Reoffer { id, .. }
            | CallEvent::Updated { id, .. }
            | CallEvent::ReofferRejected { id, .. }
            | CallEvent::Interrupted { id, .. }
            | CallEvent::Relocating { id, .. }
            | CallEvent::Rejoined { id }
            | CallEvent::Ended { id, .. } => *id,
        }
    }
}
