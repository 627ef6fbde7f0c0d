//! Header lines (RFC 3261 §7.3): CRLF line ends, unfolding, name lookup and the
//! per-header checks, plus the facts the message parser needs — Content-Length,
//! the headers §8.1.1 requires, single-valued headers that must not repeat
//! (RFC 4475 multi01) and the CSeq method (mismatch01).

use super::{Headers, Method, name::HeaderName};
use crate::chars;
use crate::error::{ErrorKind, ParseError};
use crate::headers::{CSeq, validate_value};
use crate::text::{leading_ws, trim};
use bytestring::ByteString;
use std::borrow::Cow;

/// The headers a request or response must carry (§8.1.1), as bits of `seen`.
const REQUIRED: [(u8, &str); 5] = [(VIA, "Via"), (FROM, "From"), (TO, "To"), (CALL_ID, "Call-ID"), (CSEQ, "CSeq")];
const VIA: u8 = 1;
const FROM: u8 = 2;
const TO: u8 = 4;
const CALL_ID: u8 = 8;
const CSEQ: u8 = 16;
const MAX_FORWARDS: u8 = 32;

/// Room in a parsed message's header list: 20 entries of 48 bytes is one
/// allocation under 1 KiB, which glibc serves from its per-thread cache (a
/// larger one costs about five times as much to allocate and free).
const PARSED_CAPACITY: usize = 20;

/// Reads the header lines of one message.
pub(super) struct HeaderReader<'m> {
    /// Offset of the header section's buffer in the message.
    base: usize,
    /// The request method, to check CSeq against; `None` for a response.
    method: Option<&'m Method>,
    headers: Headers,
    /// (value, offset of the value in the message).
    content_length: Option<(usize, usize)>,
    seen: u8,
}

/// Maps an offset inside a (possibly joined) value to one in the head.
fn locate(at: usize, pieces: Option<&[(usize, usize)]>, off: usize) -> usize {
    match pieces.and_then(|p| p.iter().rev().find(|(t, _)| *t <= off)) {
        Some((t, h)) => h + (off - t),
        None => at + off,
    }
}

/// The index of the first byte at or after `i` that is not SP or HT.
#[inline]
fn skip_wsp(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// The `seen` bit of a header the reader tracks (0 for the others), from a
/// small table rather than a jump per header line.
#[inline]
fn seen_bit(name: &HeaderName) -> u8 {
    match name {
        HeaderName::Via => VIA,
        HeaderName::From => FROM,
        HeaderName::To => TO,
        HeaderName::CallId => CALL_ID,
        HeaderName::MaxForwards => MAX_FORWARDS,
        _ => 0,
    }
}

impl<'m> HeaderReader<'m> {
    pub(super) fn new(base: usize, method: Option<&'m Method>) -> Self {
        Self { base, method, headers: Headers::with_capacity(PARSED_CAPACITY), content_length: None, seen: 0 }
    }

    /// Reads every header from `from` up to the empty line or the end of `head`
    /// (which ends in CRLF), and returns where it stopped.
    pub(super) fn read(&mut self, head: &ByteString, from: usize) -> Result<usize, ParseError> {
        let text: &str = head;
        let bytes = text.as_bytes();
        let mut pos = from;
        while let Some(line) = bytes.get(pos..).filter(|l| !l.is_empty() && !l.starts_with(b"\r\n")) {
            // A known name stays a reference into the name table until it is
            // stored; an extension name is moved into the list (a clone would
            // allocate its box again).
            let (name, at): (Cow<'static, HeaderName>, usize) = match HeaderName::scan_known(line) {
                // `scan_known` found the colon right after the name.
                Some((name, len)) => (Cow::Borrowed(name), skip_wsp(bytes, pos + len + 1)),
                None => {
                    let len = chars::first_not(line, chars::TOKEN).unwrap_or(line.len());
                    let at = self.field_start(bytes, pos, len)?;
                    (Cow::Owned(HeaderName::from_buf(head, pos, len)), at)
                }
            };
            let end = self.line_end(bytes, at)?;
            let mut value_end = end;
            while value_end > at && matches!(bytes.get(value_end - 1), Some(b' ' | b'\t')) {
                value_end -= 1;
            }
            let value = text.get(at..value_end).unwrap_or("");
            let mut next = end + 2;
            if !matches!(bytes.get(next), Some(b' ' | b'\t')) {
                self.check(&name, pos, at, value, None)?;
                self.headers.push_span(name.into_owned(), at, value_end, head);
            } else {
                // Folded continuation lines (§7.3.1) are joined to the value with one SP.
                let mut text = value.to_owned();
                let mut pieces = vec![(0, at)];
                while bytes.get(next).is_some_and(|&b| b == b' ' || b == b'\t') {
                    let cont_end = self.line_end(bytes, next)?;
                    let line = head.get(next..cont_end).unwrap_or("");
                    let more = trim(line);
                    if !more.is_empty() {
                        if !text.is_empty() {
                            text.push(' ');
                        }
                        let lead = leading_ws(line);
                        pieces.push((text.len(), next + lead));
                        text.push_str(more);
                    }
                    next = cont_end + 2;
                }
                self.check(&name, pos, at, &text, Some(&pieces))?;
                self.headers.push(name.into_owned(), text);
            }
            pos = next;
        }
        Ok(pos)
    }

    /// The offset of the CR of the CRLF that ends the line starting at `pos`; a
    /// bare CR or LF is an error at its own offset.
    #[inline]
    fn line_end(&self, bytes: &[u8], pos: usize) -> Result<usize, ParseError> {
        let rest = bytes.get(pos..).unwrap_or_default();
        match chars::find2(b'\r', b'\n', rest) {
            Some(i) if rest.get(i + 1) == Some(&b'\n') && rest.get(i) == Some(&b'\r') => Ok(pos + i),
            Some(i) => Err(ParseError::new(self.base + pos + i, ErrorKind::LineEnding)),
            None => Err(ParseError::new(self.base + bytes.len(), ErrorKind::LineEnding)),
        }
    }

    /// `field-name HCOLON` at `pos`, where the name (a token) is `name_len`
    /// bytes: white space may precede the colon. Returns the offset of the
    /// value (after the white space that follows the colon). A bad line end on
    /// the line is reported before a bad name.
    #[inline]
    fn field_start(&self, bytes: &[u8], pos: usize, name_len: usize) -> Result<usize, ParseError> {
        let colon = skip_wsp(bytes, pos + name_len);
        if name_len == 0 || bytes.get(colon) != Some(&b':') {
            self.line_end(bytes, pos)?;
            return Err(ParseError::new(self.base + pos + name_len, ErrorKind::HeaderName));
        }
        Ok(skip_wsp(bytes, colon + 1))
    }

    /// Checks one header before it is appended. `pieces` maps a joined (folded)
    /// value back to the lines it came from.
    #[inline(always)]
    fn check(
        &mut self,
        name: &HeaderName,
        line_at: usize,
        at: usize,
        value: &str,
        pieces: Option<&[(usize, usize)]>,
    ) -> Result<(), ParseError> {
        let base = self.base;
        let relocate = |mut e: ParseError| {
            e.offset = base + locate(at, pieces, e.offset);
            e
        };
        let once = |seen: &mut u8, bit: u8| {
            if *seen & bit != 0 {
                return Err(ParseError::value(base + line_at, name.static_name(), "appears more than once"));
            }
            *seen |= bit;
            Ok(())
        };
        match name {
            HeaderName::ContentLength => {
                let n = crate::headers::content_length(value).map_err(relocate)?;
                if self.content_length.is_some_and(|(old, _)| old != n) {
                    return Err(ParseError::value(base + at, "Content-Length", "conflicting values"));
                }
                self.content_length = Some((n, base + at));
            }
            HeaderName::CSeq => {
                once(&mut self.seen, CSEQ)?;
                let cseq = CSeq::parse(value).map_err(relocate)?;
                if self.method.is_some_and(|m| *m != cseq.method) {
                    let method_at = locate(at, pieces, value.len() - cseq.method.as_str().len());
                    return Err(ParseError::value(base + method_at, "CSeq", "method does not match the request line"));
                }
            }
            other => {
                validate_value(other, value).map_err(relocate)?;
                match seen_bit(other) {
                    VIA => self.seen |= VIA,
                    0 => {}
                    bit => once(&mut self.seen, bit)?,
                }
            }
        }
        Ok(())
    }

    /// Checks that the required headers were present; `end` is the offset of the
    /// empty line that closes the header section (where a missing header is
    /// reported). `head` is the buffer that was read.
    pub(super) fn finish(mut self, end: usize, head: ByteString) -> Result<(Headers, Option<(usize, usize)>), ParseError> {
        if let Some((_, name)) = REQUIRED.iter().find(|(bit, _)| self.seen & bit == 0) {
            return Err(ParseError::new(end, ErrorKind::MissingHeader(name)));
        }
        self.headers.attach(head);
        Ok((self.headers, self.content_length))
    }
}
