//! `scripts/netns/topology.sh` as a tool (issue 6): several NAT'd sites, an
//! idempotent `up`, `status`, and the operations the roaming scenarios use —
//! each checked by traffic inside the namespaces, not by reading rules back.
//! Needs root, so it is #[ignore]: `cargo test` skips it, `scripts/test.sh` as root runs it
//! (`--include-ignored`); run that way without them, it fails and says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};
use tests::netns::{SWITCH_IP, Topology};
use tests::proc::{Lines, Proc};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn sites_are_natted_firewalled_and_can_be_broken_and_restored() {
    if let Err(why) = tests::netns::available() {
        panic!("the netns tool test cannot run here: {why}");
    }
    let name = format!("nt{}", std::process::id() % 100_000);
    let topo = Topology::up_sites(&name, 2);
    // A second `up` with the same shape changes nothing (processes inside survive it).
    let _tcp = Proc::spawn(&mut topo.probe("sw", &["tcp-echo-server", SWITCH_IP, "7001", "60"]));
    let _udp = Proc::spawn(&mut topo.probe("sw", &["udp-echo-server", SWITCH_IP, "7002", "60"]));
    assert!(topo.ensure_up(2).contains("already up"));
    let status = topo.status();
    assert!(status.contains("site 1 phone") && status.contains("site 2 phone"), "{status}");
    assert!(status.contains("public 198.51.100.2") && status.contains("public 198.51.100.3"), "{status}");

    // Both sites reach the public switch host over TCP and UDP.
    for ph in ["ph", "ph2"] {
        wait_until(&format!("{ph} -> switch tcp"), || topo.probe_ok(ph, &["tcp-connect", SWITCH_IP, "7001"]));
        assert!(topo.probe_ok(ph, &["udp-ping", SWITCH_IP, "7002"]), "{ph} -> switch udp");
    }
    // The firewall drops new inbound connections to a phone.
    let _phone = Proc::spawn(&mut topo.probe("ph2", &["tcp-echo-server", &Topology::phone_ip(2), "7003", "60"]));
    wait_until("phone 2's own listener", || topo.probe_ok("ph2", &["tcp-connect", &Topology::phone_ip(2), "7003"]));
    assert!(!topo.probe_ok("sw", &["tcp-connect", &Topology::phone_ip(2), "7003"]), "inbound must die at the firewall");

    // block-udp stops UDP at site 2 only; TCP still passes; restore brings UDP back.
    topo.block_udp(2);
    assert!(!topo.probe_ok("ph2", &["udp-ping", SWITCH_IP, "7002"]), "UDP blocked at site 2");
    assert!(topo.probe_ok("ph", &["udp-ping", SWITCH_IP, "7002"]), "site 1 unaffected");
    assert!(topo.probe_ok("ph2", &["tcp-connect", SWITCH_IP, "7001"]), "TCP still passes");
    topo.restore(2);
    assert!(topo.probe_ok("ph2", &["udp-ping", SWITCH_IP, "7002"]), "UDP restored");

    // blackhole: an established flow goes silent (no RST), another port is unaffected.
    let gate = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let gate_path = gate.to_path_buf();
    drop(gate);
    let gate_arg = gate_path.display().to_string();
    let (_hold, mut out) = Lines::spawn(&mut topo.probe("ph", &["tcp-hold", SWITCH_IP, "7001", "45001", &gate_arg]));
    out.wait(&["first=ok"], Duration::from_secs(10));
    topo.blackhole(45001, 1);
    std::fs::write(&gate_path, b"").unwrap();
    out.wait(&["second=timeout"], Duration::from_secs(10));
    assert!(topo.probe_ok("ph", &["tcp-connect", SWITCH_IP, "7001"]), "other flows of the site still pass");
    topo.restore(1);
    let _ = std::fs::remove_file(&gate_path);

    // readdress: the site's NAT shows the new public address to the switch.
    topo.readdress_site("198.51.100.102", 2);
    let status = topo.status();
    assert!(status.contains("public 198.51.100.102"), "{status}");
    wait_until("site 2 after readdress", || topo.probe_ok("ph2", &["tcp-connect", SWITCH_IP, "7001"]));

    // renumber: the phone gets a new private address and keeps its way out through the NAT.
    topo.renumber_site("10.1.0.9", 1);
    let status = topo.status();
    assert!(status.contains("site 1 phone nt") && status.contains(" 10.1.0.9 nat "), "{status}");
    assert!(topo.probe_ok("ph", &["tcp-connect", SWITCH_IP, "7001"]), "site 1 reaches the switch from its new address");
}
