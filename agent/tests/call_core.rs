//! The call core (RFC 3261 dialogs and each call's media session) through the
//! sans-IO user agent, on virtual time, against the scripted switch of
//! `support::bench`, with no socket: what goes up the flow for each step, the
//! SDP the core builds, the media commands it gives the driver, and which
//! [`CallEvent`]s come out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::Output;
use agent::{CallError, CallEvent, CallId, Direction, EndReason, Error, Event, MediaCommand, MediaEvent, Party, StatusCode};
use bytes::Bytes;
use media::offer::Negotiated;
use sipcore::auth::{DigestRequest, Secret, parse_credentials};
use sipcore::transport::FlowId;
use sipcore::{HeaderName, Message, Method, Request, Response};
use std::net::SocketAddr;
use support::bench::{Bench, SECS, config, header};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=sendrecv\r\n";
/// Where the bench's driver binds a call's bearer: the flow's private IP and the bearer port.
const BEARER: &str = "10.1.0.2:40000";
/// The relay's address in `OFFER`.
const RELAY: &str = "192.0.2.10:30000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An SDP of ours as the far end reads it (where to send, codec, our direction).
fn ours(body: &[u8]) -> Negotiated {
    media::offer::negotiated(std::str::from_utf8(body).unwrap(), None).unwrap()
}

/// The o= version of an SDP.
fn o_version(body: &[u8]) -> u64 {
    let text = std::str::from_utf8(body).unwrap();
    let o = text.lines().find(|l| l.starts_with("o=")).unwrap();
    o.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// The stream a `Start` asks for.
fn started(commands: &[MediaCommand]) -> Vec<Negotiated> {
    commands
        .iter()
        .filter_map(|c| match c {
            MediaCommand::Start { stream, .. } => Some(stream.clone()),
            _ => None,
        })
        .collect()
}

/// The switch's INVITE down the flow (Contact as the contract says).
fn invite(branch: &str, call_id: &str, cseq: u32, to_tag: Option<&str>, sdp: Option<&str>) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let (ct, body) = match sdp {
        Some(b) => ("Content-Type: application/sdp\r\n".to_owned(), b),
        None => (String::new(), ""),
    };
    format!(
        "INVITE sip:1001@10.1.0.2:40001;transport=tcp;ob SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.10:5060;branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:1002@switch.local>;tag=sw1\r\nTo: <sip:1001@switch.local>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:switch@192.0.2.10:5060;transport=tcp>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A request in the switch's dialog (BYE, ACK, CANCEL).
fn in_dialog(method: &str, branch: &str, call_id: &str, cseq: u32, to_tag: Option<&str>) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "{method} sip:1001@10.1.0.2:40001;transport=tcp;ob SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.10:5060;branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:1002@switch.local>;tag=sw1\r\nTo: <sip:1001@switch.local>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

impl Bench {
    fn deliver(&mut self, flow: FlowId, raw: &str) {
        self.ua.handle_message(self.now, flow, sipcore::parse(Bytes::from(raw.to_owned())).unwrap());
        self.settle();
    }

    fn responses(&mut self) -> Vec<Response> {
        self.outputs()
            .into_iter()
            .filter_map(|t| match t {
                Output::Send { message: Message::Response(r), .. } => Some(r),
                _ => None,
            })
            .collect()
    }

    fn requests(&mut self) -> Vec<Request> {
        self.outputs()
            .into_iter()
            .filter_map(|t| match t {
                Output::Send { message: Message::Request(r), .. } => Some(r),
                _ => None,
            })
            .collect()
    }

    fn call_events(&mut self) -> Vec<CallEvent> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Call(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// Registered, then the switch's INVITE rang: the call and its To tag.
    fn ringing(&mut self) -> (FlowId, CallId, String) {
        let (flow, _) = self.registered();
        self.deliver(flow, &invite("z9hG4bKinv1", "c1@sw", 1, None, Some(OFFER)));
        let r = self.responses();
        assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![100, 180], "100 then 180");
        let tag = r[1].headers.to_addr().unwrap().tag().unwrap().to_owned();
        assert!(r[1].headers.get(&HeaderName::Contact).unwrap().contains("sip:1001@10.1.0.2"));
        let ev = self.call_events();
        let [CallEvent::Incoming { id, from, to, offer }] = ev.as_slice() else { panic!("{ev:?}") };
        assert_eq!((from.as_str(), to.as_str(), offer.as_ref()), ("sip:1002@switch.local", "sip:1001@switch.local", OFFER.as_bytes()));
        (flow, *id, tag)
    }

    /// Answered and ACKed: the core asked for a bearer, answered the offer
    /// with it (PCMU, the only codec offered) and started the stream toward
    /// the relay. Also returns the SDP answer sent.
    fn answered(&mut self) -> (FlowId, CallId, String, Bytes) {
        let (flow, id, tag) = self.ringing();
        assert!(self.media_commands().is_empty(), "no bearer before the answer");
        self.ua.answer_call(self.now, id).unwrap();
        let r = self.responses();
        let [ok] = r.as_slice() else { panic!("{r:?}") };
        assert_eq!(ok.status, 200);
        assert_eq!(ok.headers.to_addr().unwrap().tag(), Some(tag.as_str()), "the 180's tag: one dialog");
        let answer = ours(&ok.body);
        assert_eq!((answer.remote, answer.codec, answer.direction), (addr(BEARER), media::offer::Codec::Pcmu, Direction::SendRecv));
        assert_eq!(o_version(&ok.body), 1);
        assert_eq!(header_of(ok, HeaderName::ContentType).as_deref(), Some("application/sdp"));
        assert_eq!(header_of(ok, HeaderName::ContentLength), Some(ok.body.len().to_string()));
        let media = self.media_commands();
        let [MediaCommand::Open { call, local }, MediaCommand::Start { call: c2, stream }] = media.as_slice() else { panic!("{media:?}") };
        assert_eq!((*call, *local, *c2), (id, addr(BEARER), id));
        assert_eq!((stream.remote, stream.direction), (addr(RELAY), Direction::SendRecv));
        let ev = self.events();
        assert!(
            matches!(ev.as_slice(), [Event::Call(CallEvent::Answered { id: i, remote_sdp, local_sdp }), Event::Media(MediaEvent::Started { local, remote, .. })]
                if *i == id && remote_sdp == OFFER.as_bytes() && *local_sdp == ok.body && *local == addr(BEARER) && *remote == addr(RELAY)),
            "{ev:?}"
        );
        self.deliver(flow, &in_dialog("ACK", "z9hG4bKack1", "c1@sw", 1, Some(&tag)));
        assert!(self.outputs().is_empty(), "nothing answers an ACK");
        (flow, id, tag, ok.body.clone())
    }
}

fn header_of(r: &Response, name: HeaderName) -> Option<String> {
    r.headers.get(&name).map(str::to_owned)
}

#[test]
fn incoming_call_answered_then_ended_by_the_switch_bye() {
    let mut b = Bench::new(config());
    let (flow, id, tag, _) = b.answered();
    b.deliver(flow, &in_dialog("BYE", "z9hG4bKbye1", "c1@sw", 2, Some(&tag)));
    let r = b.responses();
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Remote, reason: EndReason::Hangup, status: None }]);
    assert_eq!(b.media_commands(), vec![MediaCommand::Close { call: id }]);
    assert!(b.ua.calls().is_empty());
    // The same BYE again names no dialog now.
    b.deliver(flow, &in_dialog("BYE", "z9hG4bKbye2", "c1@sw", 3, Some(&tag)));
    assert_eq!(b.responses().iter().map(|r| r.status).collect::<Vec<_>>(), vec![481]);
}

#[test]
fn cancel_before_answer_gets_200_and_the_invite_487() {
    let mut b = Bench::new(config());
    let (flow, id, _) = b.ringing();
    b.deliver(flow, &in_dialog("CANCEL", "z9hG4bKinv1", "c1@sw", 1, None));
    let r = b.responses();
    let statuses: Vec<_> = r.iter().map(|r| (r.status, r.headers.cseq().unwrap().method)).collect();
    assert_eq!(statuses, vec![(200, Method::Cancel), (487, Method::Invite)]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Remote, reason: EndReason::Cancelled, status: Some(487) }]);
    assert!(matches!(b.ua.answer_call(b.now, id), Err(Error::Call(CallError::NoSuchCall(i))) if i == id));
    assert!(b.media_commands().is_empty(), "no bearer was ever asked for");
}

#[test]
fn reject_answers_the_status_with_the_dialog_tag() {
    let mut b = Bench::new(config());
    let (_, id, tag) = b.ringing();
    assert!(b.ua.reject_call(b.now, id, StatusCode::OK).is_err(), "a 2xx is no rejection");
    b.ua.reject_call(b.now, id, StatusCode::BUSY_HERE).unwrap();
    let r = b.responses();
    let [busy] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((busy.status, busy.headers.to_addr().unwrap().tag()), (486, Some(tag.as_str())));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Rejected, status: Some(486) }]);
}

#[test]
fn local_hangup_sends_bye_in_the_dialog() {
    let mut b = Bench::new(config());
    let (_, id, tag, _) = b.answered();
    b.ua.hangup(b.now, id).unwrap();
    let r = b.requests();
    let [bye] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri, "sip:switch@192.0.2.10:5060;transport=tcp", "to the switch's Contact (remote target)");
    assert_eq!(bye.headers.from_addr().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(bye.headers.to_addr().unwrap().tag(), Some("sw1"));
    assert_eq!(bye.headers.call_id().unwrap(), "c1@sw");
    assert_eq!(bye.headers.cseq().unwrap().seq, 1, "our own CSeq space starts here");
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }]);
}

/// The switch puts us on hold (its offer `sendonly`): the call core answers
/// `recvonly` with a new o= version and retargets the stream; an offer it
/// cannot use is refused 488 and changes nothing (rollback).
#[test]
fn reinvite_for_hold_is_answered_by_the_call_core_and_retargets_the_stream() {
    let mut b = Bench::new(config());
    let (flow, id, tag, first) = b.answered();
    let hold = OFFER.replace("sendrecv", "sendonly");
    b.deliver(flow, &invite("z9hG4bKre1", "c1@sw", 2, Some(&tag), Some(&hold)));
    let r = b.responses();
    let ok = r.iter().find(|r| r.status >= 200).unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.to_addr().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(ours(&ok.body).direction, Direction::RecvOnly, "the hold mirrored");
    assert_eq!(o_version(&ok.body), o_version(&first) + 1, "a new SDP: the o= version moves on");
    let ev = b.call_events();
    assert!(
        matches!(ev.as_slice(), [CallEvent::Reoffer { id: i, offer }, CallEvent::Updated { local_sdp, remote_sdp, .. }]
            if *i == id && offer == hold.as_bytes() && *local_sdp == ok.body && remote_sdp == hold.as_bytes()),
        "{ev:?}"
    );
    let media = b.media_commands();
    assert_eq!(started(&media).iter().map(|s| (s.remote, s.direction)).collect::<Vec<_>>(), vec![(addr(RELAY), Direction::SendOnly)]);
    assert_eq!(media.len(), 1, "{media:?}");
    // An old CSeq is out of order; an unknown dialog does not exist.
    b.deliver(flow, &invite("z9hG4bKre2", "c1@sw", 2, Some(&tag), Some(OFFER)));
    assert!(b.responses().iter().any(|r| r.status == 500));
    b.deliver(flow, &invite("z9hG4bKre3", "other@sw", 5, Some("nope"), Some(OFFER)));
    assert!(b.responses().iter().any(|r| r.status == 481));
    // An offer we cannot use (G.729 only) is refused; the call and its session stay.
    let g729 = OFFER.replace("RTP/AVP 0", "RTP/AVP 18");
    b.deliver(flow, &invite("z9hG4bKre4", "c1@sw", 3, Some(&tag), Some(&g729)));
    assert!(b.responses().iter().any(|r| r.status == 488));
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Reoffer { .. }]), "no Updated for a refused offer");
    assert!(b.media_commands().is_empty(), "the stream goes on as it was");
    assert_eq!(b.ua.calls(), vec![id]);
    b.deliver(flow, &invite("z9hG4bKre5", "c1@sw", 4, Some(&tag), Some(OFFER)));
    let r = b.responses();
    let ok = r.iter().find(|r| r.status >= 200).unwrap();
    assert_eq!((ok.status, o_version(&ok.body)), (200, o_version(&first) + 2), "the refused offer cost no version");
    assert_eq!(started(&b.media_commands()).iter().map(|s| s.direction).collect::<Vec<_>>(), vec![Direction::SendRecv]);
}

#[test]
fn hostile_invites_get_clear_statuses() {
    let mut b = Bench::new(config());
    let (flow, _) = b.registered();
    let not_sdp = invite("z9hG4bKh1", "h1@sw", 1, None, Some("hello")).replace("application/sdp", "text/plain");
    b.deliver(flow, &not_sdp);
    let r = b.responses();
    assert_eq!((r[0].status, r[0].reason.as_ref()), (488, "Not Acceptable Here (the body is not a usable SDP offer)"));
    let no_contact =
        invite("z9hG4bKh2", "h2@sw", 1, None, Some(OFFER)).replace("Contact: <sip:switch@192.0.2.10:5060;transport=tcp>\r\n", "");
    b.deliver(flow, &no_contact);
    assert_eq!(b.responses()[0].status, 400);
    let no_tag = invite("z9hG4bKh3", "h3@sw", 1, None, Some(OFFER)).replace(";tag=sw1", "");
    b.deliver(flow, &no_tag);
    assert_eq!(b.responses()[0].status, 400);
    // More calls than a phone holds: 486.
    for i in 0..agent::MAX_CALLS {
        b.deliver(flow, &invite(&format!("z9hG4bKm{i}"), &format!("m{i}@sw"), 1, None, Some(OFFER)));
    }
    b.responses();
    b.deliver(flow, &invite("z9hG4bKmx", "mx@sw", 1, None, Some(OFFER)));
    assert_eq!(b.responses().last().map(|r| r.status), Some(486));
    assert!(b.events().iter().all(|e| !matches!(e, Event::IncomingRequest { .. })));
}

/// The switch's answer to an agent's INVITE.
fn reply_to(req: &Request, status: u16, to_tag: Option<&str>, sdp: Option<&str>) -> Response {
    let mut r = Response::to_request(req, status);
    if let Some(t) = to_tag {
        let to = r.headers.get(&HeaderName::To).unwrap().to_owned();
        r.headers.set(HeaderName::To, format!("{to};tag={t}"));
    }
    if status < 300 && status > 100 {
        r.headers.push(HeaderName::Contact, "<sip:switch@192.0.2.10:5060;transport=tcp>");
    }
    if let Some(s) = sdp {
        r.headers.set(HeaderName::ContentType, "application/sdp");
        r.headers.set(HeaderName::ContentLength, s.len().to_string());
        r.body = Bytes::from(s.to_owned());
    }
    r
}

impl Bench {
    fn switch_says(&mut self, flow: FlowId, resp: Response) {
        let wire = Message::Response(resp).to_bytes();
        self.ua.handle_message(self.now, flow, sipcore::parse(wire).unwrap());
        self.settle();
    }

    /// Calls 1002; the switch challenges (407) and the agent answers with
    /// credentials the digest server accepts. Returns the authorised INVITE.
    fn calling(&mut self) -> (FlowId, CallId, Request) {
        let (flow, _) = self.registered();
        let id = self.ua.call(self.now, "1002").unwrap();
        let r = self.requests();
        let [first] = r.as_slice() else { panic!("{r:?}") };
        assert_eq!(self.media_commands(), vec![MediaCommand::Open { call: id, local: addr(BEARER) }], "the bearer before the INVITE");
        assert_eq!((first.method.clone(), first.uri.as_ref()), (Method::Invite, "sip:1002@switch.local"));
        assert_eq!(first.headers.from_addr().unwrap().uri.as_str(), "sip:1001@switch.local");
        assert!(first.headers.to_addr().unwrap().tag().is_none());
        assert!(header(first, HeaderName::Contact).unwrap().contains("sip:1001@10.1.0.2"));
        let offer = ours(&first.body);
        assert_eq!(
            (offer.remote, offer.codec, offer.dtmf_pt, offer.direction),
            (addr(BEARER), media::offer::Codec::Pcmu, Some(101), Direction::SendRecv)
        );
        assert!(std::str::from_utf8(&first.body).unwrap().contains("a=rtpmap:8 PCMA/8000"), "both G.711 laws offered");
        let ch: Vec<String> = self.digest.challenge(self.unix(), None, false).iter().map(|c| c.to_string()).collect();
        let mut challenge = reply_to(first, 407, Some("sw9"), None);
        challenge.headers.push(HeaderName::ProxyAuthenticate, ch[0].clone());
        self.switch_says(flow, challenge);
        let r = self.requests();
        // The transaction ACKs the 407 itself; the new INVITE follows.
        let acks: Vec<_> = r.iter().filter(|r| r.method == Method::Ack).collect();
        assert_eq!(acks.len(), 1, "{r:?}");
        let second = r.iter().find(|r| r.method == Method::Invite).unwrap().clone();
        assert_eq!(second.headers.call_id().unwrap(), first.headers.call_id().unwrap());
        assert_eq!(second.headers.from_addr().unwrap().tag(), first.headers.from_addr().unwrap().tag());
        assert_eq!(second.headers.cseq().unwrap().seq, first.headers.cseq().unwrap().seq + 1);
        assert_eq!(second.body, first.body, "the same offer");
        let creds = parse_credentials(second.headers.get(&HeaderName::ProxyAuthorization).unwrap()).unwrap();
        let unix = self.unix();
        self.digest
            .verify(unix, &DigestRequest::new("INVITE", &second.uri), None, &creds, Some(Secret::Password("pw")))
            .expect("the REGISTER credentials serve the INVITE");
        assert!(self.call_events().is_empty());
        (flow, id, second)
    }
}

#[test]
fn outgoing_call_authenticates_rings_is_answered_acked_and_hung_up() {
    let mut b = Bench::new(config());
    let (flow, id, inv) = b.calling();
    b.switch_says(flow, reply_to(&inv, 180, Some("sw2"), None));
    assert_eq!(b.call_events(), vec![CallEvent::Ringing { id, status: 180, sdp: None }]);
    b.switch_says(flow, reply_to(&inv, 200, Some("sw2"), Some(OFFER)));
    let r = b.requests();
    let [ack] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((ack.method.clone(), ack.uri.as_ref()), (Method::Ack, "sip:switch@192.0.2.10:5060;transport=tcp"));
    assert_eq!(ack.headers.cseq().unwrap().seq, inv.headers.cseq().unwrap().seq, "the INVITE's CSeq number");
    assert_ne!(ack.headers.top_via().unwrap().branch(), inv.headers.top_via().unwrap().branch(), "a 2xx ACK is its own transaction");
    assert_eq!(ack.headers.to_addr().unwrap().tag(), Some("sw2"));
    assert!(ack.headers.get(&HeaderName::ProxyAuthorization).is_some());
    let ev = b.call_events();
    assert!(matches!(ev.as_slice(), [CallEvent::Answered { remote_sdp, .. }] if remote_sdp == OFFER.as_bytes()), "{ev:?}");
    assert_eq!(started(&b.media_commands()).iter().map(|s| s.remote).collect::<Vec<_>>(), vec![addr(RELAY)]);
    b.ua.hangup(b.now, id).unwrap();
    let r = b.requests();
    let [bye] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.headers.cseq().unwrap().seq, inv.headers.cseq().unwrap().seq + 1);
    assert_eq!(bye.headers.to_addr().unwrap().tag(), Some("sw2"));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }]);
    b.switch_says(flow, Response::to_request(bye, 200));
    assert!(b.call_events().is_empty());
}

#[test]
fn outgoing_call_refused_busy_is_an_event() {
    let mut b = Bench::new(config());
    let (flow, id, inv) = b.calling();
    b.switch_says(flow, reply_to(&inv, 486, Some("sw3"), None));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Remote, reason: EndReason::Rejected, status: Some(486) }]);
    assert!(b.requests().iter().all(|r| r.method == Method::Ack), "the transaction ACKs the 486");
}

#[test]
fn hangup_before_any_provisional_cancels_on_the_first_one() {
    let mut b = Bench::new(config());
    let (flow, id, inv) = b.calling();
    b.ua.hangup(b.now, id).unwrap();
    assert!(b.requests().is_empty(), "no CANCEL before a provisional response (§9.1)");
    b.switch_says(flow, reply_to(&inv, 180, Some("sw4"), None));
    let r = b.requests();
    let [cancel] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.headers.top_via().unwrap().branch(), inv.headers.top_via().unwrap().branch());
    assert!(b.call_events().is_empty(), "no ringing for a call being cancelled");
    b.switch_says(flow, Response::to_request(cancel, 200));
    b.switch_says(flow, reply_to(&inv, 487, Some("sw4"), None));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Cancelled, status: Some(487) }]);
}

#[test]
fn unanswered_invite_times_out_after_timer_b() {
    let mut b = Bench::new(config());
    let (_, id, _) = b.calling();
    b.advance(SECS(31));
    assert!(b.call_events().is_empty());
    b.advance(SECS(1));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::Timeout, status: Some(408) }]);
}

#[test]
fn flow_loss_ends_a_ringing_call_at_once() {
    let mut b = Bench::new(config());
    let (flow, id, _) = b.ringing();
    b.ua.handle_flow_closed(b.now, flow, "reset".into());
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: None }]);
    assert!(b.ua.call(b.now, "1002").is_err(), "no flow, no call");
    assert!(matches!(b.ua.call(b.now, "10 02"), Err(Error::Call(CallError::NoFlow))));
}

/// The flow dies under an answered call and no new one comes: the call
/// waits the grace time, then ends as lost.
#[test]
fn an_answered_call_outlives_its_flow_for_the_grace_time_only() {
    let mut cfg = config();
    cfg.backoff.base = SECS(300);
    let grace = cfg.call_rejoin_grace;
    let mut b = Bench::new(cfg);
    let (flow, id, _, _) = b.answered();
    b.ua.handle_flow_closed(b.now, flow, "reset".into());
    assert_eq!(b.call_events(), vec![CallEvent::Interrupted { id, rejoin_within: grace }]);
    assert_eq!(b.ua.calls(), vec![id]);
    // Every reconnect fails: no flow within the grace.
    b.outputs();
    b.ua.handle_connect_failed(b.now, &"unreachable");
    b.advance(grace - SECS(1));
    assert!(b.call_events().is_empty(), "still waiting");
    b.advance(SECS(2));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: None }]);
    assert!(b.ua.calls().is_empty());
}

/// Lost the flow, reconnected and registered again: the call re-INVITEs
/// on the new flow with the SDP it last sent, so the switch follows it.
#[test]
fn an_answered_call_rejoins_with_a_reinvite_on_the_new_flow() {
    let mut b = Bench::new(config());
    let (flow, id, tag, first) = b.answered();
    b.ua.handle_flow_closed(b.now, flow, "reset".into());
    b.call_events();
    assert!(b.media_commands().is_empty(), "the stream goes on while the call waits");
    let flow2 = b.connect();
    assert_ne!(flow2.id, flow);
    b.probe_round();
    b.register_round(600);
    let reinvite = b.requests();
    let [re] = reinvite.as_slice() else { panic!("{reinvite:?}") };
    assert_eq!(re.method, Method::Invite);
    assert_eq!(re.headers.call_id().unwrap(), "c1@sw");
    assert_eq!(re.headers.from_addr().unwrap().tag(), Some(tag.as_str()), "our tag: the same dialog");
    assert_eq!(re.headers.to_addr().unwrap().tag(), Some("sw1"));
    assert_eq!(re.body, first, "the SDP last sent, unchanged");
    assert!(header_of_req(re, HeaderName::Contact).unwrap().contains(&format!(":{}", flow2.local.port())), "the new flow's Contact");
    let mut ok = Response::to_request(re, 200);
    ok.headers.set(HeaderName::ContentType, "application/sdp");
    ok.headers.set(HeaderName::ContentLength, OFFER.len().to_string());
    ok.body = Bytes::from_static(OFFER.as_bytes());
    b.ua.handle_message(b.now, flow2.id, sipcore::parse(Message::Response(ok).to_bytes()).unwrap());
    b.settle();
    assert_eq!(b.requests().iter().map(|r| r.method.clone()).collect::<Vec<_>>(), vec![Method::Ack]);
    let ev = b.call_events();
    assert!(matches!(ev.as_slice(), [CallEvent::Rejoined { id: i }, CallEvent::Updated { .. }] if *i == id), "{ev:?}");
    assert!(b.media_commands().is_empty(), "same address, same SDP: the stream stays as it is");
    // The grace (30 s) is forgotten: past it, with the flow alive (its first
    // ping not yet due for a pong), the call goes on.
    b.advance(SECS(31));
    assert_eq!(b.ua.calls(), vec![id]);
    assert!(b.call_events().is_empty());
}

/// The switch restarted while the flow was down: it knows no such dialog
/// (481), so the call ends as lost, with no BYE into the void.
#[test]
fn a_rejoin_answered_481_ends_the_call_as_lost() {
    let mut b = Bench::new(config());
    let (flow, id, _, _) = b.answered();
    b.ua.handle_flow_closed(b.now, flow, "reset".into());
    b.call_events();
    let flow2 = b.connect();
    b.probe_round();
    b.register_round(600);
    let reinvite = b.requests();
    let [re] = reinvite.as_slice() else { panic!("{reinvite:?}") };
    b.answer(flow2.id, re, 481, &[]);
    assert!(b.requests().iter().all(|r| r.method != Method::Bye), "no BYE for a dialog the switch does not know");
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: Some(481) }]);
}

/// Hanging up while the call waits for a flow ends it here at once.
#[test]
fn hanging_up_while_the_flow_is_down_ends_the_call_locally() {
    let mut b = Bench::new(config());
    let (flow, id, _, _) = b.answered();
    b.ua.handle_flow_closed(b.now, flow, "reset".into());
    b.call_events();
    b.ua.hangup(b.now, id).unwrap();
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }]);
    assert!(matches!(b.ua.hangup(b.now, id), Err(Error::Call(CallError::NoSuchCall(i))) if i == id));
}

/// The flow died because the phone's own address went away (it changed
/// networks): the call waits; registered again from the new address, it asks
/// for an offer naming that address and re-INVITEs with it.
#[test]
fn a_call_whose_local_address_changed_rejoins_with_a_new_offer() {
    let mut b = Bench::new(config());
    let (_, id, _, first) = b.answered();
    b.ua.handle_network_change(b.now, true);
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Interrupted { id: i, .. }] if *i == id));
    b.outputs();
    b.manual_media = true;
    let flow2 = b.connect_from("10.9.0.7".parse().unwrap());
    b.probe_round();
    b.register_round(600);
    assert!(b.requests().is_empty(), "no re-INVITE before the media has moved");
    assert_eq!(b.call_events(), vec![CallEvent::Relocating { id, local: "10.9.0.7".parse().unwrap() }]);
    let media = b.media_commands();
    assert_eq!(media, vec![MediaCommand::Rebind { call: id, local: addr("10.9.0.7:40000") }]);
    // The driver bound the new bearer on an ephemeral port: the offer names it.
    b.ua.handle_media_opened(b.now, id, addr("10.9.0.7:41234"));
    let reinvite = b.requests();
    let [re] = reinvite.as_slice() else { panic!("{reinvite:?}") };
    assert_eq!(re.method, Method::Invite);
    let moved = ours(&re.body);
    assert_eq!((moved.remote, moved.direction), (addr("10.9.0.7:41234"), Direction::SendRecv));
    assert_eq!(o_version(&re.body), o_version(&first) + 1, "a new address is a new SDP");
    b.manual_media = false;
    b.answer(flow2.id, re, 481, &[]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: Some(481) }]);
    assert_eq!(b.media_commands(), vec![MediaCommand::Close { call: id }]);
    // Only a call that is there can be held.
    assert!(matches!(b.ua.hold(b.now, id), Err(Error::Call(CallError::NoSuchCall(i))) if i == id));
}

/// The phone changes networks under a call it holds: the move must not undo
/// the hold (a refused resume before it rolled back to the hold), and the
/// answer to the move's re-INVITE restarts the stream on the new bearer.
#[test]
fn a_held_call_that_moves_offers_the_hold_again_and_restarts_on_the_new_bearer() {
    let mut b = Bench::new(config());
    let (flow, id, _, first) = b.answered();
    b.ua.hold(b.now, id).unwrap();
    let r = b.requests();
    let [hold] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!(ours(&hold.body).direction, Direction::SendOnly);
    b.switch_says(flow, reply_to(hold, 200, None, Some(&OFFER.replace("sendrecv", "recvonly"))));
    b.requests();
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Updated { .. }]));
    assert_eq!(started(&b.media_commands()).iter().map(|s| s.direction).collect::<Vec<_>>(), vec![Direction::RecvOnly]);
    // A resume crossing the switch's own re-INVITE: 491, rolled back to the hold.
    b.ua.resume(b.now, id).unwrap();
    let r = b.requests();
    let [resume] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!(ours(&resume.body).direction, Direction::SendRecv);
    b.switch_says(flow, reply_to(resume, 491, None, None));
    assert_eq!(b.call_events(), vec![CallEvent::ReofferRejected { id, status: 491 }]);
    assert!(b.media_commands().is_empty(), "a refused re-offer leaves the stream as it was");
    // The phone moves.
    b.ua.handle_network_change(b.now, true);
    b.call_events();
    b.outputs();
    let flow2 = b.connect_from("10.9.0.7".parse().unwrap());
    b.probe_round();
    b.register_round(600);
    let reinvite = b.requests();
    let [re] = reinvite.as_slice() else { panic!("{reinvite:?}") };
    let moved = ours(&re.body);
    assert_eq!((moved.remote, moved.direction), (addr("10.9.0.7:40000"), Direction::SendOnly), "still held, from the new address");
    assert_eq!(o_version(&re.body), o_version(&first) + 3, "every SDP sent had its own version, the refused one too");
    assert_eq!(b.call_events(), vec![CallEvent::Relocating { id, local: "10.9.0.7".parse().unwrap() }]);
    assert_eq!(b.media_commands(), vec![MediaCommand::Rebind { call: id, local: addr("10.9.0.7:40000") }]);
    b.switch_says(flow2.id, reply_to(re, 200, None, Some(&OFFER.replace("sendrecv", "recvonly").replace("30000", "30002"))));
    assert_eq!(b.requests().iter().map(|r| r.method.clone()).collect::<Vec<_>>(), vec![Method::Ack]);
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Rejoined { .. }, CallEvent::Updated { .. }]));
    let restarted = started(&b.media_commands());
    assert_eq!(
        restarted.iter().map(|s| (s.remote, s.direction)).collect::<Vec<_>>(),
        vec![(addr("192.0.2.10:30002"), Direction::RecvOnly)]
    );
}

/// The new flow dies too before the call moved (the driver had not yet
/// offered): the call keeps its first deadline and still asks to move, since
/// its media is still on the first address.
#[test]
fn losing_the_next_flow_too_keeps_the_first_deadline_and_address() {
    let grace = config().call_rejoin_grace;
    let mut b = Bench::new(config());
    let (_, id, _, _) = b.answered();
    let lost_at = b.now;
    b.ua.handle_network_change(b.now, true);
    b.call_events();
    b.outputs();
    // The driver is slow to bind: the Rebind is left unanswered.
    b.manual_media = true;
    let flow2 = b.connect_from("10.9.0.7".parse().unwrap());
    b.probe_round();
    b.register_round(600);
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Relocating { .. }]));
    assert!(matches!(b.media_commands().as_slice(), [MediaCommand::Rebind { .. }]));
    b.advance(SECS(5));
    b.ua.handle_flow_closed(b.now, flow2.id, "reset".into());
    assert!(b.call_events().is_empty(), "still the same interruption");
    b.outputs();
    b.connect_from("10.9.0.7".parse().unwrap());
    b.probe_round();
    b.register_round(600);
    assert_eq!(b.call_events(), vec![CallEvent::Relocating { id, local: "10.9.0.7".parse().unwrap() }]);
    assert!(matches!(b.media_commands().as_slice(), [MediaCommand::Rebind { .. }]), "asked again");
    b.manual_media = false;
    b.advance_to(lost_at + grace);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: None }]);
    assert_eq!(b.media_commands(), vec![MediaCommand::Close { call: id }], "the bearer, wherever it is, is closed");
}

fn header_of_req(r: &Request, name: HeaderName) -> Option<String> {
    r.headers.get(&name).map(str::to_owned)
}

#[test]
fn stop_hangs_up_before_unregistering() {
    let mut b = Bench::new(config());
    let (_, id, _, _) = b.answered();
    b.ua.stop(b.now);
    let methods: Vec<_> = b.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, vec![Method::Bye, Method::Register]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }]);
}

#[test]
fn a_2xx_crossing_our_cancel_is_acked_then_ended_with_bye() {
    let mut b = Bench::new(config());
    let (flow, id, inv) = b.calling();
    b.switch_says(flow, reply_to(&inv, 180, Some("sw5"), None));
    b.call_events();
    b.ua.hangup(b.now, id).unwrap();
    assert_eq!(b.requests().iter().map(|r| r.method.clone()).collect::<Vec<_>>(), vec![Method::Cancel]);
    // The callee answered before the CANCEL reached it (§9.1): the call exists, so ACK and BYE it.
    b.switch_says(flow, reply_to(&inv, 200, Some("sw5"), Some(OFFER)));
    let methods: Vec<_> = b.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }]);
}

#[test]
fn a_2xx_without_an_sdp_answer_is_acked_and_hung_up() {
    let mut b = Bench::new(config());
    let (flow, id, inv) = b.calling();
    b.switch_says(flow, reply_to(&inv, 200, Some("sw6"), None));
    let methods: Vec<_> = b.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye], "ACK first (the 2xx must be acknowledged), then BYE");
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }]);
}

#[test]
fn oversized_sdp_cancel_of_nothing_and_offerless_reinvites_are_refused_clearly() {
    let mut b = Bench::new(config());
    let (flow, _, tag, _) = b.answered();
    // An SDP body over 16 KiB is not taken.
    let big = format!("{OFFER}{}", "a=x-pad:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n".repeat(300));
    b.deliver(flow, &invite("z9hG4bKbig", "big@sw", 1, None, Some(&big)));
    assert_eq!(b.responses().first().map(|r| r.status), Some(488));
    // A CANCEL for a transaction we never saw: 481.
    b.deliver(flow, &in_dialog("CANCEL", "z9hG4bKnone", "none@sw", 1, None));
    assert_eq!(b.responses().iter().map(|r| r.status).collect::<Vec<_>>(), vec![481]);
    // The call core answers a re-INVITE at once, so none waits when the next
    // comes; but one without an offer cannot be answered (we make no offers
    // in a 2xx to a re-INVITE): 488, and the call goes on.
    b.deliver(flow, &invite("z9hG4bKr1", "c1@sw", 2, Some(&tag), Some(OFFER)));
    assert_eq!(b.responses().iter().find(|r| r.status >= 200).map(|r| r.status), Some(200));
    b.deliver(flow, &invite("z9hG4bKr2", "c1@sw", 3, Some(&tag), None));
    let r = b.responses();
    let last = r.iter().find(|r| r.status >= 200).unwrap();
    assert_eq!((last.status, last.reason.as_ref()), (488, "Not Acceptable Here (an SDP offer is required)"));
    assert_eq!(b.ua.calls().len(), 1);
}

#[test]
fn our_reinvite_for_hold_is_acked_on_2xx_and_glare_gets_491() {
    let mut b = Bench::new(config());
    let (flow, id, tag, first) = b.answered();
    b.ua.hold(b.now, id).unwrap();
    assert!(b.ua.hold(b.now, id).is_err(), "one re-INVITE at a time");
    assert!(b.ua.resume(b.now, id).is_err(), "one re-INVITE at a time");
    let r = b.requests();
    let [reinvite] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((reinvite.method.clone(), reinvite.uri.as_ref()), (Method::Invite, "sip:switch@192.0.2.10:5060;transport=tcp"));
    assert_eq!(reinvite.headers.from_addr().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(reinvite.headers.to_addr().unwrap().tag(), Some("sw1"));
    let hold = ours(&reinvite.body);
    assert_eq!((hold.remote, hold.direction), (addr(BEARER), Direction::SendOnly), "the same bearer, sendonly");
    assert_eq!(o_version(&reinvite.body), o_version(&first) + 1);
    assert!(b.media_commands().is_empty(), "nothing changes before the answer");
    // The switch's own re-INVITE crossing ours: 491 (§14.2).
    b.deliver(flow, &invite("z9hG4bKglare", "c1@sw", 2, Some(&tag), Some(OFFER)));
    assert!(b.responses().iter().any(|r| r.status == 491));
    let held = OFFER.replace("sendrecv", "recvonly");
    let mut ok = Response::to_request(reinvite, 200);
    ok.headers.set(HeaderName::ContentType, "application/sdp");
    ok.headers.set(HeaderName::ContentLength, held.len().to_string());
    ok.body = Bytes::from(held.clone());
    b.switch_says(flow, ok);
    let r = b.requests();
    let [ack] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((ack.method.clone(), ack.headers.cseq().unwrap().seq), (Method::Ack, reinvite.headers.cseq().unwrap().seq));
    let ev = b.call_events();
    assert!(
        matches!(ev.as_slice(), [CallEvent::Updated { remote_sdp, local_sdp, .. }] if remote_sdp == held.as_bytes() && *local_sdp == reinvite.body),
        "{ev:?}"
    );
    assert_eq!(started(&b.media_commands()).iter().map(|s| s.direction).collect::<Vec<_>>(), vec![Direction::RecvOnly]);
    // A refused re-INVITE leaves the call as it was.
    b.ua.resume(b.now, id).unwrap();
    let r = b.requests();
    b.switch_says(flow, Response::to_request(&r[0], 488));
    assert_eq!(b.call_events(), vec![CallEvent::ReofferRejected { id, status: 488 }]);
    assert!(b.media_commands().is_empty(), "no retarget for a refused offer");
    assert_eq!(b.ua.calls(), vec![id]);
}

#[test]
fn late_offer_our_200_offers_and_the_ack_answers() {
    let mut b = Bench::new(config());
    let (flow, _) = b.registered();
    b.deliver(flow, &invite("z9hG4bKlate", "late@sw", 1, None, None));
    assert_eq!(b.responses().iter().map(|r| r.status).collect::<Vec<_>>(), vec![100, 180]);
    let ev = b.call_events();
    let [CallEvent::Incoming { id, offer, .. }] = ev.as_slice() else { panic!("{ev:?}") };
    assert!(offer.is_empty(), "no offer: ours goes in the 200");
    let id = *id;
    b.ua.answer_call(b.now, id).unwrap();
    let r = b.responses();
    assert_eq!(r[0].status, 200);
    let our_offer = r[0].body.clone();
    let offered = ours(&our_offer);
    assert_eq!((offered.remote, offered.direction), (addr(BEARER), Direction::SendRecv), "our offer names the bearer");
    let tag = r[0].headers.to_addr().unwrap().tag().unwrap().to_owned();
    assert!(b.call_events().is_empty(), "answered only once the ACK brings the answer");
    assert_eq!(b.media_commands(), vec![MediaCommand::Open { call: id, local: addr(BEARER) }], "no stream without an answer");
    let ack = in_dialog("ACK", "z9hG4bKlateA", "late@sw", 1, Some(&tag))
        .replace("Content-Length: 0\r\n\r\n", &format!("Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}", OFFER.len()));
    b.deliver(flow, &ack);
    let ev = b.call_events();
    assert!(
        matches!(ev.as_slice(), [CallEvent::Answered { remote_sdp, local_sdp, .. }] if remote_sdp == OFFER.as_bytes() && *local_sdp == our_offer),
        "{ev:?}"
    );
    assert_eq!(started(&b.media_commands()).iter().map(|s| s.remote).collect::<Vec<_>>(), vec![addr(RELAY)]);

    // An ACK without the answer leaves nothing to talk with: BYE.
    b.deliver(flow, &invite("z9hG4bKlate2", "late2@sw", 1, None, None));
    b.responses();
    let ev = b.call_events();
    let [CallEvent::Incoming { id: id2, .. }] = ev.as_slice() else { panic!("{ev:?}") };
    let id2 = *id2;
    b.ua.answer_call(b.now, id2).unwrap();
    let tag = b.responses()[0].headers.to_addr().unwrap().tag().unwrap().to_owned();
    b.deliver(flow, &in_dialog("ACK", "z9hG4bKlate2A", "late2@sw", 1, Some(&tag)));
    assert_eq!(b.requests().iter().map(|r| r.method.clone()).collect::<Vec<_>>(), vec![Method::Bye]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id: id2, by: Party::Local, reason: EndReason::Hangup, status: None }]);
}

/// The ACK of a late offer brings an answer we cannot use: the media cannot
/// start, so the call is hung up (its media failure said first).
#[test]
fn a_late_answer_we_cannot_use_fails_the_media_and_hangs_up() {
    let mut b = Bench::new(config());
    let (flow, _) = b.registered();
    b.deliver(flow, &invite("z9hG4bKlate3", "late3@sw", 1, None, None));
    b.responses();
    let ev = b.call_events();
    let [CallEvent::Incoming { id, .. }] = ev.as_slice() else { panic!("{ev:?}") };
    let id = *id;
    b.ua.answer_call(b.now, id).unwrap();
    let tag = b.responses()[0].headers.to_addr().unwrap().tag().unwrap().to_owned();
    let g729 = OFFER.replace("RTP/AVP 0", "RTP/AVP 18");
    let ack = in_dialog("ACK", "z9hG4bKlate3A", "late3@sw", 1, Some(&tag))
        .replace("Content-Length: 0\r\n\r\n", &format!("Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{g729}", g729.len()));
    b.deliver(flow, &ack);
    assert_eq!(b.requests().iter().map(|r| r.method.clone()).collect::<Vec<_>>(), vec![Method::Bye]);
    let ev = b.events();
    assert!(
        matches!(ev.as_slice(), [
            Event::Call(CallEvent::Answered { .. }),
            Event::Media(MediaEvent::Failed { id: f, .. }),
            Event::Media(MediaEvent::Stopped { id: s, .. }),
            Event::Call(CallEvent::Ended { id: e, by: Party::Local, reason: EndReason::Hangup, .. }),
        ] if *f == id && *s == id && *e == id),
        "{ev:?}"
    );
    assert!(started(&b.media_commands()).is_empty());
}

/// An offer we cannot use is refused 488 at once, before any bearer is bound.
#[test]
fn an_offer_we_cannot_use_is_refused_488_without_a_bearer() {
    let mut b = Bench::new(config());
    let (flow, _) = b.registered();
    let g729 = OFFER.replace("RTP/AVP 0", "RTP/AVP 18");
    b.deliver(flow, &invite("z9hG4bKg729", "g729@sw", 1, None, Some(&g729)));
    b.responses();
    let ev = b.call_events();
    let [CallEvent::Incoming { id, .. }] = ev.as_slice() else { panic!("{ev:?}") };
    let id = *id;
    let refused = b.ua.answer_call(b.now, id);
    assert!(matches!(refused, Err(Error::Media(media::endpoint::EndpointError::NoCommonCodec))), "{refused:?}");
    let r = b.responses();
    let [nah] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((nah.status, nah.reason.as_ref()), (488, "Not Acceptable Here"));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Rejected, status: Some(488) }]);
    assert!(b.media_commands().is_empty(), "no socket for a call that cannot be");
}

/// The driver cannot bind a bearer: an incoming call is refused 500, an
/// outgoing one never goes out.
#[test]
fn a_bearer_that_cannot_be_bound_refuses_or_drops_the_call() {
    let mut b = Bench::new(config());
    b.manual_media = true;
    let (_, id, _) = b.ringing();
    b.ua.answer_call(b.now, id).unwrap();
    assert!(b.responses().is_empty(), "no 200 before the bearer is bound");
    assert_eq!(b.media_commands(), vec![MediaCommand::Open { call: id, local: addr(BEARER) }]);
    let no_port = media::endpoint::EndpointError::Io(std::io::Error::other("no port"));
    b.ua.handle_media_failed(b.now, id, &no_port);
    let r = b.responses();
    let [failed] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!(failed.status, 500);
    let ev = b.events();
    assert!(
        matches!(
            ev.as_slice(),
            [
                Event::Media(MediaEvent::Failed { .. }),
                Event::Call(CallEvent::Ended { by: Party::Local, reason: EndReason::Rejected, status: Some(500), .. }),
            ]
        ),
        "{ev:?}"
    );
    assert!(b.media_commands().is_empty(), "nothing was bound, nothing to close");

    let out = b.ua.call(b.now, "1002").unwrap();
    assert_eq!(b.media_commands(), vec![MediaCommand::Open { call: out, local: addr(BEARER) }]);
    b.ua.handle_media_failed(b.now, out, &no_port);
    assert!(b.requests().is_empty(), "no INVITE without a bearer");
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id: out, by: Party::Local, reason: EndReason::MediaFailed, status: None }]);
}
