//! A tap on the transport: every SIP message it hands on or sends, as the
//! bytes on the wire (after TLS decryption, before encryption). The one place
//! both directions pass, so a tracer (the switch's HEP) sees the real bytes
//! and addresses without a hook at each call site.

use super::Flow;
use crate::message::Message;
use bytes::Bytes;

/// Which way a tapped message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from `flow.remote` on `flow.local`.
    In,
    /// Sent from `flow.local` to `flow.remote`.
    Out,
}

/// Sees messages as they pass. Called on the transport's reader tasks and on
/// whoever sends, so it must return at once: never block, never wait.
pub trait Tap: Send + Sync + 'static {
    /// `bytes` is the whole message as framed (received) or written (sent);
    /// `message` its parse, for what a tracer files it under (the Call-ID).
    /// A received request is shown before `received`/`rport` are stamped.
    fn message(&self, direction: Direction, flow: &Flow, message: &Message, bytes: &Bytes);
}
