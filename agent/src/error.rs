//! The agent's one error type, and the detail of why a flow could not be opened.

use crate::config::SwitchAddr;
use media::endpoint::EndpointError;
use sipcore::transaction::TransactionError;
use sipcore::transport::TransportError;
use sipcore::{StatusCode, ToStatus};
use std::net::SocketAddr;
use std::time::Duration;

/// Why an agent operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is malformed or missing.
    #[error("configuration: {0}")]
    Config(String),
    /// The agent task has ended (stopped, or never started).
    #[error("the agent has stopped")]
    Stopped,
    /// A response named a request whose flow is gone (the flow was replaced).
    #[error("the flow that request came on is gone")]
    FlowGone,
    /// The transaction layer refused (e.g. the request was already answered).
    #[error("transaction: {0}")]
    Transaction(#[from] TransactionError),
    /// A call operation was refused.
    #[error("call: {0}")]
    Call(#[from] crate::call::CallError),
    /// The call's media failed: its bearer could not be bound or started, or
    /// the SDP was unusable.
    #[error("media: {0}")]
    Media(#[from] EndpointError),
    /// No flow to the switch could be opened.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Public IP discovery failed.
    #[error("public IP discovery: {0}")]
    Discovery(String),
    /// A local I/O call failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// An error that ends a request of the switch's (a call we cannot take) is
/// answered with this status: 488 for an offer we cannot use, 500 for our own
/// trouble.
impl ToStatus for Error {
    fn status(&self) -> StatusCode {
        match self {
            Error::Media(e) => e.status(),
            _ => StatusCode::SERVER_INTERNAL_ERROR,
        }
    }
}

/// Why a flow to the switch could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The switch's name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// What the resolver said.
        source: std::io::Error,
    },
    /// The switch's name resolved to nothing.
    #[error("{host} resolves to no address")]
    NoAddress {
        /// The name.
        host: String,
    },
    /// Every address refused or failed; this is the last one's failure.
    #[error("{addr}: {source}")]
    Open {
        /// The address tried last.
        addr: SocketAddr,
        /// Why it failed (TCP, or the TLS handshake and certificate check:
        /// [`TransportError::NotPinned`] for a certificate other than the
        /// pinned one).
        source: TransportError,
    },
    /// A `tls:` switch without a CA certificate or a pinned fingerprint to
    /// check it against.
    #[error("TLS needs a CA certificate or a pinned fingerprint")]
    NoCa,
    /// Resolution, TCP and TLS together took too long.
    #[error("no connection to {switch} within {after:?}")]
    Timeout {
        /// The switch.
        switch: SwitchAddr,
        /// The time allowed.
        after: Duration,
    },
}
