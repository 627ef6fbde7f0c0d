//! The command line. The global flags may go before or after the subcommand.

use agent::{Backoff, MacAddr, PublicIpSource, SwitchAddr};
use clap::{Args, Parser, Subcommand};
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
    /// The switch: tcp:HOST:PORT or tls:HOST:PORT.
    #[arg(long, global = true, value_name = "SPEC")]
    pub(crate) switch: Option<SwitchAddr>,
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
    /// Local UDP port for bearer (RTP), sent as X-Bearer-Port.
    #[arg(long, global = true, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) bearer_port: Option<u16>,
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
    /// PEM CA certificate for a tls: switch.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// RFC 5626 §4.5 back-off base time, seconds (the RFC suggests 30; 4 brings a
    /// phone back within seconds of a switch restart, still randomised).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) backoff_base: u64,
    /// RFC 5626 back-off cap, seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) backoff_max: u64,
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
    Listen,
}

impl Global {
    pub(crate) fn backoff(&self) -> Backoff {
        Backoff { base: Duration::from_secs(self.backoff_base), max: Duration::from_secs(self.backoff_max.max(self.backoff_base)) }
    }
}
