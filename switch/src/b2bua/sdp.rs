//! The SDP side of a leg: what the B2BUA learns from a party's SDP and the
//! rewritten copy it sends the other party, through `media::sdp` (line level,
//! every line it does not own passes byte-exact).
//!
//! One stream is relayed: the first RTP stream with a non-zero port (the
//! audio). Other m-lines pass untouched: the relay has one port pair per leg.

use bytes::Bytes;
use media::sdp::{Rewrite, inspect, rewrite};
use std::net::{IpAddr, SocketAddr};

/// Why a body cannot be relayed (the caller gets 488).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpReject {
    #[error("SDP not understood: {0}")]
    Invalid(String),
    #[error("no RTP stream to relay")]
    NoStream,
}

/// A party's SDP, as the relay needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Seen {
    /// Where that party wants its RTP (c= and m= port of the relayed stream);
    /// `None` for 0.0.0.0 (RFC 3264 hold) — the relay waits for its first packet.
    pub(super) send_to: Option<SocketAddr>,
    pub(super) tcp: bool,
    /// The party's own `o=` version.
    pub(super) origin: Option<u64>,
    /// The m-line index relayed, and how many m-lines there are.
    index: usize,
    lines: usize,
}

pub(super) fn examine(body: &[u8]) -> Result<Seen, SdpReject> {
    let info = inspect(body).map_err(|e| SdpReject::Invalid(e.to_string()))?;
    let (index, m) = info.media.iter().enumerate().find(|(_, m)| m.port != 0 && m.proto.contains("RTP")).ok_or(SdpReject::NoStream)?;
    let ip = m.connection.ok_or_else(|| SdpReject::Invalid("no c= line for the stream".into()))?;
    let send_to = (!ip.is_unspecified()).then_some(SocketAddr::new(ip, m.port));
    Ok(Seen { send_to, tcp: m.proto.starts_with("TCP"), origin: info.origin_version, index, lines: info.media.len() })
}

/// `body` with the relayed stream moved to `address:port` and `o=` version `version`.
pub(super) fn relay(body: &[u8], seen: &Seen, address: IpAddr, port: u16, version: u64) -> Result<Bytes, SdpReject> {
    let ports = (0..seen.lines).map(|i| (i == seen.index).then_some(port)).collect();
    rewrite(body, &Rewrite { address, ports, origin_version: version }).map_err(|e| SdpReject::Invalid(e.to_string()))
}
