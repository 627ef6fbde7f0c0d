//! What the switch's end-to-end tests share beside the one harness
//! (`tests::switch`: a temporary data dir driven through the CLI, a running
//! switch on port 0 with its log as JSON events): blocking TCP and UDP clients
//! that speak the wire contract byte for byte, a phone that builds REGISTERs
//! and answers digest challenges, and the phones of the call tests.
//!
//! Every read has a timeout and every wait a deadline, so a broken switch fails
//! a test instead of hanging it. Each test binary uses part of this module,
//! hence the dead-code and unused-import allowances.
#![allow(dead_code, unused_imports, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod admin;
pub mod calls;
pub mod dns;
pub mod http;
mod net;
mod phone;
pub mod store;

pub use net::{End, Link, Tcp, Udp, header, headers, line, parse_response};
pub use phone::{Auth, ContactKind, Phone};
pub use tests::switch::{Config, LogEvent, Switch, SwitchHost};
pub use tests::wait_for;

use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The switch's default domain and digest realm.
pub const DOMAIN: &str = "switch.local";
/// How long any single read waits for the switch before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A temporary data dir for this package's own build of the switch (never an
/// override from the environment).
pub fn lab() -> SwitchHost {
    SwitchHost::with_bin(env!("CARGO_BIN_EXE_switch"))
}

/// A lab whose CLI commands go to Redis at `url`.
pub fn redis_lab(url: &str) -> SwitchHost {
    let mut host = lab();
    host.switch = host.switch.with_redis(url);
    host
}

/// The JSON field as a string (panics if absent or not a string).
#[track_caller]
pub fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}
