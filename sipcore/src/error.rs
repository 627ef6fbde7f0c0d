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
}

/// A server answers an unparseable request 400, saying what was wrong, or 505
/// for another SIP version (RFC 3261 §8.2, §21).
impl ToStatus for ParseError {
    fn status(&self) -> crate::StatusCode {
        match self.kind {
            ErrorKind::Version => crate::StatusCode::VERSION_NOT_SUPPORTED,
            _ => crate::StatusCode::BAD_REQUEST,
        }
    }

    fn reason(&self) -> String {
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

/// Every error of the crate, for callers that handle them alike (`?` across
/// modules). Each module's own type stays the payload, with its detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SIP text that does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A byte stream that cannot be cut into messages.
    #[error(transparent)]
    Framing(#[from] crate::framing::FramingError),
    /// Digest authentication.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// The transaction layer refused.
    #[error(transparent)]
    Transaction(#[from] crate::transaction::TransactionError),
    /// A socket, a connection or the transport's state.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// A request that forms no dialog.
    #[error(transparent)]
    Dialog(#[from] crate::dialog::DialogError),
    /// A number that is no status code.
    #[error(transparent)]
    StatusCode(#[from] crate::message::InvalidStatusCode),
    /// A setting that cannot work, and why.
    #[error("{0}")]
    Setting(String),
}

/// What a SIP element answers when an error of the crate stops a request.
impl ToStatus for Error {
    fn status(&self) -> crate::StatusCode {
        match self {
            Error::Parse(e) => e.status(),
            Error::Framing(e) => e.status(),
            Error::Auth(e) => e.status(),
            Error::Dialog(_) => crate::StatusCode::BAD_REQUEST,
            Error::Transaction(_) | Error::Transport(_) | Error::StatusCode(_) | Error::Setting(_) => {
                crate::StatusCode::SERVER_INTERNAL_ERROR
            }
        }
    }

    fn reason(&self) -> String {
        match self {
            Error::Parse(e) => e.reason(),
            Error::Framing(e) => e.reason(),
            Error::Auth(e) => e.reason(),
            _ => self.status().reason().to_owned(),
        }
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
