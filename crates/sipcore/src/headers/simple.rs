//! Small headers: numbers (delta-seconds), option-tag lists, Call-ID, CSeq,
//! Content-Type.

use crate::error::ParseError;
use crate::message::Method;
use crate::chars;
use crate::text::{Params, is_token};

/// `delta-seconds = 1*DIGIT`; values past 2^32-1 saturate, as §20.19 says for Expires.
pub(crate) fn parse_delta(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// A number header (Expires, Min-Expires, Max-Forwards, Content-Length, Flow-Timer).
pub(crate) fn number(header: &'static str, s: &str, max: u32) -> Result<u32, ParseError> {
    match parse_delta(s) {
        Some(n) if n <= max => Ok(n),
        Some(_) => Err(ParseError::value(0, header, "out of range")),
        None => Err(ParseError::value(0, header, "not a number")),
    }
}

/// A comma list of option tags or methods (Require, Supported, Allow …); may
/// be empty. One pass: `token *(LWS "," LWS token)`.
pub(crate) fn tokens(header: &'static str, s: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        i += chars::first_not(b.get(i..).unwrap_or_default(), chars::TOKEN).unwrap_or(b.len() - i);
        if i == start {
            return Err(ParseError::value(start, header, "not a token list"));
        }
        while b.get(i).is_some_and(|&c| c == b' ' || c == b'\t') {
            i += 1;
        }
        match b.get(i) {
            None => break,
            Some(b',') => i += 1,
            Some(_) => return Err(ParseError::value(start, header, "not a token list")),
        }
        while b.get(i).is_some_and(|&c| c == b' ' || c == b'\t') {
            i += 1;
        }
        if i == b.len() {
            return Err(ParseError::value(i, header, "not a token list"));
        }
    }
    Ok(())
}

/// `callid = word [ "@" word ]`: no white space, not empty.
pub(crate) fn call_id(s: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    match chars::first_outside(b, chars::CALLID) {
        _ if s.is_empty() => Err(ParseError::value(0, "Call-ID", "empty")),
        Some(bad) => Err(ParseError::value(bad, "Call-ID", "character not allowed")),
        None if chars::find(b'@', b).is_some_and(|a| b.get(a + 1..).is_some_and(|r| chars::find(b'@', r).is_some())) => {
            Err(ParseError::value(0, "Call-ID", "more than one @"))
        }
        None => Ok(()),
    }
}

/// `CSeq: 1*DIGIT LWS Method` (§20.16); the number is below 2^31.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    /// Parses a CSeq value.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let err = |at, why| ParseError::value(at, "CSeq", why);
        let sp = s.bytes().position(|b| b == b' ' || b == b'\t').ok_or_else(|| err(0, "expected number and method"))?;
        let (num, method) = (s.get(..sp).unwrap_or(""), s.get(sp + 1..).unwrap_or(""));
        let method = crate::text::trim(method);
        let seq = parse_delta(num).filter(|n| *n < 1 << 31).ok_or_else(|| err(0, "sequence number not below 2^31"))?;
        let method = Method::from_token(method).ok_or_else(|| err(num.len() + 1, "method is not a token"))?;
        Ok(CSeq { seq, method })
    }

    /// The CSeq of a message; a missing header is an error.
    pub fn read(h: &crate::message::Headers) -> Result<Self, ParseError> {
        let v = h.get(&crate::message::HeaderName::CSeq).ok_or(ParseError::new(0, crate::error::ErrorKind::MissingHeader("CSeq")))?;
        Self::parse(v)
    }
}

/// `Content-Type: type/subtype;params` (§20.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a> {
    pub mtype: &'a str,
    pub subtype: &'a str,
    pub params: Params<'a>,
}

impl<'a> ContentType<'a> {
    /// Parses a media type.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let (mt, params) = s.split_once(';').unwrap_or((s, ""));
        let (mtype, subtype) = mt.split_once('/').ok_or(ParseError::value(0, "Content-Type", "expected type/subtype"))?;
        let (mtype, subtype) = (crate::text::trim(mtype), crate::text::trim(subtype));
        if !is_token(mtype) || !is_token(subtype) {
            return Err(ParseError::value(0, "Content-Type", "type or subtype is not a token"));
        }
        let params = Params::new(params);
        params.validate().map_err(|off| ParseError::value(mt.len() + 1 + off, "Content-Type", "bad parameter"))?;
        Ok(ContentType { mtype, subtype, params })
    }

    /// True for `type/subtype`, case-insensitively.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_cseq() {
        assert_eq!(parse_delta("4294967296"), Some(u32::MAX));
        assert_eq!(parse_delta("-1"), None);
        assert!(number("Max-Forwards", "256", 255).is_err());
        assert_eq!(CSeq::parse("314159 INVITE").unwrap(), CSeq { seq: 314159, method: Method::Invite });
        assert_eq!(CSeq::parse("1 NEWMETHOD").unwrap().method.as_str(), "NEWMETHOD");
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("INVITE").is_err());
        assert!(call_id("a84b4c76e66710@pc33.atlanta.com").is_ok());
        assert!(call_id("a b").is_err());
        assert!(ContentType::parse("application/sdp").unwrap().is("APPLICATION", "SDP"));
        assert!(tokens("Supported", "outbound, path").is_ok());
        assert!(tokens("Supported", "out bound").is_err());
    }
}
