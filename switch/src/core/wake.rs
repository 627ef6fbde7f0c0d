//! A call for a phone that sleeps (RFC 8599 push). When a new INVITE finds no
//! live flow for its callee — here or, in a cluster, on another node — and the
//! callee's binding dropped its flow (`signalling_dropped`) but asked for push
//! on its Contact, the call waits here instead of going home: the driver POSTs
//! a [`Notice`] to the operator's gateway ([`crate::pn`]), the phone wakes and
//! registers, and right after that REGISTER's 200 OK (so the phone knows it is
//! registered before a call arrives) the INVITE goes down the new flow.
//! Nothing by `[push] hold`, or a gateway that refused: home / 480, as without
//! push.
//!
//! The caller hears only the transaction layer's `100 Trying` while it waits:
//! no `180 Ringing`, because nothing rings yet (the phone may never wake), and
//! a 180 would start an early dialog the B2BUA's own 180, when the phone does
//! ring, would have to match.

use super::Core;
use super::admit::Admitted;
use super::output::Output;
use crate::b2bua::CallError;
use crate::location::{HomeReason, Route, route};
use crate::pn::{Notice, PushId, PushParams};
use sipcore::Request;
use sipcore::transaction::TransactionKey;
use std::time::Instant;
use tracing::info;

/// Most calls held for a push at once; past it a call goes home / 480 at
/// once, so a flood of calls to sleeping phones cannot grow the core.
pub(super) const MAX_WAKING: usize = 4096;

/// A call held while its callee's phone is woken.
#[derive(Debug)]
pub(super) struct Waking {
    call: Admitted,
    /// Where the call goes if the phone does not come (home or 480).
    routed: Route,
    until: Instant,
}

impl Core {
    /// A call that found no live flow: held for a push when its callee's
    /// binding asks for one and push is on, else home / 480.
    pub(super) fn no_flow(&mut self, now: Instant, call: Admitted, routed: Route) {
        let Some((push, hold)) = self.push_for(&call, &routed) else { return self.go_home(now, call, routed) };
        self.next_push += 1;
        let id = PushId(self.next_push);
        let call_id = call.request().headers.call_id().unwrap_or_default();
        let notice = Notice::new(call.callee(), push, call_id, call.caller());
        info!(callee = %call.callee(), call_id, hold_s = hold.as_secs(), "callee's flow is gone: holding the call for a push");
        self.out.push_back(Output::PushNotify { id, notice });
        self.waking.insert(id, Waking { call, routed, until: now + hold });
    }

    /// The push parameters and hold, when `call` should wait for its phone.
    fn push_for(&self, call: &Admitted, routed: &Route) -> Option<(PushParams, std::time::Duration)> {
        let hold = self.config.push_hold?;
        let reason = match routed {
            Route::Home { reason, .. } | Route::Unavailable { reason } => *reason,
            Route::Flow { .. } => return None,
        };
        if reason != HomeReason::SignallingDropped || self.waking.len() >= MAX_WAKING {
            return None;
        }
        let record = self.registrar.table.get(call.callee())?;
        Some((PushParams::of_contact(&record.contact)?, hold))
    }

    /// What became of the notification `id`: accepted, the call keeps
    /// waiting; refused or unsent, it goes home / 480 now rather than after
    /// a hold no phone will end.
    pub fn handle_pushed(&mut self, now: Instant, id: PushId, accepted: bool) {
        if !accepted && let Some(w) = self.waking.remove(&id) {
            self.go_home(now, w.call, w.routed);
        }
        self.pump(now);
    }

    /// `number` registered and its 200 OK is out: its held calls go down the
    /// new flow.
    pub(super) fn wake(&mut self, now: Instant, number: &str) {
        let ids: Vec<PushId> = self.waking.iter().filter(|(_, w)| w.call.callee() == number).map(|(id, _)| *id).collect();
        // Every committed registration asks; nearly always no call waits for it.
        if ids.is_empty() {
            return;
        }
        let Some(sub) = self.provisioning.subscribers.get(number) else { return };
        let routed = route(&self.registrar.table, sub, now);
        if !matches!(routed, Route::Flow { .. }) {
            return;
        }
        for id in ids {
            if let Some(w) = self.waking.remove(&id) {
                info!(callee = %number, "the woken phone registered: delivering the held call");
                self.down_flow(now, w.call, routed.clone());
            }
        }
    }

    /// Held calls whose phone did not come by their hold: home / 480.
    pub(super) fn expire_waking(&mut self, now: Instant) {
        let due: Vec<PushId> = self.waking.iter().filter(|(_, w)| w.until <= now).map(|(id, _)| *id).collect();
        for id in due {
            if let Some(w) = self.waking.remove(&id) {
                info!(callee = %w.call.callee(), "no registration within the push hold");
                self.go_home(now, w.call, w.routed);
            }
        }
    }

    /// When the next held call runs out of time.
    pub(super) fn waking_deadline(&self) -> Option<Instant> {
        self.waking.values().map(|w| w.until).min()
    }

    /// A CANCEL for a held INVITE: 200, 487. False when `invite` is not held.
    pub(super) fn cancel_waking(&mut self, now: Instant, key: &TransactionKey, cancel: &Request, invite: &TransactionKey) -> bool {
        let Some(id) = self.waking.iter().find(|(_, w)| w.call.key() == invite).map(|(id, _)| *id) else { return false };
        let Some(w) = self.waking.remove(&id) else { return false };
        self.cancelled(now, key, cancel, &w.call);
        true
    }

    /// 200 to the CANCEL, 487 to the INVITE it cancels.
    pub(super) fn cancelled(&mut self, now: Instant, key: &TransactionKey, cancel: &Request, call: &Admitted) {
        self.respond(now, key, sipcore::Response::to_request(cancel, 200));
        self.respond(now, call.key(), sipcore::Response::for_error(call.request(), &CallError::Cancelled));
    }
}
