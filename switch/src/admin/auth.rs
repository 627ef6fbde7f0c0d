//! Who may use the admin listener: the bearer token rule.
//!
//! `/metrics` and `/healthz` are open (Prometheus and load balancers scrape
//! them without secrets; they name no subscriber). Everything else needs
//! `Authorization: Bearer TOKEN` — unless the listener is loopback and
//! `require_token` is off, as whoever reaches 127.0.0.0/8 or ::1 is on the
//! host already. The token is compared in constant time and never logged.

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// The paths served without a token: the scrapes, and the web view's static
/// files (the page asks `/api` for its data, with the token).
const OPEN: [&str; 5] = ["/metrics", "/healthz", "/", "/app.js", "/style.css"];

/// The rule for one listener.
#[derive(Clone)]
pub struct Auth {
    /// The expected token; `None`: none is asked for.
    token: Option<Vec<u8>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("token", &self.token.as_ref().map(|_| "<redacted>")).finish()
    }
}

impl Auth {
    /// The rule for a listener: loopback (and not `require_token`) asks for
    /// nothing; otherwise the token, which config validation made sure exists.
    pub fn for_listener(loopback: bool, require_token: bool, token: Option<&str>) -> Auth {
        let wanted = !loopback || require_token;
        Auth { token: token.filter(|_| wanted).map(|t| t.as_bytes().to_vec()) }
    }

    /// Whether a request for `path` with these headers may go on.
    pub fn allows(&self, path: &str, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else { return true };
        if OPEN.contains(&path) {
            return true;
        }
        let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        // `ct_eq` on slices of different lengths is false without looking at
        // the bytes; the token's length is not the secret.
        presented.is_some_and(|p| bool::from(p.ct_eq(token)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn bearer(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn off_loopback_everything_but_metrics_and_healthz_needs_the_token() {
        let auth = Auth::for_listener(false, false, Some("s3cret"));
        assert!(auth.allows("/metrics", &HeaderMap::new()));
        assert!(auth.allows("/healthz", &HeaderMap::new()));
        assert!(auth.allows("/", &HeaderMap::new()), "the page itself holds no data");
        assert!(!auth.allows("/api/registrations", &HeaderMap::new()));
        assert!(!auth.allows("/api/calls", &bearer("Bearer s3cre")));
        assert!(!auth.allows("/api/calls", &bearer("Bearer s3cret2")));
        assert!(!auth.allows("/api/calls", &bearer("Basic s3cret")));
        assert!(!auth.allows("/api/calls", &bearer("s3cret")));
        assert!(auth.allows("/api/calls", &bearer("Bearer s3cret")));
    }

    #[test]
    fn loopback_trusts_the_host_unless_told_not_to() {
        assert!(Auth::for_listener(true, false, Some("s3cret")).allows("/anything", &HeaderMap::new()));
        assert!(Auth::for_listener(true, false, None).allows("/anything", &HeaderMap::new()));
        let strict = Auth::for_listener(true, true, Some("s3cret"));
        assert!(!strict.allows("/anything", &HeaderMap::new()));
        assert!(strict.allows("/anything", &bearer("Bearer s3cret")));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        assert!(!format!("{:?}", Auth::for_listener(false, false, Some("s3cret"))).contains("s3cret"));
    }
}
