//! A real `switch` for a test: the binary, a data dir driven through its admin
//! CLI, and `switch run` started (on loopback or inside a network namespace)
//! on port 0, its bound ports read from `--bound-file`, its log read as JSON
//! events. The switch's and the agent's own test suites use this too, so there
//! is one way to run the switch in a test.

mod cli;
mod config;
mod log;
mod running;

pub use cli::SwitchCli;
pub use config::{Config, cluster_secret};
pub use log::LogEvent;
pub use running::{Listener, Switch};

use crate::workspace_bin;
use serde_json::Value;
use std::ops::Deref;
use std::path::PathBuf;
use std::time::Duration;

/// A switch's files in a temporary directory (data dir, configs, logs); `start` runs it.
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

    /// With this `switch` binary (a package's own tests know theirs exactly:
    /// `env!("CARGO_BIN_EXE_switch")`).
    pub fn with_bin(bin: impl Into<PathBuf>) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let data = dir.path().join("data");
        SwitchHost { dir, switch: SwitchCli { bin: bin.into(), data, store: Vec::new() } }
    }

    /// Provisions `number` with `password` and, if given, a home URI.
    pub fn add_subscriber(&self, number: &str, password: &str, home: Option<&str>) {
        match home {
            Some(home) => self.subscriber_add(number, password, &["--home", home]),
            None => self.subscriber_add(number, password, &[]),
        }
    }

    /// A path in the host's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `switch registrations --json`, the entry of `number` (Null when none).
    pub fn record(&self, number: &str) -> Value {
        self.registration(number).unwrap_or(Value::Null)
    }
}

/// Prints a recovery figure in the form `scripts/roaming/recovery.sh` collects.
pub fn report_recovery(metric: &str, took: Duration) {
    println!("RECOVERY metric={metric} seconds={:.2}", took.as_secs_f64());
}

/// The IP of an `ip:port` JSON string.
pub fn ip_of(addr: &Value) -> String {
    let s = addr.as_str().unwrap_or_default();
    s.rsplit_once(':').map_or(s, |(ip, _)| ip).to_owned()
}
