//! The UDP socket task: one datagram, one message (RFC 3261 §18.3), and STUN
//! on the same port (RFC 5626 §4.4.2 keep-alives, RFC 8489 Binding).
//!
//! A datagram whose first byte is 0..=3 is STUN (RFC 7983; SIP starts with a
//! letter) and never reaches the SIP parser: a Binding request is answered
//! here, from a buffer on the stack, with one datagram at most
//! [`stun::MAX_GROWTH`] bytes longer than the request; anything else that
//! looks like STUN is logged at debug and dropped. See [`crate::stun`] for why
//! the transport answers it rather than the application.

use super::Flow;
use super::sockets::Inner;
use super::stream::deliver;
use crate::stun;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

/// Largest datagram we read; anything longer is truncated by the kernel and
/// then fails Content-Length checks.
const MAX_DATAGRAM: usize = 65_535;

/// What a UDP socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Serves {
    /// SIP, and STUN beside it.
    Sip,
    /// STUN only (a `--stun` listener): anything else is dropped.
    StunOnly,
}

pub(super) async fn run(inner: Arc<Inner>, socket: Arc<UdpSocket>, socket_flow: Flow, serves: Serves) {
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
        if stun::looks_like_stun(data) {
            answer_stun(&socket, socket_flow.local, data, remote);
            continue;
        }
        if serves == Serves::StunOnly {
            debug!(local = %socket_flow.local, %remote, bytes = n, "not STUN on a STUN listener; dropped");
            continue;
        }
        // CRLF keep-alives over UDP carry no message.
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue;
        }
        let flow = Flow { remote, ..socket_flow };
        if let Some(reply) = deliver(&inner, Bytes::copy_from_slice(data), &flow).await {
            let _ = socket.try_send_to(&reply, remote);
        }
    }
}

/// Answers a STUN Binding request from `remote` with one datagram, or drops
/// what cannot be answered; one debug line either way.
fn answer_stun(socket: &UdpSocket, local: SocketAddr, datagram: &[u8], remote: SocketAddr) {
    let mut out = [0u8; stun::MAX_ANSWER];
    match stun::answer(datagram, remote, &mut out) {
        Ok(n) => match socket.try_send_to(out.get(..n).unwrap_or_default(), remote) {
            Ok(_) => debug!(%local, %remote, bytes = n, "STUN Binding request answered"),
            // A full socket buffer drops it: the client retransmits.
            Err(e) => debug!(%local, %remote, error = %e, "STUN answer not sent"),
        },
        Err(why) => debug!(%local, %remote, bytes = datagram.len(), %why, "STUN datagram dropped"),
    }
}
