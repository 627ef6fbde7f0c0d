//! The tokio driver: one task owns the sans-IO [`UserAgent`] and `select!`s
//! over the transport's events, the core's next deadline, the handle's
//! commands, connect and discovery results, and the kernel's word that the
//! host's addresses changed ([`netif::watch`]). It does what the core's
//! [`Output`]s say and forwards its events.

mod calls;

use crate::bearer::{Bearers, MediaEvent, MediaOptions};
use crate::call::{CallEvent, CallId};
use crate::config::{PublicIpSource, SwitchAddr};
use crate::deadline::Deadline;
use crate::discovery;
use crate::netif;
use crate::ua::{Event, Output, ServerTxId, UserAgent};
use crate::{ConnectError, Error, FlowTransport, MacAddr};
use bytes::Bytes;
use sipcore::Response;
use sipcore::transport::{CloseReason, Flow, Transport, TransportConfig, TransportEvent};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// Time one connection attempt (resolution, TCP, TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one external discovery may take.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(20);

/// What the handle asks of the driver.
pub(crate) enum Command {
    Stop,
    CheckPublicIp,
    Respond { id: ServerTxId, response: Box<Response>, reply: oneshot::Sender<Result<(), Error>> },
    Call { number: String, options: Option<MediaOptions>, reply: oneshot::Sender<Result<CallId, Error>> },
    Answer { id: CallId, options: Option<MediaOptions>, reply: oneshot::Sender<Result<(), Error>> },
    Reject { id: CallId, status: u16, reply: oneshot::Sender<Result<(), Error>> },
    Hangup { id: CallId, reply: oneshot::Sender<Result<(), Error>> },
    Dtmf { id: CallId, digits: String, reply: oneshot::Sender<Result<(), Error>> },
    Hold { id: CallId, hold: bool, reply: oneshot::Sender<Result<(), Error>> },
}

/// Everything the driver task owns.
pub(crate) struct Driver {
    pub(crate) ua: UserAgent,
    pub(crate) switch: SwitchAddr,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) source: PublicIpSource,
    pub(crate) address_poll: Duration,
    pub(crate) tcp_keepalive: Option<sipcore::transport::TcpKeepalive>,
    pub(crate) events: mpsc::Sender<Event>,
    pub(crate) bearers: Bearers,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

fn describe(reason: &CloseReason) -> String {
    match reason {
        CloseReason::Peer => "the switch closed the connection".into(),
        CloseReason::Local => "closed locally".into(),
        CloseReason::Framing(e) => format!("unframeable stream: {e}"),
        CloseReason::Io(e) => format!("I/O error: {e}"),
        CloseReason::Shutdown => "transport shut down".into(),
    }
}

type ConnectResult = Result<(Flow, Option<MacAddr>), ConnectError>;

impl Driver {
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let (transport, mut transport_events) =
            Transport::new(TransportConfig { tcp_keepalive: self.tcp_keepalive, ..TransportConfig::default() });
        let (connect_tx, mut connect_rx) = mpsc::channel::<ConnectResult>(4);
        let (discover_tx, mut discover_rx) = mpsc::channel::<Result<IpAddr, Error>>(4);
        // Subscribed before the first read, so no change falls in between.
        let mut watch = netif::watch::AddressWatch::new(self.address_poll);
        let mut addresses = netif::local_addresses();
        // The core's deadlines, on a timerfd: one wake-up each (see deadline.rs).
        let mut timer = Deadline::new();
        debug!(address_notifications = watch.is_event_driven(), timerfd = timer.is_timerfd(), "driver started");
        let mut commands_open = true;
        self.ua.start(now());
        loop {
            self.flush(&transport, &connect_tx, &discover_tx).await;
            if self.ua.phase() == crate::ua::Phase::Stopped {
                break;
            }
            let deadline = self.ua.poll_timeout();
            tokio::select! {
                () = timer.until(deadline) => self.ua.handle_timeout(now()),
                ev = transport_events.recv() => match ev {
                    Some(ev) => self.on_transport(ev),
                    None => break,
                },
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(Command::Stop) => self.ua.stop(now()),
                    // The handle is gone: nobody can stop us later, so stop now.
                    None => {
                        commands_open = false;
                        self.ua.stop(now());
                    }
                    Some(Command::CheckPublicIp) => self.ua.check_public_ip(now()),
                    Some(Command::Respond { id, response, reply }) => {
                        let _ = reply.send(self.ua.respond(now(), &id, *response));
                    }
                    Some(cmd) => self.on_call_command(cmd).await,
                },
                Some(res) = connect_rx.recv() => match res {
                    Ok((flow, mac)) => self.ua.handle_connected(now(), flow, mac),
                    Err(error) => self.ua.handle_connect_failed(now(), &error),
                },
                Some(res) = discover_rx.recv() => self.ua.handle_public_ip(now(), res),
                media = self.bearers.next_event() => self.emit(Event::Media(media)),
                () = watch.changed() => {
                    let current = netif::local_addresses();
                    if current != addresses {
                        self.on_addresses_changed(&addresses, &current);
                        addresses = current;
                    }
                }
            }
        }
        self.flush(&transport, &connect_tx, &discover_tx).await;
        transport.shutdown().await;
    }

    fn on_addresses_changed(&mut self, before: &BTreeSet<IpAddr>, after: &BTreeSet<IpAddr>) {
        let gone = self.ua.flow().is_some_and(|f| !after.contains(&f.local.ip()));
        debug!(?before, ?after, flow_address_gone = gone, "local addresses changed");
        self.ua.handle_network_change(now(), gone);
    }

    fn on_transport(&mut self, ev: TransportEvent) {
        match ev {
            TransportEvent::Message { flow, message } => self.ua.handle_message(now(), flow.id, message),
            TransportEvent::Pong { flow } => self.ua.handle_pong(now(), flow.id),
            TransportEvent::Closed { flow, reason } => self.ua.handle_flow_closed(now(), flow.id, describe(&reason)),
            TransportEvent::Opened { .. } | TransportEvent::Ping { .. } => {}
        }
    }

    /// Carries out the core's outputs and hands its events on; call events
    /// drive the media first (which may make the core send more).
    async fn flush(
        &mut self,
        transport: &Transport,
        connect_tx: &mpsc::Sender<ConnectResult>,
        discover_tx: &mpsc::Sender<Result<IpAddr, Error>>,
    ) {
        loop {
            self.perform(transport, connect_tx, discover_tx);
            let Some(ev) = self.ua.poll_event() else { break };
            match ev {
                Event::Call(CallEvent::Ended { id, .. }) => {
                    if let Some(report) = self.bearers.stop(id).await {
                        self.emit(Event::Media(MediaEvent::Stopped { id, report }));
                    }
                    self.emit(ev);
                }
                Event::Call(call) => {
                    self.emit(Event::Call(call.clone()));
                    self.on_call_event(call).await;
                }
                ev => self.emit(ev),
            }
        }
    }

    pub(super) fn emit(&mut self, ev: Event) {
        match self.events.try_send(ev) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(ev)) => warn!(?ev, "event queue full (the application is not reading); event dropped"),
            // Nobody listens: the agent still keeps its registration.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn perform(
        &mut self,
        transport: &Transport,
        connect_tx: &mpsc::Sender<ConnectResult>,
        discover_tx: &mpsc::Sender<Result<IpAddr, Error>>,
    ) {
        while let Some(t) = self.ua.poll_output() {
            match t {
                Output::Connect => {
                    let (transport, switch, tls, tx) = (transport.clone(), self.switch.clone(), self.tls.clone(), connect_tx.clone());
                    tokio::spawn(async move {
                        let res = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&transport, &switch, tls)).await {
                            Ok(r) => r,
                            Err(_) => Err(ConnectError::Timeout { switch, after: CONNECT_TIMEOUT }),
                        };
                        let _ = tx.send(res).await;
                    });
                }
                Output::Send { flow, message } => {
                    let sent = transport
                        .flow(flow)
                        .ok_or_else(|| "the flow is closed".to_owned())
                        .and_then(|f| transport.send(&f, &message).map_err(|e| e.to_string()));
                    if let Err(reason) = sent {
                        self.ua.handle_send_failed(now(), flow, reason);
                    }
                }
                Output::Ping { flow } => {
                    let sent = transport
                        .flow(flow)
                        .ok_or_else(|| "the flow is closed".to_owned())
                        .and_then(|f| transport.send_bytes(&f, Bytes::from_static(b"\r\n\r\n")).map_err(|e| e.to_string()));
                    if let Err(reason) = sent {
                        self.ua.handle_send_failed(now(), flow, reason);
                    }
                }
                Output::Close { flow } => transport.close(flow),
                Output::Discover { local } => {
                    let (source, tx) = (self.source.clone(), discover_tx.clone());
                    tokio::spawn(async move {
                        let txid: [u8; 12] = rand::random();
                        let res = match tokio::time::timeout(DISCOVERY_TIMEOUT, discovery::discover(&source, local, txid)).await {
                            Ok(found) => found,
                            Err(_) => Err(Error::Discovery(format!("{source}: no answer within {DISCOVERY_TIMEOUT:?}"))),
                        };
                        let _ = tx.send(res).await;
                    });
                }
            }
        }
    }
}

/// Resolves the switch (again on every attempt: it may have moved) and opens
/// a flow to the first address that answers; finds the MAC behind it.
async fn connect(transport: &Transport, switch: &SwitchAddr, tls: Option<Arc<rustls::ClientConfig>>) -> ConnectResult {
    let addrs: Vec<_> = tokio::net::lookup_host((switch.host.as_str(), switch.port))
        .await
        .map_err(|source| ConnectError::Resolve { host: switch.host.clone(), source })?
        .collect();
    let mut last = ConnectError::NoAddress { host: switch.host.clone() };
    for addr in addrs {
        let opened = match (switch.transport, &tls) {
            (FlowTransport::Tcp, _) => transport.connect_tcp(addr).await,
            (FlowTransport::Tls, Some(cfg)) => transport.connect_tls(addr, cfg.clone(), &switch.host).await,
            (FlowTransport::Tls, None) => return Err(ConnectError::NoCa),
        };
        match opened {
            Ok(flow) => {
                let mac = netif::mac_for_ip(flow.local.ip());
                return Ok((flow, mac));
            }
            Err(source) => last = ConnectError::Open { addr, source },
        }
    }
    Err(last)
}
