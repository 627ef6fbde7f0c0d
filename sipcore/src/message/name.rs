//! Header field names: case-insensitive, with the compact forms of RFC 3261
//! §7.3.3 and later RFCs folded into their full names.

use bytestring::ByteString;
use std::fmt;

macro_rules! header_names {
    ($( $variant:ident => $canonical:literal, $lower:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Known names are variants (a compact form parses to
        /// the same variant as the full name); anything else is `Other`, kept as sent.
        #[derive(Debug, Eq)]
        pub enum HeaderName {
            $( #[doc = $canonical] $variant, )*
            /// An extension header, spelled as received. Boxed so that a name is
            /// 16 bytes: a parsed header list of 48-byte entries then stays in
            /// the allocator's per-thread cache (glibc's tcache, up to 1 KiB).
            Other(Box<ByteString>),
        }

        // By hand so that it inlines: a known name is a copy of its tag.
        impl Clone for HeaderName {
            #[inline(always)]
            fn clone(&self) -> Self {
                match self {
                    $( Self::$variant => Self::$variant, )*
                    Self::Other(s) => Self::Other(s.clone()),
                }
            }
        }

        impl HeaderName {
            /// The canonical spelling used when printing.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $canonical, )*
                    Self::Other(s) => s,
                }
            }

            /// Every known name, full and compact, lower case, with its variant.
            const KNOWN: &[(&[u8], HeaderName)] = &[
                $( ($lower, Self::$variant), $( ($compact, Self::$variant), )? )*
            ];

            /// The canonical name as a `'static` string (for error messages).
            pub(crate) fn static_name(&self) -> &'static str {
                match self {
                    $( Self::$variant => $canonical, )*
                    Self::Other(_) => "extension header",
                }
            }
        }
    };
}

header_names! {
    Accept => "Accept", b"accept";
    AcceptContact => "Accept-Contact", b"accept-contact", b"a";
    AcceptEncoding => "Accept-Encoding", b"accept-encoding";
    AcceptLanguage => "Accept-Language", b"accept-language";
    AlertInfo => "Alert-Info", b"alert-info";
    Allow => "Allow", b"allow";
    AllowEvents => "Allow-Events", b"allow-events", b"u";
    AuthenticationInfo => "Authentication-Info", b"authentication-info";
    Authorization => "Authorization", b"authorization";
    CallId => "Call-ID", b"call-id", b"i";
    CallInfo => "Call-Info", b"call-info";
    Contact => "Contact", b"contact", b"m";
    ContentDisposition => "Content-Disposition", b"content-disposition";
    ContentEncoding => "Content-Encoding", b"content-encoding", b"e";
    ContentLanguage => "Content-Language", b"content-language";
    ContentLength => "Content-Length", b"content-length", b"l";
    ContentType => "Content-Type", b"content-type", b"c";
    CSeq => "CSeq", b"cseq";
    Date => "Date", b"date";
    ErrorInfo => "Error-Info", b"error-info";
    Event => "Event", b"event", b"o";
    Expires => "Expires", b"expires";
    FlowTimer => "Flow-Timer", b"flow-timer";
    Identity => "Identity", b"identity", b"y";
    IdentityInfo => "Identity-Info", b"identity-info", b"n";
    From => "From", b"from", b"f";
    InReplyTo => "In-Reply-To", b"in-reply-to";
    MaxForwards => "Max-Forwards", b"max-forwards";
    MimeVersion => "MIME-Version", b"mime-version";
    MinExpires => "Min-Expires", b"min-expires";
    Organization => "Organization", b"organization";
    Path => "Path", b"path";
    Priority => "Priority", b"priority";
    ProxyAuthenticate => "Proxy-Authenticate", b"proxy-authenticate";
    ProxyAuthorization => "Proxy-Authorization", b"proxy-authorization";
    ProxyRequire => "Proxy-Require", b"proxy-require";
    RAck => "RAck", b"rack";
    Reason => "Reason", b"reason";
    RecordRoute => "Record-Route", b"record-route";
    ReferTo => "Refer-To", b"refer-to", b"r";
    ReferredBy => "Referred-By", b"referred-by", b"b";
    RejectContact => "Reject-Contact", b"reject-contact", b"j";
    ReplyTo => "Reply-To", b"reply-to";
    RequestDisposition => "Request-Disposition", b"request-disposition", b"d";
    Require => "Require", b"require";
    RetryAfter => "Retry-After", b"retry-after";
    Route => "Route", b"route";
    RSeq => "RSeq", b"rseq";
    Server => "Server", b"server";
    SessionExpires => "Session-Expires", b"session-expires", b"x";
    Subject => "Subject", b"subject", b"s";
    Supported => "Supported", b"supported", b"k";
    Timestamp => "Timestamp", b"timestamp";
    To => "To", b"to", b"t";
    Unsupported => "Unsupported", b"unsupported";
    UserAgent => "User-Agent", b"user-agent";
    Via => "Via", b"via", b"v";
    Warning => "Warning", b"warning";
    WwwAuthenticate => "WWW-Authenticate", b"www-authenticate";
    XMac => "X-MAC", b"x-mac";
    XPrivateIp => "X-Private-IP", b"x-private-ip";
    XPublicIp => "X-Public-IP", b"x-public-ip";
    XBearerPort => "X-Bearer-Port", b"x-bearer-port";
    XBearerAddress => "X-Bearer-Address", b"x-bearer-address";
}

/// Longest known name ("Authentication-Info", "Request-Disposition" …) fits easily.
const MAX_KNOWN: usize = 24;

/// Indices into `KNOWN` (+1; 0 is empty), bucketed by length and the low five
/// bits of the first byte (the same for both cases of a letter), built at
/// compile time: a lookup compares one or two names.
static BUCKETS: [[u8; BUCKET_DEPTH]; (MAX_KNOWN + 1) * 32] = buckets();
const BUCKET_DEPTH: usize = 4;

const fn bucket(name: &[u8]) -> usize {
    let first = match name.first() {
        Some(&f) => f,
        None => 0,
    };
    name.len() * 32 + (first & 31) as usize
}

// Indexing is bounded: names are at most MAX_KNOWN long, there are fewer than
// 255 of them, and a full bucket fails the build.
#[allow(clippy::indexing_slicing)]
const fn buckets() -> [[u8; BUCKET_DEPTH]; (MAX_KNOWN + 1) * 32] {
    let mut b = [[0u8; BUCKET_DEPTH]; (MAX_KNOWN + 1) * 32];
    let mut i = 0;
    while i < HeaderName::KNOWN.len() {
        let slot = &mut b[bucket(HeaderName::KNOWN[i].0)];
        let mut d = 0;
        while slot[d] != 0 {
            d += 1;
        }
        slot[d] = (i + 1) as u8;
        i += 1;
    }
    b
}

/// A known name packed for comparison: its lower-case bytes as little-endian
/// words (zero-padded) and, per word, 0x20 in the bytes that hold a letter, so
/// `(w | fold) == words` accepts either case of a letter and nothing else (the
/// other token characters must match exactly: `\r` | 0x20 is `-`).
struct Packed {
    words: [u64; 3],
    fold: [u64; 3],
}

static PACKED: [Packed; HeaderName::KNOWN.len()] = pack();

// Indexing is bounded: names are at most MAX_KNOWN (24) bytes, three words.
#[allow(clippy::indexing_slicing)]
const fn pack() -> [Packed; HeaderName::KNOWN.len()] {
    let mut out = [const { Packed { words: [0; 3], fold: [0; 3] } }; HeaderName::KNOWN.len()];
    let mut i = 0;
    while i < HeaderName::KNOWN.len() {
        let name = HeaderName::KNOWN[i].0;
        let mut j = 0;
        while j < name.len() {
            let b = name[j];
            out[i].words[j / 8] |= (b as u64) << (8 * (j % 8));
            if b.is_ascii_lowercase() {
                out[i].fold[j / 8] |= 0x20 << (8 * (j % 8));
            }
            j += 1;
        }
        i += 1;
    }
    out
}

/// Word `k` of the name that starts `line` and is `len` bytes long, with the
/// bytes past the name cleared (`line` may run on past the name).
#[inline]
fn word(line: &[u8], k: usize, len: usize) -> u64 {
    let start = 8 * k;
    let w = match line.get(start..start + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
        Some(c) => u64::from_le_bytes(c),
        None => {
            let mut c = [0u8; 8];
            for (d, s) in c.iter_mut().zip(line.get(start..).unwrap_or_default()) {
                *d = *s;
            }
            u64::from_le_bytes(c)
        }
    };
    // Keep the low `len - start` bytes (all of them from 8 on).
    let keep = (len - start).min(8) as u32;
    w & (u64::MAX >> (64 - 8 * keep))
}

impl HeaderName {
    /// Reads the name at `at..at + len` of `buf`, already known to be a token,
    /// so an extension name shares the message buffer instead of being copied.
    #[inline]
    pub(crate) fn from_buf(buf: &ByteString, at: usize, len: usize) -> Self {
        let line = buf.as_bytes().get(at..).unwrap_or_default();
        Self::lookup(line, len).unwrap_or_else(|| Self::Other(Box::new(buf.slice_ref(buf.get(at..at + len).unwrap_or("")))))
    }

    /// The known name that starts `line` (a header line, running on past the
    /// name), with its length: the name runs up to the first `:` in the first
    /// 24 bytes. `None` when it is not a known name followed directly by the
    /// colon, or when fewer than 8 bytes of the line follow it (a slower token
    /// scan then decides). A known name is all token characters, so this
    /// agrees with that scan.
    #[inline]
    pub(crate) fn scan_known(line: &[u8]) -> Option<(&'static Self, usize)> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // The high bit of each byte that is `:` (exact up to the first one,
        // which is all that is used).
        let stops = |w: u64| {
            let x = w ^ (u64::from(b':') * ONES);
            x.wrapping_sub(ONES) & !x & HIGH
        };
        let load = |at: usize| line.get(at..at + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()).map(u64::from_le_bytes);
        // Keeps the low `n` bytes (n < 8).
        let low = |w: u64, n: u32| w & ((1u64 << (8 * n)) - 1);
        let first = *line.first()?;
        let w0 = load(0)?;
        let hits = stops(w0);
        if hits != 0 {
            let n = hits.trailing_zeros() / 8;
            return Self::find_packed(n as usize, first, [low(w0, n), 0, 0]);
        }
        let w1 = load(8)?;
        let hits = stops(w1);
        if hits != 0 {
            let n = hits.trailing_zeros() / 8;
            return Self::find_packed(8 + n as usize, first, [w0, low(w1, n), 0]);
        }
        let w2 = load(16)?;
        let hits = stops(w2);
        if hits != 0 {
            let n = hits.trailing_zeros() / 8;
            return Self::find_packed(16 + n as usize, first, [w0, w1, low(w2, n)]);
        }
        None
    }

    /// The known name of `len` bytes starting with `first` whose bytes, as
    /// words cleared past the name, are `w`.
    #[inline(always)]
    fn find_packed(len: usize, first: u8, w: [u64; 3]) -> Option<(&'static Self, usize)> {
        let slot = BUCKETS.get(len * 32 + usize::from(first & 31))?;
        for &i in slot {
            let k = usize::from(i).checked_sub(1)?;
            let p = PACKED.get(k)?;
            if (w[0] | p.fold[0]) == p.words[0] && (w[1] | p.fold[1]) == p.words[1] && (w[2] | p.fold[2]) == p.words[2] {
                return Self::KNOWN.get(k).map(|(_, h)| (h, len));
            }
        }
        None
    }

    /// The known name that is the first `len` bytes of `line`, in any case.
    #[inline]
    fn lookup(line: &[u8], len: usize) -> Option<Self> {
        if len == 0 || len > MAX_KNOWN || len > line.len() {
            return None;
        }
        let slot = BUCKETS.get(len * 32 + usize::from(*line.first()? & 31))?;
        let w0 = word(line, 0, len);
        for &i in slot {
            let k = usize::from(i).checked_sub(1)?;
            let p = PACKED.get(k)?;
            if w0 | p.fold[0] != p.words[0] {
                continue;
            }
            if len > 8 && word(line, 1, len) | p.fold[1] != p.words[1] {
                continue;
            }
            if len > 16 && word(line, 2, len) | p.fold[2] != p.words[2] {
                continue;
            }
            return Self::KNOWN.get(k).map(|(_, h)| h.clone());
        }
        None
    }

    /// True when this is an extension (unknown) name.
    pub fn is_other(&self) -> bool {
        matches!(self, Self::Other(_))
    }
}

impl From<&str> for HeaderName {
    fn from(name: &str) -> Self {
        Self::lookup(name.as_bytes(), name.len()).unwrap_or_else(|| Self::Other(Box::new(ByteString::from(name))))
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Other(a), Self::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderName;

    #[test]
    fn compact_and_case_fold_to_one_name() {
        assert_eq!(HeaderName::from("v"), HeaderName::Via);
        assert_eq!(HeaderName::from("VIA"), HeaderName::Via);
        assert_eq!(HeaderName::from("i"), HeaderName::CallId);
        assert_eq!(HeaderName::from("x-mac"), HeaderName::XMac);
        assert_eq!(HeaderName::from("X-Foo"), HeaderName::from("x-foo"));
        assert_ne!(HeaderName::from("X-Foo"), HeaderName::from("x-bar"));
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
    }

    #[test]
    fn every_known_name_and_compact_form_is_found_in_any_case() {
        for (name, h) in HeaderName::KNOWN {
            let name = std::str::from_utf8(name).unwrap_or_default();
            assert_eq!(HeaderName::from(name), *h, "{name}");
            assert_eq!(HeaderName::from(&*name.to_ascii_uppercase()), *h, "{name}");
            // The name followed by the rest of a line, as the parser reads it.
            let line = format!("{}: x\r\n", name.to_ascii_uppercase());
            assert_eq!(HeaderName::lookup(line.as_bytes(), name.len()).as_ref(), Some(h), "{name}");
            assert!(h.as_str().eq_ignore_ascii_case(name) || name.len() == 1, "{name}");
        }
        for other in
            ["x-macs", "", "q", "x\rmac", "Vi@", "Vi`", "X-MAC\r", "content-lengtH2", "call-i`", "x-bearer-addres", "x-bearer-addresses"]
        {
            assert!(HeaderName::from(other).is_other() || other.is_empty(), "{other:?}");
            assert!(HeaderName::lookup(other.as_bytes(), other.len()).is_none(), "{other:?}");
        }
        for (line, want) in [
            ("Via: x\r\n\r\n", Some((&HeaderName::Via, 3))),
            ("content-type:x\r\n", Some((&HeaderName::ContentType, 12))),
            ("v:SIP/2.0", Some((&HeaderName::Via, 1))),
        ] {
            assert_eq!(HeaderName::scan_known(line.as_bytes()), want, "{line:?}");
        }
        for line in [
            "Via: x",
            "content-type : x",
            "v\t:SIP/2.0",
            "X-Foo: bar\r\n",
            "Vi@: x\r\n\r\n",
            "Via\r\n: x\r\n",
            ": x\r\n\r\n",
            "Authentication-Info-More: x",
        ] {
            assert_eq!(HeaderName::scan_known(line.as_bytes()), None, "{line:?}");
        }
        assert!(HeaderName::lookup(b"via", 2).is_none() && HeaderName::lookup(b"t:", 1) == Some(HeaderName::To));
    }
}
