//! The sans-IO user agent on virtual time, against a scripted switch that
//! answers the way the real one does (digest from sipcore's own server, Via
//! stamped with `received`/`rport`, Flow-Timer, X-Bearer-Address). Every
//! instant here is computed, none is read from a clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::{Backoff, Event, FlowLoss, PublicIpSource, RegistrationKind};
use agent::{Output, Phase};
use bytes::Bytes;
use sipcore::auth::{DigestRequest, Secret, parse_credentials};
use sipcore::transport::{FlowId, stamp_via};
use sipcore::{HeaderName, Message, Method, Response};
use std::net::SocketAddr;
use std::time::Duration;

use support::bench::{Bench, PUBLIC, SECS, config, header};

#[test]
fn registers_with_the_contract_headers_after_learning_the_public_ip() {
    let mut b = Bench::new(config());
    b.ua.start(b.now);
    let flow = b.connect();
    // The public IP is asked of the switch before the REGISTER.
    let (f, probe) = b.sent();
    assert_eq!(probe.method, Method::Options);
    assert_eq!(probe.headers.top_via().unwrap().rport(), Some(Some(61000)), "rport asked for and stamped");
    b.answer(f, &probe, 200, &[]);
    let (f, first) = b.sent();
    assert_eq!(f, flow.id);
    assert_eq!(first.uri, "sip:switch.local");
    assert_eq!(header(&first, HeaderName::XPublicIp).as_deref(), Some(PUBLIC));
    assert_eq!(header(&first, HeaderName::XPrivateIp).as_deref(), Some("10.1.0.2"));
    assert_eq!(header(&first, HeaderName::XMac).as_deref(), Some("02:42:ac:11:00:02"));
    assert_eq!(header(&first, HeaderName::XBearerPort).as_deref(), Some("40000"));
    assert_eq!(header(&first, HeaderName::Expires).as_deref(), Some("600"));
    assert!(first.headers.has_option(&HeaderName::Supported, "outbound"));
    let via = first.headers.top_via().unwrap();
    assert_eq!((via.transport, via.host.to_string(), via.port), ("TCP", "10.1.0.2".to_owned(), Some(flow.local.port())));
    let contacts: Vec<_> = first.headers.contacts().map(Result::unwrap).collect();
    let [sipcore::headers::Contact::Binding(c)] = contacts.as_slice() else { panic!("one binding") };
    assert!(c.ob());
    assert_eq!(c.reg_id(), Some(1));
    assert_eq!(c.uri.user, Some("1001"));
    assert_eq!(c.uri.port, Some(flow.local.port()));
    assert_eq!(c.instance().unwrap(), format!("<{}>", agent::identity::instance_from_mac("02:42:ac:11:00:02".parse().unwrap())));
    // 401, then credentials the switch's digest server accepts, then 200.
    b.ua.handle_timeout(b.now);
    let ch: Vec<String> = b.digest.challenge(b.unix(), None, false).iter().map(|c| c.to_string()).collect();
    b.answer(f, &first, 401, &[(HeaderName::WwwAuthenticate, ch[0].clone())]);
    let (_, second) = b.sent();
    assert_ne!(first.headers.top_via().unwrap().branch(), second.headers.top_via().unwrap().branch(), "a new transaction");
    assert_eq!(second.headers.call_id().unwrap(), first.headers.call_id().unwrap(), "one Call-ID per boot (RFC 3261 §10.2)");
    assert_eq!(second.headers.cseq().unwrap().seq, first.headers.cseq().unwrap().seq + 1);
    let creds = parse_credentials(second.headers.get(&HeaderName::Authorization).unwrap()).unwrap();
    let unix = b.unix();
    b.digest.verify(unix, &DigestRequest::new("REGISTER", &second.uri), None, &creds, Some(Secret::Password("pw"))).unwrap();
    b.ok_register(f, &second, 600);
    let ev = b.events();
    let [Event::Registered(r)] = ev.as_slice() else { panic!("{ev:?}") };
    assert_eq!(r.public_ip, Some(PUBLIC.parse().unwrap()));
    assert_eq!(r.observed, Some(PUBLIC.parse().unwrap()));
    assert_eq!((r.expires, r.flow_timer, r.kind), (600, Some(30), RegistrationKind::Initial));
    assert_eq!(r.bearer_address, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(r.local, flow.local);
    assert!(b.ua.is_registered());
}

/// RFC 8599: the push parameters ride the REGISTER's Contact URI (as
/// Linphone sends them), read back here with the switch's own parser; the
/// Contacts of dialogs carry none.
#[test]
fn push_parameters_ride_the_register_contact_only() {
    let mut cfg = config();
    cfg.push = Some(agent::PushParams::new("apns", "00fc13adff78;x", Some("ABCD1234.org.example.voip".into())).unwrap());
    let mut b = Bench::new(cfg);
    b.ua.start(b.now);
    let flow = b.connect();
    let (f, probe) = b.sent();
    let options_contact = probe.headers.get(&HeaderName::Contact).unwrap_or_default().to_owned();
    assert!(!options_contact.contains("pn-"), "{options_contact}");
    b.answer(f, &probe, 200, &[]);
    let (f, register) = b.sent();
    assert_eq!(f, flow.id);
    let contacts: Vec<_> = register.headers.contacts().map(Result::unwrap).collect();
    let [sipcore::headers::Contact::Binding(c)] = contacts.as_slice() else { panic!("one binding") };
    assert!(c.ob());
    assert_eq!(c.uri.params.get("pn-provider"), Some(Some("apns")));
    assert_eq!(c.uri.params.get("pn-prid"), Some(Some("00fc13adff78%3Bx")), "escaped as a uri-parameter");
    assert_eq!(c.uri.params.get("pn-param"), Some(Some("ABCD1234.org.example.voip")));
}

#[test]
fn refreshes_at_half_the_granted_time_with_cached_credentials() {
    let mut b = Bench::new(config());
    b.registered();
    let t0 = b.now;
    // Nothing but keep-alives before the refresh is due.
    while let Some(t) = b.ua.poll_timeout().filter(|t| *t < t0 + SECS(300)) {
        b.now = t;
        b.ua.handle_timeout(t);
        for tr in b.outputs() {
            match tr {
                Output::Ping { flow } => b.ua.handle_pong(b.now, flow),
                other => panic!("unexpected before the refresh: {other:?}"),
            }
        }
    }
    assert_eq!(b.ua.poll_timeout(), Some(t0 + SECS(300)), "refresh at exactly half of 600 s");
    b.now = t0 + SECS(300);
    b.ua.handle_timeout(b.now);
    let (flow, req) = b.sent();
    assert!(req.headers.get(&HeaderName::Authorization).is_some(), "the cached challenge saves a round trip");
    let creds = parse_credentials(req.headers.get(&HeaderName::Authorization).unwrap()).unwrap();
    assert_eq!(creds.nc, Some(2), "nonce count moves on");
    b.ok_register(flow, &req, 600);
    let ev = b.events();
    assert!(matches!(ev.as_slice(), [Event::Registered(r)] if r.kind == RegistrationKind::Refresh), "{ev:?}");
    assert_eq!(b.ua.granted_expires(), Some(600));
}

#[test]
fn keepalive_pings_within_80_to_100_percent_of_flow_timer() {
    for seed in 0..50 {
        let mut cfg = config();
        cfg.seed = seed;
        let mut b = Bench::new(cfg);
        b.registered();
        let mut last = b.now;
        for _ in 0..5 {
            let at = b.ua.poll_timeout().unwrap();
            let gap = at - last;
            assert!(gap >= SECS(24) && gap <= SECS(30), "seed {seed}: ping after {gap:?}");
            b.now = at;
            b.ua.handle_timeout(at);
            let t = b.outputs();
            let [Output::Ping { flow }] = t.as_slice() else { panic!("{t:?}") };
            b.now += Duration::from_millis(20);
            b.ua.handle_pong(b.now, *flow);
            last = b.now;
        }
        assert!(b.events().is_empty());
    }
}

#[test]
fn no_pong_means_a_new_flow_and_a_new_registration() {
    let mut b = Bench::new(config());
    let (old, _) = b.registered();
    let ping_at = b.ua.poll_timeout().unwrap();
    b.now = ping_at;
    b.ua.handle_timeout(ping_at);
    assert_eq!(b.outputs(), vec![Output::Ping { flow: old }]);
    // RFC 5626 §4.4.1: no pong within 10 s.
    assert_eq!(b.ua.poll_timeout(), Some(ping_at + SECS(10)));
    b.now = ping_at + SECS(10);
    b.ua.handle_timeout(b.now);
    let ev = b.events();
    assert_eq!(ev, vec![Event::FlowLost { reason: FlowLoss::NoPong, retry_in: Duration::ZERO }]);
    let t = b.outputs();
    assert_eq!(t, vec![Output::Close { flow: old }, Output::Connect], "first retry at once");
    assert!(!b.ua.is_registered());
    // The next flow: check the public IP at once, then register.
    b.now += Duration::from_millis(50);
    let flow = Bench::connect_again(&mut b);
    b.probe_round();
    let (f, req) = b.register_round(600);
    assert_eq!(f, flow.id);
    assert!(req.headers.get(&HeaderName::Authorization).is_some());
    let ev = b.events();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(matches!(&ev[0], Event::Registered(r) if r.kind == RegistrationKind::Reconnect && r.local == flow.local));
    assert_eq!(ev[1], Event::FlowRestored { local: flow.local, down_for: Duration::from_millis(50) });
    assert_eq!(b.ua.flow().map(|f| f.id), Some(flow.id));
}

#[test]
fn a_changed_public_ip_is_registered_at_once_and_timed() {
    let mut b = Bench::new(config());
    b.registered();
    let t0 = b.now;
    // Answer keep-alives until the 515 s check.
    loop {
        let at = b.ua.poll_timeout().unwrap();
        b.now = at;
        b.ua.handle_timeout(at);
        let t = b.outputs();
        if let [Output::Ping { flow }] = t.as_slice() {
            b.ua.handle_pong(at, *flow);
            continue;
        }
        if at == t0 + SECS(300) {
            // The refresh.
            let [Output::Send { flow, message: Message::Request(req) }] = t.as_slice() else { panic!("{t:?}") };
            let (flow, req) = (*flow, req.clone());
            let mut req = sipcore::parse(Message::Request(req).to_bytes())
                .map(|m| match m {
                    Message::Request(r) => r,
                    _ => unreachable!(),
                })
                .unwrap();
            stamp_via(&mut req, SocketAddr::new(b.seen_from, 61000)).unwrap();
            b.ok_register(flow, &req, 600);
            b.events();
            continue;
        }
        assert_eq!(at, t0 + SECS(515), "the check comes on its timer");
        // The NAT now uses another address.
        b.seen_from = "203.0.113.9".parse().unwrap();
        let [Output::Send { flow, message: Message::Request(req) }] = t.as_slice() else { panic!("{t:?}") };
        assert_eq!(req.method, Method::Options);
        let mut req = req.clone();
        stamp_via(&mut req, SocketAddr::new(b.seen_from, 61000)).unwrap();
        let flow = *flow;
        b.answer(flow, &req, 200, &[]);
        break;
    }
    let ev = b.events();
    assert_eq!(ev, vec![Event::PublicIpChanged { old: Some(PUBLIC.parse().unwrap()), new: "203.0.113.9".parse().unwrap() }]);
    let (flow, req) = b.sent();
    assert_eq!(header(&req, HeaderName::XPublicIp).as_deref(), Some("203.0.113.9"));
    b.now += Duration::from_millis(40);
    b.ok_register(flow, &req, 600);
    let ev = b.events();
    assert!(
        matches!(ev.as_slice(), [Event::Registered(r)] if r.kind == RegistrationKind::PublicIpChange { latency: Duration::from_millis(40) } && r.public_ip == Some("203.0.113.9".parse().unwrap())),
        "{ev:?}"
    );
    // The next check is one interval after this one.
    let next_check = t0 + SECS(515) + SECS(515);
    assert!(b.ua.poll_timeout().unwrap() <= next_check);
}

#[test]
fn external_discovery_runs_on_connect_on_the_timer_and_on_network_change() {
    let mut cfg = config();
    cfg.public_ip = "stun:stun.example.net:3478".parse().unwrap();
    cfg.check_interval = SECS(60);
    let mut b = Bench::new(cfg);
    b.ua.start(b.now);
    let flow = b.connect();
    assert_eq!(b.outputs(), vec![Output::Discover { local: Some(flow.local.ip()) }]);
    b.ua.handle_public_ip(b.now, Ok("192.0.2.77".parse().unwrap()));
    let (_, req) = b.register_round(600);
    assert_eq!(header(&req, HeaderName::XPublicIp).as_deref(), Some("192.0.2.77"));
    b.events();
    // A local address change: check at once.
    b.now += SECS(5);
    b.ua.handle_network_change(b.now, false);
    assert_eq!(b.outputs(), vec![Output::Discover { local: Some(flow.local.ip()) }]);
    b.ua.handle_public_ip(b.now, Err(agent::Error::Discovery("timeout".into())));
    assert_eq!(b.events(), vec![Event::DiscoveryFailed { reason: "public IP discovery: timeout".into() }]);
    assert!(b.outputs().is_empty(), "a failed check keeps the registration as it is");
    // The timer: 60 s after the last check.
    assert!(b.ua.poll_timeout().unwrap() <= b.now + SECS(60));
    b.now += SECS(60);
    b.ua.handle_timeout(b.now);
    let t = b.outputs();
    assert!(t.contains(&Output::Discover { local: Some(flow.local.ip()) }), "{t:?}");
    b.ua.handle_public_ip(b.now, Ok("192.0.2.78".parse().unwrap()));
    assert_eq!(b.events(), vec![Event::PublicIpChanged { old: Some("192.0.2.77".parse().unwrap()), new: "192.0.2.78".parse().unwrap() }]);
    let (_, req) = b.register_round(600);
    assert_eq!(header(&req, HeaderName::XPublicIp).as_deref(), Some("192.0.2.78"));
    // The flow's address went away: the flow is dead.
    b.events();
    b.ua.handle_network_change(b.now, true);
    assert!(matches!(b.events().as_slice(), [Event::FlowLost { reason: FlowLoss::LocalAddressGone, .. }]));
}

#[test]
fn static_source_needs_no_check() {
    let mut cfg = config();
    cfg.public_ip = PublicIpSource::Static("192.0.2.200".parse().unwrap());
    let mut b = Bench::new(cfg);
    b.ua.start(b.now);
    b.connect();
    let (_, req) = b.register_round(600);
    assert_eq!(header(&req, HeaderName::XPublicIp).as_deref(), Some("192.0.2.200"));
    assert!(matches!(b.events().as_slice(), [Event::Registered(_)]));
}

#[test]
fn connect_failures_back_off_within_rfc5626_bounds() {
    for seed in 0..20 {
        let mut cfg = config();
        cfg.seed = seed;
        cfg.backoff = Backoff { base: SECS(30), max: SECS(1800) };
        let mut b = Bench::new(cfg);
        b.ua.start(b.now);
        for n in 1..=10u32 {
            assert_eq!(b.outputs(), vec![Output::Connect]);
            b.ua.handle_connect_failed(b.now, &"refused");
            let ev = b.events();
            let [Event::ConnectFailed { retry_in, .. }] = ev.as_slice() else { panic!("{ev:?}") };
            let ceiling = SECS(30).saturating_mul(1 << n.min(20)).min(SECS(1800));
            assert!(
                *retry_in >= ceiling / 2 && *retry_in <= ceiling,
                "seed {seed}, failure {n}: {retry_in:?} not in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
            assert_eq!(b.ua.phase(), Phase::Waiting);
            assert_eq!(b.ua.poll_timeout(), Some(b.now + *retry_in));
            // Nothing happens before the wait is over.
            b.ua.handle_timeout(b.now + *retry_in - Duration::from_millis(1));
            assert!(b.outputs().is_empty());
            b.now += *retry_in;
            b.ua.handle_timeout(b.now);
        }
    }
}

#[test]
fn a_second_loss_soon_after_the_first_backs_off_instead_of_spinning() {
    let mut cfg = config();
    cfg.backoff = Backoff { base: SECS(10), max: SECS(100) };
    let mut b = Bench::new(cfg);
    let (flow, _) = b.registered();
    b.ua.handle_flow_closed(b.now, flow, "peer".into());
    assert!(matches!(b.events().as_slice(), [Event::FlowLost { retry_in, .. }] if retry_in.is_zero()));
    b.now += SECS(1);
    let f2 = b.connect();
    b.probe_round();
    b.register_round(600);
    b.events();
    b.now += SECS(1);
    b.ua.handle_flow_closed(b.now, f2.id, "peer".into());
    let ev = b.events();
    let [Event::FlowLost { retry_in, .. }] = ev.as_slice() else { panic!("{ev:?}") };
    assert!(*retry_in >= SECS(10) && *retry_in <= SECS(20), "{retry_in:?}");
}

#[test]
fn refusals_end_retrying_and_other_failures_back_off() {
    for status in [403u16, 404] {
        let mut b = Bench::new(config());
        b.ua.start(b.now);
        let flow = b.connect();
        b.probe_round();
        let (f, req) = b.sent();
        b.answer(f, &req, status, &[]);
        let ev = b.events();
        assert!(matches!(ev.as_slice(), [Event::RegistrationFailed { status: s, retry_in: None, .. }] if *s == status), "{ev:?}");
        assert_eq!(b.outputs(), vec![Output::Close { flow: flow.id }]);
        assert_eq!(b.ua.phase(), Phase::Rejected);
        assert_eq!(b.ua.poll_timeout(), None, "no timer: nothing more is tried");
    }
    // 503 with Retry-After: a new flow, not before the switch asked.
    let mut b = Bench::new(config());
    b.ua.start(b.now);
    b.connect();
    b.probe_round();
    let (f, req) = b.sent();
    b.answer(f, &req, 503, &[(HeaderName::RetryAfter, "120 (maintenance)".into())]);
    let ev = b.events();
    let [Event::RegistrationFailed { status: 503, retry_in: Some(wait), .. }] = ev.as_slice() else { panic!("{ev:?}") };
    assert!(*wait >= SECS(120), "{wait:?}");
    // A password the server keeps challenging is given up on, not looped on.
    let mut b = Bench::new(config());
    b.ua.start(b.now);
    b.connect();
    b.probe_round();
    for round in 0.. {
        let t = b.outputs();
        let Some(Output::Send { flow, message: Message::Request(req) }) = t.into_iter().find(|t| matches!(t, Output::Send { .. })) else {
            break;
        };
        assert!(round < 5, "looping on 401");
        let mut req = req;
        stamp_via(&mut req, SocketAddr::new(b.seen_from, 61000)).unwrap();
        let ch = b.digest.challenge(b.unix(), None, false)[0].to_string();
        b.answer(flow, &req, 401, &[(HeaderName::WwwAuthenticate, ch)]);
    }
    assert!(matches!(b.events().as_slice(), [Event::RegistrationFailed { status: 401, retry_in: None, .. }]));
}

#[test]
fn interval_too_brief_raises_the_expiry() {
    let mut b = Bench::new(config());
    b.ua.start(b.now);
    b.connect();
    b.probe_round();
    let (f, req) = b.sent();
    b.answer(f, &req, 423, &[(HeaderName::MinExpires, "1200".into())]);
    let (_, again) = b.sent();
    assert_eq!(header(&again, HeaderName::Expires).as_deref(), Some("1200"));
}

#[test]
fn requests_from_the_switch_are_answered_or_surfaced() {
    let mut b = Bench::new(config());
    let (flow, _) = b.registered();
    let options = "OPTIONS sip:1001@10.1.0.2:40001;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKsw1\r\n\
        From: <sip:switch.local>;tag=s1\r\nTo: <sip:1001@switch.local>\r\nCall-ID: probe@sw\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    b.ua.handle_message(b.now, flow, sipcore::parse(Bytes::from(options)).unwrap());
    let t = b.outputs();
    let [Output::Send { message: Message::Response(r), .. }] = t.as_slice() else { panic!("{t:?}") };
    assert_eq!(r.status, 200);
    assert!(r.headers.to_addr().unwrap().tag().is_some());
    assert!(b.events().is_empty(), "OPTIONS is the agent's business");
    // INVITE and BYE are the call core's (tests/call_core.rs); the rest is the application's.
    let info = options.replace("OPTIONS", "INFO").replace("z9hG4bKsw1", "z9hG4bKsw2");
    b.ua.handle_message(b.now, flow, sipcore::parse(Bytes::from(info)).unwrap());
    let ev = b.events();
    let [Event::IncomingRequest { id: Some(id), request }] = ev.as_slice() else { panic!("{ev:?}") };
    assert_eq!(request.method, Method::Info);
    b.ua.respond(b.now, id, agent::StatusCode::BUSY_HERE).unwrap();
    let t = b.outputs();
    assert!(
        matches!(t.as_slice(), [Output::Send { message: Message::Response(r), .. }]
            if r.status == 486 && r.reason == "Busy Here" && r.headers.to_addr().unwrap().tag().is_some()),
        "{t:?}"
    );
    assert!(b.ua.respond(b.now, id, agent::StatusCode::OK).is_err(), "answered already");
    // A response of the application's own making.
    let info2 = options.replace("OPTIONS", "INFO").replace("z9hG4bKsw1", "z9hG4bKsw3");
    b.ua.handle_message(b.now, flow, sipcore::parse(Bytes::from(info2)).unwrap());
    let ev = b.events();
    let [Event::IncomingRequest { id: Some(id), request }] = ev.as_slice() else { panic!("{ev:?}") };
    let mut busy = Response::to_request(request, 486);
    busy.headers.push(HeaderName::RetryAfter, "60");
    b.ua.respond_with(b.now, id, busy).unwrap();
    let t = b.outputs();
    assert!(
        matches!(t.as_slice(), [Output::Send { message: Message::Response(r), .. }] if r.status == 486 && r.headers.get(&HeaderName::RetryAfter) == Some("60")),
        "{t:?}"
    );
    // A request on a flow that is not ours is not even looked at.
    b.ua.handle_message(b.now, FlowId(999), sipcore::parse(Bytes::from(options)).unwrap());
    assert!(b.outputs().is_empty());
}

#[test]
fn stop_unregisters_then_closes() {
    let mut b = Bench::new(config());
    let (flow, _) = b.registered();
    b.ua.stop(b.now);
    let (f, req) = b.sent();
    assert_eq!(f, flow);
    assert_eq!(header(&req, HeaderName::Expires).as_deref(), Some("0"));
    assert!(req.headers.get(&HeaderName::Contact).is_some(), "the binding itself, not *");
    b.answer(f, &req, 200, &[]);
    assert_eq!(b.events(), vec![Event::Unregistered, Event::Stopped]);
    assert_eq!(b.outputs(), vec![Output::Close { flow }]);
    assert_eq!(b.ua.phase(), Phase::Stopped);
    assert_eq!(b.ua.poll_timeout(), None);
    // A switch that does not answer: stopped after the unregistration timeout.
    let mut b = Bench::new(config());
    let (flow, _) = b.registered();
    b.ua.stop(b.now);
    b.sent();
    assert_eq!(b.ua.poll_timeout(), Some(b.now + SECS(5)));
    b.advance(SECS(5));
    assert_eq!(b.events(), vec![Event::Stopped]);
    assert_eq!(b.outputs(), vec![Output::Close { flow }]);
}

/// A 200 OK granting 2^32-1 seconds with a Flow-Timer as large must not
/// park the agent for decades: the refresh comes within half a day and the
/// keep-alives at least hourly.
#[test]
fn absurd_grants_are_capped_not_trusted() {
    let mut b = Bench::new(config());
    b.ua.start(b.now);
    b.connect();
    b.probe_round();
    let (flow, req) = b.sent();
    let ch = b.digest.challenge(b.unix(), None, false)[0].to_string();
    b.answer(flow, &req, 401, &[(HeaderName::WwwAuthenticate, ch)]);
    let (flow, req) = b.sent();
    let contact = req.headers.get(&HeaderName::Contact).unwrap().to_string();
    b.answer(
        flow,
        &req,
        200,
        &[
            (HeaderName::Contact, format!("{contact};expires=4294967295")),
            (HeaderName::Require, "outbound".into()),
            (HeaderName::FlowTimer, "4294967295".into()),
        ],
    );
    assert!(matches!(b.events().as_slice(), [Event::Registered(r)] if r.expires == u32::MAX));
    let next = b.ua.poll_timeout().unwrap();
    assert!(next - b.now <= SECS(3600), "keep-alive at most hourly: {:?}", next - b.now);
    // Walk to the refresh: half a day, not half of 136 years.
    loop {
        let at = b.ua.poll_timeout().unwrap();
        assert!(at - b.now <= SECS(43_200));
        b.now = at;
        b.ua.handle_timeout(at);
        let t = b.outputs();
        match t.as_slice() {
            [Output::Ping { flow }] => b.ua.handle_pong(at, *flow),
            [Output::Send { message: Message::Request(r), .. }] if r.method == Method::Register => break,
            [Output::Send { message: Message::Request(r), .. }] if r.method == Method::Options => {
                let mut r = r.clone();
                stamp_via(&mut r, SocketAddr::new(b.seen_from, 61000)).unwrap();
                b.answer(flow, &r, 200, &[]);
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A change seen while the REGISTER carrying it is still in flight needs no
/// second REGISTER; one seen while an older REGISTER is in flight does.
#[test]
fn changes_during_an_inflight_register_register_exactly_once_more() {
    let mut cfg = config();
    cfg.public_ip = "stun:stun.example.net".parse().unwrap();
    let mut b = Bench::new(cfg);
    b.ua.start(b.now);
    let flow = b.connect();
    assert!(matches!(b.outputs().as_slice(), [Output::Discover { .. }]));
    b.ua.handle_public_ip(b.now, Ok("192.0.2.1".parse().unwrap()));
    b.register_round(600);
    b.events();
    // A check finds .2; its REGISTER goes out. Another check finds .2 again
    // while that REGISTER is unanswered: nothing more is sent.
    b.ua.check_public_ip(b.now);
    b.outputs();
    b.ua.handle_public_ip(b.now, Ok("192.0.2.2".parse().unwrap()));
    let (f, req) = b.sent();
    assert_eq!(header(&req, HeaderName::XPublicIp).as_deref(), Some("192.0.2.2"));
    b.ua.check_public_ip(b.now);
    b.outputs();
    b.ua.handle_public_ip(b.now, Ok("192.0.2.2".parse().unwrap()));
    assert!(b.outputs().is_empty());
    // A third address while it is still unanswered: one more REGISTER after the 200.
    b.ua.check_public_ip(b.now);
    b.outputs();
    b.ua.handle_public_ip(b.now, Ok("192.0.2.3".parse().unwrap()));
    assert!(b.outputs().is_empty(), "one REGISTER in flight at a time");
    b.ok_register(f, &req, 600);
    let (_, again) = b.sent();
    assert_eq!(header(&again, HeaderName::XPublicIp).as_deref(), Some("192.0.2.3"));
    b.ok_register(flow.id, &again, 600);
    assert!(b.outputs().is_empty(), "and then nothing");
}

/// Backing off for minutes after the network went away would leave the phone
/// unreachable long after DHCP brought it back: an address change ends the wait.
#[test]
fn a_network_change_ends_the_back_off() {
    let mut b = Bench::new(config());
    b.ua.start(b.now);
    for _ in 0..4 {
        assert_eq!(b.outputs(), vec![Output::Connect]);
        b.ua.handle_connect_failed(b.now, &"network unreachable");
        b.events();
        b.now = b.ua.poll_timeout().unwrap();
        b.ua.handle_timeout(b.now);
    }
    assert_eq!(b.outputs(), vec![Output::Connect]);
    b.ua.handle_connect_failed(b.now, &"network unreachable");
    let ev = b.events();
    let [Event::ConnectFailed { retry_in, .. }] = ev.as_slice() else { panic!("{ev:?}") };
    // Five failures in: at least half of base × 2^5 (a long wait to cut short).
    assert!(*retry_in >= config().backoff.ceiling(5) / 2, "{retry_in:?}");
    assert!(*retry_in >= SECS(60), "{retry_in:?}");
    b.now += SECS(3);
    b.ua.handle_network_change(b.now, false);
    assert_eq!(b.outputs(), vec![Output::Connect], "tried at once");
    b.connect_again();
    b.probe_round();
    b.register_round(600);
    assert!(matches!(b.events().as_slice(), [Event::Registered(_)]));
}
