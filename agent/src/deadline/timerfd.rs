//! The kernel's timerfd (an hrtimer), read through tokio's `AsyncFd`: one
//! wake-up per deadline (see the parent module for why).

use nix::errno::Errno;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// `AsyncFd` wants `AsRawFd`; nix's `TimerFd` offers `AsFd`.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A one-shot timerfd armed for the core's next deadline.
pub(super) struct Timerfd {
    fd: AsyncFd<Fd>,
    /// What it is set to, so that an unchanged deadline (the common case: the
    /// driver asks again after every event) costs no syscall.
    armed: Option<Instant>,
}

impl Timerfd {
    pub(super) fn new() -> io::Result<Self> {
        let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        // See netif::watch for why the deprecated (safe) constructor: the fd
        // is owned by the `TimerFd` inside and never changes.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(Fd(timer), Interest::READABLE)?;
        Ok(Self { fd, armed: None })
    }

    /// Resolves at `deadline` (at once if it has passed); never for `None`.
    /// The time left is read on tokio's clock, the monotonic one whenever it
    /// is not paused.
    pub(super) async fn until(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        wait(&self.fd, &mut self.armed, deadline).await
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
    use crate::deadline::{Deadline, DeadlineTimer};
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
}
