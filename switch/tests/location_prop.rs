//! Random sequences of registrar events against the location table: the
//! indexes always agree with the records, a driver that applies every change
//! to its store holds exactly the table's records, and routing never sends a
//! call down an expired or dropped registration.

use proptest::prelude::*;
use sipcore::headers::MacAddr;
use sipcore::transport::{Flow, FlowId, TransportKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switch::location::{Change, LocationConfig, LocationTable, Refusal, Registration, Route, Unregistration, route};
use switch::record::{RlRecord, RlState, Subscriber};
use switch::store::WallClock;

#[derive(Debug, Clone)]
enum Op {
    Register { num: u8, dev: u8, slot: u8, expires: u32, outbound: bool },
    Unregister { num: u8, dev: u8, slot: u8 },
    UnregisterAll { num: u8 },
    FlowClosed { slot: u8 },
    Activity { slot: u8 },
    Advance(u64),
    Timeout,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..4u8, 0..4u8, 1..120u32, any::<bool>())
            .prop_map(|(num, dev, slot, expires, outbound)| Op::Register { num, dev, slot, expires, outbound }),
        1 => (0..3u8, 0..4u8, 0..4u8).prop_map(|(num, dev, slot)| Op::Unregister { num, dev, slot }),
        1 => (0..3u8).prop_map(|num| Op::UnregisterAll { num }),
        1 => (0..4u8).prop_map(|slot| Op::FlowClosed { slot }),
        2 => (0..4u8).prop_map(|slot| Op::Activity { slot }),
        3 => (0..60u64).prop_map(Op::Advance),
        1 => Just(Op::Timeout),
        1 => Just(Op::Restart),
    ]
}

/// The network: slots 0 and 1 are TCP connections; slots 2 and 3 are two
/// peers on one UDP socket. Closing bumps a generation so ids are never reused.
struct Net {
    tcp_gen: [u64; 2],
    udp_gen: u64,
}

impl Net {
    fn flow(&self, slot: u8) -> Flow {
        let local: SocketAddr = SocketAddr::from(([203, 0, 113, 1], 5060));
        match slot {
            0 | 1 => Flow {
                id: FlowId(u64::from(slot) * 1_000_000 + self.tcp_gen.get(usize::from(slot)).copied().unwrap_or(0)),
                transport: TransportKind::Tcp,
                local,
                remote: SocketAddr::from(([198, 51, 100, 2], 40_000 + u16::from(slot))),
            },
            _ => Flow {
                id: FlowId(9_000_000 + self.udp_gen),
                transport: TransportKind::Udp,
                local,
                remote: SocketAddr::from(([198, 51, 100, 3], 5_000 + u16::from(slot))),
            },
        }
    }

    fn close(&mut self, slot: u8) -> FlowId {
        let id = self.flow(slot).id;
        match self.tcp_gen.get_mut(usize::from(slot)) {
            Some(g) => *g += 1,
            None => self.udp_gen += 1,
        }
        id
    }
}

/// Devices: 0 and 1 are agents (instance + MAC), 2 is MAC-only, 3 is a plain phone.
fn identity(dev: u8) -> (Option<String>, Option<MacAddr>, String) {
    match dev {
        0 | 1 => (Some(format!("urn:uuid:{dev}")), Some(MacAddr([2, 0, 0, 0, 0, dev])), format!("cid-{dev}")),
        2 => (None, Some(MacAddr([2, 0, 0, 0, 0, 2])), "cid-2".to_owned()),
        _ => (None, None, "cid-3".to_owned()),
    }
}

fn number(num: u8) -> String {
    format!("10{num:02}")
}

fn apply(store: &mut HashMap<String, RlRecord<Instant>>, changes: &[Change]) {
    for c in changes {
        match c {
            Change::Upserted { record, .. } | Change::Challenged { record, .. } => {
                store.insert(record.number.to_string(), record.clone());
            }
            Change::Removed { record, .. } => {
                store.remove(&*record.number);
            }
            Change::CloseFlow { .. } | Change::ForgetFlow { .. } => {}
        }
    }
}

fn check(t: &LocationTable, store: &HashMap<String, RlRecord<Instant>>, now: Instant, after_timeout: bool) -> Result<(), TestCaseError> {
    t.check_invariants().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let table: HashMap<String, RlRecord<Instant>> = t.records().map(|r| (r.number.to_string(), r.clone())).collect();
    prop_assert_eq!(&table, store, "the store drifted from the table");
    if after_timeout {
        prop_assert!(t.poll_timeout().is_none_or(|d| d > now), "overdue work left at {:?}", now);
        prop_assert!(t.records().all(|r| r.expires_at > now), "expired record survived");
    }
    for num in 0..3 {
        let n = number(num);
        let sub = Subscriber {
            number: n.clone(),
            realm: "r".into(),
            ha1_md5: String::new(),
            ha1_sha256: String::new(),
            ha1_sha512_256: String::new(),
            mac: None,
            home: Some("sip:home".into()),
        };
        if let Route::Flow { flow_id, observed, record, .. } = route(t, &sub, now) {
            let r = t.get(&n);
            prop_assert!(r.is_some(), "routed a number with no record");
            let r = r.map(|r| (r.state, r.expires_at, r.flow_id, r.observed));
            prop_assert_eq!(r, Some((RlState::Registered, record.expires_at, Some(flow_id), observed)));
            prop_assert!(record.expires_at > now, "routed an expired record");
            let flow = Flow { id: flow_id, transport: record.transport, local: SocketAddr::from(([0, 0, 0, 0], 0)), remote: observed };
            prop_assert!(t.flow_deadline(&flow).is_none_or(|d| d > now), "routed down a silent flow");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn indexes_store_and_routes_stay_consistent(ops in proptest::collection::vec(op(), 1..60)) {
        let cfg = LocationConfig { flow_timer: 20, grace: 5, tombstone_for: 50, ..LocationConfig::default() };
        let mut t = LocationTable::new(cfg);
        let mut store: HashMap<String, RlRecord<Instant>> = HashMap::new();
        let mut net = Net { tcp_gen: [0, 0], udp_gen: 0 };
        let mut now = Instant::now();
        // The store keeps Unix seconds: a restart reads the records back through the anchor.
        let clock = WallClock::new(now, 1_700_000_000_000);
        for op in ops {
            let mut after_timeout = true;
            match op {
                Op::Register { num, dev, slot, expires, outbound } => {
                    let (instance, mac, call_id) = identity(dev);
                    let flow = net.flow(slot);
                    let reg = Registration {
                        number: number(num),
                        flow,
                        mac,
                        private_ip: None,
                        public_ip_claimed: None,
                        contact_ip: None,
                        bearer_port: None,
                        instance,
                        reg_id: None,
                        call_id,
                        contact: String::new(),
                        user_agent: None,
                        expires,
                        outbound,
                    };
                    match t.register(now, reg) {
                        Ok(out) => {
                            apply(&mut store, &out.changes);
                            prop_assert!(out.record().is_some(), "a taken registration's changes without its record: {:?}", out.changes);
                            if out.record().is_some_and(|r| r.state == RlState::Registered) {
                                let sub = Subscriber {
                                    number: number(num), realm: String::new(), ha1_md5: String::new(),
                                    ha1_sha256: String::new(), ha1_sha512_256: String::new(), mac: None, home: None,
                                };
                                let routed = route(&t, &sub, now);
                                prop_assert!(matches!(routed, Route::Flow { flow_id, .. } if flow_id == flow.id), "{:?}", routed);
                            }
                        }
                        Err(Refusal::Conflict { holder, changes }) => {
                            prop_assert_eq!(holder.state, RlState::Conflict);
                            prop_assert!(holder.flow_id.is_some());
                            apply(&mut store, &changes);
                        }
                        Err(Refusal::ZeroExpires) => prop_assert!(false, "expires is never 0 here"),
                    }
                }
                Op::Unregister { num, dev, slot } => {
                    let (instance, mac, call_id) = identity(dev);
                    let u = Unregistration { number: number(num), flow: net.flow(slot), mac, instance, call_id };
                    apply(&mut store, &t.unregister(now, &u));
                }
                Op::UnregisterAll { num } => apply(&mut store, &t.unregister_all(now, &number(num))),
                Op::FlowClosed { slot } => {
                    let id = net.close(slot);
                    apply(&mut store, &t.flow_closed(now, id));
                }
                Op::Activity { slot } => apply(&mut store, &t.flow_activity(now, &net.flow(slot))),
                Op::Advance(dt) => {
                    now += Duration::from_secs(dt);
                    after_timeout = false;
                }
                Op::Timeout => {
                    // Jump to the next deadline exactly, as the driver would.
                    if let Some(d) = t.poll_timeout() {
                        now = now.max(d);
                    }
                    apply(&mut store, &t.handle_timeout(now));
                }
                Op::Restart => {
                    net.tcp_gen = [net.tcp_gen[0] + 1, net.tcp_gen[1] + 1];
                    net.udp_gen += 1;
                    let stored: Vec<RlRecord<Instant>> =
                        store.values().map(|r| clock.live_record(clock.stored_record(r.clone()))).collect();
                    t = LocationTable::new(cfg);
                    apply(&mut store, &t.load(now, stored));
                    prop_assert!(t.records().all(|r| r.state == RlState::SignallingDropped && r.flow_id.is_none()));
                }
            }
            check(&t, &store, now, after_timeout)?;
        }
    }
}
