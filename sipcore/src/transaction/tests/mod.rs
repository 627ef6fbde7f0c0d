//! Transaction layer tests, all on virtual time: a base `Instant` captured
//! once and moved by adding durations. Nothing sleeps.

mod build;
mod client_invite;
mod client_non_invite;
mod key;
mod layer;
mod pair;
mod server_invite;
mod server_non_invite;
mod support;
