//! Going home (issue 5 item 4): a callee leg given up for the home location,
//! and home locations over TCP that need a connection before the offer.

use super::{Call, End, Phase};
use crate::ConnectError;
use crate::b2bua::leg::Leg;
use crate::b2bua::outbox::{Outbox, TxKind};
use crate::b2bua::{B2buaConfig, CallError};
use crate::core::Output;
use sipcore::transport::Flow;
use sipcore::{Method, Request, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// A callee leg given up for the home location.
#[derive(Debug)]
pub(in crate::b2bua) struct Abandoned {
    pub(in crate::b2bua) leg: Leg,
    pub(in crate::b2bua) invite: Option<Request>,
    pub(in crate::b2bua) cancelled: bool,
}

impl Call {
    /// The flow to a home location is found (resolved, connected): offer the call down it.
    pub(in crate::b2bua) fn connected(&mut self, now: Instant, cfg: &B2buaConfig, outbox: &mut Outbox, flow: Flow, local: SocketAddr) {
        if self.phase != Phase::Opening || self.target.connect.is_none() || self.media.is_none() {
            return;
        }
        self.target.connect = None;
        self.target.flow = flow;
        self.target.local = local;
        self.callee.flow = flow;
        self.callee.local = local;
        self.invite_callee(now, cfg, outbox);
    }
    /// The home location (or the node holding the callee's flow) could
    /// not be resolved or connected.
    pub(in crate::b2bua) fn connect_failed(&mut self, outbox: &mut Outbox, why: ConnectError) -> Option<End> {
        if self.phase != Phase::Opening || self.target.connect.is_none() {
            return None;
        }
        let (err, reason) = match self.target.hop {
            Some(_) => (CallError::FlowFailed, "flow_failed"),
            None => (CallError::HomeUnreachable(why), "home_unreachable"),
        };
        self.refuse_caller(outbox, &err);
        Some(End::new(&err, reason))
    }

    /// Whether the callee leg goes to another node, not yet connected.
    pub(in crate::b2bua) fn connecting_to_node(&self) -> bool {
        self.phase == Phase::Opening && self.target.hop.is_some() && self.target.connect.is_some()
    }
    /// Gives the callee leg up and offers the call to the home location
    /// instead (issue 5 item 4): CANCEL the old leg once it may be cancelled,
    /// a new dialog to home. Returns the old and new callee Call-IDs, or
    /// `None` when there is no home to go to.
    pub(in crate::b2bua) fn fail_over(
        &mut self,
        now: Instant,
        cfg: &B2buaConfig,
        outbox: &mut Outbox,
        why: &str,
    ) -> Option<(String, String)> {
        let home = self.fallback.take()?;
        // Gone before a connection to another node was made: nothing to take back there.
        let connecting = self.target.connect.is_some();
        let cancel = (self.provisional && !connecting)
            .then(|| self.callee_invite.as_ref().and_then(|i| sipcore::transaction::cancel_for(i).ok()))
            .flatten();
        if let Some(c) = cancel.clone() {
            outbox.request(self.id, TxKind::Cancel, self.callee.flow, c);
        }
        for kind in outbox.txs.values_mut().filter(|(call, k)| *call == self.id && *k == TxKind::Invite) {
            kind.1 = TxKind::Abandoned;
        }
        let domain = &cfg.domain;
        let fresh = Leg::callee(
            format!("{}@{domain}", outbox.token()),
            outbox.token(),
            &format!("<sip:{}@{domain}>", self.cdr.caller),
            &format!("<sip:{}@{domain}>", self.cdr.callee),
            home.uri.clone(),
            home.flow,
            home.local,
        );
        let old = std::mem::replace(&mut self.callee, fresh);
        let ids = (old.call_id().to_owned(), self.callee.call_id().to_owned());
        self.abandoned = Some(Abandoned { leg: old, invite: self.callee_invite.take(), cancelled: cancel.is_some() });
        self.target = home;
        self.cdr.route = "home".into();
        self.cdr.route_reason = Some(why.to_owned());
        self.cdr.callee_call_id = Some(ids.1.clone());
        outbox.output(Output::Cdr(Box::new(self.cdr.clone())));
        self.invite_callee(now, cfg, outbox);
        Some(ids)
    }
    /// A response on the abandoned callee leg: CANCEL it once it rings; a 2xx
    /// that raced the CANCEL gets ACK and BYE.
    pub(in crate::b2bua) fn abandoned_response(&mut self, outbox: &mut Outbox, resp: &Response) {
        let Some(a) = self.abandoned.as_mut() else { return };
        match resp.status {
            101..=199 if !a.cancelled => {
                if let Some(c) = a.invite.as_ref().and_then(|i| sipcore::transaction::cancel_for(i).ok()) {
                    outbox.request(self.id, TxKind::Cancel, a.leg.flow, c);
                }
                a.cancelled = true;
            }
            200..=299 => {
                a.leg.dialog.confirm(resp);
                let cseq = resp.headers.cseq().map(|c| c.seq).unwrap_or(1);
                let branch = outbox.branch();
                outbox.stateless(a.leg.flow, a.leg.ack(cseq, branch));
                let bye = a.leg.request(Method::Bye, outbox.branch());
                outbox.request(self.id, TxKind::Bye, a.leg.flow, bye);
            }
            _ => {}
        }
    }
}
