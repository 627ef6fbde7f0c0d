#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::{HeaderName, Message, Method, Request};
use crate::transaction::{ServerInviteTransaction, State, TRYING_DELAY, Timer, TransactionError, TransactionEvent, TransactionKey};
use std::time::Duration;

fn start(clock: Clock, reliable: bool) -> ServerInviteTransaction {
    let inv = invite("z9hG4bK74bf9", reliable);
    let tx = ServerInviteTransaction::new(clock.base, TransactionKey::server(&inv).unwrap(), inv, reliable, &cfg()).unwrap();
    assert_eq!(tx.state(), State::Proceeding);
    tx
}

fn ack_for(tx: &ServerInviteTransaction) -> Request {
    let final_response = tx.final_response().unwrap();
    crate::transaction::ack_for_non_2xx(tx.request(), final_response).unwrap()
}

#[test]
fn sends_100_trying_after_200ms_of_tu_silence() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    assert!(tx.poll_transmit().is_none(), "no 100 at once");
    assert_eq!(tx.poll_timeout(), Some(clock.at(TRYING_DELAY)));
    let sent = drive!(tx, clock.ms(200));
    assert_eq!(sent.len(), 1);
    let (at, trying) = &sent[0];
    assert_eq!(*at, clock.ms(200));
    let Message::Response(trying) = trying else { panic!() };
    assert_eq!(trying.status, 100);
    assert_eq!(trying.headers.get(&HeaderName::Timestamp).unwrap(), "54", "§8.2.6.1");
    assert_eq!(trying.headers.values(&HeaderName::Via).count(), 2);
    assert_eq!(trying.headers.to_addr().unwrap().tag(), None);
    assert_eq!(tx.poll_timeout(), None);
    // A retransmitted INVITE gets the 100 again.
    tx.handle_request(clock.ms(500), tx.request().clone());
    assert_eq!(tx.poll_transmit().as_ref().and_then(status_of), Some(100));
}

#[test]
fn no_100_when_the_tu_answers_first_and_retransmissions_get_the_latest_provisional() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.send_response(clock.ms(50), respond(&req, 180, "ab")).unwrap();
    assert_eq!(tx.poll_transmit().as_ref().and_then(status_of), Some(180));
    assert!(drive!(tx, clock.ms(1000)).is_empty());
    tx.handle_request(clock.ms(500), req.clone());
    assert_eq!(tx.poll_transmit().as_ref().and_then(status_of), Some(180));
    tx.send_response(clock.ms(600), respond(&req, 183, "ab")).unwrap();
    let _ = tx.poll_transmit();
    tx.handle_request(clock.ms(1500), req);
    assert_eq!(tx.poll_transmit().as_ref().and_then(status_of), Some(183));
}

#[test]
fn a_retransmitted_invite_before_200ms_gets_a_100_at_once() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    tx.handle_request(clock.ms(120), tx.request().clone());
    assert_eq!(tx.poll_transmit().as_ref().and_then(status_of), Some(100));
    assert_eq!(tx.poll_timeout(), None, "the 100 timer is done");
}

#[test]
fn timer_g_retransmits_the_final_response_capped_at_t2_and_timer_h_times_out() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    let busy = respond(&req, 486, "ab");
    tx.send_response(clock.base, busy.clone()).unwrap();
    assert_eq!(tx.state(), State::Completed);
    assert_eq!(tx.poll_transmit(), Some(Message::Response(busy.clone())));
    let sent = drive!(tx, clock.at(64 * T1));
    let times: Vec<_> = sent.iter().map(|(at, _)| *at).collect();
    let expected: Vec<_> =
        [500u64, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500].iter().map(|ms| clock.ms(*ms)).collect();
    assert_eq!(times, expected);
    assert!(sent.iter().all(|(_, m)| *m == Message::Response(busy.clone())));
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Timeout(Timer::H), TransactionEvent::Terminated]);
}

#[test]
fn ack_confirms_and_timer_i_is_t4_over_udp() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.send_response(clock.base, respond(&req, 603, "ab")).unwrap();
    let _ = tx.poll_transmit();
    // An INVITE retransmission in Completed gets the final response again.
    tx.handle_request(clock.ms(100), req.clone());
    assert_eq!(tx.poll_transmit().as_ref().and_then(status_of), Some(603));
    let ack = ack_for(&tx);
    tx.handle_request(clock.ms(700), ack.clone());
    assert_eq!(tx.state(), State::Confirmed);
    assert_eq!(tx.poll_event(), None, "the ACK for a non-2xx stays in the transaction");
    assert_eq!(tx.poll_timeout(), Some(clock.ms(700) + T4), "G and H stopped, I = T4");
    tx.handle_request(clock.ms(800), ack);
    tx.handle_request(clock.ms(900), req);
    assert!(tx.poll_transmit().is_none(), "Confirmed absorbs ACKs and INVITEs");
    tx.handle_timeout(clock.ms(700) + T4);
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Terminated]);
}

#[test]
fn over_tcp_no_timer_g_and_timer_i_is_zero() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    let req = tx.request().clone();
    tx.send_response(clock.base, respond(&req, 404, "ab")).unwrap();
    let _ = tx.poll_transmit();
    assert_eq!(tx.poll_timeout(), Some(clock.at(64 * T1)), "only Timer H runs");
    let ack = ack_for(&tx);
    tx.handle_request(clock.ms(10), ack);
    assert_eq!(tx.state(), State::Confirmed);
    assert_eq!(tx.poll_timeout(), Some(clock.ms(10)));
    tx.handle_timeout(clock.ms(10));
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn timer_h_over_tcp_without_ack() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    let req = tx.request().clone();
    tx.send_response(clock.base, respond(&req, 500, "ab")).unwrap();
    let _ = tx.poll_transmit();
    assert!(drive!(tx, clock.at(64 * T1)).is_empty());
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Timeout(Timer::H), TransactionEvent::Terminated]);
}

#[test]
fn accepted_absorbs_invites_passes_acks_and_ends_with_timer_l() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    let ok = respond(&req, 200, "ab");
    tx.send_response(clock.ms(100), ok.clone()).unwrap();
    assert_eq!(tx.state(), State::Accepted);
    assert_eq!(tx.poll_transmit(), Some(Message::Response(ok.clone())));
    assert_eq!(tx.poll_timeout(), Some(clock.ms(100) + 64 * T1), "Timer L, no Timer G");
    tx.handle_request(clock.ms(500), req.clone());
    assert!(tx.poll_transmit().is_none(), "the INVITE retransmission is absorbed");
    // The TU retransmits its 2xx through the transaction (RFC 6026 §8.7).
    tx.send_response(clock.ms(600), ok.clone()).unwrap();
    assert_eq!(tx.poll_transmit(), Some(Message::Response(ok.clone())));
    assert_eq!(
        tx.send_response(clock.ms(700), respond(&req, 486, "ab")),
        Err(TransactionError::InvalidResponse { status: 486, state: State::Accepted })
    );
    let mut ack = req.clone();
    ack.method = Method::Ack;
    ack.headers.set(HeaderName::CSeq, "314159 ACK");
    tx.handle_request(clock.ms(800), ack.clone());
    assert_eq!(tx.poll_event(), Some(TransactionEvent::Ack(ack)));
    assert!(drive!(tx, clock.ms(100) + 64 * T1).is_empty());
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn transport_error_is_reported_but_the_state_stays() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.send_response(clock.base, respond(&req, 486, "ab")).unwrap();
    tx.handle_transport_error(clock.ms(1));
    assert_eq!(tx.poll_event(), Some(TransactionEvent::TransportError));
    assert_eq!(tx.state(), State::Completed);
    assert_eq!(tx.poll_timeout(), Some(clock.at(T1)));
}

#[test]
fn no_response_after_the_final_one() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.send_response(clock.base, respond(&req, 486, "ab")).unwrap();
    assert_eq!(
        tx.send_response(clock.ms(1), respond(&req, 180, "ab")),
        Err(TransactionError::InvalidResponse { status: 180, state: State::Completed })
    );
    assert_eq!(Timer::Trying.duration(&cfg(), true), Duration::from_millis(200));
}
