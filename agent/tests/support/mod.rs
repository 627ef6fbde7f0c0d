//! The real `switch` binary for loopback tests, on port 0, through the one
//! harness (`tests::switch`): these functions only choose its settings.
//!
//! Where it comes from: Cargo gives `CARGO_BIN_EXE_*` only for a package's own
//! binaries, and a test must not run `cargo build` itself, so the binary is
//! looked up in the workspace's target directory (`$SWITCH_BIN` overrides) by
//! the `tests` crate's harness, which also provisions and starts it.
//! `cargo test --workspace` builds it before any test runs; alone, run
//! `cargo build -p switch` first. A missing binary fails the test with that advice.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use tests::switch::{Config, SwitchCli};

/// The next event `want` accepts, skipping others; panics when none comes
/// `within` or the stream ends.
pub(crate) async fn next_event(
    events: &mut agent::Events,
    within: std::time::Duration,
    want: impl Fn(&agent::Event) -> bool,
) -> agent::Event {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) if want(&ev) => return ev,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("events ended"),
            Err(_) => panic!("no such event within {within:?}"),
        }
    }
}

/// Provisions `number` with `password` in `data`.
pub(crate) fn provision(data: &Path, number: &str, password: &str) {
    SwitchCli::new(data).subscriber_add(number, password, &[]);
}

/// `switch registrations --json`.
pub(crate) fn registrations(data: &Path) -> serde_json::Value {
    serde_json::Value::Array(SwitchCli::new(data).registrations())
}

pub(crate) use tests::switch::Switch;

/// The switch the agent's tests register with: TCP on 127.0.0.1, port 0.
pub(crate) fn switch(data: &Path) -> Switch {
    start(data, Config::default().listen(&["tcp:127.0.0.1:0"]))
}

/// As [`switch`], on TLS with this certificate and key.
pub(crate) fn switch_tls(data: &Path, cert: &Path, key: &Path) -> Switch {
    start(data, Config::default().tls(cert, key))
}

/// As [`switch_tls`], with calls: the relay on 127.0.0.1, on ports of its own.
pub(crate) fn switch_tls_calls(data: &Path, cert: &Path, key: &Path) -> Switch {
    start(data, Config::default().tls(cert, key).relay("127.0.0.1").calls("ring_time = 20"))
}

/// As [`switch`], on TLS with the switch's own certificate (generated into
/// the data dir on its first start).
pub(crate) fn switch_tls_generated(data: &Path) -> Switch {
    start(data, Config::default().listen(&["tls:127.0.0.1:0"]))
}

/// As [`switch`], with calls: the relay on 127.0.0.1, on ports of its own.
pub(crate) fn switch_calls(data: &Path) -> Switch {
    start(data, Config::default().listen(&["tcp:127.0.0.1:0"]).relay("127.0.0.1").calls("ring_time = 20"))
}

/// A short Flow-Timer, so keep-alives and flow silence happen within a test.
fn start(data: &Path, config: Config) -> Switch {
    let config = config.registrar("flow_timer = 5").registrar("flow_grace = 5").registrar("min_expires = 60");
    SwitchCli::new(data).start(&config)
}

pub(crate) mod bench;
pub(crate) mod switch_side;
