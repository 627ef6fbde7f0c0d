//! The softswitch library: listener set-up, the registrar and its stores, and
//! the request dispatcher the binary runs.

pub mod abuse;
pub mod b2bua;
pub mod cdr;
pub mod config;
pub mod control;
pub mod defaults;
mod error;
pub mod listen;
pub mod location;
pub mod persist;
pub mod record;
pub mod registrar;
pub mod server;
pub mod store;
pub mod subscribers;

pub use error::{Error, Result};
