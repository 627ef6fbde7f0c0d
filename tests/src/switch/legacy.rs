//! The old way to run a switch, until its last users move to [`super::Switch`].

use super::SwitchCli;
use crate::proc::Proc;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A port free for both TCP and UDP on 127.0.0.1.
pub fn free_port() -> u16 {
    // The switch listens on the same number for TCP and UDP: take one free for TCP and check UDP too.
    loop {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap_or_else(|e| panic!("free port: {e}")).port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl SwitchCli {
    /// `switch run --config CONFIG` through `launcher` (e.g. `ip netns exec NS`),
    /// or directly when it is empty; the caller adds what else it needs.
    pub fn run_command(&self, launcher: &[&str], config: &Path) -> Command {
        let mut cmd = match launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        // Readiness is read from the info-level "switch running" line: a quieter inherited filter would hide it.
        cmd.args(["run", "--config"]).arg(config).env("RUST_LOG", "info");
        cmd
    }
}

/// Spawns `cmd` (a `switch run`) with its stderr appended to `log`, and waits
/// until the log says "switch running" once more than it did before (a log
/// kept across restarts already holds earlier ones). When the switch exits
/// first, returns its log.
pub fn spawn_running(cmd: &mut Command, log: &Path) -> Result<Proc, String> {
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    let before = read().matches("switch running").count();
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap_or_else(|e| panic!("log {}: {e}", log.display()));
    let mut proc = Proc::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = read();
        if text.matches("switch running").count() > before {
            return Ok(proc);
        }
        if let Ok(Some(status)) = proc.0.try_wait() {
            return Err(format!("switch exited at start ({status}):\n{text}"));
        }
        assert!(Instant::now() < deadline, "switch did not start:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
