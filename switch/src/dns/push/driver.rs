//! The pusher task: drives the [`PushQueue`] with the clock, reads the view
//! when a batch leaves, sends the UPDATEs (UDP; TCP when the message is
//! bigger than a plain DNS datagram or the answer is truncated) and logs one
//! line per change of the link. It runs beside the core and never blocks it:
//! the core only [`PushSink::mark`]s numbers.

use super::config::PushConfig;
use super::failure::Failure;
use super::message::{Answer, chunks, pushed, read_answer, sign, update};
use super::queue::{LinkEvent, Output, PushQueue, QUEUE_CAP};
use super::sink::PushSink;
use crate::dns::{DnsConfig, LocationView, NumberRecords};
use crate::store::WallClock;
use hickory_proto::rr::TSigVerifier;
use rand::Rng;
use rand::rngs::StdRng;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tracing::{debug, info, warn};

/// How long one exchange (UDP, then TCP if needed) may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// A request up to this size goes over UDP (RFC 1035 §4.2.1, no EDNS).
const UDP_MAX: usize = 512;
/// An UPDATE larger than this is split.
const MESSAGE_MAX: usize = 16 * 1024;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The pusher and what it reads.
pub struct Pusher {
    cfg: PushConfig,
    dns: DnsConfig,
    view: LocationView,
    sink: PushSink,
    clock: WallClock,
    rng: StdRng,
}

/// Starts the pusher on the current runtime: from now on the view marks
/// every change, and the first thing pushed is every provisioned number.
pub fn spawn(cfg: PushConfig, dns: DnsConfig, view: LocationView, rng: StdRng) -> crate::Result<tokio::task::JoinHandle<()>> {
    let sink = PushSink::new(PushQueue::new(QUEUE_CAP));
    view.watch(sink.clone()).map_err(|_| crate::Error::Config("dns.update: the pusher is started once".into()))?;
    info!(server = %cfg.server, zone = %cfg.zone, key = %cfg.key.signer_name(), "dns update pushing");
    let pusher = Pusher { cfg, dns, view, sink, clock: WallClock::now(), rng };
    Ok(tokio::spawn(pusher.run()))
}

impl Pusher {
    async fn run(mut self) {
        loop {
            self.log_events();
            let out = self.sink.with(|q| q.poll_output(now()));
            match out {
                Some(Output::Resync) => {
                    let numbers = self.view.numbers();
                    info!(numbers = numbers.len(), "dns update resynchronising");
                    self.sink.with(|q| q.handle_resync(numbers));
                }
                Some(Output::Push(batch)) => {
                    let result = self.push(&batch).await;
                    if let Err(failure) = &result {
                        // One line per attempt at debug; the link's state changes are the info/warn lines.
                        debug!(%failure, numbers = batch.len(), "dns update attempt failed");
                    }
                    self.sink.with(|q| q.handle_result(now(), result));
                }
                None => match self.sink.with(|q| q.poll_timeout()) {
                    Some(at) => {
                        tokio::select! {
                            _ = self.sink.marked() => {}
                            _ = tokio::time::sleep_until(at.into()) => {}
                        }
                    }
                    None => self.sink.marked().await,
                },
            }
        }
    }

    fn log_events(&mut self) {
        while let Some(event) = self.sink.with(PushQueue::poll_event) {
            let (server, zone) = (&self.cfg.server, &self.cfg.zone);
            match event {
                LinkEvent::Up { after_failures } => info!(%server, %zone, after_failures, "dns update link up"),
                LinkEvent::Failing(failure) => warn!(%server, %zone, "dns update {failure}"),
                LinkEvent::QueueFull { cap } => warn!(cap, "dns update queue full: every number is pushed again"),
            }
        }
    }

    /// One batch: its numbers' records now, in as few UPDATEs as fit.
    async fn push(&mut self, batch: &[String]) -> Result<(), Failure> {
        let at = now();
        let records: Vec<NumberRecords> = batch.iter().map(|n| pushed(&self.dns, n, self.view.get(n).as_ref(), at)).collect();
        for chunk in chunks(&self.cfg.zone, &records, MESSAGE_MAX)? {
            self.exchange(chunk).await?;
        }
        Ok(())
    }

    /// One signed UPDATE and its answer.
    async fn exchange(&mut self, records: &[NumberRecords]) -> Result<(), Failure> {
        let id: u16 = self.rng.random();
        let at = now();
        self.clock.resync(at);
        let (bytes, mut verifier) = sign(update(id, &self.cfg.zone, records), &self.cfg.key, self.clock.unix_secs(at))?;
        let server = self.cfg.server;
        let exchanged = tokio::time::timeout(TIMEOUT, async {
            if bytes.len() <= UDP_MAX && udp(server, &bytes, id, &mut verifier).await? == Answer::Done {
                return Ok("udp");
            }
            tcp(server, &bytes, id, &mut verifier).await.map(|()| "tcp")
        });
        let transport = exchanged.await.unwrap_or(Err(Failure::Timeout(TIMEOUT)))?;
        debug!(transport, bytes = bytes.len(), numbers = records.len(), "dns update applied");
        Ok(())
    }
}

fn io(e: std::io::Error) -> Failure {
    Failure::Io(e.to_string())
}

/// Over UDP: `Done`, or `Truncated` (ask over TCP).
async fn udp(server: SocketAddr, bytes: &[u8], id: u16, verifier: &mut TSigVerifier) -> Result<Answer, Failure> {
    let local: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let sock = UdpSocket::bind(local).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    sock.send(bytes).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = sock.recv(&mut buf).await.map_err(io)?;
        match read_answer(buf.get(..n).unwrap_or_default(), id, verifier)? {
            Answer::NotOurs => continue,
            answer => return Ok(answer),
        }
    }
}

/// Over TCP (RFC 1035 §4.2.2: a two-byte length before each message).
async fn tcp(server: SocketAddr, bytes: &[u8], id: u16, verifier: &mut TSigVerifier) -> Result<(), Failure> {
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(bytes.len()).map_err(|_| Failure::Build(format!("an UPDATE of {} bytes", bytes.len())))?;
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    stream.write_all(&out).await.map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(io)?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer).await.map_err(io)?;
    match read_answer(&answer, id, verifier)? {
        Answer::Done => Ok(()),
        Answer::NotOurs | Answer::Truncated => Err(Failure::BadAnswer("not an answer to the UPDATE sent".into())),
    }
}
