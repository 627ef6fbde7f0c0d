//! The softswitch library: listener set-up, the registrar and its stores, and
//! the request dispatcher the binary runs.

pub mod listen;
pub mod location;
pub mod record;
pub mod server;
