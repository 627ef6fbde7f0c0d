//! The driver's live answers to the admin API: the registrations in the
//! core's table now (not the store's copy, which trails the commits) and the
//! calls in progress with the relay's counters now, plus the last calls
//! ended. Built on the driver's task from what it owns, so no reader ever
//! holds a lock on the core; shaped by [`crate::admin::view`] like the CLI's.

use crate::admin::view::{CallView, Registrations};
use crate::cdr::{Cdr, UnixMs};
use crate::core::Core;
use crate::store::WallClock;
use media::relay::Relay;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Instant;

/// Ended calls kept for `GET /api/calls`.
const RECENT_CALLS: usize = 50;

/// The answer to `GET /api/calls`.
#[derive(Serialize)]
struct Calls<'a> {
    active: Vec<CallView<'a>>,
    recent: Vec<CallView<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct Snapshot {
    /// This node's id, where the store has nodes (Redis).
    node: Option<String>,
    /// The last calls ended, oldest first.
    recent: VecDeque<Cdr<UnixMs>>,
}

impl Snapshot {
    pub(super) fn new(node: Option<String>) -> Self {
        Snapshot { node, recent: VecDeque::new() }
    }

    /// A call ended, with its final counters.
    pub(super) fn call_ended(&mut self, cdr: Cdr<UnixMs>) {
        if self.recent.len() == RECENT_CALLS {
            self.recent.pop_front();
        }
        self.recent.push_back(cdr);
    }

    /// The live registrations, as one JSON array.
    pub(super) fn registrations(&self, now: Instant, core: &Core, clock: &WallClock) -> String {
        let records: Vec<_> = core.table().records().map(|r| (clock.stored_record(r.clone()), self.node.clone())).collect();
        let locks = core.locks(now);
        let json = Registrations::new(&records, &locks, clock.unix_secs(now)).to_json();
        json.and_then(|j| serde_json::to_string(&j)).unwrap_or_else(|e| format!("error: {e}"))
    }

    /// The calls in progress (counters read from the relay now) and the last
    /// ended, as one JSON object.
    pub(super) fn calls(&self, core: &Core, relay: &Relay, clock: &WallClock) -> String {
        let active: Vec<Cdr<UnixMs>> = core
            .active_calls()
            .map(|(cdr, media)| {
                let mut cdr = clock.stored_cdr(cdr.clone());
                if let Some(stats) = media.and_then(|id| relay.stats(id)) {
                    super::media::counters(&mut cdr, stats);
                }
                cdr
            })
            .collect();
        let view = |call| CallView { call, node: self.node.as_deref() };
        let calls = Calls { active: active.iter().map(view).collect(), recent: self.recent.iter().map(view).collect() };
        serde_json::to_string(&calls).unwrap_or_else(|e| format!("error: {e}"))
    }
}
