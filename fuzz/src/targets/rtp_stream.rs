//! Media over TCP (RFC 4571, a 16-bit length before each packet) and what the
//! relay does with each packet. The stream arrives in reads of sizes the input
//! chooses and is cut by both decoders that face it: the relay's
//! (`media::relay::FrameDecoder`, into its fixed buffer) and the agent
//! endpoint's (`media::endpoint::framing::decode`). They never panic and cut
//! the same packets up to the endpoint's smaller size limit.
//!
//! The first [`CALL_PACKETS`] packets are then handed to a relayed call
//! (`media::relay::CallState`) from a side, channel, transport and source
//! address the input chooses, on advancing virtual time, which runs latching,
//! loss and jitter on hostile sequence numbers and timestamps. Afterwards every
//! packet is counted once (accepted or dropped), nothing is sent that was not
//! received, the leg with a signalled address latched only to that address, and
//! jitter is a number.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use media::BearerTransport;
use media::endpoint::framing as endpoint_framing;
use media::relay::{CallState, Channel, FrameDecoder, FrameError, LegTarget, MAX_FRAME, Side};

use crate::chunks::Chunks;

/// The caller's signalled (and only acceptable) address.
const CALLER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));

/// Packets a call is given. The input chooses each packet's headers, so a few
/// reach every state the call has; all of a 32 KiB stream (up to 16,000 empty
/// frames) made one execution cost 2.6 ms, a campaign crawl at 6,000/s.
const CALL_PACKETS: usize = 256;

/// Runs one input: `[seed, stream...]`.
pub fn run(data: &[u8]) {
    let [seed, stream @ ..] = data else { return };
    let mut chunks = Chunks::new(*seed);
    let pieces = chunks.split(stream);
    let relay = relay_frames(&pieces);
    let endpoint = endpoint_frames(&pieces);
    let common = relay.frames.len().min(endpoint.frames.len());
    assert!((0..common).all(|i| relay.frames.get(i) == endpoint.frames.get(i)), "the two decoders cut different packets");
    match endpoint.error {
        None => {
            assert!(relay.error.is_none(), "the relay refused a stream the endpoint takes");
            assert_eq!(relay.frames.len(), endpoint.frames.len(), "the decoders cut different packets");
        }
        Some(m) => {
            // The endpoint refuses a length as soon as it reads it; the relay, with a
            // larger limit, takes that frame once it is whole, or refuses it too.
            assert!(m > endpoint_framing::MAX_FRAME, "the endpoint refused a frame of {m} bytes");
            match relay.frames.get(endpoint.frames.len()) {
                Some(next) => assert_eq!(next.len(), m, "the endpoint refused another frame than the relay's next"),
                None if m > MAX_FRAME => assert_eq!(relay.error, Some(FrameError::TooLarge(m)), "the relay took a frame over its limit"),
                None => assert!(relay.error.is_none(), "the relay refused a frame within its limit"),
            }
        }
    }
    relay_call(*seed, (0..relay.frames.len().min(CALL_PACKETS)).filter_map(|i| relay.frames.get(i)), &mut chunks);
}

struct Cut<E> {
    frames: Frames,
    error: Option<E>,
}

/// Packets back to back in one buffer: a `Vec` each was an allocation per frame,
/// thousands per input.
#[derive(Default)]
struct Frames {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Frames {
    fn push(&mut self, frame: &[u8]) {
        self.bytes.extend_from_slice(frame);
        self.ends.push(self.bytes.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        let start = match i.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.bytes.get(start..*self.ends.get(i)?)
    }
}

fn relay_frames(pieces: &[&[u8]]) -> Cut<FrameError> {
    let mut decoder = FrameDecoder::new();
    let mut frames = Frames::default();
    for piece in pieces {
        let mut piece = *piece;
        while !piece.is_empty() {
            let space = decoder.space();
            assert!(!space.is_empty(), "the relay's decoder has no room left");
            let n = space.len().min(piece.len());
            let (now, later) = piece.split_at(n);
            if let Some(slot) = space.get_mut(..n) {
                slot.copy_from_slice(now);
            }
            decoder.filled(n);
            piece = later;
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(e) => return Cut { frames, error: Some(e) },
                }
            }
        }
    }
    Cut { frames, error: None }
}

fn endpoint_frames(pieces: &[&[u8]]) -> Cut<usize> {
    let mut buf = BytesMut::new();
    let mut frames = Frames::default();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match endpoint_framing::decode(&mut buf) {
                Ok(Some(frame)) => frames.push(&frame),
                Ok(None) => break,
                Err(endpoint_framing::FrameTooLong(n)) => return Cut { frames, error: Some(n) },
            }
        }
    }
    Cut { frames, error: None }
}

/// Feeds `packets` to a call whose caller leg is UDP from [`CALLER_IP`] and
/// whose callee leg (UDP or TCP, by `seed`) latches to whoever speaks first.
fn relay_call<'a>(seed: u8, packets: impl Iterator<Item = &'a [u8]>, choices: &mut Chunks) {
    let mut call = CallState::new(Duration::from_secs(30));
    let callee_transport = if seed & 1 == 0 { BearerTransport::Udp } else { BearerTransport::Tcp };
    call.leg_mut(Side::Caller).update(LegTarget {
        send_to: Some(SocketAddr::new(CALLER_IP, 4000)),
        latch_ip: Some(CALLER_IP),
        transport: BearerTransport::Udp,
        clock_rate: 8000,
    });
    call.leg_mut(Side::Callee).update(LegTarget { send_to: None, latch_ip: None, transport: callee_transport, clock_rate: 8000 });
    let sources = [
        SocketAddr::new(CALLER_IP, 4000),
        SocketAddr::new(CALLER_IP, 4001),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66)), 4000),
    ];
    let start = Instant::now();
    let mut now = start;
    let (mut fed, mut bytes_fed) = ([0u64; 2], [0u64; 2]);
    for packet in packets {
        let r = choices.next_size();
        let side = if r & 1 == 0 { Side::Caller } else { Side::Callee };
        let channel = if r & 2 == 0 { Channel::Rtp } else { Channel::Rtcp };
        let via = if r & 4 == 0 { BearerTransport::Udp } else { BearerTransport::Tcp };
        let from = sources.get(r % sources.len()).copied().unwrap_or(sources[0]);
        now += Duration::from_millis(u64::try_from(r).unwrap_or(0) * 3);
        let i = usize::from(side == Side::Callee);
        if let (Some(f), Some(b)) = (fed.get_mut(i), bytes_fed.get_mut(i)) {
            *f += 1;
            *b += packet.len() as u64;
        }
        let _ = call.forward(now, side, via, channel, from, packet);
    }
    let stats = call.stats();
    for (i, (leg, other)) in [(stats.caller, stats.callee), (stats.callee, stats.caller)].into_iter().enumerate() {
        let fed = fed.get(i).copied().unwrap_or_default();
        // STUN from the party's host is counted apart, neither accepted nor dropped.
        assert_eq!(leg.packets_in + leg.dropped + leg.stun, fed, "leg {i}: a packet counted twice or not at all");
        assert!(leg.bytes_in <= bytes_fed.get(i).copied().unwrap_or_default(), "leg {i}: more bytes in than fed");
        assert!(other.packets_out <= leg.packets_in, "leg {i}: the other party got packets nobody sent");
        assert!(leg.jitter_ms.is_finite() && leg.jitter_ms >= 0.0, "leg {i}: jitter {}", leg.jitter_ms);
        assert!(leg.lost <= leg.packets_in.saturating_mul(u64::from(u16::MAX)), "leg {i}: lost {} of {} packets", leg.lost, leg.packets_in);
    }
    if let Some(latched) = stats.caller.latched {
        assert_eq!(latched.ip(), CALLER_IP, "the caller's leg latched to a foreign address");
    }
}
