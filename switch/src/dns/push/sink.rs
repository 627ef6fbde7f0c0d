//! The one thing the core's task touches: [`PushSink::mark`] a number in the
//! shared [`PushQueue`] and wake the pusher. A brief lock, never an await, never
//! a wait on DNS.

use super::queue::PushQueue;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// The pusher's queue, shared by the core (marks) and the pusher task (the rest).
#[derive(Clone)]
pub struct PushSink {
    queue: Arc<Mutex<PushQueue>>,
    wake: Arc<Notify>,
}

impl fmt::Debug for PushSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushSink")
    }
}

impl PushSink {
    pub fn new(queue: PushQueue) -> Self {
        PushSink { queue: Arc::new(Mutex::new(queue)), wake: Arc::new(Notify::new()) }
    }

    /// `number`'s records may have changed.
    pub fn mark(&self, number: &str) {
        self.with(|q| q.mark(number));
        self.wake.notify_one();
    }

    /// Runs `f` on the queue (a panic elsewhere leaves it usable: it holds no invariant a half-done call breaks).
    pub fn with<R>(&self, f: impl FnOnce(&mut PushQueue) -> R) -> R {
        f(&mut self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Returns once a number was marked since the last call.
    pub async fn marked(&self) {
        self.wake.notified().await;
    }
}
