//! RFC 4571 framing of RTP/RTCP on a TCP connection: each packet is preceded
//! by its length as a 16-bit big-endian number. Decoding is check-then-take on
//! a buffer allocated once; an incomplete frame is not an error.

/// Largest frame accepted or sent (bytes of packet). RTP for voice is far smaller;
/// a bigger length means a broken or hostile peer.
pub const MAX_FRAME: usize = 4096;

/// Bytes read per call: room for several frames.
const BUFFER: usize = 4 * (MAX_FRAME + 2);

/// A frame that cannot be right: the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is larger than [`MAX_FRAME`].
    #[error("RFC 4571 frame of {0} bytes is larger than {MAX_FRAME}")]
    TooLarge(usize),
}

/// Splits a TCP byte stream into RFC 4571 frames.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder with its (only) buffer.
    pub fn new() -> Self {
        Self { buf: vec![0; BUFFER].into_boxed_slice(), start: 0, end: 0 }
    }

    /// Where the next read goes; never empty. Moves a pending partial frame to the front first.
    pub fn space(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.buf.get_mut(self.end..).unwrap_or_default()
    }

    /// `n` bytes were read into [`FrameDecoder::space`].
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The next complete frame, None when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let pending = self.buf.get(self.start..self.end).unwrap_or_default();
        let [hi, lo, ..] = *pending else { return Ok(None) };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge(len));
        }
        let Some(frame) = pending.get(2..2 + len) else { return Ok(None) };
        self.start += 2 + len;
        Ok(Some(frame))
    }
}

/// Appends `packet` as one frame to `out`; false (nothing written) when it is larger than [`MAX_FRAME`].
pub(crate) fn encode_frame(out: &mut Vec<u8>, packet: &[u8]) -> bool {
    let Ok(len) = u16::try_from(packet.len()) else { return false };
    if packet.len() > MAX_FRAME {
        return false;
    }
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(packet);
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn feed(decoder: &mut FrameDecoder, bytes: &[u8]) {
        let space = decoder.space();
        space[..bytes.len()].copy_from_slice(bytes);
        decoder.filled(bytes.len());
    }

    #[test]
    fn frames_split_across_reads_and_packed_in_one() {
        let mut wire = Vec::new();
        assert!(encode_frame(&mut wire, b"first packet"));
        assert!(encode_frame(&mut wire, b""));
        assert!(encode_frame(&mut wire, &[7u8; 300]));
        let mut decoder = FrameDecoder::new();
        let mut got = Vec::new();
        // One byte at a time, then everything at once: the same frames.
        for chunk in wire.chunks(1) {
            feed(&mut decoder, chunk);
            while let Some(frame) = decoder.next_frame().unwrap() {
                got.push(frame.to_vec());
            }
        }
        feed(&mut decoder, &wire);
        while let Some(frame) = decoder.next_frame().unwrap() {
            got.push(frame.to_vec());
        }
        let once = vec![b"first packet".to_vec(), vec![], vec![7u8; 300]];
        assert_eq!(got, [once.clone(), once].concat());
    }

    #[test]
    fn oversized_length_is_an_error_and_oversized_packets_are_not_sent() {
        let mut decoder = FrameDecoder::new();
        feed(&mut decoder, &[0x10, 0x01]);
        assert_eq!(decoder.next_frame(), Err(FrameError::TooLarge(4097)));
        let mut out = Vec::new();
        assert!(!encode_frame(&mut out, &[0; MAX_FRAME + 1]));
        assert!(out.is_empty());
        assert!(encode_frame(&mut out, &[0; MAX_FRAME]));
    }

    #[test]
    fn a_full_buffer_of_max_frames_always_leaves_room() {
        let mut wire = Vec::new();
        for _ in 0..10 {
            assert!(encode_frame(&mut wire, &[1; MAX_FRAME]));
        }
        let mut decoder = FrameDecoder::new();
        let (mut rest, mut frames) = (&wire[..], 0);
        for _ in 0..100 {
            let space = decoder.space();
            assert!(!space.is_empty());
            let n = space.len().min(rest.len());
            space[..n].copy_from_slice(&rest[..n]);
            decoder.filled(n);
            rest = &rest[n..];
            while let Some(frame) = decoder.next_frame().unwrap() {
                assert_eq!(frame.len(), MAX_FRAME);
                frames += 1;
            }
        }
        assert_eq!(frames, 10);
    }

    proptest::proptest! {
        /// Any bytes in any chunks: frames come out, or an error; never a panic, never more than sent.
        #[test]
        fn arbitrary_streams_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..20_000), chunk in 1usize..5000) {
            let mut decoder = FrameDecoder::new();
            let mut taken = 0;
            'outer: for piece in bytes.chunks(chunk) {
                let mut piece = piece;
                while !piece.is_empty() {
                    let space = decoder.space();
                    proptest::prop_assert!(!space.is_empty());
                    let n = space.len().min(piece.len());
                    space[..n].copy_from_slice(&piece[..n]);
                    decoder.filled(n);
                    piece = &piece[n..];
                    loop {
                        match decoder.next_frame() {
                            Ok(Some(frame)) => taken += frame.len() + 2,
                            Ok(None) => break,
                            Err(_) => break 'outer,
                        }
                    }
                }
            }
            proptest::prop_assert!(taken <= bytes.len());
        }
    }
}
