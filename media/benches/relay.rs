//! The relay's per-packet decision without sockets: header inspection, latch
//! check, counters, loss and jitter, and the choice of destination
//! (`CallState::forward`). Whole-system relay figures (syscalls, tasks) are
//! this plus two UDP syscalls and a task wake-up; this bench says how much of a
//! packet's cost is ours.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use media::BearerTransport;
use media::relay::{CallState, Channel, LegTarget, Relay, RelayConfig, Side, classify};
use tokio::net::UdpSocket;

fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, host)), port)
}

fn packet() -> [u8; 172] {
    let mut p = [0xd5u8; 172];
    p[..12].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 160, 0xca, 0xfe, 0, 1]);
    p
}

fn call() -> CallState {
    let mut call = CallState::new(Duration::from_secs(30));
    call.leg_mut(Side::Caller).update(LegTarget { send_to: Some(addr(1, 4000)), latch_ip: Some(addr(1, 0).ip()), ..LegTarget::default() });
    call.leg_mut(Side::Callee).update(LegTarget { send_to: Some(addr(2, 6000)), latch_ip: Some(addr(2, 0).ip()), ..LegTarget::default() });
    call
}

fn relay(c: &mut Criterion) {
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(1));
    let mut p = packet();
    let t0 = Instant::now();

    group.bench_function("classify", |b| b.iter(|| classify(black_box(&p), false)));

    // The steady state: a latched caller streaming G.711 (seq and timestamp advance).
    let mut state = call();
    let mut seq = 0u16;
    group.bench_function("forward_rtp", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            let now = t0 + Duration::from_millis(20 * u64::from(seq));
            state.forward(now, Side::Caller, BearerTransport::Udp, Channel::Rtp, black_box(addr(1, 4000)), black_box(&p))
        });
    });

    // The attack path: a foreign source, dropped and counted.
    let mut state = call();
    state.forward(t0, Side::Caller, BearerTransport::Udp, Channel::Rtp, addr(1, 4000), &p);
    group.bench_function("forward_foreign_dropped", |b| {
        b.iter(|| state.forward(t0, Side::Caller, BearerTransport::Udp, Channel::Rtp, black_box(addr(66, 4000)), black_box(&p)));
    });
    group.finish();
}

/// One packet phone A -> relay -> phone B on 127.0.0.1 (send, relay task wake-up,
/// decision, send, receive), next to the same packet sent A -> B directly: the
/// difference is what the relay adds per packet on this machine.
fn loopback(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (relay, a, b, to) = runtime.block_on(async {
        let config = RelayConfig { bind: local, ports: 23_400..=23_499, media_timeout: Duration::from_secs(60), threads: 1 };
        let (relay, events) = Relay::start(config).await.unwrap();
        std::mem::forget(events);
        let media = relay.open("bench").await.unwrap();
        let a = UdpSocket::bind((local, 0)).await.unwrap();
        let b = UdpSocket::bind((local, 0)).await.unwrap();
        let target = |s: &UdpSocket| LegTarget { send_to: Some(s.local_addr().unwrap()), latch_ip: Some(local), ..LegTarget::default() };
        relay.update(media.id, Side::Caller, target(&a)).unwrap();
        relay.update(media.id, Side::Callee, target(&b)).unwrap();
        (relay, a, b, SocketAddr::new(local, media.caller.rtp))
    });
    let p = packet();
    let mut group = c.benchmark_group("loopback");
    group.throughput(Throughput::Elements(1));
    for (name, dest) in [("direct", b.local_addr().unwrap()), ("through_relay", to)] {
        group.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut buf = [0u8; 512];
                    let start = Instant::now();
                    for _ in 0..iters {
                        a.send_to(&p, dest).await.unwrap();
                        b.recv_from(&mut buf).await.unwrap();
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
    drop(relay);
}

criterion_group!(benches, relay, loopback);
criterion_main!(benches);
