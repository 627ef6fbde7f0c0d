#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::location::Challenger;
use crate::record::RlState;
use sipcore::transport::{FlowId, TransportKind};
use std::time::Instant;

fn record(number: &str, observed: &str, claimed: Option<&str>) -> RlRecord<Instant> {
    let now = Instant::now();
    RlRecord {
        number: number.into(),
        mac: None,
        private_ip: None,
        public_ip_claimed: claimed.map(|c| c.parse().unwrap()),
        observed: observed.parse().unwrap(),
        behind_nat: true,
        bearer_port: None,
        transport: TransportKind::Tcp,
        flow_id: Some(FlowId(1)),
        local: None,
        instance: None,
        reg_id: None,
        call_id: "c".into(),
        contact: "sip:1001@10.0.0.2".into(),
        user_agent: None,
        registered_at: now,
        expires_at: now,
        state: RlState::Registered,
        outbound: true,
    }
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn a_registration_then_a_new_public_address_is_registered_then_roamed_and_changed() {
    let mut r = Roaming::default();
    let first =
        r.on_change(&Change::Upserted { record: record("1001", "198.51.100.1:4000", Some("198.51.100.1")), cause: Cause::Registered }, 7);
    assert_eq!(kinds(&first), ["registered"]);
    assert_eq!(first[0].at, 7);
    let refresh = Change::Upserted { record: record("1001", "198.51.100.1:4000", Some("198.51.100.1")), cause: Cause::Refreshed };
    assert!(r.on_change(&refresh, 8).is_empty(), "a refresh from the same address is no event");
    let moved = r.on_change(&Change::Upserted { record: record("1001", "203.0.113.9:5000", Some("203.0.113.9")), cause: Cause::Roamed }, 9);
    assert_eq!(kinds(&moved), ["roamed", "public_ip_changed"]);
    assert!(moved[1].detail.contains("198.51.100.1") && moved[1].detail.contains("203.0.113.9"), "{}", moved[1].detail);
}

#[test]
fn a_claim_alone_changing_is_a_public_ip_change() {
    let mut r = Roaming::default();
    r.on_change(&Change::Upserted { record: record("1001", "127.0.0.1:4000", Some("198.51.100.1")), cause: Cause::Registered }, 1);
    let again =
        r.on_change(&Change::Upserted { record: record("1001", "127.0.0.1:4001", Some("198.51.100.2")), cause: Cause::Registered }, 2);
    assert_eq!(kinds(&again), ["registered", "public_ip_changed"]);
}

#[test]
fn dropped_flows_conflicts_and_removals() {
    let mut r = Roaming::default();
    let rec = record("1001", "127.0.0.1:4000", None);
    assert_eq!(kinds(&r.on_change(&Change::Upserted { record: rec.clone(), cause: Cause::FlowClosed }, 1)), ["flow_dropped"]);
    assert_eq!(kinds(&r.on_change(&Change::Removed { record: rec.clone(), cause: Cause::FlowSilent }, 1)), ["flow_dropped"]);
    assert_eq!(kinds(&r.on_change(&Change::Removed { record: rec.clone(), cause: Cause::Unregistered }, 1)), ["unregistered"]);
    let challenger = Challenger {
        at: Instant::now(),
        observed: "127.0.0.1:4999".parse().unwrap(),
        flow_id: FlowId(2),
        transport: TransportKind::Tcp,
        mac: None,
        instance: None,
        call_id: "x".into(),
        user_agent: None,
    };
    let conflict = r.on_change(&Change::Challenged { record: rec, challenger: Box::new(challenger) }, 1);
    assert_eq!(kinds(&conflict), ["conflict"]);
    assert!(conflict[0].detail.contains("127.0.0.1:4999"));
}

#[test]
fn a_call_routed_home_is_one_event_until_it_ends() {
    let mut r = Roaming::default();
    let mut cdr = Cdr::new("call-1".into(), "1002".into(), "1001".into(), "home", Instant::now());
    cdr.route_reason = Some("not_registered".into());
    let e = r.on_call(&cdr, 5).unwrap();
    assert_eq!((e.kind, e.number.as_str()), ("routed_home", "1001"));
    assert!(r.on_call(&cdr, 6).is_none(), "the record is emitted again as the call moves on");
    cdr.end_at = Some(Instant::now());
    assert!(r.on_call(&cdr, 7).is_none());
    assert!(r.on_call(&Cdr::new("call-2".into(), "1002".into(), "1001".into(), "flow", Instant::now()), 8).is_none());
}

#[test]
fn a_late_listener_gets_the_recent_events_then_the_new_ones_once() {
    let feed = Feed::default();
    let e = |n: &str| Event { kind: "registered", number: n.into(), at: 0, detail: String::new() };
    feed.publish(&e("1001"));
    let (recent, mut rx) = feed.subscribe();
    feed.publish(&e("1002"));
    assert_eq!(recent.len(), 1);
    assert!(recent[0].contains("1001"));
    assert!(rx.try_recv().unwrap().contains("1002"));
    assert!(rx.try_recv().is_err());
}
