//! Parse errors that say where: a byte offset into the message (or into the
//! header value being read) and what was wrong there.

use std::fmt;

/// What went wrong while reading SIP text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The header section is not valid UTF-8 (RFC 3261 §25.1 allows only UTF8-NONASCII).
    Utf8,
    /// No empty line ends the header section.
    NoHeaderEnd,
    /// A CR or LF that is not part of a CRLF line ending in the header section.
    LineEnding,
    /// The request or status line is malformed.
    StartLine(&'static str),
    /// A SIP-Version other than SIP/2.0; a server answers 505.
    Version,
    /// A method that is not a token.
    Method,
    /// A URI that does not follow RFC 3261 §25.1 (or RFC 3966 for `tel:`).
    Uri(&'static str),
    /// A header line without a valid name and colon.
    HeaderName,
    /// A header value that does not follow its grammar.
    HeaderValue {
        /// The canonical header name.
        header: &'static str,
        /// What was wrong.
        why: &'static str,
    },
    /// A header required by RFC 3261 §8.1.1 is absent.
    MissingHeader(&'static str),
    /// Content-Length larger than the bytes that follow the header section.
    Truncated,
}

/// A parse failure at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// Byte offset of the fault, from the start of the message (or of the value
    /// when a typed header is parsed on its own).
    pub offset: usize,
    /// What was wrong.
    pub kind: ErrorKind,
}

impl ParseError {
    pub(crate) fn new(offset: usize, kind: ErrorKind) -> Self {
        Self { offset, kind }
    }

    pub(crate) fn value(offset: usize, header: &'static str, why: &'static str) -> Self {
        Self::new(offset, ErrorKind::HeaderValue { header, why })
    }

    /// Moves the offset by `base`: typed parsers report offsets within a value,
    /// the message parser knows where that value starts.
    #[must_use]
    pub fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }

    /// The SIP status a server answers this with (RFC 3261 §8.2, §21).
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::Version => 505,
            _ => 400,
        }
    }

    /// A reason phrase for the response that says what was wrong.
    pub fn reason(&self) -> String {
        match &self.kind {
            ErrorKind::Version => "Version Not Supported".to_owned(),
            kind => format!("Bad Request ({kind})"),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Utf8 => f.write_str("header section is not UTF-8"),
            ErrorKind::NoHeaderEnd => f.write_str("no empty line after the headers"),
            ErrorKind::LineEnding => f.write_str("bare CR or LF (lines must end in CRLF)"),
            ErrorKind::StartLine(why) => write!(f, "bad start line: {why}"),
            ErrorKind::Version => f.write_str("unsupported SIP version"),
            ErrorKind::Method => f.write_str("method is not a token"),
            ErrorKind::Uri(why) => write!(f, "bad URI: {why}"),
            ErrorKind::HeaderName => f.write_str("bad header name"),
            ErrorKind::HeaderValue { header, why } => write!(f, "bad {header}: {why}"),
            ErrorKind::MissingHeader(name) => write!(f, "missing {name}"),
            ErrorKind::Truncated => f.write_str("body shorter than Content-Length"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.kind)
    }
}

/// An error a SIP element answers with a final response: the one way an error
/// becomes a status code and reason phrase, in the switch and the agent alike.
pub trait ToStatus {
    /// The status code to answer with.
    fn status(&self) -> crate::StatusCode;

    /// The reason phrase: by default the code's own (RFC 3261 §21); errors that
    /// know more say why, as "Forbidden (bad credentials)".
    fn reason(&self) -> String {
        self.status().reason().to_owned()
    }
}
