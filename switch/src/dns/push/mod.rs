//! Push mode: the switch keeps the operator's own authoritative DNS up to
//! date with the records the embedded server would answer, by RFC 2136
//! UPDATEs signed with TSIG (RFC 8945, HMAC-SHA256).
//!
//! The core marks a number in a bounded, coalescing queue whenever its
//! [`LocationView`](crate::dns::LocationView) entry changes (the same
//! [`Change`](crate::location::Change)s `Core::apply` writes, and new
//! subscriber snapshots); the pusher task takes batches, reads the view, and
//! for each number replaces its NAPTR RRset at the ENUM name and its TXT RRset
//! at `NUMBER._rl.ZONE` in one UPDATE (delete RRset + add: atomic). What is
//! pushed is [`records_for`](crate::dns::records_for) now, with every TTL at
//! `max_ttl`: a static zone cannot count a TTL down. At start every
//! provisioned number is pushed (a resynchronisation), and again whenever the
//! queue overflowed.
//!
//! An unreachable or refusing server never slows SIP: the core never waits
//! on the pusher; failed batches are retried with exponential back-off
//! (1 s … 30 s) and one log line is written per change of the link's state.
//!
//! - [`config`]: `[dns.update]`, the key's secret from a file or the environment.
//! - [`queue`]: the sans-IO state: queue, batches, back-off, link state.
//! - [`message`]: UPDATE messages and their answers, sans-IO (TSIG via hickory).
//! - [`failure`]: why an UPDATE failed, as logged.
//! - [`sink`]: the queue shared with the core.
//! - [`driver`]: the tokio task and its sockets.

pub mod config;
pub mod driver;
pub mod failure;
pub mod message;
pub mod queue;
pub mod sink;

#[cfg(test)]
mod tests;

pub use config::{PushConfig, TsigKeySettings, UpdateSettings};
pub use driver::spawn;
pub use failure::Failure;
pub use queue::{LinkEvent, Output, PushQueue};
pub use sink::PushSink;
