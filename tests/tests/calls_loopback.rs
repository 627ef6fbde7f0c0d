//! Calls end to end on 127.0.0.1 with the real binaries: a `switch` (B2BUA and
//! relay) and two `agent`s. B listens (auto-answering with a 1000 Hz tone, or
//! ringing, or busy); A calls B with a 440 Hz tone. Each agent's recording must
//! hold the other's tone (Goertzel via `media::tone`), and the switch's call
//! record (`switch calls --json`) must show the call and RTP both ways. Then
//! CANCEL before answer and busy (486). A's DTMF (RFC 4733) reaches B.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tests::workspace_bin;

const WAIT: Duration = Duration::from_secs(20);

/// Ends a process this test started, by its id, when the test ends either way.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A switch with two provisioned numbers, 2001 (A) and 2002 (B).
struct Lab {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    _switch: Proc,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Lab {
    /// `relay_base`: the first of 40 relay ports, different per test so parallel tests do not meet.
    fn start(relay_base: u16) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let data = dir.join("data");
        for n in ["2001", "2002"] {
            let out = switch_cli(&data, &["subscriber", "add", n, "--password", &format!("pw{n}")]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_port();
        let config = dir.join("switch.toml");
        std::fs::write(
            &config,
            format!(
                "listen = [\"tcp:127.0.0.1:{port}\"]\ndata_dir = {:?}\nrelay_address = \"127.0.0.1\"\n[calls]\nring_time = 20\nrelay_ports = \"{}-{}\"\n",
                data.display().to_string(),
                relay_base,
                relay_base + 39
            ),
        )
        .unwrap();
        let log = dir.join("switch.log");
        let switch = Proc(
            Command::new(workspace_bin("switch"))
                .args(["run", "--config"])
                .arg(&config)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + WAIT;
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("switch running") {
            assert!(Instant::now() < deadline, "switch did not start:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
        Lab { _tmp: tmp, dir, data, port, _switch: switch }
    }

    fn agent(&self, number: &str, args: &[&str]) -> Command {
        let mut c = Command::new(workspace_bin("agent"));
        c.args(["--switch", &format!("tcp:127.0.0.1:{}", self.port), "--number", number, "--domain", "switch.local"])
            .args(["--mac", "02:42:ac:11:00:0a", "--instance-file"])
            .arg(self.dir.join(format!("{number}.instance")))
            .args(args)
            .env("AGENT_PASSWORD", format!("pw{number}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    }

    /// B: `agent listen ARGS`, registered; its stdout lines come on the channel.
    fn listener(&self, args: &[&str]) -> (Proc, mpsc::Receiver<String>) {
        let mut child = self.agent("2002", &[&["listen"], args].concat()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let b = Proc(child);
        wait_line(&rx, "registered ", &mut Vec::new());
        (b, rx)
    }

    /// A: `agent call 2002 ARGS` to its end.
    fn call(&self, args: &[&str]) -> Output {
        let child = self.agent("2001", &[&["call", "2002", "--timeout", "15"], args].concat()).spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        rx.recv_timeout(Duration::from_secs(60)).expect("agent call did not exit").unwrap()
    }

    /// The switch's call records.
    fn calls(&self) -> Vec<serde_json::Value> {
        let out = switch_cli(&self.data, &["calls", "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().cloned().unwrap()
    }

    /// The one call record, once it has ended.
    fn ended_record(&self) -> serde_json::Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let all = self.calls();
            if let [rec] = all.as_slice()
                && !rec["end_at"].is_null()
            {
                return rec.clone();
            }
            assert!(Instant::now() < deadline, "no ended call record: {all:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn switch_cli(data: &Path, args: &[&str]) -> Output {
    Command::new(workspace_bin("switch")).args(args).arg("--data-dir").arg(data).output().unwrap()
}

/// The next line containing `needle` (every line read is kept in `seen` for the failure message).
fn wait_line(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?} within {WAIT:?}; got:\n{}", seen.join("\n")),
        }
    }
}

/// The strongest of 440/1000 Hz in a recording (None: silence or neither).
fn tone_in(wav: &Path) -> Option<f64> {
    let samples = media::wav::read_wav(wav).unwrap();
    media::tone::dominant(&samples, &[440.0, 1000.0], media::tone::RATE)
}

/// A number from the relay range that differs per test and per run.
fn relay_base(test: u16) -> u16 {
    30_000 + ((std::process::id() % 200) as u16) * 160 + test * 40
}

#[test]
fn agents_call_through_the_switch_tones_cross_both_ways_and_the_record_shows_rtp() {
    let lab = Lab::start(relay_base(0));
    let (a_wav, b_wav) = (lab.dir.join("a.wav"), lab.dir.join("b.wav"));
    let (_b, b_lines) = lab.listener(&["--auto-answer", "--tone", "1000", "--record", b_wav.to_str().unwrap()]);
    let out = lab.call(&["--tone", "440", "--record", a_wav.to_str().unwrap(), "--duration", "3", "--dtmf", "19#"]);
    let a_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "A's call failed:\n{a_said}");
    assert!(a_said.contains("call state=ringing"), "{a_said}");
    assert!(a_said.contains("call state=answered"), "{a_said}");
    assert!(a_said.contains("media state=started") && a_said.contains("remote=127.0.0.1:"), "{a_said}");
    assert!(a_said.contains("by=local reason=hangup"), "{a_said}");
    assert!(a_said.contains("tone hz=1000 "), "{a_said}");
    let mut seen = Vec::new();
    wait_line(&b_lines, "dtmf id=1 digit=#", &mut seen);
    let digits: String = seen.iter().filter_map(|l| l.strip_prefix("dtmf id=1 digit=")).collect();
    assert_eq!(digits, "19", "each digit reported once, as it came: {seen:?}");
    let stopped = wait_line(&b_lines, "media state=stopped", &mut seen);
    assert!(stopped.contains("dtmf=\"19#\""), "B got A's RFC 4733 DTMF through the relay: {stopped}");
    let b_ended = wait_line(&b_lines, "call ended", &mut seen);
    assert!(b_ended.contains("by=remote reason=hangup"), "{b_ended}");
    wait_line(&b_lines, "tone hz=", &mut seen);
    assert_eq!(tone_in(&a_wav), Some(1000.0), "A hears B's 1000 Hz");
    assert_eq!(tone_in(&b_wav), Some(440.0), "B hears A's 440 Hz");

    let rec = lab.ended_record();
    assert_eq!((rec["caller"].as_str(), rec["callee"].as_str()), (Some("2001"), Some("2002")), "{rec}");
    assert_eq!(rec["status"], 200, "{rec}");
    assert_eq!(rec["end_reason"], "caller_bye", "{rec}");
    assert!(rec["caller_media"]["packets_in"].as_u64().unwrap() > 100, "RTP from A: {rec}");
    assert!(rec["callee_media"]["packets_in"].as_u64().unwrap() > 100, "RTP from B: {rec}");
}

#[test]
fn caller_hangs_up_while_it_rings_cancel_gives_487() {
    let lab = Lab::start(relay_base(1));
    let (_b, b_lines) = lab.listener(&["--auto-answer", "--answer-after", "60"]);
    // --timeout 15 would be long: the answer wait is what ends this call, so give A 3 s.
    let child = lab.agent("2001", &["call", "2002", "--timeout", "3"]).spawn().unwrap();
    let out = child.wait_with_output().unwrap();
    let a_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "not answered:\n{a_said}");
    assert!(a_said.contains("call state=ringing"), "{a_said}");
    assert!(a_said.contains("by=local reason=cancelled status=487"), "{a_said}");
    let b_ended = wait_line(&b_lines, "call ended", &mut Vec::new());
    assert!(b_ended.contains("by=remote reason=cancelled status=487"), "{b_ended}");
    let rec = lab.ended_record();
    assert_eq!(rec["status"], 487, "{rec}");
}

#[test]
fn busy_callee_486_reaches_the_caller() {
    let lab = Lab::start(relay_base(2));
    let (_b, b_lines) = lab.listener(&["--reject-with", "486"]);
    let out = lab.call(&["--duration", "1"]);
    let a_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "not answered:\n{a_said}");
    assert!(a_said.contains("by=remote reason=rejected status=486"), "{a_said}");
    let b_ended = wait_line(&b_lines, "call ended", &mut Vec::new());
    assert!(b_ended.contains("by=local reason=rejected status=486"), "{b_ended}");
    let rec = lab.ended_record();
    assert_eq!(rec["status"], 486, "{rec}");
}
