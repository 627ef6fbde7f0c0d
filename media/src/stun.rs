//! STUN (RFC 8489) as a relay port meets it: phones (Linphone, ICE-lite
//! stacks) send Binding requests to the address their RTP goes to, as NAT
//! keep-alives or consent checks, and Binding indications as pure keep-alives.
//! A request without credentials is answered with the sender's address
//! (XOR-MAPPED-ADDRESS, and FINGERPRINT when the request had one); anything the
//! relay cannot answer correctly (credentials it does not know, unknown
//! comprehension-required attributes) is left unanswered. No allocation: the
//! answer is written into a caller's fixed buffer.
//!
//! The agent's public-IP discovery (a STUN client) shares the header and
//! FINGERPRINT primitives.

use std::net::{IpAddr, SocketAddr};

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
/// XOR-MAPPED-ADDRESS (§14.2).
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// FINGERPRINT (§14.7).
pub const FINGERPRINT: u16 = 0x8028;
/// XORed into the CRC-32 of a FINGERPRINT (§14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554e;
/// The largest answer [`write_binding_success`] writes: the header,
/// XOR-MAPPED-ADDRESS of an IPv6 address (4 + 20) and FINGERPRINT (8).
pub const MAX_ANSWER: usize = HEADER_LEN + 24 + 8;

/// Comprehension-required attributes a Binding request may carry that need
/// nothing from the answerer: PRIORITY and USE-CANDIDATE (ICE). Any other one
/// (USERNAME, MESSAGE-INTEGRITY: an answer signed with a password the relay
/// does not have) makes the request one the relay leaves unanswered.
const HARMLESS_REQUIRED: [u16; 2] = [0x0024, 0x0025];

/// The 96-bit transaction id.
pub type TransactionId = [u8; 12];

/// What a STUN message asks of a relay port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A Binding request the relay can answer: with FINGERPRINT when it had one.
    BindingRequest {
        /// The transaction to answer.
        txid: TransactionId,
        /// The request carried a (valid) FINGERPRINT: so must the answer.
        fingerprint: bool,
    },
    /// Anything else that is well-formed STUN: indications (keep-alives),
    /// requests with credentials or attributes the relay cannot honour, responses.
    Other,
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?]))
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?, *buf.get(at + 2)?, *buf.get(at + 3)?]))
}

/// The message type and transaction id of a STUN message: the first two bits
/// zero (RFC 7983 demultiplexing from RTP/RTCP, whose first two are `10`), the
/// magic cookie, and a length that is a multiple of 4 and matches `packet`.
pub fn header(packet: &[u8]) -> Option<(u16, TransactionId)> {
    let kind = be16(packet, 0)?;
    let len = usize::from(be16(packet, 2)?);
    if kind & 0xc000 != 0 || be32(packet, 4)? != MAGIC_COOKIE || len % 4 != 0 || HEADER_LEN + len != packet.len() {
        return None;
    }
    let txid = packet.get(8..HEADER_LEN)?.try_into().ok()?;
    Some((kind, txid))
}

/// Whether `packet` is a well-formed STUN message (see [`header`]).
pub fn is_stun(packet: &[u8]) -> bool {
    header(packet).is_some()
}

/// Reads a STUN message: every attribute must lie inside it, and a FINGERPRINT
/// must be the last attribute and match. None when it is not well-formed STUN.
pub fn read(packet: &[u8]) -> Option<Message> {
    let (kind, txid) = header(packet)?;
    let mut answerable = kind == BINDING_REQUEST;
    let mut fingerprint = false;
    let mut at = HEADER_LEN;
    while at < packet.len() {
        let attribute = be16(packet, at)?;
        let len = usize::from(be16(packet, at + 2)?);
        let end = at + 4 + len;
        if end > packet.len() {
            return None;
        }
        if attribute == FINGERPRINT {
            let covered = packet.get(..at)?;
            if len != 4 || end != packet.len() || be32(packet, at + 4)? != crc32(covered) ^ FINGERPRINT_XOR {
                return None;
            }
            fingerprint = true;
        } else if attribute < 0x8000 && !HARMLESS_REQUIRED.contains(&attribute) {
            answerable = false;
        }
        at = at + 4 + len.div_ceil(4) * 4;
    }
    Some(if answerable { Message::BindingRequest { txid, fingerprint } } else { Message::Other })
}

/// Writes the Binding success response to `txid` telling the requester its
/// address `mapped` (XOR-MAPPED-ADDRESS), with FINGERPRINT when `fingerprint`;
/// returns its length.
pub fn write_binding_success(txid: &TransactionId, mapped: SocketAddr, fingerprint: bool, out: &mut [u8; MAX_ANSWER]) -> usize {
    let (family, address_len) = match mapped.ip() {
        IpAddr::V4(_) => (1u8, 4usize),
        IpAddr::V6(_) => (2u8, 16usize),
    };
    let attributes = 4 + 4 + address_len + if fingerprint { 8 } else { 0 };
    let mut w = Writer { out, at: 0 };
    w.put(&BINDING_SUCCESS.to_be_bytes());
    w.put(&(attributes as u16).to_be_bytes());
    w.put(&MAGIC_COOKIE.to_be_bytes());
    w.put(txid);
    w.put(&XOR_MAPPED_ADDRESS.to_be_bytes());
    w.put(&((4 + address_len) as u16).to_be_bytes());
    w.put(&[0, family]);
    w.put(&(mapped.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
    // The address XORed with the cookie, then (IPv6) the transaction id.
    let mut mask = [0u8; 16];
    for (m, k) in mask.iter_mut().zip(MAGIC_COOKIE.to_be_bytes().iter().chain(txid)) {
        *m = *k;
    }
    match mapped.ip() {
        IpAddr::V4(v4) => w.put_xored(&v4.octets(), &mask),
        IpAddr::V6(v6) => w.put_xored(&v6.octets(), &mask),
    }
    if fingerprint {
        let crc = crc32(w.out.get(..w.at).unwrap_or_default()) ^ FINGERPRINT_XOR;
        w.put(&FINGERPRINT.to_be_bytes());
        w.put(&4u16.to_be_bytes());
        w.put(&crc.to_be_bytes());
    }
    w.at
}

/// Appends to a fixed buffer sized for the largest answer.
struct Writer<'a> {
    out: &'a mut [u8; MAX_ANSWER],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.out.get_mut(self.at) {
                *slot = b;
                self.at += 1;
            }
        }
    }

    fn put_xored(&mut self, bytes: &[u8], mask: &[u8]) {
        for (&b, &m) in bytes.iter().zip(mask) {
            self.put(&[b ^ m]);
        }
    }
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

    /// RFC 5769 §2.1, "Sample Request" (SOFTWARE, PRIORITY, ICE-CONTROLLED,
    /// USERNAME, MESSAGE-INTEGRITY, FINGERPRINT): an ICE check with credentials.
    #[rustfmt::skip]
    const ICE_REQUEST: &[u8] = &[
        0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42,
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
        0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
        0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
        0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20,
        0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5,
        0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
        0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
    ];

    /// RFC 5769 §2.2, "Sample IPv4 Response": its XOR-MAPPED-ADDRESS.
    const RFC_V4_ADDRESS: [u8; 12] = [0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43];
    const TXID: TransactionId = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae];

    fn request(attributes: &[u8]) -> Vec<u8> {
        let mut p = vec![0x00, 0x01];
        p.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        p.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        p.extend_from_slice(&TXID);
        p.extend_from_slice(attributes);
        p
    }

    fn with_fingerprint(mut p: Vec<u8>) -> Vec<u8> {
        let len = u16::from_be_bytes([p[2], p[3]]) + 8;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let crc = crc32(&p) ^ FINGERPRINT_XOR;
        p.extend_from_slice(&[0x80, 0x28, 0, 4]);
        p.extend_from_slice(&crc.to_be_bytes());
        p
    }

    #[test]
    fn a_plain_binding_request_is_answered_with_the_senders_address() {
        let plain = request(&[]);
        assert_eq!(read(&plain), Some(Message::BindingRequest { txid: TXID, fingerprint: false }));
        let mut out = [0u8; MAX_ANSWER];
        let n = write_binding_success(&TXID, "192.0.2.1:32853".parse().unwrap(), false, &mut out);
        assert_eq!(n, HEADER_LEN + 12);
        assert_eq!(&out[..4], &[0x01, 0x01, 0x00, 0x0c]);
        assert_eq!(&out[8..20], &TXID);
        assert_eq!(&out[HEADER_LEN..n], &RFC_V4_ADDRESS, "XOR-MAPPED-ADDRESS as RFC 5769 prints it");
        assert_eq!(read(&out[..n]), Some(Message::Other), "a response is well-formed STUN, not a request");
    }

    #[test]
    fn fingerprint_in_the_request_means_fingerprint_in_the_answer() {
        let signed = with_fingerprint(request(&[]));
        assert_eq!(read(&signed), Some(Message::BindingRequest { txid: TXID, fingerprint: true }));
        let mut out = [0u8; MAX_ANSWER];
        let n = write_binding_success(&TXID, "[2001:db8::1]:4242".parse().unwrap(), true, &mut out);
        assert_eq!(n, MAX_ANSWER);
        let crc = crc32(&out[..n - 8]) ^ FINGERPRINT_XOR;
        assert_eq!(&out[n - 8..], &[&[0x80, 0x28, 0, 4][..], &crc.to_be_bytes()].concat()[..]);
        // A FINGERPRINT that does not match, or is not last: not STUN at all.
        let mut bad = signed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(read(&bad), None);
        let not_last = request(&[0x80, 0x28, 0, 4, 0, 0, 0, 0, 0x80, 0x22, 0, 4, b't', b'e', b's', b't']);
        assert_eq!(read(&not_last), None);
    }

    #[test]
    fn checks_with_credentials_and_indications_are_not_answered() {
        assert_eq!(read(ICE_REQUEST), Some(Message::Other), "RFC 5769 sample: USERNAME and MESSAGE-INTEGRITY");
        let mut indication = request(&[]);
        indication[1] = 0x11;
        assert_eq!(read(&indication), Some(Message::Other));
        // PRIORITY alone (ICE without credentials) is harmless; an unknown required attribute is not.
        assert!(matches!(read(&request(&[0x00, 0x24, 0, 4, 1, 2, 3, 4])), Some(Message::BindingRequest { .. })));
        assert_eq!(read(&request(&[0x7f, 0x00, 0, 4, 1, 2, 3, 4])), Some(Message::Other));
    }

    #[test]
    fn hostile_datagrams_are_not_stun() {
        assert_eq!(read(&[]), None);
        assert!(!is_stun(&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), "RTP");
        for n in 0..ICE_REQUEST.len() {
            assert_eq!(read(&ICE_REQUEST[..n]), None, "truncated at {n}");
        }
        // An attribute claiming more bytes than the message holds.
        let mut long = request(&[0x80, 0x22, 0xff, 0xff, 0, 0, 0, 0]);
        long[3] = 8;
        assert_eq!(read(&long), None);
        let mut wrong_cookie = request(&[]);
        wrong_cookie[4] = 0;
        assert_eq!(read(&wrong_cookie), None, "RFC 3489 STUN has no cookie: not answered");
    }
}
