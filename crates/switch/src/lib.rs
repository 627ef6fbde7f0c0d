//! The softswitch library: listener set-up, the registrar and its stores, and
//! the request dispatcher the binary runs.

pub mod defaults;
pub mod listen;
pub mod record;
pub mod server;
pub mod store;
