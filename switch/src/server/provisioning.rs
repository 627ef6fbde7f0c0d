//! Has another process (the `switch subscriber` CLI) changed the provisioned
//! subscribers? Asked before every REGISTER and INVITE is handed to the core,
//! and once a second, so a change applies at once without a restart.
//!
//! The question is answered inline on the driver's task, because the answer
//! must be in before the request is handled and it costs no disk I/O:
//! SQLite's `PRAGMA data_version` reads the WAL index in shared memory, and
//! only when another connection committed (our own store thread's commits
//! count too) does a one-row read of the subscribers' change counter follow,
//! from the page cache. Reading the subscribers themselves (the whole table)
//! is the store thread's job; the core parks the requests that need them
//! meanwhile.

use crate::store::Store;
use crate::subscribers::Subscribers;

/// The driver's read connection and what it last saw.
pub(super) struct Provisioning {
    store: Store,
    /// PRAGMA data_version at the last look: it moves with any other
    /// connection's commit, so it only says "look closer".
    data_version: Option<i64>,
    /// The subscribers' own change counter at the last look.
    version: Option<i64>,
}

impl Provisioning {
    /// Reads the subscribers once (at start, so blocking is fine) and
    /// remembers the versions they are at.
    pub(super) fn start(store: Store) -> crate::Result<(Self, Subscribers)> {
        let data_version = store.data_version()?;
        let version = store.subscribers_version()?;
        let subscribers = store.subscribers()?.into_iter().collect();
        Ok((Provisioning { store, data_version: Some(data_version), version: Some(version) }, subscribers))
    }

    /// The read connection (start-up work: purging, loading records).
    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    /// True when the subscribers changed since the last look (or the store
    /// cannot say: a reload will tell).
    pub(super) fn changed(&mut self) -> bool {
        let data_version = match self.store.data_version() {
            Ok(v) => v,
            Err(_) => return true,
        };
        if self.data_version == Some(data_version) {
            return false;
        }
        self.data_version = Some(data_version);
        match self.store.subscribers_version() {
            Ok(v) if self.version == Some(v) => false,
            Ok(v) => {
                self.version = Some(v);
                true
            }
            Err(_) => true,
        }
    }

    /// A reload failed: the next look reports a change again, so the reload
    /// is retried rather than the failure forgotten.
    pub(super) fn forget(&mut self) {
        self.data_version = None;
        self.version = None;
    }
}
