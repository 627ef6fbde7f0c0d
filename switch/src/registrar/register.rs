//! Handling one REGISTER.

use super::RegisterError;
use super::reply::{refuse, reply};
use crate::abuse::{AbuseConfig, AuthGuard};
use crate::location::{Change, LocationConfig, LocationTable, Registration, Unregistration, grant_expires};
use crate::record::Subscriber;
use rand::Rng;
use rand::rngs::StdRng;
use sipcore::auth::{Algorithm, AuthError, DigestRequest, DigestServer, Secret, ServerConfig};
use sipcore::headers::{Contact, NameAddr};
use sipcore::transport::Flow;
use sipcore::{HeaderName, Request, Response, ToStatus};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tracing::warn;

/// Registrar policy.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Digest realm (the domain).
    pub realm: String,
    pub nonce_lifetime: Duration,
    /// Algorithms to challenge with, most preferred first; empty: the
    /// digest server's default (SHA-256 and MD5).
    pub digest_algorithms: Vec<Algorithm>,
    /// X-Bearer-Address to hand out; `None`: the local address of the flow.
    pub relay_address: Option<IpAddr>,
    pub location: LocationConfig,
    pub abuse: AbuseConfig,
}

/// What the driver must do with one REGISTER's result.
#[derive(Debug)]
pub struct Outcome {
    pub response: Response,
    /// Persist, log and act on these before sending the response.
    pub changes: Vec<Change>,
}

/// The registrar's state: the location table, the digest server, the abuse guard.
pub struct Registrar {
    pub table: LocationTable,
    digest: DigestServer,
    guard: AuthGuard,
    config: RegistrarConfig,
    tag: String,
    /// The digest server counts nonce lifetimes in whole seconds since this
    /// instant: monotonic, like every other deadline of the switch (a nonce
    /// never outlives the process: its key is drawn anew at each start).
    epoch: Instant,
    /// Nonce salts.
    rng: StdRng,
}

fn secret_for(sub: &Subscriber, alg: Algorithm) -> Secret<'_> {
    Secret::Ha1(match alg {
        Algorithm::Md5 | Algorithm::Md5Sess => &sub.ha1_md5,
        Algorithm::Sha256 | Algorithm::Sha256Sess => &sub.ha1_sha256,
        Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => &sub.ha1_sha512_256,
    })
}

impl Registrar {
    /// A registrar started at `now`; `rng` draws its nonce key, its To tag
    /// and every nonce's salt.
    pub fn new(config: RegistrarConfig, now: Instant, mut rng: StdRng) -> Self {
        let mut digest = ServerConfig::new(config.realm.clone(), rng.random::<[u8; 32]>().to_vec());
        digest.nonce_lifetime = config.nonce_lifetime;
        if !config.digest_algorithms.is_empty() {
            digest.algorithms = config.digest_algorithms.clone();
        }
        Self {
            table: LocationTable::new(config.location),
            digest: DigestServer::new(digest),
            guard: AuthGuard::new(config.abuse),
            tag: format!("{:08x}", rng.random::<u32>()),
            config,
            epoch: now,
            rng,
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The number a REGISTER is for: the user part of To (RFC 3261 §10.3 step 4).
    pub fn number_of(req: &Request) -> Option<String> {
        req.headers.to_addr().ok()?.uri.user.map(str::to_owned)
    }

    fn reply(&self, req: &Request, status: u16) -> Outcome {
        Outcome { response: reply(req, status, &self.tag), changes: Vec::new() }
    }

    fn refuse(&self, req: &Request, err: &impl ToStatus) -> Outcome {
        Outcome { response: refuse(req, err, &self.tag), changes: Vec::new() }
    }

    /// 401 with WWW-Authenticate for REGISTER; 407 with Proxy-Authenticate for
    /// calls (the switch acts as the caller's proxy, RFC 3261 §22.3).
    /// `now` as the digest server counts (see `epoch`).
    fn digest_secs(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    fn challenge(&mut self, req: &Request, now: Instant, stale: bool, proxy: bool) -> Outcome {
        let (status, header) = if proxy { (407, HeaderName::ProxyAuthenticate) } else { (401, HeaderName::WwwAuthenticate) };
        let mut out = self.reply(req, status);
        let salt = self.rng.random();
        for c in self.digest.challenge_with_salt(self.digest_secs(now), salt, None, stale) {
            out.response.headers.push(header.clone(), c.to_string());
        }
        out
    }

    /// Authenticates a call from `sub` (an INVITE from a registered subscriber)
    /// with the REGISTER credentials and policy: `None` when it may go on, else
    /// the 407 challenge or refusal to send. Failures count toward the same
    /// per-source cool-down as REGISTER's.
    pub fn authorize_call(&mut self, now: Instant, req: &Request, sub: &Subscriber, ip: IpAddr) -> Option<Response> {
        if let Some(left) = self.guard.blocked(ip, now) {
            return Some(self.refuse(req, &RegisterError::CoolingDown(left)).response);
        }
        self.authenticate(now, req, &sub.number, sub, ip, true).map(|o| o.response)
    }

    /// Handles one REGISTER that arrived on `flow`. `subscriber` is the
    /// provisioned entry for [`Registrar::number_of`], if any. `local_ip` is
    /// the switch's address as this phone reaches it: `flow.local`'s IP, or
    /// when that is the wildcard (a UDP socket bound to 0.0.0.0) the address
    /// the driver found the switch routes back to the phone from; it is the
    /// X-Bearer-Address unless `relay_address` is set.
    pub fn handle(&mut self, now: Instant, req: &Request, flow: &Flow, subscriber: Option<&Subscriber>, local_ip: IpAddr) -> Outcome {
        let ip = flow.remote.ip();
        if let Some(left) = self.guard.blocked(ip, now) {
            return self.refuse(req, &RegisterError::CoolingDown(left));
        }
        let Some(number) = Self::number_of(req) else {
            return self.refuse(req, &RegisterError::NoNumber);
        };
        let Some(sub) = subscriber else {
            return self.refuse(req, &RegisterError::NotInService);
        };
        if let Some(out) = self.authenticate(now, req, &number, sub, ip, false) {
            return out;
        }
        if let Some(required) = sub.mac {
            match req.headers.x_mac() {
                Ok(Some(mac)) if mac == required => {}
                Ok(Some(_)) => return self.refuse(req, &RegisterError::WrongMac),
                _ => return self.refuse(req, &RegisterError::MacRequired),
            }
        }
        self.bind(now, req, flow, number, local_ip)
    }

    /// Digest verification; `None` when the request is authenticated.
    fn authenticate(&mut self, now: Instant, req: &Request, number: &str, sub: &Subscriber, ip: IpAddr, proxy: bool) -> Option<Outcome> {
        let realm = self.digest.config().realm.clone();
        let creds = req.headers.digest_credentials(proxy).find(|c| c.as_ref().map_or(true, |c| c.realm == realm.as_str()));
        let creds = match creds {
            None => return Some(self.challenge(req, now, false, proxy)),
            Some(Err(e)) => return Some(self.refuse(req, &RegisterError::Credentials(e))),
            Some(Ok(c)) => c,
        };
        if creds.username != number {
            return Some(self.refuse(req, &RegisterError::UsernameMismatch));
        }
        let secret = secret_for(sub, creds.effective_algorithm());
        let request = DigestRequest::new(req.method.as_str(), &req.uri);
        match self.digest.verify(self.digest_secs(now), &request, None, &creds, Some(secret)) {
            Ok(_) => {
                self.guard.success(ip);
                None
            }
            Err(e) if e.is_stale() => Some(self.challenge(req, now, true, proxy)),
            Err(e @ (AuthError::WrongResponse | AuthError::UnknownUser)) => {
                if self.guard.failure(ip, now) {
                    warn!(%ip, number, "authentication failures: source refused for a cool-down");
                }
                Some(self.refuse(req, &RegisterError::BadCredentials(e)))
            }
            Err(e) if e.status() == 401 => Some(self.challenge(req, now, false, proxy)),
            Err(e) => Some(self.refuse(req, &RegisterError::Digest(e))),
        }
    }

    /// Applies the Contact (or its absence) once the request is authenticated.
    fn bind(&mut self, now: Instant, req: &Request, flow: &Flow, number: String, local_ip: IpAddr) -> Outcome {
        let contacts: Result<Vec<Contact<'_>>, _> = req.headers.contacts().collect();
        let contacts = match contacts {
            Ok(c) => c,
            Err(e) => return self.refuse(req, &RegisterError::Contact(e)),
        };
        let header_expires = req.headers.expires().ok().flatten();
        let contact = match contacts.as_slice() {
            [] => return self.query(now, req, &number),
            [Contact::Wildcard] if header_expires == Some(0) => {
                let changes = self.table.unregister_all(now, &number);
                return Outcome { changes, ..self.reply(req, 200) };
            }
            [Contact::Binding(c)] => *c,
            _ if contacts.iter().any(|c| matches!(c, Contact::Wildcard)) => return self.refuse(req, &RegisterError::Wildcard),
            _ => return self.refuse(req, &RegisterError::ManyContacts),
        };
        let cfg = *self.table.config();
        let expires = match grant_expires(contact.expires().or(header_expires), &cfg) {
            Ok(e) => e,
            Err(brief) => {
                let mut out = self.refuse(req, &brief);
                out.response.headers.push(HeaderName::MinExpires, brief.min.to_string());
                return out;
            }
        };
        let mac = req.headers.x_mac().ok().flatten();
        let instance = contact.instance().map(|i| i.into_owned());
        let call_id = req.headers.call_id().unwrap_or_default().to_owned();
        if expires == 0 {
            let changes = self.table.unregister(now, &Unregistration { number, flow: *flow, mac, instance, call_id });
            return Outcome { changes, ..self.reply(req, 200) };
        }
        // Outbound over UDP needs STUN keep-alives (RFC 5626 §4.4.2), which this
        // switch does not answer; so it offers outbound on TCP/TLS flows only and
        // a UDP client carries on without it (RFC 5626 §4.2.1).
        let wants_outbound =
            flow.transport.is_reliable() && req.headers.has_option(&HeaderName::Supported, "outbound") && contact.reg_id().is_some();
        let registration = Registration {
            number,
            flow: *flow,
            mac,
            private_ip: req.headers.x_private_ip().ok().flatten(),
            public_ip_claimed: req.headers.x_public_ip().ok().flatten(),
            contact_ip: contact.uri.host.and_then(|h| h.ip()).or_else(|| req.headers.top_via().ok().and_then(|v| v.host.ip())),
            bearer_port: req.headers.x_bearer_port().ok().flatten(),
            instance,
            reg_id: contact.reg_id(),
            call_id,
            contact: contact.uri.as_str().to_owned(),
            user_agent: req.headers.get(&HeaderName::UserAgent).map(|v| v.to_string()),
            expires,
            outbound: wants_outbound,
        };
        match self.table.register(now, registration) {
            Ok(outcome) => {
                let mut out = self.reply(req, 200);
                let h = &mut out.response.headers;
                h.push(HeaderName::Contact, contact_value(&contact, expires));
                if wants_outbound {
                    h.push(HeaderName::Require, "outbound");
                    h.push(HeaderName::FlowTimer, cfg.flow_timer.to_string());
                }
                // Never hand out an unspecified address: without one the agent
                // falls back to the address it reached the switch at.
                let relay = self.config.relay_address.unwrap_or(local_ip);
                if !relay.is_unspecified() {
                    h.push(HeaderName::XBearerAddress, relay.to_string());
                }
                Outcome { changes: outcome.changes, ..out }
            }
            Err(mut refusal) => {
                let changes = refusal.take_changes();
                Outcome { changes, ..self.refuse(req, &refusal) }
            }
        }
    }

    /// A REGISTER without Contact: list the current binding (§10.3 step 8).
    fn query(&self, now: Instant, req: &Request, number: &str) -> Outcome {
        let mut out = self.reply(req, 200);
        if let Some(rec) = self.table.get(number).filter(|r| r.expires_at > now) {
            out.response.headers.push(HeaderName::Contact, format!("<{}>;expires={}", rec.contact, rec.time_left(now).as_secs()));
        }
        out
    }

    /// Wakes the table's timers (TTL expiry, silent flows).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.poll_timeout()
    }
}

/// The Contact a 200 OK lists: the registered URI with the granted expiry and,
/// for RFC 5626 clients, their instance and reg-id echoed (§6).
fn contact_value(c: &NameAddr<'_>, expires: u32) -> String {
    let mut v = format!("<{}>;expires={expires}", c.uri.as_str());
    if let Some(Some(instance)) = c.params.get("+sip.instance") {
        v.push_str(";+sip.instance=");
        v.push_str(instance);
    }
    if let Some(reg_id) = c.reg_id() {
        v.push_str(&format!(";reg-id={reg_id}"));
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::location::LocationConfig;
    use sipcore::transport::{FlowId, TransportKind};
    use sipcore::{Message, Request};

    fn registrar(digest_algorithms: Vec<Algorithm>) -> Registrar {
        Registrar::new(
            RegistrarConfig {
                realm: "example.net".into(),
                nonce_lifetime: Duration::from_secs(300),
                digest_algorithms,
                relay_address: None,
                location: LocationConfig::default(),
                abuse: AbuseConfig::default(),
            },
            Instant::now(),
            rand::SeedableRng::seed_from_u64(7),
        )
    }

    fn register() -> Request {
        let raw = "REGISTER sip:example.net SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.2:5999;branch=z9hG4bK1;rport\r\n\
            From: <sip:1001@example.net>;tag=a\r\nTo: <sip:1001@example.net>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n\
            Contact: <sip:1001@10.0.0.2:5999;transport=tcp>\r\nContent-Length: 0\r\n\r\n";
        match Message::parse(bytes::Bytes::from(raw)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("a request"),
        }
    }

    fn challenged_algorithms(r: &mut Registrar) -> Vec<String> {
        let flow = Flow {
            id: FlowId(1),
            transport: TransportKind::Tcp,
            local: "127.0.0.1:5060".parse().unwrap(),
            remote: "127.0.0.9:40000".parse().unwrap(),
        };
        let sub = Subscriber {
            number: "1001".into(),
            realm: "example.net".into(),
            ha1_md5: String::new(),
            ha1_sha256: String::new(),
            ha1_sha512_256: String::new(),
            mac: None,
            home: None,
        };
        let out = r.handle(Instant::now(), &register(), &flow, Some(&sub), flow.local.ip());
        assert_eq!(out.response.status, 401);
        out.response
            .headers
            .get_all(&HeaderName::WwwAuthenticate)
            .map(|v| v.split("algorithm=").nth(1).unwrap().split(',').next().unwrap().to_owned())
            .collect()
    }

    /// SIPp 3.6 answers only the first challenge, and only MD5: `--digest-algorithms md5`.
    #[test]
    fn the_challenge_offers_the_configured_algorithms() {
        assert_eq!(challenged_algorithms(&mut registrar(Vec::new())), ["SHA-256", "MD5"]);
        assert_eq!(challenged_algorithms(&mut registrar(vec![Algorithm::Md5])), ["MD5"]);
        assert_eq!(
            challenged_algorithms(&mut registrar(vec![Algorithm::Md5, Algorithm::Sha512_256])),
            ["MD5", "SHA-512-256"],
            "configured preference order"
        );
    }
}
