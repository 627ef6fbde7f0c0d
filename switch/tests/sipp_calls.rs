//! SIPp calls through the real `switch` binary over UDP, SIPp on both legs:
//! the callee at the number's home location, the caller a trusted peer. An
//! independent RFC 3261 implementation each side of the B2BUA, for each way a
//! call ends — the caller hangs up (SIPp's built-in `uac`/`uas`: INVITE, 180,
//! 200 with SDP, ACK, BYE), the callee hangs up, the caller cancels while the
//! callee rings (scenarios in `scripts/sipp/`) — and the call record read back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, lab, wait_for};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tests::ports::PortBlock;

const NUMBER: &str = "3001";

/// `-sn NAME` for SIPp's built-in scenarios, `-sf scripts/sipp/NAME.xml` for ours.
fn scenario(name: &str) -> [String; 2] {
    if matches!(name, "uac" | "uas") {
        return ["-sn".into(), name.into()];
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sipp").join(format!("{name}.xml"));
    ["-sf".into(), file.display().to_string()]
}

/// One SIPp run (one call, `-m 1`) under `timeout`, its error and message
/// traces in its own directory; stopped if dropped unfinished.
struct Sipp {
    child: Option<Child>,
    dir: PathBuf,
}

impl Sipp {
    fn start(dir: PathBuf, name: &str, port: u16, args: &[&str]) -> Sipp {
        std::fs::create_dir(&dir).unwrap();
        let child = Command::new("timeout")
            .args(["-k", "5", "40", "sipp"])
            .args(args)
            .args(scenario(name))
            .args(["-s", NUMBER, "-i", "127.0.0.1", "-p", &port.to_string(), "-m", "1"])
            .args(["-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Sipp { child: Some(child), dir }
    }

    /// Waits for SIPp to end (`timeout` bounds it); its traces if it failed.
    fn finish(mut self) -> Result<(), String> {
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        if out.status.success() {
            return Ok(());
        }
        let mut report = format!("sipp in {} failed ({}): {}\n", self.dir.display(), out.status, String::from_utf8_lossy(&out.stderr));
        for f in std::fs::read_dir(&self.dir).unwrap().flatten() {
            report += &format!("--- {}\n{}\n", f.path().display(), std::fs::read_to_string(f.path()).unwrap_or_default());
        }
        Err(report)
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM to `timeout` reaches SIPp too; SIGKILL would orphan it.
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

/// Whether something on 127.0.0.1 has UDP `port` bound (Linux's /proc/net/udp).
fn udp_bound(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|l| l.split_whitespace().nth(1) == Some(local.as_str()))
}

/// One call through the switch: SIPp running `callee` at `NUMBER`'s home
/// location, then SIPp running `caller` calling `NUMBER`. Both scenarios must
/// complete; returns the call's record once it has ended.
fn call(caller: &str, callee: &str) -> Value {
    assert!(Command::new("sipp").arg("-v").output().is_ok(), "sipp not found: install sip-tester (scripts/test.sh does)");
    let work = tempfile::tempdir().unwrap();
    // SIPp cannot say which port it bound: both get one of a reserved block.
    let ports = PortBlock::reserve();
    let (callee_port, caller_port) = (ports.port(0), ports.port(1));
    let lab = lab();
    lab.add_subscriber(NUMBER, "secret", Some(&format!("sip:{NUMBER}@127.0.0.1:{callee_port}")));
    let sw = lab.start(&Config::default().relay("127.0.0.1").calls("trusted_peers = [\"127.0.0.1\"]"));

    let callee = Sipp::start(work.path().join("callee"), callee, callee_port, &[]);
    wait_for(Duration::from_secs(10), "the SIPp callee listening", || {
        if udp_bound(callee_port) { Ok(()) } else { Err(format!("nothing on udp 127.0.0.1:{callee_port}")) }
    });
    let caller = Sipp::start(work.path().join("caller"), caller, caller_port, &[&sw.udp_addr().to_string()]);
    let (caller, callee) = (caller.finish(), callee.finish());
    if caller.is_err() || callee.is_err() {
        panic!("caller: {caller:?}\ncallee: {callee:?}");
    }
    wait_for(Duration::from_secs(5), "the call record ended", || {
        let all = lab.calls();
        all.iter().find(|c| !c["end_at"].is_null()).cloned().ok_or_else(|| format!("{all:?}"))
    })
}

#[test]
fn sipp_uac_calls_sipp_uas_at_home_through_the_switch() {
    let rec = call("uac", "uas");
    assert_eq!(rec["callee"], NUMBER, "{rec}");
    assert_eq!(rec["route"], "home", "{rec}");
    assert_eq!(rec["status"], 200, "{rec}");
    assert_eq!(rec["end_reason"], "caller_bye", "{rec}");
}

#[test]
fn sipp_callee_hangs_up_and_the_switch_relays_its_bye_to_the_sipp_caller() {
    let rec = call("uac_wait_bye", "uas_bye");
    assert_eq!(rec["route"], "home", "{rec}");
    assert_eq!(rec["status"], 200, "{rec}");
    assert!(!rec["answer_at"].is_null(), "{rec}");
    assert_eq!(rec["end_reason"], "callee_bye", "{rec}");
}

#[test]
fn sipp_caller_cancels_while_the_sipp_callee_rings_and_the_switch_cancels_the_callee() {
    let rec = call("uac_cancel", "uas_ring_no_answer");
    assert_eq!(rec["route"], "home", "{rec}");
    assert!(!rec["ringing_at"].is_null(), "{rec}");
    assert!(rec["answer_at"].is_null(), "{rec}");
    assert_eq!(rec["status"], 487, "{rec}");
    assert_eq!(rec["end_reason"], "cancelled", "{rec}");
}
