//! `name-addr / addr-spec` headers: From, To, Contact, Route, Record-Route, Path,
//! Reply-To (RFC 3261 §20, §25.1), with the RFC 5626 Contact parameters.

use crate::chars;
use crate::error::ParseError;
use crate::message::Uri;
use crate::text::{Params, is_token_byte, leading_ws, skip_quoted, trim, unquote};
use std::borrow::Cow;

/// `[display-name] <URI> ;params`, or a bare `URI ;params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as written (quoted or a run of tokens).
    pub display: Option<&'a str>,
    pub uri: Uri<'a>,
    /// Header parameters (after the URI), e.g. `tag`, `expires`, `+sip.instance`.
    pub params: Params<'a>,
}

fn err(at: usize, why: &'static str) -> ParseError {
    ParseError::value(at, "name-addr", why)
}

impl<'a> NameAddr<'a> {
    /// Parses one element; offsets are relative to `s`.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        let (display, laquot) = if b.first() == Some(&b'"') {
            let end = skip_quoted(b, 0).ok_or_else(|| err(0, "unterminated quoted display-name"))?;
            let after = s.get(end..).unwrap_or("");
            let lt = end + leading_ws(after);
            if b.get(lt) != Some(&b'<') {
                return Err(err(lt, "expected < after display-name"));
            }
            (Some(s.get(..end).unwrap_or("")), Some(lt))
        } else {
            match chars::find(b'<', b) {
                Some(lt) => {
                    let name = trim(s.get(..lt).unwrap_or(""));
                    if let Some(bad) = name.bytes().position(|c| !(is_token_byte(c) || c == b' ' || c == b'\t')) {
                        return Err(err(bad, "display-name is not tokens"));
                    }
                    ((!name.is_empty()).then_some(name), Some(lt))
                }
                None => (None, None),
            }
        };
        let (uri_text, uri_at, rest, rest_at) = match laquot {
            Some(lt) => {
                let gt = b.get(lt..).and_then(|r| chars::find(b'>', r)).map(|i| lt + i).ok_or_else(|| err(lt, "unterminated <"))?;
                (s.get(lt + 1..gt).unwrap_or(""), lt + 1, s.get(gt + 1..).unwrap_or(""), gt + 1)
            }
            // An addr-spec without brackets ends at the first ';': the rest are
            // header parameters (§20). LWS may precede the ';' (RFC 4475 wsinv).
            None => match chars::find(b';', b) {
                Some(semi) => (trim(s.get(..semi).unwrap_or("")), 0, s.get(semi..).unwrap_or(""), semi),
                None => (s, 0, "", s.len()),
            },
        };
        let uri = Uri::parse(uri_text).map_err(|e| e.shifted(uri_at))?;
        if let (None, Some(h)) = (laquot, uri.headers) {
            // §20: a URI with headers must be a name-addr in <> (RFC 4475 regbadct).
            return Err(err(uri_text.len() - h.len() - 1, "URI with headers must be enclosed in <>"));
        }
        let rest_trim = rest.get(leading_ws(rest)..).unwrap_or("");
        let params = match rest_trim.strip_prefix(';') {
            Some(p) => p,
            None if rest_trim.is_empty() => "",
            None => return Err(err(rest_at, "junk after URI")),
        };
        let params_at = rest_at + rest.len() - params.len();
        let params = Params::new(params);
        params.validate().map_err(|off| err(params_at + off, "bad parameter"))?;
        Ok(NameAddr { display, uri, params })
    }

    /// The display name without quotes and escapes.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display.map(unquote)
    }

    /// The `tag` parameter (From/To, §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").flatten()
    }

    /// Contact `expires` (§20.10).
    pub fn expires(&self) -> Option<u32> {
        self.params.get("expires").flatten().and_then(super::simple::parse_delta)
    }

    /// RFC 5626 `+sip.instance`, unquoted (e.g. `<urn:uuid:…>`).
    pub fn instance(&self) -> Option<Cow<'a, str>> {
        self.params.get("+sip.instance").flatten().map(unquote)
    }

    /// RFC 5626 `reg-id`.
    pub fn reg_id(&self) -> Option<u32> {
        self.params.get("reg-id").flatten().and_then(|v| v.parse().ok())
    }

    /// RFC 5626 `ob` URI parameter: the UA wants outbound behaviour on this flow.
    pub fn ob(&self) -> bool {
        self.uri.params.has("ob")
    }
}

/// One Contact element: a binding or the `*` of an unregister-all (§10.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    Wildcard,
    Binding(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact element.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        if s == "*" {
            return Ok(Contact::Wildcard);
        }
        NameAddr::parse(s).map(Contact::Binding)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::message::Host;

    #[test]
    fn contract_contact() {
        let c = NameAddr::parse(r#"<sip:1001@10.1.0.2:5060;transport=tcp;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;expires=600"#).unwrap();
        assert!(c.ob());
        assert_eq!(c.instance().unwrap(), "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(c.expires(), Some(600));
        assert_eq!(c.uri.user, Some("1001"));
    }

    #[test]
    fn display_names() {
        let a = NameAddr::parse(r#""Bob \"B\" Smith" <sip:bob@example.com>;tag=a48s"#).unwrap();
        assert_eq!(a.display_name().unwrap(), r#"Bob "B" Smith"#);
        assert_eq!(a.tag(), Some("a48s"));
        let b = NameAddr::parse("Anonymous  Caller <sip:c@[::1]>").unwrap();
        assert_eq!(b.display, Some("Anonymous  Caller"));
        assert_eq!(b.uri.host, Some(Host::V6("::1".parse().unwrap())));
        let c = NameAddr::parse("sip:c@example.com;tag=1").unwrap();
        assert_eq!(c.tag(), Some("1"));
        assert!(c.uri.params.as_str().is_empty());
    }

    #[test]
    fn rejects() {
        assert!(NameAddr::parse(r#""unterminated <sip:a@b>"#).is_err());
        assert!(NameAddr::parse("<sip:a@b").is_err());
        assert!(NameAddr::parse("<sip:a@b> junk").is_err());
        assert!(NameAddr::parse("Bad@Name <sip:a@b>").is_err());
        assert!(Contact::parse("*").is_ok());
    }
}
