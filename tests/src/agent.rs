//! The real `agent` CLI for a test, started on loopback or inside a network
//! namespace, with its `key=value` event lines.

use crate::netns::Topology;
use crate::proc::{Lines, Proc};
use crate::workspace_bin;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `agent --switch SWITCH --number N --password PW ARGS...` (not started),
/// inside `host`'s namespace of `topo` when given; its log (stderr) is dropped.
pub fn command(place: Option<(&Topology, &str)>, switch: &str, number: &str, password: &str, args: &[&str]) -> Command {
    let bin = workspace_bin("agent");
    let mut cmd = match place {
        Some((topo, host)) => topo.command(host, &bin),
        None => Command::new(&bin),
    };
    cmd.args(["--switch", switch, "--number", number]).args(args);
    cmd.env("AGENT_PASSWORD", password).env("RUST_LOG", "warn").stderr(Stdio::null());
    cmd
}

/// `agent ... EXTRA listen LISTEN_ARGS`, followed line by line.
pub fn listen(place: Option<(&Topology, &str)>, switch: &str, number: &str, password: &str, extra: &[&str]) -> (Proc, Lines) {
    listen_with(place, switch, number, password, extra, &[])
}

/// `agent ... GLOBAL listen LISTEN_ARGS`, followed line by line.
pub fn listen_with(
    place: Option<(&Topology, &str)>,
    switch: &str,
    number: &str,
    password: &str,
    global: &[&str],
    listen_args: &[&str],
) -> (Proc, Lines) {
    let mut cmd = command(place, switch, number, password, global);
    cmd.arg("listen").args(listen_args);
    Lines::spawn(&mut cmd)
}

/// Runs an agent command (e.g. `command(..).args(["call", N, ..])`) to its end,
/// killing it and panicking when it takes longer than `within`.
pub fn run(cmd: &mut Command, within: Duration) -> Output {
    let mut child = Proc::spawn(cmd.stdout(Stdio::piped()));
    let stdout = child.0.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut s) = stdout {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Ok(Some(status)) = child.0.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "{:?} did not end within {within:?}", cmd.get_args().collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: reader.join().unwrap_or_default(), stderr: Vec::new() }
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

/// The strongest of 440/1000 Hz in a recording (None: silence or neither).
pub fn tone_in(wav: &Path) -> Option<f64> {
    tone_in_last(wav, Duration::MAX)
}

/// As [`tone_in`], in the recording's last `span` only: what was heard at the end.
pub fn tone_in_last(wav: &Path, span: Duration) -> Option<f64> {
    let samples = media::wav::read_wav(wav).unwrap_or_else(|e| panic!("{}: {e}", wav.display()));
    let keep = usize::try_from(span.as_millis().saturating_mul(u128::from(media::tone::RATE)) / 1000).unwrap_or(usize::MAX);
    let tail = samples.get(samples.len().saturating_sub(keep)..).unwrap_or_default();
    media::tone::dominant(tail, &[440.0, 1000.0], media::tone::RATE)
}

/// How long the agent may take to register at first.
pub const REGISTER_WITHIN: Duration = Duration::from_secs(20);
