//! Requests and responses the transaction layer makes itself: the ACK for a
//! non-2xx final response (§17.1.1.3), CANCEL (§9.1) and `100 Trying` (§8.2.6.1).

use super::error::TransactionError;
use crate::message::{HeaderName, Method, Request, Response};
use crate::text::split_top_level;
use bytestring::ByteString;

/// The top Via element of `request` as its own value (later elements of the
/// same line and later Via lines are left out).
fn top_via_value(request: &Request) -> Result<ByteString, TransactionError> {
    request.headers.top_via()?;
    let line = request.headers.get_shared(&HeaderName::Via).unwrap_or_default();
    let first = split_top_level(&line, b',').next().map(|(_, v)| line.slice_ref(v));
    Ok(first.unwrap_or(line))
}

/// A request that shares the transaction of `request`: Request-URI, top Via
/// only, the Route set, Max-Forwards, From, Call-ID, the given To and
/// `CSeq: <n> <method>`, no body.
fn derived(request: &Request, method: Method, to: ByteString) -> Result<Request, TransactionError> {
    let h = &request.headers;
    let seq = h.cseq()?.seq;
    h.from_addr()?;
    let call_id = ByteString::from(h.call_id()?);
    let mut out = Request::new(method.clone(), request.uri.clone());
    out.headers.push(HeaderName::Via, top_via_value(request)?);
    for route in h.get_all_shared(&HeaderName::Route) {
        out.headers.push(HeaderName::Route, route);
    }
    let max_forwards = h.get_shared(&HeaderName::MaxForwards).unwrap_or(ByteString::from_static("70"));
    out.headers.push(HeaderName::MaxForwards, max_forwards);
    out.headers.push(HeaderName::To, to);
    if let Some(from) = h.get_shared(&HeaderName::From) {
        out.headers.push(HeaderName::From, from);
    }
    out.headers.push(HeaderName::CallId, call_id);
    out.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
    out.headers.push(HeaderName::ContentLength, "0");
    Ok(out)
}

/// The ACK a client INVITE transaction sends for a 300–699 response
/// (§17.1.1.3): Request-URI, Call-ID, From and CSeq number of the INVITE with
/// the method ACK, the To of the response (it carries the UAS's tag), only the
/// INVITE's top Via, and the INVITE's Route headers.
pub fn ack_for_non_2xx(invite: &Request, response: &Response) -> Result<Request, TransactionError> {
    response.headers.to_addr()?;
    let to = response.headers.get_shared(&HeaderName::To).unwrap_or_default();
    derived(invite, Method::Ack, to)
}

/// The CANCEL for `request` (§9.1): Request-URI, Call-ID, To, From and CSeq
/// number of the request with the method CANCEL, a single Via equal to the
/// request's top Via (so it carries the same branch), and the Route headers.
pub fn cancel_for(request: &Request) -> Result<Request, TransactionError> {
    request.headers.to_addr()?;
    let to = request.headers.get_shared(&HeaderName::To).unwrap_or_default();
    derived(request, Method::Cancel, to)
}

/// The `100 Trying` a server INVITE transaction sends on its own (§17.2.1),
/// with the request's Timestamp copied (§8.2.6.1).
pub fn trying_for(request: &Request) -> Response {
    let mut resp = Response::to_request(request, 100);
    if let Some(ts) = request.headers.get_shared(&HeaderName::Timestamp) {
        resp.headers.push(HeaderName::Timestamp, ts);
    }
    resp
}
