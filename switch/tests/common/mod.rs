//! Shared harness for the registrar's end-to-end tests against the real
//! `switch` binary: a lab (temporary data dir, provisioning and `registrations
//! --json` through the CLI), a running switch (its own free port, config file
//! and log; killed on drop, its log printed when a test fails), blocking TCP and
//! UDP clients that speak the wire contract byte for byte, and a phone that
//! builds REGISTERs and answers digest challenges.
//!
//! Every read has a timeout and every wait a deadline, so a broken switch fails
//! a test instead of hanging it. Each test binary uses part of this module,
//! hence the dead-code and unused-import allowances.
#![allow(dead_code, unused_imports, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod calls;
mod lab;
mod net;
mod phone;

pub use lab::{Config, Lab, Switch, free_port};
pub use net::{End, Link, Tcp, Udp, header, headers, line, parse_response};
pub use phone::{Auth, ContactKind, Phone};

use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The switch's default domain and digest realm.
pub const DOMAIN: &str = "switch.local";
/// How long any single read waits for the switch before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Polls `probe` every 50 ms until it returns `Ok`, failing the test with the
/// last `Err` (what was seen instead) once `within` has passed.
#[track_caller]
pub fn wait_for<T>(within: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + within;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => panic!("waited {within:?} for {what}; last seen: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The JSON field as a string (panics if absent or not a string).
#[track_caller]
pub fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}
