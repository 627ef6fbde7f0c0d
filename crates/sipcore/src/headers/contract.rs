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
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// An IP address header value; IPv6 may be bracketed.
pub(crate) fn ip(header: &'static str, s: &str) -> Result<IpAddr, ParseError> {
    s.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| ParseError::value(0, header, "not an IP address"))
}

/// X-Bearer-Port: a non-zero UDP port.
pub(crate) fn port(s: &str) -> Result<u16, ParseError> {
    match s.parse::<u16>() {
        Ok(p) if p != 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
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
        assert!(port("0").is_err());
        assert!(port("+5").is_err());
        assert_eq!(ip("X", "[::1]").unwrap(), "::1".parse::<IpAddr>().unwrap());
    }
}
