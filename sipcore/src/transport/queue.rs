//! A connection's outbound queue. An idle flow's queue owns no buffer (a
//! `VecDeque` allocates on first use), where a tokio channel would hold a block
//! of slots for every parked phone; with thousands of them that adds up.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    items: VecDeque<Bytes>,
    /// The application asked for the connection to close after what is queued.
    close: bool,
    /// The connection task is gone: nothing will be written any more.
    gone: bool,
}

/// Why a push failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PushError {
    Full,
    Gone,
}

/// Bytes waiting to be written to one connection.
pub(super) struct SendQueue {
    state: Mutex<State>,
    ready: Notify,
    cap: usize,
}

impl SendQueue {
    pub(super) fn new(cap: usize) -> Self {
        Self { state: Mutex::new(State::default()), ready: Notify::new(), cap: cap.max(1) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing inside can panic while holding it; a poisoned lock still holds sane data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues bytes; never waits.
    pub(super) fn push(&self, b: Bytes) -> Result<(), PushError> {
        {
            let mut s = self.lock();
            if s.gone || s.close {
                return Err(PushError::Gone);
            }
            if s.items.len() >= self.cap {
                return Err(PushError::Full);
            }
            s.items.push_back(b);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// Asks the connection to close once what is queued is written.
    pub(super) fn close(&self) {
        self.lock().close = true;
        self.ready.notify_one();
    }

    /// The next bytes to write, or `None` once a close was asked for and the
    /// queue is drained. Cancel-safe: nothing is taken until it is returned.
    pub(super) async fn next(&self) -> Option<Bytes> {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            // A notify_one that raced ahead of this wait left a permit behind.
            self.ready.notified().await;
        }
    }

    /// `Some(Some(bytes))` to write, `Some(None)` to close, `None` when empty.
    pub(super) fn try_next(&self) -> Option<Option<Bytes>> {
        let mut s = self.lock();
        match s.items.pop_front() {
            Some(b) => {
                if s.items.is_empty() {
                    // Give the buffer back: a parked phone's flow sends
                    // one response now and then, and should own nothing between.
                    s.items = VecDeque::new();
                }
                Some(Some(b))
            }
            None if s.close => Some(None),
            None => None,
        }
    }

    /// The connection task has ended: later pushes fail.
    pub(super) fn shut(&self) {
        let mut s = self.lock();
        s.gone = true;
        s.items = VecDeque::new();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_ordered_and_closable() {
        let q = SendQueue::new(2);
        q.push(Bytes::from_static(b"a")).unwrap();
        q.push(Bytes::from_static(b"b")).unwrap();
        assert_eq!(q.push(Bytes::from_static(b"c")), Err(PushError::Full));
        assert_eq!(q.next().await.unwrap(), "a");
        q.close();
        assert_eq!(q.push(Bytes::from_static(b"d")), Err(PushError::Gone));
        assert_eq!(q.next().await.unwrap(), "b");
        assert_eq!(q.next().await, None);
        q.shut();
        assert_eq!(q.push(Bytes::from_static(b"e")), Err(PushError::Gone));
    }

    #[tokio::test]
    async fn a_drained_queue_owns_no_buffer() {
        let q = SendQueue::new(4);
        q.push(Bytes::from_static(b"a")).unwrap();
        q.push(Bytes::from_static(b"b")).unwrap();
        assert!(q.lock().items.capacity() > 0);
        assert_eq!(q.next().await.unwrap(), "a");
        assert!(q.lock().items.capacity() > 0, "still holding b");
        assert_eq!(q.next().await.unwrap(), "b");
        assert_eq!(q.lock().items.capacity(), 0);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_push() {
        let q = std::sync::Arc::new(SendQueue::new(4));
        let q2 = q.clone();
        let reader = tokio::spawn(async move { q2.next().await });
        tokio::task::yield_now().await;
        q.push(Bytes::from_static(b"x")).unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), "x");
    }
}
