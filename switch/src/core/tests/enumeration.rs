//! No enumeration (issue 12 item 1): a REGISTER for, and an INVITE from, a
//! number that is not provisioned get the same challenge (a nonce of the same
//! form, the same realm and algorithms in the same order) and the same 403 as
//! a provisioned number with a wrong password, over UDP and TCP, stale nonces
//! included; OPTIONS answers the same whatever the number. Nor is a right
//! password told apart by another device's MAC or a number held elsewhere.

use super::client::{Client, both_transports, line};
use super::*;
use tests::probe::shape;

/// A core with 1001 (home-less, so nothing but credentials matters) and 1002
/// bound to a MAC; the guard out of the way, so only the answers are compared.
fn lab() -> Lab {
    let mut config = config(FLOW_TIMER);
    config.registrar.abuse = AbuseConfig { max_failures: u32::MAX, number_max_failures: u32::MAX, ..AbuseConfig::default() };
    config.registrar.digest_algorithms = vec![Algorithm::Md5, Algorithm::Sha256];
    let mac = Subscriber { mac: Some("02:42:ac:11:00:02".parse().unwrap()), ..provisioned("1002", PASSWORD) };
    Lab::with(config, vec![provisioned("1001", PASSWORD), mac])
}

/// A nonce as the digest server mints them: 43 characters of base64url.
fn nonce_form(nonce: &str) -> bool {
    nonce.len() == 43 && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn an_unknown_number_is_challenged_and_refused_like_a_known_one_over_udp_and_tcp() {
    let mut lab = lab();
    let at = lab.clock();
    let [mut known_udp, mut known_tcp] = both_transports(1, "1001", "guess-1");
    let [mut unknown_udp, mut unknown_tcp] = both_transports(2, "1999", "guess-1");
    {
        for (known, unknown) in [(&mut known_udp, &mut unknown_udp), (&mut known_tcp, &mut unknown_tcp)] {
            let transport = known.flow.transport;
            let t = at(10, 0);
            // The challenge: same status, realm, algorithms and order; a fresh nonce of the same form.
            let (k, u) = (known.register(&mut lab, t), unknown.register(&mut lab, t));
            assert_eq!((k.status, u.status), (403, 403), "{transport:?}: {} / {}", line(&k), line(&u));
            assert_eq!(shape(&k, "1001"), shape(&u, "1999"), "{transport:?}: the same refusal");
            assert_eq!(line(&k), "403 Forbidden (bad credentials)");
            let (kn, un) = (known.nonce(), unknown.nonce());
            assert!(nonce_form(&kn) && nonce_form(&un) && kn != un, "{kn} {un}");
            let challenge = |c: &mut Client, lab: &mut Lab| {
                let text = c.register_text(false);
                c.send(lab, t, &text)
            };
            let (kc, uc) = (challenge(known, &mut lab), challenge(unknown, &mut lab));
            assert_eq!(shape(&kc, "1001"), shape(&uc, "1999"), "{transport:?}: the same challenge");
            let algorithms: Vec<&str> = kc.headers.get_all(&HeaderName::WwwAuthenticate).collect();
            assert_eq!(algorithms.len(), 2);
            assert!(algorithms[0].contains("algorithm=MD5") && algorithms[1].contains("algorithm=SHA-256"), "{algorithms:?}");
            assert!(algorithms.iter().all(|a| a.contains(&format!("realm=\"{REALM}\"")) && a.contains("qop=\"auth\"")));

            // A nonce past its lifetime answered with a wrong password: the same 403
            // (stale=true only ever tells someone who knows the password).
            let later = at(400, 0);
            let (k, u) = (known.guess(&mut lab, later), unknown.guess(&mut lab, later));
            assert_eq!(shape(&k, "1001"), shape(&u, "1999"), "{transport:?}: stale nonce, wrong password");
            assert_eq!(k.status, 403);

            // The INVITE from each (to a third number): the same 407, then the same 403.
            let t = at(401, 0);
            let first_k = known.invite_text("1003", false);
            let first_u = unknown.invite_text("1003", false);
            let (k, u) = (known.send(&mut lab, t, &first_k), unknown.send(&mut lab, t, &first_u));
            assert_eq!(k.status, 407, "{}", line(&k));
            assert_eq!(shape(&k, "1001"), shape(&u, "1999"), "{transport:?}: the same 407");
            assert!(nonce_form(&known.nonce()) && nonce_form(&unknown.nonce()));
            let (k, u) = (known.call(&mut lab, t, "1003"), unknown.call(&mut lab, t, "1003"));
            assert_eq!(k.status, 403, "{}", line(&k));
            assert_eq!(shape(&k, "1001"), shape(&u, "1999"), "{transport:?}: the same refused INVITE");
        }
    }
    assert!(lab.core.table().is_empty());
    assert!(changes(&lab.take()).is_empty(), "nothing registered, nothing changed");
}

#[test]
fn a_right_password_from_the_wrong_mac_is_refused_like_a_wrong_one() {
    let mut lab = lab();
    let at = lab.clock();
    let t = at(10, 0);
    let mut right = Client::tcp(7, "198.51.100.7:40000", "1002", PASSWORD);
    let mut wrong = Client::tcp(8, "198.51.100.8:40000", "1002", "not-it");
    let (r, w) = (right.register(&mut lab, t), wrong.register(&mut lab, t));
    assert_eq!(shape(&r, "1002"), shape(&w, "1002"), "no X-MAC with the right password: {}", line(&r));
    assert_eq!(line(&r), "403 Forbidden (bad credentials)");
}

#[test]
fn options_says_nothing_per_number_and_its_200_has_a_to_tag() {
    let mut lab = lab();
    let at = lab.clock();
    let options = |number: &str, n: u32| {
        format!(
            "OPTIONS sip:{number}@{REALM} SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bKopt{n}\nMax-Forwards: 70\n\
             From: <sip:scan@198.51.100.9>;tag=s{n}\nTo: <sip:{number}@{REALM}>\nCall-ID: opt{n}@scan\nCSeq: 1 OPTIONS\n\
             Content-Length: 0\n\n"
        )
    };
    let scanner = Flow { remote: addr("198.51.100.9:5060"), ..udp_listener() };
    let mut answers = Vec::new();
    for (n, number) in [(1, "1001"), (2, "1999")] {
        lab.deliver(at(1, 0), scanner, &options(number, n));
        let ok = only_response(&lab.take(), 200);
        let tag = ok.headers.to_addr().unwrap().tag().map(str::to_owned);
        assert!(tag.as_ref().is_some_and(|t| !t.is_empty()), "RFC 3261 §8.2.6.2: a To tag: {ok:?}");
        assert!(ok.headers.get(&HeaderName::Server).is_none(), "no Server header unless configured");
        answers.push(shape(&ok, number));
    }
    assert_eq!(answers[0], answers[1], "the same answer for a provisioned number and for none");
}

#[test]
fn every_response_names_the_server_only_if_configured() {
    let mut config = config(FLOW_TIMER);
    config.server_header = Some("roamswitch/test".into());
    let mut lab = Lab::with(config, vec![provisioned("1001", PASSWORD)]);
    let at = lab.clock();
    let mut phone = Client::tcp(9, "198.51.100.10:40000", "1001", PASSWORD);
    let first = phone.register_text(false);
    let challenge = phone.send(&mut lab, at(1, 0), &first);
    let ok = phone.register(&mut lab, at(2, 0));
    assert_eq!(ok.status, 200, "{}", line(&ok));
    for r in [&challenge, &ok] {
        assert_eq!(r.headers.get_all(&HeaderName::Server).collect::<Vec<_>>(), ["roamswitch/test"], "{}", line(r));
    }
}
