//! SIPp with RTP through the switch (issue 5 item 7): a SIPp callee registers
//! (digest) over its own persistent TCP connection, advertising an unreachable
//! private address, and answers the INVITE that comes down that connection,
//! echoing RTP (`-rtp_echo`); a SIPp caller (trusted peer) plays G.711 A-law
//! from SIPp's `g711a.pcap` through the relay. The call record must show RTP
//! relayed both ways. The scenarios are the ones `scripts/bench/calls.sh` uses.
//! Needs root (SIPp's pcap player uses raw sockets), so it is #[ignore]:
//! `scripts/test.sh` as root runs it (`--include-ignored`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, Switch, lab, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tests::ports::PortBlock;

const PCAP: &str = "/usr/share/sip-tester/g711a.pcap";

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench/scenarios").join(name)
}

/// Ends SIPp when the test ends either way.
struct Sipp(Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sipp(sw: &Switch, dir: &Path, args: &[&str]) -> Sipp {
    let child = Command::new("timeout")
        .args(["60", "sipp", &sw.addr().to_string()])
        .args(args)
        .args(["-i", "127.0.0.1", "-nostdin", "-trace_err", "-trace_msg"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Sipp(child)
}

fn logs(dir: &Path) -> String {
    let mut all = String::new();
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        all += &format!("--- {}\n{}\n", f.path().display(), std::fs::read_to_string(f.path()).unwrap_or_default());
    }
    all
}

#[test]
#[ignore = "needs root: SIPp plays the RTP from a pcap over raw sockets (scripts/test.sh runs it as root)"]
fn sipp_caller_plays_rtp_through_the_relay_to_a_sipp_callee_on_its_own_tcp_flow_that_echoes_it() {
    assert!(Command::new("sipp").arg("-v").output().is_ok(), "sipp not found: install sip-tester (scripts/test.sh does)");
    assert!(Path::new(PCAP).exists(), "{PCAP} is missing (Debian package sip-tester)");
    let lab = lab();
    lab.add_subscriber("2002", "secret", None);
    let sw = lab.start(&Config::default().relay("127.0.0.1").calls("trusted_peers = [\"127.0.0.1\"]"));
    let work = tempfile::tempdir().unwrap();
    let users = work.path().join("users.csv");
    std::fs::write(&users, "SEQUENTIAL\n2002;switch.local;secret\n").unwrap();
    // SIPp cannot say which ports it bound: all four are of a reserved block (media even, as RTP wants).
    let ports = PortBlock::reserve();
    let (callee_port, caller_port) = (ports.port(0), ports.port(1));
    let (callee_media, caller_media) = (ports.port(10), ports.port(20));

    let callee_dir = work.path().join("callee");
    std::fs::create_dir(&callee_dir).unwrap();
    let users_arg = users.display().to_string();
    let (cp, cm) = (callee_port.to_string(), callee_media.to_string());
    let reg = scenario("reg_tcp_auth.xml").display().to_string();
    let ooc = scenario("uas_answer_ooc.xml").display().to_string();
    let _callee = sipp(
        &sw,
        &callee_dir,
        &[
            "-sf",
            &reg,
            "-oocsf",
            &ooc,
            "-t",
            "tn",
            "-p",
            &cp,
            "-inf",
            &users_arg,
            "-m",
            "1",
            "-r",
            "1",
            "-d",
            "40000",
            "-s",
            "2002",
            "-set",
            "end_at",
            "0",
            "-set",
            "period_ms",
            "1",
            "-key",
            "priv_ip",
            "127.0.0.2",
            "-key",
            "priv_port",
            "5999",
            "-key",
            "sdp_ip",
            "127.0.0.2",
            "-mp",
            &cm,
            "-rtp_echo",
            "-max_socket",
            "100",
        ],
    );
    wait_for(Duration::from_secs(10), "the SIPp callee registered", || match lab.registration("2002") {
        Some(r) if r["state"] == "registered" => Ok(()),
        other => Err(format!("{other:?}\n{}", logs(&callee_dir))),
    });

    let caller_dir = work.path().join("caller");
    std::fs::create_dir(&caller_dir).unwrap();
    let (kp, km) = (caller_port.to_string(), caller_media.to_string());
    let uac = scenario("uac_call_rtp.xml").display().to_string();
    let mut caller = sipp(
        &sw,
        &caller_dir,
        &[
            "-max_socket",
            "100",
            "-sf",
            &uac,
            "-t",
            "t1",
            "-p",
            &kp,
            "-s",
            "2002",
            "-m",
            "1",
            "-d",
            "8000",
            "-mp",
            &km,
            "-key",
            "pcap",
            PCAP,
        ],
    );
    let status = caller.0.wait().unwrap();
    assert!(status.success(), "the SIPp caller failed ({status}):\n{}", logs(&caller_dir));

    let rec = wait_for(Duration::from_secs(10), "the call's record ended", || {
        let all = lab.calls();
        all.iter().find(|c| !c["end_at"].is_null()).cloned().ok_or_else(|| format!("{all:?}"))
    });
    assert_eq!(rec["callee"], "2002", "{rec}");
    assert_eq!(rec["route"], "flow", "down the callee's own TCP flow: {rec}");
    assert_eq!(rec["status"], 200, "{rec}");
    assert_eq!(rec["end_reason"], "caller_bye", "{rec}");
    // g711a.pcap is 236 packets; the echo sends each back.
    let from_caller = rec["caller_media"]["packets_in"].as_u64().unwrap();
    let from_callee = rec["callee_media"]["packets_in"].as_u64().unwrap();
    assert!(from_caller >= 200, "RTP from the caller relayed: {rec}");
    assert!(from_callee >= 200, "RTP echoed by the callee relayed back: {rec}");
    assert!(rec["callee_media"]["packets_out"].as_u64().unwrap() >= 200, "{rec}");
    assert!(rec["caller_media"]["packets_out"].as_u64().unwrap() >= 200, "{rec}");
}
