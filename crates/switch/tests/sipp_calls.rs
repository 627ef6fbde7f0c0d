//! SIPp's built-in `uac` calls through the real `switch` to SIPp's built-in
//! `uas` at the callee's home location (UDP): an independent RFC 3261
//! implementation on both legs — INVITE, 180, 200 with SDP, ACK, BYE — through
//! the B2BUA, and the call record read back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, Lab, wait_for};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn sipp(args: &[String], dir: &std::path::Path) -> Child {
    Command::new("timeout")
        .arg("30")
        .arg("sipp")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sipp_uac_calls_sipp_uas_at_home_through_the_switch() {
    assert!(Command::new("sipp").arg("-v").output().is_ok(), "sipp not found: install sip-tester (scripts/test.sh does)");
    let work = tempfile::tempdir().unwrap();
    let uas_port = common::free_port();
    let lab = Lab::new();
    lab.add_subscriber("3001", "secret", None);
    let out = lab.cli(&["subscriber", "set", "3001", "--home", &format!("sip:3001@127.0.0.1:{uas_port}")]);
    assert!(out.status.success());
    let sw = lab.start(&Config::default().relay("127.0.0.1").calls("trusted_peers = [\"127.0.0.1\"]"));
    let s = |v: &str| v.to_owned();
    let uas =
        sipp(&[s("-sn"), s("uas"), s("-i"), s("127.0.0.1"), s("-p"), uas_port.to_string(), s("-m"), s("1"), s("-nostdin")], work.path());
    std::thread::sleep(Duration::from_millis(300));
    let uac_port = common::free_port();
    let uac = sipp(
        &[
            sw.addr().to_string(),
            s("-sn"),
            s("uac"),
            s("-s"),
            s("3001"),
            s("-i"),
            s("127.0.0.1"),
            s("-p"),
            uac_port.to_string(),
            s("-m"),
            s("1"),
            s("-timeout"),
            s("20s"),
            s("-timeout_error"),
            s("-nostdin"),
        ],
        work.path(),
    );
    let uac = uac.wait_with_output().unwrap();
    let uas = uas.wait_with_output().unwrap();
    assert!(uac.status.success(), "sipp uac failed: {}", String::from_utf8_lossy(&uac.stderr));
    assert!(uas.status.success(), "sipp uas failed: {}", String::from_utf8_lossy(&uas.stderr));
    let rec = wait_for(Duration::from_secs(5), "the call record", || {
        let out = lab.cli(&["calls", "--json"]);
        let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        all.into_iter().find(|c| !c["end_at"].is_null()).ok_or_else(|| "no ended call yet".to_owned())
    });
    assert_eq!(rec["callee"], "3001");
    assert_eq!(rec["route"], "home");
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["end_reason"], "caller_bye");
}
