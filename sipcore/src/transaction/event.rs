//! What a transaction tells its TU.

use super::config::Timer;
use crate::message::{Request, Response};

/// An event for the transaction user, read with `poll_event()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionEvent {
    /// Client transactions: a response for the TU — provisional, final, and
    /// in the RFC 6026 Accepted state every further 2xx (retransmissions and
    /// 2xx from other forks).
    Response(Response),
    /// Server INVITE transaction in the RFC 6026 Accepted state: an ACK that
    /// matched the transaction (the TU's dialog layer consumes it).
    Ack(Request),
    /// Timer B or F (client: treat as a 408 Request Timeout, RFC 3261 §8.1.3.1)
    /// or Timer H (server: the ACK never came).
    Timeout(Timer),
    /// The transport reported a fatal error for this transaction.
    TransportError,
    /// The transaction reached Terminated; it is the last event.
    Terminated,
}
