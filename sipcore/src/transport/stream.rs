//! One task per TCP/TLS connection: read, frame, parse, stamp, hand on; answer
//! keep-alive pings; write what the application queues. A peer that sends an
//! unframeable stream gets a 400/413 where possible and loses its connection,
//! and only its connection; so does one that takes longer than the header
//! timeout over a message (see [`super::deadline`]).

use super::deadline::MessageDeadline;
use super::io::{Io, ReadSome};
use super::queue::Next;
use super::sockets::{Conn, Inner, Origin};
use super::{CloseReason, Direction, Flow, TransportEvent, error_response, stamp_via};
use crate::ToStatus;
use crate::framing::{Frame, Framer, Role};
use crate::message::{Message, parse};
use bytes::{Bytes, BytesMut};
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, Sleep};
use tracing::{debug, warn};

/// `origin` holds an accepted connection's per-IP slot until the task ends.
pub(super) async fn run<S: Io>(inner: Arc<Inner>, io: S, conn: Arc<Conn>, origin: Origin) {
    let (flow, queue) = (&conn.flow, &conn.queue);
    let timeout = inner.config.header_timeout;
    let (role, mut deadline) = match &origin {
        Origin::Accepted { at, .. } => (Role::Server, MessageDeadline::accepted(*at, timeout)),
        Origin::Opened => (Role::Client, MessageDeadline::opened(timeout)),
    };
    // Armed only while a message is due: an idle flow has no timer at all,
    // and a message trickling in byte by byte re-arms nothing.
    let mut timer = Timer::default();
    timer.set(deadline.due());
    // Split before the first wait: the whole stream (a TLS session is
    // kilobytes) then lives behind the halves' pointer, not in this future too.
    let (mut rd, mut wr) = io.split();
    inner.emit(TransportEvent::Opened { flow: *flow }).await;
    let mut framer = Framer::new(role, inner.config.framer);
    let mut buf = BytesMut::new();
    let reason = loop {
        // What woke the task is settled first, and the waits in `select!`
        // dropped, before anything below waits again: handled inside the
        // `select!`, a write or a delivery would be kept beside the
        // waits in this future, which an idle flow carries all its life.
        let wake = tokio::select! {
            () = timer.expired() => Wake::Timeout,
            next = queue.next() => Wake::Queue(next),
            read = rd.read_some(&mut buf) => Wake::Read(read),
        };
        match wake {
            Wake::Timeout => {
                debug!(%flow, ?timeout, "no complete message within the header timeout; closing the connection");
                break CloseReason::HeaderTimeout;
            }
            Wake::Queue(Next::Shutdown) => {
                // Flush what the application already queued, then go.
                while let Some(Some(b)) = queue.try_next() {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                break CloseReason::Shutdown;
            }
            Wake::Queue(Next::Write(b)) => {
                if let Err(e) = wr.write_all(&b).await {
                    break CloseReason::Io(e.to_string());
                }
            }
            Wake::Queue(Next::Close) => break CloseReason::Local,
            Wake::Read(Ok(0)) => break CloseReason::Peer,
            Wake::Read(Ok(_)) => {
                // Boxed for as long as the bytes take: unboxed, the state of
                // its deliveries and writes would be laid out in this future,
                // which every parked phone keeps allocated all its life.
                let completed = match Box::pin(drain(&inner, &mut framer, &mut buf, flow, &mut wr)).await {
                    Ok(completed) => completed,
                    Err(reason) => break reason,
                };
                deadline.framed(Instant::now(), completed, framer.in_message());
                timer.set(deadline.due());
                if buf.is_empty() {
                    // Give the allocation back while the flow idles.
                    buf = BytesMut::new();
                }
            }
            Wake::Read(Err(e)) => break CloseReason::Io(e.to_string()),
        }
    };
    queue.shut();
    let _ = wr.shutdown().await;
    inner.forget(flow.id);
    debug!(%flow, ?reason, "flow closed");
    inner.emit(TransportEvent::Closed { flow: *flow, reason }).await;
    drop(origin);
}

/// What woke a connection's task.
enum Wake {
    Timeout,
    Queue(Next),
    Read(std::io::Result<usize>),
}

/// The connection's one timer, allocated only while something is due.
#[derive(Default)]
struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    fn set(&mut self, due: Option<Instant>) {
        match (due, &mut self.0) {
            (None, _) => self.0 = None,
            (Some(due), Some(sleep)) => {
                if sleep.deadline() != due {
                    sleep.as_mut().reset(due);
                }
            }
            (Some(due), None) => self.0 = Some(Box::pin(tokio::time::sleep_until(due))),
        }
    }

    /// Resolves when the armed deadline passes; never while none is armed.
    async fn expired(&mut self) {
        match &mut self.0 {
            Some(sleep) => sleep.as_mut().await,
            None => std::future::pending().await,
        }
    }
}

/// Takes every complete frame off `buf`; returns how many were messages.
async fn drain<W: tokio::io::AsyncWrite + Unpin>(
    inner: &Inner,
    framer: &mut Framer,
    buf: &mut BytesMut,
    flow: &Flow,
    wr: &mut W,
) -> Result<usize, CloseReason> {
    let mut messages = 0usize;
    loop {
        match framer.decode(buf) {
            Ok(None) => return Ok(messages),
            Ok(Some(Frame::Ping)) => {
                wr.write_all(b"\r\n").await.map_err(|e| CloseReason::Io(e.to_string()))?;
                inner.emit(TransportEvent::Ping { flow: *flow }).await;
            }
            Ok(Some(Frame::Pong)) => inner.emit(TransportEvent::Pong { flow: *flow }).await,
            Ok(Some(Frame::Message(bytes))) => {
                messages = messages.saturating_add(1);
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
    // The event is moved into the queue before the wait, in this statement:
    // the caller's future then keeps no room for a parsed message.
    let sent = match incoming(inner, bytes, flow) {
        Ok(event) => inner.emit(event),
        Err(reply) => return reply,
    };
    sent.await;
    None
}

/// The event for one framed message (a request's Via stamped), or, when it
/// does not parse, the error reply to write if there is one.
fn incoming(inner: &Inner, bytes: Bytes, flow: &Flow) -> Result<TransportEvent, Option<Bytes>> {
    let message = match parse(bytes.clone()) {
        Ok(message) => message,
        Err(e) => {
            warn!(%flow, error = %e, "dropping unparseable message");
            return Err(error_response(&bytes, e.status().as_u16(), &e.reason()));
        }
    };
    inner.tap(Direction::In, flow, &message, &bytes);
    let message = match message {
        Message::Request(mut req) => {
            if let Err(e) = stamp_via(&mut req, flow.remote) {
                // The parser checked the Via; this would be a bug, not bad input.
                warn!(%flow, error = %e, "could not stamp Via");
            }
            Message::Request(req)
        }
        other => other,
    };
    Ok(TransportEvent::Message { flow: *flow, message })
}
