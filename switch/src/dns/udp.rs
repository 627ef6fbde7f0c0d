//! DNS over UDP: our own receive loop rather than hickory-server's. Each
//! datagram is answered inline ([`wire::answer`], the path our TCP loop and
//! the fuzz target take) and the answer sent from the same task: no task
//! spawned and no channel crossed per query. hickory-server's loop did both,
//! and with them a thread wake-up per query; `scripts/bench/dns.sh` measured
//! its cost (scripts/bench/DNS.md).

use super::answer::Responder;
use super::wire;
use hickory_server::net::xfer::Protocol;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tracing::debug;

/// The largest datagram read; a longer one is cut, then answered FORMERR.
const MAX_DATAGRAM: usize = 4096;

/// Answers datagrams on `socket` until the task is dropped. Several loops
/// may share one socket (one per runtime worker).
pub async fn serve(socket: Arc<UdpSocket>, responder: Arc<Responder>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, src) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems: not fatal.
                debug!(error = %e, "dns udp receive failed");
                continue;
            }
        };
        if !answerable(src) {
            continue;
        }
        let now = tokio::time::Instant::now().into_std();
        let Some(answer) = buf.get(..len).and_then(|query| wire::answer(&responder, query, src, Protocol::Udp, now)) else { continue };
        if let Err(e) = socket.send_to(&answer, src).await {
            debug!(%src, error = %e, "dns udp answer not sent");
        }
    }
}

/// Never answer a source that cannot have asked (port 0, unspecified,
/// broadcast, multicast): a forged one would make us reflect at it.
fn answerable(src: SocketAddr) -> bool {
    let ip = src.ip().to_canonical();
    let bad_ip = match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    src.port() != 0 && !bad_ip
}
