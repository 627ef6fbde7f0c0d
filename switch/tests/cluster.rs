//! Several switch nodes on one Redis (issue 14 items 2-4), real processes on
//! loopback: a phone registered on node B is called through node A, which
//! forwards the INVITE in one hop with a flow token in its Route; B checks
//! the token (a forged one gets 403, a flow gone 430), sends the call down the
//! phone's flow and relays that leg's media, A keeps the caller's; ACK,
//! re-INVITE and BYE cross both nodes both ways; a 430 sends
//! A home; a node killed is routed around within its lease; a restarted node
//! resurrects nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::calls::{Callee, Caller, UdpPhone, Wire, answer, media_of, pick_up, rtp_flows, sdp};
use common::{Config, IO_TIMEOUT, Link, SwitchHost, Tcp, lab, redis_lab, unix_now};
use sipcore::{HeaderName, Message, Method};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use switch::cluster::token::{self, Claim};
use switch::cluster::{Secret, lease};
use tests::redis::RedisServer;
use tests::switch::{Switch, cluster_secret};

const PW: &str = "Garnet-Osprey-5170";

fn start_node(host: &SwitchHost, url: &str, node: &str) -> Switch {
    let sw = host.start(&Config::default().redis(url, node).relay("127.0.0.1"));
    sw.wait_for_event("node lease held", &[("node", node)], IO_TIMEOUT);
    sw
}

/// Whether `port` lies in a switch's relay range `FIRST-LAST`.
fn relays(sw: &Switch, port: u16) -> bool {
    let (first, last) = sw.relay_ports().split_once('-').unwrap();
    (first.parse::<u16>().unwrap()..=last.parse().unwrap()).contains(&port)
}

/// Two nodes on one Redis, 7401 and 7402 provisioned (7402 with `home`).
struct Pair {
    redis: RedisServer,
    a: SwitchHost,
    b: SwitchHost,
    sw_a: Switch,
    sw_b: Switch,
}

fn pair(home: Option<&str>) -> Pair {
    let redis = RedisServer::start();
    let url = redis.url();
    let (a, b) = (redis_lab(&url), redis_lab(&url));
    a.add_subscriber("7401", PW, None);
    a.add_subscriber("7402", PW, home);
    let sw_a = start_node(&a, &url, "node-a");
    let sw_b = start_node(&b, &url, "node-b");
    Pair { redis, a, b, sw_a, sw_b }
}

#[test]
fn a_call_on_node_a_rings_the_phone_on_node_b_in_one_hop() {
    let p = pair(None);
    let mut callee = Callee::register(&p.sw_b, "7402", PW);
    let mut caller = Caller::new(&p.sw_a, "7401", "7402");
    caller.invite_with_digest(PW);

    // The phone on B gets the call down its own flow, with B's relay in the SDP.
    let inv = callee.request(Method::Invite);
    assert!(inv.headers.get(&HeaderName::Route).is_none(), "B consumed the Route with the token");
    let to_callee = media_of(&inv.body);
    assert!(relays(&p.sw_b, to_callee.port()), "B's relay carries the callee's leg: {to_callee}");
    let forwarded = p.sw_a.wait_for_event("callee's flow is on another node", &[("node", "node-b")], IO_TIMEOUT);
    assert_eq!(forwarded.text("callee"), "7402");
    p.sw_b.wait_for_event("call routed", &[("reason", "from_node:node-a")], IO_TIMEOUT);
    // Exactly one hop: B routed it down the flow, never on to another node.
    assert!(p.sw_b.events_where(|e| e.message() == "callee's flow is on another node").is_empty());

    let (to_callee, to_caller) = pick_up(&mut caller, &mut callee, &inv);
    assert!(relays(&p.sw_a, to_caller.port()), "A's relay carries the caller's leg: {to_caller}");
    // Media both ways: caller -> A's relay -> B's relay -> callee, and back.
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0x7402) > 0, "callee -> caller RTP through both relays");
    assert!(rtp_flows(&caller.rtp, to_caller, &callee.rtp, 0x7401) > 0, "caller -> callee RTP through both relays");

    // A re-INVITE from the phone on B (hold) reaches the caller through A, and its answer goes back.
    let hold = sdp(callee.rtp.local_addr().unwrap().port(), "callee").replace("o=callee 1 1", "o=callee 1 2") + "a=sendonly\r\n";
    callee.reinvite(&p.sw_b, &inv, 1, &hold);
    let reinvite = caller.phone.request(Method::Invite);
    assert_eq!(reinvite.headers.call_id().unwrap(), caller.call_id, "in the caller's dialog with A");
    let body = std::str::from_utf8(&reinvite.body).unwrap();
    assert!(body.contains("a=sendonly") && body.contains(&format!("m=audio {} ", to_caller.port())), "A's relay port: {body}");
    let answer_sdp = sdp(caller.rtp.local_addr().unwrap().port(), "caller");
    caller.phone.send(&Message::Response(answer(&reinvite, 200, &caller.tag, "sip:7401@127.0.0.1", Some(answer_sdp))));
    caller.phone.request(Method::Ack);
    let ok = match callee.message() {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected the 200 for the re-INVITE, got {}", r.method),
    };
    assert_eq!((ok.status, media_of(&ok.body)), (200, to_callee), "answered through both nodes, B's relay port kept");

    // In-dialog requests the other way: the callee hangs up on B, the caller gets the BYE from A.
    let bye = format!(
        "BYE sip:switch@{sw} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bKbye7402\r\nMax-Forwards: 70\r\nFrom: {to};tag={tag}\r\nTo: {from}\r\n\
         Call-ID: {cid}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        sw = p.sw_b.addr(),
        me = Link::local(&callee.tcp),
        to = inv.headers.get(&HeaderName::To).unwrap(),
        tag = callee.tag,
        from = inv.headers.get(&HeaderName::From).unwrap(),
        cid = inv.headers.call_id().unwrap(),
    );
    Link::send(&mut callee.tcp, bye.as_bytes());
    let bye_in = caller.phone.request(Method::Bye);
    caller.phone.send(&Message::Response(answer(&bye_in, 200, &caller.tag, "sip:7401@127.0.0.1", None)));
    callee.message();

    // Each node's record says where the other leg went.
    let rec_a = p.a.ended_call_record(&caller.call_id, IO_TIMEOUT);
    assert_eq!(
        (rec_a["node"].as_str(), rec_a["route"].as_str(), rec_a["route_reason"].as_str()),
        (Some("node-a"), Some("flow"), Some("via_node:node-b")),
        "{rec_a}"
    );
    let hop_call_id = rec_a["callee_call_id"].as_str().unwrap().to_owned();
    let rec_b = p.b.ended_call_record(&hop_call_id, IO_TIMEOUT);
    assert_eq!((rec_b["node"].as_str(), rec_b["route_reason"].as_str()), (Some("node-b"), Some("from_node:node-a")), "{rec_b}");
    assert_eq!(rec_b["end_reason"].as_str(), Some("callee_bye"), "{rec_b}");
}

/// An INVITE straight to node B, as if from node A, with the Route `route`
/// makes for its Call-ID (a token, or none); its final status.
fn invite_b(p: &Pair, route: impl Fn(&str) -> Option<String>) -> (Caller, u16) {
    let tcp = Tcp::connect(&p.sw_b);
    let mut caller = Caller::on(Wire::Tcp(Box::new(tcp), p.sw_b.addr()), "7401", "7402");
    caller.route = route(&caller.call_id);
    caller.invite(None);
    let status = loop {
        let m = caller.phone.next("a final response", |m| matches!(m, Message::Response(r) if r.status >= 200));
        if let Message::Response(r) = m {
            break r.status;
        }
    };
    (caller, status)
}

fn token_route(secret: &Secret, to: &str, call_id: &str, sw: &Switch) -> String {
    let t = token::make(secret, &Claim { from: "node-a", to, number: "7402", call_id }, unix_now());
    format!("<sip:{t}@{};transport=tcp;lr>", sw.addr())
}

#[test]
fn node_b_refuses_forged_and_absent_tokens_and_answers_430_for_a_flow_gone() {
    let p = pair(None);
    let real = Secret::read(&cluster_secret()).unwrap();
    let forged = Secret::new(b"not-the-cluster-secret-at-all".to_vec()).unwrap();
    let callee = Callee::register(&p.sw_b, "7402", PW);

    // A token made without the secret: 403 and a log line naming the source.
    let (_, status) = invite_b(&p, |id| Some(token_route(&forged, "node-b", id, &p.sw_b)));
    assert_eq!(status, 403);
    p.sw_b.wait_for_event("INVITE with a bad flow token refused", &[("callee", "7402")], IO_TIMEOUT);
    // A real token for another node, or bound to another Call-ID: refused the same way.
    let (_, status) = invite_b(&p, |id| Some(token_route(&real, "node-c", id, &p.sw_b)));
    assert_eq!(status, 403);
    let (_, status) = invite_b(&p, |_| Some(token_route(&real, "node-b", "another@call", &p.sw_b)));
    assert_eq!(status, 403);
    // No token: a stranger's INVITE, challenged for the caller's digest.
    let (_, status) = invite_b(&p, |_| None);
    assert_eq!(status, 407);
    let secret_text = std::fs::read_to_string(cluster_secret()).unwrap();
    assert!(!p.sw_b.log_text().contains(secret_text.trim()), "the secret never reaches the log");

    // A valid token, but the phone's flow on B is gone: 430 Flow Failed.
    drop(callee);
    p.b.wait_state("7402", "signalling_dropped", IO_TIMEOUT);
    let (_, status) = invite_b(&p, |id| Some(token_route(&real, "node-b", id, &p.sw_b)));
    assert_eq!(status, 430);
}

/// A node that is a TCP listener of the test's: its lease and 7402's binding
/// are written into Redis as node-x's, so node A forwards 7402's calls here.
fn fake_node(p: &Pair) -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let target: switch::store::RedisTarget = p.redis.url().parse().unwrap();
    let as_b = switch::store::RedisStore::open(&target, Some("node-b")).unwrap();
    let record = as_b.record("7402").unwrap().expect("7402 registered on B");
    let as_x = switch::store::RedisStore::open(&target, Some("node-x")).unwrap();
    as_x.put_record(&record).unwrap();
    as_x.put_lease(&format!("tcp:{addr}"), Duration::from_secs(60)).unwrap();
    listener
}

#[test]
fn a_430_from_the_node_sends_node_a_home() {
    let home = UdpPhone::new("127.0.0.1:9".parse().unwrap());
    let p = pair(Some(&format!("sip:7402@{}", home.addr())));
    let _callee = Callee::register(&p.sw_b, "7402", PW);
    let node_x = fake_node(&p);
    let mut caller = Caller::new(&p.sw_a, "7401", "7402");
    caller.invite_with_digest(PW);

    // One hop to node-x, over TCP, the token in the Route bound to the INVITE.
    node_x.set_nonblocking(false).unwrap();
    let (stream, _) = node_x.accept().unwrap();
    let mut hop = Tcp::from_stream(stream);
    let raw = hop.raw_message(IO_TIMEOUT).unwrap();
    let inv = match sipcore::parse(bytes::Bytes::from(raw)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("a request"),
    };
    assert_eq!(inv.method, Method::Invite);
    assert!(inv.uri.starts_with("sip:7402@127.0.0.1:") && inv.uri.ends_with(";transport=tcp"), "{}", inv.uri);
    let route = inv.headers.get(&HeaderName::Route).expect("a Route with the flow token").to_owned();
    let tok = token::of(&inv).expect("the token in the topmost Route");
    assert!(route.contains(";lr"), "{route}");
    let secret = Secret::read(&cluster_secret()).unwrap();
    let call_id = inv.headers.call_id().unwrap();
    assert_eq!(token::verify(&secret, &tok, "node-x", "7402", call_id, unix_now()).as_deref(), Ok("node-a"));
    assert!(token::verify(&secret, &tok, "node-b", "7402", call_id, unix_now()).is_err(), "bound to the node it was sent to");

    // The flow is gone there: 430. A goes home.
    let flow_failed = answer(&inv, 430, "x430", "sip:switch@127.0.0.1", None);
    Link::send(&mut hop, &common::calls::encode(&Message::Response(flow_failed)));
    let at_home = home.request(Method::Invite);
    assert!(at_home.uri.starts_with("sip:7402@"), "{}", at_home.uri);
    p.sw_a.wait_for_event("callee leg failed over to the home location", &[("why", "flow_failed")], IO_TIMEOUT);
    home.send(&Message::Response(answer(&at_home, 486, "h1", "sip:7402@127.0.0.1", None)));

    // The next call to node-x takes the same connection: one per node, not one per call.
    let mut again = Caller::new(&p.sw_a, "7401", "7402");
    again.invite_with_digest(PW);
    // (The ACK for the 430 comes first, down the same connection.)
    let ack = hop.raw_message(IO_TIMEOUT).unwrap();
    assert!(ack.starts_with("ACK sip:7402@"), "{ack}");
    let raw = hop.raw_message(IO_TIMEOUT).unwrap();
    assert!(raw.starts_with("INVITE sip:7402@"), "{raw}");
    node_x.set_nonblocking(true).unwrap();
    assert!(node_x.accept().is_err(), "no second connection");
}

#[test]
fn a_dead_node_is_routed_around_within_its_lease_and_a_restarted_one_resurrects_nothing() {
    let home = UdpPhone::new("127.0.0.1:9".parse().unwrap());
    let mut p = pair(Some(&format!("sip:7402@{}", home.addr())));
    let mut callee = Callee::register(&p.sw_b, "7402", PW);
    let lease_key = "sw:{node:node-b}:lease";
    assert_eq!(p.redis.cli(&["EXISTS", lease_key]).unwrap().trim(), "1");
    // A call up through both nodes when B dies.
    let mut up = Caller::new(&p.sw_a, "7401", "7402");
    up.invite_with_digest(PW);
    let inv = callee.request(Method::Invite);
    pick_up(&mut up, &mut callee, &inv);
    let rec_a = p.a.calls().into_iter().find(|c| c["call_id"].as_str() == Some(up.call_id.as_str())).unwrap();
    let hop_call_id = rec_a["callee_call_id"].as_str().unwrap().to_owned();

    p.sw_b.kill9();
    let killed = Instant::now();
    drop(callee);
    // At once: forwarded to the dead node (its lease still runs), which cannot
    // be reached, or already past the lease; home either way.
    let mut caller = Caller::new(&p.sw_a, "7401", "7402");
    caller.invite_with_digest(PW);
    let at_home = home.request(Method::Invite);
    home.send(&Message::Response(answer(&at_home, 486, "h1", "sip:7402@127.0.0.1", None)));
    // The bound is the lease's TTL; the slack is for a loaded machine's digest round trip.
    let took = killed.elapsed();
    assert!(took <= lease::TTL + Duration::from_secs(2), "routed home {took:?} after the node died");

    common::wait_for(lease::TTL + Duration::from_secs(2), "node-b's lease to lapse", || {
        let exists = p.redis.cli(&["EXISTS", lease_key]).unwrap();
        if exists.trim() == "0" { Ok(()) } else { Err(exists) }
    });
    // At most TTL by construction (the last refresh came before the kill); the slack is the polling's.
    let lapsed = killed.elapsed();
    assert!(lapsed <= lease::TTL + Duration::from_secs(2), "the lease outlived its node by {lapsed:?}");
    // The binding still says node-b, registered: only the lease says it is dead.
    assert_eq!(p.a.registration("7402").unwrap()["state"].as_str(), Some("registered"));
    let forwarded = forwarded_count(&p.sw_a);
    let before = routed_home(&p.sw_a);
    let mut caller = Caller::new(&p.sw_a, "7401", "7402");
    caller.invite_with_digest(PW);
    wait_routed_home(&p.sw_a, before + 1);
    assert_eq!(forwarded_count(&p.sw_a), forwarded, "not forwarded to a node without a lease");

    // Restarted: it holds its lease again, ends the call it left with a
    // reason, and the binding it had is not live again.
    p.sw_b.restart();
    p.b.wait_state("7402", "signalling_dropped", IO_TIMEOUT);
    common::wait_for(IO_TIMEOUT, "node-b's lease again", || {
        let exists = p.redis.cli(&["EXISTS", lease_key]).unwrap();
        if exists.trim() == "1" { Ok(()) } else { Err(exists) }
    });
    let rec_b = p.b.ended_call_record(&hop_call_id, IO_TIMEOUT);
    assert_eq!((rec_b["node"].as_str(), rec_b["end_reason"].as_str()), (Some("node-b"), Some("switch_restarted")), "{rec_b}");
    let before = routed_home(&p.sw_a);
    let mut caller = Caller::new(&p.sw_a, "7401", "7402");
    caller.invite_with_digest(PW);
    wait_routed_home(&p.sw_a, before + 1);
    assert_eq!(forwarded_count(&p.sw_a), forwarded, "no resurrection: the restarted node's old binding is not live");
}

fn forwarded_count(sw: &Switch) -> usize {
    sw.events_where(|e| e.message() == "callee's flow is on another node").len()
}

fn routed_home(sw: &Switch) -> usize {
    sw.events_where(|e| e.message() == "call routed" && e.text("callee") == "7402" && e.text("route") == "home").len()
}

/// Waits until `sw` has routed `n` calls for 7402 home.
fn wait_routed_home(sw: &Switch, n: usize) {
    common::wait_for(IO_TIMEOUT, "calls for 7402 routed home", || {
        let home = routed_home(sw);
        if home >= n { Ok(()) } else { Err(format!("{home} so far")) }
    });
}

#[test]
fn a_node_on_redis_without_the_cluster_secret_does_not_start() {
    let host = lab();
    let data = host.file("data");
    let out = std::process::Command::new(&host.bin)
        .args(["run", "--listen", "tcp:127.0.0.1:0", "--redis", "redis://127.0.0.1:1", "--node-id", "n1", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("secret_file (or --cluster-secret-file) is required with a Redis store"), "{stderr}");
}
