//! Issue 15 item 4: where the agent cannot watch the OS, the application says
//! the network changed (`AgentHandle::network_changed`, `agent_network_changed`
//! in C), and the agent takes the path a netlink address event takes
//! (`Driver::network_changed`). Here: an agent waiting out a long back-off
//! after a failed connection tries again at once and registers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::{Backoff, Event};
use std::time::Duration;
use support::switch_side::{SwitchSide, WAIT, agent_for};
use tokio::net::TcpListener;

#[tokio::test]
async fn told_the_network_changed_an_agent_reconnects_at_once_instead_of_after_its_backoff() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let long = Duration::from_secs(600);
    let builder = agent_for(&listener).backoff(Backoff { base: long, max: long });
    drop(listener); // nothing listens: the first connection fails
    let (handle, mut events) = builder.start().unwrap();
    let failed = support::next_event(&mut events, WAIT, |e| matches!(e, Event::ConnectFailed { .. })).await;
    let Event::ConnectFailed { retry_in, .. } = failed else { unreachable!() };
    assert!(retry_in >= Duration::from_secs(60), "the next try is far off: {retry_in:?}");

    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    handle.network_changed().unwrap();
    // SwitchSide waits WAIT (10 s) for the connection: far less than the back-off.
    let (_switch, _) = SwitchSide::registered(&listener).await;
    support::next_event(&mut events, WAIT, |e| matches!(e, Event::Registered(_))).await;
}
