//! Errors of the agent's media side: endpoint sockets, WAV files, SDP offers/answers.

use std::io;

/// Everything the agent's media side can fail with. `status()` gives the SIP
/// response a call should get when the failure comes from the peer's SDP.
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

impl EndpointError {
    /// The SIP status (code, reason) a call should answer with for this error.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            EndpointError::Sdp(_) | EndpointError::NoCommonCodec => (488, "Not Acceptable Here"),
            EndpointError::Io(_) | EndpointError::Wav(_) | EndpointError::Stopped => (500, "Server Internal Error"),
        }
    }
}
