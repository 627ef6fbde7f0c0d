//! `[admin]`: where the admin listener listens and who may use it.

use crate::Error;
use crate::listen::ListenSpec;
use serde::Deserialize;
use sipcore::transport::TransportKind;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The admin listener: off unless `listen` names an address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// `tcp:IP:PORT` each; empty (the default): no admin listener.
    pub listen: Vec<String>,
    /// A file holding the bearer token (surrounding whitespace ignored).
    pub token_file: Option<PathBuf>,
    /// Ask for the token on loopback listeners too (which otherwise trust
    /// whoever can reach them: someone already on the host).
    pub require_token: bool,
}

impl AdminSettings {
    /// The addresses to listen on, checked: TCP only.
    pub fn listen_addrs(&self) -> crate::Result<Vec<SocketAddr>> {
        self.listen
            .iter()
            .map(|s| match s.parse::<ListenSpec>()? {
                ListenSpec { transport: TransportKind::Tcp, addr } => Ok(addr),
                _ => Err(Error::Config(format!("admin.listen {s:?}: the admin listener is served on tcp:IP:PORT only"))),
            })
            .collect()
    }

    /// Checks the listeners and the token rule: a listener others can reach
    /// (not loopback) must ask for a token, so it needs a token file.
    pub fn validate(&self) -> crate::Result<()> {
        let addrs = self.listen_addrs()?;
        if self.token_file.is_none() {
            if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(Error::Config(format!(
                    "admin.listen tcp:{open} is not loopback: set [admin] token_file (a file holding the bearer token)"
                )));
            }
            if self.require_token && !addrs.is_empty() {
                return Err(Error::Config("admin.require_token needs [admin] token_file".into()));
            }
        }
        Ok(())
    }

    /// Reads the token file; `None` when none is configured.
    pub fn token(&self) -> crate::Result<Option<String>> {
        let Some(path) = &self.token_file else { return Ok(None) };
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { what: "reading admin.token_file", source })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(Error::Config(format!("admin.token_file {}: the file is empty", path.display())));
        }
        Ok(Some(token.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(listen: &[&str], token_file: Option<&str>) -> AdminSettings {
        AdminSettings {
            listen: listen.iter().map(|s| (*s).to_owned()).collect(),
            token_file: token_file.map(PathBuf::from),
            require_token: false,
        }
    }

    #[test]
    fn a_listener_off_loopback_needs_a_token_file() {
        let err = settings(&["tcp:0.0.0.0:8080"], None).validate().unwrap_err().to_string();
        assert!(err.contains("not loopback") && err.contains("token_file"), "{err}");
        settings(&["tcp:0.0.0.0:8080"], Some("/etc/switch/admin.token")).validate().unwrap();
        settings(&["tcp:127.0.0.1:8080", "tcp:[::1]:8080"], None).validate().unwrap();
    }

    #[test]
    fn the_admin_listener_is_tcp_and_off_by_default() {
        assert!(AdminSettings::default().listen_addrs().unwrap().is_empty());
        assert!(settings(&["udp:127.0.0.1:8080"], None).validate().is_err());
        let required = AdminSettings { require_token: true, ..settings(&["tcp:127.0.0.1:0"], None) };
        assert!(required.validate().is_err());
    }
}
