//! The single error type of the digest module.
//!
//! Parsing and verification share one enum because the switch treats both the
//! same way: answer the request with [`AuthError::status`] and, for 401/407,
//! a fresh challenge.

/// Everything that can go wrong parsing, computing or verifying a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The header value does not follow the `auth-param` grammar.
    #[error("malformed Digest header at byte {offset}: {what}")]
    Syntax {
        /// Byte offset into the header value where parsing stopped.
        offset: usize,
        /// What was expected or found there.
        what: &'static str,
    },
    /// The auth-scheme is something other than `Digest` (e.g. `Basic`).
    #[error("auth scheme at byte {offset} is not Digest")]
    NotDigest {
        /// Byte offset of the scheme.
        offset: usize,
    },
    /// A parameter appears twice, which RFC 7235 §2.1 forbids.
    #[error("duplicate parameter `{name}` at byte {offset}")]
    DuplicateParam {
        /// The parameter name as written.
        name: String,
        /// Byte offset of the second occurrence.
        offset: usize,
    },
    /// A known parameter has a value outside its grammar (e.g. `nc=12`).
    #[error("invalid `{name}` at byte {offset}: {what}")]
    InvalidParam {
        /// Canonical parameter name.
        name: &'static str,
        /// Byte offset of the value.
        offset: usize,
        /// What is wrong with it.
        what: &'static str,
    },
    /// A parameter the RFC requires (here, or given the chosen qop/algorithm) is absent.
    #[error("missing parameter `{0}`")]
    MissingParam(&'static str),
    /// An `algorithm` we do not implement, or one the server did not offer.
    #[error("unsupported algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// A `qop` we do not implement, or one the server did not offer.
    #[error("unsupported qop `{0}`")]
    UnsupportedQop(String),
    /// The credentials are for another realm than the one this server guards.
    #[error("realm `{0}` is not ours")]
    RealmMismatch(String),
    /// The nonce was not issued by us (undecodable, or HMAC mismatch).
    #[error("nonce is malformed or forged")]
    BadNonce,
    /// The nonce is genuine but expired: re-challenge with `stale=true`.
    #[error("nonce is stale")]
    StaleNonce,
    /// The nonce-count did not increase: a replayed or reordered request.
    #[error("nonce-count {nc:08x} not above last accepted {last:08x}")]
    Replay {
        /// The nonce-count received.
        nc: u32,
        /// The highest nonce-count accepted so far for this nonce.
        last: u32,
    },
    /// The client omitted `qop` and this server does not allow RFC 2069 digests.
    #[error("qop is required")]
    QopRequired,
    /// The `uri` parameter differs from the Request-URI (RFC 7616 §3.4.6).
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
    /// No secret is known for the username.
    #[error("unknown user")]
    UnknownUser,
    /// The `response` does not match: wrong password (or tampered request).
    #[error("response does not match")]
    WrongResponse,
    /// A stored HA1 is not hex of the algorithm's digest length.
    #[error("stored HA1 is not a valid hex digest for the algorithm")]
    InvalidHa1,
    /// Client side: none of the challenges uses an algorithm and qop we support.
    #[error("no challenge with a supported algorithm and qop")]
    NoSupportedChallenge,
}

/// The SIP status a UAS/registrar answers with when verification fails.
///
/// 401 means "re-challenge" (send a fresh `WWW-Authenticate`; a proxy uses
/// 407, see [`AuthError::proxy_status`]); 403 means the credentials are
/// well-formed but wrong, retrying with the same password cannot help;
/// 400 means the request itself is broken. Errors that only arise from
/// local misconfiguration or on the client side map to 500.
impl crate::ToStatus for AuthError {
    fn status(&self) -> crate::StatusCode {
        use crate::StatusCode as S;
        match self {
            Self::Syntax { .. }
            | Self::DuplicateParam { .. }
            | Self::InvalidParam { .. }
            | Self::MissingParam(_)
            | Self::UnsupportedQop(_)
            | Self::UriMismatch => S::BAD_REQUEST,
            Self::NotDigest { .. }
            | Self::UnsupportedAlgorithm(_)
            | Self::RealmMismatch(_)
            | Self::BadNonce
            | Self::StaleNonce
            | Self::Replay { .. }
            | Self::QopRequired => S::UNAUTHORIZED,
            Self::UnknownUser | Self::WrongResponse => S::FORBIDDEN,
            Self::InvalidHa1 | Self::NoSupportedChallenge => S::SERVER_INTERNAL_ERROR,
        }
    }
}

impl AuthError {
    /// [`ToStatus::status`](crate::ToStatus::status) as a proxy answers it: a
    /// re-challenge is 407 with `Proxy-Authenticate` (RFC 3261 §22.3).
    pub fn proxy_status(&self) -> crate::StatusCode {
        use crate::ToStatus;
        match self.status() {
            crate::StatusCode::UNAUTHORIZED => crate::StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            other => other,
        }
    }

    /// Whether the re-challenge should carry `stale=true`, telling the client
    /// its password was right and it may retry without asking the user.
    pub fn is_stale(&self) -> bool {
        matches!(self, Self::StaleNonce)
    }
}
