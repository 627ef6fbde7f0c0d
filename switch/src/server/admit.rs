//! Calls entering the switch: in-dialog requests go to the B2BUA; a new
//! INVITE is authenticated (407 digest with the subscriber's REGISTER
//! credentials, or a trusted peer's source address), its callee routed with the
//! registrar's `route()`, and handed to the B2BUA — or refused here (404, 480).

use super::{Server, local_ip_toward};
use crate::b2bua::{Connect, NewCall, Target};
use crate::cdr::Cdr;
use crate::location::{Route, route};
use sipcore::transaction::TransactionKey;
use sipcore::transport::{Flow, TransportKind};
use sipcore::{Method, Request, Response};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{info, warn};

impl Server {
    /// Takes the requests that belong to calls; hands back the rest.
    pub(super) fn call_request(&mut self, now: Instant, key: TransactionKey, flow: Flow, req: Request) -> Option<Request> {
        if matches!(req.method, Method::Register | Method::Ack | Method::Cancel) {
            return Some(req);
        }
        let t = now;
        let in_dialog = req.headers.to_addr().is_ok_and(|a| a.tag().is_some());
        if in_dialog {
            return self.calls.core.handle_request(t, &key, flow, req).err().map(|r| *r);
        }
        if req.method != Method::Invite {
            return Some(req);
        }
        if req.headers.max_forwards().ok().flatten() == Some(0) {
            self.reply(key, &req, 483, "Too Many Hops");
            return None;
        }
        if req.headers.call_id().is_ok_and(|id| self.calls.core.knows_call_id(id)) {
            // Our own INVITE come back, or a merged request (RFC 3261 §8.2.2.2).
            self.reply(key, &req, 482, "Loop Detected");
            return None;
        }
        self.admit(now, t, key, flow, req);
        None
    }

    fn reply(&self, key: TransactionKey, req: &Request, status: u16, reason: &str) {
        if let Err(e) = self.stack.respond(key, Response::to_request(req, status).with_reason(reason.to_owned())) {
            warn!(error = %e, "call response not sent");
        }
    }

    fn admit(&mut self, now: Instant, t: Instant, key: TransactionKey, flow: Flow, req: Request) {
        if let Err(e) = self.refresh_subscribers(now) {
            tracing::error!(error = %e, "cannot read subscribers");
            return self.reply(key, &req, 500, "Server Internal Error (store unavailable)");
        }
        let caller = req.headers.from_addr().ok().and_then(|a| a.uri.user.map(str::to_owned)).unwrap_or_default();
        let Some(callee) = req.uri().ok().and_then(|u| u.user.map(str::to_owned)) else {
            return self.reply(key, &req, 404, "Not Found (no number in the Request-URI)");
        };
        if !self.trusted_peers.contains(&flow.remote.ip()) {
            let Some(sub) = self.subscribers.get(&caller).cloned() else {
                return self.reply(key, &req, 403, "Forbidden (caller not provisioned)");
            };
            if let Some(resp) = self.registrar.authorize_call(now, &req, &sub, flow.remote.ip()) {
                if let Err(e) = self.stack.respond(key, resp) {
                    warn!(error = %e, "challenge not sent");
                }
                return;
            }
        }
        let Some(callee_sub) = self.subscribers.get(&callee).cloned() else {
            return self.reply(key, &req, 404, "Not Found (number not in service)");
        };
        let target = match route(&self.registrar.table, &callee_sub, now) {
            Route::Flow { flow_id, local, observed, transport, record } => {
                let down = Flow { id: flow_id, transport, local, remote: observed };
                Target {
                    flow: down,
                    local: SocketAddr::new(local_ip_toward(&down), local.port()),
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
                    return self.unavailable(t, key, &req, &caller, &callee, "home_unreachable");
                }
            },
            Route::Unavailable { reason } => return self.unavailable(t, key, &req, &caller, &callee, reason.as_str()),
        };
        info!(caller = %caller, callee = %callee, route = target.route, reason = target.reason.as_deref().unwrap_or(""), via = %target.flow,
            "call routed");
        // A call down a flow may still go home if the flow fails or nobody answers (issue 5 item 4).
        let fallback = match target.route {
            "flow" => callee_sub.home.as_deref().filter(|h| !h.is_empty()).and_then(|h| self.home_target(h)),
            _ => None,
        };
        let local_ip = local_ip_toward(&flow);
        let relay_ip = self.relay_address;
        let new = NewCall {
            key,
            flow,
            local: SocketAddr::new(local_ip, flow.local.port()),
            request: req,
            caller,
            callee,
            target,
            relay_ip,
            fallback,
        };
        self.calls.core.handle_invite(t, new);
    }

    /// 480: no live flow and no home. Recorded, so `switch calls` says why.
    fn unavailable(&mut self, t: Instant, key: TransactionKey, req: &Request, caller: &str, callee: &str, reason: &str) {
        self.reply(key, req, 480, &format!("Temporarily Unavailable ({reason})"));
        let mut record = Cdr::new(req.headers.call_id().unwrap_or_default().to_owned(), caller.to_owned(), callee.to_owned(), "none", t);
        record.route_reason = Some(reason.to_owned());
        record.end_at = Some(t);
        record.status = Some(480);
        record.end_reason = Some("unavailable".into());
        info!(caller, callee, reason, "call unavailable");
        self.persister.put_cdr(&record);
    }

    /// The callee leg to a home URI `sip:user@HOST[:port][;transport=udp|tcp]`:
    /// an IP literal over UDP goes out of one of our UDP listeners (same
    /// address family) at once; a host name, or TCP, is found by the B2BUA's
    /// driver first (resolved, connected) — the request loop never waits for it.
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
            let remote = SocketAddr::new(ip, port);
            let sock = self.udp.iter().find(|f| f.local.is_ipv4() == remote.is_ipv4())?;
            let flow = self.stack.transport().udp_flow(sock, remote);
            return Some(target(flow, SocketAddr::new(local_ip_toward(&flow), sock.local.port()), None));
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
