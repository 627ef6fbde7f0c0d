//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//! Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
//!   |  \--200-699-------------------------^
//!   +--Timer F / transport error (also from Proceeding)--> Terminated
//! ```

use super::config::{Timer, TimerConfig};
use super::core::{Core, backoff, core_accessors};
use super::error::TransactionError;
use super::event::TransactionEvent;
use super::key::TransactionKey;
use super::state::State;
use crate::message::{Method, Request, Response};
use std::time::{Duration, Instant};

/// A non-INVITE client transaction (also used for CANCEL).
#[derive(Debug, Clone)]
pub struct ClientNonInviteTransaction {
    core: Core,
    /// The next Timer E interval.
    interval_e: Duration,
}

impl ClientNonInviteTransaction {
    /// Starts the transaction: the request is queued for transmission, Timer F
    /// starts and, on unreliable transports, Timer E.
    pub fn new(now: Instant, request: Request, reliable: bool, config: &TimerConfig) -> Result<Self, TransactionError> {
        match request.method {
            Method::Ack => return Err(TransactionError::AckTransaction),
            Method::Invite => return Err(TransactionError::WrongMethod(Method::Invite)),
            _ => {}
        }
        let key = TransactionKey::client(&request)?;
        let mut core = Core::new(key, request.clone(), reliable, config, State::Trying);
        core.send(request);
        if !reliable {
            core.start(Timer::E, now);
        }
        core.start(Timer::F, now);
        Ok(Self { core, interval_e: config.t1 })
    }

    core_accessors!();

    /// A response matched to this transaction (§17.1.3).
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        if !matches!(self.core.state, State::Trying | State::Proceeding) {
            // Completed absorbs retransmissions of the final response.
            return;
        }
        if response.status < 200 {
            self.core.state = State::Proceeding;
        } else {
            self.core.timers.stop(Timer::E);
            self.core.timers.stop(Timer::F);
            self.core.state = State::Completed;
            self.core.start(Timer::K, now);
        }
        self.core.emit(TransactionEvent::Response(response));
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.core.timers.take_expired(now) {
            match (timer, self.core.state) {
                (Timer::E, State::Trying | State::Proceeding) => {
                    self.core.send(self.core.request.clone());
                    // Trying: double up to T2; Proceeding: always T2 (§17.1.2.2).
                    self.interval_e = match self.core.state {
                        State::Trying => backoff(self.interval_e, self.core.config.t2),
                        _ => self.core.config.t2,
                    };
                    self.core.start_after(Timer::E, now, self.interval_e);
                }
                (Timer::F, State::Trying | State::Proceeding) => {
                    self.core.emit(TransactionEvent::Timeout(Timer::F));
                    self.core.terminate();
                }
                (Timer::K, State::Completed) => self.core.terminate(),
                _ => {}
            }
        }
    }

    /// The transport could not send the request (figure 6).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(self.core.state, State::Trying | State::Proceeding) {
            self.core.emit(TransactionEvent::TransportError);
            self.core.terminate();
        }
    }
}
