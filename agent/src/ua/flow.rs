//! The flow's life: opening one, keeping it alive with RFC 5626 §4.4.1
//! pings, and giving it up and backing off (§4.5) when it fails.

use super::{Event, FlowLoss, Output, Phase, UserAgent};
use crate::identity;
use sipcore::headers::MacAddr;
use sipcore::transaction::TransactionLayer;
use sipcore::transport::Flow;
use std::time::{Duration, Instant};

impl UserAgent {
    /// The driver opened the flow asked for. `mac` is the MAC of the
    /// interface holding `flow.local` (the configured one wins).
    pub fn handle_connected(&mut self, now: Instant, flow: Flow, mac: Option<MacAddr>) {
        if self.phase != Phase::Connecting {
            // Stopped (or otherwise moved on) while the connect was running.
            self.outbox.push_back(Output::Close { flow: flow.id });
            return;
        }
        self.flow = Some(flow);
        self.mac = self.cfg.mac.or(mac);
        if self.instance.is_none() {
            self.instance = Some(match self.mac {
                Some(mac) => identity::instance_from_mac(mac),
                // No MAC to name the device by: a random instance, stable for
                // this process (enough for the switch to see roaming).
                None => identity::random_instance(self.rng.bytes16()),
            });
        }
        self.layer = TransactionLayer::new(self.cfg.timers);
        self.phase = Phase::Ready;
        tracing::info!(local = %flow.local, remote = %flow.remote, "flow to the switch open");
        // The public IP is checked at once on every new flow; the REGISTER
        // waits for the answer so it carries the address.
        self.needs_register = true;
        self.begin_check(now);
        self.pump(now);
    }

    /// Opening a flow failed (`reason`: the driver's error, e.g. a [`crate::ConnectError`]).
    pub fn handle_connect_failed(&mut self, now: Instant, reason: &dyn std::fmt::Display) {
        let reason = reason.to_string();
        if self.phase != Phase::Connecting {
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let retry_in = self.cfg.backoff.wait(self.failures, self.rng.unit());
        self.phase = Phase::Waiting;
        self.retry_at = now.checked_add(retry_in);
        tracing::warn!(%reason, retry_in_ms = retry_in.as_millis() as u64, "could not reach the switch");
        self.events.push_back(Event::ConnectFailed { reason, retry_in });
    }

    pub(super) fn connect(&mut self, _now: Instant) {
        self.phase = Phase::Connecting;
        self.outbox.push_back(Output::Connect);
    }

    /// The flow is dead: tell, close, back off and reconnect.
    pub(super) fn flow_failed(&mut self, now: Instant, loss: FlowLoss) {
        if self.phase == Phase::Unregistering {
            // Stopping anyway: the switch drops the binding with the flow.
            self.finish_stop();
            return;
        }
        if self.flow.is_none() {
            return;
        }
        tracing::warn!(reason = %loss, "flow to the switch lost");
        self.drop_flow(now, Some(loss), Duration::ZERO);
    }

    /// Closes the flow and schedules the next one: at once after losing a
    /// registered flow (it worked a moment ago: a NAT rebinding or a switch
    /// restart wants a quick return), at most once per `base` time; otherwise
    /// after the RFC 5626 §4.5 back-off, and never before `min_wait`.
    pub(super) fn drop_flow(&mut self, now: Instant, loss: Option<FlowLoss>, min_wait: Duration) {
        let local = self.flow.take().map(|flow| {
            self.outbox.push_back(Output::Close { flow: flow.id });
            flow.local.ip()
        });
        // Transactions die with their flow; a late answer has nowhere to go.
        // Answered calls wait for the next flow (see `call::rejoin`).
        match local {
            Some(ip) => self.strand_calls(now, ip),
            None => self.end_calls(),
        }
        self.layer = TransactionLayer::new(self.cfg.timers);
        self.register_tx = None;
        self.probe_tx = None;
        self.needs_register = false;
        self.reregister_after = false;
        self.keepalive = None;
        self.ping_at = None;
        self.pong_deadline = None;
        self.refresh_at = None;
        self.check_at = None;
        let was_registered = self.binding.take().is_some();
        let fast_allowed = self.last_fast_retry.is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.backoff.base);
        let wait = if was_registered && fast_allowed {
            self.lost_at = Some(now);
            self.last_fast_retry = Some(now);
            Duration::ZERO
        } else {
            if was_registered {
                self.lost_at = Some(now);
            }
            self.failures = self.failures.saturating_add(1);
            self.cfg.backoff.wait(self.failures, self.rng.unit())
        };
        let retry_in = wait.max(min_wait);
        if let Some(reason) = loss {
            self.events.push_back(Event::FlowLost { reason, retry_in });
        }
        if retry_in.is_zero() {
            self.connect(now);
        } else {
            self.phase = Phase::Waiting;
            self.retry_at = now.checked_add(retry_in);
        }
    }

    /// Next ping between 80% and 100% of the Flow-Timer (RFC 5626 §4.4.1),
    /// so that phones behind one NAT do not ping in step.
    pub(super) fn schedule_ping(&mut self, now: Instant) {
        if let Some(interval) = self.keepalive {
            self.ping_at = now.checked_add(interval.mul_f64(0.8 + 0.2 * self.rng.unit()));
        }
    }
}
