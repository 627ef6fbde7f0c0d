//! A rogue registered phone (issue 12 item 10, SECURITY.md): its own
//! password opens its own number only. Credentials for one number on a
//! REGISTER or an INVITE that names another are refused, whether that other
//! number exists or not, and change nothing. Nor does a nonce, or an answer
//! to one, seen on one flow open anything on another.

use super::client::{Client, line};
use super::*;

/// The request `text` with every `sip:{from}@` of its From and To (and
/// Contact) turned into `sip:{to}@`: the headers name another number while
/// the credentials stay the client's.
fn posing_as(text: &str, from: &str, to: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(':') {
            Some(("From" | "To" | "Contact", _)) => l.replace(&format!("sip:{from}@"), &format!("sip:{to}@")),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn its_own_credentials_never_register_or_call_as_another_number() {
    let mut lab = Lab::with(config(FLOW_TIMER), vec![provisioned("1001", PASSWORD), provisioned("1002", "another-secret")]);
    let at = lab.clock();
    let mut rogue = Client::tcp(7, "198.51.100.7:40000", "1001", PASSWORD);
    assert_eq!(rogue.register(&mut lab, at(1, 0)).status, 200, "the rogue is a subscriber");
    let before = lab.core.table().len();
    lab.take();

    for victim in ["1002", "1999"] {
        // REGISTER for the victim, answering the challenge with 1001's credentials.
        let challenge = posing_as(&rogue.register_text(false), "1001", victim);
        assert_eq!(rogue.send(&mut lab, at(2, 0), &challenge).status, 401);
        let posed = posing_as(&rogue.register_text(true), "1001", victim);
        let r = rogue.send(&mut lab, at(2, 0), &posed);
        assert_eq!(line(&r), "403 Forbidden (username does not match the number)", "REGISTER as {victim}");

        // INVITE from the victim, with 1001's credentials.
        let first = posing_as(&rogue.invite_text("1003", false), "1001", victim);
        assert_eq!(rogue.send(&mut lab, at(3, 0), &first).status, 407);
        let posed = posing_as(&rogue.invite_text("1003", true), "1001", victim);
        let r = rogue.send(&mut lab, at(3, 0), &posed);
        assert_eq!(line(&r), "403 Forbidden (username does not match the number)", "INVITE from {victim}");
    }
    assert_eq!(lab.core.table().len(), before, "no record for the numbers posed as");
    assert!(changes(&lab.take()).is_empty(), "nothing changed");
}

#[test]
fn a_nonce_answered_on_another_flow_earns_only_a_fresh_challenge() {
    let mut config = config(FLOW_TIMER);
    // One failure would lock the number: the moved answer must not count as one.
    config.registrar.abuse = AbuseConfig { number_max_failures: 1, ..AbuseConfig::default() };
    let mut lab = Lab::with(config, vec![provisioned("1001", PASSWORD)]);
    let at = lab.clock();
    let mut phone = Client::tcp(8, "198.51.100.8:40000", "1001", PASSWORD);
    let first = phone.register_text(false);
    assert_eq!(phone.send(&mut lab, at(1, 0), &first).status, 401);
    let issued = phone.nonce();
    // The right answer to that challenge, sent on another connection.
    phone.reconnect(9, "198.51.100.9:40001");
    let r = phone.guess(&mut lab, at(1, 0));
    assert_eq!(line(&r), "401 Unauthorized", "a nonce from another flow is not ours here");
    assert_ne!(phone.nonce(), issued, "a fresh nonce, for this flow");
    assert!(lab.core.table().is_empty());
    // Answered on the flow it was issued to, the fresh one works: nothing was counted.
    assert_eq!(phone.guess(&mut lab, at(1, 0)).status, 200);
}
