//! The UDP socket task: one datagram, one message (RFC 3261 §18.3).

use super::Flow;
use super::sockets::Inner;
use super::stream::deliver;
use bytes::Bytes;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tracing::warn;

/// Largest datagram we read; anything longer is truncated by the kernel and
/// then fails Content-Length checks.
const MAX_DATAGRAM: usize = 65_535;

pub(super) async fn run(inner: Arc<Inner>, socket: Arc<UdpSocket>, socket_flow: Flow) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let (n, remote) = match received {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors surface here on some systems; they concern one peer only.
                warn!(local = %socket_flow.local, error = %e, "UDP receive failed");
                continue;
            }
        };
        let Some(data) = buf.get(..n) else { continue };
        // Keep-alives over UDP (CRLF runs, RFC 5626 uses STUN) carry no message.
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) || data.first().is_some_and(|b| *b < 2) {
            continue;
        }
        let flow = Flow { remote, ..socket_flow };
        if let Some(reply) = deliver(&inner, Bytes::copy_from_slice(data), &flow).await {
            let _ = socket.try_send_to(&reply, remote);
        }
    }
}
