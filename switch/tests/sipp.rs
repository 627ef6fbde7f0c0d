//! SIPp interop against the real `switch` binary: the scenarios in
//! `scripts/sipp/` (REGISTER with digest to the switch's address and to its
//! domain, refresh, unregister, binding query, wrong password, and the same
//! for a number not provisioned) over TCP and over UDP. SIPp is a real,
//! independent SIP implementation; `scripts/test.sh` installs it (Debian
//! package `sip-tester`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, Switch, lab, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tests::ports::PortBlock;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sipp").join(format!("{name}.xml"))
}

/// Runs one SIPp scenario to completion from local `port` with `extra`
/// arguments; panics with SIPp's error log if it fails.
fn sipp(sw: &Switch, port: u16, name: &str, transport: &str, number: &str, password: &str, extra: &[&str]) {
    let switch = if transport == "u1" { sw.udp_addr() } else { sw.addr() };
    assert!(Command::new("sipp").arg("-v").output().is_ok(), "sipp not found: install sip-tester (scripts/test.sh does)");
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .args(["30", "sipp", &switch.to_string(), "-sf"])
        .arg(scenario(name))
        .args(["-t", transport, "-m", "1", "-s", number, "-au", number, "-ap", password])
        .args(extra)
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err"])
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
    let lab = lab();
    for n in ["2001", "2002", "2003", "2004", "2005", "2006"] {
        lab.add_subscriber(n, "secret", None);
    }
    let sw = lab.start(&Config::default());
    // SIPp cannot say which port it bound: each run gets one of a reserved block.
    let ports = PortBlock::reserve();
    let switch = if transport == "u1" { sw.udp_addr() } else { sw.addr() };
    // SIPp closes its TCP connection when the scenario ends: the signalling
    // channel is gone, so the record says so. Over UDP there is no channel to lose.
    let expected = if transport == "t1" { "signalling_dropped" } else { "registered" };
    // To the switch's address (the digest uri is the Request-URI), then to its
    // domain: stock SIPp's digest uri is still sip:IP:PORT, which names the
    // switch too (issue 12 item 3).
    for (i, (number, domain)) in [("2001", switch.to_string()), ("2006", "switch.local".to_owned())].into_iter().enumerate() {
        sipp(&sw, ports.port(10 + i as u16), "reg_digest", transport, number, "secret", &["-key", "domain", &domain]);
        // The close reaches the switch, then its store, after SIPp has exited: wait for it.
        let r = wait_for(Duration::from_secs(5), &format!("{number} to sip:{domain} {expected}"), || match lab.registration(number) {
            Some(r) if r["state"] == expected => Ok(r),
            other => Err(format!("{other:?}")),
        });
        assert_eq!(r["transport"], if transport == "t1" { "tcp" } else { "udp" });
    }

    sipp(&sw, ports.port(1), "reg_refresh", transport, "2002", "secret", &[]);
    let left = lab.registration("2002").expect("refreshed")["time_left"].as_u64().unwrap();
    assert!((290..=300).contains(&left), "refresh set the new expiry: {left}");

    sipp(&sw, ports.port(2), "unregister", transport, "2003", "secret", &[]);
    assert!(lab.registration("2003").is_none(), "unregister removed the record");

    sipp(&sw, ports.port(3), "binding_query", transport, "2004", "secret", &[]);

    sipp(&sw, ports.port(4), "wrong_password", transport, "2005", "not-the-password", &[]);
    assert!(lab.registration("2005").is_none(), "a failed authentication registers nothing");

    // A number that is not provisioned: challenged, then refused like a wrong password (issue 12).
    sipp(&sw, ports.port(5), "wrong_password", transport, "9999", "secret", &[]);
}

#[test]
fn sipp_scenarios_over_tcp() {
    all_scenarios("t1");
}

#[test]
fn sipp_scenarios_over_udp() {
    all_scenarios("u1");
}
