//! RFC 4571 framing of RTP on a TCP stream: each packet is preceded by its
//! length as a 16-bit big-endian integer. Check-then-parse on a buffer;
//! an incomplete frame is not an error.

use bytes::{Buf, Bytes, BytesMut};

/// Largest frame we accept. A 20 ms G.711 packet is 172 bytes; anything past
/// this is not audio we can play, so the peer is cut off rather than buffered.
pub const MAX_FRAME: usize = 2048;

/// A frame longer than [`MAX_FRAME`] (or, when sending, than 65535 bytes).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("RFC 4571 frame of {0} bytes is too long")]
pub struct FrameTooLong(pub usize);

/// Appends `packet` with its length prefix to `out`.
pub fn encode(packet: &[u8], out: &mut Vec<u8>) -> Result<(), FrameTooLong> {
    let len = u16::try_from(packet.len()).map_err(|_| FrameTooLong(packet.len()))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(packet);
    Ok(())
}

/// Takes one whole frame off the front of `buf`: `Ok(None)` until it has all arrived.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Bytes>, FrameTooLong> {
    let (Some(&hi), Some(&lo)) = (buf.first(), buf.get(1)) else { return Ok(None) };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len > MAX_FRAME {
        return Err(FrameTooLong(len));
    }
    if buf.len() < 2 + len {
        return Ok(None);
    }
    buf.advance(2);
    Ok(Some(buf.split_to(len).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() -> Result<(), FrameTooLong> {
        let mut wire = Vec::new();
        encode(b"hello", &mut wire)?;
        encode(b"", &mut wire)?;
        encode(&[7u8; 300], &mut wire)?;
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            let mut buf = BytesMut::from(a);
            let mut got = Vec::new();
            while let Some(f) = decode(&mut buf)? {
                got.push(f);
            }
            buf.extend_from_slice(b);
            while let Some(f) = decode(&mut buf)? {
                got.push(f);
            }
            assert_eq!(got, vec![Bytes::from_static(b"hello"), Bytes::new(), Bytes::from(vec![7u8; 300])], "cut {cut}");
            assert!(buf.is_empty());
        }
        Ok(())
    }

    #[test]
    fn oversized_frames_are_refused() {
        let mut buf = BytesMut::from(&[0x08u8, 0x01][..]);
        assert_eq!(decode(&mut buf), Err(FrameTooLong(2049)));
        assert_eq!(encode(&vec![0u8; 70_000], &mut Vec::new()), Err(FrameTooLong(70_000)));
    }
}
