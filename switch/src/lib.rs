//! The softswitch library. [`core`] is the switch as one sans-IO state
//! machine (registrar, location table, B2BUA, call records, on one monotonic
//! clock); [`server`] is the tokio driver the binary runs it with; [`store`]
//! keeps what must survive a restart.

pub mod abuse;
pub mod admin;
pub mod b2bua;
pub mod cdr;
pub mod cluster;
pub mod config;
pub mod control;
pub mod core;
pub mod defaults;
pub mod dns;
mod error;
pub mod hep;
pub mod listen;
pub mod location;
pub mod pn;
pub mod record;
pub mod registrar;
pub mod server;
pub mod store;
pub mod subscribers;
pub mod tls;

pub use error::{ConnectError, Error, Result, STORE_RETRY_AFTER_SECS};
