//! Byte classes of RFC 3261 §25.1 in one lookup table, so the scanners test a
//! byte with a load and a mask instead of a chain of comparisons.

/// `token`.
pub(crate) const TOKEN: u16 = 1;
/// `word` (Call-ID): token plus `( ) < > : \ " / [ ] ? { }`.
pub(crate) const WORD: u16 = 2;
/// Allowed unescaped somewhere in a URI: not white space, a control or one of `< > " { } | \ ^`.
pub(crate) const URIC: u16 = 4;
/// Host names and IPv4 literals: alphanumerics, `-`, `.`, `_`.
pub(crate) const HOST: u16 = 8;
/// `DIGIT`.
pub(crate) const DIGIT: u16 = 16;
/// An unquoted parameter value: token plus `: [ ] / & $ @`.
pub(crate) const PVALUE: u16 = 32;
/// Linear white space: SP, HT, CR, LF.
pub(crate) const WS: u16 = 64;
/// `tel:` subscriber characters (RFC 3966, loosely): hex digits and `+ - . ( ) * # p w`.
pub(crate) const TEL: u16 = 128;
/// Where a top-level `,` split must stop: `,`, `"` or `<`.
pub(crate) const COMMA_STOP: u16 = 256;
/// Where a top-level `;` split must stop: `;`, `"` or `<`.
pub(crate) const SEMI_STOP: u16 = 512;
/// Where a `sip:` host part ends: `:`, `;` or `?`.
pub(crate) const HOST_END: u16 = 1024;
/// An IPv4 literal: digits and `.`.
pub(crate) const NUMDOT: u16 = 2048;
/// A Call-ID: `word` or `@`.
pub(crate) const CALLID: u16 = 4096;

const TABLE: [u16; 256] = build();

// Indexing is bounded by the loop condition.
#[allow(clippy::indexing_slicing)]
const fn has(set: &[u8], b: u8) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i] == b {
            return true;
        }
        i += 1;
    }
    false
}

// Indexing is bounded by the loop (i < 256) and by `set.len()`.
#[allow(clippy::indexing_slicing)]
const fn build() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut c = 0;
        if alnum || has(b"-.!%*_+`'~", b) {
            c |= TOKEN | WORD | PVALUE;
        }
        if has(b"()<>:\\\"/[]?{}", b) {
            c |= WORD;
        }
        if has(b":[]/&$@", b) {
            c |= PVALUE;
        }
        if !(b <= 0x20 || b == 0x7f || has(b"<>\"{}|\\^", b)) {
            c |= URIC;
        }
        if alnum || has(b"-._", b) {
            c |= HOST;
        }
        if b.is_ascii_digit() {
            c |= DIGIT;
        }
        if has(b" \t\r\n", b) {
            c |= WS;
        }
        if b.is_ascii_hexdigit() || has(b"+-.()*#pw", b) {
            c |= TEL;
        }
        if has(b",\"<", b) {
            c |= COMMA_STOP;
        }
        if has(b";\"<", b) {
            c |= SEMI_STOP;
        }
        if has(b":;?", b) {
            c |= HOST_END;
        }
        if b.is_ascii_digit() || b == b'.' {
            c |= NUMDOT;
        }
        if c & WORD != 0 || b == b'@' {
            c |= CALLID;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// True when `b` is in `class` (one or more of the constants above, or-ed).
#[inline]
pub(crate) fn is(b: u8, class: u16) -> bool {
    TABLE.get(usize::from(b)).is_some_and(|c| c & class != 0)
}

/// True when every byte of `s` is in `class`.
#[inline]
pub(crate) fn all(s: &[u8], class: u16) -> bool {
    s.iter().all(|&b| is(b, class))
}

/// The index of the first byte of `s` not in `class`.
#[inline]
pub(crate) fn first_not(s: &[u8], class: u16) -> Option<usize> {
    s.iter().position(|&b| !is(b, class))
}

/// The index of the first byte of `s` in `class`.
#[inline]
pub(crate) fn first_in(s: &[u8], class: u16) -> Option<usize> {
    s.iter().position(|&b| is(b, class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is(b'a', TOKEN) && is(b'~', TOKEN) && !is(b'(', TOKEN) && is(b'(', WORD));
        assert!(!is(b' ', URIC) && !is(b'<', URIC) && is(b'%', URIC) && !is(0xff, TOKEN) && is(0xc3, URIC));
        assert!(is(b'@', PVALUE) && !is(b'"', PVALUE) && is(b'\t', WS) && is(b'#', TEL) && !is(b'x', TEL));
        assert_eq!(first_not(b"abc def", TOKEN), Some(3));
    }
}
