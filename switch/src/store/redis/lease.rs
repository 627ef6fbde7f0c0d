//! Node leases and bindings held by other nodes (issue 14 items 2 and 4):
//! `sw:{node:ID}:lease` holds node ID's `--node-address` and expires by
//! itself ([`crate::cluster::lease`]); a binding counts as another node's
//! live one only while that key exists.

use super::{RedisStore, keys};
use crate::cluster::RemoteBinding;
use crate::record::RlState;
use crate::store::error::Result;
use std::time::Duration;
use tracing::warn;

impl RedisStore {
    /// Takes or refreshes this node's lease for `ttl`, naming `address`.
    pub fn put_lease(&self, address: &str, ttl: Duration) -> Result<()> {
        let key = keys::lease(self.writing_node()?);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.run(|c| redis::cmd("SET").arg(&key).arg(address).arg("PX").arg(ms).query::<()>(c))
    }

    /// Gives this node's lease up (a clean stop): its numbers route home at once.
    pub fn drop_lease(&self) -> Result<()> {
        let key = keys::lease(self.writing_node()?);
        self.run(|c| redis::cmd("DEL").arg(&key).query::<()>(c))
    }

    /// The address in `node`'s lease, if it holds one.
    pub fn lease(&self, node: &str) -> Result<Option<String>> {
        self.run(|c| redis::cmd("GET").arg(keys::lease(node)).query(c))
    }

    /// `number`'s binding if another node holds it live: `registered`, and
    /// that node's lease not expired. Two reads (the record and the lease sit
    /// in different slots); a lease that lapses between them is caught by
    /// the other node's `430` instead.
    pub fn binding_elsewhere(&self, number: &str) -> Result<Option<RemoteBinding>> {
        let Some((record, Some(node))) = self.record_with_node(number)? else { return Ok(None) };
        if self.node() == Some(node.as_str()) || record.state != RlState::Registered {
            return Ok(None);
        }
        let Some(address) = self.lease(&node)? else { return Ok(None) };
        match crate::listen::tcp_node_address(&address) {
            Some(address) => Ok(Some(RemoteBinding { node, address })),
            None => {
                warn!(node, address, "a node's lease names no tcp:IP:PORT address");
                Ok(None)
            }
        }
    }
}
