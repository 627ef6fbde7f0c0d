//! One leg's dialog (RFC 3261 §12): its identifiers, the remote target, our
//! CSeq, and the flow its requests go down. The B2BUA is the UAS of the
//! caller's dialog and the UAC of the callee's; both build requests the same way.

use super::msg;
use sipcore::transport::Flow;
use sipcore::{HeaderName, Method, Request, Response};
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub(super) struct Dialog {
    pub(super) call_id: String,
    pub(super) local_tag: String,
    pub(super) remote_tag: Option<String>,
    /// Our URI and the peer's, as `<uri>` (tags apart).
    pub(super) local_uri: String,
    pub(super) remote_uri: String,
    /// Where in-dialog requests are addressed (the peer's Contact).
    pub(super) remote_target: String,
    pub(super) local_cseq: u32,
    /// Requests go down this flow whatever the target says: the phone is
    /// behind NAT and reachable only on the flow it opened (or the address we saw).
    pub(super) flow: Flow,
    /// The switch's address on `flow` as the peer reaches it (Via, Contact).
    pub(super) local: SocketAddr,
}

impl Dialog {
    /// Our Contact URI on this leg.
    pub(super) fn contact(&self) -> String {
        let transport = match self.flow.transport {
            sipcore::transport::TransportKind::Udp => "",
            sipcore::transport::TransportKind::Tcp => ";transport=tcp",
            sipcore::transport::TransportKind::Tls => ";transport=tls",
        };
        format!("sip:switch@{}{transport}", self.local)
    }

    /// A new in-dialog request with the next CSeq (ACK and CANCEL use [`Dialog::ack`]
    /// and the transaction layer's `cancel_for`).
    pub(super) fn request(&mut self, method: Method) -> Request {
        self.local_cseq = self.local_cseq.saturating_add(1);
        self.build(method.clone(), self.local_cseq, method)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `cseq` (§13.2.2.4): a new transaction.
    pub(super) fn ack(&self, cseq: u32) -> Request {
        self.build(Method::Ack, cseq, Method::Ack)
    }

    fn build(&self, method: Method, cseq: u32, cseq_method: Method) -> Request {
        let mut req = Request::new(method, self.remote_target.clone());
        let h = &mut req.headers;
        h.push(HeaderName::Via, format!("SIP/2.0/{} {};branch={};rport", self.flow.transport.via_token(), self.local, msg::branch()));
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, format!("{};tag={}", self.local_uri, self.local_tag));
        let to = match &self.remote_tag {
            Some(t) => format!("{};tag={t}", self.remote_uri),
            None => self.remote_uri.clone(),
        };
        h.push(HeaderName::To, to);
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{cseq} {cseq_method}"));
        if matches!(req.method, Method::Invite) {
            h.push(HeaderName::Contact, format!("<{}>", self.contact()));
        }
        h.push(HeaderName::ContentLength, "0");
        req
    }

    /// Learns the peer's tag and target from a dialog-forming response (§12.1.2).
    pub(super) fn confirm(&mut self, resp: &Response) {
        if let Some(tag) = resp.headers.to_addr().ok().and_then(|to| to.tag()) {
            self.remote_tag = Some(tag.to_owned());
        }
        if let Some(Ok(sipcore::headers::Contact::Binding(c))) = resp.headers.contacts().next() {
            self.remote_target = c.uri.as_str().to_owned();
        }
    }
}

/// `<uri>` of a name-addr header value, tags and display name dropped.
pub(super) fn bare(na: &sipcore::headers::NameAddr<'_>) -> String {
    format!("<{}>", na.uri.as_str())
}
