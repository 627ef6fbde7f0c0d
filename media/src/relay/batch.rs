//! Datagrams by the batch: one `recvmmsg` fills up to [`BATCH`] slots of a buffer
//! allocated once, one `sendmmsg` per outgoing socket sends what was decided.
//! nix's wrappers do the `unsafe` (its `MultiHeaders` are allocated once here too),
//! so steady state makes no allocation and two system calls per burst, not two per packet.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};

use super::framing::MAX_FRAME;

/// Datagrams read (and sent) per system call: a 20 ms tick of many streams arrives in
/// bursts of this order, and 32 slots of 1.5 kB stay in the L1/L2 caches.
pub(super) const BATCH: usize = 32;

/// One byte more than the largest packet relayed: a full slot means it may be truncated.
const SLOT: usize = MAX_FRAME + 1;

/// The receive slots and the kernel's message headers for both directions.
pub(super) struct Batch {
    slots: Slots,
    recv_headers: MultiHeaders<SockaddrStorage>,
    send_headers: MultiHeaders<SockaddrStorage>,
    /// The destinations of the burst being sent (capacity [`BATCH`], allocated once).
    send_addrs: Vec<Option<SockaddrStorage>>,
}

/// What the last `recv` filled (apart from the headers, so a send can read it
/// while the kernel's send headers are written).
struct Slots {
    arena: Box<[u8]>,
    /// Per slot: its length and source (None: not an IP source).
    got: [(usize, Option<SocketAddr>); BATCH],
    received: usize,
}

impl Slots {
    fn packet(&self, slot: usize) -> Option<&[u8]> {
        let &(len, _) = self.got.get(slot).filter(|_| slot < self.received)?;
        let chunk = self.arena.chunks_exact(SLOT).nth(slot)?;
        chunk.get(..len).filter(|p| !p.is_empty() && len <= MAX_FRAME)
    }
}

/// One datagram of the last [`Batch::recv`]: its slot, bytes and source.
pub(super) struct Datagram<'a> {
    pub(super) slot: usize,
    /// None: empty, or longer than [`MAX_FRAME`] (maybe truncated): never relayed.
    pub(super) packet: Option<&'a [u8]>,
    pub(super) from: Option<SocketAddr>,
}

impl Batch {
    pub(super) fn new() -> Self {
        Self {
            slots: Slots { arena: vec![0u8; BATCH * SLOT].into_boxed_slice(), got: [(0, None); BATCH], received: 0 },
            recv_headers: MultiHeaders::preallocate(BATCH, None),
            send_headers: MultiHeaders::preallocate(BATCH, None),
            send_addrs: Vec::with_capacity(BATCH),
        }
    }

    /// Reads what `socket` holds, up to `limit` (at most [`BATCH`]) datagrams, without
    /// waiting. `Err(WouldBlock)` when it held nothing. Only `limit` slots are set up:
    /// a socket woken for one RTP packet costs two slots, not [`BATCH`].
    pub(super) fn recv(&mut self, socket: &UdpSocket, limit: usize) -> std::io::Result<usize> {
        // At least one slot with room: a zero-length one would cut a datagram to nothing.
        let limit = limit.clamp(1, BATCH);
        let slots = &mut self.slots;
        slots.received = 0;
        let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| [IoSliceMut::new(&mut [])]);
        for (slice, chunk) in slices.iter_mut().zip(slots.arena.chunks_exact_mut(SLOT)).take(limit) {
            *slice = [IoSliceMut::new(chunk)];
        }
        let wanted = slices.iter_mut().take(limit);
        let results =
            recvmmsg(socket.as_raw_fd(), &mut self.recv_headers, wanted, MsgFlags::MSG_DONTWAIT, None).map_err(std::io::Error::from)?;
        for (got, message) in slots.got.iter_mut().zip(results) {
            *got = (message.bytes, message.address.as_ref().and_then(socket_addr));
            slots.received += 1;
        }
        Ok(slots.received)
    }

    /// The datagrams of the last `recv`, in order.
    pub(super) fn datagrams(&self) -> impl Iterator<Item = Datagram<'_>> {
        let slots = &self.slots;
        slots.got.iter().take(slots.received).enumerate().map(|(slot, &(_, from))| Datagram { slot, packet: slots.packet(slot), from })
    }

    /// The bytes of `slot` in the last `recv`; None when empty, out of the burst, or
    /// longer than [`MAX_FRAME`] (maybe truncated): never relayed.
    pub(super) fn packet(&self, slot: usize) -> Option<&[u8]> {
        self.slots.packet(slot)
    }

    /// Sends each `(slot, to)` of `sends` out of `socket`, in as few calls as the kernel
    /// takes them. What it refuses (full send buffer, unreachable) is dropped: real-time
    /// media is better lost than late. Returns how many were sent.
    pub(super) fn send(&mut self, socket: &UdpSocket, sends: &[(usize, SocketAddr)]) -> usize {
        let mut sent = 0;
        let mut rest = sends;
        while !rest.is_empty() {
            match self.send_some(socket, rest) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => {
                    sent += n;
                    rest = rest.get(n..).unwrap_or_default();
                }
                // The first message failed on its own (ICMP error pending, bad address): skip it.
                Err(error) => {
                    tracing::debug!(%error, to = ?rest.first().map(|s| s.1), "relay send");
                    rest = rest.get(1..).unwrap_or_default();
                }
            }
        }
        sent
    }

    fn send_some(&mut self, socket: &UdpSocket, sends: &[(usize, SocketAddr)]) -> nix::Result<usize> {
        // Addresses go in a list kept between calls and filled only as far as this burst:
        // a fresh array of BATCH 128-byte addresses per call was most of a send's user time.
        let addrs = &mut self.send_addrs;
        addrs.clear();
        let mut slices: [[IoSlice<'_>; 1]; BATCH] = [[IoSlice::new(&[])]; BATCH];
        for (&(slot, to), slice) in sends.iter().zip(slices.iter_mut()) {
            *slice = [IoSlice::new(self.slots.packet(slot).unwrap_or_default())];
            addrs.push(Some(SockaddrStorage::from(to)));
        }
        let count = addrs.len();
        let results =
            sendmmsg(socket.as_raw_fd(), &mut self.send_headers, slices.iter().take(count), addrs.as_slice(), [], MsgFlags::MSG_DONTWAIT)?;
        Ok(results.count())
    }
}

fn socket_addr(storage: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    storage.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_read_in_one_call_and_sent_back_in_one() {
        let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (relay_addr, peer_addr) = (relay.local_addr().unwrap(), peer.local_addr().unwrap());
        let mut batch = Batch::new();
        assert_eq!(batch.recv(&relay, BATCH).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
        for i in 0..5u8 {
            peer.send_to(&[i; 20], relay_addr).unwrap();
        }
        peer.send_to(&[], relay_addr).unwrap();
        peer.send_to(&[9; SLOT + 10], relay_addr).unwrap();
        // Loopback delivers synchronously: all seven are queued already.
        assert_eq!(batch.recv(&relay, 2).unwrap(), 2, "no more than asked");
        let first: Vec<_> = batch.datagrams().map(|d| d.packet.map(<[u8]>::to_vec)).collect();
        assert_eq!(first, [Some(vec![0; 20]), Some(vec![1; 20])]);
        assert_eq!(batch.recv(&relay, BATCH).unwrap(), 5, "the rest in one call");
        let got: Vec<_> = batch.datagrams().map(|d| (d.slot, d.packet.map(<[u8]>::to_vec), d.from)).collect();
        for (i, (slot, packet, from)) in got.iter().take(3).enumerate() {
            assert_eq!((*slot, packet.as_deref(), *from), (i, Some(&[i as u8 + 2; 20][..]), Some(peer_addr)));
        }
        assert_eq!(got[3].1, None, "empty");
        assert_eq!(got[4].1, None, "too long: maybe truncated");
        let sends: Vec<_> = (0..3).rev().map(|slot| (slot, peer_addr)).collect();
        assert_eq!(batch.send(&relay, &sends), 3);
        let mut buf = [0u8; 64];
        for i in (2..5u8).rev() {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&[i; 20][..], relay_addr));
        }
    }
}
