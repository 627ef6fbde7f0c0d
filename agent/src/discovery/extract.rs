//! Finding the public address in a firewall's status page. Pages differ, so
//! the operator may give a pattern; without one the first address on the page
//! that can be a public one is taken (the LAN side, 192.168.x.x and friends,
//! is on most such pages too).

use regex::Regex;
use std::net::IpAddr;
use std::sync::OnceLock;

/// An IPv4 dotted quad, or a run of hex digits, colons and dots holding a colon.
fn candidates() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::expect_used)] // A constant pattern: checked by the tests.
        Regex::new(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f.]{0,15}){2,8}").expect("valid pattern")
    })
}

/// True for an address a firewall's WAN side can have on the Internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let shared = a == 100 && (64..128).contains(&b); // RFC 6598 carrier-grade NAT
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || shared)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments().first().copied().unwrap_or(0);
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || unique_local || link_local)
        }
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().trim_matches(['[', ']']).parse().ok()
}

/// The address in `text`: with `pattern`, the first match whose first capture
/// group (or whole match) is an IP address; without, the first public address.
pub fn extract_ip(text: &str, pattern: Option<&Regex>) -> Option<IpAddr> {
    match pattern {
        Some(re) => re.captures_iter(text).find_map(|c| parse_ip(c.get(1).or_else(|| c.get(0))?.as_str())),
        None => candidates().find_iter(text).filter_map(|m| parse_ip(m.as_str())).find(|ip| is_public(*ip)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PAGE: &str = "<html><td>LAN</td><td>192.168.1.1</td><td>Gateway 10.0.0.1:80</td>\
        <td>WAN IP</td><td>198.51.100.7</td><td>uptime 12:30:45</td><td>v6 2001:db8::42</td></html>";

    #[test]
    fn first_public_address_without_a_pattern() {
        assert_eq!(extract_ip(PAGE, None), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(extract_ip("lan 192.168.0.1 cgnat 100.64.1.1 v6 fe80::1 2001:db8::42", None), Some("2001:db8::42".parse().unwrap()));
        assert_eq!(extract_ip("nothing 999.1.1.1 here 10.1.2.3", None), None);
    }

    #[test]
    fn a_pattern_picks_the_field() {
        let re = Regex::new(r"v6 (\S+)</td>").unwrap();
        assert_eq!(extract_ip(PAGE, Some(&re)), Some("2001:db8::42".parse().unwrap()));
        let whole = Regex::new(r"\d+\.\d+\.\d+\.1\b").unwrap();
        assert_eq!(extract_ip(PAGE, Some(&whole)), Some("192.168.1.1".parse().unwrap()));
        let none = Regex::new(r"WAN IP</td><td>(x)").unwrap();
        assert_eq!(extract_ip(PAGE, Some(&none)), None);
    }
}
