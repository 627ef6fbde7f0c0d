//! The kernel's word that the host's addresses or links changed: a
//! `NETLINK_ROUTE` socket subscribed to the address and link notifications,
//! read through tokio's `AsyncFd`, so the driver wakes only when something
//! changes (Linux, the `linux` feature).
//!
//! Messages are not parsed: any one means "look again", and the caller
//! re-reads the addresses and compares ([`super::local_addresses`]). They are
//! read into a small fixed buffer (the kernel truncates and drops the rest),
//! and a burst (a DHCP renumbering is a delete and an add, an interface
//! coming up several messages) is one wake-up.

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, socket};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;
use tracing::debug;

/// After a notification, further ones this close together belong to the
/// same change (the delete and the add of a renumbering)...
const SETTLE: Duration = Duration::from_millis(100);
/// ...but a change is reported at most this long after it began, however
/// busy the kernel is.
const SETTLE_MAX: Duration = Duration::from_millis(400);
/// Messages read in one go before the caller gets to look (a flood must not
/// keep the task from its other work).
const DRAIN_MAX: usize = 256;
/// Only the fact that a message came matters; the kernel drops the rest.
const BUF: usize = 64;

/// The multicast groups: IPv4 and IPv6 addresses, and links (an interface
/// going down keeps its IPv4 addresses but they stop counting as local).
fn groups() -> u32 {
    (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR).cast_unsigned()
}

/// The subscribed socket, and the burst being read (when its first and its
/// latest message came). The burst lives here, not in a future, so that a
/// `select!` dropping `AddressWatch::changed` mid-burst loses nothing.
pub(super) struct Netlink {
    fd: AsyncFd<OwnedFd>,
    buf: [u8; BUF],
    burst: Option<(Instant, Instant)>,
}

impl Netlink {
    /// Subscribes to the kernel's notifications; the error says why they
    /// are unavailable.
    pub(super) fn subscribe() -> io::Result<Self> {
        let fd =
            socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)?;
        // Port id 0: the kernel picks a unique one.
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups()))?;
        // tokio deprecates its safe constructors (tokio#8587) because an
        // arbitrary `T` might hand out a different fd later; the one left is
        // `unsafe`, which this workspace forbids. An `OwnedFd` we never hand
        // out mutably always names the same open socket, which is exactly
        // what the unsafe variant asks its caller to promise.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(fd, Interest::READABLE)?;
        Ok(Self { fd, buf: [0; BUF], burst: None })
    }

    /// Waits for a notification, then until the burst it starts is quiet for
    /// [`SETTLE`] or [`SETTLE_MAX`] old.
    pub(super) async fn burst(&mut self) -> io::Result<()> {
        loop {
            let Some((first, last)) = self.burst else {
                let n = drain_when_ready(&self.fd, &mut self.buf).await?;
                let now = Instant::now();
                self.burst = Some((now, now));
                debug!(messages = n, "netlink: addresses or links changed");
                continue;
            };
            if Instant::now() >= first + SETTLE_MAX {
                // However busy the kernel is, the change is reported now.
                self.burst = None;
                return Ok(());
            }
            let quiet_at = (last + SETTLE).min(first + SETTLE_MAX);
            match tokio::time::timeout_at(quiet_at, drain_when_ready(&self.fd, &mut self.buf)).await {
                Ok(n) => {
                    debug!(messages = n?, "netlink: more of the same change");
                    self.burst = Some((first, Instant::now()));
                }
                Err(_quiet) => {
                    self.burst = None;
                    return Ok(());
                }
            }
        }
    }
}

/// Waits until the socket is readable and reads every queued message (at
/// most [`DRAIN_MAX`]); returns how many (at least one).
async fn drain_when_ready(fd: &AsyncFd<OwnedFd>, buf: &mut [u8; BUF]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        let mut got = 0usize;
        let read = guard.try_io(|fd| {
            while got < DRAIN_MAX {
                match recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
                    Ok(_) => got += 1,
                    // The receive queue overflowed: messages were lost, which
                    // only means something changed. Reading goes on.
                    Err(Errno::ENOBUFS) => got += 1,
                    Err(Errno::EINTR) => {}
                    Err(e) => return Err(io::Error::from(e)),
                }
            }
            Ok(())
        });
        match read {
            // The cap: report now, the rest is read on the next call.
            Ok(Ok(())) => return Ok(got),
            Ok(Err(e)) => return Err(e),
            // Drained (readiness cleared); spurious wake-ups read nothing.
            Err(_would_block) if got > 0 => return Ok(got),
            Err(_would_block) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netif::watch::AddressWatch;
    use std::net::IpAddr;
    use std::process::Command;

    /// Runs `ip ARGS` in the calling thread's network namespace (a child
    /// inherits the namespace of the thread that spawns it).
    fn ip(args: &[&str]) {
        let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"));
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The watcher in a network namespace of its own: silent while nothing
    /// changes, awake within 1 s of an address being added (and of one being
    /// removed), and the re-read then sees the change. The namespace is the
    /// thread's alone (`unshare`), so the kernel removes it, interfaces and
    /// all, when the thread ends, whether the test passes or panics.
    /// Needs root: ignored unless scripts/test.sh runs as root (`--include-ignored`).
    #[test]
    #[ignore = "needs root: a network namespace of its own (unshare; scripts/test.sh runs it as root)"]
    fn a_new_or_removed_address_wakes_the_watcher_within_a_second_and_nothing_else_does() {
        let thread = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("unshare(CLONE_NEWNET) (needs root): {e}"));
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("runtime: {e}"));
            runtime.block_on(async {
                let mut w = AddressWatch::new(Duration::from_secs(30));
                assert!(w.is_event_driven());
                let watched: IpAddr = [192, 0, 2, 7].into();
                ip(&["link", "set", "lo", "up"]);
                // Bringing lo up is a link change (and adds 127.0.0.1): a wake-up.
                tokio::time::timeout(Duration::from_secs(1), w.changed()).await.unwrap_or_else(|_| panic!("no wake-up for lo coming up"));
                assert!(!super::super::local_addresses().contains(&watched));

                let quiet = tokio::time::timeout(Duration::from_millis(700), w.changed()).await;
                assert!(quiet.is_err(), "woke with nothing changing");

                ip(&["addr", "add", "192.0.2.7/32", "dev", "lo"]);
                let start = Instant::now();
                tokio::time::timeout(Duration::from_secs(1), w.changed())
                    .await
                    .unwrap_or_else(|_| panic!("no wake-up within 1 s of an address being added"));
                let took = start.elapsed();
                assert!(super::super::local_addresses().contains(&watched), "woke, but the address is not listed yet");
                assert!(took <= SETTLE_MAX + Duration::from_millis(100), "took {took:?}");

                ip(&["addr", "del", "192.0.2.7/32", "dev", "lo"]);
                tokio::time::timeout(Duration::from_secs(1), w.changed())
                    .await
                    .unwrap_or_else(|_| panic!("no wake-up within 1 s of an address being removed"));
                assert!(!super::super::local_addresses().contains(&watched));
            });
        });
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}
