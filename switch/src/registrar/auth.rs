//! Authentication that tells an attacker nothing (issue 12).
//!
//! - **No enumeration.** A number that is not provisioned is challenged like
//!   one that is (the same nonces, realm, algorithms and order) and its
//!   credentials are checked the same way, against a secret dummy HA1 drawn at
//!   start, so that the answer, the work and so the time are the same; they
//!   never succeed. That the number is not in service is logged, never sent.
//! - **No oracle.** Every refusal of credentials that could tell whether a
//!   number exists or a password was right (wrong password, number not in
//!   service, number locked, another device's MAC, number held by another
//!   device) is the one [`RegisterError::Refused`].
//! - **No guessing.** Failures count per source and per number
//!   ([`AuthGuard`](crate::abuse::AuthGuard)); while a number is locked every
//!   answer that depends on the password is that refusal, right password or
//!   wrong (the digest is still checked, so the time is the same), and changes
//!   nothing. The phone registered on the number's flow (its
//!   *holder*) is exempt from the source's cool-down and the number's lock:
//!   it keeps refreshing and calling while someone else guesses.
//! - **Nonces bound to the flow.** A nonce opens only on the flow it was
//!   issued to (the transport, the peer's address and, for TCP/TLS, the
//!   connection), so a nonce, or a response to one, seen elsewhere is worth
//!   nothing; on another flow it only earns a fresh challenge.

use super::digest_uri::{SwitchNames, names_switch};
use super::{Outcome, RegisterError, Registrar};
use crate::record::Subscriber;
use rand::Rng;
use rand::rngs::StdRng;
use sipcore::auth::{Algorithm, AuthError, DigestRequest, Secret, Verified};
use sipcore::transport::Flow;
use sipcore::{HeaderName, Request, ToStatus};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Instant;
use tracing::{debug, info, warn};

/// Which refusal [`RegisterError::Refused`] was, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The number is not provisioned.
    NotInService,
    WrongPassword,
    /// The number is bound to another device's MAC.
    WrongMac,
    /// The number is bound to a MAC and the REGISTER names none.
    MacRequired,
    /// Another device holds the number on a live flow: the record went to
    /// `Conflict` (the number was not under attack).
    Conflict,
    /// Another device with the right password while the number is under
    /// attack: it could be a guess, so nothing changes.
    ConflictUnderAttack,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::NotInService => "not_in_service",
            Failure::WrongPassword => "wrong_password",
            Failure::WrongMac => "wrong_mac",
            Failure::MacRequired => "mac_required",
            Failure::Conflict => "conflict",
            Failure::ConflictUnderAttack => "conflict_under_attack",
        }
    }
}

/// One request to authenticate: for which number, over which flow.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt<'a> {
    pub number: &'a str,
    /// The provisioned entry for `number`, if any.
    pub subscriber: Option<&'a Subscriber>,
    pub flow: &'a Flow,
    /// The switch's address as the peer reaches it.
    pub local_ip: IpAddr,
    /// A call: 407 and `Proxy-Authorization` (RFC 3261 §22.3), not 401.
    pub proxy: bool,
    /// It came on the flow `number` is registered on: its own phone.
    pub holder: bool,
}

/// What [`Registrar::authenticate`] decided.
#[derive(Debug)]
pub(super) enum Verdict<'a> {
    /// Authenticated for this provisioned number.
    Admitted(&'a Subscriber),
    /// Not (yet): this challenge or refusal is the answer.
    Answered(Outcome),
}

impl Attempt<'_> {
    fn ip(&self) -> IpAddr {
        self.flow.remote.ip()
    }

    /// What the nonce is bound to: the flow, as the transport names it (UDP
    /// flows share the listener's id, so the peer's address tells them apart).
    fn binding(&self) -> Vec<u8> {
        let f = self.flow;
        format!("{:?}/{}/{}", f.transport, f.id.0, f.remote).into_bytes()
    }
}

/// The stand-in subscriber whose HA1s the credentials for a number that is
/// not provisioned are checked against: random, hex of each algorithm's
/// length, so the digest work is the same as for a real one.
pub(super) fn dummy_subscriber(realm: &str, rng: &mut StdRng) -> Subscriber {
    let mut hex = |bytes: usize| {
        (0..bytes).fold(String::with_capacity(bytes * 2), |mut s, _| {
            let _ = write!(s, "{:02x}", rng.random::<u8>());
            s
        })
    };
    Subscriber {
        number: String::new(),
        realm: realm.to_owned(),
        ha1_md5: hex(16),
        ha1_sha256: hex(32),
        ha1_sha512_256: hex(32),
        mac: None,
        home: None,
    }
}

/// Whether a verification's outcome tells anything about the password: a
/// success, a wrong response, and what is only found once the response matched
/// (a stale nonce, a replayed count).
fn password_dependent(verified: &Result<Verified, AuthError>) -> bool {
    matches!(verified, Ok(_) | Err(AuthError::WrongResponse | AuthError::UnknownUser | AuthError::StaleNonce | AuthError::Replay { .. }))
}

fn secret_for(sub: &Subscriber, alg: Algorithm) -> Secret<'_> {
    Secret::Ha1(match alg {
        Algorithm::Md5 | Algorithm::Md5Sess => &sub.ha1_md5,
        Algorithm::Sha256 | Algorithm::Sha256Sess => &sub.ha1_sha256,
        Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => &sub.ha1_sha512_256,
    })
}

impl Registrar {
    /// `now` as the digest server counts (see `epoch`).
    fn digest_secs(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    /// 401 with WWW-Authenticate for REGISTER; 407 with Proxy-Authenticate for
    /// calls (the switch acts as the caller's proxy, RFC 3261 §22.3). The same
    /// for every number.
    fn challenge(&mut self, req: &Request, now: Instant, stale: bool, a: &Attempt<'_>) -> Outcome {
        let (status, header) = if a.proxy { (407, HeaderName::ProxyAuthenticate) } else { (401, HeaderName::WwwAuthenticate) };
        let mut out = self.reply(req, status);
        let salt = self.rng.random();
        for c in self.digest.challenge_with_salt(self.digest_secs(now), salt, Some(&a.binding()), stale) {
            out.response.headers.push(header.clone(), c.to_string());
        }
        out
    }

    /// Digest verification: the subscriber when the request is authenticated
    /// for a provisioned number, else the response to send.
    pub(super) fn authenticate<'a>(&mut self, now: Instant, req: &Request, a: &Attempt<'a>) -> Verdict<'a> {
        use Verdict::{Admitted, Answered};
        let ip = a.ip();
        if !a.holder
            && let Some(left) = self.guard.source_blocked(ip, now)
        {
            return Answered(self.refuse(req, &RegisterError::CoolingDown(left)));
        }
        let creds = {
            let realm = self.config.realm.as_str();
            req.headers.digest_credentials(a.proxy).find(|c| c.as_ref().map_or(true, |c| c.realm == realm))
        };
        let creds = match creds {
            None => {
                if a.subscriber.is_none() {
                    debug!(number = a.number, %ip, "challenge for a number not in service");
                }
                return Answered(self.challenge(req, now, false, a));
            }
            Some(Err(e)) => return Answered(self.refuse(req, &RegisterError::Credentials(e))),
            Some(Ok(c)) => c,
        };
        if creds.username != a.number {
            return Answered(self.refuse(req, &RegisterError::UsernameMismatch));
        }
        let names = SwitchNames { domain: &self.config.realm, local: a.flow.local, local_ip: a.local_ip };
        if !names_switch(&creds.uri, &req.uri, &names) {
            return Answered(self.refuse(req, &RegisterError::Digest(AuthError::UriMismatch)));
        }
        let secs = self.digest_secs(now);
        let secret = secret_for(a.subscriber.unwrap_or(&self.dummy), creds.effective_algorithm());
        let request = DigestRequest::new(req.method.as_str(), &req.uri);
        let verified = self.digest.verify(secs, &request, Some(&a.binding()), &creds, Some(secret));
        // While the number is locked whatever depends on the password is one
        // answer, nothing is counted and nothing changes; the rest (a nonce not
        // ours, an algorithm not offered) is answered as ever, so that the lock
        // itself shows only to someone who knows the password.
        if !a.holder
            && password_dependent(&verified)
            && let Some(left) = self.guard.number_locked(a.number, now)
        {
            debug!(number = a.number, %ip, left, "refused: the number is locked");
            return Answered(self.refuse(req, &RegisterError::Refused));
        }
        match verified {
            Ok(_) => match a.subscriber {
                Some(sub) => {
                    self.guard.success(ip, a.number);
                    Admitted(sub)
                }
                // Someone knows the dummy: still no number.
                None => Answered(self.fail(now, req, a, Failure::NotInService)),
            },
            Err(e) if e.is_stale() => Answered(self.challenge(req, now, true, a)),
            Err(AuthError::WrongResponse | AuthError::UnknownUser) => {
                let why = if a.subscriber.is_some() { Failure::WrongPassword } else { Failure::NotInService };
                Answered(self.fail(now, req, a, why))
            }
            Err(e) if e.status() == 401 => Answered(self.challenge(req, now, false, a)),
            Err(e) => Answered(self.refuse(req, &RegisterError::Digest(e))),
        }
    }

    /// Refuses `a` with [`RegisterError::Refused`] and counts the failure
    /// against its source and its number; logs why, and what it started.
    pub(super) fn fail(&mut self, now: Instant, req: &Request, a: &Attempt<'_>, why: Failure) -> Outcome {
        let ip = a.ip();
        info!(number = a.number, %ip, reason = why.as_str(), "authentication refused");
        let tripped = self.guard.failure(ip, a.number, now);
        if tripped.source {
            warn!(%ip, number = a.number, cooldown = self.guard.config().cooldown, "authentication failures: source refused for a cool-down");
        }
        if let Some((lock, level)) = tripped.number {
            warn!(number = a.number, %ip, lock = lock.as_secs(), level, "authentication failures: number locked");
        }
        self.refuse(req, &RegisterError::Refused)
    }
}
