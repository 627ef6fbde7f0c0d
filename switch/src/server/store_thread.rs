//! The store thread: every blocking store call (SQLite or Redis) the running
//! switch makes besides the cheap provisioning check, on a thread of its own
//! so that the runtime's workers never wait for the disk or the network.
//!
//! Writes go in batches (group commit): the driver hands over changes and
//! moves on; the thread commits whatever has piled up (a small batch first
//! waits up to a millisecond for more while traffic flows, `commit_window.rs`) in one transaction and
//! then reports the highest [`CommitTicket`] of the batch, which releases the
//! responses the core held for it. One commit per batch instead of one per
//! REGISTER, WAL checkpoints (with their fsyncs) stall only this thread, and a
//! 200 OK still never goes out before its record is on disk (a `kill -9` loses
//! nothing acknowledged). A clean stop writes everything queued.
//!
//! With Redis a batch is not one transaction (a Cluster has none across
//! slots): each change is one atomic write, all sent in one pipeline (one
//! round trip per master, plus one `WAIT` per master when replicas must
//! acknowledge), and the batch's ticket is reported once Redis has answered
//! every one of them.
//!
//! A batch that could not be written is reported as failed (its REGISTERs get
//! 503), and so is one whose RL records fewer Redis replicas acknowledged
//! than `[store] wait_replicas` asks (one log line when that starts, one when
//! it ends; new calls are not refused for it); the store counts as unavailable from that failure to the next
//! operation that succeeds, and the driver hears of both changes (one log
//! line each). Nothing is retried here: the phones retry after `Retry-After`,
//! and the first write that goes through is how the store is found back.
//!
//! Subscriber reloads run here too, between batches: they are rare (the CLI
//! changed something) and read the whole table. So do the look-ups of a
//! binding another node holds (a cluster's INVITE for a number with no flow
//! here): after the batch's writes, so a lookup never reads older than what
//! this node wrote before asking.

use super::Feedback;
use crate::cdr::Cdr;
use crate::core::{CommitTicket, LookupId};
use crate::record::RlRecord;
use crate::store::{Backend, RecordChange, StoreError};
use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, error, info, warn};

/// Operations past which a batch takes no more (whole turns of the driver's loop are taken).
const MAX_BATCH: usize = 4096;

enum Op {
    Put(Box<RlRecord>),
    Delete(String),
    /// A call record, inserted or updated (the last one per call in a batch wins).
    Cdr(Box<Cdr>),
    /// Report once everything queued before it is committed.
    Commit(CommitTicket),
    /// Read the subscribers and hand them to the driver.
    LoadSubscribers,
    /// Find a number's live binding on another node.
    FindBinding(LookupId, String),
}

/// The driver's end of the store thread. Operations collect in `pending`
/// and go over in one message per turn of the driver's loop ([`submit`]):
/// one wake-up of the thread for everything a burst of messages asked, where
/// a send per operation could wake it for each.
///
/// [`submit`]: StoreThread::submit
pub(super) struct StoreThread {
    ops: Option<mpsc::Sender<Vec<Op>>>,
    pending: Vec<Op>,
    thread: Option<JoinHandle<()>>,
}

impl StoreThread {
    /// Starts the thread over its own connection to the store; what it has to
    /// report goes to `feedback`.
    pub(super) fn start(store: Backend, feedback: UnboundedSender<Feedback>) -> std::io::Result<Self> {
        let (ops, rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name("store".into()).spawn(move || run(&store, &rx, &feedback))?;
        Ok(Self { ops: Some(ops), pending: Vec::new(), thread: Some(thread) })
    }

    /// Hands the thread everything asked since the last call.
    pub(super) fn submit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let ops = std::mem::take(&mut self.pending);
        if self.ops.as_ref().is_none_or(|tx| tx.send(ops).is_err()) {
            error!("the store thread has stopped; changes are lost");
        }
    }

    pub(super) fn put(&mut self, record: RlRecord) {
        self.pending.push(Op::Put(Box::new(record)));
    }

    pub(super) fn delete(&mut self, number: String) {
        self.pending.push(Op::Delete(number));
    }

    pub(super) fn put_cdr(&mut self, cdr: Cdr) {
        self.pending.push(Op::Cdr(Box::new(cdr)));
    }

    pub(super) fn commit(&mut self, ticket: CommitTicket) {
        self.pending.push(Op::Commit(ticket));
    }

    pub(super) fn load_subscribers(&mut self) {
        self.pending.push(Op::LoadSubscribers);
    }

    pub(super) fn find_binding(&mut self, id: LookupId, number: String) {
        self.pending.push(Op::FindBinding(id, number));
    }

    /// Writes everything queued, then stops the thread (blocks until it has).
    pub(super) fn finish(&mut self) {
        self.submit();
        self.ops.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StoreThread {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One batch: the last write per record and per call, and the highest ticket.
#[derive(Default)]
struct Batch {
    records: HashMap<String, Option<Box<RlRecord>>>,
    cdrs: HashMap<String, Box<Cdr>>,
    ticket: Option<CommitTicket>,
    load: bool,
    lookups: Vec<(LookupId, String)>,
}

impl Batch {
    fn add(&mut self, op: Op) {
        match op {
            Op::Put(r) => {
                self.records.insert(r.number.to_string(), Some(r));
            }
            Op::Delete(n) => {
                self.records.insert(n, None);
            }
            Op::Cdr(c) => {
                self.cdrs.insert(c.call_id.clone(), c);
            }
            Op::Commit(t) => self.ticket = self.ticket.max(Some(t)),
            Op::LoadSubscribers => self.load = true,
            Op::FindBinding(id, number) => self.lookups.push((id, number)),
        }
    }

    /// Writes the batch: one SQLite transaction (rolled back whole if a
    /// write fails), or one Redis pipeline of every change (one round trip
    /// per master, then one `WAIT` per master with `[store] wait_replicas`). A number deprovisioned meanwhile has no row to write to: logged,
    /// not a failure. A Redis write that reached the master but not enough
    /// replicas in time (`[store] wait_replicas`) does not stop the batch (the
    /// store works) but fails its commit: a 200 OK would promise what a
    /// master's death could still take back. `None` when there was nothing to
    /// write: it says nothing of the store.
    fn write(&self, store: &Backend) -> Option<Written> {
        if self.records.is_empty() && self.cdrs.is_empty() {
            return None;
        }
        let started = std::time::Instant::now();
        let mut unreplicated = None;
        let stored = store.transaction(|s| -> crate::store::Result<()> {
            for cdr in self.cdrs.values() {
                s.put_cdr(cdr)?;
            }
            let changes: Vec<RecordChange<'_>> =
                self.records.iter().map(|(number, op)| op.as_deref().map_or(RecordChange::Delete(number), RecordChange::Put)).collect();
            for (change, outcome) in changes.iter().zip(s.write_records(&changes)?) {
                match outcome {
                    Ok(_) => {}
                    Err(e @ StoreError::NotFound(_)) => warn!(number = %change.number(), error = %e, "registration change not stored"),
                    Err(e @ StoreError::NotReplicated { .. }) => unreplicated = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        metrics::histogram!("switch_store_write_seconds").record(started.elapsed().as_secs_f64());
        let replicated =
            if stored.is_ok() && self.records.values().any(Option::is_some) { Some(unreplicated.map_or(Ok(()), Err)) } else { None };
        Some(Written { stored, replicated })
    }
}

/// How a batch went.
struct Written {
    /// Whether the store took it.
    stored: crate::store::Result<()>,
    /// Whether its RL records reached the replicas asked for (`None`: it had
    /// none to put, or the store failed).
    replicated: Option<crate::store::Result<()>>,
}

impl Written {
    /// True when the batch's commit cannot be acknowledged.
    fn failed(&self) -> bool {
        self.stored.is_err() || matches!(self.replicated, Some(Err(_)))
    }
}

/// Whether the store takes operations, as the last one went, and whether
/// its RL writes reach their replicas, as the last one went: the driver (and
/// the log) hear of each change, not of each failure.
#[derive(Default)]
struct Health {
    down: bool,
    unreplicated: bool,
}

impl Health {
    fn after<T>(&mut self, result: &crate::Result<T, impl std::fmt::Display>, feedback: &UnboundedSender<Feedback>) {
        match result {
            Err(e) if !self.down => {
                error!(error = %e, "store unavailable: REGISTERs and new calls get 503 until an operation succeeds");
                self.down = true;
                let _ = feedback.send(Feedback::StoreDown(true));
            }
            Err(e) => debug!(error = %e, "store still unavailable"),
            Ok(_) if self.down => {
                info!("store available again");
                self.down = false;
                let _ = feedback.send(Feedback::StoreDown(false));
            }
            Ok(_) => {}
        }
    }

    /// Replication is the REGISTERs' business only: new calls go on (their
    /// records are not waited for), so the driver is not told.
    fn after_replication(&mut self, result: &crate::store::Result<()>) {
        match result {
            Err(e) if !self.unreplicated => {
                error!(error = %e, "registrations not replicated: REGISTERs get 503 until redis replicas acknowledge again");
                self.unreplicated = true;
            }
            Err(e) => debug!(error = %e, "registrations still not replicated"),
            Ok(()) if self.unreplicated => {
                info!("registrations replicated again");
                self.unreplicated = false;
            }
            Ok(()) => {}
        }
    }
}

fn run(store: &Backend, rx: &mpsc::Receiver<Vec<Op>>, feedback: &UnboundedSender<Feedback>) {
    let mut health = Health::default();
    // A write failed since the last ticket reported: the next ticket covers
    // it (its changes may have come in an earlier batch than the ticket).
    let mut lost = false;
    let mut window = super::commit_window::CommitWindow::default();
    // Blocks for the first operation, lets a small batch gather while traffic
    // flows, then takes whatever else is queued.
    while let Ok(first) = rx.recv() {
        if let Some(wait) = window.wait(std::time::Instant::now(), first.len()) {
            std::thread::sleep(wait);
        }
        let mut batch = Batch::default();
        let mut taken = first.len();
        first.into_iter().for_each(|op| batch.add(op));
        while taken < MAX_BATCH {
            let Ok(more) = rx.try_recv() else { break };
            taken += more.len();
            more.into_iter().for_each(|op| batch.add(op));
        }
        if let Some(written) = batch.write(store) {
            health.after(&written.stored, feedback);
            if let Some(replicated) = &written.replicated {
                health.after_replication(replicated);
            }
            lost |= written.failed();
        }
        // Every ticket is reported, committed or not: the responses held for
        // it go out either way (200, or 503 for a failed commit).
        if let Some(t) = batch.ticket {
            let _ = feedback.send(if lost { Feedback::CommitFailed(t) } else { Feedback::Committed(t) });
            lost = false;
        }
        for (id, number) in batch.lookups.drain(..) {
            let found = store.binding_elsewhere(&number).map_err(crate::Error::from);
            health.after(&found, feedback);
            let _ = feedback.send(Feedback::Binding { id, found: found.ok().flatten() });
        }
        if batch.load {
            let loaded = store.subscribers().map(|all| all.into_iter().collect()).map_err(crate::Error::from);
            health.after(&loaded, feedback);
            let _ = feedback.send(Feedback::Subscribers(loaded));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    //! SQLite takes the same path as Redis: a commit that fails (here another
    //! connection holds the write lock past the busy timeout) is reported
    //! failed, the store unavailable once, and the next commit that goes
    //! through reports it available again.

    use super::*;
    use crate::store::{NewSubscriber, Store};
    use std::time::{Duration, Instant};

    fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Feedback>) -> Feedback {
        let wait = crate::store::BUSY_TIMEOUT + Duration::from_secs(10);
        let deadline = Instant::now() + wait;
        loop {
            match rx.try_recv() {
                Ok(f) => return f,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("no feedback within {wait:?}: {e}"),
            }
        }
    }

    #[test]
    fn a_failed_sqlite_commit_is_reported_and_the_store_found_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Backend::Sqlite(Store::open(dir.path()).unwrap());
        store.add_subscriber(NewSubscriber::new("1001", "Wombat-Lantern-4410", "switch.test")).unwrap();
        let record = crate::dns::fixture::record("1001", Instant::now(), 600).map_times(|_| 4_000_000_000u64);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut thread = StoreThread::start(store, tx).unwrap();

        let locker = rusqlite::Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
        locker.execute_batch("BEGIN IMMEDIATE").unwrap();
        thread.put(record.clone());
        thread.commit(CommitTicket(1));
        thread.submit();
        assert!(matches!(next(&mut rx), Feedback::StoreDown(true)));
        assert!(matches!(next(&mut rx), Feedback::CommitFailed(CommitTicket(1))));

        locker.execute_batch("ROLLBACK").unwrap();
        thread.put(record);
        thread.commit(CommitTicket(2));
        thread.submit();
        assert!(matches!(next(&mut rx), Feedback::StoreDown(false)));
        assert!(matches!(next(&mut rx), Feedback::Committed(CommitTicket(2))));
        thread.finish();
        let stored = Store::open(dir.path()).unwrap().record("1001").unwrap();
        assert!(stored.is_some(), "the second commit went in");
    }

    /// `wait_replicas = 1` on a Redis master with no replica: every RL write
    /// times out in `WAIT`, so its commit fails, yet the store is not
    /// reported unavailable (new calls need no replica), and a call record
    /// alone commits.
    #[test]
    fn a_write_no_replica_acknowledged_fails_its_commit_but_not_the_store() {
        let redis = ::tests::redis::RedisServer::start();
        let target: crate::store::redis::RedisTarget = redis.url().parse().unwrap();
        let mut store = crate::store::redis::RedisStore::open(&target, Some("node-u")).unwrap();
        store.set_wait_replicas(1);
        let store = Backend::Redis(Box::new(store));
        store.add_subscriber(NewSubscriber::new("1001", "Wombat-Lantern-4410", "switch.test")).unwrap();
        let record = crate::dns::fixture::record("1001", Instant::now(), 600).map_times(|_| 4_000_000_000u64);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut thread = StoreThread::start(store, tx).unwrap();

        thread.put(record);
        thread.commit(CommitTicket(1));
        thread.submit();
        assert!(matches!(next(&mut rx), Feedback::CommitFailed(CommitTicket(1))));
        thread.put_cdr(crate::cdr::Cdr { call_id: "call-1".into(), route: "flow".into(), invite_at: 5, ..Default::default() });
        thread.commit(CommitTicket(2));
        thread.submit();
        assert!(matches!(next(&mut rx), Feedback::Committed(CommitTicket(2))), "no StoreDown before it");
        thread.finish();
        assert!(rx.try_recv().is_err(), "the store was never reported down");
    }
}
