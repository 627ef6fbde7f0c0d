//! One task per TCP/TLS connection: read, frame, parse, stamp, hand on; answer
//! keep-alive pings; write what the application queues. A peer that sends an
//! unframeable stream gets a 400/413 where possible and loses its connection,
//! and only its connection.

use super::io::{Io, ReadSome};
use super::queue::SendQueue;
use super::sockets::{Inner, IpSlot};
use super::{CloseReason, Flow, TransportEvent, error_response, stamp_via};
use crate::ToStatus;
use crate::framing::{Frame, Framer, Role};
use crate::message::{Message, parse};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tracing::{debug, warn};

pub(super) async fn run<S: Io>(inner: Arc<Inner>, io: S, flow: Flow, role: Role, queue: Arc<SendQueue>, _slot: Option<IpSlot>) {
    inner.emit(TransportEvent::Opened { flow }).await;
    let (mut rd, mut wr) = io.split();
    let mut framer = Framer::new(role, inner.config.framer);
    let mut buf = BytesMut::new();
    let reason = loop {
        tokio::select! {
            _ = inner.cancel.cancelled() => {
                // Flush what the application already queued, then go.
                while let Some(Some(b)) = queue.try_next() {
                    if wr.write_all(&b).await.is_err() { break; }
                }
                break CloseReason::Shutdown;
            }
            out = queue.next() => match out {
                Some(b) => {
                    if let Err(e) = wr.write_all(&b).await {
                        break CloseReason::Io(e.to_string());
                    }
                }
                None => break CloseReason::Local,
            },
            read = rd.read_some(&mut buf) => match read {
                Ok(0) => break CloseReason::Peer,
                Ok(_) => {
                    if let Err(reason) = drain(&inner, &mut framer, &mut buf, &flow, &mut wr).await {
                        break reason;
                    }
                    if buf.is_empty() {
                        // Give the allocation back while the flow idles.
                        buf = BytesMut::new();
                    }
                }
                Err(e) => break CloseReason::Io(e.to_string()),
            },
        }
    };
    queue.shut();
    let _ = wr.shutdown().await;
    inner.forget(flow.id);
    debug!(%flow, ?reason, "flow closed");
    inner.emit(TransportEvent::Closed { flow, reason }).await;
}

/// Takes every complete frame off `buf`.
async fn drain<W: tokio::io::AsyncWrite + Unpin>(
    inner: &Inner,
    framer: &mut Framer,
    buf: &mut BytesMut,
    flow: &Flow,
    wr: &mut W,
) -> Result<(), CloseReason> {
    loop {
        match framer.decode(buf) {
            Ok(None) => return Ok(()),
            Ok(Some(Frame::Ping)) => {
                wr.write_all(b"\r\n").await.map_err(|e| CloseReason::Io(e.to_string()))?;
                inner.emit(TransportEvent::Ping { flow: *flow }).await;
            }
            Ok(Some(Frame::Pong)) => inner.emit(TransportEvent::Pong { flow: *flow }).await,
            Ok(Some(Frame::Message(bytes))) => {
                if let Some(reply) = deliver(inner, bytes, flow).await {
                    wr.write_all(&reply).await.map_err(|e| CloseReason::Io(e.to_string()))?;
                }
            }
            Err(e) => {
                warn!(%flow, error = %e, "unframeable stream; closing the connection");
                if let Some(reply) = error_response(buf, e.status().as_u16(), &e.reason()) {
                    let _ = wr.write_all(&reply).await;
                }
                return Err(CloseReason::Framing(e.to_string()));
            }
        }
    }
}

/// Parses one framed message and hands it on; returns an error reply to write
/// when the message was a request that could not be parsed.
pub(super) async fn deliver(inner: &Inner, bytes: Bytes, flow: &Flow) -> Option<Bytes> {
    match parse(bytes.clone()) {
        Ok(Message::Request(mut req)) => {
            if let Err(e) = stamp_via(&mut req, flow.remote) {
                // The parser checked the Via; this would be a bug, not bad input.
                warn!(%flow, error = %e, "could not stamp Via");
            }
            inner.emit(TransportEvent::Message { flow: *flow, message: Message::Request(req) }).await;
            None
        }
        Ok(message) => {
            inner.emit(TransportEvent::Message { flow: *flow, message }).await;
            None
        }
        Err(e) => {
            warn!(%flow, error = %e, "dropping unparseable message");
            error_response(&bytes, e.status().as_u16(), &e.reason())
        }
    }
}
