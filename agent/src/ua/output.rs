//! What the core asks its driver to do ([`Output`]).

use crate::call::MediaCommand;
use sipcore::Message;
use sipcore::transport::FlowId;
use std::net::IpAddr;

/// What the core asks of its driver (drained with [`super::UserAgent::poll_output`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Open a new flow to the switch; answer with `handle_connected` or
    /// `handle_connect_failed`.
    Connect,
    /// Write a message on the flow; a failure goes to `handle_send_failed`.
    Send {
        /// The flow.
        flow: FlowId,
        /// The message.
        message: Message,
    },
    /// Write an RFC 5626 `CRLF CRLF` keep-alive ping on the flow; the pong
    /// goes to `handle_pong`.
    Ping {
        /// The flow.
        flow: FlowId,
    },
    /// Close the flow.
    Close {
        /// The flow.
        flow: FlowId,
    },
    /// Run the configured external discovery (STUN or HTTP) from `local`;
    /// answer with `handle_public_ip`.
    Discover {
        /// The flow's local address, to send from.
        local: Option<IpAddr>,
    },
    /// Work for the call's bearer (RTP): bind, start, move or close it, and
    /// say how it went with the matching `handle_media_*`.
    Media(MediaCommand),
}
