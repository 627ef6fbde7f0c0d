//! `AgentEvent`: one of the agent's events as a plain C struct, filled into
//! the caller's memory (nothing to free). What C has no use for yet comes as
//! `AGENT_EVENT_KIND_OTHER` with a description.

use agent::{CallEvent, EndReason, Event, MediaEvent, Party};
use std::ffi::c_char;

/// Bytes of `AgentEvent::text`, its NUL included (longer texts are cut).
pub const AGENT_EVENT_TEXT: usize = 160;

/// What happened.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentEventKind {
    /// Registered (again); `text`: the local address of the flow.
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
    /// The call is over: `call`, `status` (the final one, if any), `text`: `by=local|remote|network reason=...`.
    CallEnded,
    /// The call's media flows: `call`.
    MediaStarted,
    /// The call's media failed: `call`, `text`: why.
    MediaFailed,
    /// The call's media stopped: `call`, `packets_sent`, `packets_received`.
    MediaStopped,
    /// A DTMF digit arrived: `call`, `digit`.
    Dtmf,
    /// The agent has stopped: the last event.
    Stopped,
    /// Something else: `text` describes it.
    Other,
}

/// One event. Fields that do not apply to its kind are zero.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AgentEvent {
    /// What happened.
    pub kind: AgentEventKind,
    /// The call it is about (0: none).
    pub call: u64,
    /// A SIP status, where there is one.
    pub status: u16,
    /// A DTMF digit (`0-9*#A-D`).
    pub digit: c_char,
    /// RTP packets the call's media sent (`MEDIA_STOPPED`).
    pub packets_sent: u64,
    /// RTP packets the call's media accepted (`MEDIA_STOPPED`).
    pub packets_received: u64,
    /// A NUL-terminated text (see the kind).
    pub text: [c_char; AGENT_EVENT_TEXT],
}

impl AgentEvent {
    fn new(kind: AgentEventKind) -> Self {
        Self { kind, call: 0, status: 0, digit: 0, packets_sent: 0, packets_received: 0, text: [0; AGENT_EVENT_TEXT] }
    }

    fn call(mut self, id: agent::CallId) -> Self {
        self.call = id.into();
        self
    }

    fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets `text` (cut at a character boundary to fit, NULs dropped).
    fn text(mut self, text: &str) -> Self {
        let mut end = text.len().min(AGENT_EVENT_TEXT - 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let bytes = text.as_bytes().iter().take(end).filter(|&&b| b != 0);
        for (d, &b) in self.text.iter_mut().zip(bytes) {
            *d = b as c_char;
        }
        self
    }
}

fn party(p: Party) -> &'static str {
    match p {
        Party::Local => "local",
        Party::Remote => "remote",
        _ => "network",
    }
}

fn ended(by: Party, reason: EndReason) -> String {
    format!("by={} reason={}", party(by), reason.as_str())
}

impl From<&Event> for AgentEvent {
    fn from(ev: &Event) -> Self {
        use AgentEventKind as K;
        match ev {
            Event::Registered(r) => AgentEvent::new(K::Registered).text(&r.local.to_string()),
            Event::RegistrationFailed { status, reason, .. } => AgentEvent::new(K::RegistrationFailed).status(*status).text(reason),
            Event::ConnectFailed { reason, .. } => AgentEvent::new(K::ConnectFailed).text(reason),
            Event::FlowLost { reason, .. } => AgentEvent::new(K::FlowLost).text(&reason.to_string()),
            Event::Unregistered => AgentEvent::new(K::Unregistered),
            Event::Stopped => AgentEvent::new(K::Stopped),
            Event::Call(c) => call_event(c),
            Event::Media(m) => media_event(m),
            other => AgentEvent::new(K::Other).text(&format!("{other:?}")),
        }
    }
}

fn call_event(c: &CallEvent) -> AgentEvent {
    use AgentEventKind as K;
    let ev = match c {
        CallEvent::Incoming { from, .. } => AgentEvent::new(K::CallIncoming).text(from),
        CallEvent::Ringing { status, .. } => AgentEvent::new(K::CallRinging).status(*status),
        CallEvent::Answered { .. } => AgentEvent::new(K::CallAnswered),
        CallEvent::Updated { .. } => AgentEvent::new(K::CallUpdated),
        CallEvent::Ended { by, reason, status, .. } => AgentEvent::new(K::CallEnded).status(status.unwrap_or(0)).text(&ended(*by, *reason)),
        other => AgentEvent::new(K::Other).text(&format!("{other:?}")),
    };
    ev.call(c.id())
}

fn media_event(m: &MediaEvent) -> AgentEvent {
    use AgentEventKind as K;
    let ev = match m {
        MediaEvent::Started { .. } => AgentEvent::new(K::MediaStarted),
        MediaEvent::Failed { reason, .. } => AgentEvent::new(K::MediaFailed).text(reason),
        MediaEvent::Dtmf { digit, .. } => {
            let mut ev = AgentEvent::new(K::Dtmf);
            ev.digit = u8::try_from(*digit).map_or(0, |d| d as c_char);
            ev
        }
        MediaEvent::Stopped { report, .. } => {
            let mut ev = AgentEvent::new(K::MediaStopped);
            ev.packets_sent = report.sent_packets;
            ev.packets_received = report.received_packets;
            ev
        }
        other => AgentEvent::new(K::Other).text(&format!("{other:?}")),
    };
    ev.call(m.id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ev: &AgentEvent) -> Vec<u8> {
        ev.text.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect()
    }

    #[test]
    fn long_texts_are_cut_whole_and_nul_terminated() {
        let ev = AgentEvent::new(AgentEventKind::Other).text(&"é".repeat(200));
        assert_eq!(text(&ev).len(), AGENT_EVENT_TEXT - 2, "cut before the character that would not fit whole");
        assert_eq!(ev.text.last(), Some(&0));
        let ev = AgentEvent::new(AgentEventKind::Other).text("a\0b");
        assert_eq!(text(&ev), b"ab");
    }
}
