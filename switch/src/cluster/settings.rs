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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_node_address_defaults_to_the_first_tcp_listener_unless_it_is_the_wildcard() {
        let bound: Vec<ListenSpec> = ["udp:10.0.0.11:5060", "tcp:10.0.0.11:5062", "tcp:10.0.0.11:5064"].map(|s| s.parse().unwrap()).into();
        let none = ClusterSettings::default();
        assert_eq!(none.node_address(&bound).unwrap(), "10.0.0.11:5062".parse().unwrap());
        let wildcard: Vec<ListenSpec> = vec!["tcp:0.0.0.0:5060".parse().unwrap()];
        assert!(none.node_address(&wildcard).unwrap_err().to_string().contains("--node-address"));
        let set = ClusterSettings { node_address: Some("tcp:192.0.2.7:5070".into()), ..ClusterSettings::default() };
        assert_eq!(set.node_address(&wildcard).unwrap(), "192.0.2.7:5070".parse().unwrap());
        assert!(ClusterSettings { node_address: Some("udp:192.0.2.7:5070".into()), ..set.clone() }.validate(false).is_err());
    }

    #[test]
    fn redis_needs_a_secret_file_and_the_secret_is_read_trimmed() {
        assert!(ClusterSettings::default().validate(true).unwrap_err().to_string().contains("secret_file"));
        ClusterSettings::default().validate(false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.secret");
        std::fs::write(&path, "short\n").unwrap();
        let settings = ClusterSettings { secret_file: Some(path.clone()), node_address: None };
        assert!(settings.secret().unwrap_err().to_string().contains("at least 16 bytes"));
        std::fs::write(&path, "  0123456789abcdef0123  \n").unwrap();
        assert!(settings.secret().unwrap().is_some());
    }
}
