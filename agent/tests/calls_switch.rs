//! Two agents (the library) call each other through the real `switch` binary
//! (B2BUA and relay) on 127.0.0.1: answer, tones both ways, then hold and
//! resume by re-INVITE, which the switch relays to the other agent, whose
//! stream follows the direction; then BYE. That media flows is shown by a
//! DTMF digit crossing the relay each way (RFC 4733 rides the audio's stream),
//! not by waiting a while.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::{AgentBuilder, AgentHandle, CallEvent, CallId, EndReason, Event, Events, MediaEvent, MediaOptions, Party, Source};
use media::Direction;
use std::time::Duration;
use support::{Switch, provision, switch_calls};

const WAIT: Duration = Duration::from_secs(15);

async fn next(events: &mut Events, want: impl Fn(&Event) -> bool) -> Event {
    support::next_event(events, WAIT, want).await
}

async fn agent(sw: &Switch, number: &str, tone: f64) -> (AgentHandle, Events) {
    let (handle, mut events) = AgentBuilder::new(sw.spec().parse().unwrap(), number, format!("pw{number}"))
        .domain("switch.local")
        .media(MediaOptions { source: Source::Tone(tone), record: true })
        .start()
        .unwrap();
    next(&mut events, |e| matches!(e, Event::Registered(_))).await;
    (handle, events)
}

/// Media flows from one agent to the other: a DTMF digit sent on `from`'s
/// call `id` reaches `to` through the relay.
async fn media_flows(from: &AgentHandle, id: CallId, to: &mut Events, digit: char) {
    from.send_dtmf(id, &digit.to_string()).await.unwrap();
    next(to, move |e| matches!(e, Event::Media(MediaEvent::Dtmf { digit: d, .. }) if *d == digit)).await;
}

fn started_with(direction: Direction) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Media(MediaEvent::Started { direction: d, .. }) if *d == direction)
}

#[tokio::test]
async fn call_hold_resume_and_hang_up_through_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    provision(&data, "4001", "pw4001");
    provision(&data, "4002", "pw4002");
    let sw = switch_calls(&data);
    let (a, mut a_events) = agent(&sw, "4001", 440.0).await;
    let (b, mut b_events) = agent(&sw, "4002", 1000.0).await;

    let id = a.call("4002").await.unwrap();
    let Event::Call(CallEvent::Incoming { id: b_id, from, .. }) =
        next(&mut b_events, |e| matches!(e, Event::Call(CallEvent::Incoming { .. }))).await
    else {
        unreachable!()
    };
    assert_eq!(from, "sip:4001@switch.local");
    next(&mut a_events, |e| matches!(e, Event::Call(CallEvent::Ringing { .. }))).await;
    b.answer(b_id).await.unwrap();
    next(&mut a_events, |e| matches!(e, Event::Call(CallEvent::Answered { .. }))).await;
    next(&mut a_events, started_with(Direction::SendRecv)).await;
    media_flows(&a, id, &mut b_events, '4').await;
    media_flows(&b, b_id, &mut a_events, '2').await;

    // A holds: its re-INVITE goes through the switch to B, whose stream sees A sendonly.
    a.hold(id).await.unwrap();
    next(&mut b_events, |e| matches!(e, Event::Call(CallEvent::Reoffer { .. }))).await;
    next(&mut b_events, started_with(Direction::SendOnly)).await;
    next(&mut a_events, |e| matches!(e, Event::Call(CallEvent::Updated { .. }))).await;
    next(&mut a_events, started_with(Direction::RecvOnly)).await;
    // And resumes.
    a.resume(id).await.unwrap();
    next(&mut b_events, started_with(Direction::SendRecv)).await;
    next(&mut a_events, started_with(Direction::SendRecv)).await;
    media_flows(&a, id, &mut b_events, '6').await;
    media_flows(&b, b_id, &mut a_events, '8').await;

    b.hangup(b_id).await.unwrap();
    let Event::Media(MediaEvent::Stopped { report, .. }) =
        next(&mut a_events, |e| matches!(e, Event::Media(MediaEvent::Stopped { .. }))).await
    else {
        unreachable!()
    };
    let ended = next(&mut a_events, |e| matches!(e, Event::Call(CallEvent::Ended { .. }))).await;
    assert_eq!(ended, Event::Call(CallEvent::Ended { id, by: Party::Remote, reason: EndReason::Hangup, status: None }));
    assert_eq!(media::tone::dominant(&report.recorded, &[440.0, 1000.0], media::tone::RATE), Some(1000.0), "A heard B");
    assert_eq!(report.dtmf_received, "28", "B's digits, before the hold and after the resume");
    let Event::Media(MediaEvent::Stopped { report, .. }) =
        next(&mut b_events, |e| matches!(e, Event::Media(MediaEvent::Stopped { .. }))).await
    else {
        unreachable!()
    };
    assert_eq!(media::tone::dominant(&report.recorded, &[440.0, 1000.0], media::tone::RATE), Some(440.0), "B heard A");
    assert_eq!(report.dtmf_received, "46");
    a.stop().await;
    b.stop().await;
}

/// The switch dies mid-call: the answered call waits for a new flow
/// (`Interrupted`); the restarted switch has lost it, so the re-INVITE the
/// agent sends once registered again gets 481 and the call ends, its media freed.
#[tokio::test]
async fn losing_the_switch_mid_call_interrupts_it_and_the_restarted_switch_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    provision(&data, "4101", "pw4101");
    provision(&data, "4102", "pw4102");
    let mut sw = switch_calls(&data);
    let (a, mut a_events) = agent(&sw, "4101", 440.0).await;
    let (b, mut b_events) = agent(&sw, "4102", 1000.0).await;
    let id = a.call("4102").await.unwrap();
    let Event::Call(CallEvent::Incoming { id: b_id, .. }) =
        next(&mut b_events, |e| matches!(e, Event::Call(CallEvent::Incoming { .. }))).await
    else {
        unreachable!()
    };
    b.answer(b_id).await.unwrap();
    next(&mut a_events, started_with(Direction::SendRecv)).await;
    media_flows(&a, id, &mut b_events, '5').await;
    media_flows(&b, b_id, &mut a_events, '7').await;

    sw.kill9();
    for events in [&mut a_events, &mut b_events] {
        next(events, |e| matches!(e, Event::Call(CallEvent::Interrupted { .. }))).await;
    }
    sw.restart();
    for (events, id) in [(&mut a_events, id), (&mut b_events, b_id)] {
        let Event::Media(MediaEvent::Stopped { report, .. }) =
            next(events, |e| matches!(e, Event::Media(MediaEvent::Stopped { .. }))).await
        else {
            unreachable!()
        };
        assert!(report.received_packets > 0, "{report:?}");
        let ended = next(events, |e| matches!(e, Event::Call(CallEvent::Ended { .. }))).await;
        assert_eq!(ended, Event::Call(CallEvent::Ended { id, by: Party::Network, reason: EndReason::FlowLost, status: Some(481) }));
    }
    drop((a, b));
}
