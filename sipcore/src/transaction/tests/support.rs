#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::message::{HeaderName, Message, Request, Response, parse};
use crate::transaction::{TimerConfig, TransactionEvent};
use bytes::Bytes;
use std::time::{Duration, Instant};

pub(super) const T1: Duration = Duration::from_millis(500);
pub(super) const T2: Duration = Duration::from_secs(4);
pub(super) const T4: Duration = Duration::from_secs(5);

pub(super) fn cfg() -> TimerConfig {
    TimerConfig::default()
}

/// Virtual time: a base instant and offsets from it.
#[derive(Clone, Copy)]
pub(super) struct Clock {
    pub(super) base: Instant,
}

impl Clock {
    pub(super) fn new() -> Self {
        Self { base: Instant::now() }
    }
    pub(super) fn at(&self, d: Duration) -> Instant {
        self.base + d
    }
    pub(super) fn ms(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }
}

/// Serializes with the printer and parses back: the wire path.
pub(super) fn wire(msg: &Message) -> Message {
    parse(msg.to_bytes()).expect("the printer's output parses")
}

pub(super) fn parse_text(text: &str) -> Message {
    let raw = text.replace('\n', "\r\n");
    parse(Bytes::from(raw)).expect("fixture parses")
}

pub(super) fn request(text: &str) -> Request {
    match parse_text(text) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

pub(super) fn transport(reliable: bool) -> &'static str {
    if reliable { "TCP" } else { "UDP" }
}

/// An INVITE with two Route headers, as in RFC 3261 §24.
pub(super) fn invite(branch: &str, reliable: bool) -> Request {
    request(&format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/{} pc33.atlanta.example.com:5060;branch={branch}
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKolder
Max-Forwards: 70
Route: <sip:p1.example.com;lr>
Route: <sip:p2.example.com;lr>
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
Timestamp: 54
Content-Length: 0

",
        transport(reliable)
    ))
}

/// A REGISTER (a non-INVITE request).
pub(super) fn register(branch: &str, cseq: u32, reliable: bool) -> Request {
    request(&format!(
        "REGISTER sip:registrar.biloxi.example.com SIP/2.0
Via: SIP/2.0/{} bobspc.biloxi.example.com:5060;branch={branch}
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Bob <sip:bob@biloxi.example.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: {cseq} REGISTER
Contact: <sip:bob@192.0.2.4>
Expires: 7200
Content-Length: 0

",
        transport(reliable)
    ))
}

/// The UAS's response to `req`, with a To tag unless it is a 100.
pub(super) fn respond(req: &Request, status: u16, to_tag: &str) -> Response {
    let mut r = Response::to_request(req, status);
    if status > 100 {
        let to = r.headers.get(&HeaderName::To).unwrap().to_string();
        r.headers.set(HeaderName::To, format!("{to};tag={to_tag}"));
    }
    r
}

pub(super) fn status_of(msg: &Message) -> Option<u16> {
    match msg {
        Message::Response(r) => Some(r.status),
        Message::Request(_) => None,
    }
}

pub(super) fn method_of(msg: &Message) -> Option<&str> {
    match msg {
        Message::Request(r) => Some(r.method.as_str()),
        Message::Response(_) => None,
    }
}

/// Drives any machine to `until`, firing each timer at its exact deadline,
/// and returns (instant, message) for everything it transmitted on the way.
macro_rules! drive {
    ($tx:expr, $until:expr) => {{
        let mut sent = Vec::new();
        while let Some(at) = $tx.poll_timeout() {
            if at > $until {
                break;
            }
            $tx.handle_timeout(at);
            while let Some(m) = $tx.poll_transmit() {
                sent.push((at, m));
            }
        }
        sent
    }};
}
pub(super) use drive;

pub(super) fn events(next: impl FnMut() -> Option<TransactionEvent>) -> Vec<TransactionEvent> {
    std::iter::from_fn(next).collect()
}

/// The flow a test's messages ride: TCP when `reliable`, else UDP.
pub(super) fn flow(reliable: bool) -> crate::transport::Flow {
    use crate::transport::{Flow, FlowId, TransportKind};
    let transport = if reliable { TransportKind::Tcp } else { TransportKind::Udp };
    Flow { id: FlowId(1), transport, local: ([192, 0, 2, 1], 5060).into(), remote: ([192, 0, 2, 2], 5060).into() }
}
