#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;

fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, host)), port)
}

fn rtp(seq: u16, timestamp: u32) -> [u8; 172] {
    let mut p = [0xd5u8; 172];
    p[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&timestamp.to_be_bytes());
    p
}

const RR: [u8; 8] = [0x80, 201, 0, 1, 0, 0, 0x12, 0x34];

/// A call where the caller is 192.0.2.1 (signalled 192.0.2.1:4000) and the callee 192.0.2.2:6000.
fn call() -> CallState {
    let mut call = CallState::new(Duration::from_secs(30));
    call.leg_mut(Side::Caller).update(LegTarget { send_to: Some(addr(1, 4000)), latch_ip: Some(addr(1, 0).ip()), ..LegTarget::default() });
    call.leg_mut(Side::Callee).update(LegTarget { send_to: Some(addr(2, 6000)), latch_ip: Some(addr(2, 0).ip()), ..LegTarget::default() });
    call
}

const UDP: BearerTransport = BearerTransport::Udp;

#[test]
fn sends_to_send_to_before_latching_and_to_the_latched_source_after() {
    let t = Instant::now();
    let mut call = call();
    // The caller speaks first, from a NATed port: it goes to the callee's signalled address.
    let route = call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &rtp(1, 0));
    assert_eq!(route, Some(Route::Udp { channel: Channel::Rtp, to: addr(2, 6000) }));
    assert_eq!(call.leg(Side::Caller).stats().latched, Some(addr(1, 50_000)));
    // The callee's packets go to where the caller really is, not its SDP port.
    let route = call.forward(t, Side::Callee, UDP, Channel::Rtp, addr(2, 6000), &rtp(9, 0));
    assert_eq!(route, Some(Route::Udp { channel: Channel::Rtp, to: addr(1, 50_000) }));
    // RTCP before the caller's RTCP latched: its RTP source port + 1.
    let route = call.forward(t, Side::Callee, UDP, Channel::Rtcp, addr(2, 6001), &RR);
    assert_eq!(route, Some(Route::Udp { channel: Channel::Rtcp, to: addr(1, 50_001) }));
    let s = call.stats();
    assert_eq!((s.caller.packets_in, s.caller.bytes_in, s.caller.packets_out, s.caller.bytes_out), (1, 172, 2, 180));
    assert_eq!((s.callee.packets_in, s.callee.packets_out, s.callee.bytes_out), (2, 1, 172));
}

#[test]
fn foreign_sources_are_dropped_and_never_redirect_media() {
    let t = Instant::now();
    let mut call = call();
    assert!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &rtp(1, 0)).is_some());
    // Another host, and another port of the right host once latched: both dropped.
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(66, 50_000), &rtp(2, 160)), None);
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 50_002), &rtp(2, 160)), None);
    // Garbage from the right source is not relayed either.
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), b"\x00\x01hello"), None);
    // Before the callee speaks, a foreign host cannot latch its leg.
    assert_eq!(call.forward(t, Side::Callee, UDP, Channel::Rtp, addr(66, 6000), &rtp(1, 0)), None);
    let s = call.stats();
    assert_eq!(s.caller.dropped, 3);
    assert_eq!(s.caller.foreign, 2, "the garbage came from the party: dropped, not foreign");
    assert_eq!((s.callee.dropped, s.callee.foreign), (1, 1));
    assert_eq!(s.caller.latched, Some(addr(1, 50_000)));
    assert_eq!(s.callee.latched, None);
    assert_eq!(call.leg(Side::Caller).destination(Channel::Rtp), Some(addr(1, 50_000)));
}

#[test]
fn without_latch_ip_the_first_source_wins_and_update_starts_latching_over() {
    let t = Instant::now();
    let mut call = CallState::new(Duration::from_secs(30));
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(7, 1000), &rtp(1, 0)), None, "callee has no address yet");
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(8, 1000), &rtp(2, 0)), None);
    assert_eq!(call.stats().caller.latched, Some(addr(7, 1000)));
    assert_eq!(call.stats().caller.dropped, 1);
    // re-INVITE: the caller moved.
    call.leg_mut(Side::Caller).update(LegTarget { send_to: Some(addr(8, 2000)), ..LegTarget::default() });
    assert_eq!(call.leg(Side::Caller).destination(Channel::Rtp), Some(addr(8, 2000)));
    assert_eq!(call.leg(Side::Caller).destination(Channel::Rtcp), Some(addr(8, 2001)));
    call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(8, 1000), &rtp(3, 0));
    assert_eq!(call.stats().caller.latched, Some(addr(8, 1000)));
    assert_eq!(call.stats().caller.packets_in, 2, "counters carry over");
}

#[test]
fn rtcp_muxed_or_on_its_port_is_counted_but_not_as_rtp() {
    let t = Instant::now();
    let mut call = call();
    for seq in [1u16, 2, 5] {
        call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 4000), &rtp(seq, u32::from(seq) * 160));
    }
    // The callee has not shown it muxes: the caller's muxed RTCP goes to its RTCP port.
    let muxed = call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 4000), &RR);
    assert_eq!(muxed, Some(Route::Udp { channel: Channel::Rtcp, to: addr(2, 6001) }));
    // Once the callee sends RTCP on its RTP port, RTCP for it goes there; the caller muxes too.
    let back = call.forward(t, Side::Callee, UDP, Channel::Rtp, addr(2, 6000), &RR);
    assert_eq!(back, Some(Route::Udp { channel: Channel::Rtp, to: addr(1, 4000) }));
    let muxed = call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 4000), &RR);
    assert_eq!(muxed, Some(Route::Udp { channel: Channel::Rtp, to: addr(2, 6000) }));
    // On the RTCP port even an RTP-looking packet is RTCP: no effect on loss.
    call.forward(t, Side::Caller, UDP, Channel::Rtcp, addr(1, 4001), &rtp(1000, 0));
    let s = call.stats().caller;
    assert_eq!(s.packets_in, 6);
    assert_eq!(s.lost, 2, "3 and 4 are missing; RTCP did not count as a gap");
}

#[test]
fn jitter_from_virtual_arrival_times() {
    let t0 = Instant::now();
    let mut call = call();
    for i in 0..200u16 {
        let late = if i % 2 == 1 { 4 } else { 0 };
        let at = t0 + Duration::from_millis(20 * u64::from(i) + late);
        call.forward(at, Side::Caller, UDP, Channel::Rtp, addr(1, 4000), &rtp(i, u32::from(i) * 160));
    }
    let jitter = call.stats().caller.jitter_ms;
    assert!((jitter - 4.0).abs() < 0.1, "{jitter}");
    assert_eq!(call.stats().callee.jitter_ms, 0.0);
}

#[test]
fn tcp_leg_takes_frames_only_by_tcp_and_gets_everything_on_its_connection() {
    let t = Instant::now();
    let mut call = call();
    let tcp = LegTarget { send_to: None, latch_ip: Some(addr(2, 0).ip()), transport: BearerTransport::Tcp, clock_rate: 8000 };
    call.leg_mut(Side::Callee).update(tcp);
    // Not connected yet: nothing to send to.
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 4000), &rtp(1, 0)), None);
    assert!(call.leg(Side::Callee).accepts(Channel::Rtp, addr(2, 33_000)));
    assert!(!call.leg(Side::Callee).accepts(Channel::Rtp, addr(3, 33_000)));
    call.leg_mut(Side::Callee).latch(Channel::Rtp, addr(2, 33_000));
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 4000), &rtp(2, 160)), Some(Route::Tcp));
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtcp, addr(1, 4001), &RR), Some(Route::Tcp));
    // From the connection: RTP to the caller's RTP port, RTCP to its RTCP port.
    let tcp_in = |call: &mut CallState, p: &[u8]| call.forward(t, Side::Callee, BearerTransport::Tcp, Channel::Rtp, addr(2, 33_000), p);
    assert_eq!(tcp_in(&mut call, &rtp(1, 0)), Some(Route::Udp { channel: Channel::Rtp, to: addr(1, 4000) }));
    assert_eq!(tcp_in(&mut call, &RR), Some(Route::Udp { channel: Channel::Rtcp, to: addr(1, 4001) }));
    // UDP to a TCP leg is refused even from the right host.
    assert_eq!(call.forward(t, Side::Callee, UDP, Channel::Rtp, addr(2, 33_000), &rtp(2, 160)), None);
    assert_eq!(call.stats().callee.dropped, 1);
    assert_eq!(call.stats().callee.packets_out, 2);
}

#[test]
fn a_tcp_connection_accepted_early_survives_the_update_that_confirms_the_leg() {
    let mut call = call();
    let tcp = LegTarget { send_to: None, latch_ip: Some(addr(2, 0).ip()), transport: BearerTransport::Tcp, clock_rate: 8000 };
    call.leg_mut(Side::Callee).update(tcp);
    call.leg_mut(Side::Callee).latch(Channel::Rtp, addr(2, 33_000));
    // The answer arrives after the connection: same host, still TCP — kept.
    call.leg_mut(Side::Callee).update(LegTarget { send_to: Some(addr(2, 40_000)), ..tcp });
    assert_eq!(call.leg(Side::Callee).stats().latched, Some(addr(2, 33_000)));
    assert!(!call.leg(Side::Callee).accepts(Channel::Rtp, addr(2, 33_001)), "still only that connection");
    // Another host or UDP: latching starts over.
    call.leg_mut(Side::Callee).update(LegTarget { latch_ip: Some(addr(3, 0).ip()), ..tcp });
    assert_eq!(call.leg(Side::Callee).stats().latched, None);
    call.leg_mut(Side::Callee).latch(Channel::Rtp, addr(3, 33_000));
    call.leg_mut(Side::Callee).update(LegTarget { transport: BearerTransport::Udp, latch_ip: Some(addr(3, 0).ip()), ..tcp });
    assert_eq!(call.leg(Side::Callee).stats().latched, None);
}

#[test]
fn rtp_on_either_leg_defers_the_media_timeout_rtcp_does_not() {
    let t0 = Instant::now();
    let mut call = call();
    call.clock_mut().arm(t0);
    call.forward(t0 + Duration::from_secs(10), Side::Callee, UDP, Channel::Rtp, addr(2, 6000), &rtp(1, 0));
    call.forward(t0 + Duration::from_secs(20), Side::Caller, UDP, Channel::Rtcp, addr(1, 4001), &RR);
    assert_eq!(call.clock_mut().poll_timeout(), Some(t0 + Duration::from_secs(40)));
}

/// A STUN Binding request (RFC 8489) with transaction id `id`, no attributes.
fn binding(id: u8) -> [u8; 20] {
    let mut p = [0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[8..].fill(id);
    p
}

#[test]
fn rtcp_is_taken_only_from_the_host_rtp_latched_to_even_without_latch_ip() {
    let t = Instant::now();
    let mut call = CallState::new(Duration::from_secs(30));
    call.leg_mut(Side::Callee).update(LegTarget { send_to: Some(addr(2, 6000)), ..LegTarget::default() });
    assert!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 4000), &rtp(1, 0)).is_some());
    // Another host's RTCP cannot latch the caller's RTCP: it would be relayed as
    // the caller's, and the callee's RTCP would go to it.
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtcp, addr(66, 4001), &RR), None);
    assert_eq!(call.leg(Side::Caller).destination(Channel::Rtcp), Some(addr(1, 4001)));
    assert!(call.forward(t, Side::Caller, UDP, Channel::Rtcp, addr(1, 4001), &RR).is_some());
    // Once latched, even the party's host on another port is refused.
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtcp, addr(1, 4003), &RR), None);
    let s = call.stats().caller;
    assert_eq!((s.packets_in, s.dropped, s.foreign), (2, 2, 2));
    // The other way round: RTCP first binds the leg to its host, RTP from elsewhere is refused.
    let mut call = CallState::new(Duration::from_secs(30));
    assert!(call.forward(t, Side::Callee, UDP, Channel::Rtcp, addr(2, 6001), &RR).is_none(), "nowhere to send yet");
    assert_eq!(call.forward(t, Side::Callee, UDP, Channel::Rtp, addr(66, 6000), &rtp(1, 0)), None);
    call.forward(t, Side::Callee, UDP, Channel::Rtp, addr(2, 6000), &rtp(2, 160));
    assert_eq!(call.stats().callee.latched, Some(addr(2, 6000)));
    assert_eq!(call.stats().callee.foreign, 1);
}

#[test]
fn a_second_source_racing_the_party_never_gets_the_leg() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut call = call();
    // Before the caller's first packet, an attacker sprays both of its relay ports:
    // refused (not the flow's host), and the leg stays unlatched.
    for (i, channel) in [Channel::Rtp, Channel::Rtcp, Channel::Rtp].into_iter().enumerate() {
        let packet: &[u8] = if channel == Channel::Rtp { &rtp(100, 0) } else { &RR };
        assert_eq!(call.forward(t0 + ms(i as u64), Side::Caller, UDP, channel, addr(66, 7000), packet), None);
    }
    assert_eq!(call.stats().caller.latched, None);
    // The party's first packet (from its NAT's port, not the SDP's) wins at t0 + 3 ms...
    assert!(call.forward(t0 + ms(3), Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &rtp(1, 0)).is_some());
    // ...and nothing else ever gets in: the attacker, nor a second device behind the same NAT.
    for (i, from) in [addr(66, 7000), addr(1, 50_002), addr(66, 50_000)].into_iter().enumerate() {
        let at = t0 + ms(4 + i as u64);
        assert_eq!(call.forward(at, Side::Caller, UDP, Channel::Rtp, from, &rtp(2, 160)), None, "{from}");
    }
    // Its RTCP latches from its host only; RTCP from the attacker stays out.
    assert!(call.forward(t0 + ms(10), Side::Caller, UDP, Channel::Rtcp, addr(1, 50_001), &RR).is_some());
    assert_eq!(call.forward(t0 + ms(11), Side::Caller, UDP, Channel::Rtcp, addr(66, 50_001), &RR), None);
    // The callee's media still goes only to the party.
    let back = call.forward(t0 + ms(12), Side::Callee, UDP, Channel::Rtp, addr(2, 6000), &rtp(9, 0));
    assert_eq!(back, Some(Route::Udp { channel: Channel::Rtp, to: addr(1, 50_000) }));
    let s = call.stats().caller;
    assert_eq!((s.packets_in, s.foreign, s.dropped), (2, 7, 7));
    assert_eq!(s.latched, Some(addr(1, 50_000)));
    // A re-INVITE starts latching over, but only for the flow's host again.
    call.leg_mut(Side::Caller).update(LegTarget { send_to: Some(addr(1, 4000)), latch_ip: Some(addr(1, 0).ip()), ..LegTarget::default() });
    assert_eq!(call.forward(t0 + ms(20), Side::Caller, UDP, Channel::Rtp, addr(66, 7000), &rtp(3, 320)), None);
    assert!(call.forward(t0 + ms(21), Side::Caller, UDP, Channel::Rtp, addr(1, 50_004), &rtp(4, 480)).is_some());
    assert_eq!(call.stats().caller.latched, Some(addr(1, 50_004)));
}

#[test]
fn stun_from_the_party_is_answered_and_counted_apart_from_drops() {
    let t = Instant::now();
    let mut call = call();
    // A keep-alive before the phone's first RTP: answered, latches nothing.
    let route = call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &binding(7));
    assert_eq!(route, Some(Route::Answer { txid: [7; 12], fingerprint: false }));
    assert_eq!(call.stats().caller.latched, None);
    call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &rtp(1, 0));
    // On the RTCP port too, and once latched.
    let route = call.forward(t, Side::Caller, UDP, Channel::Rtcp, addr(1, 50_001), &binding(8));
    assert_eq!(route, Some(Route::Answer { txid: [8; 12], fingerprint: false }));
    // An indication (pure keep-alive) is counted, not answered.
    let mut indication = binding(9);
    indication[1] = 0x11;
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &indication), None);
    // STUN from another host is neither answered nor a keep-alive: a foreign drop.
    assert_eq!(call.forward(t, Side::Caller, UDP, Channel::Rtp, addr(66, 50_000), &binding(10)), None);
    let s = call.stats().caller;
    assert_eq!((s.stun, s.dropped, s.foreign, s.packets_in), (3, 1, 1, 1));
    assert_eq!(call.stats().callee.packets_out, 1, "only the RTP went to the callee");
}

#[test]
fn srtp_and_srtcp_pass_with_loss_jitter_and_latching_from_their_clear_headers() {
    use crate::srtp::{MasterKey, SrtpKeys, SrtpSession, SrtpSuite};
    let key = |b| MasterKey::new([b; crate::srtp::MASTER_LEN]);
    let mut caller = SrtpSession::new(&SrtpKeys { suite: SrtpSuite::AesCm128HmacSha1_80, local: key(1), remote: key(2) }).unwrap();
    let t0 = Instant::now();
    let mut call = call();
    let mut bytes = 0;
    for (i, seq) in [1u16, 2, 4, 5].into_iter().enumerate() {
        let protected = caller.protect_rtp(&rtp(seq, u32::from(seq) * 160)).unwrap();
        assert_eq!(protected.len(), 182, "172 bytes of RTP and a 10-byte tag");
        bytes += protected.len() as u64;
        let at = t0 + Duration::from_millis(20 * u64::from(seq) + if i % 2 == 1 { 4 } else { 0 });
        let route = call.forward(at, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &protected);
        assert_eq!(route, Some(Route::Udp { channel: Channel::Rtp, to: addr(2, 6000) }));
    }
    // SRTCP muxed on the RTP port reads as RTCP (its first 8 bytes are clear) and goes to the RTCP port.
    let srtcp = caller.protect_rtcp(&RR).unwrap();
    let route = call.forward(t0, Side::Caller, UDP, Channel::Rtp, addr(1, 50_000), &srtcp);
    assert_eq!(route, Some(Route::Udp { channel: Channel::Rtcp, to: addr(2, 6001) }));
    let s = call.stats().caller;
    assert_eq!((s.packets_in, s.bytes_in, s.lost), (5, bytes + srtcp.len() as u64, 1));
    assert!(s.jitter_ms > 0.0, "arrival spread is measured on SRTP too");
    assert_eq!(s.latched, Some(addr(1, 50_000)));
}

proptest::proptest! {
    /// Whatever arrives, from whomever, in whatever order: no panic, and nothing is
    /// ever sent anywhere but the signalled or latched address of the other party.
    #[test]
    fn arbitrary_packets_never_panic_or_leak_elsewhere(
        packets in proptest::collection::vec((proptest::bool::ANY, 0u8..4, proptest::collection::vec(proptest::num::u8::ANY, 0..64)), 0..64)
    ) {
        let t = Instant::now();
        let mut call = call();
        for (i, (caller, host, mut bytes)) in packets.into_iter().enumerate() {
            if let Some(b) = bytes.first_mut() { *b = (*b & 0x3f) | 0x80; } // mostly version 2
            let side = if caller { Side::Caller } else { Side::Callee };
            let channel = if i % 3 == 0 { Channel::Rtcp } else { Channel::Rtp };
            let at = t + Duration::from_millis(i as u64 * 7);
            if let Some(Route::Udp { to, .. }) = call.forward(at, side, UDP, channel, addr(host, 5000), &bytes) {
                let other = call.leg(side.other());
                proptest::prop_assert!(other.stats().latched == Some(to) || [6000, 6001, 4000, 4001, 5000, 5001].contains(&to.port()), "{to}");
                proptest::prop_assert!(to.ip() == addr(1, 0).ip() || to.ip() == addr(2, 0).ip());
            }
        }
        let s = call.stats();
        proptest::prop_assert!(s.caller.jitter_ms.is_finite() && s.callee.jitter_ms.is_finite());
    }
}
