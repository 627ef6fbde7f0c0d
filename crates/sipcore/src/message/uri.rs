//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25.1), `tel:` (RFC 3966) and any other
//! absolute URI kept opaque. A [`Uri`] is a zero-copy view over the text.

use crate::error::{ErrorKind, ParseError};
use crate::text::{Params, is_ws};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    Sip,
    Sips,
    Tel,
    /// Any other `absoluteURI` scheme, as written.
    Other(&'a str),
}

/// A host: a domain name, an IPv4 address or an IPv6 reference (`[...]` in text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    Domain(&'a str),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host<'_> {
    /// The address when the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a) => Some(IpAddr::V6(a)),
            Host::Domain(_) => None,
        }
    }

    /// Reads `host` from RFC 3261 §25.1: hostname, IPv4address or IPv6reference.
    /// An IPv6 address must be bracketed.
    pub fn parse(s: &str) -> Option<Host<'_>> {
        if let Some(inner) = s.strip_prefix('[') {
            return inner.strip_suffix(']')?.parse().ok().map(Host::V6);
        }
        if s.is_empty() {
            return None;
        }
        let v4 = s.bytes().all(|b| b.is_ascii_digit() || b == b'.').then(|| s.parse().ok()).flatten();
        if let Some(v4) = v4 {
            return Some(Host::V4(v4));
        }
        let ok = s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            && !s.starts_with(['.', '-']);
        ok.then_some(Host::Domain(s))
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]` (an IPv6 reference may hold colons). Offsets in errors are
/// relative to `s`.
pub(crate) fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), &'static str> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or("unterminated IPv6 reference")?;
        let (h, rest) = s.split_at(close + 1);
        match rest {
            "" => (h, None),
            r => (h, Some(r.strip_prefix(':').ok_or("junk after IPv6 reference")?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = Host::parse(host).ok_or("bad host")?;
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().map_err(|_| "port out of range")?)
        }
        Some(_) => return Err("bad port"),
    };
    Ok((host, port))
}

/// A parsed URI borrowing its text.
///
/// For `tel:` the number is in `user` and `host` is `None`; for other schemes only
/// the scheme and [`Uri::as_str`] are meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: Scheme<'a>,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    pub host: Option<Host<'a>>,
    pub port: Option<u16>,
    pub params: Params<'a>,
    /// The `?hname=hvalue&…` part without the `?`.
    pub headers: Option<&'a str>,
    raw: &'a str,
}

/// Characters never allowed unescaped anywhere in a URI.
fn forbidden(b: u8) -> bool {
    is_ws(b) || b.is_ascii_control() || matches!(b, b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^')
}

fn uri_err(offset: usize, why: &'static str) -> ParseError {
    ParseError::new(offset, ErrorKind::Uri(why))
}

impl<'a> Uri<'a> {
    /// Parses a URI; error offsets are relative to `s`.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        if let Some(bad) = s.bytes().position(forbidden) {
            return Err(uri_err(bad, "character not allowed"));
        }
        let colon = s.find(':').ok_or_else(|| uri_err(0, "no scheme"))?;
        let (scheme_text, rest) = (s.get(..colon).unwrap_or(""), s.get(colon + 1..).unwrap_or(""));
        let scheme_ok = scheme_text.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && scheme_text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(uri_err(0, "bad scheme"));
        }
        let scheme = if scheme_text.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_text.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_text.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other(scheme_text)
        };
        let base = colon + 1;
        let mut uri = Uri {
            scheme,
            user: None,
            password: None,
            host: None,
            port: None,
            params: Params::default(),
            headers: None,
            raw: s,
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => uri.parse_sip(rest, base)?,
            Scheme::Tel => uri.parse_tel(rest, base)?,
            Scheme::Other(_) if rest.is_empty() => return Err(uri_err(base, "empty URI")),
            Scheme::Other(_) => {}
        }
        Ok(uri)
    }

    fn parse_sip(&mut self, rest: &'a str, base: usize) -> Result<(), ParseError> {
        // '@' can appear only as the userinfo delimiter: users, params and
        // headers must escape it.
        let (userinfo, hostpart, host_base) = match rest.find('@') {
            Some(at) => (Some(rest.get(..at).unwrap_or("")), rest.get(at + 1..).unwrap_or(""), base + at + 1),
            None => (None, rest, base),
        };
        if let Some(ui) = userinfo {
            let (user, password) = match ui.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if user.is_empty() {
                return Err(uri_err(base, "empty user"));
            }
            self.user = Some(user);
            self.password = password;
        }
        let (hostpart, headers) = match hostpart.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (hostpart, None),
        };
        let (hostport, params) = match hostpart.split_once(';') {
            Some((h, p)) => (h, p),
            None => (hostpart, ""),
        };
        let (host, port) = parse_hostport(hostport).map_err(|why| uri_err(host_base, why))?;
        self.host = Some(host);
        self.port = port;
        let params = Params::new(params);
        params.validate().map_err(|off| uri_err(host_base + hostport.len() + 1 + off, "bad uri-parameter"))?;
        self.params = params;
        if let Some(h) = headers {
            if h.is_empty() {
                return Err(uri_err(host_base + hostpart.len(), "empty headers"));
            }
            self.headers = Some(h);
        }
        Ok(())
    }

    fn parse_tel(&mut self, rest: &'a str, base: usize) -> Result<(), ParseError> {
        let (number, params) = match rest.split_once(';') {
            Some((n, p)) => (n, p),
            None => (rest, ""),
        };
        let ok = !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#' | b'p' | b'w'));
        if !ok {
            return Err(uri_err(base, "bad telephone-subscriber"));
        }
        self.user = Some(number);
        let params = Params::new(params);
        params.validate().map_err(|off| uri_err(base + number.len() + 1 + off, "bad tel parameter"))?;
        self.params = params;
        Ok(())
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// `sips:` or `transport=tls`.
    pub fn is_secure(&self) -> bool {
        matches!(self.scheme, Scheme::Sips)
    }

    /// The `transport` uri-parameter.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.get("transport").flatten()
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_with_everything() {
        let u = Uri::parse("sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X=1").unwrap();
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("pw"));
        assert_eq!(u.host, Some(Host::V6("2001:db8::1".parse().unwrap())));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.params.has("lr"));
        assert_eq!(u.headers, Some("Subject=hi&X=1"));
    }

    #[test]
    fn user_may_hold_semicolons_and_escapes() {
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert_eq!(u.host, Some(Host::Domain("example.com")));
    }

    #[test]
    fn tel_and_other_schemes() {
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(t.scheme, Scheme::Tel);
        assert_eq!(t.user, Some("+1-201-555-0123"));
        assert_eq!(t.params.get("phone-context"), Some(Some("example.com")));
        let o = Uri::parse("urn:service:sos").unwrap();
        assert_eq!(o.scheme, Scheme::Other("urn"));
    }

    #[test]
    fn rejects_with_offsets() {
        assert_eq!(Uri::parse("sip:a@b:99999").unwrap_err().kind, ErrorKind::Uri("port out of range"));
        assert_eq!(Uri::parse("sip:a b@c").unwrap_err().offset, 5);
        assert!(Uri::parse("sip:[::1").is_err());
        assert!(Uri::parse("sip:::1").is_err());
        assert!(Uri::parse("nocolon").is_err());
        assert!(Uri::parse("tel:").is_err());
    }
}
