//! The asking side, as the agent's public-IP discovery uses it: a Binding
//! request without credentials, and XOR-MAPPED-ADDRESS (or the classic
//! MAPPED-ADDRESS) out of the success response (RFC 8489 §6.3.1, §7.3.3).

use super::{
    BINDING_ERROR, BINDING_REQUEST, BINDING_SUCCESS, FINGERPRINT, HEADER_LEN, MAGIC_COOKIE, StunError, TransactionId, XOR_MAPPED_ADDRESS,
    attributes, be16, be32, header,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The STUN port for UDP and TCP (RFC 8489 §18.4).
pub const DEFAULT_PORT: u16 = 3478;

const MAPPED_ADDRESS: u16 = 0x0001;
const ERROR_CODE: u16 = 0x0009;

/// Comprehension-required attributes this decoder knows and may skip
/// (credentials it never asked for, and the address/error ones it reads).
const KNOWN_REQUIRED: [u16; 11] = [0x0001, 0x0006, 0x0008, 0x0009, 0x000a, 0x0014, 0x0015, 0x001c, 0x001d, 0x001e, 0x0020];

/// A Binding request with no attributes (RFC 8489 §6.1, no credentials: the
/// server needs none to tell us our reflexive address).
pub fn binding_request(txid: &TransactionId) -> Vec<u8> {
    message(BINDING_REQUEST, 0, txid)
}

fn message(kind: u16, len: u16, txid: &TransactionId) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + usize::from(len));
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(txid);
    out
}

/// A success response carrying XOR-MAPPED-ADDRESS and FINGERPRINT: what a
/// STUN server sends (used by the tests' server, and to check the decoder).
pub fn binding_success(txid: &TransactionId, mapped: SocketAddr) -> Vec<u8> {
    let mut out = [0u8; super::MAX_ANSWER];
    let n = super::write_binding_success(txid, mapped, true, &mut out);
    out.get(..n).unwrap_or_default().to_vec()
}

/// The transaction id of a Binding request, if `buf` is one.
pub fn parse_binding_request(buf: &[u8]) -> Option<TransactionId> {
    let h = header(buf).ok()?;
    (h.kind == BINDING_REQUEST).then_some(h.txid)
}

/// Reads the reflexive address out of the answer to transaction `txid`
/// (RFC 8489 §6.3.1 and §7.3.3). XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS;
/// a FINGERPRINT, when present, must match.
pub fn parse_binding_response(buf: &[u8], txid: &TransactionId) -> Result<SocketAddr, StunError> {
    let h = header(buf)?;
    if h.txid != *txid {
        return Err(StunError::OtherTransaction);
    }
    if h.kind != BINDING_SUCCESS && h.kind != BINDING_ERROR {
        return Err(StunError::NotBindingResponse(h.kind));
    }
    let (mut xor, mut plain, mut error) = (None, None, None);
    for attribute in attributes(buf) {
        let attribute = attribute?;
        let value = attribute.value;
        match attribute.kind {
            XOR_MAPPED_ADDRESS => xor = Some(read_address(value, Some(txid))?),
            MAPPED_ADDRESS => plain = Some(read_address(value, None)?),
            ERROR_CODE => error = Some(read_error(value)?),
            FINGERPRINT if !attribute.fingerprint_matches(buf) => return Err(StunError::BadFingerprint),
            k if attribute.comprehension_required() && !KNOWN_REQUIRED.contains(&k) => return Err(StunError::UnknownRequired(k)),
            _ => {}
        }
    }
    if h.kind == BINDING_ERROR {
        let (code, reason) = error.unwrap_or((0, String::new()));
        return Err(StunError::ErrorResponse { code, reason });
    }
    xor.or(plain).ok_or(StunError::NoAddress)
}

/// `0 | family | port | address`, XORed with the cookie (and the transaction
/// id for IPv6) when `txid` is given.
fn read_address(v: &[u8], txid: Option<&TransactionId>) -> Result<SocketAddr, StunError> {
    let family = *v.get(1).ok_or(StunError::BadAddress)?;
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut mask = [0u8; 16];
    if let Some(txid) = txid {
        for (m, c) in mask.iter_mut().zip(cookie.iter().chain(txid.iter())) {
            *m = *c;
        }
    }
    let [m0, m1, m2, m3, ..] = mask;
    let port = be16(v, 2).ok_or(StunError::BadAddress)? ^ u16::from_be_bytes([m0, m1]);
    let ip = match (family, v.len()) {
        (0x01, 8) => {
            let raw = be32(v, 4).ok_or(StunError::BadAddress)? ^ u32::from_be_bytes([m0, m1, m2, m3]);
            IpAddr::V4(Ipv4Addr::from(raw))
        }
        (0x02, 20) => {
            let mut b = [0u8; 16];
            for ((slot, x), m) in b.iter_mut().zip(v.get(4..20).ok_or(StunError::BadAddress)?).zip(mask.iter()) {
                *slot = x ^ m;
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Err(StunError::BadAddress),
    };
    Ok(SocketAddr::new(ip, port))
}

/// ERROR-CODE: class (hundreds) and number, then a UTF-8 reason (§14.8).
fn read_error(v: &[u8]) -> Result<(u16, String), StunError> {
    let class = u16::from(*v.get(2).ok_or(StunError::Length)? & 0x07);
    let number = u16::from(*v.get(3).ok_or(StunError::Length)?);
    let reason = String::from_utf8_lossy(v.get(4..).unwrap_or_default()).chars().take(128).collect();
    Ok((class * 100 + number, reason))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::stun::rfc5769::{RESP_V4, RESP_V6, TXID};

    #[test]
    fn rfc5769_ipv4_response() {
        assert_eq!(parse_binding_response(RESP_V4, &TXID).unwrap(), "192.0.2.1:32853".parse().unwrap());
    }

    #[test]
    fn rfc5769_ipv6_response() {
        assert_eq!(parse_binding_response(RESP_V6, &TXID).unwrap(), "[2001:db8:1234:5678:11:2233:4455:6677]:32853".parse().unwrap());
    }

    #[test]
    fn fingerprint_is_checked() {
        let mut bad = RESP_V4.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(parse_binding_response(&bad, &TXID), Err(StunError::BadFingerprint));
        // A flipped bit in the covered part breaks it too.
        let mut bad = RESP_V4.to_vec();
        bad[30] ^= 1;
        assert_eq!(parse_binding_response(&bad, &TXID), Err(StunError::BadFingerprint));
    }

    #[test]
    fn our_encoding_round_trips_and_matches_the_rfc_attribute() {
        let v4: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        let resp = binding_success(&TXID, v4);
        assert_eq!(&resp[HEADER_LEN..HEADER_LEN + 12], &RESP_V4[36..48], "XOR-MAPPED-ADDRESS as RFC 5769 prints it");
        assert_eq!(parse_binding_response(&resp, &TXID).unwrap(), v4);
        let v6: SocketAddr = "[2001:db8::1]:4242".parse().unwrap();
        assert_eq!(parse_binding_response(&binding_success(&TXID, v6), &TXID).unwrap(), v6);
        let req = binding_request(&TXID);
        assert_eq!(req.len(), HEADER_LEN);
        assert_eq!(parse_binding_request(&req), Some(TXID));
        assert_eq!(parse_binding_request(&resp), None);
    }

    #[test]
    fn hostile_datagrams_are_refused_not_panicked_on() {
        assert_eq!(parse_binding_response(&[], &TXID), Err(StunError::NotStun));
        assert_eq!(parse_binding_response(&RESP_V4[..30], &TXID), Err(StunError::Length));
        assert_eq!(parse_binding_response(RESP_V4, &[0; 12]), Err(StunError::OtherTransaction));
        // An attribute claiming more bytes than the message holds.
        let mut long = binding_success(&TXID, "1.2.3.4:5".parse().unwrap());
        long[HEADER_LEN + 3] = 0xff;
        assert_eq!(parse_binding_response(&long, &TXID), Err(StunError::Length));
        // An unknown comprehension-required attribute fails the transaction (§7.3.3).
        let mut odd = message(BINDING_SUCCESS, 8, &TXID);
        odd.extend_from_slice(&[0x7f, 0x00, 0x00, 0x04, 1, 2, 3, 4]);
        assert_eq!(parse_binding_response(&odd, &TXID), Err(StunError::UnknownRequired(0x7f00)));
        // An error response reports its code.
        let mut err = message(BINDING_ERROR, 12, &TXID);
        err.extend_from_slice(&[0x00, 0x09, 0x00, 0x08, 0, 0, 4, 20, b'S', b't', b'a', b'l']);
        assert!(matches!(parse_binding_response(&err, &TXID), Err(StunError::ErrorResponse { code: 420, .. })));
        // Every truncation of a valid answer is refused cleanly.
        for n in 0..RESP_V6.len() {
            assert!(parse_binding_response(&RESP_V6[..n], &TXID).is_err());
        }
    }
}
