#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::Method;
use crate::transaction::{ClientNonInviteTransaction, State, Timer, TransactionError, TransactionEvent};
use std::time::Duration;

fn start(clock: Clock, reliable: bool) -> ClientNonInviteTransaction {
    let mut tx = ClientNonInviteTransaction::new(clock.base, register("z9hG4bKnashds7", 1, reliable), reliable, &cfg()).unwrap();
    assert_eq!(tx.poll_transmit().as_ref().and_then(method_of), Some("REGISTER"));
    assert_eq!(tx.state(), State::Trying);
    tx
}

fn times(sent: &[(std::time::Instant, crate::message::Message)]) -> Vec<std::time::Instant> {
    sent.iter().map(|(at, _)| *at).collect()
}

#[test]
fn timer_e_doubles_capped_at_t2_and_timer_f_fires_at_64_t1() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let sent = drive!(tx, clock.at(64 * T1));
    // Intervals 0.5, 1, 2, then 4 (T2) each time.
    let expected: Vec<_> =
        [500u64, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500].iter().map(|ms| clock.ms(*ms)).collect();
    assert_eq!(times(&sent), expected);
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Timeout(Timer::F), TransactionEvent::Terminated]);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn after_a_provisional_timer_e_fires_every_t2() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let first = drive!(tx, clock.ms(600));
    assert_eq!(times(&first), [clock.ms(500)]);
    let req = tx.request().clone();
    tx.handle_response(clock.ms(600), respond(&req, 100, ""));
    assert_eq!(tx.state(), State::Proceeding);
    assert!(matches!(tx.poll_event(), Some(TransactionEvent::Response(r)) if r.status == 100));
    // The E already scheduled (1.5 s) still fires; from then on every T2.
    let sent = drive!(tx, clock.at(64 * T1));
    let expected: Vec<_> = [1500u64, 5500, 9500, 13_500, 17_500, 21_500, 25_500, 29_500].iter().map(|ms| clock.ms(*ms)).collect();
    assert_eq!(times(&sent), expected);
    assert!(times(&sent).windows(2).all(|w| w[1] - w[0] == T2));
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Timeout(Timer::F), TransactionEvent::Terminated]);
}

#[test]
fn no_timer_e_over_tcp_and_timer_f_at_64_t1() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    assert_eq!(tx.poll_timeout(), Some(clock.at(64 * T1)));
    assert!(drive!(tx, clock.at(64 * T1)).is_empty());
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Timeout(Timer::F), TransactionEvent::Terminated]);
}

#[test]
fn timer_k_is_t4_over_udp_and_absorbs_retransmissions() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    let unauthorized = respond(&req, 401, "k1");
    tx.handle_response(clock.ms(200), unauthorized.clone());
    assert_eq!(tx.state(), State::Completed);
    assert_eq!(tx.poll_event(), Some(TransactionEvent::Response(unauthorized.clone())));
    assert_eq!(tx.poll_timeout(), Some(clock.ms(200) + T4));
    tx.handle_response(clock.ms(900), unauthorized);
    assert_eq!(tx.poll_event(), None);
    assert!(drive!(tx, clock.ms(200) + T4).is_empty(), "no retransmission in Completed");
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(tx.poll_event(), Some(TransactionEvent::Terminated));
}

#[test]
fn timer_k_is_zero_over_tcp() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    let req = tx.request().clone();
    tx.handle_response(clock.ms(30), respond(&req, 200, "k1"));
    assert_eq!(tx.poll_timeout(), Some(clock.ms(30)));
    tx.handle_timeout(clock.ms(30));
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(Timer::K.duration(&cfg(), true), Duration::ZERO);
    assert_eq!(Timer::K.duration(&cfg(), false), T4);
}

#[test]
fn transport_error_in_proceeding_terminates() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.handle_response(clock.ms(30), respond(&req, 100, ""));
    let _ = tx.poll_event();
    tx.handle_transport_error(clock.ms(40));
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::TransportError, TransactionEvent::Terminated]);
}

#[test]
fn refuses_invite_and_ack() {
    let clock = Clock::new();
    assert_eq!(
        ClientNonInviteTransaction::new(clock.base, invite("z9hG4bK1", false), false, &cfg()).unwrap_err(),
        TransactionError::WrongMethod(Method::Invite)
    );
    let mut ack = invite("z9hG4bK1", false);
    ack.method = Method::Ack;
    assert_eq!(ClientNonInviteTransaction::new(clock.base, ack, false, &cfg()).unwrap_err(), TransactionError::AckTransaction);
}
