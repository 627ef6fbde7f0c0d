//! `[push]`: the operator's push gateway (RFC 8599 push, the switch's end).
//! Off unless `gateway` is set. The bearer token is read from a file, never
//! given on the command line (where `ps` would show it), and never printed.

use crate::Error;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Debian's CA bundle: what a gateway with a public certificate chains to.
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The longest hold: a caller's INVITE transaction (Timer B/C at its proxy)
/// and its user's patience both end well before.
const MAX_HOLD: u64 = 120;

/// `[push]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// `https://HOST[:PORT]/PATH`: the operator's own service that talks to
    /// APNs/FCM. Unset (the default): no push, calls go home / 480 at once.
    pub gateway: Option<String>,
    /// Seconds an INVITE waits for the woken phone to register (default 20).
    pub hold: u64,
    /// The CAs the gateway's certificate must chain to (PEM); default: the
    /// system bundle.
    pub ca_file: Option<PathBuf>,
    /// A file holding the bearer token sent as `Authorization: Bearer …`.
    pub token_file: Option<PathBuf>,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self { gateway: None, hold: 20, ca_file: None, token_file: None }
    }
}

/// The gateway's URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUrl {
    pub host: String,
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl GatewayUrl {
    /// `https://HOST[:PORT][/PATH]`; only https (the token and the phones'
    /// push tokens cross the network).
    pub fn parse(url: &str) -> Result<GatewayUrl, Error> {
        let bad = |why: &str| Error::Config(format!("push.gateway {url:?}: {why} (expected https://HOST[:PORT]/PATH)"));
        let rest = url.strip_prefix("https://").ok_or_else(|| bad("not an https URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("credentials in the URL (use push.token_file)"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or_else(|| bad("unterminated IPv6 reference"))?;
                (h, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("bad port"))?,
            None => 443,
        };
        let ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
        if !ok || path.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(bad("bad host or path"));
        }
        Ok(GatewayUrl { host: host.to_owned(), port, path: path.to_owned() })
    }
}

/// The bearer token; its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// The file's content without surrounding whitespace.
    pub fn read(path: &Path) -> Result<Token, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("reading push.token_file {}: {e}", path.display())))?;
        let token = text.trim();
        if token.is_empty() || token.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(Error::Config(format!("push.token_file {}: empty, or not one line of printable ASCII", path.display())));
        }
        Ok(Token(token.to_owned()))
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// `[push]` resolved: what the gateway driver needs.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub url: GatewayUrl,
    pub tls: Arc<rustls::ClientConfig>,
    pub token: Option<Token>,
}

impl PushSettings {
    /// How long a call waits for its woken phone; `None` when push is off.
    pub fn hold(&self) -> Option<Duration> {
        self.gateway.as_ref().map(|_| Duration::from_secs(self.hold))
    }

    /// Refuses settings that cannot work (without reading any file).
    pub fn validate(&self) -> crate::Result<()> {
        let Some(url) = &self.gateway else {
            if self.ca_file.is_some() || self.token_file.is_some() {
                return Err(Error::Config("push.ca_file and push.token_file need push.gateway".into()));
            }
            return Ok(());
        };
        GatewayUrl::parse(url)?;
        if !(1..=MAX_HOLD).contains(&self.hold) {
            return Err(Error::Config(format!("push.hold must be 1 to {MAX_HOLD} seconds")));
        }
        Ok(())
    }

    /// The gateway (its CA file and token read), if push is on.
    pub fn gateway(&self) -> crate::Result<Option<Gateway>> {
        self.validate()?;
        let Some(url) = &self.gateway else { return Ok(None) };
        let url = GatewayUrl::parse(url)?;
        let ca_file = self.ca_file.clone().unwrap_or_else(|| PathBuf::from(SYSTEM_CA_FILE));
        let pem = std::fs::read(&ca_file).map_err(|e| Error::Config(format!("reading push.ca_file {}: {e}", ca_file.display())))?;
        let tls = sipcore::transport::tls::client_config_from_pem(&pem)
            .map_err(|e| Error::Config(format!("push.ca_file {}: {e}", ca_file.display())))?;
        let token = self.token_file.as_deref().map(Token::read).transpose()?;
        Ok(Some(Gateway { url, tls, token }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls() {
        let u = GatewayUrl::parse("https://push.example.net/v1/sip?x=1").unwrap();
        assert_eq!(u, GatewayUrl { host: "push.example.net".into(), port: 443, path: "/v1/sip?x=1".into() });
        let u = GatewayUrl::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("127.0.0.1", 8443, "/"));
        let u = GatewayUrl::parse("https://[::1]:8443/p").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 8443));
        for bad in ["http://x/", "https://", "https://x:0/", "https://x:99999/", "https://u:p@x/", "https://x/a b", "https://x y/"] {
            assert!(GatewayUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn push_is_off_by_default_and_checked_when_on() {
        let off = PushSettings::default();
        assert_eq!(off.hold(), None);
        assert!(off.gateway().unwrap().is_none());
        let orphan = PushSettings { token_file: Some("/t".into()), ..PushSettings::default() };
        assert!(orphan.validate().is_err());
        let on = PushSettings { gateway: Some("https://gw.example.net/".into()), ..PushSettings::default() };
        assert_eq!(on.hold(), Some(Duration::from_secs(20)));
        assert!(PushSettings { hold: 0, ..on.clone() }.validate().is_err());
        assert!(PushSettings { hold: 121, ..on }.validate().is_err());
    }

    #[test]
    fn the_token_is_read_trimmed_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t-token\n").unwrap();
        let t = Token::read(&path).unwrap();
        assert_eq!(t.as_str(), "s3cr3t-token");
        assert!(!format!("{t:?}").contains("s3cr3t"));
        std::fs::write(&path, "two words").unwrap();
        assert!(Token::read(&path).is_err());
    }
}
