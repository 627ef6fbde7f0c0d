//! `relay-transit`: the one-way transit of every packet through several RTP relays
//! (and straight over loopback) in one run, interleaved, measured with one clock.
//!
//! Python (scripts/bench/lib/relay_probe.py) sets the calls up; this tool owns the
//! media sockets, so the timestamps are not Python's: it binds a caller and a callee
//! socket per stream and lane, prints their ports, reads where each must send (the
//! relay ports the SDP named, or the other socket for the `direct` lane), then sends
//! G.711-sized RTP at 50 packets/s per stream and direction. Each 20 ms period is cut
//! into one slot per stream; in a slot every lane sends that stream's two packets back
//! to back, the lane that goes first rotating slot by slot, so the relays see the
//! same schedule and the same machine at the same moments. A sender thread stamps
//! each packet with `Instant` (CLOCK_MONOTONIC) as it sends it; a receiver thread,
//! blocked in epoll, stamps it as it reads it. Why Rust and not Python: at 30,000
//! packets/s Python's own per-packet cost and pauses are tens of microseconds, the
//! size of the tails being compared.
//!
//! Protocol (stdout/stdin, one line each):
//!   out `SOCKET LANE STREAM CALLER_PORT CALLEE_PORT`, then `READY`
//!   in  `TARGET LANE STREAM CALLER_DEST CALLEE_DEST` (socket addresses), then `GO`
//!   out `PHASE transit start`, `PHASE transit end`; with --flood `FLOOD?`, in one line (go on),
//!   out `PHASE flood-LANE start|end` per relay lane; then `RESULT {"transit": {...}, "flood": {...}}`
//!
//! --flood S: after the interleaved run, each relay lane alone gets its streams' packets as
//! fast as one sender thread sends them for S seconds: received packets/s there, with the
//! relay's CPU (measured by the caller between the PHASE lines), is the saturation figure
//! when the relay, not the sender, is the one at 100 % of a core.
//!
//! Arguments: --lanes a,b,direct --streams N --seconds S --warmup W --flood S
//!            --caller-ip IP --callee-ip IP

mod args;
mod flood;
mod lanes;
mod packet;
mod receiver;
mod report;
mod sender;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relay-transit: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = args::Args::parse(std::env::args().skip(1))?;
    let mut lanes = lanes::Lanes::bind(&args).map_err(|e| format!("bind: {e}"))?;
    let mut out = std::io::stdout().lock();
    for line in lanes.describe() {
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    writeln!(out, "READY").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim() == "GO" {
            break;
        }
        lanes.target(&line)?;
    }
    lanes.check_targets()?;
    let lanes = std::sync::Arc::new(lanes);
    // Start a moment from now, so both threads are up before the first packet.
    let t0 = Instant::now() + Duration::from_millis(50);
    let counted_from = t0 + args.warmup;
    let receiver =
        receiver::Receiver::start(lanes.clone(), t0, counted_from, args.expected_per_lane()).map_err(|e| format!("receiver: {e}"))?;
    writeln!(out, "PHASE transit start").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    let sent = sender::send(&lanes, &args, t0, counted_from);
    // Packets still in flight get half a second.
    std::thread::sleep(Duration::from_millis(500));
    let received = receiver.stop();
    writeln!(out, "PHASE transit end").map_err(|e| e.to_string())?;
    let json = report::json(&args, &lanes.names(), &sent, received);
    if !args.flood.is_zero() {
        // The caller may change our scheduling first (a flat-out sender must not run real-time).
        let mut line = String::new();
        writeln!(out, "FLOOD?").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
        std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
    }
    let flood = flood::run(&lanes, &args, &mut out)?;
    writeln!(out, "RESULT {{\"transit\":{json},\"flood\":{flood}}}").and_then(|()| out.flush()).map_err(|e| e.to_string())
}
