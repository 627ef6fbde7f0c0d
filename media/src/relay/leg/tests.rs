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
    assert_eq!(s.callee.dropped, 1);
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
