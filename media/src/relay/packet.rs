//! Reading just enough of a packet to relay it: is it RTP (and then its
//! sequence number, timestamp, SSRC and payload type) or RTCP, STUN, or
//! none of these. No allocation, no copying: a look at the first 12 bytes
//! (STUN, rare, is checked whole). SRTP and SRTCP (RFC 3711) read the same:
//! their headers are in the clear, only payloads are encrypted.

/// What a packet on a relay socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet {
    /// An RTP packet (RFC 3550 §5.1).
    Rtp {
        /// The 7-bit payload type.
        payload_type: u8,
        /// The sequence number.
        seq: u16,
        /// The media timestamp.
        timestamp: u32,
        /// The synchronisation source.
        ssrc: u32,
    },
    /// An RTCP packet (RFC 3550 §6), on the RTCP port or muxed on the RTP port.
    Rtcp,
    /// A well-formed STUN message (RFC 8489): a phone's keep-alive or consent
    /// check, answered or ignored, never relayed.
    Stun,
    /// Not version-2 RTP/RTCP, or too short: never relayed.
    Invalid,
}

/// Smallest RTP packet: the fixed header.
/// Smallest RTCP packet: a receiver report without report blocks.
const RTCP_HEADER: usize = 8;

/// Classifies `packet`. `rtcp_port` says it arrived on an RTCP port, where
/// everything valid is RTCP; on an RTP port a second byte in 192..=223 marks
/// muxed RTCP (RFC 5761 §4: SR 200, RR 201, SDES, BYE, APP, RTPFB, PSFB, XR
/// all fall in that range, which RTP payload types must avoid when muxing).
pub fn classify(packet: &[u8], rtcp_port: bool) -> Packet {
    let (Some(&first), Some(&second)) = (packet.first(), packet.get(1)) else {
        return Packet::Invalid;
    };
    if first >> 6 != 2 {
        // RFC 7983: a first byte of 0-3 is STUN (its first two bits are zero).
        return if first >> 6 == 0 && crate::stun::is_stun(packet) { Packet::Stun } else { Packet::Invalid };
    }
    if rtcp_port || (192..=223).contains(&second) {
        return if packet.len() >= RTCP_HEADER { Packet::Rtcp } else { Packet::Invalid };
    }
    match crate::rtp_header::fixed_header(packet) {
        Some(h) => Packet::Rtp { payload_type: h.payload_type, seq: h.sequence, timestamp: h.timestamp, ssrc: h.ssrc },
        None => Packet::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rtp_header_and_tells_rtcp_apart() {
        let rtp = [0x80, 0x80 | 8, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xde, 0xad, 0xbe, 0xef, 0xd5];
        assert_eq!(classify(&rtp, false), Packet::Rtp { payload_type: 8, seq: 0x1234, timestamp: 320, ssrc: 0xdead_beef });
        assert_eq!(classify(&rtp, true), Packet::Rtcp, "everything on the RTCP port is RTCP");
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        assert_eq!(classify(&rr, false), Packet::Rtcp, "muxed RTCP on the RTP port");
        assert_eq!(classify(&rtp[..11], false), Packet::Invalid, "short RTP");
        assert_eq!(classify(&rr[..7], true), Packet::Invalid, "short RTCP");
        assert_eq!(classify(&[0x40; 20], false), Packet::Invalid, "version 1");
        assert_eq!(classify(&[0x00, 0x01, 0x00, 0x00], false), Packet::Invalid, "too short for STUN");
        let binding = [0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        assert_eq!(classify(&binding, false), Packet::Stun, "a Binding request");
        assert_eq!(classify(&binding, true), Packet::Stun, "on the RTCP port too");
        assert_eq!(classify(&[], false), Packet::Invalid);
    }
}
