//! The real `switch` binary for loopback tests.
//!
//! Where it comes from: Cargo gives `CARGO_BIN_EXE_*` only for a package's own
//! binaries, and a test must not run `cargo build` itself, so the binary is
//! looked up in the workspace's target directory (`$SWITCH_BIN` overrides) by
//! the `tests` crate's harness, which also provisions and starts it.
//! `cargo test --workspace` builds it before any test runs; alone, run
//! `cargo build -p switch` first. A missing binary fails the test with that advice.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use tests::proc::Proc;
use tests::switch::{SwitchCli, spawn_running};

pub(crate) use tests::switch::free_port;

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

/// A running switch; killed when dropped.
pub(crate) struct Switch {
    proc: Option<Proc>,
    pub(crate) port: u16,
    pub(crate) data: PathBuf,
    config: PathBuf,
    /// Kept across restarts: readiness counts its "switch running" lines.
    log: PathBuf,
    /// PEM certificate and key: listen on TLS instead of TCP.
    tls: Option<(PathBuf, PathBuf)>,
}

impl Switch {
    /// Starts the switch on 127.0.0.1:`port` (TCP only) with a short Flow-Timer.
    pub(crate) fn start(port: u16, data: &Path) -> Switch {
        Self::start_with(port, data, None)
    }

    /// As `start`, on TLS with this certificate and key when given.
    pub(crate) fn start_with(port: u16, data: &Path, tls: Option<(PathBuf, PathBuf)>) -> Switch {
        Self::start_config(port, data, tls, "")
    }

    /// As `start`, with calls: the relay on 127.0.0.1, ports `relay_ports` ("FIRST-LAST").
    pub(crate) fn start_calls(port: u16, data: &Path, relay_ports: &str) -> Switch {
        let top = format!("relay_address = \"127.0.0.1\"\n[calls]\nring_time = 20\nrelay_ports = \"{relay_ports}\"\n");
        Self::start_config(port, data, None, &top)
    }

    /// `top`: TOML put before the `[registrar]` section.
    fn start_config(port: u16, data: &Path, tls: Option<(PathBuf, PathBuf)>, top: &str) -> Switch {
        let config = data.with_extension("toml");
        let (top_level, sections) =
            top.split_once('[').map_or((top.to_owned(), String::new()), |(t, rest)| (t.to_owned(), format!("[{rest}")));
        std::fs::write(&config, format!("{top_level}[registrar]\nflow_timer = 5\nflow_grace = 5\nmin_expires = 60\n{sections}")).unwrap();
        let mut s = Switch { proc: None, port, data: data.to_path_buf(), config, log: data.with_extension("log"), tls };
        s.restart();
        s
    }

    /// Starts it again (same port, same data) after a kill.
    pub(crate) fn restart(&mut self) {
        let mut cmd = SwitchCli::new(&self.data).run_command(&[], &self.config);
        cmd.args(["--listen", &self.addr()]);
        if let Some((cert, key)) = &self.tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        cmd.arg("--data-dir").arg(&self.data);
        self.proc = Some(spawn_running(&mut cmd, &self.log).unwrap_or_else(|log| panic!("{log}")));
    }

    /// SIGKILL: the switch gets no chance to say goodbye.
    pub(crate) fn kill(&mut self) {
        self.proc = None;
    }

    pub(crate) fn addr(&self) -> String {
        let scheme = if self.tls.is_some() { "tls" } else { "tcp" };
        format!("{scheme}:127.0.0.1:{}", self.port)
    }
}

pub(crate) mod bench;
pub(crate) mod switch_side;
