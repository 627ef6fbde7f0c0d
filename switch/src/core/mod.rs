//! The switch core: one sans-IO state machine for everything the switch
//! decides. It embeds sipcore's [`TransactionLayer`] and owns the registrar
//! (digest, abuse guard, location table), the B2BUA with its call records, the
//! subscriber snapshot, and the answers to `switch probe` and `switch route`.
//!
//! # One clock, one source of randomness
//!
//! Every `handle_*` call takes `now`, an [`Instant`] on the monotonic clock,
//! and every deadline inside (binding expiry, flow silence, tombstones, abuse
//! windows, nonce lifetime, ring time, transaction timers, probes) is one. The
//! core never reads a clock, never touches a socket or the disk, and draws
//! every tag, branch, Call-ID and nonce key from the seeded RNG it is given
//! (the binary seeds it from the OS, tests with a constant). Unix time appears
//! only where the driver stores or prints something, through the store's
//! [`WallClock`](crate::store::WallClock).
//!
//! # Driving it
//!
//! As with quinn-proto's `Connection`: after every `handle_*` call, drain
//! [`Core::poll_output`] until it returns `None`, carrying out each
//! [`Output`] in order (a failed send of a transaction's message goes back
//! through [`Core::handle_send_failed`], which may queue more output); then
//! ask [`Core::poll_timeout`] for the next deadline and call
//! [`Core::handle_timeout`] when it passes (calling it early is harmless).
//!
//! Work the driver does elsewhere comes back through its own `handle_*`:
//! - [`Output::Commit`] → [`Core::handle_committed`] once the store thread has
//!   committed everything queued before it. A 200 OK to a REGISTER that
//!   stored a record is held until then, so a `kill -9` loses nothing
//!   acknowledged. If the commit failed, [`Core::handle_commit_failed`]
//!   instead: those REGISTERs get `503` with `Retry-After` and their bindings
//!   leave the table.
//! - The store thread's health: [`Core::handle_store_unavailable`] when an
//!   operation failed, [`Core::handle_store_available`] at the next one that
//!   succeeds. In between, new INVITEs get `503` with `Retry-After`;
//!   REGISTERs still try their write (the first that succeeds is how the
//!   store thread finds the store back), established calls go on.
//! - [`Output::LoadSubscribers`] → [`Core::handle_subscribers`]. Before the
//!   driver hands over a REGISTER or an INVITE it checks whether another
//!   process changed the subscribers and, if so, calls
//!   [`Core::handle_provisioning_changed`]; requests that need subscribers
//!   wait in the core until the new snapshot comes.
//! - [`Output::FindBinding`] → [`Core::handle_binding`]: in a cluster, an
//!   INVITE for a number with no live flow here waits for the store to say
//!   whether another node holds one ([`crate::cluster`]).
//! - [`Output::PushNotify`] → [`Core::handle_pushed`]: an INVITE for a phone
//!   whose flow dropped but whose binding asked for push waits (`wake.rs`)
//!   while the driver POSTs the notice to the push gateway ([`crate::pn`]).
//! - [`Output::Media`] `Open` → [`Core::handle_media_opened`];
//!   [`Output::Connect`] → [`Core::handle_connected`]; the relay's media
//!   timeouts → [`Core::handle_media_timeout`].
//! - Control requests come in as [`Core::handle_probe`] and
//!   [`Core::handle_route`] and are answered with [`Output::ControlReply`].

mod admit;
mod config;
mod control;
mod dispatch;
mod output;
mod provisioning;
mod register;
mod respond;
#[cfg(test)]
mod tests;
mod wake;

pub use config::{CoreConfig, LocalIp};
pub use dispatch::ALLOW;
pub use output::{CommitTicket, ControlId, LookupId, Output};

use crate::b2bua::{B2bua, CallAction, CallRef, ClientEvent, MediaId, MediaOpenError, MediaPorts, TxId};
use crate::dns::LocationView;
use crate::location::{Change, LocationTable};
use crate::record::RlRecord;
use crate::registrar::Registrar;
use crate::subscribers::Subscribers;
use crate::{ConnectError, Error};
use control::Probe;
use provisioning::Provisioning;
use rand::SeedableRng;
use rand::rngs::StdRng;
use register::Held;
use sipcore::Message;
use sipcore::transaction::{TransactionKey, TransactionLayer};
use sipcore::transport::{Flow, TransportEvent};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{debug, warn};

/// Who is waiting for a client transaction's events.
#[derive(Debug, Clone, Copy)]
enum Client {
    Call(TxId),
    Probe(ControlId),
}

/// The switch core (see the module docs).
pub struct Core {
    config: CoreConfig,
    layer: TransactionLayer,
    registrar: Registrar,
    b2bua: B2bua,
    provisioning: Provisioning,
    /// Who started each client transaction in flight.
    clients: HashMap<TransactionKey, Client>,
    probes: HashMap<ControlId, Probe>,
    /// REGISTER responses waiting for their records' commit, oldest first.
    held: VecDeque<Held>,
    next_ticket: u64,
    out: VecDeque<Output>,
    rng: StdRng,
    /// What DNS reads: written here, as the table changes ([`crate::dns`]).
    view: LocationView,
    /// False from the store thread's failed operation to its next success.
    store_available: bool,
    /// INVITEs waiting for [`Core::handle_binding`], with their local route.
    lookups: HashMap<LookupId, (admit::Admitted, crate::location::Route)>,
    next_lookup: u64,
    /// INVITEs held while their callee's phone is woken by a push.
    waking: HashMap<crate::pn::PushId, wake::Waking>,
    next_push: u64,
}

impl Core {
    /// A core started at `now` with the provisioned `subscribers` and the
    /// records the store kept from the last run (already on the monotonic
    /// clock): expired ones go, the rest wait `SignallingDropped` for their
    /// phones. What that changed is the first output.
    pub fn new(now: Instant, config: CoreConfig, subscribers: Subscribers, stored: Vec<RlRecord<Instant>>, mut rng: StdRng) -> Core {
        let registrar = Registrar::new(config.registrar.clone(), now, StdRng::from_rng(&mut rng));
        let b2bua = B2bua::new(config.b2bua.clone(), StdRng::from_rng(&mut rng));
        let view = LocationView::new();
        view.provision(&subscribers);
        let mut core = Core {
            layer: TransactionLayer::new(config.timers),
            config,
            registrar,
            b2bua,
            provisioning: Provisioning::new(subscribers),
            clients: HashMap::new(),
            probes: HashMap::new(),
            held: VecDeque::new(),
            next_ticket: 0,
            out: VecDeque::new(),
            rng,
            view,
            store_available: true,
            lookups: HashMap::new(),
            next_lookup: 0,
            waking: HashMap::new(),
            next_push: 0,
        };
        let changes = core.registrar.table.load(now, stored);
        core.apply(changes);
        core
    }

    /// The location table (for inspection; the core alone changes it).
    pub fn table(&self) -> &LocationTable {
        &self.registrar.table
    }

    /// What the abuse guard refuses at `now`: sources cooling down, numbers locked.
    pub fn blocked(&self, now: Instant) -> crate::abuse::Blocked {
        self.registrar.blocked(now)
    }

    /// The live view DNS answers from; the core keeps it in step with the table.
    pub fn location_view(&self) -> LocationView {
        self.view.clone()
    }

    /// The subscriber snapshot in use.
    pub fn subscribers(&self) -> &Subscribers {
        &self.provisioning.subscribers
    }

    /// Calls in progress.
    pub fn calls(&self) -> usize {
        self.b2bua.len()
    }

    /// The calls in progress, each with its relay id.
    pub fn active_calls(&self) -> impl Iterator<Item = (&crate::cdr::Cdr<Instant>, Option<crate::b2bua::MediaId>)> {
        self.b2bua.active()
    }

    /// The numbers locked against password guessing at `now`.
    pub fn locks(&self, now: Instant) -> Vec<crate::abuse::NumberLock> {
        self.registrar.locks(now)
    }

    /// What the transport reported: a message, or a flow opened, pinged,
    /// ponged (all of which count as life on the flow) or closed.
    pub fn handle_transport(&mut self, now: Instant, event: TransportEvent) {
        match event {
            TransportEvent::Message { flow, message } => self.layer.handle_message(now, flow, message),
            TransportEvent::Opened { flow } | TransportEvent::Ping { flow } | TransportEvent::Pong { flow } => self.activity(now, &flow),
            TransportEvent::Closed { flow, reason } => {
                debug!(%flow, ?reason, "flow closed");
                self.b2bua.handle_flow_closed(now, flow.id);
                self.layer.handle_flow_closed(now, flow.id);
                let changes = self.registrar.table.flow_closed(now, flow.id);
                self.apply(changes);
            }
        }
        self.pump(now);
    }

    /// The transport could not send the message of transaction `key`.
    pub fn handle_send_failed(&mut self, now: Instant, key: &TransactionKey) {
        self.layer.handle_transport_error(now, key);
        self.pump(now);
    }

    /// Does everything due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        let changes = self.registrar.table.handle_timeout(now);
        self.apply(changes);
        self.b2bua.handle_timeout(now);
        self.expire_probes(now);
        self.expire_waking(now);
        self.pump(now);
    }

    /// The relay's answer to [`MediaCommand::Open`](crate::b2bua::MediaCommand).
    pub fn handle_media_opened(&mut self, now: Instant, call: CallRef, result: Result<MediaPorts, MediaOpenError>) {
        self.b2bua.handle_media_opened(now, call, result);
        self.pump(now);
    }

    /// The answer to [`Output::Connect`]: the flow, and the switch's address
    /// on it as the peer reaches it.
    pub fn handle_connected(&mut self, now: Instant, call: CallRef, result: Result<(Flow, SocketAddr), ConnectError>) {
        self.b2bua.handle_connected(now, call, result);
        self.pump(now);
    }

    /// The relay saw no media on an answered call for its timeout.
    pub fn handle_media_timeout(&mut self, now: Instant, media: MediaId) {
        self.b2bua.handle_media_timeout(now, media);
        self.pump(now);
    }

    /// The store's last operation failed: new calls are refused until
    /// [`Core::handle_store_available`].
    pub fn handle_store_unavailable(&mut self, _now: Instant) {
        self.store_available = false;
    }

    /// The store took an operation again after failing.
    pub fn handle_store_available(&mut self, _now: Instant) {
        self.store_available = true;
    }

    /// Another process changed the provisioned subscribers.
    pub fn handle_provisioning_changed(&mut self, now: Instant) {
        if self.provisioning.changed() {
            self.out.push_back(Output::LoadSubscribers);
        }
        self.pump(now);
    }

    /// The switch is stopping: every call ends (`switch_stopped`), its media
    /// closed and its record stored, without signalling.
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.b2bua.end_all(now, "switch_stopped");
        self.pump(now);
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Core::handle_timeout`] has work next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probes = self.probes.values().map(|p| p.deadline).min();
        [self.layer.poll_timeout(), self.registrar.poll_timeout(), self.b2bua.poll_timeout(), probes, self.waking_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves what the layer and the B2BUA produced along until both are
    /// quiet: the layer's events go to their owners, the B2BUA's SIP into the
    /// layer, and every message to send into the output queue in order.
    fn pump(&mut self, now: Instant) {
        loop {
            while let Some(t) = self.layer.poll_transmit() {
                self.out.push_back(Output::Transmit(t));
            }
            if let Some(event) = self.layer.poll_event() {
                self.on_layer_event(now, event);
            } else if let Some(action) = self.b2bua.poll_action() {
                self.on_call_action(now, action);
            } else {
                break;
            }
        }
    }

    fn on_call_action(&mut self, now: Instant, action: CallAction) {
        match action {
            CallAction::Respond { key, response } => self.respond(now, &key, response),
            CallAction::Request { tx, flow, request } => match self.layer.send_request(now, flow, request) {
                Ok(key) => {
                    self.clients.insert(key, Client::Call(tx));
                }
                Err(e) => {
                    debug!(%flow, error = %e, "call request not sent");
                    self.b2bua.handle_client_event(now, tx, ClientEvent::TransportError);
                }
            },
            CallAction::Stateless { flow, request } => self.layer.send_stateless(flow, Message::Request(request)),
            CallAction::Output(output) => self.out.push_back(output),
        }
    }

    /// A client transaction's event, for whoever started it.
    fn on_client_event(&mut self, now: Instant, key: &TransactionKey, event: ClientEvent) {
        match self.clients.get(key).copied() {
            Some(Client::Call(tx)) => self.b2bua.handle_client_event(now, tx, event),
            Some(Client::Probe(id)) => self.probe_event(now, id, event),
            None => {}
        }
    }

    /// Answers the server transaction `key`: every response the switch sends
    /// goes here, and leaves with a To tag and the configured Server header.
    fn respond(&mut self, now: Instant, key: &TransactionKey, mut response: sipcore::Response) {
        respond::finish(&mut response, self.config.server_header.as_deref(), &mut self.rng);
        if let Err(e) = self.layer.send_response(now, key, response) {
            warn!(%key, error = %e, "response not sent");
        }
    }

    /// Queues registration changes for the driver (log, store, close flows).
    fn apply(&mut self, changes: Vec<Change>) {
        changes.iter().for_each(|c| self.view.apply(c));
        self.out.extend(changes.into_iter().map(Output::Location));
    }

    /// Traffic on `flow`: it is alive.
    fn activity(&mut self, now: Instant, flow: &Flow) {
        let changes = self.registrar.table.flow_activity(now, flow);
        self.apply(changes);
    }

    /// A fresh subscriber snapshot (or the reason there is none): the requests
    /// that waited for it go on, and numbers no longer provisioned lose their
    /// registration here and now (the store already dropped the row with the
    /// subscriber; a record kept in memory would stay routable until its TTL).
    pub fn handle_subscribers(&mut self, now: Instant, result: Result<Subscribers, Error>) {
        let (snapshot, failed) = match result {
            Ok(s) => (Some(s), None),
            Err(e) => {
                tracing::error!(error = %e, "cannot read subscribers");
                (None, Some(e))
            }
        };
        let (ready, again) = self.provisioning.loaded(snapshot);
        if failed.is_none() {
            let subs = &self.provisioning.subscribers;
            self.view.provision(subs);
            let gone: Vec<String> = self.registrar.table.records().map(|r| r.number.to_string()).filter(|n| !subs.contains(n)).collect();
            for number in gone {
                let changes = self.registrar.table.deprovision(now, &number);
                self.apply(changes);
            }
        }
        for parked in ready {
            match &failed {
                None => self.run_parked(now, parked),
                Some(e) => self.refuse_parked(now, parked, e),
            }
        }
        if again {
            self.out.push_back(Output::LoadSubscribers);
        }
        self.pump(now);
    }
}
