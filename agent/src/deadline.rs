//! The driver's one timer: the core's next deadline, on the driver's one
//! clock (tokio's; the core gets it as a `std::time::Instant`).
//!
//! Two backends, chosen with [`DeadlineTimer`]:
//!
//! - **The kernel's timerfd** (the default, on Linux). tokio's timer is a
//!   hierarchical wheel (levels of 64 slots: 1 ms, 64 ms, ~4.1 s, ~4.4 min,
//!   ...). A deadline tens of seconds away sits on a coarse level and the
//!   runtime wakes at that slot's start only to move it to a finer level,
//!   then again, and only then fires it: three wake-ups for each keep-alive
//!   instead of one. An idle agent has nothing to do but keep-alives, so those
//!   extra wake-ups were most of its remaining CPU time
//!   (scripts/bench/FOOTPRINT.md). The timerfd (an hrtimer) wakes the runtime
//!   once, at the deadline. It is armed with the time left on tokio's clock,
//!   which is the monotonic clock whenever that clock is not paused.
//! - **tokio's timer**: where no timerfd can be had (another OS, the `linux`
//!   feature off, or one that breaks), and on request: it follows
//!   `tokio::time::pause`, so the whole driver runs on virtual time in a test.
//!   A paused clock cannot be detected from outside tokio, and a timerfd
//!   would sleep in real time while the runtime jumps ahead; so the choice is
//!   the application's (`AgentBuilder::deadline_timer`), and production keeps
//!   the one wake-up per deadline.

use nix::errno::Errno;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;
use tracing::warn;

/// `AsyncFd` wants `AsRawFd`; nix's `TimerFd` offers `AsFd`.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// How the tokio driver sleeps until the core's next deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeadlineTimer {
    /// The kernel's timerfd (Linux): one wake-up per deadline, so an idle
    /// agent sleeps from keep-alive to keep-alive. Elsewhere, tokio's timer.
    #[default]
    Kernel,
    /// tokio's timer: it follows `tokio::time::pause`, so the agent runs on
    /// virtual time (tests); a deadline minutes away costs up to three
    /// wake-ups instead of one.
    Tokio,
}

/// Sleeps until a deadline on tokio's clock.
pub(crate) struct Deadline {
    fd: Option<AsyncFd<Fd>>,
    /// What the timerfd is set to, so that an unchanged deadline (the common
    /// case: the driver asks again after every event) costs no syscall.
    armed: Option<Instant>,
}

impl Deadline {
    /// A sleeper of the kind asked for (a timerfd falls back to tokio's timer
    /// where it cannot be had). Must run inside a tokio runtime with I/O enabled.
    pub(crate) fn new(timer: DeadlineTimer) -> Self {
        match timer {
            DeadlineTimer::Kernel => Self::timerfd(),
            DeadlineTimer::Tokio => Self { fd: None, armed: None },
        }
    }

    fn timerfd() -> Self {
        let fd = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)
            .map_err(io::Error::from)
            // See netif::watch for why the deprecated (safe) constructor: the
            // fd is owned by the `TimerFd` inside and never changes.
            .and_then(|t| {
                #[allow(deprecated)]
                AsyncFd::with_interest(Fd(t), Interest::READABLE)
            });
        match fd {
            Ok(fd) => Self { fd: Some(fd), armed: None },
            Err(e) => {
                warn!(error = %e, "no timerfd; using tokio's timer (more wake-ups while idle)");
                Self { fd: None, armed: None }
            }
        }
    }

    /// True while the timerfd is in use (false: tokio's timer).
    pub(crate) fn is_timerfd(&self) -> bool {
        self.fd.is_some()
    }

    /// Resolves at `deadline` (the core's, on tokio's clock; at once if it has
    /// passed); never for `None`. Cancel-safe: dropped before then, the timer
    /// stays set, and a later call for the same deadline picks it up.
    pub(crate) async fn until(&mut self, deadline: Option<std::time::Instant>) {
        let deadline = deadline.map(Instant::from_std);
        if let Some(fd) = &self.fd {
            match wait(fd, &mut self.armed, deadline).await {
                Ok(()) => return,
                Err(e) => {
                    warn!(error = %e, "timerfd failed; using tokio's timer (more wake-ups while idle)");
                    self.fd = None;
                    self.armed = None;
                }
            }
        }
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }
}

async fn wait(fd: &AsyncFd<Fd>, armed: &mut Option<Instant>, deadline: Option<Instant>) -> io::Result<()> {
    if *armed != deadline {
        let timer = &fd.get_ref().0;
        match deadline {
            None => timer.unset()?,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    // Passed already (a zero one-shot would disarm it).
                    timer.unset()?;
                    *armed = None;
                    return Ok(());
                }
                timer.set(Expiration::OneShot(TimeSpec::from(left)), TimerSetTimeFlags::empty())?;
            }
        }
        // Setting it cleared any expiry not yet read.
        *armed = deadline;
    }
    if deadline.is_none() {
        return std::future::pending().await;
    }
    loop {
        let mut guard = fd.readable().await?;
        // The expiry count (8 bytes); only that it expired matters.
        match guard.try_io(|fd| nix::unistd::read(fd.get_ref().0.as_fd(), &mut [0u8; 8]).map_err(io::Error::from)) {
            Ok(Ok(_)) => {
                // The read took every expiry and the timer is one-shot and
                // not re-armed yet: not readable, so no probing read later.
                guard.clear_ready();
                *armed = None;
                return Ok(());
            }
            Ok(Err(e)) if e.raw_os_error() == Some(Errno::EINTR as i32) => {}
            Ok(Err(e)) => return Err(e),
            // A stale readiness from an expiry that re-arming cleared.
            Err(_would_block) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant as StdInstant};

    #[tokio::test]
    async fn fires_once_at_the_deadline_not_before_and_picks_up_a_dropped_wait() {
        let mut d = Deadline::new(DeadlineTimer::Kernel);
        assert!(d.is_timerfd(), "this Linux host has timerfd");
        let start = StdInstant::now();
        let at = start + Duration::from_millis(150);
        // Dropped early: the timer stays set for the same deadline.
        assert!(tokio::time::timeout(Duration::from_millis(50), d.until(Some(at))).await.is_err());
        tokio::time::timeout(Duration::from_secs(2), d.until(Some(at))).await.unwrap_or_else(|_| panic!("never fired"));
        assert!(StdInstant::now() >= at, "fired early");
        assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());

        // A deadline already past: at once. None: never.
        tokio::time::timeout(Duration::from_millis(100), d.until(Some(start))).await.unwrap_or_else(|_| panic!("past deadline waited"));
        assert!(tokio::time::timeout(Duration::from_millis(200), d.until(None)).await.is_err());

        // Moved later while set: fires at the new one, not the old.
        let early = StdInstant::now() + Duration::from_millis(50);
        assert!(tokio::time::timeout(Duration::from_millis(10), d.until(Some(early))).await.is_err());
        let later = StdInstant::now() + Duration::from_millis(300);
        tokio::time::timeout(Duration::from_secs(2), d.until(Some(later))).await.unwrap_or_else(|_| panic!("never fired"));
        assert!(StdInstant::now() >= later, "fired at the old deadline");
    }

    /// On a paused clock the tokio backend fires at the exact virtual instant
    /// (the test would sleep two real hours otherwise).
    #[tokio::test(start_paused = true)]
    async fn the_tokio_backend_follows_a_paused_clock() {
        let mut d = Deadline::new(DeadlineTimer::Tokio);
        assert!(!d.is_timerfd());
        let start = Instant::now();
        let at = start + Duration::from_secs(7200);
        d.until(Some(at.into_std())).await;
        assert_eq!(Instant::now(), at);
    }
}
