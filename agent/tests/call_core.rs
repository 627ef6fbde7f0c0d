//! The call core (RFC 3261 dialogs) through the sans-IO user agent, on
//! virtual time, against the scripted switch of `support::bench`: what goes
//! up the flow for each step and which [`CallEvent`]s come out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::ua::Output;
use agent::{CallEvent, CallId, EndReason, Event, Party};
use bytes::Bytes;
use sipcore::auth::{DigestRequest, Secret, parse_credentials};
use sipcore::transport::FlowId;
use sipcore::{HeaderName, Message, Method, Request, Response};
use support::bench::{Bench, SECS, config, header};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=sendrecv\r\n";
const ANSWER: &str = "v=0\r\no=- 2 1 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendrecv\r\n";

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

    /// Answered and ACKed.
    fn answered(&mut self) -> (FlowId, CallId, String) {
        let (flow, id, tag) = self.ringing();
        self.ua.answer_call(self.now, id, Bytes::from_static(ANSWER.as_bytes())).unwrap();
        let r = self.responses();
        let [ok] = r.as_slice() else { panic!("{r:?}") };
        assert_eq!(ok.status, 200);
        assert_eq!(ok.headers.to_addr().unwrap().tag(), Some(tag.as_str()), "the 180's tag: one dialog");
        assert_eq!(ok.body.as_ref(), ANSWER.as_bytes());
        assert_eq!(header_of(ok, HeaderName::ContentType).as_deref(), Some("application/sdp"));
        assert_eq!(header_of(ok, HeaderName::ContentLength), Some(ANSWER.len().to_string()));
        let ev = self.call_events();
        assert!(
            matches!(ev.as_slice(), [CallEvent::Answered { id: i, remote_sdp, .. }] if *i == id && remote_sdp == OFFER.as_bytes()),
            "{ev:?}"
        );
        self.deliver(flow, &in_dialog("ACK", "z9hG4bKack1", "c1@sw", 1, Some(&tag)));
        assert!(self.outputs().is_empty(), "nothing answers an ACK");
        (flow, id, tag)
    }
}

fn header_of(r: &Response, name: HeaderName) -> Option<String> {
    r.headers.get(&name).map(str::to_owned)
}

#[test]
fn incoming_call_answered_then_ended_by_the_switch_bye() {
    let mut b = Bench::new(config());
    let (flow, id, tag) = b.answered();
    b.deliver(flow, &in_dialog("BYE", "z9hG4bKbye1", "c1@sw", 2, Some(&tag)));
    let r = b.responses();
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Remote, reason: EndReason::Hangup, status: None }]);
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
    assert_eq!(b.ua.answer_call(b.now, id, Bytes::new()), Err(agent::CallError::NoSuchCall(id)));
}

#[test]
fn reject_answers_the_status_with_the_dialog_tag() {
    let mut b = Bench::new(config());
    let (_, id, tag) = b.ringing();
    assert!(b.ua.reject_call(b.now, id, 200).is_err(), "a 2xx is no rejection");
    b.ua.reject_call(b.now, id, 486).unwrap();
    let r = b.responses();
    let [busy] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((busy.status, busy.headers.to_addr().unwrap().tag()), (486, Some(tag.as_str())));
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Rejected, status: Some(486) }]);
}

#[test]
fn local_hangup_sends_bye_in_the_dialog() {
    let mut b = Bench::new(config());
    let (_, id, tag) = b.answered();
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

#[test]
fn reinvite_for_hold_is_answered_by_the_application() {
    let mut b = Bench::new(config());
    let (flow, id, tag) = b.answered();
    let hold = OFFER.replace("sendrecv", "sendonly");
    b.deliver(flow, &invite("z9hG4bKre1", "c1@sw", 2, Some(&tag), Some(&hold)));
    assert!(b.responses().iter().all(|r| r.status == 100), "only the transaction's 100 so far");
    let ev = b.call_events();
    assert!(matches!(ev.as_slice(), [CallEvent::Reoffer { id: i, offer }] if *i == id && offer == hold.as_bytes()), "{ev:?}");
    let held = ANSWER.replace("sendrecv", "recvonly");
    b.ua.answer_reoffer(b.now, id, Ok(Bytes::from(held.clone()))).unwrap();
    let r = b.responses();
    let [ok] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((ok.status, ok.body.as_ref()), (200, held.as_bytes()));
    assert_eq!(ok.headers.to_addr().unwrap().tag(), Some(tag.as_str()));
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Updated { .. }]));
    // An old CSeq is out of order; an unknown dialog does not exist.
    b.deliver(flow, &invite("z9hG4bKre2", "c1@sw", 2, Some(&tag), Some(OFFER)));
    assert!(b.responses().iter().any(|r| r.status == 500));
    b.deliver(flow, &invite("z9hG4bKre3", "other@sw", 5, Some("nope"), Some(OFFER)));
    assert!(b.responses().iter().any(|r| r.status == 481));
    // A refused re-offer leaves the call up.
    b.deliver(flow, &invite("z9hG4bKre4", "c1@sw", 3, Some(&tag), Some(OFFER)));
    b.call_events();
    b.ua.answer_reoffer(b.now, id, Err(488)).unwrap();
    assert!(b.responses().iter().any(|r| r.status == 488));
    assert_eq!(b.ua.calls(), vec![id]);
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
    for i in 0..agent::call::MAX_CALLS {
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
        let id = self.ua.call(self.now, "1002", Bytes::from_static(ANSWER.as_bytes())).unwrap();
        let r = self.requests();
        let [first] = r.as_slice() else { panic!("{r:?}") };
        assert_eq!((first.method.clone(), first.uri.as_ref()), (Method::Invite, "sip:1002@switch.local"));
        assert_eq!(first.headers.from_addr().unwrap().uri.as_str(), "sip:1001@switch.local");
        assert!(first.headers.to_addr().unwrap().tag().is_none());
        assert!(header(first, HeaderName::Contact).unwrap().contains("sip:1001@10.1.0.2"));
        assert_eq!(first.body.as_ref(), ANSWER.as_bytes());
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
    assert!(b.ua.call(b.now, "1002", Bytes::new()).is_err(), "no flow, no call");
    assert_eq!(b.ua.call(b.now, "10 02", Bytes::new()), Err(agent::CallError::NoFlow));
}

/// The flow dies under an answered call and no new one comes: the call
/// waits the grace time, then ends as lost.
#[test]
fn an_answered_call_outlives_its_flow_for_the_grace_time_only() {
    let mut cfg = config();
    cfg.backoff.base = SECS(300);
    let grace = cfg.call_rejoin_grace;
    let mut b = Bench::new(cfg);
    let (flow, id, _) = b.answered();
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
    let (flow, id, tag) = b.answered();
    b.ua.handle_flow_closed(b.now, flow, "reset".into());
    b.call_events();
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
    assert_eq!(re.body.as_ref(), ANSWER.as_bytes(), "the SDP last sent, unchanged");
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
    let (flow, id, _) = b.answered();
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
    let (flow, id, _) = b.answered();
    b.ua.handle_flow_closed(b.now, flow, "reset".into());
    b.call_events();
    b.ua.hangup(b.now, id).unwrap();
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Local, reason: EndReason::Hangup, status: None }]);
    assert_eq!(b.ua.hangup(b.now, id), Err(agent::CallError::NoSuchCall(id)));
}

/// The flow died because the phone's own address went away (it changed
/// networks): the call waits; registered again from the new address, it asks
/// for an offer naming that address and re-INVITEs with it.
#[test]
fn a_call_whose_local_address_changed_rejoins_with_a_new_offer() {
    let mut b = Bench::new(config());
    let (_, id, _) = b.answered();
    b.ua.handle_network_change(b.now, true);
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Interrupted { id: i, .. }] if *i == id));
    b.outputs();
    let flow2 = b.connect_from("10.9.0.7".parse().unwrap());
    b.probe_round();
    b.register_round(600);
    assert!(b.requests().is_empty(), "no re-INVITE before the media has moved");
    assert_eq!(b.call_events(), vec![CallEvent::Relocating { id, local: "10.9.0.7".parse().unwrap() }]);
    const MOVED: &str = "v=0\r\no=- 2 2 IN IP4 10.9.0.7\r\ns=-\r\nc=IN IP4 10.9.0.7\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendrecv\r\n";
    b.ua.rejoin_call(b.now, id, Bytes::from_static(MOVED.as_bytes())).unwrap();
    let reinvite = b.requests();
    let [re] = reinvite.as_slice() else { panic!("{reinvite:?}") };
    assert_eq!((re.method.clone(), re.body.as_ref()), (Method::Invite, MOVED.as_bytes()));
    b.answer(flow2.id, re, 481, &[]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: Some(481) }]);
    // Only a call waiting for a flow can be re-joined.
    assert_eq!(b.ua.rejoin_call(b.now, id, Bytes::new()), Err(agent::CallError::NoSuchCall(id)));
}

/// The new flow dies too before the call moved (the driver had not yet
/// offered): the call keeps its first deadline and still asks to move, since
/// its media is still on the first address.
#[test]
fn losing_the_next_flow_too_keeps_the_first_deadline_and_address() {
    let grace = config().call_rejoin_grace;
    let mut b = Bench::new(config());
    let (_, id, _) = b.answered();
    let lost_at = b.now;
    b.ua.handle_network_change(b.now, true);
    b.call_events();
    b.outputs();
    let flow2 = b.connect_from("10.9.0.7".parse().unwrap());
    b.probe_round();
    b.register_round(600);
    assert!(matches!(b.call_events().as_slice(), [CallEvent::Relocating { .. }]));
    b.advance(SECS(5));
    b.ua.handle_flow_closed(b.now, flow2.id, "reset".into());
    assert!(b.call_events().is_empty(), "still the same interruption");
    b.outputs();
    b.connect_from("10.9.0.7".parse().unwrap());
    b.probe_round();
    b.register_round(600);
    assert_eq!(b.call_events(), vec![CallEvent::Relocating { id, local: "10.9.0.7".parse().unwrap() }]);
    b.advance_to(lost_at + grace);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: None }]);
}

fn header_of_req(r: &Request, name: HeaderName) -> Option<String> {
    r.headers.get(&name).map(str::to_owned)
}

#[test]
fn stop_hangs_up_before_unregistering() {
    let mut b = Bench::new(config());
    let (_, id, _) = b.answered();
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
fn oversized_sdp_cancel_of_nothing_and_overlapping_reinvites_are_refused_clearly() {
    let mut b = Bench::new(config());
    let (flow, _, tag) = b.answered();
    // An SDP body over 16 KiB is not taken.
    let big = format!("{OFFER}{}", "a=x-pad:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n".repeat(300));
    b.deliver(flow, &invite("z9hG4bKbig", "big@sw", 1, None, Some(&big)));
    assert_eq!(b.responses().first().map(|r| r.status), Some(488));
    // A CANCEL for a transaction we never saw: 481.
    b.deliver(flow, &in_dialog("CANCEL", "z9hG4bKnone", "none@sw", 1, None));
    assert_eq!(b.responses().iter().map(|r| r.status).collect::<Vec<_>>(), vec![481]);
    // A second re-INVITE while one waits for its answer: 500 with Retry-After (§14.2).
    b.deliver(flow, &invite("z9hG4bKr1", "c1@sw", 2, Some(&tag), Some(OFFER)));
    b.responses();
    b.deliver(flow, &invite("z9hG4bKr2", "c1@sw", 3, Some(&tag), Some(OFFER)));
    let r = b.responses();
    let last = r.iter().find(|r| r.status >= 200).unwrap();
    assert_eq!(last.status, 500);
    assert!(last.headers.get(&HeaderName::RetryAfter).is_some());
}

#[test]
fn our_reinvite_for_hold_is_acked_on_2xx_and_glare_gets_491() {
    let mut b = Bench::new(config());
    let (flow, id, tag) = b.answered();
    let hold = ANSWER.replace("sendrecv", "sendonly");
    b.ua.reoffer(b.now, id, Bytes::from(hold.clone())).unwrap();
    assert!(b.ua.reoffer(b.now, id, Bytes::from(hold.clone())).is_err(), "one re-INVITE at a time");
    let r = b.requests();
    let [reinvite] = r.as_slice() else { panic!("{r:?}") };
    assert_eq!((reinvite.method.clone(), reinvite.uri.as_ref()), (Method::Invite, "sip:switch@192.0.2.10:5060;transport=tcp"));
    assert_eq!(reinvite.headers.from_addr().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(reinvite.headers.to_addr().unwrap().tag(), Some("sw1"));
    assert_eq!(reinvite.body.as_ref(), hold.as_bytes());
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
    assert!(matches!(ev.as_slice(), [CallEvent::Updated { remote_sdp, .. }] if remote_sdp == held.as_bytes()), "{ev:?}");
    // A refused re-INVITE leaves the call as it was.
    b.ua.reoffer(b.now, id, Bytes::from_static(ANSWER.as_bytes())).unwrap();
    let r = b.requests();
    b.switch_says(flow, Response::to_request(&r[0], 488));
    assert_eq!(b.call_events(), vec![CallEvent::ReofferRejected { id, status: 488 }]);
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
    b.ua.answer_call(b.now, id, Bytes::from_static(ANSWER.as_bytes())).unwrap();
    let r = b.responses();
    assert_eq!((r[0].status, r[0].body.as_ref()), (200, ANSWER.as_bytes()));
    let tag = r[0].headers.to_addr().unwrap().tag().unwrap().to_owned();
    assert!(b.call_events().is_empty(), "answered only once the ACK brings the answer");
    let ack = in_dialog("ACK", "z9hG4bKlateA", "late@sw", 1, Some(&tag))
        .replace("Content-Length: 0\r\n\r\n", &format!("Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}", OFFER.len()));
    b.deliver(flow, &ack);
    let ev = b.call_events();
    assert!(
        matches!(ev.as_slice(), [CallEvent::Answered { remote_sdp, local_sdp, .. }] if remote_sdp == OFFER.as_bytes() && local_sdp == ANSWER.as_bytes()),
        "{ev:?}"
    );

    // An ACK without the answer leaves nothing to talk with: BYE.
    b.deliver(flow, &invite("z9hG4bKlate2", "late2@sw", 1, None, None));
    b.responses();
    let ev = b.call_events();
    let [CallEvent::Incoming { id: id2, .. }] = ev.as_slice() else { panic!("{ev:?}") };
    let id2 = *id2;
    b.ua.answer_call(b.now, id2, Bytes::from_static(ANSWER.as_bytes())).unwrap();
    let tag = b.responses()[0].headers.to_addr().unwrap().tag().unwrap().to_owned();
    b.deliver(flow, &in_dialog("ACK", "z9hG4bKlate2A", "late2@sw", 1, Some(&tag)));
    assert_eq!(b.requests().iter().map(|r| r.method.clone()).collect::<Vec<_>>(), vec![Method::Bye]);
    assert_eq!(b.call_events(), vec![CallEvent::Ended { id: id2, by: Party::Local, reason: EndReason::Hangup, status: None }]);
}
