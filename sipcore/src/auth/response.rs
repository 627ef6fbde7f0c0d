//! The request-digest computation (RFC 7616 §3.4.1–§3.4.3, RFC 2617 §3.2.2).

use std::borrow::Cow;
use std::fmt;

use super::{Algorithm, AuthError, Qop};

/// What proves the user's identity. A registrar should store only the
/// `Ha1` form: it cannot be replayed against other realms, and the password
/// never needs to be on the server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Secret<'a> {
    /// The cleartext password.
    Password(&'a str),
    /// `H(username:realm:password)` in hex, for the algorithm's hash. For a
    /// `-sess` algorithm this is still the non-session value; the session
    /// HA1 is derived from it per request.
    Ha1(&'a str),
}

impl fmt::Debug for Secret<'_> {
    /// Redacted so secrets never reach logs through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(..)"),
            Self::Ha1(_) => f.write_str("Ha1(..)"),
        }
    }
}

/// The parts of the SIP request that go into HA2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestRequest<'a> {
    /// The method, e.g. `REGISTER`. For ACK and CANCEL RFC 3261 §22.4 says to
    /// use the INVITE's credentials but the method of the request itself.
    pub method: &'a str,
    /// The Request-URI as the client sent it (the `digest-uri`).
    pub uri: &'a str,
    /// The message body, hashed only for `qop=auth-int`.
    pub body: &'a [u8],
}

impl<'a> DigestRequest<'a> {
    /// A request without a body.
    pub fn new(method: &'a str, uri: &'a str) -> Self {
        DigestRequest { method, uri, body: &[] }
    }

    /// Sets the body, needed only for `auth-int`.
    pub fn with_body(self, body: &'a [u8]) -> Self {
        DigestRequest { body, ..self }
    }
}

/// Everything the request-digest depends on.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// Hash and session-ness.
    pub algorithm: Algorithm,
    /// The real (unhashed) username: HA1 always uses it.
    pub username: &'a str,
    /// The protection space.
    pub realm: &'a str,
    /// Password or precomputed HA1.
    pub secret: Secret<'a>,
    /// Server nonce.
    pub nonce: &'a str,
    /// Client nonce; required with qop or a `-sess` algorithm.
    pub cnonce: Option<&'a str>,
    /// Nonce-count; required with qop.
    pub nc: Option<u32>,
    /// `None` selects the RFC 2069 formula.
    pub qop: Option<Qop>,
    /// Method, digest-uri and body.
    pub request: DigestRequest<'a>,
}

/// `H(username:realm:password)`, the value a registrar stores instead of
/// the password (one per algorithm hash it offers).
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// Computes the lowercase hex `response` for `input`.
pub fn request_digest(input: &DigestInput<'_>) -> Result<String, AuthError> {
    let alg = input.algorithm;
    let ha1 = session_ha1(input)?;
    let ha2 = ha2(alg, input.qop, &input.request);
    let nonce = input.nonce.as_bytes();
    Ok(match input.qop {
        Some(qop) => {
            let cnonce = input.cnonce.ok_or(AuthError::MissingParam("cnonce"))?;
            let nc = input.nc.ok_or(AuthError::MissingParam("nc"))?;
            let nc = format!("{nc:08x}");
            alg.hash_hex(&[ha1.as_bytes(), nonce, nc.as_bytes(), cnonce.as_bytes(), qop.name().as_bytes(), ha2.as_bytes()])
        }
        None => alg.hash_hex(&[ha1.as_bytes(), nonce, ha2.as_bytes()]),
    })
}

/// HA1, with the `-sess` step applied when the algorithm calls for it.
fn session_ha1(input: &DigestInput<'_>) -> Result<String, AuthError> {
    let alg = input.algorithm;
    let base: Cow<'_, str> = match input.secret {
        Secret::Password(pw) => Cow::Owned(ha1(alg, input.username, input.realm, pw)),
        Secret::Ha1(h) => normalize_ha1(alg, h)?,
    };
    if !alg.is_session() {
        return Ok(base.into_owned());
    }
    let cnonce = input.cnonce.ok_or(AuthError::MissingParam("cnonce"))?;
    Ok(alg.hash_hex(&[base.as_bytes(), input.nonce.as_bytes(), cnonce.as_bytes()]))
}

/// A stored HA1 is hashed as text, so its case matters: RFC 7616 uses
/// lowercase hex, and uppercase input is folded to it.
fn normalize_ha1(alg: Algorithm, h: &str) -> Result<Cow<'_, str>, AuthError> {
    if h.len() != alg.hex_len() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::InvalidHa1);
    }
    if h.bytes().any(|b| b.is_ascii_uppercase()) { Ok(Cow::Owned(h.to_ascii_lowercase())) } else { Ok(Cow::Borrowed(h)) }
}

fn ha2(alg: Algorithm, qop: Option<Qop>, req: &DigestRequest<'_>) -> String {
    let method = req.method.as_bytes();
    let uri = req.uri.as_bytes();
    match qop {
        Some(Qop::AuthInt) => {
            let body = alg.hash_hex(&[req.body]);
            alg.hash_hex(&[method, uri, body.as_bytes()])
        }
        Some(Qop::Auth) | None => alg.hash_hex(&[method, uri]),
    }
}

/// Compares a received hex response with the expected one without an
/// early exit, so timing does not reveal how many leading characters match.
pub(crate) fn response_matches(expected_lower_hex: &str, received: &str) -> bool {
    let (a, b) = (expected_lower_hex.as_bytes(), received.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y.to_ascii_lowercase())) == 0
}
