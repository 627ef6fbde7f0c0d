//! Writes RL record changes on a thread of their own, in batches: the request
//! loop hands a change over and answers the phone at once, and the writer
//! commits whatever has piled up in one transaction. One commit per batch
//! instead of one per REGISTER, and WAL checkpoints (with their fsyncs) stall
//! only the writer, never a registration.
//!
//! What this gives up: a 200 OK can go out a few milliseconds before its record
//! is on disk, so a crash can lose the last updates. That costs nothing real:
//! after any restart every record is `signalling_dropped` until its phone
//! registers again. A clean stop (SIGTERM) writes everything queued first.

use crate::record::RlRecord;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use tracing::{error, warn};

/// Most changes committed in one transaction.
const MAX_BATCH: usize = 4096;

enum Op {
    Put(Box<RlRecord>),
    Delete(String),
}

/// The request loop's end of the writer.
pub struct Persister {
    ops: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<()>>,
}

impl Persister {
    /// Starts the writer over its own connection to the store.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (ops, rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name("store-writer".into()).spawn(move || write_loop(&store, &rx))?;
        Ok(Self { ops: Some(ops), thread: Some(thread) })
    }

    fn send(&self, op: Op) {
        if self.ops.as_ref().is_none_or(|tx| tx.send(op).is_err()) {
            error!("the store writer has stopped; a registration change is lost");
        }
    }

    /// Queues an upsert.
    pub fn put(&self, record: &RlRecord) {
        self.send(Op::Put(Box::new(record.clone())));
    }

    /// Queues a delete.
    pub fn delete(&self, number: &str) {
        self.send(Op::Delete(number.to_owned()));
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

fn write_loop(store: &Store, rx: &mpsc::Receiver<Op>) {
    // Blocks for the first change, then takes whatever else is already queued.
    while let Ok(first) = rx.recv() {
        let mut batch: HashMap<String, Option<Box<RlRecord>>> = HashMap::new();
        let mut add = |op: Op| match op {
            Op::Put(r) => {
                batch.insert(r.number.clone(), Some(r));
            }
            Op::Delete(n) => {
                batch.insert(n, None);
            }
        };
        add(first);
        for op in rx.try_iter().take(MAX_BATCH) {
            add(op);
        }
        let written = store.transaction(|s| -> crate::store::Result<()> {
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
        });
        if let Err(e) = written {
            error!(error = %e, changes = batch.len(), "could not store registration changes");
        }
    }
}
