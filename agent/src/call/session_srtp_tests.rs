//! SDES-SRTP in a call's session, sans-IO: what the policy offers over TLS and
//! plain TCP, what it answers, what it does when the other side declines, and
//! that our key stays the call's through re-offers.
#![allow(clippy::unwrap_used)]

use super::tests::relay_local;
use super::*;
use media::srtp::{CryptoAttribute, MASTER_LEN, SrtpKeys, SrtpSuite};

const BEARER: &str = "10.1.0.2:40000";

fn key(b: u8) -> MasterKey {
    MasterKey::new([b; MASTER_LEN])
}

fn session(policy: SrtpPolicy, tls: bool, offer: &str) -> Session {
    let mut s = Session::new(BearerTransport::Udp, 7, Bytes::from(offer.to_owned()), Srtp::new(policy, Some(key(1)), tls));
    s.bound(BEARER.parse().unwrap());
    s
}

fn text(sdp: &[u8]) -> &str {
    std::str::from_utf8(sdp).unwrap()
}

/// The relay's side of an exchange: its SDP answering `offer`, keyed with key 2 when it can.
fn relay_answer(offer: &[u8]) -> Bytes {
    Bytes::from(offer::answer(text(offer), &relay_local(2, Some(key(2)))).unwrap().0)
}

/// An offer from the relay, SRTP with key 2 or plain.
fn relay_offer(srtp: bool) -> String {
    offer::build_offer(&relay_local(1, srtp.then(|| key(2))))
}

fn our_line(tag: u32) -> String {
    format!("a=crypto:{}\r\n", CryptoAttribute { tag, suite: SrtpSuite::AesCm128HmacSha1_80, key: key(1) }.value())
}

#[test]
fn over_tls_our_offer_is_srtp_and_the_key_stays_through_a_hold() {
    let mut s = session(SrtpPolicy::Preferred, true, "");
    let offer = s.initial_offer().unwrap();
    assert!(text(&offer).contains("m=audio 40000 RTP/SAVP 0 8 101\r\n") && text(&offer).contains(&our_line(1)), "{}", text(&offer));
    let n = s.answered(relay_answer(&offer)).unwrap();
    assert_eq!(n.srtp, Some(SrtpKeys { suite: SrtpSuite::AesCm128HmacSha1_80, local: key(1), remote: key(2) }));
    // Our hold re-offer is SRTP with the same key: the streams' crypto state carries on.
    let hold = s.propose(Direction::SendOnly).unwrap();
    assert!(text(&hold).contains("RTP/SAVP") && text(&hold).contains(&our_line(1)), "{}", text(&hold));
    assert_eq!(s.accept(relay_answer(&hold)).unwrap().srtp, n.srtp);
}

#[test]
fn over_plain_tcp_we_offer_plain_rtp_but_answer_an_srtp_offer_with_srtp() {
    let mut s = session(SrtpPolicy::Preferred, false, "");
    let offer = s.initial_offer().unwrap();
    assert!(text(&offer).contains("RTP/AVP") && !text(&offer).contains("crypto"), "keys never in clear: {}", text(&offer));
    // The peer sent its key already: answering with ours costs nothing more.
    let mut s = session(SrtpPolicy::Preferred, false, &relay_offer(true));
    let (answer, n) = s.answer_invite().unwrap();
    assert!(text(&answer).contains("RTP/SAVP") && text(&answer).contains(&our_line(1)), "{}", text(&answer));
    assert_eq!(n.unwrap().srtp.map(|k| (k.local, k.remote)), Some((key(1), key(2))));
    // Its re-offer (a hold, same key) is answered with the same key of ours.
    let (re, n) = s.reanswer(Bytes::from(relay_offer(true).replace("a=sendrecv", "a=sendonly"))).unwrap();
    assert!(text(&re).contains(&our_line(1)) && text(&re).contains("a=recvonly"), "{}", text(&re));
    assert!(n.srtp.is_some());
}

#[test]
fn a_plain_answer_to_our_srtp_offer_is_plain_rtp_when_preferred_and_the_end_when_required() {
    let plain_answer = |offer: &[u8]| {
        let plain = text(offer).replace("RTP/SAVP", "RTP/AVP");
        Bytes::from(offer::answer(&plain, &relay_local(2, None)).unwrap().0)
    };
    let mut s = session(SrtpPolicy::Preferred, true, "");
    let offer = s.initial_offer().unwrap();
    assert_eq!(s.answered(plain_answer(&offer)).unwrap().srtp, None);
    let hold = s.propose(Direction::SendOnly).unwrap();
    assert!(!text(&hold).contains("crypto") && text(&hold).contains("RTP/AVP"), "declined once: re-offers are plain");
    let mut s = session(SrtpPolicy::Required, true, "");
    let offer = s.initial_offer().unwrap();
    let e = s.answered(plain_answer(&offer)).err();
    assert!(matches!(&e, Some(EndpointError::Sdp(why)) if why.contains("SRTP is required")), "{e:?}");
}

#[test]
fn required_refuses_plain_offers_and_off_refuses_srtp_ones() {
    let at: SocketAddr = BEARER.parse().unwrap();
    let plain = relay_offer(false);
    let srtp = relay_offer(true);
    assert!(session(SrtpPolicy::Required, true, &plain).check_offer(plain.as_bytes(), at).is_err());
    assert!(session(SrtpPolicy::Required, false, &srtp).check_offer(srtp.as_bytes(), at).is_ok());
    assert!(session(SrtpPolicy::Off, true, &srtp).check_offer(srtp.as_bytes(), at).is_err());
    assert!(session(SrtpPolicy::Off, true, &plain).check_offer(plain.as_bytes(), at).is_ok());
    let mut off = session(SrtpPolicy::Off, true, "");
    assert!(!text(&off.initial_offer().unwrap()).contains("crypto"), "off: never offered, TLS or not");
}

#[test]
fn a_refused_srtp_offer_falls_back_to_a_plain_one_once_and_only_when_preferred() {
    let mut s = session(SrtpPolicy::Preferred, true, "");
    let offer = s.initial_offer().unwrap();
    assert!(s.fall_back_to_plain());
    let plain = s.local_sdp.clone();
    assert!(text(&plain).contains("m=audio 40000 RTP/AVP 0 8 101\r\n") && !text(&plain).contains("crypto"), "{}", text(&plain));
    assert!(text(&offer).contains("o=- 7 1 ") && text(&plain).contains("o=- 7 2 "), "a new SDP, a new version");
    assert!(!s.fall_back_to_plain(), "once");
    assert_eq!(s.answered(relay_answer(&plain)).unwrap().srtp, None);
    let mut required = session(SrtpPolicy::Required, true, "");
    required.initial_offer();
    assert!(!required.fall_back_to_plain());
    let mut plain_tcp = session(SrtpPolicy::Preferred, false, "");
    plain_tcp.initial_offer();
    assert!(!plain_tcp.fall_back_to_plain(), "nothing to fall back from");
}
