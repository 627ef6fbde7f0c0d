//! `switch`: the softswitch binary. `run` serves; `subscriber` and
//! `registrations` provision and inspect the store (handlers in `cli/`).

mod cli;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use media::relay::Relay;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sipcore::transport::{Transport, TransportKind};
use std::path::PathBuf;
use std::process::ExitCode;
use switch::cluster::ClusterConfig;
use switch::config::{LogFormat, SwitchConfig};
use switch::listen::ListenSpec;
use switch::server::{Inputs, Server};
use switch::store::Backend;
use tracing::{info, warn};

#[derive(Parser)]
#[command(name = "switch", version, about = "SIP softswitch for phones behind NATs and firewalls they do not control")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the switch: listen for SIP and serve until SIGTERM or Ctrl-C.
    Run(Box<RunArgs>),
    /// Provision numbers: add, set, remove, list.
    #[command(subcommand)]
    Subscriber(cli::subscriber::SubscriberCommand),
    /// List the RL records: where each registered number is now.
    Registrations(cli::registrations::RegistrationsArgs),
    /// List the call records (CDRs): who called whom, the route taken, times, media counters.
    Calls(cli::calls::CallsArgs),
    /// Ask the running switch to send OPTIONS down a number's flow (is the phone reachable?).
    Probe(cli::probe::ProbeArgs),
    /// Ask the running switch where a call for a number would go now (its flow, or home and why).
    Route(cli::probe::RouteArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// TOML configuration file; flags given here override its keys.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to listen, as udp:IP:PORT, tcp:IP:PORT or tls:IP:PORT. Repeatable;
    /// given, these are the only listeners. Default: tcp:0.0.0.0:5060,
    /// udp:0.0.0.0:5060 and tls:0.0.0.0:5061.
    #[arg(long = "listen", value_name = "SPEC")]
    listen: Vec<ListenSpec>,
    /// Directory for the switch's state: the SQLite file lives here (created if
    /// missing). Default: ./switch-data
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// SIP domain, also the digest realm. Default: switch.local
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// Digest algorithms to challenge with, comma-separated, most preferred
    /// first (one WWW-Authenticate each). Default: MD5,SHA-256 — SIPp 3.6 and
    /// many phones answer only the first challenge and only MD5.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    digest_algorithms: Vec<String>,
    /// Address phones send their RTP to (X-Bearer-Address). Default: the local
    /// address each phone's flow arrived on.
    #[arg(long, value_name = "IP")]
    relay_address: Option<std::net::IpAddr>,
    /// UDP/TCP ports the media relay uses, FIRST-LAST (two per call leg).
    /// Default: 20000-29999
    #[arg(long, value_name = "FIRST-LAST")]
    relay_ports: Option<String>,
    /// TCP/TLS connections accepted from one source IP at once. Default: 2048
    #[arg(long, value_name = "N")]
    max_connections_per_ip: Option<usize>,
    /// TLS certificate chain (PEM) for tls: listeners, with --tls-key. Without
    /// both, tls: listeners serve a self-signed certificate generated into the
    /// data dir on the first start (then reused); its SHA-256 fingerprint is
    /// logged for phones to pin.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Answer STUN Binding requests (RFC 8489) on udp:IP:PORT, a STUN server
    /// apart from SIP (the SIP UDP listeners answer STUN too). Repeatable;
    /// also `[stun] listen = [...]` in the config file. Default: none.
    #[arg(long = "stun", value_name = "SPEC")]
    stun: Vec<ListenSpec>,
    /// Once every listener is bound, write their addresses to FILE, one
    /// `listening udp:|tcp:|tls:IP:PORT` line each (`listening stun:udp:IP:PORT`
    /// for --stun, `listening dns:udp:|tcp:IP:PORT` for --dns, `listening admin:tcp:IP:PORT` for --admin), as printed on stdout (written whole, then renamed into
    /// place). With port 0 in --listen, this is how a script or a test learns
    /// the port the system chose.
    #[arg(long, value_name = "FILE")]
    bound_file: Option<PathBuf>,
    /// Serve DNS (ENUM NAPTRs and RL records from the live registrations, and
    /// the switch's own RFC 3263 records) on udp:IP:PORT or tcp:IP:PORT.
    /// Repeatable; given, these replace `[dns] listen`. Default: no DNS.
    /// Listed in --bound-file as `listening dns:udp:IP:PORT`. Push mode (the
    /// same records sent to your own DNS as TSIG-signed RFC 2136 UPDATEs) is
    /// set in the config file only, so its secret never is on a command line:
    /// `[dns.update] server = "IP:PORT"`, `zone`, and `[dns.update.tsig_key]`
    /// `name`, `algorithm = "hmac-sha256"`, `secret_file` or `secret_env`.
    #[arg(long = "dns", value_name = "SPEC")]
    dns: Vec<ListenSpec>,
    /// Serve the admin HTTP listener (`/metrics` in the Prometheus text
    /// format, `/healthz`) on tcp:IP:PORT. Repeatable; given, these replace
    /// `[admin] listen`. Default: none. Off loopback, `[admin] token_file`
    /// (a bearer token for everything but /metrics and /healthz) is required.
    /// Listed in --bound-file as `listening admin:tcp:IP:PORT`.
    #[arg(long = "admin", value_name = "SPEC")]
    admin: Vec<ListenSpec>,
    /// How stderr's log lines look: `text` (default) or `json`, one object per
    /// line (`level`, `target`, `fields.message` and the event's fields) for
    /// programs to read. Also `[log] format` in the config file.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<LogFormatArg>,
    /// Keep subscribers, bindings and call records in Redis instead of the
    /// SQLite file: redis://[:PASSWORD@]HOST:PORT (one server) or
    /// redis-cluster://HOST:PORT,HOST:PORT,... (seed nodes of a Redis
    /// Cluster). Also `[store] redis` in the config file.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// This switch's name in the bindings and call records it writes to
    /// Redis. Default: the host name. Also `[store] node_id`.
    #[arg(long, value_name = "NAME")]
    node_id: Option<String>,
    /// Where the other nodes on the same Redis reach this one: tcp:IP:PORT.
    /// Default: the first TCP listener (which must then not be bound to the
    /// wildcard). Also `[cluster] node_address`.
    #[arg(long, value_name = "tcp:IP:PORT")]
    node_address: Option<String>,
    /// The secret every node on the same Redis shares (a file of at least 16
    /// bytes): calls forwarded between nodes carry tokens made with it.
    /// Required with Redis. Also `[cluster] secret_file`.
    #[arg(long, value_name = "FILE")]
    cluster_secret_file: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

impl RunArgs {
    /// The config file (or defaults) with the flags applied on top.
    fn into_config(self) -> Result<SwitchConfig> {
        let mut c = match &self.config {
            Some(path) => SwitchConfig::from_file(path)?,
            None => SwitchConfig::default(),
        };
        if !self.listen.is_empty() {
            c.listen = self.listen.iter().map(|l| l.to_string()).collect();
        }
        if !self.stun.is_empty() {
            c.stun.listen = self.stun.iter().map(|l| l.to_string()).collect();
        }
        if let Some(d) = self.data_dir {
            c.data_dir = d;
        }
        if let Some(d) = self.domain {
            c.domain = d;
        }
        if !self.digest_algorithms.is_empty() {
            c.registrar.digest_algorithms = self.digest_algorithms;
        }
        if self.relay_address.is_some() {
            c.relay_address = self.relay_address;
        }
        if let Some(p) = self.relay_ports {
            c.calls.relay_ports = p;
        }
        if let Some(n) = self.max_connections_per_ip {
            c.limits.max_connections_per_ip = n;
        }
        if self.tls_cert.is_some() {
            c.tls_cert = self.tls_cert;
        }
        if self.tls_key.is_some() {
            c.tls_key = self.tls_key;
        }
        if !self.dns.is_empty() {
            c.dns.listen = self.dns.iter().map(|l| l.to_string()).collect();
        }
        if !self.admin.is_empty() {
            c.admin.listen = self.admin.iter().map(|l| l.to_string()).collect();
        }
        if self.redis.is_some() {
            c.store.redis = self.redis;
        }
        if self.node_id.is_some() {
            c.store.node_id = self.node_id;
        }
        if self.node_address.is_some() {
            c.cluster.node_address = self.node_address;
        }
        if self.cluster_secret_file.is_some() {
            c.cluster.secret_file = self.cluster_secret_file;
        }
        if let Some(f) = self.log_format {
            c.log.format = match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            };
        }
        c.validate()?;
        Ok(c)
    }
}

/// Errors print as one line on stderr and exit 1 (clap's usage errors exit 2).
fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` picks its log format from its flags and config file, once read.
    if !matches!(cli.command, Command::Run(_)) {
        init_logging(LogFormat::Text);
    }
    let result = match cli.command {
        Command::Run(args) => {
            tokio::runtime::Runtime::new().context("starting the async runtime").and_then(|runtime| runtime.block_on(run(*args)))
        }
        Command::Subscriber(cmd) => cli::subscriber::run(cmd),
        Command::Registrations(args) => cli::registrations::run(args),
        Command::Calls(args) => cli::calls::run(args),
        Command::Probe(args) => cli::probe::run(args),
        Command::Route(args) => cli::probe::route(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> Result<()> {
    let bound_file = args.bound_file.clone();
    let config = args.into_config()?;
    init_logging(config.log.format);
    // Push mode's key is read before anything binds: a bad [dns.update] stops the start.
    let push = config.push()?;
    let target = config.store.target(&config.data_dir)?;
    // A node id matters only where several switches share the store.
    let node = if config.store.redis.is_some() { Some(config.store.node_id()?) } else { None };
    let open_store = || -> Result<Backend> {
        let mut store = Backend::open(&target, node.as_deref()).with_context(|| format!("opening the store at {target}"))?;
        match &mut store {
            Backend::Redis(r) => r.set_wait_replicas(config.store.wait_replicas),
            Backend::Sqlite(s) => s.set_synchronous(config.store.sqlite_synchronous)?,
        }
        Ok(store)
    };
    let store = open_store()?;
    if config.store.sqlite_synchronous == switch::store::Synchronous::Off && config.store.redis.is_none() {
        tracing::warn!("[store] sqlite_synchronous = \"off\": a power cut can lose or corrupt the store (benchmarks only)");
    }
    // Read before anything binds; never logged.
    let secret = config.cluster.secret()?;
    let push_gateway = config.push.gateway()?;
    // The recorder first, so nothing recorded at start is lost; none without an admin listener.
    let metrics = match config.admin.listen.is_empty() {
        true => None,
        false => Some(switch::admin::metrics::install()?),
    };
    // The data dir still holds the control socket and the TLS certificate.
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    // So `switch subscriber add` on this data dir provisions for this domain (no realm trap).
    switch::defaults::remember_domain(&config.data_dir, &config.domain)
        .with_context(|| format!("writing {}", config.data_dir.join(switch::defaults::DOMAIN_FILE).display()))?;
    // The tap before any listener: every message is traced from the first.
    let (transport, transport_events) = match switch::hep::spawn(&config.hep).await.context("starting SIP tracing (HEP)")? {
        Some(tap) => Transport::with_tap(config.transport()?, tap),
        None => Transport::new(config.transport()?),
    };
    let specs = config.listen_specs()?;
    let tls_config = if specs.iter().any(|s| s.transport == TransportKind::Tls) { Some(server_cert(&config)?) } else { None };
    let mut udp = Vec::new();
    let mut bound = Vec::new();
    let mut sip_bound = Vec::new();
    for spec in specs {
        let addr = match spec.transport {
            TransportKind::Udp => {
                let flow = transport.bind_udp(spec.addr).await.with_context(|| format!("binding udp:{}", spec.addr))?;
                udp.push(flow);
                flow.local
            }
            TransportKind::Tcp => transport.listen_tcp(spec.addr).await.with_context(|| format!("listening on tcp:{}", spec.addr))?,
            TransportKind::Tls => {
                let tls_config = tls_config.clone().context("no TLS certificate")?;
                transport.listen_tls(spec.addr, tls_config).await.with_context(|| format!("listening on tls:{}", spec.addr))?
            }
        };
        let listening = ListenSpec { transport: spec.transport, addr };
        bound.push(format!("listening {listening}"));
        sip_bound.push(listening);
    }
    for addr in config.stun.listen_addrs()? {
        let addr = transport.bind_stun(addr).await.with_context(|| format!("binding STUN on udp:{addr}"))?;
        bound.push(format!("listening stun:{}", ListenSpec { transport: TransportKind::Udp, addr }));
    }
    let writer = open_store().context("opening the store's writer connection")?;
    let (relay, relay_events) = Relay::start(config.relay()?).await.context("starting the media relay")?;
    let mut core = config.core(udp, switch::server::local_ip_toward)?;
    // With Redis: a node of a cluster, reachable at its node address.
    let cluster = match (&node, secret) {
        (Some(node), Some(secret)) => {
            let address = config.cluster.node_address(&sip_bound)?;
            core.cluster = Some(ClusterConfig { node: node.clone(), secret, clock: switch::store::WallClock::now() });
            Some(address)
        }
        _ => None,
    };
    let mut server = Server::start(store, writer, core, transport.clone(), relay, StdRng::from_os_rng())?;
    if let Some(gateway) = push_gateway {
        info!(gateway = %format!("https://{}:{}{}", gateway.url.host, gateway.url.port, gateway.url.path), hold_s = config.push.hold, "mobile push on");
        server.push_gateway(gateway);
    }
    if let Some(address) = cluster {
        let Backend::Redis(lease_store) = open_store().context("opening the lease's connection")? else {
            anyhow::bail!("a cluster node's store is Redis");
        };
        server.hold_lease(*lease_store, address)?;
        info!(node_address = %address, "cluster node");
    }
    let dns = start_dns(&config, &sip_bound, server.location_view()).await?;
    if let Some(push) = push {
        // The records it pushes name the SIP listeners only through `sip:NUMBER@DOMAIN`: the serial and A records are unused.
        switch::dns::push::spawn(push, config.dns(&sip_bound, &dns, 0)?, server.location_view(), StdRng::from_os_rng())?;
    }
    bound.extend(dns.iter().map(|d| format!("listening dns:{d}")));
    let heartbeat = switch::admin::Heartbeat::default();
    // The control socket and the admin API ask the core's driver down one channel.
    let (control_tx, control_rx) = tokio::sync::mpsc::channel(16);
    let mut events = None;
    if let Some(metrics) = metrics {
        let feed = switch::admin::events::Feed::default();
        let store = open_store().context("opening the admin API's store connection")?;
        let api = switch::admin::Api {
            core: control_tx.clone(),
            store: std::sync::Arc::new(std::sync::Mutex::new(store)),
            domain: config.domain.clone(),
            events: feed.clone(),
        };
        let admin = switch::admin::spawn(&config.admin, metrics, heartbeat.clone(), api).await.context("starting the admin listener")?;
        bound.extend(admin.iter().map(|a| format!("listening admin:tcp:{a}")));
        events = Some(feed);
    }
    report_bound(&bound, bound_file.as_deref())?;
    // From here SIGHUP reloads the subscribers instead of ending the process.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).context("installing SIGHUP handler")?;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let control = switch::control::bind(&config.data_dir).context("creating the control socket")?;
    tokio::spawn(switch::control::serve(control, control_tx));
    // The switch core and its driver: one task on this runtime.
    let serving = tokio::spawn(server.run(Inputs {
        transport: transport_events,
        relay: relay_events,
        control: control_rx,
        stop: stopped,
        heartbeat,
        hangup,
        events,
    }));
    info!(data_dir = %config.data_dir.display(), store = %target, node = ?node, domain = %config.domain, listen = ?config.listen, stun = ?config.stun.listen, "switch running");
    shutdown_signal().await?;
    info!("shutting down");
    transport.shutdown().await;
    let _ = stop.send(());
    let _ = serving.await;
    let _ = std::fs::remove_file(switch::control::socket_path(&config.data_dir));
    info!("stopped");
    Ok(())
}

/// The certificate `tls:` listeners serve, logged with its fingerprint.
fn server_cert(config: &SwitchConfig) -> Result<std::sync::Arc<rustls::ServerConfig>> {
    let cert = config.server_cert().context("loading the TLS certificate")?;
    if cert.created {
        info!(certificate = %cert.cert.display(), "generated a self-signed TLS certificate");
    }
    if cert.self_signed && switch::tls::key_exposed(&cert.key) {
        warn!(certificate = %cert.cert.display(), "the TLS key file is readable by others than its owner");
    }
    info!(fingerprint = %cert.fingerprint, certificate = %cert.cert.display(), self_signed = cert.self_signed, created = cert.created, "TLS certificate");
    Ok(cert.config)
}

/// Starts the DNS listeners, if any are configured, on their own runtime; returns where they listen.
async fn start_dns(config: &SwitchConfig, sip: &[ListenSpec], view: switch::dns::LocationView) -> Result<Vec<ListenSpec>> {
    let specs = config.dns.listen_specs()?;
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    // The SOA serial: the start time, so every restart (new listeners, new config) bumps it.
    let serial = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs() as u32);
    // The A/AAAA records name listener addresses, which port 0 does not change.
    let dns_config = config.dns(sip, &specs, serial)?;
    let responder = switch::dns::answer::Responder::new(dns_config.clone(), view);
    let bound = switch::dns::server::spawn(responder, specs, config.dns.tcp_limits()).await.context("starting the DNS server")?;
    info!(zone = %dns_config.zone, enum_suffix = %dns_config.enum_suffix, max_ttl = dns_config.max_ttl, "dns serving");
    Ok(bound)
}

/// Says where the switch listens: one line per listener on stdout, and the
/// same lines in `file` (renamed into place, so a reader never sees half).
fn report_bound(lines: &[String], file: Option<&std::path::Path>) -> Result<()> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    // The file first: whoever read the lines on stdout may look for it at once.
    if let Some(path) = file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    }
    print!("{text}");
    std::io::Write::flush(&mut std::io::stdout()).context("writing to stdout")?;
    Ok(())
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`; hickory-server at `warn` unless named).
fn init_logging(format: LogFormat) {
    // hickory-server logs two INFO lines per DNS query: a flood would fill the
    // log. Quiet unless RUST_LOG names it.
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let wanted = if wanted.contains("hickory") { wanted } else { format!("{wanted},hickory_server=warn") };
    let filter = tracing_subscriber::EnvFilter::try_new(wanted).unwrap_or_else(|_| "info,hickory_server=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        // Colour only on a terminal: a log file or journald gets plain text.
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => logs.json().init(),
    }
}

async fn shutdown_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("installing SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
    }
    Ok(())
}
