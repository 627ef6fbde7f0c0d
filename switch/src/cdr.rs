//! Call records (CDRs): one row per call the B2BUA handled, written by the
//! store writer as the call moves on, read by `switch calls`.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type UnixMs = u64;

/// One leg's media counters, from the relay when the call ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LegCounters {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub lost: u64,
    pub jitter_ms: f64,
    pub dropped: u64,
    /// The address the relay latched this leg to, if any.
    pub latched: Option<String>,
}

/// Everything known about one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    /// The caller leg's Call-ID.
    pub call_id: String,
    /// The callee leg's Call-ID (the B2BUA's own), once it exists.
    pub callee_call_id: Option<String>,
    pub caller: String,
    pub callee: String,
    /// `flow`, `home` or `none`.
    pub route: String,
    /// Why the call went home or nowhere (`HomeReason`), or why it moved home later.
    pub route_reason: Option<String>,
    pub invite_at: UnixMs,
    pub ringing_at: Option<UnixMs>,
    pub answer_at: Option<UnixMs>,
    pub end_at: Option<UnixMs>,
    /// The final status the caller got.
    pub status: Option<u16>,
    /// `caller_bye`, `callee_bye`, `cancelled`, `rejected`, `no_answer`, `media_timeout`…
    pub end_reason: Option<String>,
    pub caller_media: Option<LegCounters>,
    pub callee_media: Option<LegCounters>,
}

impl Cdr {
    /// Still in progress.
    pub fn active(&self) -> bool {
        self.end_at.is_none()
    }
}
