//! The first real-NAT test: a phone namespace behind a NAT namespace that
//! masquerades and drops every new inbound connection, and a "public" switch
//! namespace (scripts/netns/topology.sh). The real `agent` registers through the
//! NAT; the switch records the private address claimed and the NAT's address
//! observed; the switch reaches the agent down its flow (OPTIONS, `switch probe`)
//! while a direct connection to the phone dies at the firewall. Then the NAT's
//! public address changes and its conntrack is flushed: the agent must be
//! registered again with the new public IP within Flow-Timer + 10 s.
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

const FLOW_TIMER: u64 = 10;

/// Ends a process this test started, by its id, when the test ends either way.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for the agent's next stdout line containing every one of `needles`.
fn wait_line(lines: &mpsc::Receiver<String>, needles: &[&str], within: Duration, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if needles.iter().all(|n| line.contains(n)) {
                    return line;
                }
            }
            Err(_) => panic!("no agent line with {needles:?} within {within:?}; agent said:\n{}", seen.join("\n")),
        }
    }
}

fn switch_cli(bin: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin).args(args).arg("--data-dir").arg(data).output().unwrap()
}

fn record(bin: &Path, data: &Path, number: &str) -> serde_json::Value {
    let out = switch_cli(bin, data, &["registrations", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().iter().find(|r| r["number"] == number).cloned().unwrap_or(serde_json::Value::Null)
}

fn ip_of(addr: &serde_json::Value) -> String {
    let s = addr.as_str().unwrap_or_default();
    s.rsplit_once(':').map_or(s, |(ip, _)| ip).to_owned()
}

/// True when a TCP connection from `host`'s namespace to `target` succeeds within 3 s.
fn connects(topo: &Topology, host: &str, target: &str, port: u16) -> bool {
    topo.command(host, Path::new("timeout"))
        .args(["3", "bash", "-c", &format!("exec 3<>/dev/tcp/{target}/{port}")])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn agent_behind_nat_registers_is_reached_down_its_flow_and_recovers_from_a_new_public_ip() {
    if let Err(why) = tests::netns::available() {
        panic!("the real-NAT test cannot run here: {why}");
    }
    let (switch, agent) = (workspace_bin("switch"), workspace_bin("agent"));
    let topo = Topology::up(&format!("nr{}", std::process::id() % 100_000));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let added = switch_cli(&switch, &data, &["subscriber", "add", "3001", "--password", "pw3001"]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let config = tmp.path().join("switch.toml");
    std::fs::write(
        &config,
        format!(
            "listen = [\"tcp:{SWITCH_IP}:5060\"]\ndata_dir = {:?}\n[registrar]\nflow_timer = {FLOW_TIMER}\nflow_grace = 5\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let log = tmp.path().join("switch.log");
    let _switch = Proc(
        topo.command("sw", &switch)
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("switch running") {
        assert!(Instant::now() < deadline, "switch did not start:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }

    // Something listens on the phone, so a refused connection would prove nothing:
    // only the firewall can stop the switch from reaching it.
    let _phone_listener = Proc(
        topo.command("ph", Path::new("python3"))
            .args(["-c", &format!("import socket,time\ns=socket.socket();s.bind(('{PHONE_IP}',5070));s.listen()\ntime.sleep(120)")])
            .spawn()
            .unwrap(),
    );
    let mut agent_proc = topo
        .command("ph", &agent)
        .args(["--switch", &format!("tcp:{SWITCH_IP}:5060"), "--number", "3001", "--password", "pw3001", "--bearer-port", "40000"])
        .args(["--check-interval", "515", "listen"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = agent_proc.stdout.take().unwrap();
    let mut agent_proc = Proc(agent_proc);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();

    // Registered through the NAT.
    let line = wait_line(&lines, &["registered", &format!("public_ip={NAT_IP}")], Duration::from_secs(20), &mut seen);
    assert!(line.contains(&format!("local={PHONE_IP}:")), "{line}");
    let rec = record(&switch, &data, "3001");
    assert_eq!(rec["state"], "registered", "{rec}");
    assert_eq!(rec["private_ip"], PHONE_IP, "private address as claimed: {rec}");
    assert_eq!(ip_of(&rec["observed"]), NAT_IP, "the NAT's address as observed: {rec}");
    assert_eq!(rec["public_ip"], NAT_IP, "{rec}");
    assert_eq!(rec["behind_nat"], true, "{rec}");
    assert_eq!(rec["bearer_port"], 40000, "{rec}");

    // The switch reaches the phone down the flow; a direct connection dies at the firewall.
    let probe = switch_cli(&switch, &data, &["probe", "3001"]);
    let said = String::from_utf8_lossy(&probe.stdout).into_owned();
    assert!(probe.status.success() && said.starts_with("reachable 3001: 200"), "probe: {said} {}", String::from_utf8_lossy(&probe.stderr));
    let up_by = Instant::now() + Duration::from_secs(10);
    while !connects(&topo, "ph", PHONE_IP, 5070) {
        assert!(Instant::now() < up_by, "the phone's own listener never came up");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!connects(&topo, "sw", PHONE_IP, 5070), "a direct connection from the switch must not get through the NAT");

    // The NAT's public address changes and its connection tracking is flushed.
    let new_ip = "198.51.100.3";
    let roamed_at = Instant::now();
    topo.readdress(new_ip);
    let line = wait_line(&lines, &["registered", &format!("public_ip={new_ip}")], Duration::from_secs(FLOW_TIMER + 10), &mut seen);
    let took = roamed_at.elapsed();
    println!("NAT public address {NAT_IP} -> {new_ip}: registered again in {:.1} s ({line})", took.as_secs_f64());
    let rec = record(&switch, &data, "3001");
    assert_eq!(rec["state"], "registered", "{rec}");
    assert_eq!(ip_of(&rec["observed"]), new_ip, "{rec}");
    assert_eq!(rec["public_ip"], new_ip, "{rec}");
    let probe = switch_cli(&switch, &data, &["probe", "3001"]);
    assert!(probe.status.success(), "reachable again after roaming: {}", String::from_utf8_lossy(&probe.stdout));

    // Stopping the agent unregisters it.
    let pid = agent_proc.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    wait_line(&lines, &["unregistered"], Duration::from_secs(10), &mut seen);
    let status = agent_proc.0.wait().unwrap();
    assert!(status.success(), "agent exit: {status}");
    assert!(record(&switch, &data, "3001").is_null(), "unregistered on stop");
}
