//! `Authorization` / `Proxy-Authorization` values (RFC 7616 §3.4).

use std::borrow::Cow;
use std::fmt;

use super::params::{self, AuthParam, RawParam, set_once};
use super::print::{write_name, write_quoted};
use super::{Algorithm, AuthError, Qop};

/// `Digest` credentials, borrowing from the header value they were parsed from.
///
/// Parsing checks syntax and the always-required parameters only; whether
/// `cnonce`/`nc` are present when `qop` demands them is a verification
/// matter ([`AuthError::MissingParam`] from the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The user, or `H(username:realm)` when `userhash` is set.
    pub username: Cow<'a, str>,
    /// Must equal the challenge's realm.
    pub realm: Cow<'a, str>,
    /// Echo of the challenge nonce.
    pub nonce: Cow<'a, str>,
    /// The `digest-uri`: the Request-URI the client hashed.
    pub uri: Cow<'a, str>,
    /// The request-digest in hex.
    pub response: Cow<'a, str>,
    /// `None` when absent, meaning MD5.
    pub algorithm: Option<Algorithm>,
    /// Client nonce, required with qop or a `-sess` algorithm.
    pub cnonce: Option<Cow<'a, str>>,
    /// Echo of the challenge's opaque.
    pub opaque: Option<Cow<'a, str>>,
    /// The single qop the client chose.
    pub qop: Option<Qop>,
    /// Nonce-count: how many requests the client has sent with this nonce.
    pub nc: Option<u32>,
    /// `username` is hashed (RFC 7616 §3.4.4).
    pub userhash: bool,
    /// Parameters not interpreted here, in order.
    pub extra: Vec<AuthParam<'a>>,
}

impl<'a> Credentials<'a> {
    /// Parses a header value such as `Digest username="u", realm="r", ...`.
    ///
    /// Accepts `qop`, `nc` and `algorithm` quoted too, as some deployed
    /// clients send them that way.
    pub fn parse(input: &'a str) -> Result<Self, AuthError> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = None;
        let mut cnonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut nc = None;
        let mut userhash = None;
        let mut extra = Vec::new();
        for p in params::digest_params(input)? {
            let p = p?;
            if p.is("username") {
                set_once(&mut username, p.unescaped(), &p)?;
            } else if p.is("realm") {
                set_once(&mut realm, p.unescaped(), &p)?;
            } else if p.is("nonce") {
                set_once(&mut nonce, p.unescaped(), &p)?;
            } else if p.is("uri") {
                set_once(&mut uri, p.unescaped(), &p)?;
            } else if p.is("response") {
                set_once(&mut response, p.unescaped(), &p)?;
            } else if p.is("cnonce") {
                set_once(&mut cnonce, p.unescaped(), &p)?;
            } else if p.is("opaque") {
                set_once(&mut opaque, p.unescaped(), &p)?;
            } else if p.is("userhash") {
                set_once(&mut userhash, params::flag(&p), &p)?;
            } else if p.is("algorithm") {
                set_once(&mut algorithm, params::algorithm(&p)?, &p)?;
            } else if p.is("qop") {
                let value = p.unescaped();
                let q = Qop::from_token(&value).ok_or_else(|| AuthError::UnsupportedQop(value.into_owned()))?;
                set_once(&mut qop, q, &p)?;
            } else if p.is("nc") {
                set_once(&mut nc, parse_nc(&p)?, &p)?;
            } else {
                params::push_extra(&mut extra, &p)?;
            }
        }
        Ok(Credentials {
            username: username.ok_or(AuthError::MissingParam("username"))?,
            realm: realm.ok_or(AuthError::MissingParam("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingParam("nonce"))?,
            uri: uri.ok_or(AuthError::MissingParam("uri"))?,
            response: response.ok_or(AuthError::MissingParam("response"))?,
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
            userhash: userhash.unwrap_or(false),
            extra,
        })
    }

    /// The algorithm in effect: MD5 when the parameter is absent. Registrars
    /// use this to pick which stored HA1 to look up.
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Credentials<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        Credentials {
            username: own(self.username),
            realm: own(self.realm),
            nonce: own(self.nonce),
            uri: own(self.uri),
            response: own(self.response),
            algorithm: self.algorithm,
            cnonce: self.cnonce.map(own),
            opaque: self.opaque.map(own),
            qop: self.qop,
            nc: self.nc,
            userhash: self.userhash,
            extra: self.extra.into_iter().map(AuthParam::into_owned).collect(),
        }
    }
}

/// `nc-value = 8LHEX` (RFC 7616 §3.4); uppercase hex is tolerated.
fn parse_nc(p: &RawParam<'_>) -> Result<u32, AuthError> {
    let v = p.value;
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(p.invalid("nc", "expected 8 hex digits"));
    }
    u32::from_str_radix(v, 16).map_err(|_| p.invalid("nc", "expected 8 hex digits"))
}

impl fmt::Display for Credentials<'_> {
    /// Canonical form per RFC 7616 §3.4: username, realm, nonce, uri,
    /// response, cnonce and opaque quoted; algorithm, qop and nc bare.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest ")?;
        let first = &mut true;
        for (name, value) in
            [("username", &self.username), ("realm", &self.realm), ("nonce", &self.nonce), ("uri", &self.uri), ("response", &self.response)]
        {
            write_name(f, first, name)?;
            write_quoted(f, value)?;
        }
        if let Some(alg) = self.algorithm {
            write_name(f, first, "algorithm")?;
            f.write_str(alg.name())?;
        }
        if let Some(cnonce) = &self.cnonce {
            write_name(f, first, "cnonce")?;
            write_quoted(f, cnonce)?;
        }
        if let Some(opaque) = &self.opaque {
            write_name(f, first, "opaque")?;
            write_quoted(f, opaque)?;
        }
        if let Some(qop) = self.qop {
            write_name(f, first, "qop")?;
            f.write_str(qop.name())?;
        }
        if let Some(nc) = self.nc {
            write_name(f, first, "nc")?;
            write!(f, "{nc:08x}")?;
        }
        if self.userhash {
            write_name(f, first, "userhash")?;
            f.write_str("true")?;
        }
        for p in &self.extra {
            p.write(f, first)?;
        }
        Ok(())
    }
}

/// Entry point for fuzzers and callers that prefer a free function.
pub fn parse_credentials(input: &str) -> Result<Credentials<'_>, AuthError> {
    Credentials::parse(input)
}
