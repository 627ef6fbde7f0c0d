//! The bearer: the switch's RTP/RTCP relay and line-level SDP rewriting, and the
//! agent's RTP endpoint with G.711, WAV, tones and RFC 4733 DTMF.

pub mod bearer;
pub mod direction;
pub mod dtmf;
pub mod endpoint;
pub mod error;
pub mod g711;
pub mod offer;
pub mod relay;
pub mod rtp_header;
pub mod sdp;
pub mod srtp;
/// STUN on relay ports: the codec is sipcore's (the SIP UDP ports answer it too).
pub use sipcore::stun;
pub mod tone;
pub mod wav;

pub use bearer::BearerTransport;
pub use direction::Direction;
pub use error::Error;
