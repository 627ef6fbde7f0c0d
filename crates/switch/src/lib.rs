//! The softswitch library: listener set-up and the request dispatcher the
//! binary runs. The registrar, location store and B2BUA plug in here.

pub mod listen;
pub mod server;
