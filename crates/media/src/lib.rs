//! The bearer: the switch's RTP/RTCP relay and line-level SDP rewriting, and the
//! agent's RTP endpoint with G.711, WAV, tones and RFC 4733 DTMF.

pub mod bearer;
pub mod direction;
pub mod error;
pub mod relay;
pub mod sdp;

pub use bearer::BearerTransport;
pub use direction::Direction;
pub use error::MediaError;
