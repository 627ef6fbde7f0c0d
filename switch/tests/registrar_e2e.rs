//! The registrar end to end, against the real `switch` binary: the wire
//! contract REGISTER (401 then 200 with received/rport, Contact;expires,
//! Require: outbound, Flow-Timer, X-Bearer-Address) and the RL record it leaves;
//! standard phones over TCP and UDP; the refusals (404, 403 for MAC, 423); binding
//! query, unregister and `Contact: *`; keep-alive pongs; and a number
//! provisioned while the switch runs.
//!
//! Flows and their failures are in `registrar_flows.rs`, restarts and TTLs in
//! `registrar_persistence.rs`, abuse and malformed input in `registrar_abuse.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Auth, Config, ContactKind, IO_TIMEOUT, Link, LogEvent, Phone, Tcp, Udp, header, headers, lab, line, s};
use sipcore::headers::Contact;
use std::time::Duration;

const PW: &str = "Quartz-Zebra-4417";

/// The single binding a 200 lists.
#[track_caller]
fn only_contact(r: &sipcore::Response) -> sipcore::headers::NameAddr<'_> {
    let contacts: Vec<Contact<'_>> = r.headers.contacts().collect::<Result<_, _>>().unwrap();
    match contacts.as_slice() {
        [Contact::Binding(c)] => *c,
        other => panic!("expected one binding, got {other:?}"),
    }
}

#[test]
fn contract_register_over_tcp_with_outbound_and_x_headers() {
    let lab = lab();
    lab.subscriber_add("1001", PW, &["--mac", "02:42:AC:11:00:02"]);
    let sw = lab.start(&Config::default().relay("192.0.2.10"));
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1001", PW, 2);

    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::None);
    assert_eq!(r.status, 401, "{}", line(&r));
    let challenges = headers(&r, "WWW-Authenticate");
    assert!(!challenges.is_empty());
    assert!(challenges.iter().all(|c| c.starts_with("Digest ") && c.contains("realm=\"switch.local\"")), "{challenges:?}");
    assert!(header(&r, "To").unwrap().contains(";tag="), "401 carries a To tag");
    phone.learn(&r);

    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::Digest);
    assert_eq!(r.status, 200, "{}", line(&r));
    // Via: the public address the switch saw (RFC 3261 §18.2.1, RFC 3581).
    let via = r.headers.top_via().unwrap();
    assert_eq!(via.received(), Some(tcp.local().ip()), "Via received");
    assert_eq!(via.rport(), Some(Some(tcp.local().port())), "Via rport");
    assert_eq!(via.host.ip(), Some("10.1.0.2".parse().unwrap()), "sent-by kept");
    // Contact with the granted expiry and the RFC 5626 parameters echoed.
    let c = only_contact(&r);
    assert_eq!(c.uri.as_str(), phone.contact_uri(tcp.local(), "TCP"));
    assert!(c.ob(), "the ;ob URI parameter is kept");
    assert_eq!(c.expires(), Some(300));
    assert_eq!(c.instance().as_deref(), Some("<urn:uuid:6f1c2a3e-0000-4000-8000-000000000002>"));
    assert_eq!(c.reg_id(), Some(1));
    assert!(r.headers.has_option(&sipcore::HeaderName::Require, "outbound"), "Require: outbound");
    assert_eq!(r.headers.flow_timer().unwrap(), Some(120), "Flow-Timer: the default 120 s");
    assert_eq!(header(&r, "X-Bearer-Address").as_deref(), Some("192.0.2.10"), "the configured relay_address");
    assert_eq!(r.headers.call_id().unwrap(), phone.call_id);

    let rec = lab.registration("1001").expect("an RL record");
    assert_eq!(rec["number"], "1001");
    assert_eq!(rec["state"], "registered");
    assert_eq!(rec["mac"], "02:42:ac:11:00:02");
    assert_eq!(rec["private_ip"], "10.1.0.2");
    assert_eq!(rec["public_ip"], "198.51.100.2");
    assert_eq!(s(&rec, "observed"), tcp.local().to_string(), "observed = the TCP source");
    assert_eq!(rec["behind_nat"], true, "X-Private-IP 10.1.0.2 differs from the source 127.0.0.1");
    assert_eq!(rec["bearer_port"], 40002);
    assert_eq!(rec["transport"], "tcp");
    assert_eq!(rec["user_agent"], "e2e-agent/2");
    assert_eq!(rec["outbound"], true);
    assert_eq!(s(&rec, "contact"), phone.contact_uri(tcp.local(), "TCP"));
    let left = rec["time_left"].as_u64().unwrap();
    assert!((298..=300).contains(&left), "time_left {left} ≈ 300");
    assert_eq!(rec["expires_at"].as_u64().unwrap() - rec["registered_at"].as_u64().unwrap(), 300);

    // One log event per registration change, with the RL facts.
    let logged = sw.wait_for_event("registration", &[("number", "1001"), ("cause", "registered"), ("state", "registered")], IO_TIMEOUT);
    assert_eq!(logged.field("behind_nat"), true, "{logged}");
    assert_eq!(logged.text("observed"), tcp.local().to_string(), "{logged}");
    assert_eq!((logged.text("private_ip"), logged.text("public_ip")), ("10.1.0.2".into(), "198.51.100.2".into()), "{logged}");
}

#[test]
fn standard_phone_over_tcp_without_x_headers_or_outbound() {
    let lab = lab();
    lab.add_subscriber("1101", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::plain("1101", PW);

    let r = phone.register(&mut tcp, None);
    let c = only_contact(&r);
    assert_eq!(c.uri.as_str(), phone.contact_uri(tcp.local(), "TCP"));
    assert_eq!(c.expires(), Some(600), "no expiry asked: default_expires");
    assert_eq!(c.instance(), None);
    assert_eq!(c.reg_id(), None);
    assert_eq!(header(&r, "Require"), None, "no outbound, no Require");
    assert_eq!(header(&r, "Flow-Timer"), None, "no outbound, no Flow-Timer");
    assert_eq!(header(&r, "X-Bearer-Address").as_deref(), Some("127.0.0.1"), "no relay_address: the flow's local address");
    let via = r.headers.top_via().unwrap();
    assert_eq!(via.rport(), Some(Some(tcp.local().port())));

    let rec = lab.registration("1101").expect("an RL record");
    assert_eq!(rec["state"], "registered");
    assert_eq!(rec["transport"], "tcp");
    assert_eq!(s(&rec, "observed"), tcp.local().to_string());
    for absent in ["mac", "private_ip", "public_ip", "bearer_port"] {
        assert!(rec[absent].is_null(), "{absent} should be null: {rec}");
    }
    assert_eq!(rec["behind_nat"], false, "the Contact host is the source address");
    assert_eq!(rec["outbound"], false);
    assert_eq!(rec["user_agent"], "e2e-plain-phone/1.0");

    // A refresh on the same Call-ID is the same phone.
    let r = phone.register(&mut tcp, Some(120));
    assert_eq!(only_contact(&r).expires(), Some(120));
    let rec = lab.registration("1101").unwrap();
    assert!((118..=120).contains(&rec["time_left"].as_u64().unwrap()), "{rec}");
}

#[test]
fn standard_phone_over_udp() {
    let lab = lab();
    lab.add_subscriber("1201", PW, None);
    let sw = lab.start(&Config::default());
    let mut udp = Udp::bind(&sw);
    let mut phone = Phone::plain("1201", PW);

    let r = phone.send(&mut udp, ContactKind::Binding, Some(300), &Auth::None);
    assert_eq!(r.status, 401, "{}", line(&r));
    phone.learn(&r);
    let r = phone.send(&mut udp, ContactKind::Binding, Some(300), &Auth::Digest);
    assert_eq!(r.status, 200, "{}", line(&r));
    assert_eq!(only_contact(&r).expires(), Some(300));
    assert_eq!(header(&r, "Require"), None);
    assert_eq!(header(&r, "Flow-Timer"), None);
    assert_eq!(header(&r, "X-Bearer-Address").as_deref(), Some("127.0.0.1"));
    let via = r.headers.top_via().unwrap();
    assert_eq!(via.received(), Some(udp.local().ip()));
    assert_eq!(via.rport(), Some(Some(udp.local().port())));

    let rec = lab.registration("1201").expect("an RL record");
    assert_eq!(rec["state"], "registered");
    assert_eq!(rec["transport"], "udp");
    assert_eq!(s(&rec, "observed"), udp.local().to_string());
    assert_eq!(s(&rec, "contact"), phone.contact_uri(udp.local(), "UDP"));
    assert_eq!(rec["outbound"], false);
    assert_eq!(rec["behind_nat"], false);
}

/// An RFC 5626 client over UDP is not offered outbound: its keep-alives are
/// STUN, which the transport answers (`stun_e2e.rs`) but the core never sees,
/// so its flow would be declared silent. It registers without `Require: outbound`/`Flow-Timer` and its record
/// is not supervised.
#[test]
fn outbound_client_over_udp_registers_without_outbound() {
    let lab = lab();
    lab.add_subscriber("1261", PW, None);
    let sw = lab.start(&Config::default());
    let mut udp = Udp::bind(&sw);
    let r = Phone::agent("1261", PW, 1).register(&mut udp, Some(300));
    assert_eq!(r.status, 200, "{}", line(&r));
    assert_eq!(header(&r, "Require"), None);
    assert_eq!(header(&r, "Flow-Timer"), None);
    assert_eq!(lab.registration("1261").expect("an RL record")["outbound"], false);
}

/// Regression: on the default listeners (the wildcard address) with no
/// relay_address, a phone registering over UDP was told
/// `X-Bearer-Address: 0.0.0.0`, the UDP socket's unspecified local address.
#[test]
fn bearer_address_on_wildcard_listeners_is_a_real_address() {
    let lab = lab();
    lab.add_subscriber("1251", PW, None);
    lab.add_subscriber("1252", PW, None);
    let sw = lab.start(&Config::default().listen_any());
    let mut udp = Udp::bind(&sw);
    let r = Phone::plain("1251", PW).register(&mut udp, Some(300));
    assert_eq!(header(&r, "X-Bearer-Address").as_deref(), Some("127.0.0.1"), "over UDP");
    let mut tcp = Tcp::connect(&sw);
    let r = Phone::agent("1252", PW, 11).register(&mut tcp, Some(300));
    assert_eq!(header(&r, "X-Bearer-Address").as_deref(), Some("127.0.0.1"), "over TCP");
    assert_eq!(lab.state("1251"), "registered");
    assert_eq!(lab.state("1252"), "registered");
}

/// Issue 12: the wire says nothing of which numbers exist; the log does.
#[test]
fn unknown_number_is_challenged_and_refused_like_a_wrong_password_and_the_log_says_why() {
    let lab = lab();
    lab.add_subscriber("1301", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1399", PW, 3);
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::None);
    assert_eq!(r.status, 401, "challenged like any number: {}", line(&r));
    phone.learn(&r);
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::Digest);
    assert_eq!(line(&r), "403 Forbidden (bad credentials)");
    let refused = sw.wait_for_event("authentication refused", &[("number", "1399")], IO_TIMEOUT);
    assert_eq!(refused.text("reason"), "not_in_service", "{refused}");
    assert!(lab.registrations().is_empty());
    // The connection is still good for the number that is in service.
    let mut ok = Phone::agent("1301", PW, 3);
    ok.register(&mut tcp, Some(300));
}

#[test]
fn mac_bound_number_refuses_another_or_missing_x_mac() {
    let lab = lab();
    lab.subscriber_add("1401", PW, &["--mac", "02:42:ac:11:00:04"]);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);

    // Refused like a wrong password (the right one must not show through); the log says why.
    let mut other = Phone::agent("1401", PW, 5);
    let r = other.exchange(&mut tcp, ContactKind::Binding, Some(300));
    assert_eq!(line(&r), "403 Forbidden (bad credentials)", "another MAC");
    sw.wait_for_event("authentication refused", &[("number", "1401"), ("reason", "wrong_mac")], IO_TIMEOUT);

    let mut no_mac = Phone::agent("1401", PW, 4);
    no_mac.mac = None;
    let r = no_mac.exchange(&mut tcp, ContactKind::Binding, Some(300));
    assert_eq!(line(&r), "403 Forbidden (bad credentials)", "no X-MAC");
    sw.wait_for_event("authentication refused", &[("number", "1401"), ("reason", "mac_required")], IO_TIMEOUT);
    assert!(lab.registrations().is_empty(), "nothing registered by refused requests");

    // The provisioned MAC, written in upper case, is the same MAC.
    let mut right = Phone::agent("1401", PW, 4);
    right.mac = Some("02:42:AC:11:00:04".into());
    right.register(&mut tcp, Some(300));
    assert_eq!(lab.state("1401"), "registered");
}

#[test]
fn expires_below_min_gets_423_with_min_expires() {
    let lab = lab();
    lab.add_subscriber("1501", PW, None);
    let sw = lab.start(&Config::default().registrar("min_expires = 120"));
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1501", PW, 6);
    let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(30));
    assert_eq!(r.status, 423, "{}", line(&r));
    assert_eq!(r.headers.min_expires().unwrap(), Some(120), "Min-Expires");
    assert!(lab.registrations().is_empty());
    // Retrying with Min-Expires works (RFC 3261 §10.2.8).
    let r = phone.register(&mut tcp, Some(120));
    assert_eq!(only_contact(&r).expires(), Some(120));
}

#[test]
fn binding_query_unregister_and_contact_star() {
    let lab = lab();
    lab.add_subscriber("1601", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1601", PW, 7);
    phone.register(&mut tcp, Some(300));

    // No Contact: a query, answered with the binding.
    let r = phone.exchange(&mut tcp, ContactKind::Absent, None);
    assert_eq!(r.status, 200, "{}", line(&r));
    let c = only_contact(&r);
    assert_eq!(c.uri.as_str(), phone.contact_uri(tcp.local(), "TCP"));
    let left = c.expires().unwrap();
    assert!((298..=300).contains(&left), "listed with its time left: {left}");
    assert_eq!(lab.state("1601"), "registered", "a query changes nothing");

    // Expires: 0 on the binding: unregistered, no binding listed.
    let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(0));
    assert_eq!(r.status, 200, "{}", line(&r));
    assert_eq!(header(&r, "Contact"), None, "no binding left to list");
    assert_eq!(lab.state("1601"), "absent");
    let r = phone.exchange(&mut tcp, ContactKind::Absent, None);
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "Contact"), None, "the query finds nothing");
    sw.wait_for_event("registration removed", &[("number", "1601"), ("cause", "unregistered")], IO_TIMEOUT);

    // Again, then Contact: * with Expires: 0.
    phone.register(&mut tcp, Some(300));
    assert_eq!(lab.state("1601"), "registered");
    let r = phone.exchange(&mut tcp, ContactKind::Star, Some(0));
    assert_eq!(r.status, 200, "{}", line(&r));
    assert_eq!(lab.state("1601"), "absent");
    sw.wait_for_event("registration removed", &[("number", "1601"), ("cause", "unregistered_all")], IO_TIMEOUT);

    // Contact: * without Expires: 0 is refused (RFC 3261 §10.3 step 6).
    phone.register(&mut tcp, Some(300));
    let r = phone.exchange(&mut tcp, ContactKind::Star, None);
    assert_eq!(r.status, 400, "{}", line(&r));
    assert_eq!(lab.state("1601"), "registered");
}

#[test]
fn keepalive_ping_on_the_registered_flow_gets_a_pong() {
    let lab = lab();
    lab.add_subscriber("1701", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1701", PW, 8);
    phone.register(&mut tcp, Some(300));
    for _ in 0..3 {
        tcp.ping();
        tcp.expect_pong(Duration::from_secs(2));
    }
    // The stream is still in step: a refresh on the same flow works.
    phone.register(&mut tcp, Some(300));
    assert_eq!(tcp.pongs, 3, "exactly one CRLF per CRLFCRLF");
    assert_eq!(lab.state("1701"), "registered");
}

#[test]
fn number_provisioned_while_running_registers_without_restart() {
    let lab = lab();
    lab.add_subscriber("1801", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1802", PW, 9);
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::None);
    assert_eq!(r.status, 401, "not provisioned yet, challenged all the same: {}", line(&r));

    lab.add_subscriber("1802", PW, None);
    let r = phone.register(&mut tcp, Some(300));
    assert_eq!(only_contact(&r).expires(), Some(300));
    assert_eq!(lab.state("1802"), "registered");
    let starts = LogEvent::all(&sw.log_text()).into_iter().filter(|e| e.message() == "switch running").count();
    assert_eq!(starts, 1, "the same process, never restarted");
}

/// Regression: `switch subscriber remove` on a registered number left the
/// running switch holding the record in memory (still `registered`, its flow
/// still the route) until the TTL ran out, and every later change to it failed
/// to persist ("no subscriber") since the store had cascaded the row away.
#[test]
fn number_removed_while_registered_loses_its_registration() {
    let lab = lab();
    lab.add_subscriber("1901", PW, None);
    // At debug level the switch logs each flow it sees close.
    let sw = lab.start(&Config::default().log_filter("info,switch=debug"));
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1901", PW, 10);
    phone.register(&mut tcp, Some(300));
    assert_eq!(lab.state("1901"), "registered");

    let out = lab.cli(&["subscriber", "remove", "1901"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lab.state("1901"), "absent", "the store drops the row with the subscriber");
    // The running switch notices without any request from the phone.
    sw.wait_for_event("registration removed", &[("number", "1901"), ("cause", "deprovisioned")], Duration::from_secs(3));
    let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(300));
    assert_eq!(line(&r), "403 Forbidden (bad credentials)", "no longer in service, and the wire does not say so");

    // The phone goes away: nothing left to change, nothing fails to persist.
    let gone = format!(" {}->", tcp.local());
    tcp.shutdown();
    drop(tcp);
    sw.wait_event(IO_TIMEOUT, "the switch to see the phone's flow close", |e| {
        e.message() == "flow closed" && e.text("flow").contains(&gone)
    });
    let trouble = sw.events_where(|e| matches!(e.level(), "WARN" | "ERROR"));
    assert!(trouble.is_empty(), "nothing went wrong (no change failed to persist): {trouble:?}");

    // Provisioned again: no stale record comes back; the phone registers anew.
    lab.add_subscriber("1901", PW, None);
    assert_eq!(lab.state("1901"), "absent");
    let mut tcp = Tcp::connect(&sw);
    phone.register(&mut tcp, Some(300));
    let rec = lab.registration("1901").unwrap();
    assert_eq!(rec["state"], "registered");
    assert_eq!(s(&rec, "observed"), tcp.local().to_string());
    let trouble = sw.events_where(|e| matches!(e.level(), "WARN" | "ERROR"));
    assert!(trouble.is_empty(), "nothing went wrong (no change failed to persist): {trouble:?}");
}

/// Issue 12: the switch names its software only when the operator says so.
#[test]
fn a_server_header_only_when_configured() {
    let lab = lab();
    lab.add_subscriber("1951", PW, None);
    let sw = lab.start(&Config::default().server("header = \"roamswitch/e2e\""));
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("1951", PW, 12);
    let challenge = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::None);
    phone.learn(&challenge);
    let ok = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::Digest);
    for r in [&challenge, &ok] {
        assert_eq!(headers(r, "Server"), ["roamswitch/e2e"], "{}", line(r));
    }
}

#[test]
fn a_number_provisioned_after_a_run_on_another_domain_gets_that_realm_and_registers() {
    // The realm trap (issue 16): `switch run` on its own domain, then `subscriber add` with no --realm.
    let lab = lab();
    let cfg = Config::default().domain("voip.example.net");
    drop(lab.start(&cfg));
    assert_eq!(lab.cli_ok(&["subscriber", "add", "1301", "--password", PW]).trim(), "added 1301 (realm voip.example.net)");

    let asked = lab.cli(&["subscriber", "add", "1302", "--password", PW, "--realm", "switch.local"]);
    assert!(asked.status.success(), "a realm asked for is provisioned, with a warning");
    let warning = String::from_utf8_lossy(&asked.stderr);
    assert!(warning.starts_with("warning: realm switch.local is not the domain the switch serves (voip.example.net, from "), "{warning}");

    let sw = lab.start(&cfg);
    let mut tcp = Tcp::connect(&sw);
    Phone::plain("1301", PW).register(&mut tcp, None);
    let mut other = Phone::plain("1302", PW);
    assert_eq!(other.exchange(&mut tcp, ContactKind::Binding, None).status, 403, "the warned-about realm is refused");
}
