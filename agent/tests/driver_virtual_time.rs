//! The tokio driver on virtual time: the agent against a real TCP listener
//! in the test (the switch's end of the flow), its clock paused once the
//! REGISTER is in, so that keep-alives and refreshes come at exact virtual
//! instants, minutes of them in no time. The driver reads one clock (tokio's)
//! and sleeps on tokio's timer here (`DeadlineTimer::Tokio`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::{DeadlineTimer, Event, RegistrationKind};
use sipcore::framing::Frame;
use sipcore::{HeaderName, Message, Method, Request, Response};
use std::time::Duration;
use support::switch_side::{SwitchSide, agent_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// True when `at` is `due`, or at most one tick of tokio's timer (1 ms: it
/// rounds a deadline up to its next tick) after it.
fn on_the_tick(at: Instant, due: Instant) -> bool {
    at >= due && at - due <= Duration::from_millis(1)
}

/// The next request from the agent, answering its keep-alive pings on the
/// way (each with a pong, at once) and counting them; fails when none comes
/// within `within` of virtual time.
async fn next_request(sw: &mut SwitchSide, within: Duration) -> (Request, u32) {
    let read = async {
        let mut pings = 0;
        loop {
            match sw.framer.decode(&mut sw.buf).unwrap() {
                Some(Frame::Message(raw)) => match sipcore::parse(raw).unwrap() {
                    Message::Request(r) => return (r, pings),
                    Message::Response(r) => panic!("expected a request, got {r}"),
                },
                Some(Frame::Ping) => {
                    pings += 1;
                    sw.stream.write_all(b"\r\n").await.unwrap();
                }
                Some(Frame::Pong) => {}
                None => assert!(sw.stream.read_buf(&mut sw.buf).await.unwrap() > 0, "the agent closed the flow"),
            }
        }
    };
    tokio::time::timeout(within, read).await.expect("no request in time")
}

/// 200 to a REGISTER, 600 s, with outbound keep-alives every 30 s.
fn granted(reg: &Request) -> Response {
    let contact = reg.headers.get(&HeaderName::Contact).unwrap().to_owned();
    let mut ok = Response::to_request(reg, 200);
    ok.headers.push(HeaderName::Contact, format!("{contact};expires=600"));
    ok.headers.push(HeaderName::Require, "outbound");
    ok.headers.push(HeaderName::FlowTimer, "30");
    ok
}

/// Registered at virtual instant t0, the agent refreshes at exactly t0 +
/// 300 s (half of 600; on the 1 ms tick of tokio's timer that follows),
/// again 300 s after that refresh's 200, and keeps the flow alive in between with pings
/// 24-30 s apart (80-100 % of the Flow-Timer), all on virtual time.
#[tokio::test]
async fn refreshes_and_keepalives_come_at_exact_virtual_instants() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (handle, mut events) = agent_for(&listener).deadline_timer(DeadlineTimer::Tokio).start().unwrap();
    // Connected and registering on the real clock; from here on, virtual time.
    let mut sw = SwitchSide::accept(&listener).await;
    let (reg, _) = next_request(&mut sw, Duration::from_secs(10)).await;
    assert_eq!(reg.method, Method::Register);
    tokio::time::pause();
    let t0 = Instant::now();
    sw.send(granted(&reg)).await;
    let first = support::next_event(&mut events, Duration::from_secs(1), |e| matches!(e, Event::Registered(_))).await;
    assert!(matches!(first, Event::Registered(r) if r.kind == RegistrationKind::Initial && r.flow_timer == Some(30)));
    assert_eq!(Instant::now(), t0, "no time passes while nothing is due");

    let (refresh, pings) = next_request(&mut sw, Duration::from_secs(400)).await;
    assert_eq!(refresh.method, Method::Register);
    let at = Instant::now();
    assert!(on_the_tick(at, t0 + Duration::from_secs(300)), "the refresh at exactly half the grant, not {:?}", at - t0);
    assert!((10..=12).contains(&pings), "a ping every 24-30 s over 300 s, each answered: {pings}");
    let t1 = Instant::now();
    sw.send(granted(&refresh)).await;
    let again = support::next_event(&mut events, Duration::from_secs(1), |e| matches!(e, Event::Registered(_))).await;
    assert!(matches!(again, Event::Registered(r) if r.kind == RegistrationKind::Refresh));

    let (refresh, _) = next_request(&mut sw, Duration::from_secs(400)).await;
    assert_eq!(refresh.method, Method::Register);
    let at = Instant::now();
    assert!(on_the_tick(at, t1 + Duration::from_secs(300)), "{:?}", at - t1);
    drop(handle);
}
