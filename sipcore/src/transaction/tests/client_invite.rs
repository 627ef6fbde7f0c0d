#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::{HeaderName, Message, Method};
use crate::transaction::{ClientInviteTransaction, State, Timer, TimerConfig, TransactionError, TransactionEvent};
use std::time::Duration;

fn start(clock: Clock, reliable: bool) -> ClientInviteTransaction {
    let mut tx = ClientInviteTransaction::new(clock.base, invite("z9hG4bK776asdhds", reliable), reliable, &cfg()).unwrap();
    let first = tx.poll_transmit().unwrap();
    assert_eq!(method_of(&first), Some("INVITE"));
    assert!(tx.poll_transmit().is_none());
    assert_eq!(tx.state(), State::Calling);
    tx
}

#[test]
fn timer_a_doubles_without_cap_and_timer_b_fires_at_64_t1_over_udp() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    assert_eq!(tx.poll_timeout(), Some(clock.at(T1)));
    let sent = drive!(tx, clock.at(64 * T1));
    let times: Vec<_> = sent.iter().map(|(at, _)| *at).collect();
    // T1, 3T1, 7T1, 15T1, 31T1, 63T1: the interval doubles past T2 (no cap).
    let expected: Vec<_> = [1, 3, 7, 15, 31, 63].iter().map(|n| clock.at(T1 * *n)).collect();
    assert_eq!(times, expected);
    assert!(sent.iter().all(|(_, m)| *m == Message::Request(tx.request().clone())));
    assert_eq!(tx.state(), State::Terminated);
    let ev = events(|| tx.poll_event());
    assert_eq!(ev, [TransactionEvent::Timeout(Timer::B), TransactionEvent::Terminated]);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn timer_b_fires_exactly_at_64_t1_and_not_before() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let _ = drive!(tx, clock.at(64 * T1) - Duration::from_nanos(1));
    assert_eq!(tx.state(), State::Calling);
    assert_eq!(tx.poll_timeout(), Some(clock.at(64 * T1)));
    tx.handle_timeout(clock.at(64 * T1));
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn no_retransmissions_over_tcp_and_timer_b_still_at_64_t1() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    assert_eq!(tx.poll_timeout(), Some(clock.at(64 * T1)));
    let sent = drive!(tx, clock.at(Duration::from_secs(100)));
    assert!(sent.is_empty());
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Timeout(Timer::B), TransactionEvent::Terminated]);
}

#[test]
fn timers_follow_the_config() {
    let clock = Clock::new();
    let config = TimerConfig { t1: Duration::from_millis(100), ..TimerConfig::default() };
    let mut tx = ClientInviteTransaction::new(clock.base, invite("z9hG4bK1", false), false, &config).unwrap();
    let _ = tx.poll_transmit();
    let sent = drive!(tx, clock.ms(10_000));
    assert_eq!(sent.first().map(|(at, _)| *at), Some(clock.ms(100)));
    assert_eq!(sent.len(), 6);
    assert_eq!(events(|| tx.poll_event()).first(), Some(&TransactionEvent::Timeout(Timer::B)));
    // B at 64 * 100 ms: nothing runs after it.
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn provisional_stops_a_and_b_and_reaches_the_tu() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let _ = drive!(tx, clock.at(T1));
    let req = tx.request().clone();
    tx.handle_response(clock.ms(700), respond(&req, 180, "a6c85cf"));
    assert_eq!(tx.state(), State::Proceeding);
    assert_eq!(tx.poll_timeout(), None, "no Timer A or B in Proceeding");
    assert!(matches!(tx.poll_event(), Some(TransactionEvent::Response(r)) if r.status == 180));
    assert!(drive!(tx, clock.at(Duration::from_secs(3600))).is_empty());
}

#[test]
fn non_2xx_final_is_acked_per_17_1_1_3_and_timer_d_is_32s_over_udp() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    tx.handle_response(clock.ms(100), respond(&req, 100, ""));
    let busy = respond(&req, 486, "a6c85cf");
    tx.handle_response(clock.ms(300), busy.clone());
    assert_eq!(tx.state(), State::Completed);
    let Some(Message::Request(ack)) = tx.poll_transmit() else { panic!("no ACK") };

    // §17.1.1.3
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, req.uri);
    let h = &ack.headers;
    assert_eq!(h.call_id().unwrap(), req.headers.call_id().unwrap());
    assert_eq!(h.get(&HeaderName::From), req.headers.get(&HeaderName::From));
    assert_eq!(h.get(&HeaderName::To), busy.headers.get(&HeaderName::To));
    assert_eq!(h.to_addr().unwrap().tag(), Some("a6c85cf"));
    let cseq = h.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, Method::Ack));
    let vias: Vec<_> = h.values(&HeaderName::Via).collect();
    assert_eq!(vias, ["SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds"]);
    let routes: Vec<_> = h.values(&HeaderName::Route).collect();
    assert_eq!(routes, ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
    assert!(ack.body.is_empty());
    assert_eq!(h.content_length().unwrap(), Some(0));
    // It goes on the wire as is.
    assert_eq!(wire(&Message::Request(ack.clone())), Message::Request(ack.clone()));

    let ev = events(|| tx.poll_event());
    assert_eq!(ev.len(), 2);
    assert!(matches!(&ev[1], TransactionEvent::Response(r) if r.status == 486));

    // Retransmitted 486: the ACK again, the TU hears nothing.
    tx.handle_response(clock.ms(800), busy.clone());
    assert_eq!(tx.poll_transmit(), Some(Message::Request(ack)));
    assert_eq!(tx.poll_event(), None);

    // Timer D: 32 s (≥ 32 s, and 64*T1 with the default T1).
    let d = clock.ms(300) + Duration::from_secs(32);
    assert_eq!(tx.poll_timeout(), Some(d));
    assert_eq!(Timer::D.duration(&cfg(), false), Duration::from_secs(32));
    tx.handle_timeout(d - Duration::from_millis(1));
    assert_eq!(tx.state(), State::Completed);
    tx.handle_timeout(d);
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(tx.poll_event(), Some(TransactionEvent::Terminated));
}

#[test]
fn timer_d_is_zero_over_tcp() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    let req = tx.request().clone();
    tx.handle_response(clock.ms(40), respond(&req, 404, "x"));
    assert!(matches!(tx.poll_transmit(), Some(Message::Request(a)) if a.method == Method::Ack));
    assert_eq!(tx.state(), State::Completed);
    assert_eq!(tx.poll_timeout(), Some(clock.ms(40)));
    tx.handle_timeout(clock.ms(40));
    assert_eq!(tx.state(), State::Terminated);
    assert_eq!(Timer::D.duration(&cfg(), true), Duration::ZERO);
}

#[test]
fn timer_d_is_at_least_32s_even_with_a_small_t1() {
    let small = TimerConfig { t1: Duration::from_millis(100), ..TimerConfig::default() };
    assert_eq!(Timer::D.duration(&small, false), Duration::from_secs(32));
    let large = TimerConfig { t1: Duration::from_secs(1), ..TimerConfig::default() };
    assert_eq!(Timer::D.duration(&large, false), Duration::from_secs(64));
}

#[test]
fn accepted_passes_every_2xx_to_the_tu_until_timer_m() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    let req = tx.request().clone();
    let ok = respond(&req, 200, "a6c85cf");
    tx.handle_response(clock.ms(200), ok.clone());
    assert_eq!(tx.state(), State::Accepted);
    assert!(tx.poll_transmit().is_none(), "the TU ACKs a 2xx, not the transaction");
    assert_eq!(tx.poll_event(), Some(TransactionEvent::Response(ok.clone())));
    // A retransmission and a 2xx from another fork both reach the TU.
    tx.handle_response(clock.ms(700), ok.clone());
    let fork = respond(&req, 200, "other-fork");
    tx.handle_response(clock.ms(900), fork.clone());
    // A late non-2xx is dropped.
    tx.handle_response(clock.ms(950), respond(&req, 500, "z"));
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::Response(ok), TransactionEvent::Response(fork)]);
    assert!(tx.poll_transmit().is_none());
    // Timer M = 64*T1, and no Timer A retransmissions in Accepted.
    let m = clock.ms(200) + 64 * T1;
    assert_eq!(tx.poll_timeout(), Some(m));
    assert!(drive!(tx, m).is_empty());
    assert_eq!(tx.state(), State::Terminated);
}

#[test]
fn cancel_needs_a_provisional_response_first() {
    let clock = Clock::new();
    let mut tx = start(clock, false);
    assert_eq!(tx.cancel(), Err(TransactionError::NotCancellable(State::Calling)));
    let req = tx.request().clone();
    tx.handle_response(clock.ms(100), respond(&req, 180, "t"));
    let cancel = tx.cancel().unwrap();
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, req.uri);
    let h = &cancel.headers;
    assert_eq!(h.values(&HeaderName::Via).collect::<Vec<_>>(), ["SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds"]);
    assert_eq!(h.get(&HeaderName::To), req.headers.get(&HeaderName::To), "the INVITE's To, without the response's tag");
    assert_eq!(h.get(&HeaderName::From), req.headers.get(&HeaderName::From));
    assert_eq!(h.call_id().unwrap(), req.headers.call_id().unwrap());
    assert_eq!(h.cseq().unwrap().seq, 314159);
    assert_eq!(h.cseq().unwrap().method, Method::Cancel);
    assert_eq!(h.values(&HeaderName::Route).count(), 2);
    tx.handle_response(clock.ms(200), respond(&req, 487, "t"));
    assert_eq!(tx.cancel(), Err(TransactionError::NotCancellable(State::Completed)));
}

#[test]
fn transport_error_in_calling_terminates_and_tells_the_tu() {
    let clock = Clock::new();
    let mut tx = start(clock, true);
    tx.handle_transport_error(clock.ms(1));
    assert_eq!(events(|| tx.poll_event()), [TransactionEvent::TransportError, TransactionEvent::Terminated]);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn refuses_other_methods_and_requests_without_branch() {
    let clock = Clock::new();
    let reg = register("z9hG4bK1", 1, false);
    assert_eq!(ClientInviteTransaction::new(clock.base, reg, false, &cfg()).unwrap_err(), TransactionError::WrongMethod(Method::Register));
    let mut inv = invite("z9hG4bK1", false);
    inv.headers.set(HeaderName::Via, "SIP/2.0/UDP host");
    assert_eq!(ClientInviteTransaction::new(clock.base, inv, false, &cfg()).unwrap_err(), TransactionError::MissingBranch);
}
