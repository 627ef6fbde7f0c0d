//! One blocking connection to Redis, a server or a Cluster, and what only the
//! concrete kind can do: a pipeline (one round trip per server it touches)
//! and `WAIT` on the masters that hold the keys written.

use super::{TIMEOUT, WAIT_TIMEOUT};
use redis::cluster::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, ConnectionLike, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a Cluster's slot → master map is trusted for grouping `WAIT`s.
/// A failover keeps the grouping (a replica takes all its master's slots);
/// only a resharding changes it, and writes to a moved slot fail (`MOVED`),
/// which drops the connection and this map with it. The age bounds what a
/// resharding seen only by reads (the client follows their `MOVED` itself)
/// could leave stale.
const MASTERS_TTL: Duration = Duration::from_secs(5);

/// Where connections come from.
pub(super) enum Client {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

impl Client {
    pub(super) fn connect(&self) -> redis::RedisResult<Conn> {
        match self {
            Client::Single(c) => {
                let conn = c.get_connection_with_timeout(TIMEOUT)?;
                conn.set_read_timeout(Some(TIMEOUT))?;
                conn.set_write_timeout(Some(TIMEOUT))?;
                Ok(Conn::Single(conn))
            }
            Client::Cluster(c) => Ok(Conn::Cluster(Box::new(ClusterConn { conn: c.get_connection()?, masters: None }))),
        }
    }
}

/// An open connection.
pub(super) enum Conn {
    Single(redis::Connection),
    /// Boxed: several times the size of a single server's.
    Cluster(Box<ClusterConn>),
}

/// A Cluster connection and the master of each slot, as last read.
pub(super) struct ClusterConn {
    conn: ClusterConnection,
    masters: Option<(Instant, Masters)>,
}

/// Slot ranges and the address of the master serving each.
type Masters = Vec<(u16, u16, String)>;

impl Conn {
    pub(super) fn as_dyn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => &mut c.conn,
        }
    }

    /// Sends `cmds` as one pipeline (a Cluster splits it by slot: one per
    /// master) and returns every reply in order; any error reply fails the
    /// whole call, as a connection error does.
    pub(super) fn pipeline(&mut self, cmds: &[Cmd]) -> redis::RedisResult<Vec<Value>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Conn::Single(c) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(c)
            }
            Conn::Cluster(c) => {
                let mut pipe = redis::cluster::cluster_pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(&mut c.conn)
            }
        }
    }

    /// `WAIT replicas timeout` once per master that `keys` were written on:
    /// once on this connection (one server), or on each distinct master of
    /// their slots (a Cluster). Returns, per master, how many replicas
    /// acknowledged every write before it and the indexes of its keys.
    pub(super) fn wait(&mut self, keys: &[&str], replicas: u32) -> redis::RedisResult<Vec<(u32, Vec<usize>)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let timeout_ms = u64::try_from(WAIT_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout_ms);
        match self {
            Conn::Single(c) => Ok(vec![(acked(wait.query(c)?)?, (0..keys.len()).collect())]),
            Conn::Cluster(c) => c.wait_masters(&wait, keys),
        }
    }
}

impl ClusterConn {
    /// `wait` on the master of each group of `keys` that share one.
    fn wait_masters(&mut self, wait: &Cmd, keys: &[&str]) -> redis::RedisResult<Vec<(u32, Vec<usize>)>> {
        let mut groups: BTreeMap<String, (u16, Vec<usize>)> = BTreeMap::new();
        let masters = self.masters()?;
        for (i, key) in keys.iter().enumerate() {
            let slot = slot(key);
            // A slot the map does not cover waits on its own: never fewer WAITs than masters.
            let master = master_of(masters, slot).map_or_else(|| format!("slot {slot}"), str::to_owned);
            groups.entry(master).or_insert_with(|| (slot, Vec::new())).1.push(i);
        }
        let mut acked = Vec::with_capacity(groups.len());
        for (slot, indexes) in groups.into_values() {
            let master = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master)));
            acked.push((self::acked(self.conn.route_command(wait, master)?)?, indexes));
        }
        Ok(acked)
    }

    /// The slot map, read afresh (`CLUSTER SLOTS`) when older than [`MASTERS_TTL`].
    fn masters(&mut self) -> redis::RedisResult<&Masters> {
        let fresh = self.masters.as_ref().is_some_and(|(read, _)| read.elapsed() < MASTERS_TTL);
        if !fresh {
            let any = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
            let reply = self.conn.route_command(redis::cmd("CLUSTER").arg("SLOTS"), any)?;
            self.masters = Some((Instant::now(), parse_slots(reply)));
        }
        Ok(self.masters.as_ref().map_or(&EMPTY, |(_, m)| m))
    }
}

static EMPTY: Masters = Vec::new();

/// `WAIT`'s reply, a replica count: refused when out of range rather than
/// wrapped (the `redis` crate's own conversion wraps), so a garbled reply
/// never passes for enough replicas.
fn acked(reply: Value) -> redis::RedisResult<u32> {
    let n: i64 = redis::from_owned_redis_value(reply)?;
    u32::try_from(n).map_err(|_| (redis::ErrorKind::ResponseError, "WAIT: a replica count out of range").into())
}

/// The address of the master serving `slot`, if the map has it.
fn master_of(masters: &Masters, slot: u16) -> Option<&str> {
    masters.iter().find(|(start, end, _)| (*start..=*end).contains(&slot)).map(|(_, _, addr)| addr.as_str())
}

/// `CLUSTER SLOTS`: `[[start, end, [host, port, ...], replicas...], ...]`.
/// An entry of another shape is left out (its slots then wait on their own).
fn parse_slots(reply: Value) -> Masters {
    let Value::Array(entries) = reply else { return Vec::new() };
    entries.into_iter().filter_map(parse_slot_range).collect()
}

fn parse_slot_range(entry: Value) -> Option<(u16, u16, String)> {
    let Value::Array(fields) = entry else { return None };
    let mut fields = fields.into_iter();
    let (start, end) = (small(fields.next()?)?, small(fields.next()?)?);
    let Value::Array(master) = fields.next()? else { return None };
    let mut master = master.into_iter();
    let host: String = redis::from_owned_redis_value(master.next()?).ok()?;
    let port = small(master.next()?)?;
    Some((start, end, format!("{host}:{port}")))
}

/// A `u16` from an integer reply, refusing what does not fit (the `redis`
/// crate's own conversion wraps it).
fn small(v: Value) -> Option<u16> {
    u16::try_from(redis::from_owned_redis_value::<i64>(v).ok()?).ok()
}

/// The Cluster slot of `key` (CRC16/XMODEM of its hash tag, or of the whole
/// key when it has none, modulo 16384), as Redis computes it.
pub(super) fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = key
        .find('{')
        .and_then(|open| key.get(open + 1..).and_then(|rest| rest.find('}').map(|close| (open + 1, open + 1 + close))))
        .filter(|(start, end)| end > start)
        .and_then(|(start, end)| bytes.get(start..end));
    crc16(tagged.unwrap_or(bytes)) % 16384
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::{acked, master_of, parse_slots, slot};
    use redis::Value;

    fn int(n: i64) -> Value {
        Value::Int(n)
    }

    fn text(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_wait_reply_out_of_range_is_an_error_not_a_wrapped_count() {
        assert_eq!(acked(int(2)).ok(), Some(2));
        assert!(acked(int(-1)).is_err());
        assert!(acked(int(1 << 32)).is_err());
        assert!(acked(text("two")).is_err());
    }

    #[test]
    fn cluster_slots_name_each_range_master_and_skip_what_they_cannot_read() {
        let range = |start, end, port| {
            let master = Value::Array(vec![text("127.0.0.1"), int(port), text("id")]);
            let replica = Value::Array(vec![text("127.0.0.1"), int(port + 1), text("id2")]);
            Value::Array(vec![int(start), int(end), master, replica])
        };
        let reply = Value::Array(vec![range(0, 99, 7000), Value::Nil, Value::Array(vec![int(1)]), range(100, 16383, 7002)]);
        let masters = parse_slots(reply);
        assert_eq!(masters.len(), 2);
        assert_eq!(master_of(&masters, 99), Some("127.0.0.1:7000"));
        assert_eq!(master_of(&masters, 100), Some("127.0.0.1:7002"));
        assert!(parse_slots(Value::Okay).is_empty());
        assert_eq!(master_of(&parse_slots(Value::Array(vec![range(0, 99, 70_000)])), 5), None, "a port out of range");
    }

    #[test]
    fn slots_follow_the_hash_tag() {
        // Redis's own figures: CRC16("123456789") = 0x31C3; CLUSTER KEYSLOT foo = 12182.
        assert_eq!(slot("123456789"), 0x31C3);
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("sw:{1001}:sub"), slot("1001"));
        assert_eq!(slot("sw:{1001}:rl"), slot("sw:{1001}:sub"));
        assert_eq!(slot("a{}b"), slot("a{}b"), "an empty tag hashes the whole key");
        assert_ne!(slot("a{}b"), slot(""));
    }
}
