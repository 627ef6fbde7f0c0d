//! Transport drivers (tokio): UDP, TCP and TLS listeners and connectors. Every
//! connection is a [`Flow`]; requests get `received`/`rport` stamped on their top
//! Via (RFC 3581) before they are handed on, and answers go back over the flow the
//! request came on (RFC 3261 §18.2.2). Streams are cut with [`crate::framing`],
//! keep-alive pings are answered here (RFC 5626 §4.4.1), and a connection that takes
//! longer than the header timeout over a message is closed (`deadline`).

mod deadline;
mod error;
mod flow;
mod io;
mod keepalive;
mod queue;
mod reply;
mod sockets;
mod stamp;
mod stream;
mod tap;
pub mod tls;
mod udp;

#[cfg(test)]
mod footprint_tests;
#[cfg(test)]
mod timeout_tests;

pub use error::TransportError;
pub use flow::{Flow, FlowId, TransportKind};
pub use keepalive::TcpKeepalive;
pub use reply::error_response;
pub use sockets::{CloseReason, Transport, TransportConfig, TransportEvent};
pub use stamp::stamp_via;
pub use tap::{Direction, Tap};
