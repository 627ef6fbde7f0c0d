//! Splitting an SDP body into `<type>=<value>` lines without losing a byte:
//! each line keeps its own ending (CRLF, LF, or none on the last line) so a
//! rewrite can pass it through untouched.

use super::{MAX_SDP, SdpError};

/// One `<type>=<value>` line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    /// 1-based line number, for errors.
    pub(super) number: usize,
    /// The type letter (`v`, `o`, `c`, `m`, `a`…).
    pub(super) kind: u8,
    /// What follows `=`, without the line ending.
    pub(super) value: &'a [u8],
    /// The whole line including its ending, as received.
    pub(super) raw: &'a [u8],
    /// `\r\n`, `\n`, or empty for a last line without an ending.
    pub(super) ending: &'a [u8],
}

impl Line<'_> {
    /// The value as text; the structural lines the switch reads must be UTF-8 (ASCII in practice).
    pub(super) fn text(&self) -> Result<&str, SdpError> {
        std::str::from_utf8(self.value).map_err(|_| SdpError::line(self.number, "not UTF-8"))
    }

    pub(super) fn err(&self, why: &'static str) -> SdpError {
        SdpError::line(self.number, why)
    }
}

/// A body split into lines, plus trailing blank lines (kept verbatim).
#[derive(Debug)]
pub(super) struct Lines<'a> {
    pub(super) lines: Vec<Line<'a>>,
    pub(super) tail: &'a [u8],
}

/// Splits `body` into lines, checking the line grammar: a lowercase type letter,
/// `=`, no NUL and no bare CR; blank lines only at the very end.
pub(super) fn split(body: &[u8]) -> Result<Lines<'_>, SdpError> {
    if body.len() > MAX_SDP {
        return Err(SdpError::TooLarge(body.len()));
    }
    let mut lines = Vec::new();
    let mut rest = body;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let (raw, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest.split_at(i + 1),
            None => (rest, &[][..]),
        };
        let ending_len = if raw.ends_with(b"\r\n") {
            2
        } else if raw.ends_with(b"\n") {
            1
        } else {
            0
        };
        let (content, ending) = raw.split_at(raw.len() - ending_len);
        if content.is_empty() {
            // Trailing blank lines are harmless (some stacks add one); anything after them is not SDP.
            if only_line_endings(rest) {
                return Ok(Lines { lines, tail: rest });
            }
            return Err(SdpError::line(number, "blank line inside the body"));
        }
        if content.iter().any(|&b| b == b'\r' || b == 0) {
            return Err(SdpError::line(number, "bare CR or NUL in line"));
        }
        let (kind, value) = match content {
            [kind @ b'a'..=b'z', b'=', value @ ..] => (*kind, value),
            _ => return Err(SdpError::line(number, "line is not <letter>=<value>")),
        };
        lines.push(Line { number, kind, value, raw, ending });
        rest = after;
    }
    Ok(Lines { lines, tail: &[] })
}

/// Space-separated fields of a value with their byte offsets, so a rewrite can
/// replace one field and keep the rest of the line exactly.
pub(super) fn fields(value: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let rest = value.get(pos..)?;
        let start = pos + rest.iter().position(|&b| b != b' ')?;
        let len = value.get(start..)?.iter().position(|&b| b == b' ').unwrap_or(value.len() - start);
        pos = start + len;
        Some((start, value.get(start..pos)?))
    })
}

/// True when `rest` is nothing but CRLF/LF line endings (trailing blank lines).
fn only_line_endings(mut rest: &[u8]) -> bool {
    while !rest.is_empty() {
        rest = match rest {
            [b'\r', b'\n', after @ ..] | [b'\n', after @ ..] => after,
            _ => return false,
        };
    }
    true
}
