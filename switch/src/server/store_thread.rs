//! The store thread: every blocking store call (SQLite or Redis) the running
//! switch makes besides the cheap provisioning check, on a thread of its own
//! so that the runtime's workers never wait for the disk or the network.
//!
//! Writes go in batches (group commit): the driver hands over changes and
//! moves on; the thread commits whatever has piled up in one transaction and
//! then reports the highest [`CommitTicket`] of the batch, which releases the
//! responses the core held for it. One commit per batch instead of one per
//! REGISTER, WAL checkpoints (with their fsyncs) stall only this thread, and a
//! 200 OK still never goes out before its record is on disk (a `kill -9` loses
//! nothing acknowledged). A clean stop writes everything queued.
//!
//! With Redis a batch is not one transaction (a Cluster has none across
//! slots): each change is one atomic write, and the batch's ticket is
//! reported once Redis has answered every one of them.
//!
//! Subscriber reloads run here too, between batches: they are rare (the CLI
//! changed something) and read the whole table.

use super::Feedback;
use crate::cdr::Cdr;
use crate::core::CommitTicket;
use crate::record::RlRecord;
use crate::store::Backend;
use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{error, warn};

/// Most operations taken into one batch.
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
}

/// The driver's end of the store thread.
pub(super) struct StoreThread {
    ops: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreThread {
    /// Starts the thread over its own connection to the store; what it has to
    /// report goes to `feedback`.
    pub(super) fn start(store: Backend, feedback: UnboundedSender<Feedback>) -> std::io::Result<Self> {
        let (ops, rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name("store".into()).spawn(move || run(&store, &rx, &feedback))?;
        Ok(Self { ops: Some(ops), thread: Some(thread) })
    }

    fn send(&self, op: Op) {
        if self.ops.as_ref().is_none_or(|tx| tx.send(op).is_err()) {
            error!("the store thread has stopped; a change is lost");
        }
    }

    pub(super) fn put(&self, record: RlRecord) {
        self.send(Op::Put(Box::new(record)));
    }

    pub(super) fn delete(&self, number: String) {
        self.send(Op::Delete(number));
    }

    pub(super) fn put_cdr(&self, cdr: Cdr) {
        self.send(Op::Cdr(Box::new(cdr)));
    }

    pub(super) fn commit(&self, ticket: CommitTicket) {
        self.send(Op::Commit(ticket));
    }

    pub(super) fn load_subscribers(&self) {
        self.send(Op::LoadSubscribers);
    }

    /// Writes everything queued, then stops the thread (blocks until it has).
    pub(super) fn finish(&mut self) {
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
}

impl Batch {
    fn add(&mut self, op: Op) {
        match op {
            Op::Put(r) => {
                self.records.insert(r.number.clone(), Some(r));
            }
            Op::Delete(n) => {
                self.records.insert(n, None);
            }
            Op::Cdr(c) => {
                self.cdrs.insert(c.call_id.clone(), c);
            }
            Op::Commit(t) => self.ticket = self.ticket.max(Some(t)),
            Op::LoadSubscribers => self.load = true,
        }
    }

    fn write(&self, store: &Backend) {
        if self.records.is_empty() && self.cdrs.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let written = store.transaction(|s| -> crate::store::Result<()> {
            for cdr in self.cdrs.values() {
                if let Err(e) = s.put_cdr(cdr) {
                    warn!(call_id = %cdr.call_id, error = %e, "call record not stored");
                }
            }
            for (number, op) in &self.records {
                let result = match op {
                    Some(r) => s.put_record(r),
                    None => s.delete_record(number).map(drop),
                };
                // A number deprovisioned meanwhile has no row to write to; the
                // rest of the batch still goes in.
                if let Err(e) = result {
                    warn!(number = %number, error = %e, "registration change not stored");
                }
            }
            Ok(())
        });
        metrics::histogram!("switch_store_write_seconds").record(started.elapsed().as_secs_f64());
        if let Err(e) = written {
            error!(error = %e, changes = self.records.len(), "could not store registration changes");
        }
    }
}

fn run(store: &Backend, rx: &mpsc::Receiver<Op>, feedback: &UnboundedSender<Feedback>) {
    // Blocks for the first operation, then takes whatever else is already queued.
    while let Ok(first) = rx.recv() {
        let mut batch = Batch::default();
        batch.add(first);
        for op in rx.try_iter().take(MAX_BATCH) {
            batch.add(op);
        }
        batch.write(store);
        // The tickets are reported even when the commit failed (it was
        // logged): their responses would otherwise never go out.
        if let Some(t) = batch.ticket {
            let _ = feedback.send(Feedback::Committed(t));
        }
        if batch.load {
            let loaded = store.subscribers().map(|all| all.into_iter().collect()).map_err(crate::Error::from);
            let _ = feedback.send(Feedback::Subscribers(loaded));
        }
    }
}
