//! Test tones and their detection: a phase-continuous sine generator and the
//! Goertzel filter, used to prove that audio crossed a bearer end to end.

use std::f64::consts::TAU;

/// The sample rate of everything the agent plays (G.711 narrowband).
pub const RATE: u32 = 8000;

/// Fills `out` with a sine of `freq_hz` and peak `amplitude` at 8 kHz, where
/// `out[0]` is sample number `start_sample` of an endless tone. Phase is a
/// function of the absolute sample number, so successive 20 ms frames join
/// without clicks whatever their size.
pub fn sine(freq_hz: f64, amplitude: i16, start_sample: u64, out: &mut [i16]) {
    let amp = f64::from(amplitude);
    for (i, s) in (start_sample..).zip(out.iter_mut()) {
        // Reduce the cycle count to [0, 1) before scaling so precision does
        // not decay over long calls.
        let cycles = (freq_hz * i as f64 / f64::from(RATE)).fract();
        *s = (amp * (TAU * cycles).sin()).round() as i16;
    }
}

/// The mean power of the `freq_hz` component of `samples` (Goertzel), scaled so
/// that a pure sine of peak A gives A²/2 — the same unit as the mean power of
/// the whole signal, so the two can be compared. 0 for an empty input.
pub fn goertzel_power(samples: &[i16], freq_hz: f64, rate: u32) -> f64 {
    if samples.is_empty() || rate == 0 {
        return 0.0;
    }
    let coeff = 2.0 * (TAU * freq_hz / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f64;
    2.0 * mag2 / (n * n)
}

/// Mean power of the whole signal.
fn mean_power(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / samples.len() as f64
}

/// Below this mean power (RMS ≈ 32, about -60 dBFS) the signal counts as silence.
const SILENCE_POWER: f64 = 1000.0;
/// The winning candidate must carry at least this share of the signal's power.
const MIN_SHARE: f64 = 0.3;

/// Which of `candidates` (Hz) dominates `samples`: the one with the largest
/// Goertzel power, provided the signal is not silence and that frequency holds
/// a fair share (30 %) of its total power. `None` otherwise.
pub fn dominant(samples: &[i16], candidates: &[f64], rate: u32) -> Option<f64> {
    let total = mean_power(samples);
    if total < SILENCE_POWER {
        return None;
    }
    let (freq, power) = candidates.iter().map(|&f| (f, goertzel_power(samples, f, rate))).max_by(|a, b| a.1.total_cmp(&b.1))?;
    (power >= MIN_SHARE * total).then_some(freq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711;

    const CANDIDATES: [f64; 3] = [440.0, 1000.0, 1633.0];

    fn tone(freq: f64, n: usize) -> Vec<i16> {
        let mut v = vec![0i16; n];
        sine(freq, 8000, 0, &mut v);
        v
    }

    #[test]
    fn phase_is_continuous_across_calls() {
        let whole = tone(440.0, 480);
        let mut parts = vec![0i16; 480];
        for (k, chunk) in parts.chunks_mut(160).enumerate() {
            sine(440.0, 8000, k as u64 * 160, chunk);
        }
        assert_eq!(whole, parts);
        assert_eq!(whole.first(), Some(&0));
        assert!(whole.iter().all(|s| s.abs() <= 8000));
    }

    #[test]
    fn goertzel_power_of_a_sine_is_half_its_squared_peak() {
        let p = goertzel_power(&tone(1000.0, 8000), 1000.0, RATE);
        assert!((p / (8000.0 * 8000.0 / 2.0) - 1.0).abs() < 0.01, "{p}");
        assert!(goertzel_power(&tone(1000.0, 8000), 440.0, RATE) < p / 1000.0);
        assert_eq!(goertzel_power(&[], 440.0, RATE), 0.0);
    }

    #[test]
    fn finds_440_among_candidates() {
        assert_eq!(dominant(&tone(440.0, 1600), &CANDIDATES, RATE), Some(440.0));
        assert_eq!(dominant(&tone(1633.0, 1600), &CANDIDATES, RATE), Some(1633.0));
    }

    #[test]
    fn silence_and_off_candidate_tones_give_none() {
        assert_eq!(dominant(&vec![0; 1600], &CANDIDATES, RATE), None);
        assert_eq!(dominant(&[], &CANDIDATES, RATE), None);
        assert_eq!(dominant(&tone(700.0, 1600), &CANDIDATES, RATE), None);
    }

    #[test]
    fn tone_survives_g711() {
        let t = tone(1000.0, 1600);
        let via_ulaw: Vec<i16> = t.iter().map(|&s| g711::ulaw_decode(g711::ulaw_encode(s))).collect();
        let via_alaw: Vec<i16> = t.iter().map(|&s| g711::alaw_decode(g711::alaw_encode(s))).collect();
        assert_eq!(dominant(&via_ulaw, &CANDIDATES, RATE), Some(1000.0));
        assert_eq!(dominant(&via_alaw, &CANDIDATES, RATE), Some(1000.0));
    }
}
