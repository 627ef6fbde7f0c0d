//! The real `agent` CLI for a test, started on loopback or inside a network
//! namespace, with its `key=value` event lines.

use crate::netns::Topology;
use crate::proc::{Lines, Proc};
use crate::workspace_bin;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `agent --switch SWITCH --number N --password PW EXTRA... listen`, inside
/// `host`'s namespace of `topo` when given; stderr (its log) goes to `log`.
pub fn listen(place: Option<(&Topology, &str)>, switch: &str, number: &str, password: &str, extra: &[&str]) -> (Proc, Lines) {
    let bin = workspace_bin("agent");
    let mut cmd = match place {
        Some((topo, host)) => topo.command(host, &bin),
        None => Command::new(&bin),
    };
    cmd.args(["--switch", switch, "--number", number, "--password", password]).args(extra).arg("listen");
    cmd.env("RUST_LOG", "info").stderr(Stdio::null());
    Lines::spawn(&mut cmd)
}

/// The value of `key=` in an agent line.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The local port of a `registered local=IP:PORT ...` line.
pub fn local_port(line: &str) -> u16 {
    field(line, "local")
        .and_then(|l| l.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no local=IP:PORT in {line}"))
}

/// How long the agent may take to register at first.
pub const REGISTER_WITHIN: Duration = Duration::from_secs(20);
