//! An application that does not read its events loses none of them: the
//! agent slows down instead. The test is the switch's end of the flow (a
//! real TCP listener): it rings the agent, floods it with more requests than
//! the event queue holds, cancels the call, then asks OPTIONS, and reads the
//! agent's answers while it reads the events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::{CallEvent, EndReason, Event, Method, Party};
use sipcore::framing::Frame;
use sipcore::{HeaderName, Message};
use support::switch_side::{SwitchSide, WAIT, agent_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// More requests than the queue holds (1024 unread events).
const FLOOD: u32 = 1100;

/// Every event of a flood that overruns the queue arrives, in order, the
/// call's `Ended` included; meanwhile the agent takes nothing more from the
/// switch: its OPTIONS, sent last, is answered only once the application
/// has read enough for the queue to hold what came before. (The one wait
/// with a time limit is the check that nothing happens while nothing is read.)
#[tokio::test]
async fn a_lagging_application_slows_the_agent_and_loses_no_event() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (handle, mut events) = agent_for(&listener).start().unwrap();
    let (sw, contact) = SwitchSide::registered(&listener).await;
    support::next_event(&mut events, WAIT, |e| matches!(e, Event::Registered(_))).await;

    let invite = sw.invite(&contact, "127.0.0.1:9".parse().unwrap());
    let cancel = sipcore::transaction::cancel_for(&invite).unwrap();
    let mut flood = Message::Request(invite).to_bytes().to_vec();
    for i in 1..=FLOOD {
        flood.extend_from_slice(&Message::Request(sw.in_dialog("INFO", i, "x", &format!("z9hG4bKinfo{i}"))).to_bytes());
    }
    flood.extend_from_slice(&Message::Request(cancel).to_bytes());
    let mut options = sw.in_dialog("OPTIONS", FLOOD + 1, "x", "z9hG4bKlast");
    options.headers.remove(&HeaderName::To);
    options.headers.push(HeaderName::To, "<sip:1001@switch.local>");
    flood.extend_from_slice(&Message::Request(options).to_bytes());
    // Written aside: the agent stops reading the flow while the events wait.
    let SwitchSide { stream, mut framer, mut buf, .. } = sw;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move { wr.write_all(&flood).await.map(|()| wr) });
    // Nothing read yet: the agent took the flood off the flow but stands
    // still with 1024 events unread, so the OPTIONS stays unanswered. (Without
    // the pause it would be answered within milliseconds.)
    let _wr = writer.await.unwrap().unwrap();
    let early = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        loop {
            assert!(rd.read_buf(&mut buf).await.unwrap() > 0, "the agent closed the flow");
            while let Some(frame) = framer.decode(&mut buf).unwrap() {
                if let Frame::Message(raw) = frame
                    && let Message::Response(r) = sipcore::parse(raw).unwrap()
                    && r.headers.cseq().unwrap().method == Method::Options
                {
                    return r.status;
                }
            }
        }
    })
    .await;
    assert!(early.is_err(), "the OPTIONS was answered while 1024 events waited unread: {early:?}");

    let (mut read, mut incoming, mut infos, mut ended, mut answered_after) = (0u32, 0, 0u32, 0, None);
    while ended == 0 || answered_after.is_none() {
        tokio::select! {
            ev = tokio::time::timeout(WAIT, events.recv()), if ended == 0 => {
                read += 1;
                match ev.expect("events stopped coming").expect("events ended") {
                    Event::Call(CallEvent::Incoming { .. }) => incoming += 1,
                    Event::IncomingRequest { request, .. } => {
                        assert_eq!(request.method, Method::Info);
                        infos += 1;
                        assert_eq!(request.headers.cseq().unwrap().seq, infos, "in order, none missing");
                    }
                    Event::Call(CallEvent::Ended { by, reason, status, .. }) => {
                        assert_eq!((by, reason, status), (Party::Remote, EndReason::Cancelled, Some(487)));
                        ended += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
            n = tokio::time::timeout(WAIT, rd.read_buf(&mut buf)), if answered_after.is_none() => {
                assert!(n.expect("no answer from the agent").unwrap() > 0, "the agent closed the flow");
                while let Some(frame) = framer.decode(&mut buf).unwrap() {
                    if let Frame::Message(raw) = frame
                        && let Message::Response(r) = sipcore::parse(raw).unwrap()
                        && r.headers.cseq().unwrap().method == Method::Options
                    {
                        assert_eq!(r.status, 200);
                        answered_after = Some(read);
                    }
                }
            }
        }
    }
    assert_eq!((incoming, infos, ended), (1, FLOOD, 1));
    // 1 + FLOOD + 1 events came before the OPTIONS, and at most 1023 may wait
    // unread when the agent takes something new.
    let before_options = FLOOD + 2;
    let at_least = before_options - 1023;
    assert!(answered_after.unwrap() >= at_least, "the OPTIONS was answered after {answered_after:?} events were read, not {at_least}");
    drop(handle);
}
