//! The header timeout on the real connection task, on virtual time: a flow
//! over an in-memory pipe, its peer writing at chosen instants, the close
//! seen at the deadline to the tick.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::io::{Io, TlsRead};
use super::sockets::Origin;
use super::{CloseReason, Transport, TransportConfig, TransportEvent, TransportKind};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, DuplexStream, WriteHalf};
use tokio::sync::mpsc::Receiver;
use tokio::time::{Instant, sleep};

const T: Duration = Duration::from_secs(10);

const OPTIONS: &[u8] = b"OPTIONS sip:switch.local SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.1.0.2:5060;branch=z9hG4bK-1\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@switch.local>;tag=a\r\n\
To: <sip:switch.local>\r\n\
Call-ID: t-1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

/// A connection over an in-memory pipe.
struct Pipe(DuplexStream);

impl Io for Pipe {
    type Read = TlsRead<DuplexStream>;
    type Write = WriteHalf<DuplexStream>;

    fn addrs(&self) -> std::io::Result<(SocketAddr, SocketAddr)> {
        Ok(("127.0.0.1:5060".parse().unwrap(), "127.0.0.1:40000".parse().unwrap()))
    }

    fn split(self) -> (Self::Read, Self::Write) {
        let (r, w) = tokio::io::split(self.0);
        (TlsRead(r), w)
    }
}

/// A transport with one flow whose peer end is returned: accepted at the
/// current instant, or opened by us.
fn flow(accepted: bool) -> (Transport, Receiver<TransportEvent>, DuplexStream) {
    let (transport, rx) = Transport::new(TransportConfig { header_timeout: T, ..TransportConfig::default() });
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let origin = match accepted {
        true => Origin::Accepted { _slot: transport.take_slot("127.0.0.1".parse().unwrap()).unwrap(), at: Instant::now() },
        false => Origin::Opened,
    };
    transport.start_stream(Pipe(ours), TransportKind::Tcp, origin).unwrap();
    (transport, rx, theirs)
}

/// True when `at` is `due`, or at most one tick of tokio's timer (1 ms) after it.
fn on_the_tick(at: Instant, due: Instant) -> bool {
    at >= due && at - due <= Duration::from_millis(1)
}

/// The next close, skipping the other events.
async fn next_close(rx: &mut Receiver<TransportEvent>) -> CloseReason {
    loop {
        if let TransportEvent::Closed { reason, .. } = rx.recv().await.unwrap() {
            return reason;
        }
    }
}

/// The flow's close: why, and when it was seen. Fails after a virtual day.
async fn closed(rx: &mut Receiver<TransportEvent>) -> (CloseReason, Instant) {
    let reason = tokio::time::timeout(Duration::from_secs(86_400), next_close(rx)).await.expect("the flow never closed");
    (reason, Instant::now())
}

/// No close within `within` (of virtual time).
async fn open_for(rx: &mut Receiver<TransportEvent>, within: Duration) {
    if let Ok(reason) = tokio::time::timeout(within, next_close(rx)).await {
        panic!("closed ({reason:?}) within {within:?}");
    }
}

/// A slowloris from now on: a header that never ends, a byte a second. The
/// flow must close `T` after the first byte.
async fn endless_header_is_closed_after_t(rx: &mut Receiver<TransportEvent>, peer: &mut DuplexStream) {
    let first = Instant::now();
    let trickle = async {
        for b in b"REGISTER sip:switch.local SIP/2.0\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'a')) {
            peer.write_all(&[*b]).await.unwrap();
            sleep(Duration::from_secs(1)).await;
        }
    };
    let (reason, at) = tokio::select! {
        c = closed(rx) => c,
        () = trickle => unreachable!("the header never ends"),
    };
    assert_eq!(reason, CloseReason::HeaderTimeout);
    assert!(on_the_tick(at, first + T), "closed {:?} after the first byte", at - first);
}

#[tokio::test(start_paused = true)]
async fn an_accepted_connection_that_sends_nothing_is_closed_at_the_deadline() {
    let t0 = Instant::now();
    let (_transport, mut rx, _peer) = flow(true);
    let (reason, at) = closed(&mut rx).await;
    assert_eq!(reason, CloseReason::HeaderTimeout);
    assert!(on_the_tick(at, t0 + T), "closed {:?} after the accept", at - t0);
}

#[tokio::test(start_paused = true)]
async fn keepalives_do_not_stand_for_a_first_message() {
    let t0 = Instant::now();
    let (_transport, mut rx, mut peer) = flow(true);
    let pinging = async {
        loop {
            peer.write_all(b"\r\n\r\n").await.unwrap();
            sleep(Duration::from_secs(2)).await;
        }
    };
    let (reason, at) = tokio::select! {
        c = closed(&mut rx) => c,
        () = pinging => unreachable!(),
    };
    assert_eq!(reason, CloseReason::HeaderTimeout);
    assert!(on_the_tick(at, t0 + T), "closed {:?} after the accept", at - t0);
}

#[tokio::test(start_paused = true)]
async fn an_idle_flow_lives_and_a_slow_message_dies_from_its_first_byte() {
    let (_transport, mut rx, mut peer) = flow(true);
    sleep(Duration::from_secs(3)).await;
    peer.write_all(OPTIONS).await.unwrap();
    // An hour between messages, keep-alives included: nothing is due.
    for _ in 0..120 {
        open_for(&mut rx, Duration::from_secs(30)).await;
        peer.write_all(b"\r\n\r\n").await.unwrap();
    }
    // A message that completes in 9 s is fine, its first half at once.
    let (head, rest) = OPTIONS.split_at(40);
    peer.write_all(head).await.unwrap();
    sleep(Duration::from_secs(9)).await;
    peer.write_all(rest).await.unwrap();
    open_for(&mut rx, Duration::from_secs(60)).await;
    endless_header_is_closed_after_t(&mut rx, &mut peer).await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_we_opened_waits_for_the_peer_but_not_for_a_slow_message() {
    let (_transport, mut rx, mut peer) = flow(false);
    open_for(&mut rx, Duration::from_secs(3600)).await;
    endless_header_is_closed_after_t(&mut rx, &mut peer).await;
}
