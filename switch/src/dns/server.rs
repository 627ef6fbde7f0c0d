//! The DNS listeners: our UDP loop ([`super::udp`]: each datagram answered
//! inline) and our TCP loop ([`super::tcp`]: connection limits, a per-query
//! timeout), both on [`super::wire::answer`] (hickory-server's request and
//! response types, our [`Responder`]), on a runtime of their own ([`spawn`]),
//! never on the core's task.

use super::answer::Responder;
use super::tcp::TcpLimits;
use crate::listen::ListenSpec;
use sipcore::transport::TransportKind;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// How long a TCP client may take over each query before it is closed.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(5);

/// The DNS runtime's worker threads, and so the UDP loops per socket.
const WORKERS: usize = 2;

/// Binds the listeners and serves them on a tokio runtime of its own (two
/// worker threads named `dns`): a query flood is scheduled apart from the
/// switch core's task, which never waits behind a DNS task. Returns the bound
/// listeners once they are bound; the server runs until the process ends.
pub async fn spawn(responder: Responder, specs: Vec<ListenSpec>, limits: TcpLimits) -> crate::Result<Vec<ListenSpec>> {
    let io = |what, source| crate::Error::Io { what, source };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let serve = move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(WORKERS).thread_name("dns").enable_all().build() {
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
    udp: Vec<Arc<tokio::net::UdpSocket>>,
    tcp: Vec<tokio::net::TcpListener>,
    responder: Arc<Responder>,
    limits: TcpLimits,
}

impl DnsServer {
    /// Binds every `udp:`/`tcp:` spec and serves `responder` on them; the
    /// bound addresses come back in the same order (port 0 resolved).
    pub async fn start(responder: Responder, specs: &[ListenSpec], limits: TcpLimits) -> crate::Result<(DnsServer, Vec<ListenSpec>)> {
        let responder = Arc::new(responder);
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut bound = Vec::new();
        for spec in specs {
            let io = |source| crate::Error::Io { what: "binding a DNS listener", source };
            let addr = match spec.transport {
                TransportKind::Udp => {
                    let socket = tokio::net::UdpSocket::bind(spec.addr).await.map_err(io)?;
                    let addr = socket.local_addr().map_err(io)?;
                    udp.push(Arc::new(socket));
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
        Ok((DnsServer { udp, tcp, responder, limits }, bound))
    }

    /// Serves until the process stops.
    pub async fn run(self) {
        let mut tasks = tokio::task::JoinSet::new();
        for socket in self.udp {
            for _ in 0..WORKERS {
                tasks.spawn(super::udp::serve(socket.clone(), self.responder.clone()));
            }
        }
        for listener in self.tcp {
            tasks.spawn(super::tcp::serve(listener, self.responder.clone(), self.limits));
        }
        while tasks.join_next().await.is_some() {}
    }
}
