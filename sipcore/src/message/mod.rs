//! The SIP message model (RFC 3261 §7): requests and responses over shared,
//! reference-counted buffers, so a parsed message borrows the bytes it came in.

mod head;
mod headers;
mod method;
mod name;
mod parse;
mod print;
mod status;
mod uri;

pub use headers::{Header, Headers, HeadersIter};
pub use method::Method;
pub use name::HeaderName;
pub use parse::parse;
pub use status::{InvalidStatusCode, StatusCode, default_reason};
pub use uri::{Host, Scheme, Uri};
pub(crate) use uri::{ipv4, port_number, scan_host};

use bytes::Bytes;
use bytestring::ByteString;

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The Request-URI text (validated when parsed; read it with [`Request::uri`]).
    pub uri: ByteString,
    pub headers: Headers,
    /// The body, byte-exact.
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status-Code, 100–699.
    pub status: u16,
    pub reason: ByteString,
    pub headers: Headers,
    /// The body, byte-exact.
    pub body: Bytes,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: impl Into<ByteString>) -> Self {
        Self { method, uri: uri.into(), headers: Headers::new(), body: Bytes::new() }
    }

    /// The Request-URI as a typed view.
    pub fn uri(&self) -> Result<Uri<'_>, crate::ParseError> {
        Uri::parse(&self.uri)
    }
}

impl Response {
    /// A response with no headers and no body; the reason is the RFC 3261 default.
    pub fn new(status: u16) -> Self {
        Self { status, reason: ByteString::from_static(default_reason(status)), headers: Headers::new(), body: Bytes::new() }
    }

    /// Builds the response a UAS or registrar sends to `req` (RFC 3261 §8.2.6.2):
    /// the same Via lines, From, To, Call-ID and CSeq, and `Content-Length: 0`.
    /// A To tag is left for the caller to add where one is needed.
    pub fn to_request(req: &Request, status: u16) -> Self {
        let mut resp = Self::new(status);
        for h in req.headers.iter() {
            if matches!(h.name, HeaderName::Via | HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::CSeq) {
                resp.headers.push_from(&req.headers, h);
            }
        }
        resp.headers.push(HeaderName::ContentLength, "0");
        resp
    }

    /// The final response `err` calls for, to `req` (see [`crate::error::ToStatus`]).
    pub fn for_error(req: &Request, err: &impl crate::error::ToStatus) -> Self {
        Self::to_request(req, err.status().as_u16()).with_reason(err.reason())
    }

    /// Replaces the reason phrase.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<ByteString>) -> Self {
        self.reason = reason.into();
        self
    }

    /// 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
}

impl Message {
    /// Parses one complete message. See [`parse`].
    pub fn parse(raw: Bytes) -> Result<Self, crate::ParseError> {
        parse(raw)
    }

    /// The headers of either kind.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The headers of either kind, mutably.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    /// The body of either kind.
    pub fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}
