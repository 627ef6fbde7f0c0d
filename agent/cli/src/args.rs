//! The command line. The global flags may go before or after the subcommand.

use agent::{Backoff, Fingerprint, MacAddr, PublicIpSource, SwitchAddr};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// The outbound-only phone agent: registers a number with the switch over one
/// kept-alive TCP/TLS flow and never listens on a socket.
#[derive(Debug, Parser)]
#[command(name = "agent", version)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The switch: tcp:HOST:PORT or tls:HOST:PORT. Repeat it for the nodes
    /// of one cluster: the agent registers on the first that answers, in this
    /// order, and moves to the next when its flow dies.
    #[arg(long, global = true, value_name = "SPEC")]
    pub(crate) switch: Vec<SwitchAddr>,
    /// The number (DN) to register.
    #[arg(long, global = true)]
    pub(crate) number: Option<String>,
    /// The number's password (or set AGENT_PASSWORD, which keeps it out of `ps`).
    #[arg(long, global = true, env = "AGENT_PASSWORD", hide_env_values = true)]
    pub(crate) password: Option<String>,
    /// The MAC to send (default: the MAC of the interface the flow leaves by).
    #[arg(long, global = true)]
    pub(crate) mac: Option<MacAddr>,
    /// Public IP source: via | stun:HOST[:PORT] | "http:URL [PATTERN]" | static:IP.
    #[arg(long, global = true, value_name = "SOURCE", default_value = "via")]
    pub(crate) public_ip: PublicIpSource,
    /// Local port for bearer (RTP), sent as X-Bearer-Port; calls bind it
    /// (0 or unset: an ephemeral port per call).
    #[arg(long, global = true, value_name = "PORT")]
    pub(crate) bearer_port: Option<u16>,
    /// Bearer transport offered in calls: udp (RTP/AVP) or tcp (RFC 4571
    /// TCP/RTP/AVP, connected out from the bearer port).
    #[arg(long, global = true, value_enum, default_value = "udp")]
    pub(crate) bearer: Bearer,
    /// SRTP (SDES keys in the SDP): off, preferred (offered over a tls: switch,
    /// plain RTP when the other side declines) or required (no call without it).
    #[arg(long, global = true, value_name = "POLICY", default_value = "preferred")]
    pub(crate) srtp: agent::SrtpPolicy,
    /// Seconds between public-IP checks.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 515, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) check_interval: u64,
    /// SIP domain (default: the switch's host).
    #[arg(long, global = true)]
    pub(crate) domain: Option<String>,
    /// +sip.instance to use (urn:uuid:...; default: derived from the MAC).
    #[arg(long, global = true, value_name = "URN")]
    pub(crate) instance: Option<String>,
    /// Keep the +sip.instance in FILE (made if missing): the same device across restarts.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "instance")]
    pub(crate) instance_file: Option<PathBuf>,
    /// Registration lifetime to ask for, in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub(crate) expires: u32,
    /// PEM CA certificate for a tls: switch (the switch's certificate must
    /// chain to it and name the switch's host).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// Pin a tls: switch's certificate by its SHA-256 fingerprint (AB:CD:...,
    /// as `switch run` logs it): exactly that certificate is accepted,
    /// self-signed included, and any other fails the connection. With --ca
    /// too, it must also chain to that CA.
    #[arg(long, global = true, value_name = "SHA256")]
    pub(crate) tls_fingerprint: Option<Fingerprint>,
    /// RFC 5626 §4.5 back-off base time, seconds (the RFC suggests 30; 4 brings a
    /// phone back within seconds of a switch restart, still randomised).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) backoff_base: u64,
    /// Kernel TCP keep-alive probes on the flow, IDLE,INTERVAL,COUNT (seconds,
    /// seconds, probes), or `off`. A NAT that silently lost the mapping is
    /// found IDLE + INTERVAL × COUNT after the last thing heard (12 s), with no
    /// wake-up of this process.
    #[arg(long, global = true, value_name = "I,N,C|off", default_value = "4,2,4", value_parser = keepalive)]
    pub(crate) tcp_keepalive: Keepalive,
    /// RFC 5626 back-off cap, seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) backoff_max: u64,
    /// RFC 8599 push: the push service (apns, fcm…) for the REGISTER's
    /// Contact (`pn-provider`); with --pn-prid. A call that finds this phone's
    /// flow gone then waits while the switch's push gateway wakes it.
    #[arg(long, global = true, value_name = "PROVIDER", requires = "pn_prid")]
    pub(crate) pn_provider: Option<String>,
    /// RFC 8599 push: this device's token at the push service (`pn-prid`).
    #[arg(long, global = true, value_name = "TOKEN", requires = "pn_provider")]
    pub(crate) pn_prid: Option<String>,
    /// RFC 8599 push: what else the service needs (`pn-param`, e.g. TEAMID.bundle.voip).
    #[arg(long, global = true, value_name = "PARAM", requires = "pn_provider")]
    pub(crate) pn_param: Option<String>,
    /// Log lines on stderr: text (colours only on a terminal) or json (one
    /// object per line, for log shippers). Events stay key=value lines on stdout.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Register, print the result, unregister and exit. Exit status: 0
    /// registered; 3 refused (403, bad credentials, 423); 4 number not in
    /// service (404); 5 other SIP failure; 6 switch unreachable or no answer.
    Register {
        /// Seconds to keep trying before giving up.
        #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
    /// Stay registered and print events until SIGINT/SIGTERM (then
    /// unregister and exit 0), or until the switch refuses (exit 3 or 4).
    /// Incoming calls are refused 480 unless --auto-answer.
    Listen {
        /// Answer every incoming call (the media flags say what it plays).
        #[arg(long)]
        auto_answer: bool,
        /// With --auto-answer: let it ring this many seconds first.
        #[arg(long, value_name = "SECS", requires = "auto_answer", default_value_t = 0.0, value_parser = delay_secs)]
        answer_after: f64,
        /// Refuse incoming calls with this status instead (486 Busy Here, 603 Decline…).
        #[arg(long, value_name = "STATUS", conflicts_with = "auto_answer", default_value_t = 480, value_parser = clap::value_parser!(u16).range(300..=699))]
        reject_with: u16,
        /// Write this process's id to FILE, for `agent push-received`.
        /// SIGUSR1 is how a push reaches a listening agent: it reconnects (if
        /// its flow is gone) and registers at once, without its back-off.
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        #[command(flatten)]
        media: MediaArgs,
    },
    /// Tell a listening agent a push notification arrived (RFC 8599): sends
    /// SIGUSR1 to the `agent listen --pid-file FILE` process, which then
    /// reconnects and registers at once. What an app does with
    /// `agent_push_received()` when APNs/FCM wakes it. Exit status: 0 sent,
    /// 1 no such process or no readable pid file.
    PushReceived {
        /// The pid file `agent listen --pid-file` wrote.
        #[arg(long, value_name = "FILE")]
        pid_file: PathBuf,
    },
    /// Register, call NUMBER, play/record for --duration once answered, hang
    /// up, unregister, exit. Prints `call state=...` lines, then `call ended
    /// ... sent=N received=N` and, with --record, `tone hz=F power=P share=S`
    /// for the strongest tone found in the recording. Exit status: 0 answered
    /// and ended; 7 not answered (busy, refused, no answer; the status is
    /// printed); 8 answered but no RTP received; 3/4/5/6 as for `register`.
    Call {
        /// The number to call (INVITE sip:NUMBER@DOMAIN).
        #[arg(value_name = "NUMBER")]
        callee: String,
        #[command(flatten)]
        media: MediaArgs,
        /// Seconds to stay in the call once answered.
        #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = duration_secs)]
        duration: f64,
        /// DTMF digits (0-9*#A-D) to send as RFC 4733 events once answered.
        #[arg(long, value_name = "DIGITS")]
        dtmf: Option<String>,
        /// Seconds to wait for the registration, and then for the answer.
        #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
}

/// What a call plays and records.
#[derive(Debug, Args)]
pub(crate) struct MediaArgs {
    /// Play this WAV file (8 kHz mono 16-bit PCM) once, then silence.
    #[arg(long, value_name = "FILE", group = "source")]
    pub(crate) play: Option<PathBuf>,
    /// Play a sine tone of this frequency (Hz).
    #[arg(long, value_name = "HZ", group = "source", value_parser = tone_hz)]
    pub(crate) tone: Option<f64>,
    /// Send back what is received (loop-back test).
    #[arg(long, group = "source")]
    pub(crate) echo: bool,
    /// Record what is received into this WAV file (8 kHz mono 16-bit PCM) when the call ends.
    #[arg(long, value_name = "FILE")]
    pub(crate) record: Option<PathBuf>,
}

/// The bearer transport of `--bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Bearer {
    /// RTP over UDP.
    Udp,
    /// RTP over TCP, RFC 4571 framing.
    Tcp,
}

fn duration_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 86_400.0 { Ok(v) } else { Err("must be more than 0 and at most 86400".into()) }
}

fn delay_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && (0.0..=86_400.0).contains(&v) { Ok(v) } else { Err("must be from 0 to 86400".into()) }
}

/// `--tcp-keepalive`: the probes, or none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keepalive(pub(crate) Option<agent::TcpKeepalive>);

fn keepalive(s: &str) -> Result<Keepalive, String> {
    match s.trim() {
        "off" => Ok(Keepalive(None)),
        spec => agent::TcpKeepalive::parse(spec).map(|k| Keepalive(Some(k))).map_err(|e| e.to_string()),
    }
}

fn tone_hz(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a frequency"))?;
    if v.is_finite() && (20.0..=3900.0).contains(&v) { Ok(v) } else { Err("must be from 20 to 3900 Hz (8 kHz sampling)".into()) }
}

impl Global {
    pub(crate) fn backoff(&self) -> Backoff {
        Backoff { base: Duration::from_secs(self.backoff_base), max: Duration::from_secs(self.backoff_max.max(self.backoff_base)) }
    }
}
