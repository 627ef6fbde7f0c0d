//! The transport: owns listeners, connections and UDP sockets, hands every
//! incoming message to one event queue, and sends over a named flow.

use super::queue::{PushError, SendQueue};
use super::{Direction, Flow, FlowId, Tap, TransportError, TransportKind, stream, udp};
use crate::framing::FramerConfig;
use crate::message::Message;
use bytes::Bytes;
use dashmap::DashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// Limits and queue sizes.
#[derive(Debug, Clone, Copy)]
pub struct TransportConfig {
    /// Stream framing limits (64 KiB header block and message by default).
    pub framer: FramerConfig,
    /// Accepted connections allowed from one source IP at once.
    pub max_connections_per_ip: usize,
    /// Events waiting for the application before readers pause.
    pub event_queue: usize,
    /// Messages waiting to be written to one connection before sends fail.
    pub send_queue: usize,
    /// Time a stream message may take from its first byte to its last
    /// (default 10 s); an accepted connection must also complete its first
    /// message (and its TLS handshake) within this of the TCP accept, and a
    /// TLS handshake we start may take this long. Nothing is due between
    /// messages. See the `deadline` module.
    pub header_timeout: Duration,
    /// Time `shutdown` waits for connections to flush.
    pub shutdown_grace: Duration,
    /// Kernel keep-alive probes on every TCP/TLS connection (`None`: the
    /// system's, usually off). See [`super::TcpKeepalive`].
    pub tcp_keepalive: Option<super::TcpKeepalive>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            framer: FramerConfig::default(),
            max_connections_per_ip: 256,
            event_queue: 4096,
            send_queue: 256,
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(2),
            tcp_keepalive: Some(super::TcpKeepalive::DEFAULT),
        }
    }
}

/// Why a flow closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed it.
    Peer,
    /// We closed it ([`Transport::close`]).
    Local,
    /// The stream could not be framed; the peer got a 400/413 where possible.
    Framing(String),
    /// A read or write failed.
    Io(String),
    /// A message was not complete within the header timeout of its first
    /// byte (or an accepted connection sent none within it of the accept).
    HeaderTimeout,
    /// The transport is shutting down.
    Shutdown,
}

/// What the transport hands to the application.
#[derive(Debug)]
pub enum TransportEvent {
    /// A parsed message; requests already carry `received`/`rport`.
    Message { flow: Flow, message: Message },
    /// A connection was accepted or opened.
    Opened { flow: Flow },
    /// A `CRLF CRLF` keep-alive ping arrived and was answered with `CRLF`.
    Ping { flow: Flow },
    /// A `CRLF` pong arrived on a flow we keep alive.
    Pong { flow: Flow },
    /// A connection ended.
    Closed { flow: Flow, reason: CloseReason },
}

pub(super) struct Inner {
    pub(super) config: TransportConfig,
    pub(super) events: mpsc::Sender<TransportEvent>,
    next_id: AtomicU64,
    conns: DashMap<FlowId, Arc<Conn>>,
    udp: DashMap<FlowId, Arc<UdpSocket>>,
    per_ip: DashMap<IpAddr, usize>,
    pub(super) cancel: CancellationToken,
    tracker: TaskTracker,
    /// Shown every message in and out (see [`Tap`]).
    tap: Option<Arc<dyn Tap>>,
}

impl Inner {
    fn next_id(&self) -> FlowId {
        FlowId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Hands `ev` to the application, waiting while its queue is full (the
    /// reader pauses: backpressure). Usually the queue has room and the event
    /// goes at once; only a wait is boxed, so the future a connection task
    /// keeps across this call is a pointer, not room for an event and a
    /// channel permit (~900 bytes, most of an idle connection's task).
    pub(super) fn emit(&self, ev: TransportEvent) -> impl Future<Output = ()> + Send + '_ {
        let wait = match self.events.try_send(ev) {
            // A closed receiver means the application is gone; nothing to tell.
            Ok(()) | Err(TrySendError::Closed(_)) => None,
            Err(TrySendError::Full(ev)) => Some(Box::pin(self.events.send(ev))),
        };
        async move {
            if let Some(wait) = wait {
                let _ = wait.await;
            }
        }
    }

    /// Shows the tap a message, if there is one.
    pub(super) fn tap(&self, direction: Direction, flow: &Flow, message: &Message, bytes: &Bytes) {
        if let Some(tap) = &self.tap {
            tap.message(direction, flow, message, bytes);
        }
    }

    pub(super) fn forget(&self, id: FlowId) {
        self.conns.remove(&id);
    }
}

/// What the transport and a connection's task share: the flow and what waits
/// to be written to it. The map of connections holds a pointer to it, and the
/// task's future a reference into it, rather than each a copy of the flow.
pub(super) struct Conn {
    pub(super) flow: Flow,
    pub(super) queue: SendQueue,
}

/// Holds one of a source IP's connection slots; frees it on drop.
pub(super) struct IpSlot {
    inner: Arc<Inner>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        self.inner.per_ip.remove_if_mut(&self.ip, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }
}

/// Where a stream connection came from.
pub(super) enum Origin {
    /// Accepted at `at`; holds one of its source IP's slots until it ends
    /// (freed on drop).
    Accepted { _slot: IpSlot, at: Instant },
    /// Opened by us.
    Opened,
}

/// A handle on the transport; cheap to clone.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl Transport {
    /// A new transport and the queue its events arrive on.
    pub fn new(config: TransportConfig) -> (Self, mpsc::Receiver<TransportEvent>) {
        Self::build(config, None)
    }

    /// A new transport that shows `tap` every SIP message it receives and sends.
    pub fn with_tap(config: TransportConfig, tap: Arc<dyn Tap>) -> (Self, mpsc::Receiver<TransportEvent>) {
        Self::build(config, Some(tap))
    }

    fn build(config: TransportConfig, tap: Option<Arc<dyn Tap>>) -> (Self, mpsc::Receiver<TransportEvent>) {
        let (events, rx) = mpsc::channel(config.event_queue.max(1));
        let inner = Inner {
            config,
            events,
            next_id: AtomicU64::new(1),
            conns: DashMap::new(),
            udp: DashMap::new(),
            per_ip: DashMap::new(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            tap,
        };
        (Self { inner: Arc::new(inner) }, rx)
    }

    fn check_running(&self) -> Result<(), TransportError> {
        if self.inner.cancel.is_cancelled() { Err(TransportError::ShuttingDown) } else { Ok(()) }
    }

    /// Binds a UDP socket; returns the flow whose `id` names it (remote unset).
    pub async fn bind_udp(&self, addr: SocketAddr) -> Result<Flow, TransportError> {
        self.check_running()?;
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let local = socket.local_addr()?;
        let id = self.inner.next_id();
        self.inner.udp.insert(id, socket.clone());
        let flow = Flow { id, transport: TransportKind::Udp, local, remote: local };
        info!(%local, %id, "listening on UDP");
        self.inner.tracker.spawn(udp::run(self.inner.clone(), socket, flow, udp::Serves::Sip));
        Ok(flow)
    }

    /// Binds a UDP socket that answers STUN Binding requests (RFC 8489) and
    /// nothing else: a STUN server beside the SIP ports, which answer STUN
    /// too. Returns the bound address. Nothing is ever sent from it but
    /// answers, so it has no flow.
    pub async fn bind_stun(&self, addr: SocketAddr) -> Result<SocketAddr, TransportError> {
        self.check_running()?;
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let local = socket.local_addr()?;
        let flow = Flow { id: self.inner.next_id(), transport: TransportKind::Udp, local, remote: local };
        info!(%local, "listening for STUN on UDP");
        self.inner.tracker.spawn(udp::run(self.inner.clone(), socket, flow, udp::Serves::StunOnly));
        Ok(local)
    }

    /// The flow to `remote` over the UDP socket `socket` (from [`Transport::bind_udp`]).
    pub fn udp_flow(&self, socket: &Flow, remote: SocketAddr) -> Flow {
        Flow { remote, ..*socket }
    }

    /// Listens for TCP connections; returns the bound address.
    pub async fn listen_tcp(&self, addr: SocketAddr) -> Result<SocketAddr, TransportError> {
        self.listen(addr, None).await
    }

    /// Listens for TLS connections; returns the bound address.
    pub async fn listen_tls(&self, addr: SocketAddr, config: Arc<rustls::ServerConfig>) -> Result<SocketAddr, TransportError> {
        self.listen(addr, Some(tokio_rustls::TlsAcceptor::from(config))).await
    }

    async fn listen(&self, addr: SocketAddr, tls: Option<tokio_rustls::TlsAcceptor>) -> Result<SocketAddr, TransportError> {
        self.check_running()?;
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        info!(%local, tls = tls.is_some(), "listening on TCP");
        let this = self.clone();
        self.inner.tracker.spawn(async move { this.accept_loop(listener, tls).await });
        Ok(local)
    }

    async fn accept_loop(self, listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) {
        loop {
            let accepted = tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                a = listener.accept() => a,
            };
            let (tcp, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(slot) = self.take_slot(remote.ip()) else {
                warn!(%remote, cap = self.inner.config.max_connections_per_ip, "connection refused: per-IP cap reached");
                continue;
            };
            self.tune(&tcp);
            let at = Instant::now();
            let origin = Origin::Accepted { _slot: slot, at };
            match tls.clone() {
                None => self.start_stream(tcp, TransportKind::Tcp, origin).map(drop).unwrap_or_else(|e| debug!(error = %e, "accept")),
                Some(acceptor) => {
                    let this = self.clone();
                    self.inner.tracker.spawn(async move {
                        // The handshake counts against the first message's deadline.
                        let left = this.inner.config.header_timeout.saturating_sub(at.elapsed());
                        match tokio::time::timeout(left, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let _ = this.start_stream(stream, TransportKind::Tls, origin);
                            }
                            Ok(Err(e)) => warn!(%remote, error = %e, "TLS handshake failed"),
                            Err(_) => warn!(%remote, "TLS handshake timed out"),
                        }
                    });
                }
            }
        }
    }

    /// No Nagle delay on signalling; the kernel's keep-alive probes when configured.
    fn tune(&self, tcp: &TcpStream) {
        let _ = tcp.set_nodelay(true);
        if let Some(ka) = self.inner.config.tcp_keepalive
            && let Err(e) = ka.apply(tcp)
        {
            warn!(error = %e, "cannot turn TCP keep-alive probes on");
        }
    }

    pub(super) fn take_slot(&self, ip: IpAddr) -> Option<IpSlot> {
        let cap = self.inner.config.max_connections_per_ip;
        let mut n = self.inner.per_ip.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        drop(n);
        Some(IpSlot { inner: self.inner.clone(), ip })
    }

    /// Registers a stream and starts its task.
    pub(super) fn start_stream<S>(&self, io: S, transport: TransportKind, origin: Origin) -> Result<Flow, TransportError>
    where
        S: super::io::Io,
    {
        let (local, remote) = io.addrs()?;
        let flow = Flow { id: self.inner.next_id(), transport, local, remote };
        let conn = Arc::new(Conn { flow, queue: SendQueue::new(self.inner.config.send_queue) });
        self.inner.conns.insert(flow.id, conn.clone());
        // A shutdown that began before the insert did not see this queue.
        if self.inner.cancel.is_cancelled() {
            conn.queue.shutdown();
        }
        debug!(%flow, "flow opened");
        self.inner.tracker.spawn(stream::run(self.inner.clone(), io, conn, origin));
        Ok(flow)
    }

    /// Opens a TCP connection (a client flow: we send pings, the peer pongs).
    pub async fn connect_tcp(&self, remote: SocketAddr) -> Result<Flow, TransportError> {
        self.check_running()?;
        let tcp = TcpStream::connect(remote).await?;
        self.tune(&tcp);
        self.start_stream(tcp, TransportKind::Tcp, Origin::Opened)
    }

    /// Opens a TLS connection, checking the certificate as `config` says
    /// (against `server_name` for a CA; see [`super::tls`]).
    pub async fn connect_tls(
        &self,
        remote: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Flow, TransportError> {
        self.check_running()?;
        let name = super::tls::server_name(server_name)?;
        let tcp = TcpStream::connect(remote).await?;
        self.tune(&tcp);
        let connector = tokio_rustls::TlsConnector::from(config);
        let stream = tokio::time::timeout(self.inner.config.header_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"))?
            .map_err(super::tls::handshake_error)?;
        self.start_stream(stream, TransportKind::Tls, Origin::Opened)
    }

    /// Sends a message over `flow`.
    pub fn send(&self, flow: &Flow, message: &Message) -> Result<(), TransportError> {
        let bytes = message.to_bytes();
        self.send_bytes(flow, bytes.clone())?;
        self.inner.tap(Direction::Out, flow, message, &bytes);
        Ok(())
    }

    /// Sends raw bytes over `flow` (e.g. a `CRLF CRLF` keep-alive ping). Never
    /// waits: a connection whose peer does not read fails with `QueueFull` rather
    /// than stalling the caller.
    pub fn send_bytes(&self, flow: &Flow, bytes: Bytes) -> Result<(), TransportError> {
        self.check_running()?;
        if flow.transport == TransportKind::Udp {
            let socket = self.inner.udp.get(&flow.id).map(|s| s.clone()).ok_or(TransportError::NoSuchFlow(flow.id))?;
            // Usually the datagram goes out at once; when the socket is not
            // writable yet, a task finishes the send so callers never wait.
            return match socket.try_send_to(&bytes, flow.remote) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let remote = flow.remote;
                    self.inner.tracker.spawn(async move {
                        if let Err(e) = socket.send_to(&bytes, remote).await {
                            debug!(%remote, error = %e, "UDP send failed");
                        }
                    });
                    Ok(())
                }
                Err(e) => Err(e.into()),
            };
        }
        let conn = self.inner.conns.get(&flow.id).map(|c| c.clone()).ok_or(TransportError::NoSuchFlow(flow.id))?;
        conn.queue.push(bytes).map_err(|e| match e {
            PushError::Full => TransportError::QueueFull(flow.id),
            PushError::Gone => TransportError::NoSuchFlow(flow.id),
        })
    }

    /// Closes a connection after what is queued for it has been written.
    pub fn close(&self, id: FlowId) {
        let conn = self.inner.conns.get(&id).map(|c| c.clone());
        if let Some(conn) = conn {
            conn.queue.close();
        }
    }

    /// The flow with this id, if it is an open connection.
    pub fn flow(&self, id: FlowId) -> Option<Flow> {
        self.inner.conns.get(&id).map(|c| c.flow)
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.inner.conns.len()
    }

    /// Stops accepting, lets each connection write what it has queued, closes
    /// everything and waits (up to the configured grace) for the tasks to end.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        // After the cancel: a connection added meanwhile sees it (start_stream).
        for conn in self.inner.conns.iter() {
            conn.queue.shutdown();
        }
        self.inner.tracker.close();
        if tokio::time::timeout(self.inner.config.shutdown_grace, self.inner.tracker.wait()).await.is_err() {
            warn!("transport tasks still running after the shutdown grace period");
        }
    }
}
