//! Call records (CDRs): one row per call the B2BUA handled, written by the
//! store thread as the call moves on, read by `switch calls`.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch: how a record's times are stored and
/// printed (the running switch keeps [`std::time::Instant`]s).
pub type UnixMs = u64;

/// One leg's media counters, as the relay reports them when the call ends.
pub use media::relay::LegStats as LegCounters;

/// Everything known about one call. `T` is the clock its times are on:
/// [`std::time::Instant`] in the B2BUA, [`UnixMs`] as stored and listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cdr<T = UnixMs> {
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
    pub invite_at: T,
    pub ringing_at: Option<T>,
    pub answer_at: Option<T>,
    pub end_at: Option<T>,
    /// The final status the caller got.
    pub status: Option<u16>,
    /// `caller_bye`, `callee_bye`, `cancelled`, `rejected`, `no_answer`, `media_timeout`…
    pub end_reason: Option<String>,
    pub caller_media: Option<LegCounters>,
    pub callee_media: Option<LegCounters>,
}

impl<T> Cdr<T> {
    /// A call offered at `invite_at` from `caller` to `callee`, routed `route`.
    pub fn new(call_id: String, caller: String, callee: String, route: &str, invite_at: T) -> Self {
        Cdr {
            call_id,
            callee_call_id: None,
            caller,
            callee,
            route: route.to_owned(),
            route_reason: None,
            invite_at,
            ringing_at: None,
            answer_at: None,
            end_at: None,
            status: None,
            end_reason: None,
            caller_media: None,
            callee_media: None,
        }
    }

    /// Still in progress.
    pub fn active(&self) -> bool {
        self.end_at.is_none()
    }

    /// The same record with its times on another clock.
    pub fn map_times<U>(self, mut f: impl FnMut(T) -> U) -> Cdr<U> {
        Cdr {
            call_id: self.call_id,
            callee_call_id: self.callee_call_id,
            caller: self.caller,
            callee: self.callee,
            route: self.route,
            route_reason: self.route_reason,
            invite_at: f(self.invite_at),
            ringing_at: self.ringing_at.map(&mut f),
            answer_at: self.answer_at.map(&mut f),
            end_at: self.end_at.map(&mut f),
            status: self.status,
            end_reason: self.end_reason,
            caller_media: self.caller_media,
            callee_media: self.callee_media,
        }
    }
}
