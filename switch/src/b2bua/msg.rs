//! Building the messages the B2BUA sends: responses to the caller's INVITE,
//! bodies, tags and branches.

use bytes::Bytes;
use sipcore::{HeaderName, Request, Response, ToStatus};

/// A fresh random token for tags, branches and Call-IDs.
pub(crate) fn token(rng: &mut impl rand::Rng) -> String {
    format!("{:016x}", rng.random::<u64>())
}

/// A Via branch with the RFC 3261 magic cookie.
pub(crate) fn branch(rng: &mut impl rand::Rng) -> String {
    format!("z9hG4bK{}", token(rng))
}

/// Puts `body` (SDP) on a message, or none at all.
pub(super) fn set_body(headers: &mut sipcore::Headers, body: &mut Bytes, sdp: Option<Bytes>) {
    headers.remove(&HeaderName::ContentType);
    match sdp {
        Some(b) => {
            headers.set(HeaderName::ContentType, "application/sdp");
            headers.set(HeaderName::ContentLength, b.len().to_string());
            *body = b;
        }
        None => {
            headers.set(HeaderName::ContentLength, "0");
            *body = Bytes::new();
        }
    }
}

/// A response to `req` whose To carries `to_tag` (added when the request had
/// none), with our Contact for dialog-forming answers, and the body given.
pub(super) fn response(
    req: &Request,
    status: u16,
    reason: Option<&str>,
    to_tag: &str,
    contact: Option<&str>,
    sdp: Option<Bytes>,
) -> Response {
    let mut resp = Response::to_request(req, status);
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        resp.reason = r.to_owned().into();
    }
    let has_tag = req.headers.to_addr().is_ok_and(|a| a.tag().is_some());
    if let Some(to) = req.headers.get(&HeaderName::To).filter(|_| !has_tag && status > 100) {
        let tagged = format!("{to};tag={to_tag}");
        resp.headers.set(HeaderName::To, tagged);
    }
    if let Some(c) = contact {
        resp.headers.push(HeaderName::Contact, format!("<{c}>"));
    }
    let mut body = Bytes::new();
    set_body(&mut resp.headers, &mut body, sdp);
    resp.body = body;
    resp
}

/// The response `err` calls for, to `req`, with our To tag `to_tag`.
pub(super) fn refusal(req: &Request, err: &impl ToStatus, to_tag: &str) -> Response {
    let mut resp = Response::for_error(req, err);
    if req.headers.to_addr().is_ok_and(|a| a.tag().is_none())
        && let Some(to) = req.headers.get(&HeaderName::To)
    {
        let tagged = format!("{to};tag={to_tag}");
        resp.headers.set(HeaderName::To, tagged);
    }
    resp
}

/// The SDP body of a message, if it has one (any non-empty body counts: a
/// peer that sends another type gets 488 from the SDP check).
pub(super) fn sdp_of(body: &Bytes) -> Option<&Bytes> {
    (!body.is_empty()).then_some(body)
}
