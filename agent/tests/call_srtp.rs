//! SDES-SRTP in the call core, through the sans-IO user agent on virtual time
//! against the scripted switch, with no socket: over a TLS flow our INVITE
//! offers RTP/SAVP and the stream starts with the keys agreed; a 488 to that
//! offer is retried once in plain RTP (policy `Preferred`); `Required` places
//! no call over plain TCP and hangs up on a plain answer; an RTP/SAVP offer
//! from the switch is answered with our own key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::{CallError, CallEvent, EndReason, Error, Event, KeySeed, MediaCommand, MediaEvent, Party, SrtpPolicy, UaConfig};
use bytes::Bytes;
use media::offer::{LocalMedia, Negotiated};
use media::srtp::{CryptoAttribute, MASTER_LEN, MasterKey, SrtpSuite};
use media::{BearerTransport, Direction};
use sipcore::transport::{FlowId, TransportKind};
use sipcore::{HeaderName, Message, Method, Request, Response};
use support::bench::{Bench, config};

/// The relay's side of the SDP: its key is all 2s.
fn relay(srtp: bool) -> LocalMedia {
    LocalMedia {
        address: "192.0.2.10".parse().unwrap(),
        port: 30000,
        transport: BearerTransport::Udp,
        session_id: 1,
        version: 1,
        srtp: srtp.then(|| MasterKey::new([2; MASTER_LEN])),
    }
}

fn text(body: &[u8]) -> &str {
    std::str::from_utf8(body).unwrap()
}

/// The key of the one `a=crypto` line of an SDP of ours.
fn our_key(body: &[u8]) -> CryptoAttribute {
    let lines: Vec<&str> = text(body).lines().filter_map(|l| l.strip_prefix("a=crypto:")).collect();
    let [line] = lines.as_slice() else { panic!("{}", text(body)) };
    CryptoAttribute::parse(line).unwrap()
}

fn tls_bench(policy: SrtpPolicy) -> Bench {
    let mut cfg: UaConfig = config();
    cfg.srtp = policy;
    cfg.srtp_key_seed = KeySeed([7; 32]);
    let mut b = Bench::new(cfg);
    b.flow_transport = TransportKind::Tls;
    b
}

fn reply(req: &Request, status: u16, tag: &str, sdp: Option<String>) -> Response {
    let mut r = Response::to_request(req, status);
    let to = r.headers.get(&HeaderName::To).unwrap().to_owned();
    r.headers.set(HeaderName::To, format!("{to};tag={tag}"));
    if (101..300).contains(&status) {
        r.headers.push(HeaderName::Contact, "<sip:switch@192.0.2.10:5060;transport=tls>");
    }
    if let Some(s) = sdp {
        r.headers.set(HeaderName::ContentType, "application/sdp");
        r.headers.set(HeaderName::ContentLength, s.len().to_string());
        r.body = Bytes::from(s);
    }
    r
}

impl Bench {
    fn says(&mut self, flow: FlowId, resp: Response) {
        self.ua.handle_message(self.now, flow, sipcore::parse(Message::Response(resp).to_bytes()).unwrap());
        self.settle();
    }

    fn invites(&mut self) -> Vec<Request> {
        self.outputs()
            .into_iter()
            .filter_map(|o| match o {
                agent::Output::Send { message: Message::Request(r), .. } if r.method == Method::Invite => Some(r),
                _ => None,
            })
            .collect()
    }

    fn started(&mut self) -> Vec<Negotiated> {
        self.media_commands()
            .into_iter()
            .filter_map(|c| match c {
                MediaCommand::Start { stream, .. } => Some(stream),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn over_tls_the_invite_offers_srtp_and_the_stream_starts_with_the_agreed_keys() {
    let mut b = tls_bench(SrtpPolicy::Preferred);
    let (flow, _) = b.registered();
    let id = b.ua.call(b.now, "1002").unwrap();
    let invites = b.invites();
    let [invite] = invites.as_slice() else { panic!("{invites:?}") };
    assert!(text(&invite.body).contains("m=audio 40000 RTP/SAVP 0 8 101\r\n"), "{}", text(&invite.body));
    let ours = our_key(&invite.body);
    assert_eq!((ours.tag, ours.suite), (1, SrtpSuite::AesCm128HmacSha1_80));
    let (answer, _) = media::offer::answer(text(&invite.body), &relay(true)).unwrap();
    b.says(flow, reply(invite, 200, "sw1", Some(answer)));
    let started = b.started();
    let [stream] = started.as_slice() else { panic!("{started:?}") };
    let keys = stream.srtp.clone().expect("SRTP agreed");
    assert_eq!((&keys.local, &keys.remote), (&ours.key, &MasterKey::new([2; MASTER_LEN])));
    let ev = b.events();
    assert!(ev.iter().any(|e| matches!(e, Event::Media(MediaEvent::Started { id: i, srtp: true, .. }) if *i == id)), "{ev:?}");
    // A second call gets a key of its own.
    let other = b.ua.call(b.now, "1003").unwrap();
    let invites = b.invites();
    assert_ne!(our_key(&invites[0].body).key, keys.local, "call {other} has a key of its own");
}

#[test]
fn a_488_to_our_srtp_offer_is_retried_once_with_a_plain_offer_in_a_new_transaction() {
    let mut b = tls_bench(SrtpPolicy::Preferred);
    let (flow, _) = b.registered();
    let id = b.ua.call(b.now, "1002").unwrap();
    let first = b.invites().remove(0);
    // The callee rang (an early dialog), then refused SRTP.
    b.says(flow, reply(&first, 180, "sw1", None));
    b.says(flow, reply(&first, 488, "sw1", None));
    let invites = b.invites();
    let [second] = invites.as_slice() else { panic!("{invites:?}") };
    assert_eq!(second.headers.call_id().unwrap(), first.headers.call_id().unwrap());
    assert_eq!(second.headers.from_addr().unwrap().tag(), first.headers.from_addr().unwrap().tag());
    assert_eq!(second.headers.cseq().unwrap().seq, first.headers.cseq().unwrap().seq + 1);
    assert_eq!(second.headers.to_addr().unwrap().tag(), None, "not in the failed early dialog");
    assert_ne!(second.headers.top_via().unwrap().branch(), first.headers.top_via().unwrap().branch());
    assert!(
        text(&second.body).contains("m=audio 40000 RTP/AVP 0 8 101\r\n") && !text(&second.body).contains("crypto"),
        "{}",
        text(&second.body)
    );
    // Refused again: that is the call's end, with the status.
    b.says(flow, reply(second, 488, "sw2", None));
    assert!(b.invites().is_empty(), "once");
    let ev = b.events();
    assert!(
        ev.iter().any(|e| *e == Event::Call(CallEvent::Ended { id, by: Party::Remote, reason: EndReason::Rejected, status: Some(488) })),
        "{ev:?}"
    );
}

#[test]
fn required_places_no_call_over_plain_tcp_and_hangs_up_on_a_plain_answer() {
    let mut cfg = config();
    cfg.srtp = SrtpPolicy::Required;
    let mut plain = Bench::new(cfg);
    plain.registered();
    assert!(matches!(plain.ua.call(plain.now, "1002"), Err(Error::Call(CallError::SrtpNeedsTls))));

    let mut b = tls_bench(SrtpPolicy::Required);
    let (flow, _) = b.registered();
    let id = b.ua.call(b.now, "1002").unwrap();
    let invite = b.invites().remove(0);
    let (answer, _) = media::offer::answer(&text(&invite.body).replace("RTP/SAVP", "RTP/AVP"), &relay(false)).unwrap();
    b.says(flow, reply(&invite, 200, "sw1", Some(answer)));
    let sent = b.outputs();
    let methods: Vec<Method> = sent
        .iter()
        .filter_map(|o| match o {
            agent::Output::Send { message: Message::Request(r), .. } => Some(r.method.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye], "answered, then hung up");
    assert!(b.started().is_empty(), "no plain RTP was started");
    let ev = b.events();
    assert!(
        ev.iter().any(|e| matches!(e, Event::Media(MediaEvent::Failed { id: i, reason }) if *i == id && reason.contains("SRTP"))),
        "{ev:?}"
    );
}

/// The switch's INVITE down the flow with `sdp`.
fn invite_down(sdp: &str) -> String {
    format!(
        "INVITE sip:1001@10.1.0.2:40001;transport=tls;ob SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKsrtp\r\nMax-Forwards: 70\r\n\
         From: <sip:1002@switch.local>;tag=sw1\r\nTo: <sip:1001@switch.local>\r\nCall-ID: srtp@sw\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:switch@192.0.2.10:5061;transport=tls>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn ring(b: &mut Bench, flow: FlowId, sdp: &str) -> agent::CallId {
    b.ua.handle_message(b.now, flow, sipcore::parse(Bytes::from(invite_down(sdp))).unwrap());
    b.settle();
    let ev = b.events();
    ev.iter()
        .find_map(|e| match e {
            Event::Call(CallEvent::Incoming { id, .. }) => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{ev:?}"))
}

fn final_response(b: &mut Bench) -> Response {
    b.outputs()
        .into_iter()
        .filter_map(|o| match o {
            agent::Output::Send { message: Message::Response(r), .. } if r.status >= 200 => Some(r),
            _ => None,
        })
        .next()
        .unwrap()
}

#[test]
fn an_srtp_offer_is_answered_with_our_key_and_required_refuses_a_plain_one() {
    let mut b = tls_bench(SrtpPolicy::Preferred);
    let (flow, _) = b.registered();
    let offer = media::offer::build_offer(&relay(true));
    let id = ring(&mut b, flow, &offer);
    b.ua.answer_call(b.now, id).unwrap();
    let ok = final_response(&mut b);
    assert_eq!(ok.status, 200);
    let ours = our_key(&ok.body);
    assert!(text(&ok.body).contains("RTP/SAVP"));
    let started = b.started();
    assert_eq!(started[0].srtp.as_ref().map(|k| (&k.local, &k.remote)), Some((&ours.key, &MasterKey::new([2; MASTER_LEN]))));
    assert_eq!(started[0].direction, Direction::SendRecv);

    let mut b = tls_bench(SrtpPolicy::Required);
    let (flow, _) = b.registered();
    let id = ring(&mut b, flow, &media::offer::build_offer(&relay(false)));
    assert!(b.ua.answer_call(b.now, id).is_err());
    assert_eq!(final_response(&mut b).status, 488);
}
