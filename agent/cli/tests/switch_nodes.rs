//! Several switch nodes (issue 14 item 4, the agent's side): `--switch`
//! repeated names the nodes of one cluster on a shared Redis (here a dead
//! address, node 1, node 2); the agent registers on the first that answers
//! (node 1), and when that node dies (`kill -9`) it moves to the next within
//! seconds and registers there, which `switch registrations --redis` shows as
//! the binding's node; when node 2 dies in turn, it goes round past the dead
//! address back to node 1, restarted meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::proc::Lines;
use tests::redis::RedisServer;
use tests::switch::{Config, SwitchHost};

const PW: &str = "Quartz-Heron-3318";
/// Generous on a loaded machine: the agent reconnects at once after losing a
/// registered flow, so this is seconds of slack, not of waiting.
const MOVE_WITHIN: Duration = Duration::from_secs(10);

/// A data dir whose CLI commands go to Redis at `url`.
fn redis_host(url: &str) -> SwitchHost {
    let mut host = SwitchHost::new();
    host.switch = host.switch.with_redis(url);
    host
}

#[test]
fn the_agent_moves_to_the_next_node_when_its_node_dies() {
    let redis = RedisServer::start();
    let (host1, host2) = (redis_host(&redis.url()), redis_host(&redis.url()));
    host1.add_subscriber("7401", PW, None);
    let mut node1 = host1.start(&Config::default().redis(&redis.url(), "node-1"));
    let mut node2 = host2.start(&Config::default().redis(&redis.url(), "node-2"));
    // Nothing listens on a reserved port: connections to it are refused.
    let reserved = tests::ports::PortBlock::reserve();
    let dead = format!("tcp:127.0.0.1:{}", reserved.port(0));

    let (_agent, mut lines) = Lines::spawn(
        Command::new(env!("CARGO_BIN_EXE_agent"))
            .args(["--switch", &dead, "--switch", &node1.spec(), "--switch", &node2.spec()])
            .args(["--number", "7401", "--domain", "switch.local"])
            // A quick return is allowed once per back-off base: 1 s, so the
            // second move (seconds after the first) is not held back 4-8 s.
            .args(["--mac", "02:42:ac:11:00:41", "--backoff-base", "1", "listen"])
            .env("AGENT_PASSWORD", PW)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null()),
    );
    lines.wait(&["registered "], MOVE_WITHIN);
    let rec = host2.registration("7401").expect("7401 listed");
    assert_eq!((rec["state"].as_str(), rec["node"].as_str()), (Some("registered"), Some("node-1")), "the first node first: {rec}");

    node1.kill9();
    let killed = Instant::now();
    lines.wait(&["flow-lost "], MOVE_WITHIN);
    lines.wait(&["registered "], MOVE_WITHIN);
    let took = killed.elapsed();
    assert!(took < MOVE_WITHIN, "registered on node 2 after {took:?}");
    let rec = host1.registration("7401").expect("7401 listed");
    assert_eq!((rec["state"].as_str(), rec["node"].as_str()), (Some("registered"), Some("node-2")), "moved: {rec}");
    let table = host1.cli_ok(&["registrations"]);
    assert!(table.lines().any(|l| l.starts_with("7401") && l.contains("node-2")), "{table}");
    eprintln!("agent registered on node 2 {took:?} after node 1's kill -9");

    node1.restart();
    node2.kill9();
    lines.wait(&["flow-lost "], MOVE_WITHIN);
    lines.wait(&["registered "], MOVE_WITHIN);
    let rec = host1.registration("7401").expect("7401 listed");
    assert_eq!((rec["state"].as_str(), rec["node"].as_str()), (Some("registered"), Some("node-1")), "back on node 1: {rec}");
}
