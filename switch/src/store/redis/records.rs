//! RL records in Redis: `sw:{N}:rl` hashes beside the subscriber's, with the
//! node that holds the flow, expiring by themselves (`PEXPIREAT`) at the
//! record's `expires_at` besides the switch's own expiry.

use super::conn::Conn;
use super::{RedisStore, keys};
use crate::record::{RlRecord, RlState, UnixTime, transport_name};
use crate::store::RecordChange;
use crate::store::error::{Result, StoreError};
use crate::store::records::{parse_opt, parse_required};
use crate::store::time_to_sql;
use redis::{Cmd, ErrorKind, RedisResult, Script};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Replaces the record if the number is provisioned (0 otherwise) and sets
/// its expiry. ARGV[1] is the Unix time in ms; ARGV[2] is 1 when only a
/// record this node holds may be replaced (2 when another node's is there);
/// the rest are field/value pairs, [`fields`]' first being the node.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
         if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 and redis.call('HGET', KEYS[2], 'node') ~= ARGV[4] then
           return 2
         end
         redis.call('DEL', KEYS[2])
         redis.call('HSET', KEYS[2], unpack(ARGV, 3))
         redis.call('PEXPIREAT', KEYS[2], ARGV[1])
         return 1",
    )
});

/// Deletes the record if node ARGV[1] wrote it; 1 if it did.
static DELETE_OWN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
         return redis.call('DEL', KEYS[1])",
    )
});

/// `EVALSHA` of `script` on `keys`: a plain command, so that it can go in a
/// pipeline ([`pipeline_ints`] loads the script where it is missing).
fn evalsha(script: &Script, keys: &[String]) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(keys.len()).arg(keys);
    cmd
}

/// Runs `cmds` as one pipeline and reads every reply as the integer each
/// script or `DEL` returns. A server that lost its scripts (restarted, a
/// replica promoted, never loaded) answers `NOSCRIPT`: they are loaded and
/// the pipeline sent once more, which is safe because every command in it
/// is idempotent (the same record put again, a delete of what is gone).
fn pipeline_ints(conn: &mut Conn, cmds: &[Cmd]) -> RedisResult<Vec<i64>> {
    let replies = match conn.pipeline(cmds) {
        Err(e) if e.kind() == ErrorKind::NoScriptError => {
            PUT.load(conn.as_dyn())?;
            DELETE_OWN.load(conn.as_dyn())?;
            conn.pipeline(cmds)?
        }
        other => other?,
    };
    if replies.len() != cmds.len() {
        return Err((ErrorKind::ResponseError, "a pipeline reply of the wrong length").into());
    }
    replies.into_iter().map(redis::from_owned_redis_value).collect()
}

/// What the reply to `change`'s command says of it.
fn outcome(change: &RecordChange<'_>, reply: i64) -> Result<bool> {
    match (change, reply) {
        (RecordChange::Put(r), 0) => Err(StoreError::NotFound(r.number.to_string())),
        (RecordChange::Put(_), 2) => Ok(false),
        (RecordChange::Put(_), _) => Ok(true),
        (RecordChange::Delete(_), n) => Ok(n > 0),
    }
}

/// The hash's field/value pairs, the node first (the PUT script reads it there).
fn fields(r: &RlRecord, node: &str) -> Vec<String> {
    let mut f: Vec<(&str, String)> = vec![
        ("node", node.to_owned()),
        ("observed", r.observed.to_string()),
        ("behind_nat", u8::from(r.behind_nat).to_string()),
        ("transport", transport_name(r.transport).to_owned()),
        ("call_id", r.call_id.to_string()),
        ("contact", r.contact.to_string()),
        ("registered_at", r.registered_at.to_string()),
        ("expires_at", r.expires_at.to_string()),
        ("state", r.state.as_str().to_owned()),
        ("outbound", u8::from(r.outbound).to_string()),
    ];
    let optional = [
        ("mac", r.mac.map(|m| m.to_string())),
        ("private_ip", r.private_ip.map(|ip| ip.to_string())),
        ("public_ip_claimed", r.public_ip_claimed.map(|ip| ip.to_string())),
        ("bearer_port", r.bearer_port.map(|p| p.to_string())),
        ("instance", r.instance.as_deref().map(str::to_owned)),
        ("reg_id", r.reg_id.map(|id| id.to_string())),
        ("user_agent", r.user_agent.as_deref().map(str::to_owned)),
    ];
    f.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    f.into_iter().flat_map(|(k, v)| [k.to_owned(), v]).collect()
}

/// The record and its node, from the hash.
fn from_hash(number: &str, mut h: HashMap<String, String>) -> Result<(RlRecord, Option<String>)> {
    let mut take = |field: &str| h.remove(field).ok_or_else(|| StoreError::Corrupt(format!("record {number}: no {field}")));
    let (observed, transport, state) = parse_required(number, &take("observed")?, &take("transport")?, &take("state")?)?;
    let flag = |what: &str, v: String| match v.as_str() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(StoreError::Corrupt(format!("record {number}: {what} {v:?}"))),
    };
    let time = |what: &str, v: String| v.parse::<UnixTime>().map_err(|_| StoreError::Corrupt(format!("record {number}: {what} {v:?}")));
    let behind_nat = flag("behind_nat", take("behind_nat")?)?;
    let outbound = flag("outbound", take("outbound")?)?;
    let registered_at = time("registered_at", take("registered_at")?)?;
    let expires_at = time("expires_at", take("expires_at")?)?;
    let (call_id, contact) = (take("call_id")?, take("contact")?);
    let record = RlRecord {
        number: number.into(),
        mac: parse_opt(number, "mac", h.remove("mac"))?,
        private_ip: parse_opt(number, "private_ip", h.remove("private_ip"))?,
        public_ip_claimed: parse_opt(number, "public_ip_claimed", h.remove("public_ip_claimed"))?,
        observed,
        behind_nat,
        bearer_port: parse_opt(number, "bearer_port", h.remove("bearer_port"))?,
        transport,
        flow_id: None,
        local: None,
        instance: h.remove("instance").map(Into::into),
        reg_id: parse_opt(number, "reg_id", h.remove("reg_id"))?,
        call_id: call_id.into(),
        contact: contact.into(),
        user_agent: h.remove("user_agent").map(Into::into),
        registered_at,
        expires_at,
        state,
        outbound,
    };
    Ok((record, h.remove("node")))
}

impl RedisStore {
    /// As [`Store::put_record`](crate::store::Store::put_record), recording
    /// this store's node as the one holding the flow; with
    /// [`RedisStore::set_wait_replicas`], only once replicas have it too. A
    /// `signalling_dropped` record replaces only this node's own (another
    /// node's binding is left as it is). A batch of one ([`RedisStore::write_records`]).
    pub fn put_record(&self, record: &RlRecord) -> Result<()> {
        self.write_one(RecordChange::Put(record)).map(drop)
    }

    /// As [`Store::delete_record`](crate::store::Store::delete_record), but
    /// a node deletes only a record it wrote itself: one another node wrote
    /// since (the phone moved there) stays (false).
    pub fn delete_record(&self, number: &str) -> Result<bool> {
        self.write_one(RecordChange::Delete(number))
    }

    fn write_one(&self, change: RecordChange<'_>) -> Result<bool> {
        self.write_records(&[change])?.pop().unwrap_or_else(|| Err(StoreError::Invalid("no outcome for a write".into())))
    }

    /// Writes `changes` in one pipeline (one round trip per master they
    /// touch), then, with [`RedisStore::set_wait_replicas`], `WAIT`s once per
    /// master that took a put. Each change stays one atomic script of its
    /// own (a Cluster has no transaction across slots). `Err` when the batch
    /// as a whole failed (some of it may have been written); otherwise one
    /// outcome per change, in order: a put, `true` if written (`false`: left
    /// to the node holding the binding), [`StoreError::NotFound`] for a
    /// number not provisioned, [`StoreError::NotReplicated`] when its master's
    /// replicas fell short; a delete, `true` if there was a record to delete.
    pub fn write_records(&self, changes: &[RecordChange<'_>]) -> Result<Vec<Result<bool>>> {
        let mut cmds = Vec::with_capacity(changes.len());
        // Per change: sent, or why it could not be (that change's outcome).
        let prepared: Vec<Result<()>> = changes.iter().map(|c| self.command(c).map(|cmd| cmds.push(cmd))).collect();
        let mut replies = self.run_conn(|c| pipeline_ints(c, &cmds))?.into_iter();
        let mut outcomes = Vec::with_capacity(changes.len());
        let mut written = Vec::new();
        for (i, (change, prepared)) in changes.iter().zip(prepared).enumerate() {
            let outcome = prepared.map(|_| replies.next().unwrap_or(0)).and_then(|reply| outcome(change, reply));
            if let (RecordChange::Put(r), Ok(true)) = (change, &outcome) {
                written.push((i, keys::rl(&r.number)));
            }
            outcomes.push(outcome);
        }
        for (i, short) in self.replicated(&written)? {
            if let Some(outcome) = outcomes.get_mut(i) {
                *outcome = Err(short);
            }
        }
        Ok(outcomes)
    }

    /// The command that makes `change`, or why it cannot be made.
    fn command(&self, change: &RecordChange<'_>) -> Result<Cmd> {
        match change {
            RecordChange::Put(record) => self.put_command(record),
            RecordChange::Delete(number) => Ok(match self.node() {
                Some(node) => {
                    let mut cmd = evalsha(&DELETE_OWN, &[keys::rl(number)]);
                    cmd.arg(node);
                    cmd
                }
                None => {
                    let mut cmd = redis::cmd("DEL");
                    cmd.arg(keys::rl(number));
                    cmd
                }
            }),
        }
    }

    fn put_command(&self, record: &RlRecord) -> Result<Cmd> {
        time_to_sql("registered_at", record.registered_at)?;
        let expires_ms = time_to_sql("expires_at", record.expires_at)?
            .checked_mul(1000)
            .ok_or_else(|| StoreError::Invalid(format!("expires_at {} is out of range", record.expires_at)))?;
        let args = fields(record, self.writing_node()?);
        let number = &record.number;
        // A dropped flow is news only to the node that held it: it must not
        // overwrite the binding the phone has made on another node since.
        let only_own = u8::from(record.state == RlState::SignallingDropped);
        let mut cmd = evalsha(&PUT, &[keys::sub(number), keys::rl(number)]);
        cmd.arg(expires_ms).arg(only_own).arg(args);
        Ok(cmd)
    }

    /// The record for `number` and the node that wrote it, if any.
    pub fn record_with_node(&self, number: &str) -> Result<Option<(RlRecord, Option<String>)>> {
        let h: HashMap<String, String> = self.run(|c| redis::cmd("HGETALL").arg(keys::rl(number)).query(c))?;
        if h.is_empty() { Ok(None) } else { from_hash(number, h).map(Some) }
    }

    /// As [`Store::record`](crate::store::Store::record).
    pub fn record(&self, number: &str) -> Result<Option<RlRecord>> {
        Ok(self.record_with_node(number)?.map(|(r, _)| r))
    }

    /// Every record by number with its node: one read per provisioned number.
    pub fn records_with_nodes(&self) -> Result<Vec<(RlRecord, Option<String>)>> {
        let mut all = Vec::new();
        for number in self.numbers()? {
            all.extend(self.record_with_node(&number)?);
        }
        Ok(all)
    }

    /// As [`Store::records`](crate::store::Store::records).
    pub fn records(&self) -> Result<Vec<RlRecord>> {
        Ok(self.records_with_nodes()?.into_iter().map(|(r, _)| r).collect())
    }

    /// As [`Store::purge_expired`](crate::store::Store::purge_expired): what
    /// Redis has not expired yet by itself (its clock may lag ours).
    pub fn purge_expired(&self, now: UnixTime) -> Result<usize> {
        let mut purged = 0;
        for record in self.records()? {
            if record.expires_at <= now && self.delete_record(&record.number)? {
                purged += 1;
            }
        }
        Ok(purged)
    }
}
