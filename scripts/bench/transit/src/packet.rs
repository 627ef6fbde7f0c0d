//! The probe's packets: a valid RTP header (PCMA, one SSRC per stream and direction,
//! so relays see ordinary streams), then who sent it and when, padded to G.711's 172 bytes.

/// RTP header + 160 bytes of G.711.
pub(crate) const SIZE: usize = 172;

/// Where a packet came from: lane, stream, direction (0 caller → callee, 1 back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) lane: u8,
    pub(crate) stream: u16,
    pub(crate) direction: u8,
}

pub(crate) fn write(buf: &mut [u8; SIZE], origin: Origin, seq: u32, sent_ns: u64) {
    let ssrc = (u32::from(origin.lane) << 24) | (u32::from(origin.direction) << 16) | u32::from(origin.stream);
    let mut header = [0u8; 24];
    header[0] = 0x80;
    header[1] = 8;
    header[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
    header[4..8].copy_from_slice(&seq.wrapping_mul(160).to_be_bytes());
    header[8..12].copy_from_slice(&ssrc.to_be_bytes());
    header[12] = origin.lane;
    header[13] = origin.direction;
    header[14..16].copy_from_slice(&origin.stream.to_be_bytes());
    header[16..24].copy_from_slice(&sent_ns.to_be_bytes());
    buf[..24].copy_from_slice(&header);
}

/// The origin and send time of a probe packet; None for anything else.
pub(crate) fn read(packet: &[u8]) -> Option<(Origin, u64)> {
    let stamp: &[u8; 12] = packet.get(12..24)?.try_into().ok()?;
    let [lane, direction, s0, s1, t @ ..] = *stamp;
    Some((Origin { lane, stream: u16::from_be_bytes([s0, s1]), direction }, u64::from_be_bytes(t)))
}
