//! A TCP bearer leg (RFC 4571): one accepted connection on the leg's RTP port,
//! frames in both directions, bridged to the other leg like UDP packets.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::Side;
use super::call::Call;
use super::framing::{FrameDecoder, encode_frame};
use super::leg::{Channel, Route};
use super::udp::deliver;
use crate::bearer::BearerTransport;
use crate::stun;

/// Bytes queued for a slow TCP peer before packets are dropped: real-time media
/// is better lost than late.
const QUEUE_MAX: usize = 64 * 1024;

/// Frames waiting to be written to a leg's TCP connection. Two buffers are swapped
/// between the forwarding tasks and the writer, so steady state allocates nothing.
#[derive(Default)]
pub(super) struct TcpOut {
    queue: Mutex<Vec<u8>>,
    ready: Notify,
}

impl TcpOut {
    /// Queues `packet` as a frame (dropped when the queue is full or the packet too big).
    pub(super) fn push(&self, packet: &[u8]) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() + packet.len() + 2 > QUEUE_MAX || !encode_frame(&mut queue, packet) {
            return;
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// Swaps the queued bytes into `into` (cleared first), leaving `into`'s old buffer as the queue.
    fn take(&self, into: &mut Vec<u8>) {
        into.clear();
        std::mem::swap(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner), into);
    }

    fn clear(&self) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// Accepts bearer connections on `side`'s RTP port: one at a time, only on a TCP leg
/// and only from the leg's `latch_ip` when set; everything else is closed and counted.
pub(super) async fn accept(call: Arc<Call>, side: Side) {
    let io = call.io(side);
    loop {
        let (stream, peer) = match io.listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::debug!(call = call.label, ?side, %error, "relay accept");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let welcome = {
            let mut state = call.state();
            let leg = state.leg_mut(side);
            let ok =
                leg.target().transport == BearerTransport::Tcp && !io.connected.load(Ordering::Acquire) && leg.accepts(Channel::Rtp, peer);
            if ok {
                leg.latch(Channel::Rtp, peer);
                io.connected.store(true, Ordering::Release);
            } else if leg.accepts(Channel::Rtp, peer) {
                leg.count_dropped();
            } else {
                leg.count_foreign();
            }
            ok
        };
        if welcome {
            call.spawn(serve(call.clone(), side, stream, peer));
        } else {
            tracing::debug!(call = call.label, ?side, %peer, "bearer connection refused");
        }
    }
}

/// Bridges one accepted connection until it closes or sends a bad frame.
async fn serve(call: Arc<Call>, side: Side, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let io = call.io(side);
    io.tcp_out.clear();
    let (mut reader, mut writer) = stream.into_split();
    let read = async {
        let mut decoder = FrameDecoder::new();
        loop {
            match reader.read(decoder.space()).await {
                Ok(0) | Err(_) => return,
                Ok(n) => decoder.filled(n),
            }
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        let route = call.state().forward(Instant::now(), side, BearerTransport::Tcp, Channel::Rtp, peer, frame);
                        if let Some(Route::Answer { txid, fingerprint }) = route {
                            // ICE-TCP frames STUN the same way (RFC 6544): answer on the connection.
                            let mut answer = [0u8; stun::MAX_ANSWER];
                            let n = stun::write_binding_success(&txid, peer, fingerprint, &mut answer);
                            io.tcp_out.push(answer.get(..n).unwrap_or_default());
                            continue;
                        }
                        deliver(&call, side.other(), route, frame);
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::debug!(call = call.label, ?side, %peer, %error, "closing bearer connection");
                        return;
                    }
                }
            }
        }
    };
    let write = async {
        let mut batch = Vec::new();
        loop {
            io.tcp_out.ready.notified().await;
            io.tcp_out.take(&mut batch);
            if !batch.is_empty() && writer.write_all(&batch).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
    {
        let mut state = call.state();
        let leg = state.leg_mut(side);
        if leg.stats().latched == Some(peer) {
            leg.unlatch(Channel::Rtp);
        }
    }
    io.connected.store(false, Ordering::Release);
    io.tcp_out.clear();
}
