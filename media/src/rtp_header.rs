//! The fixed 12-byte RTP header (RFC 3550 §5.1), read without allocating or
//! panicking. The relay needs only these fields; the agent's endpoint goes on
//! from them to the payload (`endpoint::rtp_in`).

/// The fields of the fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedHeader {
    /// The first octet: version, padding, extension and CSRC count.
    pub first: u8,
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// The fixed header of an RTP version 2 packet; `None` when shorter or another version.
#[inline]
pub fn fixed_header(packet: &[u8]) -> Option<FixedHeader> {
    match packet.get(..12) {
        Some(&[first, b1, s0, s1, t0, t1, t2, t3, x0, x1, x2, x3]) if first >> 6 == 2 => Some(FixedHeader {
            first,
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7f,
            sequence: u16::from_be_bytes([s0, s1]),
            timestamp: u32::from_be_bytes([t0, t1, t2, t3]),
            ssrc: u32::from_be_bytes([x0, x1, x2, x3]),
        }),
        _ => None,
    }
}
