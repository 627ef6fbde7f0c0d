//! The switch's RTP/RTCP relay.

/// Identifies one call's media on the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MediaId(pub u64);
