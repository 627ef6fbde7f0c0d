//! Error replies for requests the parser or framer refused. The request cannot be
//! trusted, so the reply copies the raw Via, From, To, Call-ID and CSeq lines it
//! can find (RFC 3261 §8.2.6.2) and gives up if any is missing: a response that
//! cannot be matched helps nobody. A To without a tag gets one, as every final
//! response outside a dialog must (§8.2.6.2).

use bytes::{BufMut, Bytes, BytesMut};

/// Which of the five headers a lower-cased line name is.
fn slot(name: &str) -> Option<usize> {
    Some(match name {
        "via" | "v" => 0,
        "from" | "f" => 1,
        "to" | "t" => 2,
        "call-id" | "i" => 3,
        "cseq" => 4,
        _ => return None,
    })
}

/// Builds `SIP/2.0 <status> <reason>` for the request at the start of `raw`, or
/// `None` when `raw` is not a request (or an ACK, which is never answered) or
/// lacks a header a response needs. Looks only at the header section, bounded
/// by `raw`'s length.
pub fn error_response(raw: &[u8], status: u16, reason: &str) -> Option<Bytes> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n").skip_while(|l| l.is_empty());
    let start = lines.next()?;
    let mut words = start.split(' ');
    let method = words.next()?;
    if method.is_empty() || method == "ACK" || method.starts_with("SIP/") || !crate::text::is_token(method) {
        return None;
    }
    let mut found: [Vec<&str>; 5] = Default::default();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if let Some(v) = slot(&name.trim().to_ascii_lowercase()).and_then(|i| found.get_mut(i)) {
            v.push(value.trim());
        }
    }
    if found.iter().any(Vec::is_empty) {
        return None;
    }
    let mut out = BytesMut::with_capacity(256);
    out.put_slice(format!("SIP/2.0 {status} {reason}\r\n").as_bytes());
    for (name, values) in ["Via", "From", "To", "Call-ID", "CSeq"].iter().zip(&found) {
        for v in values {
            let untagged = *name == "To" && !v.to_ascii_lowercase().contains(";tag=");
            let tag = if untagged { format!(";tag={:016x}", rand::random::<u64>()) } else { String::new() };
            out.put_slice(format!("{name}: {v}{tag}\r\n").as_bytes());
        }
    }
    out.put_slice(b"Content-Length: 0\r\n\r\n");
    Some(out.freeze())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn answers_a_broken_request_it_can_match() {
        let raw = b"INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: banana\r\n\r\n";
        let r = error_response(raw, 400, "Bad Request (bad Max-Forwards)").unwrap();
        let m = crate::parse(r).unwrap();
        let crate::Message::Response(resp) = m else { panic!("not a response") };
        assert_eq!(resp.status, 400);
        assert_eq!(resp.headers.call_id().unwrap(), "c1");
        assert!(resp.headers.to_addr().unwrap().tag().is_some_and(|t| t.len() == 16), "a To tag: {resp:?}");
        let tagged = b"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;TAG=9\r\nCall-ID: c2\r\nCSeq: x BYE\r\n\r\n";
        let r = String::from_utf8(error_response(tagged, 400, "Bad Request").unwrap().to_vec()).unwrap();
        assert!(r.contains("To: <sip:a@b>;TAG=9\r\n"), "a tag it had is kept, alone: {r}");
    }

    #[test]
    fn never_answers_ack_responses_or_unmatchable() {
        assert!(
            error_response(b"ACK sip:a@b SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n", 400, "x").is_none()
        );
        assert!(error_response(b"SIP/2.0 200 OK\r\n\r\n", 400, "x").is_none());
        assert!(error_response(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n", 400, "x").is_none());
        assert!(error_response(b"\xff\xfe", 400, "x").is_none());
    }
}
