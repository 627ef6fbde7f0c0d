//! The real `switch` binary for loopback tests.
//!
//! Where it comes from: Cargo gives `CARGO_BIN_EXE_*` only for a package's own
//! binaries, and a test must not run `cargo build` itself, so the binary is
//! looked up in the workspace's target directory (`$SWITCH_BIN` overrides).
//! `cargo test --workspace` builds it before any test runs; alone, run
//! `cargo build -p switch` first. A missing binary fails the test with that advice.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn switch_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SWITCH_BIN") {
        return PathBuf::from(p);
    }
    let target =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    // The profile directory this test binary was built into.
    let profile = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|p| p.to_path_buf()))
        .filter(|p| p.join("switch").exists())
        .unwrap_or_else(|| target.join("debug"));
    let bin = profile.join("switch");
    assert!(bin.exists(), "the switch binary is not at {}: run `cargo build -p switch` first (or set SWITCH_BIN)", bin.display());
    bin
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Provisions `number` with `password` in `data`.
pub(crate) fn provision(data: &Path, number: &str, password: &str) {
    let out =
        Command::new(switch_bin()).args(["subscriber", "add", number, "--password", password, "--data-dir"]).arg(data).output().unwrap();
    assert!(out.status.success(), "provisioning failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// `switch registrations --json`.
pub(crate) fn registrations(data: &Path) -> serde_json::Value {
    let out = Command::new(switch_bin()).args(["registrations", "--json", "--data-dir"]).arg(data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A running switch; killed when dropped.
pub(crate) struct Switch {
    child: Option<Child>,
    pub(crate) port: u16,
    pub(crate) data: PathBuf,
    config: PathBuf,
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
        let mut s = Switch { child: None, port, data: data.to_path_buf(), config, tls };
        s.restart();
        s
    }

    /// Starts it again (same port, same data) after a kill.
    pub(crate) fn restart(&mut self) {
        let scheme = if self.tls.is_some() { "tls" } else { "tcp" };
        let mut cmd = Command::new(switch_bin());
        cmd.args(["run", "--listen", &format!("{scheme}:127.0.0.1:{}", self.port), "--config"]).arg(&self.config);
        if let Some((cert, key)) = &self.tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        let child = cmd.arg("--data-dir").arg(&self.data).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "switch did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the switch gets no chance to say goodbye.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn addr(&self) -> String {
        let scheme = if self.tls.is_some() { "tls" } else { "tcp" };
        format!("{scheme}:127.0.0.1:{}", self.port)
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.kill();
    }
}
pub(crate) mod bench;
pub(crate) mod switch_side;
