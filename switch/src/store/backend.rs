//! The one store interface the switch and the CLI use: the SQLite file or
//! Redis, chosen at start (`[store] redis`, `--redis`). An enum rather than a
//! trait object: two backends, known here, and methods generic over closures
//! ([`Backend::transaction`]) that a trait object could not carry. Each
//! method is the backend's own; validation is `store::validate`'s for both.

use super::error::Result;
use super::redis::{RedisStore, RedisTarget};
use super::{NewSubscriber, Store, SubscriberUpdate};
use crate::cdr::Cdr;
use crate::record::{RlRecord, Subscriber, UnixTime};
use std::path::PathBuf;

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreTarget {
    /// `<dir>/switch.db`.
    Dir(PathBuf),
    /// One Redis server or a Cluster.
    Redis(RedisTarget),
}

impl std::fmt::Display for StoreTarget {
    /// The SQLite file, or the Redis URL with any password masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreTarget::Dir(dir) => write!(f, "{}", dir.join(super::DB_FILE).display()),
            StoreTarget::Redis(r) => write!(f, "{r}"),
        }
    }
}

/// One change to an RL record, as a batch of them carries it
/// ([`Backend::write_records`]).
#[derive(Debug, Clone, Copy)]
pub enum RecordChange<'a> {
    Put(&'a RlRecord),
    Delete(&'a str),
}

impl RecordChange<'_> {
    /// The number whose record changes.
    pub fn number(&self) -> &str {
        match self {
            RecordChange::Put(r) => &r.number,
            RecordChange::Delete(n) => n,
        }
    }
}

/// An open store of either kind.
#[derive(Debug)]
pub enum Backend {
    Sqlite(Store),
    /// Boxed: a Redis client is several times the size of an SQLite connection.
    Redis(Box<RedisStore>),
}

/// The same call on whichever backend this is.
macro_rules! either {
    ($self:expr, $s:ident => $call:expr) => {
        match $self {
            Backend::Sqlite($s) => $call,
            Backend::Redis($s) => $call,
        }
    };
}

impl Backend {
    /// Opens the store at `target`, creating an SQLite file if missing. With
    /// Redis, `node` is the id this process writes bindings and calls as.
    pub fn open(target: &StoreTarget, node: Option<&str>) -> Result<Backend> {
        Ok(match target {
            StoreTarget::Dir(dir) => Backend::Sqlite(Store::open(dir)?),
            StoreTarget::Redis(r) => Backend::Redis(Box::new(RedisStore::open(r, node)?)),
        })
    }

    /// As [`Backend::open`], but an SQLite file must exist already (a
    /// mistyped `--data-dir` is an error, not a new empty store).
    pub fn open_existing(target: &StoreTarget, node: Option<&str>) -> Result<Backend> {
        Ok(match target {
            StoreTarget::Dir(dir) => Backend::Sqlite(Store::open_existing(dir)?),
            StoreTarget::Redis(r) => Backend::Redis(Box::new(RedisStore::open(r, node)?)),
        })
    }

    /// True for Redis (listings add a node column).
    pub fn is_redis(&self) -> bool {
        matches!(self, Backend::Redis(_))
    }

    pub fn add_subscriber(&self, add: NewSubscriber<'_>) -> Result<Subscriber> {
        either!(self, s => s.add_subscriber(add))
    }

    pub fn update_subscriber(&self, number: &str, update: SubscriberUpdate) -> Result<Subscriber> {
        either!(self, s => s.update_subscriber(number, update))
    }

    pub fn remove_subscriber(&self, number: &str) -> Result<()> {
        either!(self, s => s.remove_subscriber(number))
    }

    pub fn subscriber(&self, number: &str) -> Result<Option<Subscriber>> {
        either!(self, s => s.subscriber(number))
    }

    pub fn subscribers(&self) -> Result<Vec<Subscriber>> {
        either!(self, s => s.subscribers())
    }

    /// A counter that moves with every subscriber change.
    pub fn subscribers_version(&self) -> Result<i64> {
        either!(self, s => s.subscribers_version())
    }

    pub fn put_record(&self, record: &RlRecord) -> Result<()> {
        either!(self, s => s.put_record(record))
    }

    pub fn delete_record(&self, number: &str) -> Result<bool> {
        either!(self, s => s.delete_record(number))
    }

    /// Makes `changes`: with Redis one pipeline and one `WAIT` per master
    /// ([`RedisStore::write_records`]); with SQLite one write after the
    /// other, stopping at the first failure (inside a
    /// [`Backend::transaction`], the caller rolls the batch back). A put's
    /// outcome: `true` if written; a delete's: `true` if there was a record.
    /// A number not provisioned is its change's
    /// [`StoreError::NotFound`](super::StoreError::NotFound), not the batch's.
    pub fn write_records(&self, changes: &[RecordChange<'_>]) -> Result<Vec<Result<bool>>> {
        let s = match self {
            Backend::Redis(s) => return s.write_records(changes),
            Backend::Sqlite(s) => s,
        };
        let mut outcomes = Vec::with_capacity(changes.len());
        for change in changes {
            let outcome = match change {
                RecordChange::Put(r) => s.put_record(r).map(|()| true),
                RecordChange::Delete(n) => s.delete_record(n),
            };
            match outcome {
                Err(e @ super::StoreError::NotFound(_)) => outcomes.push(Err(e)),
                Err(e) => return Err(e),
                Ok(done) => outcomes.push(Ok(done)),
            }
        }
        Ok(outcomes)
    }

    pub fn record(&self, number: &str) -> Result<Option<RlRecord>> {
        either!(self, s => s.record(number))
    }

    pub fn records(&self) -> Result<Vec<RlRecord>> {
        either!(self, s => s.records())
    }

    /// The records this switch wrote: all of them in SQLite; with Redis, this
    /// node's (a restarted node restores its own bindings and never takes
    /// over another node's).
    pub fn own_records(&self) -> Result<Vec<RlRecord>> {
        match self {
            Backend::Sqlite(s) => s.records(),
            Backend::Redis(s) => {
                let node = s.node();
                Ok(s.records_with_nodes()?.into_iter().filter(|(_, n)| n.as_deref() == node).map(|(r, _)| r).collect())
            }
        }
    }

    /// Every record with the node holding its flow (none in SQLite: one switch).
    pub fn records_with_nodes(&self) -> Result<Vec<(RlRecord, Option<String>)>> {
        match self {
            Backend::Sqlite(s) => Ok(s.records()?.into_iter().map(|r| (r, None)).collect()),
            Backend::Redis(s) => s.records_with_nodes(),
        }
    }

    pub fn purge_expired(&self, now: UnixTime) -> Result<usize> {
        either!(self, s => s.purge_expired(now))
    }

    pub fn put_cdr(&self, rec: &Cdr) -> Result<()> {
        either!(self, s => s.put_cdr(rec))
    }

    /// Ends the calls this switch left open (with Redis: this node's).
    pub fn end_open_cdrs(&self, at: u64, reason: &str) -> Result<usize> {
        either!(self, s => s.end_open_cdrs(at, reason))
    }

    pub fn cdr(&self, call_id: &str) -> Result<Option<Cdr>> {
        either!(self, s => s.cdr(call_id))
    }

    pub fn cdrs(&self, active_only: bool) -> Result<Vec<Cdr>> {
        either!(self, s => s.cdrs(active_only))
    }

    /// Call records with the node that carried each (none in SQLite).
    pub fn cdrs_with_nodes(&self, active_only: bool) -> Result<Vec<(Cdr, Option<String>)>> {
        match self {
            Backend::Sqlite(s) => Ok(s.cdrs(active_only)?.into_iter().map(|c| (c, None)).collect()),
            Backend::Redis(s) => Ok(s.cdrs_with_nodes(active_only)?.into_iter().map(|(c, n)| (c, Some(n))).collect()),
        }
    }

    /// `number`'s live binding on another node (never in SQLite: one switch).
    pub fn binding_elsewhere(&self, number: &str) -> Result<Option<crate::cluster::RemoteBinding>> {
        match self {
            Backend::Sqlite(_) => Ok(None),
            Backend::Redis(s) => s.binding_elsewhere(number),
        }
    }

    /// Runs `f` as one batch: one SQLite transaction (all or nothing); with
    /// Redis each change is atomic on its own (a Cluster has no transaction
    /// across slots), so a failure midway leaves what went before.
    pub fn transaction<T, E: From<super::StoreError>>(
        &self,
        f: impl FnOnce(&Backend) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        match self {
            Backend::Sqlite(s) => s.transaction(|_| f(self)),
            Backend::Redis(_) => f(self),
        }
    }
}
