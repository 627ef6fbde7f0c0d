//! `agent`: the outbound-only phone on the command line. See `agent --help`.

mod args;
mod output;

use agent::{AgentBuilder, AgentHandle, Event, Events};
use args::{Cli, Cmd, Global};
use clap::Parser;
use sipcore::{Method, Response};
use std::process::ExitCode;
use std::time::Duration;

/// Exit statuses (clap uses 2 for usage errors).
const EXIT_FAILED: u8 = 1;
const EXIT_REFUSED: u8 = 3;
const EXIT_NOT_IN_SERVICE: u8 = 4;
const EXIT_SIP_FAILURE: u8 = 5;
const EXIT_UNREACHABLE: u8 = 6;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "agent=info,warn".into()))
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("agent: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("agent: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn builder(g: &Global) -> anyhow::Result<AgentBuilder> {
    let missing = |flag: &str| anyhow::anyhow!("{flag} is required");
    let switch = g.switch.clone().ok_or_else(|| missing("--switch"))?;
    let number = g.number.clone().ok_or_else(|| missing("--number"))?;
    let password = g.password.clone().ok_or_else(|| missing("--password (or AGENT_PASSWORD)"))?;
    let mut b = AgentBuilder::new(switch, number, password)
        .public_ip(g.public_ip.clone())
        .check_interval(Duration::from_secs(g.check_interval))
        .expires(g.expires)
        .backoff(g.backoff());
    if let Some(mac) = g.mac {
        b = b.mac(mac);
    }
    if let Some(port) = g.bearer_port {
        b = b.bearer_port(port);
    }
    if let Some(d) = &g.domain {
        b = b.domain(d.clone());
    }
    if let Some(i) = &g.instance {
        b = b.instance(i.clone());
    }
    if let Some(f) = &g.instance_file {
        b = b.instance_file(f.clone());
    }
    if let Some(ca) = &g.ca {
        let pem = std::fs::read(ca).map_err(|e| anyhow::anyhow!("--ca {}: {e}", ca.display()))?;
        b = b.tls_ca_pem(pem);
    }
    Ok(b)
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let builder = match builder(&cli.global) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("agent: {e}");
            return Ok(2);
        }
    };
    let (handle, events) = builder.start()?;
    match cli.command {
        Cmd::Register { timeout } => register(handle, events, Duration::from_secs(timeout)).await,
        Cmd::Listen => listen(handle, events).await,
    }
}

fn print(ev: &Event) {
    println!("{}", output::line(ev));
}

fn refusal_code(status: u16) -> u8 {
    if status == 404 { EXIT_NOT_IN_SERVICE } else { EXIT_REFUSED }
}

/// Stops the agent and prints what the stop produced (the unregistration).
async fn stop(handle: AgentHandle, mut events: Events) {
    handle.stop().await;
    while let Some(ev) = events.recv().await {
        print(&ev);
    }
}

async fn register(handle: AgentHandle, mut events: Events, timeout: Duration) -> anyhow::Result<u8> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_failure = EXIT_UNREACHABLE;
    loop {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => return Ok(last_failure),
            Err(_) => {
                eprintln!("agent: not registered within {timeout:?}");
                stop(handle, events).await;
                return Ok(last_failure);
            }
        };
        print(&ev);
        match ev {
            Event::Registered(_) => {
                stop(handle, events).await;
                return Ok(0);
            }
            Event::RegistrationFailed { status, retry_in: None, .. } => {
                stop(handle, events).await;
                return Ok(refusal_code(status));
            }
            Event::RegistrationFailed { .. } => last_failure = EXIT_SIP_FAILURE,
            Event::IncomingRequest { id: Some(id), request } => answer(&handle, id, &request).await,
            _ => {}
        }
    }
}

async fn listen(handle: AgentHandle, mut events: Events) -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        let ev = tokio::select! {
            _ = term.recv() => { stop(handle, events).await; return Ok(0); }
            _ = int.recv() => { stop(handle, events).await; return Ok(0); }
            ev = events.recv() => ev,
        };
        let Some(ev) = ev else { return Ok(EXIT_FAILED) };
        print(&ev);
        match ev {
            Event::RegistrationFailed { status, retry_in: None, .. } => {
                stop(handle, events).await;
                return Ok(refusal_code(status));
            }
            Event::IncomingRequest { id: Some(id), request } => answer(&handle, id, &request).await,
            _ => {}
        }
    }
}

/// The command line takes no calls: it says so, so the switch can send the
/// call home instead of waiting for a timeout.
async fn answer(handle: &AgentHandle, id: agent::ServerTxId, request: &sipcore::Request) {
    let response = match request.method {
        Method::Invite => Response::to_request(request, 480).with_reason("Temporarily Unavailable (this agent takes no calls)"),
        Method::Bye | Method::Cancel => Response::to_request(request, 481),
        _ => Response::to_request(request, 501),
    };
    if let Err(e) = handle.respond(id, response).await {
        tracing::warn!(error = %e, "answer not sent");
    }
}
