//! Ports a test has to name itself, because the program that binds them cannot
//! say what it got: the relay's port range, SIPp's signalling and media ports.
//! (A switch's SIP listeners need none of this: it binds port 0 and reports.)
//! A test's Redis takes a block of its own too (`crate::redis`): a server its
//! first port, a Cluster six ports and six bus ports of one block.
//!
//! A [`PortBlock`] is reserved for every test process on the machine at once,
//! by an exclusive lock on one file per block in a shared directory; the lock
//! goes when the block is dropped or its process dies, so nothing is ever left
//! reserved. The blocks lie below Linux's ephemeral range (32768 and up), where
//! no port-0 bind lands, and away from what a switch started by hand uses
//! (SIP 5060, relay 20000-29999: the README's walkthrough runs on those).

use std::fs::{File, TryLockError};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};

/// The first port of the first block.
const POOL_FIRST: u16 = 10_000;
/// Blocks in the pool: ports 10000-19999.
const BLOCKS: u16 = 100;

/// A block of [`PortBlock::LEN`] consecutive ports no other test uses while
/// this value lives. It reserves the numbers only; nothing is bound.
#[derive(Debug)]
pub struct PortBlock {
    first: u16,
    _lock: File,
}

impl PortBlock {
    /// Ports in a block: an even first port, so a relay range gets whole RTP/RTCP pairs.
    pub const LEN: u16 = 100;

    /// Reserves a free block; panics when all of them are taken.
    pub fn reserve() -> Self {
        // Start somewhere else in each process and each call, so concurrent tests rarely contend.
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let start = (std::process::id() as u16).wrapping_add(NEXT.fetch_add(7, Ordering::Relaxed));
        let dir = lock_dir();
        for i in 0..BLOCKS {
            let block = start.wrapping_add(i) % BLOCKS;
            let path = dir.join(format!("block-{block}"));
            // Read-only when it exists: another user may have made it (flock needs no write access).
            let file = File::open(&path).or_else(|_| File::create(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            match file.try_lock() {
                Ok(()) => return PortBlock { first: POOL_FIRST + block * Self::LEN, _lock: file },
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(e)) => panic!("locking {}: {e}", path.display()),
            }
        }
        panic!("all {BLOCKS} test port blocks ({POOL_FIRST}-{}) are in use", POOL_FIRST + BLOCKS * Self::LEN - 1);
    }

    /// The `i`th port of the block.
    #[track_caller]
    pub fn port(&self, i: u16) -> u16 {
        assert!(i < Self::LEN, "port {i} of a block of {}", Self::LEN);
        self.first + i
    }

    /// The whole block.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.first..=self.first + Self::LEN - 1
    }

    /// The first `len` ports as `FIRST-LAST`, the form of `relay_ports`.
    #[track_caller]
    pub fn spec(&self, len: u16) -> String {
        assert!((2..=Self::LEN).contains(&len), "{len} ports of a block of {}", Self::LEN);
        format!("{}-{}", self.first, self.first + len - 1)
    }
}

/// The fixed ports a switch started with no `--listen` takes (SIP on 5060 over
/// TCP and UDP, TLS on 5061, relay 20000-29999), which only the README's
/// walkthrough (`tests/tests/readme.rs`) uses. Held while this value lives;
/// taking it waits for any other holder on the machine (another checkout's
/// test run), so walkthroughs take turns instead of colliding.
#[derive(Debug)]
pub struct DefaultPorts {
    _lock: File,
}

impl DefaultPorts {
    /// Waits until no other test on the machine holds the default ports.
    pub fn lock() -> Self {
        let path = lock_dir().join("default-ports");
        let file = File::open(&path).or_else(|_| File::create(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.lock().unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
        DefaultPorts { _lock: file }
    }
}

/// One directory for every user's tests: sticky and world-writable, like /tmp.
fn lock_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("roamswitch-test-ports");
    if std::fs::create_dir(&dir).is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777));
    }
    assert!(dir.is_dir(), "cannot make {}", dir.display());
    dir
}

#[cfg(test)]
mod tests {
    use super::{PortBlock, lock_dir};

    #[test]
    fn blocks_held_at_once_never_overlap_and_are_released_when_dropped() {
        let blocks: Vec<PortBlock> = (0..5).map(|_| PortBlock::reserve()).collect();
        for (i, a) in blocks.iter().enumerate() {
            assert_eq!(a.port(0) % 2, 0, "even first port");
            assert!(*a.range().end() < 32_768, "below the ephemeral range");
            for b in blocks.iter().skip(i + 1) {
                assert!(a.range().end() < b.range().start() || b.range().end() < a.range().start(), "{a:?} and {b:?} overlap");
            }
        }
        let last = blocks.iter().map(|b| (b.port(0) - super::POOL_FIRST) / PortBlock::LEN).collect::<Vec<_>>();
        drop(blocks);
        for block in last {
            let file = std::fs::File::open(lock_dir().join(format!("block-{block}"))).map_err(|e| e.to_string());
            assert_eq!(file.and_then(|f| f.try_lock().map_err(|e| e.to_string())), Ok(()), "block {block} still locked");
        }
    }
}
