//! One STUN Binding transaction over UDP (RFC 8489 §6.2.1): the request is
//! retransmitted with a doubling RTO until an answer to our transaction
//! arrives from the server, or the attempts run out. Stray datagrams (other
//! sources, other transactions, garbage) are skipped, never trusted.

use super::stun::{self, StunError, TransactionId};
use crate::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

/// Retransmission schedule.
#[derive(Debug, Clone, Copy)]
pub struct StunTiming {
    /// First retransmission timeout (RFC 8489: 500 ms).
    pub rto: Duration,
    /// Requests sent in all (RFC 8489's Rc is 7; fewer keeps a check short).
    pub attempts: u32,
    /// Wait after the last request, in RTOs (RFC 8489's Rm is 16).
    pub last_wait: u32,
}

impl Default for StunTiming {
    fn default() -> Self {
        Self { rto: Duration::from_millis(500), attempts: 4, last_wait: 8 }
    }
}

/// Largest datagram read; a Binding response is well under 200 bytes.
const MAX_DATAGRAM: usize = 1500;

/// Asks `server` for our reflexive address. `local` is the address to send
/// from (the signalling flow's, so the answer describes the same way out).
pub async fn query(server: SocketAddr, local: Option<IpAddr>, timing: StunTiming, txid: TransactionId) -> Result<SocketAddr, Error> {
    let bind_ip = match (local, server) {
        (Some(ip), _) if ip.is_ipv4() == server.is_ipv4() => ip,
        (_, SocketAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (_, SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await?;
    let request = stun::binding_request(&txid);
    let mut rto = timing.rto;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    for attempt in 1..=timing.attempts.max(1) {
        socket.send_to(&request, server).await?;
        let wait = if attempt == timing.attempts.max(1) { timing.rto.saturating_mul(timing.last_wait.max(1)) } else { rto };
        let deadline = Instant::now() + wait;
        loop {
            let Ok(received) = timeout_at(deadline, socket.recv_from(&mut buf)).await else { break };
            let (n, from) = received?;
            if from != server {
                continue;
            }
            match stun::parse_binding_response(buf.get(..n).unwrap_or_default(), &txid) {
                Ok(mapped) => return Ok(mapped),
                Err(StunError::OtherTransaction | StunError::NotStun | StunError::Length) => continue,
                Err(e) => return Err(Error::Discovery(format!("STUN server {server}: {e}"))),
            }
        }
        rto = rto.saturating_mul(2);
    }
    Err(Error::Discovery(format!("STUN server {server}: no answer")))
}
