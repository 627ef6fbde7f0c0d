//! Stream framing: split invariance, every error, limits, and fuzzing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sipcore::ToStatus;
use sipcore::framing::{
    DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_MESSAGE_BYTES, Frame, Framer, FramerConfig, FramingError, Role, StartLineKind,
};

/// Everything a run produced: the frames and, if it stopped on one, the error.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    frames: Vec<Frame>,
    error: Option<FramingError>,
    /// Bytes left unconsumed in the buffer at the end.
    left: usize,
}

/// Feeds `chunks` one by one into a fresh framer, draining frames after each. After an
/// error the rest is still fed, and the framer must keep returning that same error.
fn run_chunks<'a>(role: Role, config: FramerConfig, chunks: impl IntoIterator<Item = &'a [u8]>) -> Run {
    let mut framer = Framer::new(role, config);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0usize;
    let mut error: Option<FramingError> = None;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        fed += chunk.len();
        if let Some(error) = &error {
            let before = buf.len();
            assert_eq!(framer.decode(&mut buf).as_ref(), Err(error), "errors are sticky");
            assert_eq!(before, buf.len());
            continue;
        }
        loop {
            let before = buf.len();
            match framer.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert_eq!(before - buf.len(), frame.wire_len(), "a frame consumes exactly its bytes");
                    frames.push(frame);
                }
                Ok(None) => {
                    assert_eq!(before, buf.len(), "Incomplete consumes nothing");
                    break;
                }
                Err(e) => {
                    assert_eq!(before, buf.len(), "an error leaves the buffer alone");
                    assert!(framer.is_failed());
                    error = Some(e);
                    break;
                }
            }
        }
    }
    let consumed: usize = frames.iter().map(Frame::wire_len).sum();
    assert_eq!(consumed + buf.len(), fed);
    Run { frames, error, left: buf.len() }
}

fn run_whole(role: Role, config: FramerConfig, input: &[u8]) -> Run {
    run_chunks(role, config, [input])
}

fn decode_one(role: Role, config: FramerConfig, input: &[u8]) -> Result<Option<Frame>, FramingError> {
    let mut framer = Framer::new(role, config);
    let mut buf = BytesMut::from(input);
    framer.decode(&mut buf)
}

fn decode_err(input: &[u8]) -> FramingError {
    decode_one(Role::Server, FramerConfig::default(), input).unwrap_err()
}

fn msg(bytes: &[u8]) -> Frame {
    Frame::Message(Bytes::copy_from_slice(bytes))
}

const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.example.com:5060;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <sip:alice@example.com>\r\n\
From: <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@client.example.com\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:alice@192.0.2.4;transport=tcp;ob>\r\n\
Content-Length: 0\r\n\
\r\n";

const SDP: &[u8] = b"v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 client.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.4\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

fn invite() -> Vec<u8> {
    let mut m = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.example.com:5060;branch=z9hG4bKnashds8\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.4;transport=tcp>\r\n\
Content-Type: application/sdp\r\n\
content-length: {}\r\n\
\r\n",
        SDP.len()
    )
    .into_bytes();
    m.extend_from_slice(SDP);
    m
}

/// Binary body with CRLFCRLF, a fake header block and NULs; compact `l` with space before the colon.
fn binary_message() -> Vec<u8> {
    let body: Vec<u8> =
        [&b"\r\n\r\n\0\0\xff\xfe"[..], b"SIP/2.0 200 OK\r\nContent-Length: 99\r\n\r\n", b"\0\r\n\r\n\0", &[0u8; 7]].concat();
    let mut m = format!(
        "MESSAGE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK-bin\r\n\
To: <sip:bob@example.com>\r\n\
From: <sip:alice@example.com>;tag=49583\r\n\
Call-ID: bin-1\r\n\
CSeq: 1 MESSAGE\r\n\
c: application/octet-stream\r\n\
l : {}\r\n\
\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(&body);
    m
}

/// A response whose Content-Length value is folded onto the next two lines.
const FOLDED: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TCP client.example.com:5060;branch=z9hG4bK776asdhds\r\n\
Content-Length:\r\n\
\x20\t\r\n\
\x20\x20 5\r\n\
CSeq: 1 REGISTER\r\n\
\r\n\
hello";

/// Duplicate Content-Length headers with equal values (one compact) are fine.
const DUPLICATE_SAME: &[u8] = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
CONTENT-LENGTH: 4\r\n\
Call-ID: dup\r\n\
L: 04\r\n\
\r\n\
\r\n\r\n";

/// The test stream and the frames expected for each role.
fn stream() -> (Vec<u8>, Vec<Frame>, Vec<Frame>) {
    let invite = invite();
    let binary = binary_message();
    let parts: Vec<&[u8]> = vec![
        b"\r\n\r\n", // leading extra CRLFs: a ping ...
        b"\r\n",     // ... and a lone CRLF
        REGISTER,
        b"\r\n\r\n",
        &invite,
        b"\r\n",
        &binary,
        b"\r\n\r\n\r\n\r\n",
        FOLDED,
        DUPLICATE_SAME,
        b"\r\n\r\n",
    ];
    let input = parts.concat();
    use Frame::{Ping, Pong};
    let server =
        vec![Ping, Pong, msg(REGISTER), Ping, msg(&invite), Pong, msg(&binary), Ping, Ping, msg(FOLDED), msg(DUPLICATE_SAME), Ping];
    let client = vec![
        Pong,
        Pong,
        Pong,
        msg(REGISTER),
        Pong,
        Pong,
        msg(&invite),
        Pong,
        msg(&binary),
        Pong,
        Pong,
        Pong,
        Pong,
        msg(FOLDED),
        msg(DUPLICATE_SAME),
        Pong,
        Pong,
    ];
    (input, server, client)
}

#[test]
fn whole_stream_yields_expected_frames() {
    let (input, server, client) = stream();
    let run = run_whole(Role::Server, FramerConfig::default(), &input);
    assert_eq!(run, Run { frames: server, error: None, left: 0 });
    let run = run_whole(Role::Client, FramerConfig::default(), &input);
    assert_eq!(run, Run { frames: client, error: None, left: 0 });
}

#[test]
fn every_two_piece_split_matches_whole() {
    let (input, ..) = stream();
    for role in [Role::Server, Role::Client] {
        let whole = run_whole(role, FramerConfig::default(), &input);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let run = run_chunks(role, FramerConfig::default(), [a, b]);
            assert_eq!(run, whole, "{role:?} split at {split}");
        }
    }
}

#[test]
fn byte_by_byte_matches_whole() {
    let (input, ..) = stream();
    for role in [Role::Server, Role::Client] {
        let whole = run_whole(role, FramerConfig::default(), &input);
        let run = run_chunks(role, FramerConfig::default(), input.chunks(1));
        assert_eq!(run, whole, "{role:?}");
    }
}

#[test]
fn server_holds_a_trailing_crlf_client_does_not() {
    let cfg = FramerConfig::default();
    assert_eq!(run_whole(Role::Server, cfg, b"\r\n"), Run { frames: vec![], error: None, left: 2 });
    assert_eq!(run_whole(Role::Server, cfg, b"\r\n\r"), Run { frames: vec![], error: None, left: 3 });
    assert_eq!(run_whole(Role::Server, cfg, b"\r"), Run { frames: vec![], error: None, left: 1 });
    assert_eq!(run_whole(Role::Client, cfg, b"\r\n"), Run { frames: vec![Frame::Pong], error: None, left: 0 });
    assert_eq!(run_whole(Role::Client, cfg, b"\r"), Run { frames: vec![], error: None, left: 1 });
    // The held CRLF is decided by what follows.
    assert_eq!(run_chunks(Role::Server, cfg, [&b"\r\n"[..], b"\r\n"]).frames, vec![Frame::Ping]);
    assert_eq!(run_chunks(Role::Server, cfg, [&b"\r\n"[..], b"\r", b"\n"]).frames, vec![Frame::Ping]);
    let run = run_chunks(Role::Server, cfg, [&b"\r\n"[..], REGISTER]);
    assert_eq!(run.frames, vec![Frame::Pong, msg(REGISTER)]);
    assert_eq!(Frame::Ping.wire_len(), 4);
    assert_eq!(Frame::Pong.wire_len(), 2);
}

#[test]
fn incomplete_message_is_not_an_error() {
    let (input, ..) = stream();
    let reg_at = 6;
    for end in reg_at + 1..reg_at + REGISTER.len() {
        let mut framer = Framer::new(Role::Server, FramerConfig::default());
        let mut buf = BytesMut::from(&input[reg_at..end]);
        assert_eq!(framer.decode(&mut buf), Ok(None));
        assert!(framer.in_message());
        assert_eq!(buf.len(), end - reg_at);
    }
    let mut framer = Framer::new(Role::Server, FramerConfig::default());
    assert_eq!(framer.decode(&mut BytesMut::new()), Ok(None));
    assert!(!framer.in_message() && !framer.is_failed());
    assert_eq!(framer.role(), Role::Server);
    assert_eq!(*framer.config(), FramerConfig::default());
}

#[test]
fn body_waits_for_all_bytes_and_is_byte_exact() {
    let binary = binary_message();
    let header_len = binary.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut framer = Framer::new(Role::Client, FramerConfig::default());
    let mut buf = BytesMut::from(&binary[..binary.len() - 1]);
    assert_eq!(framer.decode(&mut buf), Ok(None));
    buf.extend_from_slice(&binary[binary.len() - 1..]);
    buf.extend_from_slice(b"OPTIONS");
    let Ok(Some(Frame::Message(m))) = framer.decode(&mut buf) else { panic!("no message") };
    assert_eq!(&m[..], &binary[..]);
    assert!(m[header_len..].contains(&0));
    assert_eq!(&buf[..], b"OPTIONS");
    assert_eq!(framer.decode(&mut buf), Ok(None));
}

#[test]
fn defaults() {
    let cfg = FramerConfig::default();
    assert_eq!(cfg.max_header_bytes, 64 * 1024);
    assert_eq!(cfg.max_message_bytes, 64 * 1024);
    assert_eq!(DEFAULT_MAX_HEADER_BYTES, 65536);
    assert_eq!(DEFAULT_MAX_MESSAGE_BYTES, 65536);
}

// ---------------------------------------------------------------- errors

const START: &str = "INVITE sip:bob@example.com SIP/2.0\r\n";

fn with_headers(headers: &str) -> Vec<u8> {
    format!("{START}Call-ID: x\r\n{headers}\r\n").into_bytes()
}

#[test]
fn error_bare_line_feed() {
    let e = decode_err(b"INVITE sip:b SIP/2.0\nContent-Length: 0\r\n\r\n");
    assert_eq!(e, FramingError::BareLineFeed { offset: 20, start_line: StartLineKind::Request });
    assert_eq!((e.status().as_u16(), e.reason().as_str(), e.offset(), e.header_len()), (400, "Bad Request", 20, None));
    // LF LF is not accepted as the end of the header block.
    let e = decode_err(b"INVITE sip:b SIP/2.0\r\nContent-Length: 0\n\n");
    assert!(matches!(e, FramingError::BareLineFeed { offset: 39, .. }), "{e:?}");
    // Between messages.
    let e = decode_err(b"\nINVITE");
    assert_eq!(e, FramingError::BareLineFeed { offset: 0, start_line: StartLineKind::Unknown });
    let e = decode_one(Role::Client, FramerConfig::default(), b"\r\n\n").unwrap();
    assert_eq!(e, Some(Frame::Pong));
}

#[test]
fn error_bare_carriage_return() {
    let e = decode_err(b"SIP/2.0 200 OK\r\nVia: x\ry\r\n\r\n");
    assert_eq!(e, FramingError::BareCarriageReturn { offset: 22, start_line: StartLineKind::Response });
    assert_eq!((e.status().as_u16(), e.reason().as_str(), e.offset()), (400, "Bad Request", 22));
    assert!(!e.start_line().is_request());
    let e = decode_err(b"\rX");
    assert_eq!(e, FramingError::BareCarriageReturn { offset: 0, start_line: StartLineKind::Unknown });
    // A server sees CRLF CR x as a pong followed by a bare CR.
    let run = run_whole(Role::Server, FramerConfig::default(), b"\r\n\rX");
    assert_eq!(run.frames, vec![Frame::Pong]);
    assert!(matches!(run.error, Some(FramingError::BareCarriageReturn { offset: 0, .. })));
}

#[test]
fn error_missing_content_length() {
    let input = with_headers("Content-Type: text/plain\r\nX-Content-Length: 3\r\n");
    let e = decode_err(&input);
    assert_eq!(e, FramingError::MissingContentLength { header_len: input.len(), start_line: StartLineKind::Request });
    assert_eq!((e.status().as_u16(), e.reason().as_str(), e.header_len()), (400, "Bad Request", Some(input.len())));
    assert_eq!(e.offset(), input.len());
}

#[test]
fn error_content_length_not_numeric() {
    let value_at = START.len() + "Call-ID: x\r\nContent-Length: ".len();
    for bad in ["abc", "", "1 2", "0x10", "+5", "5,5", "4a", "-", "-x"] {
        let input = with_headers(&format!("Content-Length: {bad}\r\n"));
        let e = decode_err(&input);
        let expected_at = value_at;
        assert_eq!(
            e,
            FramingError::ContentLengthNotNumeric { offset: expected_at, header_len: input.len(), start_line: StartLineKind::Request },
            "{bad:?}"
        );
        assert_eq!(e.status().as_u16(), 400);
        assert_eq!(e.offset(), expected_at);
    }
}

#[test]
fn error_content_length_negative() {
    let input = with_headers("l: -1\r\n");
    let e = decode_err(&input);
    let offset = START.len() + "Call-ID: x\r\nl: ".len();
    assert_eq!(e, FramingError::ContentLengthNegative { offset, header_len: input.len(), start_line: StartLineKind::Request });
    assert_eq!((e.status().as_u16(), e.reason().as_str()), (400, "Bad Request"));
}

#[test]
fn error_content_length_overflow() {
    let input = with_headers("Content-Length: 99999999999999999999\r\n");
    let e = decode_err(&input);
    let offset = START.len() + "Call-ID: x\r\nContent-Length: ".len();
    assert_eq!(e, FramingError::ContentLengthOverflow { offset, header_len: input.len(), start_line: StartLineKind::Request });
    assert_eq!((e.status().as_u16(), e.reason().as_str(), e.header_len()), (400, "Bad Request", Some(input.len())));
    // usize::MAX itself parses, then exceeds the message limit.
    let input = with_headers(&format!("Content-Length: {}\r\n", usize::MAX));
    assert!(matches!(decode_err(&input), FramingError::MessageTooLarge { content_length: usize::MAX, .. }));
}

#[test]
fn error_conflicting_content_length() {
    let input = with_headers("Content-Length: 3\r\nVia: x\r\nl: 4\r\n");
    let e = decode_err(&input);
    let offset = START.len() + "Call-ID: x\r\nContent-Length: 3\r\nVia: x\r\nl: ".len();
    assert_eq!(
        e,
        FramingError::ConflictingContentLength { offset, first: 3, second: 4, header_len: input.len(), start_line: StartLineKind::Request }
    );
    assert_eq!((e.status().as_u16(), e.reason().as_str()), (400, "Bad Request"));
    // Equal duplicates are accepted.
    let mut input = with_headers("Content-Length: 3\r\nl: 003\r\n");
    input.extend_from_slice(b"abc");
    assert_eq!(decode_one(Role::Server, FramerConfig::default(), &input), Ok(Some(msg(&input))));
}

#[test]
fn error_header_too_large_small_limit() {
    let config = FramerConfig { max_header_bytes: 64, max_message_bytes: 1000 };
    // A message whose header block is `n` bytes, with a 2-byte body.
    let sized = |n: usize| {
        let fixed = "OPTIONS sip:a SIP/2.0\r\nl: 2\r\nX: \r\n\r\n".len();
        format!("OPTIONS sip:a SIP/2.0\r\nl: 2\r\nX: {}\r\n\r\nok", "y".repeat(n - fixed)).into_bytes()
    };
    let exact = sized(64);
    assert_eq!(exact.len() - 2, 64);
    assert_eq!(decode_one(Role::Server, config, &exact), Ok(Some(msg(&exact))));
    let long = &sized(65)[..];
    let e = decode_one(Role::Server, config, long).unwrap_err();
    assert_eq!(e, FramingError::HeaderTooLarge { limit: 64, start_line: StartLineKind::Request });
    assert_eq!((e.status().as_u16(), e.reason().as_str(), e.offset(), e.header_len()), (413, "Request Entity Too Large", 64, None));
    // Detected while bytes arrive, without waiting for the end of the header block.
    let run = run_chunks(Role::Server, config, long[..64].chunks(5));
    assert_eq!(run.error, Some(e.clone()));
    let run = run_chunks(Role::Server, config, long[..63].chunks(5));
    assert_eq!(run.error, None);
    // A message with no line end at all.
    let e = decode_one(Role::Server, config, &[b'A'; 64]).unwrap_err();
    assert_eq!(e, FramingError::HeaderTooLarge { limit: 64, start_line: StartLineKind::Unknown });
    // The message limit also caps the header block.
    let config = FramerConfig { max_header_bytes: 1000, max_message_bytes: 40 };
    let e = decode_one(Role::Server, config, long).unwrap_err();
    assert_eq!(e, FramingError::HeaderTooLarge { limit: 40, start_line: StartLineKind::Request });
}

#[test]
fn error_message_too_large_small_limit() {
    let config = FramerConfig { max_header_bytes: 1000, max_message_bytes: 100 };
    let head = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 70\r\n\r\n";
    let fits = 100 - head.len();
    let ok = [head.replace("70", &fits.to_string()).as_bytes(), &vec![b'x'; fits]].concat();
    assert_eq!(ok.len(), 100);
    assert_eq!(decode_one(Role::Server, config, &ok), Ok(Some(msg(&ok))));
    let big = head.replace("70", &(fits + 1).to_string());
    // Reported as soon as the header block is complete, before the body arrives.
    let e = decode_one(Role::Server, config, big.as_bytes()).unwrap_err();
    assert_eq!(
        e,
        FramingError::MessageTooLarge { header_len: big.len(), content_length: fits + 1, limit: 100, start_line: StartLineKind::Request }
    );
    assert_eq!((e.status().as_u16(), e.reason().as_str(), e.header_len()), (413, "Request Entity Too Large", Some(big.len())));
}

#[test]
fn default_limits_64k() {
    let cfg = FramerConfig::default();
    // Header block of exactly 64 KiB is accepted, one byte more is not.
    let filler = |n: usize| {
        let fixed = START.len() + "Content-Length: 0\r\nX: \r\n\r\n".len();
        format!("{START}Content-Length: 0\r\nX: {}\r\n\r\n", "a".repeat(n - fixed)).into_bytes()
    };
    let exact = filler(65536);
    assert_eq!(exact.len(), 65536);
    assert_eq!(decode_one(Role::Server, cfg, &exact), Ok(Some(msg(&exact))));
    let over = filler(65537);
    let e = decode_one(Role::Server, cfg, &over).unwrap_err();
    assert_eq!(e, FramingError::HeaderTooLarge { limit: 65536, start_line: StartLineKind::Request });
    assert_eq!(e.status().as_u16(), 413);
    // Fed in small pieces, the header scan stays incremental (this would crawl if quadratic).
    let run = run_chunks(Role::Server, cfg, over.chunks(7));
    assert_eq!(run.error, Some(e));

    // Body pushing the message over 64 KiB.
    let head = format!("{START}Content-Length: 65500\r\n\r\n");
    let e = decode_err(head.as_bytes());
    assert_eq!(
        e,
        FramingError::MessageTooLarge { header_len: head.len(), content_length: 65500, limit: 65536, start_line: StartLineKind::Request }
    );
    assert_eq!((e.status().as_u16(), e.reason().as_str()), (413, "Request Entity Too Large"));
    let fits = 65536 - head.len(); // same number of digits as 65500
    let head = format!("{START}Content-Length: {fits}\r\n\r\n");
    let whole = [head.as_bytes(), &vec![0u8; fits]].concat();
    assert_eq!(whole.len(), 65536);
    let run = run_chunks(Role::Client, cfg, whole.chunks(1000));
    assert_eq!(run, Run { frames: vec![msg(&whole)], error: None, left: 0 });
}

#[test]
fn errors_display_and_poison() {
    let mut framer = Framer::new(Role::Server, FramerConfig::default());
    let mut buf = BytesMut::from(&with_headers("l: abc\r\n")[..]);
    let e = framer.decode(&mut buf).unwrap_err();
    assert!(e.to_string().contains("not a decimal number"), "{e}");
    assert!(framer.is_failed());
    // Even a perfectly good buffer afterwards gets the same error.
    let mut fresh = BytesMut::from(REGISTER);
    assert_eq!(framer.decode(&mut fresh), Err(e));
    assert_eq!(&fresh[..], REGISTER);
}

// ---------------------------------------------------------------- proptest

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(b"\r\n".to_vec()),
        2 => Just(b"\r\n\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"\n".to_vec()),
        2 => Just(b"INVITE sip:a@b SIP/2.0\r\n".to_vec()),
        1 => Just(b"SIP/2.0 200 OK\r\n".to_vec()),
        2 => (0usize..40).prop_map(|n| format!("Content-Length: {n}\r\n").into_bytes()),
        1 => (0usize..40).prop_map(|n| format!("l :\r\n {n}\r\n").into_bytes()),
        1 => Just(b"Content-Length: -1\r\n".to_vec()),
        1 => Just(b"Content-Length: 99999999999999999999\r\n".to_vec()),
        1 => Just(b" \t".to_vec()),
        2 => Just(b"Via: x\r\n".to_vec()),
        4 => prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(fragment(), 0..24).prop_map(|f| f.concat())
}

fn config() -> impl Strategy<Value = FramerConfig> {
    prop_oneof![
        Just(FramerConfig::default()),
        (0usize..200, 0usize..300).prop_map(|(max_header_bytes, max_message_bytes)| FramerConfig { max_header_bytes, max_message_bytes }),
    ]
}

fn chunked<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(rest.len()).clamp(1, rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Never panics; frames account exactly for consumed bytes (checked inside run_chunks);
    /// and the result does not depend on how the input was chunked.
    #[test]
    fn arbitrary_chunks_never_panic_and_match_whole(
        input in input(),
        sizes in prop::collection::vec(1usize..40, 0..8),
        role in prop_oneof![Just(Role::Server), Just(Role::Client)],
        config in config(),
    ) {
        let whole = run_whole(role, config, &input);
        let consumed: usize = whole.frames.iter().map(Frame::wire_len).sum();
        prop_assert!(consumed <= input.len());
        let run = run_chunks(role, config, chunked(&input, &sizes));
        prop_assert_eq!(run, whole);
    }

    #[test]
    fn random_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..512),
        sizes in prop::collection::vec(1usize..64, 0..8),
        role in prop_oneof![Just(Role::Server), Just(Role::Client)],
    ) {
        let run = run_chunks(role, FramerConfig::default(), chunked(&input, &sizes));
        let consumed: usize = run.frames.iter().map(Frame::wire_len).sum();
        prop_assert!(consumed <= input.len());
        prop_assert_eq!(consumed + run.left, input.len());
    }
}
