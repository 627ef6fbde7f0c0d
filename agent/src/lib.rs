//! `agent`: the outbound-only phone.
//!
//! One outbound TCP or TLS flow to the switch carries everything: the agent
//! REGISTERs its number over it with its MAC, private IP, public IP and bearer
//! port (the wire contract of the switch), keeps it alive with RFC 5626
//! `CRLF CRLF` pings, answers what the switch sends down it, and never listens
//! on a socket. It watches the public IP (via the switch's own view, STUN, a
//! firewall's status page, or a fixed value) and re-REGISTERs when it
//! changes; when the flow dies it opens a new one with the RFC 5626 §4.5
//! back-off and registers again.
//!
//! Calls ride the same flow: the switch's INVITE comes down it, the agent's
//! goes up it (`INVITE sip:<number>@<domain>`, 407 answered with the REGISTER
//! credentials). On answer, the call's RTP endpoint (on the bearer port, the
//! flow's private IP in the SDP) sends its first packet at once to the relay
//! address in the switch's SDP: that opens the media leg through the NAT,
//! outbound like everything else.
//!
//! Two ways in:
//!
//! - [`AgentBuilder`] / [`AgentHandle`] / [`Events`]: the tokio API for
//!   softphones (registration, and calls: [`AgentHandle::call`],
//!   [`AgentHandle::answer`], [`AgentHandle::reject`], [`AgentHandle::hangup`],
//!   [`AgentHandle::hold`]; news as [`Event`]s, [`Event::Call`] and
//!   [`Event::Media`] among them). Answering what the switch sends needs
//!   nothing beyond this crate: [`AgentHandle::respond`] with a [`StatusCode`].
//! - [`UserAgent`]: the sans-IO core underneath, for another runtime (time is
//!   an argument; it asks for sockets with [`Output`]s, its calls' bearers with
//!   [`MediaCommand`]s, and hears back through its `handle_*` methods).
//!
//! On Linux (the default `linux` feature) the tokio driver sleeps on a timerfd
//! and hears of address changes from a netlink socket, so an idle agent wakes
//! only for its keep-alives; elsewhere, or without the feature, it uses
//! tokio's timer and polls the host's addresses.
//!
//! ```no_run
//! # async fn run() -> Result<(), agent::Error> {
//! use agent::{AgentBuilder, CallEvent, Event, StatusCode};
//!
//! let (handle, mut events) = AgentBuilder::new("tcp:switch.example.net:5060".parse()?, "1001", "secret")
//!     .bearer_port(40000)
//!     .start()?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Registered(r) => println!("registered, public IP {:?}, {} s", r.public_ip, r.expires),
//!         Event::RegistrationFailed { status, reason, .. } => eprintln!("refused: {status} {reason}"),
//!         Event::Call(CallEvent::Incoming { id, from, .. }) => {
//!             println!("call from {from}");
//!             handle.answer(id).await?; // 200 + SDP; RTP starts toward the relay
//!         }
//!         Event::Call(CallEvent::Ended { id, reason, .. }) => println!("call {id} ended: {}", reason.as_str()),
//!         Event::IncomingRequest { id: Some(id), .. } => handle.respond(id, StatusCode::NOT_IMPLEMENTED).await?,
//!         _ => {}
//!     }
//! #   break;
//! }
//! let id = handle.call("1002").await?; // INVITE sip:1002@<domain>; Ringing/Answered/Ended follow
//! handle.hangup(id).await?;
//! handle.stop().await; // unregisters and closes the flow
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod builder;
mod call;
mod config;
mod deadline;
pub mod discovery;
mod driver;
mod error;
mod events;
mod handle;
pub mod identity;
mod netif;
mod rng;
mod ua;

pub use builder::AgentBuilder;
pub use call::{CallError, CallEvent, CallId, EndReason, MAX_CALLS, MediaCommand, MediaEvent, MediaReport, Party};
pub use config::{Backoff, FlowTransport, KeySeed, PublicIpSource, PushParams, SrtpPolicy, SwitchAddr, UaConfig};
pub use deadline::DeadlineTimer;
pub use driver::bearer::MediaOptions;
pub use error::{ConnectError, Error};
pub use events::Events;
pub use handle::AgentHandle;
pub use media::endpoint::app_audio::{FRAME_SAMPLES, Frame};
pub use media::endpoint::{AppAudio, EndpointError, FrameQueue, Source};
pub use media::offer::{Codec, Negotiated};
pub use media::{BearerTransport, Direction};
pub use sipcore::headers::MacAddr;
pub use sipcore::transport::tls::Fingerprint;
pub use sipcore::transport::{Flow, FlowId, TcpKeepalive, TransportKind};
pub use sipcore::{Message, Method, Request, Response, StatusCode};
pub use ua::{Event, FlowLoss, Output, Phase, Registration, RegistrationKind, ServerTxId, UserAgent, refresh_interval};
