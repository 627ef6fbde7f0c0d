//! The paced sender: one slot per stream in each 20 ms period, every lane's two
//! packets of that stream back to back, the first lane rotating slot by slot.

use std::time::Instant;

use crate::args::{Args, PERIOD};
use crate::lanes::Lanes;
use crate::packet;

/// Packets sent in the counted part of the run, per lane.
pub(crate) fn send(lanes: &Lanes, args: &Args, t0: Instant, counted_from: Instant) -> Vec<u64> {
    let lane_count = args.lanes.len();
    let mut sent = vec![0u64; lane_count];
    let slot = PERIOD / u32::try_from(lanes.streams).unwrap_or(u32::MAX);
    let end = t0 + args.seconds;
    let mut buf = [0u8; packet::SIZE];
    let mut next = 0u64;
    loop {
        let due = t0 + slot * u32::try_from(next).unwrap_or(u32::MAX);
        if due >= end {
            return sent;
        }
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let stream = (next % lanes.streams as u64) as usize;
        let seq = (next / lanes.streams as u64) as u32;
        for l in 0..lane_count {
            let lane = (l + next as usize) % lane_count;
            let Some(s) = lanes.all.get(lane * lanes.streams + stream) else { continue };
            let counted = s.send_both(lane, stream, seq, t0, &mut buf).into_iter().flatten().filter(|&at| at >= counted_from).count();
            if let Some(count) = sent.get_mut(lane) {
                *count += counted as u64;
            }
        }
        next += 1;
    }
}

/// Nanoseconds since `t0` (0 before it), the stamp's clock.
pub(crate) fn nanos(t0: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(t0).as_nanos()).unwrap_or(u64::MAX)
}
