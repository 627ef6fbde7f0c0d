//! Lexical pieces of RFC 3261 §25.1 shared by every header grammar: tokens,
//! quoted strings, top-level comma and semicolon splitting, `;name=value` lists.

use std::borrow::Cow;

/// `token` characters (RFC 3261 §25.1).
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

/// True when `s` is a non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Linear white space inside a header value (folding is already undone).
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims SP/HT/CR/LF on both sides.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

/// Scans past a quoted string that starts at `start` (which holds `"`), honouring
/// `\` escapes. Returns the index just after the closing quote, or `None` when
/// it is unterminated.
pub(crate) fn skip_quoted(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start.checked_add(1)?;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
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
        let mut i = start;
        let mut angle = false;
        let end = loop {
            match bytes.get(i) {
                None => {
                    self.done = true;
                    break i;
                }
                Some(b'"') => match skip_quoted(bytes, i) {
                    Some(next) => i = next,
                    None => {
                        self.done = true;
                        break bytes.len();
                    }
                },
                Some(b'<') => {
                    angle = true;
                    i += 1;
                }
                Some(b'>') => {
                    angle = false;
                    i += 1;
                }
                Some(&b) if b == self.sep && !angle => {
                    self.pos = i + 1;
                    break i;
                }
                Some(_) => i += 1,
            }
        };
        let raw = self.s.get(start..end).unwrap_or("");
        let lead = raw.len() - raw.trim_start_matches([' ', '\t', '\r', '\n']).len();
        Some((start + lead, trim(raw)))
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
        let raw = self.raw;
        split_top_level(raw, b';').filter(|(_, p)| !p.is_empty()).map(|(_, p)| {
            match p.split_once('=') {
                Some((n, v)) => (trim(n), Some(trim(v))),
                None => (p, None),
            }
        })
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
        if self.raw.is_empty() {
            return Ok(());
        }
        for (off, p) in split_top_level(self.raw, b';') {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (trim(n), Some(trim(v))),
                None => (p, None),
            };
            if !is_token(name) {
                return Err(off);
            }
            if let Some(v) = value {
                let ok = if v.starts_with('"') {
                    skip_quoted(v.as_bytes(), 0) == Some(v.len())
                } else {
                    !v.is_empty() && v.bytes().all(|b| is_token_byte(b) || matches!(b, b':' | b'[' | b']' | b'/' | b'&' | b'$' | b'@'))
                };
                if !ok {
                    return Err(off);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_angles() {
        let v: Vec<_> = split_top_level(r#"<sip:a@b;x=1,2>, "Doe, \"J\"" <sip:c@d> ,e"#, b',')
            .map(|(_, p)| p)
            .collect();
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
    fn unquote_undoes_escapes() {
        assert_eq!(unquote(r#""a\"b\\c""#), r#"a"b\c"#);
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
    }
}
