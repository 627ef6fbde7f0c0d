//! The authenticating side: answers 401/407 challenges.

use std::borrow::Cow;
use std::collections::HashMap;

use super::response::{self, DigestInput, DigestRequest, Secret};
use super::{Algorithm, AuthError, Challenge, Credentials, Qop};

/// Realms remembered at once; a UA talks to very few.
const MAX_REALMS: usize = 32;

/// Per-realm state: the nonce in use, our cnonce for it, and how many
/// requests we have sent with it.
#[derive(Debug, Clone)]
struct NonceUse {
    nonce: String,
    cnonce: String,
    nc: u32,
}

type CnonceSource = Box<dyn FnMut() -> String + Send>;

/// Produces credentials, keeping nonce-counts across requests.
///
/// One cnonce is kept per nonce so that servers which cache the `-sess`
/// HA1 from the first request (RFC 2617 §3.2.2.2) keep matching.
pub struct DigestClient {
    algorithms: Vec<Algorithm>,
    prefer_auth_int: bool,
    cnonce_source: CnonceSource,
    in_use: HashMap<String, NonceUse>,
}

impl std::fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestClient")
            .field("algorithms", &self.algorithms)
            .field("prefer_auth_int", &self.prefer_auth_int)
            .field("in_use", &self.in_use)
            .finish_non_exhaustive()
    }
}

impl Default for DigestClient {
    fn default() -> Self {
        Self::new()
    }
}

fn random_cnonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl DigestClient {
    /// A client supporting every algorithm, with random 128-bit cnonces.
    pub fn new() -> Self {
        DigestClient {
            algorithms: Algorithm::ALL.to_vec(),
            prefer_auth_int: false,
            cnonce_source: Box::new(random_cnonce),
            in_use: HashMap::new(),
        }
    }

    /// Replaces the cnonce generator, e.g. with a fixed value in tests.
    pub fn with_cnonce_source(mut self, source: impl FnMut() -> String + Send + 'static) -> Self {
        self.cnonce_source = Box::new(source);
        self
    }

    /// Restricts the algorithms used, e.g. to the one a stored HA1 is for.
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Use `auth-int` when a challenge offers both it and `auth`.
    pub fn prefer_auth_int(mut self, yes: bool) -> Self {
        self.prefer_auth_int = yes;
        self
    }

    /// The challenge to answer: the strongest supported algorithm, the
    /// server's order breaking ties.
    pub fn select<'c, 'a>(&self, challenges: &'c [Challenge<'a>]) -> Option<&'c Challenge<'a>> {
        let mut best: Option<&'c Challenge<'a>> = None;
        for c in challenges {
            let alg = c.effective_algorithm();
            if !self.algorithms.contains(&alg) {
                continue;
            }
            if best.is_none_or(|b| alg.strength() > b.effective_algorithm().strength()) {
                best = Some(c);
            }
        }
        best
    }

    /// Answers the best of several challenges (one per `WWW-Authenticate`).
    pub fn respond(
        &mut self,
        challenges: &[Challenge<'_>],
        username: &str,
        secret: Secret<'_>,
        request: &DigestRequest<'_>,
    ) -> Result<Credentials<'static>, AuthError> {
        let challenge = self.select(challenges).ok_or(AuthError::NoSupportedChallenge)?;
        self.authorize(challenge, username, secret, request)
    }

    /// Answers one challenge. Calling it again with the same nonce (for
    /// later requests) increments `nc`; a new nonce restarts it at 1.
    pub fn authorize(
        &mut self,
        challenge: &Challenge<'_>,
        username: &str,
        secret: Secret<'_>,
        request: &DigestRequest<'_>,
    ) -> Result<Credentials<'static>, AuthError> {
        let algorithm = challenge.effective_algorithm();
        if !self.algorithms.contains(&algorithm) {
            return Err(AuthError::UnsupportedAlgorithm(algorithm.name().to_owned()));
        }
        let qop = self.choose_qop(challenge);
        let (cnonce, nc) = self.next_use(&challenge.realm, &challenge.nonce);
        let realm: &str = &challenge.realm;
        let response = response::request_digest(&DigestInput {
            algorithm,
            username,
            realm,
            secret,
            nonce: &challenge.nonce,
            cnonce: Some(&cnonce),
            nc: Some(nc),
            qop,
            request: *request,
        })?;
        let username = if challenge.userhash { algorithm.hash_hex(&[username.as_bytes(), realm.as_bytes()]) } else { username.to_owned() };
        let sends_cnonce = qop.is_some() || algorithm.is_session();
        Ok(Credentials {
            username: Cow::Owned(username),
            realm: Cow::Owned(realm.to_owned()),
            nonce: Cow::Owned(challenge.nonce.clone().into_owned()),
            uri: Cow::Owned(request.uri.to_owned()),
            response: Cow::Owned(response),
            algorithm: challenge.algorithm,
            cnonce: sends_cnonce.then_some(Cow::Owned(cnonce)),
            opaque: challenge.opaque.clone().map(|o| Cow::Owned(o.into_owned())),
            qop,
            nc: qop.map(|_| nc),
            userhash: challenge.userhash,
            extra: Vec::new(),
        })
    }

    fn choose_qop(&self, challenge: &Challenge<'_>) -> Option<Qop> {
        let opts = challenge.qop;
        match (opts.auth, opts.auth_int) {
            (true, true) if self.prefer_auth_int => Some(Qop::AuthInt),
            (true, _) => Some(Qop::Auth),
            (false, true) => Some(Qop::AuthInt),
            (false, false) => None,
        }
    }

    /// Bumps the nonce-count for `nonce`, starting over with a fresh cnonce
    /// when the realm's nonce changed.
    fn next_use(&mut self, realm: &str, nonce: &str) -> (String, u32) {
        if !self.in_use.contains_key(realm) && self.in_use.len() >= MAX_REALMS {
            self.in_use.clear();
        }
        let source = &mut self.cnonce_source;
        let u = self.in_use.entry(realm.to_owned()).or_insert_with(|| NonceUse { nonce: nonce.to_owned(), cnonce: source(), nc: 0 });
        if u.nonce != nonce {
            u.nonce = nonce.to_owned();
            u.cnonce = source();
            u.nc = 0;
        }
        u.nc = u.nc.saturating_add(1);
        (u.cnonce.clone(), u.nc)
    }
}
