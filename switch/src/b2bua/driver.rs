//! The thin async side of the B2BUA, run by the request loop: carries out the
//! core's outputs (stack requests, responses, relay calls, records) without
//! ever awaiting in the loop — relay `open` runs on the main runtime (it binds
//! sockets) and each client transaction gets a small task that forwards its
//! events; both come back through one channel the loop `select!`s on.

use super::{B2bua, CallRef, Connect, MediaOpenError, MediaPorts, Output, TxId};
use crate::cdr::LegCounters;
use crate::persist::Persister;
use media::relay::{BearerTransport, LegStats, LegTarget, MediaId, Relay, RelayEvent};
use sipcore::Message;
use sipcore::stack::{ClientEvent, Stack};
use sipcore::transport::{Flow, Transport, TransportKind};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// How long a TCP connection to a home location may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// What comes back to the loop from work done elsewhere.
#[derive(Debug)]
pub enum Feedback {
    MediaOpened { call: CallRef, result: Result<MediaPorts, MediaOpenError> },
    Client { tx: TxId, event: ClientEvent },
    MediaTimeout { media: MediaId },
    Connected { call: CallRef, result: Result<(Flow, SocketAddr), String> },
}

/// The relay and the runtime it lives on.
#[derive(Clone)]
pub struct RelayHandle {
    pub relay: Relay,
    /// The main runtime: the request loop's own runtime has no I/O driver for sockets.
    pub runtime: tokio::runtime::Handle,
}

pub struct CallDriver {
    pub core: B2bua,
    relay: Option<RelayHandle>,
    stack: Stack,
    /// Our UDP listeners, for home locations over UDP found by name.
    udp: Vec<Flow>,
    tx: mpsc::UnboundedSender<Feedback>,
    pub feedback: mpsc::UnboundedReceiver<Feedback>,
}

impl CallDriver {
    /// `events`: the relay's event queue, forwarded into the feedback channel.
    pub fn new(core: B2bua, relay: Option<RelayHandle>, events: Option<mpsc::Receiver<RelayEvent>>, stack: Stack, udp: Vec<Flow>) -> Self {
        let (tx, feedback) = mpsc::unbounded_channel();
        if let (Some(r), Some(mut events)) = (&relay, events) {
            let fwd = tx.clone();
            r.runtime.spawn(async move {
                while let Some(RelayEvent::MediaTimeout { id, .. }) = events.recv().await {
                    if fwd.send(Feedback::MediaTimeout { media: id }).is_err() {
                        break;
                    }
                }
            });
        }
        CallDriver { core, relay, stack, udp, tx, feedback }
    }

    pub fn on_feedback(&mut self, now: Instant, fb: Feedback, persister: &Persister) {
        match fb {
            Feedback::MediaOpened { call, result } => self.core.handle_media_opened(now, call, result),
            Feedback::Client { tx, event } => self.core.handle_client_event(now, tx, event),
            Feedback::Connected { call, result } => self.core.handle_connected(now, call, result),
            Feedback::MediaTimeout { media } => {
                info!(media = media.0, "no media on the call: hanging up both legs");
                self.core.handle_media_timeout(now, media);
            }
        }
        self.flush(persister);
    }

    /// The switch is stopping: every call ends (`switch_stopped`), its ports freed and its record written.
    pub fn stop(&mut self, now: Instant, persister: &Persister) {
        self.core.end_all(now, "switch_stopped");
        self.flush(persister);
    }

    /// Does everything the core asked for.
    pub fn flush(&mut self, persister: &Persister) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Respond { key, response } => {
                    if let Err(e) = self.stack.respond(key, response) {
                        warn!(error = %e, "call response not sent");
                    }
                }
                Output::Request { tx, flow, request } => {
                    let stack = self.stack.clone();
                    let back = self.tx.clone();
                    tokio::spawn(async move {
                        match stack.request(flow, request).await {
                            Ok(mut rx) => {
                                while let Some(event) = rx.recv().await {
                                    if back.send(Feedback::Client { tx, event }).is_err() {
                                        break;
                                    }
                                }
                            }
                            Err(e) => {
                                debug!(%flow, error = %e, "call request not sent");
                                let _ = back.send(Feedback::Client { tx, event: ClientEvent::TransportError });
                            }
                        }
                    });
                }
                Output::Stateless { flow, request } => {
                    if let Err(e) = self.stack.send_stateless(&flow, &Message::Request(request)) {
                        debug!(%flow, error = %e, "ACK not sent");
                    }
                }
                Output::OpenMedia { call, label } => self.open(call, label),
                Output::Connect { call, to } => self.connect(call, to),
                Output::UpdateMedia { media, side, target } => {
                    if let Some(r) = &self.relay {
                        let transport = if target.tcp { BearerTransport::Tcp } else { BearerTransport::Udp };
                        let t = LegTarget { send_to: target.send_to, latch_ip: target.latch_ip, transport, clock_rate: 8000 };
                        if let Err(e) = r.relay.update(media, side, t) {
                            warn!(media = media.0, error = %e, "relay leg not updated");
                        }
                    }
                }
                Output::ArmMediaTimeout { media } => {
                    if let Some(r) = &self.relay {
                        r.relay.arm_timeout(media);
                    }
                }
                Output::CloseMedia { media } => {
                    if let Some(r) = &self.relay {
                        r.relay.close(media);
                    }
                }
                Output::Cdr(rec) => persister.put_cdr(&rec),
                Output::Ended { media, mut cdr } => {
                    if let Some(stats) = media.zip(self.relay.as_ref()).and_then(|(m, r)| r.relay.close(m)) {
                        cdr.caller_media = Some(counters(&stats.caller));
                        cdr.callee_media = Some(counters(&stats.callee));
                    }
                    info!(call_id = %cdr.call_id, caller = %cdr.caller, callee = %cdr.callee, route = %cdr.route,
                        status = cdr.status.unwrap_or(0), reason = cdr.end_reason.as_deref().unwrap_or(""), "call ended");
                    persister.put_cdr(&cdr);
                }
            }
        }
    }

    /// Finds the flow to a home location on the main runtime (which drives the
    /// sockets): resolves its host, then connects over TCP or picks our UDP
    /// listener of the same address family.
    fn connect(&self, call: CallRef, to: Connect) {
        let back = self.tx.clone();
        let transport = self.stack.transport().clone();
        let udp = self.udp.clone();
        let Some(r) = self.relay.as_ref() else { return };
        r.runtime.spawn(async move {
            let result = match tokio::time::timeout(CONNECT_TIMEOUT, find_flow(&transport, &udp, &to)).await {
                Ok(r) => r,
                Err(_) => Err(format!("{}:{} not reached in {CONNECT_TIMEOUT:?}", to.host, to.port)),
            };
            let _ = back.send(Feedback::Connected { call, result });
        });
    }

    fn open(&self, call: CallRef, label: String) {
        let back = self.tx.clone();
        let Some(r) = self.relay.clone() else {
            let _ = back.send(Feedback::MediaOpened { call, result: Err(MediaOpenError::Failed("no relay".into())) });
            return;
        };
        r.runtime.spawn(async move {
            let result = match r.relay.open(&label).await {
                Ok(m) => Ok(MediaPorts { id: m.id, caller_rtp: m.caller.rtp, callee_rtp: m.callee.rtp }),
                Err(media::MediaError::NoPorts) => Err(MediaOpenError::NoPorts),
                Err(e) => Err(MediaOpenError::Failed(e.to_string())),
            };
            let _ = back.send(Feedback::MediaOpened { call, result });
        });
    }
}

fn counters(s: &LegStats) -> LegCounters {
    LegCounters {
        packets_in: s.packets_in,
        bytes_in: s.bytes_in,
        packets_out: s.packets_out,
        bytes_out: s.bytes_out,
        lost: s.lost,
        jitter_ms: s.jitter_ms,
        dropped: s.dropped,
        latched: s.latched.map(|a| a.to_string()),
    }
}

async fn find_flow(transport: &Transport, udp: &[Flow], to: &Connect) -> Result<(Flow, SocketAddr), String> {
    let host = to.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, to.port)).await.map_err(|e| format!("{}: {e}", to.host))?.collect();
    match to.transport {
        // The first address we have a listener of its family for (`localhost` may give ::1 first).
        TransportKind::Udp => addrs
            .iter()
            .find_map(|remote| udp.iter().find(|f| f.local.is_ipv4() == remote.is_ipv4()).map(|sock| (sock, *remote)))
            .map(|(sock, remote)| {
                let flow = transport.udp_flow(sock, remote);
                (flow, SocketAddr::new(crate::server::local_ip_toward(&flow), sock.local.port()))
            })
            .ok_or_else(|| format!("{}: no address we can reach over UDP", to.host)),
        TransportKind::Tcp => {
            let mut last = format!("{}: no address", to.host);
            for remote in addrs {
                match transport.connect_tcp(remote).await {
                    Ok(flow) => return Ok((flow, flow.local)),
                    Err(e) => last = format!("{remote}: {e}"),
                }
            }
            Err(last)
        }
        TransportKind::Tls => Err("TLS home locations are not supported".into()),
    }
}
