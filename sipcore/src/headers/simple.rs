//! Small headers: numbers (delta-seconds), option-tag lists, Call-ID, CSeq,
//! Content-Type.

use crate::chars;
use crate::error::ParseError;
use crate::message::Method;
use crate::text::{Params, is_token};

/// `delta-seconds = 1*DIGIT`; values past 2^32-1 saturate, as §20.19 says for Expires.
pub(crate) fn parse_delta(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s.as_bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n.saturating_mul(10).saturating_add(u64::from(digit));
    }
    Some(u32::try_from(n).unwrap_or(u32::MAX))
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
        // The usual `token/token[;params]` without white space in one scan;
        // anything else takes the general path below.
        let b = s.as_bytes();
        let slash = chars::first_not(b, chars::TOKEN).unwrap_or(b.len());
        if slash > 0 && b.get(slash) == Some(&b'/') {
            let sub = slash + 1;
            let end = sub + b.get(sub..).and_then(|r| chars::first_not(r, chars::TOKEN)).unwrap_or(b.len() - sub);
            let params = match b.get(end) {
                None => Some(""),
                Some(b';') => s.get(end + 1..),
                Some(_) => None,
            };
            if let (true, Some(params)) = (end > sub, params) {
                let params = Params::new(params);
                params.validate().map_err(|off| ParseError::value(end + 1 + off, "Content-Type", "bad parameter"))?;
                let (mtype, subtype) = (s.get(..slash).unwrap_or(""), s.get(sub..end).unwrap_or(""));
                return Ok(ContentType { mtype, subtype, params });
            }
        }
        Self::parse_general(s)
    }

    /// Any media type, white space included.
    fn parse_general(s: &'a str) -> Result<Self, ParseError> {
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
        for (ct, mtype, subtype, params) in [
            ("application/sdp", "application", "sdp", ""),
            ("text/plain;charset=utf-8", "text", "plain", "charset=utf-8"),
            ("multipart/mixed ; boundary=x", "multipart", "mixed", " boundary=x"),
            ("a / b", "a", "b", ""),
            ("a/b;", "a", "b", ""),
        ] {
            let parsed = ContentType::parse(ct).map(|c| (c.mtype, c.subtype, c.params.as_str()));
            assert_eq!(parsed, Ok((mtype, subtype, params)), "{ct}");
        }
        for (bad, at) in [("a", 0), ("/b", 0), ("a/", 0), ("a/b c", 0), ("a/b;c d", 4), ("a@/b", 0)] {
            assert_eq!(ContentType::parse(bad).unwrap_err().offset, at, "{bad}");
        }
        // The one-scan path agrees with the general one.
        for ct in ["a/b", "a/b;", "a/b;;", "a/b;c=d", "a/b;c=\"x;y\"", "a/b ;c", "a/b/c", "a/b\t", "a//b", "a/b;c d", "/", "", ";", "a/b,c"]
        {
            assert_eq!(ContentType::parse(ct), ContentType::parse_general(ct), "{ct:?}");
        }
        assert_eq!(parse_delta("007"), Some(7));
        assert_eq!(parse_delta("99999999999999999999999999"), Some(u32::MAX));
        assert_eq!((parse_delta(""), parse_delta("1a"), parse_delta("+1")), (None, None, None));
        assert!(tokens("Supported", "outbound, path").is_ok());
        assert!(tokens("Supported", "out bound").is_err());
    }
}
