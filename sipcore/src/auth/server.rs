//! The verifying side: a registrar or proxy issuing challenges and checking
//! credentials. Sans-IO: the caller passes the current time in, and looks up
//! the user's secret itself (possibly asynchronously) between parsing the
//! credentials and calling [`DigestServer::verify`].

use std::borrow::Cow;
use std::time::Duration;

use super::nonce::{NonceKey, NonceSalt};
use super::replay::NcTracker;
use super::response::{self, DigestInput, DigestRequest, Secret};
use super::{Algorithm, AuthError, Challenge, Credentials, Qop, QopOptions};

/// Policy for a [`DigestServer`].
#[derive(Clone)]
pub struct ServerConfig {
    /// Protection space, e.g. the SIP domain.
    pub realm: String,
    /// Key for the nonce MAC. Servers sharing it accept each other's nonces.
    pub key: Vec<u8>,
    /// How long a nonce stays fresh. Short lifetimes limit how long a captured
    /// request can be replayed after a restart wipes the nc memory.
    pub nonce_lifetime: Duration,
    /// Algorithms to offer, most preferred first (the challenge order).
    pub algorithms: Vec<Algorithm>,
    /// qop-options to offer; `auth` unless bodies must be protected.
    pub qop: QopOptions,
    /// Accept RFC 2069 responses without qop. Off by default because they
    /// carry no nonce-count and so cannot be protected against replay.
    pub allow_no_qop: bool,
    /// Require the `uri` parameter to equal the Request-URI byte for byte
    /// (RFC 7616 §3.4.6); turn off behind proxies that rewrite it.
    pub check_uri: bool,
    /// Bound on the nonces whose nonce-count is remembered.
    pub max_tracked_nonces: usize,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("realm", &self.realm)
            .field("key", &"..")
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .field("qop", &self.qop)
            .field("allow_no_qop", &self.allow_no_qop)
            .field("check_uri", &self.check_uri)
            .field("max_tracked_nonces", &self.max_tracked_nonces)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults: 5 minute nonces, SHA-256 and MD5 (most SIP phones only
    /// do MD5), `qop=auth`, qop required, URI checked, 65536 tracked nonces.
    pub fn new(realm: impl Into<String>, key: impl Into<Vec<u8>>) -> Self {
        ServerConfig {
            realm: realm.into(),
            key: key.into(),
            nonce_lifetime: Duration::from_secs(300),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            qop: QopOptions::AUTH,
            allow_no_qop: false,
            check_uri: true,
            max_tracked_nonces: 65_536,
        }
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `username` parameter (the hash, if `userhash` was used).
    pub username: String,
    /// Algorithm the client used.
    pub algorithm: Algorithm,
    /// qop the client used; `None` for an RFC 2069 response.
    pub qop: Option<Qop>,
    /// The accepted nonce-count.
    pub nc: Option<u32>,
    /// When the nonce was issued (unix seconds), e.g. to send a `nextnonce`
    /// before it expires.
    pub nonce_issued: u64,
}

/// Issues challenges and verifies credentials for one realm.
///
/// Verification takes `&mut self` because it records nonce-counts; share a
/// server between tasks behind a mutex.
#[derive(Debug, Clone)]
pub struct DigestServer {
    config: ServerConfig,
    key: NonceKey,
    lifetime: u64,
    seen: NcTracker,
}

impl DigestServer {
    /// Builds a server. `config.algorithms` keeps its order: it is the order of
    /// preference the challenges are sent in (RFC 8760 §2.4), and many clients
    /// (SIPp, older phones) only read the first challenge. Duplicates are dropped.
    pub fn new(mut config: ServerConfig) -> Self {
        let mut seen_algs = Vec::with_capacity(config.algorithms.len());
        config.algorithms.retain(|a| {
            let fresh = !seen_algs.contains(a);
            seen_algs.push(*a);
            fresh
        });
        DigestServer {
            key: NonceKey::new(&config.key),
            lifetime: config.nonce_lifetime.as_secs().max(1),
            seen: NcTracker::new(config.max_tracked_nonces),
            config,
        }
    }

    /// The configuration in effect.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Challenges for a 401/407: one per offered algorithm, in the configured order,
    /// all sharing one fresh nonce. `flow` (e.g. the source address) binds
    /// the nonce to a connection; pass the same value to `verify`. Set
    /// `stale` when answering [`AuthError::StaleNonce`].
    pub fn challenge(&self, now: u64, flow: Option<&[u8]>, stale: bool) -> Vec<Challenge<'static>> {
        self.challenge_with_salt(now, rand::random(), flow, stale)
    }

    /// [`DigestServer::challenge`] with the nonce's random salt supplied,
    /// for reproducible tests.
    pub fn challenge_with_salt(&self, now: u64, salt: NonceSalt, flow: Option<&[u8]>, stale: bool) -> Vec<Challenge<'static>> {
        let nonce = self.key.mint(now, salt, &self.config.realm, flow);
        self.config
            .algorithms
            .iter()
            .map(|alg| Challenge {
                realm: Cow::Owned(self.config.realm.clone()),
                domain: None,
                nonce: Cow::Owned(nonce.clone()),
                opaque: None,
                stale,
                algorithm: Some(*alg),
                qop: self.config.qop,
                userhash: false,
                extra: Vec::new(),
            })
            .collect()
    }

    /// Checks `credentials` sent with `request`.
    ///
    /// `secret` is what the caller found for `credentials.username` and
    /// `credentials.effective_algorithm()`, or `None` for an unknown user.
    /// With `userhash` the username is a hash, so pass the stored HA1
    /// rather than a password.
    ///
    /// A genuine expired nonce yields [`AuthError::StaleNonce`] only if the
    /// response was otherwise right, so `stale=true` never tells a client
    /// with a wrong password to retry silently (RFC 7616 §3.3).
    pub fn verify(
        &mut self,
        now: u64,
        request: &DigestRequest<'_>,
        flow: Option<&[u8]>,
        credentials: &Credentials<'_>,
        secret: Option<Secret<'_>>,
    ) -> Result<Verified, AuthError> {
        let c = credentials;
        let cfg = &self.config;
        if c.realm != cfg.realm.as_str() {
            return Err(AuthError::RealmMismatch(c.realm.clone().into_owned()));
        }
        let algorithm = c.effective_algorithm();
        if !cfg.algorithms.contains(&algorithm) {
            return Err(AuthError::UnsupportedAlgorithm(algorithm.name().to_owned()));
        }
        match c.qop {
            None if !cfg.allow_no_qop => return Err(AuthError::QopRequired),
            None => {}
            Some(q) if !cfg.qop.contains(q) => {
                return Err(AuthError::UnsupportedQop(q.name().to_owned()));
            }
            Some(_) => {
                if c.cnonce.is_none() {
                    return Err(AuthError::MissingParam("cnonce"));
                }
                if c.nc.is_none() {
                    return Err(AuthError::MissingParam("nc"));
                }
            }
        }
        let nonce = self.key.open(&c.nonce, &cfg.realm, flow)?;
        let stale = now.saturating_sub(nonce.issued) >= self.lifetime;
        if cfg.check_uri && c.uri != request.uri {
            return Err(AuthError::UriMismatch);
        }
        let secret = secret.ok_or(AuthError::UnknownUser)?;
        let expected = response::request_digest(&DigestInput {
            algorithm,
            username: &c.username,
            realm: &c.realm,
            secret,
            nonce: &c.nonce,
            cnonce: c.cnonce.as_deref(),
            nc: c.nc,
            qop: c.qop,
            request: DigestRequest { uri: &c.uri, ..*request },
        })?;
        if !response::response_matches(&expected, &c.response) {
            return Err(AuthError::WrongResponse);
        }
        if stale {
            return Err(AuthError::StaleNonce);
        }
        if let Some(nc) = c.nc {
            self.seen.accept(nonce.id, nonce.issued, nc, now, self.lifetime)?;
        }
        Ok(Verified { username: c.username.clone().into_owned(), algorithm, qop: c.qop, nc: c.nc, nonce_issued: nonce.issued })
    }
}
