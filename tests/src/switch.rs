//! A real `switch` for a test: the binary, a data dir driven through its admin
//! CLI, and `switch run` started (on loopback or inside a network namespace)
//! and waited for. The switch's and the agent's own test suites use this too,
//! through thin adapters, so there is one way to run the switch in a test.

use crate::proc::Proc;
use crate::workspace_bin;
use serde_json::Value;
use std::net::{TcpListener, UdpSocket};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
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

/// A switch's data dir and the binary that manages it.
pub struct SwitchCli {
    pub bin: PathBuf,
    pub data: PathBuf,
}

impl SwitchCli {
    /// The workspace's `switch` (`$SWITCH_BIN` overrides) on `data`.
    pub fn new(data: &Path) -> Self {
        SwitchCli { bin: workspace_bin("switch"), data: data.to_path_buf() }
    }

    /// Runs `switch ARGS --data-dir DATA` to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        // A password or log filter in the test's environment must not change what the CLI does or prints.
        Command::new(&self.bin)
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .env_remove("SWITCH_PASSWORD")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("switch {args:?}: {e}"))
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    #[track_caller]
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(out.status.success(), "switch {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `switch subscriber add NUMBER --password PW EXTRA...`.
    pub fn subscriber_add(&self, number: &str, password: &str, extra: &[&str]) {
        let mut args = vec!["subscriber", "add", number, "--password", password];
        args.extend_from_slice(extra);
        self.cli_ok(&args);
    }

    /// `switch registrations --json`.
    pub fn registrations(&self) -> Vec<Value> {
        let out = self.cli_ok(&["registrations", "--json"]);
        match serde_json::from_str(&out) {
            Ok(Value::Array(v)) => v,
            other => panic!("registrations --json is not an array: {other:?}: {out}"),
        }
    }

    /// The listed record for `number`, if any.
    pub fn registration(&self, number: &str) -> Option<Value> {
        self.registrations().into_iter().find(|r| r["number"] == number)
    }

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

/// A switch's files in a temporary directory; `start` runs it.
pub struct SwitchHost {
    pub dir: tempfile::TempDir,
    pub switch: SwitchCli,
}

impl Deref for SwitchHost {
    type Target = SwitchCli;
    fn deref(&self) -> &SwitchCli {
        &self.switch
    }
}

impl Default for SwitchHost {
    fn default() -> Self {
        Self::new()
    }
}

impl SwitchHost {
    pub fn new() -> Self {
        Self::with_bin(workspace_bin("switch"))
    }

    /// With this `switch` binary (a package's own tests know theirs exactly).
    pub fn with_bin(bin: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let data = dir.path().join("data");
        SwitchHost { dir, switch: SwitchCli { bin, data } }
    }

    /// Provisions `number` with `password` and, if given, a home URI.
    pub fn add_subscriber(&self, number: &str, password: &str, home: Option<&str>) {
        match home {
            Some(home) => self.subscriber_add(number, password, &["--home", home]),
            None => self.subscriber_add(number, password, &[]),
        }
    }

    /// The switch's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("switch.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Writes `config` (TOML; `data_dir` is added) and starts `switch run`
    /// through `launcher` (e.g. `ip netns exec NS`), or directly when it is
    /// empty; returns once the switch says it runs.
    pub fn start(&self, launcher: &[&str], config: &str) -> Proc {
        let path = self.dir.path().join("switch.toml");
        std::fs::write(&path, format!("data_dir = {:?}\n{config}", self.data.display().to_string()))
            .unwrap_or_else(|e| panic!("config: {e}"));
        spawn_running(&mut self.run_command(launcher, &path), &self.log_path()).unwrap_or_else(|log| panic!("{log}"))
    }

    /// `switch registrations --json`, the entry of `number` (Null when none).
    pub fn record(&self, number: &str) -> Value {
        self.registration(number).unwrap_or(Value::Null)
    }
}

impl SwitchHost {
    /// `switch route NUMBER`: where a call would go now.
    pub fn route(&self, number: &str) -> String {
        self.cli_ok(&["route", number]).trim_end().to_owned()
    }

    /// Polls `switch route` until its line contains `needle`; returns the line
    /// and how long it took. Panics after `within`.
    pub fn wait_route(&self, number: &str, needle: &str, within: Duration) -> (String, Duration) {
        let started = Instant::now();
        loop {
            let line = self.route(number);
            if line.contains(needle) {
                return (line, started.elapsed());
            }
            assert!(started.elapsed() < within, "route of {number} never showed {needle:?} within {within:?}; last: {line}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl SwitchHost {
    /// `switch calls --json`.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let out = self.cli_ok(&["calls", "--json"]);
        serde_json::from_str::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_else(|| panic!("calls --json: {out}"))
    }

    /// The only call record, once it has ended (waits up to 20 s).
    pub fn ended_call(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.calls();
            if let [rec] = all.as_slice()
                && !rec["end_at"].is_null()
            {
                return rec.clone();
            }
            assert!(Instant::now() < deadline, "no ended call record: {all:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Prints a recovery figure in the form `scripts/roaming/recovery.sh` collects.
pub fn report_recovery(metric: &str, took: Duration) {
    println!("RECOVERY metric={metric} seconds={:.2}", took.as_secs_f64());
}

/// The IP of an `ip:port` JSON string.
pub fn ip_of(addr: &serde_json::Value) -> String {
    let s = addr.as_str().unwrap_or_default();
    s.rsplit_once(':').map_or(s, |(ip, _)| ip).to_owned()
}
