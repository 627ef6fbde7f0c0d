//! The INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026 §8.4's
//! Accepted state).
//!
//! ```text
//! Calling --1xx--> Proceeding --300-699 / send ACK--> Completed --Timer D--> Terminated
//!    |  \--2xx-----------+-----2xx---> Accepted --Timer M--> Terminated
//!    +--Timer B / transport error--> Terminated
//! ```

use super::build::{ack_for_non_2xx, cancel_for};
use super::config::{Timer, TimerConfig};
use super::core::{Core, core_accessors};
use super::error::TransactionError;
use super::event::TransactionEvent;
use super::key::TransactionKey;
use super::state::State;
use crate::message::{Method, Request, Response};
use std::time::{Duration, Instant};

/// An INVITE client transaction.
#[derive(Debug, Clone)]
pub struct ClientInviteTransaction {
    core: Core,
    /// The next Timer A interval.
    interval_a: Duration,
    /// The ACK sent for the final non-2xx response, resent for its retransmissions.
    ack: Option<Request>,
}

impl ClientInviteTransaction {
    /// Starts the transaction: the INVITE is queued for transmission, Timer B
    /// starts and, on unreliable transports, Timer A.
    pub fn new(now: Instant, request: Request, reliable: bool, config: &TimerConfig) -> Result<Self, TransactionError> {
        if request.method != Method::Invite {
            return Err(TransactionError::WrongMethod(request.method));
        }
        let key = TransactionKey::client(&request)?;
        // What the ACK and CANCEL will need (§17.1.1.3, §9.1).
        let h = &request.headers;
        h.cseq()?;
        h.call_id()?;
        h.from_addr()?;
        h.to_addr()?;
        let mut core = Core::new(key, request.clone(), reliable, config, State::Calling);
        core.send(request);
        if !reliable {
            core.start(Timer::A, now);
        }
        core.start(Timer::B, now);
        Ok(Self { core, interval_a: config.t1, ack: None })
    }

    core_accessors!();

    /// A response matched to this transaction (§17.1.3).
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        match self.core.state {
            State::Calling | State::Proceeding => {
                self.core.timers.stop(Timer::A);
                self.core.timers.stop(Timer::B);
                match response.status {
                    0..=199 => self.core.state = State::Proceeding,
                    200..=299 => {
                        self.core.state = State::Accepted;
                        self.core.start(Timer::M, now);
                    }
                    _ => {
                        match ack_for_non_2xx(&self.core.request, &response) {
                            Ok(ack) => {
                                self.core.send(ack.clone());
                                self.ack = Some(ack);
                            }
                            Err(e) => tracing::warn!(key = %self.core.key, error = %e, "cannot build the ACK"),
                        }
                        self.core.state = State::Completed;
                        self.core.start(Timer::D, now);
                    }
                }
                self.core.emit(TransactionEvent::Response(response));
            }
            // Retransmissions of the final response: ACK again, TU not told.
            State::Completed if response.status >= 300 => {
                if let Some(ack) = &self.ack {
                    self.core.send(ack.clone());
                }
            }
            // RFC 6026: every 2xx goes to the TU (retransmissions, other forks).
            State::Accepted if (200..300).contains(&response.status) => {
                self.core.emit(TransactionEvent::Response(response));
            }
            _ => {}
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.core.timers.take_expired(now) {
            match (timer, self.core.state) {
                (Timer::A, State::Calling) => {
                    self.core.send(self.core.request.clone());
                    self.interval_a = self.interval_a.saturating_mul(2);
                    self.core.start_after(Timer::A, now, self.interval_a);
                }
                (Timer::B, State::Calling) => {
                    self.core.emit(TransactionEvent::Timeout(Timer::B));
                    self.core.terminate();
                }
                (Timer::D, State::Completed) | (Timer::M, State::Accepted) => self.core.terminate(),
                _ => {}
            }
        }
    }

    /// The transport could not send the INVITE or the ACK (figure 5).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(self.core.state, State::Calling | State::Completed) {
            self.core.emit(TransactionEvent::TransportError);
            self.core.terminate();
        }
    }

    /// Builds the CANCEL for this INVITE (§9.1). It is allowed only in
    /// Proceeding: before a provisional response the CANCEL must wait, after a
    /// final one it is pointless. The CANCEL needs a client non-INVITE
    /// transaction of its own.
    pub fn cancel(&self) -> Result<Request, TransactionError> {
        match self.core.state {
            State::Proceeding => cancel_for(&self.core.request),
            other => Err(TransactionError::NotCancellable(other)),
        }
    }
}
