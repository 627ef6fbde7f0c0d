//! The tokio driver: one task owns the sans-IO [`UserAgent`] and `select!`s
//! over the transport's events, the core's next deadline, the handle's
//! commands, connect and discovery results, the calls' bearers and the
//! kernel's word that the host's addresses changed ([`netif::watch`]). It does
//! what the core's [`Output`]s say, reports how that went, and forwards the
//! core's events in the order the core made them. Which switch a connection
//! goes to, when there are several, is `switches.rs`'s.

pub(crate) mod bearer;
mod calls;
mod switches;

use crate::config::{PublicIpSource, SwitchAddr};
use crate::deadline::{Deadline, DeadlineTimer};
use crate::discovery;
use crate::events::EventSender;
use crate::netif;
use crate::ua::{Event, Output, ServerTxId, UserAgent};
use crate::{CallId, Error, MacAddr, MediaCommand};
use bearer::{Bearers, MediaOptions};
use bytes::Bytes;
use media::endpoint::EndpointError;
use sipcore::transport::{CloseReason, Flow, Transport, TransportConfig, TransportEvent};
use sipcore::{Response, StatusCode};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use switches::Switches;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// Time one connection attempt to one switch (resolution, TCP, TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one external discovery may take.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(20);

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// What the handle asks of the driver.
pub(crate) enum Command {
    Stop,
    CheckPublicIp,
    /// The application says the network changed.
    NetworkChanged,
    Respond {
        id: ServerTxId,
        status: StatusCode,
        reply: Reply<()>,
    },
    RespondWith {
        id: ServerTxId,
        response: Box<Response>,
        reply: Reply<()>,
    },
    Call {
        number: String,
        options: Option<MediaOptions>,
        reply: Reply<CallId>,
    },
    Answer {
        id: CallId,
        options: Option<MediaOptions>,
        reply: Reply<()>,
    },
    Reject {
        id: CallId,
        status: StatusCode,
        reply: Reply<()>,
    },
    Hangup {
        id: CallId,
        reply: Reply<()>,
    },
    Dtmf {
        id: CallId,
        digits: String,
        reply: Reply<()>,
    },
    Hold {
        id: CallId,
        hold: bool,
        reply: Reply<()>,
    },
}

/// What the driver is given to start with.
pub(crate) struct Setup {
    pub(crate) ua: UserAgent,
    /// At least one; tried in this order (see `switches.rs`).
    pub(crate) switches: Vec<SwitchAddr>,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) source: PublicIpSource,
    pub(crate) address_poll: Duration,
    pub(crate) tcp_keepalive: Option<sipcore::transport::TcpKeepalive>,
    pub(crate) events: EventSender,
    pub(crate) media: MediaOptions,
    pub(crate) timer: DeadlineTimer,
}

/// A flow, the MAC behind it and the index of the switch it goes to.
type ConnectResult = Result<(Flow, Option<MacAddr>, usize), crate::ConnectError>;

/// Everything the driver task owns.
struct Driver {
    ua: UserAgent,
    switches: Switches,
    tls: Option<Arc<rustls::ClientConfig>>,
    source: PublicIpSource,
    events: EventSender,
    bearers: Bearers,
    transport: Transport,
    connected: mpsc::Sender<ConnectResult>,
    discovered: mpsc::Sender<Result<IpAddr, Error>>,
    /// Media failures met while carrying out the current command's outputs,
    /// for its reply.
    media_failures: Vec<(CallId, EndpointError)>,
    /// The host's addresses when last looked at.
    addresses: BTreeSet<IpAddr>,
}

/// The driver's one clock: tokio's (virtual under `tokio::time::pause`), as
/// the core takes it.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

fn describe(reason: &CloseReason) -> String {
    match reason {
        CloseReason::Peer => "the switch closed the connection".into(),
        CloseReason::Local => "closed locally".into(),
        CloseReason::Framing(e) => format!("unframeable stream: {e}"),
        CloseReason::Io(e) => format!("I/O error: {e}"),
        CloseReason::HeaderTimeout => "the switch left a message incomplete past the header timeout".into(),
        CloseReason::Shutdown => "transport shut down".into(),
    }
}

/// Runs the agent until it stops.
pub(crate) async fn run(setup: Setup, mut commands: mpsc::UnboundedReceiver<Command>) {
    let (transport, mut transport_events) =
        Transport::new(TransportConfig { tcp_keepalive: setup.tcp_keepalive, ..TransportConfig::default() });
    let (connected, mut connect_rx) = mpsc::channel::<ConnectResult>(4);
    let (discovered, mut discover_rx) = mpsc::channel::<Result<IpAddr, Error>>(4);
    // Subscribed before the first read, so no change falls in between.
    let mut watch = netif::watch::AddressWatch::new(setup.address_poll);
    // The core's deadlines: on a timerfd, one wake-up each (see deadline.rs).
    let mut timer = Deadline::new(setup.timer);
    debug!(address_notifications = watch.is_event_driven(), timerfd = timer.is_timerfd(), "driver started");
    let mut d = Driver {
        ua: setup.ua,
        switches: Switches::new(setup.switches),
        tls: setup.tls,
        source: setup.source,
        events: setup.events,
        bearers: Bearers::new(setup.media),
        transport,
        connected,
        discovered,
        media_failures: Vec::new(),
        addresses: netif::local_addresses(),
    };
    let mut commands_open = true;
    let mut stopping = false;
    d.ua.start(now());
    loop {
        d.flush().await;
        if d.ua.phase() == crate::ua::Phase::Stopped {
            break;
        }
        let deadline = d.ua.poll_timeout();
        // While the application lags behind its events, nothing new is taken
        // on but its commands (see events.rs); a stop goes through regardless.
        let go = stopping || !d.events.lagging();
        tokio::select! {
            () = timer.until(deadline), if go => d.ua.handle_timeout(now()),
            ev = transport_events.recv(), if go => match ev {
                Some(ev) => d.on_transport(ev),
                None => break,
            },
            cmd = commands.recv(), if commands_open => match cmd {
                Some(Command::Stop) => {
                    stopping = true;
                    d.ua.stop(now());
                }
                // The handle is gone: nobody can stop us later, so stop now.
                None => {
                    commands_open = false;
                    stopping = true;
                    d.ua.stop(now());
                }
                Some(cmd) => d.on_command(cmd).await,
            },
            () = d.events.room(), if !go => {}
            Some(res) = connect_rx.recv(), if go => match res {
                Ok((flow, mac, index)) => {
                    d.ua.handle_connected(now(), flow, mac);
                    if d.ua.flow().map(|f| f.id) == Some(flow.id) {
                        d.switches.connected(flow.id, index);
                    }
                }
                Err(error) => d.ua.handle_connect_failed(now(), &error),
            },
            Some(res) = discover_rx.recv(), if go => d.ua.handle_public_ip(now(), res),
            (id, digit) = d.bearers.next_dtmf(), if go => d.ua.handle_dtmf(now(), id, digit),
            () = watch.changed(), if go => d.network_changed(false),
        }
    }
    d.flush().await;
    d.transport.shutdown().await;
}

impl Driver {
    /// The one way a change of network reaches the core, whoever saw it: the
    /// address watch (acted on only when the addresses really changed) or the
    /// application (`by_app`: acted on regardless, since it may know of a
    /// change of path, e.g. Wi-Fi to LTE behind the same addresses, or run
    /// where the agent cannot watch).
    pub(super) fn network_changed(&mut self, by_app: bool) {
        let current = netif::local_addresses();
        if current == self.addresses && !by_app {
            return;
        }
        let gone = self.ua.flow().is_some_and(|f| !current.contains(&f.local.ip()));
        debug!(before = ?self.addresses, after = ?current, flow_address_gone = gone, by_app, "network changed");
        self.addresses = current;
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

    /// Carries out the core's outputs (each may feed the core a result, and
    /// so make more), then hands its events on: in the core's order, which
    /// has a call's media news where it belongs among the call's.
    async fn flush(&mut self) {
        // Before any `Output::Connect` the loss may have asked for.
        if let Some(left) = self.switches.check(self.ua.flow().map(|f| f.id)) {
            tracing::info!(switch = %left, "flow lost; the next connection tries the next switch first");
        }
        while let Some(output) = self.ua.poll_output() {
            self.perform(output).await;
        }
        while let Some(ev) = self.ua.poll_event() {
            self.emit(ev);
        }
    }

    fn emit(&mut self, ev: Event) {
        self.events.send(ev);
    }

    async fn perform(&mut self, output: Output) {
        match output {
            Output::Connect => {
                let (transport, tls, tx) = (self.transport.clone(), self.tls.clone(), self.connected.clone());
                let (list, start) = self.switches.attempt();
                tokio::spawn(async move {
                    let res = switches::connect(&transport, &list, start, tls, CONNECT_TIMEOUT).await;
                    let _ = tx.send(res).await;
                });
            }
            Output::Send { flow, message } => {
                let sent = match self.transport.flow(flow) {
                    Some(f) => self.transport.send(&f, &message).map_err(|e| e.to_string()),
                    None => Err("the flow is closed".to_owned()),
                };
                if let Err(reason) = sent {
                    self.ua.handle_send_failed(now(), flow, reason);
                }
            }
            Output::Ping { flow } => {
                let sent = match self.transport.flow(flow) {
                    Some(f) => self.transport.send_bytes(&f, Bytes::from_static(b"\r\n\r\n")).map_err(|e| e.to_string()),
                    None => Err("the flow is closed".to_owned()),
                };
                if let Err(reason) = sent {
                    self.ua.handle_send_failed(now(), flow, reason);
                }
            }
            Output::Close { flow } => self.transport.close(flow),
            Output::Discover { local } => {
                let (source, tx) = (self.source.clone(), self.discovered.clone());
                tokio::spawn(async move {
                    let txid: [u8; 12] = rand::random();
                    let res = match tokio::time::timeout(DISCOVERY_TIMEOUT, discovery::discover(&source, local, txid)).await {
                        Ok(found) => found,
                        Err(_) => Err(Error::Discovery(format!("{source}: no answer within {DISCOVERY_TIMEOUT:?}"))),
                    };
                    let _ = tx.send(res).await;
                });
            }
            Output::Media(command) => self.media(command).await,
        }
    }

    /// Carries out a media command on the calls' bearers and says how it went.
    async fn media(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Open { call, local } => {
                let opened = self.bearers.open(call, local).await;
                self.opened(call, opened);
            }
            MediaCommand::Rebind { call, local } => {
                let opened = self.bearers.rebind(call, local).await;
                self.opened(call, opened);
            }
            MediaCommand::Start { call, stream } => match self.bearers.start(call, &stream).await {
                Ok(()) => self.ua.handle_media_started(now(), call),
                Err(e) => self.media_failed(call, e),
            },
            MediaCommand::Close { call } => {
                let report = self.bearers.close(call).await;
                self.ua.handle_media_closed(now(), call, report);
            }
        }
    }

    fn opened(&mut self, call: CallId, opened: Result<std::net::SocketAddr, EndpointError>) {
        match opened {
            Ok(local) => self.ua.handle_media_opened(now(), call, local),
            Err(e) => self.media_failed(call, e),
        }
    }

    fn media_failed(&mut self, call: CallId, error: EndpointError) {
        warn!(call = %call, %error, "media failed");
        self.ua.handle_media_failed(now(), call, &error);
        self.media_failures.push((call, error));
    }
}
