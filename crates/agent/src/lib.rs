//! `agent`: the outbound-only phone.
//!
//! One outbound TCP or TLS flow to the switch carries everything: the agent
//! REGISTERs its number over it with its MAC, private IP, public IP and bearer
//! port (the wire contract in DESIGN.md), keeps it alive with RFC 5626
//! `CRLF CRLF` pings, answers what the switch sends down it, and never listens
//! on a socket. It watches the public IP (via the switch's own view, STUN, a
//! firewall's status page, or a fixed value) and re-REGISTERs when it
//! changes; when the flow dies it opens a new one with the RFC 5626 §4.5
//! back-off and registers again.
//!
//! - [`AgentBuilder`] / [`AgentHandle`] / [`Events`]: the tokio API for softphones.
//! - [`ua::UserAgent`]: the sans-IO state machine underneath (time is an argument).
//! - [`discovery`]: STUN (RFC 8489), the HTTP status-page GET, address extraction.
//!
//! ```no_run
//! # async fn run() -> Result<(), agent::AgentError> {
//! use agent::{AgentBuilder, Event};
//!
//! let (handle, mut events) = AgentBuilder::new("tcp:switch.example.net:5060".parse()?, "1001", "secret")
//!     .bearer_port(40000)
//!     .start()?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Registered(r) => println!("registered, public IP {:?}, {} s", r.public_ip, r.expires),
//!         Event::RegistrationFailed { status, reason, .. } => eprintln!("refused: {status} {reason}"),
//!         _ => {}
//!     }
//! #   break;
//! }
//! handle.stop().await; // unregisters and closes the flow
//! # Ok(()) }
//! ```

mod agent;
mod bearer;
pub mod call;
pub mod config;
pub mod discovery;
mod driver;
mod error;
pub mod identity;
pub mod netif;
mod rng;
pub mod ua;

pub use agent::{AgentBuilder, AgentHandle, Events};
pub use bearer::{MediaEvent, MediaOptions, MediaReport};
pub use call::{CallError, CallEvent, CallId, EndReason, Party};
pub use config::{Backoff, FlowTransport, PublicIpSource, SwitchAddr, UaConfig};
pub use error::AgentError;
pub use media::BearerTransport;
pub use media::endpoint::Source;
pub use sipcore::headers::MacAddr;
pub use ua::{Event, FlowLoss, Registration, RegistrationKind, ServerTxId};
