//! One expectation per invalid corpus file: what the error says, where it
//! points and what a server answers.

use bytes::Bytes;
use sipcore::ToStatus;

/// Where the error must point.
pub enum Line {
    /// Inside this 1-based line (CRLF included).
    N(usize),
    /// At the very end of the message (nothing more to read).
    End,
}

pub struct Expect {
    pub file: &'static str,
    /// A piece of the error's Display.
    pub says: &'static str,
    pub line: Line,
    /// The exact offset, as the first occurrence of a needle plus a shift.
    pub at: Option<(&'static [u8], usize)>,
    /// The status a server answers with; `None` for responses, which are dropped.
    pub status: Option<u16>,
}

const fn e(file: &'static str, says: &'static str, line: usize, at: Option<(&'static [u8], usize)>, status: Option<u16>) -> Expect {
    Expect { file, says, line: Line::N(line), at, status }
}

const BAD: Option<u16> = Some(400);

pub const TABLE: &[Expect] = &[
    e("rfc4475-3.1.2.1-badinv01", "bad Via: bad via-params", 7, None, BAD),
    e("rfc4475-3.1.2.2-clerr", "body shorter than Content-Length", 10, Some((b"9999", 0)), BAD),
    e("rfc4475-3.1.2.3-ncl", "bad Content-Length: not a number", 10, Some((b"-999", 0)), BAD),
    e("rfc4475-3.1.2.4-scalar02", "bad CSeq: sequence number not below 2^31", 5, Some((b"36893488147419103232", 0)), BAD),
    e("rfc4475-3.1.2.5-scalarlg", "bad CSeq: sequence number not below 2^31", 5, Some((b"9292394834772304023312", 0)), None),
    e("rfc4475-3.1.2.6-quotbal", "unterminated quoted display-name", 2, Some((b"\"Mr. J.", 0)), BAD),
    e("rfc4475-3.1.2.7-ltgtruri", "bad URI: character not allowed", 1, Some((b"<sip:user", 0)), BAD),
    e("rfc4475-3.1.2.8-lwsruri", "white space in or around the Request-URI", 1, Some((b"; lr", 1)), BAD),
    e("rfc4475-3.1.2.9-lwsstart", "white space in or around the Request-URI", 1, Some((b"  sip:user", 1)), BAD),
    e("rfc4475-3.1.2.10-trws", "white space after SIP-Version", 1, Some((b"SIP/2.0  ", 7)), BAD),
    e("rfc4475-3.1.2.11-escruri", "headers not allowed in a Request-URI", 1, Some((b"?Route", 0)), BAD),
    e("rfc4475-3.1.2.13-regbadct", "URI with headers must be enclosed in <>", 8, Some((b"?Route", 0)), BAD),
    e("rfc4475-3.1.2.14-badaspec", "bad URI: character not allowed", 5, Some((b"< sip:t.watson", 1)), BAD),
    e("rfc4475-3.1.2.15-baddn", "display-name is not tokens", 4, Some((b", Alexander", 0)), BAD),
    e("rfc4475-3.1.2.16-badvers", "unsupported SIP version", 1, Some((b"SIP/7.0", 0)), Some(505)),
    e("rfc4475-3.1.2.17-mismatch01", "bad CSeq: method does not match the request line", 6, Some((b"8 INVITE", 2)), BAD),
    e("rfc4475-3.1.2.18-mismatch02", "bad CSeq: method does not match the request line", 6, Some((b"8 INVITE", 2)), BAD),
    e("rfc4475-3.1.2.19-bigcode", "Status-Code is not 3 digits", 1, Some((b"4294967301", 0)), None),
    e("rfc4475-3.3.1-insuf", "missing From", 6, None, BAD),
    e("rfc4475-3.3.8-multi01", "bad CSeq: appears more than once", 7, Some((b"CSeq: 59", 0)), BAD),
    e("rfc4475-3.3.9-mcl01", "bad Content-Length: conflicting values", 9, Some((b"5\r\nContent-Type", 0)), BAD),
    e("own-inv-bare-cr", "bare CR or LF", 8, Some((b"\rtwo", 0)), BAD),
    e("own-inv-bare-lf", "bare CR or LF", 3, Some((b"70\nFrom", 2)), BAD),
    e("own-inv-contact-junk", "bad name-addr: junk after URI", 8, Some((b"> junk", 1)), BAD),
    e("own-inv-content-length-word", "bad Content-Length: not a number", 8, Some((b"five", 0)), BAD),
    e("own-inv-cseq-2-31", "bad CSeq: sequence number not below 2^31", 7, Some((b"2147483648", 0)), BAD),
    e("own-inv-dup-to", "bad To: appears more than once", 8, Some((b"To: <sip:c", 0)), BAD),
    e("own-inv-empty-via", "bad Via: expected SIP/2.0/transport", 7, None, BAD),
    e("own-inv-fold-before-any-header", "bad header name", 2, Some((b" folded", 0)), BAD),
    e("own-inv-folded-via-error", "bad Via: white space in sent-by", 8, Some((b"bad host", 0)), BAD),
    e("own-inv-ipv6-unbracketed-via", "bad Via: bad port", 7, Some((b"2001:db8::1:5060", 0)), BAD),
    e("own-inv-latin1-header", "header section is not UTF-8", 4, Some((b"\xe9", 0)), BAD),
    e("own-inv-max-forwards-256", "bad Max-Forwards: out of range", 7, Some((b"256", 0)), BAD),
    e("own-inv-method-not-token", "method is not a token", 1, Some((b"OPT@", 0)), BAD),
    e("own-inv-no-colon", "bad header name", 8, Some((b"Subject just", 7)), BAD),
    Expect { file: "own-inv-no-header-end", says: "no empty line after the headers", line: Line::End, at: None, status: BAD },
    e("own-inv-response-version", "unsupported SIP version", 1, Some((b"SIP/3.0", 0)), None),
    e("own-inv-ruri-ipv6-unterminated", "bad URI: unterminated IPv6 reference", 1, Some((b"[2001", 0)), BAD),
    e("own-inv-ruri-port-range", "bad URI: port out of range", 1, Some((b"example.com:70000", 0)), BAD),
    e("own-inv-space-in-header-name", "bad header name", 8, Some((b" Bad Name", 0)), BAD),
    e("own-inv-status-099", "Status-Code out of range", 1, Some((b"099", 0)), None),
    e("own-inv-tel-bad", "bad URI: bad telephone-subscriber", 1, Some((b"call-me", 0)), BAD),
    e("own-inv-x-bearer-port-zero", "bad X-Bearer-Port", 9, Some((b"X-Bearer-Port: 0", 15)), BAD),
    e("own-inv-x-mac", "bad X-MAC: expected six octets", 8, None, BAD),
    e("own-inv-x-private-ip", "bad X-Private-IP: not an IP address", 8, Some((b"10.1.0.300", 0)), BAD),
];

/// Byte range of 1-based line `n`, its LF included.
fn line_span(raw: &[u8], n: usize) -> std::ops::RangeInclusive<usize> {
    let mut start = 0;
    for _ in 1..n {
        start += raw[start..].iter().position(|&b| b == b'\n').expect("line exists") + 1;
    }
    let end = raw[start..].iter().position(|&b| b == b'\n').map_or(raw.len(), |i| start + i);
    start..=end
}

pub fn check(e: &Expect, raw: &[u8]) {
    let name = e.file;
    let err = match sipcore::parse(Bytes::copy_from_slice(raw)) {
        Ok(m) => panic!("{name}: parsed, but must be rejected: {m:?}"),
        Err(err) => err,
    };
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("at byte {}: ", err.offset)), "{name}: Display does not say where: {shown}");
    assert!(shown.contains(e.says), "{name}: {shown:?} does not say {:?}", e.says);
    match e.line {
        Line::N(n) => {
            let span = line_span(raw, n);
            assert!(span.contains(&err.offset), "{name}: offset {} is not in line {n} ({span:?}): {shown}", err.offset);
        }
        Line::End => assert_eq!(err.offset, raw.len(), "{name}: {shown}"),
    }
    if let Some((needle, shift)) = e.at {
        let pos = raw.windows(needle.len()).position(|w| w == needle).unwrap_or_else(|| panic!("{name}: needle missing"));
        assert_eq!(err.offset, pos + shift, "{name}: {shown}");
    }
    if let Some(status) = e.status {
        assert_eq!(err.status().as_u16(), status, "{name}: {shown}");
        assert!(err.reason().contains(if status == 505 { "Version Not Supported" } else { "Bad Request" }));
    }
}
