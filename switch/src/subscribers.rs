//! The provisioned subscribers as the running switch sees them: a snapshot of
//! the store's table, taken at start and again whenever another process (the
//! `switch subscriber` CLI) changed it, so a REGISTER or an INVITE costs no
//! query. The driver notices the change (`server::provisioning`) and reloads
//! off the runtime's threads; the core holds the requests that need the new
//! snapshot until it comes.

use crate::record::Subscriber;
use std::collections::HashMap;

/// Subscribers keyed by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscribers {
    by_number: HashMap<String, Subscriber>,
}

impl Subscribers {
    pub fn get(&self, number: &str) -> Option<&Subscriber> {
        self.by_number.get(number)
    }

    pub fn contains(&self, number: &str) -> bool {
        self.by_number.contains_key(number)
    }

    /// Every subscriber, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Subscriber> {
        self.by_number.values()
    }

    pub fn len(&self) -> usize {
        self.by_number.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_number.is_empty()
    }
}

impl FromIterator<Subscriber> for Subscribers {
    fn from_iter<I: IntoIterator<Item = Subscriber>>(iter: I) -> Self {
        Subscribers { by_number: iter.into_iter().map(|s| (s.number.clone(), s)).collect() }
    }
}
