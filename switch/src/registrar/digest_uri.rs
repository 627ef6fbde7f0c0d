//! Which digest `uri` the switch accepts. RFC 7616 §3.4.6 asks for the
//! Request-URI, and phones send it; other clients name the server another
//! way: SIPp's `[authentication]` puts the address it sent to (`sip:IP:PORT`)
//! in the `uri` of a `REGISTER sip:DOMAIN`, and Kamailio accepts that. So a
//! `uri` is accepted when it is the Request-URI byte for byte, or a SIP URI
//! naming this switch: its domain (any port), or the address the request
//! reached it at (with that port, or none); a user part only if it is the
//! Request-URI's. The response hash covers the `uri` the client sent, and the
//! nonce and its count bind the credentials as before: accepting another
//! spelling of the switch's name lets nobody change what was signed.

use sipcore::{Host, Scheme, Uri};
use std::net::{IpAddr, SocketAddr};

/// How the switch is named to the peer of one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct SwitchNames<'a> {
    /// The SIP domain (the digest realm).
    pub domain: &'a str,
    /// The local address of the flow the request came on (an unspecified IP
    /// for a socket bound to the wildcard).
    pub local: SocketAddr,
    /// The switch's address as this peer reaches it.
    pub local_ip: IpAddr,
}

/// Whether the digest `uri` of a request to `request_uri` names this switch.
pub(super) fn names_switch(uri: &str, request_uri: &str, us: &SwitchNames<'_>) -> bool {
    if uri == request_uri {
        return true;
    }
    let Ok(u) = Uri::parse(uri) else { return false };
    if !matches!(u.scheme, Scheme::Sip | Scheme::Sips) {
        return false;
    }
    let user_ok = match u.user {
        None => true,
        Some(user) => Uri::parse(request_uri).is_ok_and(|r| r.user == Some(user)),
    };
    let host_ok = match u.host {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case(us.domain),
        Some(h) => {
            let ip = h.ip().map(|ip| ip.to_canonical());
            let ours = ip == Some(us.local_ip.to_canonical()) || ip == Some(us.local.ip().to_canonical());
            ours && u.port.is_none_or(|p| p == us.local.port())
        }
        None => false,
    };
    user_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_uri_the_domain_or_the_address_reached() {
        let us =
            SwitchNames { domain: "switch.local", local: SocketAddr::from(([0, 0, 0, 0], 5060)), local_ip: IpAddr::from([192, 0, 2, 1]) };
        let accepted = [
            ("sip:switch.local", "sip:switch.local"),
            ("sip:192.0.2.1:5060", "sip:switch.local"),
            ("sip:192.0.2.1", "sip:switch.local"),
            ("sip:SWITCH.local:5070", "sip:switch.local"),
            ("sips:192.0.2.1:5060;transport=tcp", "sip:switch.local"),
            ("sip:1002@192.0.2.1:5060", "sip:1002@switch.local"),
            ("sip:elsewhere.example", "sip:elsewhere.example"),
        ];
        for (uri, request_uri) in accepted {
            assert!(names_switch(uri, request_uri, &us), "{uri} for {request_uri}");
        }
        let refused = [
            ("sip:elsewhere.example", "sip:switch.local"),
            ("sip:192.0.2.9:5060", "sip:switch.local"),
            ("sip:192.0.2.1:5070", "sip:switch.local"),
            ("sip:1003@switch.local", "sip:1002@switch.local"),
            ("sip:1002@switch.local", "sip:switch.local"),
            ("tel:+15550100", "sip:switch.local"),
            ("not a uri", "sip:switch.local"),
        ];
        for (uri, request_uri) in refused {
            assert!(!names_switch(uri, request_uri, &us), "{uri} for {request_uri}");
        }
    }
}
