//! Calls through the real `switch` binary on 127.0.0.1: a caller on UDP, a
//! callee registered over TCP (its INVITE comes down that flow), RTP through the
//! relay both ways on plain UDP sockets, and the call record read back with
//! `switch calls --json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use bytes::{Bytes, BytesMut};
use common::{Config, DOMAIN, Lab, Phone, Switch, Tcp, wait_for};
use serde_json::Value;
use sipcore::auth::{DigestClient, DigestRequest, Secret, parse_challenge};
use sipcore::framing::Frame;
use sipcore::{HeaderName, Message, Method, Request, Response};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(5);

fn hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn encode(m: &Message) -> Vec<u8> {
    let mut b = BytesMut::new();
    match m {
        Message::Request(r) => r.encode(&mut b),
        Message::Response(r) => r.encode(&mut b),
    }
    b.to_vec()
}

fn sdp(port: u16, user: &str) -> String {
    format!(
        "v=0\r\no={user} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
}

/// The relayed stream's port and address in an SDP body.
fn media_of(body: &Bytes) -> SocketAddr {
    let info = media::sdp::inspect(body).unwrap();
    let m = &info.media[0];
    SocketAddr::new(m.connection.unwrap(), m.port)
}

/// The answer a phone sends to `req`, with its tag, Contact and optional SDP.
fn answer(req: &Request, status: u16, tag: &str, contact: &str, body: Option<String>) -> Response {
    let mut r = Response::to_request(req, status);
    if req.headers.to_addr().unwrap().tag().is_none() {
        let to = format!("{};tag={tag}", req.headers.get(&HeaderName::To).unwrap());
        r.headers.set(HeaderName::To, to);
    }
    r.headers.push(HeaderName::Contact, format!("<{contact}>"));
    if let Some(b) = body {
        r.headers.push(HeaderName::ContentType, "application/sdp");
        r.headers.set(HeaderName::ContentLength, b.len().to_string());
        r.body = Bytes::from(b);
    }
    r
}

/// A SIP phone on a UDP socket (the caller, or a home location).
struct UdpPhone {
    sock: UdpSocket,
    server: SocketAddr,
}

impl UdpPhone {
    fn new(server: SocketAddr) -> Self {
        UdpPhone { sock: UdpSocket::bind("127.0.0.1:0").unwrap(), server }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn send(&self, m: &Message) {
        self.sock.send_to(&encode(m), self.server).unwrap();
    }

    /// The next message that `keep` accepts (retransmissions and 100s are skipped by it).
    #[track_caller]
    fn next(&self, what: &str, keep: impl Fn(&Message) -> bool) -> Message {
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65_536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} within {WAIT:?}");
            self.sock.set_read_timeout(Some(left)).unwrap();
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else { panic!("no {what} within {WAIT:?}") };
            let m = sipcore::parse(Bytes::copy_from_slice(&buf[..n])).unwrap();
            if keep(&m) {
                return m;
            }
        }
    }

    #[track_caller]
    fn request(&self, method: Method) -> Request {
        match self.next(&method.to_string(), |m| matches!(m, Message::Request(r) if r.method == method)) {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }
}

/// The caller's signalling: a UDP socket (a standard phone) or the TCP flow it registered on (our agent).
enum Wire {
    Udp(UdpPhone),
    Tcp(Box<Tcp>, SocketAddr),
}

impl Wire {
    fn addr(&self) -> SocketAddr {
        match self {
            Wire::Udp(p) => p.addr(),
            Wire::Tcp(t, _) => common::Link::local(t.as_ref()),
        }
    }

    fn server(&self) -> SocketAddr {
        match self {
            Wire::Udp(p) => p.server,
            Wire::Tcp(_, s) => *s,
        }
    }

    fn via(&self) -> &'static str {
        match self {
            Wire::Udp(_) => "UDP",
            Wire::Tcp(..) => "TCP",
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        match self {
            Wire::Udp(p) => {
                p.sock.send_to(bytes, p.server).unwrap();
            }
            Wire::Tcp(t, _) => common::Link::send(t.as_mut(), bytes),
        }
    }

    fn send(&mut self, m: &Message) {
        self.send_raw(&encode(m));
    }

    #[track_caller]
    fn next(&mut self, what: &str, keep: impl Fn(&Message) -> bool) -> Message {
        match self {
            Wire::Udp(p) => p.next(what, keep),
            Wire::Tcp(t, _) => {
                let deadline = Instant::now() + WAIT;
                loop {
                    match t.frame(deadline.saturating_duration_since(Instant::now())) {
                        Ok(Frame::Message(b)) => {
                            let m = sipcore::parse(b).unwrap();
                            if keep(&m) {
                                return m;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => panic!("no {what} on TCP ({e:?})"),
                    }
                }
            }
        }
    }

    #[track_caller]
    fn response(&mut self, status: u16, method: Method) -> Response {
        match self.next(
            &format!("{status} to {method}"),
            |m| matches!(m, Message::Response(r) if r.status == status && r.headers.cseq().unwrap().method == method),
        ) {
            Message::Response(r) => r,
            Message::Request(_) => unreachable!(),
        }
    }

    #[track_caller]
    fn request(&mut self, method: Method) -> Request {
        match self.next(&method.to_string(), |m| matches!(m, Message::Request(r) if r.method == method)) {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }
}

/// The caller's side of one call.
struct Caller {
    phone: Wire,
    number: String,
    callee: String,
    call_id: String,
    tag: String,
    branch: String,
    cseq: u32,
    rtp: UdpSocket,
    /// The dialog's remote tag and target once answered.
    to: Option<String>,
}

impl Caller {
    fn new(sw: &Switch, number: &str, callee: &str) -> Self {
        Self::on(Wire::Udp(UdpPhone::new(sw.addr())), number, callee)
    }

    /// A caller registered over TCP (the agent): its INVITE goes on its flow.
    fn registered_tcp(sw: &Switch, number: &str, callee: &str) -> Self {
        let mut tcp = Tcp::connect(sw);
        Phone::agent(number, &format!("pw{number}"), 1).register(&mut tcp, Some(600));
        Self::on(Wire::Tcp(Box::new(tcp), sw.addr()), number, callee)
    }

    fn on(phone: Wire, number: &str, callee: &str) -> Self {
        Caller {
            phone,
            number: number.into(),
            callee: callee.into(),
            call_id: format!("{}@caller", hex()),
            tag: hex(),
            branch: String::new(),
            cseq: 0,
            rtp: UdpSocket::bind("127.0.0.1:0").unwrap(),
            to: None,
        }
    }

    fn uri(&self) -> String {
        format!("sip:{}@{DOMAIN}", self.callee)
    }

    fn invite(&mut self, auth: Option<&str>) -> Request {
        self.cseq += 1;
        self.branch = format!("z9hG4bK{}", hex());
        let body = sdp(self.rtp.local_addr().unwrap().port(), "caller");
        let mut m = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/{v} {a};branch={b};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{n}@{DOMAIN}>;tag={t}\r\n\
             To: <{uri}>\r\nCall-ID: {c}\r\nCSeq: {s} INVITE\r\nContact: <sip:{n}@{a}>\r\n",
            uri = self.uri(),
            v = self.phone.via(),
            a = self.phone.addr(),
            b = self.branch,
            n = self.number,
            t = self.tag,
            c = self.call_id,
            s = self.cseq
        );
        if let Some(a) = auth {
            m.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        m.push_str(&format!("Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
        let req = match sipcore::parse(Bytes::from(m)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        };
        self.phone.send(&Message::Request(req.clone()));
        req
    }

    /// ACK for a non-2xx final: same branch as the INVITE (§17.1.1.3).
    fn ack_non_2xx(&mut self, invite: &Request, resp: &Response) {
        let ack = sipcore::transaction::ack_for_non_2xx(invite, resp).unwrap();
        self.phone.send(&Message::Request(ack));
    }

    /// An in-dialog request (ACK for the 2xx, BYE).
    fn in_dialog(&mut self, method: Method) {
        let seq = if method == Method::Ack { self.cseq } else { self.cseq + 1 };
        if method != Method::Ack {
            self.cseq += 1;
        }
        let m = format!(
            "{method} sip:switch@{sw} SIP/2.0\r\nVia: SIP/2.0/{v} {a};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{n}@{DOMAIN}>;tag={t}\r\n\
             To: {to}\r\nCall-ID: {c}\r\nCSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n",
            sw = self.phone.server(),
            v = self.phone.via(),
            a = self.phone.addr(),
            b = hex(),
            n = self.number,
            t = self.tag,
            to = self.to.as_deref().unwrap(),
            c = self.call_id,
        );
        self.phone.send_raw(m.as_bytes());
    }

    fn cancel(&mut self, invite: &Request) {
        let cancel = sipcore::transaction::cancel_for(invite).unwrap();
        self.phone.send(&Message::Request(cancel));
    }

    /// INVITE, 407, ACK, INVITE with credentials. Returns the authenticated INVITE.
    fn invite_with_digest(&mut self, password: &str) -> Request {
        let first = self.invite(None);
        let challenge = self.phone.response(407, Method::Invite);
        self.ack_non_2xx(&first, &challenge);
        let values: Vec<String> = challenge.headers.get_all(&HeaderName::ProxyAuthenticate).map(str::to_owned).collect();
        assert!(!values.is_empty(), "407 with Proxy-Authenticate");
        let parsed: Vec<_> = values.iter().map(|c| parse_challenge(c).unwrap()).collect();
        let uri = self.uri();
        let creds =
            DigestClient::new().respond(&parsed, &self.number, Secret::Password(password), &DigestRequest::new("INVITE", &uri)).unwrap();
        self.invite(Some(&creds.to_string()))
    }
}

/// The callee: registered over TCP; its INVITEs come down that connection.
struct Callee {
    tcp: Tcp,
    rtp: UdpSocket,
    tag: String,
    contact: String,
}

impl Callee {
    fn register(sw: &Switch, number: &str, password: &str) -> Self {
        let mut tcp = Tcp::connect(sw);
        let mut phone = Phone::agent(number, password, 2);
        phone.register(&mut tcp, Some(600));
        let contact = format!("sip:{number}@{};transport=tcp", common::Link::local(&tcp));
        Callee { tcp, rtp: UdpSocket::bind("127.0.0.1:0").unwrap(), tag: hex(), contact }
    }

    #[track_caller]
    fn message(&mut self) -> Message {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.tcp.frame(deadline.saturating_duration_since(Instant::now())) {
                Ok(Frame::Message(b)) => return sipcore::parse(b).unwrap(),
                Ok(_) => {}
                Err(e) => panic!("callee: nothing from the switch ({e:?})"),
            }
        }
    }

    #[track_caller]
    fn request(&mut self, method: Method) -> Request {
        for _ in 0..10 {
            if let Message::Request(r) = self.message()
                && r.method == method
            {
                return r;
            }
        }
        panic!("callee: no {method}");
    }

    fn send(&mut self, m: &Message) {
        common::Link::send(&mut self.tcp, &encode(m));
    }

    fn answer(&mut self, req: &Request, status: u16, with_sdp: bool) {
        let body = with_sdp.then(|| sdp(self.rtp.local_addr().unwrap().port(), "callee"));
        let r = answer(req, status, &self.tag, &self.contact, body);
        self.send(&Message::Response(r));
    }
}

fn rtp_packet(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(0xffu8, 160));
    p
}

/// Sends RTP from `from` to `to` until `peer` receives one (bounded); returns packets received.
fn rtp_flows(from: &UdpSocket, to: SocketAddr, peer: &UdpSocket, ssrc: u32) -> usize {
    peer.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut got = 0;
    let mut buf = [0u8; 2048];
    for seq in 0..40u16 {
        from.send_to(&rtp_packet(seq, ssrc), to).unwrap();
        while let Ok((n, _)) = peer.recv_from(&mut buf) {
            assert_eq!(n, 172, "the relay forwards the packet whole");
            assert_eq!(&buf[8..12], &ssrc.to_be_bytes(), "the sender's packet");
            got += 1;
        }
        if got >= 5 {
            break;
        }
    }
    got
}

fn calls(lab: &Lab) -> Vec<Value> {
    let out = lab.cli(&["calls", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(v) => v,
        other => panic!("not an array: {other}"),
    }
}

/// Waits until the record of `call_id` is ended; returns it.
#[track_caller]
fn ended_record(lab: &Lab, call_id: &str) -> Value {
    wait_for(WAIT, "the call record to end", || {
        let all = calls(lab);
        match all.iter().find(|c| c["call_id"] == call_id) {
            Some(c) if !c["end_at"].is_null() => Ok(c.clone()),
            other => Err(format!("{other:?}")),
        }
    })
}

fn lab_with(numbers: &[(&str, Option<&str>)]) -> Lab {
    let lab = Lab::new();
    for (n, home) in numbers {
        lab.add_subscriber(n, &format!("pw{n}"), None);
        if let Some(h) = home {
            let out = lab.cli(&["subscriber", "set", n, "--home", h]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    lab
}

#[test]
fn basic_call_with_digest_rtp_both_ways_bye_and_record() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&Config::default().relay("127.0.0.1").calls("ring_time = 20"));
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    caller.invite_with_digest("pw1001");

    let inv = callee.request(Method::Invite);
    assert!(inv.uri.starts_with("sip:1002@"), "Request-URI is the registered Contact: {}", inv.uri);
    assert_ne!(inv.headers.call_id().unwrap(), caller.call_id, "the callee leg is a dialog of its own");
    let to_callee = media_of(&inv.body);
    assert_eq!(to_callee.ip().to_string(), "127.0.0.1", "SDP names the relay");
    assert_ne!(to_callee.port(), caller.rtp.local_addr().unwrap().port());
    callee.answer(&inv, 180, false);
    caller.phone.response(180, Method::Invite);
    callee.answer(&inv, 200, true);
    let ok = caller.phone.response(200, Method::Invite);
    let to_caller = media_of(&ok.body);
    assert_ne!(to_caller, to_callee, "each leg has its own relay port");
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    let ack = callee.request(Method::Ack);
    assert_eq!(ack.headers.call_id().unwrap(), inv.headers.call_id().unwrap());

    // The callee's first packet opens (latches) its leg; then media flows both ways.
    let got = rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0xca11ee);
    assert!(got > 0, "callee -> caller RTP through the relay");
    let got = rtp_flows(&caller.rtp, to_caller, &callee.rtp, 0xca11e4);
    assert!(got > 0, "caller -> callee RTP through the relay");

    caller.in_dialog(Method::Bye);
    let bye = callee.request(Method::Bye);
    callee.answer(&bye, 200, false);
    caller.phone.response(200, Method::Bye);

    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["caller"], "1001");
    assert_eq!(rec["callee"], "1002");
    assert_eq!(rec["route"], "flow");
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["end_reason"], "caller_bye");
    assert!(rec["ringing_at"].as_u64().unwrap() >= rec["invite_at"].as_u64().unwrap());
    assert!(rec["answer_at"].as_u64().unwrap() <= rec["end_at"].as_u64().unwrap());
    assert!(rec["caller_media"]["packets_in"].as_u64().unwrap() > 0, "{rec}");
    assert!(rec["callee_media"]["packets_in"].as_u64().unwrap() > 0, "{rec}");
    let active = lab.cli(&["calls", "--active", "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&active.stdout).unwrap(), Value::Array(vec![]));
    let table = String::from_utf8(lab.cli(&["calls"]).stdout).unwrap();
    assert!(table.contains("caller_bye") && table.contains("CALLEE-RTP"), "{table}");
}

fn trusted() -> Config {
    Config::default().relay("127.0.0.1").calls("trusted_peers = [\"127.0.0.1\"]")
}

#[test]
fn cancel_while_ringing_reaches_the_callee_and_the_caller_gets_487() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    let invite = caller.invite(None);
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 180, false);
    caller.phone.response(180, Method::Invite);
    caller.cancel(&invite);
    caller.phone.response(200, Method::Cancel);
    let terminated = caller.phone.response(487, Method::Invite);
    caller.ack_non_2xx(&invite, &terminated);
    let cancel = callee.request(Method::Cancel);
    assert_eq!(cancel.headers.top_via().unwrap().branch(), inv.headers.top_via().unwrap().branch());
    callee.answer(&cancel, 200, false);
    callee.answer(&inv, 487, false);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["status"], 487);
    assert_eq!(rec["end_reason"], "cancelled");
}

#[test]
fn busy_callee_486_reaches_the_caller() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    let invite = caller.invite(None);
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 486, false);
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["status"].as_u64(), rec["end_reason"].as_str()), (Some(486), Some("busy")));
}

#[test]
fn no_live_flow_goes_to_the_udp_home_location() {
    let home = UdpPhone::new("127.0.0.1:9".parse().unwrap());
    let home_uri = format!("sip:1003@{}", home.addr());
    let lab = lab_with(&[("1001", None), ("1003", Some(&home_uri))]);
    let sw = lab.start(&trusted());
    let mut caller = Caller::new(&sw, "1001", "1003");
    let invite = caller.invite(None);
    let inv = home.request(Method::Invite);
    assert_eq!(&*inv.uri, home_uri.as_str(), "the INVITE is addressed to the home URI");
    assert_eq!(media_of(&inv.body).ip().to_string(), "127.0.0.1");
    let home = UdpPhone { server: sw.addr(), ..home };
    home.send(&Message::Response(answer(&inv, 486, "home1", &home_uri, None)));
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["route"], "home");
    assert_eq!(rec["route_reason"], "not_registered");
}

#[test]
fn no_flow_and_no_home_is_480_and_unknown_number_404() {
    let lab = lab_with(&[("1001", None), ("1004", None)]);
    let sw = lab.start(&trusted());
    let mut caller = Caller::new(&sw, "1001", "1004");
    let invite = caller.invite(None);
    let r = caller.phone.response(480, Method::Invite);
    caller.ack_non_2xx(&invite, &r);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("none"), Some("not_registered")));
    let mut stranger = Caller::new(&sw, "1001", "5555");
    stranger.invite(None);
    stranger.phone.response(404, Method::Invite);
}

/// Sets up an answered call (trusted caller); returns both ends.
fn answered(sw: &Switch) -> (Caller, Callee, Request) {
    let mut callee = Callee::register(sw, "1002", "pw1002");
    let mut caller = Caller::new(sw, "1001", "1002");
    caller.invite(None);
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 200, true);
    let ok = caller.phone.response(200, Method::Invite);
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    callee.request(Method::Ack);
    (caller, callee, inv)
}

#[test]
fn no_media_for_media_timeout_hangs_up_both_legs_with_a_reason() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted().calls("media_timeout = 1"));
    let (mut caller, mut callee, _) = answered(&sw);
    let bye = callee.request(Method::Bye);
    assert_eq!(bye.headers.get(&HeaderName::Reason), Some("SIP;cause=408;text=\"media timeout\""));
    callee.answer(&bye, 200, false);
    let bye = caller.phone.request(Method::Bye);
    assert_eq!(bye.headers.get(&HeaderName::Reason), Some("SIP;cause=408;text=\"media timeout\""));
    assert_eq!(bye.headers.call_id().unwrap(), caller.call_id);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["end_reason"], "media_timeout");
}

#[test]
fn hold_by_reinvite_from_the_callee_reaches_the_caller_rewritten() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let (mut caller, mut callee, inv) = answered(&sw);
    // The callee puts the call on hold: a re-INVITE in its dialog, a=sendonly.
    let hold = sdp(callee.rtp.local_addr().unwrap().port(), "callee").replace("o=callee 1 1", "o=callee 1 2") + "a=sendonly\r\n";
    let from_to = |r: &Request, name: HeaderName| r.headers.get(&name).unwrap().to_owned();
    let m = format!(
        "INVITE sip:switch@{sw} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bK{b}\r\nMax-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}\r\n\
         Call-ID: {cid}\r\nCSeq: 1 INVITE\r\nContact: <{contact}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{hold}",
        sw = sw.addr(),
        me = common::Link::local(&callee.tcp),
        b = hex(),
        from = from_to(&inv, HeaderName::To),
        tag = callee.tag,
        to = from_to(&inv, HeaderName::From),
        cid = inv.headers.call_id().unwrap(),
        contact = callee.contact,
        len = hold.len(),
    );
    common::Link::send(&mut callee.tcp, m.as_bytes());
    let reinvite = caller.phone.request(Method::Invite);
    assert_eq!(reinvite.headers.call_id().unwrap(), caller.call_id, "in the caller's dialog");
    let body = std::str::from_utf8(&reinvite.body).unwrap();
    assert!(body.contains("a=sendonly") && body.contains("c=IN IP4 127.0.0.1"), "{body}");
    assert!(body.contains("o=callee 1 2 "), "o= version moved on: {body}");
    caller.phone.send(&Message::Response(answer(
        &reinvite,
        200,
        &caller.tag,
        "sip:1001@127.0.0.1",
        Some(sdp(caller.rtp.local_addr().unwrap().port(), "caller")),
    )));
    let ack = caller.phone.request(Method::Ack);
    assert_eq!(ack.headers.cseq().unwrap().seq, reinvite.headers.cseq().unwrap().seq);
    let ok = match callee.message() {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected the 200 for the re-INVITE, got {}", r.method),
    };
    assert_eq!(ok.status, 200);
    assert_eq!(media_of(&ok.body), media_of(&inv.body), "the callee keeps sending to its relay port");
}

/// A callee registered over TCP with a UDP home location.
fn with_home() -> (Lab, UdpPhone, String) {
    let home = UdpPhone::new("127.0.0.1:9".parse().unwrap());
    let home_uri = format!("sip:1002@{}", home.addr());
    let lab = lab_with(&[("1001", None), ("1002", Some(&home_uri))]);
    (lab, home, home_uri)
}

#[test]
fn ringing_past_ring_time_is_cancelled_and_the_call_goes_home() {
    let (lab, home, home_uri) = with_home();
    let sw = lab.start(&trusted().calls("ring_time = 1"));
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    caller.invite(None);
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 180, false);
    caller.phone.response(180, Method::Invite);
    let cancel = callee.request(Method::Cancel);
    callee.answer(&cancel, 200, false);
    callee.answer(&inv, 487, false);
    let to_home = home.request(Method::Invite);
    assert_eq!(&*to_home.uri, home_uri.as_str());
    let home = UdpPhone { server: sw.addr(), ..home };
    home.send(&Message::Response(answer(&to_home, 200, "home1", &home_uri, Some(sdp(40_000, "home")))));
    let ok = caller.phone.response(200, Method::Invite);
    assert_eq!(media_of(&ok.body).ip().to_string(), "127.0.0.1");
    home.request(Method::Ack);
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    caller.in_dialog(Method::Bye);
    let bye = home.request(Method::Bye);
    home.send(&Message::Response(answer(&bye, 200, "home1", &home_uri, None)));
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("home"), Some("no_answer")));
    assert_eq!(rec["status"], 200);
}

#[test]
fn a_callee_flow_that_drops_during_set_up_sends_the_call_home() {
    let (lab, home, home_uri) = with_home();
    let sw = lab.start(&trusted());
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    let invite = caller.invite(None);
    callee.request(Method::Invite);
    callee.tcp.shutdown();
    let to_home = home.request(Method::Invite);
    assert_eq!(&*to_home.uri, home_uri.as_str());
    let home = UdpPhone { server: sw.addr(), ..home };
    home.send(&Message::Response(answer(&to_home, 603, "home1", &home_uri, None)));
    let declined = caller.phone.response(603, Method::Invite);
    caller.ack_non_2xx(&invite, &declined);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("home"), Some("flow_failed")));
    assert_eq!(rec["end_reason"], "declined");
}

#[test]
fn calls_in_progress_are_closed_on_stop_and_after_kill_9() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let mut sw = lab.start(&trusted());
    let (caller, _callee, _) = answered(&sw);
    wait_for(WAIT, "the answered call to be stored", || {
        let c = calls(&lab);
        if c.iter().any(|c| c["call_id"] == caller.call_id.as_str() && !c["answer_at"].is_null()) { Ok(()) } else { Err(format!("{c:?}")) }
    });
    assert!(sw.terminate().success());
    assert_eq!(ended_record(&lab, &caller.call_id)["end_reason"], "switch_stopped");

    let mut sw = lab.start(&trusted());
    let (caller, _callee, _) = answered(&sw);
    wait_for(WAIT, "the answered call to be stored", || {
        let c = calls(&lab);
        if c.iter().any(|c| c["call_id"] == caller.call_id.as_str() && !c["answer_at"].is_null()) { Ok(()) } else { Err(format!("{c:?}")) }
    });
    sw.kill9();
    let active = lab.cli(&["calls", "--active", "--json"]);
    assert_ne!(serde_json::from_slice::<Value>(&active.stdout).unwrap(), Value::Array(vec![]), "killed mid-call");
    let _sw = lab.start(&trusted());
    assert_eq!(ended_record(&lab, &caller.call_id)["end_reason"], "switch_restarted");
}

#[test]
fn a_registered_agent_calls_over_its_tcp_flow_and_the_callee_hangs_up() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&Config::default().relay("127.0.0.1"));
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::registered_tcp(&sw, "1001", "1002");
    caller.invite_with_digest("pw1001");
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 200, true);
    let ok = caller.phone.response(200, Method::Invite);
    assert!(ok.headers.get(&HeaderName::Contact).unwrap().contains(";transport=tcp"), "Contact for the TCP flow");
    let to_caller = media_of(&ok.body);
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    let ack = callee.request(Method::Ack);
    let to_callee = media_of(&inv.body);
    assert!(rtp_flows(&caller.rtp, to_caller, &callee.rtp, 7) > 0);
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 8) > 0);
    // The callee hangs up: BYE in its dialog; the caller gets one down its TCP flow.
    let m = format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bK{b}\r\nMax-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}\r\n\
         Call-ID: {cid}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        target = inv.headers.get(&HeaderName::Contact).unwrap().trim_matches(['<', '>']),
        me = common::Link::local(&callee.tcp),
        b = hex(),
        from = inv.headers.get(&HeaderName::To).unwrap(),
        tag = callee.tag,
        to = ack.headers.get(&HeaderName::From).unwrap(),
        cid = inv.headers.call_id().unwrap(),
    );
    common::Link::send(&mut callee.tcp, m.as_bytes());
    let bye = caller.phone.request(Method::Bye);
    assert_eq!(bye.headers.call_id().unwrap(), caller.call_id);
    caller.phone.send(&Message::Response(answer(&bye, 200, &caller.tag, "sip:1001@127.0.0.1", None)));
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["end_reason"], "callee_bye");
    assert!(rec["caller_media"]["packets_in"].as_u64().unwrap() > 0);
}

#[test]
fn a_tcp_home_location_gets_the_invite_on_a_connection_the_switch_opens() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let home_uri = format!("sip:1005@{};transport=tcp", listener.local_addr().unwrap());
    let lab = lab_with(&[("1001", None), ("1005", Some(&home_uri))]);
    let sw = lab.start(&trusted());
    let mut caller = Caller::new(&sw, "1001", "1005");
    let invite = caller.invite(None);
    listener.set_nonblocking(false).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut home = Wire::Tcp(Box::new(Tcp::from_stream(stream)), sw.addr());
    let inv = home.request(Method::Invite);
    assert_eq!(&*inv.uri, home_uri.as_str());
    assert!(inv.headers.get(&HeaderName::Via).unwrap().starts_with("SIP/2.0/TCP 127.0.0.1:"));
    home.send(&Message::Response(answer(&inv, 486, "home5", &home_uri, None)));
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("home"), Some("not_registered")));
}
