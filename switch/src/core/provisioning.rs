//! The subscriber snapshot the core answers from, and the requests that wait
//! while a newer one is loaded.
//!
//! The driver checks, before it hands over a REGISTER or an INVITE (and once a
//! second), whether another process changed the provisioned subscribers; if
//! so it says [`Core::handle_provisioning_changed`](super::Core::handle_provisioning_changed).
//! The core then asks for a reload ([`Output::LoadSubscribers`](super::Output))
//! and parks every request that needs subscribers until
//! [`Core::handle_subscribers`](super::Core::handle_subscribers) brings it, so
//! a number provisioned a moment ago registers at its first try, and nothing
//! else (keep-alives, calls in progress, timers) waits for the disk.

use crate::subscribers::Subscribers;
use sipcore::Request;
use sipcore::transaction::TransactionKey;
use sipcore::transport::Flow;
use std::collections::VecDeque;

use super::ControlId;

/// Requests held at most while a reload runs; past this they are refused as
/// when the store is unavailable.
const MAX_PARKED: usize = 4096;

/// A request that needs the subscribers.
#[derive(Debug)]
pub(super) enum Parked {
    Register { key: TransactionKey, flow: Flow, request: Request },
    Invite { key: TransactionKey, flow: Flow, request: Request },
    Route { id: ControlId, number: String },
}

#[derive(Debug, Default)]
pub(super) struct Provisioning {
    pub(super) subscribers: Subscribers,
    /// Changes the driver reported, and the last one a snapshot covers.
    changes: u64,
    covered: u64,
    /// The change a reload in flight will cover.
    loading: Option<u64>,
    /// Waiting requests, each with the change it must see.
    parked: VecDeque<(u64, Parked)>,
}

impl Provisioning {
    pub(super) fn new(subscribers: Subscribers) -> Self {
        Provisioning { subscribers, ..Provisioning::default() }
    }

    /// True when the snapshot covers every change reported.
    pub(super) fn is_current(&self) -> bool {
        self.covered == self.changes
    }

    /// A change was reported; true when a reload must be asked for.
    pub(super) fn changed(&mut self) -> bool {
        self.changes += 1;
        self.start_load()
    }

    fn start_load(&mut self) -> bool {
        if self.loading.is_some() || self.is_current() {
            return false;
        }
        self.loading = Some(self.changes);
        true
    }

    /// Holds `request` until a snapshot covers the last change; hands it back
    /// when too many wait already.
    pub(super) fn park(&mut self, request: Parked) -> Result<(), Box<Parked>> {
        if self.parked.len() >= MAX_PARKED {
            return Err(Box::new(request));
        }
        self.parked.push_back((self.changes, request));
        Ok(())
    }

    /// A reload finished (with `snapshot`, or failed with `None`): the
    /// requests it covers, in arrival order, and whether another reload must
    /// be asked for (a change came in meanwhile).
    pub(super) fn loaded(&mut self, snapshot: Option<Subscribers>) -> (Vec<Parked>, bool) {
        let Some(covers) = self.loading.take() else { return (Vec::new(), false) };
        if let Some(s) = snapshot {
            self.subscribers = s;
        }
        // A failed reload covers its changes too: the requests get their
        // refusal now, and the driver reports the next change it sees.
        self.covered = covers;
        let waited = self.parked.iter().take_while(|(change, _)| *change <= covers).count();
        let ready = self.parked.drain(..waited).map(|(_, p)| p).collect();
        (ready, self.start_load())
    }
}
