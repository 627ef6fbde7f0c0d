//! The DNS listeners: hickory-server's UDP and TCP loops (parsing, FORMERR
//! for what does not parse, TC when a UDP answer does not fit, one task per
//! TCP connection with a read timeout) around our request handler, which
//! answers from the [`Responder`] on the caller's task, never the core's.

use super::answer::Responder;
use super::message::respond;
use crate::listen::ListenSpec;
use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use sipcore::transport::TransportKind;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, error, info};

/// How long a TCP connection may take to send its next query before it is
/// closed: a slow client holds only its own task, and not for long.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers each request from the live view.
#[derive(Clone)]
pub struct Handler {
    responder: Arc<Responder>,
}

impl Handler {
    pub fn new(responder: Responder) -> Handler {
        Handler { responder: Arc::new(responder) }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response_handle: R) -> ResponseInfo {
        // The driver's clock (tokio's), so the TTLs agree with the core's deadlines.
        let now = tokio::time::Instant::now().into_std();
        let Some(response) = respond(&self.responder, request, request.src().ip(), now) else {
            return failed(&request.metadata);
        };
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = &response.edns {
            builder.edns(edns);
        }
        let message = builder.build(response.metadata, response.answers.iter(), response.authority.iter(), [], []);
        match response_handle.send_response(message).await {
            Ok(info) => info,
            Err(e) => {
                debug!(src = %request.src(), error = %e, "dns answer not sent");
                failed(&request.metadata)
            }
        }
    }
}

/// What hickory logs for an answer that was not sent.
fn failed(request: &Metadata) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
}

/// The running DNS listeners; they stop when this is dropped.
pub struct DnsServer {
    server: hickory_server::Server<Handler>,
}

impl DnsServer {
    /// Binds every `udp:`/`tcp:` spec and serves `responder` on them; the
    /// bound addresses come back in the same order (port 0 resolved).
    pub async fn start(responder: Responder, specs: &[ListenSpec]) -> crate::Result<(DnsServer, Vec<ListenSpec>)> {
        let mut server = hickory_server::Server::new(Handler::new(responder));
        let mut bound = Vec::new();
        for spec in specs {
            let io = |source| crate::Error::Io { what: "binding a DNS listener", source };
            let addr = match spec.transport {
                TransportKind::Udp => {
                    let socket = tokio::net::UdpSocket::bind(spec.addr).await.map_err(io)?;
                    let addr = socket.local_addr().map_err(io)?;
                    server.register_socket(socket);
                    addr
                }
                TransportKind::Tcp => {
                    let listener = tokio::net::TcpListener::bind(spec.addr).await.map_err(io)?;
                    let addr = listener.local_addr().map_err(io)?;
                    server.register_listener(listener, TCP_TIMEOUT, 16);
                    addr
                }
                TransportKind::Tls => return Err(crate::Error::Config(format!("dns.listen {spec}: DNS listens on udp: or tcp:"))),
            };
            info!(listen = %format!("{}:{addr}", crate::record::transport_name(spec.transport)), "dns listening");
            bound.push(ListenSpec { transport: spec.transport, addr });
        }
        Ok((DnsServer { server }, bound))
    }

    /// Serves until a listener fails (logged) or the process stops.
    pub async fn run(mut self) {
        if let Err(e) = self.server.block_until_done().await {
            error!(error = %e, "dns server stopped");
        }
    }
}
