//! Printing of `auth-param`s in canonical form.
//!
//! Kept apart from the lexer because printing must be stricter than parsing:
//! we accept sloppy peers but only ever emit what RFC 7616 specifies.

use std::fmt;

use super::params::is_tchar;

/// Whether `s` can be printed without quotes.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Writes `s` as a quoted-string. CR and LF are dropped rather than escaped:
/// RFC 3261 has no escape for them, and passing them through would let a
/// value inject header lines.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut rest = s;
    while let Some(i) = rest.find(['"', '\\', '\r', '\n']) {
        let (plain, tail) = rest.split_at(i);
        f.write_str(plain)?;
        let mut chars = tail.chars();
        if let Some(c @ ('"' | '\\')) = chars.next() {
            f.write_char('\\')?;
            f.write_char(c)?;
        }
        rest = chars.as_str();
    }
    f.write_str(rest)?;
    f.write_char('"')
}

/// Writes `, name=` (or just `name=` for the first param after the scheme).
pub(crate) fn write_name(f: &mut impl fmt::Write, first: &mut bool, name: &str) -> fmt::Result {
    if *first {
        *first = false;
    } else {
        f.write_str(", ")?;
    }
    f.write_str(name)?;
    f.write_char('=')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quoting_escapes_and_drops_line_breaks() {
        let mut out = String::new();
        write_quoted(&mut out, "a\"b\\c\r\nd é").unwrap();
        assert_eq!(out, "\"a\\\"b\\\\cd é\"");
    }

    #[test]
    fn tokens() {
        assert!(is_token("UTF-8"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a/b"));
    }
}
