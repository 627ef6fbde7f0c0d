//! Drives the relay over loopback for counting what one relayed packet costs:
//! `STREAMS` calls on one relay thread; per round, call after call, both parties
//! send one 172-byte G.711 RTP packet to their relay ports, wait for the other's,
//! then pause `GAP_US`. Every packet is awaited, so the count relayed is exact.
//!
//! ```sh
//! cargo build --release -p media --example relay_drive
//! valgrind --tool=callgrind --separate-threads=yes target/release/examples/relay_drive 50 200 0
//! perf stat -e 'syscalls:sys_enter_*' --per-thread target/release/examples/relay_drive 50 100 200
//! ```
//!
//! Instructions per packet = the `relay` thread's Ir / (2 × STREAMS × ROUNDS):
//! a figure the machine's load does not move (user space only; the kernel's
//! share shows in the system calls per packet).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media::relay::{LegTarget, Relay, RelayConfig, Side};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn rtp(seq: u16, ssrc: u32) -> [u8; 172] {
    let mut p = [0xd5u8; 172];
    p[..2].copy_from_slice(&[0x80, 8]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

fn main() {
    let (streams, rounds, gap_us) = (arg(1, 50), arg(2, 200), arg(3, 0));
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = RelayConfig { bind: local, ports: 23_500..=23_999, media_timeout: Duration::from_secs(600), threads: 1 };
    let (relay, _events) = runtime.block_on(Relay::start(config)).unwrap();
    // Per call: (caller party socket, its relay port), (callee party socket, its relay port).
    let mut parties = Vec::new();
    for i in 0..streams {
        let media = runtime.block_on(relay.open(&format!("drive{i}"))).unwrap();
        let a = UdpSocket::bind((local, 0)).unwrap();
        let b = UdpSocket::bind((local, 0)).unwrap();
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let target = |s: &UdpSocket| LegTarget { send_to: Some(s.local_addr().unwrap()), latch_ip: Some(local), ..LegTarget::default() };
        relay.update(media.id, Side::Caller, target(&a)).unwrap();
        relay.update(media.id, Side::Callee, target(&b)).unwrap();
        parties.push((a, SocketAddr::new(local, media.caller.rtp), b, SocketAddr::new(local, media.callee.rtp)));
    }
    let mut buf = [0u8; 512];
    let started = Instant::now();
    for round in 0..rounds {
        let seq = u16::try_from(round % 65_536).unwrap();
        // One call's two packets at a time, as calls.sh's probe sends them (one slot per
        // stream): the relay wakes for each pair and sleeps between them.
        for (i, (a, to_a, b, to_b)) in parties.iter().enumerate() {
            let ssrc = u32::try_from(i).unwrap();
            a.send_to(&rtp(seq, 2 * ssrc), to_a).unwrap();
            b.send_to(&rtp(seq, 2 * ssrc + 1), to_b).unwrap();
            b.recv_from(&mut buf).expect("caller's packet relayed");
            a.recv_from(&mut buf).expect("callee's packet relayed");
            if gap_us > 0 {
                std::thread::sleep(Duration::from_micros(gap_us));
            }
        }
    }
    let packets = 2 * streams * rounds;
    println!("relayed {packets} packets in {:.3} s", started.elapsed().as_secs_f64());
}
