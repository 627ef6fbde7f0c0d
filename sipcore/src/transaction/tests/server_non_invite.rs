#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::Message;
use crate::transaction::{ServerNonInviteTransaction, State, Timer, TransactionError, TransactionEvent, TransactionKey};
use std::time::Duration;

fn start(clock: Clock, reliable: bool) -> ServerNonInviteTransaction {
    let reg = register("z9hG4bKnashds7", 1, reliable);
    let tx = ServerNonInviteTransaction::new(clock.base, TransactionKey::server(&reg).unwrap(), reg, reliable, &cfg()).unwrap();
    assert_eq!(tx.state(), State::Trying);
    tx
}

#[test]
fn retransmissions_absorbed_in_trying_answered_later_and_timer_j_is_64_t1_over_udp() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.handle_request(clock.ms(500), req.clone());
    assert!(tx.poll_transmit().is_none(), "Trying absorbs");
    assert_eq!(tx.poll_timeout(), None, "no timers before the final response");
    tx.send_response(clock.ms(600), respond(&req, 100, "")).unwrap();
    assert_eq!(tx.state(), State::Proceeding);
    let _ = tx.poll_transmit();
    tx.handle_request(clock.ms(1500), req.clone());
    assert_eq!(tx.poll_transmit().as_ref().and_then(status_of), Some(100));
    let ok = respond(&req, 200, "s1");
    tx.send_response(clock.ms(2000), ok.clone()).unwrap();
    assert_eq!(tx.state(), State::Completed);
    assert_eq!(tx.poll_transmit(), Some(Message::Response(ok.clone())));
    tx.handle_request(clock.ms(3500), req.clone());
    assert_eq!(tx.poll_transmit(), Some(Message::Response(ok)));
    let j = clock.ms(2000) + 64 * T1;
    assert_eq!(tx.poll_timeout(), Some(j));
    assert!(drive!(tx, j - Duration::from_millis(1)).is_empty(), "the server never retransmits on its own");
    assert_eq!(tx.state(), State::Completed);
    tx.handle_timeout(j);
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Terminated]);
}

#[test]
fn timer_j_is_zero_over_tcp_so_the_final_response_ends_it() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    let req = tx.request().clone();
    let unauthorized = respond(&req, 401, "s1");
    tx.send_response(clock.ms(5), unauthorized.clone()).unwrap();
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(tx.poll_transmit(), Some(Message::Response(unauthorized)), "the response still goes out");
    assert_eq!(tx.poll_timeout(), None, "no timer left to fire");
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Terminated]);
    assert_eq!(Timer::J.duration(&cfg(), true), Duration::ZERO);
    assert_eq!(Timer::J.duration(&cfg(), false), 64 * T1);
}

#[test]
fn only_one_final_response() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.send_response(clock.base, respond(&req, 200, "s1")).unwrap();
    assert_eq!(
        tx.send_response(clock.base, respond(&req, 500, "s1")),
        Err(TransactionError::InvalidResponse { status: 500, state: State::Completed })
    );
    assert_eq!(tx.final_response().map(|r| r.status), Some(200));
}

#[test]
fn transport_error_terminates() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.send_response(clock.base, respond(&req, 200, "s1")).unwrap();
    tx.handle_transport_error(clock.ms(1));
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::TransportError, TransactionEvent::Terminated]);
}
