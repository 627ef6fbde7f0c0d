//! `[cluster]` in the config file (and `--node-address`,
//! `--cluster-secret-file`): what a node on a shared Redis needs besides the
//! store.

use super::Secret;
use crate::Error;
use crate::listen::ListenSpec;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The `[cluster]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// A file holding the secret shared by every node (at least 16 bytes;
    /// surrounding whitespace is not part of it). Required with Redis:
    /// without it a node could not tell another node's forwarded call from
    /// anyone's.
    pub secret_file: Option<PathBuf>,
    /// `tcp:IP:PORT`: where the other nodes reach this one. Unset: the first
    /// TCP listener, if it is not bound to the wildcard.
    pub node_address: Option<String>,
}

impl ClusterSettings {
    /// Checks what can be checked before anything binds; `redis`: whether
    /// the store is shared.
    pub fn validate(&self, redis: bool) -> Result<(), Error> {
        if redis && self.secret_file.is_none() {
            return Err(Error::Config(
                "[cluster] secret_file (or --cluster-secret-file) is required with a Redis store: nodes on one Redis forward calls \
                 to each other with tokens made from it"
                    .into(),
            ));
        }
        if let Some(a) = &self.node_address {
            ListenSpec::node_address(a)?;
        }
        Ok(())
    }

    /// The secret, read from its file.
    pub fn secret(&self) -> Result<Option<Secret>, Error> {
        self.secret_file.as_deref().map(Secret::read).transpose()
    }

    /// This node's address: configured, or the first of the bound SIP
    /// listeners that is TCP, when it names an address others can reach.
    pub fn node_address(&self, bound: &[ListenSpec]) -> Result<SocketAddr, Error> {
        if let Some(a) = &self.node_address {
            return ListenSpec::node_address(a);
        }
        let tcp = bound.iter().find(|l| l.transport == sipcore::transport::TransportKind::Tcp);
        match tcp {
            Some(l) if !l.addr.ip().is_unspecified() => Ok(l.addr),
            Some(l) => Err(Error::Config(format!(
                "the first TCP listener {l} binds the wildcard: set --node-address tcp:IP:PORT, where the other nodes reach this one"
            ))),
            None => Err(Error::Config("a node on a shared Redis needs a TCP listener (or --node-address tcp:IP:PORT)".into())),
        }
    }
}
