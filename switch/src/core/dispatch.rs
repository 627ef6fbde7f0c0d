//! Where each event of the transaction layer goes: new requests to the
//! registrar, the B2BUA or a plain answer; CANCEL and ACK to the B2BUA;
//! client-transaction events to whoever started the transaction.

use super::Core;
use super::provisioning::Parked;
use crate::Error;
use crate::b2bua::{CallError, ClientEvent};
use sipcore::transaction::{LayerEvent, TransactionKey};
use sipcore::transport::Flow;
use sipcore::{HeaderName, Method, Request, Response};
use std::time::Instant;

/// Methods the switch answers, for `Allow` (RFC 3261 §20.5).
pub const ALLOW: &str = "REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL";

impl Core {
    pub(super) fn on_layer_event(&mut self, now: Instant, event: LayerEvent) {
        match event {
            LayerEvent::Request { key, flow, request } => self.on_request(now, key, flow, request),
            LayerEvent::Cancel { key, request, invite, .. } => {
                let looking_up = invite
                    .as_ref()
                    .is_some_and(|i| self.cancel_lookup(now, &key, &request, i) || self.cancel_waking(now, &key, &request, i));
                if !looking_up && !self.b2bua.handle_cancel(now, &key, &request, invite.as_ref()) {
                    self.respond(now, &key, Response::for_error(&request, &CallError::NoSuchDialog));
                }
            }
            LayerEvent::Ack { request, .. } => self.b2bua.handle_ack(&request),
            LayerEvent::Response { key, response } => self.on_client_event(now, &key, ClientEvent::Response(response)),
            LayerEvent::Timeout { key, .. } => self.on_client_event(now, &key, ClientEvent::Timeout),
            LayerEvent::TransportError { key } => self.on_client_event(now, &key, ClientEvent::TransportError),
            LayerEvent::StrayResponse { .. } => {}
            LayerEvent::Terminated { key } => {
                self.clients.remove(&key);
            }
        }
    }

    /// A new request (its server transaction just started). Any request is
    /// life on its flow.
    fn on_request(&mut self, now: Instant, key: TransactionKey, flow: Flow, request: Request) {
        self.activity(now, &flow);
        if request.method == Method::Register {
            return self.with_subscribers(now, Parked::Register { key, flow, request });
        }
        let in_dialog = request.headers.to_addr().is_ok_and(|a| a.tag().is_some());
        let request = if in_dialog {
            match self.b2bua.handle_request(now, &key, flow, request) {
                Ok(()) => return,
                Err(request) => *request,
            }
        } else if request.method == Method::Invite {
            if !self.store_available {
                // Not routed on state the store may no longer agree with, and
                // its call record could not be written; established calls
                // (in-dialog, above) and their media go on.
                return self.respond(now, &key, super::respond::refusal(&request, &Error::StoreUnavailable));
            }
            return self.new_invite(now, key, flow, request);
        } else {
            request
        };
        if let Some(response) = respond_other(&request) {
            self.respond(now, &key, response);
        }
    }

    /// Runs `request` now if the subscriber snapshot is current, else holds it
    /// until the reload the driver was asked for comes back.
    pub(super) fn with_subscribers(&mut self, now: Instant, request: Parked) {
        if self.provisioning.is_current() {
            return self.run_parked(now, request);
        }
        if let Err(request) = self.provisioning.park(request) {
            self.refuse_parked(now, *request, &Error::Overloaded("too many requests wait for the subscribers"));
        }
    }

    /// A request that needed the subscribers, now that they are current.
    pub(super) fn run_parked(&mut self, now: Instant, request: Parked) {
        match request {
            Parked::Register { key, flow, request } => self.register(now, key, flow, request),
            Parked::Invite { key, flow, request } => self.admit(now, key, flow, request),
            Parked::Route { id, number } => self.route(id, &number, now),
        }
    }

    /// A request that needed the subscribers, which could not be read.
    pub(super) fn refuse_parked(&mut self, now: Instant, request: Parked, why: &Error) {
        match request {
            Parked::Register { key, request, .. } | Parked::Invite { key, request, .. } => {
                self.respond(now, &key, super::respond::refusal(&request, why));
            }
            Parked::Route { id, .. } => self.reply(id, format!("error: cannot read subscribers: {why}")),
        }
    }
}

/// The answer to a request that is neither a REGISTER nor part of a call
/// (ACK never gets one).
pub(super) fn respond_other(req: &Request) -> Option<Response> {
    let mut resp = match &req.method {
        Method::Ack => return None,
        Method::Options => Response::to_request(req, 200),
        // In-dialog requests for no dialog of ours (INVITEs that start calls
        // never come here); a CANCEL is the B2BUA's, one that reaches here
        // matched nothing.
        Method::Bye | Method::Invite | Method::Cancel => Response::for_error(req, &CallError::NoSuchDialog),
        // Methods this server knows but does not offer here (RFC 3261 §21.4.6).
        Method::Info
        | Method::Prack
        | Method::Update
        | Method::Subscribe
        | Method::Notify
        | Method::Publish
        | Method::Refer
        | Method::Message => Response::to_request(req, 405),
        // Methods it does not know at all (§21.5.2).
        Method::Extension(_) | Method::Register => Response::to_request(req, 501),
    };
    resp.headers.push(HeaderName::Allow, ALLOW);
    Some(resp)
}
