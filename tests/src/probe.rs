//! What a scanner sees of the switch's answers: a response reduced to what
//! does not change from one request to the next, so that two answers of the
//! same shape tell a prober nothing apart (issue 12: whether a number exists,
//! whether a password was right).

use sipcore::{HeaderName, Response};

/// `status reason` and every header in order, with what belongs to the
/// request masked (Via, Call-ID, CSeq, tags, nonces) and `number`, the one the
/// request was about, written `NUMBER`.
pub fn shape(r: &Response, number: &str) -> Vec<String> {
    let mut v = vec![format!("{} {}", r.status, r.reason)];
    for h in r.headers.iter() {
        let value = match h.name {
            HeaderName::Via | HeaderName::CallId | HeaderName::CSeq => "*".to_owned(),
            HeaderName::From | HeaderName::To => mask(&h.value.replace(number, "NUMBER"), "tag="),
            _ => mask(&h.value.replace(number, "NUMBER"), "nonce=\""),
        };
        v.push(format!("{}: {value}", h.name.as_str()));
    }
    v
}

/// `value` with what follows `param` up to the next `"`, `;` or `,` masked.
fn mask(value: &str, param: &str) -> String {
    match value.split_once(param) {
        None => value.to_owned(),
        Some((head, rest)) => {
            let end = rest.find(['"', ';', ',']).unwrap_or(rest.len());
            format!("{head}{param}*{}", rest.get(end..).unwrap_or(""))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_what_belongs_to_the_request() {
        let mut a = Response::new(401);
        a.headers.push(HeaderName::To, "<sip:1001@x>;tag=abc");
        a.headers.push(HeaderName::WwwAuthenticate, "Digest realm=\"x\", nonce=\"n1\", algorithm=MD5");
        let mut b = Response::new(401);
        b.headers.push(HeaderName::To, "<sip:1999@x>;tag=def");
        b.headers.push(HeaderName::WwwAuthenticate, "Digest realm=\"x\", nonce=\"n2\", algorithm=MD5");
        assert_eq!(shape(&a, "1001"), shape(&b, "1999"));
        b.headers.push(HeaderName::Server, "y");
        assert_ne!(shape(&a, "1001"), shape(&b, "1999"));
    }
}
