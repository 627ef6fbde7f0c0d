//! One datagram on a media port, read by each of the three readers that meet
//! it: the RTP fixed header (`media::rtp_header`), the relay's classification
//! (`media::relay::classify`, on an RTP and on an RTCP port) and the agent's
//! endpoint (`media::endpoint::rtp_in`). None panics, and they agree: what the
//! relay calls RTP has the header the header reader reads, the endpoint's
//! payload lies inside the packet after the fixed header, and what is RTCP is
//! a version-2 packet of at least 8 bytes with an RTCP packet type (or arrived
//! on the RTCP port); what it calls STUN is STUN by `sipcore::stun`'s reading.

use media::endpoint::rtp_in;
use media::relay::{Packet, classify};
use media::rtp_header::fixed_header;

/// Runs one input: the datagram.
pub fn run(packet: &[u8]) {
    let header = fixed_header(packet);
    let version_2 = packet.first().is_some_and(|b| b >> 6 == 2);
    assert_eq!(header.is_some(), version_2 && packet.len() >= 12, "fixed header read from a packet that has none, or missed");
    if let Some(h) = header {
        assert_eq!(h.first, packet.first().copied().unwrap_or_default());
        assert!(h.payload_type < 128);
    }
    for rtcp_port in [false, true] {
        let is_rtcp_type = packet.get(1).is_some_and(|b| (192..=223).contains(b));
        match classify(packet, rtcp_port) {
            Packet::Rtp { payload_type, seq, timestamp, ssrc } => {
                assert!(!rtcp_port && !is_rtcp_type, "RTP on the RTCP port, or with an RTCP type");
                let h = header.unwrap_or_else(|| panic!("classified as RTP without a fixed header"));
                assert_eq!((payload_type, seq, timestamp, ssrc), (h.payload_type, h.sequence, h.timestamp, h.ssrc));
            }
            Packet::Stun => assert!(!version_2 && sipcore::stun::is_stun(packet), "STUN that is not STUN"),
            Packet::Rtcp => assert!(version_2 && packet.len() >= 8 && (rtcp_port || is_rtcp_type), "not RTCP"),
            Packet::Invalid => {
                assert!(!version_2 || packet.len() < 8 || (!rtcp_port && !is_rtcp_type && header.is_none()), "a valid packet refused");
            }
        }
    }
    if let Some(r) = rtp_in::parse(packet) {
        let h = header.unwrap_or_else(|| panic!("the endpoint read a packet without a fixed header"));
        assert_eq!(
            (r.payload_type, r.marker, r.sequence, r.timestamp, r.ssrc),
            (h.payload_type, h.marker, h.sequence, h.timestamp, h.ssrc)
        );
        let start = packet.as_ptr() as usize;
        let at = r.payload.as_ptr() as usize;
        assert!(r.payload.is_empty() || (at >= start + 12 && at + r.payload.len() <= start + packet.len()), "payload outside the packet");
        assert!(r.payload.len() + 12 <= packet.len(), "payload longer than the packet allows");
    }
}
