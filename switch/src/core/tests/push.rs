//! Mobile push (RFC 8599) on virtual time: a call for a phone whose flow
//! dropped but whose binding asked for push waits for the woken phone's
//! REGISTER and follows its 200 OK down the new flow; nothing by the hold,
//! or a gateway that refused, and it goes home (or 480) as without push.

use super::*;
use crate::pn::{Notice, PushId};
use sipcore::Method;

const HOLD: Duration = Duration::from_secs(20);
const PUSH: &str = ";pn-provider=apns;pn-prid=00fc13adff78;pn-param=ABCD1234.org.example.voip";

/// The phone's new connection after it woke.
fn woken_flow() -> Flow {
    Flow { id: FlowId(3), remote: addr("198.51.100.7:40002"), ..phone_flow() }
}

/// A lab with push on (or off) whose phone registered at 1 s with `params`
/// on its Contact, and whose flow closed at 5 s.
fn asleep(push: bool, params: &str, subscribers: Vec<Subscriber>) -> Lab {
    let mut cfg = config(FLOW_TIMER);
    cfg.push_hold = push.then_some(HOLD);
    let mut lab = Lab::with(cfg, subscribers);
    lab.contact_params = params.into();
    lab.register(lab.at(1, 0), 3600);
    lab.transport(lab.at(5, 0), TransportEvent::Closed { flow: phone_flow(), reason: sipcore::transport::CloseReason::Peer });
    lab.take();
    lab
}

/// The notices the core asked the driver to POST.
fn notices(out: &[(Instant, Output)]) -> Vec<(PushId, Notice)> {
    out.iter()
        .filter_map(|(_, o)| match o {
            Output::PushNotify { id, notice } => Some((*id, notice.clone())),
            _ => None,
        })
        .collect()
}

/// The final responses sent to the caller's INVITE.
fn finals(out: &[(Instant, Output)]) -> Vec<u16> {
    sent(out)
        .into_iter()
        .filter_map(|(_, _, m)| match m {
            Message::Response(r) if r.status >= 200 && r.headers.cseq().is_ok_and(|c| c.method == Method::Invite) => Some(r.status),
            _ => None,
        })
        .collect()
}

/// INVITEs the core sent to the home location (192.0.2.50), with when.
fn home_invites(out: &[(Instant, Output)]) -> Vec<Instant> {
    requests(out, Method::Invite).into_iter().filter(|(_, f, _)| f.remote == addr("192.0.2.50:5060")).map(|(t, _, _)| t).collect()
}

#[test]
fn a_call_for_a_sleeping_phone_waits_for_its_push_and_follows_the_register() {
    let mut lab = asleep(true, PUSH, vec![subscriber()]);
    lab.invite(lab.at(10, 0), 1);
    let out = lab.take();
    let sent_notices = notices(&out);
    assert_eq!(sent_notices.len(), 1, "{out:#?}");
    let (id, notice) = &sent_notices[0];
    assert_eq!(notice.number, "1001");
    assert_eq!((notice.provider.as_str(), notice.prid.as_str()), ("apns", "00fc13adff78"));
    assert_eq!(notice.param.as_deref(), Some("ABCD1234.org.example.voip"));
    assert_eq!((notice.call_id.as_str(), notice.from.as_str()), ("call-1@gw.example", "5550100"));
    assert!(finals(&out).is_empty() && home_invites(&out).is_empty(), "the call waits: {out:#?}");

    lab.core.handle_pushed(lab.at(10, 100), *id, true);
    lab.drain();
    // The transaction layer's own 100 Trying, 200 ms in, keeps the caller from retransmitting.
    lab.advance_to(lab.at(10, 200));
    assert_eq!(only_response(&lab.take(), 100).headers.call_id().unwrap(), "call-1@gw.example");
    lab.advance_to(lab.at(14, 0));
    assert!(finals(&lab.out).is_empty() && home_invites(&lab.out).is_empty(), "still waiting: {:#?}", lab.out);

    // The phone wakes and registers on a new connection: 200 OK first, then the call.
    lab.phone = woken_flow();
    lab.take();
    lab.send_register(lab.at(15, 0), 3600);
    let out = lab.take();
    let ok = sent(&out).iter().position(|(_, _, m)| matches!(m, Message::Response(r) if r.status == 200)).expect("200 OK");
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1, "{out:#?}");
    let (t, flow, _) = &invites[0];
    assert_eq!((*t, *flow), (lab.at(15, 0), woken_flow()));
    let invite_at = sent(&out).iter().position(|(_, _, m)| matches!(m, Message::Request(r) if r.method == Method::Invite)).unwrap();
    assert!(ok < invite_at, "the phone hears its 200 OK before the call");

    // Held no more: the hold's deadline passes with nothing else sent.
    lab.advance_to(lab.at(31, 0));
    assert!(home_invites(&lab.take()).is_empty());
}

#[test]
fn nobody_registers_within_the_hold_and_the_call_goes_home_at_exactly_its_end() {
    let mut lab = asleep(true, PUSH, vec![subscriber()]);
    lab.invite(lab.at(10, 0), 1);
    let (id, _) = notices(&lab.take())[0].clone();
    lab.core.handle_pushed(lab.at(10, 100), id, true);
    lab.drain();
    lab.advance_to(lab.at(29, 999));
    assert!(home_invites(&lab.take()).is_empty());
    lab.advance_to(lab.at(30, 0));
    assert_eq!(home_invites(&lab.take()), vec![lab.at(30, 0)]);
}

#[test]
fn without_a_home_the_call_gets_480_at_the_end_of_the_hold() {
    let mut lab = asleep(true, PUSH, vec![provisioned("1001", PASSWORD)]);
    lab.invite(lab.at(10, 0), 1);
    assert_eq!(notices(&lab.out).len(), 1);
    lab.advance_to(lab.at(30, 0));
    let out = lab.take();
    assert_eq!(finals(&out), vec![480]);
    assert!(sent(&out).iter().all(|(t, _, m)| !matches!(m, Message::Response(r) if r.status == 480) || *t == lab.at(30, 0)));
}

#[test]
fn a_gateway_that_refused_sends_the_call_home_at_once() {
    let mut lab = asleep(true, PUSH, vec![subscriber()]);
    lab.invite(lab.at(10, 0), 1);
    let (id, _) = notices(&lab.take())[0].clone();
    lab.now = lab.at(10, 250);
    lab.core.handle_pushed(lab.now, id, false);
    lab.drain();
    assert_eq!(home_invites(&lab.out), vec![lab.at(10, 250)]);
    // A late answer about the same notice changes nothing: one home INVITE (and its retransmissions).
    lab.core.handle_pushed(lab.at(11, 0), id, true);
    lab.drain();
    lab.advance_to(lab.at(31, 0));
    let branches: std::collections::HashSet<String> = requests(&lab.take(), Method::Invite)
        .into_iter()
        .map(|(_, _, r)| r.headers.top_via().unwrap().branch().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(branches.len(), 1);
}

#[test]
fn no_push_without_push_parameters_or_without_a_gateway() {
    for (push, params) in [(true, ""), (false, PUSH), (true, ";pn-provider=apns")] {
        let mut lab = asleep(push, params, vec![subscriber()]);
        lab.invite(lab.at(10, 0), 1);
        let out = lab.take();
        assert!(notices(&out).is_empty(), "push {push} params {params:?}: {out:#?}");
        assert_eq!(home_invites(&out), vec![lab.at(10, 0)], "home at once");
    }
}

#[test]
fn a_live_flow_needs_no_push() {
    let mut cfg = config(FLOW_TIMER);
    cfg.push_hold = Some(HOLD);
    let mut lab = Lab::with(cfg, vec![subscriber()]);
    lab.contact_params = PUSH.into();
    lab.register(lab.at(1, 0), 3600);
    lab.take();
    lab.invite(lab.at(2, 0), 1);
    let out = lab.take();
    assert!(notices(&out).is_empty());
    assert_eq!(requests(&out, Method::Invite).first().map(|(_, f, _)| *f), Some(phone_flow()));
}

#[test]
fn a_cancel_while_the_phone_is_woken_ends_the_call_with_487() {
    let mut lab = asleep(true, PUSH, vec![subscriber()]);
    lab.invite(lab.at(10, 0), 1);
    lab.take();
    let cancel = format!(
        "CANCEL sip:1001@{REALM} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKgw1;rport\nMax-Forwards: 70\n\
         From: <sip:5550100@gw.example>;tag=gw1\nTo: <sip:1001@{REALM}>\nCall-ID: call-1@gw.example\nCSeq: 1 CANCEL\nContent-Length: 0\n\n"
    );
    lab.deliver(lab.at(12, 0), gateway_flow(), &cancel);
    let out = lab.take();
    assert_eq!(finals(&out), vec![487]);
    only_response(&out, 200);
    // The phone that registers later is offered nothing.
    lab.phone = woken_flow();
    lab.send_register(lab.at(15, 0), 3600);
    lab.advance_to(lab.at(31, 0));
    let out = lab.take();
    assert!(requests(&out, Method::Invite).is_empty() && home_invites(&out).is_empty(), "{out:#?}");
}
