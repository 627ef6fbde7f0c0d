//! The registrar (RFC 3261 §10.3, RFC 5626 §6): authenticates REGISTERs, keeps
//! the remote-location table and answers. Sans-IO: the driver passes in the
//! clock, the flow and the subscriber it looked up, and applies the changes
//! (persist, close flows, log) this returns.

mod error;
mod register;
mod reply;

pub use error::RegisterError;
pub use register::{Outcome, Registrar, RegistrarConfig};
