//! The non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//! Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated
//!   \--200-699 from TU--------------------------------------^
//! ```

use super::config::{Timer, TimerConfig};
use super::core::{Core, core_accessors};
use super::error::TransactionError;
use super::event::TransactionEvent;
use super::key::TransactionKey;
use super::state::State;
use crate::message::{Method, Request, Response};
use std::time::Instant;

/// A non-INVITE server transaction (also used for CANCEL).
#[derive(Debug, Clone)]
pub struct ServerNonInviteTransaction {
    core: Core,
    /// The latest response sent: retransmitted when the request is.
    last_response: Option<Response>,
}

impl ServerNonInviteTransaction {
    /// Creates the transaction for a received request, in Trying. `key` is the request's
    /// (`TransactionKey::server`), which the caller computed to look for a
    /// transaction the request belongs to.
    pub fn new(
        _now: Instant,
        key: TransactionKey,
        request: Request,
        reliable: bool,
        config: &TimerConfig,
    ) -> Result<Self, TransactionError> {
        match request.method {
            Method::Ack => return Err(TransactionError::AckTransaction),
            Method::Invite => return Err(TransactionError::WrongMethod(Method::Invite)),
            _ => {}
        }
        Ok(Self { core: Core::new(key, request, reliable, config, State::Trying), last_response: None })
    }

    core_accessors!();

    /// The final response sent, while the transaction is Completed (over an
    /// unreliable transport; on a reliable one the final response ends it).
    pub fn final_response(&self) -> Option<&Response> {
        self.last_response.as_ref().filter(|r| r.status >= 200)
    }

    /// A retransmission of the request: absorbed in Trying, answered with the
    /// latest response in Proceeding and Completed.
    pub fn handle_request(&mut self, _now: Instant, _request: Request) {
        if matches!(self.core.state, State::Proceeding | State::Completed)
            && let Some(r) = &self.last_response
        {
            self.core.send(r.clone());
        }
    }

    /// A response from the TU.
    pub fn send_response(&mut self, now: Instant, response: Response) -> Result<(), TransactionError> {
        let status = response.status;
        match (self.core.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => self.core.state = State::Proceeding,
            // Timer J is zero on a reliable transport (§17.2.2: no request
            // retransmissions to absorb), so the transaction ends with its
            // final response, not at a timer that fires at once: that saved
            // a turn of the TU's timer loop per request (issue 17).
            (State::Trying | State::Proceeding, 200..=699) if self.core.reliable => {
                self.core.send(response);
                self.core.terminate();
                return Ok(());
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                self.core.state = State::Completed;
                self.core.start(Timer::J, now);
            }
            (state, status) => return Err(TransactionError::InvalidResponse { status, state }),
        }
        self.last_response = Some(response.clone());
        self.core.send(response);
        Ok(())
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.core.timers.take_expired(now) {
            if (timer, self.core.state) == (Timer::J, State::Completed) {
                self.core.terminate();
            }
        }
    }

    /// The transport could not send a response (figure 8).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(self.core.state, State::Proceeding | State::Completed) {
            self.core.emit(TransactionEvent::TransportError);
            self.core.terminate();
        }
    }
}
