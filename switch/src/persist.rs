//! Writes RL record changes on a thread of their own, in batches (group
//! commit): the request loop hands over a change together with the response
//! that acknowledges it and moves on; the writer commits whatever has piled up
//! in one transaction and only then sends those responses. One commit per batch
//! instead of one per REGISTER, WAL checkpoints (with their fsyncs) stall only
//! the writer, and a 200 OK still never goes out before its record is on disk
//! (a `kill -9` loses nothing acknowledged). A clean stop writes everything queued.

use crate::cdr::Cdr;
use crate::record::RlRecord;
use crate::store::{Store, WallClock};
use sipcore::Response;
use sipcore::stack::Stack;
use sipcore::transaction::TransactionKey;
use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;
use tracing::{error, warn};

/// Most changes committed in one transaction.
const MAX_BATCH: usize = 4096;

enum Op {
    Put(Box<RlRecord>),
    Delete(String),
    /// A call record, inserted or updated (the last one per call in a batch wins).
    Call(Box<Cdr>),
    /// Send once everything queued before it is committed.
    Reply(TransactionKey, Box<Response>),
}

/// The request loop's end of the writer.
pub struct Persister {
    /// Where the stored Unix times come from.
    clock: WallClock,
    ops: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<()>>,
}

impl Persister {
    /// Starts the writer over its own connection to the store.
    pub fn start(store: Store, stack: Stack, clock: WallClock) -> std::io::Result<Self> {
        let (ops, rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name("store-writer".into()).spawn(move || write_loop(&store, &stack, &rx))?;
        Ok(Self { clock, ops: Some(ops), thread: Some(thread) })
    }

    fn send(&self, op: Op) {
        if self.ops.as_ref().is_none_or(|tx| tx.send(op).is_err()) {
            error!("the store writer has stopped; a registration change is lost");
        }
    }

    /// Queues an upsert.
    pub fn put(&self, record: &RlRecord<Instant>) {
        self.send(Op::Put(Box::new(self.clock.stored_record(record.clone()))));
    }

    /// Queues a delete.
    pub fn delete(&self, number: &str) {
        self.send(Op::Delete(number.to_owned()));
    }

    /// Queues a call record (insert or update).
    pub fn put_cdr(&self, record: &Cdr<Instant>) {
        self.send(Op::Call(Box::new(self.clock.stored_cdr(record.clone()))));
    }

    /// Sends `response` for the server transaction `key` once the changes
    /// queued before it are committed.
    pub fn reply_after_commit(&self, key: TransactionKey, response: Response) {
        self.send(Op::Reply(key, Box::new(response)));
    }

    /// Writes everything queued, then stops the writer.
    pub fn finish(&mut self) {
        self.ops.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        self.finish();
    }
}

fn write_loop(store: &Store, stack: &Stack, rx: &mpsc::Receiver<Op>) {
    // Blocks for the first change, then takes whatever else is already queued.
    while let Ok(first) = rx.recv() {
        let mut batch: HashMap<String, Option<Box<RlRecord>>> = HashMap::new();
        let mut replies = Vec::new();
        let mut calls: HashMap<String, Box<Cdr>> = HashMap::new();
        let mut add = |op: Op| match op {
            Op::Call(c) => {
                calls.insert(c.call_id.clone(), c);
            }
            Op::Put(r) => {
                batch.insert(r.number.clone(), Some(r));
            }
            Op::Delete(n) => {
                batch.insert(n, None);
            }
            Op::Reply(key, resp) => replies.push((key, resp)),
        };
        add(first);
        for op in rx.try_iter().take(MAX_BATCH) {
            add(op);
        }
        if batch.is_empty() && calls.is_empty() {
            // Replies with nothing to write before them.
        } else if let Err(e) = store.transaction(|s| -> crate::store::Result<()> {
            for call in calls.values() {
                if let Err(e) = s.put_cdr(call) {
                    warn!(call_id = %call.call_id, error = %e, "call record not stored");
                }
            }
            for (number, op) in &batch {
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
        }) {
            error!(error = %e, changes = batch.len(), "could not store registration changes");
        }
        for (key, resp) in replies {
            if let Err(e) = stack.respond(key, *resp) {
                warn!(error = %e, "response not sent");
            }
        }
    }
}
