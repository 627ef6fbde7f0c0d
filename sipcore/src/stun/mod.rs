//! STUN (RFC 8489), the one codec in the workspace: the Binding requests the
//! switch answers on its SIP UDP ports and `--stun` listeners (RFC 5626
//! §4.4.2 keep-alives, public-address discovery) and on relay ports (phones'
//! NAT keep-alives and ICE-lite consent checks), and the agent's public-IP
//! discovery, which asks them. Sans-IO: bytes in, bytes out.
//!
//! It lives in `sipcore` because the SIP UDP transport answers STUN itself,
//! the way the stream transport answers CRLF pings: a Binding answer needs no
//! policy (no credentials, no state, the same bytes for everyone), the datagram
//! is demultiplexed where it is read (RFC 7983: a first byte of 0..=3 is
//! STUN, SIP starts with a letter), and the answer is written from a fixed
//! buffer on the stack, so a keep-alive never reaches the switch core, never
//! allocates and never waits on the event queue. `media` re-exports it for the
//! relay.
//!
//! - [`server`]: read a request ([`read`]), write the success answer
//!   ([`write_binding_success`]), both in one step for a listener ([`answer`]).
//! - [`client`]: a Binding request and the reflexive address out of its answer.
//!
//! Every length is checked against the datagram before it is read: nothing
//! here indexes past a buffer, whatever arrives.

pub mod client;
#[cfg(test)]
mod rfc5769;
pub mod server;

pub use client::{DEFAULT_PORT, binding_request, binding_success, parse_binding_request, parse_binding_response};
pub use server::{MAX_ANSWER, MAX_GROWTH, Message, Unanswered, answer, read, write_binding_success};

/// The fixed value in every RFC 5389/8489 header.
pub const MAGIC_COOKIE: u32 = 0x2112_a442;
/// Header size.
pub const HEADER_LEN: usize = 20;
/// Message type of a Binding request.
pub const BINDING_REQUEST: u16 = 0x0001;
/// Message type of a Binding indication (a keep-alive that wants no answer).
pub const BINDING_INDICATION: u16 = 0x0011;
/// Message type of a Binding success response.
pub const BINDING_SUCCESS: u16 = 0x0101;
/// Message type of a Binding error response.
pub const BINDING_ERROR: u16 = 0x0111;
/// XOR-MAPPED-ADDRESS (§14.2).
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// FINGERPRINT (§14.7).
pub const FINGERPRINT: u16 = 0x8028;
/// XORed into the CRC-32 of a FINGERPRINT (§14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// The 96-bit transaction id.
pub type TransactionId = [u8; 12];

/// Why a datagram is not the STUN message wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // Each variant's message says it.
pub enum StunError {
    #[error("not a STUN message")]
    NotStun,
    #[error("length does not match the datagram")]
    Length,
    #[error("answer to another transaction")]
    OtherTransaction,
    #[error("not a Binding response (type {0:#06x})")]
    NotBindingResponse(u16),
    #[error("error response {code} {reason}")]
    ErrorResponse { code: u16, reason: String },
    #[error("unknown comprehension-required attribute {0:#06x}")]
    UnknownRequired(u16),
    #[error("FINGERPRINT does not match")]
    BadFingerprint,
    #[error("malformed address attribute")]
    BadAddress,
    #[error("success response without a mapped address")]
    NoAddress,
}

/// The fixed part of a STUN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message type (method and class).
    pub kind: u16,
    /// The transaction it belongs to.
    pub txid: TransactionId,
}

pub(crate) fn be16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?]))
}

pub(crate) fn be32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?, *buf.get(at + 2)?, *buf.get(at + 3)?]))
}

/// The header of a STUN message: the first two bits zero (RFC 7983
/// demultiplexing from RTP/RTCP, whose first two are `10`, and from SIP,
/// which starts with a letter), the magic cookie ([`StunError::NotStun`]
/// otherwise), and a length that is a multiple of 4 and matches `packet`
/// ([`StunError::Length`] otherwise).
pub fn header(packet: &[u8]) -> Result<Header, StunError> {
    let kind = be16(packet, 0).ok_or(StunError::NotStun)?;
    let len = be16(packet, 2).ok_or(StunError::NotStun)?;
    if kind & 0xc000 != 0 || be32(packet, 4) != Some(MAGIC_COOKIE) {
        return Err(StunError::NotStun);
    }
    if len % 4 != 0 || HEADER_LEN + usize::from(len) != packet.len() {
        return Err(StunError::Length);
    }
    let txid = packet.get(8..HEADER_LEN).and_then(|t| t.try_into().ok()).ok_or(StunError::NotStun)?;
    Ok(Header { kind, txid })
}

/// Whether `packet` is a well-formed STUN message (see [`header`]).
pub fn is_stun(packet: &[u8]) -> bool {
    header(packet).is_ok()
}

/// Whether a datagram's first byte says STUN rather than SIP (RFC 7983
/// §7: 0..=3), before anything else is looked at.
pub fn looks_like_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| *b <= 3)
}

/// One attribute of a message: its type, its value (without padding) and the
/// offset of its type field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub kind: u16,
    pub value: &'a [u8],
    pub at: usize,
}

impl Attribute<'_> {
    /// Whether the message must be rejected by a reader that does not know
    /// this attribute (types below 0x8000, §15).
    pub fn comprehension_required(&self) -> bool {
        self.kind < 0x8000
    }

    /// Whether this FINGERPRINT is the last attribute of `packet` and matches
    /// the CRC-32 of everything before it.
    pub fn fingerprint_matches(&self, packet: &[u8]) -> bool {
        let covered = packet.get(..self.at).unwrap_or_default();
        self.kind == FINGERPRINT
            && self.at + 8 == packet.len()
            && be32(self.value, 0).filter(|_| self.value.len() == 4) == Some(crc32(covered) ^ FINGERPRINT_XOR)
    }
}

/// The attributes after the header of `packet` (whose [`header`] checked
/// out), in order. One running past the end of the message yields
/// [`StunError::Length`], and the walk stops there.
pub fn attributes(packet: &[u8]) -> impl Iterator<Item = Result<Attribute<'_>, StunError>> {
    let mut at = HEADER_LEN;
    let mut done = false;
    std::iter::from_fn(move || {
        if done || at >= packet.len() {
            return None;
        }
        let attribute = be16(packet, at).zip(be16(packet, at + 2)).and_then(|(kind, len)| {
            let len = usize::from(len);
            let value = packet.get(at + 4..at + 4 + len)?;
            Some((Attribute { kind, value, at }, len))
        });
        match attribute {
            Some((a, len)) => {
                at += 4 + len.div_ceil(4) * 4;
                Some(Ok(a))
            }
            None => {
                done = true;
                Some(Err(StunError::Length))
            }
        }
    })
}

/// CRC-32 (ISO 3309 / IEEE 802.3, reflected), as FINGERPRINT uses.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn demultiplexes_from_sip_by_the_first_byte() {
        for first in 0..=3u8 {
            assert!(looks_like_stun(&[first, 1]));
        }
        for sip in [&b"INVITE sip:a@b SIP/2.0"[..], b"SIP/2.0 200 OK", b"\r\n\r\n", b"\x80\x00", b""] {
            assert!(!looks_like_stun(sip), "{sip:?}");
        }
    }

    #[test]
    fn header_errors_say_what_is_wrong() {
        let mut p = binding_request(&[3; 12]);
        assert_eq!(header(&p), Ok(Header { kind: BINDING_REQUEST, txid: [3; 12] }));
        p.push(0);
        assert_eq!(header(&p), Err(StunError::Length));
        assert_eq!(header(&p[..10]), Err(StunError::Length), "truncated");
        assert_eq!(header(&p[..6]), Err(StunError::NotStun), "not even a cookie");
        p[4] = 0;
        assert_eq!(header(&p), Err(StunError::NotStun));
    }

    #[test]
    fn attributes_stop_at_the_first_that_overruns() {
        let mut p = binding_request(&[3; 12]);
        p.extend_from_slice(&[0x80, 0x22, 0, 3, b'a', b'b', b'c', 0, 0x00, 0x24, 0, 8, 1, 2, 3, 4]);
        let all: Vec<_> = attributes(&p).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], Ok(Attribute { kind: 0x8022, value: b"abc", at: HEADER_LEN }));
        assert_eq!(all[1], Err(StunError::Length));
    }
}
