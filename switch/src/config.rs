//! The switch's configuration: a TOML file (`--config`) whose every key has a
//! default, with command-line flags applied on top.

use crate::Error;
use crate::abuse::AbuseConfig;
use crate::listen::ListenSpec;
use crate::store::{RedisTarget, StoreTarget, validate};
use serde::Deserialize;
use sipcore::auth::Algorithm;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything `switch run` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwitchConfig {
    /// `udp:IP:PORT`, `tcp:IP:PORT`, `tls:IP:PORT`. Unset: TCP and UDP on
    /// 5060 and TLS on 5061, on every address.
    pub listen: Vec<String>,
    pub data_dir: PathBuf,
    /// The SIP domain and digest realm.
    pub domain: String,
    /// The relay address phones send their bearer legs to (X-Bearer-Address);
    /// unset: the local address the phone's flow arrived on.
    pub relay_address: Option<IpAddr>,
    /// The certificate chain and key `tls:` listeners serve; both or neither.
    /// Neither: the switch's own self-signed one in the data dir ([`crate::tls`]).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub registrar: RegistrarSettings,
    pub abuse: AbuseSettings,
    pub limits: LimitSettings,
    pub calls: CallSettings,
    pub log: LogSettings,
    pub server: ServerSettings,
    pub dns: DnsSettings,
    pub stun: StunSettings,
    pub store: StoreSettings,
    /// Several nodes on one Redis: the token secret, this node's address.
    pub cluster: crate::cluster::ClusterSettings,
    /// The admin listener (`/metrics`, `/healthz`): off unless configured.
    pub admin: crate::admin::AdminSettings,
    /// SIP tracing to a HEP v3 collector: off unless configured.
    pub hep: crate::hep::HepSettings,
    /// Mobile push (RFC 8599) through the operator's gateway: off unless configured.
    pub push: crate::pn::PushSettings,
}

/// Where subscribers, bindings and call records live: the SQLite file in the
/// data dir (the default), or Redis shared by several switch nodes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `redis://[:PASSWORD@]HOST:PORT` (one server) or
    /// `redis-cluster://[:PASSWORD@]HOST:PORT,HOST:PORT,...` (Cluster seeds).
    pub redis: Option<String>,
    /// This switch's name in every binding and call record it writes to
    /// Redis; unset: the host name.
    pub node_id: Option<String>,
    /// A REGISTER is answered only once this many Redis replicas hold its
    /// record too (`WAIT`); 0 (the default): once the master has it.
    pub wait_replicas: u32,
    /// SQLite only: when commits are fsynced (`normal`, the default; `full`;
    /// `off` for benchmarks). See [`crate::store::Synchronous`].
    pub sqlite_synchronous: crate::store::Synchronous,
}

impl StoreSettings {
    /// The store to open: Redis when configured, else `<data_dir>/switch.db`.
    pub fn target(&self, data_dir: &Path) -> crate::Result<StoreTarget> {
        Ok(match &self.redis {
            Some(url) => StoreTarget::Redis(url.parse::<RedisTarget>()?),
            None => StoreTarget::Dir(data_dir.to_path_buf()),
        })
    }

    /// The node id, checked: configured, or the host name.
    pub fn node_id(&self) -> crate::Result<String> {
        let node = match &self.node_id {
            Some(n) => n.clone(),
            None => host_name(),
        };
        validate::node(&node)?;
        Ok(node)
    }
}

/// The kernel's host name (the default node id); `switch` if it cannot be read.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switch".into())
}

/// STUN servers of their own (RFC 8489 Binding). The SIP UDP listeners answer
/// STUN anyway (RFC 5626 §4.4.2); these serve phones told to use a STUN
/// server on a port apart (3478 by convention).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StunSettings {
    /// `udp:IP:PORT` each; unset (the default): none.
    pub listen: Vec<String>,
}

impl StunSettings {
    /// The addresses to answer STUN on, checked.
    pub fn listen_addrs(&self) -> crate::Result<Vec<std::net::SocketAddr>> {
        self.listen.iter().map(|s| ListenSpec::stun(s)).collect()
    }
}

/// The embedded DNS server ([`crate::dns`]): off unless `listen` names an address.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsSettings {
    /// `udp:IP:PORT` and `tcp:IP:PORT`; empty (the default): no DNS server.
    pub listen: Vec<String>,
    /// The zone of the switch's own records and the RL records; unset: the domain.
    pub zone: Option<String>,
    /// Where ENUM names live (RFC 6116).
    pub enum_suffix: String,
    /// The longest TTL any answer carries, seconds.
    pub max_ttl: u32,
    /// CIDRs allowed to read RL records (MACs, private addresses); others get REFUSED.
    pub rl_allow: Vec<String>,
    /// `node=` of the RL record: which switch holds the flow; unset: the host name `sip.ZONE`.
    pub node: Option<String>,
    /// TCP connections open at once, in all and from one address.
    pub tcp_connections: usize,
    pub tcp_connections_per_ip: usize,
    /// Push mode: RFC 2136 UPDATEs into the operator's own DNS (`[dns.update]`); unset: none.
    pub update: Option<crate::dns::push::UpdateSettings>,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            zone: None,
            enum_suffix: "e164.arpa.".into(),
            max_ttl: 30,
            rl_allow: vec!["127.0.0.0/8".into(), "::1/128".into()],
            node: None,
            tcp_connections: 256,
            tcp_connections_per_ip: 16,
            update: None,
        }
    }
}

impl DnsSettings {
    /// The listen specs, checked: UDP and TCP only.
    pub fn listen_specs(&self) -> crate::Result<Vec<ListenSpec>> {
        self.listen
            .iter()
            .map(|s| {
                let spec = s.parse::<ListenSpec>()?;
                ensure(spec.transport != sipcore::transport::TransportKind::Tls, || {
                    format!("dns.listen {s:?}: DNS listens on udp: or tcp:")
                })?;
                Ok(spec)
            })
            .collect()
    }

    /// `rl_allow` parsed.
    pub fn rl_allow(&self) -> crate::Result<Vec<ipnet::IpNet>> {
        self.rl_allow
            .iter()
            .map(|c| {
                c.trim().parse::<ipnet::IpNet>().map_err(|e| Error::Config(format!("dns.rl_allow {c:?}: {e} (a CIDR, e.g. 10.0.0.0/8)")))
            })
            .collect()
    }

    /// The zone (`domain` when unset) and the ENUM suffix as DNS names.
    pub fn names(&self, domain: &str) -> crate::Result<(hickory_proto::rr::Name, hickory_proto::rr::Name)> {
        let name = |key: &str, s: &str| {
            let mut n = hickory_proto::rr::Name::from_ascii(s).map_err(|e| Error::Config(format!("dns.{key} {s:?}: {e}")))?;
            n.set_fqdn(true);
            ensure(!n.is_root(), || format!("dns.{key} must not be the root"))?;
            Ok::<_, Error>(n.to_lowercase())
        };
        Ok((name("zone", self.zone.as_deref().unwrap_or(domain))?, name("enum_suffix", &self.enum_suffix)?))
    }

    /// The TCP listeners' limits.
    pub fn tcp_limits(&self) -> crate::dns::tcp::TcpLimits {
        crate::dns::tcp::TcpLimits {
            total: self.tcp_connections,
            per_ip: self.tcp_connections_per_ip,
            timeout: crate::dns::server::TCP_TIMEOUT,
        }
    }

    /// Refuses settings that cannot work.
    pub fn validate(&self, domain: &str) -> crate::Result<()> {
        self.listen_specs()?;
        self.rl_allow()?;
        let (zone, enum_suffix) = self.names(domain)?;
        if let Some(update) = &self.update {
            update.validate(&enum_suffix, &zone)?;
        }
        ensure(self.max_ttl <= 86_400, || "dns.max_ttl must be at most 86400 seconds".into())?;
        ensure(self.tcp_connections > 0 && self.tcp_connections_per_ip > 0, || {
            "dns.tcp_connections and dns.tcp_connections_per_ip must be positive".into()
        })?;
        Ok(())
    }
}

/// What the switch says about itself on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The `Server` header of every response; unset (the default): none.
    pub header: Option<String>,
}

impl ServerSettings {
    /// The header value, checked: printable text on one line.
    pub fn header(&self) -> crate::Result<Option<String>> {
        match self.header.as_deref() {
            None => Ok(None),
            Some(h) => {
                ensure(!h.trim().is_empty() && !h.chars().any(char::is_control), || {
                    format!("server.header {h:?}: one line of printable text, not empty")
                })?;
                Ok(Some(h.trim().to_owned()))
            }
        }
    }
}

/// What the switch's log (stderr) looks like.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// `text` for people, `json` (one object per line) for programs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The B2BUA and its media relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallSettings {
    /// Sources whose INVITEs are accepted without digest (other switches, gateways).
    pub trusted_peers: Vec<IpAddr>,
    /// Seconds the callee may ring before the call is cancelled (408 to the caller).
    pub ring_time: u64,
    /// Seconds without RTP on an answered call before both legs get a BYE.
    pub media_timeout: u64,
    /// Relay UDP/TCP ports, `FIRST-LAST` (even RTP, odd RTCP).
    pub relay_ports: String,
    /// Threads relaying UDP media, apart from the ones serving SIP (one is plenty
    /// for thousands of streams; more only once one core is saturated).
    pub relay_threads: usize,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self { trusted_peers: Vec::new(), ring_time: 60, media_timeout: 30, relay_ports: "20000-29999".into(), relay_threads: 1 }
    }
}

impl CallSettings {
    /// `relay_ports` parsed: two ports, first <= last, room for one RTP/RTCP pair.
    pub fn relay_port_range(&self) -> crate::Result<std::ops::RangeInclusive<u16>> {
        parse_port_range(&self.relay_ports)
    }
}

/// `FIRST-LAST`, e.g. `20000-29999`.
pub fn parse_port_range(s: &str) -> crate::Result<std::ops::RangeInclusive<u16>> {
    let bad = || Error::Config(format!("relay ports {s:?}: expected FIRST-LAST, e.g. 20000-29999, with room for an even/odd pair"));
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a == 0 || a >= b {
        return Err(bad());
    }
    Ok(a..=b)
}

/// Transport limits.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// TCP/TLS connections one source IP may hold at once (a NAT hides a whole
    /// office behind one address, so this is generous).
    pub max_connections_per_ip: usize,
    /// Largest SIP message (and header block) accepted on a stream, bytes.
    pub max_message_bytes: usize,
    /// Seconds a stream message may take from its first byte to its last,
    /// and a new connection from its accept to its first message (TLS
    /// handshake included): slow and half-open clients are closed then. An
    /// idle flow between messages has no such limit.
    pub header_timeout: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self { max_connections_per_ip: 2048, max_message_bytes: 64 * 1024, header_timeout: 10 }
    }
}

impl LimitSettings {
    /// The transport configuration these limits give.
    pub fn transport(self) -> sipcore::transport::TransportConfig {
        let framer = sipcore::framing::FramerConfig { max_header_bytes: self.max_message_bytes, max_message_bytes: self.max_message_bytes };
        sipcore::transport::TransportConfig {
            framer,
            max_connections_per_ip: self.max_connections_per_ip,
            header_timeout: Duration::from_secs(self.header_timeout),
            ..Default::default()
        }
    }
}

/// The switch's kernel keep-alive probes: a dead path is found 9 s after the
/// last thing heard, before the agent's default (12 s) finds it, so a lost
/// mapping routes the number home first and the phone re-registers after.
pub const TCP_KEEPALIVE: sipcore::transport::TcpKeepalive =
    sipcore::transport::TcpKeepalive { idle: std::time::Duration::from_secs(3), interval: std::time::Duration::from_secs(2), count: 3 };

/// Registration timing and digest policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrarSettings {
    /// Flow-Timer sent to outbound clients (RFC 5626 §4.4.1), seconds.
    pub flow_timer: u32,
    /// Extra silence tolerated past Flow-Timer before a flow is dead, seconds.
    pub flow_grace: u32,
    /// Kernel keep-alive probes on every TCP/TLS flow, `IDLE,INTERVAL,COUNT`
    /// (seconds, seconds, probes), or `off`: a silently dead path (a NAT that
    /// lost its mapping) is found `IDLE + INTERVAL × COUNT` after the last
    /// thing heard, without waiting for Flow-Timer + grace.
    pub tcp_keepalive: String,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    /// Digest nonce lifetime, seconds.
    pub nonce_lifetime: u64,
    /// Digest algorithms offered, most preferred first (RFC 8760 §2.4 order).
    /// MD5 leads by default because SIPp and many phones answer only the first
    /// challenge and know only MD5; put "SHA-256" first where all phones can.
    pub digest_algorithms: Vec<String>,
}

/// Password guessing: the per-source cool-down and the per-number lock
/// (see [`crate::abuse`]).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbuseSettings {
    pub max_failures: u32,
    pub window: u64,
    pub cooldown: u64,
    pub number_max_failures: u32,
    pub number_lock: u64,
    pub number_lock_max: u64,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        Self {
            listen: vec!["tcp:0.0.0.0:5060".into(), "udp:0.0.0.0:5060".into(), "tls:0.0.0.0:5061".into()],
            data_dir: PathBuf::from("./switch-data"),
            domain: crate::defaults::DEFAULT_DOMAIN.into(),
            relay_address: None,
            tls_cert: None,
            tls_key: None,
            registrar: RegistrarSettings::default(),
            abuse: AbuseSettings::default(),
            limits: LimitSettings::default(),
            calls: CallSettings::default(),
            log: LogSettings::default(),
            server: ServerSettings::default(),
            dns: DnsSettings::default(),
            stun: StunSettings::default(),
            store: StoreSettings::default(),
            cluster: crate::cluster::ClusterSettings::default(),
            admin: crate::admin::AdminSettings::default(),
            hep: crate::hep::HepSettings::default(),
            push: crate::pn::PushSettings::default(),
        }
    }
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        Self {
            // RFC 5626's TCP keep-alive period: a dead path is the kernel probes'
            // job (tcp_keepalive, 9 s); the CRLF pings only catch a hung peer
            // process, and every one wakes an idle phone twice.
            flow_timer: 120,
            flow_grace: 10,
            tcp_keepalive: TCP_KEEPALIVE.to_string(),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 600,
            nonce_lifetime: 300,
            digest_algorithms: vec!["MD5".into(), "SHA-256".into()],
        }
    }
}

impl RegistrarSettings {
    /// `tcp_keepalive` parsed (`None`: off).
    pub fn tcp_keepalive(&self) -> crate::Result<Option<sipcore::transport::TcpKeepalive>> {
        match self.tcp_keepalive.trim() {
            "off" => Ok(None),
            spec => {
                sipcore::transport::TcpKeepalive::parse(spec).map(Some).map_err(|e| Error::Config(format!("registrar.tcp_keepalive {e}")))
            }
        }
    }

    /// The digest algorithms, parsed; unknown names and an empty list are errors.
    pub fn digest_algorithms(&self) -> crate::Result<Vec<Algorithm>> {
        ensure(!self.digest_algorithms.is_empty(), || "registrar.digest_algorithms must name at least one algorithm".into())?;
        self.digest_algorithms
            .iter()
            .map(|name| {
                Algorithm::from_token(name.trim()).ok_or_else(|| {
                    Error::Config(format!("unknown digest algorithm {name:?} (SHA-512-256, SHA-256, MD5, or one of those with -sess)"))
                })
            })
            .collect()
    }
}

impl Default for AbuseSettings {
    fn default() -> Self {
        let d = AbuseConfig::default();
        Self {
            max_failures: d.max_failures,
            window: d.window,
            cooldown: d.cooldown,
            number_max_failures: d.number_max_failures,
            number_lock: d.number_lock,
            number_lock_max: d.number_lock_max,
        }
    }
}

impl AbuseSettings {
    /// The guard's configuration, checked: thresholds of at least one, a lock
    /// of at least a second and no longer than its maximum.
    pub fn to_config(self) -> crate::Result<AbuseConfig> {
        ensure(self.max_failures >= 1 && self.number_max_failures >= 1, || {
            "abuse.max_failures and abuse.number_max_failures must be at least 1".into()
        })?;
        ensure(self.number_lock >= 1 && self.number_lock <= self.number_lock_max, || {
            format!("abuse.number_lock ({}) must be between 1 and abuse.number_lock_max ({})", self.number_lock, self.number_lock_max)
        })?;
        Ok(AbuseConfig {
            max_failures: self.max_failures,
            window: self.window,
            cooldown: self.cooldown,
            number_max_failures: self.number_max_failures,
            number_lock: self.number_lock,
            number_lock_max: self.number_lock_max,
            ..AbuseConfig::default()
        })
    }
}

/// `Err(Error::Config(why()))` unless `ok`.
fn ensure(ok: bool, why: impl FnOnce() -> String) -> crate::Result<()> {
    if ok { Ok(()) } else { Err(Error::Config(why())) }
}

impl SwitchConfig {
    /// Reads a TOML file; missing keys keep their defaults, unknown keys are errors.
    pub fn from_file(path: &Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("reading {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// The listen specs, checked.
    pub fn listen_specs(&self) -> crate::Result<Vec<ListenSpec>> {
        self.listen.iter().map(|s| s.parse::<ListenSpec>()).collect()
    }

    /// What `tls:` listeners serve: the configured certificate, or the
    /// switch's own in the data dir (generated on the first start).
    pub fn server_cert(&self) -> crate::Result<crate::tls::ServerCert> {
        let configured = self.tls_cert.as_deref().zip(self.tls_key.as_deref());
        crate::tls::server_cert(configured, &self.data_dir, &self.domain)
    }

    /// The transport's settings: the limits and the keep-alive probes.
    pub fn transport(&self) -> crate::Result<sipcore::transport::TransportConfig> {
        Ok(sipcore::transport::TransportConfig { tcp_keepalive: self.registrar.tcp_keepalive()?, ..self.limits.transport() })
    }

    /// The location table's settings.
    pub fn location(&self) -> crate::location::LocationConfig {
        let r = &self.registrar;
        crate::location::LocationConfig {
            flow_timer: r.flow_timer,
            grace: r.flow_grace,
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
            ..crate::location::LocationConfig::default()
        }
    }

    /// What the switch core is built with; `udp` are the bound UDP
    /// listeners, `local_ip` the driver's routing lookup.
    pub fn core(&self, udp: Vec<sipcore::transport::Flow>, local_ip: crate::core::LocalIp) -> crate::Result<crate::core::CoreConfig> {
        let timers = sipcore::transaction::TimerConfig::default();
        Ok(crate::core::CoreConfig {
            registrar: crate::registrar::RegistrarConfig {
                realm: self.domain.clone(),
                nonce_lifetime: Duration::from_secs(self.registrar.nonce_lifetime),
                digest_algorithms: self.registrar.digest_algorithms()?,
                relay_address: self.relay_address,
                location: self.location(),
                abuse: self.abuse.to_config()?,
            },
            b2bua: crate::b2bua::B2buaConfig {
                domain: self.domain.clone(),
                ring_time: Duration::from_secs(self.calls.ring_time),
                t1: timers.t1,
                t2: timers.t2,
            },
            timers,
            trusted_peers: self.calls.trusted_peers.clone(),
            udp,
            local_ip,
            server_header: self.server.header()?,
            cluster: None,
            push_hold: self.push.hold(),
        })
    }

    /// The media relay's settings. It binds the wildcard of the relay
    /// address's family: `relay_address` may be a public address the host
    /// does not have (1:1 NAT), so it is only advertised.
    pub fn relay(&self) -> crate::Result<media::relay::RelayConfig> {
        Ok(media::relay::RelayConfig {
            bind: match self.relay_address {
                Some(IpAddr::V6(_)) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                _ => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            },
            ports: self.calls.relay_port_range()?,
            media_timeout: Duration::from_secs(self.calls.media_timeout),
            threads: self.calls.relay_threads,
        })
    }

    /// What the DNS server answers with: `sip` the bound SIP listeners,
    /// `dns` the bound DNS ones, `serial` the SOA serial.
    pub fn dns(&self, sip: &[ListenSpec], dns: &[ListenSpec], serial: u32) -> crate::Result<crate::dns::DnsConfig> {
        let (zone, enum_suffix) = self.dns.names(&self.domain)?;
        let mut host_ips: Vec<IpAddr> = Vec::new();
        for ip in self.relay_address.into_iter().chain(sip.iter().chain(dns).map(|l| l.addr.ip())) {
            if !ip.is_unspecified() && !host_ips.contains(&ip) {
                host_ips.push(ip);
            }
        }
        let mut cfg = crate::dns::DnsConfig {
            domain: self.domain.clone(),
            zone,
            enum_suffix,
            max_ttl: self.dns.max_ttl,
            rl_allow: self.dns.rl_allow()?,
            node: String::new(),
            sip: sip.to_vec(),
            host_ips,
            serial,
        };
        cfg.node = self.dns.node.clone().unwrap_or_else(|| cfg.host().to_string().trim_end_matches('.').to_owned());
        Ok(cfg)
    }

    /// `[dns.update]` resolved (its secret read), if push mode is on.
    pub fn push(&self) -> crate::Result<Option<crate::dns::push::PushConfig>> {
        let Some(update) = &self.dns.update else { return Ok(None) };
        let (zone, enum_suffix) = self.dns.names(&self.domain)?;
        update.resolve(&enum_suffix, &zone).map(Some)
    }

    /// Refuses settings that cannot work.
    pub fn validate(&self) -> crate::Result<()> {
        let r = &self.registrar;
        ensure(r.min_expires <= r.max_expires, || {
            format!("registrar.min_expires ({}) is above max_expires ({})", r.min_expires, r.max_expires)
        })?;
        ensure(r.flow_timer > 0, || "registrar.flow_timer must be positive".into())?;
        ensure(!self.domain.is_empty(), || "domain must not be empty".into())?;
        self.abuse.to_config()?;
        self.server.header()?;
        ensure(self.limits.max_connections_per_ip > 0, || "limits.max_connections_per_ip must be positive".into())?;
        ensure(self.limits.max_message_bytes >= 1024, || "limits.max_message_bytes must be at least 1024".into())?;
        ensure((1..=3600).contains(&self.limits.header_timeout), || "limits.header_timeout must be 1 to 3600 seconds".into())?;
        ensure(self.tls_cert.is_some() == self.tls_key.is_some(), || {
            "tls_cert and tls_key go together (neither: a self-signed certificate is generated into the data dir)".into()
        })?;
        self.listen_specs()?;
        self.stun.listen_addrs()?;
        self.admin.validate()?;
        self.hep.collector()?;
        self.push.validate()?;
        self.registrar.digest_algorithms()?;
        self.registrar.tcp_keepalive()?;
        self.calls.relay_port_range()?;
        ensure(self.calls.ring_time > 0, || "calls.ring_time must be positive".into())?;
        ensure(self.calls.media_timeout > 0, || "calls.media_timeout must be positive".into())?;
        // More threads than cores only adds switching; 64 bounds a typo.
        ensure((1..=64).contains(&self.calls.relay_threads), || "calls.relay_threads must be 1 to 64".into())?;
        self.dns.validate(&self.domain)?;
        self.store.target(&self.data_dir)?;
        if self.store.redis.is_some() || self.store.node_id.is_some() {
            self.store.node_id()?;
        }
        self.cluster.validate(self.store.redis.is_some())?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_some_keys_and_rejects_unknown() {
        let c: SwitchConfig = toml::from_str("domain = \"example.net\"\n[registrar]\nflow_timer = 45\n").unwrap();
        assert_eq!(c.domain, "example.net");
        assert_eq!(c.registrar.flow_timer, 45);
        assert_eq!(c.registrar.min_expires, 60);
        assert_eq!(c.listen, ["tcp:0.0.0.0:5060", "udp:0.0.0.0:5060", "tls:0.0.0.0:5061"], "the default listeners");
        assert_eq!(c.limits.max_connections_per_ip, 2048);
        assert_eq!(c.transport().unwrap().header_timeout, Duration::from_secs(10));
        assert!(toml::from_str::<SwitchConfig>("colour = 1").is_err());
        assert_eq!(c.transport().unwrap().tcp_keepalive, Some(TCP_KEEPALIVE));
        let off: SwitchConfig = toml::from_str("[registrar]\ntcp_keepalive = \"off\"\n").unwrap();
        assert_eq!(off.transport().unwrap().tcp_keepalive, None);
        let bad: SwitchConfig = toml::from_str("[registrar]\ntcp_keepalive = \"4,2\"\n").unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("tcp_keepalive"));
        let bad: SwitchConfig = toml::from_str("[registrar]\nmin_expires = 100\nmax_expires = 50\n").unwrap();
        assert!(bad.validate().is_err());
        let algs: SwitchConfig = toml::from_str("[registrar]\ndigest_algorithms = [\"SHA-256\"]\n").unwrap();
        assert_eq!(algs.registrar.digest_algorithms().unwrap(), [sipcore::auth::Algorithm::Sha256]);
        let none: SwitchConfig = toml::from_str("[registrar]\ndigest_algorithms = [\"ROT13\"]\n").unwrap();
        assert!(none.validate().is_err());
    }

    #[test]
    fn dns_section_is_off_by_default_and_checked() {
        let c = SwitchConfig::default();
        assert!(c.dns.listen_specs().unwrap().is_empty(), "no DNS unless configured");
        let sip: Vec<ListenSpec> = vec!["tcp:0.0.0.0:5060".parse().unwrap(), "udp:192.0.2.1:5060".parse().unwrap()];
        let dns = c.dns(&sip, &["udp:0.0.0.0:53".parse().unwrap()], 9).unwrap();
        assert_eq!(dns.zone.to_string(), "switch.local.", "the zone defaults to the domain");
        assert_eq!((dns.enum_suffix.to_string().as_str(), dns.max_ttl, dns.node.as_str()), ("e164.arpa.", 30, "sip.switch.local"));
        assert_eq!(dns.host_ips, ["192.0.2.1".parse::<IpAddr>().unwrap()], "wildcards name no address");
        assert!(dns.rl_allowed("127.0.0.1".parse().unwrap()) && dns.rl_allowed("::1".parse().unwrap()));
        assert!(!dns.rl_allowed("192.0.2.9".parse().unwrap()), "loopback only by default");
        let set: SwitchConfig = toml::from_str(
            "relay_address = \"203.0.113.5\"\n[dns]\nlisten = [\"tcp:127.0.0.1:0\"]\nzone = \"Voip.Example.NET\"\nrl_allow = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        set.validate().unwrap();
        let dns = set.dns(&sip, &set.dns.listen_specs().unwrap(), 9).unwrap();
        assert_eq!(dns.zone.to_string(), "voip.example.net.");
        assert_eq!(dns.host_ips, ["203.0.113.5", "192.0.2.1", "127.0.0.1"].map(|ip| ip.parse::<IpAddr>().unwrap()));
        assert!(dns.rl_allowed("10.1.2.3".parse().unwrap()) && !dns.rl_allowed("127.0.0.1".parse().unwrap()));
        for bad in [
            "[dns]\nlisten = [\"tls:127.0.0.1:53\"]",
            "[dns]\nrl_allow = [\"10.0.0.0/33\"]",
            "[dns]\nzone = \".\"",
            "[dns]\nmax_ttl = 100000",
            "[dns]\ntcp_connections_per_ip = 0",
        ] {
            let c: SwitchConfig = toml::from_str(bad).unwrap();
            assert!(c.validate().unwrap_err().to_string().contains("dns."), "{bad}");
        }
    }

    #[test]
    fn store_section_picks_sqlite_or_redis() {
        let c = SwitchConfig::default();
        assert_eq!(c.store.target(&c.data_dir).unwrap(), StoreTarget::Dir(c.data_dir.clone()), "SQLite unless told");
        let c: SwitchConfig =
            toml::from_str("[store]\nredis = \"redis-cluster://10.0.0.1:7000,10.0.0.2:7000\"\nnode_id = \"sw1\"\nwait_replicas = 1\n")
                .unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("secret_file"), "Redis without a cluster secret does not start: {err}");
        let mut c = c;
        c.cluster.secret_file = Some("/etc/switch/cluster.secret".into());
        c.validate().unwrap();
        let StoreTarget::Redis(target) = c.store.target(&c.data_dir).unwrap() else { panic!("not redis") };
        assert!(target.is_cluster());
        assert_eq!((c.store.node_id().unwrap().as_str(), c.store.wait_replicas), ("sw1", 1));
        let bad: SwitchConfig = toml::from_str("[store]\nredis = \"http://x\"\n").unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("bad redis URL"));
        let bad: SwitchConfig =
            toml::from_str("[store]\nredis = \"redis://127.0.0.1\"\nnode_id = \"a{b}\"\n[cluster]\nsecret_file = \"s\"\n").unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("bad node id"));
        assert!(!host_name().is_empty(), "the default node id");
    }

    #[test]
    fn calls_section_and_relay_ports() {
        let c: SwitchConfig =
            toml::from_str("[calls]\ntrusted_peers = [\"127.0.0.1\"]\nring_time = 5\nrelay_ports = \"30000-30009\"\n").unwrap();
        assert_eq!(c.calls.trusted_peers, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(c.calls.ring_time, 5);
        assert_eq!(c.calls.media_timeout, 30);
        assert_eq!(c.calls.relay_port_range().unwrap(), 30000..=30009);
        c.validate().unwrap();
        for bad in ["30000", "30009-30000", "0-10", "a-b", "30000-30000"] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
        assert!(toml::from_str::<SwitchConfig>("[calls]\nring = 1\n").is_err());
        assert_eq!((c.calls.relay_threads, c.relay().unwrap().threads), (1, 1), "one relay thread unless asked");
        let two: SwitchConfig = toml::from_str("[calls]\nrelay_threads = 2\n").unwrap();
        assert_eq!(two.relay().unwrap().threads, 2);
        for bad in [0, 65] {
            let c: SwitchConfig = toml::from_str(&format!("[calls]\nrelay_threads = {bad}\n")).unwrap();
            assert!(c.validate().is_err(), "{bad} relay threads");
        }
    }

    #[test]
    fn abuse_and_server_sections() {
        let d = SwitchConfig::default();
        assert_eq!(d.abuse.to_config().unwrap(), AbuseConfig::default());
        assert_eq!(d.server.header().unwrap(), None, "no Server header unless configured");
        let c: SwitchConfig = toml::from_str(
            "[abuse]\nnumber_max_failures = 3\nnumber_lock = 30\nnumber_lock_max = 600\n[server]\nheader = \"roamswitch\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        let abuse = c.abuse.to_config().unwrap();
        assert_eq!((abuse.number_max_failures, abuse.number_lock, abuse.number_lock_max, abuse.max_failures), (3, 30, 600, 5));
        assert_eq!(c.server.header().unwrap().as_deref(), Some("roamswitch"));
        for bad in [
            "[abuse]\nnumber_lock = 0\n",
            "[abuse]\nnumber_lock = 7200\n",
            "[abuse]\nmax_failures = 0\n",
            "[server]\nheader = \"a\\r\\nX-Evil: 1\"\n",
        ] {
            let c: SwitchConfig = toml::from_str(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        assert!(toml::from_str::<SwitchConfig>("[server]\nname = \"x\"\n").is_err());
    }

    #[test]
    fn stun_listeners_are_udp_and_off_by_default() {
        assert!(SwitchConfig::default().stun.listen.is_empty());
        let c: SwitchConfig = toml::from_str("[stun]\nlisten = [\"udp:127.0.0.1:3478\", \"udp:[::1]:0\"]\n").unwrap();
        assert_eq!(c.stun.listen_addrs().unwrap(), ["127.0.0.1:3478".parse().unwrap(), "[::1]:0".parse().unwrap()]);
        let tcp: SwitchConfig = toml::from_str("[stun]\nlisten = [\"tcp:127.0.0.1:3478\"]\n").unwrap();
        assert!(tcp.validate().is_err());
    }

    #[test]
    fn listeners_given_replace_the_defaults_and_tls_files_go_together() {
        let c: SwitchConfig = toml::from_str("listen = [\"tcp:127.0.0.1:0\"]\n").unwrap();
        assert_eq!(c.listen, ["tcp:127.0.0.1:0"], "listeners given are the only ones");
        c.validate().unwrap();
        for bad in ["tls_cert = \"c.pem\"\n", "tls_key = \"k.pem\"\n"] {
            let c: SwitchConfig = toml::from_str(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        let both: SwitchConfig = toml::from_str("tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n").unwrap();
        both.validate().unwrap();
    }

    #[test]
    fn header_timeout_is_set_and_checked() {
        let c: SwitchConfig = toml::from_str("[limits]\nheader_timeout = 3\n").unwrap();
        assert_eq!(c.transport().unwrap().header_timeout, Duration::from_secs(3));
        c.validate().unwrap();
        for bad in [0, 3601] {
            let c: SwitchConfig = toml::from_str(&format!("[limits]\nheader_timeout = {bad}\n")).unwrap();
            assert!(c.validate().unwrap_err().to_string().contains("header_timeout"), "{bad}");
        }
    }

    #[test]
    fn log_format_is_text_unless_json_is_asked() {
        assert_eq!(SwitchConfig::default().log.format, LogFormat::Text);
        let c: SwitchConfig = toml::from_str("[log]\nformat = \"json\"\n").unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert!(toml::from_str::<SwitchConfig>("[log]\nformat = \"xml\"\n").is_err());
    }

    #[test]
    fn digest_algorithms_parse_and_are_checked() {
        let d = SwitchConfig::default();
        assert_eq!(
            d.registrar.digest_algorithms().unwrap(),
            [Algorithm::Md5, Algorithm::Sha256],
            "MD5 leads for SIPp and first-challenge-only phones"
        );
        let c: SwitchConfig = toml::from_str("[registrar]\ndigest_algorithms = [\"md5\"]\n").unwrap();
        assert_eq!(c.registrar.digest_algorithms().unwrap(), [Algorithm::Md5]);
        for bad in ["[]", "[\"SHA-1\"]"] {
            let c: SwitchConfig = toml::from_str(&format!("[registrar]\ndigest_algorithms = {bad}\n")).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
    }
}
