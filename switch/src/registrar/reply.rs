//! Building the registrar's responses.

use sipcore::{HeaderName, Request, Response};

/// A response to `req` with a reason phrase that says what happened and a To tag
/// (RFC 3261 §8.2.6.2).
pub(super) fn reply(req: &Request, status: u16, reason: Option<&str>, to_tag: &str) -> Response {
    let mut resp = Response::to_request(req, status);
    if let Some(reason) = reason {
        resp.reason = format!("{} ({reason})", resp.reason).into();
    }
    if let Some(to) = req.headers.get(&HeaderName::To).filter(|to| !to.contains(";tag=")) {
        resp.headers.replace_first(&HeaderName::To, format!("{to};tag={to_tag}"));
    }
    resp
}
