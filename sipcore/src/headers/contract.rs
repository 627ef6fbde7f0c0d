//! The wire contract's extension headers: X-MAC, X-Private-IP, X-Public-IP,
//! X-Bearer-Port and X-Bearer-Address (see DESIGN.md). They add identity and NAT
//! facts; routing never depends on them.

use crate::error::ParseError;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IEEE 802 MAC address, written `02:42:ac:11:00:02` (`-` separators accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        // Six two-digit octets with single separators, read in place; anything
        // else goes through the general reader for its error.
        if let Some(mac) = mac_17(s.as_bytes()) {
            return Ok(mac);
        }
        mac_general(s)
    }
}

/// Any spelling, with the offset of what is wrong.
fn mac_general(s: &str) -> Result<MacAddr, ParseError> {
    let mut out = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for (i, slot) in out.iter_mut().enumerate() {
        let at = (i * 3).min(s.len());
        let p = parts.next().ok_or(ParseError::value(at, "X-MAC", "expected six octets"))?;
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseError::value(at, "X-MAC", "octet is not two hex digits"));
        }
        *slot = u8::from_str_radix(p, 16).map_err(|_| ParseError::value(at, "X-MAC", "octet is not hex"))?;
    }
    if parts.next().is_some() {
        return Err(ParseError::value(17.min(s.len()), "X-MAC", "more than six octets"));
    }
    Ok(MacAddr(out))
}

/// `hh:hh:hh:hh:hh:hh` (each separator `:` or `-`).
fn mac_17(b: &[u8]) -> Option<MacAddr> {
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    if b.len() != 17 {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, slot) in out.iter_mut().enumerate() {
        let at = 3 * i;
        if i > 0 && !matches!(b.get(at - 1), Some(b':' | b'-')) {
            return None;
        }
        *slot = hex(*b.get(at)?)? << 4 | hex(*b.get(at + 1)?)?;
    }
    Some(MacAddr(out))
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// An IP address header value; IPv6 may be bracketed.
pub(crate) fn ip(header: &'static str, s: &str) -> Result<IpAddr, ParseError> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    if let Some(v4) = crate::message::ipv4(s) {
        return Ok(IpAddr::V4(v4));
    }
    s.parse().map_err(|_| ParseError::value(0, header, "not an IP address"))
}

/// X-Bearer-Port: a non-zero UDP port.
pub(crate) fn port(s: &str) -> Result<u16, ParseError> {
    // 1*DIGIT below 65536; leading zeros are fine (as `str::parse` allowed).
    let digits = s.trim_start_matches('0');
    match crate::message::port_number(if digits.is_empty() { "0" } else { digits }) {
        Some(p) if p != 0 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(ParseError::value(0, "X-Bearer-Port", "not a port (1-65535)")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip() {
        let m: MacAddr = "02:42:AC:11:00:02".parse().unwrap();
        assert_eq!(m.to_string(), "02:42:ac:11:00:02");
        assert_eq!("02-42-ac-11-00-02".parse::<MacAddr>().unwrap(), m);
        assert!("02:42:ac:11:00".parse::<MacAddr>().is_err());
        assert!("02:42:ac:11:00:02:03".parse::<MacAddr>().is_err());
        assert!("zz:42:ac:11:00:02".parse::<MacAddr>().is_err());
        // from_str_radix alone would take "+f" as 15.
        assert!("+f:42:ac:11:00:02".parse::<MacAddr>().is_err());
        for s in [
            "02:42:ac:11:00:02",
            "02-42-AC-11-00-02",
            "02:42-ac:11-00:02",
            "0g:42:ac:11:00:02",
            "02:42:ac:11:00:0",
            "02::42:ac:11:00:0",
            "02.42.ac.11.00.02",
            "+2:42:ac:11:00:02",
            "02:42:ac:11:00:02:",
        ] {
            let general = mac_general(s);
            assert_eq!(s.parse::<MacAddr>(), general, "{s}");
        }
        for p in ["1", "5060", "65535", "65536", "0", "00", "0005060", "", "+5", "5 ", "99999999999999999999"] {
            let old = match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => None,
            };
            assert_eq!(port(p).ok(), old, "{p:?}");
        }
        assert!(port("0").is_err());
        assert!(port("+5").is_err());
        assert_eq!(ip("X", "[::1]").unwrap(), "::1".parse::<IpAddr>().unwrap());
    }
}
