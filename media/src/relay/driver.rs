//! The driver: binds each call's sockets, hands the UDP ones to a relay thread
//! ([`Workers`]), runs the TCP and media-timeout tasks on tokio, and answers the
//! B2BUA's `open`/`update`/`arm_timeout`/`stats`/`close`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

use super::call::{Call, LegIo, Tasks};
use super::lease::{ClosingMark, PairLease, PoolShared};
use super::leg::CallState;
use super::ports::PortPool;
use super::tcp::{self, TcpOut};
use super::worker::Workers;
use super::{CallMedia, CallStats, LegPorts, LegTarget, MediaId, RelayConfig, RelayEvent, Side};
use crate::Error;

/// How long `open` waits for the ports of just-closed calls to come free
/// (their tasks end, and their sockets close, moments after `close`).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Room for events nobody has read yet; the timer task waits when it is full.
const EVENT_QUEUE: usize = 256;

/// The relay: cheap to clone, every clone drives the same calls. Dropping the
/// last clone ends every call's tasks.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    config: RelayConfig,
    pool: Arc<PoolShared>,
    calls: Mutex<HashMap<MediaId, Arc<Call>>>,
    next_id: AtomicU64,
    events: mpsc::Sender<RelayEvent>,
    /// Dropped after `Drop::drop` shut the calls down: stops and joins the threads.
    workers: Workers,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let calls = self.calls.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (_, call) in calls.drain() {
            call.shutdown();
        }
    }
}

impl Relay {
    /// Starts a relay; events (media timeouts) arrive on the returned receiver.
    /// Fails with [`Error::Config`] when the range holds fewer than two pairs (one call).
    pub async fn start(config: RelayConfig) -> Result<(Relay, mpsc::Receiver<RelayEvent>), Error> {
        let pool = PortPool::new(config.ports.clone());
        if pool.capacity() < 2 {
            return Err(Error::Config("the port range holds fewer than two RTP/RTCP pairs"));
        }
        let (events, receiver) = mpsc::channel(EVENT_QUEUE);
        let workers = Workers::start(config.threads)?;
        let shared = Arc::new(PoolShared { pool: Mutex::new(pool), freed: Notify::new(), closing: AtomicUsize::new(0) });
        let calls = Mutex::new(HashMap::new());
        let inner = Inner { config, pool: shared, calls, next_id: AtomicU64::new(1), events, workers };
        Ok((Relay { inner: Arc::new(inner) }, receiver))
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    /// Relay ports held now (RTP and RTCP of each leg in use), read from the
    /// pool: a cheap look for a metrics scrape or tick, nothing counted twice.
    pub fn ports_in_use(&self) -> usize {
        let pool = self.inner.pool.pool.lock().unwrap_or_else(PoisonError::into_inner);
        2 * pool.capacity().saturating_sub(pool.available())
    }

    /// Opens a call's media: per leg, UDP sockets on an RTP/RTCP pair (served by a relay
    /// thread) and a TCP listener on the RTP port (a task). Legs latch to the first source until
    /// [`Relay::update`] says more. [`Error::NoPorts`] when the range is exhausted.
    pub async fn open(&self, label: &str) -> Result<CallMedia, Error> {
        let (caller, caller_lease) = self.bind_leg().await?;
        let (callee, callee_lease) = self.bind_leg().await?;
        let id = MediaId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let media = CallMedia { id, caller: caller.ports, callee: callee.ports };
        let call = Arc::new(Call {
            id,
            label: label.to_owned(),
            state: Mutex::new(CallState::new(self.inner.config.media_timeout)),
            caller,
            callee,
            timer: Notify::new(),
            tasks: Mutex::new(Tasks::default()),
            _leases: [caller_lease, callee_lease],
            closing: ClosingMark { shared: self.inner.pool.clone(), marked: AtomicBool::new(false) },
        });
        for side in [Side::Caller, Side::Callee] {
            call.spawn(tcp::accept(call.clone(), side));
        }
        call.spawn(watch_media(call.clone(), self.inner.events.clone()));
        tracing::debug!(call = label, ?media, "relay opened");
        self.calls().insert(id, call.clone());
        self.inner.workers.add(call);
        Ok(media)
    }

    /// Says where a party is (again, on re-INVITE): its leg's latching starts over.
    pub fn update(&self, id: MediaId, side: Side, target: LegTarget) -> Result<(), Error> {
        let call = self.call(id).ok_or(Error::UnknownMedia(id))?;
        call.state().leg_mut(side).update(target);
        Ok(())
    }

    /// Starts the media timeout (at answer): from now, `media_timeout` without RTP on
    /// either leg sends one [`RelayEvent::MediaTimeout`]. Unknown ids are ignored.
    pub fn arm_timeout(&self, id: MediaId) {
        if let Some(call) = self.call(id) {
            call.state().clock_mut().arm(Instant::now());
            call.timer.notify_one();
        }
    }

    /// The call's counters now.
    pub fn stats(&self, id: MediaId) -> Option<CallStats> {
        self.call(id).map(|call| call.state().stats())
    }

    /// The counters of every call open now (for a metrics tick: the relay's own
    /// counters read, nothing counted a second time per packet).
    pub fn live_stats(&self) -> Vec<CallStats> {
        // The map's lock is let go before any call's: `close` takes them in that order too.
        let calls: Vec<Arc<Call>> = self.calls().values().cloned().collect();
        calls.iter().map(|call| call.state().stats()).collect()
    }

    /// Ends the call's media: its tasks stop and its ports go back to the pool (an
    /// `open` right after waits the moment it takes the sockets to close). Returns
    /// the final counters, None for an unknown id.
    pub fn close(&self, id: MediaId) -> Option<CallStats> {
        let call = self.calls().remove(&id)?;
        let stats = call.state().stats();
        call.shutdown();
        self.inner.workers.remove(id);
        tracing::debug!(call = call.label, ?stats, "relay closed");
        Some(stats)
    }

    fn calls(&self) -> MutexGuard<'_, HashMap<MediaId, Arc<Call>>> {
        self.inner.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn call(&self, id: MediaId) -> Option<Arc<Call>> {
        self.calls().get(&id).cloned()
    }

    /// Binds one leg, waiting (bounded) for the ports of closing calls when the pool is empty.
    async fn bind_leg(&self) -> Result<(LegIo, PairLease), Error> {
        let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
        let shared = &self.inner.pool;
        loop {
            let freed = shared.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            match self.try_bind_leg().await {
                Err(Error::NoPorts) if shared.closing.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline => {
                    let _ = tokio::time::timeout_at(deadline, freed).await;
                }
                result => return result,
            }
        }
    }

    /// Takes pairs from the pool until one binds; pairs another program holds are skipped
    /// (and given back afterwards, to be tried again by a later call).
    async fn try_bind_leg(&self) -> Result<(LegIo, PairLease), Error> {
        let shared = &self.inner.pool;
        let mut busy = Vec::new();
        loop {
            let rtp = shared.pool.lock().unwrap_or_else(PoisonError::into_inner).allocate().ok_or(Error::NoPorts)?;
            let lease = PairLease { shared: shared.clone(), rtp };
            match bind_pair(self.inner.config.bind, rtp).await {
                Ok(io) => return Ok((io, lease)),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => busy.push(lease),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

async fn bind_pair(ip: IpAddr, rtp: u16) -> std::io::Result<LegIo> {
    let rtcp = rtp.checked_add(1).ok_or(std::io::ErrorKind::AddrNotAvailable)?;
    Ok(LegIo {
        ports: LegPorts { rtp, rtcp },
        rtp: bind_udp(ip, rtp)?,
        rtcp: bind_udp(ip, rtcp)?,
        listener: TcpListener::bind((ip, rtp)).await?,
        connected: AtomicBool::new(false),
        tcp_out: TcpOut::default(),
    })
}

/// A non-blocking UDP socket (bind does not block: no need to leave the task for it).
fn bind_udp(ip: IpAddr, port: u16) -> std::io::Result<std::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind((ip, port))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Sleeps until the call's media deadline, again while RTP keeps moving it, and
/// reports the timeout once.
async fn watch_media(call: Arc<Call>, events: mpsc::Sender<RelayEvent>) {
    loop {
        // Made before reading the deadline: an arm in between leaves a permit, not a lost wake-up.
        let armed = call.timer.notified();
        let deadline = call.state().clock_mut().poll_timeout();
        match deadline {
            None => armed.await,
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline.into()) => {}
                    () = armed => {}
                }
            }
        }
        let fired = {
            let mut state = call.state();
            if state.clock_mut().handle_timeout(Instant::now()) { Some(state.stats()) } else { None }
        };
        if let Some(stats) = fired {
            tracing::info!(call = call.label, ?stats, "media timeout");
            let _ = events.send(RelayEvent::MediaTimeout { id: call.id, stats }).await;
            return;
        }
    }
}
