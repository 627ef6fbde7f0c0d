//! Several switches from C: `agent_config_add_switch` called twice gives the
//! agent two nodes (`AgentBuilder::add_switch`). With the first node down, the
//! agent registers on the second; nodes on different transports are refused
//! by `agent_start`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::undocumented_unsafe_blocks)]

use agent_ffi::*;
use std::ffi::{CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};
use tests::switch::{Config, SwitchHost};

/// A configuration for 1001 with these switches, in this order.
fn config(switches: &[&str]) -> *mut AgentConfig {
    let mut c = ptr::null_mut();
    unsafe {
        assert_eq!(agent_config_new(&mut c), AgentResult::Ok);
        for s in switches {
            let s = CString::new(*s).unwrap();
            assert_eq!(agent_config_add_switch(c, s.as_ptr()), AgentResult::Ok);
        }
        assert_eq!(agent_config_set_number(c, c"1001".as_ptr()), AgentResult::Ok);
        assert_eq!(agent_config_set_password(c, c"pw1001".as_ptr()), AgentResult::Ok);
        assert_eq!(agent_config_set_domain(c, c"localhost".as_ptr()), AgentResult::Ok);
    }
    c
}

/// A loopback TCP port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn with_the_first_switch_down_the_agent_registers_on_the_second() {
    let host = SwitchHost::new();
    host.subscriber_add("1001", "pw1001", &["--realm", "localhost"]);
    let switch = host.start(&Config::default().listen(&["tcp:127.0.0.1:0"]).domain("localhost"));
    let down = format!("tcp:127.0.0.1:{}", closed_port());
    let up = format!("tcp:127.0.0.1:{}", switch.listener("tcp").port());
    let c = config(&[&down, &up]);
    unsafe {
        let mut a = ptr::null_mut();
        assert_eq!(agent_new(c, &mut a), AgentResult::Ok);
        agent_config_free(c);
        assert_eq!(agent_start(a), AgentResult::Ok);
        let mut ev = std::mem::zeroed::<AgentEvent>();
        let mut seen = Vec::new();
        // Generous: a loaded machine; each wait returns as soon as an event comes.
        let deadline = Instant::now() + Duration::from_secs(60);
        let registered = loop {
            assert!(Instant::now() < deadline, "no registration; events: {seen:?}");
            match agent_next_event(a, &mut ev, 5_000) {
                AgentResult::Ok if ev.kind == AgentEventKind::Registered => {
                    break CStr::from_ptr(ev.text.as_ptr()).to_string_lossy().into_owned();
                }
                AgentResult::Ok => seen.push((ev.kind, CStr::from_ptr(ev.text.as_ptr()).to_string_lossy().into_owned())),
                AgentResult::Timeout => {}
                other => panic!("{other:?} after {seen:?}"),
            }
        };
        assert!(registered.starts_with("127.0.0.1:"), "the flow's local address: {registered}");
        assert!(host.registration("1001").is_some(), "the second switch holds the binding");
        assert_eq!(agent_stop(a), AgentResult::Ok);
        agent_free(a);
    }
}

#[test]
fn switches_on_different_transports_are_refused_at_start() {
    let c = config(&["tcp:127.0.0.1:5060", "tls:127.0.0.1:5061"]);
    unsafe {
        let mut a = ptr::null_mut();
        assert_eq!(agent_new(c, &mut a), AgentResult::Ok);
        agent_config_free(c);
        assert_eq!(agent_start(a), AgentResult::Config);
        agent_free(a);
    }
}
