//! A minimal softphone shell around the agent library: registers, prints
//! what happens, answers calls with an echo of what the caller says (RTP on
//! the bearer port, opened outbound to the switch's relay), re-checks the
//! public IP on SIGHUP, and unregisters on Ctrl-C or SIGTERM.
//!
//! ```sh
//! switch subscriber add 1001 --password secret --data-dir /tmp/sw
//! switch run --listen tcp:127.0.0.1:5070 --data-dir /tmp/sw &
//! AGENT_PASSWORD=secret cargo run -p agent --example softphone -- tcp:127.0.0.1:5070 1001
//! ```
//!
//! Optional third argument: the public-IP source (`via`, `stun:HOST:PORT`,
//! `"http:URL [PATTERN]"`, `static:IP`).

use agent::{AgentBuilder, CallEvent, Event, MediaEvent, MediaOptions, PublicIpSource, RegistrationKind, Source, StatusCode};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "agent=info".into()))
        .init();
    let mut args = std::env::args().skip(1);
    let usage = "usage: softphone tcp:HOST:PORT NUMBER [PUBLIC-IP-SOURCE]  (password in AGENT_PASSWORD)";
    let switch = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let number = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let source: PublicIpSource = args.next().map_or(Ok(PublicIpSource::Via), |s| s.parse())?;
    let password = std::env::var("AGENT_PASSWORD").map_err(|_| anyhow::anyhow!(usage))?;

    // The bearer port is where this phone's RTP goes out from (and is sent
    // in X-Bearer-Port); each call binds it.
    let (handle, mut events) = AgentBuilder::new(switch, number, password)
        .bearer_port(40000)
        .media(MediaOptions { source: Source::Echo, record: false })
        .public_ip(source)
        .check_interval(Duration::from_secs(515))
        .start()?;

    let (mut int, mut term, mut hup) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?, signal(SignalKind::hangup())?);
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = hup.recv() => handle.check_public_ip()?,
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    Event::Registered(r) => match r.kind {
                        RegistrationKind::PublicIpChange { latency } => println!("re-registered with public IP {:?} ({} ms after the change was seen)", r.public_ip, latency.as_millis()),
                        kind => println!("registered ({kind:?}) from {} as {:?}, {} s, keep-alive every {:?} s, media via {:?}", r.local, r.public_ip, r.expires, r.flow_timer, r.bearer_address),
                    },
                    Event::RegistrationFailed { status, reason, retry_in: None } => {
                        eprintln!("the switch refused: {status} {reason}");
                        break;
                    }
                    Event::Call(CallEvent::Incoming { id, from, .. }) => {
                        println!("incoming call {id} from {from}: answering with an echo");
                        if let Err(e) = handle.answer(id).await {
                            eprintln!("could not answer: {e}");
                        }
                    }
                    Event::Media(MediaEvent::Started { id, remote, codec, .. }) => println!("call {id}: {codec:?} to {remote}"),
                    Event::Media(MediaEvent::Stopped { id, report }) => {
                        println!("call {id}: {} packets sent, {} received", report.sent_packets, report.received_packets)
                    }
                    Event::Call(CallEvent::Ended { id, by, reason, status }) => println!("call {id} ended by {by:?}: {reason:?} {status:?}"),
                    Event::IncomingRequest { id: Some(id), .. } => {
                        handle.respond(id, StatusCode::NOT_IMPLEMENTED).await?;
                    }
                    other => println!("{other:?}"),
                }
            }
        }
    }
    handle.stop().await;
    println!("unregistered; bye");
    Ok(())
}
