//! Registrar timing: the expiry range a REGISTER may ask for (RFC 3261 §10.3
//! step 7), the flow timer for RFC 5626 outbound flows, and how long an expired
//! record is remembered so calls can say why they went home.

use std::fmt;
use std::time::Duration;

/// The location table's timers, all in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationConfig {
    /// Sent as `Flow-Timer` in the 200 OK to outbound registrations: the phone
    /// promises a keep-alive on the flow at least this often (RFC 5626 §4.4.1).
    pub flow_timer: u32,
    /// Slack on top of `flow_timer` before a silent outbound flow is dead.
    pub grace: u32,
    /// Shortest registration granted; shorter (non-zero) asks get 423 with `Min-Expires`.
    pub min_expires: u32,
    /// Longest registration granted; longer asks are cut to this.
    pub max_expires: u32,
    /// Granted when the REGISTER names no expiry at all.
    pub default_expires: u32,
    /// How long an expired record is kept as a tombstone, so that routing can
    /// answer "TTL expired" rather than "not registered".
    pub tombstone_for: u32,
}

impl Default for LocationConfig {
    fn default() -> Self {
        Self { flow_timer: 120, grace: 10, min_expires: 60, max_expires: 3600, default_expires: 600, tombstone_for: 3600 }
    }
}

impl LocationConfig {
    /// How long without any activity before an outbound flow is dead:
    /// `flow_timer + grace`.
    pub fn silence_limit(&self) -> Duration {
        Duration::from_secs(u64::from(self.flow_timer) + u64::from(self.grace))
    }

    /// How long an expired record is kept as a tombstone.
    pub fn tombstone_time(&self) -> Duration {
        Duration::from_secs(u64::from(self.tombstone_for))
    }
}

/// A non-zero expiry below `min_expires`: answer 423 Interval Too Brief with
/// `Min-Expires: min` (RFC 3261 §10.3 step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooBrief {
    pub min: u32,
}

impl fmt::Display for TooBrief {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interval too brief: at least {} s", self.min)
    }
}

impl std::error::Error for TooBrief {}

/// 423 Interval Too Brief; the registrar adds `Min-Expires`.
impl sipcore::ToStatus for TooBrief {
    fn status(&self) -> sipcore::StatusCode {
        sipcore::StatusCode::new(423).unwrap_or(sipcore::StatusCode::BAD_REQUEST)
    }
}

/// The expiry to grant for what the REGISTER asked (the Contact's `expires`
/// parameter, else the `Expires` header, else `None`).
///
/// `Ok(0)` means the request is an unregistration; `None` gets
/// `default_expires`; a non-zero ask below `min_expires` is refused; an ask
/// above `max_expires` is cut to it.
pub fn grant_expires(requested: Option<u32>, cfg: &LocationConfig) -> Result<u32, TooBrief> {
    match requested {
        Some(0) => Ok(0),
        Some(n) if n < cfg.min_expires => Err(TooBrief { min: cfg.min_expires }),
        Some(n) => Ok(n.min(cfg.max_expires)),
        None => Ok(cfg.default_expires.max(cfg.min_expires).min(cfg.max_expires)),
    }
}
