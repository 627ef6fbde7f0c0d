//! Stateless server nonces: `base64url(issued ‖ salt ‖ HMAC-SHA256-128)`.
//!
//! The nonce carries its own issue time and a MAC over that time, the realm
//! and an optional flow identifier, so the server can tell a genuine but
//! expired nonce (re-challenge with `stale=true`) from a forged one without
//! storing anything per challenge. The random salt keeps two challenges issued
//! in the same second distinct, which the nonce-count replay check relies on.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::AuthError;

type HmacSha256 = Hmac<Sha256>;

const ISSUED_LEN: usize = 8;
const SALT_LEN: usize = 8;
/// HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows truncation to half).
const MAC_LEN: usize = 16;
const RAW_LEN: usize = ISSUED_LEN + SALT_LEN + MAC_LEN;
/// 32 bytes of unpadded base64.
const ENCODED_LEN: usize = 43;
/// Separates this MAC's inputs from any other use of the same key.
const DOMAIN: &[u8] = b"sipcore digest nonce v1";

/// Random bytes that make each nonce unique.
pub type NonceSalt = [u8; SALT_LEN];

/// A genuine nonce's identity: its MAC. The MAC covers the issue time and
/// salt, so two nonces this key minted share it only by an HMAC collision,
/// and it is half the nonce's bytes: the replay tracker keeps one per
/// registered phone. (Base64 decoding rejects non-canonical spellings, so a
/// nonce has one spelling to go with it.)
pub type NonceId = [u8; MAC_LEN];

/// A nonce whose MAC checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedNonce {
    /// Unix seconds at which it was minted.
    pub issued: u64,
    /// Canonical identity, used to key nonce-count tracking.
    pub id: NonceId,
}

/// Mints and checks nonces under one secret key.
#[derive(Clone)]
pub struct NonceKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// Keys the MAC. Any key length works; use at least 32 random bytes.
    pub fn new(key: &[u8]) -> Self {
        // RFC 2104 key preprocessing done here so construction cannot fail:
        // long keys are hashed, then everything is zero-padded to a block.
        let mut block = [0u8; 64];
        let hashed;
        let src: &[u8] = if key.len() > block.len() {
            hashed = Sha256::digest(key);
            &hashed
        } else {
            key
        };
        block.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
        NonceKey { mac: HmacSha256::new(&block.into()) }
    }

    fn tag(&self, issued: u64, salt: &NonceSalt, realm: &str, flow: Option<&[u8]>) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(&issued.to_be_bytes());
        mac.update(salt);
        // Length prefixes keep (realm, flow) pairs from colliding.
        mac.update(&(realm.len() as u64).to_be_bytes());
        mac.update(realm.as_bytes());
        match flow {
            Some(flow) => {
                mac.update(&[1]);
                mac.update(&(flow.len() as u64).to_be_bytes());
                mac.update(flow);
            }
            None => mac.update(&[0]),
        }
        mac
    }

    /// Mints a nonce issued at `issued` (unix seconds).
    pub fn mint(&self, issued: u64, salt: NonceSalt, realm: &str, flow: Option<&[u8]>) -> String {
        let tag = self.tag(issued, &salt, realm, flow).finalize().into_bytes();
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(&issued.to_be_bytes());
        raw.extend_from_slice(&salt);
        raw.extend(tag.iter().take(MAC_LEN));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks a nonce was minted by this key for this realm and flow.
    /// Says nothing about freshness: that is the caller's policy.
    pub fn open(&self, nonce: &str, realm: &str, flow: Option<&[u8]>) -> Result<OpenedNonce, AuthError> {
        if nonce.len() != ENCODED_LEN {
            return Err(AuthError::BadNonce);
        }
        let raw = URL_SAFE_NO_PAD.decode(nonce).map_err(|_| AuthError::BadNonce)?;
        let raw: &[u8; RAW_LEN] = raw.as_slice().try_into().map_err(|_| AuthError::BadNonce)?;
        let (issued, rest) = raw.split_first_chunk::<ISSUED_LEN>().ok_or(AuthError::BadNonce)?;
        let (salt, mac) = rest.split_first_chunk::<SALT_LEN>().ok_or(AuthError::BadNonce)?;
        let id: NonceId = *mac.first_chunk::<MAC_LEN>().ok_or(AuthError::BadNonce)?;
        let issued = u64::from_be_bytes(*issued);
        self.tag(issued, salt, realm, flow).verify_truncated_left(mac).map_err(|_| AuthError::BadNonce)?;
        Ok(OpenedNonce { issued, id })
    }
}

/// Converts a wall-clock time to the unix seconds this module works in;
/// times before the epoch clamp to 0.
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn mint_open_round_trip() {
        let k = NonceKey::new(b"key");
        let n = k.mint(1234, [1; 8], "realm", Some(b"flow"));
        assert_eq!(n.len(), ENCODED_LEN);
        let opened = k.open(&n, "realm", Some(b"flow")).unwrap();
        assert_eq!(opened.issued, 1234);
        assert_eq!(k.open(&n, "other", Some(b"flow")), Err(AuthError::BadNonce));
        assert_eq!(k.open(&n, "realm", Some(b"")), Err(AuthError::BadNonce));
        assert_eq!(k.open(&n, "realm", None), Err(AuthError::BadNonce));
    }

    #[test]
    fn the_id_tells_nonces_of_the_same_second_apart() {
        // The replay tracker keys on the id alone: the salt must reach it.
        let k = NonceKey::new(b"key");
        let open = |salt| k.open(&k.mint(7, salt, "r", None), "r", None).unwrap();
        assert_ne!(open([1; 8]).id, open([2; 8]).id);
        assert_eq!(open([1; 8]), open([1; 8]));
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        // The last char carries 2 unused bits; setting them must not yield a
        // second spelling of the same nonce (it would get its own nc count).
        let k = NonceKey::new(b"key");
        let n = k.mint(1, [0; 8], "r", None);
        let last = n.chars().last().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet.find(last).unwrap();
        let twin = alphabet.chars().nth(idx ^ 1).unwrap();
        let variant = format!("{}{twin}", &n[..n.len() - 1]);
        assert_eq!(k.open(&variant, "r", None), Err(AuthError::BadNonce));
    }

    #[test]
    fn long_keys_match_rfc2104_preprocessing() {
        let long = [7u8; 100];
        let ours = NonceKey::new(&long).mint(5, [2; 8], "r", None);
        let reference = {
            let mac = <HmacSha256 as Mac>::new_from_slice(&long).unwrap();
            NonceKey { mac }.mint(5, [2; 8], "r", None)
        };
        assert_eq!(ours, reference);
        let short = NonceKey::new(b"short").mint(5, [2; 8], "r", None);
        let reference = NonceKey { mac: <HmacSha256 as Mac>::new_from_slice(b"short").unwrap() }.mint(5, [2; 8], "r", None);
        assert_eq!(short, reference);
    }
}
