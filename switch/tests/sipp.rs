//! SIPp interop against the real `switch` binary: the scenarios in
//! `scripts/sipp/` (REGISTER with digest, refresh, unregister, binding query,
//! wrong password, unknown number) over TCP and over UDP. SIPp is a real,
//! independent SIP implementation; `scripts/test.sh` installs it (Debian
//! package `sip-tester`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, Lab, Switch};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sipp").join(format!("{name}.xml"))
}

/// Runs one SIPp scenario to completion; panics with SIPp's error log if it fails.
fn sipp(sw: &Switch, name: &str, transport: &str, number: &str, password: &str) {
    assert!(Command::new("sipp").arg("-v").output().is_ok(), "sipp not found: install sip-tester (scripts/test.sh does)");
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .args(["30", "sipp", &sw.addr().to_string(), "-sf"])
        .arg(scenario(name))
        .args(["-t", transport, "-m", "1", "-s", number, "-au", number, "-ap", password])
        .args(["-i", "127.0.0.1", "-p", &common::free_port().to_string(), "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err"])
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

fn all_scenarios(transport: &str) {
    let lab = Lab::new();
    for n in ["2001", "2002", "2003", "2004", "2005"] {
        lab.add_subscriber(n, "secret", None);
    }
    let sw = lab.start(&Config::default());
    sipp(&sw, "reg_digest", transport, "2001", "secret");
    let r = lab.record("2001").expect("registered");
    // SIPp closes its TCP connection when the scenario ends: the signalling
    // channel is gone, so the record says so. Over UDP there is no channel to lose.
    let expected = if transport == "t1" { "signalling_dropped" } else { "registered" };
    assert_eq!(r["state"], expected);
    assert_eq!(r["transport"], if transport == "t1" { "tcp" } else { "udp" });

    sipp(&sw, "reg_refresh", transport, "2002", "secret");
    let left = lab.record("2002").expect("refreshed")["time_left"].as_u64().unwrap();
    assert!((290..=300).contains(&left), "refresh set the new expiry: {left}");

    sipp(&sw, "unregister", transport, "2003", "secret");
    assert!(lab.record("2003").is_none(), "unregister removed the record");

    sipp(&sw, "binding_query", transport, "2004", "secret");

    sipp(&sw, "wrong_password", transport, "2005", "not-the-password");
    assert!(lab.record("2005").is_none(), "a failed authentication registers nothing");

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
