//! Public-IP checks: on every new flow, on the timer, on a network change.
//! The `via` source asks the switch with an OPTIONS on the flow (any answer
//! carries the Via `received` it stamped); STUN and HTTP run in the driver;
//! a static address needs no asking. A change is registered at once.

use super::message::Dialogish;
use super::{Event, Output, Phase, Purpose, UserAgent};
use crate::config::PublicIpSource;
use std::net::IpAddr;
use std::time::Instant;

impl UserAgent {
    /// Starts a public-IP check; its end (now or later) calls `finish_check`.
    pub(super) fn begin_check(&mut self, now: Instant) {
        match self.cfg.public_ip.clone() {
            PublicIpSource::Static(ip) => self.finish_check(now, Some(ip)),
            PublicIpSource::Via => {
                self.check_at = now.checked_add(self.cfg.check_interval);
                if self.probe_tx.is_some() {
                    return;
                }
                let branch = format!("z9hG4bK{}", self.rng.hex(10));
                let call_id = format!("{}@agent", self.rng.hex(12));
                let Some(probe) = self
                    .identity()
                    .map(|id| id.probe(&Dialogish { call_id: &call_id, from_tag: &self.from_tag, cseq: 1, branch: &branch }))
                else {
                    return;
                };
                let Some(flow) = self.flow else { return };
                match self.layer.send_request(now, flow, probe) {
                    Ok(key) => self.probe_tx = Some(key),
                    Err(e) => tracing::warn!(error = %e, "could not send the OPTIONS probe"),
                }
            }
            PublicIpSource::Stun { .. } | PublicIpSource::Http { .. } => {
                self.check_at = now.checked_add(self.cfg.check_interval);
                if !self.discovering {
                    self.discovering = true;
                    self.outbox.push_back(Output::Discover { local: self.flow.map(|f| f.local.ip()) });
                }
            }
        }
    }

    /// A check ended with `found` (or nothing learned): report a change, and
    /// register when a REGISTER waits for the check or the address changed.
    pub(super) fn finish_check(&mut self, now: Instant, found: Option<IpAddr>) {
        if let Some(ip) = found {
            if let Some(old) = self.public_ip.filter(|old| *old != ip) {
                tracing::info!(%old, new = %ip, "public IP changed");
                self.events.push_back(Event::PublicIpChanged { old: Some(old), new: ip });
                self.change_detected.get_or_insert(now);
            }
            self.public_ip = Some(ip);
        }
        // Compared with what is being registered, if a REGISTER is in flight.
        let target = if self.register_tx.is_some() { self.in_flight_public } else { self.registered_public };
        let stale = (self.binding.is_some() || self.register_tx.is_some()) && target != self.public_ip;
        if self.flow.is_some() && self.phase == Phase::Ready && (self.needs_register || stale) {
            self.send_register(now, Purpose::Register);
        }
    }
}
