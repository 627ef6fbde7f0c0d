//! `sipcore`: the SIP protocol core shared by the switch and the agent.
//!
//! Sans-IO where it can be: the message model, parser and printer, stream framing,
//! the transaction layer and digest auth are plain data and state machines; only
//! `transport` touches sockets.

pub mod auth;
mod chars;
pub mod dialog;
pub mod error;
pub mod framing;
pub mod headers;
pub mod message;
pub mod stun;
pub mod text;
pub mod transaction;
pub mod transport;

pub use error::{Error, ErrorKind, ParseError, ToStatus};
pub use message::{Header, HeaderName, Headers, Host, Message, Method, Request, Response, Scheme, StatusCode, Uri, parse};
