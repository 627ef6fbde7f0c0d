//! Cutting a stream into reads the way a socket might: chunk sizes drawn from a
//! small generator seeded by the input, so one input always gives the same cuts
//! (AFL needs a stable target) while different inputs try different ones.

/// Chunk sizes from a seed: mostly small (1–16 bytes, where boundary bugs
/// live), sometimes up to 1 KiB.
#[derive(Clone, Debug)]
pub struct Chunks {
    state: u32,
}

impl Chunks {
    /// A generator seeded with `seed` (any value, 0 included).
    pub fn new(seed: u8) -> Self {
        Self { state: 0x9e37_79b9 ^ u32::from(seed).wrapping_mul(0x0101_0101) }
    }

    /// The next chunk size, at least 1.
    pub fn next_size(&mut self) -> usize {
        // xorshift32: cheap, and never stuck at 0 because the seed mixes in a non-zero constant.
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        let size = if x & 0xf0 == 0 { x >> 8 & 0x3ff } else { x >> 8 & 0xf };
        usize::try_from(size).unwrap_or(0) + 1
    }

    /// `data` cut into consecutive pieces of the generated sizes.
    pub fn split<'a>(&mut self, data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (piece, after) = rest.split_at(self.next_size().min(rest.len()));
            pieces.push(piece);
            rest = after;
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::Chunks;

    #[test]
    fn pieces_cover_the_input_in_order_and_vary_with_the_seed() {
        let data: Vec<u8> = (0..=255).collect();
        let a: Vec<usize> = Chunks::new(1).split(&data).iter().map(|p| p.len()).collect();
        let b: Vec<usize> = Chunks::new(2).split(&data).iter().map(|p| p.len()).collect();
        assert_eq!(a.iter().sum::<usize>(), data.len());
        assert_eq!(Chunks::new(1).split(&data).concat(), data);
        assert_ne!(a, b);
        assert!(a.iter().all(|&n| n >= 1));
    }
}
