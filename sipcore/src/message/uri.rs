//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25.1), `tel:` (RFC 3966) and any other
//! absolute URI kept opaque. A [`Uri`] is a zero-copy view over the text.

use crate::chars;
use crate::error::{ErrorKind, ParseError};
use crate::text::{Params, split_byte};
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
        scan_host(s, 0).and_then(|(h, end)| (end == s.len()).then_some(h))
    }
}

/// Reads a host starting at `i`: a bracketed IPv6 reference, or a run of host
/// characters (a name, or an IPv4 address when the run is digits and dots and
/// parses as one). Returns it and the offset just after it.
pub(crate) fn scan_host(s: &str, i: usize) -> Option<(Host<'_>, usize)> {
    let b = s.as_bytes();
    match b.get(i)? {
        b'[' => {
            let close = i + b.get(i..)?.iter().position(|&c| c == b']')?;
            let v6 = s.get(i + 1..close)?.parse().ok()?;
            return Some((Host::V6(v6), close + 1));
        }
        b'.' | b'-' => return None,
        _ => {}
    }
    let rest = b.get(i..)?;
    let j = i + chars::first_not_long(rest, chars::HOST).unwrap_or(rest.len());
    let text = s.get(i..j).filter(|t| !t.is_empty())?;
    let numeric = text.as_bytes().first().is_some_and(u8::is_ascii_digit) && chars::all(text.as_bytes(), chars::NUMDOT);
    let v4 = if numeric { ipv4(text).map(Host::V4) } else { None };
    Some((v4.unwrap_or(Host::Domain(text)), j))
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

/// `1*DIGIT` that fits a port number.
pub(crate) fn port_number(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 {
        return None;
    }
    let mut n: u32 = 0;
    for &b in p.as_bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u32::from(digit);
    }
    u16::try_from(n).ok()
}

/// An IPv4 address in dotted-quad form, read as `Ipv4Addr::from_str` reads it
/// (four decimal octets, no leading zeros, nothing else) without its general
/// parser.
pub(crate) fn ipv4(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut n: u32 = 0;
        while let Some(digit) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
            if i - start == 3 {
                return None;
            }
            n = n * 10 + u32::from(digit);
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len > 1 && b.get(start) == Some(&b'0')) {
            return None;
        }
        *octet = u8::try_from(n).ok()?;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// `sip:` or `sips:` in any case (the usual schemes, without the general scan):
/// the scheme and the colon's offset.
#[inline]
fn sip_prefix(b: &[u8]) -> Option<(Scheme<'static>, usize)> {
    // `| 0x20` folds only letters onto these lower-case letters.
    match b.get(..5)? {
        [s, i, p, b':', _] if [*s | 0x20, *i | 0x20, *p | 0x20] == *b"sip" => Some((Scheme::Sip, 3)),
        [s, i, p, s2, b':'] if [*s | 0x20, *i | 0x20, *p | 0x20, *s2 | 0x20] == *b"sips" => Some((Scheme::Sips, 4)),
        _ => None,
    }
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

fn uri_err(offset: usize, why: &'static str) -> ParseError {
    ParseError::new(offset, ErrorKind::Uri(why))
}

/// Only characters a URI may hold (no white space, controls, `< > " { } | \ ^`);
/// `at` is where `part` starts.
fn uric(part: &str, at: usize) -> Result<(), ParseError> {
    match chars::first_not(part.as_bytes(), chars::URIC) {
        Some(bad) => Err(uri_err(at + bad, "character not allowed")),
        None => Ok(()),
    }
}

impl<'a> Uri<'a> {
    /// Parses a URI; error offsets are relative to `s`.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        // Each part is checked against its own grammar as it is read; the parts
        // without one (user, password, parameters, headers, opaque URIs) only
        // against the characters a URI may hold.
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
        let (scheme, colon) = match sip_prefix(s.as_bytes()) {
            Some(known) => known,
            None => Self::scheme(s)?,
        };
        let base = colon + 1;
        let rest = s.get(base..).unwrap_or("");
        let mut uri = Uri { scheme, user: None, password: None, host: None, port: None, params: Params::default(), headers: None, raw: s };
        match scheme {
            Scheme::Sip | Scheme::Sips => uri.parse_sip(rest, base)?,
            Scheme::Tel => uri.parse_tel(rest, base)?,
            Scheme::Other(_) if rest.is_empty() => return Err(uri_err(base, "empty URI")),
            Scheme::Other(_) => uric(rest, base)?,
        }
        Ok(uri)
    }

    /// Reads the scheme and its colon; returns the scheme and the colon's offset.
    fn scheme(s: &'a str) -> Result<(Scheme<'a>, usize), ParseError> {
        let colon = s.bytes().position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))).unwrap_or(s.len());
        match s.as_bytes().get(colon) {
            Some(b':') => {}
            Some(&c) if !chars::is(c, chars::URIC) => return Err(uri_err(colon, "character not allowed")),
            _ => return Err(uri_err(colon, "no scheme")),
        }
        let scheme_text = s.get(..colon).unwrap_or("");
        if !scheme_text.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
            return Err(uri_err(0, "bad scheme"));
        }
        let scheme = match scheme_text.len() {
            3 if scheme_text.eq_ignore_ascii_case("sip") => Scheme::Sip,
            4 if scheme_text.eq_ignore_ascii_case("sips") => Scheme::Sips,
            3 if scheme_text.eq_ignore_ascii_case("tel") => Scheme::Tel,
            _ => Scheme::Other(scheme_text),
        };
        Ok((scheme, colon))
    }

    fn parse_sip(&mut self, rest: &'a str, base: usize) -> Result<(), ParseError> {
        // '@' can appear only as the userinfo delimiter: users, params and
        // headers must escape it.
        let (hostpart, host_base) = match chars::find(b'@', rest.as_bytes()) {
            Some(at) => {
                let ui = rest.get(..at).unwrap_or("");
                // One scan: URI characters up to the first ':', then the password.
                let (user, password) = match chars::first_not(ui.as_bytes(), chars::USER) {
                    None => (ui, None),
                    Some(colon) if ui.as_bytes().get(colon) == Some(&b':') => {
                        let password = ui.get(colon + 1..).unwrap_or("");
                        uric(password, base + colon + 1)?;
                        (ui.get(..colon).unwrap_or(""), Some(password))
                    }
                    Some(bad) => return Err(uri_err(base + bad, "character not allowed")),
                };
                if user.is_empty() {
                    return Err(uri_err(base, "empty user"));
                }
                self.user = Some(user);
                self.password = password;
                (rest.get(at + 1..).unwrap_or(""), base + at + 1)
            }
            None => (rest, base),
        };
        // hostport [ ";" params ] [ "?" headers ], read left to right.
        let h = hostpart.as_bytes();
        let (host, host_end) = scan_host(hostpart, 0).ok_or_else(|| match h.first() {
            Some(&c) if !chars::is(c, chars::URIC) => uri_err(host_base, "character not allowed"),
            Some(b'[') if !h.contains(&b']') => uri_err(host_base, "unterminated IPv6 reference"),
            _ => uri_err(host_base, "bad host"),
        })?;
        self.host = Some(host);
        let mut i = host_end;
        match h.get(i) {
            None | Some(b';' | b'?') => {}
            Some(b':') => {
                let p_end = i + 1 + h.get(i + 1..).and_then(|r| chars::first_not(r, chars::DIGIT)).unwrap_or(h.len() - i - 1);
                let p = hostpart.get(i + 1..p_end).unwrap_or("");
                match h.get(p_end) {
                    None | Some(b';' | b'?') => {}
                    Some(&c) if !chars::is(c, chars::URIC) => return Err(uri_err(host_base + p_end, "character not allowed")),
                    Some(_) => return Err(uri_err(host_base, "bad port")),
                }
                let too_big = p.len() == 5;
                self.port = Some(port_number(p).ok_or_else(|| uri_err(host_base, if too_big { "port out of range" } else { "bad port" }))?);
                i = p_end;
            }
            Some(&c) if !chars::is(c, chars::URIC) => return Err(uri_err(host_base + i, "character not allowed")),
            Some(_) if h.first() == Some(&b'[') => return Err(uri_err(host_base, "junk after IPv6 reference")),
            Some(_) => return Err(uri_err(host_base, "bad host")),
        }
        if h.get(i) == Some(&b';') {
            let p_end = i + 1 + h.get(i + 1..).and_then(|r| chars::find(b'?', r)).unwrap_or(h.len() - i - 1);
            let raw = hostpart.get(i + 1..p_end).unwrap_or("");
            uric(raw, host_base + i + 1)?;
            let params = Params::new(raw);
            params.validate().map_err(|off| uri_err(host_base + i + 1 + off, "bad uri-parameter"))?;
            self.params = params;
            i = p_end;
        }
        if h.get(i) == Some(&b'?') {
            let headers = hostpart.get(i + 1..).unwrap_or("");
            uric(headers, host_base + i + 1)?;
            if headers.is_empty() {
                return Err(uri_err(host_base + i, "empty headers"));
            }
            self.headers = Some(headers);
        }
        Ok(())
    }

    fn parse_tel(&mut self, rest: &'a str, base: usize) -> Result<(), ParseError> {
        let (number, params) = split_byte(rest, b';').unwrap_or((rest, ""));
        let ok = !number.is_empty() && chars::all(number.as_bytes(), chars::TEL);
        if !ok {
            return Err(uri_err(base, "bad telephone-subscriber"));
        }
        self.user = Some(number);
        uric(params, base + number.len() + 1)?;
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
    fn ipv4_reads_as_std_does() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let alphabet = b"0123456789..a";
        for i in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 18) as usize;
            let s: String =
                (0..len).map(|k| char::from(alphabet.get(((seed >> (3 * k)) % 13) as usize).copied().unwrap_or(b'.'))).collect();
            let s = if i % 3 == 0 { s.replace('a', "") } else { s };
            assert_eq!(ipv4(&s), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        }
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.1.1.1",
            "1.1.1",
            "1.1.1.1.",
            ".1.1.1",
            "1..1.1",
            "1.1.1.1.1",
            "10.1.0.2",
            "1.1.1.0",
            "1.1.1.00",
            "",
            "+1.1.1.1",
        ] {
            assert_eq!(ipv4(s), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        }
        for p in ["0", "5060", "65535", "65536", "99999", "00080", "", "123456", "1a", "+1"] {
            let std = if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() && p.len() <= 5 { p.parse::<u16>().ok() } else { None };
            assert_eq!(port_number(p), std, "{p:?}");
        }
    }

    #[test]
    fn user_and_password() {
        let u = Uri::parse("sip:a:b:c@h").unwrap();
        assert_eq!((u.user, u.password), (Some("a"), Some("b:c")));
        let u = Uri::parse("sip:a:@h").unwrap();
        assert_eq!((u.user, u.password), (Some("a"), Some("")));
        for (bad, at, why) in [
            ("sip::b@h", 4, "empty user"),
            ("sip:a b:c@h", 5, "character not allowed"),
            ("sip:a:b c@h", 7, "character not allowed"),
            ("sip::b c@h", 6, "character not allowed"),
        ] {
            let e = Uri::parse(bad).unwrap_err();
            assert_eq!((e.offset, e.kind), (at, ErrorKind::Uri(why)), "{bad}");
        }
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
        // Parts with a grammar of their own still hold only URI characters.
        for (bad, at) in [
            ("sip:a@b; lr", 8),
            ("sip:a@b;x=\"y\"", 10),
            ("sip:a@b?h=<x>", 10),
            ("sip:a@b c", 7),
            ("sip:a@b:5060 ", 12),
            ("tel:+1;a= b", 9),
            ("urn:a b", 5),
        ] {
            let e = Uri::parse(bad).unwrap_err();
            assert_eq!((e.offset, e.kind), (at, ErrorKind::Uri("character not allowed")), "{bad}");
        }
    }
}
