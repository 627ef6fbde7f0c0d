//! The task reading one UDP relay socket, and delivery out of the other leg.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Side;
use super::call::Call;
use super::framing::MAX_FRAME;
use super::leg::{Channel, Route};
use crate::bearer::BearerTransport;
use crate::stun;

/// Reads `side`'s `channel` socket forever (until `close` aborts the task) into one
/// buffer, and forwards what the call state accepts.
pub(super) async fn run(call: Arc<Call>, side: Side, channel: Channel) {
    // One byte more than the largest packet relayed: a full buffer means it may be truncated.
    let mut buf = vec![0u8; MAX_FRAME + 1].into_boxed_slice();
    let socket = call.io(side).udp(channel);
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(error) => {
                // ICMP errors can surface here on some systems; they concern one send, not the socket.
                tracing::debug!(call = call.label, ?side, ?channel, %error, "relay recv");
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let Some(packet) = buf.get(..n).filter(|_| n <= MAX_FRAME) else {
            call.state().leg_mut(side).count_dropped();
            continue;
        };
        let route = call.state().forward(Instant::now(), side, BearerTransport::Udp, channel, from, packet);
        if let Some(Route::Answer { txid, fingerprint }) = route {
            let mut answer = [0u8; stun::MAX_ANSWER];
            let n = stun::write_binding_success(&txid, from, fingerprint, &mut answer);
            if let Err(error) = socket.send_to(answer.get(..n).unwrap_or_default(), from).await {
                tracing::debug!(call = call.label, ?side, %from, %error, "relay STUN answer");
            }
            continue;
        }
        deliver(&call, side.other(), route, packet).await;
    }
}

/// Sends `packet` out of `side`'s leg as `route` says.
pub(super) async fn deliver(call: &Call, side: Side, route: Option<Route>, packet: &[u8]) {
    match route {
        Some(Route::Udp { channel, to }) => {
            if let Err(error) = call.io(side).udp(channel).send_to(packet, to).await {
                tracing::debug!(call = call.label, ?side, %to, %error, "relay send");
            }
        }
        Some(Route::Tcp) => call.io(side).tcp_out.push(packet),
        // Answers go back out of the leg the request came in on: the reader does that.
        Some(Route::Answer { .. }) | None => {}
    }
}
