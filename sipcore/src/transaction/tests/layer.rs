#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::{HeaderName, Message, Method};
use crate::transaction::{
    LayerEvent, State, Timer, TransactionError, TransactionKey, TransactionLayer, Transmit, ack_for_non_2xx, cancel_for,
};

fn layer() -> TransactionLayer {
    TransactionLayer::new(cfg())
}

fn drain_events(l: &mut TransactionLayer) -> Vec<LayerEvent> {
    std::iter::from_fn(|| l.poll_event()).collect()
}

fn drain_transmits(l: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| l.poll_transmit()).collect()
}

fn new_request_key(l: &mut TransactionLayer) -> TransactionKey {
    match drain_events(l).as_slice() {
        [LayerEvent::Request { key, .. }] => key.clone(),
        other => panic!("expected one new request, got {other:?}"),
    }
}

/// Fires every timer up to `until`, at its own instant.
fn run_until(l: &mut TransactionLayer, until: std::time::Instant) {
    while let Some(at) = l.poll_timeout().filter(|at| *at <= until) {
        l.handle_timeout(at);
    }
}

#[test]
fn server_side_absorbs_and_answers_retransmissions() {
    let clock = Clock::new();
    let mut l = layer();
    let inv = invite("z9hG4bK1", false);
    l.handle_message(clock.base, flow(false), inv.clone().into());
    let key = new_request_key(&mut l);
    assert_eq!(l.state(&key), Some(State::Proceeding));
    l.handle_request(clock.ms(100), flow(false), inv.clone());
    let sent = drain_transmits(&mut l);
    assert_eq!(sent.len(), 1, "answered with a 100");
    assert_eq!(status_of(&sent[0].message), Some(100));
    assert_eq!(sent[0].key.as_ref(), Some(&key));
    assert!(drain_events(&mut l).is_empty(), "the retransmission is not a new request");
    l.send_response(clock.ms(300), &key, respond(&inv, 486, "t")).unwrap();
    assert_eq!(drain_transmits(&mut l).len(), 1);
    l.handle_request(clock.ms(350), flow(false), inv.clone());
    assert_eq!(drain_transmits(&mut l).iter().map(|t| status_of(&t.message)).collect::<Vec<_>>(), [Some(486)]);
    // The ACK for the 486 stays inside the transaction.
    let ack = ack_for_non_2xx(&inv, &respond(&inv, 486, "t")).unwrap();
    l.handle_request(clock.ms(400), flow(false), ack);
    assert_eq!(l.state(&key), Some(State::Confirmed));
    assert!(drain_events(&mut l).is_empty());
    assert_eq!(l.poll_timeout(), Some(clock.ms(400) + T4));
    run_until(&mut l, clock.ms(400) + T4);
    assert_eq!(drain_events(&mut l), [LayerEvent::Terminated { key }]);
    assert!(l.is_empty());
}

#[test]
fn ack_for_2xx_reaches_the_tu() {
    let clock = Clock::new();
    let mut l = layer();
    let inv = invite("z9hG4bK1", true);
    l.handle_request(clock.base, flow(true), inv.clone());
    let key = new_request_key(&mut l);
    let ok = respond(&inv, 200, "t");
    l.send_response(clock.ms(10), &key, ok.clone()).unwrap();
    assert_eq!(l.state(&key), Some(State::Accepted));
    // The usual 2xx ACK: a branch of its own, matching no transaction.
    let mut ack = ack_for_non_2xx(&inv, &ok).unwrap();
    ack.headers.set(HeaderName::Via, "SIP/2.0/TCP pc33.atlanta.example.com:5060;branch=z9hG4bK2");
    l.handle_request(clock.ms(20), flow(true), ack.clone());
    assert_eq!(drain_events(&mut l), [LayerEvent::Ack { key: None, flow: flow(true), request: ack.clone() }]);
    // An ACK that reuses the INVITE's branch is passed up by the Accepted transaction.
    let same_branch = ack_for_non_2xx(&inv, &ok).unwrap();
    l.handle_request(clock.ms(30), flow(true), same_branch.clone());
    assert_eq!(drain_events(&mut l), [LayerEvent::Ack { key: Some(key.clone()), flow: flow(true), request: same_branch.clone() }]);
    // Timer L ends Accepted; a later ACK still reaches the TU, now unmatched.
    run_until(&mut l, clock.ms(10) + 64 * T1);
    assert_eq!(drain_events(&mut l), [LayerEvent::Terminated { key }]);
    l.handle_request(clock.ms(10) + 64 * T1, flow(true), same_branch.clone());
    assert_eq!(drain_events(&mut l), [LayerEvent::Ack { key: None, flow: flow(true), request: same_branch }]);
    assert!(l.is_empty(), "an ACK never creates a transaction");
}

#[test]
fn cancel_gets_its_own_transaction_associated_with_the_invite() {
    let clock = Clock::new();
    let mut l = layer();
    let inv = invite("z9hG4bK1", false);
    l.handle_request(clock.base, flow(false), inv.clone());
    let invite_key = new_request_key(&mut l);
    let cancel = cancel_for(&inv).unwrap();
    l.handle_request(clock.ms(50), flow(false), cancel.clone());
    let events = drain_events(&mut l);
    let [LayerEvent::Cancel { key, request, invite: Some(target), .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(*target, invite_key);
    assert_eq!(*request, cancel);
    assert_ne!(*key, invite_key);
    assert_eq!(l.len(), 2);
    l.send_response(clock.ms(60), key, respond(&cancel, 200, "t")).unwrap();
    l.send_response(clock.ms(60), &invite_key, respond(&inv, 487, "t")).unwrap();
    let statuses: Vec<_> = drain_transmits(&mut l).iter().map(|t| status_of(&t.message)).collect();
    assert_eq!(statuses, [Some(200), Some(487)]);
    // A CANCEL for nothing: still its own transaction, no INVITE to point at.
    let stray = cancel_for(&invite("z9hG4bKzzz", false)).unwrap();
    l.handle_request(clock.ms(70), flow(false), stray);
    assert!(matches!(drain_events(&mut l).as_slice(), [LayerEvent::Cancel { invite: None, .. }]));
}

#[test]
fn stray_responses_are_dropped_unless_asked_for() {
    let clock = Clock::new();
    let inv = invite("z9hG4bK1", false);
    let stray = respond(&inv, 200, "t");
    let mut l = layer();
    l.handle_message(clock.base, flow(false), stray.clone().into());
    assert!(drain_events(&mut l).is_empty());
    let mut proxy = layer().with_stray_responses(true);
    proxy.handle_response(clock.base, flow(false), stray.clone());
    assert_eq!(drain_events(&mut proxy), [LayerEvent::StrayResponse { flow: flow(false), response: stray }]);
}

#[test]
fn client_side_routes_responses_and_sends_cancel() {
    let clock = Clock::new();
    let mut l = layer();
    let inv = invite("z9hG4bK1", false);
    let key = l.send_request(clock.base, flow(false), inv.clone()).unwrap();
    assert_eq!(drain_transmits(&mut l), [Transmit { key: Some(key.clone()), flow: flow(false), message: inv.clone().into() }]);
    assert_eq!(l.cancel(clock.ms(10), &key), Err(TransactionError::NotCancellable(State::Calling)));
    l.handle_response(clock.ms(100), flow(false), respond(&inv, 180, "t"));
    assert!(matches!(drain_events(&mut l).as_slice(), [LayerEvent::Response { key: k, response }] if *k == key && response.status == 180));
    let cancel_key = l.cancel(clock.ms(200), &key).unwrap();
    let sent = drain_transmits(&mut l);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].key.as_ref(), Some(&cancel_key));
    let Message::Request(cancel) = &sent[0].message else { panic!() };
    assert_eq!(cancel.method, Method::Cancel);
    l.handle_response(clock.ms(300), flow(false), respond(cancel, 200, "t"));
    l.handle_response(clock.ms(310), flow(false), respond(&inv, 487, "t"));
    let events = drain_events(&mut l);
    assert!(matches!(&events[0], LayerEvent::Response { key: k, response } if *k == cancel_key && response.status == 200));
    assert!(matches!(&events[1], LayerEvent::Response { key: k, response } if *k == key && response.status == 487));
    let acks = drain_transmits(&mut l);
    assert_eq!(acks.len(), 1);
    assert_eq!(method_of(&acks[0].message), Some("ACK"));
    assert_eq!(l.state(&key), Some(State::Completed));
    assert_eq!(l.state(&cancel_key), Some(State::Completed));
}

#[test]
fn client_timeouts_surface_with_their_key() {
    let clock = Clock::new();
    let mut l = layer();
    let key = l.send_request(clock.base, flow(false), register("z9hG4bK1", 1, false)).unwrap();
    let _ = drain_transmits(&mut l);
    run_until(&mut l, clock.at(64 * T1));
    assert_eq!(drain_transmits(&mut l).len(), 10, "Timer E retransmissions");
    assert_eq!(drain_events(&mut l), [LayerEvent::Timeout { key: key.clone(), timer: Timer::F }, LayerEvent::Terminated { key }]);
    assert_eq!(l.poll_timeout(), None);
    assert!(l.is_empty());
}

#[test]
fn every_message_names_its_flow_and_a_closed_flow_fails_only_its_transactions() {
    let clock = Clock::new();
    let mut l = layer();
    let other = crate::transport::Flow { id: crate::transport::FlowId(2), ..flow(true) };
    let key = l.send_request(clock.base, flow(true), register("z9hG4bK1", 1, true)).unwrap();
    let kept = l.send_request(clock.base, other, register("z9hG4bK2", 2, true)).unwrap();
    assert_eq!(drain_transmits(&mut l).iter().map(|t| t.flow).collect::<Vec<_>>(), [flow(true), other]);
    assert_eq!(l.flow(&kept), Some(other));
    // A message outside transactions (the ACK for a 2xx) leaves the same way, with no key.
    let ack: Message = invite("z9hG4bK3", true).into();
    l.send_stateless(other, ack.clone());
    assert_eq!(drain_transmits(&mut l), [Transmit { key: None, flow: other, message: ack }]);
    l.handle_flow_closed(clock.ms(1), flow(true).id);
    assert_eq!(drain_events(&mut l), [LayerEvent::TransportError { key: key.clone() }, LayerEvent::Terminated { key }]);
    assert_eq!(l.len(), 1, "the transaction on the other flow lives on");
}

#[test]
fn transport_errors_surface_with_their_key() {
    let clock = Clock::new();
    let mut l = layer();
    let key = l.send_request(clock.base, flow(true), register("z9hG4bK1", 1, true)).unwrap();
    l.handle_transport_error(clock.ms(1), &key);
    assert_eq!(drain_events(&mut l), [LayerEvent::TransportError { key: key.clone() }, LayerEvent::Terminated { key }]);
    assert!(l.is_empty());
}

#[test]
fn pre_3261_ack_finds_its_invite_transaction() {
    let clock = Clock::new();
    let mut l = layer();
    let mut inv = invite("z9hG4bKunused", false);
    inv.headers.set(HeaderName::Via, "SIP/2.0/UDP oldphone.example.com;branch=1");
    l.handle_request(clock.base, flow(false), inv.clone());
    let key = new_request_key(&mut l);
    assert!(matches!(key, TransactionKey::Legacy(_)));
    // A retransmission matches by the fallback rule.
    l.handle_request(clock.ms(100), flow(false), inv.clone());
    assert!(drain_events(&mut l).is_empty());
    let busy = respond(&inv, 486, "old");
    l.send_response(clock.ms(150), &key, busy.clone()).unwrap();
    let ack = ack_for_non_2xx(&inv, &busy).unwrap();
    l.handle_request(clock.ms(200), flow(false), ack);
    assert!(drain_events(&mut l).is_empty());
    assert_eq!(l.state(&key), Some(State::Confirmed));
    run_until(&mut l, clock.ms(200) + T4);
    assert!(l.is_empty());
}

#[test]
fn refuses_ack_duplicates_and_unknown_keys() {
    let clock = Clock::new();
    let mut l = layer();
    let inv = invite("z9hG4bK1", false);
    let mut ack = inv.clone();
    ack.method = Method::Ack;
    ack.headers.set(HeaderName::CSeq, "314159 ACK");
    assert_eq!(l.send_request(clock.base, flow(false), ack), Err(TransactionError::AckTransaction));
    let key = l.send_request(clock.base, flow(false), inv.clone()).unwrap();
    assert_eq!(l.send_request(clock.base, flow(false), inv.clone()), Err(TransactionError::Duplicate(key.clone())));
    assert!(matches!(l.send_response(clock.base, &key, respond(&inv, 200, "t")), Err(TransactionError::WrongKind(_))));
    let unknown = TransactionKey::server(&inv).unwrap();
    assert_eq!(l.send_response(clock.base, &unknown, respond(&inv, 200, "t")), Err(TransactionError::NotFound(unknown)));
    let reg_key = l.send_request(clock.base, flow(false), register("z9hG4bK2", 1, false)).unwrap();
    assert_eq!(l.cancel(clock.base, &reg_key), Err(TransactionError::WrongKind(reg_key.clone())));
}
