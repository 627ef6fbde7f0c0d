//! The core's randomness: SplitMix64 from a seed the driver picks, so the
//! sans-IO core stays deterministic under test (same seed, same jitter, tags
//! and branches) and never reaches for a global source.

use rand::SeedableRng;
use rand::rngs::StdRng;

/// A small, fast, seedable generator (SplitMix64; not for secrets).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` random bytes as lower-case hex.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n * 2);
        for _ in 0..n.div_ceil(8) {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(n * 2);
        out
    }

    pub(crate) fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        let (hi, lo) = (self.next_u64().to_be_bytes(), self.next_u64().to_be_bytes());
        for (slot, v) in b.iter_mut().zip(hi.iter().chain(lo.iter())) {
            *slot = *v;
        }
        b
    }
}

/// Where SRTP master keys come from: ChaCha (rand's `StdRng`), a
/// cryptographically secure generator, seeded by the driver from the OS, or by
/// a test. Kept apart from [`Rng`], whose outputs (tags, branches) go on the
/// wire and would reveal its state. Its `Debug` shows nothing of it.
pub(crate) struct KeyRng(StdRng);

impl KeyRng {
    pub(crate) fn new(seed: &crate::config::KeySeed) -> Self {
        Self(StdRng::from_seed(seed.0))
    }

    /// A fresh SRTP master key and salt.
    pub(crate) fn master_key(&mut self) -> media::srtp::MasterKey {
        media::srtp::MasterKey::generate(&mut self.0)
    }
}

impl std::fmt::Debug for KeyRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRng(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_stays_in_range_and_seeds_repeat() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            let x = a.unit();
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x, b.unit());
        }
        assert_eq!(Rng::new(1).hex(5).len(), 10);
    }
}
