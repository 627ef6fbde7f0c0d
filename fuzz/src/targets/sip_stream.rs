//! `sipcore::framing` on any byte stream, as a TCP/TLS connection delivers it:
//! the stream arrives in reads of sizes the input chooses, for either keep-alive
//! role and with limits small enough to reach. The framer never panics, never
//! hands out bytes it was not given, keeps failing with the same error once it
//! failed, and cuts the same frames (and fails the same way) however the stream
//! was split: a framer that depends on read sizes lets two hops disagree about
//! where a message ends. Every framed message also goes through `parse`.

use bytes::BytesMut;
use sipcore::framing::{Frame, Framer, FramerConfig, FramingError, Role};

use crate::chunks::Chunks;

/// Runs one input: `[config, chunk seed, stream...]`.
pub fn run(data: &[u8]) {
    let [config, seed, stream @ ..] = data else { return };
    let role = if config & 1 == 0 { Role::Server } else { Role::Client };
    // Small limits make the limit paths reachable with short inputs.
    let limit = 64 + usize::from(config >> 1) * 16;
    let framer = Framer::new(role, FramerConfig { max_header_bytes: limit, max_message_bytes: limit * 2 });
    let whole = decode(framer.clone(), &[stream]);
    let pieces = Chunks::new(*seed).split(stream);
    let chunked = decode(framer, &pieces);
    assert_eq!(chunked, whole, "the frames depend on how the stream was split into reads");
    for frame in &whole.frames {
        if let Frame::Message(bytes) = frame {
            let _ = sipcore::parse(bytes.clone());
        }
    }
}

/// What a framer made of a stream.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<FramingError>,
    /// Bytes left in the buffer at the end (a partial message); after an error the
    /// driver closes the connection and what is left depends on when it stopped reading.
    left: Option<usize>,
}

/// Feeds `pieces` one read at a time, draining frames after each, as the transport does.
fn decode(mut framer: Framer, pieces: &[&[u8]]) -> Outcome {
    let mut buf = BytesMut::new();
    let (mut fed, mut taken) = (0usize, 0usize);
    let mut frames = Vec::new();
    let mut error: Option<FramingError> = None;
    for piece in pieces {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(frame)) => {
                    taken += frame.wire_len();
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(first) = &error {
                        assert_eq!(first, &e, "a failed framer must keep its error");
                    }
                    assert!(framer.is_failed(), "an error leaves the framer failed");
                    error = Some(e);
                    break;
                }
            }
        }
        assert_eq!(taken + buf.len(), fed, "the framer lost or made up bytes");
        if error.is_some() {
            // The driver closes the connection; one more call shows the error stays.
            let again = framer.decode(&mut buf);
            assert_eq!(again.err(), error, "a failed framer must keep its error");
            break;
        }
    }
    let left = error.is_none().then_some(buf.len());
    Outcome { frames, error, left }
}
