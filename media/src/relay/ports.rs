//! The relay's port pairs: RTP on an even port, RTCP on the next (RFC 3550 §11),
//! handed out round-robin so a pair just freed is the last to be reused (late
//! packets of an old call do not land in a new one).

use std::ops::RangeInclusive;

/// Free and used RTP/RTCP pairs of a port range.
#[derive(Clone, Debug)]
pub struct PortPool {
    /// The first pair's RTP port (even, never 0).
    first: u16,
    used: Vec<bool>,
    next: usize,
    free: usize,
}

impl PortPool {
    /// Every even port `p` in `range` whose `p + 1` is also in it (port 0 excluded).
    pub fn new(range: RangeInclusive<u16>) -> Self {
        let (start, end) = (u32::from(*range.start()), u32::from(*range.end()));
        let first = (start + start % 2).max(2);
        let pairs = if first < end { (end - first - 1) / 2 + 1 } else { 0 };
        let first = u16::try_from(first).unwrap_or(u16::MAX - 1);
        Self { first, used: vec![false; pairs as usize], next: 0, free: pairs as usize }
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.used.len()
    }

    /// How many pairs are free.
    pub fn available(&self) -> usize {
        self.free
    }

    /// Takes the next free pair and returns its RTP port.
    pub fn allocate(&mut self) -> Option<u16> {
        let n = self.used.len();
        for i in 0..n {
            let index = (self.next + i) % n;
            if let Some(slot) = self.used.get_mut(index).filter(|used| !**used) {
                *slot = true;
                self.next = (index + 1) % n;
                self.free -= 1;
                return self.port(index);
            }
        }
        None
    }

    /// Gives back the pair whose RTP port is `rtp` (ignored if it is not one of ours or not in use).
    pub fn release(&mut self, rtp: u16) {
        let Some(offset) = rtp.checked_sub(self.first).filter(|o| o % 2 == 0) else { return };
        if let Some(slot) = self.used.get_mut(usize::from(offset / 2)).filter(|used| **used) {
            *slot = false;
            self.free += 1;
        }
    }

    fn port(&self, index: usize) -> Option<u16> {
        u16::try_from(usize::from(self.first) + 2 * index).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_odd_inside_the_range_and_reused_last() {
        let mut pool = PortPool::new(10_001..=10_008);
        assert_eq!(pool.capacity(), 3, "10002/3, 10004/5, 10006/7");
        assert_eq!(pool.allocate(), Some(10_002));
        assert_eq!(pool.allocate(), Some(10_004));
        pool.release(10_002);
        assert_eq!(pool.allocate(), Some(10_006), "the freed pair waits its turn");
        assert_eq!(pool.allocate(), Some(10_002));
        assert_eq!(pool.allocate(), None);
        assert_eq!(pool.available(), 0);
        pool.release(10_003); // not an RTP port
        pool.release(9_000); // not ours
        pool.release(10_004);
        pool.release(10_004); // twice
        assert_eq!(pool.available(), 1);
        assert_eq!(pool.allocate(), Some(10_004));
    }

    #[test]
    fn edge_ranges() {
        assert_eq!(PortPool::new(0..=3).capacity(), 1, "port 0 is never handed out");
        assert_eq!(PortPool::new(5..=5).capacity(), 0);
        assert_eq!(PortPool::new(65_534..=65_535).allocate(), Some(65_534));
        assert_eq!(PortPool::new(65_535..=65_535).capacity(), 0);
        let (start, end) = (7, 2);
        assert_eq!(PortPool::new(start..=end).capacity(), 0, "reversed range");
    }
}
