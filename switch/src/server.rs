//! The switch's request loop. It runs on a thread of its own (SQLite calls
//! block) and owns the registrar: requests from the stack go in, responses and
//! persisted changes come out. Every registration change is logged on one line.

mod admit;

use crate::b2bua::driver::{CallDriver, RelayHandle};
use crate::b2bua::{B2bua, B2buaConfig};
use crate::control::{Command, ControlRequest};
use crate::location::{Cause, Change, Route};
use crate::persist::Persister;
use crate::registrar::Registrar;
use crate::store::{Store, WallClock};
use crate::subscribers::Subscribers;
use sipcore::stack::{Stack, StackEvent};
use sipcore::transaction::TransactionKey;
use sipcore::transport::{Flow, TransportEvent};
use sipcore::{HeaderName, Method, Request, Response};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Receiver;
use tracing::{debug, error, info, warn};

/// How often the loop looks for provisioning changes made by the CLI while no
/// REGISTER arrives (a look costs no I/O: `PRAGMA data_version`).
const PROVISIONING_POLL: Duration = Duration::from_secs(1);

/// Methods the switch answers, for `Allow` (RFC 3261 §20.5).
pub const ALLOW: &str = "REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL";

/// The answer to a request that is not a REGISTER (ACK never gets one).
pub fn respond_other(req: &Request) -> Option<Response> {
    let mut resp = match &req.method {
        Method::Ack => return None,
        Method::Options => Response::to_request(req, 200),
        // In-dialog requests for no dialog of ours (INVITEs that start calls
        // never come here).
        Method::Bye | Method::Invite => Response::to_request(req, 481),
        // A CANCEL is handled by the B2BUA; one that reaches here matched nothing.
        Method::Cancel => Response::to_request(req, 481),
        // Methods this server knows but does not offer here (RFC 3261 §21.4.6).
        Method::Info
        | Method::Prack
        | Method::Update
        | Method::Subscribe
        | Method::Notify
        | Method::Publish
        | Method::Refer
        | Method::Message => Response::to_request(req, 405),
        // Methods it does not know at all (§21.5.2).
        Method::Extension(_) | Method::Register => Response::to_request(req, 501),
    };
    resp.headers.push(HeaderName::Allow, ALLOW);
    Some(resp)
}

/// Everything the loop owns.
pub struct Server {
    pub stack: Stack,
    /// Read side: subscribers (the record writer has a connection of its own).
    pub store: Store,
    pub registrar: Registrar,
    subscribers: Subscribers,
    persister: Persister,
    calls: CallDriver,
    trusted_peers: Vec<IpAddr>,
    /// The UDP listeners, for sending calls to UDP home locations.
    udp: Vec<Flow>,
    relay_address: Option<IpAddr>,
}

/// What the B2BUA needs from `main`: the relay (started on the main runtime)
/// and the call policy.
pub struct CallSetup {
    pub relay: RelayHandle,
    pub events: tokio::sync::mpsc::Receiver<media::relay::RelayEvent>,
    pub udp: Vec<Flow>,
    pub trusted_peers: Vec<IpAddr>,
    pub relay_address: Option<IpAddr>,
    pub b2bua: B2buaConfig,
}

impl Server {
    /// Loads the stored RL records: expired ones are purged, the rest are
    /// signalling-dropped until their phones register again.
    /// `writer` is a second connection to the same store, for the record writer.
    pub fn new(stack: Stack, store: Store, writer: Store, registrar: Registrar, calls: CallSetup) -> anyhow::Result<Self> {
        let now = Instant::now();
        let clock = WallClock::now();
        let purged = store.purge_expired(clock.unix_secs(now))?;
        let records: Vec<_> = store.records()?.into_iter().map(|r| clock.live_record(r)).collect();
        let ended = store.end_open_cdrs(clock.unix_ms(now), "switch_restarted")?;
        if ended > 0 {
            warn!(calls = ended, "calls in progress when the switch last stopped are recorded as ended");
        }
        let persister = Persister::start(writer, stack.clone(), clock)?;
        let driver = CallDriver::new(B2bua::new(calls.b2bua), Some(calls.relay), Some(calls.events), stack.clone(), calls.udp.clone());
        let mut server = Self {
            stack,
            store,
            registrar,
            subscribers: Subscribers::default(),
            persister,
            calls: driver,
            trusted_peers: calls.trusted_peers,
            udp: calls.udp,
            relay_address: calls.relay_address,
        };
        let loaded = records.len();
        let changes = server.registrar.table.load(now, records);
        server.apply(changes);
        server.subscribers.refresh(&server.store)?;
        info!(loaded, purged, subscribers = server.subscribers.len(), "location records restored");
        Ok(server)
    }

    /// Serves until `stop` fires (or its sender is dropped) or the stack stops.
    pub async fn run(
        mut self,
        mut events: Receiver<StackEvent>,
        mut control: Receiver<ControlRequest>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let mut provisioning = tokio::time::interval(PROVISIONING_POLL);
        provisioning.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.registrar.poll_timeout();
            let call_deadline = self.calls.core.poll_timeout();
            tokio::select! {
                _ = &mut stop => break,
                Some(fb) = self.calls.feedback.recv() => self.calls.on_feedback(Instant::now(), fb, &self.persister),
                _ = sleep_until_instant(call_deadline) => {
                    self.calls.core.handle_timeout(Instant::now());
                    self.calls.flush(&self.persister);
                }
                Some(req) = control.recv() => self.on_control(req),
                ev = events.recv() => match ev {
                    Some(ev) => self.on_event(ev),
                    None => break,
                },
                _ = sleep_until_instant(deadline) => {
                    let changes = self.registrar.table.handle_timeout(Instant::now());
                    self.apply(changes);
                }
                _ = provisioning.tick() => {
                    if let Err(e) = self.refresh_subscribers(Instant::now()) {
                        error!(error = %e, "cannot read subscribers");
                    }
                }
            }
        }
        self.calls.stop(Instant::now(), &self.persister);
        self.persister.finish();
        info!("request loop stopped");
    }

    fn on_event(&mut self, ev: StackEvent) {
        let now = Instant::now();
        match ev {
            StackEvent::Request { key, flow, request } => {
                self.activity(now, &flow);
                if request.method == Method::Register {
                    self.register(now, key, &request, &flow);
                    return;
                }
                let request = match self.call_request(now, key.clone(), flow, request) {
                    Some(r) => r,
                    None => {
                        self.calls.flush(&self.persister);
                        return;
                    }
                };
                if let Some(Err(e)) = respond_other(&request).map(|resp| self.stack.respond(key, resp)) {
                    warn!(%flow, error = %e, "response not sent");
                }
            }
            StackEvent::Cancel { key, request, invite, .. } => {
                if !self.calls.core.handle_cancel(now, &key, &request, invite.as_ref()) {
                    let _ = self.stack.respond(key, Response::to_request(&request, 481));
                }
                self.calls.flush(&self.persister);
            }
            StackEvent::Ack { request, .. } => {
                self.calls.core.handle_ack(&request);
                self.calls.flush(&self.persister);
            }
            StackEvent::Transport(TransportEvent::Closed { flow, reason }) => {
                debug!(%flow, ?reason, "flow closed");
                self.calls.core.handle_flow_closed(now, flow.id);
                self.calls.flush(&self.persister);
                let changes = self.registrar.table.flow_closed(now, flow.id);
                self.apply(changes);
            }
            StackEvent::Transport(TransportEvent::Ping { flow } | TransportEvent::Pong { flow } | TransportEvent::Opened { flow }) => {
                self.activity(now, &flow);
            }
            StackEvent::Transport(TransportEvent::Message { .. }) => {}
        }
    }

    fn on_control(&mut self, req: ControlRequest) {
        match req.command {
            Command::Probe(number) => self.probe(&number, req.reply),
            Command::Route(number) => {
                let _ = req.reply.send(self.describe_route(&number));
            }
        }
    }

    /// One line saying where a call for `number` would go now.
    fn describe_route(&mut self, number: &str) -> String {
        let now = Instant::now();
        if let Err(e) = self.refresh_subscribers(now) {
            return format!("error: cannot read subscribers: {e}");
        }
        let Some(sub) = self.subscribers.get(number) else { return format!("route {number} unknown") };
        match crate::location::route(&self.registrar.table, sub, now) {
            Route::Flow { observed, transport, .. } => {
                format!("route {number} flow observed={observed} transport={}", crate::record::transport_name(transport))
            }
            Route::Home { uri, reason } => format!("route {number} home reason={reason} uri={uri}"),
            Route::Unavailable { reason } => format!("route {number} unavailable reason={reason}"),
        }
    }

    /// Sends OPTIONS down the number's flow and answers with the outcome.
    fn probe(&mut self, number: &str, reply: tokio::sync::oneshot::Sender<String>) {
        let (flow, contact) = match self.registrar.table.reach(number, Instant::now()) {
            Ok((flow, record)) => (flow, record.contact.clone()),
            Err(reason) => {
                let _ = reply.send(format!("unreachable {number}: {}", reason.as_str()));
                return;
            }
        };
        let req = options_for(&flow, &contact, &self.registrar.config().realm);
        let stack = self.stack.clone();
        let number = number.to_owned();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let outcome = tokio::time::timeout(Duration::from_secs(5), stack.request_final(flow, req)).await;
            let ms = started.elapsed().as_millis();
            let line = match outcome {
                Ok(Ok(resp)) => format!("reachable {number}: {} {} in {ms} ms via {flow}", resp.status, resp.reason),
                Ok(Err(e)) => format!("unreachable {number}: {e} after {ms} ms via {flow}"),
                Err(_) => format!("unreachable {number}: no answer in 5 s via {flow}"),
            };
            info!("probe: {line}");
            let _ = reply.send(line);
        });
    }

    fn activity(&mut self, now: Instant, flow: &Flow) {
        let changes = self.registrar.table.flow_activity(now, flow);
        self.apply(changes);
    }

    /// Handles a REGISTER. A response that acknowledges stored changes goes out
    /// through the record writer, after they are committed.
    fn register(&mut self, now: Instant, key: TransactionKey, req: &Request, flow: &Flow) {
        if let Err(e) = self.refresh_subscribers(now) {
            error!(error = %e, "cannot read subscribers");
            let _ = self.stack.respond(key, Response::to_request(req, 500).with_reason("Server Internal Error (store unavailable)"));
            return;
        }
        let number = Registrar::number_of(req);
        let sub = number.as_deref().and_then(|n| self.subscribers.get(n)).cloned();
        let out = self.registrar.handle(now, req, flow, sub.as_ref(), local_ip_toward(flow));
        let stores = out.changes.iter().any(|c| c.record().is_some());
        self.apply(out.changes);
        if stores {
            self.persister.reply_after_commit(key, out.response);
        } else if let Err(e) = self.stack.respond(key, out.response) {
            warn!(%flow, error = %e, "response not sent");
        }
    }

    /// Re-reads the subscribers if the CLI changed them. A number no longer
    /// provisioned loses its record here and now: the store already dropped
    /// the row with the subscriber, and a record kept in memory would stay
    /// routable until its TTL and fail to persist on every later change.
    fn refresh_subscribers(&mut self, now: Instant) -> crate::store::Result<()> {
        if !self.subscribers.refresh(&self.store)? {
            return Ok(());
        }
        let gone: Vec<String> =
            self.registrar.table.records().map(|r| r.number.clone()).filter(|n| self.subscribers.get(n).is_none()).collect();
        for number in gone {
            let changes = self.registrar.table.deprovision(now, &number);
            self.apply(changes);
        }
        Ok(())
    }

    /// Queues changes for the store, acts on them and logs them.
    fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match &change {
                Change::Upserted { record, cause } => {
                    log_record("registration", record, cause.as_str(), *cause == Cause::Refreshed);
                    self.persister.put(record);
                }
                Change::Challenged { record, challenger } => {
                    warn!(number = %record.number, state = record.state.as_str(), holder = %record.observed, challenger = %challenger.observed,
                        "registration conflict: another device tried to register this number");
                    self.persister.put(record);
                }
                Change::Removed { record, cause } => {
                    info!(number = %record.number, cause = cause.as_str(), observed = %record.observed, "registration removed");
                    self.persister.delete(&record.number);
                }
                Change::CloseFlow { flow, cause } => {
                    info!(%flow, cause = cause.as_str(), "closing flow");
                    self.stack.transport().close(flow.id);
                }
                Change::ForgetFlow { flow, cause } => {
                    debug!(%flow, cause = cause.as_str(), "flow no longer carries a registration");
                }
            }
        }
    }
}

/// One line per registration change; refreshes only at debug level.
fn log_record(what: &str, r: &crate::record::RlRecord<Instant>, cause: &str, quiet: bool) {
    let private = r.private_ip.map(|i| i.to_string()).unwrap_or_default();
    let public = r.public_ip_claimed.map(|i| i.to_string()).unwrap_or_default();
    let ttl = r.time_left(Instant::now()).as_secs();
    if quiet {
        debug!(number = %r.number, cause, state = r.state.as_str(), observed = %r.observed, ttl, "{what}");
    } else {
        info!(number = %r.number, cause, state = r.state.as_str(), observed = %r.observed, private_ip = %private,
            public_ip = %public, behind_nat = r.behind_nat, transport = crate::record::transport_name(r.transport), ttl, "{what}");
    }
}

/// The switch's address as the phone on `flow` reaches it. A connection knows
/// its local address; a UDP socket bound to the wildcard (the default
/// listeners) does not, so ask the kernel which source address it would use
/// toward the phone (a connected UDP socket sends nothing). Unspecified only
/// if that fails too.
pub(crate) fn local_ip_toward(flow: &Flow) -> IpAddr {
    let ip = flow.local.ip();
    if !ip.is_unspecified() {
        return ip;
    }
    let any: SocketAddr = match flow.remote {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    std::net::UdpSocket::bind(any)
        .and_then(|s| {
            s.connect(flow.remote)?;
            s.local_addr()
        })
        .map_or(ip, |a| a.ip())
}

/// An OPTIONS for the phone at `contact`, to go down `flow` (RFC 3261 §11).
fn options_for(flow: &Flow, contact: &str, domain: &str) -> Request {
    let mut req = Request::new(Method::Options, contact.to_owned());
    let h = &mut req.headers;
    h.push(HeaderName::Via, format!("SIP/2.0/{} {};branch=z9hG4bK{:016x}", flow.transport.via_token(), flow.local, rand::random::<u64>()));
    h.push(HeaderName::MaxForwards, "70");
    h.push(HeaderName::From, format!("<sip:switch@{domain}>;tag={:08x}", rand::random::<u32>()));
    h.push(HeaderName::To, format!("<{contact}>"));
    h.push(HeaderName::CallId, format!("{:016x}@{domain}", rand::random::<u64>()));
    h.push(HeaderName::CSeq, "1 OPTIONS");
    h.push(HeaderName::ContentLength, "0");
    req
}

async fn sleep_until_instant(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
