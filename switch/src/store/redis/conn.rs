//! One blocking connection to Redis, a server or a Cluster, and what only the
//! concrete kind can do: `WAIT` on the master that holds a key.

use super::{TIMEOUT, WAIT_TIMEOUT};
use redis::ConnectionLike;
use redis::cluster::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

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
            Client::Cluster(c) => Ok(Conn::Cluster(Box::new(c.get_connection()?))),
        }
    }
}

/// An open connection.
pub(super) enum Conn {
    Single(redis::Connection),
    /// Boxed: several times the size of a single server's.
    Cluster(Box<ClusterConnection>),
}

impl Conn {
    pub(super) fn as_dyn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => c.as_mut(),
        }
    }

    /// `WAIT replicas timeout` where `key` was written: on this connection
    /// (one server), or on the master of `key`'s slot (a Cluster). Returns
    /// how many replicas acknowledged every write before it.
    pub(super) fn wait(&mut self, key: &str, replicas: u32) -> redis::RedisResult<u32> {
        let timeout_ms = u64::try_from(WAIT_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout_ms);
        match self {
            Conn::Single(c) => wait.query(c),
            Conn::Cluster(c) => {
                let master = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(slot(key), SlotAddr::Master)));
                redis::from_redis_value(&c.route_command(&wait, master)?)
            }
        }
    }
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
    use super::slot;

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
