//! Receive-side quality of one leg's RTP stream: loss from sequence gaps
//! (RFC 3550 A.1/A.3) and interarrival jitter (RFC 3550 A.8).

use std::time::Instant;

/// A jump forward larger than this is a restart, not loss (RFC 3550 A.1 MAX_DROPOUT).
const MAX_DROPOUT: u16 = 3000;
/// A jump backward up to this is a late packet (RFC 3550 A.1 MAX_MISORDER).
const MAX_MISORDER: u16 = 100;

/// Packets expected minus packets received, per SSRC, summed over SSRC changes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Loss {
    ssrc: Option<u32>,
    /// Extended (wrap-counting) first and highest sequence numbers of the current stream.
    first: u64,
    highest: u64,
    received: u64,
    /// Loss of earlier streams (before an SSRC change or restart).
    earlier: u64,
}

impl Loss {
    pub(crate) fn on_packet(&mut self, ssrc: u32, seq: u16) {
        if self.ssrc != Some(ssrc) {
            self.restart(Some(ssrc), seq);
            return;
        }
        // Truncation to u16 is the point: the distance modulo 2^16 from the highest seen.
        let delta = seq.wrapping_sub(self.highest as u16);
        if delta == 0 {
            // A duplicate: counting it would hide a loss.
        } else if delta < MAX_DROPOUT {
            self.highest += u64::from(delta);
            self.received += 1;
        } else if delta > u16::MAX - MAX_MISORDER {
            // Late: it fills a gap counted before, if it belongs to this stream.
            let back = u64::from(u16::MAX - delta) + 1;
            if self.highest.checked_sub(back).is_some_and(|ext| ext >= self.first) {
                self.received += 1;
            }
        } else {
            self.restart(self.ssrc, seq);
        }
    }

    fn restart(&mut self, ssrc: Option<u32>, seq: u16) {
        self.earlier += self.current();
        self.ssrc = ssrc;
        // Start high enough that late packets just before `seq` never underflow.
        self.first = (1 << 16) + u64::from(seq);
        self.highest = self.first;
        self.received = 1;
    }

    fn current(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        (self.highest - self.first + 1).saturating_sub(self.received)
    }

    /// Packets lost so far.
    pub(crate) fn lost(&self) -> u64 {
        self.earlier + self.current()
    }
}

/// RFC 3550 A.8 interarrival jitter, in timestamp units, for one payload type
/// (a DTMF event repeats its timestamp and would read as jitter).
#[derive(Clone, Debug, Default)]
pub(crate) struct Jitter {
    epoch: Option<Instant>,
    stream: Option<(u32, u8)>,
    last_transit: Option<u32>,
    jitter: f64,
}

impl Jitter {
    pub(crate) fn on_packet(&mut self, now: Instant, clock_rate: u32, ssrc: u32, payload_type: u8, timestamp: u32) {
        if clock_rate == 0 {
            return;
        }
        match self.stream {
            Some((s, pt)) if s == ssrc && pt != payload_type => return,
            Some((s, _)) if s == ssrc => {}
            _ => {
                self.stream = Some((ssrc, payload_type));
                self.last_transit = None;
            }
        }
        let epoch = *self.epoch.get_or_insert(now);
        let elapsed = now.saturating_duration_since(epoch);
        // Arrival time in timestamp units, modulo 2^32 like the timestamps themselves.
        let arrival = (elapsed.as_nanos() * u128::from(clock_rate) / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(last) = self.last_transit {
            let d = f64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// The jitter in milliseconds.
    pub(crate) fn millis(&self, clock_rate: u32) -> f64 {
        if clock_rate == 0 { 0.0 } else { self.jitter * 1000.0 / f64::from(clock_rate) }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn gaps_count_as_loss_across_the_sequence_wrap() {
        let mut loss = Loss::default();
        for seq in [65_530u16, 65_531, 65_533, 65_535, 0, 3, 4] {
            loss.on_packet(7, seq);
        }
        // Missing: 65532, 65534, 1, 2.
        assert_eq!(loss.lost(), 4);
        loss.on_packet(7, 1); // late, fills a gap
        assert_eq!(loss.lost(), 3);
        loss.on_packet(7, 4); // duplicate
        assert_eq!(loss.lost(), 3);
    }

    #[test]
    fn new_ssrc_and_big_jumps_restart_without_counting_the_jump() {
        let mut loss = Loss::default();
        loss.on_packet(1, 10);
        loss.on_packet(1, 12);
        assert_eq!(loss.lost(), 1);
        loss.on_packet(2, 40_000); // another source (hold music, re-INVITE)
        loss.on_packet(2, 40_001);
        assert_eq!(loss.lost(), 1);
        loss.on_packet(2, 10_000); // a restart, not 35000 lost
        loss.on_packet(2, 10_002);
        assert_eq!(loss.lost(), 2);
        loss.on_packet(2, 9_999); // late but before the restart: not ours to count
        assert_eq!(loss.lost(), 2);
    }

    #[test]
    fn steady_packets_have_no_jitter_and_uneven_ones_converge_to_the_deviation() {
        let t0 = Instant::now();
        let mut steady = Jitter::default();
        for i in 0..50u32 {
            steady.on_packet(t0 + Duration::from_millis(20 * u64::from(i)), 8000, 1, 0, i * 160);
        }
        assert!(steady.millis(8000) < 0.001, "{}", steady.millis(8000));
        // Every other packet 10 ms late: |D| = 80 units each time, jitter converges to 80 (10 ms).
        let mut uneven = Jitter::default();
        for i in 0..400u32 {
            let late = if i % 2 == 1 { 10 } else { 0 };
            uneven.on_packet(t0 + Duration::from_millis(20 * u64::from(i) + late), 8000, 1, 0, i * 160);
        }
        assert!((uneven.millis(8000) - 10.0).abs() < 0.1, "{}", uneven.millis(8000));
        // A DTMF event (other payload type, repeated timestamp) does not move it.
        let before = uneven.millis(8000);
        for i in 0..10 {
            uneven.on_packet(t0 + Duration::from_millis(9000 + 20 * i), 8000, 1, 101, 1);
        }
        assert!((uneven.millis(8000) - before).abs() < f64::EPSILON);
    }
}
