//! The media crate's error for the switch side (SDP rewriting and the relay),
//! each variant mapping to the SIP status the switch should answer with.

use crate::relay::MediaId;
use crate::sdp::SdpError;

/// What went wrong in the relay or while reading/rewriting SDP.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The configured port range has no free RTP/RTCP pair left (SIP 503).
    #[error("no free relay ports")]
    NoPorts,
    /// The relay configuration cannot work (for example a range without one even/odd pair).
    #[error("bad relay configuration: {0}")]
    Config(&'static str),
    /// No call with this id is open on the relay (closed already, or never opened).
    #[error("unknown media id {0:?}")]
    UnknownMedia(MediaId),
    /// The SDP body cannot be relayed (SIP 488).
    #[error(transparent)]
    Sdp(#[from] SdpError),
    /// A socket operation failed.
    #[error("media i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// The SIP status a server should answer with when this error stops a call:
    /// 503 for exhausted ports, 488 for SDP it cannot relay, 500 otherwise.
    pub fn sip_status(&self) -> u16 {
        match self {
            MediaError::NoPorts => 503,
            MediaError::Sdp(_) => 488,
            MediaError::Config(_) | MediaError::UnknownMedia(_) | MediaError::Io(_) => 500,
        }
    }

    /// The reason phrase to go with [`MediaError::sip_status`].
    pub fn sip_reason(&self) -> &'static str {
        match self.sip_status() {
            503 => "Service Unavailable",
            488 => "Not Acceptable Here",
            _ => "Server Internal Error",
        }
    }
}
