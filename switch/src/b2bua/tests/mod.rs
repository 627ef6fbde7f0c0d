//! The call state machine on virtual time: every race of issue 5, driven
//! message by message with no sockets and no clock. This file holds the lab
//! (one call offered to the core) and the helpers; the tests are grouped by topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod basic;
mod cancel;
mod home;
mod prop;
mod reinvite;

pub(super) use super::*;
use bytes::Bytes;
use sipcore::transport::{FlowId, TransportKind};
use sipcore::{HeaderName, Message, Method};

pub(super) const RELAY: &str = "192.0.2.1";
pub(super) const CALLER_SDP: &str = "v=0\r\no=alice 100 7 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
pub(super) const CALLEE_SDP: &str =
    "v=0\r\no=bob 200 3 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=sendrecv\r\n";
pub(super) const HOLD_SDP: &str =
    "v=0\r\no=bob 200 4 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=sendonly\r\n";

pub(super) fn parse_req(raw: String) -> Request {
    match Message::parse(Bytes::from(raw)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("a request"),
    }
}

pub(super) fn caller_flow() -> Flow {
    Flow {
        id: FlowId(1),
        transport: TransportKind::Udp,
        local: "192.0.2.1:5060".parse().unwrap(),
        remote: "203.0.113.5:5062".parse().unwrap(),
    }
}

pub(super) fn callee_flow() -> Flow {
    Flow {
        id: FlowId(2),
        transport: TransportKind::Tcp,
        local: "192.0.2.1:5060".parse().unwrap(),
        remote: "198.51.100.2:40000".parse().unwrap(),
    }
}

pub(super) fn invite_from_caller(sdp: &str) -> Request {
    parse_req(format!(
        "INVITE sip:1002@switch.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1;rport\r\nMax-Forwards: 70\r\n\
         From: \"Alice\" <sip:1001@switch.local>;tag=alice1\r\nTo: <sip:1002@switch.local>\r\nCall-ID: call-a@10.0.0.5\r\n\
         CSeq: 10 INVITE\r\nContact: <sip:1001@10.0.0.5:5062>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    ))
}

/// The core with one call offered, and what it sent.
pub(super) struct Lab {
    pub(super) core: B2bua,
    pub(super) now: Instant,
    pub(super) t0: Instant,
    pub(super) invite_key: TransactionKey,
    /// The INVITE sent to the callee and its transaction.
    pub(super) callee_invite: Option<(TxId, Request)>,
    pub(super) fallback: Option<Target>,
}

impl Lab {
    pub(super) fn new() -> Self {
        let t0 = Instant::now();
        let cfg = B2buaConfig {
            domain: "switch.local".into(),
            ring_time: Duration::from_secs(30),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
        };
        let invite = invite_from_caller(CALLER_SDP);
        Lab {
            core: B2bua::new(cfg, rand::SeedableRng::seed_from_u64(1)),
            now: t0,
            t0,
            invite_key: TransactionKey::server(&invite).unwrap(),
            callee_invite: None,
            fallback: None,
        }
    }

    pub(super) fn drain(&mut self) -> Vec<CallAction> {
        std::iter::from_fn(|| self.core.poll_action()).collect()
    }

    pub(super) fn advance(&mut self, by: Duration) -> Vec<CallAction> {
        self.now += by;
        self.core.handle_timeout(self.now);
        self.drain()
    }

    /// INVITE in, ports opened: returns the outputs after the ports came.
    pub(super) fn offer(&mut self) -> Vec<CallAction> {
        let request = invite_from_caller(CALLER_SDP);
        let target = Target {
            flow: callee_flow(),
            local: "192.0.2.1:5060".parse().unwrap(),
            uri: "sip:1002@10.1.0.2:5999;transport=tcp;ob".into(),
            latch_ip: Some("198.51.100.2".parse().unwrap()),
            route: "flow",
            reason: None,
            hop: None,
            connect: None,
        };
        let new = NewCall {
            key: self.invite_key.clone(),
            flow: caller_flow(),
            local: "192.0.2.1:5060".parse().unwrap(),
            request,
            caller: "1001".into(),
            callee: "1002".into(),
            target,
            relay_ip: Some(RELAY.parse().unwrap()),
            fallback: self.fallback.clone(),
        };
        self.core.handle_invite(self.now, new);
        let out = self.drain();
        let call = out
            .iter()
            .find_map(|o| if let CallAction::Output(Output::Media(MediaCommand::Open { call, .. })) = o { Some(*call) } else { None })
            .expect("OpenMedia");
        assert!(matches!(&out[0], CallAction::Output(Output::Cdr(r)) if r.caller == "1001" && r.callee == "1002" && r.route == "flow"));
        self.core.handle_media_opened(self.now, call, Ok(MediaPorts { id: MediaId(77), caller_rtp: 20000, callee_rtp: 20002 }));
        let out = self.drain();
        self.callee_invite = out.iter().find_map(|o| match o {
            CallAction::Request { tx, request, .. } if request.method == Method::Invite => Some((*tx, request.clone())),
            _ => None,
        });
        out
    }

    pub(super) fn callee_tx(&self) -> TxId {
        self.callee_invite.as_ref().unwrap().0
    }

    /// A response from the callee to our INVITE.
    pub(super) fn callee_says(&mut self, status: u16, sdp: Option<&str>) -> Vec<CallAction> {
        let (tx, inv) = self.callee_invite.clone().unwrap();
        let resp = response_to(&inv, status, sdp, Some("bob1"));
        self.core.handle_client_event(self.now, tx, ClientEvent::Response(resp));
        self.drain()
    }

    /// Call answered and ACKed.
    pub(super) fn established(&mut self) -> Response {
        self.offer();
        self.callee_says(180, None);
        let out = self.callee_says(200, Some(CALLEE_SDP));
        let ok = responses(&out).into_iter().find(|r| r.status == 200).unwrap();
        self.core.handle_ack(&ack_for(&ok));
        assert!(self.drain().is_empty());
        ok
    }
}

pub(super) fn response_to(req: &Request, status: u16, sdp: Option<&str>, tag: Option<&str>) -> Response {
    let mut r = msg::response(
        req,
        status,
        None,
        tag.unwrap_or("x"),
        Some("sip:bob@10.1.0.2:5999;transport=tcp"),
        sdp.map(|s| Bytes::from(s.to_owned())),
    );
    if tag.is_none() {
        r.headers.set(HeaderName::To, req.headers.get(&HeaderName::To).unwrap().to_owned());
    }
    r
}

pub(super) fn ack_for(ok: &Response) -> Request {
    parse_req(format!(
        "ACK sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKack1\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 10 ACK\r\nContent-Length: 0\r\n\r\n",
        ok.headers.get(&HeaderName::From).unwrap(),
        ok.headers.get(&HeaderName::To).unwrap(),
        ok.headers.call_id().unwrap()
    ))
}

pub(super) fn responses(out: &[CallAction]) -> Vec<Response> {
    out.iter().filter_map(|o| if let CallAction::Respond { response, .. } = o { Some(response.clone()) } else { None }).collect()
}

pub(super) fn requests(out: &[CallAction], method: Method) -> Vec<Request> {
    out.iter()
        .filter_map(|o| match o {
            CallAction::Request { request, .. } | CallAction::Stateless { request, .. } if request.method == method => {
                Some(request.clone())
            }
            _ => None,
        })
        .collect()
}

pub(super) fn ended(out: &[CallAction]) -> Option<Cdr<Instant>> {
    out.iter().find_map(|o| if let CallAction::Output(Output::CallEnded { cdr, .. }) = o { Some((**cdr).clone()) } else { None })
}

pub(super) fn body(m: &Bytes) -> &str {
    std::str::from_utf8(m).unwrap()
}

pub(super) fn invite_to(out: &[CallAction]) -> Option<(TxId, Request)> {
    out.iter().find_map(|o| match o {
        CallAction::Request { tx, request, .. } if request.method == Method::Invite => Some((*tx, request.clone())),
        _ => None,
    })
}

/// A home location over UDP.
pub(super) fn home_target() -> Target {
    Target {
        flow: Flow {
            id: FlowId(3),
            transport: TransportKind::Udp,
            local: "192.0.2.1:5060".parse().unwrap(),
            remote: "192.0.2.50:5060".parse().unwrap(),
        },
        local: "192.0.2.1:5060".parse().unwrap(),
        uri: "sip:1002@192.0.2.50".into(),
        latch_ip: None,
        route: "home",
        reason: None,
        hop: None,
        connect: None,
    }
}
