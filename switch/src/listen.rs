//! `--listen` specs: `udp:IP:PORT`, `tcp:IP:PORT`, `tls:IP:PORT`.

use crate::Error;
use sipcore::transport::{Flow, TransportKind};
use std::net::SocketAddr;
use std::str::FromStr;

/// One address to listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenSpec {
    pub transport: TransportKind,
    pub addr: SocketAddr,
}

impl FromStr for ListenSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (proto, addr) =
            s.split_once(':').ok_or_else(|| Error::Config(format!("{s:?}: expected udp:|tcp:|tls: followed by IP:PORT")))?;
        let transport = match proto.to_ascii_lowercase().as_str() {
            "udp" => TransportKind::Udp,
            "tcp" => TransportKind::Tcp,
            "tls" => TransportKind::Tls,
            other => return Err(Error::Config(format!("{other:?}: transport must be udp, tcp or tls"))),
        };
        let addr = addr.parse().map_err(|e| Error::Config(format!("{addr:?}: {e} (IPv6 is written [::1]:5060)")))?;
        Ok(ListenSpec { transport, addr })
    }
}

impl ListenSpec {
    /// A STUN listener's spec (`--stun`, `[stun] listen`): `udp:IP:PORT`, as
    /// STUN is served on UDP only.
    pub fn stun(s: &str) -> Result<SocketAddr, Error> {
        match s.parse::<ListenSpec>()? {
            ListenSpec { transport: TransportKind::Udp, addr } => Ok(addr),
            _ => Err(Error::Config(format!("{s:?}: STUN is served on udp:IP:PORT only"))),
        }
    }

    /// A node address (`--node-address`): `tcp:IP:PORT`, an address other
    /// nodes can connect to (not the wildcard).
    pub fn node_address(s: &str) -> Result<SocketAddr, Error> {
        match s.parse::<ListenSpec>()? {
            ListenSpec { transport: TransportKind::Tcp, addr } if !addr.ip().is_unspecified() && addr.port() != 0 => Ok(addr),
            _ => Err(Error::Config(format!("{s:?}: a node address is tcp:IP:PORT with the IP and port other nodes reach"))),
        }
    }
}

/// A node address as another node's lease holds it; `None` when it is not one.
pub fn tcp_node_address(s: &str) -> Option<SocketAddr> {
    ListenSpec::node_address(s).ok()
}

impl std::fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", crate::record::transport_name(self.transport), self.addr)
    }
}

/// The flow out of one of our UDP listeners (`udp`) to the first of `addrs`
/// a listener shares an address family with (`localhost` may resolve to ::1
/// first on a switch that listens on IPv4 only).
pub fn udp_flow_toward(udp: &[Flow], addrs: &[SocketAddr]) -> Option<Flow> {
    addrs.iter().find_map(|remote| udp.iter().find(|f| f.local.is_ipv4() == remote.is_ipv4()).map(|sock| Flow { remote: *remote, ..*sock }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let s: ListenSpec = "tcp:0.0.0.0:5060".parse().unwrap();
        assert_eq!(s.transport, TransportKind::Tcp);
        assert_eq!(s.addr.port(), 5060);
        assert!("TLS:[::1]:5061".parse::<ListenSpec>().is_ok());
        assert!("sctp:1.2.3.4:5060".parse::<ListenSpec>().is_err());
        assert!("tcp:localhost".parse::<ListenSpec>().is_err());
        assert_eq!(ListenSpec::stun("udp:127.0.0.1:3478").unwrap(), "127.0.0.1:3478".parse().unwrap());
        assert!(ListenSpec::stun("tcp:127.0.0.1:3478").is_err(), "STUN over TCP is not served");
    }

    #[test]
    fn a_node_address_is_tcp_with_an_address_others_reach() {
        assert_eq!(ListenSpec::node_address("tcp:10.0.0.11:5060").unwrap(), "10.0.0.11:5060".parse().unwrap());
        assert_eq!(tcp_node_address("tcp:[2001:db8::1]:5060"), Some("[2001:db8::1]:5060".parse().unwrap()));
        for bad in ["udp:10.0.0.11:5060", "tls:10.0.0.11:5061", "tcp:0.0.0.0:5060", "tcp:10.0.0.11:0", "10.0.0.11:5060", "tcp:node-b:5060"]
        {
            assert!(tcp_node_address(bad).is_none(), "{bad}");
        }
    }
}
