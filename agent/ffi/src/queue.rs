//! The events waiting for the application, in order, with an eventfd that is
//! readable exactly while one waits (for poll/epoll/select loops), and room
//! kept as `agent::Events` keeps it: while [`MARK`] events wait unread, the
//! pump reads no more, so the agent takes no new work and nothing is dropped.

use crate::event::AgentEvent;
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Events waiting unread at which the pump stops reading from the agent.
pub(crate) const MARK: usize = 1024;

#[derive(Debug, Default)]
struct State {
    events: VecDeque<AgentEvent>,
    /// The agent has stopped: no more events will come.
    closed: bool,
}

/// What waiting for an event gave.
pub(crate) enum Next {
    Event(Box<AgentEvent>),
    Timeout,
    Closed,
}

#[derive(Debug)]
pub(crate) struct EventQueue {
    state: Mutex<State>,
    arrived: Condvar,
    fd: EventFd,
    room: Notify,
}

impl EventQueue {
    pub(crate) fn new() -> std::io::Result<Self> {
        let fd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(Self { state: Mutex::default(), arrived: Condvar::new(), fd, room: Notify::new() })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Queues one event (the fd turns readable if it was not).
    pub(crate) fn push(&self, ev: AgentEvent) {
        let mut s = self.lock();
        if s.events.is_empty() {
            let _ = self.fd.write(1);
        }
        s.events.push_back(ev);
        self.arrived.notify_all();
    }

    /// No more events will come (the fd stays readable: the end is news too).
    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        let _ = self.fd.write(1);
        self.arrived.notify_all();
    }

    /// Waits until fewer than [`MARK`] events wait unread.
    pub(crate) async fn room(&self) {
        while self.lock().events.len() >= MARK {
            self.room.notified().await;
        }
    }

    /// The next event, waiting up to `timeout` (None: for ever).
    pub(crate) fn next(&self, timeout: Option<Duration>) -> Next {
        let until = timeout.map(|t| Instant::now() + t);
        let mut s = self.lock();
        loop {
            if let Some(ev) = s.events.pop_front() {
                if s.events.is_empty() && !s.closed {
                    // Reads the counter back to zero: not readable until the next push.
                    let _ = self.fd.read();
                }
                if s.events.len() + 1 == MARK {
                    self.room.notify_one();
                }
                return Next::Event(Box::new(ev));
            }
            if s.closed {
                return Next::Closed;
            }
            s = match until {
                None => self.arrived.wait(s).unwrap_or_else(PoisonError::into_inner),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Next::Timeout;
                    }
                    self.arrived.wait_timeout(s, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }
}
