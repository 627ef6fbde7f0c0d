//! SIP tracing with HEP v3 (issue 16): every SIP message the switch receives
//! and sends, on every transport (TLS after decryption, which no capture on
//! the wire can give), sent to a collector such as Homer with its real
//! addresses, ports, transport and time, filed under its Call-ID.
//!
//! The transport shows each message to [`tap::HepTap`] (sipcore's
//! [`Tap`](sipcore::transport::Tap): the one place both directions pass, with
//! the bytes as they were on the wire); the tap queues it, bounded, and
//! [`sender::Sender`] encodes ([`encode`], sans-IO) and sends it on a task of
//! its own. A full queue drops and counts (`switch_hep_dropped_total`).

mod config;
pub mod encode;
mod sender;
mod tap;

pub use config::HepSettings;

use crate::Error;
use sipcore::transport::Tap;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tracing::info;

/// Messages waiting for the sender before new ones are dropped: a second or
/// more of a busy switch's signalling, a few MiB at most.
const QUEUE: usize = 4096;

/// Starts tracing to the configured collector (on the current runtime);
/// `None` when `[hep]` names none. The tap goes to `Transport::with_tap`.
pub async fn spawn(settings: &HepSettings) -> crate::Result<Option<Arc<dyn Tap>>> {
    let Some(collector) = settings.collector()? else { return Ok(None) };
    let io = |source| Error::Io { what: "opening the HEP socket", source };
    let any: SocketAddr = match collector {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).await.map_err(io)?;
    socket.connect(collector).await.map_err(io)?;
    let (queue, rx) = tokio::sync::mpsc::channel(QUEUE);
    let sender = sender::Sender { socket, capture_id: settings.id, auth_key: settings.password.clone(), locals: HashMap::new() };
    tokio::spawn(sender.run(rx));
    info!(collector = %collector, id = settings.id, "tracing SIP to a HEP collector");
    Ok(Some(Arc::new(tap::HepTap { queue })))
}

/// A message that was not traced, and why.
fn dropped(reason: &'static str) {
    metrics::counter!("switch_hep_dropped_total", "reason" => reason).increment(1);
}
