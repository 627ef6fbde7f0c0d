//! The first real-NAT test: a phone namespace behind a NAT namespace that
//! masquerades and drops every new inbound connection, and a "public" switch
//! namespace (scripts/netns/topology.sh). The real `agent` registers through the
//! NAT; the switch records the private address claimed and the NAT's address
//! observed; the switch reaches the agent down its flow (OPTIONS, `switch probe`)
//! while a direct connection to the phone dies at the firewall. Then the NAT's
//! public address changes and its conntrack is flushed: the agent must be
//! registered again with the new public IP within Flow-Timer + 10 s.
//!
//! Needs root, iproute2, iptables and conntrack (scripts/test.sh installs
//! them), so it is #[ignore]: `cargo test` skips it, `scripts/test.sh` as root runs it
//! (`--include-ignored`); run that way without them, it fails and says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tests::netns::{NAT_IP, PHONE_IP, SWITCH_IP, Topology};
use tests::proc::{Lines, Proc};
use tests::switch::{Config, SwitchHost, ip_of};
use tests::workspace_bin;

/// Issue 4 asks for "within Flow-Timer + 10 s" (130 s on the switch's
/// defaults); the agent's kernel keep-alive probes (4,2,4) find the dead
/// path within 12 s, so the test holds it to that plus slack.
const WITHIN: u64 = 12 + 5;

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
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn agent_behind_nat_registers_is_reached_down_its_flow_and_recovers_from_a_new_public_ip() {
    if let Err(why) = tests::netns::available() {
        panic!("the real-NAT test cannot run here: {why}");
    }
    let agent = workspace_bin("agent");
    let topo = Topology::up(&format!("nr{}", std::process::id() % 100_000));
    let sw = SwitchHost::new();
    sw.add_subscriber("3001", "pw3001", None);
    let ns = topo.ns("sw");
    // The namespace is the test's own: the switch's default port there cannot collide.
    let _switch = sw.start_in(&["ip", "netns", "exec", &ns], &Config::default().listen(&[&format!("tcp:{SWITCH_IP}:5060")]));

    // Something listens on the phone, so a refused connection would prove nothing:
    // only the firewall can stop the switch from reaching it.
    let _phone_listener = Proc(
        topo.command("ph", Path::new("python3"))
            .args(["-c", &format!("import socket,time\ns=socket.socket();s.bind(('{PHONE_IP}',5070));s.listen()\ntime.sleep(120)")])
            .spawn()
            .unwrap(),
    );
    let (agent_proc, mut lines) = Lines::spawn(
        topo.command("ph", &agent)
            .args(["--switch", &format!("tcp:{SWITCH_IP}:5060"), "--number", "3001", "--password", "pw3001", "--bearer-port", "40000"])
            .args(["--check-interval", "515", "listen"])
            .env("RUST_LOG", "info")
            .stderr(Stdio::null()),
    );

    // Registered through the NAT.
    let line = lines.wait(&["registered", &format!("public_ip={NAT_IP}")], Duration::from_secs(20));
    assert!(line.contains(&format!("local={PHONE_IP}:")), "{line}");
    let rec = sw.record("3001");
    assert_eq!(rec["state"], "registered", "{rec}");
    assert_eq!(rec["private_ip"], PHONE_IP, "private address as claimed: {rec}");
    assert_eq!(ip_of(&rec["observed"]), NAT_IP, "the NAT's address as observed: {rec}");
    assert_eq!(rec["public_ip"], NAT_IP, "{rec}");
    assert_eq!(rec["behind_nat"], true, "{rec}");
    assert_eq!(rec["bearer_port"], 40000, "{rec}");

    // The switch reaches the phone down the flow; a direct connection dies at the firewall.
    let probe = sw.cli(&["probe", "3001"]);
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
    let line = lines.wait(&["registered", &format!("public_ip={new_ip}")], Duration::from_secs(WITHIN));
    let took = roamed_at.elapsed();
    println!("NAT public address {NAT_IP} -> {new_ip}: registered again in {:.1} s ({line})", took.as_secs_f64());
    tests::switch::report_recovery("public_address_change_to_reregistered", took);
    let rec = sw.record("3001");
    assert_eq!(rec["state"], "registered", "{rec}");
    assert_eq!(ip_of(&rec["observed"]), new_ip, "{rec}");
    assert_eq!(rec["public_ip"], new_ip, "{rec}");
    let probe = sw.cli(&["probe", "3001"]);
    assert!(probe.status.success(), "reachable again after roaming: {}", String::from_utf8_lossy(&probe.stdout));

    // Stopping the agent unregisters it.
    agent_proc.terminate();
    lines.wait(&["unregistered"], Duration::from_secs(10));
    let mut agent_proc = agent_proc;
    let status = agent_proc.0.wait().unwrap();
    assert!(status.success(), "agent exit: {status}");
    assert!(sw.record("3001").is_null(), "unregistered on stop");
}
