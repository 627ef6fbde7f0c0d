//! The embedded DNS server end to end: the real `switch` binary with `[dns]`
//! listeners on port 0, phones registering over real TCP, and the answers read
//! with the real `kdig` (Knot) and `dig` (BIND) clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::dns::{Answer, kdig, parse, query_args, run};
use common::{Config, DOMAIN, Link, Phone, Switch, SwitchHost, Tcp, lab, wait_for};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const PW: &str = "Granite-Heron-5521";
const HOME: &str = "sip:home@192.0.2.50";

/// DNS on UDP and TCP, loopback, port 0.
fn dns_config() -> Config {
    Config::default().dns(r#"listen = ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"]"#)
}

fn start(lab: &SwitchHost, cfg: &Config) -> Switch {
    lab.start(cfg)
}

/// `dig @server NAME TYPE` with extra options.
fn dig(server: SocketAddr, name: &str, rtype: &str, extra: &[&str]) -> Answer {
    parse(run("dig", &query_args(server, name, rtype, &[&["+time=2", "+tries=1"], extra].concat())))
}

fn udp(sw: &Switch) -> SocketAddr {
    sw.listener("dns-udp")
}

fn tcp(sw: &Switch) -> SocketAddr {
    sw.listener("dns-tcp")
}

fn enum_name(number: &str) -> String {
    let digits: String = number.chars().rev().filter(char::is_ascii_digit).flat_map(|c| [c, '.']).collect();
    format!("{digits}e164.arpa.")
}

fn live_naptr(number: &str) -> String {
    format!(r#"10 10 "u" "E2U+sip" "!^.*$!sip:{number}@{DOMAIN}!" ."#)
}

fn home_naptr() -> String {
    format!(r#"20 10 "u" "E2U+sip" "!^.*$!{HOME}!" ."#)
}

#[test]
fn a_registered_number_has_its_live_naptr_and_rl_record_then_only_home_once_its_flow_closes() {
    let lab = lab();
    lab.add_subscriber("5551001", PW, Some(HOME));
    let sw = start(&lab, &dns_config());
    // Before the phone: home only.
    assert_eq!(kdig(udp(&sw), &enum_name("5551001"), "NAPTR", false).data(), [home_naptr()]);

    let mut phone_tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("5551001", PW, 7);
    assert_eq!(phone.register(&mut phone_tcp, Some(300)).status, 200);

    for tcp_query in [false, true] {
        let a = kdig(if tcp_query { tcp(&sw) } else { udp(&sw) }, &enum_name("5551001"), "NAPTR", tcp_query);
        assert_eq!(a.status, "NOERROR", "{}", a.text);
        assert!(a.flags.contains("aa"), "authoritative: {}", a.text);
        assert_eq!(a.data(), [live_naptr("5551001"), home_naptr()], "{}", a.text);
        assert!(a.ttls().iter().all(|t| *t == 30), "capped by max_ttl: {}", a.text);
    }
    // BIND's dig reads the same.
    assert_eq!(dig(udp(&sw), &enum_name("5551001"), "NAPTR", &[]).data(), [live_naptr("5551001"), home_naptr()]);

    let rl = kdig(udp(&sw), "5551001._rl.switch.local.", "TXT", false);
    let want = [
        "\"state=registered\"".to_owned(),
        "\"mac=02:42:ac:11:00:07\"".into(),
        "\"private_ip=10.1.0.7\"".into(),
        "\"public_ip=198.51.100.7\"".into(),
        format!("\"observed={}\"", phone_tcp.local()),
        "\"nat=1\"".into(),
        "\"bearer_port=40007\"".into(),
        "\"transport=tcp\"".into(),
    ];
    let data = rl.data().join(" ");
    for fact in &want {
        assert!(data.contains(fact.as_str()), "{fact} in {}", rl.text);
    }
    assert!(data.contains("\"expires_in=") && data.contains("\"node=sip.switch.local\""), "{}", rl.text);

    // The phone goes away: its flow closes, and within a second DNS says home only.
    phone_tcp.shutdown();
    let closed = Instant::now();
    wait_for(Duration::from_secs(1), "the home-only NAPTR", || {
        let a = kdig(udp(&sw), &enum_name("5551001"), "NAPTR", false);
        if a.data() == [home_naptr()] { Ok(()) } else { Err(a.text) }
    });
    assert!(closed.elapsed() <= Duration::from_secs(1));
    let rl = kdig(udp(&sw), "5551001._rl.switch.local.", "TXT", false);
    assert!(rl.data().join(" ").contains("\"state=signalling_dropped\""), "{}", rl.text);
}

#[test]
fn the_ttl_counts_down_between_two_queries() {
    let lab = lab();
    lab.add_subscriber("5551002", PW, None);
    let sw = start(&lab, &dns_config().dns("max_ttl = 3600"));
    let mut phone_tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("5551002", PW, 8);
    assert_eq!(phone.register(&mut phone_tcp, Some(120)).status, 200);
    let ttl = || kdig(udp(&sw), &enum_name("5551002"), "NAPTR", false).ttls()[0];
    let first = ttl();
    assert!((110..=120).contains(&first), "the registration's seconds left: {first}");
    // A second passes on the switch's clock: the next answer's TTL is lower.
    let second = wait_for(Duration::from_secs(3), "a lower TTL", || {
        let t = ttl();
        assert!(t <= first, "a TTL never goes up: {t} after {first}");
        if t < first { Ok(t) } else { Err(format!("still {t}")) }
    });
    assert_eq!(second, first - 1);
    drop(phone_tcp);
}

#[test]
fn rl_records_are_refused_outside_rl_allow() {
    let lab = lab();
    lab.add_subscriber("5551003", PW, Some(HOME));
    // Loopback is not in the list: this test's kdig is a stranger.
    let sw = start(&lab, &dns_config().dns(r#"rl_allow = ["10.0.0.0/8"]"#));
    let mut phone_tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("5551003", PW, 9);
    assert_eq!(phone.register(&mut phone_tcp, Some(300)).status, 200);
    for tcp_query in [false, true] {
        let rl = kdig(if tcp_query { tcp(&sw) } else { udp(&sw) }, "5551003._rl.switch.local.", "TXT", tcp_query);
        assert_eq!(rl.status, "REFUSED", "{}", rl.text);
        assert!(rl.answers.is_empty(), "{}", rl.text);
    }
    // ENUM is for everyone.
    assert_eq!(kdig(udp(&sw), &enum_name("5551003"), "NAPTR", false).data(), [live_naptr("5551003"), home_naptr()]);
}

#[test]
fn unknown_numbers_are_nxdomain_and_one_with_nothing_to_say_is_nodata_with_the_soa() {
    let lab = lab();
    lab.add_subscriber("5551004", PW, None);
    let sw = start(&lab, &dns_config());
    let unknown = kdig(udp(&sw), &enum_name("5559999"), "NAPTR", false);
    assert_eq!(unknown.status, "NXDOMAIN", "{}", unknown.text);
    assert!(unknown.authority.iter().any(|l| l.contains("SOA")), "{}", unknown.text);
    let nodata = kdig(udp(&sw), &enum_name("5551004"), "NAPTR", false);
    assert_eq!(nodata.status, "NOERROR", "{}", nodata.text);
    assert!(nodata.answers.is_empty(), "{}", nodata.text);
    assert!(matches!(&nodata.authority[..], [soa] if soa.starts_with("e164.arpa.") && soa.contains("SOA")), "{}", nodata.text);
    // Names that are not ours: refused, never recursed.
    assert_eq!(kdig(udp(&sw), "example.com.", "A", false).status, "REFUSED");
}

#[test]
fn the_switch_is_found_by_rfc_3263_at_its_listen_address() {
    let lab = lab();
    let sw = start(&lab, &dns_config());
    let server = udp(&sw);
    let naptr = dig(server, "switch.local.", "NAPTR", &["+short"]).text;
    assert!(naptr.contains(r#"20 10 "s" "SIP+D2T" "" _sip._tcp.switch.local."#), "{naptr}");
    assert!(naptr.contains(r#"30 10 "s" "SIP+D2U" "" _sip._udp.switch.local."#), "{naptr}");
    assert!(!naptr.contains("SIPS"), "no TLS listener, no SIPS: {naptr}");
    for (srv, transport) in [("_sip._tcp.switch.local.", "tcp"), ("_sip._udp.switch.local.", "udp")] {
        let port = sw.listener(transport).port();
        assert_eq!(dig(server, srv, "SRV", &["+short"]).text.trim(), format!("0 0 {port} sip.switch.local."));
    }
    assert_eq!(dig(server, "sip.switch.local.", "A", &["+short"]).text.trim(), "127.0.0.1");
    let soa = kdig(server, "switch.local.", "SOA", false);
    assert!(soa.data()[0].starts_with("sip.switch.local. hostmaster.switch.local."), "{}", soa.text);
    assert_eq!(dig(server, "switch.local.", "NS", &["+short"]).text.trim(), "sip.switch.local.");
}

#[test]
fn an_answer_too_big_for_udp_sets_tc_and_comes_whole_over_tcp() {
    let lab = lab();
    // 20 SIP TCP listeners: 20 SRV records, more than 512 bytes, less than 1232.
    let listen: Vec<String> = std::iter::repeat_n("tcp:127.0.0.1:0".to_owned(), 20).chain(["udp:127.0.0.1:0".into()]).collect();
    let sw = start(&lab, &dns_config().listen(&listen.iter().map(String::as_str).collect::<Vec<_>>()));
    let truncated = dig(udp(&sw), "_sip._tcp.switch.local.", "SRV", &["+noedns", "+ignore"]);
    assert!(truncated.flags.split_whitespace().any(|f| f == "tc"), "TC without EDNS: {}", truncated.text);
    let whole = kdig(tcp(&sw), "_sip._tcp.switch.local.", "SRV", true);
    assert_eq!(whole.answers.len(), 20, "{}", whole.text);
    // dig offers EDNS0 (1232 bytes): it all fits.
    let edns = dig(udp(&sw), "_sip._tcp.switch.local.", "SRV", &["+ignore"]);
    assert_eq!(edns.answers.len(), 20, "fits EDNS0's 1232 bytes: {}", edns.text);
    assert!(!edns.flags.split_whitespace().any(|f| f == "tc"), "{}", edns.text);
}

/// One raw datagram to the server; the answer, if one comes within 500 ms.
fn exchange(server: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    sock.send_to(bytes, server).unwrap();
    let mut buf = [0u8; 4096];
    sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// A header: id 0x4242, a query, the given counts.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = vec![0x42, 0x42, 0x01, 0x00];
    for c in [qd, an, ns, ar] {
        h.extend(c.to_be_bytes());
    }
    h
}

#[test]
fn hostile_packets_get_no_panic_and_everyone_else_is_still_answered() {
    let lab = lab();
    lab.add_subscriber("5551005", PW, Some(HOME));
    let sw = start(&lab, &dns_config());
    let server = udp(&sw);

    // A slow TCP client: a 64 KiB length prefix, then a trickle, never the message.
    let mut slow = TcpStream::connect(tcp(&sw)).unwrap();
    slow.write_all(&[0xff, 0xff, 0x00]).unwrap();
    // Another: a 64 KiB length and 64 KiB of garbage.
    let mut big = TcpStream::connect(tcp(&sw)).unwrap();
    big.write_all(&[0xff, 0xff]).unwrap();
    let _ = big.write_all(&vec![0xa5; 65_535]);

    // Too short for a header: dropped.
    assert_eq!(exchange(server, &[0x12, 0x34, 0x01]), None);
    // A question cut short: FORMERR.
    let mut cut = header(1, 0, 0, 0);
    cut.extend([3, b'a', b'b']);
    let formerr = exchange(server, &cut).expect("an answer to a cut question");
    assert_eq!((formerr[0], formerr[1], formerr[3] & 0x0f), (0x42, 0x42, 1), "FORMERR");
    // A name that points at itself (a compression loop).
    let mut looped = header(1, 0, 0, 0);
    looped.extend([0xc0, 12, 0, 35, 0, 1]);
    let reply = exchange(server, &looped).expect("an answer to a looped name");
    assert_eq!(reply[3] & 0x0f, 1, "a loop is a format error");
    // 65535 questions promised, none given; and plain garbage.
    let _ = exchange(server, &header(u16::MAX, u16::MAX, u16::MAX, u16::MAX));
    let garbage: Vec<u8> = (0..1400u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let _ = exchange(server, &garbage);
    // An answer (QR set) is never answered: no reflection.
    let mut response = header(0, 0, 0, 0);
    response[2] |= 0x80;
    assert_eq!(exchange(server, &response), None);
    // An UPDATE: not implemented.
    let mut update = header(0, 0, 0, 0);
    update[2] = 0x28;
    let notimp = exchange(server, &update).expect("an answer to an UPDATE");
    assert_eq!(notimp[3] & 0x0f, 4, "NOTIMP");

    // Everyone else is still answered, over UDP and over TCP, while the slow
    // clients hold their connections.
    assert_eq!(kdig(server, &enum_name("5551005"), "NAPTR", false).data(), [home_naptr()]);
    assert_eq!(kdig(tcp(&sw), &enum_name("5551005"), "NAPTR", true).data(), [home_naptr()]);
    // The slow client is cut off after the read timeout (5 s).
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(slow.read(&mut buf), Ok(0) | Err(_)), "the slow client was closed");
    assert!(sw.events_where(|e| e.message().contains("panicked")).is_empty());
    assert_eq!(kdig(server, "switch.local.", "SOA", false).status, "NOERROR", "still serving");
}

#[test]
fn slow_tcp_clients_use_up_only_the_connection_slots_of_their_own_address() {
    let lab = lab();
    lab.add_subscriber("5551006", PW, Some(HOME));
    let sw = start(&lab, &dns_config().dns("tcp_connections_per_ip = 2"));
    // Two silent connections from 127.0.0.1 hold its two slots ...
    let idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(tcp(&sw)).unwrap()).collect();
    // ... so a third from there is closed at once,
    let mut third = TcpStream::connect(tcp(&sw)).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert!(matches!(third.read(&mut [0u8; 16]), Ok(0)), "a third connection from one address is closed");
    // while another address is answered over TCP at once.
    let other = run("kdig", &query_args(tcp(&sw), &enum_name("5551006"), "NAPTR", &["-b", "127.0.0.2", "+tcp", "+timeout=2", "+retry=0"]));
    assert_eq!(parse(other).data(), [home_naptr()]);
    // The silent ones go (they would be closed after 5 s anyway): 127.0.0.1 is served again.
    drop(idle);
    wait_for(Duration::from_secs(2), "127.0.0.1 served over TCP again", || {
        let a = kdig(tcp(&sw), &enum_name("5551006"), "NAPTR", true);
        if a.data() == [home_naptr()] { Ok(()) } else { Err(a.text) }
    });
}

#[test]
fn a_tcp_only_dns_listener_keeps_serving() {
    let lab = lab();
    let sw = start(&lab, &Config::default().dns(r#"listen = ["tcp:127.0.0.1:0"]"#));
    assert!(sw.listeners.iter().all(|l| l.transport != "dns-udp"), "{:?}", sw.listeners);
    for _ in 0..3 {
        assert_eq!(kdig(tcp(&sw), "switch.local.", "SOA", true).status, "NOERROR");
    }
}
