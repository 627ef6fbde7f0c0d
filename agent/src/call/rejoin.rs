//! Answered calls outlive their flow (issue 6 g). When the NAT in front of
//! the phone changes its public address, the flow dies but the call need
//! not: the switch keeps an answered call when a party's flow closes and
//! follows the party that speaks from a new flow (its relay leg latches
//! anew). So the call core keeps answered calls for a grace time; once the
//! agent is registered on a new flow it re-INVITEs each with the SDP it last
//! sent (unchanged, so RFC 3264 §8's o= version stays), which tells the
//! switch where the party is now. From a new local address (the phone changed
//! networks) the call's bearer is bound there first ([`MediaCommand::Rebind`])
//! and the re-INVITE offers the new address. A 481 or no answer means the
//! switch lost the call (a restart): it ends as `FlowLost`. Calls not yet
//! answered die with the flow, as their INVITE transaction does.

use super::{CallEvent, Calls, Ctx, EndReason, MediaCommand, Party, State};
use crate::ua::Event;
use std::net::IpAddr;
use std::time::{Duration, Instant};

impl Calls {
    /// The flow died: unanswered calls end; answered ones wait up to `grace`
    /// for [`Calls::rejoin`]. Transactions in flight died with the flow.
    pub(crate) fn flow_lost(&mut self, now: Instant, grace: Duration, local: IpAddr) {
        let until = now.checked_add(grace);
        for id in self.ids() {
            let Ok(call) = self.get(id) else { continue };
            if call.state != State::Confirmed || until.is_none() || grace.is_zero() {
                self.end(id, Party::Network, EndReason::FlowLost, None);
                continue;
            }
            call.rejoining = false;
            let hold_lost = call.reoffer.take().is_some();
            if hold_lost {
                call.session.roll_back();
            }
            // A call that loses a flow again before it re-joined keeps its
            // deadline and the address its bearer is on.
            if call.rejoin_by.is_none() {
                call.rejoin_by = until;
                call.bearer_ip = Some(local);
                tracing::info!(call = %id, grace_s = grace.as_secs(), "flow lost; the answered call waits for a new flow");
                self.events.push_back(Event::Call(CallEvent::Interrupted { id, rejoin_within: grace }));
            }
            if hold_lost {
                // Our hold/resume died with the flow: the media goes on as it was.
                self.events.push_back(Event::Call(CallEvent::ReofferRejected { id, status: 408 }));
            }
        }
    }

    /// Every call ends now, answered or not (the agent stops, or the switch refused it).
    pub(crate) fn end_all(&mut self) {
        for id in self.ids() {
            self.end(id, Party::Network, EndReason::FlowLost, None);
        }
    }

    /// Registered on a new flow: re-INVITE every call waiting for one. From
    /// the same local address the SDP last sent still holds; from a new one
    /// (the phone changed networks) the bearer must move first: the call says
    /// so ([`CallEvent::Relocating`]), asks for a bearer there and keeps its
    /// grace until it is bound (`media_opened`), then re-INVITEs.
    pub(crate) fn rejoin(&mut self, ctx: &mut Ctx<'_>) {
        let here = ctx.me.local.ip();
        let waiting: Vec<_> = self.calls.iter().filter(|c| c.rejoin_by.is_some()).map(|c| (c.id, c.bearer_ip != Some(here))).collect();
        for (id, moved) in waiting {
            if moved {
                tracing::info!(call = %id, local = %here, "new local address: the call's media must move");
                self.events.push_back(Event::Call(CallEvent::Relocating { id, local: here }));
                if let Ok(call) = self.get(id) {
                    call.session.opening();
                }
                self.media(MediaCommand::Rebind { call: id, local: ctx.bearer_at() });
                continue;
            }
            let sdp = match self.get(id) {
                Ok(call) => call.session.local_sdp.clone(),
                Err(_) => continue,
            };
            if let Err(e) = self.rejoin_with(ctx, id, sdp) {
                tracing::warn!(call = %id, error = %e, "cannot re-INVITE on the new flow");
                self.end(id, Party::Network, EndReason::FlowLost, None);
            }
        }
    }

    /// Re-INVITEs a call waiting for a flow, with `offer`, on the current one.
    pub(super) fn rejoin_with(&mut self, ctx: &mut Ctx<'_>, id: super::CallId, offer: bytes::Bytes) -> Result<(), super::CallError> {
        let call = self.get(id)?;
        if call.rejoin_by.is_none() || call.reoffer.is_some() {
            return Err(super::CallError::WrongState(id, "the call is not waiting for a new flow"));
        }
        Self::send_reinvite(ctx, call, offer)?;
        call.rejoin_by = None;
        call.rejoining = true;
        call.bearer_ip = Some(ctx.me.local.ip());
        tracing::info!(call = %id, "re-INVITE on the new flow");
        Ok(())
    }

    /// The earliest time a call waiting for a flow gives up.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.calls.iter().filter_map(|c| c.rejoin_by).min()
    }

    /// Ends the calls whose grace ran out with no new flow.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<_> = self.calls.iter().filter(|c| c.rejoin_by.is_some_and(|t| t <= now)).map(|c| c.id).collect();
        for id in expired {
            tracing::warn!(call = %id, "no new flow in time; the call ends");
            self.end(id, Party::Network, EndReason::FlowLost, None);
        }
    }

    /// Hang-up while no flow is up: nothing can be sent, the call just ends here
    /// (the switch ends its side on the media timeout, or on the BYE it cannot deliver).
    pub(crate) fn abandon(&mut self, id: super::CallId) -> Result<(), super::CallError> {
        self.get(id)?;
        self.end(id, Party::Local, EndReason::Hangup, None);
        Ok(())
    }
}
