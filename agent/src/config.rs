//! What the agent is told: where the switch is, how to learn the public IP,
//! and the timers of RFC 5626 recovery. Every text form here is also a CLI flag.

use crate::Error;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// The transport of the one signalling flow. There is no UDP: a datagram
/// "flow" cannot carry requests from the switch back through a firewall that
/// drops new inbound traffic for long, and it gives no sign when it dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowTransport {
    /// Plain TCP.
    Tcp,
    /// TLS over TCP (rustls), the switch's certificate checked.
    Tls,
}

impl FlowTransport {
    /// The Via transport token and the Contact `transport=` value.
    pub fn via_token(self) -> &'static str {
        match self {
            FlowTransport::Tcp => "TCP",
            FlowTransport::Tls => "TLS",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            FlowTransport::Tcp => 5060,
            FlowTransport::Tls => 5061,
        }
    }
}

/// `tcp:HOST[:PORT]` or `tls:HOST[:PORT]` (IPv6 in brackets). The host is
/// resolved again on every connection attempt, so a switch that moves is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchAddr {
    /// TCP or TLS.
    pub transport: FlowTransport,
    /// A DNS name or an IP literal (IPv6 without brackets).
    pub host: String,
    /// 5060 for TCP and 5061 for TLS unless given.
    pub port: u16,
}

impl FromStr for SwitchAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config(format!("switch address {s:?}: {why} (expected tcp:HOST:PORT or tls:HOST:PORT)"));
        let (scheme, rest) = s.split_once(':').ok_or_else(|| bad("no transport"))?;
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "tcp" => FlowTransport::Tcp,
            "tls" => FlowTransport::Tls,
            _ => return Err(bad("transport must be tcp or tls")),
        };
        let (host, port) = host_port(rest).map_err(bad)?;
        let port = port.unwrap_or(transport.default_port());
        Ok(SwitchAddr { transport, host, port })
    }
}

impl fmt::Display for SwitchAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.transport {
            FlowTransport::Tcp => "tcp",
            FlowTransport::Tls => "tls",
        };
        if self.host.contains(':') { write!(f, "{t}:[{}]:{}", self.host, self.port) } else { write!(f, "{t}:{}:{}", self.host, self.port) }
    }
}

/// Splits `HOST[:PORT]` (an IPv6 host in brackets); the port must not be 0.
fn host_port(s: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or("unterminated IPv6 reference")?;
        h.parse::<std::net::Ipv6Addr>().map_err(|_| "bad IPv6 address")?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':').ok_or("junk after IPv6 reference")?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host_ok = host.parse::<std::net::Ipv6Addr>().is_ok()
        || (!host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')));
    if !host_ok {
        return Err("bad host");
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or("bad port")?),
    };
    Ok((host.to_owned(), port))
}

/// How the agent learns the public address its firewall uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicIpSource {
    /// `via`: the `received` the switch stamps on the top Via of its answers
    /// (RFC 3581). Learned with an OPTIONS over the flow itself, so it is the
    /// address the switch really sees. The default.
    Via,
    /// `stun:HOST:PORT`: an RFC 8489 Binding request over UDP.
    Stun {
        /// The STUN server's name or address.
        host: String,
        /// 3478 unless given.
        port: u16,
    },
    /// `http:URL[ PATTERN]`: GET a firewall's status page (the patent's step
    /// 224). With a pattern (a regular expression), its first capture group,
    /// or the whole match, is the address; without one, the first public
    /// address on the page.
    Http {
        /// `http://[user:pass@]host[:port]/path`.
        url: String,
        /// A regular expression locating the address on the page.
        pattern: Option<String>,
    },
    /// `static:IP`: the address is known and never changes.
    Static(IpAddr),
}

impl FromStr for PublicIpSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::Config(format!("public IP source {s:?}: {why} (expected via, stun:HOST:PORT, http:URL [PATTERN] or static:IP)"))
        };
        if s.eq_ignore_ascii_case("via") {
            return Ok(PublicIpSource::Via);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(|| bad("unknown source"))?;
        match kind.to_ascii_lowercase().as_str() {
            "static" => rest.trim_matches(['[', ']']).parse().map(PublicIpSource::Static).map_err(|_| bad("not an IP address")),
            "stun" => {
                let (host, port) = host_port(rest).map_err(bad)?;
                Ok(PublicIpSource::Stun { host, port: port.unwrap_or(crate::discovery::stun::DEFAULT_PORT) })
            }
            "http" => {
                let (url, pattern) = match rest.split_once(char::is_whitespace) {
                    Some((u, p)) => (u, Some(p.trim().to_owned()).filter(|p| !p.is_empty())),
                    None => (rest, None),
                };
                crate::discovery::http::Url::parse(url)?;
                if let Some(p) = &pattern {
                    regex::Regex::new(p).map_err(|e| bad(&format!("bad pattern: {e}")))?;
                }
                Ok(PublicIpSource::Http { url: url.to_owned(), pattern })
            }
            _ => Err(bad("unknown source")),
        }
    }
}

impl fmt::Display for PublicIpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicIpSource::Via => f.write_str("via"),
            PublicIpSource::Stun { host, port } if host.contains(':') => write!(f, "stun:[{host}]:{port}"),
            PublicIpSource::Stun { host, port } => write!(f, "stun:{host}:{port}"),
            PublicIpSource::Http { url, pattern: None } => write!(f, "http:{url}"),
            PublicIpSource::Http { url, pattern: Some(p) } => write!(f, "http:{url} {p}"),
            PublicIpSource::Static(ip) => write!(f, "static:{ip}"),
        }
    }
}

/// RFC 8599 push: how the operator's push gateway wakes this phone, sent as
/// `pn-provider`, `pn-prid` and `pn-param` on the REGISTER's Contact URI. The
/// switch, finding the flow gone when a call comes, has the gateway push the
/// phone; the application then calls [`crate::AgentHandle::push_received`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushParams {
    /// `pn-provider`: the push service (`apns`, `fcm`…).
    pub provider: String,
    /// `pn-prid`: the device's token at that service.
    pub prid: String,
    /// `pn-param`: what else the service needs (APNs: `TEAMID.bundle.voip`).
    pub param: Option<String>,
}

impl PushParams {
    /// The longest value taken (the switch takes no more).
    pub const MAX_VALUE: usize = 1024;

    /// Checked: provider and prid not empty, every value at most
    /// [`PushParams::MAX_VALUE`] bytes of printable ASCII (any of it may be
    /// escaped on the wire; none is taken as a URL or run).
    pub fn new(provider: impl Into<String>, prid: impl Into<String>, param: Option<String>) -> Result<Self, Error> {
        let p = PushParams { provider: provider.into(), prid: prid.into(), param: param.filter(|p| !p.is_empty()) };
        for (name, v) in [("pn-provider", Some(&p.provider)), ("pn-prid", Some(&p.prid)), ("pn-param", p.param.as_ref())] {
            let Some(v) = v else { continue };
            if v.is_empty() || v.len() > Self::MAX_VALUE || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::Config(format!("{name} {v:?}: 1 to {} printable ASCII characters", Self::MAX_VALUE)));
            }
        }
        Ok(p)
    }

    /// The Contact URI parameters: `;pn-provider=…;pn-prid=…[;pn-param=…]`.
    pub fn uri_params(&self) -> String {
        let mut out = format!(";pn-provider={};pn-prid={}", escape(&self.provider), escape(&self.prid));
        if let Some(param) = &self.param {
            out.push_str(";pn-param=");
            out.push_str(&escape(param));
        }
        out
    }
}

/// A value as a SIP URI parameter (RFC 3261 §25.1 `paramchar`): unreserved
/// and param-unreserved characters as they are, the rest `%XX`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/:&+$".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 5626 §4.5 back-off: after `n` consecutive failures wait a random time
/// between 50% and 100% of `min(max, base * 2^n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// `base-time`. RFC 5626 suggests 30 s when every flow has failed; the
    /// default here is 4 s, so a phone is back 4–8 s after its switch restarts
    /// instead of 30–60 s. The random half-spread and the doubling still keep a
    /// restarted switch from a synchronised stampede (its registrar takes
    /// thousands of REGISTERs per second); raise it for very large fleets.
    pub base: Duration,
    /// `max-time`: 1800 s.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_secs(4), max: Duration::from_secs(1800) }
    }
}

impl Backoff {
    /// The upper bound of the wait after `failures` consecutive failures.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The wait after `failures` consecutive failures; `r` is uniform in [0, 1).
    pub fn wait(&self, failures: u32, r: f64) -> Duration {
        self.ceiling(failures).mul_f64(0.5 + 0.5 * r.clamp(0.0, 1.0))
    }
}

/// Whether calls' media is SRTP: SDES (RFC 4568), the keys in the SDP, which
/// rides the flow. Over plain TCP anyone on the path could read them, so SRTP
/// is offered only when the flow is TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// Plain RTP only: offers are `RTP/AVP`, an `RTP/SAVP` offer is refused (488).
    Off,
    /// SRTP when it can be had, plain RTP when not (the default): over a TLS
    /// flow our offers are `RTP/SAVP`; a peer that declines it (a plain answer,
    /// or a 488 to the offer, retried once with a plain offer) gets plain RTP.
    /// Over plain TCP our offers are plain. An `RTP/SAVP` offer is answered
    /// with SRTP on any flow (the peer chose to send its key).
    #[default]
    Preferred,
    /// SRTP or no call: offers are `RTP/SAVP`, and calls need a TLS flow
    /// ([`crate::CallError::SrtpNeedsTls`] over plain TCP); an answer without
    /// SRTP ends the call (BYE, [`crate::MediaEvent::Failed`]); an offer
    /// without SRTP is refused 488.
    Required,
}

impl FromStr for SrtpPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(SrtpPolicy::Off),
            "preferred" => Ok(SrtpPolicy::Preferred),
            "required" => Ok(SrtpPolicy::Required),
            _ => Err(Error::Config(format!("SRTP policy {s:?}: expected off, preferred or required"))),
        }
    }
}

/// The seed of the generator SRTP master keys are drawn from (ChaCha, a
/// cryptographically secure generator): 32 bytes from the OS by default. Its
/// `Debug` shows none of them. Tests fix it to repeat themselves.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySeed(pub [u8; 32]);

impl KeySeed {
    /// A seed from the operating system's randomness.
    pub fn from_os() -> KeySeed {
        KeySeed(rand::random())
    }
}

impl fmt::Debug for KeySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySeed(..)")
    }
}

/// Everything the sans-IO core needs; see [`crate::AgentBuilder`] for the
/// defaults. Made with [`UaConfig::new`], then adjusted field by field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UaConfig {
    /// The number (DN) registered: the user part of From, To and Contact.
    pub number: String,
    /// The digest password.
    pub password: String,
    /// The SIP domain: Request-URI of the REGISTER and host of From/To.
    pub domain: String,
    /// The flow's transport (Via, Contact `transport=`).
    pub transport: FlowTransport,
    /// Overrides the MAC found on the flow's interface.
    pub mac: Option<sipcore::headers::MacAddr>,
    /// `+sip.instance` URN (`urn:uuid:...`); derived from the MAC when absent.
    pub instance: Option<String>,
    /// X-Bearer-Port: the local UDP port for bearer (RTP).
    pub bearer_port: Option<u16>,
    /// The bearer transport calls offer: UDP, or TCP with RFC 4571 framing.
    pub bearer_transport: media::BearerTransport,
    /// Whether calls' media is SRTP (SDES over a TLS flow); see [`SrtpPolicy`].
    pub srtp: SrtpPolicy,
    /// Seeds the generator of SRTP master keys (from the OS unless a test fixes it).
    pub srtp_key_seed: KeySeed,
    /// Where the public IP comes from.
    pub public_ip: PublicIpSource,
    /// How often the public IP is checked (the patent's example: 515 s).
    pub check_interval: Duration,
    /// Registration lifetime asked for.
    pub expires: u32,
    /// RFC 5626 §4.5 back-off.
    pub backoff: Backoff,
    /// RFC 5626 §4.4.1: no pong within this long means the flow failed.
    pub pong_timeout: Duration,
    /// Keep-alive interval when the registrar requires outbound but sends no Flow-Timer.
    pub default_flow_timer: Duration,
    /// How long an answered call outlives its flow, waiting for a new one to
    /// re-INVITE it on (a NAT that changed its public address, a switch
    /// restart). The switch's media timeout (30 s by default) is the other
    /// side's limit, so waiting longer than that buys nothing.
    pub call_rejoin_grace: Duration,
    /// How long `stop` waits for the unregistering REGISTER's answer.
    pub unregister_timeout: Duration,
    /// After a 403/404, try again after this long; `None`: never on its own.
    pub retry_after_rejection: Option<Duration>,
    /// The User-Agent header.
    pub user_agent: String,
    /// RFC 8599 push parameters for the REGISTER's Contact; none by default.
    pub push: Option<PushParams>,
    /// Seeds the core's randomness (jitter, tags, branches); tests fix it.
    pub seed: u64,
    /// Transaction timers (T1 sets Timer F: 64 × T1).
    pub timers: sipcore::transaction::TimerConfig,
}

impl UaConfig {
    /// A configuration with the documented defaults.
    pub fn new(number: impl Into<String>, password: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            number: number.into(),
            password: password.into(),
            domain: domain.into(),
            transport: FlowTransport::Tcp,
            mac: None,
            instance: None,
            bearer_port: None,
            bearer_transport: media::BearerTransport::Udp,
            srtp: SrtpPolicy::Preferred,
            srtp_key_seed: KeySeed::from_os(),
            public_ip: PublicIpSource::Via,
            check_interval: Duration::from_secs(515),
            expires: 600,
            backoff: Backoff::default(),
            pong_timeout: Duration::from_secs(10),
            default_flow_timer: Duration::from_secs(120),
            call_rejoin_grace: Duration::from_secs(30),
            unregister_timeout: Duration::from_secs(5),
            retry_after_rejection: None,
            user_agent: concat!("roamswitch-agent/", env!("CARGO_PKG_VERSION")).to_owned(),
            push: None,
            seed: 0x5eed,
            timers: sipcore::transaction::TimerConfig::default(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn switch_addresses() {
        let a: SwitchAddr = "tcp:127.0.0.1:5070".parse().unwrap();
        assert_eq!((a.transport, a.host.as_str(), a.port), (FlowTransport::Tcp, "127.0.0.1", 5070));
        let b: SwitchAddr = "tls:[::1]".parse().unwrap();
        assert_eq!((b.transport, b.host.as_str(), b.port), (FlowTransport::Tls, "::1", 5061));
        assert_eq!(b.to_string(), "tls:[::1]:5061");
        assert_eq!("TCP:switch.example.net".parse::<SwitchAddr>().unwrap().port, 5060);
        for bad in ["udp:1.2.3.4:5060", "tcp:", "tcp:host:0", "tcp:host:99999", "tcp:[::1", "tcp:a b:5060", "1.2.3.4"] {
            assert!(bad.parse::<SwitchAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn public_ip_sources() {
        assert_eq!("via".parse::<PublicIpSource>().unwrap(), PublicIpSource::Via);
        assert_eq!("static:198.51.100.2".parse::<PublicIpSource>().unwrap(), PublicIpSource::Static("198.51.100.2".parse().unwrap()));
        assert_eq!(
            "stun:stun.example.net:3479".parse::<PublicIpSource>().unwrap(),
            PublicIpSource::Stun { host: "stun.example.net".into(), port: 3479 }
        );
        assert_eq!(
            "stun:stun.example.net".parse::<PublicIpSource>().unwrap(),
            PublicIpSource::Stun { host: "stun.example.net".into(), port: 3478 }
        );
        let h: PublicIpSource = r"http:http://192.168.1.1/status WAN IP: (\S+)".parse().unwrap();
        assert_eq!(h, PublicIpSource::Http { url: "http://192.168.1.1/status".into(), pattern: Some(r"WAN IP: (\S+)".into()) });
        assert_eq!(h.to_string(), r"http:http://192.168.1.1/status WAN IP: (\S+)");
        for bad in ["static:nope", "http:ftp://x/", "http:http://x/ (", "carrier-pigeon", "stun:"] {
            assert!(bad.parse::<PublicIpSource>().is_err(), "{bad}");
        }
    }

    #[test]
    fn push_parameters_are_checked_and_escaped() {
        let p = PushParams::new("apns", "00fc13ad", Some("ABCD1234.org.example.voip".into())).unwrap();
        assert_eq!(p.uri_params(), ";pn-provider=apns;pn-prid=00fc13ad;pn-param=ABCD1234.org.example.voip");
        let p = PushParams::new("fcm", "a;b=c%d", Some(String::new())).unwrap();
        assert_eq!((p.uri_params().as_str(), p.param), (";pn-provider=fcm;pn-prid=a%3Bb%3Dc%25d", None));
        for (provider, prid) in [("", "x"), ("apns", ""), ("apns", "two words"), ("apns", "é")] {
            assert!(PushParams::new(provider, prid, None).is_err(), "{provider:?} {prid:?}");
        }
        assert!(PushParams::new("fcm", "a".repeat(PushParams::MAX_VALUE + 1), None).is_err());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_secs(4));
        assert_eq!(b.ceiling(1), Duration::from_secs(8));
        assert_eq!(b.ceiling(8), Duration::from_secs(1024));
        assert_eq!(b.ceiling(9), Duration::from_secs(1800));
        assert_eq!(b.ceiling(200), Duration::from_secs(1800));
        assert_eq!(b.wait(1, 0.0), Duration::from_secs(4));
        assert_eq!(b.wait(1, 1.0), Duration::from_secs(8));
    }
}
