//! Scale-out (issue 14 items 2-4): several switch nodes on one Redis act as
//! one registrar and B2BUA.
//!
//! - **Every node knows every registration.** A node routes an INVITE from its
//!   own table first; when that has no live flow for the callee, the core
//!   asks its driver ([`Output::FindBinding`](crate::core::Output)) and the
//!   store thread reads the number's RL record in Redis: a `registered`
//!   binding written by another node whose [lease](lease) is live comes back
//!   as a [`RemoteBinding`] ([`Core::handle_binding`](crate::core::Core::handle_binding)).
//! - **Delivery across nodes** (RFC 5626 §5, the other node as the edge
//!   proxy). The call's callee leg then goes to that node's `--node-address`
//!   over TCP, one hop, with a `Route` whose user part is a [flow token](token):
//!   an HMAC only holders of the cluster secret can make. The node holding
//!   the flow checks it (a bad one: 403 and a log line), takes the call as
//!   its own B2BUA call from the other node (no digest: the first node did
//!   it) down the phone's flow, its relay anchoring the phone's media, or
//!   answers `430 Flow Failed` when the flow is gone; the first node then
//!   goes home as for a failed flow of its own. Both nodes are full B2BUAs,
//!   so in-dialog requests follow the same two dialogs both ways, and each
//!   node's call record says where the other leg went (`via_node:B`,
//!   `from_node:A` in `route_reason`).
//! - **Liveness.** Each node refreshes its lease every second (expiring after
//!   three); a binding whose node has no lease is not live, so a dead node's
//!   numbers route home within three seconds.

pub mod lease;
pub mod secret;
mod settings;
pub mod token;

pub use lease::Lease;
pub use secret::Secret;
pub use settings::ClusterSettings;

use std::net::SocketAddr;

/// A live binding held by another node: where to send the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBinding {
    /// The node holding the phone's flow.
    pub node: String,
    /// Its `--node-address` (TCP), from its lease.
    pub address: SocketAddr,
}

/// What the core needs to forward calls across nodes and take them in.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's id (`--node-id`).
    pub node: String,
    /// The shared secret flow tokens are made with.
    pub secret: Secret,
    /// The anchor from the core's clock to Unix time: tokens expire on the
    /// wall clock every node shares.
    pub clock: crate::store::WallClock,
}
