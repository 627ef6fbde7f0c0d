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
/// A URI user part: `URIC` except `:` (which starts the password).
pub(crate) const USER: u16 = 8192;

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
        if c & URIC != 0 && b != b':' {
            c |= USER;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// The classes of `b`.
#[inline]
fn classes(b: u8) -> u16 {
    // A u8 index is always in bounds: this is a plain load.
    TABLE.get(usize::from(b)).copied().unwrap_or(0)
}

/// True when `b` is in `class` (one or more of the constants above, or-ed).
#[inline]
pub(crate) fn is(b: u8, class: u16) -> bool {
    classes(b) & class != 0
}

/// True when every byte of `s` is in `class`.
#[inline]
pub(crate) fn all(s: &[u8], class: u16) -> bool {
    first_outside(s, class).is_none()
}

/// The index of the first byte of `s` not in `class`, for runs that end soon
/// (a token before its delimiter).
#[inline]
pub(crate) fn first_not(s: &[u8], class: u16) -> Option<usize> {
    s.iter().position(|&b| !is(b, class))
}

/// Like [`first_not`], for runs that are usually long (a host name): four
/// bytes at a time, and-ing their classes, then byte by byte in the group
/// that ends the run.
#[inline]
pub(crate) fn first_not_long(s: &[u8], class: u16) -> Option<usize> {
    let mut at = 0;
    let mut groups = s.chunks_exact(4);
    for g in &mut groups {
        if g.iter().fold(u16::MAX, |acc, &b| acc & classes(b)) & class == 0 {
            return g.iter().position(|&b| !is(b, class)).map(|i| at + i);
        }
        at += 4;
    }
    groups.remainder().iter().position(|&b| !is(b, class)).map(|i| at + i)
}

/// Like [`first_not`], for a whole string that is expected to be all in
/// `class` (a check rather than a run): eight bytes at a time, the classes of
/// a chunk are and-ed without a branch per byte, and only a chunk that fails
/// is looked at byte by byte.
#[inline]
pub(crate) fn first_outside(s: &[u8], class: u16) -> Option<usize> {
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        if c.iter().fold(u16::MAX, |acc, &b| acc & classes(b)) & class == 0 {
            return c.iter().position(|&b| !is(b, class)).map(|i| at + i);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&b| !is(b, class)).map(|i| at + i)
}

/// The index of the first byte of `s` in `class`.
#[inline]
pub(crate) fn first_in(s: &[u8], class: u16) -> Option<usize> {
    s.iter().position(|&b| is(b, class))
}

/// The index of the first `needle` in `s`. On x86-64 this is memchr's SSE2
/// searcher, which inlines: cheaper than a dispatched `memchr` call on the
/// short strings of a header.
#[inline]
pub(crate) fn find(needle: u8, s: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(one) = memchr::arch::x86_64::sse2::memchr::One::new(needle) {
        return one.find(s);
    }
    memchr::memchr(needle, s)
}

/// The index of the last `needle` in `s` (see [`find`]).
#[inline]
pub(crate) fn rfind(needle: u8, s: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(one) = memchr::arch::x86_64::sse2::memchr::One::new(needle) {
        return one.rfind(s);
    }
    memchr::memrchr(needle, s)
}

/// The index of the first `a` or `b` in `s` (see [`find`]).
#[inline]
pub(crate) fn find2(a: u8, b: u8, s: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(two) = memchr::arch::x86_64::sse2::memchr::Two::new(a, b) {
        return two.find(s);
    }
    memchr::memchr2(a, b, s)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is(b'a', TOKEN) && is(b'~', TOKEN) && !is(b'(', TOKEN) && is(b'(', WORD));
        assert!(!is(b' ', URIC) && !is(b'<', URIC) && is(b'%', URIC) && !is(0xff, TOKEN) && is(0xc3, URIC));
        assert!(is(b'@', PVALUE) && !is(b'"', PVALUE) && is(b'\t', WS) && is(b'#', TEL) && !is(b'x', TEL));
        assert_eq!(first_not(b"abc def", TOKEN), Some(3));
        for n in 0..40 {
            let mut v = vec![b'a'; n];
            assert_eq!(first_outside(&v, TOKEN), None);
            assert_eq!(first_not_long(&v, TOKEN), None);
            for bad in 0..n {
                v[bad] = b' ';
                assert_eq!(first_outside(&v, TOKEN), Some(bad), "{n} {bad}");
                assert_eq!(first_not_long(&v, TOKEN), Some(bad), "{n} {bad}");
                assert_eq!(first_outside(&v, TOKEN | WS), None);
                v[bad] = b'a';
            }
        }
        let long = b"0123456789abcdef0123456789abcdef0123456789abcdef,x";
        assert_eq!((find(b',', long), find(b',', b"a,"), find(b'q', long)), (Some(48), Some(1), None));
        assert_eq!((rfind(b'a', long), rfind(b',', b"a,"), rfind(b'q', long)), (Some(42), Some(1), None));
        assert_eq!((find2(b'\r', b'\n', long), find2(b'x', b',', long), find2(b'\r', b'\n', b"ab\n")), (None, Some(48), Some(2)));
    }
}
