//! Reading received RTP packets (RFC 3550 §5.1) without allocating or panicking.
//!
//! Sending uses the `rtp` crate's `Packet::marshal`. Receiving does not use its
//! `unmarshal`: in rtp 0.17 a header extension element longer than the packet
//! makes `Header::unmarshal` call `Buf::copy_to_bytes` past the end and panic
//! (see `session_tests::rtp_extension_overrun_does_not_panic`), and one hostile
//! packet must not kill a call's media task. The endpoint only needs the fixed
//! header fields and the payload, so it skips CSRCs and extensions itself.

/// The fields of a received RTP packet the endpoint uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload, CSRCs, extension and padding removed.
    pub payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Parses an RTP version 2 packet; `None` for anything malformed.
pub fn parse(data: &[u8]) -> Option<Received<'_>> {
    let h = crate::rtp_header::fixed_header(data)?;
    let csrc_count = usize::from(h.first & 0x0F);
    let mut offset = 12 + 4 * csrc_count;
    if h.first & 0x10 != 0 {
        // Extension: 16-bit profile, 16-bit length in 32-bit words, then the data.
        let words = usize::from(be16(data, offset + 2)?);
        offset += 4 + 4 * words;
    }
    let mut payload = data.get(offset..)?;
    if h.first & 0x20 != 0 {
        // Padding: the last octet counts the padding octets, itself included.
        let pad = usize::from(*payload.last()?);
        payload = payload.get(..payload.len().checked_sub(pad).filter(|_| pad > 0)?)?;
    }
    Some(Received { payload_type: h.payload_type, marker: h.marker, sequence: h.sequence, timestamp: h.timestamp, ssrc: h.ssrc, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtp::header::Header;
    use rtp::packet::Packet;
    use webrtc_util::marshal::Marshal;

    #[test]
    fn reads_what_the_rtp_crate_writes() {
        let mut header = Header {
            version: 2,
            marker: true,
            payload_type: 101,
            sequence_number: 65000,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrc: vec![1, 2, 3],
            ..Default::default()
        };
        let payload = Bytes::from_static(&[9, 8, 7, 6, 5]);
        for with_ext in [false, true] {
            if with_ext {
                header.extension = true;
                header.extension_profile = 0xBEDE;
                let _ = header.set_extension(1, Bytes::from_static(&[0xAA, 0xBB, 0xCC]));
            }
            let wire = Packet { header: header.clone(), payload: payload.clone() }.marshal().unwrap_or_default();
            let r = parse(&wire);
            assert_eq!(
                r,
                Some(Received {
                    payload_type: 101,
                    marker: true,
                    sequence: 65000,
                    timestamp: 0xDEAD_BEEF,
                    ssrc: 0x1234_5678,
                    payload: &payload[..]
                }),
                "extension {with_ext}"
            );
        }
    }

    #[test]
    fn padding_and_malformed_packets() {
        let mut p = vec![0xA0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0x55, 0x66, 0, 0, 3];
        assert_eq!(parse(&p).map(|r| r.payload), Some(&[0x55, 0x66][..]));
        if let Some(last) = p.last_mut() {
            *last = 0; // padding count 0 is invalid
        }
        assert_eq!(parse(&p), None);
        if let Some(last) = p.last_mut() {
            *last = 6; // more padding than payload
        }
        assert_eq!(parse(&p), None);
        assert_eq!(parse(&[0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]), None); // 11 bytes
        assert_eq!(parse(&[0x40; 12]), None); // version 1
        assert_eq!(parse(&[0x8F; 40]), None); // 15 CSRCs, too short
        assert_eq!(parse(&[0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xBE, 0xDE, 0xFF, 0xFF]), None); // extension past the end
        assert_eq!(parse(&[0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]).map(|r| r.payload.len()), Some(0));
    }
}
