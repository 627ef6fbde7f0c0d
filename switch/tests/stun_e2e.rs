//! STUN on the real switch binary (issue 13 item 6): Binding requests answered
//! on its SIP UDP port (RFC 5626 §4.4.2 keep-alives) and on a `--stun`
//! listener, with SIP on the same port working between them; hostile STUN
//! (garbage, truncated, unanswerable) gets nothing back and reaches no SIP
//! parser; and coturn's `turnutils_stunclient` (Debian `coturn`) reads its
//! reflexive address from both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Config, IO_TIMEOUT, Phone, Switch, Udp, lab, line, wait_for};
use sipcore::stun::{self, TransactionId};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;
use tests::proc::Proc;

const PW: &str = "stun-pw";

/// STUN's debug lines (`sipcore::transport::udp`) in the JSON log.
fn config() -> Config {
    Config::default().stun(&["udp:127.0.0.1:0"]).log_filter("info,sipcore::transport::udp=debug")
}

/// Sends `request` and returns the address the answer maps; the first datagram
/// back must be that answer.
#[track_caller]
fn ask(sock: &UdpSocket, server: SocketAddr, request: &[u8], txid: &TransactionId) -> SocketAddr {
    sock.send_to(request, server).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).expect("no STUN answer");
    assert_eq!(from, server);
    stun::parse_binding_response(&buf[..n], txid).unwrap_or_else(|e| panic!("not the answer to {txid:?}: {e}: {:?}", &buf[..n]))
}

/// Datagrams that start like STUN and must get nothing back.
fn hostile() -> Vec<Vec<u8>> {
    let request = stun::binding_request(&[0xee; 12]);
    let mut unknown_required = request.clone();
    unknown_required[3] = 8;
    unknown_required.extend_from_slice(&[0x7f, 0x00, 0, 4, 1, 2, 3, 4]);
    let mut indication = request.clone();
    indication[1] = 0x11;
    vec![request[..13].to_vec(), b"\x00\x01\x00\x08garbage!".to_vec(), vec![0x02; 1200], unknown_required, indication]
}

/// Waits until this run's log has at least `n` answers from `local` (the
/// socket's task logs each after sending it, so what it logged before is there
/// too); returns how many.
#[track_caller]
fn answers(sw: &Switch, local: SocketAddr, n: usize) -> usize {
    wait_for(IO_TIMEOUT, &format!("{n} STUN answers from {local} in the log"), || {
        let seen = sw.events_where(|e| e.is("STUN Binding request answered", &[("local", &local.to_string())])).len();
        if seen >= n { Ok(seen) } else { Err(format!("{seen} so far")) }
    })
}

#[test]
fn sip_udp_port_answers_stun_between_sip_requests_and_drops_hostile_stun() {
    let lab = lab();
    lab.add_subscriber("1401", PW, None);
    let sw = lab.start(&config());
    let mut udp = Udp::bind(&sw);
    let me = udp.socket().local_addr().unwrap();
    let port = sw.udp_addr();

    assert_eq!(ask(udp.socket(), port, &stun::binding_request(&[1; 12]), &[1; 12]), me);
    let mut phone = Phone::plain("1401", PW);
    let r = phone.register(&mut udp, Some(300));
    assert_eq!(r.status, 200, "{}", line(&r));
    assert_eq!(ask(udp.socket(), port, &stun::binding_request(&[2; 12]), &[2; 12]), me, "STUN after SIP");

    for datagram in hostile() {
        udp.socket().send_to(&datagram, port).unwrap();
    }
    // Loopback keeps order: an answer to any of them would come before this one.
    assert_eq!(ask(udp.socket(), port, &stun::binding_request(&[3; 12]), &[3; 12]), me);
    let r = phone.register(&mut udp, Some(300));
    assert_eq!(r.status, 200, "SIP still answered after hostile STUN: {}", line(&r));
    assert_eq!(lab.state("1401"), "registered");

    assert_eq!(answers(&sw, port, 3), 3);
    let dropped = sw.events_where(|e| e.message() == "STUN datagram dropped").len();
    assert_eq!(dropped, hostile().len(), "each hostile datagram dropped (and logged) once");
    let unparsed = sw.events_where(|e| e.message() == "dropping unparseable message");
    assert!(unparsed.is_empty(), "STUN reached the SIP parser: {unparsed:?}");
}

#[test]
fn stun_listener_answers_binding_requests_only() {
    let lab = lab();
    let mut sw = lab.start(&config());
    let port = sw.listener("stun");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    assert_eq!(ask(&sock, port, &stun::binding_request(&[4; 12]), &[4; 12]), me);
    sock.send_to(b"OPTIONS sip:switch.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\n\r\n", port).unwrap();
    for datagram in hostile() {
        sock.send_to(&datagram, port).unwrap();
    }
    assert_eq!(ask(&sock, port, &stun::binding_request(&[5; 12]), &[5; 12]), me, "nothing for SIP or hostile STUN before it");
    assert_eq!(answers(&sw, port, 2), 2);
    let dropped = sw.events_where(|e| e.message() == "STUN datagram dropped").len();
    assert_eq!(dropped, hostile().len());
    assert_eq!(sw.events_where(|e| e.message() == "not STUN on a STUN listener; dropped").len(), 1, "the SIP request");

    // A restart keeps the port phones were told (the harness passes --stun back).
    sw.kill9();
    sw.restart();
    assert_eq!(sw.listener("stun"), port);
    assert_eq!(ask(&sock, port, &stun::binding_request(&[6; 12]), &[6; 12]), me, "after a restart");
}

/// `turnutils_stunclient -p PORT 127.0.0.1`: exits 0 having printed the
/// reflexive address; it never exits when nothing answers, hence the deadline.
fn stunclient(port: SocketAddr) -> String {
    let mut cmd = Command::new("turnutils_stunclient");
    cmd.args(["-p", &port.port().to_string(), "127.0.0.1"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut proc = match cmd.spawn() {
        Ok(child) => Proc(child),
        Err(e) => panic!("turnutils_stunclient: {e}: install coturn (scripts/test.sh does)"),
    };
    let status = proc.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| panic!("turnutils_stunclient got no answer from {port}"));
    let mut out = String::new();
    if let Some(mut stdout) = proc.0.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
    }
    assert!(status.success(), "turnutils_stunclient against {port}: {status}\n{out}");
    out
}

#[test]
fn coturn_stunclient_reads_its_address_from_the_sip_port_and_the_stun_listener() {
    let lab = lab();
    let sw = lab.start(&config());
    for port in [sw.udp_addr(), sw.listener("stun")] {
        let out = stunclient(port);
        assert!(out.contains("UDP reflexive addr: 127.0.0.1:"), "against {port}:\n{out}");
        answers(&sw, port, 1);
    }
}
