//! The media crate's error: the relay's and SDP rewriting's failures, and the
//! agent's RTP endpoint's as a payload; each maps to the SIP status a call it
//! stops should get, through [`ToStatus`] (the one way an error becomes a status).

use crate::endpoint::EndpointError;
use crate::relay::MediaId;
use crate::sdp::SdpError;
use sipcore::{StatusCode, ToStatus};

/// What went wrong in the relay, while reading/rewriting SDP, or in an RTP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// The agent's RTP endpoint failed (see [`EndpointError`]).
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

/// 503 for exhausted ports, 488 for SDP it cannot relay, 500 otherwise.
impl ToStatus for Error {
    fn status(&self) -> StatusCode {
        match self {
            Error::NoPorts => StatusCode::SERVICE_UNAVAILABLE,
            Error::Sdp(e) => e.status(),
            Error::Endpoint(e) => e.status(),
            Error::Config(_) | Error::UnknownMedia(_) | Error::Io(_) => StatusCode::SERVER_INTERNAL_ERROR,
        }
    }
}
