//! Any byte stream, cut into chunks the input itself chooses, for both roles:
//! the framer never panics, never hands out more bytes than it was given, and
//! once it fails it keeps failing with the same error (the driver then closes
//! the connection). Every framed message also goes through `parse`.
//!
//! Run with `cargo +nightly fuzz run frame_stream` from the workspace root.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sipcore::framing::{Frame, Framer, FramerConfig, Role};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let role = if first & 1 == 0 { Role::Server } else { Role::Client };
    // Small limits make the limit paths reachable with short inputs.
    let limit = 64 + usize::from(first) * 8;
    let mut framer = Framer::new(role, FramerConfig { max_header_bytes: limit, max_message_bytes: limit * 2 });
    let chunk = usize::from(first % 17) + 1;
    let mut buf = BytesMut::new();
    let mut fed = 0usize;
    let mut taken = 0usize;
    let mut failed = None;
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(frame)) => {
                    taken += frame.wire_len();
                    if let Frame::Message(bytes) = frame {
                        let _ = sipcore::parse(bytes);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(prev) = &failed {
                        assert_eq!(prev, &e, "a failed framer must keep its error");
                    }
                    failed = Some(e);
                    break;
                }
            }
        }
        assert!(taken + buf.len() <= fed, "framer produced bytes it was not given");
    }
});
