//! One UDP relay socket drained on the relay thread: a burst read with one
//! `recvmmsg`, decided under one lock of the call's state, sent with one
//! `sendmmsg` per outgoing socket. And delivery out of a leg for the TCP tasks.

use std::net::SocketAddr;
use std::time::Instant;

use super::Side;
use super::batch::{BATCH, Batch};
use super::call::Call;
use super::leg::{Channel, Route};
use crate::bearer::BearerTransport;
use crate::stun::{self, TransactionId};

/// Bursts read from one socket before the others get their turn: a flood on one
/// call must not starve the rest of the thread's calls.
const ROUNDS: usize = 4;

/// Datagrams asked for by a socket's first read of a turn. A socket carrying one RTP
/// stream holds one packet when woken (50 a second), so setting up [`BATCH`] slots for
/// it was most of the user time per packet. Two, not one: a read that returns fewer
/// than asked tells that the socket is empty (the kernel tried the next and found
/// nothing), which edge-triggered readiness needs to know without one more call.
const FIRST: usize = 2;

/// Whether a socket was read until empty, or still holds datagrams (read it again soon).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Drained {
    Empty,
    More,
}

/// What one burst asks for, gathered under the state's lock and done after it.
/// Capacity for a whole burst is allocated once; nothing grows per packet.
pub(super) struct Plan {
    /// `(slot, to)` per channel of the other leg's UDP sockets: RTP, RTCP.
    udp: [Vec<(usize, SocketAddr)>; 2],
    /// Slots to queue on the other leg's TCP connection.
    tcp: Vec<usize>,
    /// STUN Binding requests to answer from the socket they reached.
    answers: Vec<(SocketAddr, TransactionId, bool)>,
}

impl Plan {
    pub(super) fn new() -> Self {
        Self {
            udp: [Vec::with_capacity(BATCH), Vec::with_capacity(BATCH)],
            tcp: Vec::with_capacity(BATCH),
            answers: Vec::with_capacity(BATCH),
        }
    }

    fn clear(&mut self) {
        self.udp.iter_mut().for_each(Vec::clear);
        self.tcp.clear();
        self.answers.clear();
    }
}

fn index(channel: Channel) -> usize {
    match channel {
        Channel::Rtp => 0,
        Channel::Rtcp => 1,
    }
}

/// Reads `side`'s `channel` socket (the thread was told it is readable) and
/// forwards what the call state accepts.
pub(super) fn drain(call: &Call, side: Side, channel: Channel, batch: &mut Batch, plan: &mut Plan) -> Drained {
    let socket = call.io(side).udp(channel);
    for limit in std::iter::once(FIRST).chain(std::iter::repeat_n(BATCH, ROUNDS)) {
        let n = match batch.recv(socket, limit) {
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Drained::Empty,
            Err(error) => {
                // ICMP errors surface here; they concern one earlier send, not the socket.
                tracing::debug!(call = call.label, ?side, ?channel, %error, "relay recv");
                continue;
            }
        };
        decide(call, side, channel, batch, plan);
        act(call, side, channel, batch, plan);
        // Edge-triggered readiness: a short burst emptied the socket, and the next
        // datagram raises a new edge.
        if n < limit {
            return Drained::Empty;
        }
    }
    Drained::More
}

/// The per-packet decisions of one burst, under one lock and one clock reading.
fn decide(call: &Call, side: Side, channel: Channel, batch: &Batch, plan: &mut Plan) {
    plan.clear();
    let now = Instant::now();
    let mut state = call.state();
    for datagram in batch.datagrams() {
        let (Some(packet), Some(from)) = (datagram.packet, datagram.from) else {
            state.leg_mut(side).count_dropped();
            continue;
        };
        match state.forward(now, side, BearerTransport::Udp, channel, from, packet) {
            Some(Route::Udp { channel, to }) => {
                if let Some(list) = plan.udp.get_mut(index(channel)) {
                    list.push((datagram.slot, to));
                }
            }
            Some(Route::Tcp) => plan.tcp.push(datagram.slot),
            Some(Route::Answer { txid, fingerprint }) => plan.answers.push((from, txid, fingerprint)),
            None => {}
        }
    }
}

/// Sends what [`decide`] planned, outside the lock.
fn act(call: &Call, side: Side, channel: Channel, batch: &mut Batch, plan: &Plan) {
    let socket = call.io(side).udp(channel);
    for &(from, txid, fingerprint) in &plan.answers {
        answer_stun(call, side, socket, from, txid, fingerprint);
    }
    let other = call.io(side.other());
    for (channel, sends) in [Channel::Rtp, Channel::Rtcp].into_iter().zip(&plan.udp) {
        if !sends.is_empty() {
            batch.send(other.udp(channel), sends);
        }
    }
    for packet in plan.tcp.iter().filter_map(|&slot| batch.packet(slot)) {
        other.tcp_out.push(packet);
    }
}

fn answer_stun(call: &Call, side: Side, socket: &std::net::UdpSocket, from: SocketAddr, txid: TransactionId, fingerprint: bool) {
    let mut answer = [0u8; stun::MAX_ANSWER];
    let n = stun::write_binding_success(&txid, from, fingerprint, &mut answer);
    if let Err(error) = socket.send_to(answer.get(..n).unwrap_or_default(), from) {
        tracing::debug!(call = call.label, ?side, %from, %error, "relay STUN answer");
    }
}

/// Sends `packet` (from a TCP leg) out of `side`'s leg as `route` says, without
/// waiting: a full send buffer drops it, as on the relay thread.
pub(super) fn deliver(call: &Call, side: Side, route: Option<Route>, packet: &[u8]) {
    match route {
        Some(Route::Udp { channel, to }) => {
            if let Err(error) = call.io(side).udp(channel).send_to(packet, to) {
                tracing::debug!(call = call.label, ?side, %to, %error, "relay send");
            }
        }
        Some(Route::Tcp) => call.io(side).tcp_out.push(packet),
        // Answers go back out of the leg the request came in on: the reader does that.
        Some(Route::Answer { .. }) | None => {}
    }
}
