//! A real `switch` for a test: its own data dir and config, started on
//! loopback or inside a network namespace, and its admin CLI.

use crate::proc::Proc;
use crate::workspace_bin;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A switch's files; `start` runs it.
pub struct SwitchHost {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
}

impl Default for SwitchHost {
    fn default() -> Self {
        Self::new()
    }
}

impl SwitchHost {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let data = dir.path().join("data");
        SwitchHost { bin: workspace_bin("switch"), dir, data }
    }

    /// Runs `switch ARGS --data-dir DATA`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(&self.bin).args(args).arg("--data-dir").arg(&self.data).output().unwrap_or_else(|e| panic!("switch {args:?}: {e}"))
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(out.status.success(), "switch {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Provisions `number` with `password` and, if given, a home URI.
    pub fn add_subscriber(&self, number: &str, password: &str, home: Option<&str>) {
        let mut args = vec!["subscriber", "add", number, "--password", password];
        if let Some(home) = home {
            args.extend(["--home", home]);
        }
        self.cli_ok(&args);
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
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap_or_else(|e| panic!("log: {e}"));
        let mut cmd = match launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        // The log is appended to across restarts: wait for one more "switch running".
        let before = self.log().matches("switch running").count();
        let proc = Proc::spawn(cmd.args(["run", "--config"]).arg(&path).stdout(Stdio::null()).stderr(log));
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log().matches("switch running").count() <= before {
            assert!(Instant::now() < deadline, "switch did not start:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        proc
    }

    /// `switch registrations --json`, the entry of `number` (Null when none).
    pub fn record(&self, number: &str) -> serde_json::Value {
        let out = self.cli_ok(&["registrations", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("registrations --json: {e}: {out}"));
        list.as_array().and_then(|l| l.iter().find(|r| r["number"] == number).cloned()).unwrap_or(serde_json::Value::Null)
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
