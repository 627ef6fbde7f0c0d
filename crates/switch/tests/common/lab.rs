//! The lab (a temporary data dir driven through the CLI) and a running switch.

use super::wait_for;
use serde_json::Value;
use std::cell::Cell;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A port free for both TCP and UDP on 127.0.0.1.
pub fn free_port() -> u16 {
    // TCP and UDP listen on the same number; take one free for TCP and check UDP too.
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
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
        t.push_str("[registrar]\n");
        for l in &self.registrar {
            t.push_str(l);
            t.push('\n');
        }
        t.push_str("[abuse]\n");
        for l in &self.abuse {
            t.push_str(l);
            t.push('\n');
        }
        t.push_str("[calls]\n");
        for l in &self.calls {
            t.push_str(l);
            t.push('\n');
        }
        t
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A temporary directory holding one switch's data dir, configs and logs.
pub struct Lab {
    tmp: tempfile::TempDir,
    pub data: PathBuf,
    runs: Cell<u32>,
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Lab {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        Lab { tmp, data, runs: Cell::new(0) }
    }

    /// Runs `switch ARGS --data-dir DATA` to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_switch"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .env_remove("SWITCH_PASSWORD")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    #[track_caller]
    fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(out.status.success(), "switch {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `switch subscriber add NUMBER --password PW [--mac MAC]`.
    pub fn add_subscriber(&self, number: &str, password: &str, mac: Option<&str>) {
        let mut args = vec!["subscriber", "add", number, "--password", password];
        if let Some(mac) = mac {
            args.extend(["--mac", mac]);
        }
        self.cli_ok(&args);
    }

    /// `switch registrations --json`.
    pub fn registrations(&self) -> Vec<Value> {
        let out = self.cli_ok(&["registrations", "--json"]);
        match serde_json::from_str(&out).unwrap() {
            Value::Array(v) => v,
            other => panic!("registrations --json is not an array: {other}"),
        }
    }

    /// The listed record for `number`, if any.
    pub fn record(&self, number: &str) -> Option<Value> {
        self.registrations().into_iter().find(|r| r["number"] == number)
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
            let config = self.tmp.path().join(format!("switch-{run}.toml"));
            fs::write(&config, cfg.toml(port, &self.data)).unwrap();
            let log = self.tmp.path().join(format!("switch-{run}.log"));
            let child = Command::new(env!("CARGO_BIN_EXE_switch"))
                .arg("run")
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "info")
                .env_remove("NO_COLOR")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let mut sw = Switch { child: Some(child), port, log };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if sw.log_text().contains("switch running") {
                    return sw;
                }
                if let Some(status) = sw.child.as_mut().unwrap().try_wait().unwrap() {
                    let text = sw.log_text();
                    sw.child = None;
                    // Another process took the port between our check and the bind: try another.
                    assert!(text.contains("in use"), "switch exited at start ({status}):\n{text}");
                    break;
                }
                assert!(Instant::now() < deadline, "switch did not start:\n{}", sw.log_text());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port for the switch after 5 tries");
    }
}

/// A running `switch run`; killed (SIGKILL) on drop unless already stopped.
pub struct Switch {
    child: Option<Child>,
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
        let mut child = self.child.take().expect("switch not running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("switch not running");
        let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("switch did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- switch log ({}) ----\n{}", self.log.display(), self.log_text());
        }
    }
}
