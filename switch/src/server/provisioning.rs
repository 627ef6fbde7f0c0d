//! Has another process (the `switch subscriber` CLI) changed the provisioned
//! subscribers? Asked before every REGISTER and INVITE is handed to the core,
//! and once a second, so a change applies without a restart.
//!
//! The question is answered inline on the driver's task, so it must cost no
//! I/O. With SQLite it applies at once: one read of the subscribers' change
//! counter (one row, from the page cache; a read transaction is two `fcntl`s
//! on the WAL index). It used to be gated by `PRAGMA data_version`, which
//! costs the same read transaction, but our own store thread's commits move
//! that too: under traffic it nearly always said "look closer", so the
//! counter's read followed and a check cost two transactions instead of one.
//! With Redis a
//! watcher thread reads the change counter every [`REDIS_POLL`] on a
//! connection of its own and the driver only compares numbers, so a change
//! applies within that time and a Redis that hangs never stalls the driver.
//! Reading the subscribers themselves is the store thread's job; the core
//! parks the requests that need them meanwhile.

use crate::store::{Backend, RedisStore};
use crate::subscribers::Subscribers;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tracing::warn;

/// How often the Redis watcher reads the subscribers' change counter.
pub(super) const REDIS_POLL: Duration = Duration::from_millis(100);

/// What the watcher publishes when it cannot read the counter: "look again".
const UNKNOWN: i64 = i64::MIN;

/// The driver's read connection and what it last saw.
pub(super) struct Provisioning {
    store: Backend,
    /// The subscribers' own change counter at the last look.
    version: Option<i64>,
    /// Redis: the counter as the watcher last read it.
    watched: Option<Arc<AtomicI64>>,
}

impl Provisioning {
    /// Reads the subscribers once (at start, so blocking is fine) and
    /// remembers the versions they are at.
    pub(super) fn start(store: Backend) -> crate::Result<(Self, Subscribers)> {
        let version = store.subscribers_version()?;
        let watched = match &store {
            Backend::Sqlite(_) => None,
            Backend::Redis(r) => Some(watch(r.reopen()?, version)?),
        };
        let subscribers = store.subscribers()?.into_iter().collect();
        Ok((Provisioning { store, version: Some(version), watched }, subscribers))
    }

    /// The read connection (start-up work: purging, loading records).
    pub(super) fn store(&self) -> &Backend {
        &self.store
    }

    /// True when the subscribers changed since the last look (or the store
    /// cannot say: a reload will tell).
    pub(super) fn changed(&mut self) -> bool {
        let version = match (&self.store, &self.watched) {
            (Backend::Sqlite(s), _) => s.subscribers_version().ok(),
            (Backend::Redis(_), Some(seen)) => Some(seen.load(Ordering::Acquire)).filter(|v| *v != UNKNOWN),
            (Backend::Redis(_), None) => None,
        };
        match version {
            Some(v) if self.version == Some(v) => false,
            Some(v) => {
                self.version = Some(v);
                true
            }
            None => true,
        }
    }

    /// A reload failed: the next look reports a change again, so the reload
    /// is retried rather than the failure forgotten.
    pub(super) fn forget(&mut self) {
        self.version = None;
    }
}

/// Starts the thread that polls Redis's subscriber counter into the returned
/// value; it stops once the value is dropped.
fn watch(store: RedisStore, now: i64) -> crate::Result<Arc<AtomicI64>> {
    let seen = Arc::new(AtomicI64::new(now));
    let weak = Arc::downgrade(&seen);
    let spawned = std::thread::Builder::new().name("store-watch".into()).spawn(move || {
        let mut failing = false;
        while let Some(seen) = weak.upgrade() {
            let v = match store.subscribers_version() {
                Ok(v) => {
                    failing = false;
                    v
                }
                Err(e) => {
                    if !failing {
                        warn!(error = %e, "cannot read the subscribers' version from redis");
                    }
                    failing = true;
                    UNKNOWN
                }
            };
            seen.store(v, Ordering::Release);
            drop(seen);
            std::thread::sleep(REDIS_POLL);
        }
    });
    spawned.map_err(|source| crate::Error::Io { what: "starting the store watcher thread", source })?;
    Ok(seen)
}
