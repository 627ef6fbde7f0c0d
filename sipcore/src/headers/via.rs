//! Via (RFC 3261 §20.42, §25.1) with the RFC 3581 `rport` and RFC 6223 `keep`
//! parameters.

use crate::error::ParseError;
use crate::message::{Host, ipv4, port_number, scan_host};
use crate::text::{Params, is_token_byte};
use std::net::IpAddr;

/// One `via-parm`: `SIP / 2.0 / TCP host:port;params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The transport token as written (`UDP`, `TCP`, `TLS`, `WS` …).
    pub transport: &'a str,
    pub host: Host<'a>,
    pub port: Option<u16>,
    pub params: Params<'a>,
}

const NAME: &str = "Via";

fn err(at: usize, why: &'static str) -> ParseError {
    ParseError::value(at, NAME, why)
}

/// Reads a token at `i`, skipping white space before it; returns (token, next index).
fn token_at(s: &str, mut i: usize) -> (&str, usize) {
    let b = s.as_bytes();
    while b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(|c| is_token_byte(*c)) {
        i += 1;
    }
    (s.get(start..i).unwrap_or(""), i)
}

/// An IP address parameter value; IPv6 may be bracketed.
fn ip_param(v: &str) -> Option<IpAddr> {
    let v = v.trim_matches(['[', ']']);
    ipv4(v).map(IpAddr::V4).or_else(|| v.parse().ok())
}

/// Expects `/` (with optional white space around it, SLASH = SWS "/" SWS).
fn slash_at(s: &str, mut i: usize) -> Option<usize> {
    let b = s.as_bytes();
    while b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
        i += 1;
    }
    (b.get(i) == Some(&b'/')).then_some(i + 1)
}

/// `SIP / 2.0 / transport`: the transport and the offset after it.
#[inline]
fn sent_protocol(s: &str) -> Result<(&str, usize), ParseError> {
    // `SIP/2.0/` without white space (the usual spelling) is one compare; the
    // `| 0x20` folds the letters of `SIP` only.
    match s.as_bytes().get(..8).and_then(|p| <[u8; 8]>::try_from(p).ok()).map(u64::from_le_bytes) {
        Some(w) if w | 0x20_2020 == u64::from_le_bytes(*b"sip/2.0/") => Ok(token_at(s, 8)),
        _ => sent_protocol_general(s),
    }
}

fn sent_protocol_general(s: &str) -> Result<(&str, usize), ParseError> {
    let (name, i) = token_at(s, 0);
    let i = slash_at(s, i).ok_or_else(|| err(i, "expected SIP/2.0/transport"))?;
    let (version, i) = token_at(s, i);
    let i = slash_at(s, i).ok_or_else(|| err(i, "expected SIP/2.0/transport"))?;
    let (transport, i) = token_at(s, i);
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
        return Err(err(0, "sent-protocol is not SIP/2.0"));
    }
    Ok((transport, i))
}

impl<'a> Via<'a> {
    /// Parses one element of a Via header; offsets are relative to `s`.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        let (transport, i) = sent_protocol(s)?;
        if transport.is_empty() {
            return Err(err(i, "no transport"));
        }
        if !matches!(b.get(i), Some(b' ' | b'\t')) {
            return Err(err(i, "no white space before sent-by"));
        }
        // sent-by = host [ COLON port ], where COLON = SWS ":" SWS, then params.
        let lws = |mut j: usize| {
            while matches!(b.get(j), Some(b' ' | b'\t')) {
                j += 1;
            }
            j
        };
        let sent_by_at = lws(i);
        let (host, host_end) = scan_host(s, sent_by_at).ok_or_else(|| {
            let why = if b.get(sent_by_at) == Some(&b'[') { "unterminated IPv6 reference" } else { "bad host" };
            err(sent_by_at, why)
        })?;
        let mut k = lws(host_end);
        let mut port = None;
        if b.get(k) == Some(&b':') {
            let p = lws(k + 1);
            let p_end = p + b.get(p..).and_then(|r| r.iter().position(|c| !c.is_ascii_digit())).unwrap_or(b.len() - p);
            port = Some(s.get(p..p_end).and_then(port_number).ok_or_else(|| err(sent_by_at, "bad port"))?);
            k = lws(p_end);
        }
        let params = match b.get(k) {
            None => "",
            Some(b';') => s.get(k + 1..).unwrap_or(""),
            Some(_) if k > host_end => return Err(err(sent_by_at, "white space in sent-by")),
            Some(_) => return Err(err(sent_by_at, "bad host")),
        };
        let params_at = k + 1;
        let params = Params::new(params);
        params
            .validate_with(|name, value| {
                if name.eq_ignore_ascii_case("received") && value.and_then(ip_param).is_none() {
                    Err("received is not an IP address")
                } else if name.eq_ignore_ascii_case("rport") && value.is_some_and(|p| port_number(p).is_none()) {
                    Err("rport is not a port")
                } else {
                    Ok(())
                }
            })
            .map_err(|(off, why)| err(params_at + off, why.unwrap_or("bad via-params")))?;
        let via = Via { transport, host, port, params };
        Ok(via)
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.get("branch").flatten()
    }

    /// True when the branch carries the RFC 3261 magic cookie (§8.1.1.7).
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }

    /// `rport`: `None` when absent, `Some(None)` when asked for, `Some(Some(p))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| v.and_then(port_number))
    }

    /// The `received` address.
    pub fn received(&self) -> Option<IpAddr> {
        self.params.get("received").flatten().and_then(ip_param)
    }

    /// RFC 6223 `keep`: `None` absent, `Some(None)` requested, `Some(Some(s))` the agreed interval.
    pub fn keep(&self) -> Option<Option<u32>> {
        self.params.get("keep").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// `sent-by` as `host[:port]` text, for transaction matching (§17.2.3).
    pub fn sent_by(&self) -> (Host<'a>, Option<u16>) {
        (self.host, self.port)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_parameter() {
        let v = Via::parse("SIP/2.0/TCP 10.1.0.2:5060;branch=z9hG4bK776;rport=40000;received=198.51.100.2;keep").unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, Host::V4("10.1.0.2".parse().unwrap()));
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK776"));
        assert!(v.is_rfc3261_branch());
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(v.received(), Some("198.51.100.2".parse().unwrap()));
        assert_eq!(v.keep(), Some(None));
    }

    #[test]
    fn white_space_and_ipv6() {
        let v = Via::parse("SIP / 2.0 / UDP [2001:db8::9:1] : 6050 ; branch=z9hG4bKas3;rport").unwrap();
        assert_eq!(v.host, Host::V6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.rport(), Some(None));
        assert!(Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255]").unwrap().received().is_some());
    }

    #[test]
    fn rejects() {
        assert!(Via::parse("SIP/3.0/UDP host").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDPhost").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;received=foo").is_err());
        assert!(Via::parse("SIP/2.0/UDP 2001:db8::1").is_err());
        for s in [
            "SIP/2.0/ host",
            "SIP/2.0/UDP",
            "sip/2.0/udp\thost",
            "SIP/2.0/UDP;x",
            "SIP/2.1/UDP h",
            "SIP/2.0 /UDP h",
            "Sip/2.0/UDP h",
            "SIQ/2.0/UDP h",
            "SI/2.0/UDP h",
            "SIP/2.0/",
            "SIP/2.0//",
            "SIP/2.00/UDP h",
            "sIp/2.0/tls-sctp h",
        ] {
            assert_eq!(sent_protocol(s), sent_protocol_general(s), "{s:?}");
        }
    }
}
