//! What the core tells the application ([`Event`]).

use sipcore::Request;
use sipcore::transaction::TransactionKey;
use sipcore::transport::FlowId;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Names a request the switch sent, to answer it with `respond`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerTxId {
    pub(crate) flow: FlowId,
    pub(crate) key: TransactionKey,
}

/// Why a registration happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationKind {
    /// The first one after start.
    Initial,
    /// Refreshing before expiry.
    Refresh,
    /// On a new flow, after the old one was lost.
    Reconnect,
    /// Because the public IP changed.
    PublicIpChange {
        /// From the detection of the change to this 200 OK.
        latency: Duration,
    },
}

/// What a 200 OK to REGISTER granted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registration {
    /// The flow's local address: the private IP and port sent.
    pub local: SocketAddr,
    /// The public IP sent in X-Public-IP (`None` when unknown).
    pub public_ip: Option<IpAddr>,
    /// The address the switch saw (Via `received`), when it said.
    pub observed: Option<IpAddr>,
    /// Seconds the binding lasts.
    pub expires: u32,
    /// RFC 5626 Flow-Timer, when the switch asked for keep-alives.
    pub flow_timer: Option<u32>,
    /// X-Bearer-Address: where bearer (RTP) legs go.
    pub bearer_address: Option<IpAddr>,
    /// Why this REGISTER was sent.
    pub kind: RegistrationKind,
}

/// Why the flow was given up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowLoss {
    /// The switch (or something on the way) closed it.
    Closed(String),
    /// No pong within the pong timeout (RFC 5626 §4.4.1).
    NoPong,
    /// A request on it got no answer (Timer F).
    Timeout(&'static str),
    /// Writing to it failed.
    SendFailed(String),
    /// The local address it used went away (DHCP, interface down).
    LocalAddressGone,
}

impl fmt::Display for FlowLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowLoss::Closed(why) => write!(f, "closed: {why}"),
            FlowLoss::NoPong => f.write_str("no pong to a keep-alive"),
            FlowLoss::Timeout(what) => write!(f, "{what} got no answer"),
            FlowLoss::SendFailed(why) => write!(f, "send failed: {why}"),
            FlowLoss::LocalAddressGone => f.write_str("the local address went away"),
        }
    }
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A REGISTER got its 200 OK.
    Registered(Registration),
    /// A REGISTER failed. `retry_in` is `None` when the agent will not try
    /// again on its own (403 and 404: the switch said no; see
    /// `UaConfig::retry_after_rejection`).
    RegistrationFailed {
        /// The final status (403, 404, 503…).
        status: u16,
        /// Its reason phrase, or why the agent gave up.
        reason: String,
        /// When the next attempt comes; `None`: not on its own.
        retry_in: Option<Duration>,
    },
    /// The public IP changed; a REGISTER carrying the new one follows.
    PublicIpChanged {
        /// The address known before, if any.
        old: Option<IpAddr>,
        /// The address now.
        new: IpAddr,
    },
    /// External discovery failed; the last known address stays in use.
    DiscoveryFailed {
        /// Why.
        reason: String,
    },
    /// Opening a flow failed; the next attempt is in `retry_in`.
    ConnectFailed {
        /// Why (resolution, TCP, TLS).
        reason: String,
        /// When the next attempt comes.
        retry_in: Duration,
    },
    /// The flow failed; a new one is opened in `retry_in`.
    FlowLost {
        /// Why.
        reason: FlowLoss,
        /// When the next flow is opened.
        retry_in: Duration,
    },
    /// Registered again on a new flow after losing one; `down_for` runs from
    /// the loss to this registration.
    FlowRestored {
        /// The new flow's local address.
        local: SocketAddr,
        /// From the loss to this registration.
        down_for: Duration,
    },
    /// A request from the switch (not OPTIONS, which the agent answers).
    /// `id` is `None` for an ACK, which takes no answer.
    IncomingRequest {
        /// What to answer it by ([`crate::AgentHandle::respond`]).
        id: Option<ServerTxId>,
        /// The request.
        request: Request,
    },
    /// News of a call (see [`crate::CallEvent`]).
    Call(crate::call::CallEvent),
    /// News of a call's media, in order with its [`Event::Call`]s.
    Media(crate::call::MediaEvent),
    /// The binding was removed on `stop`.
    Unregistered,
    /// The agent stopped; no more events follow.
    Stopped,
}
