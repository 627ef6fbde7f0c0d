//! The C ABI called as C would call it (through the exported functions and
//! raw pointers): what each refusal returns, and events delivered by
//! callback, in order, on the one `agent-events` thread, ending with STOPPED.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::undocumented_unsafe_blocks)]

use agent_ffi::*;
use std::ffi::{CStr, c_void};
use std::ptr;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

fn config(switch: &CStr) -> *mut AgentConfig {
    let mut c = ptr::null_mut();
    unsafe {
        assert_eq!(agent_config_new(&mut c), AgentResult::Ok);
        assert_eq!(agent_config_add_switch(c, switch.as_ptr()), AgentResult::Ok);
        assert_eq!(agent_config_set_number(c, c"1001".as_ptr()), AgentResult::Ok);
        assert_eq!(agent_config_set_password(c, c"pw".as_ptr()), AgentResult::Ok);
        assert_eq!(agent_config_set_public_ip(c, c"static:127.0.0.1".as_ptr()), AgentResult::Ok);
    }
    c
}

#[test]
fn refusals_are_results_never_crashes() {
    unsafe {
        assert_eq!(agent_config_new(ptr::null_mut()), AgentResult::NullArgument);
        let c = config(c"tcp:127.0.0.1:9");
        assert_eq!(agent_config_add_switch(c, c"tcp:127.0.0.1:10".as_ptr()), AgentResult::Ok, "a second node");
        assert_eq!(agent_config_add_switch(c, c"udp:x".as_ptr()), AgentResult::InvalidArgument);
        assert_eq!(agent_config_set_number(c, ptr::null()), AgentResult::NullArgument);
        assert_eq!(agent_config_set_number(c, c"\xff".as_ptr()), AgentResult::InvalidArgument, "not UTF-8");
        assert_eq!(agent_config_set_public_ip(c, c"carrier-pigeon".as_ptr()), AgentResult::InvalidArgument);
        assert_eq!(agent_config_set_tls_ca_file(c, c"/nonexistent/ca.pem".as_ptr()), AgentResult::InvalidArgument);
        assert_eq!(agent_config_set_tone(c, f64::NAN), AgentResult::InvalidArgument);

        let mut empty = ptr::null_mut();
        assert_eq!(agent_config_new(&mut empty), AgentResult::Ok);
        let mut a = ptr::dangling_mut();
        assert_eq!(agent_new(empty, &mut a), AgentResult::Config, "no switch");
        assert!(a.is_null(), "the out-parameter is NULL on failure");
        agent_config_free(empty);

        assert_eq!(agent_new(c, &mut a), AgentResult::Ok);
        agent_config_free(c);
        assert_eq!(agent_hangup(a, 1), AgentResult::NotRunning, "not started");
        assert_eq!(agent_start(a), AgentResult::Ok);
        assert_eq!(agent_start(a), AgentResult::AlreadyStarted);
        assert_eq!(agent_hangup(a, 42), AgentResult::NoSuchCall);
        assert_eq!(agent_reject(a, 42, 200), AgentResult::InvalidArgument, "a rejection is 300-699");
        let mut frame = [0i16; 160];
        assert_eq!(agent_audio_push(a, 42, frame.as_ptr(), 160), AgentResult::NoSuchCall);
        assert_eq!(agent_audio_pull(a, 42, frame.as_mut_ptr(), 160), AgentResult::NoSuchCall);
        assert_eq!(agent_audio_push(a, 42, frame.as_ptr(), 80), AgentResult::InvalidArgument, "whole 20 ms frames only");
        assert_eq!(agent_audio_pull(a, 42, ptr::null_mut(), 160), AgentResult::NullArgument);
        assert_eq!(agent_network_changed(a), AgentResult::Ok);
        assert_eq!(agent_stop(a), AgentResult::Ok);
        let mut ev = std::mem::zeroed::<AgentEvent>();
        let mut kinds = Vec::new();
        loop {
            match agent_next_event(a, &mut ev, 10_000) {
                AgentResult::Ok => kinds.push(ev.kind),
                AgentResult::Stopped => break,
                other => panic!("{other:?} after {kinds:?}"),
            }
        }
        assert_eq!(kinds.last(), Some(&AgentEventKind::Stopped));
        assert_eq!(agent_next_event(a, &mut ev, 0), AgentResult::Stopped, "and so on once stopped");
        agent_free(a);
        agent_free(ptr::null_mut());
        assert!(!CStr::from_ptr(agent_result_text(AgentResult::Panic)).is_empty());
    }
}

type Seen = Mutex<mpsc::Sender<(AgentEventKind, Option<String>)>>;

unsafe extern "C" fn on_event(user_data: *mut c_void, event: *const AgentEvent) {
    let seen = unsafe { &*(user_data as *const Seen) };
    let kind = unsafe { (*event).kind };
    let thread = std::thread::current().name().map(str::to_owned);
    let _ = seen.lock().unwrap().send((kind, thread));
}

#[test]
fn a_callback_gets_every_event_in_order_on_one_thread() {
    let (tx, rx) = mpsc::channel();
    let seen: Box<Seen> = Box::new(Mutex::new(tx));
    unsafe {
        // Nothing listens on port 9 of loopback: the agent keeps failing to connect.
        let c = config(c"tcp:127.0.0.1:9");
        let mut a = ptr::null_mut();
        assert_eq!(agent_new(c, &mut a), AgentResult::Ok);
        agent_config_free(c);
        let user_data = &*seen as *const Seen as *mut c_void;
        assert_eq!(agent_set_event_callback(a, Some(on_event), user_data), AgentResult::Ok);
        assert_eq!(agent_set_event_callback(a, Some(on_event), user_data), AgentResult::AlreadyStarted, "once");
        assert_eq!(agent_start(a), AgentResult::Ok);
        let (first, thread) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(first, AgentEventKind::ConnectFailed);
        assert_eq!(thread.as_deref(), Some("agent-events"));
        assert_eq!(agent_stop(a), AgentResult::Ok);
        agent_free(a); // joins the callback's thread: every event was delivered
    }
    let rest: Vec<_> = rx.try_iter().collect();
    assert!(rest.iter().all(|(_, t)| t.as_deref() == Some("agent-events")), "{rest:?}");
    assert_eq!(rest.last().map(|(k, _)| *k), Some(AgentEventKind::Stopped), "{rest:?}");
    drop(seen);
}
