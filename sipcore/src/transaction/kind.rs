//! Any of the four transaction machines behind one type, for owners (such as
//! the layer) that keep them together.

use super::client_invite::ClientInviteTransaction;
use super::client_non_invite::ClientNonInviteTransaction;
use super::config::TimerConfig;
use super::error::TransactionError;
use super::event::TransactionEvent;
use super::key::TransactionKey;
use super::server_invite::ServerInviteTransaction;
use super::server_non_invite::ServerNonInviteTransaction;
use super::state::State;
use crate::message::{Message, Method, Request, Response};
use std::time::Instant;

/// One transaction of any kind.
#[derive(Debug, Clone)]
pub enum Transaction {
    ClientInvite(ClientInviteTransaction),
    ClientNonInvite(ClientNonInviteTransaction),
    ServerInvite(ServerInviteTransaction),
    ServerNonInvite(ServerNonInviteTransaction),
}

macro_rules! each {
    ($self:expr, $t:ident => $e:expr) => {
        match $self {
            Transaction::ClientInvite($t) => $e,
            Transaction::ClientNonInvite($t) => $e,
            Transaction::ServerInvite($t) => $e,
            Transaction::ServerNonInvite($t) => $e,
        }
    };
}

impl Transaction {
    /// A client transaction for a request the TU sends; the kind follows the method.
    pub fn client(now: Instant, request: Request, reliable: bool, config: &TimerConfig) -> Result<Self, TransactionError> {
        Ok(match request.method {
            Method::Invite => Self::ClientInvite(ClientInviteTransaction::new(now, request, reliable, config)?),
            _ => Self::ClientNonInvite(ClientNonInviteTransaction::new(now, request, reliable, config)?),
        })
    }

    /// The transaction's key.
    pub fn key(&self) -> &TransactionKey {
        each!(self, t => t.key())
    }

    /// The request that created the transaction.
    pub fn request(&self) -> &Request {
        each!(self, t => t.request())
    }

    /// The current state.
    pub fn state(&self) -> State {
        each!(self, t => t.state())
    }

    /// True over reliable transports.
    pub fn is_reliable(&self) -> bool {
        each!(self, t => t.is_reliable())
    }

    /// True for client transactions.
    pub fn is_client(&self) -> bool {
        matches!(self, Self::ClientInvite(_) | Self::ClientNonInvite(_))
    }

    /// A response for a client transaction; server transactions ignore it.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        match self {
            Self::ClientInvite(t) => t.handle_response(now, response),
            Self::ClientNonInvite(t) => t.handle_response(now, response),
            Self::ServerInvite(_) | Self::ServerNonInvite(_) => {}
        }
    }

    /// A request matched to a server transaction; client transactions ignore it.
    pub fn handle_request(&mut self, now: Instant, request: Request) {
        match self {
            Self::ServerInvite(t) => t.handle_request(now, request),
            Self::ServerNonInvite(t) => t.handle_request(now, request),
            Self::ClientInvite(_) | Self::ClientNonInvite(_) => {}
        }
    }

    /// A response from the TU on a server transaction.
    pub fn send_response(&mut self, now: Instant, response: Response) -> Result<(), TransactionError> {
        match self {
            Self::ServerInvite(t) => t.send_response(now, response),
            Self::ServerNonInvite(t) => t.send_response(now, response),
            Self::ClientInvite(_) | Self::ClientNonInvite(_) => Err(TransactionError::WrongKind(self.key().clone())),
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        each!(self, t => t.handle_timeout(now))
    }

    /// The transport failed to send this transaction's last message.
    pub fn handle_transport_error(&mut self, now: Instant) {
        each!(self, t => t.handle_transport_error(now))
    }

    /// The next message to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        each!(self, t => t.poll_transmit())
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        each!(self, t => t.poll_event())
    }

    /// The earliest pending timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        each!(self, t => t.poll_timeout())
    }
}
