//! Header field names: case-insensitive, with the compact forms of RFC 3261
//! §7.3.3 and later RFCs folded into their full names.

use bytestring::ByteString;
use std::fmt;

macro_rules! header_names {
    ($( $variant:ident => $canonical:literal, $lower:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Known names are variants (a compact form parses to
        /// the same variant as the full name); anything else is `Other`, kept as sent.
        #[derive(Debug, Clone, Eq)]
        pub enum HeaderName {
            $( #[doc = $canonical] $variant, )*
            /// An extension header, spelled as received.
            Other(ByteString),
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

/// `name` equals `lower` (already lower case) ignoring ASCII case.
#[inline]
fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    let mut i = 0;
    while let (Some(&a), Some(&b)) = (name.get(i), lower.get(i)) {
        if a != b && !(a.is_ascii_uppercase() && a + 32 == b) {
            return false;
        }
        i += 1;
    }
    true
}

impl HeaderName {
    /// Reads a name that is already known to be a token and lies inside `buf`,
    /// so an extension name shares the message buffer instead of being copied.
    pub(crate) fn from_buf(buf: &ByteString, name: &str) -> Self {
        Self::lookup(name).unwrap_or_else(|| Self::Other(buf.slice_ref(name)))
    }

    fn lookup(name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_KNOWN {
            return None;
        }
        BUCKETS.get(bucket(bytes))?.iter().take_while(|&&i| i != 0).find_map(|&i| match Self::KNOWN.get(usize::from(i) - 1) {
            Some((known, h)) if eq_lower(bytes, known) => Some(h.clone()),
            _ => None,
        })
    }

    /// True when this is an extension (unknown) name.
    pub fn is_other(&self) -> bool {
        matches!(self, Self::Other(_))
    }
}

impl From<&str> for HeaderName {
    fn from(name: &str) -> Self {
        Self::lookup(name).unwrap_or_else(|| Self::Other(ByteString::from(name)))
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
            assert_eq!(HeaderName::lookup(name).as_ref(), Some(h), "{name}");
            assert_eq!(HeaderName::lookup(&name.to_ascii_uppercase()).as_ref(), Some(h), "{name}");
            assert!(h.as_str().eq_ignore_ascii_case(name) || name.len() == 1, "{name}");
        }
        assert!(HeaderName::lookup("x-macs").is_none() && HeaderName::lookup("").is_none() && HeaderName::lookup("q").is_none());
        assert!(HeaderName::lookup("x\rmac").is_none() && HeaderName::lookup("Vi@").is_none());
    }
}
