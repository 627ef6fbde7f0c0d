//! The DNS view follows the location table at the instant the table changes:
//! whatever `switch route` says, the ENUM answer says, on virtual time.

use super::*;
use crate::dns::{DnsConfig, records_for};
use hickory_proto::rr::{Name, RData};

fn dns_config() -> DnsConfig {
    DnsConfig {
        domain: REALM.into(),
        zone: Name::from_ascii("switch.test.").unwrap(),
        enum_suffix: Name::from_ascii("e164.arpa.").unwrap(),
        max_ttl: 30,
        rl_allow: vec!["127.0.0.0/8".parse().unwrap()],
        node: "sip.switch.test".into(),
        sip: Vec::new(),
        host_ips: Vec::new(),
        serial: 1,
    }
}

/// The NAPTR targets (regexp) and TTLs DNS gives for 1001 at `t`.
fn naptrs(lab: &Lab, t: Instant) -> Vec<(String, u32)> {
    let published = lab.core.location_view().get("1001").expect("1001 is provisioned");
    records_for(&dns_config(), "1001", &published, t)
        .naptr
        .iter()
        .map(|r| match &r.data {
            RData::NAPTR(n) => (String::from_utf8_lossy(&n.regexp).into_owned(), r.ttl),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn route(lab: &mut Lab, t: Instant) -> String {
    lab.advance_to(t);
    lab.core.handle_route(t, ControlId(1), "1001");
    lab.drain();
    lab.take().into_iter().find_map(|(_, o)| if let Output::ControlReply { line, .. } = o { Some(line) } else { None }).unwrap()
}

const LIVE: &str = "!^.*$!sip:1001@switch.test!";

#[test]
fn enum_answers_change_with_the_route_at_the_same_instant() {
    let mut lab = Lab::new();
    let home = format!("!^.*$!{HOME}!");
    // Provisioned with a home, never registered: home only, max_ttl.
    assert_eq!(naptrs(&lab, lab.at(1, 0)), vec![(home.clone(), 30)]);

    let registered = lab.at(10, 0);
    lab.register(registered, 600);
    assert!(route(&mut lab, registered).starts_with("route 1001 flow"));
    assert_eq!(naptrs(&lab, registered), vec![(LIVE.to_owned(), 30), (home.clone(), 30)]);

    // The flow falls silent at 10 + 30 + 10 s: home in both at that instant, not before.
    let dead = registered + Duration::from_secs(u64::from(FLOW_TIMER + GRACE));
    let before = dead - Duration::from_millis(1);
    assert!(route(&mut lab, before).starts_with("route 1001 flow"));
    assert_eq!(naptrs(&lab, before).len(), 2);
    assert!(route(&mut lab, dead).starts_with("route 1001 home"));
    assert_eq!(naptrs(&lab, dead), vec![(home, 30)]);
}

#[test]
fn the_ttl_is_the_seconds_left_and_the_record_goes_at_expiry() {
    let mut lab = Lab::new();
    let registered = lab.at(10, 0);
    lab.register(registered, 60);
    // Keep the flow alive so only the TTL decides.
    for s in (20..70).step_by(10) {
        lab.transport(lab.at(s, 0), TransportEvent::Ping { flow: phone_flow() });
    }
    let expires = registered + Duration::from_secs(60);
    // 60 s granted: capped at 30 until 30 s are left, then counting down.
    assert_eq!(naptrs(&lab, lab.at(40, 0))[0].1, 30);
    assert_eq!(naptrs(&lab, lab.at(55, 500))[0].1, 14);
    assert_eq!(naptrs(&lab, expires - Duration::from_millis(1))[0], (LIVE.to_owned(), 0));
    // At the instant of expiry the live NAPTR and the RL record are gone,
    // even before the core's timer removes the record.
    let at_expiry = records_for(&dns_config(), "1001", &lab.core.location_view().get("1001").unwrap(), expires);
    assert_eq!(at_expiry.naptr.len(), 1);
    assert!(at_expiry.rl.is_none());
    lab.advance_to(expires);
    assert!(lab.core.location_view().get("1001").unwrap().record.is_none(), "removed with the table's record");
}

#[test]
fn an_unregistration_and_a_closed_flow_reach_the_view() {
    let mut lab = Lab::new();
    lab.register(lab.at(1, 0), 600);
    assert!(lab.core.location_view().get("1001").unwrap().record.is_some_and(|f| f.live(lab.at(2, 0))));
    lab.transport(lab.at(3, 0), TransportEvent::Closed { flow: phone_flow(), reason: sipcore::transport::CloseReason::Peer });
    let facts = lab.core.location_view().get("1001").unwrap().record.unwrap();
    assert_eq!(facts.state, crate::record::RlState::SignallingDropped);
    assert!(!facts.live(lab.at(3, 0)));
}

#[test]
fn a_new_subscriber_snapshot_rewrites_the_view() {
    let mut lab = Lab::new();
    assert!(lab.core.location_view().get("2002").is_none());
    let snapshot: crate::subscribers::Subscribers =
        [Subscriber { home: Some("sip:2002@192.0.2.60".into()), ..provisioned("2002", PASSWORD) }].into_iter().collect();
    lab.core.handle_provisioning_changed(lab.at(1, 0));
    lab.core.handle_subscribers(lab.at(1, 0), Ok(snapshot));
    lab.drain();
    let view = lab.core.location_view();
    assert!(view.get("1001").is_none(), "deprovisioned: NXDOMAIN from now on");
    assert_eq!(view.get("2002").unwrap().home.as_deref(), Some("sip:2002@192.0.2.60"));
}
