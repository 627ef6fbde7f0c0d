//! The provisioned subscribers as the running switch sees them: an in-memory
//! copy of the store's table, reloaded whenever another process (the
//! `switch subscriber` CLI) commits to the database, so changes apply at once
//! without a restart and a REGISTER costs no query.

use crate::record::Subscriber;
use crate::store::{Result, Store};
use std::collections::HashMap;

/// Cached subscribers keyed by number.
#[derive(Debug, Default)]
pub struct Subscribers {
    by_number: HashMap<String, Subscriber>,
    /// PRAGMA data_version at the last look: moves with any other connection's
    /// commit (the record writer's too), so it only says "look closer".
    data_version: Option<i64>,
    /// The subscribers' own change counter at the last reload.
    version: Option<i64>,
}

impl Subscribers {
    /// Reloads from `store` if another connection changed it since the last
    /// look; true when it did reload.
    pub fn refresh(&mut self, store: &Store) -> Result<bool> {
        let data_version = store.data_version()?;
        if self.data_version == Some(data_version) {
            return Ok(false);
        }
        self.data_version = Some(data_version);
        let version = store.subscribers_version()?;
        if self.version == Some(version) {
            return Ok(false);
        }
        self.by_number = store.subscribers()?.into_iter().map(|s| (s.number.clone(), s)).collect();
        self.version = Some(version);
        Ok(true)
    }

    pub fn get(&self, number: &str) -> Option<&Subscriber> {
        self.by_number.get(number)
    }

    pub fn len(&self) -> usize {
        self.by_number.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_number.is_empty()
    }
}
