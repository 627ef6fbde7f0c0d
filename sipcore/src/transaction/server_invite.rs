//! The INVITE server transaction (RFC 3261 §17.2.1, with RFC 6026 §7.1 and
//! §8.5–8.7: the Accepted state and Timer L).
//!
//! ```text
//! Proceeding --2xx from TU--> Accepted --Timer L--> Terminated
//!     |  --300-699 from TU--> Completed --ACK--> Confirmed --Timer I--> Terminated
//!     |                           +--Timer H--> Terminated (TU told)
//! ```
//!
//! `100 Trying`: the transaction sends one itself when the TU has sent no
//! response [`TRYING_DELAY`](super::config::TRYING_DELAY) (200 ms) after the
//! INVITE arrived, or earlier when a retransmission of the INVITE arrives
//! before the TU said anything. A TU that answers at once (a quick rejection,
//! a redirect) thus causes no needless 100, and the client's first Timer A
//! retransmission (T1 = 500 ms) still finds the 100 sent.
//!
//! A transport error is reported to the TU but does not end the transaction
//! (RFC 6026 §7.1: its timers will).

use super::build::trying_for;
use super::config::{Timer, TimerConfig};
use super::core::{Core, backoff, core_accessors};
use super::error::TransactionError;
use super::event::TransactionEvent;
use super::key::TransactionKey;
use super::state::State;
use crate::message::{Method, Request, Response};
use std::time::{Duration, Instant};

/// An INVITE server transaction.
#[derive(Debug, Clone)]
pub struct ServerInviteTransaction {
    core: Core,
    /// The latest provisional response (from the TU, or our own 100).
    provisional: Option<Response>,
    /// The final 300–699 response, retransmitted by Timer G and on INVITE retransmissions.
    final_response: Option<Response>,
    /// The next Timer G interval.
    interval_g: Duration,
}

impl ServerInviteTransaction {
    /// Creates the transaction for a received INVITE, in Proceeding, with the
    /// 100 Trying timer running. `key` is the request's
    /// (`TransactionKey::server`), which the caller computed to look for a
    /// transaction the request belongs to.
    pub fn new(
        now: Instant,
        key: TransactionKey,
        request: Request,
        reliable: bool,
        config: &TimerConfig,
    ) -> Result<Self, TransactionError> {
        if request.method != Method::Invite {
            return Err(TransactionError::WrongMethod(request.method));
        }
        let mut core = Core::new(key, request, reliable, config, State::Proceeding);
        core.start(Timer::Trying, now);
        Ok(Self { core, provisional: None, final_response: None, interval_g: config.t1 })
    }

    core_accessors!();

    /// The final response sent, if any (2xx included).
    pub fn final_response(&self) -> Option<&Response> {
        self.final_response.as_ref()
    }

    fn send_trying(&mut self) {
        let trying = trying_for(&self.core.request);
        self.core.timers.stop(Timer::Trying);
        self.core.send(trying.clone());
        self.provisional = Some(trying);
    }

    /// A request matched to this transaction: a retransmitted INVITE or an ACK.
    pub fn handle_request(&mut self, now: Instant, request: Request) {
        match (&request.method, self.core.state) {
            (Method::Invite, State::Proceeding) => match &self.provisional {
                Some(p) => self.core.send(p.clone()),
                None => self.send_trying(),
            },
            (Method::Invite, State::Completed) => {
                if let Some(f) = &self.final_response {
                    self.core.send(f.clone());
                }
            }
            (Method::Ack, State::Completed) => {
                self.core.timers.stop(Timer::G);
                self.core.timers.stop(Timer::H);
                self.core.state = State::Confirmed;
                self.core.start(Timer::I, now);
            }
            (Method::Ack, State::Accepted) => self.core.emit(TransactionEvent::Ack(request)),
            // Accepted and Confirmed absorb INVITE retransmissions; Confirmed
            // absorbs ACK retransmissions.
            _ => {}
        }
    }

    /// A response from the TU.
    pub fn send_response(&mut self, now: Instant, response: Response) -> Result<(), TransactionError> {
        let status = response.status;
        match (self.core.state, status) {
            (State::Proceeding, 100..=199) => {
                self.core.timers.stop(Timer::Trying);
                self.provisional = Some(response.clone());
                self.core.send(response);
            }
            (State::Proceeding, 200..=299) => {
                self.core.timers.stop(Timer::Trying);
                self.final_response = Some(response.clone());
                self.core.send(response);
                self.core.state = State::Accepted;
                self.core.start(Timer::L, now);
            }
            (State::Proceeding, 300..=699) => {
                self.core.timers.stop(Timer::Trying);
                self.final_response = Some(response.clone());
                self.core.send(response);
                self.core.state = State::Completed;
                if !self.core.reliable {
                    self.core.start(Timer::G, now);
                }
                self.core.start(Timer::H, now);
            }
            // RFC 6026 §8.7: the TU retransmits its 2xx through the transaction.
            (State::Accepted, 200..=299) => self.core.send(response),
            (state, status) => return Err(TransactionError::InvalidResponse { status, state }),
        }
        Ok(())
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.core.timers.take_expired(now) {
            match (timer, self.core.state) {
                (Timer::Trying, State::Proceeding) if self.provisional.is_none() => self.send_trying(),
                (Timer::G, State::Completed) => {
                    if let Some(f) = &self.final_response {
                        self.core.send(f.clone());
                    }
                    self.interval_g = backoff(self.interval_g, self.core.config.t2);
                    self.core.start_after(Timer::G, now, self.interval_g);
                }
                (Timer::H, State::Completed) => {
                    self.core.emit(TransactionEvent::Timeout(Timer::H));
                    self.core.terminate();
                }
                (Timer::I, State::Confirmed) | (Timer::L, State::Accepted) => self.core.terminate(),
                _ => {}
            }
        }
    }

    /// The transport could not send a response: the TU is told, the state
    /// stays (RFC 6026 §7.1).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.core.state != State::Terminated {
            self.core.emit(TransactionEvent::TransportError);
        }
    }
}
