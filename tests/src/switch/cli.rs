//! A switch's data dir driven through its admin CLI: provisioning, and what a
//! test reads back (`registrations --json`, `calls --json`, `route`), with
//! bounded waits for a state to show up there.

use super::config::Config;
use super::running::Switch;
use crate::{wait_for, workspace_bin};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A switch's data dir and the binary that manages it.
pub struct SwitchCli {
    pub bin: PathBuf,
    pub data: PathBuf,
    /// Arguments the store's commands (`subscriber`, `registrations`, `calls`)
    /// get besides `--data-dir`: `--redis URL`.
    pub store: Vec<String>,
}

impl SwitchCli {
    /// The workspace's `switch` (`$SWITCH_BIN` overrides) on `data`.
    pub fn new(data: &Path) -> Self {
        SwitchCli { bin: workspace_bin("switch"), data: data.to_path_buf(), store: Vec::new() }
    }

    /// The same data dir, its CLI commands pointed at Redis (`--redis URL`).
    pub fn with_redis(mut self, url: &str) -> Self {
        self.store = vec!["--redis".into(), url.into()];
        self
    }

    /// Runs `switch ARGS --data-dir DATA [--redis URL]` to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        // A password or log filter in the test's environment must not change what the CLI does or prints.
        Command::new(&self.bin)
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .args(if matches!(args.first(), Some(&("subscriber" | "registrations" | "calls"))) { &self.store[..] } else { &[] })
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

    /// Starts `switch run` on this data dir with `cfg`, through `launcher`
    /// (e.g. `ip netns exec NS`) or directly when it is empty, and waits until
    /// it runs. Its config, log and bound-ports files sit beside the data dir.
    #[track_caller]
    pub fn start_in(&self, launcher: &[&str], cfg: &Config) -> Switch {
        // Each start its own files, so a test's second switch on the same data has a log of its own.
        static STARTS: AtomicU32 = AtomicU32::new(0);
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let name = self.data.file_name().map_or_else(|| "data".into(), |s| s.to_string_lossy().into_owned());
        let stem = self.data.with_file_name(format!("{name}-switch-{n}"));
        Switch::launch(&self.bin, &self.data, &stem, launcher, cfg).unwrap_or_else(|log| panic!("{log}"))
    }

    /// Starts `switch run` on 127.0.0.1 (see [`SwitchCli::start_in`]).
    #[track_caller]
    pub fn start(&self, cfg: &Config) -> Switch {
        self.start_in(&[], cfg)
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

    /// The listed record's state, or "absent".
    pub fn state(&self, number: &str) -> String {
        self.registration(number).map_or_else(|| "absent".to_owned(), |r| r.get("state").and_then(Value::as_str).unwrap_or("?").to_owned())
    }

    /// Polls `registrations --json` until `number` is in `state` ("absent" for no record).
    #[track_caller]
    pub fn wait_state(&self, number: &str, state: &str, within: Duration) -> Option<Value> {
        wait_for(within, &format!("{number} to be {state}"), || {
            let rec = self.registration(number);
            let now = rec.as_ref().map_or("absent", |r| r["state"].as_str().unwrap_or("?"));
            if now == state { Ok(rec.clone()) } else { Err(format!("{rec:?}")) }
        })
    }

    /// `switch route NUMBER`: where a call would go now.
    pub fn route(&self, number: &str) -> String {
        self.cli_ok(&["route", number]).trim_end().to_owned()
    }

    /// Polls `switch route` until its line contains `needle`; returns the line
    /// and how long it took. Panics after `within`.
    #[track_caller]
    pub fn wait_route(&self, number: &str, needle: &str, within: Duration) -> (String, Duration) {
        let started = std::time::Instant::now();
        let line = wait_for(within, &format!("the route of {number} to show {needle:?}"), || {
            let line = self.route(number);
            if line.contains(needle) { Ok(line) } else { Err(line) }
        });
        (line, started.elapsed())
    }

    /// `switch calls --json`.
    pub fn calls(&self) -> Vec<Value> {
        let out = self.cli_ok(&["calls", "--json"]);
        match serde_json::from_str(&out) {
            Ok(Value::Array(v)) => v,
            other => panic!("calls --json is not an array: {other:?}: {out}"),
        }
    }

    /// Waits until the record of the call with SIP Call-ID `call_id` has ended; returns it.
    #[track_caller]
    pub fn ended_call_record(&self, call_id: &str, within: Duration) -> Value {
        wait_for(within, &format!("the record of call {call_id} to end"), || {
            let all = self.calls();
            match all.iter().find(|c| c["call_id"] == call_id) {
                Some(c) if !c["end_at"].is_null() => Ok(c.clone()),
                other => Err(format!("{other:?}")),
            }
        })
    }

    /// The only call record, once it has ended (waits up to 20 s).
    #[track_caller]
    pub fn ended_call(&self) -> Value {
        wait_for(Duration::from_secs(20), "the one call record to end", || match self.calls().as_slice() {
            [rec] if !rec["end_at"].is_null() => Ok(rec.clone()),
            all => Err(format!("{all:?}")),
        })
    }
}
