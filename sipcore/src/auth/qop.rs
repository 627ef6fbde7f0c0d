//! The `qop` parameter: a quoted list of options in a challenge, a single
//! token in credentials (RFC 7616 §3.3, §3.4).

use core::fmt;

/// Quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authenticates method and URI only.
    Auth,
    /// `auth-int`: also covers a hash of the body.
    AuthInt,
}

impl Qop {
    /// The token as written on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }

    /// Parses the token; case-insensitive like other digest tokens.
    pub fn from_token(token: &str) -> Option<Self> {
        [Self::Auth, Self::AuthInt].into_iter().find(|q| q.name().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of qop-options a challenge offers. A set rather than a list because
/// only two values exist and their order carries no meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QopOptions {
    /// `auth` is offered.
    pub auth: bool,
    /// `auth-int` is offered.
    pub auth_int: bool,
}

impl QopOptions {
    /// Only `auth`: what SIP servers normally offer, since proxies may
    /// legitimately rewrite bodies that `auth-int` would protect.
    pub const AUTH: QopOptions = QopOptions { auth: true, auth_int: false };

    /// No options: the challenge is RFC 2069 style.
    pub fn is_empty(self) -> bool {
        !self.auth && !self.auth_int
    }

    /// Whether `qop` is among the options.
    pub fn contains(self, qop: Qop) -> bool {
        match qop {
            Qop::Auth => self.auth,
            Qop::AuthInt => self.auth_int,
        }
    }

    /// Adds an option.
    pub fn insert(&mut self, qop: Qop) {
        match qop {
            Qop::Auth => self.auth = true,
            Qop::AuthInt => self.auth_int = true,
        }
    }

    /// The options in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Qop> {
        [(self.auth, Qop::Auth), (self.auth_int, Qop::AuthInt)].into_iter().filter_map(|(on, q)| on.then_some(q))
    }
}

impl fmt::Display for QopOptions {
    /// The unquoted comma list, e.g. `auth,auth-int`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, q) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(q.name())?;
        }
        Ok(())
    }
}
