//! The message parser (RFC 3261 §7, §25). One pass over the header section finds
//! lines; values are slices of the input buffer except where folded lines had to
//! be joined. The start line is read first (so a SIP/7.0 request is answered 505
//! before its SIP/7.0 Via could make it a 400), then the header lines (see
//! [`super::head`]), which check what the transaction layer and registrar rely on,
//! so a message that parses is safe to route.

use super::head::HeaderReader;
use super::{Message, Method, Request, Response, uri::Uri};
use crate::chars;
use crate::error::{ErrorKind, ParseError};
use crate::text::split_byte;
use bytes::Bytes;
use bytestring::ByteString;
use memchr::memmem;
use std::sync::LazyLock;

/// How much of a message is checked for UTF-8 in one go when the header
/// section's length is not known yet (a larger body is not checked at all).
const FAST_WINDOW: usize = 4096;

/// The empty line that ends the header section.
static HEAD_END: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));

/// Parses one complete message: a datagram, or one frame cut by
/// [`crate::framing`]. Leading CRLFs are skipped (RFC 3261 §7.5). Without a
/// Content-Length the body is everything after the header section (datagrams,
/// §18.3); with one, bytes past it are ignored and a shorter body is an error
/// reported at the Content-Length value.
pub fn parse(raw: Bytes) -> Result<Message, ParseError> {
    let skip = raw.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let rest = raw.get(skip..).unwrap_or_default();
    // Usually the message, or its first FAST_WINDOW bytes, is UTF-8 (a text
    // body or none): one check then covers the header section, and the header
    // reader finds where it ends. A binary body, a header section longer than
    // the window, or any error in a cut window, takes the path below, which
    // reports the problem that comes first: no header end, then bad UTF-8,
    // then the rest.
    let window = rest.len().min(FAST_WINDOW);
    if let Ok(text) = ByteString::try_from(raw.slice(skip..skip + window)) {
        match parse_text(&raw, skip, text, None) {
            Ok(message) => return Ok(message),
            Err(e) if window == rest.len() => {
                return Err(match HEAD_END.find(rest) {
                    Some(_) => e,
                    None => ParseError::new(raw.len(), ErrorKind::NoHeaderEnd),
                });
            }
            Err(_) => {}
        }
    }
    let head_len = HEAD_END.find(rest).ok_or(ParseError::new(raw.len(), ErrorKind::NoHeaderEnd))? + 2;
    let head = ByteString::try_from(raw.slice(skip..skip + head_len)).map_err(|_| {
        let valid = std::str::from_utf8(rest.get(..head_len).unwrap_or_default()).map_or_else(|e| e.valid_up_to(), |s| s.len());
        ParseError::new(skip + valid, ErrorKind::Utf8)
    })?;
    parse_text(&raw, skip, head, Some(head_len))
}

/// Parses the message whose text after the leading CRLFs (`skip` bytes of
/// `raw`) starts `text`: exactly the header section when `head_len` is
/// given, else the header section and what follows it.
fn parse_text(raw: &Bytes, skip: usize, head: ByteString, head_len: Option<usize>) -> Result<Message, ParseError> {
    let line_end = chars::find(b'\n', head.as_bytes()).unwrap_or(head.len());
    if head.as_bytes().get(line_end.wrapping_sub(1)) != Some(&b'\r') {
        return Err(ParseError::new(skip + line_end, ErrorKind::LineEnding));
    }
    let start_line = head.get(..line_end - 1).unwrap_or("");
    let start = if is_sip_version_prefix(start_line) {
        let (status, reason) = status_line(start_line, skip)?;
        Start::Status((status, head.slice_ref(reason)))
    } else {
        Start::Request(request_line(&head, start_line, skip)?)
    };
    let method = match &start {
        Start::Request((m, _)) => Some(m),
        Start::Status(_) => None,
    };
    let mut reader = HeaderReader::new(skip, method);
    let end = reader.read(&head, line_end + 1)?;
    let head_len = match head_len {
        Some(n) => n,
        // The reader stopped at the empty line, or ran out of text without one.
        None if head.as_bytes().get(end..end + 2) == Some(b"\r\n") => end,
        None => return Err(ParseError::new(raw.len(), ErrorKind::NoHeaderEnd)),
    };
    let (headers, content_length) = reader.finish(skip + head_len, head)?;
    let body_at = skip + head_len + 2;
    let available = raw.len() - body_at;
    let body = match content_length {
        Some((n, at)) if n > available => return Err(ParseError::new(at, ErrorKind::Truncated)),
        Some((n, _)) => raw.slice(body_at..body_at + n),
        None => raw.slice(body_at..),
    };
    Ok(match start {
        Start::Status((status, reason)) => Message::Response(Response { status, reason, headers, body }),
        Start::Request((method, uri)) => Message::Request(Request { method, uri, headers, body }),
    })
}

enum Start {
    Request((Method, ByteString)),
    Status((u16, ByteString)),
}

/// `SIP/` in any case. `| 0x20` folds the letters only: no other byte
/// becomes `s`, `i` or `p`.
fn is_sip_version_prefix(line: &str) -> bool {
    matches!(line.as_bytes(), [s, i, p, b'/', ..] if [*s | 0x20, *i | 0x20, *p | 0x20] == *b"sip")
}

fn check_version(v: &str, at: usize) -> Result<(), ParseError> {
    if v.len() == 7 && is_sip_version_prefix(v) && v.as_bytes().get(4..) == Some(b"2.0") {
        Ok(())
    } else if is_sip_version_prefix(v) {
        Err(ParseError::new(at, ErrorKind::Version))
    } else {
        Err(ParseError::new(at, ErrorKind::StartLine("no SIP-Version")))
    }
}

fn start_err(at: usize, why: &'static str) -> ParseError {
    ParseError::new(at, ErrorKind::StartLine(why))
}

/// `Method SP Request-URI SP SIP-Version`, single spaces and nothing after the
/// version (§7.1; RFC 4475 lwsstart, lwsruri, trws). Errors point at the
/// offending character.
fn request_line(head: &ByteString, line: &str, base: usize) -> Result<(Method, ByteString), ParseError> {
    let b = line.as_bytes();
    if let Some(&(b' ' | b'\t')) = b.last() {
        let body = b.iter().rposition(|&c| c != b' ' && c != b'\t').map_or(0, |i| i + 1);
        return Err(start_err(base + body, "white space after SIP-Version"));
    }
    let (Some(sp1), Some(sp2)) = (chars::find(b' ', b), chars::rfind(b' ', b)) else {
        return Err(start_err(base + line.len(), "expected Method SP Request-URI SP SIP-Version"));
    };
    let (method, version) = (line.get(..sp1).unwrap_or(""), line.get(sp2 + 1..).unwrap_or(""));
    let method = Method::from_buf(head, method).ok_or(ParseError::new(base, ErrorKind::Method))?;
    check_version(version, base + sp2 + 1)?;
    if sp1 == sp2 {
        return Err(start_err(base + sp1, "expected Method SP Request-URI SP SIP-Version"));
    }
    let uri_at = sp1 + 1;
    let uri = line.get(uri_at..sp2).unwrap_or("");
    if let Some(ws) = chars::find2(b' ', b'\t', uri.as_bytes()) {
        return Err(start_err(base + uri_at + ws, "white space in or around the Request-URI"));
    }
    let parsed = Uri::parse(uri).map_err(|e| e.shifted(base + uri_at))?;
    if let Some(h) = parsed.headers {
        // §19.1.1, Table 1: headers are not allowed in a Request-URI (RFC 4475 escruri).
        let q = uri.len() - h.len() - 1;
        return Err(ParseError::new(base + uri_at + q, ErrorKind::Uri("headers not allowed in a Request-URI")));
    }
    Ok((method, head.slice_ref(uri)))
}

/// `SIP-Version SP Status-Code SP Reason-Phrase` (§7.2).
fn status_line(line: &str, base: usize) -> Result<(u16, &str), ParseError> {
    let (version, rest) = split_byte(line, b' ').ok_or(start_err(base + line.len(), "no Status-Code"))?;
    check_version(version, base)?;
    let (code, reason) = split_byte(rest, b' ').unwrap_or((rest, ""));
    let code_at = base + version.len() + 1;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(start_err(code_at, "Status-Code is not 3 digits"));
    }
    let status: u16 = code.parse().map_err(|_| start_err(code_at, "bad Status-Code"))?;
    if !(100..=699).contains(&status) {
        return Err(start_err(code_at, "Status-Code out of range"));
    }
    if let Some(bad) = reason.bytes().position(|b| b.is_ascii_control() && b != b'\t') {
        return Err(start_err(code_at + 4 + bad, "control character in Reason-Phrase"));
    }
    Ok((status, reason))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::message::HeaderName;

    fn message(extra_headers: &str, body: &str) -> Vec<u8> {
        format!(
            "\r\nMESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\n\
             To: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn version_checks_agree_with_case_insensitive_compares() {
        for base in ["SIP/2.0", "SIP/2.00", "SIP/2.", "SIP/", "SIP"] {
            for at in 0..base.len() {
                for b in 0..0x80u8 {
                    let mut v = base.as_bytes().to_vec();
                    v[at] = b;
                    let v = String::from_utf8(v).unwrap();
                    assert_eq!(check_version(&v, 0).is_ok(), v.eq_ignore_ascii_case("SIP/2.0"), "{v:?}");
                    let prefix = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
                    assert_eq!(is_sip_version_prefix(&v), prefix, "{v:?}");
                }
            }
        }
    }

    #[test]
    fn long_heads_and_bodies_either_side_of_the_utf8_window() {
        let long_header = format!("Subject: {}\r\n", "s".repeat(FAST_WINDOW));
        for (extra, body) in
            [("", "x".repeat(3 * FAST_WINDOW)), (long_header.as_str(), String::from("hi")), (long_header.as_str(), "é".repeat(FAST_WINDOW))]
        {
            let raw = message(extra, &body);
            let Message::Request(r) = parse(Bytes::from(raw)).unwrap() else { panic!("a request") };
            assert_eq!(r.body, body.as_bytes(), "{}", extra.len());
            assert_eq!(r.headers.get(&HeaderName::CallId), Some("c1"));
        }
        // A multi-byte character in the body, cut by the window somewhere here.
        for pad in FAST_WINDOW - 300..FAST_WINDOW {
            let body = format!("{}é tail", "x".repeat(pad));
            let Message::Request(r) = parse(Bytes::from(message("", &body))).unwrap() else { panic!("a request") };
            assert_eq!(r.body, body.as_bytes());
        }
    }

    #[test]
    fn errors_past_the_window_are_the_careful_paths() {
        let long_header = format!("Subject: {}\r\n", "s".repeat(FAST_WINDOW));
        // A bad header beyond the window, and no header end at all.
        let raw = message(&format!("{long_header}Max-Forwards: x\r\n"), "");
        let at = raw.windows(15).position(|w| w == b"Max-Forwards: x").unwrap() + 14;
        assert_eq!(parse(Bytes::from(raw)).unwrap_err().offset, at);
        let mut raw = message(&long_header, "");
        raw.truncate(raw.len() - 2);
        assert_eq!(parse(Bytes::from(raw.clone())).unwrap_err().kind, ErrorKind::NoHeaderEnd);
        // No header end in a short message outranks a bad start line.
        assert_eq!(parse(Bytes::from_static(b"BAD\r\nVia: x\r\n")).unwrap_err().kind, ErrorKind::NoHeaderEnd);
        // Bad UTF-8 in the head is reported where it starts, body or not.
        let mut raw = message("Subject: \u{e9}\r\n", "\u{0}\u{ff}");
        let at = raw.windows(2).position(|w| w == "é".as_bytes()).unwrap();
        raw[at] = 0xff;
        assert_eq!(parse(Bytes::from(raw)).unwrap_err(), ParseError::new(at, ErrorKind::Utf8));
    }
}
