//! Framing errors and the SIP response they call for.

use memchr::memchr2;

/// What the first bytes of the offending message look like, so the driver knows whether a
/// response may be sent before closing (never answer a response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLineKind {
    /// `Method SP ...` (and, when the whole line is there, `... SP SIP/x.y`).
    Request,
    /// Starts with `SIP/`.
    Response,
    /// Neither, or too little of it is known.
    Unknown,
}

impl StartLineKind {
    /// Classifies the start of a message (`msg[0]` is its first byte).
    #[must_use]
    pub fn classify(msg: &[u8]) -> Self {
        let (line, complete) = match memchr2(b'\r', b'\n', msg) {
            Some(end) => (msg.get(..end).unwrap_or_default(), true),
            None => (msg, false),
        };
        let starts_with_sip = |s: &[u8]| s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"));
        if starts_with_sip(line) {
            return Self::Response;
        }
        let Some(space) = line.iter().position(|&b| b == b' ') else {
            return Self::Unknown;
        };
        let method = line.get(..space).unwrap_or_default();
        if method.is_empty() || !method.iter().all(|&b| is_token_char(b)) {
            return Self::Unknown;
        }
        if complete {
            let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
            if line.len() <= space.saturating_add(1) || !starts_with_sip(version) {
                return Self::Unknown;
            }
        }
        Self::Request
    }

    /// `true` for [`StartLineKind::Request`].
    #[must_use]
    pub fn is_request(self) -> bool {
        self == Self::Request
    }
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Why a stream cannot be framed. All offsets are byte offsets from the first byte of the
/// offending message (`buf[0]` when the error is returned). Every error is fatal for the
/// connection: see the [module documentation](super).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// A LF not preceded by CR in the header block, or between messages.
    #[error("bare LF at byte {offset} (SIP lines end with CRLF)")]
    BareLineFeed { offset: usize, start_line: StartLineKind },
    /// A CR not followed by LF in the header block, or between messages.
    #[error("bare CR at byte {offset} (SIP lines end with CRLF)")]
    BareCarriageReturn { offset: usize, start_line: StartLineKind },
    /// No empty line within the first `limit` bytes of the message.
    #[error("header block longer than {limit} bytes")]
    HeaderTooLarge { limit: usize, start_line: StartLineKind },
    /// The header block (`header_len` bytes) has no Content-Length, which streams require.
    #[error("no Content-Length in the {header_len}-byte header block (mandatory on streams)")]
    MissingContentLength { header_len: usize, start_line: StartLineKind },
    /// The Content-Length value starting at `offset` is empty or not a decimal number.
    #[error("Content-Length at byte {offset} is not a decimal number")]
    ContentLengthNotNumeric { offset: usize, header_len: usize, start_line: StartLineKind },
    /// The Content-Length value starting at `offset` is negative.
    #[error("Content-Length at byte {offset} is negative")]
    ContentLengthNegative { offset: usize, header_len: usize, start_line: StartLineKind },
    /// The Content-Length value starting at `offset` does not fit in `usize`.
    #[error("Content-Length at byte {offset} is too large to represent")]
    ContentLengthOverflow { offset: usize, header_len: usize, start_line: StartLineKind },
    /// A second Content-Length (value at `offset`) disagrees with an earlier one.
    #[error("Content-Length at byte {offset} says {second}, an earlier one says {first}")]
    ConflictingContentLength { offset: usize, first: usize, second: usize, header_len: usize, start_line: StartLineKind },
    /// Header block plus body exceed `limit` bytes.
    #[error("message of {header_len} header bytes and {content_length} body bytes exceeds {limit} bytes")]
    MessageTooLarge { header_len: usize, content_length: usize, limit: usize, start_line: StartLineKind },
}

/// What to answer (if the message is a request) before closing: 413 for what
/// is too large, 400 for the rest; the reason is RFC 3261 §21's own.
impl crate::ToStatus for FramingError {
    fn status(&self) -> crate::StatusCode {
        match self {
            Self::HeaderTooLarge { .. } | Self::MessageTooLarge { .. } => crate::StatusCode::REQUEST_ENTITY_TOO_LARGE,
            Self::BareLineFeed { .. }
            | Self::BareCarriageReturn { .. }
            | Self::MissingContentLength { .. }
            | Self::ContentLengthNotNumeric { .. }
            | Self::ContentLengthNegative { .. }
            | Self::ContentLengthOverflow { .. }
            | Self::ConflictingContentLength { .. } => crate::StatusCode::BAD_REQUEST,
        }
    }
}

impl FramingError {
    /// Where in the offending message the problem was found.
    #[must_use]
    pub fn offset(&self) -> usize {
        match *self {
            Self::BareLineFeed { offset, .. }
            | Self::BareCarriageReturn { offset, .. }
            | Self::ContentLengthNotNumeric { offset, .. }
            | Self::ContentLengthNegative { offset, .. }
            | Self::ContentLengthOverflow { offset, .. }
            | Self::ConflictingContentLength { offset, .. } => offset,
            Self::HeaderTooLarge { limit, .. } => limit,
            Self::MissingContentLength { header_len, .. } | Self::MessageTooLarge { header_len, .. } => header_len,
        }
    }

    /// Length of the complete header block at the front of the buffer, when it was found
    /// (the driver may parse `buf[..header_len]` to build a response).
    #[must_use]
    pub fn header_len(&self) -> Option<usize> {
        match *self {
            Self::MissingContentLength { header_len, .. }
            | Self::ContentLengthNotNumeric { header_len, .. }
            | Self::ContentLengthNegative { header_len, .. }
            | Self::ContentLengthOverflow { header_len, .. }
            | Self::ConflictingContentLength { header_len, .. }
            | Self::MessageTooLarge { header_len, .. } => Some(header_len),
            Self::BareLineFeed { .. } | Self::BareCarriageReturn { .. } | Self::HeaderTooLarge { .. } => None,
        }
    }

    /// What the offending message's start line looks like.
    #[must_use]
    pub fn start_line(&self) -> StartLineKind {
        match *self {
            Self::BareLineFeed { start_line, .. }
            | Self::BareCarriageReturn { start_line, .. }
            | Self::HeaderTooLarge { start_line, .. }
            | Self::MissingContentLength { start_line, .. }
            | Self::ContentLengthNotNumeric { start_line, .. }
            | Self::ContentLengthNegative { start_line, .. }
            | Self::ContentLengthOverflow { start_line, .. }
            | Self::ConflictingContentLength { start_line, .. }
            | Self::MessageTooLarge { start_line, .. } => start_line,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::StartLineKind::{self, *};

    #[test]
    fn classify_start_lines() {
        let c = |s: &str| StartLineKind::classify(s.as_bytes());
        assert_eq!(c("INVITE sip:a@b SIP/2.0\r\n"), Request);
        assert_eq!(c("INVITE sip:a@b"), Request);
        assert_eq!(c("sip/2.0 200 OK\r\n"), Response);
        assert_eq!(c("SIP/2.0 180"), Response);
        assert_eq!(c("INVITE sip:a@b HTTP/1.1\r\n"), Unknown);
        assert_eq!(c("INVITE \r\n"), Unknown);
        assert_eq!(c("INV"), Unknown);
        assert_eq!(c("GET/ x"), Unknown);
        assert_eq!(c("\u{1}\u{2}"), Unknown);
        assert_eq!(c(""), Unknown);
    }
}
