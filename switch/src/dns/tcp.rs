//! DNS over TCP (RFC 7766): our own accept loop rather than hickory-server's,
//! for the limits it lacks. At most `total` connections, and `per_ip` from
//! one address, are open at once (one more is closed at accept); each has its
//! own task, and each query, from its first length byte to its last, must
//! arrive within `timeout`, or the connection is closed: a slow or silent
//! client holds one slot of its own address for that long, and no one else.

use super::answer::Responder;
use super::wire;
use hickory_server::net::xfer::Protocol;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, warn};

/// How many TCP clients, and how patient with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    pub total: usize,
    pub per_ip: usize,
    pub timeout: Duration,
}

/// Accepts and serves connections until the task is dropped.
pub async fn serve(listener: TcpListener, responder: Arc<Responder>, limits: TcpLimits) {
    let total = Arc::new(Semaphore::new(limits.total));
    let per_ip = Arc::new(Mutex::new(HashMap::new()));
    loop {
        let (stream, src) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, typically: wait rather than spin.
                warn!(error = %e, "dns tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            debug!(%src, "dns tcp connection refused: at the connection limit");
            continue;
        };
        let Some(slot) = IpSlot::take(&per_ip, src.ip(), limits.per_ip) else {
            debug!(%src, "dns tcp connection refused: at the limit for its address");
            continue;
        };
        let responder = responder.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            connection(stream, src, &responder, limits.timeout).await;
        });
    }
}

/// Queries on one connection, answered in order, until it closes or dawdles.
async fn connection(mut stream: TcpStream, src: SocketAddr, responder: &Responder, timeout: Duration) {
    let mut buf = Vec::new();
    loop {
        let read = async {
            let len = stream.read_u16().await?;
            buf.resize(usize::from(len), 0);
            stream.read_exact(&mut buf).await
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                debug!(%src, "dns tcp client too slow: closed");
                return;
            }
        }
        let now = tokio::time::Instant::now().into_std();
        let Some(answer) = wire::answer(responder, &buf, src, Protocol::Tcp, now) else { continue };
        let Ok(len) = u16::try_from(answer.len()) else { continue };
        let mut out = Vec::with_capacity(answer.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&answer);
        if !matches!(tokio::time::timeout(timeout, stream.write_all(&out)).await, Ok(Ok(()))) {
            return;
        }
    }
}

/// One of an address's connection slots, given back on drop.
struct IpSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl IpSlot {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut map = counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot { counts: counts.clone(), ip })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}
