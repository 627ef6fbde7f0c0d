#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::support::*;
use crate::message::{HeaderName, Method, Request};
use crate::transaction::{TransactionKey, ack_for_non_2xx, cancel_for};

/// The request as a 2xx ACK would be sent by a UAC: a new transaction, so a
/// new branch (§13.2.2.4, §17.1.1.3).
fn ack_for_2xx(invite: &Request, to_tag: &str) -> Request {
    let ok = respond(invite, 200, to_tag);
    let mut ack = ack_for_non_2xx(invite, &ok).unwrap();
    ack.headers.set(HeaderName::Via, "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnewbranch");
    ack
}

#[test]
fn client_matching_uses_branch_and_cseq_method() {
    let inv = invite("z9hG4bK776asdhds", false);
    let key = TransactionKey::client(&inv).unwrap();
    assert_eq!(key, TransactionKey::Client { branch: "z9hg4bk776asdhds".into(), method: Method::Invite });
    assert!(key.is_client());
    assert_eq!(TransactionKey::for_response(&respond(&inv, 180, "t")).unwrap(), key);
    // The 200 for a CANCEL carries the same branch but CSeq method CANCEL.
    let cancel = cancel_for(&inv).unwrap();
    let cancel_ok = respond(&cancel, 200, "t");
    let cancel_key = TransactionKey::for_response(&cancel_ok).unwrap();
    assert_ne!(cancel_key, key);
    assert_eq!(cancel_key, TransactionKey::client(&cancel).unwrap());
    // Another branch is another transaction.
    let other = invite("z9hG4bK776asdhdX", false);
    assert_ne!(TransactionKey::for_response(&respond(&other, 180, "t")).unwrap(), key);
}

#[test]
fn server_matching_uses_branch_sent_by_and_method() {
    let inv = invite("z9hG4bK776asdhds", false);
    let key = TransactionKey::server(&inv).unwrap();
    assert_eq!(
        key,
        TransactionKey::Server {
            branch: "z9hg4bk776asdhds".into(),
            sent_by: "pc33.atlanta.example.com:5060".into(),
            method: Method::Invite
        }
    );
    assert!(!key.is_client());
    assert_ne!(key, TransactionKey::client(&inv).unwrap(), "client and server keys never collide");
    // A retransmission matches.
    assert_eq!(TransactionKey::server(&inv.clone()).unwrap(), key);
    // Branch comparison ignores case.
    let mut shouty = inv.clone();
    shouty.headers.set(HeaderName::Via, "SIP/2.0/UDP PC33.atlanta.example.com:5060;branch=z9hG4bK776ASDHDS");
    assert_eq!(TransactionKey::server(&shouty).unwrap(), key);
    // Same branch, other sent-by: another transaction.
    let mut elsewhere = inv.clone();
    elsewhere.headers.set(HeaderName::Via, "SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK776asdhds");
    assert_ne!(TransactionKey::server(&elsewhere).unwrap(), key);
}

#[test]
fn ack_for_non_2xx_matches_the_invite_server_transaction() {
    let inv = invite("z9hG4bK776asdhds", false);
    let ack = ack_for_non_2xx(&inv, &respond(&inv, 486, "busy")).unwrap();
    assert_eq!(TransactionKey::server(&ack).unwrap(), TransactionKey::server(&inv).unwrap());
}

#[test]
fn ack_for_2xx_does_not_match() {
    let inv = invite("z9hG4bK776asdhds", false);
    assert_ne!(TransactionKey::server(&ack_for_2xx(&inv, "ok")).unwrap(), TransactionKey::server(&inv).unwrap());
}

#[test]
fn cancel_has_its_own_transaction_and_points_at_the_invite() {
    let inv = invite("z9hG4bK776asdhds", false);
    let cancel = cancel_for(&inv).unwrap();
    let cancel_key = TransactionKey::server(&cancel).unwrap();
    assert_ne!(cancel_key, TransactionKey::server(&inv).unwrap());
    assert_eq!(*cancel_key.method(), Method::Cancel);
    assert_eq!(TransactionKey::cancel_target(&cancel).unwrap(), TransactionKey::server(&inv).unwrap());
}

/// An INVITE from an RFC 2543 element: its branch lacks the magic cookie.
fn legacy_invite(branch_param: &str) -> Request {
    let mut inv = invite("z9hG4bKunused", false);
    inv.headers.set(HeaderName::Via, format!("SIP/2.0/UDP oldphone.example.com{branch_param}"));
    inv
}

#[test]
fn pre_3261_fallback_matches_a_retransmission() {
    let inv = legacy_invite(";branch=776asdhds");
    let key = TransactionKey::server(&inv).unwrap();
    let TransactionKey::Legacy(k) = &key else { panic!("expected a legacy key, got {key:?}") };
    assert_eq!(k.request_uri, "sip:bob@biloxi.example.com");
    assert_eq!(k.from_tag.as_deref(), Some("1928301774"));
    assert_eq!(k.to_tag, None);
    assert_eq!(k.cseq, 314159);
    assert_eq!(k.method, Method::Invite);
    // The retransmission, as it came over the wire again, matches.
    let again = match wire(&inv.clone().into()) {
        crate::message::Message::Request(r) => r,
        crate::message::Message::Response(_) => unreachable!(),
    };
    assert_eq!(TransactionKey::server(&again).unwrap(), key);
    // No branch at all: the same fallback.
    assert!(matches!(TransactionKey::server(&legacy_invite("")).unwrap(), TransactionKey::Legacy(_)));
    // Another CSeq, Call-ID or top Via is another transaction.
    let mut next = inv.clone();
    next.headers.set(HeaderName::CSeq, "314160 INVITE");
    assert_ne!(TransactionKey::server(&next).unwrap(), key);
    let mut other_call = inv.clone();
    other_call.headers.set(HeaderName::CallId, "other@x");
    assert_ne!(TransactionKey::server(&other_call).unwrap(), key);
    assert_ne!(TransactionKey::server(&legacy_invite(";branch=776asdhdt")).unwrap(), key);
}

#[test]
fn pre_3261_ack_matches_through_the_response_to_tag() {
    let inv = legacy_invite(";branch=776asdhds");
    let key = TransactionKey::server(&inv).unwrap();
    let ack = ack_for_non_2xx(&inv, &respond(&inv, 486, "busy")).unwrap();
    let ack_key = TransactionKey::server(&ack).unwrap();
    assert_ne!(ack_key, key, "the ACK carries the response's To tag");
    assert_eq!(key.with_to_tag(Some("busy")), Some(ack_key));
    let cancel = cancel_for(&inv).unwrap();
    assert_eq!(TransactionKey::cancel_target(&cancel).unwrap(), key);
    assert_ne!(TransactionKey::server(&cancel).unwrap(), key);
}
