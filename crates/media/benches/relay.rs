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
use media::relay::{CallState, Channel, LegTarget, Side, classify};

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

criterion_group!(benches, relay);
criterion_main!(benches);
