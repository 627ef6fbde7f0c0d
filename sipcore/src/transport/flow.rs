//! Flows (RFC 5626 §3.1 sense): the connection, or for UDP the socket and remote
//! address, that a message came in on and that answers go back over.

use std::fmt;
use std::net::SocketAddr;

/// Which transport a flow runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
}

impl TransportKind {
    /// The Via transport token (RFC 3261 §20.42).
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// Reliable transports get no retransmissions (RFC 3261 §17.1.1.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Names a connection (TCP/TLS) or a UDP socket. Never reused within a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u64);

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow-{}", self.0)
    }
}

/// Everything needed to send over a flow again. For UDP, `id` names the local
/// socket and `remote` the peer, so one socket carries many flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub id: FlowId,
    pub transport: TransportKind,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}->{}", self.id, self.transport, self.remote, self.local)
    }
}
