//! Why a call is refused or fails before it is answered. Each becomes the
//! caller's response through sipcore's [`ToStatus`], so its status and reason
//! phrase ("Temporarily Unavailable (callee flow failed)") are decided here
//! and nowhere else.

use super::SdpReject;
use crate::ConnectError;
use sipcore::{StatusCode, ToStatus};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Max-Forwards reached 0 (483).
    #[error("too many hops")]
    TooManyHops,
    /// Our own INVITE came back, or a merged request (482).
    #[error("loop detected")]
    Loop,
    /// An in-dialog request for no dialog of ours (481).
    #[error("no such dialog")]
    NoSuchDialog,
    /// The Request-URI has no user part (404).
    #[error("no number in the Request-URI")]
    NoCallee,
    /// The callee is not provisioned (404, to an authenticated caller or a
    /// trusted peer only).
    #[error("number not in service")]
    NotInService,
    /// No live flow and no home location; the text is the `HomeReason` (480).
    #[error("{0}")]
    Unavailable(&'static str),
    /// The INVITE lacks what a dialog needs (400).
    #[error("Call-ID or From")]
    Malformed,
    /// The relay's port range is exhausted (503).
    #[error("no relay ports")]
    NoRelayPorts,
    /// The relay failed otherwise (500).
    #[error("relay: {0}")]
    Relay(String),
    /// A body the relay cannot carry (488).
    #[error(transparent)]
    Sdp(#[from] SdpReject),
    /// The callee's INVITE transaction timed out (408).
    #[error("callee did not answer")]
    NoAnswer,
    /// The callee rang for the whole ring time (408).
    #[error("ring time over")]
    RingTimeout,
    /// The INVITE could not be sent down the callee's flow (480).
    #[error("callee flow failed")]
    FlowFailed,
    /// The callee's flow closed while the call was offered (480).
    #[error("callee flow closed")]
    FlowClosed,
    /// The home location could not be reached (480).
    #[error("home location: {0}")]
    HomeUnreachable(ConnectError),
    /// A call forwarded by another node for a flow that is gone here (430, RFC 5626 §11.5).
    #[error("no flow to the callee on this node")]
    FlowGone,
    /// A call forwarded with a flow token that does not check (403).
    #[error("bad flow token")]
    BadFlowToken,
    /// The caller cancelled (487).
    #[error("cancelled")]
    Cancelled,
    /// A re-INVITE while the call is not established or another is pending (491).
    #[error("request pending")]
    ReinvitePending,
    /// A re-INVITE without an offer (488).
    #[error("re-INVITE without an offer")]
    NoOffer,
    /// The other party never answered a relayed re-INVITE (408).
    #[error("no answer to the re-INVITE")]
    ReinviteUnanswered,
}

impl ToStatus for CallError {
    fn status(&self) -> StatusCode {
        let code = match self {
            CallError::TooManyHops => 483,
            CallError::Loop => 482,
            CallError::NoSuchDialog => 481,
            CallError::NoCallee | CallError::NotInService => 404,
            CallError::Unavailable(_) | CallError::FlowFailed | CallError::FlowClosed | CallError::HomeUnreachable(_) => 480,
            CallError::Malformed => 400,
            CallError::NoRelayPorts => 503,
            CallError::Relay(_) => 500,
            CallError::Sdp(_) | CallError::NoOffer => 488,
            CallError::NoAnswer | CallError::RingTimeout | CallError::ReinviteUnanswered => 408,
            CallError::Cancelled => 487,
            CallError::FlowGone => 430,
            CallError::BadFlowToken => 403,
            CallError::ReinvitePending => 491,
        };
        StatusCode::new(code).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR)
    }

    /// The code's own phrase where the code says it all; the SDP checker's
    /// words alone for a body it refused; otherwise the phrase and why.
    fn reason(&self) -> String {
        match self {
            CallError::TooManyHops
            | CallError::Loop
            | CallError::NoSuchDialog
            | CallError::RingTimeout
            | CallError::Cancelled
            | CallError::FlowGone
            | CallError::ReinvitePending
            | CallError::ReinviteUnanswered => self.status().reason().to_owned(),
            CallError::Sdp(e) => e.to_string(),
            _ => format!("{} ({self})", self.status().reason()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason phrases callers have always seen.
    #[test]
    fn each_failure_has_its_status_and_reason() {
        let cases = [
            (CallError::TooManyHops, 483, "Too Many Hops"),
            (CallError::Unavailable("ttl_expired"), 480, "Temporarily Unavailable (ttl_expired)"),
            (CallError::NoRelayPorts, 503, "Service Unavailable (no relay ports)"),
            (CallError::Sdp(SdpReject::NoStream), 488, "no RTP stream to relay"),
            (CallError::FlowFailed, 480, "Temporarily Unavailable (callee flow failed)"),
            (
                CallError::HomeUnreachable(ConnectError::Tls),
                480,
                "Temporarily Unavailable (home location: TLS home locations are not supported)",
            ),
            (CallError::RingTimeout, 408, "Request Timeout"),
            (CallError::NoOffer, 488, "Not Acceptable Here (re-INVITE without an offer)"),
        ];
        for (err, status, reason) in cases {
            assert_eq!((err.status().as_u16(), err.reason().as_str()), (status, reason), "{err:?}");
        }
    }
}
