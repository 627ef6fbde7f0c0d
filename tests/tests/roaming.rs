//! Roaming proof on real NAT (issue 6): every path of the source document
//! where a phone behind a firewall loses its way, run with the real `switch`
//! and `agent` in the namespaces of `scripts/netns/topology.sh`. The switch's
//! decision is read with `switch route NUMBER` (the B2BUA asks the same
//! question). Each scenario prints `RECOVERY metric=... seconds=...` for
//! `scripts/roaming/recovery.sh`.
//!
//! Needs root, iproute2, iptables, conntrack and python3 (scripts/test.sh
//! installs them), so each is #[ignore]: `cargo test` skips it, `scripts/test.sh` as root runs it
//! (`--include-ignored`); run that way without them, it fails and says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};
use tests::agent::{REGISTER_WITHIN, command, field, listen_with, local_port, run, tone_in_last};
use tests::netns::{SWITCH_IP, Topology};
use tests::proc::Lines;
use tests::switch::{Config, Switch, SwitchHost, report_recovery};

/// Every scenario runs on the defaults (the targets are "with default
/// settings"). A dead path is found by the kernel's TCP keep-alive probes:
/// the switch's (3,2,3) 9 s and the agent's (4,2,4) 12 s after the last thing
/// heard, far inside Flow-Timer (120 s) + grace (10 s) and the agent's
/// Flow-Timer + 10 s pong wait, the bounds RFC 5626 alone would give.
const SWITCH_DEAD_AFTER: u64 = 9;
const AGENT_DEAD_AFTER: u64 = 12;
/// Slack on top of those for the reconnect, the REGISTER and a loaded machine.
const SLACK: u64 = 5;
const HOME: &str = "sip:home@home.example.net";
/// The number of the caller that proves a phone is reachable: an agent on the
/// public side (in the switch's namespace), provisioned by every `lab`.
const CALLER: &str = "4900";
/// What every phone in these scenarios runs: answer at once with a 1000 Hz tone.
const ANSWER: &[&str] = &["--auto-answer", "--tone", "1000"];

/// Places a call from the public side to `number` and checks that it was
/// answered and that the phone's tone came back through the relay.
fn call_reaches(topo: &Topology, sw: &SwitchHost, number: &str) {
    let wav = sw.dir.path().join(format!("call-{number}.wav")).display().to_string();
    let args = ["call", number, "--tone", "440", "--duration", "1", "--timeout", "10", "--record", &wav];
    let out = run(command(Some((topo, "sw")), &switch_spec(), CALLER, &format!("pw{CALLER}"), &[]).args(args), Duration::from_secs(30));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "a call to {number} was not answered:\n{said}");
    assert!(said.contains("tone hz=1000 "), "{number}'s audio came back through the relay:\n{said}");
}

fn switch_spec() -> String {
    format!("tcp:{SWITCH_IP}:5060")
}

/// A topology of `sites` sites named after the test and this process, and a
/// switch in its public namespace with `numbers` provisioned (home = HOME).
fn lab(tag: &str, sites: u8, numbers: &[&str], registrar: &[&str]) -> (Topology, SwitchHost, Switch) {
    if let Err(why) = tests::netns::available() {
        panic!("the roaming scenarios cannot run here: {why}");
    }
    let topo = Topology::up_sites(&format!("{tag}{}", std::process::id() % 100_000), sites);
    let sw = SwitchHost::new();
    for n in numbers {
        sw.add_subscriber(n, &format!("pw{n}"), Some(HOME));
    }
    sw.add_subscriber(CALLER, &format!("pw{CALLER}"), None);
    let proc = start_switch(&topo, &sw, registrar);
    (topo, sw, proc)
}

/// The switch in the public namespace, on its defaults but for `registrar`
/// lines (the namespace is the test's own: its default port cannot collide).
fn start_switch(topo: &Topology, sw: &SwitchHost, registrar: &[&str]) -> Switch {
    let ns = topo.ns("sw");
    let config = registrar.iter().fold(Config::default().listen(&[&switch_spec()]).relay(SWITCH_IP), |c, line| c.registrar(line));
    sw.start_in(&["ip", "netns", "exec", &ns], &config)
}

/// a. Roaming while idle: the site's public address changes (and its conntrack
/// is flushed); the agent registers again with the new public IP and a call
/// placed right after reaches it.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn public_address_change_while_idle_reregisters_and_a_call_reaches_it() {
    let (topo, sw, _switch) = lab("ra", 1, &["4006"], &[]);
    let (_agent, mut lines) = listen_with(Some((&topo, "ph")), &switch_spec(), "4006", "pw4006", &[], ANSWER);
    lines.wait(&["registered", &format!("public_ip={}", Topology::nat_ip(1))], REGISTER_WITHIN);
    let roamed_at = Instant::now();
    topo.readdress_site("198.51.100.106", 1);
    lines.wait(&["registered", "public_ip=198.51.100.106"], Duration::from_secs(AGENT_DEAD_AFTER + SLACK));
    report_recovery("public_address_change_to_reregistered", roamed_at.elapsed());
    sw.wait_route("4006", "flow observed=198.51.100.106:", Duration::from_secs(5));
    call_reaches(&topo, &sw, "4006");
}

/// b. Silent NAT mapping loss: the phone's flow is blackholed (no RST). The
/// switch declares it dead within Flow-Timer + grace and routes home; the agent
/// misses a pong, reconnects on a new mapping and calls reach it again.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn silent_mapping_loss_routes_home_then_the_agent_recovers() {
    let (topo, sw, _switch) = lab("rb", 1, &["4001"], &[]);
    let (_agent, mut lines) = listen_with(Some((&topo, "ph")), &switch_spec(), "4001", "pw4001", &["--bearer-port", "40000"], ANSWER);
    let first = lines.wait(&["registered"], REGISTER_WITHIN);
    let port = local_port(&first);
    sw.wait_route("4001", "flow observed=", Duration::from_secs(5));

    let lost_at = Instant::now();
    topo.blackhole(port, 1);
    let (line, to_home) = sw.wait_route("4001", "home reason=signalling_dropped", Duration::from_secs(SWITCH_DEAD_AFTER + SLACK));
    assert!(line.ends_with(HOME), "{line}");
    report_recovery("mapping_loss_to_home", to_home);

    lines.wait(&["flow-lost"], Duration::from_secs(AGENT_DEAD_AFTER + SLACK));
    let again = lines.wait(&["registered", "kind=reconnect"], Duration::from_secs(20));
    let to_agent = lost_at.elapsed();
    report_recovery("mapping_loss_to_reregistered", to_agent);
    assert_ne!(local_port(&again), port, "a new flow: {again}");
    let (line, _) = sw.wait_route("4001", "flow observed=", Duration::from_secs(5));
    assert!(line.contains(&format!("{}:", Topology::nat_ip(1))), "{line}");
    call_reaches(&topo, &sw, "4001");
}

/// c. Collision: a second device (other MAC) registers the number while the
/// first flow is alive: refused, calls go home; once the first is gone, the
/// second registers and calls go to it.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn second_device_collides_calls_go_home_until_the_first_is_gone() {
    let (topo, sw, _switch) = lab("rc", 2, &["4002"], &[]);
    let (first, mut a) = listen_with(Some((&topo, "ph")), &switch_spec(), "4002", "pw4002", &["--mac", "02:00:00:00:40:01"], ANSWER);
    a.wait(&["registered"], REGISTER_WITHIN);
    sw.wait_route("4002", &format!("flow observed={}:", Topology::nat_ip(1)), Duration::from_secs(5));

    let (second, mut b) = listen_with(Some((&topo, "ph2")), &switch_spec(), "4002", "pw4002", &["--mac", "02:00:00:00:40:02"], ANSWER);
    let refused = b.wait(&["registration-failed"], REGISTER_WITHIN);
    assert_eq!(field(&refused, "status"), Some("403"), "{refused}");
    let (line, _) = sw.wait_route("4002", "home reason=conflict", Duration::from_secs(5));
    assert!(line.ends_with(HOME), "{line}");
    assert_eq!(sw.record("4002")["state"], "conflict");
    drop(second);

    // The first device goes away (killed: its connection closes without an un-REGISTER).
    drop(first);
    sw.wait_route("4002", "home reason=signalling_dropped", Duration::from_secs(5));
    let (_second, mut b) = listen_with(Some((&topo, "ph2")), &switch_spec(), "4002", "pw4002", &["--mac", "02:00:00:00:40:02"], ANSWER);
    b.wait(&["registered"], REGISTER_WITHIN);
    sw.wait_route("4002", &format!("flow observed={}:", Topology::nat_ip(2)), Duration::from_secs(5));
    assert_eq!(sw.record("4002")["mac"], "02:00:00:00:40:02");
    call_reaches(&topo, &sw, "4002");
}

/// d. TTL: the agent's process is frozen, so nothing refreshes. Its kernel
/// still answers TCP keep-alive probes, so the flow looks alive; the record's
/// 20 s TTL runs out first (home, TTL expired; Flow-Timer + grace would have
/// caught the silent CRLF pings at 130 s). Thawed, the agent registers again.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn frozen_agent_expires_to_home_and_registers_again_when_thawed() {
    const EXPIRES: u64 = 20;
    let (topo, sw, _switch) = lab("rd", 1, &["4003"], &["min_expires = 10"]);
    let (agent, mut lines) =
        listen_with(Some((&topo, "ph")), &switch_spec(), "4003", "pw4003", &["--expires", &EXPIRES.to_string()], ANSWER);
    let first = lines.wait(&["registered"], REGISTER_WITHIN);
    assert_eq!(field(&first, "expires"), Some("20"), "{first}");
    sw.wait_route("4003", "flow observed=", Duration::from_secs(5));

    agent.signal("STOP");
    let (_, to_expired) = sw.wait_route("4003", "home reason=ttl_expired", Duration::from_secs(EXPIRES + 5));
    report_recovery("frozen_to_ttl_expired", to_expired);
    assert!(sw.record("4003").is_null(), "an expired record is gone from the listing: {}", sw.record("4003"));

    agent.signal("CONT");
    lines.wait(&["registered"], Duration::from_secs(30));
    sw.wait_route("4003", "flow observed=", Duration::from_secs(5));
    call_reaches(&topo, &sw, "4003");
}

/// f. The switch is killed (-9) and restarted while agents at two sites idle:
/// every agent is registered again and reachable down its new flow.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn switch_kill9_and_restart_every_agent_registers_again() {
    let (topo, sw, mut switch) = lab("rf", 2, &["4004", "4005"], &[]);
    let (_a, mut a) = listen_with(Some((&topo, "ph")), &switch_spec(), "4004", "pw4004", &[], ANSWER);
    let (_b, mut b) = listen_with(Some((&topo, "ph2")), &switch_spec(), "4005", "pw4005", &[], ANSWER);
    a.wait(&["registered"], REGISTER_WITHIN);
    b.wait(&["registered"], REGISTER_WITHIN);

    switch.kill9();
    switch.restart();
    let restarted = Instant::now();
    for n in ["4004", "4005"] {
        assert!(sw.route(n).contains("home reason=signalling_dropped"), "before the phones return: {}", sw.route(n));
    }
    a.wait(&["registered", "kind=reconnect"], Duration::from_secs(30));
    b.wait(&["registered", "kind=reconnect"], Duration::from_secs(30));
    report_recovery("switch_restart_to_all_registered", restarted.elapsed());
    for n in ["4004", "4005"] {
        sw.wait_route(n, "flow observed=", Duration::from_secs(5));
        call_reaches(&topo, &sw, n);
    }
}

/// g. The site's public address changes during an answered call. Decided
/// behaviour: the call is kept. The agent's flow dies (its next probe leaves
/// from the new address and the switch resets it); the agent keeps the
/// answered call, registers on a new flow and re-INVITEs the call there; the
/// switch follows it to the new flow and re-latches its relay leg to the new
/// address. Both ends hear each other again before the caller hangs up.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn public_address_change_mid_call_keeps_the_call_with_a_reinvite() {
    let moved = |topo: &Topology| topo.readdress_site("198.51.100.107", 1);
    call_survives("rg", "4007", moved, &["registered", "public_ip=198.51.100.107"], "public_address_change_mid_call_to_rejoined");
}

/// h. The phone itself changes networks during an answered call (a new
/// private address: another Wi-Fi, a new lease). Its flow dies with the old
/// address; registered again from the new one, the agent moves the call's
/// bearer there (`call state=relocating`) and re-INVITEs with an SDP that
/// names it; the relay latches the new path.
#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn local_address_change_mid_call_moves_the_media_and_keeps_the_call() {
    let moved = |topo: &Topology| topo.renumber_site("10.1.0.7", 1);
    let after = ["registered", "local=10.1.0.7:"];
    call_survives("rh", "4008", moved, &after, "local_address_change_mid_call_to_rejoined");
}

/// A 30 s call from the public side to `number` at site 1, answered with the
/// phone's tone; 2 s in, `move_phone` happens. The phone must say the call was
/// interrupted, register again (a line with every word of `registered`) and
/// re-join it; the caller hangs up itself at the end, and both recordings end
/// with the other side's tone.
fn call_survives(tag: &str, number: &str, move_phone: impl FnOnce(&Topology), registered: &[&str], metric: &str) {
    let (topo, sw, _switch) = lab(tag, 1, &[number], &[]);
    let heard_by_phone = sw.dir.path().join("phone.wav");
    let phone_record = heard_by_phone.display().to_string();
    let answer = [ANSWER, &["--record", &phone_record]].concat();
    let (_phone, mut phone) = listen_with(Some((&topo, "ph")), &switch_spec(), number, &format!("pw{number}"), &[], &answer);
    phone.wait(&["registered"], REGISTER_WITHIN);

    let heard_by_caller = sw.dir.path().join("caller.wav");
    let caller_record = heard_by_caller.display().to_string();
    let mut caller_cmd = command(Some((&topo, "sw")), &switch_spec(), CALLER, &format!("pw{CALLER}"), &[]);
    caller_cmd.args(["call", number, "--tone", "440", "--duration", "30", "--timeout", "10", "--record", &caller_record]);
    let (_caller, mut caller) = Lines::spawn(&mut caller_cmd);
    phone.wait(&["call state=answered"], Duration::from_secs(15));
    phone.wait(&["media state=started"], Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));

    let moved_at = Instant::now();
    move_phone(&topo);
    phone.wait(&["call state=interrupted"], Duration::from_secs(AGENT_DEAD_AFTER + SLACK));
    phone.wait(registered, Duration::from_secs(10));
    phone.wait(&["call state=rejoined"], Duration::from_secs(5));
    report_recovery(metric, moved_at.elapsed());

    let ended = caller.wait(&["call ended"], Duration::from_secs(40));
    assert!(ended.contains("by=local"), "the caller hung up itself after its 30 s, the call was never cut: {ended}");
    caller.wait(&["tone hz="], Duration::from_secs(5));
    phone.wait(&["call ended"], Duration::from_secs(5));
    let tail = Duration::from_secs(3);
    assert_eq!(tone_in_last(&heard_by_caller, tail), Some(1000.0), "the caller hears the phone again after the move");
    assert_eq!(tone_in_last(&heard_by_phone, tail), Some(440.0), "the phone hears the caller again after the move");
}
