//! The request loop: takes transport events and answers requests statelessly.
//! For now it answers OPTIONS (the keep-alive probe phones and SIPp send) and
//! says 501 to methods this build does not handle yet.

use sipcore::transport::{Endpoint, TransportEvent};
use sipcore::{HeaderName, Message, Method, Request, Response};
use tokio::sync::mpsc::Receiver;
use tracing::{debug, info, warn};

/// Methods the switch answers, for `Allow` (RFC 3261 §20.5).
pub const ALLOW: &str = "OPTIONS";

/// The response to one request, if it needs one (ACK never does).
pub fn respond(req: &Request) -> Option<Response> {
    let mut resp = match req.method {
        Method::Ack => return None,
        Method::Options => Response::to_request(req, 200),
        _ => Response::to_request(req, 501),
    };
    resp.headers.push(HeaderName::Allow, ALLOW);
    resp.headers.push(HeaderName::Server, concat!("switch/", env!("CARGO_PKG_VERSION")));
    Some(resp)
}

/// Runs until the event queue closes.
pub async fn serve(endpoint: Endpoint, mut events: Receiver<TransportEvent>) {
    while let Some(ev) = events.recv().await {
        match ev {
            TransportEvent::Message { flow, message: Message::Request(req) } => {
                debug!(%flow, method = %req.method, "request");
                if let Some(Err(e)) = respond(&req).map(|resp| endpoint.send(&flow, &resp.into())) {
                    warn!(%flow, error = %e, "could not answer");
                }
            }
            TransportEvent::Message { flow, message: Message::Response(resp) } => {
                debug!(%flow, status = resp.status, "stray response dropped");
            }
            TransportEvent::Opened { flow } => debug!(%flow, "flow opened"),
            TransportEvent::Closed { flow, reason } => info!(%flow, ?reason, "flow closed"),
            TransportEvent::Ping { .. } | TransportEvent::Pong { .. } => {}
        }
    }
}
