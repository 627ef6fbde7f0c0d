//! One line per event on stdout, `key=value` so scripts (and the namespace
//! tests) can read it.

use agent::{CallEvent, Event, MediaEvent, Registration, RegistrationKind};

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn quote(s: &str) -> String {
    format!("{:?}", s)
}

fn registration(r: &Registration) -> String {
    let kind = match r.kind {
        RegistrationKind::Initial => "initial".to_owned(),
        RegistrationKind::Refresh => "refresh".to_owned(),
        RegistrationKind::Reconnect => "reconnect".to_owned(),
        RegistrationKind::PublicIpChange { latency } => format!("public-ip-change latency_ms={}", latency.as_millis()),
        _ => "other".to_owned(),
    };
    format!(
        "registered local={} public_ip={} observed={} expires={} flow_timer={} bearer={} kind={kind}",
        r.local,
        opt(r.public_ip),
        opt(r.observed),
        r.expires,
        opt(r.flow_timer),
        opt(r.bearer_address)
    )
}

/// The line for `ev`.
pub(crate) fn line(ev: &Event) -> String {
    match ev {
        Event::Registered(r) => registration(r),
        Event::RegistrationFailed { status, reason, retry_in } => {
            format!("registration-failed status={status} reason={} retry_in_ms={}", quote(reason), opt(retry_in.map(|d| d.as_millis())))
        }
        Event::PublicIpChanged { old, new } => format!("public-ip-changed old={} new={new}", opt(*old)),
        Event::DiscoveryFailed { reason } => format!("discovery-failed reason={}", quote(reason)),
        Event::ConnectFailed { reason, retry_in } => {
            format!("connect-failed reason={} retry_in_ms={}", quote(reason), retry_in.as_millis())
        }
        Event::FlowLost { reason, retry_in } => {
            format!("flow-lost reason={} retry_in_ms={}", quote(&reason.to_string()), retry_in.as_millis())
        }
        Event::FlowRestored { local, down_for } => format!("flow-restored local={local} down_ms={}", down_for.as_millis()),
        Event::IncomingRequest { request, .. } => {
            let from = request.headers.from_addr().map(|f| f.uri.as_str().to_owned()).unwrap_or_default();
            format!("request method={} uri={} from={}", request.method.as_str(), quote(&request.uri), quote(&from))
        }
        Event::Call(c) => call(c),
        Event::Media(m) => media(m),
        Event::Unregistered => "unregistered".to_owned(),
        Event::Stopped => "stopped".to_owned(),
        other => format!("event other={}", quote(&format!("{other:?}"))),
    }
}

fn call(ev: &CallEvent) -> String {
    match ev {
        CallEvent::Incoming { id, from, to, .. } => format!("call state=incoming id={id} from={} to={}", quote(from), quote(to)),
        CallEvent::Ringing { id, status, sdp } => format!("call state=ringing id={id} status={status} early_media={}", sdp.is_some()),
        CallEvent::Answered { id, .. } => format!("call state=answered id={id}"),
        CallEvent::Reoffer { id, .. } => format!("call state=reoffer id={id}"),
        CallEvent::Updated { id, .. } => format!("call state=updated id={id}"),
        CallEvent::ReofferRejected { id, status } => format!("call state=reoffer-rejected id={id} status={status}"),
        CallEvent::Interrupted { id, rejoin_within } => {
            format!("call state=interrupted id={id} rejoin_within_ms={}", rejoin_within.as_millis())
        }
        CallEvent::Relocating { id, local } => format!("call state=relocating id={id} local={local}"),
        CallEvent::Rejoined { id } => format!("call state=rejoined id={id}"),
        CallEvent::Ended { id, by, reason, status } => {
            format!("call ended id={id} by={} reason={} status={}", by.as_str(), reason.as_str(), opt(*status))
        }
        other => format!("call state=other id={}", other.id()),
    }
}

fn media(ev: &MediaEvent) -> String {
    let lower = |d: &dyn std::fmt::Debug| format!("{d:?}").to_ascii_lowercase();
    match ev {
        MediaEvent::Started { id, local, remote, codec, transport, direction, srtp } => format!(
            "media state=started id={id} local={local} remote={remote} codec={} transport={} direction={} srtp={}",
            lower(codec),
            lower(transport),
            lower(direction),
            if *srtp { "yes" } else { "no" }
        ),
        MediaEvent::Dtmf { id, digit } => format!("dtmf id={id} digit={digit}"),
        MediaEvent::Failed { id, reason } => format!("media state=failed id={id} reason={}", quote(reason)),
        MediaEvent::Stopped { id, report } => format!(
            "media state=stopped id={id} sent={} received={} dropped={} dtmf={}",
            report.sent_packets,
            report.received_packets,
            report.dropped_packets,
            quote(&report.dtmf_received)
        ),
        other => format!("media state=other id={}", other.id()),
    }
}
