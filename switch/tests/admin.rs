//! The admin listener through the real `switch` binary (issue 16 items 1-2):
//! `/metrics` scraped over a real TCP socket before and after a real call
//! (a callee registered over TCP, a caller on UDP, RTP both ways through the
//! relay), checked by `promtool check metrics`; `/healthz`; 404; auth
//! failures and abuse blocks; DNS answers by RCODE; and the bearer token on a
//! listener that requires it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::admin::{WAIT, admin_addr, get, promtool_check, scrape, value};
use common::calls::*;
use common::{Auth, Config, ContactKind, Phone, Tcp, wait_for};
use sipcore::Method;
use std::process::{Command, Stdio};

#[test]
fn metrics_move_during_a_real_call_and_pass_promtool() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&Config::default().relay("127.0.0.1").calls("ring_time = 20").admin(r#"listen = ["tcp:127.0.0.1:0"]"#));
    let admin = admin_addr(&sw);

    // Alive once the core's loop has turned (it may not have yet when the listener is up).
    wait_for(WAIT, "/healthz 200 ok", || match get(admin, "/healthz", None) {
        (200, _, body) if body.trim() == "ok" => Ok(()),
        (status, _, body) => Err(format!("{status} {body}")),
    });
    let (status, _, _) = get(admin, "/no-such-page", None);
    assert_eq!(status, 404, "unknown path on a loopback listener");
    let before = scrape(admin);

    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    caller.invite_with_digest("pw1001");
    let inv = callee.request(Method::Invite);
    let (to_callee, to_caller) = pick_up(&mut caller, &mut callee, &inv);
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0xad01) > 0, "callee -> caller RTP");
    assert!(rtp_flows(&caller.rtp, to_caller, &callee.rtp, 0xad02) > 0, "caller -> callee RTP");

    // Mid-call: the gauges (refreshed each second by the driver) show the call and the registration,
    // and the relay's packets already count.
    wait_for(WAIT, "calls active = 1 and one registration", || {
        let t = scrape(admin);
        let seen = (
            value(&t, "switch_calls_active"),
            value(&t, r#"switch_registrations{state="registered"}"#),
            value(&t, "switch_relay_ports_in_use"),
            value(&t, r#"switch_flows_open{transport="tcp"}"#),
        );
        // The relay's counters of the open call, read at a tick.
        let relayed = value(&t, r#"switch_relay_packets_total{direction="in"}"#);
        if seen == (1.0, 1.0, 4.0, 1.0) && relayed > 0.0 { Ok(()) } else { Err(format!("{seen:?}, {relayed} packets in")) }
    });

    caller.in_dialog(Method::Bye);
    let bye = callee.request(Method::Bye);
    callee.answer(&bye, 200, false);
    caller.phone.response(200, Method::Bye);

    let after = wait_for(WAIT, "calls active back to 0 and the call counted as ended", || {
        let t = scrape(admin);
        let seen = (
            value(&t, "switch_calls_active"),
            value(&t, r#"switch_calls_ended_total{reason="caller_bye"}"#),
            value(&t, "switch_relay_ports_in_use"),
        );
        if seen == (0.0, 1.0, 0.0) { Ok(t) } else { Err(format!("{seen:?}")) }
    });
    let moved = |series: &str| (value(&before, series), value(&after, series));
    let (b, a) = moved(r#"switch_register_responses_total{status="200"}"#);
    assert!(a > b, "REGISTER 200s {b} -> {a}");
    let (b, a) = moved(r#"switch_invite_responses_total{status="200"}"#);
    assert!(a > b, "INVITE 200s {b} -> {a}");
    let (b, a) = moved(r#"switch_relay_packets_total{direction="in"}"#);
    assert!(a > b, "relay packets in {b} -> {a}");
    let (b, a) = moved(r#"switch_relay_packets_total{direction="out"}"#);
    assert!(a > b, "relay packets out {b} -> {a}");
    assert!(value(&after, r#"switch_relay_bytes_total{direction="out"}"#) > 0.0);
    assert_eq!(value(&after, r#"switch_registrations{state="registered"}"#), 1.0);
    assert!(value(&after, "switch_store_write_seconds_count") > 0.0, "the registration was written: {after}");
    assert!(after.contains("# TYPE switch_store_write_seconds histogram"), "{after}");
    for gauge in ["switch_abuse_sources_blocked 0", "switch_abuse_numbers_locked 0"] {
        assert!(after.lines().any(|l| l == gauge), "{gauge}: {after}");
    }
    promtool_check(&before);
    promtool_check(&after);
}

#[test]
fn a_listener_that_requires_the_token_refuses_all_but_metrics_and_healthz_without_it() {
    let lab = lab_with(&[]);
    let token_file = lab.file("admin.token");
    std::fs::write(&token_file, "t0ken-for-the-test\n").unwrap();
    let admin_section =
        format!("listen = [\"tcp:127.0.0.1:0\"]\ntoken_file = {:?}\nrequire_token = true", token_file.display().to_string());
    let sw = lab.start(&Config::default().admin(&admin_section));
    let admin = admin_addr(&sw);

    assert_eq!(get(admin, "/metrics", None).0, 200);
    wait_for(WAIT, "/healthz 200 without a token", || match get(admin, "/healthz", None).0 {
        200 => Ok(()),
        other => Err(other.to_string()),
    });
    for token in [None, Some("t0ken-for-the-tes"), Some("wrong")] {
        let (status, head, _) = get(admin, "/no-such-page", token);
        assert_eq!(status, 401, "{token:?}: {head}");
        assert!(head.lines().any(|l| l.eq_ignore_ascii_case("www-authenticate: Bearer")), "{head}");
    }
    assert_eq!(get(admin, "/no-such-page", Some("t0ken-for-the-test")).0, 404, "the right token gets through");
    assert!(!sw.log_text().contains("t0ken-for-the-test"), "the token is never logged");
}

/// The rule for a listener others can reach is checked at start, before
/// anything binds (`timeout` ends the switch should it start anyway).
#[test]
fn an_admin_listener_off_loopback_without_a_token_file_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_switch"), "run", "--listen", "udp:127.0.0.1:0", "--admin", "tcp:0.0.0.0:0", "--data-dir"])
        .arg(data.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("admin.listen tcp:0.0.0.0:0 is not loopback") && stderr.contains("token_file"), "{stderr}");
}

/// A wrong password is an auth failure; with `max_failures = 1` its source
/// cools down at once, and both show on `/metrics`.
#[test]
fn a_wrong_password_counts_as_an_auth_failure_and_its_source_cools_down() {
    let lab = common::lab();
    lab.add_subscriber("1401", "right-password", None);
    let sw = lab.start(&Config::default().abuse("max_failures = 1").admin(r#"listen = ["tcp:127.0.0.1:0"]"#));
    let admin = admin_addr(&sw);
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1401", "wrong-password", 3);
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::None);
    assert_eq!(r.status, 401);
    phone.learn(&r);
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::Digest);
    assert_eq!(r.status, 403);
    let text = wait_for(WAIT, "one auth failure and one source blocked", || {
        let t = scrape(admin);
        let seen = (value(&t, r#"switch_auth_failures_total{method="REGISTER"}"#), value(&t, "switch_abuse_sources_blocked"));
        if seen == (1.0, 1.0) { Ok(t) } else { Err(format!("{seen:?}")) }
    });
    assert_eq!(value(&text, r#"switch_register_responses_total{status="403"}"#), 1.0);
    assert_eq!(value(&text, r#"switch_registrations{state="registered"}"#), 0.0);
    promtool_check(&text);
}

/// The embedded DNS server's answers, asked with `kdig`, counted by RCODE.
#[test]
fn dns_answers_are_counted_by_rcode() {
    let lab = common::lab();
    let cfg = Config::default().dns(r#"listen = ["udp:127.0.0.1:0"]"#).admin(r#"listen = ["tcp:127.0.0.1:0"]"#);
    let sw = lab.start(&cfg);
    let admin = admin_addr(&sw);
    let dns = sw.listeners.iter().find(|l| l.transport == "dns-udp").expect("a DNS listener").reach();
    let asked = [
        (format!("no-such-name.{}", common::DOMAIN), "NXDOMAIN"),
        ("example.org".to_owned(), "REFUSED"),
        ("example.org".to_owned(), "REFUSED"),
    ];
    for (name, want) in &asked {
        assert_eq!(common::dns::kdig(dns, name, "A", false).status, *want, "{name}");
    }
    let text = scrape(admin);
    assert_eq!(value(&text, r#"switch_dns_queries_total{rcode="NXDOMAIN"}"#), 1.0, "{text}");
    assert_eq!(value(&text, r#"switch_dns_queries_total{rcode="REFUSED"}"#), 2.0, "{text}");
    promtool_check(&text);
}
