//! The agent's `stun:HOST:PORT` public-IP discovery against the real switch
//! binary and no other STUN server: its SIP UDP port (which answers STUN, RFC
//! 5626 §4.4.2) and a `--stun` listener each tell the agent its address, and
//! the agent registers with it. The switch's log shows it was the one asked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use agent::discovery;
use agent::{AgentBuilder, Event, PublicIpSource};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use support::{Switch, provision, registrations};
use tests::switch::{Config, SwitchCli};

/// STUN answers from `local` in the switch's log (waited for: it logs each
/// after sending it).
fn answers(sw: &Switch, local: SocketAddr, at_least: usize) -> usize {
    tests::wait_for(Duration::from_secs(5), &format!("{at_least} STUN answers from {local}"), || {
        let n = sw.events_where(|e| e.is("STUN Binding request answered", &[("local", &local.to_string())])).len();
        if n >= at_least { Ok(n) } else { Err(format!("{n} so far")) }
    })
}

#[tokio::test]
async fn stun_discovery_against_the_switch_alone_finds_the_address_and_registers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    provision(&data, "1001", "pw");
    let config = Config::default()
        .listen(&["tcp:127.0.0.1:0", "udp:127.0.0.1:0"])
        .stun(&["udp:127.0.0.1:0"])
        .log_filter("info,sipcore::transport::udp=debug");
    let sw = SwitchCli::new(&data).start(&config);
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    for (what, port) in [("the SIP UDP port", sw.udp_addr()), ("the --stun listener", sw.listener("stun"))] {
        let source: PublicIpSource = format!("stun:127.0.0.1:{}", port.port()).parse().unwrap();
        let asked = answers(&sw, port, 0);
        let found = discovery::discover(&source, Some(loopback), [0x5a; 12]).await;
        assert_eq!(found.unwrap_or_else(|e| panic!("{what}: {e}")), loopback, "{what}");
        assert_eq!(answers(&sw, port, asked + 1), asked + 1, "{what} answered the discovery");

        let (handle, mut events) =
            AgentBuilder::new(sw.spec().parse().unwrap(), "1001", "pw").domain("switch.local").public_ip(source).start().unwrap();
        let Event::Registered(r) = support::next_event(&mut events, Duration::from_secs(15), |e| matches!(e, Event::Registered(_))).await
        else {
            unreachable!()
        };
        assert_eq!(r.public_ip, Some(loopback), "{what}");
        assert_eq!(registrations(&data)[0]["public_ip"], "127.0.0.1", "{what}: X-Public-IP as STUN said");
        assert!(answers(&sw, port, asked + 2) >= asked + 2, "{what}: the agent's own check asked it");
        handle.stop().await;
        while events.recv().await.is_some() {}
    }
}
