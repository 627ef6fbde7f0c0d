//! Phones and attackers for the authentication tests: a client on a flow of
//! its own that registers or calls as a number, answering each challenge with
//! the password it believes.

use super::*;
use sipcore::auth::Challenge;
use std::sync::atomic::{AtomicU64, Ordering};

/// Branches, tags and Call-IDs unique across every client of a test binary.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The switch's side of every made-up flow.
fn local() -> SocketAddr {
    addr("192.0.2.1:5060")
}

pub(super) struct Client {
    pub(super) flow: Flow,
    pub(super) number: String,
    pub(super) password: String,
    digest: DigestClient,
    /// The last 401/407 seen.
    challenge: Option<Response>,
    call_id: String,
    from_tag: String,
    cseq: u32,
}

impl Client {
    fn on(flow: Flow, number: &str, password: &str) -> Self {
        let n = unique();
        Client {
            flow,
            number: number.to_owned(),
            password: password.to_owned(),
            digest: DigestClient::new(),
            challenge: None,
            call_id: format!("c{n}@{}", flow.remote.ip()),
            from_tag: format!("f{n}"),
            cseq: 0,
        }
    }

    /// A peer at `remote` on the switch's UDP listener.
    pub(super) fn udp(remote: &str, number: &str, password: &str) -> Self {
        Self::on(Flow { id: udp_listener().id, transport: TransportKind::Udp, local: local(), remote: addr(remote) }, number, password)
    }

    /// A TCP connection of its own (flow id `id`) from `remote`.
    pub(super) fn tcp(id: u64, remote: &str, number: &str, password: &str) -> Self {
        Self::on(Flow { id: FlowId(id), transport: TransportKind::Tcp, local: local(), remote: addr(remote) }, number, password)
    }

    /// The same phone on a new TCP connection (flow id `id`) from `remote`,
    /// keeping what it knows (the last challenge).
    pub(super) fn reconnect(&mut self, id: u64, remote: &str) {
        self.flow = Flow { id: FlowId(id), transport: TransportKind::Tcp, local: local(), remote: addr(remote) };
    }

    fn via(&self) -> String {
        let t = if self.flow.transport == TransportKind::Tcp { "TCP" } else { "UDP" };
        format!("SIP/2.0/{t} {};branch=z9hG4bKt{};rport", self.flow.remote, unique())
    }

    /// Credentials answering the last challenge, for `method` to `uri`.
    fn credentials(&mut self, method: &str, uri: &str) -> Option<(HeaderName, String)> {
        let c = self.challenge.as_ref()?;
        let proxy = c.status == 407;
        let challenges: Vec<Challenge<'_>> = c.headers.digest_challenges(proxy).filter_map(Result::ok).collect();
        let creds =
            self.digest.respond(&challenges, &self.number, Secret::Password(&self.password), &DigestRequest::new(method, uri)).ok()?;
        let name = if proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
        Some((name, creds.to_string()))
    }

    /// The text of a REGISTER, with credentials answering the last challenge if `auth`.
    pub(super) fn register_text(&mut self, auth: bool) -> String {
        self.cseq += 1;
        let uri = format!("sip:{REALM}");
        let auth = if auth { self.credentials("REGISTER", &uri) } else { None };
        let auth = auth.map(|(name, v)| format!("{}: {v}\n", name.as_str())).unwrap_or_default();
        let (n, remote) = (&self.number, self.flow.remote);
        format!(
            "REGISTER {uri} SIP/2.0\nVia: {}\nMax-Forwards: 70\nFrom: <sip:{n}@{REALM}>;tag={}\nTo: <sip:{n}@{REALM}>\n\
             Call-ID: {}\nCSeq: {} REGISTER\nContact: <sip:{n}@{remote}>\nExpires: 300\n{auth}Content-Length: 0\n\n",
            self.via(),
            self.from_tag,
            self.call_id,
            self.cseq
        )
    }

    /// The text of an INVITE to `callee`, with credentials if `auth`.
    pub(super) fn invite_text(&mut self, callee: &str, auth: bool) -> String {
        self.cseq += 1;
        let uri = format!("sip:{callee}@{REALM}");
        let auth = if auth { self.credentials("INVITE", &uri) } else { None };
        let auth = auth.map(|(name, v)| format!("{}: {v}\n", name.as_str())).unwrap_or_default();
        let (n, remote) = (&self.number, self.flow.remote);
        let sdp = format!("v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio 30000 RTP/AVP 0\n", ip = remote.ip());
        format!(
            "INVITE {uri} SIP/2.0\nVia: {}\nMax-Forwards: 70\nFrom: <sip:{n}@{REALM}>;tag={}\nTo: <sip:{callee}@{REALM}>\n\
             Call-ID: {}\nCSeq: {} INVITE\nContact: <sip:{n}@{remote}>\nContent-Type: application/sdp\n{auth}Content-Length: {}\n\n{sdp}",
            self.via(),
            self.from_tag,
            self.call_id,
            self.cseq,
            sdp.len() + sdp.matches('\n').count(),
        )
    }

    /// Delivers `text` at `t` and returns the final (else the last) response
    /// to it; a 401/407 is kept to be answered next. The lab keeps every
    /// output for the test.
    pub(super) fn send(&mut self, lab: &mut Lab, t: Instant, text: &str) -> Response {
        let mark = lab.out.len();
        lab.deliver(t, self.flow, text);
        let mine: Vec<Response> = sent(&lab.out[mark..])
            .into_iter()
            .filter_map(|(_, flow, m)| match m {
                Message::Response(r) if flow == self.flow && r.headers.call_id().ok() == Some(self.call_id.as_str()) => Some(r),
                _ => None,
            })
            .filter(|r| r.headers.cseq().is_ok_and(|c| c.seq == self.cseq))
            .collect();
        let r = mine.iter().find(|r| r.status >= 200).or(mine.last()).cloned();
        let r = r.unwrap_or_else(|| panic!("no response to {} from {}", self.number, self.flow.remote));
        if matches!(r.status, 401 | 407) {
            self.challenge = Some(r.clone());
        }
        r
    }

    /// REGISTER as a phone does it: without credentials, then answering the
    /// challenge. The final response.
    pub(super) fn register(&mut self, lab: &mut Lab, t: Instant) -> Response {
        let first = self.register_text(false);
        let r = self.send(lab, t, &first);
        if r.status != 401 {
            return r;
        }
        let second = self.register_text(true);
        self.send(lab, t, &second)
    }

    /// A REGISTER answering the last challenge (an attacker's next guess).
    pub(super) fn guess(&mut self, lab: &mut Lab, t: Instant) -> Response {
        let text = self.register_text(true);
        self.send(lab, t, &text)
    }

    /// An INVITE to `callee` as a phone does it (challenge, then credentials);
    /// each non-2xx final response is ACKed. The final (or last) response.
    pub(super) fn call(&mut self, lab: &mut Lab, t: Instant, callee: &str) -> Response {
        let first = self.invite_text(callee, false);
        let r = self.send(lab, t, &first);
        self.ack(lab, t, callee, &r);
        if r.status != 407 {
            return r;
        }
        let second = self.invite_text(callee, true);
        let r = self.send(lab, t, &second);
        self.ack(lab, t, callee, &r);
        r
    }

    /// ACK for a non-2xx final response to our INVITE (RFC 3261 §17.1.1.3).
    fn ack(&mut self, lab: &mut Lab, t: Instant, callee: &str, r: &Response) {
        if r.status < 300 {
            return;
        }
        let via = r.headers.get(&HeaderName::Via).unwrap_or_default();
        let to = r.headers.get(&HeaderName::To).unwrap_or_default();
        let text = format!(
            "ACK sip:{callee}@{REALM} SIP/2.0\nVia: {via}\nMax-Forwards: 70\nFrom: <sip:{}@{REALM}>;tag={}\nTo: {to}\n\
             Call-ID: {}\nCSeq: {} ACK\nContent-Length: 0\n\n",
            self.number, self.from_tag, self.call_id, self.cseq
        );
        lab.deliver(t, self.flow, &text);
    }

    /// The last challenge's nonce.
    pub(super) fn nonce(&self) -> String {
        let c = self.challenge.as_ref().expect("a challenge");
        let proxy = c.status == 407;
        let first = c.headers.digest_challenges(proxy).next().expect("a challenge header").expect("parses");
        first.nonce.into_owned()
    }
}

/// `status reason`, for messages.
pub(super) fn line(r: &Response) -> String {
    format!("{} {}", r.status, r.reason)
}

/// The UDP and TCP clients the enumeration tests probe with.
pub(super) fn both_transports(n: u8, number: &str, password: &str) -> [Client; 2] {
    [
        Client::udp(&format!("198.51.100.{n}:5060"), number, password),
        Client::tcp(100 + u64::from(n), &format!("198.51.100.{n}:40000"), number, password),
    ]
}
