//! The one routing question the core asks its environment.

use sipcore::transport::Flow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The switch's address as the phone on `flow` reaches it. A connection knows
/// its local address; a UDP socket bound to the wildcard (the default
/// listeners) does not, so ask the kernel which source address it would use
/// toward the phone (a connected UDP socket sends nothing). Unspecified only
/// if that fails too. The core's [`LocalIp`](crate::core::LocalIp).
pub fn local_ip_toward(flow: &Flow) -> IpAddr {
    let ip = flow.local.ip();
    if !ip.is_unspecified() {
        return ip;
    }
    let any: SocketAddr = match flow.remote {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    std::net::UdpSocket::bind(any)
        .and_then(|s| {
            s.connect(flow.remote)?;
            s.local_addr()
        })
        .map_or(ip, |a| a.ip())
}
