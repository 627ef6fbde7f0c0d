//! The user agent, sans-IO: registration (RFC 3261 §10.2), outbound flows and
//! their keep-alives and recovery (RFC 5626 §4.2–§4.5), public-IP checks.
//!
//! See [`UserAgent`] for how to drive it.

mod calls;
mod check;
mod event;
mod flow;
pub(crate) mod message;
mod output;
mod register;

pub use event::{Event, FlowLoss, Registration, RegistrationKind, ServerTxId};
pub use output::Output;
pub use register::refresh_interval;

use crate::Error;
use crate::call::Calls;
use crate::config::UaConfig;
use crate::rng::{KeyRng, Rng};
use message::Identity;
use sipcore::auth::{Challenge, DigestClient};
use sipcore::headers::MacAddr;
use sipcore::transaction::{LayerEvent, TransactionError, TransactionKey, TransactionLayer};
use sipcore::transport::{Flow, FlowId};
use sipcore::{Message, Method, Response, StatusCode};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Where the agent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Not started.
    Idle,
    /// Waiting for the driver to open a flow.
    Connecting,
    /// A flow is up (registering, registered, or checking the public IP).
    Ready,
    /// Backing off before the next flow (RFC 5626 §4.5).
    Waiting,
    /// The switch refused the number or the credentials (403/404).
    Rejected,
    /// `stop` sent the unregistering REGISTER and waits for its answer.
    Unregistering,
    /// Done; nothing more will happen.
    Stopped,
}

/// What the REGISTER in flight is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    Unregister,
}

/// The binding the last 200 OK granted, on the current flow.
#[derive(Debug, Clone, Copy)]
struct Binding {
    expires: u32,
}

/// The phone's user agent, sans-IO: registration, the flow's keep-alives and
/// recovery, public-IP checks and the calls with their media sessions.
///
/// It never reads a clock and never touches a socket; the tokio driver
/// behind [`crate::AgentBuilder`] is one way to run it, a test (or another
/// runtime) another. The order to drive it in:
///
/// 1. Feed it what happened with a `handle_*` method (time is an argument:
///    one monotonic clock, the driver's), or an application request
///    ([`UserAgent::call`], [`UserAgent::stop`]…).
/// 2. Drain [`UserAgent::poll_output`] until it says `None`, doing each: open a
///    flow ([`Output::Connect`], answered with `handle_connected` or
///    `handle_connect_failed`), write, ping, close, discover, and the calls'
///    bearer work ([`Output::Media`]: bind, start, rebind, close, answered with
///    `handle_media_opened` / `_started` / `_failed` / `_closed`). A result fed
///    back may queue more outputs: keep draining.
/// 3. Drain [`UserAgent::poll_event`]: the events come in the order things
///    happened (a call's media news in place among its call news), so hand
///    them on as they come.
/// 4. Sleep until [`UserAgent::poll_timeout`], then call
///    [`UserAgent::handle_timeout`]; back to 2.
///
/// ```
/// use agent::{Output, UaConfig, UserAgent};
/// use std::time::Instant;
///
/// let mut ua = UserAgent::new(UaConfig::new("1001", "secret", "switch.local"));
/// ua.start(Instant::now());
/// assert_eq!(ua.poll_output(), Some(Output::Connect));
/// assert_eq!(ua.poll_output(), None);
/// assert_eq!(ua.poll_timeout(), None, "nothing is due until the flow is there");
/// ```
pub struct UserAgent {
    cfg: UaConfig,
    rng: Rng,
    /// SRTP master keys, from a generator of their own (see [`KeyRng`]).
    keys: KeyRng,
    layer: TransactionLayer,
    phase: Phase,
    flow: Option<Flow>,
    /// The MAC sent on the current flow.
    mac: Option<MacAddr>,
    /// `+sip.instance`, fixed at the first flow and kept for the process's life.
    instance: Option<String>,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The expiry asked for (a 423 raises it).
    expires: u32,
    digest: DigestClient,
    /// The last challenge, reused for the next REGISTER (saves a round trip).
    challenge: Option<(Challenge<'static>, bool)>,
    /// Challenges answered since the last 2xx; a third means the password is wrong.
    auth_tries: u32,
    register_tx: Option<(TransactionKey, Purpose)>,
    /// X-Public-IP of the REGISTER in flight.
    in_flight_public: Option<IpAddr>,
    /// The OPTIONS asking the switch which address it sees (source `via`).
    probe_tx: Option<TransactionKey>,
    /// An external discovery (STUN/HTTP) is running in the driver.
    discovering: bool,
    /// A REGISTER must go out once the running check is done.
    needs_register: bool,
    /// A REGISTER is needed once the one in flight is answered.
    reregister_after: bool,
    /// The last public IP learned.
    public_ip: Option<IpAddr>,
    /// X-Public-IP of the registration in force.
    registered_public: Option<IpAddr>,
    /// When a public-IP change was detected and not yet registered.
    change_detected: Option<Instant>,
    binding: Option<Binding>,
    ever_registered: bool,
    /// When a registered flow was lost; cleared by the next registration.
    lost_at: Option<Instant>,
    /// Consecutive failures to get a registered flow (RFC 5626 §4.5).
    failures: u32,
    /// The last immediate reconnect: at most one per back-off base time.
    last_fast_retry: Option<Instant>,
    /// Keep-alive interval (Flow-Timer) when the registrar wants keep-alives.
    keepalive: Option<Duration>,
    retry_at: Option<Instant>,
    refresh_at: Option<Instant>,
    ping_at: Option<Instant>,
    pong_deadline: Option<Instant>,
    check_at: Option<Instant>,
    stop_deadline: Option<Instant>,
    /// The calls and their dialogs (they ride the flow, and die with it).
    calls: Calls,
    /// Stopped, but `Event::Stopped` waits for the calls' bearers to close.
    stop_pending: bool,
    outbox: VecDeque<Output>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgent")
            .field("phase", &self.phase)
            .field("flow", &self.flow)
            .field("public_ip", &self.public_ip)
            .finish_non_exhaustive()
    }
}

impl UserAgent {
    /// A user agent that does nothing until [`UserAgent::start`].
    pub fn new(cfg: UaConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let call_id = format!("{}@agent", rng.hex(12));
        let from_tag = rng.hex(6);
        let expires = cfg.expires;
        let digest_seed = rng.next_u64();
        let mut cnonce_rng = Rng::new(digest_seed);
        Self {
            layer: TransactionLayer::new(cfg.timers),
            digest: DigestClient::new().with_cnonce_source(move || cnonce_rng.hex(16)),
            instance: cfg.instance.clone(),
            keys: KeyRng::new(&cfg.srtp_key_seed),
            cfg,
            rng,
            phase: Phase::Idle,
            flow: None,
            mac: None,
            call_id,
            from_tag,
            cseq: 0,
            expires,
            challenge: None,
            auth_tries: 0,
            register_tx: None,
            in_flight_public: None,
            probe_tx: None,
            discovering: false,
            needs_register: false,
            reregister_after: false,
            public_ip: None,
            registered_public: None,
            change_detected: None,
            binding: None,
            ever_registered: false,
            lost_at: None,
            failures: 0,
            last_fast_retry: None,
            keepalive: None,
            retry_at: None,
            refresh_at: None,
            ping_at: None,
            pong_deadline: None,
            check_at: None,
            stop_deadline: None,
            calls: Calls::default(),
            stop_pending: false,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Where the agent is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The current flow, if one is up.
    pub fn flow(&self) -> Option<Flow> {
        self.flow
    }

    /// True while a 200 OK's binding is in force on the current flow.
    pub fn is_registered(&self) -> bool {
        self.binding.is_some()
    }

    /// Seconds the binding in force was granted for.
    pub fn granted_expires(&self) -> Option<u32> {
        self.binding.map(|b| b.expires)
    }

    /// The last public IP learned.
    pub fn public_ip(&self) -> Option<IpAddr> {
        self.public_ip
    }

    /// The `+sip.instance` in use (known from the first flow on).
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// Asks for the first flow.
    pub fn start(&mut self, now: Instant) {
        if self.phase == Phase::Idle {
            self.connect(now);
        }
    }

    /// A message arrived on `flow`.
    pub fn handle_message(&mut self, now: Instant, flow: FlowId, message: Message) {
        let Some(flow) = self.flow.filter(|f| f.id == flow) else { return };
        self.layer.handle_message(now, flow, message);
        self.pump(now);
    }

    /// A `CRLF` pong arrived on `flow`.
    pub fn handle_pong(&mut self, now: Instant, flow: FlowId) {
        if self.flow.map(|f| f.id) == Some(flow) && self.pong_deadline.take().is_some() {
            self.schedule_ping(now);
        }
    }

    /// `flow` closed (the peer, an I/O error, the framing).
    pub fn handle_flow_closed(&mut self, now: Instant, flow: FlowId, reason: String) {
        if self.flow.map(|f| f.id) == Some(flow) {
            self.flow_failed(now, FlowLoss::Closed(reason));
        }
    }

    /// Writing to `flow` failed.
    pub fn handle_send_failed(&mut self, now: Instant, flow: FlowId, reason: String) {
        if self.flow.map(|f| f.id) == Some(flow) {
            self.flow_failed(now, FlowLoss::SendFailed(reason));
        }
    }

    /// The host's addresses changed. `flow_address_gone`: the flow's local
    /// address is no longer on any interface, so the flow is dead whatever
    /// TCP thinks. Otherwise the public IP is checked at once. While backing
    /// off, the next flow is tried at once: the network that failed is not
    /// the one there now.
    pub fn handle_network_change(&mut self, now: Instant, flow_address_gone: bool) {
        if self.phase == Phase::Waiting {
            self.retry_at = None;
            self.connect(now);
            return;
        }
        if self.flow.is_none() || self.phase != Phase::Ready {
            return;
        }
        if flow_address_gone {
            self.flow_failed(now, FlowLoss::LocalAddressGone);
        } else {
            self.begin_check(now);
        }
        self.pump(now);
    }

    /// Checks the public IP now, whatever the timer says.
    pub fn check_public_ip(&mut self, now: Instant) {
        if self.flow.is_some() && self.phase == Phase::Ready {
            self.begin_check(now);
            self.pump(now);
        }
    }

    /// The result of a [`Output::Discover`].
    pub fn handle_public_ip(&mut self, now: Instant, result: Result<IpAddr, Error>) {
        if !std::mem::take(&mut self.discovering) {
            return;
        }
        match result {
            Ok(ip) => self.finish_check(now, Some(ip)),
            Err(e) => {
                self.events.push_back(Event::DiscoveryFailed { reason: e.to_string() });
                self.finish_check(now, None);
            }
        }
        self.pump(now);
    }

    /// Answers a request the switch sent (an [`Event::IncomingRequest`]) with
    /// `status` (its default reason phrase, our tag on To).
    pub fn respond(&mut self, now: Instant, id: &ServerTxId, status: StatusCode) -> Result<(), Error> {
        if self.flow.map(|f| f.id) != Some(id.flow) {
            return Err(Error::FlowGone);
        }
        let request = self.layer.transaction(&id.key).map(|t| t.request().clone());
        let request = request.ok_or_else(|| TransactionError::NotFound(id.key.clone()))?;
        self.respond_with(now, id, Response::to_request(&request, status.as_u16()))
    }

    /// Answers a request the switch sent with a response of the
    /// application's making (headers, a body); our tag goes on its To.
    pub fn respond_with(&mut self, now: Instant, id: &ServerTxId, response: Response) -> Result<(), Error> {
        if self.flow.map(|f| f.id) != Some(id.flow) {
            return Err(Error::FlowGone);
        }
        let mut response = response;
        message::add_to_tag(&mut response, &self.from_tag);
        self.layer.send_response(now, &id.key, response)?;
        self.pump(now);
        Ok(())
    }

    /// Unregisters (when registered) and closes the flow; [`Event::Stopped`] follows.
    pub fn stop(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Stopped | Phase::Unregistering) {
            self.with_calls(now, |calls, ctx| calls.hangup_all(ctx));
        }
        match self.phase {
            Phase::Stopped | Phase::Unregistering => return,
            _ if self.flow.is_some() && (self.binding.is_some() || self.register_tx.is_some()) => {
                self.clear_timers();
                self.phase = Phase::Unregistering;
                self.register_tx = None;
                self.stop_deadline = now.checked_add(self.cfg.unregister_timeout);
                self.send_register(now, Purpose::Unregister);
            }
            _ => self.finish_stop(),
        }
        self.pump(now);
    }

    /// Fires whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.calls.handle_timeout(now);
        self.pump(now);
        if due(self.stop_deadline, now) {
            self.stop_deadline = None;
            self.finish_stop();
        }
        if due(self.retry_at, now) {
            self.retry_at = None;
            if matches!(self.phase, Phase::Waiting | Phase::Rejected) {
                self.connect(now);
            }
        }
        if due(self.pong_deadline, now) {
            self.pong_deadline = None;
            self.flow_failed(now, FlowLoss::NoPong);
        }
        if due(self.ping_at, now) {
            self.ping_at = None;
            if let Some(flow) = self.flow {
                self.outbox.push_back(Output::Ping { flow: flow.id });
                self.pong_deadline = now.checked_add(self.cfg.pong_timeout);
            }
        }
        if due(self.refresh_at, now) {
            self.refresh_at = None;
            if self.binding.is_some() {
                self.send_register(now, Purpose::Register);
            }
        }
        if due(self.check_at, now) {
            self.check_at = None;
            if self.phase == Phase::Ready {
                self.begin_check(now);
            }
        }
        self.pump(now);
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    /// The next thing for the application to know.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`UserAgent::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.retry_at,
            self.refresh_at,
            self.ping_at,
            self.pong_deadline,
            self.check_at,
            self.stop_deadline,
            self.layer.poll_timeout(),
            self.calls.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn identity(&self) -> Option<Identity<'_>> {
        let flow = self.flow?;
        Some(identity_of(&self.cfg, flow, self.mac, self.instance.as_deref()))
    }

    /// Moves what the transaction layer produced into our queues, and acts on
    /// its events (which may produce more).
    fn pump(&mut self, now: Instant) {
        loop {
            while let Some(t) = self.layer.poll_transmit() {
                self.outbox.push_back(Output::Send { flow: t.flow.id, message: t.message });
            }
            self.take_call_work();
            let Some(ev) = self.layer.poll_event() else { break };
            self.on_layer_event(now, ev);
        }
    }

    fn on_layer_event(&mut self, now: Instant, ev: LayerEvent) {
        let Some(flow) = self.flow else { return };
        match ev {
            LayerEvent::Request { key, request, .. } if request.method == Method::Options => {
                let answer = message::answer_options(&request, &self.from_tag);
                if let Err(e) = self.layer.send_response(now, &key, answer) {
                    tracing::debug!(error = %e, "OPTIONS answer not sent");
                }
            }
            LayerEvent::Request { key, request, .. } if matches!(request.method, Method::Invite | Method::Bye) => {
                self.with_calls(now, |calls, ctx| calls.handle_request(ctx, &key, request));
            }
            LayerEvent::Cancel { key, request, invite, .. } => {
                let handled = self.with_calls(now, |calls, ctx| calls.handle_cancel(ctx, &key, &request, invite.as_ref()));
                if handled == Some(false) {
                    self.events.push_back(Event::IncomingRequest { id: Some(ServerTxId { flow: flow.id, key }), request });
                }
            }
            LayerEvent::Request { key, request, .. } => {
                self.events.push_back(Event::IncomingRequest { id: Some(ServerTxId { flow: flow.id, key }), request });
            }
            LayerEvent::Ack { request, .. } => {
                self.with_calls(now, |calls, ctx| calls.handle_ack(ctx, &request));
            }
            LayerEvent::Response { key, response }
                if self.with_calls(now, |calls, ctx| calls.handle_response(ctx, &key, &response)) == Some(true) => {}
            LayerEvent::Response { key, response } if response.status >= 200 => {
                if self.register_tx.as_ref().is_some_and(|(k, _)| *k == key) {
                    if let Some((_, purpose)) = self.register_tx.take() {
                        self.on_register_response(now, purpose, &response);
                    }
                } else if self.probe_tx.as_ref() == Some(&key) {
                    self.probe_tx = None;
                    let seen = message::observed(&response, flow.local);
                    self.finish_check(now, seen);
                }
            }
            LayerEvent::Timeout { key, .. } | LayerEvent::TransportError { key } if self.calls.handle_tx_failure(&key) => {}
            LayerEvent::Timeout { key, .. } => {
                if self.register_tx.as_ref().is_some_and(|(k, _)| *k == key) {
                    self.register_tx = None;
                    self.flow_failed(now, FlowLoss::Timeout("REGISTER"));
                } else if self.probe_tx.as_ref() == Some(&key) {
                    self.probe_tx = None;
                    self.flow_failed(now, FlowLoss::Timeout("OPTIONS"));
                }
            }
            LayerEvent::TransportError { .. } => self.flow_failed(now, FlowLoss::SendFailed("transport error".into())),
            LayerEvent::Response { .. } | LayerEvent::StrayResponse { .. } | LayerEvent::Terminated { .. } => {}
        }
    }

    fn clear_timers(&mut self) {
        self.retry_at = None;
        self.refresh_at = None;
        self.ping_at = None;
        self.pong_deadline = None;
        self.check_at = None;
        self.stop_deadline = None;
    }

    fn finish_stop(&mut self) {
        self.end_calls();
        if let Some(flow) = self.flow.take() {
            self.outbox.push_back(Output::Close { flow: flow.id });
        }
        self.clear_timers();
        self.layer = TransactionLayer::new(self.cfg.timers);
        self.binding = None;
        self.register_tx = None;
        self.probe_tx = None;
        if self.phase != Phase::Stopped {
            self.phase = Phase::Stopped;
            self.stop_pending = true;
            self.finish_stop_when_closed();
        }
    }
}

/// Who and where the agent is on `flow`.
fn identity_of<'a>(cfg: &'a UaConfig, flow: Flow, mac: Option<MacAddr>, instance: Option<&'a str>) -> Identity<'a> {
    Identity {
        number: &cfg.number,
        domain: &cfg.domain,
        transport: cfg.transport.via_token(),
        local: flow.local,
        mac,
        instance: instance.unwrap_or_default(),
        bearer_port: cfg.bearer_port,
        user_agent: &cfg.user_agent,
        push: cfg.push.as_ref(),
    }
}

fn due(at: Option<Instant>, now: Instant) -> bool {
    at.is_some_and(|t| t <= now)
}
