//! A new INVITE: authenticated (407 digest with the subscriber's REGISTER
//! credentials, or a trusted peer's source address), its callee routed with
//! the location table's `route()`, and handed to the B2BUA — or refused here
//! (403 for credentials, as the registrar says; 404 for an unknown callee, to
//! an authenticated caller only; 480).

use super::Core;
use super::provisioning::Parked;
use crate::b2bua::{CallError, Connect, NewCall, Target};
use crate::cdr::Cdr;
use crate::location::{Route, route};
use sipcore::transaction::TransactionKey;
use sipcore::transport::{Flow, TransportKind};
use sipcore::{Request, Response};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{info, warn};

impl Core {
    /// An INVITE outside any dialog: loops and hop counts are refused at
    /// once, the rest needs the subscribers.
    pub(super) fn new_invite(&mut self, now: Instant, key: TransactionKey, flow: Flow, req: Request) {
        if req.headers.max_forwards().ok().flatten() == Some(0) {
            return self.refuse(now, &key, &req, CallError::TooManyHops);
        }
        if req.headers.call_id().is_ok_and(|id| self.b2bua.knows_call_id(id)) {
            // Our own INVITE come back, or a merged request (RFC 3261 §8.2.2.2).
            return self.refuse(now, &key, &req, CallError::Loop);
        }
        self.with_subscribers(now, Parked::Invite { key, flow, request: req });
    }

    fn refuse(&mut self, now: Instant, key: &TransactionKey, req: &Request, err: CallError) {
        self.respond(now, key, Response::for_error(req, &err));
    }

    /// Authenticates, routes and offers the call (the subscribers are current).
    pub(super) fn admit(&mut self, now: Instant, key: TransactionKey, flow: Flow, req: Request) {
        let caller = req.headers.from_addr().ok().and_then(|a| a.uri.user.map(str::to_owned)).unwrap_or_default();
        let Some(callee) = req.uri().ok().and_then(|u| u.user.map(str::to_owned)) else {
            return self.refuse(now, &key, &req, CallError::NoCallee);
        };
        if !self.config.trusted_peers.contains(&flow.remote.ip()) {
            // A caller that is not provisioned is challenged and refused like a
            // wrong password: an INVITE must not tell which numbers exist.
            let sub = self.provisioning.subscribers.get(&caller);
            let local_ip = (self.config.local_ip)(&flow);
            if let Some(resp) = self.registrar.authorize_call(now, &req, &caller, sub, &flow, local_ip) {
                return self.respond(now, &key, resp);
            }
        }
        let Some(callee_sub) = self.provisioning.subscribers.get(&callee) else {
            return self.refuse(now, &key, &req, CallError::NotInService);
        };
        let home = callee_sub.home.clone();
        let target = match route(&self.registrar.table, callee_sub, now) {
            Route::Flow { flow_id, local, observed, transport, record } => {
                let down = Flow { id: flow_id, transport, local, remote: observed };
                Target {
                    flow: down,
                    local: SocketAddr::new((self.config.local_ip)(&down), local.port()),
                    uri: record.contact.clone(),
                    latch_ip: Some(observed.ip()),
                    route: "flow",
                    reason: None,
                    connect: None,
                }
            }
            Route::Home { uri, reason } => match self.home_target(&uri) {
                Some(mut target) => {
                    target.reason = Some(reason.as_str().to_owned());
                    target
                }
                None => {
                    warn!(number = %callee, home = %uri, "home location is not a sip: URI over UDP or TCP");
                    return self.unavailable(now, &key, &req, &caller, &callee, "home_unreachable");
                }
            },
            Route::Unavailable { reason } => return self.unavailable(now, &key, &req, &caller, &callee, reason.as_str()),
        };
        info!(caller = %caller, callee = %callee, route = target.route, reason = target.reason.as_deref().unwrap_or(""), via = %target.flow,
            "call routed");
        // A call down a flow may still go home if the flow fails or nobody answers (issue 5 item 4).
        let fallback = match target.route {
            "flow" => home.as_deref().filter(|h| !h.is_empty()).and_then(|h| self.home_target(h)),
            _ => None,
        };
        let new = NewCall {
            key,
            flow,
            local: SocketAddr::new((self.config.local_ip)(&flow), flow.local.port()),
            request: req,
            caller,
            callee,
            target,
            relay_ip: self.config.registrar.relay_address,
            fallback,
        };
        self.b2bua.handle_invite(now, new);
    }

    /// 480: no live flow and no home. Recorded, so `switch calls` says why.
    fn unavailable(&mut self, now: Instant, key: &TransactionKey, req: &Request, caller: &str, callee: &str, reason: &'static str) {
        self.refuse(now, key, req, CallError::Unavailable(reason));
        let mut cdr = Cdr::new(req.headers.call_id().unwrap_or_default().to_owned(), caller.to_owned(), callee.to_owned(), "none", now);
        cdr.route_reason = Some(reason.to_owned());
        cdr.end_at = Some(now);
        cdr.status = Some(480);
        cdr.end_reason = Some("unavailable".into());
        info!(caller, callee, reason, "call unavailable");
        self.out.push_back(super::Output::Cdr(Box::new(cdr)));
    }

    /// The callee leg to a home URI `sip:user@HOST[:port][;transport=udp|tcp]`:
    /// an IP literal over UDP goes out of one of our UDP listeners (same
    /// address family) at once; a host name, or TCP, is found by the driver
    /// first (resolved, connected) — the core never waits for it.
    fn home_target(&self, uri: &str) -> Option<Target> {
        let u = sipcore::Uri::parse(uri).ok()?;
        let host = u.host?;
        let port = u.port.unwrap_or(5060);
        let transport = match u.transport().map(str::to_ascii_lowercase).as_deref() {
            None | Some("udp") => TransportKind::Udp,
            Some("tcp") => TransportKind::Tcp,
            Some(_) => return None,
        };
        let target = |flow: Flow, local: SocketAddr, connect: Option<Connect>| Target {
            flow,
            local,
            uri: uri.to_owned(),
            latch_ip: None,
            route: "home",
            reason: None,
            connect,
        };
        if let (Some(ip), TransportKind::Udp) = (host.ip(), transport) {
            let flow = crate::listen::udp_flow_toward(&self.config.udp, &[SocketAddr::new(ip, port)])?;
            return Some(target(flow, SocketAddr::new((self.config.local_ip)(&flow), flow.local.port()), None));
        }
        let name = match host {
            sipcore::Host::Domain(d) => d.to_owned(),
            sipcore::Host::V4(a) => a.to_string(),
            sipcore::Host::V6(a) => a.to_string(),
        };
        // A placeholder until the driver has found the real flow.
        let unknown = SocketAddr::from(([0, 0, 0, 0], port));
        let template = Flow { id: sipcore::transport::FlowId(0), transport, local: unknown, remote: unknown };
        Some(target(template, unknown, Some(Connect { host: name, port, transport })))
    }
}
