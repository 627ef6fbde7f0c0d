//! The sans-IO state of a relayed call: per leg, who may send (latching),
//! where to send, counters and stream quality; per call, the forwarding
//! decision for one packet. The tokio driver holds a [`CallState`] behind a
//! mutex for the length of one decision and does the socket I/O outside it.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::clock::MediaClock;
use super::packet::{Packet, classify};
use super::quality::{Jitter, Loss};
use super::{CallStats, LegStats, LegTarget, Side};
use crate::bearer::BearerTransport;
use crate::stun::{self, TransactionId};

/// Which of a leg's bearer channels a packet arrived on (or leaves by). A TCP
/// leg has one connection, which counts as the RTP channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The even RTP port (also carries muxed RTCP).
    Rtp,
    /// The odd RTCP port.
    Rtcp,
}

/// What to do with an accepted packet: forward it out of the other leg's UDP
/// socket for `channel` to `to`, or into the other leg's TCP connection; or,
/// for a STUN Binding request, answer it from where it came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Send with the other leg's UDP socket of this channel.
    Udp {
        /// Which socket.
        channel: Channel,
        /// The destination address.
        to: SocketAddr,
    },
    /// Queue as an RFC 4571 frame on the other leg's TCP connection.
    Tcp,
    /// Not relayed: answer the sender with a STUN Binding success response
    /// ([`stun::write_binding_success`] with its source address) from the
    /// socket (or connection) the request arrived on.
    Answer {
        /// The request's transaction.
        txid: TransactionId,
        /// The answer carries FINGERPRINT (the request did).
        fingerprint: bool,
    },
}

/// One leg: the party that sends to (and receives from) one relay port pair.
#[derive(Clone, Debug, Default)]
pub struct LegState {
    target: LegTarget,
    rtp_peer: Option<SocketAddr>,
    rtcp_peer: Option<SocketAddr>,
    /// The party sent RTCP on its RTP port (RFC 5761 mux): send it RTCP there too.
    rtcp_muxed: bool,
    stats: LegStats,
    loss: Loss,
    jitter: Jitter,
}

impl LegState {
    /// A leg nobody has described yet: first source wins, nowhere to send until it speaks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets where the party is (re-INVITE may call it again): latching starts over,
    /// counters carry on.
    pub fn update(&mut self, target: LegTarget) {
        // A TCP connection already accepted from the party outlives an update that
        // keeps the leg TCP and the party's host: the switch pre-arms a callee's leg
        // when it forwards a TCP offer (the callee connects as soon as it answers,
        // often before its answer reaches the switch), then confirms it.
        let kept = self.rtp_peer.filter(|peer| {
            self.target.transport == BearerTransport::Tcp
                && target.transport == BearerTransport::Tcp
                && target.latch_ip.is_none_or(|ip| canonical(ip) == canonical(peer.ip()))
        });
        self.target = target;
        self.rtp_peer = kept;
        self.rtcp_peer = None;
        self.rtcp_muxed = false;
        self.stats.latched = kept;
    }

    /// The current target.
    pub fn target(&self) -> &LegTarget {
        &self.target
    }

    /// Whether a packet (or TCP connection) from `from` on `channel` would be accepted:
    /// the latched source when there is one, else any source from the party's host.
    pub fn accepts(&self, channel: Channel, from: SocketAddr) -> bool {
        match self.peer(channel) {
            Some(peer) => peer == from,
            None => self.is_party_host(from),
        }
    }

    /// Whether `from` is on the party's host: its `latch_ip`, else the host either
    /// channel latched to first, else (nothing known yet) any.
    fn is_party_host(&self, from: SocketAddr) -> bool {
        let host = self.target.latch_ip.or(self.rtp_peer.or(self.rtcp_peer).map(|peer| peer.ip()));
        host.is_none_or(|ip| canonical(ip) == canonical(from.ip()))
    }

    /// Latches `channel` to `from` (the driver does this for an accepted TCP connection).
    pub fn latch(&mut self, channel: Channel, from: SocketAddr) {
        match channel {
            Channel::Rtp => {
                self.rtp_peer = Some(from);
                self.stats.latched = Some(from);
            }
            Channel::Rtcp => self.rtcp_peer = Some(from),
        }
    }

    /// Forgets the latched source of `channel` (its TCP connection closed).
    pub fn unlatch(&mut self, channel: Channel) {
        match channel {
            Channel::Rtp => {
                self.rtp_peer = None;
                self.stats.latched = None;
            }
            Channel::Rtcp => self.rtcp_peer = None,
        }
    }

    /// A packet from the party arrived: checks the source (latching on the first
    /// acceptable one), counts it, and tracks loss and jitter for RTP. Returns what the
    /// packet is, or None when it was dropped (foreign source, or not RTP/RTCP/STUN).
    /// STUN from the party's host is counted apart and latches nothing.
    pub fn receive(&mut self, now: Instant, channel: Channel, from: SocketAddr, packet: &[u8]) -> Option<Packet> {
        let kind = classify(packet, channel == Channel::Rtcp);
        let acceptable = match kind {
            Packet::Invalid => {
                self.stats.dropped += 1;
                return None;
            }
            Packet::Stun => self.is_party_host(from),
            Packet::Rtp { .. } | Packet::Rtcp => self.accepts(channel, from),
        };
        if !acceptable {
            self.count_foreign();
            return None;
        }
        if kind == Packet::Stun {
            self.stats.stun += 1;
            return Some(kind);
        }
        if self.peer(channel).is_none() {
            self.latch(channel, from);
        }
        self.stats.packets_in += 1;
        self.stats.bytes_in += packet.len() as u64;
        if kind == Packet::Rtcp && channel == Channel::Rtp && self.target.transport == BearerTransport::Udp {
            self.rtcp_muxed = true;
        }
        if let Packet::Rtp { payload_type, seq, timestamp, ssrc } = kind {
            self.loss.on_packet(ssrc, seq);
            self.jitter.on_packet(now, self.target.clock_rate, ssrc, payload_type, timestamp);
        }
        Some(kind)
    }

    /// Where to send to the party on `channel`: the latched source, else the
    /// signalled address (`send_to`, port + 1 for RTCP). None: wait for it to speak.
    pub fn destination(&self, channel: Channel) -> Option<SocketAddr> {
        match channel {
            Channel::Rtp => self.rtp_peer.or(self.target.send_to),
            Channel::Rtcp => self.rtcp_peer.or_else(|| {
                let rtp = self.rtp_peer.or(self.target.send_to)?;
                Some(SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?))
            }),
        }
    }

    /// Counts a packet sent to the party.
    pub fn count_out(&mut self, bytes: usize) {
        self.stats.packets_out += 1;
        self.stats.bytes_out += bytes as u64;
    }

    /// Counts something refused outside [`LegState::receive`] (a truncated datagram, a TCP
    /// connection to a UDP leg).
    pub fn count_dropped(&mut self) {
        self.stats.dropped += 1;
    }

    /// Counts something refused because it came from a source not the party's (a TCP connection too).
    pub fn count_foreign(&mut self) {
        self.stats.dropped += 1;
        self.stats.foreign += 1;
    }

    /// The leg's counters now.
    pub fn stats(&self) -> LegStats {
        LegStats { lost: self.loss.lost(), jitter_ms: self.jitter.millis(self.target.clock_rate), ..self.stats }
    }

    fn peer(&self, channel: Channel) -> Option<SocketAddr> {
        match channel {
            Channel::Rtp => self.rtp_peer,
            Channel::Rtcp => self.rtcp_peer,
        }
    }
}

/// IPv4-mapped IPv6 and IPv4 name the same host.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Both legs of a call and its media timeout.
#[derive(Clone, Debug)]
pub struct CallState {
    caller: LegState,
    callee: LegState,
    clock: MediaClock,
}

impl CallState {
    /// A call whose media timeout is `media_timeout` once armed.
    pub fn new(media_timeout: Duration) -> Self {
        Self { caller: LegState::new(), callee: LegState::new(), clock: MediaClock::new(media_timeout) }
    }

    /// One leg.
    pub fn leg(&self, side: Side) -> &LegState {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }

    /// One leg, to change.
    pub fn leg_mut(&mut self, side: Side) -> &mut LegState {
        match side {
            Side::Caller => &mut self.caller,
            Side::Callee => &mut self.callee,
        }
    }

    /// Both legs' counters now.
    pub fn stats(&self) -> CallStats {
        CallStats { caller: self.caller.stats(), callee: self.callee.stats() }
    }

    /// The media timeout.
    pub fn clock_mut(&mut self) -> &mut MediaClock {
        &mut self.clock
    }

    /// The per-packet decision: `packet` arrived by `via` on `side`'s `channel` from `from`.
    /// Returns where to send it out of the other leg (counted there as sent), or
    /// None when it is dropped or the other party has no address yet. A packet
    /// arriving by a transport the leg does not use (UDP on a TCP leg) is dropped.
    /// A STUN Binding request the leg accepts gets [`Route::Answer`] (it goes back
    /// to `from`, not to the other party); other STUN gets None.
    pub fn forward(
        &mut self,
        now: Instant,
        side: Side,
        via: BearerTransport,
        channel: Channel,
        from: SocketAddr,
        packet: &[u8],
    ) -> Option<Route> {
        let leg = self.leg_mut(side);
        if leg.target.transport != via {
            leg.count_dropped();
            return None;
        }
        let kind = leg.receive(now, channel, from, packet)?;
        match kind {
            Packet::Rtp { .. } => self.clock.on_rtp(now),
            Packet::Stun => {
                return match stun::read(packet) {
                    Some(stun::Message::BindingRequest { txid, fingerprint }) => Some(Route::Answer { txid, fingerprint }),
                    _ => None,
                };
            }
            Packet::Rtcp | Packet::Invalid => {}
        }
        let other = self.leg_mut(side.other());
        let route = if other.target.transport == BearerTransport::Tcp {
            // The TCP connection carries both; it exists once latched.
            other.rtp_peer.map(|_| Route::Tcp)
        } else {
            // RTCP goes to where this party takes it, whichever way it came (RTCP port,
            // muxed, or a TCP connection): its RTP port once it showed it muxes, else the RTCP port.
            let out = match kind {
                Packet::Rtcp if other.rtcp_muxed => Channel::Rtp,
                Packet::Rtcp => Channel::Rtcp,
                _ => Channel::Rtp,
            };
            other.destination(out).map(|to| Route::Udp { channel: out, to })
        };
        if route.is_some() {
            other.count_out(packet.len());
        }
        route
    }
}

#[cfg(test)]
mod tests;
