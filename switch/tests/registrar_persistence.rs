//! RL records across a crash and over time, against the real `switch` binary:
//! after `kill -9` and a restart on the same data dir a record is
//! `signalling_dropped` until its phone registers again, a record whose TTL ran
//! out while the switch was down is purged at start, and a TTL running out while
//! the switch runs removes the record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, ContactKind, IO_TIMEOUT, Link, Phone, Tcp, header, lab, line, unix_now};
use std::time::{Duration, Instant};

const PW: &str = "Cobalt-Heron-7352";

#[test]
fn records_survive_kill_9_as_dropped_and_expired_ones_are_purged_at_start() {
    let lab = lab();
    lab.add_subscriber("5001", PW, None);
    lab.add_subscriber("5002", PW, None);
    let cfg = Config::default().registrar("min_expires = 1");
    let mut sw = lab.start(&cfg);
    let mut tcp_long = Tcp::connect(&sw);
    let mut long = Phone::agent("5001", PW, 1);
    long.register(&mut tcp_long, Some(300));
    let mut tcp_short = Tcp::connect(&sw);
    let mut short = Phone::agent("5002", PW, 2);
    short.register(&mut tcp_short, Some(2));
    sw.kill9();

    // The store as the dead switch left it.
    let records = lab.registrations();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().all(|r| r["state"] == "registered"), "{records:?}");
    drop((tcp_long, tcp_short));

    // Let 5002's TTL run out while nothing runs.
    let expires_at = lab.registration("5002").unwrap()["expires_at"].as_u64().unwrap();
    common::wait_for(Duration::from_secs(5), "5002's TTL to pass", || {
        if unix_now() > expires_at { Ok(()) } else { Err(format!("now {} <= {expires_at}", unix_now())) }
    });

    let sw = lab.start(&cfg);
    let records = lab.registrations();
    assert_eq!(records.len(), 1, "the expired record is purged at start: {records:?}");
    let rec = &records[0];
    assert_eq!(rec["number"], "5001");
    assert_eq!(rec["state"], "signalling_dropped", "its flow died with the old process");
    assert!(rec["time_left"].as_u64().unwrap() > 280, "the TTL is kept: {rec}");
    let restored = sw.wait_for_event("location records restored", &[], IO_TIMEOUT);
    assert_eq!((restored.field("loaded"), restored.field("purged")), (&1.into(), &1.into()), "{restored}");
    sw.wait_for_event("registration", &[("number", "5001"), ("cause", "restarted"), ("state", "signalling_dropped")], IO_TIMEOUT);

    // The phone comes back (its old nonce is from the old process: re-challenged).
    let mut tcp = Tcp::connect(&sw);
    let r = long.exchange(&mut tcp, ContactKind::Binding, Some(300));
    assert_eq!(r.status, 200, "{}", line(&r));
    let rec = lab.registration("5001").unwrap();
    assert_eq!(rec["state"], "registered");
    assert_eq!(rec["observed"], tcp.local().to_string());
    assert_eq!(lab.state("5002"), "absent");
}

#[test]
fn ttl_running_out_while_running_removes_the_record() {
    let lab = lab();
    lab.add_subscriber("5101", PW, None);
    let sw = lab.start(&Config::default().registrar("min_expires = 1"));
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("5101", PW, 3);
    let r = phone.register(&mut tcp, Some(2));
    let registered = Instant::now();
    assert!(header(&r, "Contact").unwrap().contains(";expires=2"), "{:?}", header(&r, "Contact"));
    assert_eq!(lab.state("5101"), "registered");

    // Gone (not listed as expired) once the TTL passes: 1 to 2 s, whole seconds.
    lab.wait_state("5101", "absent", Duration::from_secs(4));
    let gone = registered.elapsed();
    assert!(gone >= Duration::from_millis(900), "removed after only {gone:?}");
    sw.wait_for_event("registration removed", &[("number", "5101"), ("cause", "ttl_expired")], IO_TIMEOUT);

    // The flow is forgotten, not closed: the phone may still use it.
    tcp.ping();
    tcp.expect_pong(Duration::from_secs(2));
    let r = phone.exchange(&mut tcp, ContactKind::Absent, None);
    assert_eq!(r.status, 200, "{}", line(&r));
    assert_eq!(header(&r, "Contact"), None, "a query lists no binding");
    phone.register(&mut tcp, Some(300));
    assert_eq!(lab.state("5101"), "registered");
    assert_eq!(tcp.local().to_string(), lab.registration("5101").unwrap()["observed"]);
}
