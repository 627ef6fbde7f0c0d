//! The answering side, as a SIP UDP port, a `--stun` listener or a relay port
//! meets STUN: phones (RFC 5626 §4.4.2 keep-alives, Linphone, ICE-lite
//! stacks) and the agent's discovery send Binding requests; Binding
//! indications are pure keep-alives. A request without credentials is
//! answered with the sender's address (XOR-MAPPED-ADDRESS, and FINGERPRINT
//! when the request had one, as RFC 8489 §14.7 leaves it to the usage);
//! anything that cannot be answered correctly (credentials the answerer does
//! not know, unknown comprehension-required attributes) is left unanswered.
//! No allocation: the answer is written into a caller's fixed buffer, and is
//! never more than [`MAX_GROWTH`] bytes longer than the request it answers.

use super::{
    BINDING_REQUEST, BINDING_SUCCESS, FINGERPRINT, FINGERPRINT_XOR, HEADER_LEN, MAGIC_COOKIE, TransactionId, XOR_MAPPED_ADDRESS,
    attributes, crc32, header,
};
use std::net::{IpAddr, SocketAddr};

/// The largest answer [`write_binding_success`] writes: the header,
/// XOR-MAPPED-ADDRESS of an IPv6 address (4 + 20) and FINGERPRINT (8).
pub const MAX_ANSWER: usize = HEADER_LEN + 24 + 8;

/// How much longer an answer is than the request it answers, at most: the
/// XOR-MAPPED-ADDRESS of an IPv6 requester. FINGERPRINT is only answered to a
/// request that carried one, which the request already paid for. A reflector
/// fed spoofed sources thus sends at most 2.2 times the bytes it receives
/// (20-byte request, 44-byte answer), never more than [`MAX_ANSWER`].
pub const MAX_GROWTH: usize = 4 + 20;

/// Comprehension-required attributes a Binding request may carry that need
/// nothing from the answerer: PRIORITY and USE-CANDIDATE (ICE). Any other one
/// (USERNAME, MESSAGE-INTEGRITY: an answer signed with a password the
/// answerer does not have) makes the request one left unanswered.
const HARMLESS_REQUIRED: [u16; 2] = [0x0024, 0x0025];

/// What a STUN message asks of an answerer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A Binding request that can be answered: with FINGERPRINT when it had one.
    BindingRequest {
        /// The transaction to answer.
        txid: TransactionId,
        /// The request carried a (valid) FINGERPRINT: so must the answer.
        fingerprint: bool,
    },
    /// Anything else that is well-formed STUN: indications (keep-alives),
    /// requests with credentials or attributes it cannot honour, responses.
    Other,
}

/// Why a datagram got no answer from [`answer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unanswered {
    /// Not well-formed STUN: bad cookie or length, an attribute past the
    /// end, a FINGERPRINT that does not match or is not last.
    #[error("not well-formed STUN")]
    Malformed,
    /// Well-formed, but not a Binding request it can answer (an indication,
    /// a response, credentials, an unknown comprehension-required attribute).
    #[error("not a Binding request it can answer")]
    NotAnswerable,
}

/// Reads a STUN message: every attribute must lie inside it, and a FINGERPRINT
/// must be the last attribute and match. None when it is not well-formed STUN.
pub fn read(packet: &[u8]) -> Option<Message> {
    let header = header(packet).ok()?;
    let mut answerable = header.kind == BINDING_REQUEST;
    let mut fingerprint = false;
    for attribute in attributes(packet) {
        let attribute = attribute.ok()?;
        if attribute.kind == FINGERPRINT {
            if !attribute.fingerprint_matches(packet) {
                return None;
            }
            fingerprint = true;
        } else if attribute.comprehension_required() && !HARMLESS_REQUIRED.contains(&attribute.kind) {
            answerable = false;
        }
    }
    Some(if answerable { Message::BindingRequest { txid: header.txid, fingerprint } } else { Message::Other })
}

/// Answers `datagram` from `from`, as a STUN server does: the Binding success
/// response written into `out` (its length returned), or why there is none.
/// An IPv4 requester seen through a dual-stack socket (`::ffff:a.b.c.d`) is
/// told its IPv4 address, which is what its NAT maps.
pub fn answer(datagram: &[u8], from: SocketAddr, out: &mut [u8; MAX_ANSWER]) -> Result<usize, Unanswered> {
    let from = SocketAddr::new(from.ip().to_canonical(), from.port());
    match read(datagram) {
        Some(Message::BindingRequest { txid, fingerprint }) => Ok(write_binding_success(&txid, from, fingerprint, out)),
        Some(Message::Other) => Err(Unanswered::NotAnswerable),
        None => Err(Unanswered::Malformed),
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::stun::rfc5769::{ICE_REQUEST, TXID};
    use crate::stun::{is_stun, parse_binding_response};

    /// RFC 5769 §2.2, "Sample IPv4 Response": its XOR-MAPPED-ADDRESS.
    const RFC_V4_ADDRESS: [u8; 12] = [0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43];

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

    #[test]
    fn answers_ipv4_and_ipv6_requesters_with_their_address() {
        for from in ["198.51.100.7:40000", "[2001:db8::7]:5060"] {
            let from: SocketAddr = from.parse().unwrap();
            let mut out = [0u8; MAX_ANSWER];
            let n = answer(&request(&[]), from, &mut out).unwrap();
            assert_eq!(parse_binding_response(&out[..n], &TXID), Ok(from));
            assert!(!out[..n].windows(2).any(|w| w == [0x80, 0x28]), "no FINGERPRINT unless asked: {:?}", &out[..n]);
        }
        let mut out = [0u8; MAX_ANSWER];
        let n = answer(&request(&[]), "[::ffff:192.0.2.9]:7".parse().unwrap(), &mut out).unwrap();
        assert_eq!(parse_binding_response(&out[..n], &TXID), Ok("192.0.2.9:7".parse().unwrap()), "dual-stack socket");
    }

    #[test]
    fn fingerprint_is_answered_iff_requested() {
        let from: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        let mut out = [0u8; MAX_ANSWER];
        let n = answer(&with_fingerprint(request(&[])), from, &mut out).unwrap();
        assert_eq!(&out[n - 8..n - 4], &[0x80, 0x28, 0, 4], "FINGERPRINT last");
        assert_eq!(parse_binding_response(&out[..n], &TXID), Ok(from), "and it matches");
        let plain = answer(&request(&[]), from, &mut out).unwrap();
        assert_eq!(plain, n - 8);
    }

    #[test]
    fn unanswerable_requests_get_no_success_answer() {
        let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let mut out = [0u8; MAX_ANSWER];
        let unknown_required = request(&[0x7f, 0x00, 0, 4, 1, 2, 3, 4]);
        assert_eq!(answer(&unknown_required, from, &mut out), Err(Unanswered::NotAnswerable));
        assert_eq!(answer(&with_fingerprint(unknown_required), from, &mut out), Err(Unanswered::NotAnswerable));
        assert_eq!(answer(ICE_REQUEST, from, &mut out), Err(Unanswered::NotAnswerable), "credentials it does not have");
        let mut indication = request(&[]);
        indication[1] = 0x11;
        assert_eq!(answer(&indication, from, &mut out), Err(Unanswered::NotAnswerable));
        assert_eq!(answer(&request(&[])[..19], from, &mut out), Err(Unanswered::Malformed));
        assert_eq!(answer(b"\x00\x01garbage", from, &mut out), Err(Unanswered::Malformed));
    }

    #[test]
    fn an_answer_is_never_much_longer_than_its_request() {
        // The smallest requests (no attributes, or FINGERPRINT alone) to the
        // longest address: the worst case of MAX_GROWTH.
        let from: SocketAddr = "[2001:db8::7]:5060".parse().unwrap();
        for req in [request(&[]), with_fingerprint(request(&[])), request(&[0x00, 0x24, 0, 4, 1, 2, 3, 4])] {
            let mut out = [0u8; MAX_ANSWER];
            let n = answer(&req, from, &mut out).unwrap();
            assert!(n <= req.len() + MAX_GROWTH, "{n} bytes for a {}-byte request", req.len());
        }
        assert_eq!(answer(&request(&[]), from, &mut [0u8; MAX_ANSWER]), Ok(HEADER_LEN + MAX_GROWTH));
    }
}
