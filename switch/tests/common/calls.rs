//! Phones for the call tests: a caller on UDP or on its registered TCP flow, a
//! callee registered over TCP, UDP home locations, RTP through the relay, and
//! the call records through `switch calls --json`.

use super::{Config, DOMAIN, Phone, Switch, SwitchHost, Tcp};
use bytes::{Bytes, BytesMut};
use serde_json::Value;
use sipcore::auth::{DigestClient, DigestRequest, Secret, parse_challenge};
use sipcore::framing::Frame;
use sipcore::{HeaderName, Message, Method, Request, Response};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(5);

pub fn hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub fn encode(m: &Message) -> Vec<u8> {
    let mut b = BytesMut::new();
    match m {
        Message::Request(r) => r.encode(&mut b),
        Message::Response(r) => r.encode(&mut b),
    }
    b.to_vec()
}

pub fn sdp(port: u16, user: &str) -> String {
    format!(
        "v=0\r\no={user} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
}

/// The relayed stream's port and address in an SDP body.
pub fn media_of(body: &Bytes) -> SocketAddr {
    let info = media::sdp::inspect(body).unwrap();
    let m = &info.media[0];
    SocketAddr::new(m.connection.unwrap(), m.port)
}

/// The answer a phone sends to `req`, with its tag, Contact and optional SDP.
pub fn answer(req: &Request, status: u16, tag: &str, contact: &str, body: Option<String>) -> Response {
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
pub struct UdpPhone {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl UdpPhone {
    pub fn new(server: SocketAddr) -> Self {
        UdpPhone { sock: UdpSocket::bind("127.0.0.1:0").unwrap(), server }
    }

    pub fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    pub fn send(&self, m: &Message) {
        self.sock.send_to(&encode(m), self.server).unwrap();
    }

    /// The next message that `keep` accepts (retransmissions and 100s are skipped by it).
    #[track_caller]
    pub fn next(&self, what: &str, keep: impl Fn(&Message) -> bool) -> Message {
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
    pub fn request(&self, method: Method) -> Request {
        match self.next(&method.to_string(), |m| matches!(m, Message::Request(r) if r.method == method)) {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }
}

/// The caller's signalling: a UDP socket (a standard phone) or the TCP flow it registered on (our agent).
pub enum Wire {
    Udp(UdpPhone),
    Tcp(Box<Tcp>, SocketAddr),
}

impl Wire {
    pub fn addr(&self) -> SocketAddr {
        match self {
            Wire::Udp(p) => p.addr(),
            Wire::Tcp(t, _) => super::Link::local(t.as_ref()),
        }
    }

    pub fn server(&self) -> SocketAddr {
        match self {
            Wire::Udp(p) => p.server,
            Wire::Tcp(_, s) => *s,
        }
    }

    pub fn via(&self) -> &'static str {
        match self {
            Wire::Udp(_) => "UDP",
            Wire::Tcp(..) => "TCP",
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        match self {
            Wire::Udp(p) => {
                p.sock.send_to(bytes, p.server).unwrap();
            }
            Wire::Tcp(t, _) => super::Link::send(t.as_mut(), bytes),
        }
    }

    pub fn send(&mut self, m: &Message) {
        self.send_raw(&encode(m));
    }

    #[track_caller]
    pub fn next(&mut self, what: &str, keep: impl Fn(&Message) -> bool) -> Message {
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
    pub fn response(&mut self, status: u16, method: Method) -> Response {
        match self.next(
            &format!("{status} to {method}"),
            |m| matches!(m, Message::Response(r) if r.status == status && r.headers.cseq().unwrap().method == method),
        ) {
            Message::Response(r) => r,
            Message::Request(_) => unreachable!(),
        }
    }

    #[track_caller]
    pub fn request(&mut self, method: Method) -> Request {
        match self.next(&method.to_string(), |m| matches!(m, Message::Request(r) if r.method == method)) {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }
}

/// The caller's side of one call.
pub struct Caller {
    pub phone: Wire,
    pub number: String,
    pub callee: String,
    pub call_id: String,
    pub tag: String,
    pub branch: String,
    pub cseq: u32,
    pub rtp: UdpSocket,
    /// The dialog's remote tag and target once answered.
    pub to: Option<String>,
    /// A `Route` header value for the INVITE (another node's flow token).
    pub route: Option<String>,
}

impl Caller {
    pub fn new(sw: &Switch, number: &str, callee: &str) -> Self {
        Self::on(Wire::Udp(UdpPhone::new(sw.udp_addr())), number, callee)
    }

    /// A caller registered over TCP (the agent): its INVITE goes on its flow.
    pub fn registered_tcp(sw: &Switch, number: &str, callee: &str) -> Self {
        let mut tcp = Tcp::connect(sw);
        Phone::agent(number, &format!("pw{number}"), 1).register(&mut tcp, Some(600));
        Self::on(Wire::Tcp(Box::new(tcp), sw.addr()), number, callee)
    }

    pub fn on(phone: Wire, number: &str, callee: &str) -> Self {
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
            route: None,
        }
    }

    pub fn uri(&self) -> String {
        format!("sip:{}@{DOMAIN}", self.callee)
    }

    pub fn invite(&mut self, auth: Option<&str>) -> Request {
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
        if let Some(r) = &self.route {
            m.push_str(&format!("Route: {r}\r\n"));
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
    pub fn ack_non_2xx(&mut self, invite: &Request, resp: &Response) {
        let ack = sipcore::transaction::ack_for_non_2xx(invite, resp).unwrap();
        self.phone.send(&Message::Request(ack));
    }

    /// An in-dialog request (ACK for the 2xx, BYE).
    pub fn in_dialog(&mut self, method: Method) {
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

    pub fn cancel(&mut self, invite: &Request) {
        let cancel = sipcore::transaction::cancel_for(invite).unwrap();
        self.phone.send(&Message::Request(cancel));
    }

    /// INVITE, 407, ACK, INVITE with credentials. Returns the authenticated INVITE.
    pub fn invite_with_digest(&mut self, password: &str) -> Request {
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
pub struct Callee {
    pub tcp: Tcp,
    pub rtp: UdpSocket,
    pub tag: String,
    pub contact: String,
}

impl Callee {
    pub fn register(sw: &Switch, number: &str, password: &str) -> Self {
        let mut tcp = Tcp::connect(sw);
        let mut phone = Phone::agent(number, password, 2);
        phone.register(&mut tcp, Some(600));
        let contact = format!("sip:{number}@{};transport=tcp", super::Link::local(&tcp));
        Callee { tcp, rtp: UdpSocket::bind("127.0.0.1:0").unwrap(), tag: hex(), contact }
    }

    /// The same device, after its public address changed: a new TCP flow from
    /// `src`, registered again (the switch sees it roam and closes the old flow).
    pub fn roam(&mut self, sw: &Switch, src: std::net::Ipv4Addr, number: &str, password: &str) {
        let mut tcp = Tcp::connect_from(src, sw);
        Phone::agent(number, password, 2).register(&mut tcp, Some(600));
        self.contact = format!("sip:{number}@{};transport=tcp", super::Link::local(&tcp));
        self.tcp = tcp;
        self.rtp = UdpSocket::bind((src, 0)).unwrap();
    }

    /// A re-INVITE in the callee's dialog (`inv` is the INVITE that made it), with `body`.
    pub fn reinvite(&mut self, sw: &Switch, inv: &Request, cseq: u32, body: &str) {
        let h = |name: HeaderName| inv.headers.get(&name).unwrap().to_owned();
        let m = format!(
            "INVITE sip:switch@{sw} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bK{b}\r\nMax-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}\r\n\
             Call-ID: {cid}\r\nCSeq: {cseq} INVITE\r\nContact: <{contact}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
            sw = sw.addr(),
            me = super::Link::local(&self.tcp),
            b = hex(),
            from = h(HeaderName::To),
            tag = self.tag,
            to = h(HeaderName::From),
            cid = inv.headers.call_id().unwrap(),
            contact = self.contact,
            len = body.len(),
        );
        super::Link::send(&mut self.tcp, m.as_bytes());
    }

    #[track_caller]
    pub fn message(&mut self) -> Message {
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
    pub fn request(&mut self, method: Method) -> Request {
        for _ in 0..10 {
            if let Message::Request(r) = self.message()
                && r.method == method
            {
                return r;
            }
        }
        panic!("callee: no {method}");
    }

    pub fn send(&mut self, m: &Message) {
        super::Link::send(&mut self.tcp, &encode(m));
    }

    pub fn answer(&mut self, req: &Request, status: u16, with_sdp: bool) {
        let body = with_sdp.then(|| sdp(self.rtp.local_addr().unwrap().port(), "callee"));
        let r = answer(req, status, &self.tag, &self.contact, body);
        self.send(&Message::Response(r));
    }
}

pub fn rtp_packet(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(0xffu8, 160));
    p
}

/// Sends RTP from `from` to `to` until `peer` receives one (bounded); returns packets received.
pub fn rtp_flows(from: &UdpSocket, to: SocketAddr, peer: &UdpSocket, ssrc: u32) -> usize {
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

/// An answered call with media both ways: `to` registered over TCP, `from`
/// calling it over UDP, both with `password`. Returns the parties
/// and where each sends its media ([`pick_up`]).
pub fn answered_call(sw: &Switch, from: &str, to: &str, password: &str) -> (Caller, Callee, (SocketAddr, SocketAddr)) {
    let mut callee = Callee::register(sw, to, password);
    let mut caller = Caller::new(sw, from, to);
    caller.invite_with_digest(password);
    let inv = callee.request(Method::Invite);
    let media = pick_up(&mut caller, &mut callee, &inv);
    assert_media_both_ways(&caller, &callee, media, "once answered");
    (caller, callee, media)
}

/// Asserts that RTP goes through the relay both ways between an answered
/// call's parties; `media` is what [`pick_up`] returned (where each party
/// sends), `when` names the moment in a failure.
#[track_caller]
pub fn assert_media_both_ways(caller: &Caller, callee: &Callee, media: (SocketAddr, SocketAddr), when: &str) {
    let (to_callee, to_caller) = media;
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0x00ca_11ee) > 0, "callee -> caller {when}");
    assert!(rtp_flows(&caller.rtp, to_caller, &callee.rtp, 0x00ca_11e7) > 0, "caller -> callee {when}");
}

/// Waits until the record of `call_id` is ended; returns it.
#[track_caller]
pub fn ended_record(lab: &SwitchHost, call_id: &str) -> Value {
    lab.ended_call_record(call_id, WAIT)
}

pub fn lab_with(numbers: &[(&str, Option<&str>)]) -> SwitchHost {
    let lab = super::lab();
    for (n, home) in numbers {
        lab.add_subscriber(n, &format!("pw{n}"), *home);
    }
    lab
}

pub fn trusted() -> Config {
    Config::default().relay("127.0.0.1").calls("trusted_peers = [\"127.0.0.1\"]")
}

/// 1001 (trusted) calls 1002, registered over TCP: both ends, the caller's
/// INVITE and the one the callee got, not yet answered.
pub fn offered(sw: &Switch) -> (Caller, Callee, Request, Request) {
    let mut callee = Callee::register(sw, "1002", "pw1002");
    let mut caller = Caller::new(sw, "1001", "1002");
    let invite = caller.invite(None);
    let inv = callee.request(Method::Invite);
    (caller, callee, invite, inv)
}

/// Sets up an answered call (trusted caller); returns both ends.
pub fn answered(sw: &Switch) -> (Caller, Callee, Request) {
    let (mut caller, mut callee, _, inv) = offered(sw);
    pick_up(&mut caller, &mut callee, &inv);
    (caller, callee, inv)
}

/// The callee answers `inv` (the INVITE it got) with SDP and the caller ACKs
/// the 200. Returns where each side sends its RTP on the relay: the callee's
/// target and the caller's.
pub fn pick_up(caller: &mut Caller, callee: &mut Callee, inv: &Request) -> (SocketAddr, SocketAddr) {
    let to_callee = media_of(&inv.body);
    callee.answer(inv, 200, true);
    let ok = caller.phone.response(200, Method::Invite);
    let to_caller = media_of(&ok.body);
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    callee.request(Method::Ack);
    (to_callee, to_caller)
}

/// A callee registered over TCP with a UDP home location.
pub fn with_home() -> (SwitchHost, UdpPhone, String) {
    let home = UdpPhone::new("127.0.0.1:9".parse().unwrap());
    let home_uri = format!("sip:1002@{}", home.addr());
    let lab = lab_with(&[("1001", None), ("1002", Some(&home_uri))]);
    (lab, home, home_uri)
}
