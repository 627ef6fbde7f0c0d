//! `[dns.update]`: where UPDATEs go and the TSIG key they are signed with.
//! The secret comes from a file or the environment, never the command line,
//! and is never logged (`PushConfig`'s `Debug` shows the key's name only).

use crate::Error;
use base64::Engine;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigner};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The one TSIG algorithm supported.
pub const ALGORITHM: &str = "hmac-sha256";
/// How far apart the two clocks may be (RFC 8945 §10 recommends 300 s).
const FUDGE: u16 = 300;

/// `[dns.update]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    /// `IP:PORT` of the primary that accepts the UPDATEs.
    pub server: String,
    /// The zone the UPDATEs are addressed to; every pushed name must be inside it.
    pub zone: String,
    pub tsig_key: TsigKeySettings,
}

/// `[dns.update.tsig_key]`: name, algorithm, and where the base64 secret is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKeySettings {
    pub name: String,
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// A file holding the base64 secret (surrounding white space ignored).
    pub secret_file: Option<PathBuf>,
    /// The name of an environment variable holding the base64 secret.
    pub secret_env: Option<String>,
}

fn default_algorithm() -> String {
    ALGORITHM.into()
}

/// `[dns.update]` resolved: the secret read, the names parsed.
#[derive(Clone)]
pub struct PushConfig {
    pub server: SocketAddr,
    pub zone: Name,
    pub key: TSigner,
}

impl fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushConfig").field("server", &self.server).field("zone", &self.zone).field("key", self.key.signer_name()).finish()
    }
}

fn config_error(what: impl fmt::Display) -> Error {
    Error::Config(format!("dns.update: {what}"))
}

impl UpdateSettings {
    /// Everything but the secret, checked: `enum_suffix` and `zone` are where
    /// the ENUM and RL records live, both of which must be inside the update zone.
    pub fn validate(&self, enum_suffix: &Name, zone: &Name) -> crate::Result<(SocketAddr, Name, Name)> {
        let server = self
            .server
            .parse::<SocketAddr>()
            .map_err(|e| config_error(format!("server {:?}: {e} (an IP:PORT, e.g. 192.0.2.53:53)", self.server)))?;
        let update_zone = fqdn("zone", &self.zone)?;
        for (what, key, name) in [("ENUM NAPTR records", "dns.enum_suffix", enum_suffix), ("RL TXT records", "dns.zone", zone)] {
            if !update_zone.zone_of(name) {
                return Err(config_error(format!(
                    "zone {update_zone} does not contain the {what} under {key} {name}: every pushed name must be inside the update zone"
                )));
            }
        }
        let key = &self.tsig_key;
        if !key.algorithm.eq_ignore_ascii_case(ALGORITHM) {
            return Err(config_error(format!("tsig_key.algorithm {:?} is not supported (supported: {ALGORITHM})", key.algorithm)));
        }
        if key.secret_file.is_some() == key.secret_env.is_some() {
            return Err(config_error("tsig_key needs exactly one of secret_file and secret_env"));
        }
        Ok((server, update_zone, fqdn("tsig_key.name", &key.name)?))
    }

    /// Checked and the secret read.
    pub fn resolve(&self, enum_suffix: &Name, zone: &Name) -> crate::Result<PushConfig> {
        let (server, zone, key_name) = self.validate(enum_suffix, zone)?;
        let secret = self.secret()?;
        let key = TSigner::new(secret, TsigAlgorithm::HmacSha256, key_name, FUDGE).map_err(|e| config_error(format!("tsig_key: {e}")))?;
        Ok(PushConfig { server, zone, key })
    }

    /// The secret's bytes. No error says what the secret is.
    fn secret(&self) -> crate::Result<Vec<u8>> {
        let key = &self.tsig_key;
        let (text, source) = match (&key.secret_file, &key.secret_env) {
            (Some(path), _) => (
                std::fs::read_to_string(path).map_err(|e| config_error(format!("tsig_key.secret_file {}: {e}", path.display())))?,
                format!("secret_file {}", path.display()),
            ),
            (None, Some(var)) => {
                (std::env::var(var).map_err(|e| config_error(format!("tsig_key.secret_env {var}: {e}")))?, format!("secret_env {var}"))
            }
            (None, None) => return Err(config_error("tsig_key needs secret_file or secret_env")),
        };
        let secret = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| config_error(format!("tsig_key {source}: not a base64 secret")))?;
        if secret.is_empty() {
            return Err(config_error(format!("tsig_key {source}: the secret is empty")));
        }
        Ok(secret)
    }
}

/// `s` as a lower-case FQDN, not the root.
fn fqdn(key: &str, s: &str) -> crate::Result<Name> {
    let mut n = Name::from_ascii(s).map_err(|e| config_error(format!("{key} {s:?}: {e}")))?;
    n.set_fqdn(true);
    if n.is_root() {
        return Err(config_error(format!("{key} must not be the root")));
    }
    Ok(n.to_lowercase())
}
