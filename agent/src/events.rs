//! The agent's events on their way to the application: none is ever dropped.
//! The queue has no fixed size; instead, while [`EVENT_QUEUE`] events wait
//! unread, the driver takes no new work (it reads nothing more from the
//! switch, whose further requests wait in the flow, and fires no timer) until
//! the application reads again. It still serves its handle, so an application
//! that awaits a command before it reads cannot deadlock, and a stop goes
//! through whatever waits unread.

use crate::ua::Event;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Notify, mpsc};

/// Events waiting unread at which the agent stops taking new work.
pub(crate) const EVENT_QUEUE: usize = 1024;

/// How many events wait unread, and the wake-up for a driver waiting for room.
#[derive(Debug, Default)]
struct Unread {
    count: AtomicUsize,
    room: Notify,
}

/// The driver's end.
#[derive(Debug)]
pub(crate) struct EventSender {
    tx: mpsc::UnboundedSender<Event>,
    unread: Arc<Unread>,
}

/// The agent's events, in the order they happened. Ends after
/// [`Event::Stopped`]. None is dropped: keep reading, since while
/// 1024 events wait unread the agent takes no new work (it reads nothing more
/// from the switch and fires no timer, so keep-alives wait too) until some are
/// read. Commands on the [`crate::AgentHandle`] are served meanwhile.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
    unread: Arc<Unread>,
}

/// A queue for the agent's events.
pub(crate) fn channel() -> (EventSender, Events) {
    let (tx, rx) = mpsc::unbounded_channel();
    let unread = Arc::new(Unread::default());
    (EventSender { tx, unread: unread.clone() }, Events { rx, unread })
}

impl EventSender {
    /// Queues `ev` (nothing happens when nobody listens any more).
    pub(crate) fn send(&self, ev: Event) {
        self.unread.count.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(ev).is_err() {
            self.unread.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// True while the application lags: [`EVENT_QUEUE`] events or more wait
    /// unread (and someone is there to read them).
    pub(crate) fn lagging(&self) -> bool {
        !self.tx.is_closed() && self.unread.count.load(Ordering::Acquire) >= EVENT_QUEUE
    }

    /// Resolves once the application has read below [`EVENT_QUEUE`] (or at
    /// once, for a wake-up that came before this was awaited: the caller
    /// looks again).
    pub(crate) async fn room(&self) {
        self.unread.room.notified().await;
    }
}

impl Events {
    /// The next event; `None` once the agent has stopped and all were read.
    pub async fn recv(&mut self) -> Option<Event> {
        let ev = self.rx.recv().await;
        self.read(ev.is_some());
        ev
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        let ev = self.rx.try_recv().ok();
        self.read(ev.is_some());
        ev
    }

    fn read(&self, one: bool) {
        if one && self.unread.count.fetch_sub(1, Ordering::AcqRel) == EVENT_QUEUE {
            // The driver may be waiting for this: the queue is below the mark.
            self.unread.room.notify_one();
        }
    }
}
