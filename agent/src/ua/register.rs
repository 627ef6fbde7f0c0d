//! Answers to REGISTER (RFC 3261 §10.2, RFC 5626 §4.2): the grant and its
//! refresh, digest challenges, 423, the refusals that end retrying, and the
//! failures that call for a new flow.

use super::message::{self, Dialogish, Granted};
use super::{Binding, Event, Phase, Purpose, Registration, RegistrationKind, UserAgent};
use crate::config::PublicIpSource;
use sipcore::auth::{Challenge, DigestRequest, Secret};
use sipcore::{HeaderName, Response};
use std::time::{Duration, Instant};

/// Challenges answered in a row before the credentials are taken to be wrong
/// (one fresh nonce plus one stale one is normal).
const MAX_AUTH_TRIES: u32 = 3;
/// Longest expiry a 423's Min-Expires may push us to, and the longest grant
/// the refresh timer believes (a day): a hostile or broken answer cannot
/// park the agent for years.
const MAX_EXPIRES: u32 = 86_400;
/// Longest keep-alive interval taken from a Flow-Timer: NATs forget idle TCP
/// mappings long before an hour (RFC 5382 asks for 2 h 4 min at least).
const MAX_FLOW_TIMER: u32 = 3600;

/// When to refresh a binding of `expires` seconds: at half of it, as DHCP
/// renews a lease (RFC 2131 §4.4.5), so one lost refresh still leaves time
/// for another before the switch lets the binding go.
pub fn refresh_interval(expires: u32) -> Duration {
    Duration::from_millis(u64::from(expires.max(2)) * 500)
}

impl UserAgent {
    /// Builds and sends a REGISTER over the current flow.
    pub(super) fn send_register(&mut self, now: Instant, purpose: Purpose) {
        if self.register_tx.is_some() {
            self.reregister_after = true;
            return;
        }
        self.needs_register = false;
        self.cseq = self.cseq.saturating_add(1);
        let branch = format!("z9hG4bK{}", self.rng.hex(10));
        let expires = if purpose == Purpose::Unregister { 0 } else { self.expires };
        let authorization = self.authorization();
        let public = self.public_ip;
        let Some(request) = self.identity().map(|id| {
            id.register(
                &Dialogish { call_id: &self.call_id, from_tag: &self.from_tag, cseq: self.cseq, branch: &branch },
                expires,
                public,
                authorization,
            )
        }) else {
            return;
        };
        let Some(flow) = self.flow else { return };
        match self.layer.send_request(now, flow, request) {
            Ok(key) => {
                self.register_tx = Some((key, purpose));
                self.in_flight_public = public;
            }
            Err(e) => tracing::warn!(error = %e, "could not send REGISTER"),
        }
    }

    /// Credentials for the next REGISTER from the last challenge, if any.
    pub(super) fn authorization(&mut self) -> Option<(HeaderName, String)> {
        let (challenge, proxy) = self.challenge.as_ref()?;
        let uri = format!("sip:{}", message::domain_host(&self.cfg.domain));
        let request = DigestRequest::new("REGISTER", &uri);
        match self.digest.authorize(challenge, &self.cfg.number, Secret::Password(&self.cfg.password), &request) {
            Ok(creds) => Some((if *proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization }, creds.to_string())),
            Err(e) => {
                tracing::warn!(error = %e, "cannot answer the digest challenge");
                None
            }
        }
    }

    pub(super) fn on_register_response(&mut self, now: Instant, purpose: Purpose, resp: &Response) {
        if purpose == Purpose::Unregister {
            return self.on_unregister_response(now, resp);
        }
        match resp.status {
            200..=299 => self.on_registered(now, resp),
            401 | 407 => {
                if self.take_challenge(resp) {
                    self.send_register(now, Purpose::Register);
                } else {
                    self.rejected(now, resp.status, format!("{} (authentication failed)", message::reason_of(resp)));
                }
            }
            423 => match resp.headers.min_expires().ok().flatten() {
                Some(min) if min > self.expires && min <= MAX_EXPIRES => {
                    tracing::info!(from = self.expires, to = min, "423 Interval Too Brief: asking for longer");
                    self.expires = min;
                    self.send_register(now, Purpose::Register);
                }
                _ => self.rejected(now, 423, message::reason_of(resp)),
            },
            403 | 404 => self.rejected(now, resp.status, message::reason_of(resp)),
            status => {
                // Anything else is the switch's trouble, not ours: a new flow
                // after the back-off (and no sooner than any Retry-After).
                let min_wait = message::retry_after(resp).map_or(Duration::ZERO, |s| Duration::from_secs(u64::from(s.min(MAX_EXPIRES))));
                let reason = message::reason_of(resp);
                let failures_before = self.failures;
                self.drop_flow(now, None, min_wait);
                let retry_in = self.retry_at.map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
                tracing::warn!(status, %reason, failures = failures_before + 1, "REGISTER failed");
                self.events.push_back(Event::RegistrationFailed { status, reason, retry_in: Some(retry_in) });
            }
        }
    }

    /// Keeps the strongest usable challenge of a 401/407; false when there is
    /// none or too many were answered already.
    fn take_challenge(&mut self, resp: &Response) -> bool {
        self.auth_tries += 1;
        if self.auth_tries >= MAX_AUTH_TRIES {
            return false;
        }
        let proxy = resp.status == 407;
        let offered: Vec<Challenge<'_>> = resp.headers.digest_challenges(proxy).filter_map(Result::ok).collect();
        match self.digest.select(&offered) {
            Some(c) => {
                self.challenge = Some((c.clone().into_owned(), proxy));
                true
            }
            None => false,
        }
    }

    fn on_registered(&mut self, now: Instant, resp: &Response) {
        let Some(flow) = self.flow else { return };
        let instance = self.instance.clone().unwrap_or_default();
        let Granted { expires, flow_timer, outbound, bearer_address } = message::granted(resp, &instance, flow.local);
        let expires = expires.unwrap_or(self.expires);
        if expires == 0 {
            self.drop_flow(now, None, Duration::ZERO);
            let retry_in = self.retry_at.map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
            self.events.push_back(Event::RegistrationFailed {
                status: resp.status,
                reason: "the switch granted no binding".into(),
                retry_in: Some(retry_in),
            });
            return;
        }
        let was_bound = self.binding.is_some();
        self.binding = Some(Binding { expires });
        self.registered_public = self.in_flight_public;
        self.auth_tries = 0;
        self.failures = 0;
        self.refresh_at = now.checked_add(refresh_interval(expires.min(MAX_EXPIRES)));
        // Keep-alives only when the registrar takes part in RFC 5626 (§4.4):
        // another would not answer a ping, and we would call the flow dead.
        self.keepalive = outbound
            .then(|| flow_timer.map_or(self.cfg.default_flow_timer, |s| Duration::from_secs(u64::from(s.clamp(1, MAX_FLOW_TIMER)))));
        if self.keepalive.is_none() {
            self.ping_at = None;
            self.pong_deadline = None;
        } else if self.ping_at.is_none() && self.pong_deadline.is_none() {
            self.schedule_ping(now);
        }
        let kind = match self.change_detected.take() {
            Some(at) if self.registered_public == self.public_ip => {
                let latency = now.saturating_duration_since(at);
                tracing::info!(public_ip = ?self.registered_public, latency_ms = latency.as_millis() as u64, "registered the new public IP");
                RegistrationKind::PublicIpChange { latency }
            }
            Some(at) => {
                // Registered with an address that is already old: keep the clock.
                self.change_detected = Some(at);
                RegistrationKind::Refresh
            }
            None if !self.ever_registered => RegistrationKind::Initial,
            None if !was_bound => RegistrationKind::Reconnect,
            None => RegistrationKind::Refresh,
        };
        self.ever_registered = true;
        let observed = message::observed(resp, flow.local);
        tracing::info!(local = %flow.local, public_ip = ?self.registered_public, expires, ?flow_timer, ?kind, "registered");
        self.events.push_back(Event::Registered(Registration {
            local: flow.local,
            public_ip: self.registered_public,
            observed,
            expires,
            flow_timer: if outbound { flow_timer } else { None },
            bearer_address,
            kind,
        }));
        if let Some(lost) = self.lost_at.take() {
            self.events.push_back(Event::FlowRestored { local: flow.local, down_for: now.saturating_duration_since(lost) });
        }
        if !was_bound {
            // A new flow is registered: the calls that outlived the last one follow it.
            self.with_calls(now, |calls, ctx| calls.rejoin(ctx));
        }
        // With the `via` source every answer is a measurement: the switch saw
        // us come from `observed`.
        if self.cfg.public_ip == PublicIpSource::Via && observed.is_some() && observed != self.registered_public {
            self.finish_check(now, observed);
        }
        // Something asked for a REGISTER while this one was in flight, or the
        // address moved on meanwhile.
        let again = std::mem::take(&mut self.reregister_after) || self.registered_public != self.public_ip;
        if again && self.register_tx.is_none() {
            self.send_register(now, Purpose::Register);
        }
    }

    /// 403/404 (or authentication that cannot succeed): the switch said no.
    /// Retrying the same way would only hammer it (and trip its abuse guard),
    /// so the agent waits for `retry_after_rejection`, or for good.
    fn rejected(&mut self, now: Instant, status: u16, reason: String) {
        tracing::error!(status, %reason, "registration refused");
        if let Some(flow) = self.flow.take() {
            self.outbox.push_back(super::Output::Close { flow: flow.id });
        }
        self.layer = sipcore::transaction::TransactionLayer::new(self.cfg.timers);
        self.end_calls();
        self.binding = None;
        self.clear_timers();
        self.keepalive = None;
        self.challenge = None;
        self.auth_tries = 0;
        self.phase = Phase::Rejected;
        let retry_in = self.cfg.retry_after_rejection;
        self.retry_at = retry_in.and_then(|d| now.checked_add(d));
        self.events.push_back(Event::RegistrationFailed { status, reason, retry_in });
    }

    fn on_unregister_response(&mut self, now: Instant, resp: &Response) {
        match resp.status {
            200..=299 => {
                tracing::info!("unregistered");
                self.events.push_back(Event::Unregistered);
                self.finish_stop();
            }
            401 | 407 if self.take_challenge(resp) => self.send_register(now, Purpose::Unregister),
            status => {
                tracing::warn!(status, reason = %message::reason_of(resp), "unregistration refused");
                self.finish_stop();
            }
        }
    }
}
