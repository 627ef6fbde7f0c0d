//! Calls between phones behind real NATs (scripts/netns/topology.sh: each site's
//! NAT masquerades and drops every new inbound connection). Agent A sits at
//! site 1 (10.1.0.2), agent B at site 2 (10.2.0.2), the switch on the public
//! side. B calls A: the INVITE reaches A down its own flow, each agent's first
//! RTP packet, sent outbound from its bearer port, opens its media leg through
//! its NAT, the relay latches each NAT's address, and the tones cross both
//! ways. Then UDP is blocked at site 2: B's bearer goes over TCP (RFC 4571) and
//! audio still crosses both ways.
//!
//! Needs root, iproute2, iptables, conntrack and python3 (scripts/test.sh
//! installs them), so it is #[ignore]: `cargo test` skips it, `scripts/test.sh` as root runs it
//! (`--include-ignored`); run that way without them, it fails and says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;
use tests::agent::{REGISTER_WITHIN, command, listen_with, run, tone_in};
use tests::netns::{SWITCH_IP, Topology};
use tests::proc::Proc;
use tests::switch::{Config, Switch, SwitchHost};

const WAIT: Duration = Duration::from_secs(30);

fn lab(tag: &str) -> (Topology, SwitchHost, Switch) {
    if let Err(why) = tests::netns::available() {
        panic!("the real-NAT call tests cannot run here: {why}");
    }
    let topo = Topology::up_sites(&format!("{tag}{}", std::process::id() % 100_000), 2);
    let sw = SwitchHost::new();
    for n in ["3001", "3002"] {
        sw.add_subscriber(n, &format!("pw{n}"), None);
    }
    let ns = topo.ns("sw");
    // The namespace is the test's own: the switch's default port there cannot collide.
    let config = Config::default()
        .listen(&[&format!("tcp:{SWITCH_IP}:5060")])
        .relay(SWITCH_IP)
        .registrar("flow_timer = 10")
        .calls("ring_time = 20")
        .relay_ports("20000-20099");
    let switch = sw.start_in(&["ip", "netns", "exec", &ns], &config);
    (topo, sw, switch)
}

/// B (site 2) calls A (site 1) with B's bearer over `b_bearer`; tones both ways.
fn b_calls_a(topo: &Topology, sw: &SwitchHost, b_bearer: &str) {
    let spec = format!("tcp:{SWITCH_IP}:5060");
    let a_wav = sw.dir.path().join("a.wav");
    let b_wav = sw.dir.path().join("b.wav");
    let a_wav_arg = a_wav.display().to_string();
    let (_a, mut a) = listen_with(
        Some((topo, "ph")),
        &spec,
        "3001",
        "pw3001",
        &["--bearer-port", "40000"],
        &["--auto-answer", "--tone", "1000", "--record", &a_wav_arg],
    );
    let registered = a.wait(&["registered "], REGISTER_WITHIN);
    assert!(registered.contains(&format!("public_ip={}", Topology::nat_ip(1))), "{registered}");

    let b_wav_arg = b_wav.display().to_string();
    let out = run(
        command(Some((topo, "ph2")), &spec, "3002", "pw3002", &["--bearer-port", "40002", "--bearer", b_bearer]).args([
            "call",
            "3001",
            "--tone",
            "440",
            "--duration",
            "3",
            "--timeout",
            "20",
            "--record",
            &b_wav_arg,
        ]),
        Duration::from_secs(60),
    );
    let b_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "B's call failed:\n{b_said}");
    assert!(b_said.contains(&format!("transport={b_bearer}")), "{b_said}");

    let started = a.wait(&["media state=started"], WAIT);
    assert!(
        started.contains(&format!("local={}:40000", Topology::phone_ip(1))) && started.contains(&format!("remote={SWITCH_IP}:")),
        "{started}"
    );
    a.wait(&["call ended"], WAIT);
    a.wait(&["tone hz="], WAIT);
    assert_eq!(tone_in(&a_wav), Some(440.0), "A, behind NAT 1, hears B");
    assert_eq!(tone_in(&b_wav), Some(1000.0), "B, behind NAT 2, hears A");

    let rec = sw.ended_call();
    assert_eq!((rec["caller"].as_str(), rec["callee"].as_str()), (Some("3002"), Some("3001")), "{rec}");
    assert_eq!(rec["route"], "flow", "{rec}");
    for leg in ["caller_media", "callee_media"] {
        assert!(rec[leg]["packets_in"].as_u64().unwrap() > 50, "{leg}: {rec}");
    }
    let latched = rec["callee_media"]["latched"].as_str().unwrap_or_default();
    assert!(latched.starts_with(&format!("{}:", Topology::nat_ip(1))), "the relay latched NAT 1's address: {rec}");
}

#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn two_phones_behind_two_nats_call_each_other_audio_both_ways() {
    let (topo, sw, _switch) = lab("nc");
    b_calls_a(&topo, &sw, "udp");
}

/// Issue 6 e: UDP is blocked at a site, so its phone's bearer goes over TCP.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn udp_blocked_at_a_site_bearer_over_tcp_audio_both_ways() {
    let (topo, sw, _switch) = lab("nu");
    let _echo = Proc::spawn(&mut topo.probe("sw", &["udp-echo-server", SWITCH_IP, "7002", "30"]));
    tests::wait_for(Duration::from_secs(10), "UDP to pass before the block (the echo server answering)", || {
        if topo.probe_ok("ph2", &["udp-ping", SWITCH_IP, "7002"]) { Ok(()) } else { Err("no echo".into()) }
    });
    topo.block_udp(2);
    assert!(!topo.probe_ok("ph2", &["udp-ping", SWITCH_IP, "7002"]), "UDP really is blocked at site 2");
    b_calls_a(&topo, &sw, "tcp");
}
