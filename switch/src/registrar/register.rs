//! Handling one REGISTER.

use super::RegisterError;
use super::auth::{Attempt, Failure, Verdict, dummy_subscriber};
use super::reply::{refuse, reply};
use crate::abuse::{AbuseConfig, AuthGuard, NumberLock};
use crate::location::{Change, LocationConfig, LocationTable, Refusal, Registration, Unregistration, grant_expires};
use crate::record::Subscriber;
use rand::Rng;
use rand::rngs::StdRng;
use sipcore::auth::{Algorithm, DigestServer, ServerConfig};
use sipcore::headers::{Contact, NameAddr};
use sipcore::transport::Flow;
use sipcore::{HeaderName, Request, Response, ToStatus};
use std::net::IpAddr;
use std::time::{Duration, Instant};

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
    pub(super) digest: DigestServer,
    pub(super) guard: AuthGuard,
    pub(super) config: RegistrarConfig,
    tag: String,
    /// The digest server counts nonce lifetimes in whole seconds since this
    /// instant: monotonic, like every other deadline of the switch (a nonce
    /// never outlives the process: its key is drawn anew at each start).
    pub(super) epoch: Instant,
    /// Nonce salts.
    pub(super) rng: StdRng,
    /// What credentials for a number not in service are checked against.
    pub(super) dummy: Subscriber,
}

impl Registrar {
    /// A registrar started at `now`; `rng` draws its nonce key, its To tag,
    /// the dummy HA1s and every nonce's salt.
    pub fn new(config: RegistrarConfig, now: Instant, mut rng: StdRng) -> Self {
        let mut digest = ServerConfig::new(config.realm.clone(), rng.random::<[u8; 32]>().to_vec());
        digest.nonce_lifetime = config.nonce_lifetime;
        if !config.digest_algorithms.is_empty() {
            digest.algorithms = config.digest_algorithms.clone();
        }
        // The registrar checks the digest uri itself: any name of this switch (`digest_uri`).
        digest.check_uri = false;
        let tag = format!("{:08x}", rng.random::<u32>());
        let dummy = dummy_subscriber(&config.realm, &mut rng);
        Self {
            table: LocationTable::new(config.location),
            digest: DigestServer::new(digest),
            guard: AuthGuard::new(config.abuse),
            tag,
            config,
            epoch: now,
            rng,
            dummy,
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The number a REGISTER is for: the user part of To (RFC 3261 §10.3 step 4).
    pub fn number_of(req: &Request) -> Option<String> {
        req.headers.to_addr().ok()?.uri.user.map(str::to_owned)
    }

    pub(super) fn reply(&self, req: &Request, status: u16) -> Outcome {
        Outcome { response: reply(req, status, &self.tag), changes: Vec::new() }
    }

    pub(super) fn refuse(&self, req: &Request, err: &impl ToStatus) -> Outcome {
        Outcome { response: refuse(req, err, &self.tag), changes: Vec::new() }
    }

    /// Authenticates a call from `caller` (the From number of an INVITE; its
    /// provisioned entry `subscriber`, if any) that arrived on `flow`, with the
    /// REGISTER credentials and policy: `None` when it may go on, else the 407
    /// challenge or the refusal to send. A caller that is not provisioned is
    /// challenged and refused like a wrong password; failures count toward the
    /// same guard as REGISTER's.
    pub fn authorize_call(
        &mut self,
        now: Instant,
        req: &Request,
        caller: &str,
        subscriber: Option<&Subscriber>,
        flow: &Flow,
        local_ip: IpAddr,
    ) -> Option<Response> {
        let holder = self.table.holds(caller, flow, now);
        let attempt = Attempt { number: caller, subscriber, flow, local_ip, proxy: true, holder };
        match self.authenticate(now, req, &attempt) {
            Verdict::Admitted(_) => None,
            Verdict::Answered(out) => Some(out.response),
        }
    }

    /// What the abuse guard refuses now (for `/metrics`).
    pub fn blocked(&self, now: Instant) -> crate::abuse::Blocked {
        self.guard.blocked(now)
    }

    /// The numbers locked now (for `switch registrations`).
    pub fn locks(&self, now: Instant) -> Vec<NumberLock> {
        self.guard.locks(now)
    }

    /// Handles one REGISTER that arrived on `flow`. `subscriber` is the
    /// provisioned entry for [`Registrar::number_of`], if any. `local_ip` is
    /// the switch's address as this phone reaches it: `flow.local`'s IP, or
    /// when that is the wildcard (a UDP socket bound to 0.0.0.0) the address
    /// the driver found the switch routes back to the phone from; it is the
    /// X-Bearer-Address unless `relay_address` is set.
    pub fn handle(&mut self, now: Instant, req: &Request, flow: &Flow, subscriber: Option<&Subscriber>, local_ip: IpAddr) -> Outcome {
        let Some(number) = Self::number_of(req) else {
            return self.refuse(req, &RegisterError::NoNumber);
        };
        let holder = self.table.holds(&number, flow, now);
        let attempt = Attempt { number: &number, subscriber, flow, local_ip, proxy: false, holder };
        let sub = match self.authenticate(now, req, &attempt) {
            Verdict::Admitted(sub) => sub,
            Verdict::Answered(out) => return out,
        };
        if let Some(required) = sub.mac {
            match req.headers.x_mac() {
                Ok(Some(mac)) if mac == required => {}
                Ok(Some(_)) => return self.fail(now, req, &attempt, Failure::WrongMac),
                _ => return self.fail(now, req, &attempt, Failure::MacRequired),
            }
        }
        self.bind(now, req, &attempt)
    }

    /// Applies the Contact (or its absence) once the request is authenticated.
    fn bind(&mut self, now: Instant, req: &Request, a: &Attempt<'_>) -> Outcome {
        let (flow, number, local_ip) = (a.flow, a.number.to_owned(), a.local_ip);
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
        // Outbound over UDP keeps its flow with STUN (RFC 5626 §4.4.2): the UDP
        // transport answers those, but they never reach the core, which could not
        // tell a live UDP flow from a silent one; so it offers outbound on TCP/TLS
        // flows only and a UDP client carries on without it (RFC 5626 §4.2.1).
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
        // Another device with the right password while the number is under
        // attack could be a guess that hit: it changes nothing (no conflict),
        // and looks like every other refusal.
        if !a.holder && self.guard.under_attack(&registration.number, now) && self.table.would_conflict(now, &registration) {
            return self.fail(now, req, a, Failure::ConflictUnderAttack);
        }
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
                let out = match refusal {
                    Refusal::Conflict { .. } => self.fail(now, req, a, Failure::Conflict),
                    Refusal::ZeroExpires => self.refuse(req, &refusal),
                };
                Outcome { changes, ..out }
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
