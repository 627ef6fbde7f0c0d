//! What the B2BUA asks of the media relay, and what the relay answers.

use super::CallRef;
use std::net::{IpAddr, SocketAddr};

pub use media::relay::{MediaId, Side};

/// The relay ports of one call (from `Relay::open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPorts {
    pub id: MediaId,
    /// The port the caller sends to (named in the caller's SDP).
    pub caller_rtp: u16,
    /// The port the callee sends to.
    pub callee_rtp: u16,
}

/// Why the relay could not give a call its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOpenError {
    /// The port range is exhausted: 503.
    NoPorts,
    /// Anything else the relay said (500).
    Failed(String),
}

/// Where one side's media goes and whom the relay may latch to (a `LegTarget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegMedia {
    pub send_to: Option<SocketAddr>,
    pub latch_ip: Option<IpAddr>,
    pub tcp: bool,
}

/// A command for the media relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCommand {
    /// Open a call's ports; answer with `handle_media_opened(call, ..)`.
    Open { call: CallRef, label: String },
    /// Point one side's relay leg at that party (its SDP, whom to latch to).
    Update { media: MediaId, side: Side, target: LegMedia },
    /// The call is answered: from now, no media for the timeout ends it.
    ArmTimeout { media: MediaId },
    /// Free ports no call holds any more.
    Close { media: MediaId },
}
