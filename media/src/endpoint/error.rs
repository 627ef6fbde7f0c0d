//! Errors of the agent's media side: endpoint sockets, WAV files, SDP offers/answers.

use sipcore::{StatusCode, ToStatus};
use std::io;

/// Everything the agent's media side can fail with. Its [`ToStatus`] gives the
/// SIP response a call should get: 488 when the failure comes from the peer's
/// SDP, 500 when it is our own (a socket, a file).
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// A socket or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// A WAV file is not 8 kHz mono 16-bit PCM, or is malformed or truncated.
    #[error("wav: {0}")]
    Wav(String),
    /// The SDP could not be parsed or lacks what a call needs (488).
    #[error("sdp: {0}")]
    Sdp(String),
    /// The offer shares no codec with us (488 Not Acceptable Here).
    #[error("no common codec in offer")]
    NoCommonCodec,
    /// The endpoint task is gone (it panicked or was already stopped).
    #[error("endpoint task stopped")]
    Stopped,
}

impl ToStatus for EndpointError {
    fn status(&self) -> StatusCode {
        match self {
            EndpointError::Sdp(_) | EndpointError::NoCommonCodec => StatusCode::NOT_ACCEPTABLE_HERE,
            EndpointError::Io(_) | EndpointError::Wav(_) | EndpointError::Stopped => StatusCode::SERVER_INTERNAL_ERROR,
        }
    }
}
