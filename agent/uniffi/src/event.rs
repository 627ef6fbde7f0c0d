//! `AgentEvent` and the foreign `EventListener` that receives them.

use agent::{CallEvent, Event, MediaEvent, Party};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum EventKind {
    /// Registered (again); `text`: the flow's local address.
    Registered,
    /// The switch refused the registration; `status`, `text`: its reason.
    RegistrationFailed,
    /// No flow could be opened; `text`: why (it tries again).
    ConnectFailed,
    /// The flow was lost; `text`: why (it reconnects).
    FlowLost,
    /// Unregistered (on stop).
    Unregistered,
    /// A call arrives: `call`, `text`: the caller (From).
    CallIncoming,
    /// The callee's phone rings: `call`, `status`.
    CallRinging,
    /// The call is answered (either way): `call`.
    CallAnswered,
    /// A re-INVITE (hold, resume, a move) went through: `call`.
    CallUpdated,
    /// The call is over: `call`, `status` (the final one, 0 if none), `text`: `by=local|remote|network reason=...`.
    CallEnded,
    /// The call's media flows: `call`.
    MediaStarted,
    /// The call's media failed: `call`, `text`: why.
    MediaFailed,
    /// The call's media stopped: `call`, `text`: `sent=N received=N`.
    MediaStopped,
    /// A DTMF digit arrived: `call`, `text`: the digit.
    Dtmf,
    /// The agent has stopped: the last event.
    Stopped,
    /// Something else: `text` describes it.
    Other,
}

/// One event. `call` is 0 and `status` 0 where they do not apply.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AgentEvent {
    /// What happened.
    pub kind: EventKind,
    /// The call it is about.
    pub call: u64,
    /// A SIP status, where there is one.
    pub status: u16,
    /// Details (see the kind).
    pub text: String,
}

/// The application's receiver of events, implemented in the foreign
/// language. Called in order, on the agent's `agent-events` thread; it may
/// call the agent's functions (they do not wait for the listener).
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: AgentEvent);
}

fn ev(kind: EventKind, call: u64, status: u16, text: impl Into<String>) -> AgentEvent {
    AgentEvent { kind, call, status, text: text.into() }
}

fn party(p: Party) -> &'static str {
    match p {
        Party::Local => "local",
        Party::Remote => "remote",
        _ => "network",
    }
}

impl From<&Event> for AgentEvent {
    fn from(e: &Event) -> Self {
        use EventKind as K;
        match e {
            Event::Registered(r) => ev(K::Registered, 0, 0, r.local.to_string()),
            Event::RegistrationFailed { status, reason, .. } => ev(K::RegistrationFailed, 0, *status, reason.clone()),
            Event::ConnectFailed { reason, .. } => ev(K::ConnectFailed, 0, 0, reason.clone()),
            Event::FlowLost { reason, .. } => ev(K::FlowLost, 0, 0, reason.to_string()),
            Event::Unregistered => ev(K::Unregistered, 0, 0, ""),
            Event::Stopped => ev(K::Stopped, 0, 0, ""),
            Event::Call(c) => call_event(c),
            Event::Media(m) => media_event(m),
            other => ev(K::Other, 0, 0, format!("{other:?}")),
        }
    }
}

fn call_event(c: &CallEvent) -> AgentEvent {
    use EventKind as K;
    let id = c.id().into();
    match c {
        CallEvent::Incoming { from, .. } => ev(K::CallIncoming, id, 0, from.clone()),
        CallEvent::Ringing { status, .. } => ev(K::CallRinging, id, *status, ""),
        CallEvent::Answered { .. } => ev(K::CallAnswered, id, 0, ""),
        CallEvent::Updated { .. } => ev(K::CallUpdated, id, 0, ""),
        CallEvent::Ended { by, reason, status, .. } => {
            ev(K::CallEnded, id, status.unwrap_or(0), format!("by={} reason={}", party(*by), reason.as_str()))
        }
        other => ev(K::Other, id, 0, format!("{other:?}")),
    }
}

fn media_event(m: &MediaEvent) -> AgentEvent {
    use EventKind as K;
    let id = m.id().into();
    match m {
        MediaEvent::Started { .. } => ev(K::MediaStarted, id, 0, ""),
        MediaEvent::Failed { reason, .. } => ev(K::MediaFailed, id, 0, reason.clone()),
        MediaEvent::Dtmf { digit, .. } => ev(K::Dtmf, id, 0, digit.to_string()),
        MediaEvent::Stopped { report, .. } => {
            ev(K::MediaStopped, id, 0, format!("sent={} received={}", report.sent_packets, report.received_packets))
        }
        other => ev(K::Other, id, 0, format!("{other:?}")),
    }
}
