//! The embedded authoritative DNS server: ENUM NAPTRs and RL TXT records
//! answered from the live location state, plus the switch's own RFC 3263
//! records.
//!
//! # Where the answers come from
//!
//! The switch core is one task that owns the [`LocationTable`](crate::location::LocationTable);
//! a DNS flood must never slow it, and no copy of the records may go stale. So
//! the core keeps a [`LocationView`] — a concurrent map (`dashmap`) keyed by
//! number holding the provisioned home URI and the facts of the number's
//! record with its expiry [`Instant`](std::time::Instant) — and writes it at
//! the very point the table changes: every table mutation returns the
//! [`Change`](crate::location::Change)s the core queues for its driver, and
//! `Core::apply` writes each one to the view before it queues it; a new
//! subscriber snapshot rewrites the provisioned part in the same call that
//! deprovisions the table's records. DNS tasks only read the view (sharded
//! read locks, never the core's task), and the TTL is computed per query from
//! the stored expiry and the query's `Instant`, so a record whose TTL ran out
//! is gone from DNS at that instant even before the core's timer fires.
//!
//! Passing every query into the core loop was the alternative: exact, but a
//! DNS flood would queue in front of SIP. The view lags the table only where
//! the table itself lags its clock: a flow silent past its deadline counts as
//! live until the core's timer processes it (the driver wakes at that
//! deadline), the same instant `switch route` changes.
//!
//! # Parts
//!
//! - [`view`]: the read view and its facts.
//! - [`enum_name`]: number ↔ ENUM name (RFC 6116 §2.4).
//! - [`number`]: [`records_for`], "the records for number N now" (NAPTRs and
//!   the RL TXT), shared with [`push`].
//! - [`zone`]: the switch's own records (SOA, NS, NAPTR, SRV, A/AAAA).
//! - [`answer`]: one question → rcode and sections (sans-IO).
//! - [`message`]: one parsed request → the response (opcode, EDNS, FORMERR).
//! - [`wire`]: bytes in, bytes out (FORMERR, TC), for our TCP loop and the fuzz target.
//! - [`server`]: the listeners: hickory-server's UDP loop around our request
//!   handler, and [`tcp`], our TCP loop with connection limits.
//! - [`push`]: push mode: the same records sent to the operator's own DNS
//!   as TSIG-signed RFC 2136 UPDATEs.
//! - [`fixture`]: the fixed world of the tests and the fuzz target.

pub mod answer;
mod config;
pub mod enum_name;
pub mod fixture;
pub mod message;
pub mod number;
pub mod push;
pub mod server;
pub mod tcp;
pub mod view;
pub mod wire;
pub mod zone;

#[cfg(test)]
mod tests;

pub use config::DnsConfig;
pub use number::{NumberRecords, records_for};
pub use view::{Facts, LocationView, Published};
