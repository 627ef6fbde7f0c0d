//! The registrar (RFC 3261 §10.3, RFC 5626 §6): authenticates REGISTERs, keeps
//! the remote-location table and answers. A part of the switch core, sans-IO:
//! the core passes in the time, the flow and the subscriber it looked up, and
//! hands the changes this returns (store, close flows, log) to its driver.

mod auth;
mod digest_uri;
mod error;
mod register;
mod reply;

pub use error::RegisterError;
pub use register::{Outcome, Registrar, RegistrarConfig};
