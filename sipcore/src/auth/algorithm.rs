//! The `algorithm` parameter (RFC 7616 §3.3, §6.1; RFC 8760 for SHA-512-256).

use core::fmt;
use core::str::FromStr;

use md5::Md5;
use sha2::digest::Digest;
use sha2::{Sha256, Sha512_256};

use super::AuthError;

/// A digest algorithm. The `-sess` variants bind HA1 to the nonce and cnonce
/// (RFC 7616 §3.4.2) so a leaked HA1-sess is useless outside that session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the RFC 2617 default, assumed when `algorithm` is absent.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`: SHA-512/256, not SHA-512 truncated (RFC 7616 §3.2).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm, strongest first, which is the order servers offer them
    /// in (RFC 7616 §3.7: most preferred challenge first).
    pub const ALL: [Algorithm; 6] =
        [Algorithm::Sha512_256, Algorithm::Sha512_256Sess, Algorithm::Sha256, Algorithm::Sha256Sess, Algorithm::Md5, Algorithm::Md5Sess];

    /// The token as written on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
            Self::Sha512_256 => "SHA-512-256",
            Self::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Parses the token; algorithm names are case-insensitive (RFC 7616 §3.3).
    pub fn from_token(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(token))
    }

    /// Whether HA1 is the session variant.
    pub fn is_session(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess | Self::Sha512_256Sess)
    }

    /// Ranks the underlying hash so a client can pick the strongest offer;
    /// session and non-session variants of one hash rank the same.
    pub fn strength(self) -> u8 {
        match self {
            Self::Md5 | Self::Md5Sess => 1,
            Self::Sha256 | Self::Sha256Sess => 2,
            Self::Sha512_256 | Self::Sha512_256Sess => 3,
        }
    }

    /// Length of a digest in lowercase hex, used to sanity-check stored HA1s.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 | Self::Md5Sess => 32,
            _ => 64,
        }
    }

    /// `H(parts joined by ":")` in lowercase hex: every digest input in
    /// RFC 7616 is a colon-joined list, so joining here keeps callers from
    /// building intermediate strings.
    pub fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => joined_hex::<Md5>(parts),
            Self::Sha256 | Self::Sha256Sess => joined_hex::<Sha256>(parts),
            Self::Sha512_256 | Self::Sha512_256Sess => joined_hex::<Sha512_256>(parts),
        }
    }
}

fn joined_hex<D: Digest>(parts: &[&[u8]]) -> String {
    let mut hasher = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_token(s).ok_or_else(|| AuthError::UnsupportedAlgorithm(s.to_owned()))
    }
}
