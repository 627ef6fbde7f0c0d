#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::{HeaderName, Method};
use crate::transaction::{ack_for_non_2xx, trying_for};

#[test]
fn ack_takes_only_the_first_via_element_of_a_joined_line() {
    let mut reg = register("z9hG4bK1", 7, false);
    reg.method = Method::Invite;
    reg.headers.set(HeaderName::CSeq, "7 INVITE");
    reg.headers.set(HeaderName::Via, "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2");
    reg.headers.remove(&HeaderName::MaxForwards);
    let ack = ack_for_non_2xx(&reg, &respond(&reg, 500, "t")).unwrap();
    assert_eq!(ack.headers.values(&HeaderName::Via).collect::<Vec<_>>(), ["SIP/2.0/UDP a.example.com;branch=z9hG4bK1"]);
    assert!(!ack.headers.contains(&HeaderName::Route));
    assert!(!ack.headers.contains(&HeaderName::Contact));
    assert_eq!(ack.headers.max_forwards().unwrap(), Some(70));
    assert_eq!(ack.headers.cseq().unwrap().seq, 7);
    let wire_form = wire(&ack.clone().into());
    assert_eq!(wire_form, ack.into());
}

#[test]
fn trying_without_timestamp() {
    let reg = register("z9hG4bK1", 7, false);
    let t = trying_for(&reg);
    assert_eq!(t.status, 100);
    assert!(!t.headers.contains(&HeaderName::Timestamp));
    assert_eq!(t.headers.cseq().unwrap(), reg.headers.cseq().unwrap());
}
