//! Lexical pieces of RFC 3261 §25.1 shared by every header grammar: tokens,
//! quoted strings, top-level comma and semicolon splitting, `;name=value` lists.

use crate::chars;
use std::borrow::Cow;

/// `token` characters (RFC 3261 §25.1).
#[inline]
pub fn is_token_byte(b: u8) -> bool {
    chars::is(b, chars::TOKEN)
}

/// True when `s` is a non-empty `token`.
#[inline]
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && chars::all(s.as_bytes(), chars::TOKEN)
}

/// Linear white space inside a header value (folding is already undone).
#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    chars::is(b, chars::WS)
}

/// Trims SP/HT/CR/LF on both sides.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_ws(c)).map_or(start, |i| i + 1);
    // White space is ASCII, so both ends are char boundaries.
    s.get(start..end).unwrap_or("")
}

/// Scans past a quoted string that starts at `start` (which holds `"`), honouring
/// `\` escapes. Returns the index just after the closing quote, or `None` when
/// it is unterminated.
pub(crate) fn skip_quoted(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start.checked_add(1)?;
    loop {
        i += chars::find2(b'"', b'\\', bytes.get(i..)?)?;
        match bytes.get(i)? {
            b'"' => return Some(i + 1),
            _ => i += 2,
        }
    }
}

/// Splits `s` around the first `b` (an ASCII byte, so both halves are `str`).
#[inline]
pub(crate) fn split_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == b)?;
    Some((s.get(..i).unwrap_or(""), s.get(i + 1..).unwrap_or("")))
}

/// The number of SP/HT/CR/LF bytes that start `s`.
#[inline]
pub(crate) fn leading_ws(s: &str) -> usize {
    s.bytes().position(|c| !is_ws(c)).unwrap_or(s.len())
}

/// Splits at every `sep` that is outside quoted strings and `<...>`.
/// Pieces are trimmed; empty pieces are kept so callers can reject them.
/// An unterminated quote makes the rest one piece: the element parser then
/// reports it.
pub fn split_top_level(s: &str, sep: u8) -> SplitTopLevel<'_> {
    SplitTopLevel { s, pos: 0, sep, done: false }
}

/// Iterator returned by [`split_top_level`].
#[derive(Debug, Clone)]
pub struct SplitTopLevel<'a> {
    s: &'a str,
    pos: usize,
    sep: u8,
    done: bool,
}

impl<'a> Iterator for SplitTopLevel<'a> {
    /// (offset of the piece's first byte in the original string, trimmed piece)
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let stop = if self.sep == b',' { chars::COMMA_STOP } else { chars::SEMI_STOP };
        let mut i = start;
        // Walk to the next separator, skipping quoted strings and <...> (a URI
        // holds no quotes, so inside <...> only the closing '>' matters).
        let end = loop {
            let Some(k) = bytes.get(i..).and_then(|rest| chars::first_in(rest, stop)) else {
                self.done = true;
                break bytes.len();
            };
            let j = i + k;
            let next = match bytes.get(j) {
                Some(b'"') => skip_quoted(bytes, j),
                Some(b'<') => bytes.get(j + 1..).and_then(|r| r.iter().position(|&c| c == b'>')).map(|g| j + g + 2),
                Some(&c) if c == self.sep => {
                    self.pos = j + 1;
                    break j;
                }
                _ => Some(j + 1),
            };
            match next {
                Some(n) => i = n,
                None => {
                    self.done = true;
                    break bytes.len();
                }
            }
        };
        let raw = self.s.get(start..end).unwrap_or("");
        Some((start + leading_ws(raw), trim(raw)))
    }
}

/// Removes surrounding quotes and undoes `\` escapes; borrows when it can.
pub fn unquote(s: &str) -> Cow<'_, str> {
    let inner = match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner,
        None => return Cow::Borrowed(s),
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Quotes `s` as a `quoted-string`, escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A `*( SEMI generic-param )` list kept as text and read on demand, so parsing a
/// header allocates nothing. Names compare case-insensitively (RFC 3261 §7.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// `raw` is the text after the first `;` (or empty).
    pub fn new(raw: &'a str) -> Self {
        Self { raw }
    }

    /// The text the params were read from.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Every `(name, value)` in order; a flag parameter has no value.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        split_top_level(self.raw, b';').filter(|(_, p)| !p.is_empty()).map(|(_, p)| split_param(p))
    }

    /// `Some(value)` when the parameter is present; the inner `None` is a flag.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// True when the parameter is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Checks every parameter against `generic-param` (token [ = token / host /
    /// quoted-string ]) loosely: names are tokens, values are non-empty and
    /// quoted values are terminated. Returns the offset of the first bad one.
    pub(crate) fn validate(&self) -> Result<(), usize> {
        self.validate_with(|_, _| Ok(())).map_err(|(off, _)| off)
    }

    /// Like [`Params::validate`], also passing each (name, value) to `check`
    /// (one pass for a header's own parameter rules). A grammar error comes back
    /// as `(offset, None)`, a failed check as `(offset, Some(why))`.
    pub(crate) fn validate_with(
        &self,
        mut check: impl FnMut(&str, Option<&str>) -> Result<(), &'static str>,
    ) -> Result<(), (usize, Option<&'static str>)> {
        // One pass over `name [= (token / host / quoted-string)]` separated by
        // ';', with LWS allowed around ';' and '='. Errors point at the piece.
        let b = self.raw.as_bytes();
        if b.is_empty() {
            return Ok(());
        }
        let ws = |mut i: usize| {
            while b.get(i).is_some_and(|&c| is_ws(c)) {
                i += 1;
            }
            i
        };
        let run = |i: usize, class| i + b.get(i..).and_then(|r| chars::first_not(r, class)).unwrap_or(b.len().saturating_sub(i));
        // `i` reaches b.len() only after a trailing ';', which leaves an empty parameter.
        let mut i = 0;
        while i <= b.len() {
            let start = ws(i);
            let name_end = run(start, chars::TOKEN);
            if name_end == start {
                return Err((start, None));
            }
            let mut j = ws(name_end);
            let mut value = None;
            if b.get(j) == Some(&b'=') {
                let v = ws(j + 1);
                let v_end = match b.get(v) {
                    Some(b'"') => skip_quoted(b, v).ok_or((start, None))?,
                    _ => run(v, chars::PVALUE),
                };
                if v_end == v {
                    return Err((start, None));
                }
                value = self.raw.get(v..v_end);
                j = ws(v_end);
            }
            if j < b.len() && b.get(j) != Some(&b';') {
                return Err((start, None));
            }
            check(self.raw.get(start..name_end).unwrap_or(""), value).map_err(|why| (start, Some(why)))?;
            i = j + 1;
        }
        Ok(())
    }
}

/// `name [= value]`, both trimmed.
#[inline]
fn split_param(p: &str) -> (&str, Option<&str>) {
    match p.bytes().position(|b| b == b'=') {
        Some(eq) => (trim(p.get(..eq).unwrap_or("")), Some(trim(p.get(eq + 1..).unwrap_or("")))),
        None => (p, None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_angles() {
        let v: Vec<_> = split_top_level(r#"<sip:a@b;x=1,2>, "Doe, \"J\"" <sip:c@d> ,e"#, b',').map(|(_, p)| p).collect();
        assert_eq!(v, [r"<sip:a@b;x=1,2>", r#""Doe, \"J\"" <sip:c@d>"#, "e"]);
    }

    #[test]
    fn params_are_case_insensitive_and_keep_quotes() {
        let p = Params::new(r#"Branch=z9hG4bK1; rport ;+sip.instance="<urn:uuid:1;2>";reg-id=1"#);
        assert_eq!(p.get("branch"), Some(Some("z9hG4bK1")));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.get("+sip.instance"), Some(Some(r#""<urn:uuid:1;2>""#)));
        assert_eq!(p.get("reg-id"), Some(Some("1")));
        assert!(p.validate().is_ok());
        assert_eq!(Params::new("a=\"x").validate(), Err(0));
    }

    #[test]
    fn params_grammar_edges() {
        for ok in ["", "a", "a=b", " a = b ; c ", "a=\"x;y\";b", "maddr=[2001:db8::1]", "q=0.5;lr"] {
            assert_eq!(Params::new(ok).validate(), Ok(()), "{ok:?}");
        }
        for (bad, at) in [("a;", 2), (";a", 0), ("a;;b", 2), ("a=b=c", 0), ("a=", 0), ("a=\"x\" y", 0), ("a b", 0), ("a;b c", 2)] {
            assert_eq!(Params::new(bad).validate(), Err(at), "{bad:?}");
        }
        let p = Params::new("rport;received=x");
        let got = p.validate_with(|n, v| if n == "received" && v != Some("y") { Err("not y") } else { Ok(()) });
        assert_eq!(got, Err((6, Some("not y"))));
    }

    #[test]
    fn unquote_undoes_escapes() {
        assert_eq!(unquote(r#""a\"b\\c""#), r#"a"b\c"#);
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
    }
}
