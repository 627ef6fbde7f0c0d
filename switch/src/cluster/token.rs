//! The flow token one node puts in the `Route` of an INVITE it forwards to
//! the node holding the callee's flow (RFC 5626 §5.2: the user part of the
//! edge proxy's Route URI). It says "node FROM sends this call for NUMBER,
//! Call-ID ID, to node TO, until EXPIRES", signed with the cluster secret:
//!
//! `ft1.EXPIRES.FROM.MAC` — EXPIRES in Unix seconds, FROM and MAC (the first
//! 16 bytes of HMAC-SHA256) in unpadded base64url, so the token is a valid
//! SIP URI user part.
//!
//! Only a holder of the secret can make one, so a token lets the receiving
//! node skip the caller's digest (the first node checked it). It is bound to
//! the receiving node, the number and the Call-ID, so it cannot be spent on
//! another call, and it expires after [`LIFETIME`] (an INVITE's whole
//! transaction), so a captured one soon buys nothing. Every byte of it is
//! hostile until the MAC checks: [`verify`] never panics and compares in
//! constant time.

use super::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every token starts with (and the version of its format).
pub const PREFIX: &str = "ft1.";

/// How long a token is good for after it is made: Timer B (64*T1).
pub const LIFETIME: u64 = 32;

/// How far another node's clock may be ahead of ours (NTP keeps them much closer).
pub const SKEW: u64 = 5;

/// Bytes of the HMAC kept in the token.
const MAC_LEN: usize = 16;

/// The longest token [`verify`] reads; anything longer is not one of ours.
const MAX_LEN: usize = 256;

/// What a token vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    /// The node that forwards the call.
    pub from: &'a str,
    /// The node that holds the callee's flow.
    pub to: &'a str,
    /// The callee (the Request-URI's user).
    pub number: &'a str,
    /// The forwarded INVITE's Call-ID.
    pub call_id: &'a str,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a flow token")]
    Malformed,
    #[error("the flow token's MAC does not match")]
    BadMac,
    #[error("the flow token expired")]
    Expired,
    #[error("the flow token expires too far ahead")]
    TooFarAhead,
}

fn mac(secret: &Secret, claim: &Claim<'_>, expires: u64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"switch flow token v1\0");
    mac.update(&expires.to_be_bytes());
    // Length-prefixed, so no two claims feed the MAC the same bytes.
    for field in [claim.from, claim.to, claim.number, claim.call_id] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

/// The token for `claim`, good until `now_unix + LIFETIME`.
pub fn make(secret: &Secret, claim: &Claim<'_>, now_unix: u64) -> String {
    let expires = now_unix.saturating_add(LIFETIME);
    let tag = mac(secret, claim, expires).finalize().into_bytes();
    let short = tag.get(..MAC_LEN).unwrap_or(&tag);
    format!("{PREFIX}{expires}.{}.{}", URL_SAFE_NO_PAD.encode(claim.from), URL_SAFE_NO_PAD.encode(short))
}

/// Checks `token` for a call to `number` with `call_id` arriving at node
/// `to` at `now_unix`; returns the node that sent it.
pub fn verify(secret: &Secret, token: &str, to: &str, number: &str, call_id: &str, now_unix: u64) -> Result<String, TokenError> {
    if token.len() > MAX_LEN {
        return Err(TokenError::Malformed);
    }
    let body = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let mut parts = body.split('.');
    let (Some(expires), Some(from), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    // Digits only, no leading zero: one spelling per expiry (`u64::from_str`
    // would also take `+` and zeros, the same MAC under another token).
    if expires.is_empty() || expires.starts_with('0') || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Malformed);
    }
    let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let from = URL_SAFE_NO_PAD.decode(from).ok().and_then(|b| String::from_utf8(b).ok()).ok_or(TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    if tag.len() != MAC_LEN {
        return Err(TokenError::Malformed);
    }
    let claim = Claim { from: &from, to, number, call_id };
    // The MAC first: nothing about the time is told to whoever cannot sign.
    mac(secret, &claim, expires).verify_truncated_left(&tag).map_err(|_| TokenError::BadMac)?;
    if expires < now_unix {
        return Err(TokenError::Expired);
    }
    if expires > now_unix.saturating_add(LIFETIME + SKEW) {
        return Err(TokenError::TooFarAhead);
    }
    Ok(from)
}

/// The flow token in the topmost `Route` of `req`, if it carries one of ours.
pub fn of(req: &sipcore::Request) -> Option<String> {
    let first = req.headers.name_addrs(&sipcore::HeaderName::Route).next()?.ok()?;
    first.uri.user.filter(|u| u.starts_with(PREFIX)).map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn secret(fill: u8) -> Secret {
        Secret::new(vec![fill; 32]).unwrap()
    }

    const CLAIM: Claim<'static> = Claim { from: "node-a", to: "node-b", number: "7002", call_id: "c1@switch" };
    const T0: u64 = 1_800_000_000;

    #[test]
    fn a_token_made_with_the_secret_verifies_and_names_its_sender() {
        let token = make(&secret(7), &CLAIM, T0);
        assert!(token.starts_with(PREFIX), "{token}");
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "a URI user part: {token}");
        assert_eq!(verify(&secret(7), &token, "node-b", "7002", "c1@switch", T0), Ok("node-a".into()));
        assert_eq!(verify(&secret(7), &token, "node-b", "7002", "c1@switch", T0 + LIFETIME), Ok("node-a".into()));
    }

    #[test]
    fn another_secret_node_number_or_call_id_is_refused() {
        let token = make(&secret(7), &CLAIM, T0);
        assert_eq!(verify(&secret(8), &token, "node-b", "7002", "c1@switch", T0), Err(TokenError::BadMac));
        assert_eq!(verify(&secret(7), &token, "node-c", "7002", "c1@switch", T0), Err(TokenError::BadMac));
        assert_eq!(verify(&secret(7), &token, "node-b", "7003", "c1@switch", T0), Err(TokenError::BadMac));
        assert_eq!(verify(&secret(7), &token, "node-b", "7002", "c2@switch", T0), Err(TokenError::BadMac));
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let token = make(&secret(7), &CLAIM, T0);
        // A later expiry, another sender: the MAC no longer matches.
        let later = token.replacen(&(T0 + LIFETIME).to_string(), &(T0 + LIFETIME + 1).to_string(), 1);
        assert_eq!(verify(&secret(7), &later, "node-b", "7002", "c1@switch", T0), Err(TokenError::BadMac));
        let from = URL_SAFE_NO_PAD.encode("node-a");
        let other = token.replacen(&from, &URL_SAFE_NO_PAD.encode("node-x"), 1);
        assert_eq!(verify(&secret(7), &other, "node-b", "7002", "c1@switch", T0), Err(TokenError::BadMac));
        // Every single byte flipped is refused, none panics.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] ^= 0x01;
            let flipped = String::from_utf8_lossy(&bytes);
            assert!(verify(&secret(7), &flipped, "node-b", "7002", "c1@switch", T0).is_err(), "{flipped}");
        }
    }

    #[test]
    fn a_token_expires_after_its_lifetime_and_cannot_be_dated_ahead() {
        let token = make(&secret(7), &CLAIM, T0);
        assert_eq!(verify(&secret(7), &token, "node-b", "7002", "c1@switch", T0 + LIFETIME + 1), Err(TokenError::Expired));
        // Made by a node whose clock runs ahead: within SKEW it is taken, beyond it not.
        assert!(verify(&secret(7), &token, "node-b", "7002", "c1@switch", T0 - SKEW).is_ok());
        assert_eq!(verify(&secret(7), &token, "node-b", "7002", "c1@switch", T0 - SKEW - 1), Err(TokenError::TooFarAhead));
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in
            ["", "ft1.", "ft1.x.y.z", "ft1.1.bm9kZQ", "ft1.1.bm9kZQ.AA.extra", "ft2.1.bm9kZQ.AAAAAAAAAAAAAAAAAAAAAA", "ft1.1.!!.AAAA"]
        {
            assert_eq!(verify(&secret(7), bad, "node-b", "7002", "c1", T0), Err(TokenError::Malformed), "{bad}");
        }
        let long = format!("{PREFIX}{}", "A".repeat(MAX_LEN));
        assert_eq!(verify(&secret(7), &long, "node-b", "7002", "c1", T0), Err(TokenError::Malformed));
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        let s = Secret::new(b"correct horse battery staple".to_vec()).unwrap();
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(Secret::new(vec![1; 15]).is_err());
    }
}
