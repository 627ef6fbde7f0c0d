//! The switch library's one error type. Module-level detail enums (the
//! store's [`StoreError`], the registrar's and the B2BUA's refusals) ride
//! along as variant payloads. Where one ends a SIP request, it becomes the
//! response through sipcore's [`ToStatus`], the one way an error becomes a
//! status; the binary turns any of them into one line on stderr.

use crate::b2bua::CallError;
use crate::registrar::RegisterError;
use crate::store::StoreError;
use sipcore::transport::TransportError;
use sipcore::{StatusCode, ToStatus};
use std::net::SocketAddr;
use std::time::Duration;

/// What can go wrong in the switch library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store's last write failed and none has succeeded since: nothing
    /// that needs a write is taken until one does.
    #[error("the store cannot take writes")]
    StoreUnavailable,
    /// A setting that cannot work; the text names it and says why.
    #[error("{0}")]
    Config(String),
    /// A REGISTER (or a call's credentials) refused.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// A call refused or failed before it was answered.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Too much waits already (the text says for what).
    #[error("{0}")]
    Overloaded(&'static str),
    /// A self-check found two indexes that disagree (tests and debug
    /// assertions); the text says which.
    #[error("invariant broken: {0}")]
    Invariant(String),
    /// The flow to a home location could not be found.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A thread or socket of the driver could not be set up.
    #[error("{what}: {source}")]
    Io { what: &'static str, source: std::io::Error },
}

impl ToStatus for Error {
    fn status(&self) -> StatusCode {
        match self {
            Error::Register(e) => e.status(),
            Error::Call(e) => e.status(),
            Error::Overloaded(_) | Error::Store(_) | Error::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::SERVER_INTERNAL_ERROR,
        }
    }

    fn reason(&self) -> String {
        match self {
            Error::Register(e) => e.reason(),
            Error::Call(e) => e.reason(),
            Error::Store(_) | Error::StoreUnavailable => format!("{} (store unavailable)", self.status().reason()),
            Error::Overloaded(why) => format!("{} ({why})", self.status().reason()),
            _ => self.status().reason().to_owned(),
        }
    }
}

/// How long a client refused because of the store is asked to wait before it
/// tries again (`Retry-After`, RFC 3261 §20.33). Short, because the switch
/// recovers on the first write that succeeds and a phone should be back within
/// seconds of its store; not shorter, so that every phone of a node does not
/// retry in a tight loop against a store that is still down.
pub const STORE_RETRY_AFTER_SECS: u32 = 5;

impl Error {
    /// The `Retry-After` a response refusing a request for this error
    /// carries, if any: only when waiting can help (the store comes back).
    pub fn retry_after(&self) -> Option<u32> {
        matches!(self, Error::Store(_) | Error::StoreUnavailable).then_some(STORE_RETRY_AFTER_SECS)
    }
}

/// Why the flow to a home location (a host name, or TCP) could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host name did not resolve.
    #[error("{host}: {source}")]
    Resolve { host: String, source: std::io::Error },
    /// It resolved to nothing.
    #[error("{host}: no address")]
    NoAddress { host: String },
    /// None of its addresses is of a family one of our UDP listeners has.
    #[error("{host}: no address we can reach over UDP")]
    NoUdpListener { host: String },
    /// The TCP connection failed (to the last address tried).
    #[error("{remote}: {source}")]
    Connect { remote: SocketAddr, source: TransportError },
    /// Resolving and connecting took too long.
    #[error("{host}:{port} not reached in {after:?}")]
    Timeout { host: String, port: u16, after: Duration },
    /// `transport=tls` home locations are not supported.
    #[error("TLS home locations are not supported")]
    Tls,
}

/// The switch library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
