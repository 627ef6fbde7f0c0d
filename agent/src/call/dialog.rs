//! The dialog state of RFC 3261 §12 and the requests built from it.
//!
//! From and To are kept as the exact header values of the dialog-forming
//! messages (tags included), so every in-dialog request repeats them byte for
//! byte; the switch matches on them.

use crate::ua::message::Identity;
use sipcore::headers::Contact;
use sipcore::{HeaderName, Method, Request, Response};

/// One dialog (early or confirmed).
#[derive(Debug, Clone)]
pub(super) struct Dialog {
    pub(super) call_id: String,
    /// Our From (UAC) or To (UAS) value, with our tag.
    pub(super) local: String,
    pub(super) local_tag: String,
    /// Their From (UAS) or To (UAC) value, with their tag once known.
    pub(super) remote: String,
    pub(super) remote_tag: Option<String>,
    /// Where in-dialog requests go: their Contact (§12.1.1, §12.1.2).
    pub(super) remote_target: Option<String>,
    pub(super) local_cseq: u32,
    pub(super) remote_cseq: Option<u32>,
}

/// The URI of the first Contact, if it is a usable one.
pub(super) fn contact_uri(headers: &sipcore::message::Headers) -> Option<String> {
    headers.contacts().filter_map(Result::ok).find_map(|c| match c {
        Contact::Binding(b) => Some(b.uri.as_str().to_owned()),
        Contact::Wildcard => None,
    })
}

/// The tag of the From or To of `headers`.
pub(super) fn tag_of(headers: &sipcore::message::Headers, name: &HeaderName) -> Option<String> {
    let addr = if *name == HeaderName::From { headers.from_addr() } else { headers.to_addr() };
    addr.ok().and_then(|a| a.tag().map(str::to_owned))
}

impl Dialog {
    /// True when `req` (from the switch) belongs to this dialog: same Call-ID,
    /// its To tag is ours and its From tag theirs (§12.2.2).
    pub(super) fn matches(&self, req: &Request) -> bool {
        req.headers.call_id().ok() == Some(self.call_id.as_str())
            && tag_of(&req.headers, &HeaderName::To).as_deref() == Some(self.local_tag.as_str())
            && (self.remote_tag.is_none() || tag_of(&req.headers, &HeaderName::From) == self.remote_tag)
    }

    /// A request inside the dialog (§12.2.1.1): to the remote target, with
    /// the dialog's From, To and Call-ID and the given CSeq number.
    pub(super) fn request(&self, me: &Identity<'_>, method: Method, cseq: u32, branch: &str) -> Request {
        let uri = self.remote_target.clone().unwrap_or_else(|| me.request_uri());
        let mut r = Request::new(method.clone(), uri);
        let h = &mut r.headers;
        h.push(HeaderName::Via, me.via(branch));
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, self.local.clone());
        h.push(HeaderName::To, self.remote.clone());
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{cseq} {}", method.as_str()));
        h.push(HeaderName::UserAgent, me.user_agent.to_owned());
        h.push(HeaderName::ContentLength, "0");
        r
    }

    /// Takes the remote tag, To value and Contact of a response to our INVITE
    /// (§12.1.2); a later 2xx's Contact replaces an early one.
    pub(super) fn learn_from_response(&mut self, resp: &Response) {
        if self.remote_tag.is_none()
            && let Some(tag) = tag_of(&resp.headers, &HeaderName::To)
        {
            self.remote_tag = Some(tag);
            if let Some(to) = resp.headers.get(&HeaderName::To) {
                self.remote = to.to_owned();
            }
        }
        if let Some(target) = contact_uri(&resp.headers) {
            self.remote_target = Some(target);
        }
    }
}

/// Puts an SDP body on a message's headers (Content-Type and a correct Content-Length).
pub(super) fn set_sdp(headers: &mut sipcore::message::Headers, body: &[u8]) {
    headers.set(HeaderName::ContentType, "application/sdp");
    headers.set(HeaderName::ContentLength, body.len().to_string());
}

/// The SDP body of a message, when it has one that claims to be SDP and is not too big.
pub(super) fn sdp_body(headers: &sipcore::message::Headers, body: &bytes::Bytes) -> Option<bytes::Bytes> {
    let is_sdp = headers.content_type().ok().flatten().is_some_and(|ct| ct.is("application", "sdp"));
    (is_sdp && !body.is_empty() && body.len() <= super::MAX_SDP).then(|| body.clone())
}
