//! A REGISTER: the registrar answers it against the subscriber snapshot; a
//! response that acknowledges a stored change waits for its commit, and a
//! commit that failed turns it into a 503 (see [`Core::handle_commit_failed`]).

use super::{CommitTicket, Core, Output};
use crate::Error;
use crate::location::Change;
use crate::record::RlRecord;
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
    /// What the response answers: a failed commit answers it anew.
    request: Request,
    response: Response,
    /// The record this REGISTER wrote for its own number, if it wrote one.
    binding: Option<RlRecord<Instant>>,
}

impl Core {
    /// Handles a REGISTER (the subscribers are current).
    pub(super) fn register(&mut self, now: Instant, key: TransactionKey, flow: Flow, request: Request) {
        let number = Registrar::number_of(&request);
        let subscriber = number.as_deref().and_then(|n| self.provisioning.subscribers.get(n));
        let out = self.registrar.handle(now, &request, &flow, subscriber, (self.config.local_ip)(&flow));
        let stores = out.changes.iter().any(|c| c.record().is_some());
        let binding = out.changes.iter().find_map(|c| match c {
            Change::Upserted { record, .. } if Some(&*record.number) == number.as_deref() => Some(record.clone()),
            _ => None,
        });
        self.apply(out.changes);
        if stores {
            self.next_ticket += 1;
            let ticket = CommitTicket(self.next_ticket);
            self.out.push_back(Output::Commit(ticket));
            self.held.push_back(Held { ticket, key, request, response: out.response, binding });
        } else {
            self.respond(now, &key, out.response);
        }
    }

    /// The store thread committed everything queued up to `ticket`: the
    /// responses that acknowledge it go out.
    pub fn handle_committed(&mut self, now: Instant, ticket: CommitTicket) {
        while let Some(h) = self.pop_held(ticket) {
            self.respond(now, &h.key, h.response);
            // Calls held for a push follow the 200 OK down the new flow.
            if let Some(b) = h.binding.filter(|b| b.state == crate::record::RlState::Registered) {
                self.wake(now, &b.number);
            }
        }
        self.pump(now);
    }

    /// The store could not commit what was queued up to `ticket` (Redis down,
    /// a full disk): none of it is acknowledged. Each REGISTER waiting on it
    /// gets `503` with `Retry-After`, and the binding it made leaves the
    /// table unless something replaced it since.
    ///
    /// The rule between the table and the store: the table is what this node
    /// routes from, and it keeps no binding the phone was not told about with
    /// a 200. A binding a refused REGISTER replaced (a refresh, a roam) is not
    /// put back: it is gone from memory until the phone registers again (after
    /// `Retry-After`). The removal goes to the store like any change; while
    /// the store is down it fails too, so the store keeps that binding as it
    /// was last acknowledged and a restart finds it. A refused unregistration stays
    /// done in memory for the same reason: the phone said it is leaving.
    pub fn handle_commit_failed(&mut self, now: Instant, ticket: CommitTicket) {
        while let Some(h) = self.pop_held(ticket) {
            if let Some(binding) = &h.binding {
                let changes = self.registrar.table.refused(now, binding);
                self.apply(changes);
            }
            self.respond(now, &h.key, super::respond::refusal(&h.request, &Error::StoreUnavailable));
        }
        self.pump(now);
    }

    /// The oldest held response if its ticket is at or before `ticket`.
    fn pop_held(&mut self, ticket: CommitTicket) -> Option<Held> {
        if self.held.front().is_some_and(|h| h.ticket <= ticket) { self.held.pop_front() } else { None }
    }
}
