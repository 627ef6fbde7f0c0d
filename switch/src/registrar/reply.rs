//! Building the registrar's responses: each carries our To tag (RFC 3261
//! §8.2.6.2); a refusal's status and reason come from its error.

use sipcore::{HeaderName, Request, Response, ToStatus};

/// A response to `req` with `status` and its default reason.
pub(super) fn reply(req: &Request, status: u16, to_tag: &str) -> Response {
    tagged(Response::to_request(req, status), req, to_tag)
}

/// The response `err` calls for.
pub(super) fn refuse(req: &Request, err: &impl ToStatus, to_tag: &str) -> Response {
    tagged(Response::for_error(req, err), req, to_tag)
}

fn tagged(mut resp: Response, req: &Request, to_tag: &str) -> Response {
    if let Some(to) = req.headers.get(&HeaderName::To).filter(|to| !to.contains(";tag=")) {
        resp.headers.replace_first(&HeaderName::To, format!("{to};tag={to_tag}"));
    }
    resp
}
