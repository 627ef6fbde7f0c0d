//! The distributed store: the same data as the SQLite file, in one Redis
//! server or a Redis Cluster, so several switch nodes can share it.
//!
//! **Keys.** Everything of one number sits under its hash tag, so it lives in
//! one slot and one change to it is one atomic script even in a Cluster:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `sw:{N}:sub` | hash | subscriber N: `realm`, the three HA1s, `mac`, `home`, `rev` (bumped by every write), `created_at`, `updated_at` |
//! | `sw:{N}:rl` | hash | N's RL record (the SQLite columns) and `node`, the switch holding its flow; `PEXPIREAT` its `expires_at` |
//! | `sw:{subscribers}:index` | set | every provisioned number: how listings find them |
//! | `sw:{subscribers}:version` | counter | moves with every subscriber change, as SQLite's `subscribers_version` |
//! | `sw:{nodes}` | set | every node id that ever ran on this Redis |
//! | `sw:{node:ID}:calls` | hash | node ID's call records: Call-ID → the record as JSON |
//! | `sw:{node:ID}:order` | sorted set | the same Call-IDs by INVITE time: the oldest go past [`MAX_CALLS_PER_NODE`] |
//! | `sw:{node:ID}:open` | set | the Call-IDs of its calls not yet ended |
//! | `sw:{node:ID}:lease` | string | node ID's `--node-address` (`tcp:IP:PORT`); `PX` 3 s, refreshed every second while it runs ([`crate::cluster::lease`]) |
//!
//! Listing finds numbers through the index key rather than a `SCAN` of every
//! master: one key, written only by provisioning (never on a REGISTER), read
//! the same way from a single server and a Cluster. A Cluster refuses
//! multi-key operations across slots, so a subscriber change is two atomic
//! steps: the number's own keys first, then the index and version (one slot
//! of their own). Readers skip an index entry whose `sub` hash is gone (a
//! remove cut short); an add cut short leaves a subscriber no listing finds
//! until the next `add` of that number (refused as existing) indexes it. Call
//! records are per node (a call has two numbers, and each node writes its
//! own), capped at [`MAX_CALLS_PER_NODE`] (SQLite keeps them all; Redis holds
//! them in memory).
//!
//! Redis expires RL records on its own clock (`PEXPIREAT`), the switches on
//! theirs: keep them in step (NTP), or records vanish early or late.
//!
//! **Driver.** The store's API is synchronous and runs on the store thread
//! (and in the CLI), so this uses the `redis` crate's blocking connections:
//! `redis::Connection` for one server, `redis::cluster::ClusterConnection`
//! for a Cluster (it follows MOVED/ASK and reconnects by itself), both behind
//! `redis::ConnectionLike`. A master killed in a Cluster fails writes to its
//! slots until a replica takes over (`cluster-node-timeout` and an
//! election: seconds); each failure drops the connection, and the next one
//! reads the new slot map from the seeds (`switch/tests/redis_failover.rs`). An async connection would need a runtime on that
//! thread and a `block_on` per call for nothing gained.
//!
//! **Failures.** Every command has a timeout ([`TIMEOUT`]); a connection that
//! failed is dropped and the next call reconnects (nothing is retried here: a
//! write may have happened). Errors come back as [`StoreError::Redis`], the
//! store-error path the SQLite side uses, and are counted by kind in
//! `switch_redis_errors_total` ([`errors`]).
//!
//! **Batches.** The store thread's RL changes go as one pipeline
//! ([`RedisStore::write_records`]): one round trip per master touched, each
//! change still one script with its own reply, then one `WAIT` per master
//! that took a put, not one per record. With
//! [`RedisStore::set_wait_replicas`] an RL record counts as written only once
//! that many replicas of its master acknowledged it (`WAIT`): fewer is
//! [`StoreError::NotReplicated`], which the store thread reports as a failed
//! commit (the REGISTER gets 503 with `Retry-After`).

mod cdrs;
mod conn;
mod errors;
mod lease;
mod records;
mod subscribers;

pub use cdrs::MAX_CALLS_PER_NODE;
pub use errors::METRIC as ERRORS_METRIC;

use super::error::{Result, StoreError};
use super::validate;
use conn::{Client, Conn};
use redis::{ConnectionLike, IntoConnectionInfo};
use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How long a connect or a command may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// How long a write waits for its replicas (`WAIT`): well inside
/// [`TIMEOUT`], so that the wait itself never counts as a failed command
/// (which the Cluster client would retry).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(1);

/// The URL scheme of a Redis Cluster: `redis-cluster://HOST:PORT,HOST:PORT,...`.
pub const CLUSTER_SCHEME: &str = "redis-cluster://";

/// Where the store is: `redis://[:PASSWORD@]HOST:PORT[/DB]` (one server) or
/// `redis-cluster://[:PASSWORD@]HOST:PORT,HOST:PORT,...` (seed nodes of a
/// Cluster; each seed is read as `redis://SEED`). Displays with any password
/// masked, so it can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://` URLs, one per seed.
    seeds: Vec<String>,
    cluster: bool,
}

impl RedisTarget {
    /// True for a Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }
}

impl FromStr for RedisTarget {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: String| StoreError::Invalid(format!("bad redis URL {}: {why}", redact(s)));
        let (seeds, cluster) = match s.strip_prefix(CLUSTER_SCHEME) {
            Some(list) => (list.split(',').map(|seed| format!("redis://{}", seed.trim())).collect::<Vec<_>>(), true),
            None if s.starts_with("redis://") => (vec![s.to_owned()], false),
            None => return Err(bad(format!("expected redis://HOST:PORT or {CLUSTER_SCHEME}HOST:PORT,HOST:PORT,..."))),
        };
        for seed in &seeds {
            seed.as_str().into_connection_info().map_err(|e| bad(e.to_string()))?;
        }
        Ok(RedisTarget { seeds, cluster })
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cluster {
            let seeds: Vec<String> = self.seeds.iter().map(|s| redact(s.trim_start_matches("redis://"))).collect();
            write!(f, "{CLUSTER_SCHEME}{}", seeds.join(","))
        } else {
            f.write_str(&redact(self.seeds.first().map_or("", String::as_str)))
        }
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTarget({self})")
    }
}

/// The URL with the user-info part (`user:password@`) masked.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let prefix = if scheme.is_empty() { String::new() } else { format!("{scheme}://") };
    match rest.rsplit_once('@') {
        Some((_, host)) => format!("{prefix}***@{host}"),
        None => format!("{prefix}{rest}"),
    }
}

/// One connection to Redis (a server or a Cluster) and the node id this
/// process writes bindings and call records as. `Send`, not `Sync`, like the
/// SQLite [`Store`](super::Store).
pub struct RedisStore {
    target: RedisTarget,
    client: Client,
    conn: RefCell<Option<Conn>>,
    node: Option<String>,
    wait_replicas: u32,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").field("target", &self.target).field("node", &self.node).finish()
    }
}

impl RedisStore {
    /// Connects (a `PING` must answer, or the error names the target) and,
    /// with `node`, records it in `sw:{nodes}`. Without a node the store
    /// reads everything and provisions, but cannot write bindings or calls.
    pub fn open(target: &RedisTarget, node: Option<&str>) -> Result<RedisStore> {
        if let Some(node) = node {
            validate::node(node)?;
        }
        let unreachable = |source| StoreError::Unreachable { target: target.to_string(), source };
        let client = if target.cluster {
            let builder =
                redis::cluster::ClusterClient::builder(target.seeds.clone()).connection_timeout(TIMEOUT).response_timeout(TIMEOUT);
            Client::Cluster(builder.build().map_err(unreachable)?)
        } else {
            Client::Single(redis::Client::open(target.seeds.first().map_or("", String::as_str)).map_err(unreachable)?)
        };
        let conn = client.connect().map_err(unreachable)?;
        let store =
            RedisStore { target: target.clone(), client, conn: RefCell::new(Some(conn)), node: node.map(str::to_owned), wait_replicas: 0 };
        store.run(|c| redis::cmd("PING").query::<()>(c)).map_err(|e| match e {
            StoreError::Redis(source) => unreachable(source),
            other => other,
        })?;
        if let Some(node) = &store.node {
            store.run(|c| redis::cmd("SADD").arg(keys::NODES).arg(node).query::<()>(c))?;
        }
        Ok(store)
    }

    /// Another connection to the same place, as the same node.
    pub fn reopen(&self) -> Result<RedisStore> {
        let mut store = RedisStore::open(&self.target, self.node.as_deref())?;
        store.wait_replicas = self.wait_replicas;
        Ok(store)
    }

    /// Where this store is.
    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// The node id this store writes as, if any.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    fn writing_node(&self) -> Result<&str> {
        self.node.as_deref().ok_or_else(|| StoreError::Invalid("this redis store was opened without a node id".into()))
    }

    /// Runs `f` on the connection, connecting first if the last one failed.
    /// A connection that failed (I/O, timeout, dropped) is not reused.
    fn run<T>(&self, f: impl FnOnce(&mut dyn ConnectionLike) -> redis::RedisResult<T>) -> Result<T> {
        self.run_conn(|c| f(c.as_dyn()))
    }

    /// As [`RedisStore::run`], on the concrete connection. Every error is
    /// counted ([`errors`]).
    fn run_conn<T>(&self, f: impl FnOnce(&mut Conn) -> redis::RedisResult<T>) -> Result<T> {
        let mut slot = self.conn.borrow_mut();
        let result = match &mut *slot {
            Some(conn) => f(conn),
            None => self.client.connect().and_then(|conn| f(slot.insert(conn))),
        };
        if let Err(e) = &result {
            errors::count(e);
            // A connection that failed is not reused; nor is a Cluster
            // connection whose slot map may be stale (a failover moved a
            // master: the next one reads the map afresh from the seeds).
            if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_cluster_error() {
                *slot = None;
            }
        }
        Ok(result?)
    }

    /// From now on a written RL record counts as stored only once `replicas`
    /// replicas of its master have it too (`WAIT`, up to [`WAIT_TIMEOUT`]); 0,
    /// the default: once the master has it.
    pub fn set_wait_replicas(&mut self, replicas: u32) {
        self.wait_replicas = replicas;
    }

    /// `WAIT`s for the replicas of the masters `written` went to (one
    /// `WAIT` per master), if asked to: the writes (their index in the batch
    /// and key) whose master fewer replicas acknowledged than asked for.
    fn replicated(&self, written: &[(usize, String)]) -> Result<Vec<(usize, StoreError)>> {
        let wanted = self.wait_replicas;
        if wanted == 0 || written.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = written.iter().map(|(_, key)| key.as_str()).collect();
        let mut short = Vec::new();
        for (acked, indexes) in self.run_conn(|c| c.wait(&keys, wanted))? {
            if acked >= wanted {
                continue;
            }
            for (at, key) in indexes.into_iter().filter_map(|i| written.get(i)) {
                errors::count_not_replicated();
                short.push((*at, StoreError::NotReplicated { what: key.clone(), acked, wanted }));
            }
        }
        Ok(short)
    }

    /// Every node id recorded, sorted.
    pub fn nodes(&self) -> Result<Vec<String>> {
        let mut nodes: Vec<String> = self.run(|c| redis::cmd("SMEMBERS").arg(keys::NODES).query(c))?;
        nodes.sort();
        Ok(nodes)
    }
}

/// Key names (see the module docs for the model).
mod keys {
    pub(super) const INDEX: &str = "sw:{subscribers}:index";
    pub(super) const VERSION: &str = "sw:{subscribers}:version";
    pub(super) const NODES: &str = "sw:{nodes}";

    pub(super) fn sub(number: &str) -> String {
        format!("sw:{{{number}}}:sub")
    }

    pub(super) fn rl(number: &str) -> String {
        format!("sw:{{{number}}}:rl")
    }

    /// A node's lease: its address, expiring unless refreshed.
    pub(super) fn lease(node: &str) -> String {
        format!("sw:{{node:{node}}}:lease")
    }

    /// A node's call keys: records, order, open.
    pub(super) fn calls(node: &str) -> [String; 3] {
        ["calls", "order", "open"].map(|k| format!("sw:{{node:{node}}}:{k}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_display_without_their_password() {
        let one: RedisTarget = "redis://:s3cret@127.0.0.1:6379".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(!one.is_cluster());
        assert_eq!(one.to_string(), "redis://***@127.0.0.1:6379");
        let many: RedisTarget = "redis-cluster://:pw@10.0.0.1:7000, 10.0.0.2:7001".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(many.is_cluster());
        assert_eq!(many.seeds, ["redis://:pw@10.0.0.1:7000", "redis://10.0.0.2:7001"]);
        assert_eq!(format!("{many:?}"), "RedisTarget(redis-cluster://***@10.0.0.1:7000,10.0.0.2:7001)");
        for bad in ["127.0.0.1:6379", "http://x", "redis-cluster://", "redis://:pw@"] {
            let err = bad.parse::<RedisTarget>().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.starts_with("bad redis URL"), "{bad}: {err}");
            assert!(!err.contains("pw@"), "{err}");
        }
    }
}
