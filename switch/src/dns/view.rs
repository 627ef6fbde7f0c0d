//! The read view of the location state DNS answers from (see the module
//! docs of [`crate::dns`] for why it exists and who writes it).

use super::enum_name::enum_digits;
use super::push::PushSink;
use crate::location::Change;
use crate::record::{RlRecord, RlState};
use crate::subscribers::Subscribers;
use dashmap::DashMap;
use sipcore::headers::MacAddr;
use sipcore::transport::TransportKind;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::ops::Bound;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

/// What DNS may say about one provisioned number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The provisioned home URI (an empty one counts as none).
    pub home: Option<String>,
    /// The number's RL record, if it has one.
    pub record: Option<Facts>,
}

/// The facts of an RL record that DNS publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub state: RlState,
    /// `Registered` with a flow: calls go down it.
    pub on_flow: bool,
    pub mac: Option<MacAddr>,
    pub private_ip: Option<IpAddr>,
    pub public_ip: Option<IpAddr>,
    pub observed: SocketAddr,
    pub nat: bool,
    pub bearer_port: Option<u16>,
    pub transport: TransportKind,
    pub expires_at: Instant,
}

impl Facts {
    pub fn of(r: &RlRecord<Instant>) -> Facts {
        Facts {
            state: r.state,
            on_flow: r.state == RlState::Registered && r.flow_id.is_some(),
            mac: r.mac,
            private_ip: r.private_ip,
            public_ip: r.public_ip_claimed,
            observed: r.observed,
            nat: r.behind_nat,
            bearer_port: r.bearer_port,
            transport: r.transport,
            expires_at: r.expires_at,
        }
    }

    /// Reachable down its flow at `now` (what `route()` calls `Flow`).
    pub fn live(&self, now: Instant) -> bool {
        self.on_flow && self.expires_at > now
    }
}

/// Number → [`Published`], shared by the core (the one writer) and the DNS
/// tasks (readers). Cloning shares the same map. With push mode on, every
/// number whose entry changes is also marked for the pusher ([`Self::watch`]).
#[derive(Debug, Clone, Default)]
pub struct LocationView {
    numbers: Arc<DashMap<String, Published>>,
    push: Arc<OnceLock<PushSink>>,
    /// The ENUM digits of every provisioned number, sorted: whether a name
    /// is an empty non-terminal (a prefix of some number) is one ordered
    /// lookup, not a scan. Changes only with the subscriber snapshot.
    enum_digits: Arc<RwLock<BTreeSet<String>>>,
}

impl LocationView {
    pub fn new() -> Self {
        Self::default()
    }

    /// What DNS may say about `number` (`None`: not provisioned).
    pub fn get(&self, number: &str) -> Option<Published> {
        self.numbers.get(number).map(|p| p.value().clone())
    }

    /// Does a provisioned number's ENUM digits extend `prefix` (the digits of
    /// an ENUM name, in number order)? Then that name is an empty
    /// non-terminal (RFC 8020): it exists, with no data of its own.
    pub fn extends(&self, prefix: &str) -> bool {
        let digits = self.enum_digits.read().unwrap_or_else(PoisonError::into_inner);
        // The extensions of `prefix` sort right after it: the first key
        // greater than it is one of them if any exists.
        digits.range::<str, _>((Bound::Excluded(prefix), Bound::Unbounded)).next().is_some_and(|d| d.starts_with(prefix))
    }

    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Every provisioned number.
    pub fn numbers(&self) -> Vec<String> {
        self.numbers.iter().map(|e| e.key().clone()).collect()
    }

    /// From now on, mark every number whose entry changes in `sink` (push
    /// mode). Once per view; a second sink is refused and handed back.
    pub fn watch(&self, sink: PushSink) -> Result<(), PushSink> {
        self.push.set(sink)
    }

    fn changed(&self, number: &str) {
        if let Some(sink) = self.push.get() {
            sink.mark(number);
        }
    }

    /// A table change, written as the core queues it.
    pub fn apply(&self, change: &Change) {
        match change {
            Change::Upserted { record, .. } | Change::Challenged { record, .. } => {
                self.numbers.entry(record.number.to_string()).or_default().record = Some(Facts::of(record));
            }
            Change::Removed { record, .. } => {
                if let Some(mut p) = self.numbers.get_mut(&*record.number) {
                    p.record = None;
                }
            }
            Change::CloseFlow { .. } | Change::ForgetFlow { .. } => return,
        }
        if let Some(record) = change.record() {
            self.changed(&record.number);
        }
    }

    /// A subscriber snapshot: numbers no longer provisioned go, every home is
    /// rewritten, new numbers appear without a record.
    pub fn provision(&self, subscribers: &Subscribers) {
        let mut changed = Vec::new();
        self.numbers.retain(|number, _| {
            let keep = subscribers.contains(number);
            if !keep {
                changed.push(number.clone());
            }
            keep
        });
        for s in subscribers.iter() {
            let home = s.home.clone().filter(|h| !h.is_empty());
            let mut entry = self.numbers.entry(s.number.clone()).or_default();
            if entry.home != home {
                entry.home = home;
                changed.push(s.number.clone());
            }
        }
        let digits = subscribers.iter().filter_map(|s| enum_digits(&s.number)).map(str::to_owned).collect();
        *self.enum_digits.write().unwrap_or_else(PoisonError::into_inner) = digits;
        changed.iter().for_each(|n| self.changed(n));
    }
}
