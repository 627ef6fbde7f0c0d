//! SIPp interop against the real `switch` binary: the scenarios in
//! `scripts/sipp/` (REGISTER with digest, refresh, unregister, binding query,
//! wrong password, unknown number) over TCP and over UDP. SIPp is a real,
//! independent SIP implementation; `scripts/test.sh` installs it (Debian
//! package `sip-tester`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SWITCH: &str = env!("CARGO_BIN_EXE_switch");

/// Kills the child if the test fails before it stopped it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free for both TCP and UDP on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/sipp").join(format!("{name}.xml"))
}

fn cli(data: &Path, args: &[&str]) -> String {
    let out = Command::new(SWITCH).args(args).arg("--data-dir").arg(data).output().unwrap();
    assert!(out.status.success(), "switch {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

struct Switch {
    _proc: Running,
    port: u16,
    data: tempfile::TempDir,
}

fn start_switch(numbers: &[&str]) -> Switch {
    let data = tempfile::tempdir().unwrap();
    for n in numbers {
        cli(data.path(), &["subscriber", "add", n, "--password", "secret"]);
    }
    let port = free_port();
    let child = Command::new(SWITCH)
        .args(["run", "--listen", &format!("tcp:127.0.0.1:{port}"), "--listen", &format!("udp:127.0.0.1:{port}"), "--data-dir"])
        .arg(data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Running(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "switch did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Switch { _proc: proc, port, data }
}

/// Runs one SIPp scenario to completion; panics with SIPp's error log if it fails.
fn sipp(sw: &Switch, name: &str, transport: &str, number: &str, password: &str) {
    assert!(Command::new("sipp").arg("-v").output().is_ok(), "sipp not found: install sip-tester (scripts/test.sh does)");
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .args(["30", "sipp", &format!("127.0.0.1:{}", sw.port), "-sf"])
        .arg(scenario(name))
        .args(["-t", transport, "-m", "1", "-s", number, "-au", number, "-ap", password])
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err"])
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        let mut errors = String::new();
        for f in std::fs::read_dir(work.path()).unwrap().flatten() {
            errors += &std::fs::read_to_string(f.path()).unwrap_or_default();
        }
        panic!("sipp {name} over {transport} failed ({}):\n{errors}\n{}", out.status, String::from_utf8_lossy(&out.stdout));
    }
}

/// The RL record of `number` from `switch registrations --json`.
fn record(sw: &Switch, number: &str) -> Option<serde_json::Value> {
    let list: serde_json::Value = serde_json::from_str(&cli(sw.data.path(), &["registrations", "--json"])).unwrap();
    list.as_array().unwrap().iter().find(|r| r["number"] == number).cloned()
}

fn all_scenarios(transport: &str) {
    let sw = start_switch(&["2001", "2002", "2003", "2004", "2005"]);
    sipp(&sw, "reg_digest", transport, "2001", "secret");
    let r = record(&sw, "2001").expect("registered");
    // SIPp closes its TCP connection when the scenario ends: the signalling
    // channel is gone, so the record says so. Over UDP there is no channel to lose.
    let expected = if transport == "t1" { "signalling_dropped" } else { "registered" };
    assert_eq!(r["state"], expected);
    assert_eq!(r["transport"], if transport == "t1" { "tcp" } else { "udp" });

    sipp(&sw, "reg_refresh", transport, "2002", "secret");
    let left = record(&sw, "2002").expect("refreshed")["time_left"].as_u64().unwrap();
    assert!((290..=300).contains(&left), "refresh set the new expiry: {left}");

    sipp(&sw, "unregister", transport, "2003", "secret");
    assert!(record(&sw, "2003").is_none(), "unregister removed the record");

    sipp(&sw, "binding_query", transport, "2004", "secret");

    sipp(&sw, "wrong_password", transport, "2005", "not-the-password");
    assert!(record(&sw, "2005").is_none(), "a failed authentication registers nothing");

    sipp(&sw, "unknown_number", transport, "9999", "secret");
}

#[test]
fn sipp_scenarios_over_tcp() {
    all_scenarios("t1");
}

#[test]
fn sipp_scenarios_over_udp() {
    all_scenarios("u1");
}
