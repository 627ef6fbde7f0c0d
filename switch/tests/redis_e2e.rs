//! The switch on Redis, end to end with the real binary: provisioning with
//! `switch subscriber add --redis`, a phone registering over TCP, `switch
//! registrations --redis` listing it with its node at once (the 200 OK went
//! out after Redis answered the write), a call record listed with its node,
//! and a restarted switch finding it all again; on one `redis-server` and on a Redis Cluster. And a
//! Redis that cannot be reached stops the start with an error naming it; one
//! that stops under a running switch gets 503s with Retry-After until it is
//! back, and so does a REGISTER no replica acknowledged (`wait_replicas`);
//! Redis errors are counted in /metrics by kind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::admin::{admin_addr, promtool_check, scrape, total, value};
use common::calls::{Callee, Caller, answered_call, assert_media_both_ways, ended_record, rtp_flows};
use common::{Config, ContactKind, IO_TIMEOUT, Link, Phone, SwitchHost, Tcp, lab, line, redis_lab};
use sipcore::{HeaderName, Method};
use std::process::Command;
use std::time::{Duration, Instant};
use tests::ports::PortBlock;
use tests::redis::{RedisCluster, RedisServer};

const PW: &str = "Garnet-Osprey-5170";
const ERRORS: &str = "switch_redis_errors_total";

fn registers_lists_and_survives_a_restart(url: &str) {
    let host = redis_lab(url);
    host.add_subscriber("7001", PW, None);
    host.add_subscriber("7002", PW, Some("sip:7002@home.example"));
    let listed = host.cli_ok(&["subscriber", "list"]);
    assert!(listed.contains("7001") && listed.contains("sip:7002@home.example"), "{listed}");

    let cfg = Config::default().redis(url, "node-a");
    let mut sw = host.start(&cfg);
    assert!(!host.data.join("switch.db").exists(), "no SQLite file beside a Redis store");
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("7001", PW, 1);
    phone.register(&mut tcp, Some(300));
    let rec = host.registration("7001").expect("7001 listed");
    assert_eq!((rec["state"].as_str(), rec["node"].as_str()), (Some("registered"), Some("node-a")), "{rec}");
    assert_eq!(rec["observed"], tcp.local().to_string());
    let table = host.cli_ok(&["registrations"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&header[..3], ["NUMBER", "NODE", "STATE"], "{table}");
    assert!(table.lines().any(|l| l.starts_with("7001") && l.contains("node-a")), "{table}");

    // A subscriber provisioned while the switch runs is served without a restart.
    host.add_subscriber("7003", PW, None);
    common::wait_for(IO_TIMEOUT, "the switch to know 7003", || {
        let route = host.route("7003");
        if route.contains("unknown") { Err(route) } else { Ok(()) }
    });
    let mut tcp3 = Tcp::connect(&sw);
    Phone::agent("7003", PW, 3).register(&mut tcp3, Some(300));

    // A call: its record is listed with the node that carried it.
    let mut callee = Callee::register(&sw, "7002", PW);
    let mut caller = Caller::new(&sw, "7003", "7002");
    let invite = caller.invite_with_digest(PW);
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 486, false);
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    let rec = ended_record(&host, &caller.call_id);
    assert_eq!((rec["node"].as_str(), rec["status"].as_u64(), rec["route"].as_str()), (Some("node-a"), Some(486), Some("flow")), "{rec}");
    drop(callee);

    // Restarted on the same Redis: the records are there, their flows gone with the old process.
    sw.kill9();
    drop((tcp, tcp3));
    sw.restart();
    let restored = sw.wait_for_event("location records restored", &[], IO_TIMEOUT);
    assert_eq!(restored.field("loaded").as_u64(), Some(3), "{restored}");
    host.wait_state("7001", "signalling_dropped", IO_TIMEOUT);
    let mut tcp = Tcp::connect(&sw);
    let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(300));
    assert_eq!(r.status, 200, "{}", line(&r));
    let rec = host.registration("7001").unwrap();
    assert_eq!((rec["state"].as_str(), rec["node"].as_str()), (Some("registered"), Some("node-a")), "{rec}");
    let calls = host.cli_ok(&["calls"]);
    let header: Vec<&str> = calls.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&header[..3], ["CALL-ID", "NODE", "CALLER"], "{calls}");
    assert!(calls.lines().any(|l| l.split_whitespace().nth(1) == Some("node-a")), "{calls}");
}

#[test]
fn on_one_redis_server() {
    let redis = RedisServer::start();
    registers_lists_and_survives_a_restart(&redis.url());
}

#[test]
fn on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    registers_lists_and_survives_a_restart(&cluster.url());
}

/// Two switch nodes on one Redis: each binding carries the node that holds
/// its flow, and a restarted node restores only its own, never taking over
/// the other's.
#[test]
fn a_restarted_node_leaves_another_nodes_bindings_alone() {
    let redis = RedisServer::start();
    let (host_a, host_b) = (redis_lab(&redis.url()), redis_lab(&redis.url()));
    host_a.add_subscriber("7301", PW, None);
    host_a.add_subscriber("7302", PW, None);
    let mut sw_a = host_a.start(&Config::default().redis(&redis.url(), "node-a"));
    let sw_b = host_b.start(&Config::default().redis(&redis.url(), "node-b"));
    let mut tcp_a = Tcp::connect(&sw_a);
    Phone::agent("7301", PW, 1).register(&mut tcp_a, Some(300));
    let mut tcp_b = Tcp::connect(&sw_b);
    Phone::agent("7302", PW, 2).register(&mut tcp_b, Some(300));
    let nodes = |host: &SwitchHost| -> Vec<(String, String)> {
        host.registrations().iter().map(|r| (r["number"].as_str().unwrap().to_owned(), r["node"].as_str().unwrap().to_owned())).collect()
    };
    let both = [("7301".to_owned(), "node-a".to_owned()), ("7302".to_owned(), "node-b".to_owned())];
    assert_eq!(nodes(&host_b), both, "either node's CLI lists both");

    sw_a.kill9();
    drop(tcp_a);
    sw_a.restart();
    let restored = sw_a.wait_for_event("location records restored", &[], IO_TIMEOUT);
    assert_eq!(restored.field("loaded").as_u64(), Some(1), "only its own: {restored}");
    host_a.wait_state("7301", "signalling_dropped", IO_TIMEOUT);
    assert_eq!(nodes(&host_a), both);
    assert_eq!(host_a.state("7302"), "registered", "node-b's binding untouched");
}

/// With `wait_replicas = 1` (issue 14 item 2) a REGISTER is answered 200
/// only once a replica holds the record: a master + one replica, the replica
/// up → 200; stopped → `WAIT` times out with no acknowledgement and the
/// REGISTER gets 503 with Retry-After (one log line however many, and
/// `not_replicated` counted in /metrics); started again → 200.
#[test]
fn with_wait_replicas_a_register_not_replicated_gets_503_until_the_replica_is_back() {
    let master = RedisServer::start();
    let mut replica = RedisServer::start_replica_of(&master);
    let host = redis_lab(&master.url());
    host.add_subscriber("7101", PW, None);
    let mut cfg = Config::default().redis(&master.url(), "node-w").admin(r#"listen = ["tcp:127.0.0.1:0"]"#);
    cfg.store.push("wait_replicas = 1".into());
    let sw = host.start(&cfg);
    let admin = admin_addr(&sw);
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("7101", PW, 1);
    phone.register(&mut tcp, Some(300));
    assert_eq!(host.state("7101"), "registered");
    assert_eq!(replica.cli(&["HGET", "sw:{7101}:rl", "node"]).as_deref(), Ok("node-w"), "the replica has the record");
    let not_replicated = r#"switch_redis_errors_total{kind="not_replicated"}"#;
    assert_eq!(value(&scrape(admin), not_replicated), 0.0);

    replica.stop();
    for _ in 0..2 {
        let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(300));
        assert_eq!(line(&r), "503 Service Unavailable (store unavailable)");
        assert_eq!(r.headers.get(&HeaderName::RetryAfter), Some(switch::STORE_RETRY_AFTER_SECS.to_string().as_str()));
    }
    let event =
        sw.wait_for_event("registrations not replicated: REGISTERs get 503 until redis replicas acknowledge again", &[], IO_TIMEOUT);
    assert!(event.text("error").contains("0 of 1 redis replicas acknowledged"), "{event}");
    assert_eq!(sw.log_text().matches("registrations not replicated: ").count(), 1, "one line, not one per REGISTER");
    let text = scrape(admin);
    assert!(value(&text, not_replicated) >= 2.0, "{text}");
    promtool_check(&text);

    replica.start_again();
    replica.wait_in_sync();
    common::wait_for(Duration::from_secs(20), "a REGISTER acknowledged by the replica again", || {
        let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(300));
        if r.status == 200 { Ok(()) } else { Err(line(&r)) }
    });
    sw.wait_for_event("registrations replicated again", &[], IO_TIMEOUT);
    assert_eq!(replica.cli(&["HGET", "sw:{7101}:rl", "state"]).as_deref(), Ok("registered"));
}

/// Redis stopped under a running switch (issue 14 item 5): a REGISTER gets
/// 503 with Retry-After at once (Redis refuses connections: no timeout to
/// wait out), and so does a new INVITE; a call set up before keeps its RTP
/// both ways (the relay needs no store); the log says "unavailable" once
/// however many requests failed, and "available again" when Redis is back,
/// after which the next REGISTER is stored without a restart.
#[test]
fn a_redis_down_gets_503_with_retry_after_calls_keep_their_media_and_the_switch_recovers() {
    let mut redis = RedisServer::start_persistent();
    let host = redis_lab(&redis.url());
    for n in ["7201", "7202", "7203"] {
        host.add_subscriber(n, PW, None);
    }
    let sw = host.start(&Config::default().redis(&redis.url(), "node-d").relay("127.0.0.1").admin(r#"listen = ["tcp:127.0.0.1:0"]"#));
    let admin = admin_addr(&sw);
    assert_eq!(total(&scrape(admin), ERRORS), 0.0);
    let mut tcp = Tcp::connect(&sw);
    let mut phone = Phone::agent("7201", PW, 1);
    phone.register(&mut tcp, Some(300));
    assert!(host.record("7201")["time_left"].as_u64().unwrap() > 120);

    // A call up before Redis goes: 7203 calls 7202, media both ways.
    let (caller, callee, media) = answered_call(&sw, "7203", "7202", PW);

    redis.stop();
    let refused = |r: &sipcore::Response| {
        assert_eq!(line(r), "503 Service Unavailable (store unavailable)");
        assert_eq!(r.headers.get(&HeaderName::RetryAfter), Some(switch::STORE_RETRY_AFTER_SECS.to_string().as_str()));
    };
    for _ in 0..2 {
        let asked = Instant::now();
        let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(300));
        let took = asked.elapsed();
        refused(&r);
        assert!(took < Duration::from_secs(1), "answered after {took:?}");
    }
    sw.wait_for_event("store unavailable: REGISTERs and new calls get 503 until an operation succeeds", &[], IO_TIMEOUT);

    // A new call is refused; the one already up keeps its media both ways.
    let mut second = Caller::new(&sw, "7201", "7202");
    let invite = second.invite(None);
    let r = second.phone.response(503, Method::Invite);
    refused(&r);
    second.ack_non_2xx(&invite, &r);
    assert_media_both_ways(&caller, &callee, media, "with redis down");
    let unavailable = sw.log_text().matches("store unavailable: ").count();
    assert_eq!(unavailable, 1, "one line for the outage, not one per failure");
    let text = scrape(admin);
    assert!(total(&text, ERRORS) >= 2.0, "the two REGISTERs' writes failed: {text}");
    promtool_check(&text);

    redis.start_again();
    // Stored again: the shorter expiry asked for now is what Redis holds.
    common::wait_for(Duration::from_secs(10), "a REGISTER stored once redis is back", || {
        let r = phone.exchange(&mut tcp, ContactKind::Binding, Some(120));
        let rec = host.registration("7201").ok_or("no record")?;
        let left = rec["time_left"].as_u64().unwrap_or(0);
        if r.status == 200 && left <= 120 { Ok(()) } else { Err(format!("{}; {rec}", line(&r))) }
    });
    sw.wait_for_event("store available again", &[], IO_TIMEOUT);
    assert_eq!(host.record("7201")["node"], "node-d");
    assert!(rtp_flows(&caller.rtp, media.1, &callee.rtp, 0x7203) > 0, "the call outlived the outage");
}

#[test]
fn an_unreachable_redis_stops_the_start_with_its_url_and_no_password() {
    let nothing_there = PortBlock::reserve();
    let url = format!("redis://:Hidden-Ferret-2291@127.0.0.1:{}", nothing_there.port(0));
    let host = lab();
    let data = host.file("data");
    let out = Command::new(&host.bin)
        .args(["run", "--listen", "tcp:127.0.0.1:0", "--redis", &url, "--node-id", "n1", "--data-dir"])
        .arg(&data)
        .arg("--cluster-secret-file")
        .arg(tests::switch::cluster_secret())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let shown = format!("cannot reach redis at redis://***@127.0.0.1:{}", nothing_there.port(0));
    assert!(stderr.contains(&shown), "{stderr}");
    assert!(!stderr.contains("Hidden-Ferret"), "the password is never printed: {stderr}");
    let out = redis_lab(&url).cli(&["subscriber", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains(&shown) && !stderr.contains("Hidden-Ferret"), "{stderr}");
}
