//! Call records in Redis: per node, the record as JSON in a hash, its
//! Call-ID in an INVITE-time order (the retention cap) and, while the call
//! runs, in the node's open set. One script per write: the three keys share
//! the node's slot.

use super::{RedisStore, keys};
use crate::cdr::Cdr;
use crate::store::error::{Result, StoreError};
use crate::store::validate;
use redis::Script;
use std::sync::LazyLock;

/// Call records kept per node; the oldest go first.
pub const MAX_CALLS_PER_NODE: usize = 100_000;

/// ARGV: Call-ID, JSON, INVITE time (ms), 1 while open, the cap.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
         redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
         if ARGV[4] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) else redis.call('SREM', KEYS[3], ARGV[1]) end
         local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
         if over > 0 then
           local old = redis.call('ZPOPMIN', KEYS[2], over)
           for i = 1, #old, 2 do
             redis.call('HDEL', KEYS[1], old[i])
             redis.call('SREM', KEYS[3], old[i])
           end
         end
         return 1",
    )
});

fn decode(json: &str) -> Result<Cdr> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("call record: {e}")))
}

impl RedisStore {
    /// As [`Store::put_cdr`](crate::store::Store::put_cdr), under this node.
    pub fn put_cdr(&self, rec: &Cdr) -> Result<()> {
        validate::cdr(rec)?;
        let json = serde_json::to_string(rec).map_err(|e| StoreError::Invalid(format!("call record: {e}")))?;
        let [calls, order, open] = keys::calls(self.writing_node()?);
        self.run(|c| {
            PUT.key(calls)
                .key(order)
                .key(open)
                .arg(&rec.call_id)
                .arg(json)
                .arg(rec.invite_at)
                .arg(u8::from(rec.end_at.is_none()))
                .arg(MAX_CALLS_PER_NODE)
                .invoke::<()>(c)
        })
    }

    /// As [`Store::end_open_cdrs`](crate::store::Store::end_open_cdrs): this
    /// node's open calls only (another node's are its own business).
    pub fn end_open_cdrs(&self, at: u64, reason: &str) -> Result<usize> {
        let [calls, _, open] = keys::calls(self.writing_node()?);
        let ids: Vec<String> = self.run(|c| redis::cmd("SMEMBERS").arg(&open).query(c))?;
        let mut ended = 0;
        for id in ids {
            let json: Option<String> = self.run(|c| redis::cmd("HGET").arg(&calls).arg(&id).query(c))?;
            let Some(json) = json else { continue };
            let mut rec = decode(&json)?;
            rec.end_at = Some(at);
            rec.end_reason = Some(reason.to_owned());
            self.put_cdr(&rec)?;
            ended += 1;
        }
        Ok(ended)
    }

    /// Every node's call records with the node, oldest first (by INVITE time,
    /// then Call-ID); only calls not yet ended when `active_only`.
    pub fn cdrs_with_nodes(&self, active_only: bool) -> Result<Vec<(Cdr, String)>> {
        let mut all = Vec::new();
        for node in self.nodes()? {
            let [calls, _, _] = keys::calls(&node);
            let jsons: Vec<String> = self.run(|c| redis::cmd("HVALS").arg(&calls).query(c))?;
            for json in jsons {
                let rec = decode(&json)?;
                if !active_only || rec.end_at.is_none() {
                    all.push((rec, node.clone()));
                }
            }
        }
        all.sort_by(|(a, _), (b, _)| (a.invite_at, &a.call_id).cmp(&(b.invite_at, &b.call_id)));
        Ok(all)
    }

    /// As [`Store::cdrs`](crate::store::Store::cdrs), across nodes.
    pub fn cdrs(&self, active_only: bool) -> Result<Vec<Cdr>> {
        Ok(self.cdrs_with_nodes(active_only)?.into_iter().map(|(c, _)| c).collect())
    }

    /// As [`Store::cdr`](crate::store::Store::cdr): the first node holding it.
    pub fn cdr(&self, call_id: &str) -> Result<Option<Cdr>> {
        for node in self.nodes()? {
            let [calls, _, _] = keys::calls(&node);
            let json: Option<String> = self.run(|c| redis::cmd("HGET").arg(&calls).arg(call_id).query(c))?;
            if let Some(json) = json {
                return decode(&json).map(Some);
            }
        }
        Ok(None)
    }
}
