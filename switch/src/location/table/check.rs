//! Self-check: the indexes agree with the records.

use super::{LocationTable, record_key};
use crate::record::RlState;
use std::collections::BTreeSet;

impl LocationTable {
    /// Checks that the expiry index, the flow index and the tombstones agree
    /// with the records, and that no record is past its TTL after
    /// [`Self::handle_timeout`]`(now)`. For tests and debug assertions; costs a
    /// walk over the whole table.
    pub fn check_invariants(&self) -> crate::Result<()> {
        let expiry: BTreeSet<_> = self.records.iter().map(|e| (e.record.expires_at, e.record.number.clone())).collect();
        if expiry != self.expiry {
            return Err(crate::Error::Invariant(format!("expiry index {:?} != records {:?}", self.expiry, expiry)));
        }
        // Each entry is filed by its own number, so none can be under another's.
        for e in self.records.iter() {
            let r = &e.record;
            let number = &r.number;
            if self.tombstones.contains_key(number) {
                return Err(crate::Error::Invariant(format!("{number}: both a record and a tombstone")));
            }
            let has_flow = r.flow_id.is_some();
            let live_state = matches!(r.state, RlState::Registered | RlState::Conflict);
            if has_flow != live_state {
                return Err(crate::Error::Invariant(format!("{number}: state {} with flow {:?}", r.state.as_str(), r.flow_id)));
            }
            if (r.state == RlState::Conflict) != e.challenger.is_some() {
                return Err(crate::Error::Invariant(format!("{number}: state {} with challenger {:?}", r.state.as_str(), e.challenger)));
            }
            if let Some(key) = record_key(r) {
                let Some((flow, f)) = self.flows.get(key) else {
                    return Err(crate::Error::Invariant(format!("{number}: on {:?} which the flow index does not know", key)));
                };
                if f.numbers.get(number) != Some(r.outbound) {
                    return Err(crate::Error::Invariant(format!("{number}: flow {flow} does not list it (outbound {})", r.outbound)));
                }
                if Some(flow.local) != r.local || flow.transport != r.transport {
                    return Err(crate::Error::Invariant(format!("{number}: flow {flow} disagrees with the record")));
                }
            }
        }
        for (flow, f) in self.flows.entries() {
            for number in f.numbers.keys() {
                let bound = self.records.get(number).and_then(|e| record_key(&e.record));
                if bound != Some((flow.id, flow.remote)) {
                    return Err(crate::Error::Invariant(format!("flow {flow} lists {number}, whose record is on {bound:?}")));
                }
            }
        }
        self.flows.check()?;
        let purge: BTreeSet<_> = self.tombstones.iter().map(|(n, (_, t))| (*t, n.clone())).collect();
        if purge != self.purge {
            return Err(crate::Error::Invariant(format!("purge index {:?} != tombstones {:?}", self.purge, purge)));
        }
        Ok(())
    }
}
