//! What the core asks its driver to do, and the handles that tie answers back.

use crate::cdr::Cdr;
use sipcore::transaction::TransactionKey;
use sipcore::transport::Flow;
use sipcore::{Request, Response};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

pub use media::relay::{MediaId, Side};

/// The switch's handle for one call in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

impl std::fmt::Display for CallRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// A client transaction the core started; the driver reports its events under this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxId(pub u64);

/// The relay ports of one call (from `Relay::open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPorts {
    pub id: MediaId,
    /// The port the caller sends to (named in the caller's SDP).
    pub caller_rtp: u16,
    /// The port the callee sends to.
    pub callee_rtp: u16,
}

/// Why the relay could not give a call its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOpenError {
    /// The port range is exhausted: 503.
    NoPorts,
    Failed(String),
}

/// Where one side's media goes and whom the relay may latch to (a `LegTarget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegMedia {
    pub send_to: Option<SocketAddr>,
    pub latch_ip: Option<IpAddr>,
    pub tcp: bool,
}

/// The driver's work list, drained with `poll_output`.
#[derive(Debug)]
pub enum Output {
    /// Answer a server transaction.
    Respond { key: TransactionKey, response: Response },
    /// Start a client transaction; report its events with `handle_client_event(tx, ..)`.
    Request { tx: TxId, flow: Flow, request: Request },
    /// Send outside any transaction (the ACK for a 2xx).
    Stateless { flow: Flow, request: Request },
    /// Find the flow to a home location (resolve, connect); answer with `handle_connected(call, ..)`.
    Connect { call: CallRef, to: super::Connect },
    /// Open relay ports; answer with `handle_media_opened(call, ..)`.
    OpenMedia { call: CallRef, label: String },
    /// Point one side's relay leg at that party (its SDP, whom to latch to).
    UpdateMedia { media: MediaId, side: Side, target: LegMedia },
    /// The call is answered: from now, no media for the timeout ends it.
    ArmMediaTimeout { media: MediaId },
    /// Free ports no call holds any more.
    CloseMedia { media: MediaId },
    /// Store this call record (insert or update).
    Cdr(Box<Cdr<Instant>>),
    /// The call is over: close its media (fill the counters in) and store its record.
    Ended { media: Option<MediaId>, cdr: Box<Cdr<Instant>> },
}

/// What a client transaction was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TxKind {
    Invite,
    Cancel,
    Bye,
    /// An INVITE to a callee leg given up for the home location.
    Abandoned,
    /// A re-INVITE relayed from `from`.
    ReInvite {
        from: Side,
    },
}

/// The outputs and the client transactions in flight, shared by every call.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    out: VecDeque<Output>,
    pub(super) txs: HashMap<TxId, (CallRef, TxKind)>,
    next_tx: u64,
}

impl Outbox {
    pub(super) fn request(&mut self, call: CallRef, kind: TxKind, flow: Flow, request: Request) -> TxId {
        self.next_tx += 1;
        let tx = TxId(self.next_tx);
        self.txs.insert(tx, (call, kind));
        self.out.push_back(Output::Request { tx, flow, request });
        tx
    }

    pub(super) fn respond(&mut self, key: &TransactionKey, response: Response) {
        self.out.push_back(Output::Respond { key: key.clone(), response });
    }

    pub(super) fn push(&mut self, output: Output) {
        self.out.push_back(output);
    }

    pub(super) fn pop(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}
