//! How much of the file each SQLite connection keeps in its own page cache.
//!
//! SQLite's default is 2 MiB a connection, and the switch's store writer
//! fills it with the pages its upserts touch: the registrations, the
//! subscribers its foreign key checks, the expiry index. Those pages grow with
//! the registered phones, so at 5,000 of them the default cache was ~420
//! bytes of every phone's memory, a second copy of pages that the kernel's page
//! cache holds anyway (SQLite reads and writes the file and its WAL through
//! it). A small cache keeps what every statement walks (the B-trees' inner
//! pages, the expiry index's newest leaf); a leaf it no longer holds is read
//! again with one `pread64` from the kernel's copy.

use super::Store;
use super::error::Result;

/// The page cache of each connection the switch opens, in KiB. Its CPU
/// price is in `scripts/bench/README.md` ("Memory per held flow"): none that
/// `register_loop` sees re-registering 5,000 numbers in order, up to two leaf
/// reads per registration when they come in random order.
pub const PAGE_CACHE_KIB: u32 = 256;

impl Store {
    /// Caps this connection's page cache at `kib` KiB.
    pub fn set_page_cache_kib(&self, kib: u32) -> Result<()> {
        // Negative: a size in KiB, whatever the page size.
        Ok(self.conn.pragma_update(None, "cache_size", -i64::from(kib))?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cache_size(store: &Store) -> i64 {
        store.conn.pragma_query_value(None, "cache_size", |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_connection_opens_with_the_small_cache_and_can_change_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(cache_size(&store), -i64::from(PAGE_CACHE_KIB));
        store.set_page_cache_kib(2048).unwrap();
        assert_eq!(cache_size(&store), -2048);
    }
}
