//! What every response the switch sends carries, whoever built it: a To tag
//! on every response but 100 whose request had none (RFC 3261 §8.2.6.2: an
//! OPTIONS or a refusal outside a dialog too), and a `Server` header only if
//! the operator configured one.

use crate::Error;
use rand::Rng;
use sipcore::{HeaderName, Request, Response};

/// The response refusing `req` for `err`, with `Retry-After` when waiting
/// can help ([`Error::retry_after`]).
pub(super) fn refusal(req: &Request, err: &Error) -> Response {
    let mut resp = Response::for_error(req, err);
    if let Some(secs) = err.retry_after() {
        resp.headers.push(HeaderName::RetryAfter, secs.to_string());
    }
    resp
}

/// Adds what `resp` lacks of the above; `rng` draws the tag.
pub(super) fn finish(resp: &mut Response, server: Option<&str>, rng: &mut impl Rng) {
    let untagged = resp.headers.to_addr().is_ok_and(|to| to.tag().is_none());
    if resp.status > 100
        && untagged
        && let Some(to) = resp.headers.get(&HeaderName::To)
    {
        let tagged = format!("{to};tag={:016x}", rng.random::<u64>());
        resp.headers.replace_first(&HeaderName::To, tagged);
    }
    if let Some(server) = server
        && resp.headers.get(&HeaderName::Server).is_none()
    {
        resp.headers.push(HeaderName::Server, server);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use sipcore::{Message, Request};

    fn options(to: &str) -> Request {
        let raw = format!(
            "OPTIONS sip:1001@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKo1\r\n\
             From: <sip:scan@example.net>;tag=s1\r\nTo: {to}\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        match sipcore::parse(bytes::Bytes::from(raw)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn a_final_response_gets_a_to_tag_and_no_server_header_unless_configured() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut ok = Response::to_request(&options("<sip:1001@example.net>"), 200);
        finish(&mut ok, None, &mut rng);
        assert!(ok.headers.to_addr().unwrap().tag().is_some_and(|t| t.len() == 16), "{ok:?}");
        assert!(ok.headers.get(&HeaderName::Server).is_none(), "no Server header by default");

        let mut trying = Response::to_request(&options("<sip:1001@example.net>"), 100);
        finish(&mut trying, Some("roamswitch"), &mut rng);
        assert!(trying.headers.to_addr().unwrap().tag().is_none(), "100 Trying needs none");
        assert_eq!(trying.headers.get(&HeaderName::Server), Some("roamswitch"));

        let mut in_dialog = Response::to_request(&options("<sip:1001@example.net>;tag=abc"), 481);
        finish(&mut in_dialog, Some("roamswitch"), &mut rng);
        assert_eq!(in_dialog.headers.to_addr().unwrap().tag(), Some("abc"), "a tag the request had stays");
        assert_eq!(in_dialog.headers.get_all(&HeaderName::Server).count(), 1);
    }
}
