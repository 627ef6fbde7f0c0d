//! The lab (a temporary data dir driven through the CLI) and a running switch,
//! on the shared harness of the `tests` crate.

use super::wait_for;
use serde_json::Value;
use std::cell::Cell;
use std::fs;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;
use tests::proc::Proc;
use tests::switch::{SwitchHost, spawn_running};

pub use tests::switch::free_port;

/// What goes in the switch's TOML config besides listeners and data dir.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub relay_address: Option<String>,
    /// Listen on the wildcard address (0.0.0.0) rather than 127.0.0.1.
    pub listen_any: bool,
    /// `key = value` lines for `[registrar]`.
    pub registrar: Vec<String>,
    /// `key = value` lines for `[abuse]`.
    pub abuse: Vec<String>,
    /// `key = value` lines for `[calls]`.
    pub calls: Vec<String>,
}

impl Config {
    pub fn relay(mut self, ip: &str) -> Self {
        self.relay_address = Some(ip.to_owned());
        self
    }

    pub fn listen_any(mut self) -> Self {
        self.listen_any = true;
        self
    }

    pub fn registrar(mut self, line: &str) -> Self {
        self.registrar.push(line.to_owned());
        self
    }

    pub fn abuse(mut self, line: &str) -> Self {
        self.abuse.push(line.to_owned());
        self
    }

    pub fn calls(mut self, line: &str) -> Self {
        self.calls.push(line.to_owned());
        self
    }

    fn toml(&self, port: u16, data: &Path) -> String {
        let host = if self.listen_any { "0.0.0.0" } else { "127.0.0.1" };
        let mut t =
            format!("listen = [\"tcp:{host}:{port}\", \"udp:{host}:{port}\"]\ndata_dir = {}\n", toml_string(&data.display().to_string()));
        if let Some(ip) = &self.relay_address {
            t.push_str(&format!("relay_address = \"{ip}\"\n"));
        }
        for (section, lines) in [("registrar", &self.registrar), ("abuse", &self.abuse), ("calls", &self.calls)] {
            t.push_str(&format!("[{section}]\n"));
            for l in lines {
                t.push_str(l);
                t.push('\n');
            }
        }
        t
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A temporary directory holding one switch's data dir, configs and logs.
/// The CLI (`cli`, `registrations`, the `data` path) comes from the shared host.
pub struct Lab {
    host: SwitchHost,
    runs: Cell<u32>,
}

impl Deref for Lab {
    type Target = SwitchHost;
    fn deref(&self) -> &SwitchHost {
        &self.host
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Lab {
    pub fn new() -> Self {
        // This package's own build of the switch, never an override from the environment.
        Lab { host: SwitchHost::with_bin(PathBuf::from(env!("CARGO_BIN_EXE_switch"))), runs: Cell::new(0) }
    }

    /// `switch subscriber add NUMBER --password PW [--mac MAC]`.
    pub fn add_subscriber(&self, number: &str, password: &str, mac: Option<&str>) {
        match mac {
            Some(mac) => self.subscriber_add(number, password, &["--mac", mac]),
            None => self.subscriber_add(number, password, &[]),
        }
    }

    /// The listed record for `number`, if any.
    pub fn record(&self, number: &str) -> Option<Value> {
        self.registration(number)
    }

    /// The listed record's state, or "absent".
    pub fn state(&self, number: &str) -> String {
        self.record(number).map_or_else(|| "absent".to_owned(), |r| r["state"].as_str().unwrap_or("?").to_owned())
    }

    /// Polls `registrations --json` until `number` is in `state` ("absent" for no record).
    #[track_caller]
    pub fn wait_state(&self, number: &str, state: &str, within: Duration) -> Option<Value> {
        wait_for(within, &format!("{number} to be {state}"), || {
            let rec = self.record(number);
            let now = rec.as_ref().map_or("absent", |r| r["state"].as_str().unwrap_or("?"));
            if now == state { Ok(rec.clone()) } else { Err(format!("{rec:?}")) }
        })
    }

    /// Starts `switch run --config FILE` on a free port with this lab's data dir,
    /// and waits until it says it is running.
    pub fn start(&self, cfg: &Config) -> Switch {
        for _ in 0..5 {
            let run = self.runs.get() + 1;
            self.runs.set(run);
            let port = free_port();
            let config = self.dir.path().join(format!("switch-{run}.toml"));
            fs::write(&config, cfg.toml(port, &self.data)).unwrap();
            let log = self.dir.path().join(format!("switch-{run}.log"));
            match spawn_running(&mut self.run_command(&[], &config), &log) {
                Ok(proc) => return Switch { proc: Some(proc), port, log },
                // Another process took the port between our check and the bind: try another.
                Err(text) => assert!(text.contains("in use"), "{text}"),
            }
        }
        panic!("no free port for the switch after 5 tries");
    }
}

/// A running `switch run`; killed (SIGKILL) on drop unless already stopped.
pub struct Switch {
    proc: Option<Proc>,
    pub port: u16,
    pub log: PathBuf,
}

impl Switch {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The log so far (stderr).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log lines containing every one of `needles`.
    pub fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        self.log_text().lines().filter(|l| needles.iter().all(|n| l.contains(n))).map(str::to_owned).collect()
    }

    /// Waits until a log line contains every one of `needles`; returns it.
    #[track_caller]
    pub fn wait_log(&self, needles: &[&str], within: Duration) -> String {
        wait_for(within, &format!("a log line with {needles:?}"), || {
            self.log_lines(needles).into_iter().next().ok_or_else(|| "not yet".to_owned())
        })
    }

    /// `kill -9`: no shutdown path runs.
    pub fn kill9(&mut self) {
        drop(self.proc.take().expect("switch not running"));
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut proc = self.proc.take().expect("switch not running");
        proc.terminate();
        // Dropping `proc` on the panic kills what did not stop.
        proc.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| panic!("switch did not stop on SIGTERM"))
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        // Stopped first, so the log printed below is complete.
        drop(self.proc.take());
        if std::thread::panicking() {
            eprintln!("---- switch log ({}) ----\n{}", self.log.display(), self.log_text());
        }
    }
}
