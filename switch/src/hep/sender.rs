//! The task that turns captured messages into HEP packets and sends them to
//! the collector from a UDP socket of its own. Off the SIP path: a slow or
//! absent collector costs dropped packets (counted), never a late message.

use super::encode::{Packet, Protocol, encode};
use super::tap::Captured;
use sipcore::transport::{Direction, Flow, TransportKind};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Local addresses remembered per remote IP (for listeners on the wildcard
/// address); forgotten all at once past this many, so a flood of sources
/// cannot grow the map.
const LOCAL_CACHE: usize = 4096;

/// What every packet carries besides the message.
pub(super) struct Sender {
    pub socket: UdpSocket,
    pub capture_id: u32,
    pub auth_key: Option<String>,
    pub locals: HashMap<IpAddr, IpAddr>,
}

impl Sender {
    /// Sends until every [`super::tap::HepTap`] is gone (the transport dropped).
    pub(super) async fn run(mut self, mut queue: mpsc::Receiver<Captured>) {
        while let Some(captured) = queue.recv().await {
            let (src, dst) = self.addresses(&captured);
            let packet = Packet {
                src,
                dst,
                protocol: protocol(captured.flow.transport),
                time: captured.at,
                capture_id: self.capture_id,
                auth_key: self.auth_key.as_deref(),
                correlation: captured.call_id.as_deref(),
                payload: &captured.bytes,
            };
            let Some(datagram) = encode(&packet) else {
                super::dropped("too_large");
                continue;
            };
            // A collector that is down answers with ICMP, which a connected
            // socket reports on a later send: count it and go on.
            match self.socket.send(&datagram).await {
                Ok(_) => metrics::counter!("switch_hep_packets_total").increment(1),
                Err(_) => super::dropped("send_failed"),
            }
        }
    }

    /// Source and destination as they were on the wire.
    fn addresses(&mut self, c: &Captured) -> (SocketAddr, SocketAddr) {
        let local = SocketAddr::new(self.local_ip(&c.flow), c.flow.local.port());
        match c.direction {
            Direction::In => (c.flow.remote, local),
            Direction::Out => (local, c.flow.remote),
        }
    }

    /// A connection knows its local address; a UDP listener on the wildcard
    /// address does not, so ask the kernel (once per remote IP).
    fn local_ip(&mut self, flow: &Flow) -> IpAddr {
        if !flow.local.ip().is_unspecified() {
            return flow.local.ip();
        }
        if self.locals.len() >= LOCAL_CACHE {
            self.locals.clear();
        }
        *self.locals.entry(flow.remote.ip()).or_insert_with(|| crate::server::local_ip_toward(flow))
    }
}

fn protocol(kind: TransportKind) -> Protocol {
    match kind {
        TransportKind::Udp => Protocol::Udp,
        TransportKind::Tcp => Protocol::Tcp,
        TransportKind::Tls => Protocol::Tls,
    }
}
