//! Finding the flow to a home location that is a host name or over TCP, or to
//! another node of the cluster: the core asks
//! ([`Output::Connect`](crate::core::Output)), a task on the runtime resolves
//! and connects, and the answer comes back as feedback. A TCP connection is
//! kept and reused for the next call to the same place while it is open
//! ([`Reuse`]): one connection per peer, not one per call (which the peer's
//! per-address connection limit would soon refuse).

use super::net::local_ip_toward;
use crate::ConnectError;
use crate::b2bua::Connect;
use sipcore::transport::{Flow, Transport, TransportKind};
use std::collections::HashMap;
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

/// The open TCP connections the switch made, by where they go.
#[derive(Debug, Default)]
pub(super) struct Reuse {
    open: HashMap<(String, u16), Flow>,
}

impl Reuse {
    /// The open connection to `to`, if there is one.
    pub(super) fn get(&self, to: &Connect) -> Option<Flow> {
        (to.transport == TransportKind::Tcp).then(|| self.open.get(&(to.host.clone(), to.port)).copied()).flatten()
    }

    /// A connection made to `to`.
    pub(super) fn made(&mut self, to: &Connect, flow: Flow) {
        if to.transport == TransportKind::Tcp && flow.transport == TransportKind::Tcp {
            self.open.insert((to.host.clone(), to.port), flow);
        }
    }

    /// A flow closed: it is not reused.
    pub(super) fn closed(&mut self, flow: &Flow) {
        self.open.retain(|_, f| f.id != flow.id);
    }
}
