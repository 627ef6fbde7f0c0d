//! Registration flows end to end against the real `switch` binary: a silent
//! outbound flow is closed and its record dropped, pings keep it alive, a flow
//! the phone closes drops its record, the same device roaming to a new
//! connection replaces (and closes) the old one, and another device taking a
//! live number is refused with the record put in conflict.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, ContactKind, IO_TIMEOUT, Link, Phone, Tcp, lab, line, s};
use std::time::{Duration, Instant};

const PW: &str = "Basalt-Otter-2290";

/// flow_timer 1 s + grace 1 s: a flow silent for 2 s (to the second) is dead.
fn quick_flows() -> Config {
    Config::default().registrar("flow_timer = 1").registrar("flow_grace = 1")
}

#[test]
fn silent_outbound_flow_is_closed_and_its_record_dropped() {
    let lab = lab();
    lab.add_subscriber("3001", PW, None);
    let sw = lab.start(&quick_flows());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("3001", PW, 1);
    let r = phone.register(&mut tcp, Some(300));
    let registered = Instant::now();
    assert_eq!(r.headers.flow_timer().unwrap(), Some(1), "Flow-Timer from the config");
    assert_eq!(lab.state("3001"), "registered");

    // Silence: the switch closes the connection between 1 and 2 s after the
    // last activity (deadlines are whole seconds); allow up to 4 s.
    assert!(tcp.closed_within(Duration::from_secs(4)), "the switch kept a silent outbound flow open");
    let silent = registered.elapsed();
    assert!(silent >= Duration::from_millis(900), "closed after only {silent:?} of silence");
    let rec = lab.wait_state("3001", "signalling_dropped", Duration::from_secs(2)).unwrap();
    assert_eq!(s(&rec, "observed"), tcp.local().to_string(), "the record keeps the last known address");
    let left = rec["time_left"].as_u64().unwrap();
    assert!(left > 290, "the TTL is not touched by a dropped flow: {left}");
    let closing = sw.wait_for_event("closing flow", &[("cause", "flow_silent")], IO_TIMEOUT);
    assert!(closing.text("flow").contains(&format!(" {}->", tcp.local())), "the phone's flow: {closing}");
    sw.wait_for_event("registration", &[("number", "3001"), ("cause", "flow_silent"), ("state", "signalling_dropped")], IO_TIMEOUT);
}

#[test]
fn pinged_outbound_flow_stays_registered() {
    let lab = lab();
    lab.add_subscriber("3101", PW, None);
    let sw = lab.start(&quick_flows());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("3101", PW, 2);
    phone.register(&mut tcp, Some(300));

    // Twice as long as a silent flow survives, with a ping every 500 ms; between
    // pings, watching the connection: a close would show at once.
    let until = Instant::now() + Duration::from_millis(4500);
    while Instant::now() < until {
        tcp.ping();
        tcp.expect_pong(Duration::from_secs(1));
        assert!(!tcp.closed_within(Duration::from_millis(500)), "the switch closed a pinged flow");
    }
    assert_eq!(lab.state("3101"), "registered", "pings keep the flow alive");
    let closed = sw.events_where(|e| e.message() == "closing flow");
    assert!(closed.is_empty(), "no flow was closed: {closed:?}");
    // Still the same, working flow.
    let r = phone.register(&mut tcp, Some(300));
    assert_eq!(r.status, 200);

    // And the supervision is live: once the pings stop, the flow dies.
    assert!(tcp.closed_within(Duration::from_secs(4)), "silence after the pings did not kill the flow");
    lab.wait_state("3101", "signalling_dropped", Duration::from_secs(2));
}

#[test]
fn flow_closed_by_the_phone_drops_the_record() {
    let lab = lab();
    lab.add_subscriber("3201", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("3201", PW, 3);
    phone.register(&mut tcp, Some(300));
    assert_eq!(lab.state("3201"), "registered");

    tcp.shutdown();
    drop(tcp);
    let rec = lab.wait_state("3201", "signalling_dropped", Duration::from_secs(5)).unwrap();
    assert!(rec["time_left"].as_u64().unwrap() > 290, "{rec}");
    sw.wait_for_event("registration", &[("number", "3201"), ("cause", "flow_closed"), ("state", "signalling_dropped")], IO_TIMEOUT);

    // The phone comes back on a new connection.
    let mut tcp = Tcp::connect(&sw);
    phone.register(&mut tcp, Some(300));
    let rec = lab.registration("3201").unwrap();
    assert_eq!(rec["state"], "registered");
    assert_eq!(s(&rec, "observed"), tcp.local().to_string());
}

#[test]
fn same_instance_on_a_new_connection_roams_and_the_old_flow_is_closed() {
    let lab = lab();
    lab.subscriber_add("3301", PW, &["--mac", "02:42:ac:11:00:04"]);
    let sw = lab.start(&Config::default());
    let mut old = Tcp::connect(&sw);
    let mut phone = Phone::agent("3301", PW, 4);
    phone.register(&mut old, Some(300));
    assert_eq!(s(&lab.registration("3301").unwrap(), "observed"), old.local().to_string());

    // The public address changed: a new connection from a new source port,
    // the same +sip.instance, a new private IP.
    let mut new = Tcp::connect(&sw);
    assert_ne!(new.local(), old.local());
    phone.private_ip = Some("10.1.7.4".into());
    let r = phone.register(&mut new, Some(300));
    assert_eq!(r.headers.top_via().unwrap().rport(), Some(Some(new.local().port())));

    assert!(old.closed_within(Duration::from_secs(3)), "the switch left the replaced flow open");
    let rec = lab.registration("3301").unwrap();
    assert_eq!(rec["state"], "registered");
    assert_eq!(s(&rec, "observed"), new.local().to_string(), "observed is the new source");
    assert_eq!(rec["private_ip"], "10.1.7.4");
    let roamed = sw.wait_for_event("registration", &[("number", "3301"), ("cause", "roamed"), ("state", "registered")], IO_TIMEOUT);
    assert_eq!(roamed.text("observed"), new.local().to_string(), "{roamed}");
    let closing = sw.wait_for_event("closing flow", &[("cause", "roamed")], IO_TIMEOUT);
    assert!(closing.text("flow").contains(&format!(" {}->", old.local())), "the old flow is closed: {closing}");

    // The new flow is the live one.
    new.ping();
    new.expect_pong(Duration::from_secs(2));
    phone.register(&mut new, Some(300));
    assert_eq!(lab.state("3301"), "registered");
}

#[test]
fn another_device_on_a_live_number_is_refused_and_the_record_is_in_conflict() {
    let lab = lab();
    lab.add_subscriber("3401", PW, None);
    lab.cli_ok(&["subscriber", "set", "3401", "--home", "sip:3401@home.example.net"]);
    let sw = lab.start(&Config::default());
    let route = || String::from_utf8(lab.cli(&["route", "3401"]).stdout).unwrap().trim_end().to_owned();
    assert_eq!(route(), "route 3401 home reason=not_registered uri=sip:3401@home.example.net");
    let unknown = lab.cli(&["route", "9999"]);
    assert!(unknown.status.success());
    assert_eq!(String::from_utf8_lossy(&unknown.stdout).trim_end(), "route 9999 unknown");
    let mut tcp_a = Tcp::connect(&sw);
    let mut a = Phone::agent("3401", PW, 5);
    a.register(&mut tcp_a, Some(300));
    assert_eq!(route(), format!("route 3401 flow observed={} transport=tcp", tcp_a.local()));

    let mut tcp_b = Tcp::connect(&sw);
    let mut b = Phone::agent("3401", PW, 6);
    let r = b.exchange(&mut tcp_b, ContactKind::Binding, Some(300));
    // Answered like a wrong password: the right one must not show through (issue 12).
    assert_eq!(line(&r), "403 Forbidden (bad credentials)");
    sw.wait_for_event("authentication refused", &[("number", "3401"), ("reason", "conflict")], IO_TIMEOUT);

    let rec = lab.registration("3401").unwrap();
    assert_eq!(rec["state"], "conflict");
    assert_eq!(s(&rec, "observed"), tcp_a.local().to_string(), "the holder's facts are kept");
    assert_eq!(rec["mac"], "02:42:ac:11:00:05");
    let conflict = sw
        .wait_event(IO_TIMEOUT, "the conflict logged", |e| e.message().starts_with("registration conflict") && e.text("number") == "3401");
    assert_eq!(conflict.text("challenger"), tcp_b.local().to_string(), "the challenger is logged: {conflict}");
    assert_eq!((conflict.level(), conflict.text("holder")), ("WARN", tcp_a.local().to_string()), "{conflict}");
    assert_eq!(route(), "route 3401 home reason=conflict uri=sip:3401@home.example.net", "calls go home on a conflict");

    // The holder leaves; now the other device may have the number.
    let r = a.exchange(&mut tcp_a, ContactKind::Binding, Some(0));
    assert_eq!(r.status, 200, "{}", line(&r));
    assert_eq!(lab.state("3401"), "absent");
    b.register(&mut tcp_b, Some(300));
    let rec = lab.registration("3401").unwrap();
    assert_eq!(rec["state"], "registered");
    assert_eq!(s(&rec, "observed"), tcp_b.local().to_string());
    assert_eq!(rec["mac"], "02:42:ac:11:00:06");
    assert_eq!(route(), format!("route 3401 flow observed={} transport=tcp", tcp_b.local()));
}
