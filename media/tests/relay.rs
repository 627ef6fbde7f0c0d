//! The relay with real sockets on 127.0.0.1: phones are plain UDP/TCP sockets
//! on port 0; the relay's range is a block reserved for the test (no other test
//! on the machine uses it meanwhile), and its legs' ports are what it says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use media::relay::{CallMedia, LegTarget, MAX_FRAME, Relay, RelayConfig, RelayEvent, Side};
use media::{BearerTransport, Error};
use tests::ports::PortBlock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(2);

/// A relay on a block of ports reserved for this test (held as long as the block is).
async fn relay(media_timeout: Duration) -> (Relay, tokio::sync::mpsc::Receiver<RelayEvent>, PortBlock) {
    let block = PortBlock::reserve();
    let (relay, events) = Relay::start(RelayConfig { bind: LOCAL, ports: block.range(), media_timeout, threads: 1 }).await.unwrap();
    (relay, events, block)
}

async fn phone() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0xca, 0xfe, 0, 1];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn at(port: u16) -> SocketAddr {
    SocketAddr::new(LOCAL, port)
}

fn target(send_to: Option<SocketAddr>) -> LegTarget {
    LegTarget { send_to, latch_ip: Some(LOCAL), transport: BearerTransport::Udp, clock_rate: 8000 }
}

async fn recv(socket: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(WAIT, socket.recv_from(&mut buf)).await.ok()?.ok()?;
    Some((buf[..n].to_vec(), from))
}

/// Nothing arrives within a short while.
async fn silent(socket: &UdpSocket) -> bool {
    let mut buf = [0u8; 2048];
    timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await.is_err()
}

/// Waits (bounded) until the relay's counters satisfy `done`.
async fn stats_until(relay: &Relay, media: &CallMedia, done: impl Fn(&media::relay::CallStats) -> bool) -> media::relay::CallStats {
    for _ in 0..200 {
        let stats = relay.stats(media.id).unwrap();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("stats never got there: {:?}", relay.stats(media.id));
}

#[tokio::test]
async fn two_phones_exchange_rtp_both_ways_and_counters_add_up() {
    let (relay, _events, _ports) = relay(Duration::from_secs(30)).await;
    let media = relay.open("two-phones").await.unwrap();
    assert_eq!(media.caller.rtp % 2, 0);
    assert_eq!(media.caller.rtcp, media.caller.rtp + 1);
    assert_ne!(media.caller.rtp, media.callee.rtp);
    let ((a, a_addr), (b, b_addr)) = (phone().await, phone().await);
    relay.update(media.id, Side::Caller, target(Some(a_addr))).unwrap();
    relay.update(media.id, Side::Callee, target(Some(b_addr))).unwrap();
    for seq in 0..10 {
        a.send_to(&rtp(seq), at(media.caller.rtp)).await.unwrap();
        let (got, from) = recv(&b).await.expect("caller's RTP reaches the callee");
        assert_eq!((got, from), (rtp(seq), at(media.callee.rtp)), "from the callee leg's port");
        b.send_to(&rtp(100 + seq), at(media.callee.rtp)).await.unwrap();
        let (got, from) = recv(&a).await.expect("callee's RTP reaches the caller");
        assert_eq!((got, from), (rtp(100 + seq), at(media.caller.rtp)));
    }
    let stats = relay.stats(media.id).unwrap();
    for leg in [stats.caller, stats.callee] {
        assert_eq!((leg.packets_in, leg.packets_out, leg.bytes_in, leg.bytes_out), (10, 10, 1720, 1720));
        assert_eq!((leg.lost, leg.dropped), (0, 0));
    }
    assert_eq!(stats.caller.latched, Some(a_addr));
    assert_eq!(stats.callee.latched, Some(b_addr));
    // RTCP on the odd ports goes the same way, latched per port.
    let ((a_rtcp, _), (b_rtcp, _)) = (phone().await, phone().await);
    b_rtcp.send_to(&[0x80, 201, 0, 1, 0, 0, 0, 2], at(media.callee.rtcp)).await.unwrap();
    a_rtcp.send_to(&[0x80, 201, 0, 1, 0, 0, 0, 1], at(media.caller.rtcp)).await.unwrap();
    let (got, from) = recv(&b_rtcp).await.expect("RTCP to the callee's latched RTCP source");
    assert_eq!((got, from), (vec![0x80, 201, 0, 1, 0, 0, 0, 1], at(media.callee.rtcp)));
    stats_until(&relay, &media, |s| s.caller.packets_in == 11 && s.callee.packets_in == 11).await;
    assert_eq!(relay.close(media.id).unwrap().caller.packets_in, 11);
}

/// A std socket on 127.0.0.1 that gives up on a read after `WAIT`.
fn blocking_phone() -> (std::net::UdpSocket, SocketAddr) {
    let socket = std::net::UdpSocket::bind((LOCAL, 0)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

/// The UDP relay runs on threads of its own: with the test's only runtime thread
/// blocked in a plain `recv_from`, packets still cross the relay (both ways, in
/// bursts longer than one `recvmmsg`, in order and counted), on two relay threads.
#[tokio::test(flavor = "current_thread")]
async fn udp_media_moves_while_the_runtime_is_blocked_and_bursts_stay_in_order() {
    let block = PortBlock::reserve();
    let config = RelayConfig { bind: LOCAL, ports: block.range(), media_timeout: Duration::from_secs(30), threads: 2 };
    let (relay, _events) = Relay::start(config).await.unwrap();
    for label in ["burst-1", "burst-2"] {
        let media = relay.open(label).await.unwrap();
        let ((a, a_addr), (b, b_addr)) = (blocking_phone(), blocking_phone());
        relay.update(media.id, Side::Caller, target(Some(a_addr))).unwrap();
        relay.update(media.id, Side::Callee, target(Some(b_addr))).unwrap();
        const BURST: u16 = 100;
        for seq in 0..BURST {
            a.send_to(&rtp(seq), at(media.caller.rtp)).unwrap();
        }
        let mut buf = [0u8; 2048];
        for seq in 0..BURST {
            let (n, from) = b.recv_from(&mut buf).expect("the caller's burst reaches the callee");
            assert_eq!((&buf[..n], from), (&rtp(seq)[..], at(media.callee.rtp)), "{label}: in order, from the callee leg");
        }
        b.send_to(&rtp(7), at(media.callee.rtp)).unwrap();
        let (n, _) = a.recv_from(&mut buf).expect("and back");
        assert_eq!(&buf[..n], &rtp(7)[..]);
        let stats = relay.close(media.id).unwrap();
        assert_eq!((stats.caller.packets_in, stats.callee.packets_out, stats.caller.lost), (u64::from(BURST), u64::from(BURST), 0));
        assert_eq!((stats.callee.packets_in, stats.caller.packets_out), (1, 1));
    }
}

#[tokio::test]
async fn a_third_socket_is_dropped_counted_and_does_not_hijack_media() {
    let (relay, _events, _ports) = relay(Duration::from_secs(30)).await;
    let media = relay.open("hijack").await.unwrap();
    let ((a, a_addr), (b, b_addr), (mallory, _)) = (phone().await, phone().await, phone().await);
    relay.update(media.id, Side::Caller, target(Some(a_addr))).unwrap();
    relay.update(media.id, Side::Callee, target(Some(b_addr))).unwrap();
    a.send_to(&rtp(1), at(media.caller.rtp)).await.unwrap();
    assert_eq!(recv(&b).await.unwrap().0, rtp(1));
    for seq in 50..55 {
        mallory.send_to(&rtp(seq), at(media.caller.rtp)).await.unwrap();
    }
    assert!(silent(&b).await, "the intruder's packets are not relayed");
    let stats = stats_until(&relay, &media, |s| s.caller.dropped == 5).await;
    assert_eq!(stats.caller.latched, Some(a_addr));
    assert_eq!(stats.caller.packets_in, 1);
    // Media for the caller still goes to the caller, not to the intruder.
    b.send_to(&rtp(2), at(media.callee.rtp)).await.unwrap();
    assert_eq!(recv(&a).await.unwrap().0, rtp(2));
    assert!(silent(&mallory).await);
    // A host other than latch_ip cannot even latch a fresh leg.
    relay
        .update(media.id, Side::Callee, LegTarget { latch_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))), ..target(Some(b_addr)) })
        .unwrap();
    b.send_to(&rtp(3), at(media.callee.rtp)).await.unwrap();
    assert!(silent(&a).await);
    let stats = stats_until(&relay, &media, |s| s.callee.dropped == 1).await;
    assert_eq!(stats.callee.latched, None);
}

/// A socket on another loopback host (127.0.0.0/8 is all local on Linux): not the party's IP.
async fn intruder() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 66), 0)).await.unwrap()
}

fn binding_request(txid: [u8; 12]) -> Vec<u8> {
    let mut p = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
    p.extend_from_slice(&txid);
    p
}

const RR: [u8; 8] = [0x80, 201, 0, 1, 0, 0, 0, 1];

#[tokio::test]
async fn an_intruder_racing_the_party_on_rtp_and_rtcp_never_gets_the_leg_and_stun_is_answered() {
    let (relay, _events, _ports) = relay(Duration::from_secs(30)).await;
    let media = relay.open("race").await.unwrap();
    let ((a, a_addr), (b, b_addr), mallory) = (phone().await, phone().await, intruder().await);
    let (a_rtcp, a_rtcp_addr) = phone().await;
    relay.update(media.id, Side::Caller, target(Some(a_addr))).unwrap();
    relay.update(media.id, Side::Callee, target(Some(b_addr))).unwrap();
    // The intruder gets there first, on both of the caller's ports.
    mallory.send_to(&rtp(900), at(media.caller.rtp)).await.unwrap();
    mallory.send_to(&RR, at(media.caller.rtcp)).await.unwrap();
    stats_until(&relay, &media, |s| s.caller.foreign == 2).await;
    assert!(silent(&b).await, "nothing of the intruder's is relayed");
    // The party's first packets win, and the intruder stays out afterwards too.
    a.send_to(&rtp(1), at(media.caller.rtp)).await.unwrap();
    assert_eq!(recv(&b).await.unwrap().0, rtp(1));
    a_rtcp.send_to(&RR, at(media.caller.rtcp)).await.unwrap();
    mallory.send_to(&rtp(901), at(media.caller.rtp)).await.unwrap();
    mallory.send_to(&RR, at(media.caller.rtcp)).await.unwrap();
    let stats = stats_until(&relay, &media, |s| s.caller.foreign == 4 && s.caller.packets_in == 2).await;
    assert_eq!(stats.caller.latched, Some(a_addr));
    // The callee's RTP and RTCP reach the caller's sockets, never the intruder's.
    b.send_to(&rtp(2), at(media.callee.rtp)).await.unwrap();
    assert_eq!(recv(&a).await.unwrap(), (rtp(2), at(media.caller.rtp)));
    b.send_to(&RR, at(media.callee.rtcp)).await.unwrap();
    assert_eq!(recv(&a_rtcp).await.unwrap(), (RR.to_vec(), at(media.caller.rtcp)));
    assert!(silent(&mallory).await);
    assert_eq!(stats.caller.dropped, stats.caller.foreign);
    // A STUN keep-alive from the party is answered from the port it reached with the
    // party's address; the intruder's goes unanswered and counts as foreign.
    a.send_to(&binding_request([5; 12]), at(media.caller.rtp)).await.unwrap();
    let (answer, from) = recv(&a).await.expect("a Binding success response");
    let mut expected = [0u8; media::stun::MAX_ANSWER];
    let n = media::stun::write_binding_success(&[5; 12], a_addr, false, &mut expected);
    assert_eq!((answer, from), (expected[..n].to_vec(), at(media.caller.rtp)));
    a_rtcp.send_to(&binding_request([6; 12]), at(media.caller.rtcp)).await.unwrap();
    let n = media::stun::write_binding_success(&[6; 12], a_rtcp_addr, false, &mut expected);
    assert_eq!(recv(&a_rtcp).await.unwrap().0, expected[..n].to_vec());
    mallory.send_to(&binding_request([7; 12]), at(media.caller.rtp)).await.unwrap();
    assert!(silent(&mallory).await);
    let stats = stats_until(&relay, &media, |s| s.caller.foreign == 5).await;
    assert_eq!((stats.caller.stun, stats.caller.packets_in, stats.callee.packets_out), (2, 2, 2));
}

#[tokio::test]
async fn latches_to_the_senders_port_when_send_to_was_wrong() {
    let (relay, _events, _ports) = relay(Duration::from_secs(30)).await;
    let media = relay.open("nat").await.unwrap();
    let ((a, a_addr), (b, b_addr), (wrong, wrong_addr)) = (phone().await, phone().await, phone().await);
    // The caller's SDP named a private address: here, a socket that is not the one sending.
    relay.update(media.id, Side::Caller, target(Some(wrong_addr))).unwrap();
    relay.update(media.id, Side::Callee, target(Some(b_addr))).unwrap();
    b.send_to(&rtp(1), at(media.callee.rtp)).await.unwrap();
    assert_eq!(recv(&wrong).await.unwrap().0, rtp(1), "before latching: to send_to");
    a.send_to(&rtp(1), at(media.caller.rtp)).await.unwrap();
    assert_eq!(recv(&b).await.unwrap().0, rtp(1));
    b.send_to(&rtp(2), at(media.callee.rtp)).await.unwrap();
    assert_eq!(recv(&a).await.unwrap().0, rtp(2), "after latching: to the real source");
    assert!(silent(&wrong).await);
    assert_eq!(relay.stats(media.id).unwrap().caller.latched, Some(a_addr));
}

#[tokio::test]
async fn loss_is_counted_from_a_skipped_sequence() {
    let (relay, _events, _ports) = relay(Duration::from_secs(30)).await;
    let media = relay.open("loss").await.unwrap();
    let ((a, _), (b, b_addr)) = (phone().await, phone().await);
    relay.update(media.id, Side::Callee, target(Some(b_addr))).unwrap();
    for seq in [65_533u16, 65_534, 0, 1, 4, 5] {
        a.send_to(&rtp(seq), at(media.caller.rtp)).await.unwrap();
        recv(&b).await.expect("relayed");
    }
    let stats = stats_until(&relay, &media, |s| s.caller.packets_in == 6).await;
    assert_eq!(stats.caller.lost, 3, "65535, 2 and 3 never came");
    assert_eq!(stats.callee.lost, 0);
}

#[tokio::test]
async fn media_timeout_fires_after_silence_and_not_while_rtp_flows() {
    let (relay, mut events, _ports) = relay(Duration::from_millis(300)).await;
    let media = relay.open("timeout").await.unwrap();
    let ((a, _), (_b, b_addr)) = (phone().await, phone().await);
    relay.update(media.id, Side::Callee, target(Some(b_addr))).unwrap();
    assert!(timeout(Duration::from_millis(400), events.recv()).await.is_err(), "no timeout past 300 ms: not armed before answer");
    relay.arm_timeout(media.id);
    let start = tokio::time::Instant::now();
    for seq in 0..20 {
        a.send_to(&rtp(seq), at(media.caller.rtp)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(events.try_recv().is_err(), "RTP kept flowing for 1 s");
    let event = timeout(WAIT, events.recv()).await.expect("timeout event").unwrap();
    assert!(start.elapsed() >= Duration::from_millis(1000 + 250), "{:?}", start.elapsed());
    let RelayEvent::MediaTimeout { id, stats } = event;
    assert_eq!(id, media.id);
    assert_eq!(stats.caller.packets_in, 20);
    assert!(timeout(Duration::from_millis(700), events.recv()).await.is_err(), "only once");
}

#[tokio::test]
async fn ports_are_freed_at_close_and_an_exhausted_range_says_no_ports() {
    // Two pairs: exactly one call.
    let block = PortBlock::reserve();
    let lowest = block.port(0);
    let config = RelayConfig { bind: LOCAL, ports: lowest..=block.port(3), media_timeout: Duration::from_secs(30), threads: 1 };
    let (relay, _events) = Relay::start(config).await.unwrap();
    let first = relay.open("one").await.unwrap();
    assert!(matches!(relay.open("two").await, Err(Error::NoPorts)));
    assert_eq!(sipcore::ToStatus::status(&Error::NoPorts), 503);
    assert!(relay.close(first.id).is_some());
    assert!(relay.close(first.id).is_none());
    assert!(relay.stats(first.id).is_none());
    assert!(matches!(relay.update(first.id, Side::Caller, LegTarget::default()), Err(Error::UnknownMedia(_))));
    let again = relay.open("three").await.expect("ports of the closed call are free again");
    let mut used = [again.caller.rtp, again.callee.rtp];
    used.sort_unstable();
    assert_eq!(used, [lowest, lowest + 2]);
    relay.close(again.id);
    // And the operating system has them back too (the legs' tasks close them as they end).
    let deadline = tokio::time::Instant::now() + WAIT;
    while UdpSocket::bind((LOCAL, lowest)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "port {lowest} still bound {WAIT:?} after close()");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    timeout(WAIT, stream.read_exact(&mut len)).await.ok()?.ok()?;
    let mut frame = vec![0u8; usize::from(u16::from_be_bytes(len))];
    timeout(WAIT, stream.read_exact(&mut frame)).await.ok()?.ok()?;
    Some(frame)
}

fn frame(packet: &[u8]) -> Vec<u8> {
    let mut out = (packet.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(packet);
    out
}

/// The connection was closed by the relay: EOF (or reset) within the wait.
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(timeout(WAIT, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn tcp_leg_is_bridged_to_the_udp_leg_both_ways_with_rfc4571_framing() {
    let (relay, _events, _ports) = relay(Duration::from_secs(30)).await;
    let media = relay.open("tcp").await.unwrap();
    let (a, a_addr) = phone().await;
    relay.update(media.id, Side::Caller, target(Some(a_addr))).unwrap();
    relay.update(media.id, Side::Callee, LegTarget { transport: BearerTransport::Tcp, ..target(None) }).unwrap();
    let mut agent = TcpStream::connect(at(media.callee.rtp)).await.unwrap();
    let agent_addr = agent.local_addr().unwrap();
    stats_until(&relay, &media, |s| s.callee.latched == Some(agent_addr)).await;
    // UDP -> TCP: each datagram one frame.
    for seq in 0..5 {
        a.send_to(&rtp(seq), at(media.caller.rtp)).await.unwrap();
        assert_eq!(read_frame(&mut agent).await.expect("a frame"), rtp(seq));
    }
    // TCP -> UDP: frames split across writes and several in one write.
    let mut wire = Vec::new();
    for seq in 10..15 {
        wire.extend_from_slice(&frame(&rtp(seq)));
    }
    agent.write_all(&wire[..7]).await.unwrap();
    agent.flush().await.unwrap();
    // A pause between the writes, so the relay reads the first frame in two pieces.
    tokio::time::sleep(Duration::from_millis(20)).await;
    agent.write_all(&wire[7..]).await.unwrap();
    for seq in 10..15 {
        let (got, from) = recv(&a).await.expect("frame relayed as a datagram");
        assert_eq!((got, from), (rtp(seq), at(media.caller.rtp)));
    }
    let stats = stats_until(&relay, &media, |s| s.callee.packets_in == 5).await;
    assert_eq!((stats.callee.packets_out, stats.caller.packets_in, stats.caller.packets_out), (5, 5, 5));

    // A second connection while the first is up is refused and counted.
    let mut second = TcpStream::connect(at(media.callee.rtp)).await.unwrap();
    assert!(closed(&mut second).await);
    assert_eq!(stats_until(&relay, &media, |s| s.callee.dropped == 1).await.callee.latched, Some(agent_addr));

    // A bad frame closes that connection only; the leg takes a new one.
    agent.write_all(&((MAX_FRAME + 1) as u16).to_be_bytes()).await.unwrap();
    assert!(closed(&mut agent).await);
    stats_until(&relay, &media, |s| s.callee.latched.is_none()).await;
    let mut again = TcpStream::connect(at(media.callee.rtp)).await.unwrap();
    let again_addr = again.local_addr().unwrap();
    stats_until(&relay, &media, |s| s.callee.latched == Some(again_addr)).await;
    a.send_to(&rtp(20), at(media.caller.rtp)).await.unwrap();
    assert_eq!(read_frame(&mut again).await.unwrap(), rtp(20));
    again.write_all(&frame(&rtp(21))).await.unwrap();
    assert_eq!(recv(&a).await.unwrap().0, rtp(21));
}

#[tokio::test]
async fn tcp_connections_to_a_udp_leg_or_from_a_foreign_host_are_refused() {
    let (relay, _events, _ports) = relay(Duration::from_secs(30)).await;
    let media = relay.open("tcp-refused").await.unwrap();
    // The caller leg is UDP: a TCP connection to it is closed.
    let mut stray = TcpStream::connect(at(media.caller.rtp)).await.unwrap();
    assert!(closed(&mut stray).await);
    // The callee leg is TCP but only for 192.0.2.1.
    let only =
        LegTarget { latch_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))), transport: BearerTransport::Tcp, ..LegTarget::default() };
    relay.update(media.id, Side::Callee, only).unwrap();
    let mut foreign = TcpStream::connect(at(media.callee.rtp)).await.unwrap();
    assert!(closed(&mut foreign).await);
    let stats = stats_until(&relay, &media, |s| s.caller.dropped == 1 && s.callee.dropped == 1).await;
    assert_eq!(stats.callee.latched, None);
}

#[tokio::test]
async fn a_range_without_two_pairs_is_a_config_error() {
    let block = PortBlock::reserve();
    let result =
        Relay::start(RelayConfig { bind: LOCAL, ports: block.port(0)..=block.port(2), media_timeout: Duration::from_secs(1), threads: 1 })
            .await;
    assert!(matches!(result, Err(Error::Config(_))));
}
