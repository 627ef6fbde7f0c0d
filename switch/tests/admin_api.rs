//! The admin JSON API through the real `switch` binary (issue 16 item 3),
//! over real HTTP (a raw TCP client): live registrations and calls (per-leg
//! counters that move during a real call), `route` and `probe`, subscribers
//! with the CLI's validation (400/404/409/413 with a reason) and their
//! changes seen by the CLI and by the running core, and the token off
//! loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::calls::*;
use common::http::{Reply, admin_addr, get, request};
use common::{Config, wait_for};
use serde_json::Value;
use sipcore::Method;
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);
const ADMIN: &str = r#"listen = ["tcp:127.0.0.1:0"]"#;

fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.2).unwrap_or_else(|e| panic!("{e}: not JSON: {reply:?}"))
}

/// A refusal: this status, JSON with an error that says `reason`.
#[track_caller]
fn refused(reply: Reply, status: u16, reason: &str) {
    assert_eq!(reply.0, status, "{reply:?}");
    assert!(reply.1.to_ascii_lowercase().contains("content-type: application/json"), "{reply:?}");
    let error = json(&reply)["error"].as_str().unwrap_or_else(|| panic!("no error in {reply:?}")).to_owned();
    assert!(error.contains(reason), "{error:?} does not say {reason:?}");
}

fn ok(reply: Reply) -> Value {
    assert!((200..300).contains(&reply.0), "{reply:?}");
    json(&reply)
}

fn registration(admin: SocketAddr, number: &str) -> Option<Value> {
    ok(get(admin, "/api/registrations", None)).as_array().unwrap().iter().find(|r| r["number"] == number).cloned()
}

/// The packets the relay took in on both legs of the one active call.
fn packets_in(call: &Value) -> u64 {
    ["caller_media", "callee_media"].iter().map(|leg| call[leg]["packets_in"].as_u64().unwrap_or(0)).sum()
}

#[test]
fn live_registrations_calls_route_and_probe() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&Config::default().relay("127.0.0.1").calls("ring_time = 20").admin(ADMIN));
    let admin = admin_addr(&sw);

    // Not registered yet: route says so; an unknown number is a 404, a bad one a 400.
    assert_eq!(ok(get(admin, "/api/route/1002", None))["route"], "unavailable");
    refused(get(admin, "/api/route/7777", None), 404, "no subscriber 7777");
    refused(get(admin, "/api/route/10%2002", None), 400, "");
    refused(get(admin, "/api/probe/not;a;number", None), 400, "");
    let probe = ok(get(admin, "/api/probe/1001", None));
    assert_eq!((probe["reachable"].as_bool(), probe["number"].as_str()), (Some(false), Some("1001")), "{probe}");

    let mut callee = Callee::register(&sw, "1002", "pw1002");
    // The live table, with the RL facts and the seconds left.
    let r = wait_for(WAIT, "1002 in /api/registrations", || registration(admin, "1002").ok_or_else(|| "absent".to_owned()));
    assert_eq!((r["state"].as_str(), r["transport"].as_str()), (Some("registered"), Some("tcp")), "{r}");
    let left = r["time_left"].as_u64().unwrap();
    assert!(left > 500 && left <= 600, "{r}");
    assert!(r["observed"].as_str().unwrap().starts_with("127.0.0.1:"), "{r}");
    assert!(r.get("public_ip").is_some() && r.get("behind_nat").is_some(), "{r}");
    let route = ok(get(admin, "/api/route/1002", None));
    assert_eq!((route["route"].as_str(), route["transport"].as_str()), (Some("flow"), Some("tcp")), "{route}");
    assert_eq!(route["observed"], r["observed"]);

    // The probe goes down the callee's flow: the phone answers the OPTIONS.
    let probing = std::thread::spawn(move || get(admin, "/api/probe/1002", None));
    let options = callee.request(Method::Options);
    callee.answer(&options, 200, false);
    let probe = ok(probing.join().unwrap());
    assert_eq!(probe["reachable"], true, "{probe}");

    // A real call: the active call's per-leg counters move while RTP flows.
    let mut caller = Caller::new(&sw, "1001", "1002");
    caller.invite_with_digest("pw1001");
    let inv = callee.request(Method::Invite);
    let (to_callee, to_caller) = pick_up(&mut caller, &mut callee, &inv);
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0xa001) > 0);
    assert!(rtp_flows(&caller.rtp, to_caller, &callee.rtp, 0xa002) > 0);
    let active = || ok(get(admin, "/api/calls", None))["active"].as_array().unwrap().clone();
    let first = wait_for(WAIT, "one active call with packets counted", || match active().as_slice() {
        [call] if packets_in(call) > 0 => Ok(call.clone()),
        other => Err(format!("{other:?}")),
    });
    assert_eq!((first["caller"].as_str(), first["callee"].as_str(), first["route"].as_str()), (Some("1001"), Some("1002"), Some("flow")));
    assert!(first["end_at"].is_null(), "{first}");
    let before = packets_in(&first);
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0xa001) > 0);
    wait_for(WAIT, "the counters moved", || match active().as_slice() {
        [call] if packets_in(call) > before => Ok(()),
        other => Err(format!("{before} then {other:?}")),
    });

    caller.in_dialog(Method::Bye);
    let bye = callee.request(Method::Bye);
    callee.answer(&bye, 200, false);
    caller.phone.response(200, Method::Bye);
    let ended = wait_for(WAIT, "the call among the recent ones, none active", || {
        let calls = ok(get(admin, "/api/calls", None));
        match (calls["active"].as_array().unwrap().len(), calls["recent"].as_array().unwrap().as_slice()) {
            (0, [call]) => Ok(call.clone()),
            _ => Err(calls.to_string()),
        }
    });
    assert_eq!(ended["end_reason"], "caller_bye");
    assert!(packets_in(&ended) > before, "{ended}");
    // The same call as the CLI lists it from the store.
    let stored = lab.ended_call_record(ended["call_id"].as_str().unwrap(), WAIT);
    assert_eq!(stored["caller_media"]["packets_in"], ended["caller_media"]["packets_in"]);
}

#[test]
fn subscribers_with_the_clis_validation_seen_by_the_cli_and_the_core() {
    let lab = lab_with(&[("1001", None)]);
    let sw = lab.start(&Config::default().admin(ADMIN));
    let admin = admin_addr(&sw);
    let post = |body: &str| request(admin, "POST", "/api/subscribers", None, Some(body));
    let patch = |number: &str, body: &str| request(admin, "PATCH", &format!("/api/subscribers/{number}"), None, Some(body));

    // Listed as the CLI lists them: never a credential.
    let list = ok(get(admin, "/api/subscribers", None));
    assert_eq!(list, serde_json::json!([{"number": "1001", "realm": "switch.local", "mac": null, "home": null}]));

    // Added through the API: the default realm is the switch's domain; the CLI sees it.
    let added = ok(post(r#"{"number": "2001", "password": "pw2001", "mac": "02:42:AC:11:00:02"}"#));
    assert_eq!(
        (added["number"].as_str(), added["realm"].as_str(), added["mac"].as_str()),
        (Some("2001"), Some("switch.local"), Some("02:42:ac:11:00:02"))
    );
    assert!(added.get("warning").is_none() && !added.to_string().contains("pw2001"), "{added}");
    let cli: Value = serde_json::from_str(&lab.cli_ok(&["subscriber", "list", "--json"])).unwrap();
    assert!(cli.as_array().unwrap().iter().any(|s| s["number"] == "2001" && s["mac"] == "02:42:ac:11:00:02"), "{cli}");

    // What the CLI refuses, the API refuses, with the same words.
    refused(post(r#"{"number": "2001", "password": "x"}"#), 409, "subscriber 2001 exists");
    let cli_says = lab.cli(&["subscriber", "add", "12 34", "--password", "x"]);
    let cli_error = String::from_utf8_lossy(&cli_says.stderr).into_owned();
    let api_error = post(r#"{"number": "12 34", "password": "x"}"#);
    refused(api_error.clone(), 400, "");
    assert!(cli_error.contains(json(&api_error)["error"].as_str().unwrap()), "CLI: {cli_error} API: {api_error:?}");
    refused(post(r#"{"number": "2002", "password": "x", "mac": "02:42"}"#), 400, "bad MAC");
    refused(post(r#"{"number": "2002", "password": "x", "home": "http://example.com/"}"#), 400, "");
    refused(post(r#"{"number": "2002""#), 400, "bad JSON body");
    refused(post(r#"{"number": "2002", "password": "x", "admin": true}"#), 400, "unknown field");
    refused(post(&format!(r#"{{"number": "2002", "password": "{}"}}"#, "x".repeat(20_000))), 413, "");
    let realm = ok(post(r#"{"number": "2003", "password": "pw2003", "realm": "elsewhere.example"}"#));
    assert!(realm["warning"].as_str().unwrap().contains("403"), "{realm}");

    // Set: a change, clearing with null, nothing to change, an unknown number.
    let set = ok(patch("2001", r#"{"mac": null, "home": "sip:2001@192.0.2.10"}"#));
    assert_eq!((set["mac"].is_null(), set["home"].as_str()), (true, Some("sip:2001@192.0.2.10")), "{set}");
    refused(patch("2001", "{}"), 400, "nothing to change");
    refused(patch("9999", r#"{"password": "new"}"#), 404, "no subscriber 9999");
    refused(patch("2001", r#"{"realm": "other.example"}"#), 400, "");
    let cli: Value = serde_json::from_str(&lab.cli_ok(&["subscriber", "list", "--json"])).unwrap();
    assert!(cli.as_array().unwrap().iter().any(|s| s["number"] == "2001" && s["mac"].is_null() && s["home"] == "sip:2001@192.0.2.10"));

    // The running core serves a number the API provisioned, and a new password.
    ok(patch("2001", r#"{"password": "changed-pw"}"#));
    let _phone = Callee::register(&sw, "2001", "changed-pw");
    assert_eq!(ok(get(admin, "/api/route/2001", None))["route"], "flow");

    // The CLI's provisioning shows in the API; removal both ways.
    lab.subscriber_add("3001", "pw3001", &[]);
    assert_eq!(ok(get(admin, "/api/subscribers/3001", None))["number"], "3001");
    assert_eq!(ok(request(admin, "DELETE", "/api/subscribers/3001", None, None))["removed"], "3001");
    refused(request(admin, "DELETE", "/api/subscribers/3001", None, None), 404, "no subscriber 3001");
    refused(get(admin, "/api/subscribers/3001", None), 404, "no subscriber 3001");
    assert!(!lab.cli_ok(&["subscriber", "list"]).contains("3001"));
    refused(get(admin, "/api/no-such-thing", None), 404, "not found");
}

#[test]
fn off_loopback_the_api_needs_the_token_and_the_page_does_not() {
    let lab = lab_with(&[("1001", None)]);
    let token_file = lab.file("admin.token");
    std::fs::write(&token_file, "api-t0ken\n").unwrap();
    let section = format!("listen = [\"tcp:0.0.0.0:0\"]\ntoken_file = {:?}", token_file.display().to_string());
    let sw = lab.start(&Config::default().admin(&section));
    let admin = admin_addr(&sw);
    for path in ["/api/registrations", "/api/calls", "/api/subscribers", "/api/route/1001", "/api/events"] {
        refused(get(admin, path, None), 401, "unauthorized");
        refused(get(admin, path, Some("api-t0ke")), 401, "unauthorized");
    }
    refused(request(admin, "POST", "/api/subscribers", None, Some(r#"{"number": "2001", "password": "x"}"#)), 401, "unauthorized");
    assert_eq!(ok(get(admin, "/api/subscribers", Some("api-t0ken"))).as_array().unwrap().len(), 1);
    assert_eq!(ok(get(admin, "/api/registrations", Some("api-t0ken"))), serde_json::json!([]));
    // The page and its assets hold no data: served without the token.
    for path in ["/", "/app.js", "/style.css"] {
        assert_eq!(get(admin, path, None).0, 200, "{path}");
    }
    assert_eq!(get(admin, "/metrics", None).0, 200);
}

/// `GET /api/events` over a raw socket: the SSE `data:` lines as JSON, in order.
struct Events {
    stream: std::net::TcpStream,
    text: String,
    seen: usize,
}

impl Events {
    fn open(admin: SocketAddr) -> Events {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(admin).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        write!(stream, "GET /api/events HTTP/1.1\r\nHost: switch\r\n\r\n").unwrap();
        Events { stream, text: String::new(), seen: 0 }
    }

    fn all(&self) -> Vec<Value> {
        self.text.lines().filter_map(|l| l.strip_prefix("data: ")).filter_map(|d| serde_json::from_str(d).ok()).collect()
    }

    /// The next event (after the last one waited for) of `kind` for `number`
    /// whose detail holds `text`.
    #[track_caller]
    fn wait(&mut self, kind: &str, number: &str, text: &str) -> Value {
        use std::io::Read;
        let what = format!("a {kind} event for {number} saying {text:?}");
        wait_for(WAIT, &what, || {
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.stream.read(&mut buf) {
                self.text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let all = self.all();
            let found = all
                .iter()
                .enumerate()
                .skip(self.seen)
                .find(|(_, e)| e["kind"] == kind && e["number"] == number && e["detail"].as_str().is_some_and(|d| d.contains(text)));
            match found {
                Some((i, e)) => {
                    self.seen = i + 1;
                    Ok(e.clone())
                }
                None => Err(format!("{all:?}")),
            }
        })
    }
}

#[test]
fn the_event_stream_carries_registered_roamed_public_ip_conflict_and_routed_home() {
    let (lab, home, home_uri) = with_home();
    let sw = lab.start(&trusted().admin(ADMIN));
    let admin = admin_addr(&sw);
    let mut events = Events::open(admin);

    let mut callee = Callee::register(&sw, "1002", "pw1002");
    events.wait("registered", "1002", "from 127.0.0.1:");
    // The same device from another address: roamed, and its public address changed.
    callee.roam(&sw, std::net::Ipv4Addr::new(127, 0, 0, 2), "1002", "pw1002");
    events.wait("roamed", "1002", "from 127.0.0.2:");
    let changed = events.wait("public_ip_changed", "1002", "observed 127.0.0.2");
    assert!(changed["detail"].as_str().unwrap().contains("observed 127.0.0.1 ->"), "{changed}");
    // Another device tries the number while the flow is live: a conflict.
    let mut other = common::Tcp::connect(&sw);
    let r = common::Phone::agent("1002", "pw1002", 6).exchange(&mut other, common::ContactKind::Binding, Some(300));
    assert_eq!(r.status, 403);
    events.wait("conflict", "1002", "challenged from 127.0.0.1:");
    // A number in conflict is not called on its flow: the call goes home.
    let mut caller = Caller::new(&sw, "1001", "1002");
    caller.invite(None);
    let to_home = home.request(Method::Invite);
    assert_eq!(&*to_home.uri, home_uri.as_str());
    events.wait("routed_home", "1002", "call from 1001 (conflict)");

    // A listener that connects late gets the recent events first.
    let mut late = Events::open(admin);
    late.wait("registered", "1002", "");
    late.wait("routed_home", "1002", "");
}

/// With Redis, a node's API lists the whole cluster: its own registrations
/// and calls live, and the other nodes' from the store, each with its node.
#[test]
fn on_redis_a_node_lists_the_other_nodes_registrations_and_calls() {
    let redis = tests::redis::RedisServer::start();
    let url = redis.url();
    let host = || {
        let mut host = common::lab();
        host.switch = host.switch.with_redis(&url);
        host
    };
    let (a, b) = (host(), host());
    for n in ["1001", "1002", "1003"] {
        a.add_subscriber(n, &format!("pw{n}"), None);
    }
    let sw_a = a.start(&trusted().redis(&url, "node-a").admin(ADMIN));
    let sw_b = b.start(&Config::default().redis(&url, "node-b").admin(ADMIN));
    let admin_b = admin_addr(&sw_b);

    // 1002 on node A with a call in progress, 1003 on node B.
    let mut callee = Callee::register(&sw_a, "1002", "pw1002");
    let _local = Callee::register(&sw_b, "1003", "pw1003");
    let mut caller = Caller::new(&sw_a, "1001", "1002");
    caller.invite(None);
    let inv = callee.request(Method::Invite);
    pick_up(&mut caller, &mut callee, &inv);

    let regs = wait_for(WAIT, "both registrations on node B's API", || {
        let all = ok(get(admin_b, "/api/registrations", None));
        let node = |n: &str| all.as_array().unwrap().iter().find(|r| r["number"] == n).map(|r| r["node"].clone());
        match (node("1002"), node("1003")) {
            (Some(x), Some(y)) => Ok((x, y)),
            _ => Err(all.to_string()),
        }
    });
    assert_eq!(regs, (Value::from("node-a"), Value::from("node-b")));
    wait_for(WAIT, "node A's call on node B's API", || {
        let calls = ok(get(admin_b, "/api/calls", None));
        match calls["active"].as_array().unwrap().as_slice() {
            [call] if call["node"] == "node-a" && call["callee"] == "1002" => Ok(()),
            _ => Err(calls.to_string()),
        }
    });
}
