//! The message parser (RFC 3261 §7, §25). One pass over the header section finds
//! lines; values are slices of the input buffer except where folded lines had to
//! be joined. The headers the transaction layer and registrar rely on are checked
//! against their grammar here, so a message that parses is safe to route.

use super::{Headers, Message, Method, Request, Response, name::HeaderName, uri::Uri};
use crate::error::{ErrorKind, ParseError};
use crate::headers::validate_value;
use crate::text::is_token_byte;
use bytes::Bytes;
use bytestring::ByteString;
use memchr::memmem;

/// Parses one complete message: a datagram, or one frame cut by
/// [`crate::framing`]. Leading CRLFs are skipped (RFC 3261 §7.5). Without a
/// Content-Length the body is everything after the header section (datagrams,
/// §18.3); with one, bytes past it are ignored and a shorter body is an error.
pub fn parse(raw: Bytes) -> Result<Message, ParseError> {
    let skip = raw.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let rest = raw.get(skip..).unwrap_or_default();
    let head_len = memmem::find(rest, b"\r\n\r\n").ok_or(ParseError::new(raw.len(), ErrorKind::NoHeaderEnd))? + 2;
    let head = ByteString::try_from(raw.slice(skip..skip + head_len)).map_err(|_| {
        let valid = std::str::from_utf8(rest.get(..head_len).unwrap_or_default()).map_or_else(|e| e.valid_up_to(), |s| s.len());
        ParseError::new(skip + valid, ErrorKind::Utf8)
    })?;
    let body_at = skip + head_len + 2;
    let line_end = head.find("\r\n").unwrap_or(head.len());
    let start_line = head.get(..line_end).unwrap_or("");
    let mut headers = Headers::new();
    let content_length = read_headers(&head, line_end + 2, skip, &mut headers)?;
    let available = raw.len() - body_at;
    let body = match content_length {
        Some(n) if n > available => return Err(ParseError::new(raw.len(), ErrorKind::Truncated)),
        Some(n) => raw.slice(body_at..body_at + n),
        None => raw.slice(body_at..),
    };
    let msg = if is_sip_version_prefix(start_line) {
        let (status, reason) = status_line(start_line, skip)?;
        Message::Response(Response { status, reason: head.slice_ref(reason), headers, body })
    } else {
        let (method, uri) = request_line(&head, start_line, skip)?;
        Message::Request(Request { method, uri, headers, body })
    };
    check_required(&msg, skip + line_end)?;
    Ok(msg)
}

fn is_sip_version_prefix(line: &str) -> bool {
    line.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
}

fn check_version(v: &str, at: usize) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        Ok(())
    } else if is_sip_version_prefix(v) {
        Err(ParseError::new(at, ErrorKind::Version))
    } else {
        Err(ParseError::new(at, ErrorKind::StartLine("no SIP-Version")))
    }
}

/// `Method SP Request-URI SP SIP-Version`, single spaces (§7.1).
fn request_line(head: &ByteString, line: &str, base: usize) -> Result<(Method, ByteString), ParseError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ParseError::new(base, ErrorKind::StartLine("expected Method SP Request-URI SP SIP-Version")));
    };
    let uri_at = base + method.len() + 1;
    let version_at = uri_at + uri.len() + 1;
    let method = Method::from_shared(&head.slice_ref(method)).ok_or(ParseError::new(base, ErrorKind::Method))?;
    check_version(version, version_at)?;
    Uri::parse(uri).map_err(|e| e.shifted(uri_at))?;
    Ok((method, head.slice_ref(uri)))
}

/// `SIP-Version SP Status-Code SP Reason-Phrase` (§7.2).
fn status_line(line: &str, base: usize) -> Result<(u16, &str), ParseError> {
    let (version, rest) = line.split_once(' ').ok_or(ParseError::new(base, ErrorKind::StartLine("no Status-Code")))?;
    check_version(version, base)?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let code_at = base + version.len() + 1;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(code_at, ErrorKind::StartLine("Status-Code is not 3 digits")));
    }
    let status: u16 = code.parse().map_err(|_| ParseError::new(code_at, ErrorKind::StartLine("bad Status-Code")))?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::new(code_at, ErrorKind::StartLine("Status-Code out of range")));
    }
    if let Some(bad) = reason.bytes().position(|b| b.is_ascii_control() && b != b'\t') {
        return Err(ParseError::new(code_at + 4 + bad, ErrorKind::StartLine("control character in Reason-Phrase")));
    }
    Ok((status, reason))
}

/// A header line being collected; folding may extend it.
struct Pending {
    name: HeaderName,
    /// Offset of the value in `head`.
    at: usize,
    value: ByteString,
    folded: Option<String>,
}

/// Reads header lines from `from` to the end of `head` into `out`; returns the
/// Content-Length if one was given. `base` turns offsets in `head` into offsets
/// in the message.
fn read_headers(head: &ByteString, from: usize, base: usize, out: &mut Headers) -> Result<Option<usize>, ParseError> {
    let mut content_length: Option<usize> = None;
    let mut pending: Option<Pending> = None;
    let mut pos = from;
    while pos < head.len() {
        let end = memchr::memchr(b'\n', head.as_bytes().get(pos..).unwrap_or_default()).map_or(head.len(), |i| pos + i);
        if head.as_bytes().get(end.wrapping_sub(1)) != Some(&b'\r') || end == pos {
            return Err(ParseError::new(base + end, ErrorKind::HeaderName));
        }
        let line = head.get(pos..end - 1).unwrap_or("");
        if line.starts_with([' ', '\t']) {
            // Folded continuation (§7.3.1): joined to the value with one SP.
            let p = pending.as_mut().ok_or(ParseError::new(base + pos, ErrorKind::HeaderName))?;
            let more = crate::text::trim(line);
            if !more.is_empty() {
                let joined = p.folded.get_or_insert_with(|| p.value.to_string());
                if !joined.is_empty() {
                    joined.push(' ');
                }
                joined.push_str(more);
            }
        } else {
            if let Some(p) = pending.take() {
                finish(p, base, out, &mut content_length)?;
            }
            pending = Some(start_header(head, line, pos, base)?);
        }
        pos = end + 1;
    }
    if let Some(p) = pending.take() {
        finish(p, base, out, &mut content_length)?;
    }
    Ok(content_length)
}

/// `field-name HCOLON field-value`: the name is a token; white space may precede the colon.
fn start_header(head: &ByteString, line: &str, pos: usize, base: usize) -> Result<Pending, ParseError> {
    let name_len = line.bytes().take_while(|&b| is_token_byte(b)).count();
    let after = line.get(name_len..).unwrap_or("");
    let colon = after.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
    if name_len == 0 || after.as_bytes().get(colon) != Some(&b':') {
        return Err(ParseError::new(base + pos, ErrorKind::HeaderName));
    }
    let name = HeaderName::from_shared(&head.slice_ref(line.get(..name_len).unwrap_or("")));
    let raw_value = after.get(colon + 1..).unwrap_or("");
    let value = crate::text::trim(raw_value);
    let at = pos + name_len + colon + 1 + (raw_value.len() - raw_value.trim_start_matches([' ', '\t']).len());
    Ok(Pending { name, at, value: head.slice_ref(value), folded: None })
}

fn finish(p: Pending, base: usize, out: &mut Headers, content_length: &mut Option<usize>) -> Result<(), ParseError> {
    let value = match p.folded {
        Some(s) => ByteString::from(s),
        None => p.value,
    };
    let at = base + p.at;
    validate_value(&p.name, &value).map_err(|e| e.shifted(at))?;
    if p.name == HeaderName::ContentLength {
        let n: usize = value.parse().map_err(|_| ParseError::value(at, "Content-Length", "not a number"))?;
        if content_length.is_some_and(|old| old != n) {
            return Err(ParseError::value(at, "Content-Length", "conflicting values"));
        }
        *content_length = Some(n);
    }
    out.push(p.name, value);
    Ok(())
}

/// RFC 3261 §8.1.1: To, From, CSeq, Call-ID and Via must be present; the CSeq
/// method must match the request method (§8.2.1 answers a mismatch with 400).
fn check_required(msg: &Message, at: usize) -> Result<(), ParseError> {
    let h = msg.headers();
    for name in [HeaderName::Via, HeaderName::From, HeaderName::To, HeaderName::CallId, HeaderName::CSeq] {
        if !h.contains(&name) {
            return Err(ParseError::new(at, ErrorKind::MissingHeader(name.static_name())));
        }
    }
    if let Message::Request(req) = msg {
        let cseq = crate::headers::CSeq::read(h)?;
        if cseq.method != req.method {
            return Err(ParseError::value(at, "CSeq", "method does not match the request line"));
        }
    }
    Ok(())
}
