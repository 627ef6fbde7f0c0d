//! Server-side Via stamping: RFC 3261 §18.2.1 `received` and RFC 3581 `rport`,
//! so responses (and the registrar) know the address the request really came from.

use crate::error::ParseError;
use crate::message::{HeaderName, Request};
use crate::text::split_top_level;
use std::net::SocketAddr;

/// Adds `received` (and fills `rport` when the client asked for it) to the top Via.
/// `received` is added when sent-by differs from the source address or when
/// `rport` is present (RFC 3581 §4). Returns whether the Via changed.
pub fn stamp_via(req: &mut Request, source: SocketAddr) -> Result<bool, ParseError> {
    let via = req.headers.top_via()?;
    let wants_rport = via.rport().is_some();
    let same_host = via.host.ip() == Some(source.ip());
    if same_host && !wants_rport {
        return Ok(false);
    }
    let Some(line) = req.headers.get_shared(&HeaderName::Via) else {
        return Ok(false);
    };
    let mut parts = split_top_level(&line, b',');
    let Some((_, first)) = parts.next() else {
        return Ok(false);
    };
    let rest = parts.next().and_then(|(at, _)| line.get(at..));
    let mut stamped = String::with_capacity(first.len() + 48);
    for (i, (_, piece)) in split_top_level(first, b';').enumerate() {
        let name = piece.split_once('=').map_or(piece, |(n, _)| n).trim();
        if i > 0 && (name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("rport")) {
            continue;
        }
        if i > 0 {
            stamped.push(';');
        }
        stamped.push_str(piece);
    }
    let ip = source.ip();
    match ip {
        std::net::IpAddr::V4(v4) => stamped.push_str(&format!(";received={v4}")),
        std::net::IpAddr::V6(v6) => stamped.push_str(&format!(";received=[{v6}]")),
    }
    if wants_rport {
        stamped.push_str(&format!(";rport={}", source.port()));
    }
    if let Some(rest) = rest {
        stamped.push_str(", ");
        stamped.push_str(rest);
    }
    req.headers.replace_first(&HeaderName::Via, stamped);
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::message::Method;

    fn req(via: &str) -> Request {
        let mut r = Request::new(Method::Register, "sip:example.com");
        r.headers.push(HeaderName::Via, via);
        r
    }

    #[test]
    fn rport_is_filled_and_received_added() {
        let mut r = req("SIP/2.0/TCP 10.1.0.2:5060;branch=z9hG4bK1;rport, SIP/2.0/UDP other;branch=z9hG4bK0");
        assert!(stamp_via(&mut r, "198.51.100.2:40001".parse().unwrap()).unwrap());
        let v = r.headers.top_via().unwrap();
        assert_eq!(v.received(), Some("198.51.100.2".parse().unwrap()));
        assert_eq!(v.rport(), Some(Some(40001)));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(r.headers.vias().count(), 2);
    }

    #[test]
    fn same_address_without_rport_is_left_alone() {
        let mut r = req("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1");
        assert!(!stamp_via(&mut r, "127.0.0.1:5070".parse().unwrap()).unwrap());
        let mut r = req("SIP/2.0/UDP [::1]:5070;branch=z9hG4bK1;received=1.2.3.4");
        assert!(stamp_via(&mut r, "[2001:db8::1]:5070".parse().unwrap()).unwrap());
        assert_eq!(r.headers.top_via().unwrap().received(), Some("2001:db8::1".parse().unwrap()));
    }
}
