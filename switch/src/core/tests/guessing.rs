//! No password guessing (issue 12 item 2), on virtual time: failures count
//! per source and per number, a success for one number clears nothing of
//! another's, a number under attack locks (longer each time) whatever the
//! sources, every answer during the lock is the same right password or wrong,
//! nothing a refused attempt does changes the number's state, and the phone
//! registered on its flow keeps refreshing and calling throughout.

use super::client::{Client, line};
use super::*;
use crate::abuse::NumberLock;
use crate::record::RlState;
use tests::probe::shape;

/// 1001 (the target) and 1002 (the attacker's own account), the default guard.
fn lab() -> Lab {
    Lab::with(config(FLOW_TIMER), vec![provisioned("1001", PASSWORD), provisioned("1002", "own-account-pw")])
}

/// The locks as `switch registrations` gets them.
fn locks(lab: &mut Lab, t: Instant) -> Vec<NumberLock> {
    lab.advance_to(t);
    lab.core.handle_locks(t, ControlId(7));
    lab.drain();
    let line = lab
        .take()
        .into_iter()
        .find_map(|(_, o)| if let Output::ControlReply { line, .. } = o { Some(line) } else { None })
        .expect("an answer");
    serde_json::from_str(&line).unwrap()
}

fn lock(number: &str, seconds_left: u64, level: u32, failures: u64) -> NumberLock {
    NumberLock { number: number.into(), seconds_left, level, failures }
}

/// A hundred guesses, the right one 50th.
fn wordlist() -> Vec<String> {
    (1..=100).map(|i| if i == 50 { PASSWORD.to_owned() } else { format!("guess-{i:03}") }).collect()
}

/// The phone of 1001, registered over TCP at `t`.
fn holder(lab: &mut Lab, t: Instant) -> Client {
    let mut phone = Client::tcp(2, "198.51.100.7:40000", "1001", PASSWORD);
    assert_eq!(phone.register(lab, t).status, 200);
    phone
}

#[test]
fn twenty_rotating_sources_never_reach_the_50th_guess_and_the_phone_keeps_working() {
    let mut lab = lab();
    let at = lab.clock();
    let mut phone = holder(&mut lab, at(1, 0));
    let held = lab.core.table().get("1001").unwrap().clone();
    lab.take();

    // Twenty attackers over UDP take turns, one guess each, ten a second.
    let mut attackers: Vec<Client> = (0..20).map(|i| Client::udp(&format!("203.0.113.{}:5060", 10 + i), "1001", "")).collect();
    let mut refusals = Vec::new();
    for (i, word) in wordlist().into_iter().enumerate() {
        let t = at(10, 100 * i as u64);
        let a = &mut attackers[i % 20];
        a.password = word;
        let first = a.register_text(false);
        assert_eq!(a.send(&mut lab, t, &first).status, 401, "every guess gets its challenge");
        let r = a.guess(&mut lab, t);
        assert_eq!(line(&r), "403 Forbidden (bad credentials)", "guess {}", i + 1);
        refusals.push(shape(&r, "1001"));
        if i == 4 {
            // The fifth failure locks the number for a minute; no source has cooled down.
            assert_eq!(locks(&mut lab, t), [lock("1001", 60, 1, 5)]);
        }
    }
    assert!(refusals.windows(2).all(|w| w[0] == w[1]), "the right password (the 50th) was answered like every wrong one");

    // Nothing the attackers did changed the number: no conflict, no registration.
    let out = lab.take();
    assert!(changes(&out).is_empty(), "{:#?}", changes(&out));
    assert_eq!(lab.core.table().get("1001"), Some(&held));

    // During the lock the phone refreshes on its flow, and calls.
    let t = at(30, 0);
    let r = phone.register(&mut lab, t);
    assert_eq!(r.status, 200, "the holder refreshes during the lock: {}", line(&r));
    let r = phone.call(&mut lab, t, "1002");
    assert!(!matches!(r.status, 401 | 403 | 407), "the holder's call is admitted (1002 is not registered): {}", line(&r));
    assert_eq!(lab.core.table().get("1001").map(|r| r.state), Some(RlState::Registered));

    // Once the lock is over the next five failures lock it twice as long.
    assert_eq!(locks(&mut lab, at(70, 0)), [lock("1001", 1, 1, 5)], "locked at 10.4 s for a minute");
    assert!(locks(&mut lab, at(70, 400)).is_empty());
    for (i, a) in attackers.iter_mut().enumerate().take(5) {
        a.password = format!("again-{i}");
        a.register(&mut lab, at(72, i as u64));
    }
    assert_eq!(locks(&mut lab, at(72, 4)), [lock("1001", 120, 2, 10)]);
}

#[test]
fn a_right_password_from_another_device_is_refused_alike_and_changes_nothing_under_attack() {
    let mut lab = lab();
    let at = lab.clock();
    holder(&mut lab, at(1, 0));
    lab.take();
    // One wrong guess: the number is now under attack (remembered for an hour).
    let mut guesser = Client::udp("203.0.113.5:5060", "1001", "wrong");
    let wrong = guesser.register(&mut lab, at(5, 0));
    // The right password from another TCP device would be a conflict; under
    // attack it could be a guess that hit: refused the same way, nothing changes.
    let mut other = Client::tcp(30, "203.0.113.6:40000", "1001", PASSWORD);
    let right = other.register(&mut lab, at(6, 0));
    assert_eq!(shape(&right, "1001"), shape(&wrong, "1001"), "{}", line(&right));
    assert!(changes(&lab.take()).is_empty(), "no conflict from a possible guess");
    assert_eq!(lab.core.table().get("1001").map(|r| r.state), Some(RlState::Registered));
}

#[test]
fn a_conflict_when_nobody_is_guessing_is_recorded_but_answered_like_a_wrong_password() {
    let mut lab = lab();
    let at = lab.clock();
    holder(&mut lab, at(1, 0));
    lab.take();
    let mut other = Client::tcp(30, "203.0.113.6:40000", "1001", PASSWORD);
    let right = other.register(&mut lab, at(6, 0));
    let mut guesser = Client::tcp(31, "203.0.113.7:40000", "1001", "wrong");
    let wrong = guesser.register(&mut lab, at(7, 0));
    assert_eq!(shape(&right, "1001"), shape(&wrong, "1001"), "the two cannot be told apart: {}", line(&right));
    let out = changes(&lab.take());
    assert!(matches!(&out[..], [(_, Change::Challenged { record, .. })] if record.state == RlState::Conflict), "{out:#?}");
}

#[test]
fn logging_into_its_own_account_between_guesses_buys_a_source_nothing() {
    let mut lab = lab();
    let at = lab.clock();
    let mut guesser = Client::udp("203.0.113.9:5060", "1001", "");
    let mut own = Client::udp("203.0.113.9:5062", "1002", "own-account-pw");
    let mut answers = Vec::new();
    for (i, word) in wordlist().into_iter().enumerate().take(12) {
        let t = at(10, 100 * i as u64);
        if i % 4 == 0 && i < 8 {
            assert_eq!(own.register(&mut lab, t).status, 200, "its own login works");
        }
        guesser.password = word;
        answers.push(line(&guesser.register(&mut lab, t)));
    }
    let bad = "403 Forbidden (bad credentials)".to_owned();
    assert_eq!(answers[..5], vec![bad; 5], "five failures, logins in between or not");
    assert!(answers[5..].iter().all(|a| a.starts_with("403 Forbidden (too many failed authentications; retry in ")), "{answers:#?}");
    // Its own phone, registered on its flow, keeps refreshing; anything else
    // from that address is shut out, its own account too.
    assert_eq!(own.register(&mut lab, at(20, 0)).status, 200, "the holder on its flow");
    let mut own_elsewhere = Client::udp("203.0.113.9:5064", "1002", "own-account-pw");
    let r = own_elsewhere.register(&mut lab, at(20, 0));
    assert!(line(&r).starts_with("403 Forbidden (too many failed authentications"), "{}", line(&r));
    assert_eq!(locks(&mut lab, at(20, 0)), [lock("1001", 51, 1, 5)]);
}

#[test]
fn a_number_not_in_service_locks_like_one_that_is() {
    let mut lab = lab();
    let at = lab.clock();
    for (n, number) in [(1, "1001"), (2, "1999")] {
        for i in 0..5 {
            let mut a = Client::udp(&format!("203.0.{n}.{i}:5060"), number, "nope");
            a.register(&mut lab, at(10, i));
        }
    }
    assert_eq!(locks(&mut lab, at(10, 4)), [lock("1001", 60, 1, 5), lock("1999", 60, 1, 5)]);
}
