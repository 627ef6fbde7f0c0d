//! The transaction layer: owns every transaction by key, routes what the
//! transport delivers (§17.1.3, §17.2.3, §18.1.2, §18.2.1) and tells the TU
//! what it needs to know. Sans-IO like the machines: time comes in as an
//! argument, messages go out through [`TransactionLayer::poll_transmit`].
//!
//! It is the one way the switch and the agent drive transactions: each embeds a
//! layer in its core and pumps it. The layer remembers the [`Flow`] of every
//! transaction, so each [`Transmit`] names where it goes: a server
//! transaction's responses go back over the request's flow (§18.2.2), a client
//! transaction's retransmissions and its CANCEL (§9.1) over the flow it started on.

use super::config::{Timer, TimerConfig};
use super::error::TransactionError;
use super::event::TransactionEvent;
use super::key::TransactionKey;
use super::kind::Transaction;
use super::server_invite::ServerInviteTransaction;
use super::server_non_invite::ServerNonInviteTransaction;
use super::state::State;
use crate::message::{HeaderName, Message, Method, Request, Response};
use crate::transport::{Flow, FlowId};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

/// A message to put on the wire, and the flow it goes down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transaction that sent it; `None` for a message sent outside any
    /// transaction ([`TransactionLayer::send_stateless`]: the ACK for a 2xx).
    /// A send failure is reported back with [`TransactionLayer::handle_transport_error`].
    pub key: Option<TransactionKey>,
    pub flow: Flow,
    pub message: Message,
}

/// What the layer tells the TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent {
    /// A new request (not ACK, not CANCEL): a server transaction was created
    /// under `key` on `flow`; answer with [`TransactionLayer::send_response`].
    Request { key: TransactionKey, flow: Flow, request: Request },
    /// A new CANCEL: it has a server transaction of its own under `key` (answer
    /// it: 200, or 481 when `invite` is `None`, §9.2); `invite` is the INVITE
    /// server transaction it cancels, if one exists.
    Cancel { key: TransactionKey, flow: Flow, request: Request, invite: Option<TransactionKey> },
    /// An ACK for the TU's dialog layer: either passed up by an INVITE server
    /// transaction in Accepted (`key` is `Some`), or one that matched no
    /// transaction — the ACK for a 2xx has a branch of its own (§17.2.3,
    /// RFC 6026 §8.7) — with `key` `None`.
    Ack { key: Option<TransactionKey>, flow: Flow, request: Request },
    /// A response for the client transaction `key`.
    Response { key: TransactionKey, response: Response },
    /// A response that matched no client transaction. RFC 6026 §8.9 (updating
    /// §18.1.2) has every element but a stateless proxy discard these, so the
    /// layer only reports them when built with
    /// [`TransactionLayer::with_stray_responses`].
    StrayResponse { flow: Flow, response: Response },
    /// Timer B or F (client; act as if a 408 arrived) or H (server) fired.
    Timeout { key: TransactionKey, timer: Timer },
    /// The transport failed for transaction `key`.
    TransportError { key: TransactionKey },
    /// Transaction `key` ended and was dropped.
    Terminated { key: TransactionKey },
}

#[derive(Debug)]
struct Entry {
    tx: Transaction,
    /// Where its messages go.
    flow: Flow,
    /// The deadline registered in `TransactionLayer::deadlines`.
    deadline: Option<Instant>,
    /// Extra keys that lead to this transaction (pre-3261 ACK matching).
    aliases: Vec<TransactionKey>,
}

/// Every transaction of one SIP element.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TimerConfig,
    stray_responses: bool,
    next_id: u64,
    ids: HashMap<TransactionKey, u64>,
    entries: HashMap<u64, Entry>,
    deadlines: BTreeSet<(Instant, u64)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<LayerEvent>,
}

impl Default for TransactionLayer {
    fn default() -> Self {
        Self::new(TimerConfig::default())
    }
}

impl TransactionLayer {
    /// An empty layer whose transactions use `config`.
    pub fn new(config: TimerConfig) -> Self {
        Self {
            config,
            stray_responses: false,
            next_id: 0,
            ids: HashMap::new(),
            entries: HashMap::new(),
            deadlines: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Report responses that match no transaction as [`LayerEvent::StrayResponse`]
    /// instead of dropping them (stateless proxies, §18.1.2).
    #[must_use]
    pub fn with_stray_responses(mut self, report: bool) -> Self {
        self.stray_responses = report;
        self
    }

    /// The timer configuration.
    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The transaction under `key`.
    pub fn transaction(&self, key: &TransactionKey) -> Option<&Transaction> {
        self.ids.get(key).and_then(|id| self.entries.get(id)).map(|e| &e.tx)
    }

    /// The state of the transaction under `key`.
    pub fn state(&self, key: &TransactionKey) -> Option<State> {
        self.transaction(key).map(Transaction::state)
    }

    /// The flow of the transaction under `key`.
    pub fn flow(&self, key: &TransactionKey) -> Option<Flow> {
        self.ids.get(key).and_then(|id| self.entries.get(id)).map(|e| e.flow)
    }

    /// The TU sends a request down `flow`: a client transaction is created and
    /// the request queued for transmission. ACK is refused: the ACK for a 2xx is
    /// sent outside transactions ([`Self::send_stateless`], §13.2.2.4), the one
    /// for a non-2xx by the INVITE transaction.
    pub fn send_request(&mut self, now: Instant, flow: Flow, request: Request) -> Result<TransactionKey, TransactionError> {
        let tx = Transaction::client(now, request, flow.transport.is_reliable(), &self.config)?;
        self.insert(tx, flow)
    }

    /// Queues a message that belongs to no transaction (the ACK for a 2xx,
    /// §13.2.2.4), so that every message leaves through [`Self::poll_transmit`].
    pub fn send_stateless(&mut self, flow: Flow, message: Message) {
        self.transmits.push_back(Transmit { key: None, flow, message });
    }

    /// The TU cancels the INVITE client transaction `invite` (§9.1): a CANCEL
    /// is built and sent in a client transaction of its own, whose key is
    /// returned. Allowed only once a provisional response arrived and before a
    /// final one ([`TransactionError::NotCancellable`] otherwise: retry on the
    /// first provisional response).
    pub fn cancel(&mut self, now: Instant, invite: &TransactionKey) -> Result<TransactionKey, TransactionError> {
        let entry = self.ids.get(invite).and_then(|id| self.entries.get(id));
        let (cancel, flow) = match entry {
            Some(Entry { tx: Transaction::ClientInvite(t), flow, .. }) => (t.cancel()?, *flow),
            Some(_) => return Err(TransactionError::WrongKind(invite.clone())),
            None => return Err(TransactionError::NotFound(invite.clone())),
        };
        self.send_request(now, flow, cancel)
    }

    /// The TU answers the request of server transaction `key`.
    pub fn send_response(&mut self, now: Instant, key: &TransactionKey, response: Response) -> Result<(), TransactionError> {
        let id = *self.ids.get(key).ok_or_else(|| TransactionError::NotFound(key.clone()))?;
        // §17.2.3: a pre-3261 ACK carries the To tag of the response.
        let alias = match response.status {
            200..=699 if *key.method() == Method::Invite => {
                response.headers.to_addr().ok().and_then(|to| key.with_to_tag(to.tag())).filter(|a| a != key)
            }
            _ => None,
        };
        let entry = self.entries.get_mut(&id).ok_or_else(|| TransactionError::NotFound(key.clone()))?;
        entry.tx.send_response(now, response)?;
        if let Some(alias) = alias
            && !self.ids.contains_key(&alias)
        {
            entry.aliases.push(alias.clone());
            self.ids.insert(alias, id);
        }
        self.pump(id);
        Ok(())
    }

    /// A message from the transport, on `flow` (new server transactions answer over it).
    pub fn handle_message(&mut self, now: Instant, flow: Flow, message: Message) {
        match message {
            Message::Request(r) => self.handle_request(now, flow, r),
            Message::Response(r) => self.handle_response(now, flow, r),
        }
    }

    /// A request from the transport (§17.2.3 matching).
    pub fn handle_request(&mut self, now: Instant, flow: Flow, request: Request) {
        let key = match TransactionKey::server(&request) {
            Ok(k) => k,
            Err(e) => {
                tracing::debug!(error = %e, "dropping a request that cannot be matched");
                return;
            }
        };
        if let Some(&id) = self.ids.get(&key) {
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.tx.handle_request(now, request);
            }
            self.pump(id);
            return;
        }
        match request.method {
            Method::Ack => self.events.push_back(LayerEvent::Ack { key: None, flow, request }),
            Method::Cancel => {
                let invite = TransactionKey::cancel_target(&request)
                    .ok()
                    .and_then(|k| self.ids.get(&k).and_then(|id| self.entries.get(id)))
                    .filter(|e| matches!(e.tx, Transaction::ServerInvite(_)))
                    .map(|e| e.tx.key().clone());
                self.create_server(now, flow, key, request, |key, request| LayerEvent::Cancel { key, flow, request, invite });
            }
            _ => self.create_server(now, flow, key, request, |key, request| LayerEvent::Request { key, flow, request }),
        }
    }

    fn create_server(
        &mut self,
        now: Instant,
        flow: Flow,
        key: TransactionKey,
        request: Request,
        event: impl FnOnce(TransactionKey, Request) -> LayerEvent,
    ) {
        // The kind follows the method; the key is the one the request was looked up by.
        let reliable = flow.transport.is_reliable();
        let tx = match request.method {
            Method::Invite => {
                ServerInviteTransaction::new(now, key, request.clone(), reliable, &self.config).map(Transaction::ServerInvite)
            }
            _ => ServerNonInviteTransaction::new(now, key, request.clone(), reliable, &self.config).map(Transaction::ServerNonInvite),
        };
        match tx {
            Ok(tx) => {
                let key = tx.key().clone();
                self.events.push_back(event(key, request));
                if let Err(e) = self.insert(tx, flow) {
                    tracing::warn!(error = %e, "cannot add a server transaction");
                }
            }
            Err(e) => tracing::debug!(error = %e, "dropping a request that cannot start a transaction"),
        }
    }

    /// A response from the transport (§17.1.3 matching, §18.1.2 for strays).
    pub fn handle_response(&mut self, now: Instant, flow: Flow, response: Response) {
        let id = TransactionKey::for_response(&response).ok().and_then(|k| self.ids.get(&k).copied());
        match id.and_then(|id| self.entries.get_mut(&id).map(|e| (id, e))) {
            Some((id, entry)) if entry.tx.is_client() => {
                entry.tx.handle_response(now, response);
                self.pump(id);
            }
            _ if self.stray_responses => self.events.push_back(LayerEvent::StrayResponse { flow, response }),
            _ => {
                tracing::debug!(status = response.status, call_id = ?response.headers.get(&HeaderName::CallId), "dropping a stray response")
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self.deadlines.iter().take_while(|(at, _)| *at <= now).map(|(_, id)| *id).collect();
        for id in due {
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.tx.handle_timeout(now);
            }
            self.pump(id);
        }
    }

    /// The transport failed to send the last message of transaction `key`.
    pub fn handle_transport_error(&mut self, now: Instant, key: &TransactionKey) {
        if let Some(&id) = self.ids.get(key) {
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.tx.handle_transport_error(now);
            }
            self.pump(id);
        }
    }

    /// The flow `flow` closed: every transaction on it hears of a transport
    /// error, as if its last send had failed (a UDP socket's id names every
    /// peer on it, so all of them).
    pub fn handle_flow_closed(&mut self, now: Instant, flow: FlowId) {
        let hit: Vec<u64> = self.entries.iter().filter(|(_, e)| e.flow.id == flow).map(|(id, _)| *id).collect();
        for id in hit {
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.tx.handle_transport_error(now);
            }
            self.pump(id);
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<LayerEvent> {
        self.events.pop_front()
    }

    /// The earliest timer of any transaction.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    fn insert(&mut self, tx: Transaction, flow: Flow) -> Result<TransactionKey, TransactionError> {
        let key = tx.key().clone();
        if self.ids.contains_key(&key) {
            return Err(TransactionError::Duplicate(key));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert(key.clone(), id);
        self.entries.insert(id, Entry { tx, flow, deadline: None, aliases: Vec::new() });
        self.pump(id);
        Ok(key)
    }

    /// Moves what transaction `id` produced into the layer's queues, refreshes
    /// its deadline and drops it once terminated.
    fn pump(&mut self, id: u64) {
        let Some(entry) = self.entries.get_mut(&id) else { return };
        let key = entry.tx.key().clone();
        while let Some(message) = entry.tx.poll_transmit() {
            self.transmits.push_back(Transmit { key: Some(key.clone()), flow: entry.flow, message });
        }
        let flow = entry.flow;
        let mut terminated = false;
        while let Some(event) = entry.tx.poll_event() {
            let key = key.clone();
            self.events.push_back(match event {
                TransactionEvent::Response(response) => LayerEvent::Response { key, response },
                TransactionEvent::Ack(request) => LayerEvent::Ack { key: Some(key), flow, request },
                TransactionEvent::Timeout(timer) => LayerEvent::Timeout { key, timer },
                TransactionEvent::TransportError => LayerEvent::TransportError { key },
                TransactionEvent::Terminated => {
                    terminated = true;
                    LayerEvent::Terminated { key }
                }
            });
        }
        if let Some(old) = entry.deadline.take() {
            self.deadlines.remove(&(old, id));
        }
        if terminated || entry.tx.state() == State::Terminated {
            if let Some(entry) = self.entries.remove(&id) {
                for alias in &entry.aliases {
                    if self.ids.get(alias) == Some(&id) {
                        self.ids.remove(alias);
                    }
                }
            }
            self.ids.remove(&key);
            return;
        }
        entry.deadline = entry.tx.poll_timeout();
        if let Some(at) = entry.deadline {
            self.deadlines.insert((at, id));
        }
    }
}
