//! Three switch nodes on one Redis Cluster (issue 14 item 6), every part a
//! real process on loopback: six `redis-server`s joined by `redis-cli
//! --cluster create`, three `switch run` on its `redis-cluster://` URL, and
//! `agent` CLIs. Agents registered on different nodes call each other
//! through any node, with tones checked both ways: a call entered on node 1
//! for a callee on node 2, one entered on node 3 for a callee on node 1.
//! Then `kill -9` of node 2: a number whose only node it was routes home at
//! once (node 2 unreachable), node 2's lease lapses within its 3 s TTL (plus
//! load slack) and from then on that number routes home from any node
//! without a try at node 2; the callee whose agent names two nodes
//! re-registers on node 3 and is called there, tones both ways.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::UdpSocket;
use std::process::Output;
use std::time::{Duration, Instant};
use tests::agent::{REGISTER_WITHIN, command, listen_with, run};
use tests::proc::{Lines, Proc};
use tests::redis::RedisCluster;
use tests::switch::{Config, Switch, SwitchHost};

const PW: &str = "Cobalt-Wren-8127";
/// Generous on a loaded machine (two cores, tests in parallel).
const WAIT: Duration = Duration::from_secs(30);
/// The node lease's TTL: a dead node's numbers route home within it.
const LEASE_TTL: Duration = Duration::from_secs(3);
/// Load slack on top of the lease: the caller agent's own REGISTER and
/// digest round trips, and the switch's start-up of a call, on a busy machine.
const LOAD_SLACK: Duration = Duration::from_secs(7);

/// A data dir whose CLI commands go to Redis at `url`.
fn redis_host(url: &str) -> SwitchHost {
    let mut host = SwitchHost::new();
    host.switch = host.switch.with_redis(url);
    host
}

fn start_node(host: &SwitchHost, url: &str, node: &str) -> Switch {
    let sw = host.start(&Config::default().redis(url, node).relay("127.0.0.1"));
    sw.wait_for_event("node lease held", &[("node", node)], WAIT);
    sw
}

/// Global flags of agent `number`: a stable instance and MAC per number.
fn global(host: &SwitchHost, number: &str) -> Vec<String> {
    let instance = host.file(&format!("{number}.instance")).display().to_string();
    let mac = format!("02:42:ac:11:{}:{}", &number[..2], &number[2..]);
    vec!["--domain".into(), "switch.local".into(), "--mac".into(), mac, "--instance-file".into(), instance]
}

/// `agent --switch S1 [--switch S2 ...] listen --auto-answer --tone 1000 --record`,
/// registered on the first.
fn callee(host: &SwitchHost, switches: &[&str], number: &str) -> (Proc, Lines) {
    let mut g = global(host, number);
    for s in &switches[1..] {
        g.extend(["--switch".to_owned(), (*s).to_owned()]);
    }
    let g: Vec<&str> = g.iter().map(String::as_str).collect();
    let wav = host.file(&format!("{number}.wav")).display().to_string();
    let (p, mut lines) = listen_with(None, switches[0], number, PW, &g, &["--auto-answer", "--tone", "1000", "--record", &wav]);
    lines.wait(&["registered "], REGISTER_WITHIN);
    (p, lines)
}

/// `agent call CALLEE` from `caller` registered on `via` (its INVITE lands there).
fn call(host: &SwitchHost, via: &str, caller: &str, callee: &str, args: &[&str]) -> Output {
    let g = global(host, caller);
    let g: Vec<&str> = g.iter().map(String::as_str).collect();
    run(command(None, via, caller, PW, &g).args(["call", callee]).args(args), Duration::from_secs(90))
}

/// A call from `caller` on `via` to the auto-answering `callee`, 440 Hz one
/// way and 1000 Hz back, each side's recording holding the other's tone.
fn tones_both_ways(host: &SwitchHost, via: &Switch, caller: &str, callee: &str, callee_lines: &mut Lines) {
    let wav = host.file(&format!("{caller}-to-{callee}.wav")).display().to_string();
    let out = call(host, &via.spec(), caller, callee, &["--timeout", "20", "--tone", "440", "--record", &wav, "--duration", "3"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{caller} -> {callee} failed:\n{said}");
    assert!(said.contains("call state=answered"), "{said}");
    assert!(said.contains("tone hz=1000 "), "the caller heard the callee's 1000 Hz:\n{said}");
    let heard = callee_lines.wait(&["tone hz="], WAIT);
    assert!(heard.starts_with("tone hz=440 "), "the callee heard the caller's 440 Hz: {heard}; it said:\n{}", callee_lines.seen.join("\n"));
    assert_eq!(tests::agent::tone_in(std::path::Path::new(&wav)), Some(1000.0));
}

/// The number of calls for `callee` that `sw` forwarded to `node`.
fn forwarded(sw: &Switch, callee: &str, node: &str) -> usize {
    sw.events_where(|e| e.is("callee's flow is on another node", &[("node", node), ("callee", callee)])).len()
}

fn received(sw: &Switch, from: &str) -> usize {
    let reason = format!("from_node:{from}");
    sw.events_where(|e| e.is("call routed", &[("reason", reason.as_str())])).len()
}

#[test]
fn three_nodes_on_a_redis_cluster_agents_call_across_nodes_and_a_dead_node_is_routed_around() {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let hosts = [redis_host(&url), redis_host(&url), redis_host(&url)];
    // 7603's home: a UDP socket of the test's, where a call routed home arrives.
    let home = UdpSocket::bind("127.0.0.1:0").unwrap();
    home.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    for n in ["7601", "7602", "7604"] {
        hosts[0].add_subscriber(n, PW, None);
    }
    hosts[0].add_subscriber("7603", PW, Some(&format!("sip:7603@{}", home.local_addr().unwrap())));
    let n1 = start_node(&hosts[0], &url, "node-1");
    let mut n2 = start_node(&hosts[1], &url, "node-2");
    let n3 = start_node(&hosts[2], &url, "node-3");
    let (s1, s2, s3) = (n1.spec(), n2.spec(), n3.spec());

    // 7601 on node 1; 7602 on node 2, naming node 3 as its next; 7603 on node 2 only.
    let (_a, mut a_lines) = callee(&hosts[0], &[&s1], "7601");
    let (_b, mut b_lines) = callee(&hosts[0], &[&s2, &s3], "7602");
    let (_c, _c_lines) = callee(&hosts[0], &[&s2], "7603");
    for (n, node) in [("7601", "node-1"), ("7602", "node-2"), ("7603", "node-2")] {
        let rec = hosts[2].registration(n).expect("listed");
        assert_eq!((rec["state"].as_str(), rec["node"].as_str()), (Some("registered"), Some(node)), "{rec}");
    }

    // Entered on node 1 for the callee on node 2: forwarded in one hop.
    tones_both_ways(&hosts[0], &n1, "7604", "7602", &mut b_lines);
    assert_eq!(forwarded(&n1, "7602", "node-2"), 1, "node 1 forwarded the call to node 2");
    assert_eq!(received(&n2, "node-1"), 1, "node 2 took it from node 1");
    // Entered on node 3 for the callee on node 1.
    tones_both_ways(&hosts[0], &n3, "7604", "7601", &mut a_lines);
    assert_eq!(forwarded(&n3, "7601", "node-1"), 1, "node 3 forwarded the call to node 1");
    assert_eq!(received(&n1, "node-3"), 1, "node 1 took it from node 3");

    // kill -9 of node 2 (this test's own child): 7603, whose agent knows no
    // other node, routes home; 7602's agent moves to node 3.
    n2.kill9();
    let killed = Instant::now();
    let placed = std::thread::spawn({
        let (g, s1) = (global(&hosts[0], "7604"), s1.clone());
        move || {
            let g: Vec<&str> = g.iter().map(String::as_str).collect();
            run(command(None, &s1, "7604", PW, &g).args(["call", "7603", "--timeout", "3", "--duration", "1"]), Duration::from_secs(60))
        }
    });
    let mut buf = [0u8; 4096];
    let at_home = tests::wait_for(LEASE_TTL + LOAD_SLACK + WAIT, "7603's INVITE at its home", || match home.recv_from(&mut buf) {
        Ok((n, _)) if buf[..n].starts_with(b"INVITE sip:7603@") => Ok(killed.elapsed()),
        Ok((n, _)) => Err(String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()),
        Err(e) => Err(e.to_string()),
    });
    assert!(at_home <= LEASE_TTL + LOAD_SLACK, "7603 routed home {at_home:?} after node 2's kill -9");
    // Node 1 sent it home: node 2 refused the forwarded INVITE's connection
    // (its lease still ran), or its lease had lapsed already.
    n1.wait_event(WAIT, "node 1 to route 7603 home", |e| {
        e.is("call routed", &[("callee", "7603"), ("route", "home")]) || e.is("callee leg failed over to the home location", &[])
    });

    b_lines.wait(&["flow-lost "], WAIT);
    b_lines.wait(&["registered "], WAIT);
    let moved = killed.elapsed();

    // Node 2's lease lapses within its TTL of the kill (its last refresh came
    // before it): from then on its bindings are not live for any node.
    let lease = "sw:{node:node-2}:lease";
    tests::wait_for(LEASE_TTL + LOAD_SLACK + WAIT, "node 2's lease to lapse", || {
        let exists = cluster.nodes[0].cli(&["-c", "EXISTS", lease])?;
        if exists == "0" { Ok(()) } else { Err(exists) }
    });
    let lapsed = killed.elapsed();
    assert!(lapsed <= LEASE_TTL + LOAD_SLACK, "node 2's lease outlived it by {lapsed:?}");
    // Nobody answers at home: the caller gives up by itself.
    let _ = placed.join().unwrap();
    tests::wait_for(WAIT, "7602 listed on node 3", || {
        let rec = hosts[0].registration("7602").ok_or("not listed")?;
        if rec["node"].as_str() == Some("node-3") && rec["state"].as_str() == Some("registered") { Ok(()) } else { Err(rec.to_string()) }
    });
    // Called through node 1 again: now forwarded to node 3.
    tones_both_ways(&hosts[0], &n1, "7604", "7602", &mut b_lines);
    assert_eq!(forwarded(&n1, "7602", "node-3"), 1, "node 1 forwarded the call to node 3");
    assert_eq!(received(&n3, "node-1"), 1, "node 3 took it from node 1");

    // 7603 again, entered on node 3 this time: its binding still says node 2,
    // but without a lease it is not live, so node 3 routes it home without
    // trying node 2 at all.
    assert_eq!(hosts[0].registration("7603").expect("listed")["node"].as_str(), Some("node-2"));
    let out = call(&hosts[0], &s3, "7604", "7603", &["--timeout", "3", "--duration", "1"]);
    assert_ne!(out.status.code(), Some(0), "nobody answers at home: {}", String::from_utf8_lossy(&out.stdout));
    n3.wait_for_event("call routed", &[("callee", "7603"), ("route", "home")], WAIT);
    assert_eq!(forwarded(&n3, "7603", "node-2"), 0, "not forwarded to a node without a lease");
    eprintln!(
        "node 2 killed: 7603 routed home after {at_home:?}, node 2's lease gone after {lapsed:?}, 7602 registered on node 3 after {moved:?}"
    );
}
