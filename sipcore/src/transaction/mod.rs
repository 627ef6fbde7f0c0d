//! The SIP transaction layer (RFC 3261 §17, with the RFC 6026 corrections),
//! sans-IO.
//!
//! Each machine takes time as an argument and never reads a clock or touches a
//! socket: feed it with `handle_*`, drain it with `poll_transmit` (what to put
//! on the wire, retransmissions included), `poll_event` (what the TU must
//! know) and `poll_timeout` (when to call `handle_timeout` next).
//!
//! - [`ClientInviteTransaction`], [`ClientNonInviteTransaction`],
//!   [`ServerInviteTransaction`], [`ServerNonInviteTransaction`]: the four
//!   machines of §17.1.1, §17.1.2, §17.2.1 and §17.2.2.
//! - [`TransactionKey`]: matching (§17.1.3, §17.2.3, including the pre-3261 rule).
//! - [`TransactionLayer`]: owns transactions by key and routes messages to them.
//! - [`TimerConfig`] / [`Timer`]: T1, T2, T4 and the timers derived from them.
//!
//! Choices where the RFCs leave room:
//! - A server INVITE transaction sends `100 Trying` itself when the TU has not
//!   responded within 200 ms ([`TRYING_DELAY`]), or at once when the INVITE is
//!   retransmitted before that (§17.2.1 allows either).
//! - Zero-length timers (D, I, J, K on reliable transports) are still timers:
//!   the state moves on at the next `handle_timeout(now)`, which
//!   `poll_timeout` asks for at once.
//! - Stray responses are dropped (RFC 6026 §8.9) unless the layer is built for
//!   a stateless proxy ([`TransactionLayer::with_stray_responses`]).
//! - A server INVITE transaction reports transport errors but keeps its state
//!   (RFC 6026 §7.1); the other machines terminate as RFC 3261's figures say.

mod build;
mod client_invite;
mod client_non_invite;
mod config;
mod core;
mod error;
mod event;
mod key;
mod kind;
mod layer;
mod server_invite;
mod server_non_invite;
mod state;
mod timers;

#[cfg(test)]
mod tests;

pub use build::{ack_for_non_2xx, cancel_for, trying_for};
pub use client_invite::ClientInviteTransaction;
pub use client_non_invite::ClientNonInviteTransaction;
pub use config::{TIMER_D_MIN, TRYING_DELAY, Timer, TimerConfig};
pub use error::TransactionError;
pub use event::TransactionEvent;
pub use key::{BRANCH_COOKIE, LegacyKey, TransactionKey};
pub use kind::Transaction;
pub use layer::{LayerEvent, TransactionLayer, Transmit};
pub use server_invite::ServerInviteTransaction;
pub use server_non_invite::ServerNonInviteTransaction;
pub use state::State;
