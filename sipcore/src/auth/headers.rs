//! Typed access to the auth headers of a message. Each header line holds one
//! challenge or one set of credentials (their values contain commas, so they are
//! never comma-joined like Via).

use super::{AuthError, Challenge, Credentials};
use crate::message::{HeaderName, Headers};

impl Headers {
    /// WWW-Authenticate (or, with `proxy`, Proxy-Authenticate) challenges in order.
    pub fn digest_challenges(&self, proxy: bool) -> impl Iterator<Item = Result<Challenge<'_>, AuthError>> {
        let name = if proxy { &HeaderName::ProxyAuthenticate } else { &HeaderName::WwwAuthenticate };
        self.list_of(name).map(Challenge::parse)
    }

    /// Authorization (or, with `proxy`, Proxy-Authorization) credentials in order.
    pub fn digest_credentials(&self, proxy: bool) -> impl Iterator<Item = Result<Credentials<'_>, AuthError>> {
        let name = if proxy { &HeaderName::ProxyAuthorization } else { &HeaderName::Authorization };
        self.list_of(name).map(Credentials::parse)
    }

    fn list_of(&self, name: &'static HeaderName) -> impl Iterator<Item = &str> {
        self.get_all(name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::message::{HeaderName, Headers};

    #[test]
    fn reads_each_line() {
        let mut h = Headers::new();
        h.push(HeaderName::WwwAuthenticate, r#"Digest realm="a", nonce="n1", algorithm=SHA-256, qop="auth""#);
        h.push(HeaderName::WwwAuthenticate, r#"Digest realm="a", nonce="n1", algorithm=MD5, qop="auth""#);
        h.push(HeaderName::ProxyAuthorization, r#"Digest username="u", realm="a", nonce="n", uri="sip:a", response="00""#);
        assert_eq!(h.digest_challenges(false).count(), 2);
        assert!(h.digest_challenges(false).all(|c| c.is_ok()));
        assert_eq!(h.digest_credentials(true).next().unwrap().unwrap().username, "u");
        assert_eq!(h.digest_credentials(false).count(), 0);
    }
}
