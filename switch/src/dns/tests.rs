//! The record model and the answers, on virtual time: no socket, no clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use super::answer::{Reply, Responder};
use super::enum_name::{digits_of, enum_name};
use super::fixture::{HOME, cfg, name, record, responder_at as responder, subscriber};
use super::message::{UDP_PAYLOAD, respond};
use super::{Facts, Published, records_for};
use crate::record::RlState;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use std::net::IpAddr;
use std::time::{Duration, Instant};

fn regexps(records: &[Record]) -> Vec<(u16, String, u32)> {
    records
        .iter()
        .map(|r| match &r.data {
            RData::NAPTR(n) => (n.order, String::from_utf8_lossy(&n.regexp).into_owned(), r.ttl),
            other => panic!("not a NAPTR: {other:?}"),
        })
        .collect()
}

fn txt(record: &Record) -> Vec<String> {
    match &record.data {
        RData::TXT(t) => t.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect(),
        other => panic!("not a TXT: {other:?}"),
    }
}

#[test]
fn enum_names_follow_rfc_6116() {
    let suffix = name("e164.arpa.");
    assert_eq!(enum_name("+15551001", &suffix).unwrap(), name("1.0.0.1.5.5.5.1.e164.arpa."));
    assert_eq!(enum_name("1001", &suffix).unwrap(), name("1.0.0.1.e164.arpa."));
    for bad in ["", "+", "10a1", "+1-555", "1001 ", "١٢"] {
        assert_eq!(enum_name(bad, &suffix), None, "{bad:?}");
    }
    assert_eq!(digits_of(&name("1.0.0.1.5.5.5.1.e164.arpa."), &suffix).as_deref(), Some("15551001"));
    assert_eq!(digits_of(&name("e164.arpa."), &suffix), None, "the apex is no number");
    assert_eq!(digits_of(&name("10.0.1.e164.arpa."), &suffix), None, "one digit per label");
    assert_eq!(digits_of(&name("a.0.1.e164.arpa."), &suffix), None);
    assert_eq!(digits_of(&name("1.0.example.com."), &suffix), None);
}

#[test]
fn a_live_number_has_its_flow_then_its_home_and_the_ttl_counts_down() {
    let t0 = Instant::now();
    let published = Published { home: Some(HOME.into()), record: Some(Facts::of(&record("1001", t0, 45))) };
    let r = records_for(&cfg(), "1001", &published, t0);
    assert_eq!(r.enum_name.unwrap(), name("1.0.0.1.e164.arpa."));
    let live = "!^.*$!sip:1001@switch.test!".to_owned();
    let home = format!("!^.*$!{HOME}!");
    assert_eq!(regexps(&r.naptr), vec![(10, live.clone(), 30), (20, home.clone(), 30)]);
    let n = match &r.naptr[0].data {
        RData::NAPTR(n) => n.clone(),
        _ => unreachable!(),
    };
    assert_eq!((n.preference, &*n.flags, &*n.services, n.replacement.is_root()), (10, &b"u"[..], &b"E2U+sip"[..], true));
    // 45 s granted: 30 (capped) now, 20 after 25 s, 0 in the last second.
    assert_eq!(regexps(&records_for(&cfg(), "1001", &published, t0 + Duration::from_millis(25_300)).naptr)[0].2, 19);
    assert_eq!(regexps(&records_for(&cfg(), "1001", &published, t0 + Duration::from_secs(15)).naptr)[0].2, 30);
    assert_eq!(regexps(&records_for(&cfg(), "1001", &published, t0 + Duration::from_millis(44_999)).naptr)[0].2, 0);
    // At expiry: home only, at max_ttl, and no RL record.
    let expired = records_for(&cfg(), "1001", &published, t0 + Duration::from_secs(45));
    assert_eq!(regexps(&expired.naptr), vec![(20, home, 30)]);
    assert_eq!(expired.rl, None);
}

#[test]
fn the_rl_record_says_every_fact_one_string_each() {
    let t0 = Instant::now();
    let published = Published { home: None, record: Some(Facts::of(&record("1001", t0, 600))) };
    let r = records_for(&cfg(), "1001", &published, t0 + Duration::from_secs(100));
    let rl = r.rl.unwrap();
    assert_eq!(rl.name, name("1001._rl.switch.test."));
    assert_eq!(rl.ttl, 30);
    assert_eq!(
        txt(&rl),
        [
            "state=registered",
            "mac=00:11:22:33:44:55",
            "private_ip=10.1.0.2",
            "public_ip=198.51.100.7",
            "observed=198.51.100.7:40000",
            "nat=1",
            "bearer_port=4000",
            "transport=tcp",
            "expires_in=500",
            "node=sw1"
        ]
    );
    // Facts the phone did not give are left out, not printed empty.
    let mut bare = record("1001", t0, 600);
    (bare.mac, bare.private_ip, bare.public_ip_claimed, bare.bearer_port, bare.behind_nat) = (None, None, None, None, false);
    let r = records_for(&cfg(), "1001", &Published { home: None, record: Some(Facts::of(&bare)) }, t0);
    assert_eq!(
        txt(&r.rl.unwrap()),
        ["state=registered", "observed=198.51.100.7:40000", "nat=0", "transport=tcp", "expires_in=600", "node=sw1"]
    );
}

#[test]
fn a_number_not_reachable_on_a_flow_has_only_its_home() {
    let t0 = Instant::now();
    for state in [RlState::SignallingDropped, RlState::Conflict] {
        let mut rec = record("1001", t0, 600);
        rec.state = state;
        let published = Published { home: Some(HOME.into()), record: Some(Facts::of(&rec)) };
        let r = records_for(&cfg(), "1001", &published, t0);
        assert_eq!(regexps(&r.naptr), vec![(20, format!("!^.*$!{HOME}!"), 30)], "{state:?}");
        assert_eq!(txt(&r.rl.unwrap())[0], format!("state={}", state.as_str()), "the RL record still tells why");
        // No home either: nothing at the ENUM name.
        let r = records_for(&cfg(), "1001", &Published { home: None, ..published }, t0);
        assert!(r.naptr.is_empty());
    }
    // Never registered.
    let r = records_for(&cfg(), "1001", &Published { home: Some(HOME.into()), record: None }, t0);
    assert_eq!(regexps(&r.naptr).len(), 1);
    assert_eq!(r.rl, None);
}

#[test]
fn the_delimiter_and_backslashes_in_a_home_uri_are_escaped() {
    let published = Published { home: Some(r"sip:a!b\c@192.0.2.5".into()), record: None };
    let r = records_for(&cfg(), "1001", &published, Instant::now());
    assert_eq!(regexps(&r.naptr)[0].1, r"!^.*$!sip:a\!b\\c@192.0.2.5!");
}

#[test]
fn a_number_with_non_digits_has_an_rl_record_but_no_enum_name() {
    let t0 = Instant::now();
    let published = Published { home: Some(HOME.into()), record: Some(Facts::of(&record("alice", t0, 600))) };
    let r = records_for(&cfg(), "alice", &published, t0);
    assert_eq!((r.enum_name, r.naptr.len()), (None, 0));
    assert_eq!(r.rl.unwrap().name, name("alice._rl.switch.test."));
}

const LOCAL: &str = "127.0.0.1";

fn ask(r: &Responder, q: &str, rtype: RecordType, src: &str, now: Instant) -> Reply {
    r.answer(&name(q), rtype, DNSClass::IN, src.parse::<IpAddr>().unwrap(), now)
}

fn assert_negative(reply: &Reply, rcode: ResponseCode, soa_of: &str) {
    assert_eq!(reply.rcode, rcode);
    assert!(reply.authoritative && reply.answers.is_empty(), "{reply:?}");
    assert!(matches!(&reply.authority[..], [soa] if soa.record_type() == RecordType::SOA && soa.name == name(soa_of)), "{reply:?}");
}

#[test]
fn the_answers_for_numbers() {
    let t0 = Instant::now();
    let r = responder(t0);
    let live = ask(&r, "1.0.0.1.e164.arpa.", RecordType::NAPTR, "192.0.2.77", t0);
    assert_eq!((live.rcode, live.authoritative, live.answers.len()), (ResponseCode::NoError, true, 2));
    // Case does not matter.
    assert_eq!(ask(&r, "1.0.0.1.E164.ARPA.", RecordType::NAPTR, "192.0.2.77", t0).answers.len(), 2);
    // Provisioned with `+`, asked by its digits.
    assert_eq!(regexps(&ask(&r, "3.0.0.1.5.5.5.1.e164.arpa.", RecordType::NAPTR, LOCAL, t0).answers).len(), 1);
    // Another type at a number's name: NODATA.
    assert_negative(&ask(&r, "1.0.0.1.e164.arpa.", RecordType::A, LOCAL, t0), ResponseCode::NoError, "e164.arpa.");
    // No home, not registered: NODATA with the SOA.
    assert_negative(&ask(&r, "2.0.0.1.e164.arpa.", RecordType::NAPTR, LOCAL, t0), ResponseCode::NoError, "e164.arpa.");
    // Unprovisioned, and not a number at all: NXDOMAIN.
    assert_negative(&ask(&r, "9.9.9.9.e164.arpa.", RecordType::NAPTR, LOCAL, t0), ResponseCode::NXDomain, "e164.arpa.");
    assert_negative(&ask(&r, "x.e164.arpa.", RecordType::NAPTR, LOCAL, t0), ResponseCode::NXDomain, "e164.arpa.");
}

#[test]
fn names_above_a_number_are_empty_non_terminals() {
    let t0 = Instant::now();
    let r = responder(t0);
    // 1001, 1002 and +15551003 are provisioned: every name their digits pass
    // through exists with no data (RFC 8020, RFC 4592 §2.2.2).
    for ent in ["1.e164.arpa.", "0.1.e164.arpa.", "0.0.1.e164.arpa.", "5.1.e164.arpa.", "0.0.1.5.5.5.1.e164.arpa."] {
        for rtype in [RecordType::NAPTR, RecordType::ANY] {
            assert_negative(&ask(&r, ent, rtype, LOCAL, t0), ResponseCode::NoError, "e164.arpa.");
        }
    }
    // Beside them, below a number, or not digits: nothing.
    for absent in ["2.e164.arpa.", "9.0.0.1.e164.arpa.", "3.0.1.e164.arpa.", "0.1.0.0.1.e164.arpa.", "x.0.1.e164.arpa."] {
        assert_negative(&ask(&r, absent, RecordType::NAPTR, LOCAL, t0), ResponseCode::NXDomain, "e164.arpa.");
    }
    // A new snapshot moves them: with only 2000, `0.0.1` is gone and `0.0.2` appears.
    r.view.provision(&[subscriber("2000", None)].into_iter().collect());
    assert_negative(&ask(&r, "0.0.1.e164.arpa.", RecordType::NAPTR, LOCAL, t0), ResponseCode::NXDomain, "e164.arpa.");
    assert_negative(&ask(&r, "0.0.2.e164.arpa.", RecordType::NAPTR, LOCAL, t0), ResponseCode::NoError, "e164.arpa.");
    // `_rl.ZONE` is one while a number is provisioned.
    assert_negative(&ask(&r, "_rl.switch.test.", RecordType::TXT, LOCAL, t0), ResponseCode::NoError, "switch.test.");
    r.view.provision(&std::iter::empty().collect());
    assert_negative(&ask(&r, "_rl.switch.test.", RecordType::TXT, LOCAL, t0), ResponseCode::NXDomain, "switch.test.");
    assert_negative(&ask(&r, "0.0.2.e164.arpa.", RecordType::NAPTR, LOCAL, t0), ResponseCode::NXDomain, "e164.arpa.");
}

#[test]
fn only_the_transports_listened_on_have_their_empty_non_terminal() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.sip.retain(|l| l.transport != sipcore::transport::TransportKind::Udp);
    let r = Responder::new(c, super::LocationView::new());
    assert_negative(&ask(&r, "_tcp.switch.test.", RecordType::SRV, LOCAL, t0), ResponseCode::NoError, "switch.test.");
    assert_negative(&ask(&r, "_udp.switch.test.", RecordType::SRV, LOCAL, t0), ResponseCode::NXDomain, "switch.test.");
}

#[test]
fn rl_records_only_for_rl_allow() {
    let t0 = Instant::now();
    let r = responder(t0);
    let ok = ask(&r, "1001._rl.switch.test.", RecordType::TXT, LOCAL, t0);
    assert_eq!((ok.rcode, ok.answers.len()), (ResponseCode::NoError, 1));
    assert_eq!(ask(&r, "1001._rl.switch.test.", RecordType::TXT, "::1", t0).answers.len(), 1);
    assert_eq!(ask(&r, "1001._rl.switch.test.", RecordType::TXT, "::ffff:127.0.0.1", t0).answers.len(), 1, "a mapped loopback is loopback");
    for (q, rtype) in
        [("1001._rl.switch.test.", RecordType::TXT), ("1001._rl.switch.test.", RecordType::ANY), ("9999._rl.switch.test.", RecordType::TXT)]
    {
        let refused = ask(&r, q, rtype, "192.0.2.77", t0);
        assert_eq!((refused.rcode, refused.answers.len(), refused.authority.len()), (ResponseCode::Refused, 0, 0), "{q} {rtype}");
    }
    // Any `X._rl.ZONE`, even one no number can have (not UTF-8), is refused alike
    // (a fuzz finding: fuzz/regressions/dns/rl-label-not-utf8-from-outside).
    let odd = hickory_proto::rr::Name::from_labels([&b"0\x8310"[..], b"_rl", b"switch", b"test"]).unwrap();
    let refused = r.answer(&odd, RecordType::TXT, DNSClass::IN, "192.0.2.77".parse().unwrap(), t0);
    assert_eq!(refused.rcode, ResponseCode::Refused);
    // Provisioned, not registered: NODATA; unprovisioned: NXDOMAIN.
    assert_negative(&ask(&r, "1002._rl.switch.test.", RecordType::TXT, LOCAL, t0), ResponseCode::NoError, "switch.test.");
    assert_negative(&ask(&r, "9999._rl.switch.test.", RecordType::TXT, LOCAL, t0), ResponseCode::NXDomain, "switch.test.");
    // `_rl.ZONE` itself exists (an empty non-terminal).
    assert_negative(&ask(&r, "_rl.switch.test.", RecordType::TXT, "192.0.2.77", t0), ResponseCode::NoError, "switch.test.");
}

#[test]
fn the_switch_finds_itself_by_rfc_3263() {
    let t0 = Instant::now();
    let r = responder(t0);
    let naptr = ask(&r, "switch.test.", RecordType::NAPTR, "192.0.2.77", t0);
    let services: Vec<(u16, String, String)> = naptr
        .answers
        .iter()
        .map(|rec| match &rec.data {
            RData::NAPTR(n) => (n.order, String::from_utf8_lossy(&n.services).into_owned(), n.replacement.to_string()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        services,
        [
            (10, "SIPS+D2T".into(), "_sips._tcp.switch.test.".into()),
            (20, "SIP+D2T".into(), "_sip._tcp.switch.test.".into()),
            (30, "SIP+D2U".into(), "_sip._udp.switch.test.".into())
        ]
    );
    for (q, port) in [("_sips._tcp.switch.test.", 5061), ("_sip._tcp.switch.test.", 5060), ("_sip._udp.switch.test.", 5060)] {
        let srv = ask(&r, q, RecordType::SRV, "192.0.2.77", t0);
        assert!(
            matches!(&srv.answers[..], [rec] if matches!(&rec.data, RData::SRV(s) if s.port == port && s.target == name("sip.switch.test."))),
            "{q}: {srv:?}"
        );
    }
    let a = ask(&r, "sip.switch.test.", RecordType::A, "192.0.2.77", t0);
    assert!(matches!(&a.answers[..], [rec] if rec.data == RData::A("192.0.2.1".parse::<std::net::Ipv4Addr>().unwrap().into())));
    assert_eq!(ask(&r, "sip.switch.test.", RecordType::AAAA, "192.0.2.77", t0).answers.len(), 1);
    let soa = ask(&r, "switch.test.", RecordType::SOA, "192.0.2.77", t0);
    assert!(matches!(&soa.answers[..], [rec] if matches!(&rec.data, RData::SOA(s) if s.serial == 7 && s.minimum == 30)));
    assert_eq!(ask(&r, "switch.test.", RecordType::NS, "192.0.2.77", t0).answers.len(), 1);
    assert_eq!(ask(&r, "e164.arpa.", RecordType::SOA, "192.0.2.77", t0).answers.len(), 1);
    assert!(ask(&r, "switch.test.", RecordType::ANY, "192.0.2.77", t0).answers.len() >= 5);
    // `_tcp` exists; other names in the zone do not.
    assert_negative(&ask(&r, "_tcp.switch.test.", RecordType::SRV, "192.0.2.77", t0), ResponseCode::NoError, "switch.test.");
    assert_negative(&ask(&r, "www.switch.test.", RecordType::A, "192.0.2.77", t0), ResponseCode::NXDomain, "switch.test.");
}

#[test]
fn not_ours_is_refused() {
    let t0 = Instant::now();
    let r = responder(t0);
    for (q, rtype, class) in [
        ("example.com.", RecordType::A, DNSClass::IN),
        ("switch.test.", RecordType::AXFR, DNSClass::IN),
        ("e164.arpa.", RecordType::IXFR, DNSClass::IN),
        ("switch.test.", RecordType::TXT, DNSClass::CH),
    ] {
        let reply = r.answer(&name(q), rtype, class, LOCAL.parse().unwrap(), t0);
        assert_eq!((reply.rcode, reply.authoritative, reply.answers.len()), (ResponseCode::Refused, false, 0), "{q} {rtype} {class}");
    }
}

/// `message` as the server would receive it.
fn request(message: &Message) -> Request {
    Request::from_bytes(message.to_bytes().unwrap(), "127.0.0.1:5353".parse().unwrap(), Protocol::Udp).unwrap()
}

fn query(q: &str, rtype: RecordType) -> Message {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name(q), rtype));
    m
}

#[test]
fn message_rules_of_rfc_1035_and_6891() {
    let t0 = Instant::now();
    let r = responder(t0);
    let src: IpAddr = LOCAL.parse().unwrap();
    let ok = respond(&r, &request(&query("1.0.0.1.e164.arpa.", RecordType::NAPTR)), src, t0).unwrap();
    assert_eq!((ok.metadata.id, ok.metadata.message_type, ok.metadata.response_code), (4242, MessageType::Response, ResponseCode::NoError));
    assert!(ok.metadata.authoritative && !ok.metadata.recursion_available && ok.edns.is_none());

    // A NOTIFY or an UPDATE: not implemented.
    let mut update = query("switch.test.", RecordType::SOA);
    update.metadata.op_code = OpCode::Update;
    assert_eq!(respond(&r, &request(&update), src, t0).unwrap().metadata.response_code, ResponseCode::NotImp);
    // Two questions or none: FORMERR.
    let mut two = query("switch.test.", RecordType::SOA);
    two.add_query(Query::query(name("e164.arpa."), RecordType::SOA));
    assert_eq!(respond(&r, &request(&two), src, t0).unwrap().metadata.response_code, ResponseCode::FormErr);
    let none = Message::new(1, MessageType::Query, OpCode::Query);
    assert_eq!(respond(&r, &request(&none), src, t0).unwrap().metadata.response_code, ResponseCode::FormErr);
    // A response is never answered.
    let mut reflected = query("switch.test.", RecordType::SOA);
    reflected.metadata.message_type = MessageType::Response;
    assert!(respond(&r, &request(&reflected), src, t0).is_none());

    // EDNS: echoed with our payload limit; a bigger version gets BADVERS.
    let mut edns_query = query("switch.test.", RecordType::SOA);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    edns_query.set_edns(edns.clone());
    let answered = respond(&r, &request(&edns_query), src, t0).unwrap();
    assert_eq!(answered.edns.unwrap().max_payload(), UDP_PAYLOAD);
    edns.set_version(1);
    edns_query.set_edns(edns);
    let badvers = respond(&r, &request(&edns_query), src, t0).unwrap();
    assert_eq!(badvers.metadata.response_code, ResponseCode::BADVERS);
    assert_eq!(badvers.edns.unwrap().version(), 0);
}

#[test]
fn a_question_written_with_a_pointer_into_the_header_is_answered_with_one_that_reads() {
    // A fuzz finding (fuzz/regressions/dns/question-pointer-into-the-header): the
    // question's name points at the request's header; echoed as it came, it
    // would point at the answer's header, which differs.
    let request = [
        0xff, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x02, 0x00, 0xc0, 0xc3, 0x0c, 0x30, 0xc3, 0x0c, 0x30,
        0xc3, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0xc3, 0x0c, 0x30, 0xc3, 0x14, 0x30, 0xc3, 0x0c, 0x01, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x0c, 0x00, 0x23, 0x00, 0x00, 0x23, 0x00, 0x01,
    ];
    let t0 = Instant::now();
    let r = responder(t0);
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let answer = super::wire::answer(&r, &request, "127.0.0.1:5353".parse().unwrap(), protocol, t0).expect("an answer");
        let back = Message::from_bytes(&answer).unwrap();
        assert_eq!(back.metadata.id, 0xff01);
    }
}
