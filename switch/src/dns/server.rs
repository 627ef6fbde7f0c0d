//! The DNS listeners: hickory-server's UDP loop (parsing, FORMERR for what
//! does not parse, TC when an answer does not fit) around our request
//! handler, and our own TCP loop ([`super::tcp`]: connection limits, a
//! per-query timeout). Both answer from the [`Responder`] on a runtime of
//! their own ([`spawn`]), never on the core's task.

use super::answer::Responder;
use super::message::{fresh_queries, respond};
use super::tcp::TcpLimits;
use crate::listen::ListenSpec;
use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use sipcore::transport::TransportKind;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, error, info};

/// How long a TCP client may take over each query before it is closed.
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
        let Some(queries) = fresh_queries(request) else {
            return failed(&request.metadata);
        };
        let mut builder = MessageResponseBuilder::new(&queries, None);
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

/// Binds the listeners and serves them on a tokio runtime of its own (two
/// worker threads named `dns`): a query flood is scheduled apart from the
/// switch core's task, which never waits behind a DNS task. Returns the bound
/// listeners once they are bound; the server runs until the process ends.
pub async fn spawn(responder: Responder, specs: Vec<ListenSpec>, limits: TcpLimits) -> crate::Result<Vec<ListenSpec>> {
    let io = |what, source| crate::Error::Io { what, source };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let serve = move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("dns").enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(io("starting the DNS runtime", e)));
                return;
            }
        };
        runtime.block_on(async move {
            match DnsServer::start(responder, &specs, limits).await {
                Ok((server, bound)) => {
                    let _ = tx.send(Ok(bound));
                    server.run().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    };
    std::thread::Builder::new().name("dns".into()).spawn(serve).map_err(|e| io("starting the DNS thread", e))?;
    rx.await.unwrap_or_else(|_| Err(io("starting the DNS server", std::io::Error::other("the DNS thread ended"))))
}

/// The DNS listeners, bound; [`DnsServer::run`] serves them.
pub struct DnsServer {
    udp: hickory_server::Server<Handler>,
    has_udp: bool,
    tcp: Vec<tokio::net::TcpListener>,
    responder: Arc<Responder>,
    limits: TcpLimits,
}

impl DnsServer {
    /// Binds every `udp:`/`tcp:` spec and serves `responder` on them; the
    /// bound addresses come back in the same order (port 0 resolved).
    pub async fn start(responder: Responder, specs: &[ListenSpec], limits: TcpLimits) -> crate::Result<(DnsServer, Vec<ListenSpec>)> {
        let handler = Handler::new(responder);
        let responder = handler.responder.clone();
        let mut udp = hickory_server::Server::new(handler);
        let mut tcp = Vec::new();
        let mut bound = Vec::new();
        for spec in specs {
            let io = |source| crate::Error::Io { what: "binding a DNS listener", source };
            let addr = match spec.transport {
                TransportKind::Udp => {
                    let socket = tokio::net::UdpSocket::bind(spec.addr).await.map_err(io)?;
                    let addr = socket.local_addr().map_err(io)?;
                    udp.register_socket(socket);
                    addr
                }
                TransportKind::Tcp => {
                    let listener = tokio::net::TcpListener::bind(spec.addr).await.map_err(io)?;
                    let addr = listener.local_addr().map_err(io)?;
                    tcp.push(listener);
                    addr
                }
                TransportKind::Tls => return Err(crate::Error::Config(format!("dns.listen {spec}: DNS listens on udp: or tcp:"))),
            };
            info!(listen = %format!("{}:{addr}", crate::record::transport_name(spec.transport)), "dns listening");
            bound.push(ListenSpec { transport: spec.transport, addr });
        }
        let has_udp = bound.iter().any(|l| l.transport == TransportKind::Udp);
        Ok((DnsServer { udp, has_udp, tcp, responder, limits }, bound))
    }

    /// Serves until the process stops (a UDP listener that fails is logged).
    pub async fn run(mut self) {
        let mut tcp = tokio::task::JoinSet::new();
        for listener in self.tcp {
            tcp.spawn(super::tcp::serve(listener, self.responder.clone(), self.limits));
        }
        let udp = async {
            if self.has_udp
                && let Err(e) = self.udp.block_until_done().await
            {
                error!(error = %e, "dns udp listener stopped");
            }
        };
        let tcp = async { while tcp.join_next().await.is_some() {} };
        tokio::join!(udp, tcp);
    }
}
