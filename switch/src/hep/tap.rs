//! The switch's [`Tap`] on its transport: each message is stamped with the
//! wall clock and put on a bounded queue for the sender task, or dropped and
//! counted when the queue is full, so tracing never makes SIP wait.

use bytes::Bytes;
use bytestring::ByteString;
use sipcore::Message;
use sipcore::message::HeaderName;
use sipcore::transport::{Direction, Flow, Tap};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// One message on its way to the collector.
#[derive(Debug)]
pub(super) struct Captured {
    pub direction: Direction,
    pub flow: Flow,
    /// Wall-clock time since the Unix epoch, when the transport saw it.
    pub at: Duration,
    pub bytes: Bytes,
    pub call_id: Option<ByteString>,
}

/// Feeds the sender task; see the module docs.
pub(super) struct HepTap {
    pub queue: mpsc::Sender<Captured>,
}

impl Tap for HepTap {
    fn message(&self, direction: Direction, flow: &Flow, message: &Message, bytes: &Bytes) {
        // A packet's time is a wall-clock stamp by definition (HEP chunks 9
        // and 10); nothing is decided on it.
        let at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let call_id = message.headers().get_shared(&HeaderName::CallId);
        let captured = Captured { direction, flow: *flow, at, bytes: bytes.clone(), call_id };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(captured) {
            super::dropped("queue_full");
        }
    }
}
