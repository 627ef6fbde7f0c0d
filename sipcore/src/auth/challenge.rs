//! `WWW-Authenticate` / `Proxy-Authenticate` values (RFC 7616 §3.3).

use std::borrow::Cow;
use std::fmt;

use super::params::{self, AuthParam, set_once};
use super::print::{write_name, write_quoted};
use super::{Algorithm, AuthError, Qop, QopOptions};

/// A `Digest` challenge, borrowing from the header value it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// Protection space; shown to users and part of HA1.
    pub realm: Cow<'a, str>,
    /// URIs sharing this protection space; rarely used in SIP.
    pub domain: Option<Cow<'a, str>>,
    /// Server-chosen value the client hashes with, proving freshness.
    pub nonce: Cow<'a, str>,
    /// Opaque server state the client must echo back unchanged.
    pub opaque: Option<Cow<'a, str>>,
    /// The previous request's nonce expired but its digest was right, so the
    /// client can retry without prompting the user.
    pub stale: bool,
    /// `None` when absent, which means MD5; kept distinct so printing
    /// reproduces what was received.
    pub algorithm: Option<Algorithm>,
    /// Offered qop-options; empty means an RFC 2069 challenge.
    pub qop: QopOptions,
    /// The server accepts a hashed username (RFC 7616 §3.4.4).
    pub userhash: bool,
    /// Parameters not interpreted here (`charset`, extensions), in order.
    pub extra: Vec<AuthParam<'a>>,
}

impl<'a> Challenge<'a> {
    /// Parses a header value such as `Digest realm="x", nonce="y"`.
    ///
    /// Fails on a challenge whose `algorithm` or every `qop` option is
    /// unknown: a client must skip such a challenge, so the error lets it.
    pub fn parse(input: &'a str) -> Result<Self, AuthError> {
        let mut realm = None;
        let mut domain = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut stale = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut userhash = None;
        let mut extra = Vec::new();
        for p in params::digest_params(input)? {
            let p = p?;
            if p.is("realm") {
                set_once(&mut realm, p.unescaped(), &p)?;
            } else if p.is("domain") {
                set_once(&mut domain, p.unescaped(), &p)?;
            } else if p.is("nonce") {
                set_once(&mut nonce, p.unescaped(), &p)?;
            } else if p.is("opaque") {
                set_once(&mut opaque, p.unescaped(), &p)?;
            } else if p.is("stale") {
                set_once(&mut stale, params::flag(&p), &p)?;
            } else if p.is("userhash") {
                set_once(&mut userhash, params::flag(&p), &p)?;
            } else if p.is("algorithm") {
                set_once(&mut algorithm, params::algorithm(&p)?, &p)?;
            } else if p.is("qop") {
                set_once(&mut qop, parse_qop_options(&p.unescaped())?, &p)?;
            } else {
                params::push_extra(&mut extra, &p)?;
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(AuthError::MissingParam("realm"))?,
            domain,
            nonce: nonce.ok_or(AuthError::MissingParam("nonce"))?,
            opaque,
            stale: stale.unwrap_or(false),
            algorithm,
            qop: qop.unwrap_or_default(),
            userhash: userhash.unwrap_or(false),
            extra,
        })
    }

    /// The algorithm in effect: MD5 when the parameter is absent.
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }

    /// Detaches from the input buffer, e.g. to keep it across requests.
    pub fn into_owned(self) -> Challenge<'static> {
        Challenge {
            realm: Cow::Owned(self.realm.into_owned()),
            domain: self.domain.map(|d| Cow::Owned(d.into_owned())),
            nonce: Cow::Owned(self.nonce.into_owned()),
            opaque: self.opaque.map(|o| Cow::Owned(o.into_owned())),
            stale: self.stale,
            algorithm: self.algorithm,
            qop: self.qop,
            userhash: self.userhash,
            extra: self.extra.into_iter().map(AuthParam::into_owned).collect(),
        }
    }
}

/// Parses the comma list inside `qop="..."`. Unknown options are ignored as
/// RFC 7616 §3.3 requires, but a list with nothing usable is an error.
fn parse_qop_options(list: &str) -> Result<QopOptions, AuthError> {
    let mut opts = QopOptions::default();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(q) = Qop::from_token(item) {
            opts.insert(q);
        }
    }
    if opts.is_empty() {
        return Err(AuthError::UnsupportedQop(list.to_owned()));
    }
    Ok(opts)
}

impl fmt::Display for Challenge<'_> {
    /// Canonical form: quoted strings for realm, domain, nonce, opaque and the
    /// qop list; bare tokens for stale and algorithm.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest ")?;
        let first = &mut true;
        write_name(f, first, "realm")?;
        write_quoted(f, &self.realm)?;
        if let Some(domain) = &self.domain {
            write_name(f, first, "domain")?;
            write_quoted(f, domain)?;
        }
        write_name(f, first, "nonce")?;
        write_quoted(f, &self.nonce)?;
        if let Some(opaque) = &self.opaque {
            write_name(f, first, "opaque")?;
            write_quoted(f, opaque)?;
        }
        if self.stale {
            write_name(f, first, "stale")?;
            f.write_str("true")?;
        }
        if let Some(alg) = self.algorithm {
            write_name(f, first, "algorithm")?;
            f.write_str(alg.name())?;
        }
        if !self.qop.is_empty() {
            write_name(f, first, "qop")?;
            write!(f, "\"{}\"", self.qop)?;
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
pub fn parse_challenge(input: &str) -> Result<Challenge<'_>, AuthError> {
    Challenge::parse(input)
}
