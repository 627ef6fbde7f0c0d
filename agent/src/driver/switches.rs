//! The switches the agent may use (issue 14 item 4: several nodes of one
//! cluster) and which to try next. Each connection attempt tries them all,
//! starting with the preferred one, and keeps the first that answers; when
//! the flow to one dies, the next attempt starts with the one after it, so
//! the agent moves on (and registers there: the binding is overwritten on
//! the shared store) instead of knocking on a dead node first. Switches are
//! tried in the order given; with one, this is the old single-switch agent.
//!
//! Kept in the driver, not the core: the core only asks for "a flow to the
//! switch" (resolving names and picking among addresses is the driver's job
//! already), and a flow's death is visible here as the core dropping it.

use super::ConnectResult;
use crate::config::SwitchAddr;
use crate::{ConnectError, FlowTransport, netif};
use sipcore::transport::{FlowId, Transport};
use std::sync::Arc;
use std::time::Duration;

/// The list and where the next attempt starts.
pub(super) struct Switches {
    list: Arc<[SwitchAddr]>,
    /// Index of the switch the next attempt tries first.
    preferred: usize,
    /// The flow in use and the index of its switch.
    current: Option<(FlowId, usize)>,
}

impl Switches {
    /// `list` must not be empty (the builder makes sure).
    pub(super) fn new(list: Vec<SwitchAddr>) -> Self {
        Self { list: list.into(), preferred: 0, current: None }
    }

    /// What one attempt needs: the list and where to start.
    pub(super) fn attempt(&self) -> (Arc<[SwitchAddr]>, usize) {
        (self.list.clone(), self.preferred)
    }

    /// A flow to switch `index` opened and the core took it.
    pub(super) fn connected(&mut self, flow: FlowId, index: usize) {
        self.current = Some((flow, index));
        self.preferred = index;
    }

    /// Called with the core's flow after each input: when the flow in use is
    /// gone (closed by the switch, an I/O error, no pong, a rejection...),
    /// the next attempt starts after its switch. Returns the switch moved
    /// away from, for the log (none with a single switch: nowhere to move).
    pub(super) fn check(&mut self, flow: Option<FlowId>) -> Option<&SwitchAddr> {
        let (id, index) = self.current?;
        if flow == Some(id) {
            return None;
        }
        self.current = None;
        self.preferred = (index + 1) % self.list.len().max(1);
        if self.list.len() > 1 { self.list.get(index) } else { None }
    }
}

/// One attempt: each switch in turn from `start`, each with `timeout`; the
/// first flow opened wins, with its switch's index. The error is the last
/// switch's.
pub(super) async fn connect(
    transport: &Transport,
    list: &[SwitchAddr],
    start: usize,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> ConnectResult {
    let mut last = None;
    for index in (0..list.len()).map(|i| (start + i) % list.len()) {
        let Some(switch) = list.get(index) else { continue };
        let res = match tokio::time::timeout(timeout, connect_one(transport, switch, tls.clone())).await {
            Ok(r) => r,
            Err(_) => Err(ConnectError::Timeout { switch: switch.clone(), after: timeout }),
        };
        match res {
            Ok((flow, mac)) => return Ok((flow, mac, index)),
            Err(e) => {
                if list.len() > 1 {
                    tracing::debug!(%switch, error = %e, "switch unreachable; trying the next");
                }
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or(ConnectError::NoAddress { host: String::new() }))
}

/// Resolves the switch (again on every attempt: it may have moved) and opens
/// a flow to the first address that answers; finds the MAC behind it.
async fn connect_one(
    transport: &Transport,
    switch: &SwitchAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<(sipcore::transport::Flow, Option<crate::MacAddr>), ConnectError> {
    let addrs: Vec<_> = tokio::net::lookup_host((switch.host.as_str(), switch.port))
        .await
        .map_err(|source| ConnectError::Resolve { host: switch.host.clone(), source })?
        .collect();
    let mut last = ConnectError::NoAddress { host: switch.host.clone() };
    for addr in addrs {
        let opened = match (switch.transport, &tls) {
            (FlowTransport::Tcp, _) => transport.connect_tcp(addr).await,
            (FlowTransport::Tls, Some(cfg)) => transport.connect_tls(addr, cfg.clone(), &switch.host).await,
            (FlowTransport::Tls, None) => return Err(ConnectError::NoCa),
        };
        match opened {
            Ok(flow) => {
                let mac = netif::mac_for_ip(flow.local.ip());
                return Ok((flow, mac));
            }
            Err(source) => last = ConnectError::Open { addr, source },
        }
    }
    Err(last)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_flow_moves_the_next_attempt_to_the_following_switch() {
        let list: Vec<SwitchAddr> = ["tcp:10.0.0.1:5060", "tcp:10.0.0.2:5060", "tcp:10.0.0.3:5060"].map(|s| s.parse().unwrap()).into();
        let mut s = Switches::new(list.clone());
        assert_eq!(s.attempt().1, 0, "the first given, first");
        s.connected(FlowId(7), 2);
        assert_eq!(s.check(Some(FlowId(7))), None, "the flow is alive: nothing moves");
        assert_eq!(s.attempt().1, 2, "a reconnect for any other reason starts where the flow was");
        assert_eq!(s.check(None), Some(&list[2]));
        assert_eq!(s.attempt().1, 0, "after the last, the first again");
        assert_eq!(s.check(None), None, "said once per lost flow");
        s.connected(FlowId(8), 0);
        assert_eq!(s.check(Some(FlowId(9))), Some(&list[0]), "the core moved to another flow");
        assert_eq!(s.attempt().1, 1);

        let mut one = Switches::new(list[..1].to_vec());
        one.connected(FlowId(1), 0);
        assert_eq!(one.check(None), None, "one switch: nothing to say");
        assert_eq!(one.attempt().1, 0);
    }
}
