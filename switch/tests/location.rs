//! The location table on virtual time: registration, refresh, roaming,
//! conflict, the three revert-to-home cases, restart, and the expiry range.

use sipcore::ToStatus;
use sipcore::headers::MacAddr;
use sipcore::transport::{Flow, FlowId, TransportKind};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use switch::location::{
    Cause, Change, HomeReason, LocationConfig, LocationTable, Refusal, RegisterKind, Registration, Route, TooBrief, Unregistration,
    grant_expires, route,
};
use switch::record::{RlState, Subscriber};

/// Virtual time: `s` seconds after a fixed start.
fn at(s: u64) -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now) + Duration::from_secs(s)
}

const HOME: &str = "sip:1001@home.example.net";

/// A table with Flow-Timer 30 s + 10 s grace: the timings these tests count in
/// (the default is 120 s now that kernel probes find dead paths).
fn table() -> LocationTable {
    LocationTable::new(LocationConfig { flow_timer: 30, grace: 10, ..LocationConfig::default() })
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn tcp(id: u64, port: u16) -> Flow {
    Flow {
        id: FlowId(id),
        transport: TransportKind::Tcp,
        local: addr("203.0.113.1:5060"),
        remote: SocketAddr::new(ip("198.51.100.2"), port),
    }
}

fn udp(socket: u64, remote: &str) -> Flow {
    Flow { id: FlowId(socket), transport: TransportKind::Udp, local: addr("203.0.113.1:5060"), remote: addr(remote) }
}

/// Our agent: instance, MAC, X- headers, outbound.
fn agent(number: &str, flow: Flow, instance: &str, mac: u8) -> Registration {
    Registration {
        number: number.to_owned(),
        flow,
        mac: Some(MacAddr([2, 0x42, 0xac, 0x11, 0, mac])),
        private_ip: Some(ip("10.1.0.2")),
        public_ip_claimed: Some(ip("198.51.100.2")),
        contact_ip: Some(ip("10.1.0.2")),
        bearer_port: Some(40_000),
        instance: Some(format!("urn:uuid:{instance}")),
        reg_id: Some(1),
        call_id: format!("cid-{instance}-{}", flow.id.0),
        contact: format!("sip:{number}@10.1.0.2:5060;transport=tcp;ob"),
        user_agent: Some("agent/0.1".to_owned()),
        expires: 600,
        outbound: true,
    }
}

/// A standard phone: no X- headers, no instance, no outbound.
fn plain(number: &str, flow: Flow, call_id: &str) -> Registration {
    Registration {
        number: number.to_owned(),
        flow,
        mac: None,
        private_ip: None,
        public_ip_claimed: None,
        contact_ip: Some(flow.remote.ip()),
        bearer_port: None,
        instance: None,
        reg_id: None,
        call_id: call_id.to_owned(),
        contact: format!("sip:{number}@{}", flow.remote),
        user_agent: None,
        expires: 600,
        outbound: false,
    }
}

fn sub(number: &str, home: Option<&str>) -> Subscriber {
    Subscriber {
        number: number.to_owned(),
        realm: "switch.test".to_owned(),
        ha1_md5: String::new(),
        ha1_sha256: String::new(),
        ha1_sha512_256: String::new(),
        mac: None,
        home: home.map(str::to_owned),
    }
}

fn unreg(number: &str, r: &Registration) -> Unregistration {
    Unregistration { number: number.to_owned(), flow: r.flow, mac: r.mac, instance: r.instance.clone(), call_id: r.call_id.clone() }
}

fn routed_flow(t: &LocationTable, number: &str, now: Instant) -> Option<FlowId> {
    match route(t, &sub(number, Some(HOME)), now) {
        Route::Flow { flow_id, .. } => Some(flow_id),
        _ => None,
    }
}

fn home_reason(t: &LocationTable, number: &str, now: Instant) -> Option<HomeReason> {
    match route(t, &sub(number, Some(HOME)), now) {
        Route::Home { uri, reason } => {
            assert_eq!(uri, HOME);
            Some(reason)
        }
        _ => None,
    }
}

fn causes(changes: &[Change]) -> Vec<(&'static str, Cause)> {
    changes
        .iter()
        .map(|c| match c {
            Change::Upserted { cause, .. } => ("upsert", *cause),
            Change::Challenged { .. } => ("challenged", Cause::Registered),
            Change::Removed { cause, .. } => ("remove", *cause),
            Change::CloseFlow { cause, .. } => ("close", *cause),
            Change::ForgetFlow { cause, .. } => ("forget", *cause),
        })
        .collect()
}

fn ok(t: &mut LocationTable, now: Instant, r: Registration) -> switch::location::RegisterOutcome {
    let out = t.register(now, r).unwrap_or_else(|e| panic!("refused: {e}"));
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
    out
}

/// The record a taken registration wrote, from its changes.
fn record(out: &switch::location::RegisterOutcome) -> &switch::record::RlRecord<Instant> {
    out.record().unwrap_or_else(|| panic!("a taken registration's changes without its record: {:?}", out.changes))
}

#[test]
fn register_then_route_down_the_flow() {
    let mut t = table();
    let out = ok(&mut t, at(0), agent("1001", tcp(1, 40_001), "a", 1));
    assert_eq!(out.kind, RegisterKind::New);
    assert_eq!(causes(&out.changes), [("upsert", Cause::Registered)]);
    assert_eq!(record(&out).state, RlState::Registered);
    assert_eq!(record(&out).expires_at, at(600));
    assert!(record(&out).behind_nat);
    match route(&t, &sub("1001", Some(HOME)), at(1)) {
        Route::Flow { flow_id, local, observed, transport, record } => {
            assert_eq!(flow_id, FlowId(1));
            assert_eq!(local, addr("203.0.113.1:5060"));
            assert_eq!(observed, addr("198.51.100.2:40001"));
            assert_eq!(transport, TransportKind::Tcp);
            assert_eq!(&*record.number, "1001");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refresh_extends_the_ttl() {
    let mut t = LocationTable::new(LocationConfig { flow_timer: 1_000, ..LocationConfig::default() });
    let r = agent("1001", tcp(1, 40_001), "a", 1);
    ok(&mut t, at(0), r.clone());
    let out = ok(&mut t, at(300), r);
    assert_eq!(out.kind, RegisterKind::Refreshed);
    assert_eq!(causes(&out.changes), [("upsert", Cause::Refreshed)]);
    assert_eq!(record(&out).expires_at, at(900));
    assert_eq!(record(&out).registered_at, at(0));
    assert!(t.handle_timeout(at(600)).is_empty());
    assert_eq!(routed_flow(&t, "1001", at(899)), Some(FlowId(1)));
    assert_eq!(home_reason(&t, "1001", at(900)), Some(HomeReason::TtlExpired));
}

#[test]
fn ttl_expires_at_exactly_expires_at_and_is_remembered() {
    let mut t = table();
    ok(&mut t, at(0), plain("1001", udp(7, "198.51.100.9:5060"), "c1"));
    assert_eq!(t.poll_timeout(), Some(at(600)));
    assert_eq!(routed_flow(&t, "1001", at(599)), Some(FlowId(7)));
    // Routing checks the clock even before the timer fires.
    assert_eq!(home_reason(&t, "1001", at(600)), Some(HomeReason::TtlExpired));
    assert!(t.handle_timeout(at(599)).is_empty());
    let changes = t.handle_timeout(at(600));
    assert_eq!(causes(&changes), [("remove", Cause::TtlExpired), ("forget", Cause::TtlExpired)]);
    assert!(t.get("1001").is_none());
    assert!(t.expired("1001").is_some());
    assert_eq!(home_reason(&t, "1001", at(600)), Some(HomeReason::TtlExpired));
    assert_eq!(home_reason(&t, "1002", at(600)), Some(HomeReason::NotRegistered));
    // The tombstone goes after tombstone_for (3600 s).
    assert_eq!(t.poll_timeout(), Some(at(600 + 3600)));
    assert!(t.handle_timeout(at(600 + 3599)).is_empty());
    assert_eq!(home_reason(&t, "1001", at(4199)), Some(HomeReason::TtlExpired));
    assert!(t.handle_timeout(at(600 + 3600)).is_empty());
    assert_eq!(home_reason(&t, "1001", at(4200)), Some(HomeReason::NotRegistered));
    assert_eq!(t.poll_timeout(), None);
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_new_registration_clears_the_tombstone() {
    let mut t = table();
    ok(&mut t, at(0), plain("1001", udp(7, "198.51.100.9:5060"), "c1"));
    t.handle_timeout(at(600));
    let out = ok(&mut t, at(700), plain("1001", udp(7, "198.51.100.9:5060"), "c1"));
    assert_eq!(out.kind, RegisterKind::New);
    assert!(t.expired("1001").is_none());
    assert_eq!(t.poll_timeout(), Some(at(1300)));
}

#[test]
fn closed_flow_sends_calls_home() {
    let mut t = table();
    ok(&mut t, at(0), agent("1001", tcp(1, 40_001), "a", 1));
    let changes = t.flow_closed(at(5), FlowId(1));
    assert_eq!(causes(&changes), [("upsert", Cause::FlowClosed)]);
    let rec = t.get("1001").unwrap_or_else(|| panic!("record gone"));
    assert_eq!(rec.state, RlState::SignallingDropped);
    assert_eq!(rec.flow_id, None);
    assert_eq!(home_reason(&t, "1001", at(5)), Some(HomeReason::SignallingDropped));
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
    // Closing it again, or an unknown flow, changes nothing.
    assert!(t.flow_closed(at(6), FlowId(1)).is_empty());
    // The phone comes back on a new connection: a new registration.
    let out = ok(&mut t, at(10), agent("1001", tcp(2, 40_002), "a", 1));
    assert_eq!(out.kind, RegisterKind::New);
    assert_eq!(routed_flow(&t, "1001", at(10)), Some(FlowId(2)));
}

#[test]
fn silent_outbound_flow_dies_at_exactly_flow_timer_plus_grace() {
    let mut t = table();
    let flow = tcp(1, 40_001);
    ok(&mut t, at(0), agent("1001", flow, "a", 1));
    assert_eq!(t.flow_deadline(&flow), Some(at(40)));
    assert_eq!(t.poll_timeout(), Some(at(40)));
    // A ping pushes it back.
    assert!(t.flow_activity(at(30), &flow).is_empty());
    assert_eq!(t.poll_timeout(), Some(at(70)));
    assert!(t.handle_timeout(at(69)).is_empty());
    assert_eq!(routed_flow(&t, "1001", at(69)), Some(FlowId(1)));
    assert_eq!(home_reason(&t, "1001", at(70)), Some(HomeReason::SignallingDropped));
    let changes = t.handle_timeout(at(70));
    assert_eq!(causes(&changes), [("upsert", Cause::FlowSilent), ("close", Cause::FlowSilent)]);
    assert_eq!(changes.get(1).and_then(Change::flow), Some(&flow));
    assert_eq!(t.get("1001").map(|r| r.state), Some(RlState::SignallingDropped));
    assert_eq!(t.poll_timeout(), Some(at(600)));
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn traffic_exactly_at_the_deadline_is_too_late() {
    let mut t = table();
    let flow = tcp(1, 40_001);
    ok(&mut t, at(0), agent("1001", flow, "a", 1));
    let changes = t.flow_activity(at(40), &flow);
    assert_eq!(causes(&changes), [("upsert", Cause::FlowSilent), ("close", Cause::FlowSilent)]);
}

#[test]
fn non_outbound_flows_are_not_timed_out() {
    let mut t = table();
    let flow = tcp(1, 40_001);
    ok(&mut t, at(0), plain("1001", flow, "c1"));
    assert_eq!(t.flow_deadline(&flow), None);
    assert_eq!(t.poll_timeout(), Some(at(600)));
    assert!(t.handle_timeout(at(599)).is_empty());
    assert_eq!(routed_flow(&t, "1001", at(599)), Some(FlowId(1)));
}

#[test]
fn roaming_same_instance_new_flow_closes_the_old_one() {
    let mut t = table();
    ok(&mut t, at(0), agent("1001", tcp(1, 40_001), "a", 1));
    // New public address (NAT changed): new connection, new Call-ID, same instance.
    let mut r = agent("1001", tcp(2, 50_000), "a", 1);
    r.flow.remote = addr("192.0.2.77:50000");
    let out = ok(&mut t, at(20), r);
    assert_eq!(out.kind, RegisterKind::Roamed { from: tcp(1, 40_001) });
    assert_eq!(causes(&out.changes), [("upsert", Cause::Roamed), ("close", Cause::Roamed)]);
    assert_eq!(out.changes.get(1).and_then(Change::flow), Some(&tcp(1, 40_001)));
    assert_eq!(record(&out).registered_at, at(20));
    assert_eq!(routed_flow(&t, "1001", at(20)), Some(FlowId(2)));
    // The old flow's close then reports nothing more.
    assert!(t.flow_closed(at(21), FlowId(1)).is_empty());
    assert_eq!(routed_flow(&t, "1001", at(21)), Some(FlowId(2)));
}

#[test]
fn same_mac_without_instance_is_roaming() {
    let mut t = table();
    let mut a = agent("1001", tcp(1, 40_001), "a", 1);
    a.instance = None;
    ok(&mut t, at(0), a);
    let mut b = agent("1001", tcp(2, 40_002), "b", 1);
    b.instance = None;
    let out = ok(&mut t, at(5), b);
    assert!(matches!(out.kind, RegisterKind::Roamed { .. }));
    assert_eq!(routed_flow(&t, "1001", at(5)), Some(FlowId(2)));
}

#[test]
fn plain_phones_are_known_by_call_id_or_flow() {
    let mut t = table();
    ok(&mut t, at(0), plain("1001", udp(7, "198.51.100.9:5060"), "c1"));
    // Same Call-ID, same flow: refresh.
    let out = ok(&mut t, at(60), plain("1001", udp(7, "198.51.100.9:5060"), "c1"));
    assert_eq!(out.kind, RegisterKind::Refreshed);
    // Rebooted (new Call-ID) but the same source address: still the same phone.
    let out = ok(&mut t, at(120), plain("1001", udp(7, "198.51.100.9:5060"), "c2"));
    assert_eq!(out.kind, RegisterKind::Refreshed);
    // NAT rebinding: new source port, same Call-ID: roaming; the old UDP "flow"
    // is reported closed (the driver just forgets the peer).
    let out = ok(&mut t, at(180), plain("1001", udp(7, "198.51.100.9:6000"), "c2"));
    assert_eq!(out.kind, RegisterKind::Roamed { from: udp(7, "198.51.100.9:5060") });
    assert_eq!(causes(&out.changes), [("upsert", Cause::Roamed), ("close", Cause::Roamed)]);
    match route(&t, &sub("1001", None), at(180)) {
        Route::Flow { observed, .. } => assert_eq!(observed, addr("198.51.100.9:6000")),
        other => panic!("{other:?}"),
    }
    // Another plain phone (new Call-ID, new address) over UDP replaces it: a
    // UDP registration has no channel whose loss could be seen, so it cannot
    // be "alive and never dropped" (regression: a rebooted UDP phone behind a
    // NAT that picked a new port was locked out until the TTL).
    let out = ok(&mut t, at(200), plain("1001", udp(7, "192.0.2.5:5060"), "c3"));
    assert_eq!(out.kind, RegisterKind::New);
    // Over TCP the same situation is a conflict.
    ok(&mut t, at(300), plain("1002", tcp(1, 40_001), "d1"));
    let err = t.register(at(310), plain("1002", tcp(2, 40_002), "d2"));
    assert!(matches!(err, Err(Refusal::Conflict { .. })), "{err:?}");
}

#[test]
fn a_different_device_while_live_is_a_conflict() {
    let mut t = table();
    let a = agent("1001", tcp(1, 40_001), "a", 1);
    ok(&mut t, at(0), a.clone());
    let mut b = agent("1001", tcp(2, 40_002), "b", 2);
    b.flow.remote = addr("192.0.2.50:40002");
    let err = match t.register(at(10), b.clone()) {
        Err(e) => e,
        Ok(o) => panic!("accepted: {o:?}"),
    };
    assert_eq!(err.status().as_u16(), 403);
    assert_eq!(err.reason(), "Forbidden (number active on another device)");
    match &err {
        Refusal::Conflict { holder, changes } => {
            assert_eq!(holder.flow_id, Some(FlowId(1)));
            assert_eq!(holder.state, RlState::Conflict);
            assert!(matches!(changes.as_slice(), [Change::Challenged { challenger, .. }]
                if challenger.observed == addr("192.0.2.50:40002") && challenger.at == at(10)));
        }
        other => panic!("{other:?}"),
    }
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(home_reason(&t, "1001", at(10)), Some(HomeReason::Conflict));
    let rec = t.get("1001").unwrap_or_else(|| panic!("gone"));
    assert_eq!((rec.state, rec.flow_id, rec.mac), (RlState::Conflict, Some(FlowId(1)), a.mac));
    assert_eq!(t.challenger("1001").map(|c| c.flow_id), Some(FlowId(2)));
    // The original device's refresh keeps the conflict.
    let out = ok(&mut t, at(20), a);
    assert_eq!(out.kind, RegisterKind::Refreshed);
    assert_eq!(record(&out).state, RlState::Conflict);
    assert_eq!(home_reason(&t, "1001", at(20)), Some(HomeReason::Conflict));
    // The challenger is refused again.
    assert!(matches!(t.register(at(30), b), Err(Refusal::Conflict { .. })));
    // Keep-alives keep the holder's flow alive, conflict or not.
    assert!(t.flow_activity(at(50), &tcp(1, 40_001)).is_empty());
}

#[test]
fn conflict_ends_when_the_original_unregisters() {
    let mut t = table();
    let a = agent("1001", tcp(1, 40_001), "a", 1);
    let b = agent("1001", tcp(2, 40_002), "b", 2);
    ok(&mut t, at(0), a.clone());
    assert!(t.register(at(1), b.clone()).is_err());
    // The challenger cannot unregister the holder.
    assert!(t.unregister(at(2), &unreg("1001", &b)).is_empty());
    let changes = t.unregister(at(3), &unreg("1001", &a));
    assert_eq!(causes(&changes), [("remove", Cause::Unregistered), ("forget", Cause::Unregistered)]);
    assert_eq!(home_reason(&t, "1001", at(3)), Some(HomeReason::NotRegistered));
    let out = ok(&mut t, at(4), b);
    assert_eq!(out.kind, RegisterKind::New);
    assert_eq!(record(&out).state, RlState::Registered);
    assert_eq!(routed_flow(&t, "1001", at(4)), Some(FlowId(2)));
}

#[test]
fn conflict_ends_when_the_original_flow_closes() {
    let mut t = table();
    ok(&mut t, at(0), agent("1001", tcp(1, 40_001), "a", 1));
    let b = agent("1001", tcp(2, 40_002), "b", 2);
    assert!(t.register(at(1), b.clone()).is_err());
    t.flow_closed(at(2), FlowId(1));
    assert_eq!(home_reason(&t, "1001", at(2)), Some(HomeReason::SignallingDropped));
    assert!(t.challenger("1001").is_none());
    assert_eq!(ok(&mut t, at(3), b).kind, RegisterKind::New);
    assert_eq!(routed_flow(&t, "1001", at(3)), Some(FlowId(2)));
}

#[test]
fn unregister_and_unregister_all() {
    let mut t = table();
    let shared = tcp(1, 40_001);
    let a = agent("1001", shared, "a", 1);
    let b = agent("1002", shared, "a", 1); // a second line on the same phone and flow
    ok(&mut t, at(0), a.clone());
    ok(&mut t, at(0), b);
    assert_eq!(t.len(), 2);
    // The first leaves the flow in use: nothing to forget.
    let changes = t.unregister(at(1), &unreg("1001", &a));
    assert_eq!(causes(&changes), [("remove", Cause::Unregistered)]);
    assert!(t.unregister(at(1), &unreg("1001", &a)).is_empty());
    // Contact: * for the other: the flow is now unused.
    let changes = t.unregister_all(at(2), "1002");
    assert_eq!(causes(&changes), [("remove", Cause::UnregisteredAll), ("forget", Cause::UnregisteredAll)]);
    assert_eq!(changes.get(1).and_then(Change::flow), Some(&shared));
    assert!(t.is_empty());
    assert!(t.unregister_all(at(3), "1002").is_empty());
    assert_eq!(home_reason(&t, "1002", at(3)), Some(HomeReason::NotRegistered));
    assert_eq!(t.poll_timeout(), None);
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn deprovisioned_number_loses_its_record_whatever_its_state() {
    let mut t = table();
    let flow = tcp(1, 40_001);
    let a = agent("1001", flow, "a", 1);
    ok(&mut t, at(0), a);
    // Held in conflict by a challenger: deprovisioning still removes it.
    assert!(t.register(at(1), agent("1001", tcp(2, 40_002), "b", 2)).is_err());
    assert_eq!(t.get("1001").map(|r| r.state), Some(RlState::Conflict));
    let changes = t.deprovision(at(2), "1001");
    assert_eq!(causes(&changes), [("remove", Cause::Deprovisioned), ("forget", Cause::Deprovisioned)]);
    assert_eq!(changes.get(1).and_then(Change::flow), Some(&flow));
    assert!(t.is_empty());
    assert_eq!(home_reason(&t, "1001", at(2)), Some(HomeReason::NotRegistered));
    assert!(t.deprovision(at(3), "1001").is_empty(), "nothing left to remove");
    assert_eq!(t.poll_timeout(), None);
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn roaming_off_a_shared_flow_does_not_close_it() {
    let mut t = table();
    let shared = tcp(1, 40_001);
    ok(&mut t, at(0), agent("1001", shared, "a", 1));
    ok(&mut t, at(0), agent("1002", shared, "b", 2));
    let out = ok(&mut t, at(5), agent("1001", tcp(2, 40_002), "a", 1));
    assert_eq!(causes(&out.changes), [("upsert", Cause::Roamed)]);
    assert_eq!(routed_flow(&t, "1002", at(5)), Some(FlowId(1)));
}

#[test]
fn udp_peers_on_one_socket_are_separate_flows() {
    let mut t = table();
    let p1 = udp(9, "198.51.100.10:5060");
    let p2 = udp(9, "198.51.100.11:5060");
    let mut a = agent("1001", p1, "a", 1);
    a.flow = p1;
    let mut b = agent("1002", p2, "b", 2);
    b.flow = p2;
    ok(&mut t, at(0), a);
    ok(&mut t, at(0), b);
    t.flow_activity(at(30), &p1);
    let changes = t.handle_timeout(at(40));
    assert_eq!(causes(&changes), [("upsert", Cause::FlowSilent), ("close", Cause::FlowSilent)]);
    assert_eq!(changes.first().and_then(Change::record).map(|r| &*r.number), Some("1002"));
    assert_eq!(routed_flow(&t, "1001", at(40)), Some(FlowId(9)));
    // The socket itself closing drops every peer on it.
    let changes = t.flow_closed(at(41), FlowId(9));
    assert_eq!(causes(&changes), [("upsert", Cause::FlowClosed)]);
    assert_eq!(home_reason(&t, "1001", at(41)), Some(HomeReason::SignallingDropped));
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn load_after_restart_drops_flows_and_purges_expired() {
    let mut t = table();
    ok(&mut t, at(0), agent("1001", tcp(1, 40_001), "a", 1));
    ok(&mut t, at(0), agent("1002", tcp(2, 40_002), "b", 2));
    let mut short = plain("1003", udp(7, "198.51.100.9:5060"), "c1");
    short.expires = 60;
    ok(&mut t, at(0), short);
    assert!(t.register(at(0), agent("1002", tcp(3, 40_003), "z", 9)).is_err()); // 1002 in conflict
    let stored: Vec<_> = t.records().cloned().collect();

    let mut t2 = table();
    let now = at(100); // past 1003's TTL
    let changes = t2.load(now, stored);
    let mut seen: Vec<_> =
        changes.iter().map(|c| (c.record().map(|r| r.number.to_string()).unwrap_or_default(), causes(std::slice::from_ref(c)))).collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            ("1001".to_owned(), vec![("upsert", Cause::Restarted)]),
            ("1002".to_owned(), vec![("upsert", Cause::Restarted)]),
            ("1003".to_owned(), vec![("remove", Cause::TtlExpired)]),
        ]
    );
    for n in ["1001", "1002"] {
        let r = t2.get(n).unwrap_or_else(|| panic!("{n} gone"));
        assert_eq!((r.state, r.flow_id), (RlState::SignallingDropped, None));
        assert_eq!(home_reason(&t2, n, now), Some(HomeReason::SignallingDropped));
    }
    assert!(t2.get("1003").is_none());
    assert_eq!(home_reason(&t2, "1003", now), Some(HomeReason::NotRegistered));
    assert_eq!(t2.poll_timeout(), Some(at(600)));
    t2.check_invariants().unwrap_or_else(|e| panic!("{e}"));
    // Any device may now register 1002 afresh.
    assert_eq!(ok(&mut t2, now, agent("1002", tcp(10, 40_010), "z", 9)).kind, RegisterKind::New);
}

#[test]
fn no_home_means_unavailable() {
    let t = table();
    assert_eq!(route(&t, &sub("1001", None), at(0)), Route::Unavailable { reason: HomeReason::NotRegistered });
    assert_eq!(route(&t, &sub("1001", Some("")), at(0)), Route::Unavailable { reason: HomeReason::NotRegistered });
    let mut t = table();
    ok(&mut t, at(0), agent("1001", tcp(1, 40_001), "a", 1));
    t.flow_closed(at(0), FlowId(1));
    assert_eq!(route(&t, &sub("1001", None), at(0)), Route::Unavailable { reason: HomeReason::SignallingDropped });
}

#[test]
fn grant_expires_boundaries() {
    let cfg = LocationConfig::default();
    assert_eq!(grant_expires(None, &cfg), Ok(600));
    assert_eq!(grant_expires(Some(0), &cfg), Ok(0));
    assert_eq!(grant_expires(Some(1), &cfg), Err(TooBrief { min: 60 }));
    assert_eq!(grant_expires(Some(59), &cfg), Err(TooBrief { min: 60 }));
    assert_eq!(grant_expires(Some(60), &cfg), Ok(60));
    assert_eq!(grant_expires(Some(3600), &cfg), Ok(3600));
    assert_eq!(grant_expires(Some(3601), &cfg), Ok(3600));
    assert_eq!(grant_expires(Some(u32::MAX), &cfg), Ok(3600));
    assert_eq!(TooBrief { min: 60 }.status().as_u16(), 423);
    assert_eq!(TooBrief { min: 60 }.reason(), "Interval Too Brief");
    let odd = LocationConfig { default_expires: 10_000, ..cfg };
    assert_eq!(grant_expires(None, &odd), Ok(3600));
}

#[test]
fn zero_expires_is_not_a_registration() {
    let mut t = table();
    let mut r = agent("1001", tcp(1, 40_001), "a", 1);
    r.expires = 0;
    assert_eq!(t.register(at(0), r), Err(Refusal::ZeroExpires));
    assert!(t.is_empty());
}

#[test]
fn behind_nat_compares_the_claimed_address_with_the_source() {
    let mut r = agent("1001", tcp(1, 40_001), "a", 1);
    assert!(r.behind_nat()); // 10.1.0.2 vs 198.51.100.2
    r.private_ip = Some(ip("198.51.100.2"));
    assert!(!r.behind_nat());
    r.private_ip = None; // falls back to the Contact/Via IP (10.1.0.2)
    assert!(r.behind_nat());
    r.contact_ip = Some(ip("::ffff:198.51.100.2"));
    assert!(!r.behind_nat());
    r.contact_ip = None;
    assert!(!r.behind_nat());
}

#[test]
fn poll_timeout_is_the_exact_next_deadline() {
    let mut t = table();
    assert_eq!(t.poll_timeout(), None);
    let outbound = tcp(1, 40_001);
    ok(&mut t, at(0), agent("1001", outbound, "a", 1)); // silent at at(0)+40, TTL at(0)+600
    assert_eq!(t.poll_timeout(), Some(at(40)));
    let mut short = plain("1002", tcp(2, 40_002), "c2");
    short.expires = 35;
    ok(&mut t, at(0), short); // TTL at(0)+35
    assert_eq!(t.poll_timeout(), Some(at(35)));
    assert_eq!(causes(&t.handle_timeout(at(35))), [("remove", Cause::TtlExpired), ("forget", Cause::TtlExpired)]);
    assert_eq!(t.poll_timeout(), Some(at(40)));
    t.flow_activity(at(39), &outbound);
    assert_eq!(t.poll_timeout(), Some(at(79)));
    t.handle_timeout(at(79));
    assert_eq!(t.poll_timeout(), Some(at(600))); // the dropped record's TTL
    t.handle_timeout(at(600));
    assert_eq!(t.poll_timeout(), Some(at(35 + 3600))); // 1002's tombstone
    t.handle_timeout(at(35 + 3600));
    assert_eq!(t.poll_timeout(), Some(at(600 + 3600)));
    t.handle_timeout(at(600 + 3600));
    assert_eq!(t.poll_timeout(), None);
    t.check_invariants().unwrap_or_else(|e| panic!("{e}"));
}
