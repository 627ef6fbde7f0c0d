//! The tokio API: build an agent, start it, read its events, stop it.

use crate::call::CallId;
use crate::config::{Backoff, PublicIpSource, SwitchAddr, UaConfig};
use crate::deadline::DeadlineTimer;
use crate::driver::bearer::MediaOptions;
use crate::driver::{Command, Setup};
use crate::events::Events;
use crate::ua::{ServerTxId, UserAgent};
use crate::{Error, FlowTransport, MacAddr};
use media::BearerTransport;
use sipcore::transport::TcpKeepalive;
use sipcore::{Response, StatusCode};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The longest interval any setting takes (a day); longer ones are clamped.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// Configures an agent. Defaults: public IP from the switch's Via
/// `received`, checked every 515 s; 600 s registrations; RFC 5626 back-off
/// (4 s base, 1800 s cap); kernel TCP keep-alive probes 4,2,4; the MAC of the flow's interface; an instance
/// derived from that MAC; the domain is the switch's host.
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    switch: SwitchAddr,
    cfg: UaConfig,
    tls_ca_pem: Option<Vec<u8>>,
    address_poll: Duration,
    instance_file: Option<std::path::PathBuf>,
    media: MediaOptions,
    tcp_keepalive: Option<TcpKeepalive>,
    timer: DeadlineTimer,
}

impl AgentBuilder {
    /// An agent for `number` on the switch at `switch` (`tcp:` or `tls:`).
    pub fn new(switch: SwitchAddr, number: impl Into<String>, password: impl Into<String>) -> Self {
        let mut cfg = UaConfig::new(number, password, switch.host.clone());
        cfg.transport = switch.transport;
        Self {
            switch,
            cfg,
            tls_ca_pem: None,
            address_poll: Duration::from_secs(30),
            instance_file: None,
            media: MediaOptions::default(),
            tcp_keepalive: Some(TcpKeepalive::DEFAULT),
            timer: DeadlineTimer::Kernel,
        }
    }

    /// The SIP domain (Request-URI, From/To host); default: the switch's host.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.cfg.domain = domain.into();
        self
    }

    /// Sends this MAC instead of the one found on the flow's interface.
    pub fn mac(mut self, mac: MacAddr) -> Self {
        self.cfg.mac = Some(mac);
        self
    }

    /// Uses this `+sip.instance` (`urn:uuid:...`), e.g. one persisted by the softphone.
    pub fn instance(mut self, urn: impl Into<String>) -> Self {
        self.cfg.instance = Some(urn.into());
        self
    }

    /// Keeps the `+sip.instance` in this file (created with a random one if
    /// missing): the same device across restarts even without a usable MAC.
    /// An explicit [`AgentBuilder::instance`] wins.
    pub fn instance_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.instance_file = Some(path.into());
        self
    }

    /// The local UDP port for bearer (RTP), sent as X-Bearer-Port; calls
    /// bind it (default: an ephemeral port per call, not advertised).
    pub fn bearer_port(mut self, port: u16) -> Self {
        self.cfg.bearer_port = Some(port);
        self
    }

    /// The bearer transport offered in calls: UDP, or TCP with RFC 4571
    /// framing (`TCP/RTP/AVP`, the agent connects out from its bearer port).
    pub fn bearer_transport(mut self, transport: BearerTransport) -> Self {
        self.cfg.bearer_transport = transport;
        self
    }

    /// What calls send and whether they record, unless [`AgentHandle::call_with`]
    /// or [`AgentHandle::answer_with`] say otherwise (default: silence, no recording).
    pub fn media(mut self, options: MediaOptions) -> Self {
        self.media = options;
        self
    }

    /// How the public IP is learned.
    pub fn public_ip(mut self, source: PublicIpSource) -> Self {
        self.cfg.public_ip = source;
        self
    }

    /// How often the public IP is checked (the patent's example: 515 s).
    pub fn check_interval(mut self, every: Duration) -> Self {
        self.cfg.check_interval = every.clamp(Duration::from_secs(1), MAX_INTERVAL);
        self
    }

    /// The registration lifetime asked for, in seconds.
    pub fn expires(mut self, seconds: u32) -> Self {
        self.cfg.expires = seconds.clamp(1, 86_400);
        self
    }

    /// RFC 5626 §4.5 back-off times.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        let base = backoff.base.clamp(Duration::from_millis(100), MAX_INTERVAL);
        self.cfg.backoff = Backoff { base, max: backoff.max.clamp(base, MAX_INTERVAL) };
        self
    }

    /// After a 403/404, try again after this long (default: never on its own).
    pub fn retry_after_rejection(mut self, after: Duration) -> Self {
        self.cfg.retry_after_rejection = Some(after.clamp(Duration::from_secs(1), MAX_INTERVAL));
        self
    }

    /// PEM CA certificate(s) the switch's TLS certificate must chain to.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_ca_pem = Some(pem.into());
        self
    }

    /// How often the host's addresses are polled for changes where the
    /// kernel's notifications (a netlink socket) are unavailable (default
    /// 30 s). Where they are, a change is seen at once and nothing is polled.
    pub fn address_poll(mut self, every: Duration) -> Self {
        self.address_poll = every.clamp(Duration::from_millis(100), MAX_INTERVAL);
        self
    }

    /// Kernel TCP keep-alive probes on the flow (default 4 s idle, 4 probes
    /// 2 s apart; `None`: off). A NAT that silently lost the flow's mapping is
    /// then found within 12 s of the last thing heard, whatever the
    /// Flow-Timer, and without waking the process: the kernel probes, the
    /// switch's kernel answers. The RFC 5626 CRLF pings go on regardless.
    pub fn tcp_keepalive(mut self, keepalive: Option<TcpKeepalive>) -> Self {
        self.tcp_keepalive = keepalive;
        self
    }

    /// How the agent sleeps until its next deadline: the kernel's timerfd
    /// (the default: one wake-up per keep-alive, what an idle phone wants), or
    /// tokio's timer, which follows `tokio::time::pause` so that a test can
    /// run the agent on virtual time.
    pub fn deadline_timer(mut self, timer: DeadlineTimer) -> Self {
        self.timer = timer;
        self
    }

    /// The User-Agent header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.cfg.user_agent = ua.into();
        self
    }

    /// The configuration the core will run with.
    pub fn config(&self) -> &UaConfig {
        &self.cfg
    }

    /// Starts the agent on the current tokio runtime: it connects, registers
    /// and keeps at it until [`AgentHandle::stop`].
    pub fn start(self) -> Result<(AgentHandle, Events), Error> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| Error::Config("start() must be called inside a tokio runtime".into()))?;
        let mut cfg = self.cfg;
        if cfg.number.is_empty() {
            return Err(Error::Config("no number".into()));
        }
        if cfg.instance.is_none()
            && let Some(path) = &self.instance_file
        {
            cfg.instance = Some(crate::identity::load_or_create_instance(path)?);
        }
        if let Some(i) = &cfg.instance
            && !crate::identity::valid_instance(i)
        {
            return Err(Error::Config(format!("instance {i:?} is not urn:uuid:<uuid>")));
        }
        let tls = match (self.switch.transport, &self.tls_ca_pem) {
            (FlowTransport::Tcp, _) => None,
            (FlowTransport::Tls, Some(pem)) => {
                Some(sipcore::transport::tls::client_config_from_pem(pem).map_err(|e| Error::Config(format!("TLS CA: {e}")))?)
            }
            (FlowTransport::Tls, None) => {
                return Err(Error::Config("a tls: switch needs a CA certificate (tls_ca_pem / --ca)".into()));
            }
        };
        cfg.seed = rand::random();
        let (events_tx, events_rx) = crate::events::channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let setup = Setup {
            source: cfg.public_ip.clone(),
            ua: UserAgent::new(cfg),
            switch: self.switch,
            tls,
            address_poll: self.address_poll,
            tcp_keepalive: self.tcp_keepalive,
            events: events_tx,
            media: self.media,
            timer: self.timer,
        };
        let task = runtime.spawn(crate::driver::run(setup, commands_rx));
        Ok((AgentHandle { commands, task: Some(task) }, events_rx))
    }
}

/// Controls a running agent. Dropping it stops the agent too (unregistering
/// in the background); [`AgentHandle::stop`] waits for that to finish.
#[derive(Debug)]
pub struct AgentHandle {
    commands: mpsc::UnboundedSender<Command>,
    task: Option<JoinHandle<()>>,
}

impl AgentHandle {
    /// Checks the public IP now (e.g. the softphone saw the network change).
    pub fn check_public_ip(&self) -> Result<(), Error> {
        self.commands.send(Command::CheckPublicIp).map_err(|_| Error::Stopped)
    }

    /// Answers a request the switch sent (see [`crate::Event::IncomingRequest`]) with
    /// `status` (its default reason phrase), e.g. [`StatusCode::NOT_IMPLEMENTED`]
    /// for a method the phone has no use for.
    pub async fn respond(&self, id: ServerTxId, status: StatusCode) -> Result<(), Error> {
        self.ask(|reply| Command::Respond { id, status, reply }).await
    }

    /// Answers a request the switch sent with a response of the
    /// application's making (built from the request, e.g. with
    /// [`Response::to_request`], with headers or a body of its own).
    pub async fn respond_with(&self, id: ServerTxId, response: Response) -> Result<(), Error> {
        self.ask(|reply| Command::RespondWith { id, response: Box::new(response), reply }).await
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Calls `number` (`INVITE sip:<number>@<domain>` up the flow, with an SDP
    /// offer naming the flow's private IP and the bearer port). Its progress
    /// comes as [`crate::Event::Call`] (ringing, answered, ended) and [`crate::Event::Media`].
    pub async fn call(&self, number: &str) -> Result<CallId, Error> {
        self.ask(|reply| Command::Call { number: number.to_owned(), options: None, reply }).await
    }

    /// [`AgentHandle::call`] with its own media options.
    pub async fn call_with(&self, number: &str, options: MediaOptions) -> Result<CallId, Error> {
        self.ask(|reply| Command::Call { number: number.to_owned(), options: Some(options), reply }).await
    }

    /// Answers the incoming call `id` (a [`crate::CallEvent::Incoming`]): 200
    /// with the SDP answer; RTP starts at once toward the relay. An unusable
    /// offer is rejected 488 (and this returns the error).
    pub async fn answer(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Answer { id, options: None, reply }).await
    }

    /// [`AgentHandle::answer`] with its own media options.
    pub async fn answer_with(&self, id: CallId, options: MediaOptions) -> Result<(), Error> {
        self.ask(|reply| Command::Answer { id, options: Some(options), reply }).await
    }

    /// Refuses the incoming call `id` with `status` ([`StatusCode::BUSY_HERE`],
    /// [`StatusCode::DECLINE`]…; 300–699).
    pub async fn reject(&self, id: CallId, status: StatusCode) -> Result<(), Error> {
        self.ask(|reply| Command::Reject { id, status, reply }).await
    }

    /// Ends call `id`: BYE once answered; before, CANCEL (outgoing) or 480 (incoming).
    pub async fn hangup(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Hangup { id, reply }).await
    }

    /// Sends DTMF digits (`0-9*#A-D`) on call `id` as RFC 4733 events.
    pub async fn send_dtmf(&self, id: CallId, digits: &str) -> Result<(), Error> {
        self.ask(|reply| Command::Dtmf { id, digits: digits.to_owned(), reply }).await
    }

    /// Puts call `id` on hold: a re-INVITE offering `a=sendonly` (the peer
    /// stops sending; our stream keeps the NAT leg open). `Event::Call(Updated)`
    /// follows, or `ReofferRejected` (491 on glare: try again later).
    pub async fn hold(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Hold { id, hold: true, reply }).await
    }

    /// Takes call `id` off hold: a re-INVITE offering `a=sendrecv`.
    pub async fn resume(&self, id: CallId) -> Result<(), Error> {
        self.ask(|reply| Command::Hold { id, hold: false, reply }).await
    }

    /// True until the agent has stopped.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Unregisters (if registered), closes the flow and waits for the agent
    /// to end (bounded by the unregistration timeout, 5 s).
    pub async fn stop(mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "agent task failed");
        }
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
    }
}
