//! `/healthz`: is the switch core's task still turning? The driver beats on
//! every pass of its loop (at least once a second, its tick); the admin
//! listener, on another task, reads when it last did.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A core that has not beaten for this long is stuck or stopped.
const STALE: Duration = Duration::from_secs(5);

/// The beat, shared by the driver (writer) and the admin listener (reader).
#[derive(Debug, Clone)]
pub struct Heartbeat {
    anchor: Instant,
    /// Milliseconds after `anchor` of the last beat; `u64::MAX`: never.
    last_ms: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat { anchor: Instant::now(), last_ms: Arc::new(AtomicU64::new(u64::MAX)) }
    }
}

impl Heartbeat {
    /// The core is turning now.
    pub fn beat(&self) {
        self.last_ms.store(self.since_anchor(Instant::now()), Ordering::Relaxed);
    }

    /// The core stopped (a clean shutdown): not alive from now on.
    pub fn stop(&self) {
        self.last_ms.store(u64::MAX, Ordering::Relaxed);
    }

    /// Whether the core beat within [`STALE`] of `now`.
    pub fn alive(&self, now: Instant) -> bool {
        let last = self.last_ms.load(Ordering::Relaxed);
        last != u64::MAX && self.since_anchor(now).saturating_sub(last) < STALE.as_millis() as u64
    }

    fn since_anchor(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.anchor).as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_only_between_a_beat_and_staleness_or_stop() {
        let h = Heartbeat::default();
        let t0 = Instant::now();
        assert!(!h.alive(t0), "never beat");
        h.beat();
        let beat = Instant::now();
        assert!(h.alive(beat));
        assert!(!h.alive(beat + STALE + Duration::from_millis(1)));
        h.stop();
        assert!(!h.alive(beat));
    }
}
