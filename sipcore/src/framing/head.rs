//! Header-block scanning: finding the empty line incrementally, and reading Content-Length.

use memchr::{memchr, memchr_iter, memchr2};

/// Outcome of one incremental search for the end of the header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeadScan {
    /// No empty line yet; resume from these positions once more bytes arrived.
    Pending { scanned: usize, line_start: usize },
    /// The header block (ending with `CRLF CRLF`) is `buf[..header_len]`.
    Complete { header_len: usize },
    /// LF not preceded by CR at this offset.
    BareLineFeed(usize),
    /// CR not followed by LF at this offset.
    BareCarriageReturn(usize),
    /// The header block cannot end within the limit.
    TooLarge,
}

/// Continues the search for the empty line that ends the header block.
///
/// `buf` starts at the message's first byte. Bytes before `scanned` were already examined;
/// `line_start` is where the current line began. Every CR/LF is checked on the way, so bare
/// line terminators are found as soon as they arrive; the header block, including its final
/// `CRLF CRLF`, must fit in `limit` bytes.
pub(super) fn scan(buf: &[u8], scanned: usize, line_start: usize, limit: usize) -> HeadScan {
    let window_end = buf.len().min(limit);
    let mut pos = scanned;
    let mut line_start = line_start;
    loop {
        let window = buf.get(pos..window_end).unwrap_or_default();
        let Some(rel) = memchr2(b'\r', b'\n', window) else {
            if buf.len() >= limit {
                return HeadScan::TooLarge;
            }
            return HeadScan::Pending { scanned: window_end.max(pos), line_start };
        };
        let Some(at) = pos.checked_add(rel) else {
            return HeadScan::TooLarge;
        };
        if window.get(rel) == Some(&b'\n') {
            return HeadScan::BareLineFeed(at);
        }
        // A CR at `at`: the line (and the header block, if this is the empty line) ends at at + 2.
        let Some(line_end) = at.checked_add(2) else {
            return HeadScan::TooLarge;
        };
        if line_end > limit {
            return HeadScan::TooLarge;
        }
        match buf.get(at.saturating_add(1)) {
            None => {
                return HeadScan::Pending { scanned: at, line_start };
            }
            Some(b'\n') => {}
            Some(_) => return HeadScan::BareCarriageReturn(at),
        }
        if at == line_start {
            return HeadScan::Complete { header_len: line_end };
        }
        pos = line_end;
        line_start = line_end;
    }
}

/// Why the Content-Length of a complete header block is unusable; offsets are where the value
/// starts within the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ContentLengthProblem {
    Missing,
    NotNumeric(usize),
    Negative(usize),
    Overflow(usize),
    Conflicting { offset: usize, first: usize, second: usize },
}

fn is_wsp(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Finds the message's Content-Length in a complete header block (which has only CRLF line
/// ends and finishes with `CRLF CRLF`).
///
/// The start line is skipped; a header line that starts with SP/HT continues the previous
/// header (folding). The names `Content-Length` and `l` are matched case-insensitively, with
/// optional SP/HT before the colon.
pub(super) fn content_length(head: &[u8]) -> Result<usize, ContentLengthProblem> {
    let mut found: Option<usize> = None;
    // Value span [start, end) of the Content-Length header being assembled (it may be folded).
    let mut pending: Option<(usize, usize)> = None;
    let mut line_start = 0usize;
    let mut start_line = true;
    for lf in memchr_iter(b'\n', head) {
        let this_start = line_start;
        let line_end = lf.saturating_sub(1); // the CR before this LF
        line_start = lf.saturating_add(1);
        let line = head.get(this_start..line_end).unwrap_or_default();
        if start_line {
            start_line = false;
            continue;
        }
        if line.first().copied().is_some_and(is_wsp) {
            if let Some((_, end)) = &mut pending {
                *end = line_end;
            }
            continue;
        }
        if let Some((start, end)) = pending.take() {
            record(head, start, end, &mut found)?;
        }
        if line.is_empty() {
            break;
        }
        if let Some(colon) = memchr(b':', line) {
            let name = line.get(..colon).unwrap_or_default();
            let name_len = name.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i.saturating_add(1));
            let name = name.get(..name_len).unwrap_or_default();
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                pending = Some((this_start.saturating_add(colon).saturating_add(1), line_end));
            }
        }
    }
    if let Some((start, end)) = pending {
        record(head, start, end, &mut found)?;
    }
    found.ok_or(ContentLengthProblem::Missing)
}

/// Parses one (possibly folded) Content-Length value at `head[start..end]` and merges it into
/// `found`.
fn record(head: &[u8], start: usize, end: usize, found: &mut Option<usize>) -> Result<(), ContentLengthProblem> {
    let raw = head.get(start..end).unwrap_or_default();
    let is_lws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let lead = raw.iter().take_while(|b| is_lws(b)).count();
    let value = raw.get(lead..).unwrap_or_default();
    let trail = value.iter().rev().take_while(|b| is_lws(b)).count();
    let value = value.get(..value.len().saturating_sub(trail)).unwrap_or_default();
    let offset = start.saturating_add(lead);

    if let Some(digits) = value.strip_prefix(b"-") {
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            return Err(ContentLengthProblem::Negative(offset));
        }
        return Err(ContentLengthProblem::NotNumeric(offset));
    }
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(ContentLengthProblem::NotNumeric(offset));
    }
    let mut length = 0usize;
    for &digit in value {
        length =
            length.checked_mul(10).and_then(|l| l.checked_add(usize::from(digit - b'0'))).ok_or(ContentLengthProblem::Overflow(offset))?;
    }
    match *found {
        None => *found = Some(length),
        Some(first) if first != length => {
            return Err(ContentLengthProblem::Conflicting { offset, first, second: length });
        }
        Some(_) => {}
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn scan_resumes_where_it_stopped() {
        let msg = b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n";
        let mut scanned = 0;
        let mut line_start = 0;
        for len in 1..msg.len() {
            match scan(&msg[..len], scanned, line_start, 1000) {
                HeadScan::Pending { scanned: s, line_start: l } => {
                    assert!(s >= scanned && s <= len);
                    scanned = s;
                    line_start = l;
                }
                other => panic!("unexpected {other:?} at {len}"),
            }
        }
        assert_eq!(scan(msg, scanned, line_start, 1000), HeadScan::Complete { header_len: msg.len() });
    }

    #[test]
    fn scan_limit_is_inclusive() {
        let msg = b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n";
        assert_eq!(scan(msg, 0, 0, msg.len()), HeadScan::Complete { header_len: msg.len() });
        assert_eq!(scan(msg, 0, 0, msg.len() - 1), HeadScan::TooLarge);
    }

    #[test]
    fn content_length_forms() {
        let ok = |h: &str| content_length(h.as_bytes());
        assert_eq!(ok("A sip:b SIP/2.0\r\nContent-Length: 12\r\n\r\n"), Ok(12));
        assert_eq!(ok("A sip:b SIP/2.0\r\ncontent-length:7\r\n\r\n"), Ok(7));
        assert_eq!(ok("A sip:b SIP/2.0\r\nL \t: 0003 \r\n\r\n"), Ok(3));
        assert_eq!(ok("A sip:b SIP/2.0\r\nContent-Length:\r\n \t 9\r\n\r\n"), Ok(9));
        assert_eq!(ok("A sip:b SIP/2.0\r\nContent-Length: 9\r\n\t\r\nX: y\r\n\r\n"), Ok(9));
        assert_eq!(ok("A sip:b SIP/2.0\r\nl: 4\r\nContent-Length: 4\r\n\r\n"), Ok(4));
        // Names that merely contain the word, and the start line, do not count.
        assert_eq!(ok("Content-Length: 5\r\nX-Content-Length: 4\r\nll: 3\r\n\r\n"), Err(ContentLengthProblem::Missing));
        assert_eq!(ok("A sip:b SIP/2.0\r\nContent-Length: 4\r\n 2\r\n\r\n"), Err(ContentLengthProblem::NotNumeric(33)));
        assert_eq!(ok("A sip:b SIP/2.0\r\nl: -\r\n\r\n"), Err(ContentLengthProblem::NotNumeric(20)));
        assert_eq!(ok("A sip:b SIP/2.0\r\nl:\r\n\r\n"), Err(ContentLengthProblem::NotNumeric(19)));
    }
}
