//! What the core is built with.

use crate::b2bua::B2buaConfig;
use crate::registrar::RegistrarConfig;
use sipcore::transaction::TimerConfig;
use sipcore::transport::Flow;
use std::net::IpAddr;

/// The switch's address as the peer on `flow` reaches it: `flow.local`'s IP,
/// or, for a socket bound to the wildcard, the address the host routes toward
/// the peer from. A routing-table lookup (no packet goes out); the one
/// question the core asks its environment synchronously, so the driver
/// supplies the function and tests a fixed one.
pub type LocalIp = fn(&Flow) -> IpAddr;

/// The switch's policy and the few facts about its sockets the core needs.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Digest, expiry range, flow timer, abuse guard, relay address.
    pub registrar: RegistrarConfig,
    /// Ring time and the 2xx retransmission timers.
    pub b2bua: B2buaConfig,
    /// The transaction layer's T1, T2, T4.
    pub timers: TimerConfig,
    /// Sources whose INVITEs are accepted without digest.
    pub trusted_peers: Vec<IpAddr>,
    /// The UDP listeners, for calls to home locations over UDP.
    pub udp: Vec<Flow>,
    pub local_ip: LocalIp,
    /// The `Server` header every response carries; `None` (the default):
    /// none, so the switch does not name its software to scanners.
    pub server_header: Option<String>,
    /// Several nodes on one Redis: this node's id, the secret of the flow
    /// tokens, the wall-clock anchor they expire by ([`crate::cluster`]).
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// Mobile push is on (`[push] gateway`): how long a call waits for a
    /// woken phone ([`crate::pn`]).
    pub push_hold: Option<std::time::Duration>,
}
