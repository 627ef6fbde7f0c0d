//! The store tests' fixtures: one RL record with every field set.

use sipcore::headers::MacAddr;
use sipcore::transport::{FlowId, TransportKind};
use switch::record::{RlRecord, RlState, UnixTime};
use switch::store::NewSubscriber;

pub fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

/// A record with every optional field set (the runtime-only ones too).
pub fn record(number: &str, expires_at: UnixTime) -> RlRecord {
    RlRecord {
        number: number.into(),
        mac: Some(mac("02:42:ac:11:00:02")),
        private_ip: Some("10.1.0.2".parse().unwrap()),
        public_ip_claimed: Some("2001:db8::2".parse().unwrap()),
        observed: "[2001:db8::2]:49152".parse().unwrap(),
        behind_nat: true,
        bearer_port: Some(40000),
        transport: TransportKind::Tls,
        flow_id: Some(FlowId(7)),
        local: Some("192.0.2.1:5061".parse().unwrap()),
        instance: Some("<urn:uuid:00000000-0000-0000-0000-000000000001>".into()),
        reg_id: Some(1),
        call_id: format!("{number}-reg@10.1.0.2").into(),
        contact: format!("<sip:{number}@10.1.0.2:5060;transport=tls;ob>").into(),
        user_agent: Some("agent/0.1".into()),
        registered_at: expires_at - 3600,
        expires_at,
        state: RlState::Registered,
        outbound: true,
    }
}

/// What a record reads back as: the runtime-only fields are not stored.
pub fn loaded(mut r: RlRecord) -> RlRecord {
    r.flow_id = None;
    r.local = None;
    r
}

/// 1001 with every optional field set: a pinned MAC and a home location.
pub fn full_1001() -> NewSubscriber<'static> {
    NewSubscriber {
        mac: Some(mac("02:42:AC:11:00:02")),
        home: Some("sip:1001@home.example"),
        ..NewSubscriber::new("1001", "secret", "switch.local")
    }
}
