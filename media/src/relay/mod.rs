//! The switch's RTP/RTCP relay (a B2BUA's media anchor).
//!
//! Each call gets two port pairs, one per party ([`Side`]): the caller sends to
//! `caller.rtp`/`caller.rtcp`, the callee to `callee.rtp`/`callee.rtcp`. A packet
//! accepted on one leg goes out of the other leg's socket to that party: RTP by
//! the RTP port; RTCP by the RTCP port, or by the RTP port once that party has
//! shown it muxes (RFC 5761) by sending RTCP there. Accepting is *latching*: a leg takes packets only from the first source
//! that matches its [`LegTarget::latch_ip`] (any source when unset) and from then
//! on sends back to exactly that address, which is how media reaches a phone
//! behind NAT without it ever listening. Packets from anyone else are dropped
//! and counted; they never redirect media. Both channels belong to one party:
//! once either latched, the other takes packets only from that host too, so
//! RTCP cannot be injected (or the other party's RTCP diverted) from elsewhere.
//!
//! SRTP/SRTCP pass through untouched (their headers are in the clear: loss,
//! jitter and latching work on them; the relay never needs the keys). STUN a
//! phone sends to a relay port from the party's host is counted apart and, for
//! a Binding request without credentials, answered (RFC 8489 keep-alive and
//! consent), never relayed.
//!
//! The decisions live in the sans-IO [`CallState`] (latching, counters, loss,
//! jitter, media timeout), unit-tested on virtual time; [`Relay`] is the driver.
//! UDP runs on relay threads of its own (`worker.rs`, [`RelayConfig::threads`]),
//! off the tokio workers that serve signalling: each owns an epoll over its calls'
//! sockets and moves a burst at a time (`recvmmsg`, one lock of the state for the
//! whole burst, `sendmmsg`; `batch.rs`, buffers allocated once). TCP legs and the
//! media timeout are tokio tasks. The state sits behind a mutex held only for the
//! decisions, never across a system call or `.await`.
//!
//! A leg whose [`LegTarget::transport`] is TCP takes one RFC 4571 connection on
//! its RTP port instead (frames: 2-byte big-endian length, then the packet).

mod batch;
mod call;
mod clock;
mod driver;
mod framing;
mod lease;
mod leg;
mod packet;
mod ports;
mod quality;
mod tcp;
mod udp;
mod worker;

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

pub use crate::bearer::BearerTransport;
pub use clock::MediaClock;
pub use driver::Relay;
pub use framing::{FrameDecoder, FrameError, MAX_FRAME};
pub use leg::{CallState, Channel, LegState, Route};
pub use packet::{Packet, classify};
pub use ports::PortPool;

/// How the relay runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// The local address every relay socket binds to.
    pub bind: IpAddr,
    /// The ports to take pairs from: RTP on even ports, RTCP on the next odd one.
    pub ports: RangeInclusive<u16>,
    /// After [`Relay::arm_timeout`], a call with no RTP on either leg for this long gets
    /// one [`RelayEvent::MediaTimeout`].
    pub media_timeout: Duration,
    /// Relay threads moving UDP packets (calls spread over them by id); 0 counts as 1.
    /// One keeps up with thousands of streams; more only when one core is saturated.
    pub threads: usize,
}

/// Identifies one call's media on the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MediaId(pub u64);

/// A party of the call, and the relay leg it sends to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The party that sent the INVITE.
    Caller,
    /// The party it was sent to.
    Callee,
}

impl Side {
    /// The other party.
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }
}

/// One leg's relay ports: the party sends RTP to `rtp` and RTCP to `rtcp` (a TCP leg
/// connects to `rtp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegPorts {
    /// Even.
    pub rtp: u16,
    /// `rtp + 1`.
    pub rtcp: u16,
}

/// What [`Relay::open`] allocated for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallMedia {
    /// The handle for `update`/`stats`/`close`.
    pub id: MediaId,
    /// The ports to write into the SDP sent to the caller.
    pub caller: LegPorts,
    /// The ports to write into the SDP sent to the callee.
    pub callee: LegPorts,
}

/// Where one party is, from its SDP and its signalling flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegTarget {
    /// Where to send until the party's first packet latches the leg (its SDP `c=` and `m=` port);
    /// None = send nothing until it speaks.
    pub send_to: Option<SocketAddr>,
    /// Only packets (or a TCP connection) from this IP may latch and are accepted; None = first source wins.
    pub latch_ip: Option<IpAddr>,
    /// UDP, or TCP with RFC 4571 framing on the leg's RTP port.
    pub transport: BearerTransport,
    /// The RTP clock rate, for jitter (8000 for G.711).
    pub clock_rate: u32,
}

impl Default for LegTarget {
    fn default() -> Self {
        Self { send_to: None, latch_ip: None, transport: BearerTransport::Udp, clock_rate: 8000 }
    }
}

/// One leg's counters. "In" is from the party to the relay, "out" from the relay to the party.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LegStats {
    /// Packets accepted from the party (RTP and RTCP).
    pub packets_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Packets sent to the party.
    pub packets_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// RTP packets the party sent that never arrived (sequence gaps, RFC 3550 A.3).
    pub lost: u64,
    /// Interarrival jitter of the party's RTP, in milliseconds (RFC 3550 A.8).
    pub jitter_ms: f64,
    /// Packets (and TCP connections) refused: foreign sources, not RTP/RTCP, wrong transport.
    pub dropped: u64,
    /// Of `dropped`: packets (RTP, RTCP, STUN) and TCP connections from a source that is not
    /// the party's: another address once latched, another host than its `latch_ip` (or than the
    /// host it latched to) before. Hijack and injection attempts show here.
    #[serde(default)]
    pub foreign: u64,
    /// STUN messages from the party's host (keep-alives, consent checks), never relayed nor
    /// counted as dropped: Binding requests without credentials are answered from the port
    /// they reached, with the sender's address; indications and signed ICE checks are ignored.
    #[serde(default)]
    pub stun: u64,
    /// The source the leg latched to, if it has.
    pub latched: Option<SocketAddr>,
}

/// Both legs' counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CallStats {
    /// The caller's leg.
    pub caller: LegStats,
    /// The callee's leg.
    pub callee: LegStats,
}

/// What the relay tells its owner.
#[derive(Clone, Debug, PartialEq)]
pub enum RelayEvent {
    /// No RTP on either leg of an armed call for the media timeout (sent once per call).
    MediaTimeout {
        /// The call.
        id: MediaId,
        /// Its counters at that moment.
        stats: CallStats,
    },
}
