//! The tokio API's way in: configure an agent and start it.

use crate::config::{Backoff, PublicIpSource, SrtpPolicy, SwitchAddr, UaConfig};
use crate::deadline::DeadlineTimer;
use crate::driver::Setup;
use crate::driver::bearer::MediaOptions;
use crate::events::Events;
use crate::handle::AgentHandle;
use crate::ua::UserAgent;
use crate::{Error, FlowTransport, MacAddr};
use media::BearerTransport;
use sipcore::transport::TcpKeepalive;
use sipcore::transport::tls::{self, Fingerprint};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The longest interval any setting takes (a day); longer ones are clamped.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// Configures an agent. Defaults: public IP from the switch's Via
/// `received`, checked every 515 s; 600 s registrations; RFC 5626 back-off
/// (4 s base, 1800 s cap); kernel TCP keep-alive probes 4,2,4; the MAC of the flow's interface; an instance
/// derived from that MAC; the domain is the switch's host.
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    /// The switch given to `new` first, then those of `add_switch`.
    switches: Vec<SwitchAddr>,
    cfg: UaConfig,
    tls_ca_pem: Option<Vec<u8>>,
    tls_fingerprint: Option<Fingerprint>,
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
            switches: vec![switch],
            cfg,
            tls_ca_pem: None,
            tls_fingerprint: None,
            address_poll: Duration::from_secs(30),
            instance_file: None,
            media: MediaOptions::default(),
            tcp_keepalive: Some(TcpKeepalive::DEFAULT),
            timer: DeadlineTimer::Kernel,
        }
    }

    /// Another switch to use: a node of the same cluster (one registrar on a
    /// shared store). The agent registers on the first that answers, in the
    /// order given (`new`'s first); when its flow to one dies (closed, no
    /// pong, refused) its next connection tries the following one first, and
    /// registering there moves the binding. All must use one transport.
    pub fn add_switch(mut self, switch: SwitchAddr) -> Self {
        self.switches.push(switch);
        self
    }

    /// Registers for RFC 8599 push: the parameters go on the REGISTER's
    /// Contact, so when a call comes after the OS closed the flow the switch
    /// has the operator's push gateway wake the phone; the application then
    /// calls [`AgentHandle::push_received`] (default: none).
    pub fn push(mut self, params: crate::PushParams) -> Self {
        self.cfg.push = Some(params);
        self
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

    /// PEM CA certificate(s) the switch's TLS certificate must chain to
    /// (and name the switch's host).
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_ca_pem = Some(pem.into());
        self
    }

    /// Pins the switch's TLS certificate: the flow opens only to a switch
    /// presenting exactly the certificate with this SHA-256 fingerprint
    /// (`"AB:CD:...".parse()`, as `switch run` logs it), self-signed
    /// included, whatever names it carries; any other certificate fails the
    /// connection with [`crate::ConnectError`] naming both fingerprints. With
    /// [`AgentBuilder::tls_ca_pem`] as well, the certificate must also chain
    /// to that CA and name the switch's host.
    pub fn tls_fingerprint(mut self, fingerprint: Fingerprint) -> Self {
        self.tls_fingerprint = Some(fingerprint);
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

    /// Whether calls' media is SRTP (default [`SrtpPolicy::Preferred`]: offered
    /// over a TLS flow, plain RTP when the other side declines it).
    pub fn srtp(mut self, policy: SrtpPolicy) -> Self {
        self.cfg.srtp = policy;
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
        if let Some(other) = self.switches.iter().find(|s| s.transport != cfg.transport) {
            return Err(Error::Config(format!("switch {other}: every switch must use the first one's transport")));
        }
        let tls = match cfg.transport {
            FlowTransport::Tcp => None,
            FlowTransport::Tls => Some(tls_client(self.tls_ca_pem.as_deref(), self.tls_fingerprint)?),
        };
        cfg.seed = rand::random();
        let (events_tx, events_rx) = crate::events::channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let setup = Setup {
            source: cfg.public_ip.clone(),
            ua: UserAgent::new(cfg),
            switches: self.switches,
            tls,
            address_poll: self.address_poll,
            tcp_keepalive: self.tcp_keepalive,
            events: events_tx,
            media: self.media,
            timer: self.timer,
        };
        let task = runtime.spawn(crate::driver::run(setup, commands_rx));
        Ok((AgentHandle::new(commands, task), events_rx))
    }
}

/// How a `tls:` switch's certificate is checked: pinned (and chained to a CA
/// when one is given too), or chained to a CA.
fn tls_client(ca_pem: Option<&[u8]>, pinned: Option<Fingerprint>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let config = match (pinned, ca_pem) {
        (Some(pin), ca) => tls::client_config_pinned(pin, ca),
        (None, Some(ca)) => tls::client_config_from_pem(ca),
        (None, None) => {
            return Err(Error::Config(
                "a tls: switch needs a CA certificate (tls_ca_pem / --ca) or its certificate's fingerprint (tls_fingerprint / --tls-fingerprint)"
                    .into(),
            ));
        }
    };
    config.map_err(|e| Error::Config(format!("TLS CA: {e}")))
}
