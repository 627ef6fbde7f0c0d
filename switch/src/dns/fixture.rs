//! A small fixed world for the DNS tests and the `dns` fuzz target: the
//! config of `switch.test` and a view with a live number, a home-only one,
//! one with nothing to say and one provisioned with `+`. Literals only, so
//! the unwraps cannot fail.
#![allow(clippy::unwrap_used)]

use super::answer::Responder;
use super::{DnsConfig, LocationView};
use crate::listen::ListenSpec;
use crate::location::{Cause, Change};
use crate::record::{RlRecord, RlState, Subscriber};
use hickory_proto::rr::Name;
use sipcore::headers::MacAddr;
use sipcore::transport::{FlowId, TransportKind};
use std::time::{Duration, Instant};

pub const HOME: &str = "sip:1001@192.0.2.50";

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

pub fn cfg() -> DnsConfig {
    DnsConfig {
        domain: "switch.test".into(),
        zone: name("switch.test."),
        enum_suffix: name("e164.arpa."),
        max_ttl: 30,
        rl_allow: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        node: "sw1".into(),
        sip: ["tcp:192.0.2.1:5060", "udp:192.0.2.1:5060", "tls:192.0.2.1:5061"].iter().map(|s| s.parse::<ListenSpec>().unwrap()).collect(),
        host_ips: vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
        serial: 7,
    }
}

pub fn record(number: &str, t0: Instant, expires: u64) -> RlRecord<Instant> {
    RlRecord {
        number: number.into(),
        mac: Some(MacAddr([0x00, 0x11, 0x22, 0x33, 0x44, 0x55])),
        private_ip: Some("10.1.0.2".parse().unwrap()),
        public_ip_claimed: Some("198.51.100.7".parse().unwrap()),
        observed: "198.51.100.7:40000".parse().unwrap(),
        behind_nat: true,
        bearer_port: Some(4000),
        transport: TransportKind::Tcp,
        flow_id: Some(FlowId(2)),
        local: Some("192.0.2.1:5060".parse().unwrap()),
        instance: None,
        reg_id: None,
        call_id: "c1".into(),
        contact: "sip:1001@10.1.0.2".into(),
        user_agent: None,
        registered_at: t0,
        expires_at: t0 + Duration::from_secs(expires),
        state: RlState::Registered,
        outbound: true,
    }
}

pub fn subscriber(number: &str, home: Option<&str>) -> Subscriber {
    Subscriber {
        number: number.into(),
        realm: "switch.test".into(),
        ha1_md5: String::new(),
        ha1_sha256: String::new(),
        ha1_sha512_256: String::new(),
        mac: None,
        home: home.map(str::to_owned),
    }
}

/// A responder over a view with 1001 (home, registered), 1002 (no home, not
/// registered) and +15551003 (home, never registered).
pub fn responder_at(t0: Instant) -> Responder {
    let view = LocationView::new();
    let subs = [subscriber("1001", Some(HOME)), subscriber("1002", None), subscriber("+15551003", Some("sip:h@192.0.2.9"))];
    view.provision(&subs.into_iter().collect());
    view.apply(&Change::Upserted { record: record("1001", t0, 600), cause: Cause::Registered });
    Responder::new(cfg(), view)
}

/// [`responder_at`] now, and that instant.
pub fn responder() -> (Responder, Instant) {
    let t0 = Instant::now();
    (responder_at(t0), t0)
}
