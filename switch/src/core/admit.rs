//! A new INVITE: authenticated (407 digest with the subscriber's REGISTER
//! credentials, a trusted peer's source address, or another node's flow
//! token), its callee routed with the location table's `route()` — or, in a
//! cluster, the binding another node holds ([`crate::cluster`]) — and handed
//! to the B2BUA; or refused here (403 for credentials or a bad token, as the
//! registrar says; 404 for an unknown callee, to an authenticated caller only;
//! 430 for a forwarded call whose flow is gone here; 480).

use super::Core;
use super::output::{LookupId, Output};
use super::provisioning::Parked;
use crate::b2bua::{CallError, Connect, Hop, NewCall, Target};
use crate::cdr::Cdr;
use crate::cluster::{RemoteBinding, token};
use crate::location::{Route, route};
use sipcore::transaction::TransactionKey;
use sipcore::transport::{Flow, FlowId, TransportKind};
use sipcore::{Request, Response};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{info, warn};

/// Most INVITEs waiting for the store's look-up at once; past it a call is
/// routed as if no other node held the number (home, or 480), so a flood of
/// calls to unregistered numbers cannot grow the core without bound.
pub(super) const MAX_LOOKUPS: usize = 4096;

/// An authenticated INVITE on its way to a target.
#[derive(Debug)]
pub(super) struct Admitted {
    key: TransactionKey,
    flow: Flow,
    req: Request,
    caller: String,
    callee: String,
    /// The callee's home URI, if provisioned (the fallback of a call down a flow).
    home: Option<String>,
    /// The node that forwarded this call, when one did.
    from_node: Option<String>,
}

impl Admitted {
    pub(super) fn key(&self) -> &TransactionKey {
        &self.key
    }

    pub(super) fn request(&self) -> &Request {
        &self.req
    }

    pub(super) fn caller(&self) -> &str {
        &self.caller
    }

    pub(super) fn callee(&self) -> &str {
        &self.callee
    }
}

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
        // A call another node forwarded: its token stands for the caller's
        // digest, which that node checked.
        let from_node = match self.forwarded_by(now, &req, &callee) {
            Ok(node) => node,
            Err(why) => {
                warn!(source = %flow.remote, callee = %callee, error = %why, "INVITE with a bad flow token refused");
                return self.refuse(now, &key, &req, CallError::BadFlowToken);
            }
        };
        if from_node.is_none() && !self.config.trusted_peers.contains(&flow.remote.ip()) {
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
        let home = callee_sub.home.clone().filter(|h| !h.is_empty());
        let routed = route(&self.registrar.table, callee_sub, now);
        let call = Admitted { key, flow, req, caller, callee, home, from_node };
        match routed {
            routed @ Route::Flow { .. } => self.down_flow(now, call, routed),
            // Forwarded here for a flow that is gone: the sender goes home
            // (one hop only: never on to a third node).
            _ if call.from_node.is_some() => {
                info!(callee = %call.callee, from_node = call.from_node.as_deref().unwrap_or(""), "forwarded call: no flow here (430)");
                self.refuse(now, &call.key, &call.req, CallError::FlowGone);
            }
            other if self.config.cluster.is_some() && self.lookups.len() < MAX_LOOKUPS => {
                // Another node may hold the flow: ask the store, go on in `handle_binding`.
                self.next_lookup += 1;
                let id = LookupId(self.next_lookup);
                self.out.push_back(Output::FindBinding { id, number: call.callee.clone() });
                self.lookups.insert(id, (call, other));
            }
            other => self.no_flow(now, call, other),
        }
    }

    /// Offers the call down the callee's live flow (`routed` is a
    /// [`Route::Flow`]; anything else goes home).
    pub(super) fn down_flow(&mut self, now: Instant, call: Admitted, routed: Route) {
        let Route::Flow { flow_id, local, observed, transport, record } = routed else { return self.go_home(now, call, routed) };
        let down = Flow { id: flow_id, transport, local, remote: observed };
        let target = Target {
            flow: down,
            local: SocketAddr::new((self.config.local_ip)(&down), local.port()),
            uri: record.contact.to_string(),
            latch_ip: Some(observed.ip()),
            route: "flow",
            reason: call.from_node.as_ref().map(|n| format!("from_node:{n}")),
            connect: None,
            hop: None,
        };
        self.offer(now, call, target);
    }

    /// The node that forwarded `req` if it carries a valid flow token for
    /// this node; `Ok(None)` without one (or outside a cluster).
    fn forwarded_by(&self, now: Instant, req: &Request, callee: &str) -> Result<Option<String>, token::TokenError> {
        let Some(cluster) = &self.config.cluster else { return Ok(None) };
        let Some(tok) = token::of(req) else { return Ok(None) };
        let call_id = req.headers.call_id().unwrap_or_default();
        token::verify(&cluster.secret, &tok, &cluster.node, callee, call_id, cluster.clock.unix_secs(now)).map(Some)
    }

    /// The store's answer to [`Output::FindBinding`]: the node holding the
    /// callee's live flow, or none (the call goes home, or nowhere).
    pub fn handle_binding(&mut self, now: Instant, id: LookupId, found: Option<RemoteBinding>) {
        let Some((call, routed)) = self.lookups.remove(&id) else { return };
        match found {
            Some(remote) => {
                let target = self.node_target(now, &call.callee, &remote);
                info!(callee = %call.callee, node = %remote.node, address = %remote.address, "callee's flow is on another node");
                self.offer(now, call, target);
            }
            None => self.no_flow(now, call, routed),
        }
        self.pump(now);
    }

    /// A CANCEL for an INVITE still waiting for [`Core::handle_binding`]:
    /// 200 to the CANCEL, 487 to the INVITE, and the answer, when it comes,
    /// finds nothing. False when `invite` is not waiting.
    pub(super) fn cancel_lookup(&mut self, now: Instant, key: &TransactionKey, cancel: &Request, invite: &TransactionKey) -> bool {
        let Some(id) = self.lookups.iter().find(|(_, (call, _))| call.key == *invite).map(|(id, _)| *id) else { return false };
        let Some((call, _)) = self.lookups.remove(&id) else { return false };
        self.cancelled(now, key, cancel, &call);
        true
    }

    /// The callee leg to the node holding the flow: over TCP to its node
    /// address, with a Route carrying a flow token bound to a fresh Call-ID.
    fn node_target(&mut self, now: Instant, callee: &str, remote: &RemoteBinding) -> Target {
        let call_id = format!("{}@{}", crate::b2bua::msg::token(&mut self.rng), self.config.b2bua.domain);
        let route = match &self.config.cluster {
            Some(c) => {
                let claim = token::Claim { from: &c.node, to: &remote.node, number: callee, call_id: &call_id };
                let tok = token::make(&c.secret, &claim, c.clock.unix_secs(now));
                format!("<sip:{tok}@{};transport=tcp;lr>", remote.address)
            }
            None => String::new(),
        };
        let to = remote.address;
        let mut target =
            connect_target(format!("sip:{callee}@{to};transport=tcp"), to.ip().to_string(), to.port(), TransportKind::Tcp, "flow");
        target.reason = Some(format!("via_node:{}", remote.node));
        target.hop = Some(Hop { call_id, route });
        target
    }

    /// No live flow here or on another node: home, else 480.
    pub(super) fn go_home(&mut self, now: Instant, call: Admitted, routed: Route) {
        let target = match routed {
            Route::Home { uri, reason } => match self.home_target(&uri) {
                Some(mut target) => {
                    target.reason = Some(reason.as_str().to_owned());
                    target
                }
                None => {
                    warn!(number = %call.callee, home = %uri, "home location is not a sip: URI over UDP or TCP");
                    return self.unavailable(now, &call, "home_unreachable");
                }
            },
            Route::Unavailable { reason } => return self.unavailable(now, &call, reason.as_str()),
            // Only a route that is not a flow comes here.
            Route::Flow { .. } => return self.unavailable(now, &call, "not_registered"),
        };
        self.offer(now, call, target);
    }

    /// Hands the call to the B2BUA, toward `target`.
    fn offer(&mut self, now: Instant, call: Admitted, target: Target) {
        info!(caller = %call.caller, callee = %call.callee, route = target.route, reason = target.reason.as_deref().unwrap_or(""), via = %target.flow,
            "call routed");
        // A call down a flow (ours or another node's) may still go home if
        // the flow fails or nobody answers (issue 5 item 4).
        let fallback = match target.route {
            "flow" => call.home.as_deref().and_then(|h| self.home_target(h)),
            _ => None,
        };
        let new = NewCall {
            key: call.key,
            flow: call.flow,
            local: SocketAddr::new((self.config.local_ip)(&call.flow), call.flow.local.port()),
            request: call.req,
            caller: call.caller,
            callee: call.callee,
            target,
            relay_ip: self.config.registrar.relay_address,
            fallback,
        };
        self.b2bua.handle_invite(now, new);
    }

    /// 480: no live flow and no home. Recorded, so `switch calls` says why.
    fn unavailable(&mut self, now: Instant, call: &Admitted, reason: &'static str) {
        let (req, caller, callee) = (&call.req, call.caller.as_str(), call.callee.as_str());
        self.refuse(now, &call.key, req, CallError::Unavailable(reason));
        let mut cdr = Cdr::new(req.headers.call_id().unwrap_or_default().to_owned(), caller.to_owned(), callee.to_owned(), "none", now);
        cdr.route_reason = Some(reason.to_owned());
        cdr.end_at = Some(now);
        cdr.status = Some(480);
        cdr.end_reason = Some("unavailable".into());
        info!(caller, callee, reason, "call unavailable");
        self.out.push_back(Output::Cdr(Box::new(cdr)));
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
        if let (Some(ip), TransportKind::Udp) = (host.ip(), transport) {
            let flow = crate::listen::udp_flow_toward(&self.config.udp, &[SocketAddr::new(ip, port)])?;
            let local = SocketAddr::new((self.config.local_ip)(&flow), flow.local.port());
            return Some(Target { flow, local, connect: None, ..connect_target(uri.to_owned(), String::new(), port, transport, "home") });
        }
        let name = match host {
            sipcore::Host::Domain(d) => d.to_owned(),
            sipcore::Host::V4(a) => a.to_string(),
            sipcore::Host::V6(a) => a.to_string(),
        };
        Some(connect_target(uri.to_owned(), name, port, transport, "home"))
    }
}

/// A callee leg whose flow the driver must find first (resolve `host`,
/// connect); its flow and address are placeholders until then.
fn connect_target(uri: String, host: String, port: u16, transport: TransportKind, route: &'static str) -> Target {
    let unknown = SocketAddr::from(([0, 0, 0, 0], port));
    Target {
        flow: Flow { id: FlowId(0), transport, local: unknown, remote: unknown },
        local: unknown,
        uri,
        latch_ip: None,
        route,
        reason: None,
        connect: Some(Connect { host, port, transport }),
        hop: None,
    }
}
