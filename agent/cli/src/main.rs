//! `agent`: the outbound-only phone on the command line, on the `agent`
//! library. See `agent --help`.

mod args;
mod calls;
mod output;
mod push;

use agent::{AgentBuilder, AgentHandle, BearerTransport, CallEvent, Event, Events};
use agent::{Method, StatusCode};
use args::{Bearer, Cli, Cmd, Global, LogFormat};
use clap::Parser;
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
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "agent=info,warn".into()));
    match cli.global.log_format {
        // Escape codes only where a terminal reads them, not into files or journald.
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => logs.json().init(),
    }
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
    let (switch, more) = g.switch.split_first().ok_or_else(|| missing("--switch"))?;
    let number = g.number.clone().ok_or_else(|| missing("--number"))?;
    let password = g.password.clone().ok_or_else(|| missing("--password (or AGENT_PASSWORD)"))?;
    let mut b = AgentBuilder::new(switch.clone(), number, password)
        .public_ip(g.public_ip.clone())
        .check_interval(Duration::from_secs(g.check_interval))
        .expires(g.expires)
        .backoff(g.backoff())
        .tcp_keepalive(g.tcp_keepalive.0);
    for other in more {
        b = b.add_switch(other.clone());
    }
    if let Some(mac) = g.mac {
        b = b.mac(mac);
    }
    if let Some(port) = g.bearer_port.filter(|p| *p != 0) {
        b = b.bearer_port(port);
    }
    b = b.bearer_transport(match g.bearer {
        Bearer::Udp => BearerTransport::Udp,
        Bearer::Tcp => BearerTransport::Tcp,
    });
    b = b.srtp(g.srtp);
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
    if let Some(fingerprint) = g.tls_fingerprint {
        b = b.tls_fingerprint(fingerprint);
    }
    if let (Some(provider), Some(prid)) = (&g.pn_provider, &g.pn_prid) {
        b = b.push(agent::PushParams::new(provider.clone(), prid.clone(), g.pn_param.clone())?);
    }
    Ok(b)
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Cmd::PushReceived { pid_file } = &cli.command {
        return Ok(push::notify(pid_file));
    }
    let media = match &cli.command {
        Cmd::Register { .. } | Cmd::PushReceived { .. } => Ok(agent::MediaOptions::default()),
        Cmd::Listen { media, .. } | Cmd::Call { media, .. } => calls::options(media),
    };
    let builder = match (builder(&cli.global), media) {
        (Ok(b), Ok(media)) => b.media(media),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("agent: {e}");
            return Ok(2);
        }
    };
    let (handle, events) = builder.start()?;
    match cli.command {
        Cmd::Register { timeout } => register(handle, events, Duration::from_secs(timeout)).await,
        Cmd::Listen { auto_answer, answer_after, reject_with, pid_file, media } => {
            // clap took 300..=699 only.
            let reject_with = StatusCode::new(reject_with).unwrap_or(StatusCode::TEMPORARILY_UNAVAILABLE);
            let plan = calls::ListenPlan { auto_answer, answer_after: Duration::from_secs_f64(answer_after), reject_with };
            // The handler first: SIGUSR1's default action would end the process.
            let pushed = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
            let _pid = pid_file.map(push::PidFile::write).transpose()?;
            listen(handle, events, plan, calls::Calls::new(media.record), pushed).await
        }
        Cmd::PushReceived { .. } => Ok(EXIT_FAILED),
        Cmd::Call { callee, media, duration, dtmf, timeout } => {
            let plan = calls::CallPlan {
                number: callee,
                options: calls::options(&media)?,
                record: media.record,
                duration: Duration::from_secs_f64(duration),
                dtmf,
                answer_timeout: Duration::from_secs(timeout),
            };
            call(handle, events, Duration::from_secs(timeout), plan).await
        }
    }
}

/// Waits (within `timeout`) for the first registration, answering what the
/// switch sends meanwhile. `Err(exit code)` when it cannot come: the switch
/// refused for good, the agent stopped, or the time ran out.
async fn registered(handle: &AgentHandle, events: &mut Events, timeout: Duration) -> Result<(), u8> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_failure = EXIT_UNREACHABLE;
    loop {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => return Err(last_failure),
            Err(_) => {
                eprintln!("agent: not registered within {timeout:?}");
                return Err(last_failure);
            }
        };
        print(&ev);
        match ev {
            Event::Registered(_) => return Ok(()),
            Event::RegistrationFailed { status, retry_in: None, .. } => return Err(refusal_code(status)),
            Event::RegistrationFailed { .. } => last_failure = EXIT_SIP_FAILURE,
            Event::IncomingRequest { id: Some(id), request } => answer(handle, id, &request).await,
            Event::Call(CallEvent::Incoming { id, .. }) => calls::refuse(handle, id, StatusCode::TEMPORARILY_UNAVAILABLE).await,
            _ => {}
        }
    }
}

/// Registers (within `timeout`), then runs the call of `plan`, then unregisters.
async fn call(handle: AgentHandle, mut events: Events, timeout: Duration, plan: calls::CallPlan) -> anyhow::Result<u8> {
    if let Err(code) = registered(&handle, &mut events, timeout).await {
        stop(handle, events).await;
        return Ok(code);
    }
    let code = match calls::call(&handle, &mut events, plan).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agent: call: {e:#}");
            EXIT_FAILED
        }
    };
    stop(handle, events).await;
    Ok(code)
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

/// Registers (within `timeout`), prints the result, unregisters.
async fn register(handle: AgentHandle, mut events: Events, timeout: Duration) -> anyhow::Result<u8> {
    let code = registered(&handle, &mut events, timeout).await.err().unwrap_or(0);
    stop(handle, events).await;
    Ok(code)
}

async fn listen(
    handle: AgentHandle,
    mut events: Events,
    plan: calls::ListenPlan,
    mut printer: calls::Calls,
    mut pushed: tokio::signal::unix::Signal,
) -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut ringing = calls::Ringing::default();
    loop {
        let ev = tokio::select! {
            _ = term.recv() => { stop(handle, events).await; return Ok(0); }
            _ = int.recv() => { stop(handle, events).await; return Ok(0); }
            _ = pushed.recv() => {
                tracing::info!("push received (SIGUSR1): reconnecting and registering");
                handle.push_received()?;
                continue;
            }
            _ = calls::sleep_until(ringing.next_due()) => {
                for id in ringing.take_due(tokio::time::Instant::now()) {
                    if let Err(e) = handle.answer(id).await {
                        eprintln!("agent: answer: {e}");
                    }
                }
                continue;
            }
            ev = events.recv() => ev,
        };
        let Some(ev) = ev else { return Ok(EXIT_FAILED) };
        printer.print(&ev);
        match ev {
            Event::RegistrationFailed { status, retry_in: None, .. } => {
                stop(handle, events).await;
                return Ok(refusal_code(status));
            }
            Event::IncomingRequest { id: Some(id), request } => answer(&handle, id, &request).await,
            Event::Call(CallEvent::Incoming { id, .. }) if plan.auto_answer => {
                ringing.add(tokio::time::Instant::now() + plan.answer_after, id)
            }
            Event::Call(CallEvent::Incoming { id, .. }) => calls::refuse(&handle, id, plan.reject_with).await,
            Event::Call(CallEvent::Ended { id, .. }) => ringing.remove(id),
            _ => {}
        }
    }
}

/// Requests outside calls (INVITE and BYE are the call core's): a CANCEL
/// matching nothing does not exist; other methods are not implemented.
async fn answer(handle: &AgentHandle, id: agent::ServerTxId, request: &agent::Request) {
    let status = match request.method {
        Method::Cancel => StatusCode::CALL_DOES_NOT_EXIST,
        _ => StatusCode::NOT_IMPLEMENTED,
    };
    if let Err(e) = handle.respond(id, status).await {
        tracing::warn!(error = %e, "answer not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_is_not_in_service_and_any_other_refusal_refused() {
        assert_eq!(refusal_code(404), EXIT_NOT_IN_SERVICE);
        assert_eq!([403, 401, 423].map(refusal_code), [EXIT_REFUSED; 3]);
    }
}
