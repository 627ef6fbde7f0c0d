//! A call to a phone behind a real NAT (scripts/netns/topology.sh: the NAT
//! masquerades and drops every new inbound connection). Agent A registers from
//! the phone namespace (private 10.1.0.2); agent B, on the public side, calls
//! it. The INVITE reaches A down its own flow; A answers and its first RTP
//! packet, sent outbound from its bearer port, opens the media leg through the
//! NAT; the relay latches the NAT's address. Tones cross both ways.
//!
//! Needs root, iproute2, iptables and conntrack (scripts/test.sh installs them);
//! without them it fails and says why — it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tests::netns::{NAT_IP, PHONE_IP, SWITCH_IP, Topology};
use tests::workspace_bin;

const WAIT: Duration = Duration::from_secs(30);

/// Ends a process this test started, by its id, when the test ends either way.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

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

fn switch_cli(bin: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin).args(args).arg("--data-dir").arg(data).output().unwrap()
}

fn tone_in(wav: &Path) -> Option<f64> {
    let samples = media::wav::read_wav(wav).unwrap();
    media::tone::dominant(&samples, &[440.0, 1000.0], media::tone::RATE)
}

#[test]
fn a_phone_behind_the_nat_is_called_down_its_flow_and_opens_the_media_leg_outbound() {
    if let Err(why) = tests::netns::available() {
        panic!("the real-NAT test cannot run here: {why}");
    }
    let (switch, agent) = (workspace_bin("switch"), workspace_bin("agent"));
    let topo = Topology::up(&format!("nc{}", std::process::id() % 100_000));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for n in ["3001", "3002"] {
        let added = switch_cli(&switch, &data, &["subscriber", "add", n, "--password", &format!("pw{n}")]);
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    }
    let config = tmp.path().join("switch.toml");
    std::fs::write(
        &config,
        format!(
            "listen = [\"tcp:{SWITCH_IP}:5060\"]\ndata_dir = {:?}\nrelay_address = \"{SWITCH_IP}\"\n[registrar]\nflow_timer = 10\n[calls]\nring_time = 20\nrelay_ports = \"20000-20099\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let log = tmp.path().join("switch.log");
    let _switch = Proc(
        topo.command("sw", &switch)
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
    let agent_args = |number: &str| {
        vec![
            "--switch".to_owned(),
            format!("tcp:{SWITCH_IP}:5060"),
            "--number".to_owned(),
            number.to_owned(),
            "--password".to_owned(),
            format!("pw{number}"),
        ]
    };

    // A, behind the NAT, answers with 1000 Hz and records.
    let a_wav = tmp.path().join("a.wav");
    let mut a = topo
        .command("ph", &agent)
        .args(agent_args("3001"))
        .args(["--bearer-port", "40000", "listen", "--auto-answer", "--tone", "1000", "--record"])
        .arg(&a_wav)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let a_lines = lines_of(&mut a);
    let _a = Proc(a);
    let mut a_seen = Vec::new();
    let registered = wait_line(&a_lines, "registered ", &mut a_seen);
    assert!(registered.contains(&format!("public_ip={NAT_IP}")), "{registered}");

    // B, on the public side, calls A with 440 Hz.
    let b_wav = tmp.path().join("b.wav");
    let out = topo
        .command("sw", &agent)
        .args(agent_args("3002"))
        .args(["call", "3001", "--tone", "440", "--duration", "3", "--timeout", "20", "--record"])
        .arg(&b_wav)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let b_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "B's call failed:\n{b_said}");

    let started = wait_line(&a_lines, "media state=started", &mut a_seen);
    assert!(started.contains(&format!("local={PHONE_IP}:40000")) && started.contains(&format!("remote={SWITCH_IP}:")), "{started}");
    wait_line(&a_lines, "call ended", &mut a_seen);
    wait_line(&a_lines, "tone hz=", &mut a_seen);
    assert_eq!(tone_in(&a_wav), Some(440.0), "A, behind the NAT, hears B");
    assert_eq!(tone_in(&b_wav), Some(1000.0), "B hears A through the NAT");

    let calls = switch_cli(&switch, &data, &["calls", "--json"]);
    let calls: serde_json::Value = serde_json::from_slice(&calls.stdout).unwrap();
    let rec = &calls.as_array().unwrap()[0];
    assert_eq!(rec["callee"], "3001", "{rec}");
    assert!(rec["callee_media"]["packets_in"].as_u64().unwrap() > 50, "{rec}");
    let latched = rec["callee_media"]["latched"].as_str().unwrap_or_default();
    assert!(latched.starts_with(&format!("{NAT_IP}:")), "the relay latched the NAT's address: {rec}");
}
