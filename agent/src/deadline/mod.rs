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

#[cfg(linux_kernel)]
mod timerfd;

use tokio::time::Instant;

/// How the tokio driver sleeps until the core's next deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeadlineTimer {
    /// The kernel's timerfd (Linux, with the `linux` feature): one wake-up
    /// per deadline, so an idle agent sleeps from keep-alive to keep-alive.
    /// Elsewhere, tokio's timer.
    #[default]
    Kernel,
    /// tokio's timer: it follows `tokio::time::pause`, so the agent runs on
    /// virtual time (tests); a deadline minutes away costs up to three
    /// wake-ups instead of one.
    Tokio,
}

/// Sleeps until a deadline on tokio's clock.
pub(crate) struct Deadline {
    #[cfg(linux_kernel)]
    kernel: Option<timerfd::Timerfd>,
}

impl Deadline {
    /// A sleeper of the kind asked for (a timerfd falls back to tokio's timer
    /// where it cannot be had). Must run inside a tokio runtime with I/O enabled.
    pub(crate) fn new(timer: DeadlineTimer) -> Self {
        #[cfg(linux_kernel)]
        let kernel = match timer {
            DeadlineTimer::Kernel => timerfd::Timerfd::new()
                .map_err(|e| tracing::warn!(error = %e, "no timerfd; using tokio's timer (more wake-ups while idle)"))
                .ok(),
            DeadlineTimer::Tokio => None,
        };
        #[cfg(not(linux_kernel))]
        let _ = timer;
        Self {
            #[cfg(linux_kernel)]
            kernel,
        }
    }

    /// True while the timerfd is in use (false: tokio's timer).
    pub(crate) fn is_timerfd(&self) -> bool {
        #[cfg(linux_kernel)]
        return self.kernel.is_some();
        #[cfg(not(linux_kernel))]
        false
    }

    /// Resolves at `deadline` (the core's, on tokio's clock; at once if it has
    /// passed); never for `None`. Cancel-safe: dropped before then, a timerfd
    /// stays set, and a later call for the same deadline picks it up.
    pub(crate) async fn until(&mut self, deadline: Option<std::time::Instant>) {
        let deadline = deadline.map(Instant::from_std);
        #[cfg(linux_kernel)]
        if let Some(kernel) = &mut self.kernel {
            match kernel.until(deadline).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "timerfd failed; using tokio's timer (more wake-ups while idle)");
                    self.kernel = None;
                }
            }
        }
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    /// Without the kernel's timer, the default is tokio's.
    #[cfg(not(linux_kernel))]
    #[tokio::test]
    async fn without_the_linux_feature_the_kernel_timer_is_tokios() {
        assert!(!Deadline::new(DeadlineTimer::Kernel).is_timerfd());
    }
}
