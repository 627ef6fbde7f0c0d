//! The real `switch` binary for loopback tests, on port 0.
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

/// A running switch on 127.0.0.1, on a port of its own; killed when dropped.
pub(crate) struct Switch {
    inner: tests::switch::Switch,
    pub(crate) port: u16,
    pub(crate) data: PathBuf,
}

impl Switch {
    /// Starts the switch (TCP only) with a short Flow-Timer.
    pub(crate) fn start(data: &Path) -> Switch {
        Self::start_with(data, None)
    }

    /// As `start`, on TLS with this certificate and key when given.
    pub(crate) fn start_with(data: &Path, tls: Option<(PathBuf, PathBuf)>) -> Switch {
        let config = match &tls {
            Some((cert, key)) => Config::default().tls(cert, key),
            None => Config::default().listen(&["tcp:127.0.0.1:0"]),
        };
        Self::start_config(data, config)
    }

    /// As `start`, with calls: the relay on 127.0.0.1, on ports of its own.
    pub(crate) fn start_calls(data: &Path) -> Switch {
        Self::start_config(data, Config::default().listen(&["tcp:127.0.0.1:0"]).relay("127.0.0.1").calls("ring_time = 20"))
    }

    fn start_config(data: &Path, config: Config) -> Switch {
        let config = config.registrar("flow_timer = 5").registrar("flow_grace = 5").registrar("min_expires = 60");
        let inner = SwitchCli::new(data).start(&config);
        Switch { port: inner.addr().port(), inner, data: data.to_path_buf() }
    }

    /// Starts it again (same port, same data) after a kill.
    pub(crate) fn restart(&mut self) {
        self.inner.restart();
    }

    /// SIGKILL: the switch gets no chance to say goodbye.
    pub(crate) fn kill(&mut self) {
        self.inner.kill9();
    }

    pub(crate) fn addr(&self) -> String {
        self.inner.spec()
    }
}

pub(crate) mod bench;
pub(crate) mod switch_side;
