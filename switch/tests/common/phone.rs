//! A phone: builds REGISTERs byte for byte and answers digest challenges.

use super::DOMAIN;
use super::net::{Link, headers, line};
use sipcore::Response;
use sipcore::auth::{Challenge, DigestClient, DigestRequest, Secret, parse_challenge};
use std::net::SocketAddr;

/// What the Contact header of a REGISTER holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    /// The phone's own binding.
    Binding,
    /// No Contact: a binding query.
    Absent,
    /// `Contact: *`.
    Star,
}

/// The Authorization a REGISTER carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Answer the last challenge seen (the nonce count goes up each time).
    Digest,
    /// Exactly this header value (a replay).
    Raw(String),
}

fn random_hex(bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

/// A phone: its identity, its REGISTER dialog (Call-ID, CSeq) and its digest state.
pub struct Phone {
    pub number: String,
    pub password: String,
    /// `+sip.instance` (a `urn:uuid:`), and `reg-id`: with `outbound`, an RFC 5626 client.
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
    pub outbound: bool,
    pub mac: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub bearer_port: Option<u16>,
    pub user_agent: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    digest: DigestClient,
    challenges: Vec<String>,
    /// Every Authorization value sent, last one last.
    pub sent_auth: Vec<String>,
}

impl Phone {
    /// Our agent: outbound with instance and reg-id, and every X- header.
    /// `n` makes the identity distinct (MAC, instance, addresses).
    pub fn agent(number: &str, password: &str, n: u8) -> Self {
        let mut p = Self::plain(number, password);
        p.instance = Some(format!("urn:uuid:6f1c2a3e-0000-4000-8000-0000000000{n:02x}"));
        p.reg_id = Some(1);
        p.outbound = true;
        p.mac = Some(format!("02:42:ac:11:00:{n:02x}"));
        p.private_ip = Some(format!("10.1.0.{n}"));
        p.public_ip = Some(format!("198.51.100.{n}"));
        p.bearer_port = Some(40_000 + u16::from(n));
        p.user_agent = Some(format!("e2e-agent/{n}"));
        p
    }

    /// A standard phone: no X- headers, no outbound, a plain Contact.
    pub fn plain(number: &str, password: &str) -> Self {
        Phone {
            number: number.to_owned(),
            password: password.to_owned(),
            instance: None,
            reg_id: None,
            outbound: false,
            mac: None,
            private_ip: None,
            public_ip: None,
            bearer_port: None,
            user_agent: Some("e2e-plain-phone/1.0".to_owned()),
            call_id: format!("{}@e2e", random_hex(8)),
            cseq: 0,
            digest: DigestClient::new(),
            challenges: Vec::new(),
            sent_auth: Vec::new(),
        }
    }

    /// The Request-URI (and digest uri).
    pub fn request_uri(&self) -> String {
        format!("sip:{DOMAIN}")
    }

    /// The host the phone believes it has: X-Private-IP, else its socket's IP.
    fn own_host(&self, local: SocketAddr) -> String {
        self.private_ip.clone().unwrap_or_else(|| local.ip().to_string())
    }

    /// The Contact URI this phone registers over `link`.
    pub fn contact_uri(&self, local: SocketAddr, transport: &str) -> String {
        let mut uri = format!("sip:{}@{}:{}", self.number, self.own_host(local), local.port());
        if transport == "TCP" {
            uri.push_str(";transport=tcp");
        }
        if self.outbound {
            uri.push_str(";ob");
        }
        uri
    }

    /// Answers the last challenge seen.
    pub fn authorization(&mut self) -> String {
        assert!(!self.challenges.is_empty(), "no challenge to answer");
        let parsed: Vec<Challenge<'_>> = self.challenges.iter().map(|c| parse_challenge(c).unwrap()).collect();
        let uri = self.request_uri();
        let creds =
            self.digest.respond(&parsed, &self.number, Secret::Password(&self.password), &DigestRequest::new("REGISTER", &uri)).unwrap();
        creds.to_string()
    }

    /// Remembers the challenges of a 401.
    #[track_caller]
    pub fn learn(&mut self, r: &Response) {
        assert_eq!(r.status, 401, "not a challenge: {}", line(r));
        self.challenges = headers(r, "WWW-Authenticate");
        assert!(!self.challenges.is_empty(), "401 without WWW-Authenticate");
    }

    /// A REGISTER's bytes, ready to send over a link with this local address.
    pub fn request(&mut self, transport: &str, local: SocketAddr, contact: ContactKind, expires: Option<u32>, auth: &Auth) -> String {
        self.cseq += 1;
        let host = self.own_host(local);
        let n = &self.number;
        let mut m = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {host}:{port};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{n}@{DOMAIN}>;tag={tag}\r\n\
             To: <sip:{n}@{DOMAIN}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n",
            uri = self.request_uri(),
            port = local.port(),
            branch = random_hex(8),
            tag = random_hex(4),
            call_id = self.call_id,
            cseq = self.cseq,
        );
        match contact {
            ContactKind::Binding => {
                let mut c = format!("Contact: <{}>", self.contact_uri(local, transport));
                if let Some(i) = &self.instance {
                    c.push_str(&format!(";+sip.instance=\"<{i}>\""));
                }
                if let Some(r) = self.reg_id {
                    c.push_str(&format!(";reg-id={r}"));
                }
                m.push_str(&c);
                m.push_str("\r\n");
            }
            ContactKind::Star => m.push_str("Contact: *\r\n"),
            ContactKind::Absent => {}
        }
        if let Some(e) = expires {
            m.push_str(&format!("Expires: {e}\r\n"));
        }
        if self.outbound {
            m.push_str("Supported: outbound, path\r\n");
        }
        let x = [
            ("X-MAC", self.mac.clone()),
            ("X-Private-IP", self.private_ip.clone()),
            ("X-Public-IP", self.public_ip.clone()),
            ("X-Bearer-Port", self.bearer_port.map(|p| p.to_string())),
            ("User-Agent", self.user_agent.clone()),
        ];
        for (name, value) in x {
            if let Some(v) = value {
                m.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        let auth = match auth {
            Auth::None => None,
            Auth::Digest => Some(self.authorization()),
            Auth::Raw(v) => Some(v.clone()),
        };
        if let Some(a) = auth {
            m.push_str(&format!("Authorization: {a}\r\n"));
            self.sent_auth.push(a);
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        m
    }

    /// Sends one REGISTER and returns its response.
    pub fn send(&mut self, link: &mut impl Link, contact: ContactKind, expires: Option<u32>, auth: &Auth) -> Response {
        let req = self.request(link.via_transport(), link.local(), contact, expires, auth);
        link.send(req.as_bytes());
        let r = link.response();
        let cseq = r.headers.cseq().unwrap();
        assert_eq!(cseq.seq, self.cseq, "response to the request just sent: {}", line(&r));
        r
    }

    /// A REGISTER with authentication as a phone does it: answer the last
    /// challenge if there is one; on a 401, learn it and retry once. Returns
    /// the final response, whatever it is.
    pub fn exchange(&mut self, link: &mut impl Link, contact: ContactKind, expires: Option<u32>) -> Response {
        let auth = if self.challenges.is_empty() { Auth::None } else { Auth::Digest };
        let r = self.send(link, contact, expires, &auth);
        if r.status != 401 {
            return r;
        }
        self.learn(&r);
        self.send(link, contact, expires, &Auth::Digest)
    }

    /// Registers the phone's binding; fails the test unless the answer is 200.
    #[track_caller]
    pub fn register(&mut self, link: &mut impl Link, expires: Option<u32>) -> Response {
        let r = self.exchange(link, ContactKind::Binding, expires);
        assert_eq!(r.status, 200, "REGISTER {} refused: {}", self.number, line(&r));
        r
    }
}
