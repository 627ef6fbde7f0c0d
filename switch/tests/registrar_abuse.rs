//! Hostile and broken input against the real `switch` binary: password
//! guessing earns the source IP a cool-down (and only that IP), a replayed
//! nonce count is re-challenged, a malformed request gets 400 on a connection
//! that stays usable, an oversize one gets 413 and loses its connection, and
//! other phones' flows keep working throughout.
//!
//! The attackers connect from their own loopback addresses (127.0.0.2, ...) so
//! the cool-down they earn cannot touch the well-behaved phones on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Auth, Config, ContactKind, End, IO_TIMEOUT, Link, Phone, Tcp, header, lab, line, s};
use std::net::Ipv4Addr;
use std::time::Duration;

const PW: &str = "Garnet-Lynx-8061";

#[test]
fn repeated_wrong_passwords_cool_down_the_source_ip_only() {
    let lab = lab();
    lab.add_subscriber("6001", PW, None);
    lab.add_subscriber("6002", PW, None);
    let sw = lab.start(&Config::default().abuse("max_failures = 3"));
    // A bystander registered before the attack.
    let mut tcp_b = Tcp::connect(&sw);
    let mut bystander = Phone::agent("6002", PW, 2);
    bystander.register(&mut tcp_b, Some(300));

    let attacker_ip = Ipv4Addr::new(127, 0, 0, 2);
    let mut tcp_x = Tcp::connect_from(attacker_ip, &sw);
    assert_eq!(tcp_x.local().ip(), attacker_ip);
    let mut guesser = Phone::agent("6001", "not-the-password", 1);
    let r = guesser.send(&mut tcp_x, ContactKind::Binding, Some(300), &Auth::None);
    guesser.learn(&r);
    for attempt in 1..=3 {
        let r = guesser.send(&mut tcp_x, ContactKind::Binding, Some(300), &Auth::Digest);
        assert_eq!(r.status, 403, "wrong password, attempt {attempt}: {}", line(&r));
        assert!(r.reason.contains("bad credentials"), "{}", line(&r));
    }
    let refused = sw.wait_event(IO_TIMEOUT, "the cool-down logged", |e| e.message().starts_with("authentication failures"));
    assert_eq!((refused.text("ip"), refused.text("number")), ("127.0.0.2".into(), "6001".into()), "{refused}");

    // The right password from that IP is refused now, before any challenge.
    guesser.password = PW.to_owned();
    let r = guesser.send(&mut tcp_x, ContactKind::Binding, Some(300), &Auth::Digest);
    assert_eq!(r.status, 403, "{}", line(&r));
    assert!(r.reason.contains("too many failed authentications"), "{}", line(&r));
    let mut tcp_x2 = Tcp::connect_from(attacker_ip, &sw);
    let r = guesser.send(&mut tcp_x2, ContactKind::Binding, Some(300), &Auth::None);
    assert_eq!(r.status, 403, "a new connection from the same IP: {}", line(&r));
    assert!(r.reason.contains("too many failed authentications"), "{}", line(&r));
    assert_eq!(lab.state("6001"), "absent");

    // The bystander's flow (another IP) keeps working: ping and refresh.
    tcp_b.ping();
    tcp_b.expect_pong(Duration::from_secs(2));
    let r = bystander.register(&mut tcp_b, Some(300));
    assert_eq!(r.status, 200);
    assert_eq!(lab.state("6002"), "registered");
    // The cool-down is per source IP: the real owner of 6001 on another
    // address registers fine (three failures are below the number's own lock,
    // number_max_failures = 5; registrar_guessing.rs has that one).
    let mut tcp_o = Tcp::connect_from(Ipv4Addr::new(127, 0, 0, 3), &sw);
    let mut owner = Phone::agent("6001", PW, 1);
    owner.register(&mut tcp_o, Some(300));
    let rec = lab.registration("6001").unwrap();
    assert_eq!(rec["state"], "registered");
    assert_eq!(s(&rec, "observed"), tcp_o.local().to_string());
}

#[test]
fn replayed_nonce_count_is_rechallenged() {
    let lab = lab();
    lab.add_subscriber("6101", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("6101", PW, 3);
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::None);
    phone.learn(&r);
    let authorization = phone.authorization();
    assert!(authorization.contains("nc=00000001"), "{authorization}");

    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::Raw(authorization.clone()));
    assert_eq!(r.status, 200, "{}", line(&r));
    // The same Authorization again (new branch and CSeq, same nc): a replay.
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::Raw(authorization.clone()));
    assert_eq!(r.status, 401, "a replayed nc must not authenticate: {}", line(&r));
    let fresh = header(&r, "WWW-Authenticate").expect("a fresh challenge");
    assert!(fresh.starts_with("Digest ") && fresh.contains("nonce="), "{fresh}");
    // The phone answers the new challenge and is fine.
    phone.learn(&r);
    let r = phone.send(&mut tcp, ContactKind::Binding, Some(300), &Auth::Digest);
    assert_eq!(r.status, 200, "{}", line(&r));
    // A replay is not a wrong password: it never counts toward a cool-down.
    let cooled = sw.events_where(|e| e.message().starts_with("authentication failures"));
    assert!(cooled.is_empty(), "{cooled:?}");
    assert_eq!(lab.state("6101"), "registered");
}

/// A REGISTER whose CSeq is not a number.
fn bad_cseq(local: std::net::SocketAddr) -> String {
    format!(
        "REGISTER sip:switch.local SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKbadcseq1;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:6299@switch.local>;tag=b1\r\nTo: <sip:6299@switch.local>\r\nCall-ID: badcseq@e2e\r\n\
         CSeq: abc REGISTER\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A REGISTER head with extra header lines `pad` and `Content-Length: len`.
fn head_with(local: std::net::SocketAddr, pad: &str, len: usize) -> String {
    format!(
        "REGISTER sip:switch.local SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKbig{len};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:6299@switch.local>;tag=b2\r\nTo: <sip:6299@switch.local>\r\nCall-ID: big{len}@e2e\r\n\
         CSeq: 1 REGISTER\r\n{pad}Content-Length: {len}\r\n\r\n"
    )
}

#[test]
fn malformed_gets_400_and_oversize_gets_413_and_other_flows_carry_on() {
    let lab = lab();
    lab.add_subscriber("6201", PW, None);
    lab.add_subscriber("6202", PW, None);
    let sw = lab.start(&Config::default());
    let mut tcp_b = Tcp::connect(&sw);
    let mut bystander = Phone::agent("6201", PW, 4);
    bystander.register(&mut tcp_b, Some(300));

    // Bad CSeq: 400 with a reason saying so; the connection stays usable.
    let mut tcp = Tcp::connect_from(Ipv4Addr::new(127, 0, 0, 4), &sw);
    let req = bad_cseq(tcp.local());
    tcp.send(req.as_bytes());
    let answer = tcp.raw_message(IO_TIMEOUT).expect("an answer to the bad CSeq");
    let status_line = answer.lines().next().unwrap();
    assert!(status_line.starts_with("SIP/2.0 400 Bad Request ("), "{answer}");
    assert!(status_line.contains("CSeq"), "the reason names the header: {status_line}");
    assert!(answer.contains("Call-ID: badcseq@e2e"), "matched to the request: {answer}");
    let mut phone = Phone::agent("6202", PW, 5);
    phone.register(&mut tcp, Some(300));
    assert_eq!(lab.state("6202"), "registered", "the same connection still registers");

    // Declared body past 64 KiB: 413, connection closed (checked as soon as
    // the head is complete; the body is never sent).
    let mut big = Tcp::connect_from(Ipv4Addr::new(127, 0, 0, 5), &sw);
    big.send(head_with(big.local(), "", 70_000).as_bytes());
    let answer = big.raw_message(IO_TIMEOUT).expect("an answer to the oversize request");
    assert!(answer.starts_with("SIP/2.0 413 "), "{answer}");
    assert!(answer.contains("Call-ID: big70000@e2e"), "{answer}");
    assert!(big.closed_within(Duration::from_secs(3)), "the oversize sender keeps its connection");

    // A head past 64 KiB, all of it sent: 413 and closed too.
    let mut huge = Tcp::connect_from(Ipv4Addr::new(127, 0, 0, 6), &sw);
    let pad = format!("X-Pad: {}\r\n", "a".repeat(70 * 1024));
    let ok = huge.try_send(head_with(huge.local(), &pad, 0).as_bytes());
    match huge.raw_message(IO_TIMEOUT) {
        Ok(answer) => assert!(answer.starts_with("SIP/2.0 413 "), "{answer}"),
        Err(e) => panic!("no 413 for a 70 KiB head (sent all: {ok}): {e:?}"),
    }
    assert!(huge.closed_within(Duration::from_secs(3)), "the oversize sender keeps its connection");
    assert!(matches!(huge.frame(Duration::from_millis(100)), Err(End::Closed)));

    // The registered flows were never disturbed.
    for (phone, tcp) in [(&mut bystander, &mut tcp_b), (&mut phone, &mut tcp)] {
        tcp.ping();
        tcp.expect_pong(Duration::from_secs(2));
        phone.register(tcp, Some(300));
    }
    assert_eq!(lab.state("6201"), "registered");
    assert_eq!(lab.state("6202"), "registered");
    assert_eq!(lab.registrations().len(), 2);
}
