//! The lease thread: holds this node's lease in Redis
//! ([`crate::cluster::lease`]) on a connection of its own, so a slow batch
//! on the store thread never delays a refresh. One log line when the lease
//! is taken and one each time it is lost or found back; a clean stop gives it
//! up, so the node's numbers route home at once.

use crate::cluster::lease::{Change, Lease, TTL};
use crate::store::RedisStore;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;
use tracing::{debug, error, info};

/// The driver's end of the lease thread; dropping it gives the lease up.
pub(super) struct LeaseThread {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LeaseThread {
    pub(super) fn start(store: RedisStore, address: SocketAddr) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel();
        let value = format!("tcp:{address}");
        let thread = std::thread::Builder::new().name("lease".into()).spawn(move || run(&store, &value, &stopped))?;
        Ok(LeaseThread { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for LeaseThread {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(store: &RedisStore, address: &str, stopped: &mpsc::Receiver<()>) {
    let mut lease = Lease::new(Instant::now());
    loop {
        let wait = lease.poll_timeout().saturating_duration_since(Instant::now());
        // A message or a hang-up alike: stop.
        if !matches!(stopped.recv_timeout(wait), Err(mpsc::RecvTimeoutError::Timeout)) {
            break;
        }
        let sent = Instant::now();
        if !lease.refresh_due(sent) {
            continue;
        }
        let result = store.put_lease(address, TTL);
        if let Err(e) = &result {
            debug!(error = %e, "lease refresh failed");
        }
        match lease.refreshed(sent, Instant::now(), result.is_ok()) {
            Change::Taken => info!(node = store.node().unwrap_or(""), address, "node lease held"),
            Change::Lost => error!(node = store.node().unwrap_or(""), "node lease lost: other nodes route this node's numbers home"),
            Change::None => {}
        }
    }
    if let Err(e) = store.drop_lease() {
        debug!(error = %e, "lease not given up; it expires by itself");
    }
}
