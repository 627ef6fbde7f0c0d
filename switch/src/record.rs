//! The data the registrar keeps: provisioned subscribers and remote-location
//! (RL) records, the "dynamic DNS" entries of the design.

use serde::{Deserialize, Serialize};
use sipcore::headers::MacAddr;
use sipcore::transport::{FlowId, TransportKind};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Seconds since the Unix epoch: how the store keeps a record's times and the
/// CLI prints them. The running switch never counts in it: its records hold
/// [`std::time::Instant`]s, converted through the store's
/// [`WallClock`](crate::store::WallClock) only to be stored or printed.
pub type UnixTime = u64;

/// A provisioned number ("in service").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// The directory number (DN), the user part of its SIP URI.
    pub number: String,
    /// The digest realm the HA1 values were computed for.
    pub realm: String,
    /// HA1 = H(number:realm:password) per algorithm, lower-case hex. Never the password.
    pub ha1_md5: String,
    pub ha1_sha256: String,
    pub ha1_sha512_256: String,
    /// When set, only the device with this MAC may register the number.
    pub mac: Option<MacAddr>,
    /// The home location calls revert to (a SIP URI), if provisioned.
    pub home: Option<String>,
}

/// Where an RL record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RlState {
    /// Registered over a live flow: calls go down that flow.
    Registered,
    /// The flow closed or went silent (or the switch restarted): calls go home
    /// until the phone registers again.
    SignallingDropped,
    /// Another device tried to register the number while this registration's
    /// flow was alive and never unregistered: calls go home.
    Conflict,
}

impl RlState {
    /// The name used in logs and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            RlState::Registered => "registered",
            RlState::SignallingDropped => "signalling_dropped",
            RlState::Conflict => "conflict",
        }
    }
}

/// How the flow's transport is stored.
pub fn transport_name(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
    }
}

/// Reads a stored transport name.
pub fn transport_from_name(s: &str) -> Option<TransportKind> {
    match s {
        "udp" => Some(TransportKind::Udp),
        "tcp" => Some(TransportKind::Tcp),
        "tls" => Some(TransportKind::Tls),
        _ => None,
    }
}

/// A remote-location record: where a registered number's phone is now.
///
/// Its strings are `Box<str>`, not `String`: they never grow once read, and
/// every parked phone holds one record (8 bytes less per string).
///
/// `T` is the clock its two times are on: [`Instant`] in the running switch
/// (the location table's deadlines), [`UnixTime`] as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RlRecord<T = UnixTime> {
    pub number: Box<str>,
    /// X-MAC as claimed by the phone.
    pub mac: Option<MacAddr>,
    /// X-Private-IP as claimed (the phone's address inside its NAT).
    pub private_ip: Option<IpAddr>,
    /// X-Public-IP as claimed (what the phone learned its public address is).
    pub public_ip_claimed: Option<IpAddr>,
    /// The flow's source address as the switch saw it.
    pub observed: SocketAddr,
    /// True when the address the phone is reachable at (claimed private, or the
    /// Via/Contact host) differs from the observed source: it sits behind NAT.
    pub behind_nat: bool,
    /// X-Bearer-Port: the local port the phone uses for RTP.
    pub bearer_port: Option<u16>,
    pub transport: TransportKind,
    /// The live flow; `None` after a restart until the phone registers again.
    pub flow_id: Option<FlowId>,
    /// The local address the flow arrived on (to send down it again).
    pub local: Option<SocketAddr>,
    /// RFC 5626 `+sip.instance` (unquoted) and `reg-id`.
    pub instance: Option<Box<str>>,
    pub reg_id: Option<u32>,
    /// The registering request's Call-ID (identifies a standard phone's refreshes).
    pub call_id: Box<str>,
    /// The Contact URI as registered.
    pub contact: Box<str>,
    pub user_agent: Option<Box<str>>,
    pub registered_at: T,
    pub expires_at: T,
    pub state: RlState,
    /// True when the flow uses RFC 5626 outbound (keep-alives expected).
    pub outbound: bool,
}

impl<T> RlRecord<T> {
    /// The same record with its times on another clock.
    pub fn map_times<U>(self, mut f: impl FnMut(T) -> U) -> RlRecord<U> {
        RlRecord {
            number: self.number,
            mac: self.mac,
            private_ip: self.private_ip,
            public_ip_claimed: self.public_ip_claimed,
            observed: self.observed,
            behind_nat: self.behind_nat,
            bearer_port: self.bearer_port,
            transport: self.transport,
            flow_id: self.flow_id,
            local: self.local,
            instance: self.instance,
            reg_id: self.reg_id,
            call_id: self.call_id,
            contact: self.contact,
            user_agent: self.user_agent,
            registered_at: f(self.registered_at),
            expires_at: f(self.expires_at),
            state: self.state,
            outbound: self.outbound,
        }
    }
}

impl RlRecord<UnixTime> {
    /// Seconds until the TTL runs out (0 when past).
    pub fn time_left(&self, now: UnixTime) -> u64 {
        self.expires_at.saturating_sub(now)
    }
}

impl RlRecord<Instant> {
    /// How long until the TTL runs out (zero when past).
    pub fn time_left(&self, now: Instant) -> Duration {
        self.expires_at.saturating_duration_since(now)
    }
}
