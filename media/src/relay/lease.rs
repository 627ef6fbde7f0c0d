//! Giving ports back: a pair returns to the pool when its sockets are closed,
//! not when `close` is called, so the pool never hands out a port still bound.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use super::ports::PortPool;

/// The port pool and who waits on it, shared with the leases that give ports back.
pub(super) struct PoolShared {
    pub(super) pool: Mutex<PortPool>,
    pub(super) freed: Notify,
    /// Calls closed whose sockets are not closed yet.
    pub(super) closing: AtomicUsize,
}

/// A pair taken from the pool, given back on drop.
pub(super) struct PairLease {
    pub(super) shared: Arc<PoolShared>,
    pub(super) rtp: u16,
}

impl Drop for PairLease {
    fn drop(&mut self) {
        self.shared.pool.lock().unwrap_or_else(PoisonError::into_inner).release(self.rtp);
        self.shared.freed.notify_waiters();
    }
}

/// Counts a closed call in `PoolShared::closing` until its sockets are gone.
pub(super) struct ClosingMark {
    pub(super) shared: Arc<PoolShared>,
    pub(super) marked: AtomicBool,
}

impl ClosingMark {
    pub(super) fn mark(&self) {
        if !self.marked.swap(true, Ordering::AcqRel) {
            self.shared.closing.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Drop for ClosingMark {
    fn drop(&mut self) {
        if *self.marked.get_mut() {
            self.shared.closing.fetch_sub(1, Ordering::AcqRel);
        }
        self.shared.freed.notify_waiters();
    }
}
