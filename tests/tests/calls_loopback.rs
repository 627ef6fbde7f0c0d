//! Calls end to end on 127.0.0.1 with the real binaries: a `switch` (B2BUA and
//! relay) and two `agent`s. B listens (auto-answering with a 1000 Hz tone, or
//! ringing, or busy); A calls B with a 440 Hz tone. Each agent's recording must
//! hold the other's tone (Goertzel via `media::tone`), and the switch's call
//! record (`switch calls --json`) must show the call and RTP both ways. Also:
//! the bearer over TCP (RFC 4571) on both legs, CANCEL before answer, busy
//! (486), and A's DTMF (RFC 4733) reaching B.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;
use tests::agent::{REGISTER_WITHIN, command, listen_with, run, tone_in};
use tests::proc::{Lines, Proc};
use tests::switch::{Config, Switch, SwitchHost};

const WAIT: Duration = Duration::from_secs(20);

/// A switch on 127.0.0.1 (a port of its own, a relay range of its own) with
/// 2001 (A) and 2002 (B) provisioned.
struct Lab {
    // Before `sw`: fields drop in order, and a failed test's switch prints its
    // log as it drops, from `sw`'s directory.
    _switch: Switch,
    sw: SwitchHost,
    spec: String,
}

impl Lab {
    fn start() -> Self {
        let sw = SwitchHost::new();
        for n in ["2001", "2002"] {
            sw.add_subscriber(n, &format!("pw{n}"), None);
        }
        // The relay's debug lines (legs opened, connections taken or refused) in the log a failure prints.
        let cfg = Config::default().listen(&["tcp:127.0.0.1:0"]).relay("127.0.0.1").calls("ring_time = 20").log_filter("info,media=debug");
        let switch = sw.start(&cfg);
        Lab { sw, spec: switch.spec(), _switch: switch }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.sw.dir.path().join(name)
    }

    /// Global flags of agent `number`: a stable instance per number.
    fn global(&self, number: &str, extra: &[&str]) -> Vec<String> {
        let instance = self.file(&format!("{number}.instance")).display().to_string();
        let mut g =
            vec!["--domain".into(), "switch.local".into(), "--mac".into(), "02:42:ac:11:00:0a".into(), "--instance-file".into(), instance];
        g.extend(extra.iter().map(|s| s.to_string()));
        g
    }

    /// B: `agent listen ARGS`, registered.
    fn listener(&self, global: &[&str], args: &[&str]) -> (Proc, Lines) {
        let g = self.global("2002", global);
        let g: Vec<&str> = g.iter().map(String::as_str).collect();
        let (b, mut lines) = listen_with(None, &self.spec, "2002", "pw2002", &g, args);
        lines.wait(&["registered "], REGISTER_WITHIN);
        (b, lines)
    }

    /// A: `agent call 2002 ARGS` to its end.
    fn call(&self, global: &[&str], args: &[&str]) -> Output {
        let g = self.global("2001", global);
        let g: Vec<&str> = g.iter().map(String::as_str).collect();
        run(command(None, &self.spec, "2001", "pw2001", &g).args(["call", "2002"]).args(args), Duration::from_secs(60))
    }
}

/// A calls B with tones both ways over `bearer` (udp or tcp); DTMF from A.
/// Returns what A printed and B's lines.
fn tones_cross(bearer: &str) -> (String, Vec<String>) {
    let lab = Lab::start();
    let (a_wav, b_wav) = (lab.file("a.wav"), lab.file("b.wav"));
    let (_b, mut b_lines) = lab.listener(&["--bearer", bearer], &["--auto-answer", "--tone", "1000", "--record", b_wav.to_str().unwrap()]);
    let out = lab.call(
        &["--bearer", bearer],
        &["--timeout", "15", "--tone", "440", "--record", a_wav.to_str().unwrap(), "--duration", "3", "--dtmf", "19#"],
    );
    let a_said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "A's call failed:\n{a_said}\nB said:\n{}", b_lines.said(Duration::from_secs(2)));
    assert!(a_said.contains("call state=ringing"), "{a_said}");
    assert!(a_said.contains("call state=answered"), "{a_said}");
    assert!(a_said.contains("media state=started") && a_said.contains("remote=127.0.0.1:"), "{a_said}");
    assert!(a_said.contains("by=local reason=hangup"), "{a_said}");
    assert!(a_said.contains("tone hz=1000 "), "{a_said}");
    b_lines.wait(&["dtmf id=1 digit=#"], WAIT);
    let digits: String = b_lines.seen.iter().filter_map(|l| l.strip_prefix("dtmf id=1 digit=")).collect();
    assert_eq!(digits, "19#", "each digit reported once, as it came: {:?}", b_lines.seen);
    let stopped = b_lines.wait(&["media state=stopped"], WAIT);
    assert!(stopped.contains("dtmf=\"19#\""), "B got A's RFC 4733 DTMF through the relay: {stopped}");
    let b_ended = b_lines.wait(&["call ended"], WAIT);
    assert!(b_ended.contains("by=remote reason=hangup"), "{b_ended}");
    b_lines.wait(&["tone hz="], WAIT);
    assert_eq!(tone_in(&a_wav), Some(1000.0), "A hears B's 1000 Hz");
    assert_eq!(tone_in(&b_wav), Some(440.0), "B hears A's 440 Hz");

    let rec = lab.sw.ended_call();
    assert_eq!((rec["caller"].as_str(), rec["callee"].as_str()), (Some("2001"), Some("2002")), "{rec}");
    assert_eq!(rec["status"], 200, "{rec}");
    assert_eq!(rec["end_reason"], "caller_bye", "{rec}");
    assert!(rec["caller_media"]["packets_in"].as_u64().unwrap() > 100, "RTP from A: {rec}");
    assert!(rec["callee_media"]["packets_in"].as_u64().unwrap() > 100, "RTP from B: {rec}");
    (a_said, b_lines.seen)
}

#[test]
fn agents_call_through_the_switch_tones_cross_both_ways_and_the_record_shows_rtp() {
    tones_cross("udp");
}

#[test]
fn bearer_over_tcp_rfc4571_on_both_legs_tones_cross_both_ways() {
    // Each agent connects out to its relay leg (a=setup:active); B's connection
    // can reach the relay before its 200 reaches the switch.
    let (a_said, b_seen) = tones_cross("tcp");
    assert!(a_said.contains("transport=tcp"), "{a_said}");
    assert!(b_seen.iter().any(|l| l.starts_with("media state=started") && l.contains("transport=tcp")), "{b_seen:?}");
}

#[test]
fn caller_hangs_up_while_it_rings_cancel_gives_487() {
    let lab = Lab::start();
    let (_b, mut b_lines) = lab.listener(&[], &["--auto-answer", "--answer-after", "60"]);
    // The answer wait is what ends this call, so give A 3 s.
    let out = lab.call(&[], &["--timeout", "3"]);
    let a_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "not answered:\n{a_said}");
    assert!(a_said.contains("call state=ringing"), "{a_said}");
    assert!(a_said.contains("by=local reason=cancelled status=487"), "{a_said}");
    let b_ended = b_lines.wait(&["call ended"], WAIT);
    assert!(b_ended.contains("by=remote reason=cancelled status=487"), "{b_ended}");
    assert_eq!(lab.sw.ended_call()["status"], 487);
}

#[test]
fn busy_callee_486_reaches_the_caller() {
    let lab = Lab::start();
    let (_b, mut b_lines) = lab.listener(&[], &["--reject-with", "486"]);
    let out = lab.call(&[], &["--timeout", "15", "--duration", "1"]);
    let a_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "not answered:\n{a_said}");
    assert!(a_said.contains("by=remote reason=rejected status=486"), "{a_said}");
    let b_ended = b_lines.wait(&["call ended"], WAIT);
    assert!(b_ended.contains("by=local reason=rejected status=486"), "{b_ended}");
    assert_eq!(lab.sw.ended_call()["status"], 486);
}
