//! The parts every transaction machine shares: its key and request, the
//! transport kind, timers and the output queues the `poll_*` methods drain.

use super::config::{Timer, TimerConfig};
use super::event::TransactionEvent;
use super::key::TransactionKey;
use super::state::State;
use super::timers::Timers;
use crate::message::{Message, Request};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct Core {
    pub(crate) key: TransactionKey,
    pub(crate) request: Request,
    pub(crate) reliable: bool,
    pub(crate) config: TimerConfig,
    pub(crate) state: State,
    pub(crate) timers: Timers,
    transmits: VecDeque<Message>,
    events: VecDeque<TransactionEvent>,
}

impl Core {
    pub(crate) fn new(key: TransactionKey, request: Request, reliable: bool, config: &TimerConfig, state: State) -> Self {
        Self {
            key,
            request,
            reliable,
            config: *config,
            state,
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts `timer` with its standard length.
    pub(crate) fn start(&mut self, timer: Timer, now: Instant) {
        let d = timer.duration(&self.config, self.reliable);
        self.timers.start(timer, now, d);
    }

    /// Starts `timer` with an explicit length (retransmission back-off).
    pub(crate) fn start_after(&mut self, timer: Timer, now: Instant, after: Duration) {
        self.timers.start(timer, now, after);
    }

    pub(crate) fn send(&mut self, msg: impl Into<Message>) {
        self.transmits.push_back(msg.into());
    }

    pub(crate) fn emit(&mut self, event: TransactionEvent) {
        self.events.push_back(event);
    }

    /// Moves to Terminated: stops every timer and queues the Terminated event.
    pub(crate) fn terminate(&mut self) {
        if self.state != State::Terminated {
            self.state = State::Terminated;
            self.timers.clear();
            self.events.push_back(TransactionEvent::Terminated);
        }
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Message> {
        self.transmits.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.events.pop_front()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }
}

/// The next retransmission interval of Timers E and G: doubled, capped at T2.
pub(crate) fn backoff(interval: Duration, t2: Duration) -> Duration {
    interval.saturating_mul(2).min(t2)
}

/// The accessors and `poll_*` methods every machine exposes, forwarded to its `core`.
macro_rules! core_accessors {
    () => {
        /// The transaction's key.
        pub fn key(&self) -> &$crate::transaction::TransactionKey {
            &self.core.key
        }

        /// The request that created the transaction.
        pub fn request(&self) -> &$crate::message::Request {
            &self.core.request
        }

        /// The current state.
        pub fn state(&self) -> $crate::transaction::State {
            self.core.state
        }

        /// True when the transaction runs over a reliable transport (TCP, TLS …).
        pub fn is_reliable(&self) -> bool {
            self.core.reliable
        }

        /// The next message to put on the wire (requests, retransmissions, ACKs, responses).
        pub fn poll_transmit(&mut self) -> Option<$crate::message::Message> {
            self.core.poll_transmit()
        }

        /// The next event for the TU.
        pub fn poll_event(&mut self) -> Option<$crate::transaction::TransactionEvent> {
            self.core.poll_event()
        }

        /// The earliest pending timer; call `handle_timeout` then.
        pub fn poll_timeout(&self) -> Option<std::time::Instant> {
            self.core.poll_timeout()
        }
    };
}
pub(crate) use core_accessors;
