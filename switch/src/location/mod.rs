//! The location core of the registrar: the "dynamic DNS" of the design — where
//! every registered number's phone is now, and where its calls go when the
//! phone cannot be reached. Sans-IO: time is an [`Instant`](std::time::Instant)
//! argument (the switch's one monotonic clock: a wall-clock step moves no
//! deadline), flows are named by the transport, and every mutation returns the
//! [`Change`]s the driver persists (SQLite) and logs, one line per change.
//!
//! # One record per number
//!
//! A number has at most one RL record (the patent's model, not RFC 3261's many
//! bindings per AOR). A [`Registration`] (one accepted REGISTER) is:
//! - **new** when there is no record or it is not live (`SignallingDropped`;
//!   expired records are already gone);
//! - from the **same device** — same `+sip.instance`, else same X-MAC, else
//!   same Call-ID, else (plain phones with neither) the same flow — a
//!   **refresh** on the same flow, or **roaming** on a new flow: the new flow
//!   replaces the old one, which is closed unless another number still uses it;
//! - from a **different device** while the record is live (on a flow that was
//!   never unregistered, closed or found silent): **conflict**. The record keeps
//!   the original device's flow and facts and goes to `Conflict` (calls go home),
//!   the challenger is noted, and the REGISTER is refused with 403. Only a
//!   TCP/TLS flow can be provably live: over UDP the newer registration simply
//!   replaces the old one (**new**), or a rebooted phone would be locked out.
//!   The registrar asks [`LocationTable::would_conflict`] first: while someone
//!   is guessing the number's password, another device's REGISTER could be a
//!   guess that hit, and it does not get this far (nothing changes).
//!
//! # Leaving `Conflict`
//!
//! A conflict lasts exactly as long as the original registration: refreshes
//! (and roaming) by the original device keep the record in `Conflict`. It ends
//! when that registration ends — unregistered (record removed), its flow closed
//! or silent (record `SignallingDropped`), or its TTL run out (record removed) —
//! and the next REGISTER, from whichever device, is then a new registration.
//! `Contact: *` (authenticated for the number) also removes it.
//!
//! # Expiry and tombstones
//!
//! A record is dead at exactly `expires_at`: [`LocationTable::handle_timeout`]
//! removes it (a `Removed` change: delete from the store) and keeps it in
//! memory as a tombstone for [`LocationConfig::tombstone_for`] seconds (one hour
//! by default), so [`route`] answers `TtlExpired` rather than `NotRegistered`.
//! Tombstones are never stored: after a restart, or once purged, the number is
//! simply `NotRegistered`. A new registration clears the tombstone.
//!
//! # Flow liveness
//!
//! For records registered with RFC 5626 outbound, a flow with no traffic for
//! `flow_timer + grace` seconds is dead at exactly that instant: the driver is
//! told to close it and its records become `SignallingDropped`. Flows carrying
//! only non-outbound registrations are never timed out (their TTL is the limit).
//!
//! # Flows
//!
//! A flow is keyed by its id *and* remote address: a UDP socket's `FlowId`
//! is shared by every peer on it, so [`LocationTable::flow_activity`] takes the
//! whole `Flow`, while [`LocationTable::flow_closed`] takes an id and drops
//! every registration on it (a connection, or a whole UDP socket). Several
//! numbers may share one flow (a phone with two lines): a flow is closed or
//! forgotten only once no registration is left on it.
//!
//! # Not here
//!
//! Authentication, the provisioned-MAC check ([`Subscriber::mac`](crate::record::Subscriber))
//! and the expiry range ([`grant_expires`], run before [`LocationTable::register`])
//! belong to the registrar in front of this table.
//!
//! # Restart
//!
//! [`LocationTable::load`] drops expired records and marks every other one
//! `SignallingDropped` with no flow; the phones have until their TTL to return.

mod change;
mod config;
mod flow_numbers;
mod flows;
mod registration;
mod route;
mod table;

pub use change::{Cause, Challenger, Change};
pub use config::{LocationConfig, TooBrief, grant_expires};
pub use registration::{Registration, Unregistration};
pub use route::{HomeReason, Route, route};
pub use table::{LocationTable, Refusal, RegisterKind, RegisterOutcome};
