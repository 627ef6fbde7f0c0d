//! Refuses, for a cool-down, source IPs that keep failing authentication:
//! password guessing costs the guesser, not the switch. Sans-IO: time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// When an IP is shut out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseConfig {
    /// Failures within `window` that trigger a cool-down.
    pub max_failures: u32,
    /// Seconds over which failures are counted.
    pub window: u64,
    /// Seconds an offending IP is refused.
    pub cooldown: u64,
    /// IPs tracked at most; past this the oldest entries are dropped (a
    /// spoofed-source flood must not grow memory without bound).
    pub max_tracked: usize,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        Self { max_failures: 5, window: 60, cooldown: 300, max_tracked: 100_000 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    /// Set once the IP has been refused (and kept, so a success cannot lift it).
    blocked_until: Option<Instant>,
}

/// Auth-failure bookkeeping per source IP.
#[derive(Debug)]
pub struct AuthGuard {
    config: AbuseConfig,
    entries: HashMap<IpAddr, Entry>,
}

impl AuthGuard {
    pub fn new(config: AbuseConfig) -> Self {
        Self { config, entries: HashMap::new() }
    }

    /// Seconds left on `ip`'s cool-down (a part second counts as one), if it is refused now.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let left = self.entries.get(&ip)?.blocked_until?.saturating_duration_since(now);
        (!left.is_zero()).then(|| left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.config.window)
    }

    /// Records a failed authentication; returns true when this one started a cool-down.
    pub fn failure(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.entries.len() >= self.config.max_tracked && !self.entries.contains_key(&ip) {
            self.prune(now);
        }
        let (window, max_failures, cooldown) = (self.window(), self.config.max_failures, Duration::from_secs(self.config.cooldown));
        let e = self.entries.entry(ip).or_insert(Entry { window_start: now, failures: 0, blocked_until: None });
        if now.saturating_duration_since(e.window_start) >= window {
            e.window_start = now;
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        if e.failures >= max_failures && e.blocked_until.is_none_or(|until| until <= now) {
            e.blocked_until = Some(now + cooldown);
            e.failures = 0;
            e.window_start = now;
            return true;
        }
        false
    }

    /// A success clears the count (a user who mistyped once is not punished later).
    pub fn success(&mut self, ip: IpAddr) {
        if self.entries.get(&ip).is_some_and(|e| e.blocked_until.is_none()) {
            self.entries.remove(&ip);
        }
    }

    /// Drops entries that no longer matter; if still full, the oldest half.
    fn prune(&mut self, now: Instant) {
        let window = self.window();
        self.entries
            .retain(|_, e| e.blocked_until.is_some_and(|until| until > now) || now.saturating_duration_since(e.window_start) < window);
        if self.entries.len() >= self.config.max_tracked {
            let mut starts: Vec<Instant> = self.entries.values().map(|e| e.window_start).collect();
            starts.sort_unstable();
            let cut = starts.get(starts.len() / 2).copied().unwrap_or(now);
            self.entries.retain(|_, e| e.window_start > cut);
        }
    }

    /// Number of IPs tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no IP is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    /// Virtual time: `s` seconds after a fixed start.
    fn at(s: u64) -> Instant {
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now) + Duration::from_secs(s)
    }

    #[test]
    fn cools_down_after_max_failures_exactly() {
        let mut g = AuthGuard::new(AbuseConfig { max_failures: 3, window: 60, cooldown: 300, max_tracked: 10 });
        assert!(!g.failure(ip(1), at(1000)));
        assert!(!g.failure(ip(1), at(1010)));
        assert_eq!(g.blocked(ip(1), at(1010)), None);
        assert!(g.failure(ip(1), at(1020)));
        assert_eq!(g.blocked(ip(1), at(1020)), Some(300));
        assert_eq!(g.blocked(ip(1), at(1319)), Some(1));
        assert_eq!(g.blocked(ip(1), at(1320)), None);
        assert_eq!(g.blocked(ip(2), at(1020)), None, "other IPs unaffected");
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut g = AuthGuard::new(AbuseConfig { max_failures: 2, window: 60, cooldown: 300, max_tracked: 10 });
        assert!(!g.failure(ip(1), at(0)));
        assert!(!g.failure(ip(1), at(60)));
        assert!(g.failure(ip(1), at(61)));
    }

    #[test]
    fn success_clears_and_memory_is_bounded() {
        let mut g = AuthGuard::new(AbuseConfig { max_failures: 2, window: 60, cooldown: 300, max_tracked: 4 });
        g.failure(ip(1), at(0));
        g.success(ip(1));
        assert!(!g.failure(ip(1), at(1)));
        for n in 0..50 {
            g.failure(ip(n), at(100 + u64::from(n)));
        }
        assert!(g.len() <= 4);
    }
}
