//! DNS over UDP: our own receive loop rather than hickory-server's. Each
//! datagram is answered inline ([`wire::answer`], the path our TCP loop and
//! the fuzz target take) and the answer sent from the same task: no task
//! spawned and no channel crossed per query (hickory-server's loop did both,
//! and with them a thread wake-up per query). On Linux the loop reads up to
//! [`BATCH`] datagrams with one `recvmmsg` and sends their answers with one
//! `sendmmsg`, as Knot does: under load most of a query's cost is the kernel's
//! per-call work and the client's wake-up per answer. `scripts/bench/dns.sh`
//! measured both steps (scripts/bench/DNS.md).

use super::answer::Responder;
use super::wire;
use hickory_server::net::xfer::Protocol;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tracing::debug;

/// The largest datagram read; a longer one is cut, then answered FORMERR.
const MAX_DATAGRAM: usize = 4096;

/// Datagrams read (and answers sent) per system call.
pub const BATCH: usize = 32;

/// Answers datagrams on `socket` until the task is dropped. Several loops
/// may share one socket (one per runtime worker).
pub async fn serve(socket: Arc<UdpSocket>, responder: Arc<Responder>) {
    let mut bufs = vec![[0u8; MAX_DATAGRAM]; BATCH];
    let mut received: Vec<(usize, usize, SocketAddr)> = Vec::with_capacity(BATCH);
    let mut answers: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(BATCH);
    loop {
        received.clear();
        if let Err(e) = receive(&socket, &mut bufs, &mut received).await {
            // ICMP errors from earlier sends surface here on some systems: not fatal.
            debug!(error = %e, "dns udp receive failed");
            continue;
        }
        let now = tokio::time::Instant::now().into_std();
        answers.clear();
        for &(i, len, src) in &received {
            let query = bufs.get(i).and_then(|b| b.get(..len));
            if let Some(answer) = query.filter(|_| answerable(src)).and_then(|q| wire::answer(&responder, q, src, Protocol::Udp, now)) {
                answers.push((answer, src));
            }
        }
        send(&socket, &answers).await;
    }
}

/// Waits for datagrams and reads what is queued, up to one per buffer:
/// (buffer index, length, source) each.
#[cfg(target_os = "linux")]
async fn receive(socket: &UdpSocket, bufs: &mut [[u8; MAX_DATAGRAM]], out: &mut Vec<(usize, usize, SocketAddr)>) -> std::io::Result<()> {
    use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;
    loop {
        socket.readable().await?;
        let read = socket.try_io(tokio::io::Interest::READABLE, || {
            // Fresh headers per call: the kernel shortens each one's address length.
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(bufs.len(), None);
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            let msgs = recvmmsg(socket.as_raw_fd(), &mut headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None)?;
            out.extend(msgs.enumerate().filter_map(|(i, m)| Some((i, m.bytes, std_addr(&m.address?)?))));
            Ok(())
        });
        match read {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

#[cfg(not(target_os = "linux"))]
async fn receive(socket: &UdpSocket, bufs: &mut [[u8; MAX_DATAGRAM]], out: &mut Vec<(usize, usize, SocketAddr)>) -> std::io::Result<()> {
    let Some(buf) = bufs.first_mut() else { return Ok(()) };
    let (len, src) = socket.recv_from(buf).await?;
    out.push((0, len, src));
    Ok(())
}

/// Sends every answer: as many as the socket takes in one `sendmmsg`, the
/// rest (or all, elsewhere than Linux) one by one.
async fn send(socket: &UdpSocket, answers: &[(Vec<u8>, SocketAddr)]) {
    let sent = send_batch(socket, answers);
    for (answer, dst) in answers.get(sent..).unwrap_or_default() {
        if let Err(e) = socket.send_to(answer, dst).await {
            debug!(%dst, error = %e, "dns udp answer not sent");
        }
    }
}

#[cfg(target_os = "linux")]
fn send_batch(socket: &UdpSocket, answers: &[(Vec<u8>, SocketAddr)]) -> usize {
    use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    if answers.len() < 2 {
        return 0;
    }
    let sent = socket.try_io(tokio::io::Interest::WRITABLE, || {
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(answers.len(), None);
        let slices: Vec<[IoSlice<'_>; 1]> = answers.iter().map(|(a, _)| [IoSlice::new(a)]).collect();
        let addrs: Vec<Option<SockaddrStorage>> = answers.iter().map(|(_, dst)| Some(SockaddrStorage::from(*dst))).collect();
        let no_cmsgs: [ControlMessage<'_>; 0] = [];
        Ok(sendmmsg(socket.as_raw_fd(), &mut headers, slices.iter(), &addrs, no_cmsgs, MsgFlags::MSG_DONTWAIT)?.count())
    });
    sent.unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn send_batch(_: &UdpSocket, _: &[(Vec<u8>, SocketAddr)]) -> usize {
    0
}

/// A source address as std has it.
#[cfg(target_os = "linux")]
fn std_addr(addr: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(std::net::SocketAddrV4::from(*v4).into());
    }
    addr.as_sockaddr_in6().map(|v6| std::net::SocketAddrV6::from(*v6).into())
}

/// Never answer a source that cannot have asked (port 0, unspecified,
/// broadcast, multicast): a forged one would make us reflect at it.
fn answerable(src: SocketAddr) -> bool {
    let ip = src.ip().to_canonical();
    let bad_ip = match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    src.port() != 0 && !bad_ip
}
