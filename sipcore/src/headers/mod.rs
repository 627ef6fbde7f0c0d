//! Typed views of header values, read on demand from the raw text. Each view
//! borrows the message; nothing is allocated to read one.

mod contract;
mod name_addr;
mod simple;
mod via;

pub use contract::MacAddr;
pub use name_addr::{Contact, NameAddr};
pub use simple::{CSeq, ContentType};
pub use via::Via;

use crate::chars;
use crate::error::{ErrorKind, ParseError};
use crate::message::{HeaderName, Headers};
use crate::text::split_top_level;
use std::net::IpAddr;

/// Checks every element of a comma-joined value with `parse`.
fn each<'a, T>(s: &'a str, parse: impl Fn(&'a str) -> Result<T, ParseError>) -> Result<(), ParseError> {
    // Most values hold one element: no comma at all means nothing to split.
    if chars::find(b',', s.as_bytes()).is_none() {
        return parse(s).map(drop);
    }
    for (at, part) in split_top_level(s, b',') {
        parse(part).map_err(|e| e.shifted(at))?;
    }
    Ok(())
}

/// Checks a header value against its grammar where the core depends on it.
/// Offsets are relative to the value. Unknown headers are not checked.
#[inline(always)]
pub(crate) fn validate_value(name: &HeaderName, v: &str) -> Result<(), ParseError> {
    use HeaderName as H;
    match name {
        H::Via => each(v, Via::parse),
        H::From | H::To => NameAddr::parse(v).map(drop),
        H::Contact => each(v, Contact::parse),
        H::Route | H::RecordRoute | H::Path => each(v, NameAddr::parse),
        H::CSeq => CSeq::parse(v).map(drop),
        H::CallId => simple::call_id(v),
        H::MaxForwards => simple::number("Max-Forwards", v, 255).map(drop),
        H::Expires => simple::number("Expires", v, u32::MAX).map(drop),
        H::MinExpires => simple::number("Min-Expires", v, u32::MAX).map(drop),
        H::FlowTimer => simple::number("Flow-Timer", v, u32::MAX).map(drop),
        H::ContentLength => simple::number("Content-Length", v, u32::MAX).map(drop),
        H::ContentType => ContentType::parse(v).map(drop),
        H::Require | H::Supported | H::ProxyRequire | H::Unsupported | H::Allow => simple::tokens(name.static_name(), v),
        H::XMac => v.parse::<MacAddr>().map(drop),
        H::XPrivateIp | H::XPublicIp | H::XBearerAddress => contract::ip(name.static_name(), v).map(drop),
        H::XBearerPort => contract::port(v).map(drop),
        _ => Ok(()),
    }
}

/// A Content-Length value (a number below 2^32) as a length.
pub(crate) fn content_length(v: &str) -> Result<usize, ParseError> {
    simple::number("Content-Length", v, u32::MAX).map(|n| n as usize)
}

fn missing(name: &'static str) -> ParseError {
    ParseError::new(0, ErrorKind::MissingHeader(name))
}

/// Typed accessors. Single-valued readers return `Ok(None)` when the header is
/// absent; the ones RFC 3261 §8.1.1 makes mandatory return an error instead.
impl Headers {
    fn required(&self, name: HeaderName) -> Result<&str, ParseError> {
        self.get(&name).ok_or_else(|| missing(name.static_name()))
    }

    fn optional<T>(&self, name: HeaderName, read: impl FnOnce(&str) -> Result<T, ParseError>) -> Result<Option<T>, ParseError> {
        self.get(&name).map(read).transpose()
    }

    /// Every Via element, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> {
        self.values(&HeaderName::Via).map(Via::parse)
    }

    /// The top Via.
    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        self.vias().next().unwrap_or_else(|| Err(missing("Via")))
    }

    /// From.
    pub fn from_addr(&self) -> Result<NameAddr<'_>, ParseError> {
        NameAddr::parse(self.required(HeaderName::From)?)
    }

    /// To.
    pub fn to_addr(&self) -> Result<NameAddr<'_>, ParseError> {
        NameAddr::parse(self.required(HeaderName::To)?)
    }

    /// Call-ID.
    pub fn call_id(&self) -> Result<&str, ParseError> {
        self.required(HeaderName::CallId)
    }

    /// CSeq.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::read(self)
    }

    /// Every Contact element in order (`*` included).
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, ParseError>> {
        self.values(&HeaderName::Contact).map(Contact::parse)
    }

    /// Every element of a name-addr list header (Route, Record-Route, Path).
    pub fn name_addrs<'s>(&'s self, name: &'s HeaderName) -> impl Iterator<Item = Result<NameAddr<'s>, ParseError>> + 's {
        self.values(name).map(NameAddr::parse)
    }

    /// Expires.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.optional(HeaderName::Expires, |v| simple::number("Expires", v, u32::MAX))
    }

    /// Min-Expires.
    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.optional(HeaderName::MinExpires, |v| simple::number("Min-Expires", v, u32::MAX))
    }

    /// Max-Forwards.
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        self.optional(HeaderName::MaxForwards, |v| simple::number("Max-Forwards", v, 255).map(|n| u8::try_from(n).unwrap_or(u8::MAX)))
    }

    /// Content-Length.
    pub fn content_length(&self) -> Result<Option<u32>, ParseError> {
        self.optional(HeaderName::ContentLength, |v| simple::number("Content-Length", v, u32::MAX))
    }

    /// Content-Type.
    pub fn content_type(&self) -> Result<Option<ContentType<'_>>, ParseError> {
        self.get(&HeaderName::ContentType).map(ContentType::parse).transpose()
    }

    /// RFC 5626 Flow-Timer.
    pub fn flow_timer(&self) -> Result<Option<u32>, ParseError> {
        self.optional(HeaderName::FlowTimer, |v| simple::number("Flow-Timer", v, u32::MAX))
    }

    /// True when the option tag is listed in `name` (Require, Supported, Proxy-Require …).
    pub fn has_option(&self, name: &HeaderName, tag: &str) -> bool {
        self.values(name).any(|t| t.eq_ignore_ascii_case(tag))
    }

    /// X-MAC.
    pub fn x_mac(&self) -> Result<Option<MacAddr>, ParseError> {
        self.optional(HeaderName::XMac, str::parse)
    }

    /// X-Private-IP.
    pub fn x_private_ip(&self) -> Result<Option<IpAddr>, ParseError> {
        self.optional(HeaderName::XPrivateIp, |v| contract::ip("X-Private-IP", v))
    }

    /// X-Public-IP.
    pub fn x_public_ip(&self) -> Result<Option<IpAddr>, ParseError> {
        self.optional(HeaderName::XPublicIp, |v| contract::ip("X-Public-IP", v))
    }

    /// X-Bearer-Port.
    pub fn x_bearer_port(&self) -> Result<Option<u16>, ParseError> {
        self.optional(HeaderName::XBearerPort, contract::port)
    }

    /// X-Bearer-Address.
    pub fn x_bearer_address(&self) -> Result<Option<IpAddr>, ParseError> {
        self.optional(HeaderName::XBearerAddress, |v| contract::ip("X-Bearer-Address", v))
    }
}
