//! What the B2BUA hands the switch core: SIP messages for its transaction
//! layer, and [`Output`]s for the driver. The client transactions a call
//! started are tracked here too, so their events find the call again.

use super::CallRef;
use super::media::MediaCommand;
use crate::core::Output;
use rand::rngs::StdRng;
use sipcore::transaction::TransactionKey;
use sipcore::transport::Flow;
use sipcore::{Request, Response};
use std::collections::{HashMap, VecDeque};

/// A client transaction a call started; the core reports its events under this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxId(pub u64);

/// What happened to a client transaction (from the core's transaction layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A provisional or final response.
    Response(Response),
    /// Timer B or F fired: no final response (act as if 408 came, §8.1.3.1).
    Timeout,
    /// The flow failed.
    TransportError,
}

/// One thing the B2BUA asks of the switch core.
#[derive(Debug)]
pub enum CallAction {
    /// Answer a server transaction.
    Respond { key: TransactionKey, response: Response },
    /// Start a client transaction; report its events with `handle_client_event(tx, ..)`.
    Request { tx: TxId, flow: Flow, request: Request },
    /// Send outside any transaction (the ACK for a 2xx).
    Stateless { flow: Flow, request: Request },
    /// Work for the driver (relay, home-location connection, call records).
    Output(Output),
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
        from: super::Side,
    },
}

/// The actions queued by every call, the client transactions in flight, and
/// the randomness new dialogs and transactions need (tags, Call-IDs, branches).
#[derive(Debug)]
pub(super) struct Outbox {
    out: VecDeque<CallAction>,
    pub(super) txs: HashMap<TxId, (CallRef, TxKind)>,
    next_tx: u64,
    rng: StdRng,
}

impl Outbox {
    pub(super) fn new(rng: StdRng) -> Self {
        Outbox { out: VecDeque::new(), txs: HashMap::new(), next_tx: 0, rng }
    }

    pub(super) fn request(&mut self, call: CallRef, kind: TxKind, flow: Flow, request: Request) -> TxId {
        self.next_tx += 1;
        let tx = TxId(self.next_tx);
        self.txs.insert(tx, (call, kind));
        self.out.push_back(CallAction::Request { tx, flow, request });
        tx
    }

    pub(super) fn respond(&mut self, key: &TransactionKey, response: Response) {
        self.out.push_back(CallAction::Respond { key: key.clone(), response });
    }

    pub(super) fn stateless(&mut self, flow: Flow, request: Request) {
        self.out.push_back(CallAction::Stateless { flow, request });
    }

    pub(super) fn media(&mut self, command: MediaCommand) {
        self.out.push_back(CallAction::Output(Output::Media(command)));
    }

    pub(super) fn output(&mut self, output: Output) {
        self.out.push_back(CallAction::Output(output));
    }

    pub(super) fn pop(&mut self) -> Option<CallAction> {
        self.out.pop_front()
    }

    /// A fresh random token for tags and Call-IDs.
    pub(super) fn token(&mut self) -> String {
        super::msg::token(&mut self.rng)
    }

    /// A fresh Via branch.
    pub(super) fn branch(&mut self) -> String {
        super::msg::branch(&mut self.rng)
    }
}
