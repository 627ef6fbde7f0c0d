//! Tells the driver when the host's addresses may have changed, without
//! waking while nothing does: on Linux (the `linux` feature) from the
//! kernel's address and link notifications (see [`super::netlink`]); where
//! those cannot be had, by polling every so often (the caller re-reads the
//! addresses and compares, [`super::local_addresses`]). Polling (a
//! `getifaddrs` netlink dump every few seconds) was three quarters of an idle
//! agent's CPU time (scripts/bench/FOOTPRINT.md); it stays as the fallback.

use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Where the next "look again" comes from.
enum Source {
    #[cfg(linux_kernel)]
    Netlink(super::netlink::Netlink),
    Poll(Interval),
}

/// Resolves [`AddressWatch::changed`] when the host's addresses may have changed.
pub(crate) struct AddressWatch {
    source: Source,
    /// The poll should the kernel's notifications break.
    #[cfg(linux_kernel)]
    fallback: Duration,
}

impl AddressWatch {
    /// Subscribes to the kernel's notifications; if that fails (or there are
    /// none to have), polls every `fallback` instead. Must run inside a tokio
    /// runtime with I/O enabled.
    pub(crate) fn new(fallback: Duration) -> Self {
        #[cfg(linux_kernel)]
        match super::netlink::Netlink::subscribe() {
            Ok(n) => return Self { source: Source::Netlink(n), fallback },
            Err(e) => {
                tracing::warn!(error = %e, every = ?fallback, "no netlink address notifications; polling the addresses instead");
            }
        }
        Self::poll(fallback)
    }

    /// Only a poll, every `every` (the first look is `every` from now).
    pub(crate) fn poll(every: Duration) -> Self {
        let mut interval = tokio::time::interval_at(Instant::now() + every, every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            source: Source::Poll(interval),
            #[cfg(linux_kernel)]
            fallback: every,
        }
    }

    /// True while the kernel's notifications drive it (false: polling).
    pub(crate) fn is_event_driven(&self) -> bool {
        !matches!(self.source, Source::Poll(_))
    }

    /// Resolves when the addresses may have changed: once a burst of
    /// notifications has settled, or on the poll's tick. Cancel-safe.
    pub(crate) async fn changed(&mut self) {
        match &mut self.source {
            Source::Poll(interval) => {
                interval.tick().await;
            }
            #[cfg(linux_kernel)]
            Source::Netlink(n) => {
                let Err(failed) = n.burst().await else { return };
                // The socket broke (an overflow does not count: it is handled).
                // Polling keeps the agent correct; the caller looks again now,
                // as something may have changed unseen.
                tracing::warn!(error = %failed, every = ?self.fallback, "netlink address notifications failed; polling the addresses instead");
                self.source = Self::poll(self.fallback).source;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_fallback_poll_wakes_on_its_interval_and_not_before() {
        let mut w = AddressWatch::poll(Duration::from_secs(30));
        assert!(!w.is_event_driven());
        let start = Instant::now();
        w.changed().await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        w.changed().await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }
}
