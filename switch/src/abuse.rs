//! Password guessing costs the guesser, not the switch and not the number's
//! owner. Failed authentications are counted twice:
//!
//! - **per source address**: `max_failures` within `window` and the address is
//!   refused for `cooldown` seconds, whatever number it asks for;
//! - **per number**, from any source: `number_max_failures` within `window` and
//!   the number is locked for `number_lock` seconds, twice as long at each
//!   further lock, at most `number_lock_max`. A number with no failure for
//!   `number_lock_max` seconds starts over.
//!
//! A success clears only that source's failures for that number: logging into
//! one's own account never buys guesses at another. Numbers that are not
//! provisioned are counted exactly like provisioned ones, so the guard's
//! answers say nothing about which numbers exist. What a lock means for the
//! phone already registered on its flow is the registrar's business. Sans-IO:
//! time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// When a source is shut out and a number locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseConfig {
    /// Failures from one source within `window` that trigger a cool-down.
    pub max_failures: u32,
    /// Seconds over which failures are counted (per source and per number).
    pub window: u64,
    /// Seconds an offending source is refused.
    pub cooldown: u64,
    /// Failures for one number within `window`, from any sources, that lock it.
    pub number_max_failures: u32,
    /// Seconds of a number's first lock; each further lock doubles it.
    pub number_lock: u64,
    /// The longest lock, and how long a number's failures are remembered.
    pub number_lock_max: u64,
    /// Sources, and numbers, tracked at most; past this the least relevant
    /// entries are dropped (a spoofed-source flood must not grow memory
    /// without bound).
    pub max_tracked: usize,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: 60,
            cooldown: 300,
            number_max_failures: 5,
            number_lock: 60,
            number_lock_max: 3600,
            max_tracked: 100_000,
        }
    }
}

/// What one failure started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tripped {
    /// The source's cool-down began.
    pub source: bool,
    /// The number's lock began: for how long, and which lock it is (1 = first).
    pub number: Option<(Duration, u32)>,
}

/// A locked number, as `switch registrations` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NumberLock {
    pub number: String,
    /// Seconds left (a part second counts as one).
    pub seconds_left: u64,
    /// Which lock this is since the number's failures were last forgotten (1 = first).
    pub level: u32,
    /// Failures counted for the number since then.
    pub failures: u64,
}

#[derive(Debug, Clone)]
struct SourceEntry {
    window_start: Instant,
    /// Failures in the window, by number (a success takes its number's out).
    failures: Vec<(Box<str>, u32)>,
    /// Set once the source has been refused (and kept, so a success cannot lift it).
    blocked_until: Option<Instant>,
}

impl SourceEntry {
    fn total(&self) -> u32 {
        self.failures.iter().fold(0u32, |n, (_, k)| n.saturating_add(*k))
    }
}

#[derive(Debug, Clone, Copy)]
struct NumberEntry {
    window_start: Instant,
    /// Failures in the window.
    failures: u32,
    /// Failures since the entry was made (for the operator).
    total: u64,
    level: u32,
    locked_until: Option<Instant>,
    last_failure: Instant,
}

/// What the guard refuses now: sources cooling down, numbers locked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blocked {
    pub sources: usize,
    pub numbers: usize,
}

/// Auth-failure bookkeeping per source address and per number.
#[derive(Debug)]
pub struct AuthGuard {
    config: AbuseConfig,
    sources: HashMap<IpAddr, SourceEntry>,
    numbers: HashMap<String, NumberEntry>,
}

/// The longest number the guard keeps apart: a provisioned number is at most
/// 32 characters, and a made-up one from the wire must not cost more memory
/// than that (longer ones share their first 64 bytes' count).
const MAX_NUMBER: usize = 64;

/// `number` as the guard keys it.
fn key(number: &str) -> &str {
    let mut end = number.len().min(MAX_NUMBER);
    while !number.is_char_boundary(end) {
        end -= 1;
    }
    number.get(..end).unwrap_or_default()
}

/// Whole seconds until `until`, a part second counting as one; `None` once passed.
fn seconds_until(until: Instant, now: Instant) -> Option<u64> {
    let left = until.saturating_duration_since(now);
    (!left.is_zero()).then(|| left.as_secs() + u64::from(left.subsec_nanos() > 0))
}

impl AuthGuard {
    pub fn new(config: AbuseConfig) -> Self {
        Self { config, sources: HashMap::new(), numbers: HashMap::new() }
    }

    pub fn config(&self) -> &AbuseConfig {
        &self.config
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.config.window)
    }

    fn memory(&self) -> Duration {
        Duration::from_secs(self.config.number_lock_max.max(self.config.window))
    }

    /// Seconds left on `ip`'s cool-down, if it is refused now.
    pub fn source_blocked(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        seconds_until(self.sources.get(&ip)?.blocked_until?, now)
    }

    /// Seconds left on `number`'s lock, if it is locked now.
    pub fn number_locked(&self, number: &str, now: Instant) -> Option<u64> {
        seconds_until(self.numbers.get(key(number))?.locked_until?, now)
    }

    /// True while failures for `number` are remembered: someone who does not
    /// know its password has been trying it.
    pub fn under_attack(&self, number: &str, now: Instant) -> bool {
        self.numbers.get(key(number)).is_some_and(|e| self.remembered(e, now))
    }

    /// Failures are remembered until `number_lock_max` after the later of the
    /// last failure and the end of the last lock: waiting out a lock does not
    /// bring the next one back to the first's length.
    fn remembered(&self, e: &NumberEntry, now: Instant) -> bool {
        let since = e.locked_until.map_or(e.last_failure, |u| u.max(e.last_failure));
        now < since || now.saturating_duration_since(since) < self.memory()
    }

    /// Records a failed authentication from `ip` for `number`; says what it
    /// started. A failure for a number that is locked does not count (the
    /// registrar never gets that far).
    pub fn failure(&mut self, ip: IpAddr, number: &str, now: Instant) -> Tripped {
        let number = key(number);
        Tripped { source: self.source_failure(ip, number, now), number: self.number_failure(number, now) }
    }

    fn source_failure(&mut self, ip: IpAddr, number: &str, now: Instant) -> bool {
        if self.sources.len() >= self.config.max_tracked && !self.sources.contains_key(&ip) {
            self.prune_sources(now);
        }
        let (window, max, cooldown) = (self.window(), self.config.max_failures, Duration::from_secs(self.config.cooldown));
        let e = self.sources.entry(ip).or_insert(SourceEntry { window_start: now, failures: Vec::new(), blocked_until: None });
        if now.saturating_duration_since(e.window_start) >= window {
            e.window_start = now;
            e.failures.clear();
        }
        match e.failures.iter_mut().find(|(n, _)| &**n == number) {
            Some((_, k)) => *k = k.saturating_add(1),
            None => e.failures.push((number.into(), 1)),
        }
        if e.total() >= max && e.blocked_until.is_none_or(|until| until <= now) {
            e.blocked_until = Some(now + cooldown);
            e.failures.clear();
            e.window_start = now;
            return true;
        }
        false
    }

    fn number_failure(&mut self, number: &str, now: Instant) -> Option<(Duration, u32)> {
        if self.numbers.len() >= self.config.max_tracked && !self.numbers.contains_key(number) {
            self.prune_numbers(now);
        }
        let fresh = NumberEntry { window_start: now, failures: 0, total: 0, level: 0, locked_until: None, last_failure: now };
        let forget = self.numbers.get(number).is_some_and(|e| !self.remembered(e, now));
        let (window, c) = (self.window(), self.config);
        let e = self.numbers.entry(number.to_owned()).or_insert(fresh);
        if forget {
            *e = fresh;
        }
        if e.locked_until.is_some_and(|u| u > now) {
            return None;
        }
        if now.saturating_duration_since(e.window_start) >= window {
            e.window_start = now;
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.total = e.total.saturating_add(1);
        e.last_failure = now;
        if e.failures < c.number_max_failures {
            return None;
        }
        e.level = e.level.saturating_add(1);
        let doubling = 1u64.checked_shl(e.level.saturating_sub(1)).unwrap_or(u64::MAX);
        let lock = Duration::from_secs(c.number_lock.saturating_mul(doubling).min(c.number_lock_max));
        e.locked_until = Some(now + lock);
        e.failures = 0;
        e.window_start = now;
        Some((lock, e.level))
    }

    /// A success from `ip` for `number` clears that source's failures for that
    /// number (a user who mistyped is not punished later), and nothing else:
    /// not another number's, not the number's own count from other sources.
    pub fn success(&mut self, ip: IpAddr, number: &str) {
        let number = key(number);
        if let Some(e) = self.sources.get_mut(&ip).filter(|e| e.blocked_until.is_none()) {
            e.failures.retain(|(n, _)| &**n != number);
            if e.failures.is_empty() {
                self.sources.remove(&ip);
            }
        }
    }

    /// How many sources are cooling down and how many numbers are locked now
    /// (for `/metrics`; a count, no allocation).
    pub fn blocked(&self, now: Instant) -> Blocked {
        let live = |until: Option<Instant>| until.is_some_and(|u| u > now);
        Blocked {
            sources: self.sources.values().filter(|e| live(e.blocked_until)).count(),
            numbers: self.numbers.values().filter(|e| live(e.locked_until)).count(),
        }
    }

    /// The numbers locked now, most recently locked last.
    pub fn locks(&self, now: Instant) -> Vec<NumberLock> {
        let mut locked: Vec<(Instant, NumberLock)> = self
            .numbers
            .iter()
            .filter_map(|(number, e)| {
                let until = e.locked_until?;
                let seconds_left = seconds_until(until, now)?;
                Some((until, NumberLock { number: number.clone(), seconds_left, level: e.level, failures: e.total }))
            })
            .collect();
        locked.sort_by(|a, b| (a.0, &a.1.number).cmp(&(b.0, &b.1.number)));
        locked.into_iter().map(|(_, l)| l).collect()
    }

    /// Drops sources that no longer matter; if still full, the oldest half.
    fn prune_sources(&mut self, now: Instant) {
        let window = self.window();
        self.sources
            .retain(|_, e| e.blocked_until.is_some_and(|until| until > now) || now.saturating_duration_since(e.window_start) < window);
        if self.sources.len() >= self.config.max_tracked {
            let mut starts: Vec<Instant> = self.sources.values().map(|e| e.window_start).collect();
            starts.sort_unstable();
            let cut = starts.get(starts.len() / 2).copied().unwrap_or(now);
            self.sources.retain(|_, e| e.window_start > cut);
        }
    }

    /// Drops numbers whose failures are forgotten; if still full, half of the
    /// rest, unlocked ones first and the longest quiet first: a flood of
    /// made-up numbers must not free the number it is really after.
    fn prune_numbers(&mut self, now: Instant) {
        let numbers = std::mem::take(&mut self.numbers);
        self.numbers = numbers.into_iter().filter(|(_, e)| self.remembered(e, now)).collect();
        if self.numbers.len() >= self.config.max_tracked {
            let rank = |e: &NumberEntry| (e.locked_until.is_some_and(|u| u > now), e.last_failure);
            let mut ranks: Vec<(bool, Instant)> = self.numbers.values().map(rank).collect();
            ranks.sort_unstable();
            let cut = ranks.get(ranks.len() / 2).copied().unwrap_or((true, now));
            self.numbers.retain(|_, e| rank(e) > cut);
        }
    }

    /// Sources and numbers tracked.
    pub fn len(&self) -> usize {
        self.sources.len() + self.numbers.len()
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.numbers.is_empty()
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

    /// Only the per-source rule matters (numbers never lock).
    fn per_source(max_failures: u32, max_tracked: usize) -> AbuseConfig {
        AbuseConfig { max_failures, window: 60, cooldown: 300, number_max_failures: u32::MAX, max_tracked, ..AbuseConfig::default() }
    }

    #[test]
    fn cools_down_after_max_failures_exactly() {
        let mut g = AuthGuard::new(per_source(3, 10));
        assert!(!g.failure(ip(1), "1001", at(1000)).source);
        assert!(!g.failure(ip(1), "1002", at(1010)).source);
        assert_eq!(g.source_blocked(ip(1), at(1010)), None);
        assert!(g.failure(ip(1), "1003", at(1020)).source, "failures for any numbers add up");
        assert_eq!(g.source_blocked(ip(1), at(1020)), Some(300));
        assert_eq!(g.source_blocked(ip(1), at(1319)), Some(1));
        assert_eq!(g.source_blocked(ip(1), at(1320)), None);
        assert_eq!(g.source_blocked(ip(2), at(1020)), None, "other IPs unaffected");
        assert_eq!(g.blocked(at(1020)), Blocked { sources: 1, numbers: 0 });
        assert_eq!(g.blocked(at(1320)), Blocked::default(), "the cool-down is over");
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut g = AuthGuard::new(per_source(2, 10));
        assert!(!g.failure(ip(1), "1001", at(0)).source);
        assert!(!g.failure(ip(1), "1001", at(60)).source);
        assert!(g.failure(ip(1), "1001", at(61)).source);
    }

    #[test]
    fn a_success_clears_only_that_numbers_failures_and_memory_is_bounded() {
        let mut g = AuthGuard::new(per_source(5, 4));
        g.failure(ip(1), "1001", at(0));
        g.success(ip(1), "1001");
        assert!(g.sources.is_empty(), "a user who mistyped once is not punished later");
        // The attacker of issue 12: four guesses at 1001, then a login to its
        // own 1002, and again. The login clears nothing of 1001's.
        for round in 0..2 {
            for guess in 0..4 {
                let tripped = g.failure(ip(1), "1001", at(10 + round * 5 + guess));
                assert_eq!(tripped.source, round == 1 && guess == 0, "round {round} guess {guess}");
            }
            g.success(ip(1), "1002");
        }
        assert_eq!(g.source_blocked(ip(1), at(20)), Some(295));
        for n in 0..50 {
            g.failure(ip(n), "1003", at(100 + u64::from(n)));
        }
        assert!(g.sources.len() <= 4);
    }

    #[test]
    fn a_number_locks_whatever_the_sources_and_longer_each_time() {
        let c =
            AbuseConfig { max_failures: u32::MAX, number_max_failures: 3, number_lock: 60, number_lock_max: 200, ..AbuseConfig::default() };
        let mut g = AuthGuard::new(c);
        // Three sources, one guess each: the number locks, no source cools down.
        assert_eq!(g.failure(ip(1), "1001", at(0)), Tripped::default());
        assert_eq!(g.failure(ip(2), "1001", at(1)), Tripped::default());
        assert_eq!(g.failure(ip(3), "1001", at(2)), Tripped { source: false, number: Some((Duration::from_secs(60), 1)) });
        assert_eq!(g.number_locked("1001", at(2)), Some(60));
        assert_eq!(g.number_locked("1002", at(2)), None, "other numbers unaffected");
        // Failures during the lock do not count (the registrar never gets there).
        assert_eq!(g.failure(ip(4), "1001", at(3)), Tripped::default());
        assert_eq!(g.number_locked("1001", at(61)), Some(1));
        assert_eq!(g.number_locked("1001", at(62)), None);
        // Each further lock is twice as long, up to the longest.
        for (start, lock, level) in [(100, 120, 2), (300, 200, 3), (600, 200, 4)] {
            g.failure(ip(5), "1001", at(start));
            g.failure(ip(6), "1001", at(start + 1));
            let tripped = g.failure(ip(7), "1001", at(start + 2));
            assert_eq!(tripped.number, Some((Duration::from_secs(lock), level)), "lock {level}");
            assert_eq!(g.number_locked("1001", at(start + 2)), Some(lock));
        }
        assert_eq!(g.locks(at(610)), [NumberLock { number: "1001".into(), seconds_left: 192, level: 4, failures: 12 }]);
        // A success (a phone that knows the password) does not clear the number's count.
        g.success(ip(8), "1001");
        assert!(g.under_attack("1001", at(700)));
        // Quiet for `number_lock_max` after the last lock ended (at 802):
        // forgotten, the next lock is a first one again.
        assert!(g.under_attack("1001", at(1001)));
        assert!(!g.under_attack("1001", at(1002)));
        g.failure(ip(5), "1001", at(1100));
        g.failure(ip(5), "1001", at(1101));
        assert_eq!(g.failure(ip(5), "1001", at(1102)).number, Some((Duration::from_secs(60), 1)));
    }

    #[test]
    fn a_flood_of_made_up_numbers_does_not_unlock_the_one_under_attack() {
        let c = AbuseConfig { number_max_failures: 2, max_tracked: 8, ..AbuseConfig::default() };
        let mut g = AuthGuard::new(c);
        g.failure(ip(1), "1001", at(0));
        g.failure(ip(2), "1001", at(0));
        for n in 0..100u32 {
            g.failure(IpAddr::from(n.to_be_bytes()), &format!("9{n}"), at(1));
        }
        assert!(g.numbers.len() <= 8);
        assert_eq!(g.number_locked("1001", at(1)), Some(59));
    }

    #[test]
    fn a_made_up_number_costs_no_more_than_a_real_one() {
        let mut g = AuthGuard::new(AbuseConfig { number_max_failures: 2, ..AbuseConfig::default() });
        let long = "9".repeat(60_000);
        g.failure(ip(1), &long, at(0));
        g.failure(ip(2), &format!("{long}1"), at(0));
        assert_eq!(g.numbers.keys().map(String::len).collect::<Vec<_>>(), [MAX_NUMBER]);
        assert_eq!(g.number_locked(&long, at(0)), Some(60), "the two share a count");
        assert!(g.sources.values().flat_map(|e| &e.failures).all(|(n, _)| n.len() <= MAX_NUMBER));
        assert_eq!(key("ää"), "ää");
        assert_eq!(key(&"ä".repeat(40)).len(), MAX_NUMBER);
    }
}
