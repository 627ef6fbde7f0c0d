//! The driver: one tokio task on the main runtime runs the switch
//! [`Core`]. It `select!`s over transport events, the core's next deadline,
//! control-socket requests, SIGHUP, the feedback of work it started (relay ports
//! opened, a home location connected, a batch committed, subscribers
//! reloaded), the relay's media timeouts, a one-second tick and shutdown;
//! hands each to the core with the time; and carries out every [`Output`]:
//! sends a message, drives the relay, queues a record for the store thread,
//! closes a flow, answers a control request, logs.
//!
//! Nothing here decides anything: that is the core's job. Nothing here waits
//! for the disk either: the store thread (`store_thread.rs`) does the blocking
//! store work (SQLite or Redis, and a cluster's look-ups of bindings other
//! nodes hold), and only the provisioning check (`provisioning.rs`) looks at
//! the store from this task, at the cost of a shared-memory read. A node of a
//! cluster also runs the lease thread (`lease.rs`, on a Redis connection of
//! its own), stopped with the server.

mod commit_window;
mod connect;
mod lease;
mod log;
mod media;
mod metrics;
mod net;
mod provisioning;
mod snapshot;
mod store_thread;

pub use net::local_ip_toward;

use crate::admin::events::{Feed, Roaming};
use crate::b2bua::{CallRef, MediaOpenError, MediaPorts};
use crate::control::{Command, ControlRequest};
use crate::core::{CommitTicket, ControlId, Core, CoreConfig, LookupId, Output};
use crate::location::Change;
use crate::store::{Backend, WallClock};
use crate::subscribers::Subscribers;
use crate::{ConnectError, Error};
use ::media::relay::{Relay, RelayEvent};
use provisioning::Provisioning;
use rand::rngs::StdRng;
use sipcore::transport::{Flow, Transport, TransportEvent};
use sipcore::{HeaderName, Message, Method};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use store_thread::StoreThread;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// How often the driver looks for provisioning changes while no request
/// arrives, and whether the wall clock was stepped.
const TICK: Duration = Duration::from_secs(1);

/// Transport events handed to the core before its outputs are carried out.
const BATCH: usize = 64;

/// What comes back from work the driver started elsewhere.
#[derive(Debug)]
enum Feedback {
    MediaOpened {
        call: CallRef,
        result: Result<MediaPorts, MediaOpenError>,
    },
    Connected {
        call: CallRef,
        to: crate::b2bua::Connect,
        result: Result<(Flow, SocketAddr), ConnectError>,
    },
    Subscribers(Result<Subscribers, Error>),
    Committed(CommitTicket),
    /// The store could not commit the batch up to this ticket.
    CommitFailed(CommitTicket),
    /// The store thread's operation failed (true) or succeeded again after
    /// failing (false); reported on each change only.
    StoreDown(bool),
    /// What the push gateway did with a notification.
    Pushed {
        id: crate::pn::PushId,
        accepted: bool,
    },
    /// The answer to a look-up for a binding on another node.
    Binding {
        id: LookupId,
        found: Option<crate::cluster::RemoteBinding>,
    },
}

/// What [`Server::run`] listens to besides the core's deadline.
pub struct Inputs {
    /// The transport's events (from `Transport::new`).
    pub transport: mpsc::Receiver<TransportEvent>,
    /// The relay's media timeouts (from `Relay::start`).
    pub relay: mpsc::Receiver<RelayEvent>,
    /// Requests from the control socket.
    pub control: mpsc::Receiver<ControlRequest>,
    /// Fires (or is dropped) when the switch stops.
    pub stop: oneshot::Receiver<()>,
    /// Beaten on every turn of the loop, for `/healthz`.
    pub heartbeat: crate::admin::Heartbeat,
    /// SIGHUP (`systemctl reload`): read the subscribers again now.
    pub hangup: tokio::signal::unix::Signal,
    /// Where the roaming events go (the admin listener's `/api/events`);
    /// `None`: nobody listens, none are made.
    pub events: Option<Feed>,
}

/// The core and everything its outputs need.
pub struct Server {
    core: Core,
    transport: Transport,
    relay: Relay,
    /// The UDP listeners, for home locations over UDP found by name.
    udp: Vec<Flow>,
    store: StoreThread,
    provisioning: Provisioning,
    /// Where stored and printed Unix times come from.
    clock: WallClock,
    feedback: mpsc::UnboundedSender<Feedback>,
    feedback_rx: mpsc::UnboundedReceiver<Feedback>,
    /// Control requests waiting for the core's answer.
    replies: HashMap<ControlId, oneshot::Sender<String>>,
    next_control: u64,
    /// The relay's counters for `/metrics`.
    relay_totals: metrics::RelayTotals,
    /// The live answers for the admin API.
    snapshot: snapshot::Snapshot,
    /// Roaming events and where they go, once `run` is given a feed.
    events: Option<(Roaming, Feed)>,
    /// This node's lease, in a cluster; given up when the server stops.
    lease: Option<lease::LeaseThread>,
    /// TCP connections made to home locations and other nodes, reused while open.
    reuse: connect::Reuse,
    /// The push gateway's queue, when `[push]` is on.
    push: Option<crate::pn::gateway::Sender>,
}

/// The driver's clock: tokio's, so a test can pause it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Server {
    /// The live view of the location table the embedded DNS server answers from.
    pub fn location_view(&self) -> crate::dns::LocationView {
        self.core.location_view()
    }

    /// Restores the last run's state from the store and builds the core.
    /// `reader` and `writer` are two connections to the store: the driver's
    /// own (start-up reads, the provisioning check) and the store thread's.
    /// Stored records whose TTL ran out are purged, the rest wait for their
    /// phones; calls the last run left open are recorded as ended.
    pub fn start(
        reader: Backend,
        writer: Backend,
        config: CoreConfig,
        transport: Transport,
        relay: Relay,
        rng: StdRng,
    ) -> crate::Result<Server> {
        let now = now();
        let clock = WallClock::now();
        let (provisioning, subscribers) = Provisioning::start(reader)?;
        let store = provisioning.store();
        let purged = store.purge_expired(clock.unix_secs(now))?;
        let records: Vec<_> = store.own_records()?.into_iter().map(|r| clock.live_record(r)).collect();
        let ended = store.end_open_cdrs(clock.unix_ms(now), "switch_restarted")?;
        if ended > 0 {
            warn!(calls = ended, "calls in progress when the switch last stopped are recorded as ended");
        }
        let (feedback, feedback_rx) = mpsc::unbounded_channel();
        let store_thread =
            StoreThread::start(writer, feedback.clone()).map_err(|source| Error::Io { what: "starting the store thread", source })?;
        let (loaded, count) = (records.len(), subscribers.len());
        let node = match store {
            Backend::Redis(r) => r.node().map(str::to_owned),
            Backend::Sqlite(_) => None,
        };
        let udp = config.udp.clone();
        let core = Core::new(now, config, subscribers, records, rng);
        let mut server = Server {
            core,
            transport,
            relay,
            udp,
            store: store_thread,
            provisioning,
            clock,
            feedback,
            feedback_rx,
            replies: HashMap::new(),
            next_control: 0,
            relay_totals: metrics::RelayTotals::default(),
            snapshot: snapshot::Snapshot::new(node),
            events: None,
            lease: None,
            reuse: connect::Reuse::default(),
            push: None,
        };
        server.flush();
        info!(loaded, purged, subscribers = count, "location records restored");
        Ok(server)
    }

    /// Holds this node's lease in Redis (on `store`, a connection of its
    /// own), naming `address`, until the server stops.
    pub fn hold_lease(&mut self, store: crate::store::RedisStore, address: SocketAddr) -> crate::Result<()> {
        let thread = lease::LeaseThread::start(store, address).map_err(|source| Error::Io { what: "starting the lease thread", source })?;
        self.lease = Some(thread);
        Ok(())
    }

    /// POSTs push notifications to `gateway` (a task on this runtime).
    pub fn push_gateway(&mut self, gateway: crate::pn::Gateway) {
        let back = self.feedback.clone();
        let report = std::sync::Arc::new(move |id, outcome: crate::pn::gateway::Outcome| {
            let _ = back.send(Feedback::Pushed { id, accepted: outcome.accepted() });
        });
        self.push = Some(crate::pn::gateway::spawn(gateway, report));
    }

    /// Serves until `stop` fires or the transport's queue closes; then every
    /// call ends and everything queued for the store is written.
    pub async fn run(mut self, mut inputs: Inputs) {
        self.events = inputs.events.take().map(|feed| (Roaming::default(), feed));
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            inputs.heartbeat.beat();
            let deadline = self.core.poll_timeout();
            // No `biased`: under a steady stream of messages every other
            // branch (timers, commits, control) must still get its turn.
            tokio::select! {
                _ = &mut inputs.stop => break,
                Some(feedback) = self.feedback_rx.recv() => self.on_feedback(feedback),
                event = inputs.transport.recv() => match event {
                    Some(event) => self.on_transport(event, &mut inputs.transport),
                    None => break,
                },
                Some(RelayEvent::MediaTimeout { id, .. }) = inputs.relay.recv() => {
                    info!(media = id.0, "no media on the call: hanging up both legs");
                    metrics::media_timeout();
                    self.core.handle_media_timeout(now(), id);
                }
                Some(request) = inputs.control.recv() => self.on_control(request),
                Some(()) = inputs.hangup.recv() => {
                    // The store's change counter already brings the CLI's
                    // changes within a tick; this is for whoever wants them now.
                    info!("SIGHUP: reloading the subscribers");
                    self.core.handle_provisioning_changed(now());
                }
                _ = sleep_until(deadline) => self.core.handle_timeout(now()),
                _ = tick.tick() => self.on_tick(),
            }
            self.flush();
        }
        inputs.heartbeat.stop();
        self.core.handle_shutdown(now());
        self.flush();
        let (mut store, lease) = (self.store, self.lease);
        let _ = tokio::task::spawn_blocking(move || {
            store.finish();
            drop(lease);
        })
        .await;
        info!("switch core stopped");
    }

    /// A transport event and whatever else is already queued (up to [`BATCH`]).
    /// The provisioning check runs once per batch, before the first request
    /// whose answer depends on the subscribers: everything in the batch was
    /// queued before it ran, so each request still sees every change made
    /// before it arrived, and a burst pays for one look (a SQLite read
    /// transaction: two `fcntl`s).
    fn on_transport(&mut self, first: TransportEvent, queue: &mut mpsc::Receiver<TransportEvent>) {
        let mut checked = false;
        self.transport_event(first, &mut checked);
        for _ in 1..BATCH {
            match queue.try_recv() {
                Ok(event) => self.transport_event(event, &mut checked),
                Err(_) => break,
            }
        }
    }

    fn transport_event(&mut self, event: TransportEvent, checked: &mut bool) {
        let now = now();
        if !*checked && matches!(&event, TransportEvent::Message { message, .. } if needs_subscribers(message)) {
            self.check_provisioning(now);
            *checked = true;
        }
        metrics::transport(&event);
        if let TransportEvent::Closed { flow, .. } = &event {
            self.reuse.closed(flow);
        }
        self.core.handle_transport(now, event);
    }

    fn check_provisioning(&mut self, now: Instant) {
        if self.provisioning.changed() {
            self.core.handle_provisioning_changed(now);
        }
    }

    fn on_feedback(&mut self, feedback: Feedback) {
        let now = now();
        match feedback {
            Feedback::MediaOpened { call, result } => self.core.handle_media_opened(now, call, result),
            Feedback::Connected { call, to, result } => {
                if let Ok((flow, _)) = &result {
                    self.reuse.made(&to, *flow);
                }
                self.core.handle_connected(now, call, result);
            }
            Feedback::Subscribers(result) => {
                if result.is_err() {
                    self.provisioning.forget();
                }
                self.core.handle_subscribers(now, result);
            }
            Feedback::Committed(ticket) => self.core.handle_committed(now, ticket),
            Feedback::CommitFailed(ticket) => self.core.handle_commit_failed(now, ticket),
            Feedback::StoreDown(true) => self.core.handle_store_unavailable(now),
            Feedback::StoreDown(false) => self.core.handle_store_available(now),
            Feedback::Binding { id, found } => self.core.handle_binding(now, id, found),
            Feedback::Pushed { id, accepted } => self.core.handle_pushed(now, id, accepted),
        }
    }

    fn on_control(&mut self, request: ControlRequest) {
        let now = now();
        self.next_control += 1;
        let id = ControlId(self.next_control);
        self.replies.insert(id, request.reply);
        match request.command {
            Command::Probe(number) => self.core.handle_probe(now, id, &number),
            Command::Route(number) => {
                self.check_provisioning(now);
                self.core.handle_route(now, id, &number);
            }
            Command::Locks => self.core.handle_locks(now, id),
            Command::Registrations => {
                let json = self.snapshot.registrations(now, &self.core, &self.clock);
                self.answer(id, json);
            }
            Command::Calls => {
                let json = self.snapshot.calls(&self.core, &self.relay, &self.clock);
                self.answer(id, json);
            }
        }
    }

    fn on_tick(&mut self) {
        let now = now();
        self.check_provisioning(now);
        if let Some(step_ms) = self.clock.resync(now) {
            warn!(step_ms, "the wall clock was stepped: stored and printed times follow it, no deadline moves");
        }
        metrics::gauges(now, &self.core, &self.relay);
        self.relay_totals.publish(&self.relay);
    }

    /// Carries out everything the core asked for.
    fn flush(&mut self) {
        let now = now();
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit(t) => {
                    metrics::sent(&t.message);
                    if let Err(e) = self.transport.send(&t.flow, &t.message) {
                        debug!(flow = %t.flow, error = %e, "send failed");
                        if let Some(key) = &t.key {
                            self.core.handle_send_failed(now, key);
                        }
                    }
                }
                Output::Location(change) => self.location(now, change),
                Output::Commit(ticket) => self.store.commit(ticket),
                Output::Cdr(cdr) => {
                    self.call_event(now, &cdr);
                    self.store.put_cdr(self.clock.stored_cdr(*cdr));
                }
                Output::CallEnded { media, mut cdr } => {
                    media::close(&self.relay, media, &mut cdr);
                    log::call_ended(&cdr);
                    metrics::call_ended(&cdr);
                    self.relay_totals.call_ended(&cdr);
                    self.call_event(now, &cdr);
                    let stored = self.clock.stored_cdr(*cdr);
                    self.snapshot.call_ended(stored.clone());
                    self.store.put_cdr(stored);
                }
                Output::Media(command) => media::run(&self.relay, command, &self.feedback),
                Output::Connect { call, to } => {
                    let back = self.feedback.clone();
                    if let Some(flow) = self.reuse.get(&to) {
                        let _ = back.send(Feedback::Connected { call, to, result: Ok((flow, flow.local)) });
                        continue;
                    }
                    let (transport, udp) = (self.transport.clone(), self.udp.clone());
                    tokio::spawn(async move {
                        let result = connect::find_flow(&transport, &udp, &to).await;
                        let _ = back.send(Feedback::Connected { call, to, result });
                    });
                }
                Output::LoadSubscribers => self.store.load_subscribers(),
                Output::FindBinding { id, number } => self.store.find_binding(id, number),
                Output::ControlReply { id, line } => self.answer(id, line),
                Output::PushNotify { id, notice } => match &self.push {
                    Some(push) => push.send(id, notice),
                    // The core pushes only with `push_hold`, which `[push] gateway` sets.
                    None => self.core.handle_pushed(now, id, false),
                },
            }
        }
        self.store.submit();
    }

    fn answer(&mut self, id: ControlId, line: String) {
        if let Some(reply) = self.replies.remove(&id) {
            let _ = reply.send(line);
        }
    }

    /// A call record for the roaming events (a call routed home).
    fn call_event(&mut self, now: Instant, cdr: &crate::cdr::Cdr<Instant>) {
        if let Some((roaming, feed)) = &mut self.events
            && let Some(event) = roaming.on_call(cdr, self.clock.unix_ms(now))
        {
            feed.publish(&event);
        }
    }

    /// A registration change: logged, stored through the anchor, a flow closed.
    fn location(&mut self, now: Instant, change: Change) {
        log::change(now, &change);
        if let Some((roaming, feed)) = &mut self.events {
            for event in roaming.on_change(&change, self.clock.unix_ms(now)) {
                feed.publish(&event);
            }
        }
        match change {
            Change::Upserted { record, .. } | Change::Challenged { record, .. } => self.store.put(self.clock.stored_record(record)),
            Change::Removed { record, .. } => self.store.delete(record.number.into()),
            Change::CloseFlow { flow, .. } => self.transport.close(flow.id),
            Change::ForgetFlow { .. } => {}
        }
    }
}

/// Whether the core's answer to `message` may depend on who is provisioned,
/// so that the driver must look for provisioning changes before handing it
/// over. A REGISTER without credentials does not: every number gets the same
/// challenge (`registrar/auth.rs`, no enumeration), so the digest round's
/// first half skips the look. Public for `scripts/bench/loops`'s `register_loop`, which
/// does what the driver does.
pub fn needs_subscribers(message: &Message) -> bool {
    let Message::Request(r) = message else { return false };
    match r.method {
        Method::Register => r.headers.contains(&HeaderName::Authorization),
        Method::Invite => true,
        _ => false,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
