//! The messages the agent writes (REGISTER per the wire contract, the OPTIONS
//! that asks the switch which address it sees, the answer to the switch's
//! OPTIONS) and what it reads out of a 200 OK to REGISTER.

use sipcore::headers::{Contact, MacAddr};
use sipcore::{HeaderName, Method, Request, Response};
use std::net::{IpAddr, SocketAddr};

/// What the agent answers in `Allow` (RFC 3261 §11.2): OPTIONS itself; the
/// others are handed to the application as events.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// An address as a URI/Via host: IPv6 in brackets.
pub(crate) fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn hostport(addr: SocketAddr) -> String {
    format!("{}:{}", host(addr.ip()), addr.port())
}

/// A domain as written in a URI (an IPv6 literal gets its brackets).
pub(crate) fn domain_host(domain: &str) -> String {
    match domain.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => domain.to_owned(),
    }
}

/// Who and where the agent is on the current flow.
#[derive(Debug, Clone)]
pub(crate) struct Identity<'a> {
    pub number: &'a str,
    pub domain: &'a str,
    pub transport: &'static str,
    /// The flow's local address: private IP and port.
    pub local: SocketAddr,
    pub mac: Option<MacAddr>,
    pub instance: &'a str,
    pub bearer_port: Option<u16>,
    pub user_agent: &'a str,
    /// RFC 8599 push parameters, on the REGISTER's Contact only: they are
    /// about reaching the binding, not the dialogs' remote targets.
    pub push: Option<&'a crate::config::PushParams>,
}

/// Per-request values.
#[derive(Debug, Clone)]
pub(crate) struct Dialogish<'a> {
    pub call_id: &'a str,
    pub from_tag: &'a str,
    pub cseq: u32,
    pub branch: &'a str,
}

impl Identity<'_> {
    pub(crate) fn request_uri(&self) -> String {
        format!("sip:{}", domain_host(self.domain))
    }

    pub(crate) fn aor(&self) -> String {
        format!("<sip:{}@{}>", self.number, domain_host(self.domain))
    }

    pub(crate) fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/{} {};branch={branch};rport", self.transport, hostport(self.local))
    }

    /// The Contact of the contract: the private address, `ob`, the instance and reg-id (RFC 5626 §4.2).
    pub(crate) fn contact(&self) -> String {
        self.contact_with("")
    }

    /// The REGISTER's Contact: [`Identity::contact`] with the push parameters.
    fn register_contact(&self) -> String {
        self.contact_with(&self.push.map(|p| p.uri_params()).unwrap_or_default())
    }

    fn contact_with(&self, uri_params: &str) -> String {
        format!(
            "<sip:{}@{};transport={};ob{uri_params}>;+sip.instance=\"<{}>\";reg-id=1",
            self.number,
            hostport(self.local),
            self.transport.to_ascii_lowercase(),
            self.instance
        )
    }

    fn common(&self, method: Method, uri: String, ids: &Dialogish<'_>, to: String) -> Request {
        let mut r = Request::new(method.clone(), uri);
        let h = &mut r.headers;
        h.push(HeaderName::Via, self.via(ids.branch));
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, format!("{};tag={}", self.aor(), ids.from_tag));
        h.push(HeaderName::To, to);
        h.push(HeaderName::CallId, ids.call_id.to_owned());
        h.push(HeaderName::CSeq, format!("{} {}", ids.cseq, method.as_str()));
        r
    }

    /// REGISTER (or, with `expires` 0, the unregistration of this binding).
    pub(crate) fn register(
        &self,
        ids: &Dialogish<'_>,
        expires: u32,
        public_ip: Option<IpAddr>,
        authorization: Option<(HeaderName, String)>,
    ) -> Request {
        let mut r = self.common(Method::Register, self.request_uri(), ids, self.aor());
        let h = &mut r.headers;
        h.push(HeaderName::Contact, self.register_contact());
        h.push(HeaderName::Expires, expires.to_string());
        h.push(HeaderName::Supported, "outbound, path");
        if let Some((name, value)) = authorization {
            h.push(name, value);
        }
        if let Some(mac) = self.mac {
            h.push(HeaderName::XMac, mac.to_string());
        }
        h.push(HeaderName::XPrivateIp, self.local.ip().to_string());
        if let Some(ip) = public_ip {
            h.push(HeaderName::XPublicIp, ip.to_string());
        }
        if let Some(port) = self.bearer_port {
            h.push(HeaderName::XBearerPort, port.to_string());
        }
        h.push(HeaderName::UserAgent, self.user_agent.to_owned());
        h.push(HeaderName::ContentLength, "0");
        r
    }

    /// OPTIONS to the switch: any answer carries the Via `received` it stamped.
    pub(crate) fn probe(&self, ids: &Dialogish<'_>) -> Request {
        let mut r = self.common(Method::Options, self.request_uri(), ids, format!("<{}>", self.request_uri()));
        r.headers.push(HeaderName::Accept, "application/sdp");
        r.headers.push(HeaderName::UserAgent, self.user_agent.to_owned());
        r.headers.push(HeaderName::ContentLength, "0");
        r
    }
}

/// 200 to an OPTIONS from the switch (RFC 3261 §11.2).
pub(crate) fn answer_options(req: &Request, tag: &str) -> Response {
    let mut resp = Response::to_request(req, 200);
    add_to_tag(&mut resp, tag);
    resp.headers.push(HeaderName::Allow, ALLOW);
    resp.headers.push(HeaderName::Supported, "outbound");
    resp
}

/// Adds our tag to To when the request had none (RFC 3261 §8.2.6.2).
pub(crate) fn add_to_tag(resp: &mut Response, tag: &str) {
    let has_tag = resp.headers.to_addr().ok().and_then(|t| t.tag().map(drop)).is_some();
    if !has_tag && let Some(to) = resp.headers.get(&HeaderName::To).map(str::to_owned) {
        resp.headers.replace_first(&HeaderName::To, format!("{to};tag={tag}"));
    }
}

/// What a 200 OK to REGISTER says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Granted {
    /// Our binding's expiry: its Contact `expires`, else the Expires header.
    pub expires: Option<u32>,
    pub flow_timer: Option<u32>,
    /// `Require: outbound`: the registrar expects keep-alives (RFC 5626 §4.4).
    pub outbound: bool,
    pub bearer_address: Option<IpAddr>,
}

/// Reads the grant; only our own Contact counts (others may be listed).
pub(crate) fn granted(resp: &Response, instance: &str, local: SocketAddr) -> Granted {
    let h = &resp.headers;
    let ours = h.contacts().filter_map(Result::ok).find_map(|c| match c {
        Contact::Binding(b) => {
            let same_instance = b.instance().is_some_and(|i| i.trim_matches(['<', '>']) == instance);
            let same_address = b.uri.host.and_then(|h| h.ip()) == Some(local.ip()) && b.uri.port == Some(local.port());
            (same_instance || same_address).then(|| b.expires())
        }
        Contact::Wildcard => None,
    });
    Granted {
        expires: ours.flatten().or_else(|| h.expires().ok().flatten()),
        flow_timer: h.flow_timer().ok().flatten(),
        outbound: h.has_option(&HeaderName::Require, "outbound"),
        bearer_address: h.x_bearer_address().ok().flatten(),
    }
}

/// The address the switch saw the request come from: Via `received`, or the
/// sent-by itself when the switch filled `rport` but saw no need for
/// `received` (RFC 3581 §4: no NAT in between).
pub(crate) fn observed(resp: &Response, local: SocketAddr) -> Option<IpAddr> {
    let via = resp.headers.top_via().ok()?;
    via.received().or_else(|| matches!(via.rport(), Some(Some(_))).then(|| local.ip()))
}

/// `Retry-After` in seconds (RFC 3261 §20.33), comments and parameters ignored.
pub(crate) fn retry_after(resp: &Response) -> Option<u32> {
    let v = resp.headers.get(&HeaderName::RetryAfter)?;
    let digits: String = v.trim().chars().take_while(char::is_ascii_digit).take(9).collect();
    digits.parse().ok()
}

/// A reason phrase safe to print on one line.
pub(crate) fn reason_of(resp: &Response) -> String {
    resp.reason.chars().filter(|c| !c.is_control()).take(200).collect()
}
