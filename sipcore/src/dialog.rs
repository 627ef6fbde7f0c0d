//! The dialog of RFC 3261 §12: the state two user agents share for the life of
//! a call, and the requests built from it. The one dialog type of the
//! workspace: the agent keeps one per call, the switch's B2BUA one per leg (it
//! is the UAS of the caller's dialog and the UAC of the callee's).
//!
//! From and To are kept as the exact header values of the dialog-forming
//! messages (tags included), so every in-dialog request repeats them byte for
//! byte. Where a request goes and which Via it carries is the owner's business:
//! [`Dialog::request`] takes the Via value, so the same dialog serves a phone on
//! one outbound flow and a switch that follows a party to a new flow.

use crate::headers::Contact;
use crate::message::{HeaderName, Headers, Method, Request, Response};

/// Why a dialog could not be formed from a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header a dialog needs (Call-ID, From with a tag, To, CSeq) is missing or malformed.
    #[error("no usable {0} header")]
    Header(&'static str),
}

/// One dialog, early or confirmed (§12.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    /// Our From (as UAC) or To (as UAS) value, with our tag.
    pub local: String,
    pub local_tag: String,
    /// Their From (as UAS) or To (as UAC) value, with their tag once known.
    pub remote: String,
    pub remote_tag: Option<String>,
    /// The Request-URI of in-dialog requests: their Contact (§12.1.1, §12.1.2).
    pub remote_target: String,
    /// The CSeq of the last request we sent in the dialog.
    pub local_cseq: u32,
    /// The CSeq of the last request they sent (§12.2.2), once one came.
    pub remote_cseq: Option<u32>,
}

impl Dialog {
    /// The UAS side of a dialog formed by `req` (§12.1.1): their From, tag and
    /// Contact; our To with `local_tag` added (unless it already has a tag).
    pub fn uas(req: &Request, local_tag: &str) -> Result<Self, DialogError> {
        let h = &req.headers;
        let call_id = h.call_id().map_err(|_| DialogError::Header("Call-ID"))?;
        let from = h.from_addr().map_err(|_| DialogError::Header("From"))?;
        let to_value = h.get(&HeaderName::To).ok_or(DialogError::Header("To"))?;
        let to = h.to_addr().map_err(|_| DialogError::Header("To"))?;
        let cseq = h.cseq().map_err(|_| DialogError::Header("CSeq"))?;
        let (local, local_tag) = match to.tag() {
            Some(tag) => (to_value.to_owned(), tag.to_owned()),
            None => (format!("{to_value};tag={local_tag}"), local_tag.to_owned()),
        };
        Ok(Dialog {
            call_id: call_id.to_owned(),
            local,
            local_tag,
            remote: h.get(&HeaderName::From).unwrap_or_default().to_owned(),
            remote_tag: from.tag().map(str::to_owned),
            remote_target: contact_uri(h).unwrap_or_else(|| from.uri.as_str().to_owned()),
            local_cseq: 0,
            remote_cseq: Some(cseq.seq),
        })
    }

    /// The UAC side of a dialog we are about to form (§12.1.2): `local` and
    /// `remote` are the From (without tag) and To values of the request, `target`
    /// its Request-URI until a response names the peer's Contact.
    pub fn uac(call_id: String, local: &str, local_tag: String, remote: String, target: String) -> Self {
        Dialog {
            call_id,
            local: format!("{local};tag={local_tag}"),
            local_tag,
            remote,
            remote_tag: None,
            remote_target: target,
            local_cseq: 0,
            remote_cseq: None,
        }
    }

    /// True when `req` belongs to this dialog (§12.2.2): same Call-ID, its To
    /// tag is ours and its From tag theirs (any, while we know none).
    pub fn matches(&self, req: &Request) -> bool {
        req.headers.call_id().ok() == Some(self.call_id.as_str())
            && tag_of(&req.headers, &HeaderName::To).as_deref() == Some(self.local_tag.as_str())
            && (self.remote_tag.is_none() || tag_of(&req.headers, &HeaderName::From) == self.remote_tag)
    }

    /// Takes their tag, To value and Contact from a response to our request
    /// (§12.1.2); a later 2xx's Contact replaces an early one.
    pub fn learn(&mut self, resp: &Response) {
        if self.remote_tag.is_none()
            && let Some(tag) = tag_of(&resp.headers, &HeaderName::To)
        {
            self.remote_tag = Some(tag);
            if let Some(to) = resp.headers.get(&HeaderName::To) {
                self.remote = to.to_owned();
            }
        }
        if let Some(target) = contact_uri(&resp.headers) {
            self.remote_target = target;
        }
    }

    /// Takes their tag, To value and Contact from a 2xx to our INVITE: the
    /// dialog is the one that answer confirms (§12.1.2, §13.2.2.4), so its tag
    /// replaces one an earlier provisional set (a provisional may come from
    /// another fork of the request, whose early dialog this is not).
    pub fn confirm(&mut self, resp: &Response) {
        if let Some(tag) = tag_of(&resp.headers, &HeaderName::To) {
            if let Some(to) = resp.headers.get(&HeaderName::To) {
                self.remote = to.to_owned();
            }
            self.remote_tag = Some(tag);
        }
        if let Some(target) = contact_uri(&resp.headers) {
            self.remote_target = target;
        }
    }

    /// Checks a request of theirs against the CSeq order (§12.2.2): one lower
    /// than the last is out of order (answer 500); otherwise it becomes the last.
    pub fn accept_remote_cseq(&mut self, req: &Request) -> bool {
        let Ok(cseq) = req.headers.cseq() else { return false };
        if self.remote_cseq.is_some_and(|last| cseq.seq < last) {
            return false;
        }
        self.remote_cseq = Some(cseq.seq);
        true
    }

    /// As [`Dialog::accept_remote_cseq`], for a request that must be new (an
    /// INVITE, BYE…, not the ACK or CANCEL that repeat the number of the request
    /// they belong to): §12.2.1.1 raises the number for each new request, so one
    /// equal to the last is a different request out of order too. A
    /// retransmission never gets here: its transaction absorbs it.
    pub fn accept_next_remote_cseq(&mut self, req: &Request) -> bool {
        let Ok(cseq) = req.headers.cseq() else { return false };
        if self.remote_cseq.is_some_and(|last| cseq.seq <= last) {
            return false;
        }
        self.remote_cseq = Some(cseq.seq);
        true
    }

    /// The CSeq number for our next request (§12.2.1.1).
    pub fn next_cseq(&mut self) -> u32 {
        self.local_cseq = self.local_cseq.saturating_add(1);
        self.local_cseq
    }

    /// A request inside the dialog (§12.2.1.1): to the remote target, with the
    /// dialog's From, To and Call-ID, CSeq `cseq`, and `via` as its only Via.
    /// The ACK for a 2xx takes the INVITE's CSeq number (§13.2.2.4).
    pub fn request(&self, method: Method, cseq: u32, via: String) -> Request {
        let mut r = Request::new(method.clone(), self.remote_target.clone());
        let h = &mut r.headers;
        h.push(HeaderName::Via, via);
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, self.local.clone());
        h.push(HeaderName::To, self.remote.clone());
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{cseq} {}", method.as_str()));
        h.push(HeaderName::ContentLength, "0");
        r
    }
}

/// The URI of the first Contact, if it is a usable one (not `*`).
pub fn contact_uri(headers: &Headers) -> Option<String> {
    headers.contacts().filter_map(Result::ok).find_map(|c| match c {
        Contact::Binding(b) => Some(b.uri.as_str().to_owned()),
        Contact::Wildcard => None,
    })
}

/// The tag of the From (`HeaderName::From`) or else the To of `headers`.
pub fn tag_of(headers: &Headers, name: &HeaderName) -> Option<String> {
    let addr = if *name == HeaderName::From { headers.from_addr() } else { headers.to_addr() };
    addr.ok().and_then(|a| a.tag().map(str::to_owned))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    fn request(text: &str) -> Request {
        match parse(bytes::Bytes::from(text.replace('\n', "\r\n"))).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    const INVITE: &str = "INVITE sip:1002@switch.local SIP/2.0
Via: SIP/2.0/TCP 10.1.0.2:40712;branch=z9hG4bK1
Max-Forwards: 70
From: \"Alice\" <sip:1001@switch.local>;tag=a1
To: <sip:1002@switch.local>
Call-ID: c1@agent
CSeq: 7 INVITE
Contact: <sip:1001@10.1.0.2:40712;transport=tcp;ob>
Content-Length: 0

";

    #[test]
    fn the_uas_side_repeats_their_values_and_answers_to_their_contact() {
        let invite = request(INVITE);
        let mut d = Dialog::uas(&invite, "b2").unwrap();
        assert_eq!(d.local, "<sip:1002@switch.local>;tag=b2");
        assert_eq!(d.remote, "\"Alice\" <sip:1001@switch.local>;tag=a1");
        assert_eq!(d.remote_target, "sip:1001@10.1.0.2:40712;transport=tcp;ob");
        assert_eq!(d.remote_cseq, Some(7));
        let cseq = d.next_cseq();
        let bye = d.request(Method::Bye, cseq, "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKx".into());
        assert_eq!(bye.uri, "sip:1001@10.1.0.2:40712;transport=tcp;ob");
        assert_eq!(bye.headers.get(&HeaderName::From), Some("<sip:1002@switch.local>;tag=b2"));
        assert_eq!(bye.headers.get(&HeaderName::To), Some("\"Alice\" <sip:1001@switch.local>;tag=a1"));
        assert_eq!(bye.headers.get(&HeaderName::CSeq), Some("1 BYE"));
        // Their next request matches; one out of CSeq order does not pass.
        let theirs = request(
            &INVITE
                .replacen("INVITE", "BYE", 1)
                .replace("To: <sip:1002@switch.local>", "To: <sip:1002@switch.local>;tag=b2")
                .replace("7 INVITE", "8 BYE"),
        );
        assert!(d.matches(&theirs));
        assert!(d.accept_remote_cseq(&theirs));
        let older = request(&INVITE.replace("To: <sip:1002@switch.local>", "To: <sip:1002@switch.local>;tag=b2"));
        assert!(!d.accept_remote_cseq(&older), "CSeq 7 after 8 is out of order");
        let other_tag = request(&INVITE.replace("To: <sip:1002@switch.local>", "To: <sip:1002@switch.local>;tag=zz"));
        assert!(!d.matches(&other_tag));
    }

    #[test]
    fn a_new_request_must_raise_the_cseq_where_an_ack_may_repeat_it() {
        let invite = request(INVITE);
        let mut d = Dialog::uas(&invite, "b2").unwrap();
        let in_dialog = |method: &str, seq: u32| {
            request(
                &INVITE
                    .replacen("INVITE", method, 1)
                    .replace("To: <sip:1002@switch.local>", "To: <sip:1002@switch.local>;tag=b2")
                    .replace("7 INVITE", &format!("{seq} {method}")),
            )
        };
        // The ACK of the INVITE repeats its number: in order, not new.
        assert!(d.accept_remote_cseq(&in_dialog("ACK", 7)));
        assert!(!d.accept_next_remote_cseq(&in_dialog("INVITE", 7)), "a new request with the last number");
        assert!(!d.accept_next_remote_cseq(&in_dialog("INVITE", 6)));
        assert_eq!(d.remote_cseq, Some(7), "refusals leave the last number as it was");
        assert!(d.accept_next_remote_cseq(&in_dialog("INVITE", 8)));
        assert_eq!(d.remote_cseq, Some(8));
        let mut no_cseq = in_dialog("BYE", 9);
        no_cseq.headers.remove(&HeaderName::CSeq);
        assert!(!d.accept_next_remote_cseq(&no_cseq));
    }

    /// Our side of a call from 1001 to 1002, before any answer.
    fn uac() -> Dialog {
        Dialog::uac(
            "c9@switch".into(),
            "<sip:1001@switch.local>",
            "t1".into(),
            "<sip:1002@switch.local>".into(),
            "sip:1002@10.2.0.2".into(),
        )
    }

    #[test]
    fn the_uac_side_learns_their_tag_and_contact_from_the_answer() {
        let mut d = uac();
        let invite = d.request(Method::Invite, d.local_cseq + 1, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKy".into());
        assert_eq!(invite.headers.get(&HeaderName::From), Some("<sip:1001@switch.local>;tag=t1"));
        let mut ok = Response::to_request(&invite, 200);
        ok.headers.set(HeaderName::To, "<sip:1002@switch.local>;tag=r9");
        ok.headers.push(HeaderName::Contact, "<sip:1002@198.51.100.2:40000>");
        d.learn(&ok);
        assert_eq!(d.remote_tag.as_deref(), Some("r9"));
        assert_eq!(d.remote, "<sip:1002@switch.local>;tag=r9");
        assert_eq!(d.remote_target, "sip:1002@198.51.100.2:40000");
        let ack = d.request(Method::Ack, 1, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKz".into());
        assert_eq!(ack.headers.get(&HeaderName::CSeq), Some("1 ACK"));
        assert_eq!(ack.uri, "sip:1002@198.51.100.2:40000");
    }

    #[test]
    fn a_2xx_confirms_the_dialog_of_its_own_fork() {
        let mut d = uac();
        let cseq = d.next_cseq();
        let invite = d.request(Method::Invite, cseq, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKy".into());
        let mut ringing = Response::to_request(&invite, 180);
        ringing.headers.set(HeaderName::To, "<sip:1002@switch.local>;tag=forkA");
        ringing.headers.push(HeaderName::Contact, "<sip:1002@198.51.100.2:40000>");
        d.learn(&ringing);
        let mut ok = Response::to_request(&invite, 200);
        ok.headers.set(HeaderName::To, "<sip:1002@switch.local>;tag=forkB");
        ok.headers.push(HeaderName::Contact, "<sip:1002@203.0.113.9:5060>");
        d.learn(&ok);
        assert_eq!(d.remote_tag.as_deref(), Some("forkA"), "learn keeps the first tag it saw");
        d.confirm(&ok);
        assert_eq!(d.remote_tag.as_deref(), Some("forkB"), "the 2xx names the dialog");
        assert_eq!(d.remote, "<sip:1002@switch.local>;tag=forkB");
        assert_eq!(d.remote_target, "sip:1002@203.0.113.9:5060");
        let cseq = d.next_cseq();
        let bye = d.request(Method::Bye, cseq, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKz".into());
        assert_eq!(bye.headers.get(&HeaderName::To), Some("<sip:1002@switch.local>;tag=forkB"));
        assert_eq!(bye.headers.get(&HeaderName::CSeq), Some("2 BYE"));
    }

    #[test]
    fn a_request_without_a_from_forms_no_dialog() {
        // The parser refuses such a message; one built by hand can still lack it.
        let mut broken = request(INVITE);
        broken.headers.remove(&HeaderName::From);
        assert_eq!(Dialog::uas(&broken, "x"), Err(DialogError::Header("From")));
    }
}
