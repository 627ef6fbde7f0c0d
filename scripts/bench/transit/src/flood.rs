//! The saturation run: one relay lane at a time, its streams' packets sent back to
//! back by one thread for `--flood` seconds, everything the relay returns counted.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::lanes::Lanes;
use crate::packet;
use crate::receiver::Receiver;
use crate::report::quantiles;

/// `{"LANE": {"sent_pps", "received_pps", "loss_pct", "p50_us", "p99_us"}, ...}`; `{}` without --flood.
pub(crate) fn run(lanes: &std::sync::Arc<Lanes>, args: &Args, out: &mut impl Write) -> Result<String, String> {
    let mut results = Vec::new();
    if args.flood.is_zero() {
        return Ok("{}".into());
    }
    for (index, name) in lanes.names().iter().enumerate().filter(|(_, n)| *n != "direct") {
        // What the previous phase left queued in a relay's sockets must not be counted
        // as this relay's slowness (nor the previous flood's backlog as this one's).
        std::thread::sleep(Duration::from_secs(1));
        let t0 = Instant::now();
        let receiver = Receiver::start(lanes.clone(), t0, t0, 0).map_err(|e| format!("receiver: {e}"))?;
        writeln!(out, "PHASE flood-{name} start").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
        let sent = flood_lane(lanes, index, t0, t0 + args.flood);
        std::thread::sleep(Duration::from_millis(200));
        let mut got = receiver.stop();
        writeln!(out, "PHASE flood-{name} end").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
        let mut transit = got.transit_ns.get_mut(index).map(std::mem::take).unwrap_or_default();
        transit.sort_unstable();
        let secs = args.flood.as_secs_f64();
        let received = transit.len() as u64;
        let loss = if sent > 0 { 100.0 * sent.saturating_sub(received) as f64 / sent as f64 } else { 0.0 };
        let q = quantiles(&transit).unwrap_or_default();
        results.push(format!(
            "\"{name}\":{{\"sent_pps\":{:.0},\"received_pps\":{:.0},\"loss_pct\":{loss:.3},\"p50_us\":{:.1},\"p99_us\":{:.1}}}",
            sent as f64 / secs,
            received as f64 / secs,
            q.first().copied().unwrap_or_default(),
            q.get(2).copied().unwrap_or_default(),
        ));
    }
    Ok(format!("{{{}}}", results.join(",")))
}

/// Sends lane `index`'s packets round-robin, both directions, until `end`; how many were sent.
fn flood_lane(lanes: &Lanes, index: usize, t0: Instant, end: Instant) -> u64 {
    let mut buf = [0u8; packet::SIZE];
    let mut sent = 0u64;
    let streams = lanes.all.iter().skip(index * lanes.streams).take(lanes.streams);
    let streams: Vec<_> = streams.enumerate().collect();
    let mut seq = 0u32;
    while Instant::now() < end {
        for &(stream, s) in &streams {
            sent += s.send_both(index, stream, seq, t0, &mut buf).into_iter().flatten().count() as u64;
        }
        seq = seq.wrapping_add(1);
    }
    sent
}
