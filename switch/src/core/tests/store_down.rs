//! A store that cannot take writes: the REGISTER whose commit failed gets 503
//! with Retry-After and leaves no binding; new INVITEs get the same while the
//! store is unavailable, calls already up are left alone, and the core takes
//! everything again once the store is back.

use super::*;
use crate::location::Cause;
use sipcore::Method;

/// The 503 the store's failure gives, with its Retry-After.
fn store_refusal(out: &[(Instant, Output)]) -> Response {
    let r = only_response(out, 503);
    assert_eq!(&*r.reason, "Service Unavailable (store unavailable)");
    assert_eq!(header(&r, &HeaderName::RetryAfter), crate::STORE_RETRY_AFTER_SECS.to_string());
    assert_eq!(crate::STORE_RETRY_AFTER_SECS, 5);
    r
}

#[test]
fn a_register_whose_commit_failed_gets_503_and_leaves_no_binding() {
    let mut lab = Lab::new();
    lab.register(lab.at(10, 0), 600);
    assert!(lab.core.table().get("1001").is_some());
    lab.take();

    // t = 20 s: the refresh's write fails (the store died meanwhile).
    lab.hold_commits = true;
    let refused = lab.at(20, 0);
    lab.send_register(refused, 600);
    assert!(sent(&lab.take()).is_empty(), "nothing before the commit's outcome");
    let ticket = lab.held.pop().unwrap();
    lab.core.handle_store_unavailable(refused);
    lab.core.handle_commit_failed(refused, ticket);
    lab.drain();
    let out = lab.take();
    store_refusal(&out);
    assert!(sent(&out).iter().all(|(_, _, m)| !matches!(m, Message::Response(r) if r.status == 200)), "{out:#?}");
    assert!(lab.core.table().get("1001").is_none(), "no binding the store refused");
    let gone = changes(&out);
    assert!(
        gone.iter()
            .any(|(t, c)| *t == refused && matches!(c, Change::Removed { record, cause: Cause::StoreRefused } if &*record.number == "1001")),
        "{gone:#?}"
    );

    // t = 25 s: the phone tries again after Retry-After; the store is back.
    lab.hold_commits = false;
    lab.core.handle_store_available(lab.at(25, 0));
    let ok = lab.register(lab.at(25, 0), 600);
    assert_eq!(ok.status, 200);
    assert_eq!(lab.core.table().get("1001").map(|r| r.expires_at), Some(lab.at(25, 0) + Duration::from_secs(600)));
}

#[test]
fn new_invites_get_503_while_the_store_is_unavailable_and_calls_up_stay() {
    let mut lab = Lab::new();
    lab.register(lab.at(10, 0), 600);
    lab.invite(lab.at(11, 0), 1);
    assert_eq!(requests(&lab.take(), Method::Invite).len(), 1, "the first call goes down the flow");
    assert_eq!(lab.core.calls(), 1);

    let down = lab.at(12, 0);
    lab.advance_to(down);
    lab.core.handle_store_unavailable(down);
    lab.drain();
    lab.invite(lab.at(13, 0), 2);
    let out = lab.take();
    store_refusal(&out);
    assert!(requests(&out, Method::Invite).is_empty(), "not routed: {out:#?}");
    assert!(!out.iter().any(|(_, o)| matches!(o, Output::Media(_) | Output::CallEnded { .. } | Output::Cdr(_))), "{out:#?}");
    assert_eq!(lab.core.calls(), 1, "the call already up is left alone");
    assert!(lab.core.table().get("1001").is_some(), "a binding the store took stays");

    lab.core.handle_store_available(lab.at(14, 0));
    lab.invite(lab.at(15, 0), 3);
    assert_eq!(requests(&lab.take(), Method::Invite).len(), 1, "new calls again");
    assert_eq!(lab.core.calls(), 2);
}
