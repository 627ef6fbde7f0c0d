//! The pusher's state, sans-IO: which numbers wait to be pushed (coalesced by
//! number, bounded), the batch in flight, the link to the primary (up, or
//! failing and why) and when to try again. Driven with `now`; the driver
//! ([`super::driver`]) does the sockets.
//!
//! A number is queued, never its records: the driver reads the view when the
//! batch leaves, so only the latest state of a number is ever pushed and a
//! flapping number takes one slot. When the queue is full, a mark is not
//! kept but a resynchronisation is wanted instead: every provisioned number
//! is pushed again, which covers whatever the lost mark was about.

use super::failure::Failure;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Numbers marked and not yet taken, at most.
pub const QUEUE_CAP: usize = 4096;
/// Numbers per UPDATE, at most (the driver halves a batch whose message is too big).
pub const BATCH: usize = 32;
/// The first retry after a failure; each next one waits twice as long, up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
pub const MAX_RETRY: Duration = Duration::from_secs(30);

/// What the pusher asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Hand over every provisioned number ([`PushQueue::handle_resync`]).
    Resync,
    /// Push these numbers' records now, in one UPDATE, and report with [`PushQueue::handle_result`].
    Push(Vec<String>),
}

/// A change of the link's state, or of the queue's: one log line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// An UPDATE succeeded, first since the start or after failures.
    Up { after_failures: u32 },
    /// The link went from up (or unknown) to failing, or fails for another reason now.
    Failing(Failure),
    /// The queue was full: marks are not kept until every number is pushed again.
    QueueFull { cap: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    Unknown,
    Up,
    Failing(Failure),
}

/// An ordered set of numbers.
#[derive(Debug, Default)]
struct Numbers {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Numbers {
    fn len(&self) -> usize {
        self.order.len()
    }

    fn contains(&self, number: &str) -> bool {
        self.set.contains(number)
    }

    fn push_back(&mut self, number: String) {
        if self.set.insert(number.clone()) {
            self.order.push_back(number);
        }
    }

    fn push_front(&mut self, number: String) {
        if self.set.insert(number.clone()) {
            self.order.push_front(number);
        }
    }

    fn pop_front(&mut self) -> Option<String> {
        let n = self.order.pop_front()?;
        self.set.remove(&n);
        Some(n)
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct PushQueue {
    /// Marked by the core, coalesced, at most `cap` (plus a failed batch put back).
    pending: Numbers,
    cap: usize,
    resync_wanted: bool,
    /// The provisioned numbers of a resynchronisation under way, pushed after `pending`.
    resync: Numbers,
    in_flight: Option<Vec<String>>,
    link: Link,
    failures: u32,
    retry_at: Option<Instant>,
    events: VecDeque<LinkEvent>,
}

impl PushQueue {
    /// A queue of `cap` numbers that starts with a resynchronisation.
    pub fn new(cap: usize) -> Self {
        PushQueue {
            pending: Numbers::default(),
            cap,
            resync_wanted: true,
            resync: Numbers::default(),
            in_flight: None,
            link: Link::Unknown,
            failures: 0,
            retry_at: None,
            events: VecDeque::new(),
        }
    }

    /// `number`'s records may have changed. Never blocks, never grows past the bound.
    pub fn mark(&mut self, number: &str) {
        if self.pending.contains(number) {
            return;
        }
        if self.pending.len() >= self.cap {
            if !self.resync_wanted {
                self.events.push_back(LinkEvent::QueueFull { cap: self.cap });
            }
            self.resync_wanted = true;
            return;
        }
        self.pending.push_back(number.to_owned());
    }

    /// Is a resynchronisation wanted or under way?
    pub fn resyncing(&self) -> bool {
        self.resync_wanted || self.resync.len() > 0
    }

    /// Numbers waiting (marked, and left of a resynchronisation).
    pub fn waiting(&self) -> usize {
        self.pending.len() + self.resync.len()
    }

    /// What to do now, if anything: nothing while a batch is in flight or
    /// until the retry time after a failure.
    pub fn poll_output(&mut self, now: Instant) -> Option<Output> {
        if self.in_flight.is_some() || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        if self.resync_wanted {
            self.resync_wanted = false;
            return Some(Output::Resync);
        }
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            match self.pending.pop_front().or_else(|| self.resync.pop_front()) {
                Some(n) => batch.push(n),
                None => break,
            }
        }
        if batch.is_empty() {
            return None;
        }
        self.in_flight = Some(batch.clone());
        Some(Output::Push(batch))
    }

    /// Every provisioned number, for the resynchronisation [`Output::Resync`] asked for.
    pub fn handle_resync(&mut self, numbers: impl IntoIterator<Item = String>) {
        for n in numbers {
            self.resync.push_back(n);
        }
    }

    /// How the batch in flight went. A failed one is queued again, first,
    /// and nothing more is sent before the back-off ends.
    pub fn handle_result(&mut self, now: Instant, result: Result<(), Failure>) {
        let batch = self.in_flight.take().unwrap_or_default();
        match result {
            Ok(()) => {
                if self.link != Link::Up {
                    self.events.push_back(LinkEvent::Up { after_failures: self.failures });
                    self.link = Link::Up;
                }
                self.failures = 0;
                self.retry_at = None;
            }
            Err(failure) => {
                for n in batch.into_iter().rev() {
                    self.pending.push_front(n);
                }
                self.failures = self.failures.saturating_add(1);
                self.retry_at = Some(now + backoff(self.failures));
                if self.link != Link::Failing(failure.clone()) {
                    self.events.push_back(LinkEvent::Failing(failure.clone()));
                    self.link = Link::Failing(failure);
                }
            }
        }
    }

    /// When to call [`poll_output`](Self::poll_output) again without being told of a mark.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let work = self.resync_wanted || self.waiting() > 0;
        if self.in_flight.is_none() && work { self.retry_at } else { None }
    }

    /// The next change of the link's state, to log.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// The link now, for status: `"unknown"`, `"up"`, or the failure.
    pub fn link(&self) -> String {
        match &self.link {
            Link::Unknown => "unknown".into(),
            Link::Up => "up".into(),
            Link::Failing(f) => f.to_string(),
        }
    }
}

/// The wait after the `failures`th failure in a row: 1 s, 2 s, 4 s, … 30 s.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}
