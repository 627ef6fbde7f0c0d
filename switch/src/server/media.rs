//! Carrying out the core's media commands on the relay. Opening binds sockets
//! (async), so it runs as a task whose answer comes back as feedback; the rest
//! are quick calls on the relay's tables.

use super::Feedback;
use crate::b2bua::{MediaCommand, MediaId, MediaOpenError, MediaPorts};
use crate::cdr::Cdr;
use media::relay::{BearerTransport, LegTarget, Relay};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tracing::warn;

/// Does `command`; an `Open` answers through `feedback`.
pub(super) fn run(relay: &Relay, command: MediaCommand, feedback: &UnboundedSender<Feedback>) {
    match command {
        MediaCommand::Open { call, label } => {
            let relay = relay.clone();
            let back = feedback.clone();
            tokio::spawn(async move {
                let result = match relay.open(&label).await {
                    Ok(m) => Ok(MediaPorts { id: m.id, caller_rtp: m.caller.rtp, callee_rtp: m.callee.rtp }),
                    Err(media::Error::NoPorts) => Err(MediaOpenError::NoPorts),
                    Err(e) => Err(MediaOpenError::Failed(e.to_string())),
                };
                let _ = back.send(Feedback::MediaOpened { call, result });
            });
        }
        MediaCommand::Update { media, side, target } => {
            let transport = if target.tcp { BearerTransport::Tcp } else { BearerTransport::Udp };
            let t = LegTarget { send_to: target.send_to, latch_ip: target.latch_ip, transport, clock_rate: 8000 };
            if let Err(e) = relay.update(media, side, t) {
                warn!(media = media.0, error = %e, "relay leg not updated");
            }
        }
        MediaCommand::ArmTimeout { media } => relay.arm_timeout(media),
        MediaCommand::Close { media } => {
            relay.close(media);
        }
    }
}

/// Closes an ended call's media and puts its counters into the record.
pub(super) fn close(relay: &Relay, media: Option<MediaId>, cdr: &mut Cdr<Instant>) {
    if let Some(stats) = media.and_then(|m| relay.close(m)) {
        counters(cdr, stats);
    }
}

/// A call's record with the relay's counters of its two legs.
pub(super) fn counters<T>(cdr: &mut Cdr<T>, stats: media::relay::CallStats) {
    cdr.caller_media = Some(stats.caller);
    cdr.callee_media = Some(stats.callee);
}
