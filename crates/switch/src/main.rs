//! `switch`: the softswitch binary. `run` serves; `subscriber` and
//! `registrations` provision and inspect the store (handlers in `cli/`).

mod cli;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sipcore::transport::{Endpoint, TransportConfig, TransportKind, tls};
use std::path::PathBuf;
use std::process::ExitCode;
use switch::defaults::DEFAULT_DATA_DIR;
use switch::listen::ListenSpec;
use tracing::info;

#[derive(Parser)]
#[command(name = "switch", version, about = "SIP softswitch for phones behind NATs and firewalls they do not control")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the switch: listen for SIP and serve until SIGTERM or Ctrl-C.
    Run(RunArgs),
    /// Provision numbers: add, set, remove, list.
    #[command(subcommand)]
    Subscriber(cli::subscriber::SubscriberCommand),
    /// List the RL records: where each registered number is now.
    Registrations(cli::registrations::RegistrationsArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Where to listen, as udp:IP:PORT, tcp:IP:PORT or tls:IP:PORT. Repeatable.
    /// Default: tcp:0.0.0.0:5060 and udp:0.0.0.0:5060.
    #[arg(long = "listen", value_name = "SPEC")]
    listen: Vec<ListenSpec>,
    /// Directory for the switch's state (created if missing).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// TLS certificate chain (PEM), needed by tls: listeners.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM), needed by tls: listeners.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
}

/// Errors print as one line on stderr and exit 1 (clap's usage errors exit 2).
fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => tokio::runtime::Runtime::new()
            .context("starting the async runtime")
            .and_then(|runtime| runtime.block_on(run(args))),
        Command::Subscriber(cmd) => cli::subscriber::run(cmd),
        Command::Registrations(args) => cli::registrations::run(args),
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
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let listen = if args.listen.is_empty() {
        vec!["tcp:0.0.0.0:5060".parse().map_err(anyhow::Error::msg)?, "udp:0.0.0.0:5060".parse().map_err(anyhow::Error::msg)?]
    } else {
        args.listen
    };
    let (endpoint, events) = Endpoint::new(TransportConfig::default());
    for spec in &listen {
        match spec.transport {
            TransportKind::Udp => {
                endpoint.bind_udp(spec.addr).await.with_context(|| format!("binding udp:{}", spec.addr))?;
            }
            TransportKind::Tcp => {
                endpoint.listen_tcp(spec.addr).await.with_context(|| format!("listening on tcp:{}", spec.addr))?;
            }
            TransportKind::Tls => {
                let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
                    anyhow::bail!("tls:{} needs --tls-cert and --tls-key", spec.addr);
                };
                let config = tls::server_config_from_files(cert, key).context("loading TLS certificate and key")?;
                endpoint.listen_tls(spec.addr, config).await.with_context(|| format!("listening on tls:{}", spec.addr))?;
            }
        }
    }
    info!(data_dir = %args.data_dir.display(), "switch running");
    let serving = tokio::spawn(switch::server::serve(endpoint.clone(), events));
    shutdown_signal().await?;
    info!("shutting down");
    endpoint.shutdown().await;
    serving.abort();
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("installing SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
    }
    Ok(())
}
