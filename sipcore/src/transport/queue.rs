//! A connection's outbound queue. An idle flow's queue owns no buffer (a
//! `VecDeque` allocates on first use), where a tokio channel would hold a block
//! of slots for every parked phone; with thousands of them that adds up. The
//! connection task waits on it by leaving its waker here, so its future
//! keeps no waiter node of its own either.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct State {
    items: VecDeque<Bytes>,
    /// The application asked for the connection to close after what is queued.
    close: bool,
    /// The connection task is gone: nothing will be written any more.
    gone: bool,
    /// The transport is shutting down: write what is queued and go.
    shutdown: bool,
    /// The connection task, waiting for something to write.
    waiting: Option<Waker>,
}

/// Why a push failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PushError {
    Full,
    Gone,
}

/// What the connection task is to do next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    Write(Bytes),
    /// A close was asked for and everything queued is written.
    Close,
    /// The transport is shutting down (see [`SendQueue::shutdown`]).
    Shutdown,
}

/// Bytes waiting to be written to one connection.
pub(super) struct SendQueue {
    state: Mutex<State>,
    cap: usize,
}

impl SendQueue {
    pub(super) fn new(cap: usize) -> Self {
        Self { state: Mutex::new(State::default()), cap: cap.max(1) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing inside can panic while holding it; a poisoned lock still holds sane data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues bytes; never waits.
    pub(super) fn push(&self, b: Bytes) -> Result<(), PushError> {
        let waiting = {
            let mut s = self.lock();
            if s.gone || s.close {
                return Err(PushError::Gone);
            }
            if s.items.len() >= self.cap {
                return Err(PushError::Full);
            }
            s.items.push_back(b);
            s.waiting.take()
        };
        // Woken outside the lock: the task takes it at once.
        if let Some(w) = waiting {
            w.wake();
        }
        Ok(())
    }

    /// Asks the connection to close once what is queued is written.
    pub(super) fn close(&self) {
        self.mark(|s| s.close = true);
    }

    /// Tells the connection task the transport is shutting down. The
    /// transport says so through each queue, not a cancellation future in
    /// every task: that would be one more waiter kept by every idle flow.
    pub(super) fn shutdown(&self) {
        self.mark(|s| s.shutdown = true);
    }

    fn mark(&self, set: impl FnOnce(&mut State)) {
        let waiting = {
            let mut s = self.lock();
            set(&mut s);
            s.waiting.take()
        };
        if let Some(w) = waiting {
            w.wake();
        }
    }

    /// What to do next: write, close once a close was asked for and the queue
    /// is drained, or shut down (before anything queued: the task flushes it
    /// with [`Self::try_next`]). Cancel-safe: nothing is taken until it is returned.
    pub(super) fn next(&self) -> impl Future<Output = Next> + Send + '_ {
        std::future::poll_fn(|cx| self.poll_next(cx))
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Next> {
        let mut s = self.lock();
        if s.shutdown {
            return Poll::Ready(Next::Shutdown);
        }
        match Self::take(&mut s) {
            Some(Some(b)) => Poll::Ready(Next::Write(b)),
            Some(None) => Poll::Ready(Next::Close),
            None => {
                // Checked and parked under one lock: a push cannot slip between.
                if !s.waiting.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    s.waiting = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// `Some(Some(bytes))` to write, `Some(None)` to close, `None` when empty.
    pub(super) fn try_next(&self) -> Option<Option<Bytes>> {
        Self::take(&mut self.lock())
    }

    fn take(s: &mut State) -> Option<Option<Bytes>> {
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
        s.waiting = None;
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
        assert_eq!(q.next().await, Next::Write(Bytes::from_static(b"a")));
        q.close();
        assert_eq!(q.push(Bytes::from_static(b"d")), Err(PushError::Gone));
        assert_eq!(q.next().await, Next::Write(Bytes::from_static(b"b")));
        assert_eq!(q.next().await, Next::Close);
        q.shut();
        assert_eq!(q.push(Bytes::from_static(b"e")), Err(PushError::Gone));
    }

    #[tokio::test]
    async fn a_drained_queue_owns_no_buffer() {
        let q = SendQueue::new(4);
        q.push(Bytes::from_static(b"a")).unwrap();
        q.push(Bytes::from_static(b"b")).unwrap();
        assert!(q.lock().items.capacity() > 0);
        assert_eq!(q.next().await, Next::Write(Bytes::from_static(b"a")));
        assert!(q.lock().items.capacity() > 0, "still holding b");
        assert_eq!(q.next().await, Next::Write(Bytes::from_static(b"b")));
        assert_eq!(q.lock().items.capacity(), 0);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_push() {
        let q = std::sync::Arc::new(SendQueue::new(4));
        let q2 = q.clone();
        let reader = tokio::spawn(async move { q2.next().await });
        tokio::task::yield_now().await;
        q.push(Bytes::from_static(b"x")).unwrap();
        assert_eq!(reader.await.unwrap(), Next::Write(Bytes::from_static(b"x")));
    }

    #[tokio::test]
    async fn shutdown_wakes_the_reader_before_what_is_queued() {
        let q = std::sync::Arc::new(SendQueue::new(4));
        let q2 = q.clone();
        let reader = tokio::spawn(async move { q2.next().await });
        tokio::task::yield_now().await;
        q.shutdown();
        assert_eq!(reader.await.unwrap(), Next::Shutdown, "a waiting task is woken");
        q.push(Bytes::from_static(b"y")).unwrap();
        assert_eq!(q.next().await, Next::Shutdown);
        assert_eq!(q.try_next(), Some(Some(Bytes::from_static(b"y"))), "left for the flush");
    }
}
