//! Finding the flow to a home location that is a host name or over TCP: the
//! core asks ([`Output::Connect`](crate::core::Output)), a task on the runtime
//! resolves and connects, and the answer comes back as feedback.

use super::net::local_ip_toward;
use crate::ConnectError;
use crate::b2bua::Connect;
use sipcore::transport::{Flow, Transport, TransportKind};
use std::net::SocketAddr;
use std::time::Duration;

/// How long resolving and connecting to a home location may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The flow to `to`, and the switch's address on it as the peer reaches it.
pub(super) async fn find_flow(transport: &Transport, udp: &[Flow], to: &Connect) -> Result<(Flow, SocketAddr), ConnectError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, resolve_and_connect(transport, udp, to)).await {
        Ok(found) => found,
        Err(_) => Err(ConnectError::Timeout { host: to.host.clone(), port: to.port, after: CONNECT_TIMEOUT }),
    }
}

async fn resolve_and_connect(transport: &Transport, udp: &[Flow], to: &Connect) -> Result<(Flow, SocketAddr), ConnectError> {
    let host = to.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host, to.port)).await.map_err(|source| ConnectError::Resolve { host: to.host.clone(), source })?.collect();
    match to.transport {
        TransportKind::Udp => crate::listen::udp_flow_toward(udp, &addrs)
            .map(|flow| (flow, SocketAddr::new(local_ip_toward(&flow), flow.local.port())))
            .ok_or_else(|| ConnectError::NoUdpListener { host: to.host.clone() }),
        TransportKind::Tcp => {
            let mut last = ConnectError::NoAddress { host: to.host.clone() };
            for remote in addrs {
                match transport.connect_tcp(remote).await {
                    Ok(flow) => return Ok((flow, flow.local)),
                    Err(source) => last = ConnectError::Connect { remote, source },
                }
            }
            Err(last)
        }
        TransportKind::Tls => Err(ConnectError::Tls),
    }
}
