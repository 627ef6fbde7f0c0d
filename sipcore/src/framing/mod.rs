//! SIP-over-stream framing (TCP, TLS, WebSocket-less streams).
//!
//! Sans-IO: the driver owns the socket and a [`BytesMut`] receive buffer; it appends whatever it
//! read and calls [`Framer::decode`] until it returns `Ok(None)` ("need more bytes"). Each
//! `Ok(Some(frame))` has removed exactly that frame's bytes from the front of the buffer.
//! `Incomplete` is not an error: it is `Ok(None)`.
//!
//! # What a frame is
//!
//! * [`Frame::Message`]: one SIP message, byte-exact: start line, header lines, the empty line
//!   (`CRLF CRLF`) and then exactly `Content-Length` body bytes (binary allowed, the body is
//!   never inspected).
//! * [`Frame::Ping`] / [`Frame::Pong`]: RFC 5626 §3.5.1/§4.4.1 CRLF keep-alives found *between*
//!   messages. RFC 3261 §7.5 says CRLFs before a start line are to be ignored; the framer
//!   still reports them so the driver can answer pings and note pongs, and a driver that does
//!   not care simply ignores these frames.
//!
//! # Keep-alive rule (the framer's [`Role`])
//!
//! In RFC 5626 only the side that opened the flow (the UA, "client") pings, with `CRLF CRLF`,
//! and the other side ("server", e.g. an edge proxy or registrar) answers with one `CRLF`.
//! A lone `CRLF` at the end of the buffer is ambiguous: it may be a pong, or the first half of
//! a ping whose second half has not arrived yet. The framer resolves that by role, and the
//! result never depends on how the stream was split into reads:
//!
//! * [`Role::Server`] (the peer pings us): at a message boundary `CRLF CRLF` is a
//!   [`Frame::Ping`] (4 bytes consumed; answer it with `CRLF`). A `CRLF` followed by anything
//!   other than `CRLF` is a [`Frame::Pong`] (2 bytes consumed; a server has nothing to do with
//!   it and should just ignore it, per RFC 3261 §7.5). A `CRLF`, or `CRLF CR`, at the very end
//!   of the buffer is held back as incomplete until the next bytes decide. Consequence: a
//!   peer that sends *single*-CRLF keep-alives (not RFC 5626) will see its lone CRLF held
//!   until the next one arrives, and two such keep-alives read as one ping; the resulting
//!   `CRLF` answer is harmless because receivers ignore CRLFs between messages.
//! * [`Role::Client`] (we ping, the peer answers): every `CRLF` between messages is a
//!   [`Frame::Pong`] at once (2 bytes consumed), so a pong is never delayed on a quiet
//!   connection. A `CRLF CRLF` from the peer therefore yields two pongs, not a ping: a
//!   server never pings on an RFC 5626 flow, and extra pongs are harmless.
//!
//! # Line endings
//!
//! Strict RFC 3261 §7: every line ends with `CRLF` and the header block ends with
//! `CRLF CRLF`. A bare LF or a bare CR anywhere in the header block (or between messages) is
//! an error ([`FramingError::BareLineFeed`], [`FramingError::BareCarriageReturn`]), reported as
//! soon as it is seen. Tolerating `LF LF` would let the framer and a later parser (or another
//! hop) disagree about where a message ends, which is how message smuggling starts.
//!
//! # Content-Length
//!
//! Mandatory on streams (RFC 3261 §18.3). Header names are matched case-insensitively, long
//! form `Content-Length` or compact `l`, with optional SP/HT before the colon. The value may be
//! folded onto continuation lines (lines starting with SP or HT); after unfolding it must be
//! `1*DIGIT` surrounded by optional whitespace. Several `Content-Length` headers are accepted
//! only when they all carry the same value. Missing, empty, non-numeric, negative, overflowing
//! or conflicting values are errors (400).
//!
//! # Limits
//!
//! [`FramerConfig::max_header_bytes`] bounds the header block including its final `CRLF CRLF`;
//! it is enforced while bytes arrive, so a peer that never sends the empty line cannot make
//! the buffer grow past it. [`FramerConfig::max_message_bytes`] bounds header block plus body
//! and is checked as soon as the header block is complete, before any body byte is waited
//! for. Both give 413 Request Entity Too Large (RFC 3261 §21.4.11).
//!
//! # Errors are fatal
//!
//! After an error the stream cannot be re-synchronised (nothing says where the next message
//! starts). The framer stays failed and returns the same error on every later call. The buffer
//! is left untouched by the failing call, so the offending message starts at `buf[0]`; all
//! offsets in the error are relative to that. If [`FramingError::start_line`] says
//! [`StartLineKind::Request`], the driver may try to build a response from the buffered bytes
//! (e.g. parse `buf[..header_len]` when [`FramingError::header_len`] is known) and send
//! [`FramingError::status`] / [`FramingError::reason`]; then it must close the connection.
//! Never answer a response.
//!
//! # Cost
//!
//! The header block is searched once, incrementally: the framer remembers how far it has
//! looked, so a header that trickles in byte by byte is still scanned in linear time. It uses
//! `memchr2` for CR/LF rather than `memmem` for `CRLF CRLF`, so that bare line terminators are
//! caught early and line starts are known. The header block is read once more, when complete,
//! for Content-Length. Nothing is allocated per frame beyond `split_to(..).freeze()` on the
//! caller's buffer.
//!
//! The framer stores offsets into the caller's buffer between calls: the driver must only
//! append to the buffer (never drop or rewrite its front) while a message is in progress.

mod error;
mod head;

pub use error::{FramingError, StartLineKind};

use bytes::{Bytes, BytesMut};

use head::{ContentLengthProblem, HeadScan};

/// Default for [`FramerConfig::max_header_bytes`]: 64 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Default for [`FramerConfig::max_message_bytes`]: 64 KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Size limits for one framed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// Largest accepted header block: start line, header lines and the final `CRLF CRLF`.
    pub max_header_bytes: usize,
    /// Largest accepted message: header block plus body.
    pub max_message_bytes: usize,
}

impl Default for FramerConfig {
    fn default() -> Self {
        Self { max_header_bytes: DEFAULT_MAX_HEADER_BYTES, max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES }
    }
}

/// Which side of the RFC 5626 keep-alive exchange this connection's local end is on.
/// See the module documentation for how it decides pings and pongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The peer sends pings (`CRLF CRLF`) and we answer pongs: accepted connections.
    Server,
    /// We send pings and the peer answers pongs (`CRLF`): connections we opened.
    Client,
}

/// One unit removed from the front of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The exact bytes of one SIP message (header block and `Content-Length` body bytes).
    Message(Bytes),
    /// A `CRLF CRLF` keep-alive ping between messages; answer it with a single `CRLF`.
    Ping,
    /// A single `CRLF` between messages (a keep-alive pong, or a stray CRLF to ignore).
    Pong,
}

impl Frame {
    /// Number of stream bytes this frame consumed.
    #[must_use]
    pub fn wire_len(&self) -> usize {
        match self {
            Frame::Message(bytes) => bytes.len(),
            Frame::Ping => 4,
            Frame::Pong => 2,
        }
    }
}

#[derive(Debug, Clone)]
enum State {
    /// Between messages: the buffer starts with keep-alive CRLFs or a start line.
    Boundary,
    /// Looking for the end of the header block. `scanned`: bytes `[..scanned]` have been
    /// examined; `line_start`: where the current (unfinished) line begins.
    Head { scanned: usize, line_start: usize },
    /// Header block done; waiting until the buffer holds `total` bytes.
    Body { total: usize },
    /// A framing error happened; the stream is unusable.
    Failed(FramingError),
}

/// Splits a byte stream into SIP messages and keep-alives. See the module documentation.
#[derive(Debug, Clone)]
pub struct Framer {
    role: Role,
    config: FramerConfig,
    state: State,
}

enum BoundaryStep {
    Incomplete,
    Keepalive(Frame, usize),
    MessageStart,
}

impl Framer {
    /// A framer for one connection.
    #[must_use]
    pub fn new(role: Role, config: FramerConfig) -> Self {
        Self { role, config, state: State::Boundary }
    }

    /// The keep-alive role given at construction.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits given at construction.
    #[must_use]
    pub fn config(&self) -> &FramerConfig {
        &self.config
    }

    /// `true` once [`Framer::decode`] has returned an error; the connection must be closed.
    #[must_use]
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// `true` when part of a message (not just keep-alive bytes) is buffered, e.g. to tell a
    /// clean EOF from a truncated message.
    #[must_use]
    pub fn in_message(&self) -> bool {
        matches!(self.state, State::Head { .. } | State::Body { .. })
    }

    /// Removes one complete frame from the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed (nothing is consumed, but the framer
    /// remembers how far it looked). Call it again after appending more bytes, and in a loop
    /// while it returns frames.
    ///
    /// # Errors
    ///
    /// A [`FramingError`] when the stream cannot be framed; the buffer is left as it was and
    /// every later call returns the same error. See the module documentation.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FramingError> {
        if let State::Failed(err) = &self.state {
            return Err(err.clone());
        }
        let result = self.step(buf);
        if let Err(err) = &result {
            self.state = State::Failed(err.clone());
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FramingError> {
        loop {
            match self.state {
                State::Failed(ref err) => return Err(err.clone()),
                State::Boundary => match self.boundary(buf)? {
                    BoundaryStep::Incomplete => return Ok(None),
                    BoundaryStep::Keepalive(frame, len) => {
                        let _ = buf.split_to(len);
                        return Ok(Some(frame));
                    }
                    BoundaryStep::MessageStart => self.state = State::Head { scanned: 0, line_start: 0 },
                },
                State::Head { scanned, line_start } => {
                    let limit = self.config.max_header_bytes.min(self.config.max_message_bytes);
                    match head::scan(buf, scanned, line_start, limit) {
                        HeadScan::Pending { scanned, line_start } => {
                            self.state = State::Head { scanned, line_start };
                            return Ok(None);
                        }
                        HeadScan::BareLineFeed(offset) => {
                            return Err(FramingError::BareLineFeed { offset, start_line: StartLineKind::classify(buf) });
                        }
                        HeadScan::BareCarriageReturn(offset) => {
                            return Err(FramingError::BareCarriageReturn { offset, start_line: StartLineKind::classify(buf) });
                        }
                        HeadScan::TooLarge => {
                            // Only the first `limit` bytes, so the answer does not depend on
                            // how much happened to be buffered.
                            let seen = buf.get(..limit).unwrap_or(buf);
                            return Err(FramingError::HeaderTooLarge { limit, start_line: StartLineKind::classify(seen) });
                        }
                        HeadScan::Complete { header_len } => {
                            self.state = State::Body { total: self.body_total(buf, header_len)? };
                        }
                    }
                }
                State::Body { total } => {
                    if buf.len() < total {
                        return Ok(None);
                    }
                    self.state = State::Boundary;
                    return Ok(Some(Frame::Message(buf.split_to(total).freeze())));
                }
            }
        }
    }

    /// Classifies the bytes at a message boundary.
    fn boundary(&self, buf: &[u8]) -> Result<BoundaryStep, FramingError> {
        let step = match buf {
            [] | [b'\r'] => BoundaryStep::Incomplete,
            [b'\r', b'\n', rest @ ..] => match self.role {
                Role::Client => BoundaryStep::Keepalive(Frame::Pong, 2),
                Role::Server => match rest {
                    [] | [b'\r'] => BoundaryStep::Incomplete,
                    [b'\r', b'\n', ..] => BoundaryStep::Keepalive(Frame::Ping, 4),
                    _ => BoundaryStep::Keepalive(Frame::Pong, 2),
                },
            },
            [b'\r', ..] => {
                return Err(FramingError::BareCarriageReturn { offset: 0, start_line: StartLineKind::Unknown });
            }
            [b'\n', ..] => {
                return Err(FramingError::BareLineFeed { offset: 0, start_line: StartLineKind::Unknown });
            }
            _ => BoundaryStep::MessageStart,
        };
        Ok(step)
    }

    /// Reads Content-Length from the complete header block `buf[..header_len]` and returns the
    /// total message length, enforcing the message size limit.
    fn body_total(&self, buf: &[u8], header_len: usize) -> Result<usize, FramingError> {
        let head = buf.get(..header_len).unwrap_or_default();
        let start_line = || StartLineKind::classify(head);
        let content_length = head::content_length(head).map_err(|problem| match problem {
            ContentLengthProblem::Missing => FramingError::MissingContentLength { header_len, start_line: start_line() },
            ContentLengthProblem::NotNumeric(offset) => {
                FramingError::ContentLengthNotNumeric { offset, header_len, start_line: start_line() }
            }
            ContentLengthProblem::Negative(offset) => FramingError::ContentLengthNegative { offset, header_len, start_line: start_line() },
            ContentLengthProblem::Overflow(offset) => FramingError::ContentLengthOverflow { offset, header_len, start_line: start_line() },
            ContentLengthProblem::Conflicting { offset, first, second } => {
                FramingError::ConflictingContentLength { offset, first, second, header_len, start_line: start_line() }
            }
        })?;
        match header_len.checked_add(content_length) {
            Some(total) if total <= self.config.max_message_bytes => Ok(total),
            _ => Err(FramingError::MessageTooLarge {
                header_len,
                content_length,
                limit: self.config.max_message_bytes,
                start_line: start_line(),
            }),
        }
    }
}
