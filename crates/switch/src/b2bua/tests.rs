//! The call state machine on virtual time: every race of issue 5 items 1, 3
//! and 5, driven message by message with no sockets and no clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use bytes::Bytes;
use sipcore::transport::{FlowId, TransportKind};
use sipcore::{HeaderName, Message, Method};

const RELAY: &str = "192.0.2.1";
const CALLER_SDP: &str = "v=0\r\no=alice 100 7 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const CALLEE_SDP: &str =
    "v=0\r\no=bob 200 3 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=sendrecv\r\n";
const HOLD_SDP: &str =
    "v=0\r\no=bob 200 4 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=sendonly\r\n";

fn parse_req(raw: String) -> Request {
    match Message::parse(Bytes::from(raw)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("a request"),
    }
}

fn caller_flow() -> Flow {
    Flow {
        id: FlowId(1),
        transport: TransportKind::Udp,
        local: "192.0.2.1:5060".parse().unwrap(),
        remote: "203.0.113.5:5062".parse().unwrap(),
    }
}

fn callee_flow() -> Flow {
    Flow {
        id: FlowId(2),
        transport: TransportKind::Tcp,
        local: "192.0.2.1:5060".parse().unwrap(),
        remote: "198.51.100.2:40000".parse().unwrap(),
    }
}

fn invite_from_caller(sdp: &str) -> Request {
    parse_req(format!(
        "INVITE sip:1002@switch.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1;rport\r\nMax-Forwards: 70\r\n\
         From: \"Alice\" <sip:1001@switch.local>;tag=alice1\r\nTo: <sip:1002@switch.local>\r\nCall-ID: call-a@10.0.0.5\r\n\
         CSeq: 10 INVITE\r\nContact: <sip:1001@10.0.0.5:5062>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    ))
}

/// The core with one call offered, and what it sent.
struct Lab {
    core: B2bua,
    now: Instant,
    t0: Instant,
    invite_key: TransactionKey,
    /// The INVITE sent to the callee and its transaction.
    callee_invite: Option<(TxId, Request)>,
    fallback: Option<Target>,
}

impl Lab {
    fn new() -> Self {
        let t0 = Instant::now();
        let cfg = B2buaConfig {
            domain: "switch.local".into(),
            ring_time: Duration::from_secs(30),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            epoch: t0,
            epoch_unix_ms: 1_800_000_000_000,
        };
        let invite = invite_from_caller(CALLER_SDP);
        Lab {
            core: B2bua::new(cfg),
            now: t0,
            t0,
            invite_key: TransactionKey::server(&invite).unwrap(),
            callee_invite: None,
            fallback: None,
        }
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.core.poll_output()).collect()
    }

    fn advance(&mut self, by: Duration) -> Vec<Output> {
        self.now += by;
        self.core.handle_timeout(self.now);
        self.drain()
    }

    /// INVITE in, ports opened: returns the outputs after the ports came.
    fn offer(&mut self) -> Vec<Output> {
        let request = invite_from_caller(CALLER_SDP);
        let target = Target {
            flow: callee_flow(),
            local: "192.0.2.1:5060".parse().unwrap(),
            uri: "sip:1002@10.1.0.2:5999;transport=tcp;ob".into(),
            latch_ip: Some("198.51.100.2".parse().unwrap()),
            route: "flow",
            reason: None,
            connect: false,
        };
        let new = NewCall {
            key: self.invite_key.clone(),
            flow: caller_flow(),
            local: "192.0.2.1:5060".parse().unwrap(),
            request,
            caller: "1001".into(),
            callee: "1002".into(),
            target,
            relay_ip: RELAY.parse().unwrap(),
            fallback: self.fallback.clone(),
        };
        self.core.handle_invite(self.now, new);
        let out = self.drain();
        let call = out.iter().find_map(|o| if let Output::OpenMedia { call, .. } = o { Some(*call) } else { None }).expect("OpenMedia");
        assert!(matches!(&out[0], Output::Record(r) if r.caller == "1001" && r.callee == "1002" && r.route == "flow"));
        self.core.handle_media_opened(self.now, call, Ok(MediaPorts { id: 77, caller_rtp: 20000, callee_rtp: 20002 }));
        let out = self.drain();
        self.callee_invite = out.iter().find_map(|o| match o {
            Output::Request { tx, request, .. } if request.method == Method::Invite => Some((*tx, request.clone())),
            _ => None,
        });
        out
    }

    fn callee_tx(&self) -> TxId {
        self.callee_invite.as_ref().unwrap().0
    }

    /// A response from the callee to our INVITE.
    fn callee_says(&mut self, status: u16, sdp: Option<&str>) -> Vec<Output> {
        let (tx, inv) = self.callee_invite.clone().unwrap();
        let resp = response_to(&inv, status, sdp, Some("bob1"));
        self.core.handle_client_event(self.now, tx, ClientEvent::Response(resp));
        self.drain()
    }

    /// Call answered and ACKed.
    fn established(&mut self) -> Response {
        self.offer();
        self.callee_says(180, None);
        let out = self.callee_says(200, Some(CALLEE_SDP));
        let ok = responses(&out).into_iter().find(|r| r.status == 200).unwrap();
        self.core.handle_ack(&ack_for(&ok));
        assert!(self.drain().is_empty());
        ok
    }
}

fn response_to(req: &Request, status: u16, sdp: Option<&str>, tag: Option<&str>) -> Response {
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

fn ack_for(ok: &Response) -> Request {
    parse_req(format!(
        "ACK sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKack1\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 10 ACK\r\nContent-Length: 0\r\n\r\n",
        ok.headers.get(&HeaderName::From).unwrap(),
        ok.headers.get(&HeaderName::To).unwrap(),
        ok.headers.call_id().unwrap()
    ))
}

fn responses(out: &[Output]) -> Vec<Response> {
    out.iter().filter_map(|o| if let Output::Respond { response, .. } = o { Some(response.clone()) } else { None }).collect()
}

fn requests(out: &[Output], method: Method) -> Vec<Request> {
    out.iter()
        .filter_map(|o| match o {
            Output::Request { request, .. } | Output::Stateless { request, .. } if request.method == method => Some(request.clone()),
            _ => None,
        })
        .collect()
}

fn ended(out: &[Output]) -> Option<CallRecord> {
    out.iter().find_map(|o| if let Output::Ended { record, .. } = o { Some((**record).clone()) } else { None })
}

fn body(m: &Bytes) -> &str {
    std::str::from_utf8(m).unwrap()
}

#[test]
fn the_offer_reaches_the_callee_rewritten_to_the_relay() {
    let mut lab = Lab::new();
    let out = lab.offer();
    let (_, inv) = lab.callee_invite.clone().unwrap();
    assert_eq!(&*inv.uri, "sip:1002@10.1.0.2:5999;transport=tcp;ob", "Request-URI = the registered Contact");
    let sdp = body(&inv.body);
    assert!(sdp.contains("c=IN IP4 192.0.2.1\r\n") && sdp.contains("m=audio 20002 RTP/AVP 0 101\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"), "other lines pass through");
    assert!(sdp.contains("o=alice 100 7 IN IP4"), "first SDP on the leg keeps the sender's version: {sdp}");
    assert_ne!(inv.headers.call_id().unwrap(), "call-a@10.0.0.5", "an independent dialog");
    assert_eq!(inv.headers.cseq().unwrap().seq, 1);
    assert_eq!(inv.headers.get(&HeaderName::Contact), Some("<sip:switch@192.0.2.1:5060;transport=tcp>"));
    assert_eq!(inv.headers.max_forwards().unwrap(), Some(69));
    let caller_leg = out.iter().find_map(|o| match o {
        Output::UpdateMedia { media: 77, side: Leg::Caller, target } => Some(*target),
        _ => None,
    });
    assert_eq!(
        caller_leg,
        Some(LegMedia { send_to: Some("10.0.0.5:4000".parse().unwrap()), latch_ip: Some("203.0.113.5".parse().unwrap()), tcp: false }),
        "caller leg: its SDP address, latched to its observed IP"
    );
}

#[test]
fn ringing_answer_ack_and_bye_from_the_caller() {
    let mut lab = Lab::new();
    lab.offer();
    lab.now += Duration::from_millis(300);
    let out = lab.callee_says(180, None);
    let ringing = responses(&out);
    assert_eq!(ringing.len(), 1);
    assert_eq!(ringing[0].status, 180);
    let caller_tag = ringing[0].headers.to_addr().unwrap().tag().unwrap().to_owned();
    assert!(matches!(&out[0], Output::Record(r) if r.ringing_at == Some(1_800_000_000_300)));
    lab.now += Duration::from_secs(2);
    let out = lab.callee_says(200, Some(CALLEE_SDP));
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1, "the callee's 2xx is ACKed on its leg");
    assert_eq!(acks[0].headers.cseq().unwrap().seq, 1);
    assert!(acks[0].headers.get(&HeaderName::To).unwrap().contains("tag=bob1"));
    assert_eq!(&*acks[0].uri, "sip:bob@10.1.0.2:5999;transport=tcp", "ACK to the callee's Contact");
    assert!(out.iter().any(|o| matches!(o, Output::ArmMediaTimeout { media: 77 })));
    assert!(out.iter().any(|o| matches!(o, Output::UpdateMedia { media: 77, side: Leg::Callee, target }
        if target.send_to == Some("10.1.0.2:40002".parse().unwrap()) && target.latch_ip == Some("198.51.100.2".parse().unwrap()))));
    let ok = responses(&out).into_iter().next().unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.to_addr().unwrap().tag(), Some(caller_tag.as_str()), "same tag as the 180");
    assert!(body(&ok.body).contains("m=audio 20000 RTP/AVP 0\r\n") && body(&ok.body).contains("c=IN IP4 192.0.2.1"));
    // No ACK yet on UDP: the 2xx goes again after T1, then 2*T1.
    let again = lab.advance(Duration::from_millis(500));
    assert_eq!(responses(&again).len(), 1);
    assert!(lab.advance(Duration::from_millis(999)).is_empty());
    assert_eq!(responses(&lab.advance(Duration::from_millis(1))).len(), 1, "2*T1 later");
    lab.core.handle_ack(&ack_for(&ok));
    assert!(lab.advance(Duration::from_secs(10)).is_empty(), "ACK stops the retransmissions");
    // BYE from the caller: 200 to it, BYE to the callee, record closed.
    let bye = parse_req(format!(
        "BYE sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKbye1\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={caller_tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 11 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    let key = TransactionKey::server(&bye).unwrap();
    assert!(lab.core.handle_request(lab.now, &key, bye).is_ok());
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 200);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.cseq().unwrap().seq, 2, "the callee leg's own CSeq space");
    let rec = ended(&out).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("caller_bye"));
    assert_eq!(rec.status, Some(200));
    assert_eq!(rec.answer_at, Some(1_800_000_002_300));
    assert!(lab.core.is_empty());
    let _ = lab.t0;
}

#[test]
fn bye_from_the_callee_ends_both_legs() {
    let mut lab = Lab::new();
    let ok = lab.established();
    let callee_call_id = lab.callee_invite.as_ref().unwrap().1.headers.call_id().unwrap().to_owned();
    let ours = lab.callee_invite.as_ref().unwrap().1.headers.from_addr().unwrap().tag().unwrap().to_owned();
    let bye = parse_req(format!(
        "BYE sip:switch@192.0.2.1:5060;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 10.1.0.2:5999;branch=z9hG4bKbye2\r\nFrom: <sip:1002@switch.local>;tag=bob1\r\n\
         To: <sip:1001@switch.local>;tag={ours}\r\nCall-ID: {callee_call_id}\r\nCSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&bye).unwrap(), bye).is_ok());
    let out = lab.drain();
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.call_id().unwrap(), "call-a@10.0.0.5");
    assert_eq!(&*byes[0].uri, "sip:1001@10.0.0.5:5062", "to the caller's Contact");
    assert_eq!(byes[0].headers.to_addr().unwrap().tag(), Some("alice1"));
    assert_eq!(byes[0].headers.from_addr().unwrap().tag(), ok.headers.to_addr().unwrap().tag());
    assert_eq!(ended(&out).unwrap().end_reason.as_deref(), Some("callee_bye"));
}

#[test]
fn busy_and_other_finals_pass_to_the_caller() {
    for (status, reason) in [(486, "busy"), (603, "declined"), (404, "rejected"), (480, "unavailable")] {
        let mut lab = Lab::new();
        lab.offer();
        let out = lab.callee_says(status, None);
        let r = responses(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].status, status);
        let rec = ended(&out).unwrap();
        assert_eq!((rec.status, rec.end_reason.as_deref()), (Some(status), Some(reason)));
        assert!(lab.core.is_empty());
    }
}

fn cancel_from_caller(lab: &mut Lab) -> Vec<Output> {
    let cancel = parse_req(
        "CANCEL sip:1002@switch.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1;rport\r\n\
         From: \"Alice\" <sip:1001@switch.local>;tag=alice1\r\nTo: <sip:1002@switch.local>\r\nCall-ID: call-a@10.0.0.5\r\n\
         CSeq: 10 CANCEL\r\nContent-Length: 0\r\n\r\n"
            .to_owned(),
    );
    let key = TransactionKey::server(&cancel).unwrap();
    let invite = TransactionKey::cancel_target(&cancel).unwrap();
    assert!(lab.core.handle_cancel(lab.now, &key, &cancel, Some(&invite)));
    lab.drain()
}

#[test]
fn cancel_after_ringing_cancels_the_callee_and_487s_the_caller() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(180, None);
    let out = cancel_from_caller(&mut lab);
    let statuses: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 487], "200 to the CANCEL, 487 to the INVITE");
    let cancels = requests(&out, Method::Cancel);
    assert_eq!(cancels.len(), 1);
    let inv = &lab.callee_invite.as_ref().unwrap().1;
    assert_eq!(cancels[0].headers.top_via().unwrap().branch(), inv.headers.top_via().unwrap().branch(), "same branch as the INVITE");
    assert!(ended(&out).is_none(), "waits for the callee's 487");
    let out = lab.callee_says(487, None);
    assert!(responses(&out).is_empty(), "the caller already has its 487");
    let rec = ended(&out).unwrap();
    assert_eq!((rec.status, rec.end_reason.as_deref()), (Some(487), Some("cancelled")));
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut lab = Lab::new();
    lab.offer();
    let out = cancel_from_caller(&mut lab);
    assert!(requests(&out, Method::Cancel).is_empty(), "no CANCEL before a provisional (RFC 3261 §9.1)");
    let out = lab.callee_says(180, None);
    assert_eq!(requests(&out, Method::Cancel).len(), 1);
    assert!(responses(&out).is_empty(), "no 180 to a cancelled caller");
}

#[test]
fn a_200_crossing_the_cancel_is_acked_and_hung_up() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(180, None);
    cancel_from_caller(&mut lab);
    let out = lab.callee_says(200, Some(CALLEE_SDP));
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert_eq!(requests(&out, Method::Bye).len(), 1);
    assert!(responses(&out).is_empty(), "the caller got 487, not this 200");
    let rec = ended(&out).unwrap();
    assert_eq!((rec.status, rec.end_reason.as_deref()), (Some(487), Some("cancelled")));
}

#[test]
fn no_answer_within_ring_time_is_408_and_cancel() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(180, None);
    assert_eq!(lab.core.poll_timeout(), Some(lab.t0 + Duration::from_secs(30)));
    assert!(lab.advance(Duration::from_millis(29_999)).is_empty());
    let out = lab.advance(Duration::from_millis(1));
    assert_eq!(responses(&out)[0].status, 408);
    assert_eq!(requests(&out, Method::Cancel).len(), 1);
    let rec = ended(&lab.callee_says(487, None)).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("no_answer"));
}

#[test]
fn callee_flow_failure_is_480_and_timeout_408() {
    let mut lab = Lab::new();
    lab.offer();
    lab.core.handle_client_event(lab.now, lab.callee_tx(), ClientEvent::TransportError);
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 480);
    assert!(ended(&out).is_some());
    let mut lab = Lab::new();
    lab.offer();
    lab.core.handle_client_event(lab.now, lab.callee_tx(), ClientEvent::Timeout);
    assert_eq!(responses(&lab.drain())[0].status, 408);
}

#[test]
fn no_relay_ports_is_503_and_bad_sdp_488() {
    let mut lab = Lab::new();
    let invite = invite_from_caller(CALLER_SDP);
    let new = |request: Request| NewCall {
        key: TransactionKey::server(&request).unwrap(),
        flow: caller_flow(),
        local: "192.0.2.1:5060".parse().unwrap(),
        request,
        caller: "1001".into(),
        callee: "1002".into(),
        target: Target {
            flow: callee_flow(),
            local: "192.0.2.1:5060".parse().unwrap(),
            uri: "sip:1002@10.1.0.2".into(),
            latch_ip: None,
            route: "home",
            reason: Some("not_registered".into()),
            connect: false,
        },
        relay_ip: RELAY.parse().unwrap(),
        fallback: None,
    };
    lab.core.handle_invite(lab.now, new(invite.clone()));
    lab.drain();
    lab.core.handle_media_opened(lab.now, 1, Err(MediaOpenError::NoPorts));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 503);
    assert_eq!(ended(&out).unwrap().end_reason.as_deref(), Some("no_relay_ports"));

    lab.core.handle_invite(lab.now, new(invite_from_caller("v=0\r\nthis is not sdp\r\n")));
    lab.drain();
    lab.core.handle_media_opened(lab.now, 2, Ok(MediaPorts { id: 9, caller_rtp: 20000, callee_rtp: 20002 }));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 488);
    assert!(matches!(ended(&out), Some(r) if r.route == "home" && r.route_reason.as_deref() == Some("not_registered")));
    assert!(out.iter().any(|o| matches!(o, Output::Ended { media: Some(9), .. })), "the ports are freed");

    let mut no_sdp = invite_from_caller("");
    no_sdp.body = Bytes::new();
    lab.core.handle_invite(lab.now, new(no_sdp));
    assert_eq!(responses(&lab.drain())[0].status, 488);
}

#[test]
fn reinvite_from_the_callee_is_relayed_with_a_new_version() {
    let mut lab = Lab::new();
    let ok = lab.established();
    assert!(body(&ok.body).contains("o=bob 200 3 "), "first SDP to the caller keeps the callee's version");
    let callee_call_id = lab.callee_invite.as_ref().unwrap().1.headers.call_id().unwrap().to_owned();
    let ours = lab.callee_invite.as_ref().unwrap().1.headers.from_addr().unwrap().tag().unwrap().to_owned();
    let reinvite = parse_req(format!(
        "INVITE sip:switch@192.0.2.1:5060;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 10.1.0.2:5999;branch=z9hG4bKre1\r\nFrom: <sip:1002@switch.local>;tag=bob1\r\n\
         To: <sip:1001@switch.local>;tag={ours}\r\nCall-ID: {callee_call_id}\r\nCSeq: 6 INVITE\r\nContact: <sip:bob@10.1.0.2:5999;transport=tcp>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{HOLD_SDP}",
        HOLD_SDP.len()
    ));
    let key = TransactionKey::server(&reinvite).unwrap();
    assert!(lab.core.handle_request(lab.now, &key, reinvite.clone()).is_ok());
    let out = lab.drain();
    let sent = out.iter().find_map(|o| match o {
        Output::Request { tx, request, .. } if request.method == Method::Invite => Some((*tx, request.clone())),
        _ => None,
    });
    let (tx, to_caller) = sent.expect("re-INVITE to the caller");
    assert_eq!(to_caller.headers.call_id().unwrap(), "call-a@10.0.0.5");
    assert_eq!(to_caller.headers.cseq().unwrap().seq, 1, "the caller leg's first request from us");
    let sdp = body(&to_caller.body);
    assert!(sdp.contains("o=bob 200 4 ") && sdp.contains("a=sendonly") && sdp.contains("m=audio 20000 "), "{sdp}");
    // A second re-INVITE while this one is pending: 491.
    let mut again = reinvite.clone();
    again.headers.set(HeaderName::Via, "SIP/2.0/TCP 10.1.0.2:5999;branch=z9hG4bKre2");
    again.headers.set(HeaderName::CSeq, "7 INVITE");
    lab.core.handle_request(lab.now, &TransactionKey::server(&again).unwrap(), again).unwrap();
    assert_eq!(responses(&lab.drain())[0].status, 491);
    // The caller answers: ACK on its leg, 200 with the caller's (rewritten) answer to the callee.
    let answer = CALLER_SDP.replace("o=alice 100 7", "o=alice 100 8").replace("m=audio 4000", "m=audio 4002");
    let resp = response_to(&to_caller, 200, Some(&answer), Some("alice1"));
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(resp));
    let out = lab.drain();
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert!(out.iter().any(
        |o| matches!(o, Output::UpdateMedia { side: Leg::Caller, target, .. } if target.send_to == Some("10.0.0.5:4002".parse().unwrap()))
    ));
    let r = responses(&out);
    assert_eq!(r[0].status, 200);
    assert!(body(&r[0].body).contains("o=alice 100 8 ") && body(&r[0].body).contains("m=audio 20002 "), "{}", body(&r[0].body));
}

#[test]
fn options_in_dialog_and_unknown_dialogs() {
    let mut lab = Lab::new();
    let ok = lab.established();
    let tag = ok.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let options = parse_req(format!(
        "OPTIONS sip:switch@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKopt\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 12 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&options).unwrap(), options.clone()).is_ok());
    assert_eq!(responses(&lab.drain())[0].status, 200);
    let mut wrong = options.clone();
    wrong.headers.set(HeaderName::To, "<sip:1002@switch.local>;tag=nope");
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&wrong).unwrap(), wrong).is_ok());
    assert_eq!(responses(&lab.drain())[0].status, 481);
    let mut stranger = options;
    stranger.headers.set(HeaderName::CallId, "unknown@x");
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&stranger).unwrap(), stranger).is_err());
}

#[test]
fn media_timeout_hangs_up_both_legs_with_a_reason() {
    let mut lab = Lab::new();
    lab.established();
    lab.now += Duration::from_secs(60);
    lab.core.handle_media_timeout(lab.now, 77);
    let out = lab.drain();
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 2);
    for b in &byes {
        assert_eq!(b.headers.get(&HeaderName::Reason), Some("SIP;cause=408;text=\"media timeout\""));
    }
    let rec = ended(&out).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("media_timeout"));
    assert_eq!(rec.end_at, Some(1_800_000_060_000));
}

#[test]
fn no_ack_for_the_2xx_hangs_up_after_64_t1() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(200, Some(CALLEE_SDP));
    let mut resent = 0;
    for _ in 0..200 {
        let out = lab.advance(Duration::from_millis(250));
        resent += responses(&out).len();
        if let Some(rec) = ended(&out) {
            assert_eq!(rec.end_reason.as_deref(), Some("no_ack"));
            assert_eq!(requests(&out, Method::Bye).len(), 2);
            assert_eq!(lab.now - lab.t0, Duration::from_secs(32));
            assert!(resent >= 9, "retransmitted {resent} times");
            return;
        }
    }
    panic!("the call never ended");
}

fn home() -> Target {
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
        connect: false,
    }
}

fn invite_to(out: &[Output]) -> Option<(TxId, Request)> {
    out.iter().find_map(|o| match o {
        Output::Request { tx, request, .. } if request.method == Method::Invite => Some((*tx, request.clone())),
        _ => None,
    })
}

#[test]
fn no_answer_in_ring_time_goes_home_and_a_late_200_from_the_flow_is_hung_up() {
    let mut lab = Lab::new();
    lab.fallback = Some(home());
    lab.offer();
    let first = lab.callee_invite.clone().unwrap();
    lab.callee_says(180, None);
    let out = lab.advance(Duration::from_secs(30));
    assert!(responses(&out).is_empty(), "the caller keeps waiting");
    assert_eq!(requests(&out, Method::Cancel).len(), 1, "the flow leg is cancelled");
    let (tx, to_home) = invite_to(&out).expect("INVITE to home");
    assert_eq!(&*to_home.uri, "sip:1002@192.0.2.50");
    assert_ne!(to_home.headers.call_id().unwrap(), first.1.headers.call_id().unwrap(), "a new dialog");
    assert!(body(&to_home.body).contains("m=audio 20002 "), "same relay port for the callee leg");
    assert!(
        matches!(&out.iter().find(|o| matches!(o, Output::Record(_))), Some(Output::Record(r)) if r.route == "home" && r.route_reason.as_deref() == Some("no_answer"))
    );
    // The flow leg's 200 crossed the CANCEL: ACK and BYE on that leg only.
    let late = response_to(&first.1, 200, Some(CALLEE_SDP), Some("bob1"));
    lab.core.handle_client_event(lab.now, first.0, ClientEvent::Response(late));
    let out = lab.drain();
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.call_id().unwrap(), first.1.headers.call_id().unwrap());
    assert!(responses(&out).is_empty());
    // Home answers: the caller gets its 200.
    let ok = response_to(&to_home, 200, Some(CALLEE_SDP), Some("home1"));
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(ok));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 200);
    assert!(out.iter().any(|o| matches!(o, Output::UpdateMedia { side: Leg::Callee, target, .. } if target.latch_ip.is_none())));
}

#[test]
fn a_failed_flow_goes_home_without_cancel() {
    let mut lab = Lab::new();
    lab.fallback = Some(home());
    lab.offer();
    lab.core.handle_flow_closed(lab.now, FlowId(2));
    let out = lab.drain();
    assert!(requests(&out, Method::Cancel).is_empty(), "nothing to cancel on a dead flow before any provisional");
    let (tx, _) = invite_to(&out).expect("INVITE to home");
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(response_to(&invite_to(&out).unwrap().1, 486, None, Some("h"))));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 486);
    let rec = ended(&out).unwrap();
    assert_eq!((rec.route.as_str(), rec.route_reason.as_deref()), ("home", Some("flow_failed")));
}

#[test]
fn bye_from_the_caller_in_the_early_dialog_cancels_the_callee() {
    let mut lab = Lab::new();
    lab.offer();
    let ringing = responses(&lab.callee_says(180, None)).remove(0);
    let tag = ringing.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let bye = parse_req(format!(
        "BYE sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKearly\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 11 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&bye).unwrap(), bye).is_ok());
    let out = lab.drain();
    let statuses: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 487]);
    assert_eq!(requests(&out, Method::Cancel).len(), 1);
    let rec = ended(&lab.callee_says(487, None)).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("caller_bye"));
}

#[test]
fn a_tcp_home_location_is_connected_before_the_offer() {
    let mut lab = Lab::new();
    let remote: std::net::SocketAddr = "192.0.2.60:5060".parse().unwrap();
    let template = Flow { id: FlowId(0), transport: TransportKind::Tcp, local: remote, remote };
    lab.fallback = Some(Target {
        flow: template,
        local: remote,
        uri: "sip:1002@192.0.2.60;transport=tcp".into(),
        latch_ip: None,
        route: "home",
        reason: None,
        connect: true,
    });
    lab.offer();
    lab.core.handle_flow_closed(lab.now, FlowId(2));
    let out = lab.drain();
    assert!(invite_to(&out).is_none(), "no INVITE before the connection is up");
    let call = out.iter().find_map(|o| {
        if let Output::Connect { call, remote: r } = o {
            assert_eq!(*r, remote);
            Some(*call)
        } else {
            None
        }
    });
    let call = call.expect("Connect");
    let up = Flow { id: FlowId(9), transport: TransportKind::Tcp, local: "192.0.2.1:40001".parse().unwrap(), remote };
    lab.core.handle_connected(lab.now, call, Ok(up));
    let out = lab.drain();
    let inv = out.iter().find_map(|o| match o {
        Output::Request { flow, request, .. } if request.method == Method::Invite => Some((*flow, request.clone())),
        _ => None,
    });
    let (flow, inv) = inv.expect("INVITE down the new flow");
    assert_eq!(flow.id, FlowId(9));
    assert!(inv.headers.get(&HeaderName::Via).unwrap().starts_with("SIP/2.0/TCP 192.0.2.1:40001;"));

    // A home that cannot be reached: 480.
    let mut lab = Lab::new();
    lab.fallback = Some(Target {
        flow: template,
        local: remote,
        uri: "sip:1002@192.0.2.60;transport=tcp".into(),
        latch_ip: None,
        route: "home",
        reason: None,
        connect: true,
    });
    lab.offer();
    lab.core.handle_flow_closed(lab.now, FlowId(2));
    lab.drain();
    lab.core.handle_connected(lab.now, 1, Err("connection refused".into()));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 480);
    assert_eq!(ended(&out).unwrap().end_reason.as_deref(), Some("home_unreachable"));
}
