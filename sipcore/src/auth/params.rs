//! Lexing of `Digest` header values into `auth-param`s.
//!
//! Shared by challenges and credentials: both are `"Digest" LWS auth-param
//! *("," auth-param)` (RFC 3261 §25.1, RFC 7235 §2.1). The lexer borrows from
//! the input and leaves quoted values escaped, so the common case (no
//! backslashes) never allocates.

use std::borrow::Cow;
use std::fmt;

use super::AuthError;
use super::print::{is_token, write_name, write_quoted};

/// Unknown parameters beyond this many are rejected, which bounds the
/// quadratic duplicate check against hostile headers.
pub(crate) const MAX_EXTRA_PARAMS: usize = 32;

/// One `auth-param` exactly as it appears in the header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawParam<'a> {
    pub(crate) name: &'a str,
    pub(crate) name_offset: usize,
    /// The value without surrounding quotes, backslash escapes still in place.
    pub(crate) value: &'a str,
    pub(crate) value_offset: usize,
    pub(crate) quoted: bool,
}

impl<'a> RawParam<'a> {
    /// The value with quoted-pairs resolved, borrowed unless it had escapes.
    pub(crate) fn unescaped(&self) -> Cow<'a, str> {
        if self.quoted { unescape(self.value) } else { Cow::Borrowed(self.value) }
    }

    pub(crate) fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    pub(crate) fn duplicate(&self) -> AuthError {
        AuthError::DuplicateParam { name: self.name.to_owned(), offset: self.name_offset }
    }

    pub(crate) fn invalid(&self, name: &'static str, what: &'static str) -> AuthError {
        AuthError::InvalidParam { name, offset: self.value_offset, what }
    }
}

/// Stores `value` in `slot`, refusing a second occurrence of the parameter.
pub(crate) fn set_once<T>(slot: &mut Option<T>, value: T, p: &RawParam<'_>) -> Result<(), AuthError> {
    if slot.is_some() {
        return Err(p.duplicate());
    }
    *slot = Some(value);
    Ok(())
}

/// Resolves `\x` quoted-pairs to `x`.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// RFC 7230 `tchar`, a superset of the RFC 3261 `token` characters.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Characters accepted in an unquoted value. Looser than `token` because
/// deployed servers send things like `nonce=abc/def=` unquoted, and being
/// strict would only make us fail against them.
fn is_value_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !matches!(b, b'"' | b',' | b'\\')
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Cursor over a header value; every method leaves `pos` on a char boundary
/// because it only ever stops at ASCII bytes.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }

    fn syntax(&self, what: &'static str) -> AuthError {
        AuthError::Syntax { offset: self.pos, what }
    }

    /// Scans a quoted-string starting at the opening quote; returns its
    /// still-escaped content.
    fn quoted(&mut self) -> Result<&'a str, AuthError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None => {
                    return Err(AuthError::Syntax { offset: open, what: "missing closing quote" });
                }
                Some(b'"') => break,
                Some(b'\r' | b'\n') => return Err(self.syntax("line break in quoted-string")),
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        None => {
                            return Err(AuthError::Syntax { offset: open, what: "missing closing quote" });
                        }
                        Some(b'\r' | b'\n') => return Err(self.syntax("line break in quoted-pair")),
                        // A multi-byte char after the backslash: its
                        // continuation bytes are never '"' or '\\', so
                        // stepping one byte at a time stays correct.
                        Some(_) => self.pos += 1,
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
        let content = self.s.get(start..self.pos).unwrap_or_default();
        self.pos += 1;
        Ok(content)
    }
}

/// Checks the scheme is `Digest` and returns an iterator over the params.
pub(crate) fn digest_params(input: &str) -> Result<Params<'_>, AuthError> {
    let mut cur = Cursor { s: input, pos: 0 };
    cur.skip_ws();
    let scheme_at = cur.pos;
    let scheme = cur.take_while(is_tchar);
    if scheme.is_empty() {
        return Err(cur.syntax("expected auth scheme"));
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest { offset: scheme_at });
    }
    if cur.peek().is_some_and(|b| !is_ws(b)) {
        return Err(cur.syntax("expected whitespace after scheme"));
    }
    Ok(Params { cur, need_comma: false, failed: false })
}

/// Iterator over the `auth-param`s after the scheme. Stops after the first
/// error so callers can just use `?` in a `for` loop.
pub(crate) struct Params<'a> {
    cur: Cursor<'a>,
    need_comma: bool,
    failed: bool,
}

impl<'a> Params<'a> {
    fn param(&mut self) -> Result<RawParam<'a>, AuthError> {
        let cur = &mut self.cur;
        let name_offset = cur.pos;
        let name = cur.take_while(is_tchar);
        if name.is_empty() {
            return Err(cur.syntax("expected parameter name"));
        }
        cur.skip_ws();
        if cur.peek() != Some(b'=') {
            return Err(cur.syntax("expected '=' after parameter name"));
        }
        cur.pos += 1;
        cur.skip_ws();
        let (value, value_offset, quoted) = if cur.peek() == Some(b'"') {
            let at = cur.pos + 1;
            (cur.quoted()?, at, true)
        } else {
            let at = cur.pos;
            let v = cur.take_while(is_value_char);
            if v.is_empty() {
                return Err(cur.syntax("expected token or quoted-string"));
            }
            (v, at, false)
        };
        Ok(RawParam { name, name_offset, value, value_offset, quoted })
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<RawParam<'a>, AuthError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            self.cur.skip_ws();
            match self.cur.peek() {
                None => return None,
                // RFC 7230 §7: recipients must accept empty list elements.
                Some(b',') => {
                    self.cur.pos += 1;
                    self.need_comma = false;
                }
                Some(_) if self.need_comma => {
                    self.failed = true;
                    return Some(Err(self.cur.syntax("expected ',' between parameters")));
                }
                Some(_) => {
                    let r = self.param();
                    self.failed = r.is_err();
                    self.need_comma = true;
                    return Some(r);
                }
            }
        }
    }
}

/// An `auth-param` this module does not interpret, kept so a proxy can pass
/// it on and a printer can reproduce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// Name as written (case preserved).
    pub name: Cow<'a, str>,
    /// Unescaped value.
    pub value: Cow<'a, str>,
    /// Whether it was (and should be printed) quoted.
    pub quoted: bool,
}

impl<'a> AuthParam<'a> {
    pub(crate) fn from_raw(p: &RawParam<'a>) -> Self {
        AuthParam { name: Cow::Borrowed(p.name), value: p.unescaped(), quoted: p.quoted }
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> AuthParam<'static> {
        AuthParam { name: Cow::Owned(self.name.into_owned()), value: Cow::Owned(self.value.into_owned()), quoted: self.quoted }
    }

    pub(crate) fn write(&self, f: &mut impl fmt::Write, first: &mut bool) -> fmt::Result {
        write_name(f, first, &self.name)?;
        if self.quoted || !is_token(&self.value) { write_quoted(f, &self.value) } else { f.write_str(&self.value) }
    }
}

/// Adds an unknown parameter, enforcing uniqueness and the count limit.
pub(crate) fn push_extra<'a>(extra: &mut Vec<AuthParam<'a>>, p: &RawParam<'a>) -> Result<(), AuthError> {
    if extra.iter().any(|e| p.is(&e.name)) {
        return Err(p.duplicate());
    }
    if extra.len() >= MAX_EXTRA_PARAMS {
        return Err(AuthError::Syntax { offset: p.name_offset, what: "too many parameters" });
    }
    extra.push(AuthParam::from_raw(p));
    Ok(())
}

/// An `algorithm` value (RFC 8760 names, case-insensitive).
pub(crate) fn algorithm(p: &RawParam<'_>) -> Result<super::Algorithm, AuthError> {
    let value = p.unescaped();
    super::Algorithm::from_token(&value).ok_or_else(|| AuthError::UnsupportedAlgorithm(value.into_owned()))
}

/// Parses a boolean flag such as `stale` or `userhash`: only a
/// case-insensitive `true` counts, anything else means false (RFC 7616 §3.3).
pub(crate) fn flag(p: &RawParam<'_>) -> bool {
    p.value.eq_ignore_ascii_case("true")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn all(input: &str) -> Result<Vec<RawParam<'_>>, AuthError> {
        digest_params(input)?.collect()
    }

    #[test]
    fn offsets_point_into_input() {
        let s = "Digest a=b,  c = \"d\\\"e\"";
        let ps = all(s).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!((ps[0].name, ps[0].name_offset, ps[0].value_offset), ("a", 7, 9));
        assert_eq!(&s[ps[1].name_offset..][..1], "c");
        assert_eq!(&s[ps[1].value_offset..][..4], "d\\\"e");
        assert_eq!(ps[1].unescaped(), "d\"e");
        assert!(matches!(ps[0].unescaped(), Cow::Borrowed("b")));
    }

    #[test]
    fn empty_list_elements_are_skipped() {
        assert_eq!(all("Digest ,a=b,,c=d,").unwrap().len(), 2);
    }

    #[test]
    fn errors_carry_offsets() {
        assert_eq!(all("Digest a=b c=d"), Err(AuthError::Syntax { offset: 11, what: "expected ',' between parameters" }));
        assert_eq!(all("Digest a"), Err(AuthError::Syntax { offset: 8, what: "expected '=' after parameter name" }));
        assert_eq!(all("Digest a=\"x\\"), Err(AuthError::Syntax { offset: 9, what: "missing closing quote" }));
        assert_eq!(all("Digest a="), Err(AuthError::Syntax { offset: 9, what: "expected token or quoted-string" }));
        assert_eq!(all("  Basic a=b").err(), Some(AuthError::NotDigest { offset: 2 }));
        assert!(matches!(all("Digest,a=b"), Err(AuthError::Syntax { offset: 6, .. })));
        assert!(matches!(all(""), Err(AuthError::Syntax { offset: 0, .. })));
        assert!(matches!(all("Digest a=\"x\ny\""), Err(AuthError::Syntax { offset: 11, .. })));
    }

    #[test]
    fn escaped_multibyte_char_is_unescaped() {
        let ps = all("Digest a=\"\\é\"").unwrap();
        assert_eq!(ps[0].unescaped(), "é");
    }
}
