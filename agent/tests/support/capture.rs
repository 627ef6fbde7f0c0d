//! Every UDP datagram on the loopback of the calling thread's network
//! namespace, as the wire has it: a packet socket (`AF_PACKET`, root only)
//! read by a thread of its own until the capture is dropped. Made inside
//! `netns::in_own_netns`, it sees only the test's own traffic.

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, recv, setsockopt, socket, sockopt};
use nix::sys::time::TimeVal;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One UDP datagram seen on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Datagram {
    pub(crate) from_port: u16,
    pub(crate) to_port: u16,
    pub(crate) payload: Vec<u8>,
}

/// A running capture; dropping it stops its thread.
pub(crate) struct Capture {
    seen: Arc<Mutex<Vec<Datagram>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    /// Starts capturing (needs CAP_NET_RAW).
    pub(crate) fn start() -> Capture {
        let fd: OwnedFd =
            socket(AddressFamily::Packet, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::EthAll).expect("a packet socket needs root");
        // Wakes the reader now and then to see whether it should stop.
        setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(0, 100_000)).unwrap();
        let (seen, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (into, until) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut frame = vec![0u8; 65_536];
            while !until.load(Ordering::Relaxed) {
                let Ok(n) = recv(fd.as_raw_fd(), &mut frame, MsgFlags::empty()) else { continue };
                if let Some(d) = frame.get(..n).and_then(udp_of) {
                    into.lock().unwrap().push(d);
                }
            }
        });
        Capture { seen, stop, thread: Some(thread) }
    }

    /// How many datagrams seen since the last `take` match `which`.
    pub(crate) fn count(&self, which: impl Fn(&Datagram) -> bool) -> usize {
        self.seen.lock().unwrap().iter().filter(|d| which(d)).count()
    }

    /// What was seen since the last call.
    pub(crate) fn take(&self) -> Vec<Datagram> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The UDP datagram of a loopback frame: a 14-byte Ethernet header, IPv4, UDP.
fn udp_of(frame: &[u8]) -> Option<Datagram> {
    let ip = frame.get(14..)?;
    if frame.get(12..14)? != [0x08, 0x00] || ip.first()? >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let udp = ip.get(usize::from(ip.first()? & 0x0f) * 4..)?;
    let port = |at: usize| Some(u16::from_be_bytes([*udp.get(at)?, *udp.get(at + 1)?]));
    let len = usize::from(port(4)?);
    Some(Datagram { from_port: port(0)?, to_port: port(2)?, payload: udp.get(8..len)?.to_vec() })
}
