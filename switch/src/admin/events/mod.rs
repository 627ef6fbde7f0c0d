//! The roaming events the web view streams (`GET /api/events`, SSE):
//! registered, roamed, public IP changed, flow dropped, routed home,
//! conflict, unregistered. [`Roaming`] turns what the driver already carries
//! out (location [`Change`]s, call records) into [`Event`]s — sans-IO, no
//! clock of its own — and [`Feed`] hands them to every listener, keeping the
//! last few so a page opened late sees what just happened.

use crate::cdr::{Cdr, UnixMs};
use crate::location::{Cause, Change};
use crate::record::{RlRecord, transport_name};
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::broadcast;

/// Events kept for a listener that connects late.
const RECENT: usize = 100;
/// Events a slow listener may fall behind by before it skips some.
const BACKLOG: usize = 256;

/// One thing that happened to a number, as the web view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `registered`, `roamed`, `public_ip_changed`, `flow_dropped`,
    /// `routed_home`, `conflict` or `unregistered`.
    pub kind: &'static str,
    pub number: String,
    /// Unix milliseconds.
    pub at: UnixMs,
    /// Human words: the addresses, the cause.
    pub detail: String,
}

/// The public address a record shows: the IP the phone claims and the one
/// its flow comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Public {
    claimed: Option<IpAddr>,
    observed: IpAddr,
}

impl Public {
    fn of(r: &RlRecord<Instant>) -> Self {
        Public { claimed: r.public_ip_claimed, observed: r.observed.ip() }
    }

    fn words(self) -> String {
        match self.claimed {
            Some(c) => format!("claimed {c}, observed {}", self.observed),
            None => format!("observed {}", self.observed),
        }
    }
}

/// The translator: remembers each number's last public address (bounded by
/// the numbers that ever registered: provisioned ones) and which calls it
/// already reported as routed home.
#[derive(Debug, Default)]
pub struct Roaming {
    public: HashMap<String, Public>,
    home_calls: HashSet<String>,
}

impl Roaming {
    /// The events of one location change at Unix time `at`.
    pub fn on_change(&mut self, change: &Change, at: UnixMs) -> Vec<Event> {
        let event = |kind, number: &str, detail: String| Event { kind, number: number.to_owned(), at, detail };
        let mut out = Vec::new();
        match change {
            Change::Upserted { record, cause } => {
                let r = record;
                let now = Public::of(r);
                let kind = match cause {
                    Cause::Registered => Some("registered"),
                    Cause::Roamed => Some("roamed"),
                    Cause::FlowClosed | Cause::FlowSilent => Some("flow_dropped"),
                    _ => None,
                };
                if let Some(kind) = kind {
                    let claims = r.public_ip_claimed.map(|c| format!("claims {c}, ")).unwrap_or_default();
                    let from = format!("{claims}from {} ({})", r.observed, transport_name(r.transport));
                    out.push(event(kind, &r.number, format!("{from}: {}", cause.as_str())));
                }
                if let Some(before) = self.public.insert(r.number.to_string(), now)
                    && before != now
                {
                    out.push(event("public_ip_changed", &r.number, format!("{} -> {}", before.words(), now.words())));
                }
            }
            Change::Challenged { record, challenger } => out.push(event(
                "conflict",
                &record.number,
                format!("held from {}, challenged from {}", record.observed, challenger.observed),
            )),
            Change::Removed { record, cause } => {
                let kind = match cause {
                    Cause::FlowClosed | Cause::FlowSilent => "flow_dropped",
                    _ => "unregistered",
                };
                out.push(event(kind, &record.number, cause.as_str().to_owned()));
            }
            Change::CloseFlow { .. } | Change::ForgetFlow { .. } => {}
        }
        out
    }

    /// The event of a call record, once per call: a call routed home.
    pub fn on_call(&mut self, cdr: &Cdr<Instant>, at: UnixMs) -> Option<Event> {
        if !cdr.active() {
            self.home_calls.remove(&cdr.call_id);
            return None;
        }
        if cdr.route != "home" || !self.home_calls.insert(cdr.call_id.clone()) {
            return None;
        }
        let why = cdr.route_reason.as_deref().unwrap_or("-");
        Some(Event { kind: "routed_home", number: cdr.callee.clone(), at, detail: format!("call from {} ({why})", cdr.caller) })
    }
}

/// Where events go: every SSE listener, and the last [`RECENT`].
#[derive(Debug, Clone)]
pub struct Feed {
    tx: broadcast::Sender<Arc<str>>,
    recent: Arc<Mutex<VecDeque<Arc<str>>>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed { tx: broadcast::channel(BACKLOG).0, recent: Arc::default() }
    }
}

impl Feed {
    /// Sends an event to whoever listens (nobody, often: that is fine).
    pub fn publish(&self, event: &Event) {
        let Ok(json) = serde_json::to_string(event) else { return };
        let json: Arc<str> = json.into();
        // Sent under the lock, so a listener subscribing gets it once: in the
        // recent ones or from its receiver.
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(json.clone());
        let _ = self.tx.send(json);
    }

    /// A new listener: the recent events, then a receiver of what follows.
    /// Subscribing under the lock means no event falls between the two.
    pub fn subscribe(&self) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        (recent.iter().cloned().collect(), self.tx.subscribe())
    }
}

#[cfg(test)]
mod tests;
