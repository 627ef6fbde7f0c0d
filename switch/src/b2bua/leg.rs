//! One party's half of a call: the RFC 3261 §12 dialog with that party
//! (sipcore's [`Dialog`]: the switch is the UAS of the caller's, the UAC of the
//! callee's), the flow its requests go down and our address on that flow.

use sipcore::dialog::{Dialog, DialogError};
use sipcore::transport::{Flow, TransportKind};
use sipcore::{HeaderName, Method, Request};
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub(super) dialog: Dialog,
    /// Requests go down this flow whatever the target says: the phone is
    /// behind NAT and reachable only on the flow it opened (or the address we saw).
    pub(super) flow: Flow,
    /// The switch's address on `flow` as the peer reaches it (Via, Contact).
    pub(super) local: SocketAddr,
}

impl Leg {
    /// The caller's leg, from its INVITE: we answer as `tag`.
    pub(super) fn caller(invite: &Request, tag: &str, flow: Flow, local: SocketAddr) -> Result<Self, DialogError> {
        Ok(Leg { dialog: Dialog::uas(invite, tag)?, flow, local })
    }

    /// A callee leg we are about to invite: From `<sip:CALLER@DOMAIN>`, To
    /// `<sip:CALLEE@DOMAIN>`, to `target` down `flow`.
    pub(super) fn callee(call_id: String, tag: String, from: &str, to: &str, target: String, flow: Flow, local: SocketAddr) -> Self {
        Leg { dialog: Dialog::uac(call_id, from, tag, to.to_owned(), target), flow, local }
    }

    pub(super) fn call_id(&self) -> &str {
        &self.dialog.call_id
    }

    pub(super) fn local_tag(&self) -> &str {
        &self.dialog.local_tag
    }

    /// Our Contact URI on this leg.
    pub(super) fn contact(&self) -> String {
        let transport = match self.flow.transport {
            TransportKind::Udp => "",
            TransportKind::Tcp => ";transport=tcp",
            TransportKind::Tls => ";transport=tls",
        };
        format!("sip:switch@{}{transport}", self.local)
    }

    /// A new in-dialog request with the next CSeq and Via `branch` (ACK and CANCEL use
    /// [`Leg::ack`] and the transaction layer's `cancel_for`). An INVITE
    /// carries our Contact (§8.1.1.8).
    pub(super) fn request(&mut self, method: Method, branch: String) -> Request {
        let cseq = self.dialog.next_cseq();
        let mut req = self.dialog.request(method, cseq, self.via(&branch));
        if req.method == Method::Invite {
            let h = &mut req.headers;
            h.remove(&HeaderName::ContentLength);
            h.push(HeaderName::Contact, format!("<{}>", self.contact()));
            h.push(HeaderName::ContentLength, "0");
        }
        req
    }

    /// The ACK for a 2xx to the INVITE with CSeq `cseq` (§13.2.2.4): a new transaction.
    pub(super) fn ack(&self, cseq: u32, branch: String) -> Request {
        self.dialog.request(Method::Ack, cseq, self.via(&branch))
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/{} {};branch={branch};rport", self.flow.transport.via_token(), self.local)
    }
}
