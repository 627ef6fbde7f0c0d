//! A REGISTER: the registrar answers it against the subscriber snapshot; a
//! response that acknowledges a stored change waits for its commit.

use super::{CommitTicket, Core, Output};
use crate::registrar::Registrar;
use sipcore::transaction::TransactionKey;
use sipcore::transport::Flow;
use sipcore::{Request, Response};
use std::time::Instant;

/// A response held until the changes before its ticket are committed.
#[derive(Debug)]
pub(super) struct Held {
    ticket: CommitTicket,
    key: TransactionKey,
    response: Response,
}

impl Core {
    /// Handles a REGISTER (the subscribers are current).
    pub(super) fn register(&mut self, now: Instant, key: TransactionKey, flow: Flow, request: Request) {
        let number = Registrar::number_of(&request);
        let subscriber = number.as_deref().and_then(|n| self.provisioning.subscribers.get(n));
        let out = self.registrar.handle(now, &request, &flow, subscriber, (self.config.local_ip)(&flow));
        let stores = out.changes.iter().any(|c| c.record().is_some());
        self.apply(out.changes);
        if stores {
            self.next_ticket += 1;
            let ticket = CommitTicket(self.next_ticket);
            self.out.push_back(Output::Commit(ticket));
            self.held.push_back(Held { ticket, key, response: out.response });
        } else {
            self.respond(now, &key, out.response);
        }
    }

    /// The store thread committed everything queued up to `ticket`: the
    /// responses that acknowledge it go out.
    pub fn handle_committed(&mut self, now: Instant, ticket: CommitTicket) {
        while self.held.front().is_some_and(|h| h.ticket <= ticket) {
            if let Some(h) = self.held.pop_front() {
                self.respond(now, &h.key, h.response);
            }
        }
        self.pump(now);
    }
}
