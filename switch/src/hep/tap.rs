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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sipcore::transport::{FlowId, TransportKind};

    /// A sender that does not keep up: the tap never waits for it; what does
    /// not fit the queue is dropped and counted.
    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let (queue, mut rx) = mpsc::channel(2);
        let tap = HepTap { queue };
        let flow = Flow {
            id: FlowId(1),
            transport: TransportKind::Udp,
            local: "127.0.0.1:5060".parse().unwrap(),
            remote: "127.0.0.1:40000".parse().unwrap(),
        };
        let bytes = Bytes::from_static(
            concat!(
                "OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n",
                "To: <sip:x@h>\r\nCall-ID: c1@h\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        );
        let message = sipcore::parse(bytes.clone()).unwrap();
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..5 {
                tap.message(Direction::In, &flow, &message, &bytes);
            }
        });
        let first = rx.try_recv().unwrap();
        assert_eq!((first.direction, first.flow, first.call_id.as_deref()), (Direction::In, flow, Some("c1@h")));
        assert!(rx.try_recv().is_ok() && rx.try_recv().is_err(), "two queued");
        let rendered = handle.render();
        assert!(rendered.contains("switch_hep_dropped_total{reason=\"queue_full\"} 3"), "{rendered}");
    }
}
