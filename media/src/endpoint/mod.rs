//! The agent's RTP endpoint: one bearer port, G.711 audio out every 20 ms from
//! a tone, samples, silence, an echo of what arrives or the application's own
//! audio ([`app_audio`]); what arrives is checked
//! (symmetric RTP), recorded and scanned for RFC 4733 DTMF.
//!
//! [`session::Session`] decides everything on virtual time; this module is the
//! thin tokio driver: one task `select!`s over the UDP socket, the TCP bearer
//! (RFC 4571, connected FROM the bearer port), the send deadline and commands.
//! A plan with SRTP keys makes the session protect what it sends and
//! authenticate what it receives (RFC 3711); the driver moves the same bytes.
//! Outgoing packets are built with the `rtp` crate (webrtc-rs); incoming ones
//! are read by [`rtp_in`] (why: see there).

pub mod app_audio;
pub mod error;
pub mod framing;
pub mod pacer;
pub mod rtp_in;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use app_audio::{AppAudio, FrameQueue};
pub use error::EndpointError;
use session::Session;

use crate::offer::{Codec, Negotiated};
use crate::srtp::SrtpKeys;
use crate::{BearerTransport, Direction};

/// How long connecting the TCP bearer may take.
pub const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A TCP write that cannot complete in this time drops the TCP bearer.
const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Largest UDP datagram read (anything longer is truncated and fails to parse).
const MAX_DATAGRAM: usize = 2048;

/// What the endpoint sends.
#[derive(Clone, Debug)]
pub enum Source {
    /// Silence frames (still sent every 20 ms: they keep the NAT leg open).
    Silence,
    /// A sine of this frequency (Hz), phase-continuous across packets.
    Tone(f64),
    /// These 8 kHz samples once, then silence.
    Samples(Arc<[i16]>),
    /// These 8 kHz samples over and over.
    Loop(Arc<[i16]>),
    /// The audio received, decoded and re-encoded back to the sender.
    Echo,
    /// The application's sound device: each frame to send is asked of it,
    /// each frame received handed to it (see [`app_audio`]).
    App(Arc<dyn AppAudio>),
}

/// How to run the stream: from the SDP exchange, plus what to play.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The peer's RTP address (UDP destination; for TCP, where to connect).
    pub remote: SocketAddr,
    /// Codec to send and accept.
    pub codec: Codec,
    /// The peer's telephone-event payload type, if negotiated.
    pub dtmf_pt: Option<u8>,
    /// UDP, or TCP with RFC 4571 framing.
    pub transport: BearerTransport,
    /// What to send.
    pub source: Source,
    /// Keep the decoded received audio for the report.
    pub record: bool,
    /// The PEER's declared direction ([`Negotiated::direction`]): when it is
    /// `SendOnly` or `Inactive` (it holds us) no audio is sent; the socket stays.
    pub direction: Direction,
    /// SRTP keys ([`Negotiated::srtp`]): every packet sent is protected and
    /// every packet received must authenticate. None: plain RTP.
    pub srtp: Option<SrtpKeys>,
}

impl Plan {
    /// The plan for a negotiated stream.
    pub fn from_negotiated(n: &Negotiated, source: Source, record: bool) -> Plan {
        Plan {
            remote: n.remote,
            codec: n.codec,
            dtmf_pt: n.dtmf_pt,
            transport: n.transport,
            source,
            record,
            direction: n.direction,
            srtp: n.srtp.clone(),
        }
    }
}

/// Something the endpoint noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointEvent {
    /// An RFC 4733 DTMF digit arrived (once per event).
    Dtmf(char),
}

/// What the endpoint did, returned by [`Endpoint::stop`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointReport {
    /// RTP packets sent (audio and events).
    pub sent_packets: u64,
    /// RTP packets accepted (from the peer, with a negotiated payload type).
    pub received_packets: u64,
    /// Packets ignored: foreign source, unparseable, other payload types, SRTP
    /// that fails authentication or replay checks.
    pub dropped_packets: u64,
    /// Decoded received audio, 8 kHz (when the plan said `record`), at most 10 minutes.
    pub recorded: Vec<i16>,
    /// Received DTMF digits in order.
    pub dtmf_received: String,
}

enum Command {
    Start(Plan, oneshot::Sender<Result<(), EndpointError>>),
    Dtmf(String),
    Stop,
}

/// The agent's RTP endpoint on its bearer port (see the module doc).
pub struct Endpoint {
    local: SocketAddr,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<EndpointEvent>,
    task: JoinHandle<EndpointReport>,
}

impl Endpoint {
    /// Binds the agent's bearer UDP port (`local`, port 0 for any) and starts
    /// the endpoint's task, idle until [`Endpoint::start`].
    pub async fn bind(local: SocketAddr) -> Result<Endpoint, EndpointError> {
        let socket = UdpSocket::bind(local).await?;
        let local = socket.local_addr()?;
        let (commands, command_rx) = mpsc::channel(64);
        let (event_tx, events) = mpsc::channel(64);
        let session = Session::new(rand::random(), rand::random(), rand::random());
        let task = tokio::spawn(run(socket, local, session, command_rx, event_tx));
        Ok(Endpoint { local, commands, events, task })
    }

    /// The bound bearer address (the port to put in SDP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Starts sending and receiving per `plan`, or retargets (re-INVITE, hold).
    /// The first packet has been sent when this returns (it opens the NAT leg);
    /// then one every 20 ms. For TCP the connection is made first (from the
    /// bearer port); a retarget to TCP reconnects.
    pub async fn start(&mut self, plan: Plan) -> Result<(), EndpointError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Start(plan, tx)).await.map_err(|_| EndpointError::Stopped)?;
        rx.await.map_err(|_| EndpointError::Stopped)?
    }

    /// Queues DTMF digits (`0-9*#A-D`) to send as RFC 4733 events; dropped
    /// when the stream has no telephone-event or the queue is full.
    pub fn send_dtmf(&self, digits: &str) {
        let _ = self.commands.try_send(Command::Dtmf(digits.to_owned()));
    }

    /// Events as they happen ([`EndpointEvent::Dtmf`]); at most 64 wait unread.
    pub fn events(&mut self) -> &mut mpsc::Receiver<EndpointEvent> {
        &mut self.events
    }

    /// Stops the stream, closes the sockets, and reports.
    pub async fn stop(self) -> EndpointReport {
        let _ = self.commands.send(Command::Stop).await;
        self.task.await.unwrap_or_default()
    }
}

/// The TCP bearer: our write half, and frames from the reader task.
struct TcpBearer {
    writer: OwnedWriteHalf,
    frames: mpsc::Receiver<Bytes>,
    reader: JoinHandle<()>,
}

impl Drop for TcpBearer {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn connect_tcp(local: SocketAddr, remote: SocketAddr) -> Result<TcpBearer, EndpointError> {
    let socket = if local.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // The bearer port is the UDP socket's; TCP may share the number. REUSEADDR
    // lets a reconnect bind it again while the last connection is in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    // Named in the error: "connection refused" alone does not say which leg or port.
    let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("TCP bearer from {local} to {remote}: {e}"));
    socket.bind(local).map_err(named)?;
    let stream = tokio::time::timeout(TCP_CONNECT_TIMEOUT, socket.connect(remote))
        .await
        .map_err(|_| named(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")))?
        .map_err(named)?;
    let _ = stream.set_nodelay(true);
    let (mut read, writer) = stream.into_split();
    let (tx, frames) = mpsc::channel(64);
    let reader = tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(2 * framing::MAX_FRAME);
        loop {
            loop {
                match framing::decode(&mut buf) {
                    Ok(Some(frame)) => {
                        if tx.send(frame).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("TCP bearer closed: {e}");
                        return;
                    }
                }
            }
            // decode() refuses frames over MAX_FRAME, so the buffer stays bounded.
            match read.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    Ok(TcpBearer { writer, frames, reader })
}

/// Waits for the next TCP frame; pending forever without a TCP bearer.
async fn next_frame(tcp: &mut Option<TcpBearer>) -> Option<Bytes> {
    match tcp {
        Some(t) => t.frames.recv().await,
        None => std::future::pending().await,
    }
}

async fn run(
    socket: UdpSocket,
    local: SocketAddr,
    mut session: Session,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<EndpointEvent>,
) -> EndpointReport {
    let mut tcp: Option<TcpBearer> = None;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let deadline = session.poll_timeout();
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None | Some(Command::Stop) => break,
                Some(Command::Dtmf(d)) => session.queue_dtmf(&d),
                Some(Command::Start(plan, reply)) => {
                    let result = retarget(&mut session, &mut tcp, local, plan).await;
                    if result.is_ok() {
                        send_due(&socket, &mut tcp, &mut session).await;
                    }
                    let _ = reply.send(result);
                }
            },
            r = socket.recv_from(&mut buf) => {
                // Errors (e.g. ICMP unreachable reported on the socket) are not fatal.
                if let Ok((n, from)) = r
                    && let Some(ev) = session.handle_packet(Some(from), buf.get(..n).unwrap_or_default())
                {
                    let _ = events.try_send(ev);
                }
            }
            frame = next_frame(&mut tcp) => match frame {
                Some(frame) => {
                    if let Some(ev) = session.handle_packet(None, &frame) {
                        let _ = events.try_send(ev);
                    }
                }
                None => {
                    tracing::debug!("TCP bearer closed by the peer");
                    tcp = None;
                }
            },
            _ = sleep_until(deadline) => send_due(&socket, &mut tcp, &mut session).await,
        }
    }
    session.into_report()
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Applies a plan; for a new TCP remote the old TCP bearer is closed and a new
/// one connected first (from the same port, so the old one must go first), and
/// a failed connect leaves the plan as it was (returned to the caller).
async fn retarget(session: &mut Session, tcp: &mut Option<TcpBearer>, local: SocketAddr, plan: Plan) -> Result<(), EndpointError> {
    let same_tcp = session.plan().is_some_and(|p| p.transport == BearerTransport::Tcp && p.remote == plan.remote) && tcp.is_some();
    if plan.transport == BearerTransport::Tcp && !same_tcp {
        *tcp = None;
        *tcp = Some(connect_tcp(local, plan.remote).await?);
    } else if plan.transport == BearerTransport::Udp {
        *tcp = None;
    }
    session.retarget(plan, std::time::Instant::now());
    Ok(())
}

/// Sends every packet due now.
async fn send_due(socket: &UdpSocket, tcp: &mut Option<TcpBearer>, session: &mut Session) {
    let Some((transport, remote)) = session.plan().map(|p| (p.transport, p.remote)) else { return };
    let mut framed = Vec::new();
    while let Some(packet) = session.poll_transmit(std::time::Instant::now()) {
        match transport {
            BearerTransport::Udp => {
                if let Err(e) = socket.send_to(&packet, remote).await {
                    tracing::debug!("RTP send to {remote}: {e}");
                }
            }
            BearerTransport::Tcp => {
                let _ = framing::encode(&packet, &mut framed);
            }
        }
    }
    if let (false, Some(t)) = (framed.is_empty(), tcp.as_mut()) {
        let ok = matches!(tokio::time::timeout(TCP_WRITE_TIMEOUT, t.writer.write_all(&framed)).await, Ok(Ok(())));
        if !ok {
            tracing::debug!("TCP bearer to {remote} stalled or failed; dropped");
            *tcp = None;
        }
    }
}
