//! A stock SIP phone behind a real NAT (issue 6 item 3): baresip (Debian's
//! `baresip-core`) at site 1 of `scripts/netns/topology.sh` registers over TCP
//! with RFC 5626 outbound, keeps its flow alive with its own CRLF pings, and
//! auto-answers a call from an agent on the public side. The INVITE can only
//! reach it down its own flow (the NAT drops every new inbound connection);
//! its RTP goes out through the NAT to the relay, which latches the NAT's
//! address. Audio is checked both ways: the caller hears baresip's 1000 Hz
//! (played from a WAV by `aufile`), and baresip's dump of what it decoded
//! (`sndfile`) holds the caller's 440 Hz.
//!
//! Needs root, iproute2, iptables, conntrack and baresip (scripts/test.sh
//! installs them), so it is #[ignore]: `cargo test` skips it, `scripts/test.sh` as root runs it
//! (`--include-ignored`); run that way without them, it fails and says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tests::agent::{command, run, tone_in};
use tests::netns::{SWITCH_IP, Topology};
use tests::proc::Lines;
use tests::switch::{Config, Switch, SwitchHost};

const BARESIP: &str = "/usr/bin/baresip";
const MODULES: &str = "/usr/lib/baresip/modules";
/// Everything the config below loads.
const NEEDED: &[&str] = &["account.so", "aufile.so", "g711.so", "menu.so", "sndfile.so", "uuid.so"];
/// baresip's number and the agent that calls it from the public side.
const PHONE: &str = "5001";
const CALLER: &str = "4900";
/// The Flow-Timer the switch sends. libre (baresip 1.0) never pings a TCP flow
/// more often than every 16-20 s, whatever Flow-Timer says (it takes at least
/// twice its 10 s pong timeout, then 80-100 % of that), so a switch with a
/// Flow-Timer under 20 s would find baresip's flow silent and drop it.
const FLOW_TIMER: u64 = 20;
const FLOW_GRACE: u64 = 5;
/// baresip quits by itself after this (`-t`), whatever happens to the test.
const BARESIP_LIFETIME: u64 = 120;
const WAIT: Duration = Duration::from_secs(20);

fn baresip_installed() -> Result<(), String> {
    let mut missing: Vec<PathBuf> = vec![PathBuf::from(BARESIP)];
    missing.extend(NEEDED.iter().map(|m| Path::new(MODULES).join(m)));
    missing.retain(|p| !p.exists());
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("baresip is not installed ({missing:?} missing): run scripts/test.sh, which installs the Debian package baresip-core"))
    }
}

/// A switch in the public namespace that offers only MD5 digest: libre (baresip
/// 1.0) gives up on a 401 that also carries a challenge it does not know.
fn lab(tag: &str) -> (Topology, SwitchHost, Switch) {
    if let Err(why) = tests::netns::available() {
        panic!("the baresip NAT test cannot run here: {why}");
    }
    if let Err(why) = baresip_installed() {
        panic!("the baresip NAT test cannot run here: {why}");
    }
    let topo = Topology::up_sites(&format!("{tag}{}", std::process::id() % 100_000), 1);
    let sw = SwitchHost::new();
    sw.add_subscriber(PHONE, &format!("pw{PHONE}"), None);
    sw.add_subscriber(CALLER, &format!("pw{CALLER}"), None);
    let ns = topo.ns("sw");
    // The namespace is the test's own: the switch's default port there cannot collide.
    let config = Config::default()
        .listen(&[&format!("tcp:{SWITCH_IP}:5060")])
        .relay(SWITCH_IP)
        .registrar(&format!("flow_timer = {FLOW_TIMER}"))
        .registrar(&format!("flow_grace = {FLOW_GRACE}"))
        .registrar("digest_algorithms = [\"MD5\"]")
        .calls("ring_time = 20");
    let switch = sw.start_in(&["ip", "netns", "exec", &ns], &config);
    (topo, sw, switch)
}

/// Writes a headless baresip 1.0 config into `dir`: G.711 only, `aufile`
/// plays `source` as the microphone, `sndfile` dumps both directions into
/// `recordings`, `menu` auto-answers, and the account registers over TCP with
/// outbound (`sipnat=outbound`, `+sip.instance` from `uuid`).
fn baresip_config(dir: &Path, source: &Path, recordings: &Path) {
    let phone_ip = Topology::phone_ip(1);
    let config = format!(
        "poll_method\t\tepoll\n\
         sip_listen\t\t{phone_ip}:5060\n\
         net_interface\t\teth0\n\
         dns_server\t\t127.0.0.1:53\n\
         audio_player\t\tnone,none\n\
         audio_source\t\taufile,{source}\n\
         audio_alert\t\tnone,none\n\
         rtp_ports\t\t40000-40100\n\
         module_path\t\t{MODULES}\n\
         module\t\t\tg711.so\n\
         module\t\t\taufile.so\n\
         module\t\t\tsndfile.so\n\
         snd_path\t\t{recordings}\n\
         module_tmp\t\tuuid.so\n\
         module_tmp\t\taccount.so\n\
         module_app\t\tmenu.so\n\
         statmode_default\toff\n",
        source = source.display(),
        recordings = recordings.display(),
    );
    std::fs::write(dir.join("config"), config).unwrap();
    let account = format!(
        "<sip:{PHONE}@{SWITCH_IP}:5060;transport=tcp>;auth_pass=pw{PHONE};regint=600;answermode=auto;\
         sipnat=outbound;outbound=\"sip:{SWITCH_IP}:5060;transport=tcp\"\n"
    );
    std::fs::write(dir.join("accounts"), account).unwrap();
    std::fs::write(dir.join("contacts"), "").unwrap();
}

/// The one WAV in `dir` whose name ends with `suffix` (sndfile's
/// `dump-TIME-enc.wav` / `dump-TIME-dec.wav`).
fn dump(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(suffix)))
        .collect();
    assert_eq!(found.len(), 1, "one *{suffix} in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

#[test]
#[ignore = "needs root: network namespaces and iptables (scripts/test.sh runs it as root)"]
fn baresip_behind_nat_registers_over_tcp_and_takes_a_call_audio_both_ways() {
    let (topo, sw, switch) = lab("bs");
    let dir = sw.dir.path().join("baresip");
    let recordings = sw.dir.path().join("recordings");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&recordings).unwrap();
    // baresip's microphone: 30 s of 1000 Hz, longer than the call.
    let source = sw.dir.path().join("tone1000.wav");
    let mut samples = vec![0i16; 30 * media::tone::RATE as usize];
    media::tone::sine(1000.0, 8000, 0, &mut samples);
    media::wav::write_wav(&source, &samples).unwrap();
    baresip_config(&dir, &source, &recordings);

    // stderr joins stdout, so a failure shows everything baresip said.
    let mut cmd = topo.command("ph", Path::new("sh"));
    cmd.args(["-c", "exec \"$0\" \"$@\" 2>&1", BARESIP, "-f"]).arg(&dir).args(["-t", &BARESIP_LIFETIME.to_string()]);
    let (_baresip, mut said) = Lines::spawn(cmd.stdin(Stdio::null()));
    said.wait(&["{1/TCP/v4} 200 OK"], WAIT);

    let nat = format!("{}:", Topology::nat_ip(1));
    let (route, _) = sw.wait_route(PHONE, &format!("flow observed={nat}"), Duration::from_secs(5));
    assert!(route.ends_with("transport=tcp"), "{route}");
    let rec = sw.record(PHONE);
    assert_eq!(rec["transport"], "tcp", "{rec}");
    assert_eq!(rec["outbound"], true, "baresip registered with RFC 5626 outbound: {rec}");
    assert_eq!(rec["behind_nat"], true, "{rec}");
    assert!(rec["user_agent"].as_str().unwrap_or_default().starts_with("baresip"), "{rec}");

    // Its own listener is there, but the NAT lets no connection in: an INVITE
    // can only come down the flow baresip opened.
    let phone_ip = Topology::phone_ip(1);
    assert!(topo.probe_ok("ph", &["tcp-connect", &phone_ip, "5060"]), "baresip listens on {phone_ip}:5060 at its site");
    assert!(!topo.probe_ok("sw", &["tcp-connect", &phone_ip, "5060"]), "the NAT drops new inbound connections");

    // Longer than the switch's silence deadline (Flow-Timer + grace): only
    // baresip's CRLF pings keep the flow, and the switch's pongs keep baresip
    // on it (no pong within 10 s and libre drops it and registers anew). The
    // idle time is the scenario; the route is watched all along it.
    let idle = Duration::from_secs(FLOW_TIMER + FLOW_GRACE + 2);
    let until = Instant::now() + idle;
    while Instant::now() < until {
        assert_eq!(sw.route(PHONE), route, "the flow changed {:?} into {idle:?} of pings only", idle - (until - Instant::now()));
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(sw.route(PHONE), route, "the same flow is alive after {idle:?} of pings only");
    let closed = switch.events_where(|e| e.message() == "closing flow");
    assert!(closed.is_empty(), "the switch closed no flow: {closed:?}");

    let caller_wav = sw.dir.path().join("caller.wav");
    let caller_wav_arg = caller_wav.display().to_string();
    let out = run(
        command(Some((&topo, "sw")), &format!("tcp:{SWITCH_IP}:5060"), CALLER, &format!("pw{CALLER}"), &[]).args([
            "call",
            PHONE,
            "--tone",
            "440",
            "--duration",
            "3",
            "--timeout",
            "10",
            "--record",
            &caller_wav_arg,
        ]),
        Duration::from_secs(40),
    );
    let caller_said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the call to baresip failed:\n{caller_said}");
    assert!(caller_said.contains("tone hz=1000 "), "the caller hears baresip's tone:\n{caller_said}");
    assert_eq!(tone_in(&caller_wav), Some(1000.0), "{caller_said}");

    // baresip saw the BYE: its dumps are closed (sndfile writes the WAV header's sizes then).
    said.wait(&["Call with sip:", "terminated"], WAIT);
    let heard = media::wav::read_wav(&dump(&recordings, "-dec.wav")).unwrap();
    assert!(heard.len() >= 2 * media::tone::RATE as usize, "baresip decoded {} samples, under 2 s", heard.len());
    assert_eq!(media::tone::dominant(&heard, &[440.0, 1000.0], media::tone::RATE), Some(440.0), "baresip hears the caller");
    assert_eq!(tone_in(&dump(&recordings, "-enc.wav")), Some(1000.0), "baresip sent its WAV");

    let call = sw.ended_call();
    assert_eq!((call["caller"].as_str(), call["callee"].as_str()), (Some(CALLER), Some(PHONE)), "{call}");
    assert_eq!(call["route"], "flow", "{call}");
    assert_eq!(call["status"], 200, "{call}");
    for leg in ["caller_media", "callee_media"] {
        assert!(call[leg]["packets_in"].as_u64().unwrap() > 100, "{leg}: {call}");
    }
    let latched = call["callee_media"]["latched"].as_str().unwrap_or_default();
    assert!(latched.starts_with(&nat), "the relay latched baresip's NAT, not its private SDP address: {call}");
}
