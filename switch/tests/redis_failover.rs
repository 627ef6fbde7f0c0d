//! A Redis Cluster master killed under a running switch (issue 14 item 5,
//! first half): three masters and three replicas (`cluster-node-timeout`
//! 2 s), `[store] wait_replicas = 1` so that every 200 OK was on a replica
//! too. `kill -9` of the master holding a registered number: the call set up
//! before keeps its media both ways and the phones' flows stay open; once
//! the replica has taken over (seconds; polled with generous bounds) the
//! switch's store finds the new slot map by itself: REGISTERs on the same
//! flows get 200 again (503 with Retry-After for the new master's numbers
//! until it has a replica to acknowledge them: the killed node, started
//! again), a new call goes through with media, every number whose REGISTER
//! got 200 before the kill is still listed, on this node, and the errors met
//! meanwhile are counted in /metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::admin::{admin_addr, promtool_check, scrape, total, value};
use common::calls::{Caller, answered_call, assert_media_both_ways, pick_up};
use common::{Config, ContactKind, IO_TIMEOUT, Phone, SwitchHost, Tcp, lab, line};
use sipcore::Method;
use std::time::{Duration, Instant};
use tests::redis::RedisCluster;

const PW: &str = "Basalt-Plover-6042";
/// Failover (2 s node timeout, then an election) plus the store's own
/// reconnection, on a loaded machine: generous.
const FAILOVER: Duration = Duration::from_secs(60);
/// Registered before the kill: enough numbers to land on every master.
const NUMBERS: [&str; 9] = ["7500", "7501", "7502", "7503", "7504", "7505", "7506", "7507", "7508"];

fn cluster_lab(url: &str) -> SwitchHost {
    let mut host = lab();
    host.switch = host.switch.with_redis(url);
    host
}

/// Every registration listed, or why not (the CLI, too, may be waiting for
/// the failover).
fn listed(host: &SwitchHost) -> Result<Vec<serde_json::Value>, String> {
    let out = host.cli(&["registrations", "--json"]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

#[test]
fn a_killed_master_fails_over_and_nothing_acknowledged_is_lost() {
    let mut cluster = RedisCluster::start();
    let url = cluster.url();
    let host = cluster_lab(&url);
    for n in NUMBERS.iter().chain(&["7520", "7521", "7522"]) {
        host.add_subscriber(n, PW, None);
    }
    let mut cfg = Config::default().redis(&url, "node-f").relay("127.0.0.1").admin(r#"listen = ["tcp:127.0.0.1:0"]"#);
    cfg.store.push("wait_replicas = 1".into());
    let sw = host.start(&cfg);
    let admin = admin_addr(&sw);

    let mut phones: Vec<(Phone, Tcp)> = NUMBERS
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut tcp = Tcp::connect(&sw);
            let mut phone = Phone::agent(n, PW, u8::try_from(i + 10).unwrap());
            phone.register(&mut tcp, Some(300));
            (phone, tcp)
        })
        .collect();
    let (caller, mut callee, media) = answered_call(&sw, "7520", "7521", PW);

    // The master holding 7500's record (only its owner answers it; the
    // others say MOVED), the numbers it holds, and its replica.
    let holds =
        |node: &tests::redis::RedisServer, n: &str| node.cli(&["HGET", &format!("sw:{{{n}}}:rl"), "node"]).as_deref() == Ok("node-f");
    let victim = cluster.nodes.iter().position(|n| !n.is_replica() && holds(n, "7500")).expect("a master holds 7500's record");
    let on_victim: Vec<usize> = (0..NUMBERS.len()).filter(|&i| holds(&cluster.nodes[victim], NUMBERS[i])).collect();
    let elsewhere: Vec<usize> = (0..NUMBERS.len()).filter(|i| !on_victim.contains(i)).collect();
    assert!(!elsewhere.is_empty(), "some numbers live on the other masters");
    let victim_port = format!("master_port:{}", cluster.nodes[victim].port());
    let heir = cluster
        .nodes
        .iter()
        .position(|n| n.is_replica() && n.cli(&["INFO", "replication"]).is_ok_and(|i| i.contains(&victim_port)))
        .expect("the victim's replica");
    cluster.nodes[victim].kill9();
    let killed = Instant::now();

    // The call up before keeps its media while the cluster fails over.
    assert_media_both_ways(&caller, &callee, media, "during the failover");
    common::wait_for(FAILOVER, "the victim's replica to take over", || {
        let role = cluster.nodes[heir].cli(&["ROLE"])?;
        if role.starts_with("master") { Ok(()) } else { Err(role) }
    });
    let failed_over = killed.elapsed();

    // What the switch said of its store, for a failure's message.
    let store_log = || -> String {
        let log = sw.log_text();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("store") || l.contains("redis")).collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    };
    let registers = |phone: &mut Phone, tcp: &mut Tcp, what: &str| {
        common::wait_for(FAILOVER, &format!("a REGISTER of {} on its old flow {what}", phone.number), || {
            let r = phone.exchange(tcp, ContactKind::Binding, Some(300));
            if r.status == 200 { Ok(()) } else { Err(format!("{}; {}", line(&r), store_log())) }
        });
    };

    // The switch retries (the phone after Retry-After, here at once) on the
    // same flows: numbers on the other masters are stored again as soon as
    // the store has found the new map of the cluster.
    for &i in &elsewhere {
        let (phone, tcp) = &mut phones[i];
        registers(phone, tcp, "after the failover");
    }
    let recovered = killed.elapsed();

    // The new master of 7500's slots has no replica to acknowledge a write
    // (`wait_replicas = 1`): 503 with Retry-After, said once in the log.
    // (Polled: a write that met the old map first fails as unreachable.)
    let (phone, tcp) = &mut phones[0];
    let not_replicated = "registrations not replicated: REGISTERs get 503 until redis replicas acknowledge again";
    common::wait_for(FAILOVER, "a REGISTER of 7500 refused for want of a replica", || {
        let r = phone.exchange(tcp, ContactKind::Binding, Some(300));
        assert_eq!(line(&r), "503 Service Unavailable (store unavailable)", "{}", store_log());
        assert_eq!(r.headers.get(&sipcore::HeaderName::RetryAfter), Some(switch::STORE_RETRY_AFTER_SECS.to_string().as_str()));
        if sw.log_text().contains(not_replicated) { Ok(()) } else { Err(store_log()) }
    });
    assert_eq!(sw.log_text().matches(not_replicated).count(), 1, "one line however many REGISTERs");

    // New calls work again, with media, and the call from before the kill
    // still has its own. (The REGISTERs above found the store available
    // again; a write that only misses its replica leaves it available.)
    let mut caller2 = Caller::new(&sw, "7522", "7521");
    caller2.invite_with_digest(PW);
    let inv = callee.request(Method::Invite);
    let media2 = pick_up(&mut caller2, &mut callee, &inv);
    assert_media_both_ways(&caller2, &callee, media2, "in a new call after the failover");
    assert_media_both_ways(&caller, &callee, media, "in the first call after the failover");

    // The killed node back: it rejoins as the new master's replica, and the
    // numbers of its old slots are acknowledged again.
    cluster.nodes[victim].start_again();
    common::wait_for(FAILOVER, "the old master back as a replica", || {
        if cluster.nodes[victim].is_replica() { Ok(()) } else { Err(cluster.nodes[victim].cli(&["ROLE"])?) }
    });
    cluster.nodes[victim].wait_in_sync();
    for &i in &on_victim {
        let (phone, tcp) = &mut phones[i];
        registers(phone, tcp, "once the slots have a replica again");
    }
    sw.wait_for_event("registrations replicated again", &[], IO_TIMEOUT);

    // The failover's errors were counted, by kind (which kinds depends on
    // where each write met the dead master: a refused connection, a
    // timeout, CLUSTERDOWN...; the missing replica's are `not_replicated`).
    let text = scrape(admin);
    assert!(value(&text, r#"switch_redis_errors_total{kind="not_replicated"}"#) >= 1.0, "{text}");
    assert!(total(&text, "switch_redis_errors_total") > value(&text, r#"switch_redis_errors_total{kind="not_replicated"}"#), "{text}");
    promtool_check(&text);

    // Nothing acknowledged before the kill is lost.
    let all = listed(&host).unwrap_or_else(|e| panic!("{e}"));
    for n in NUMBERS {
        assert!(all.iter().any(|r| r["number"] == n && r["state"] == "registered" && r["node"] == "node-f"), "{n} listed: {all:?}");
    }
    eprintln!(
        "kill -9 of a master: failed over after {failed_over:?}, other masters' numbers stored again after {recovered:?}, {} numbers on the lost master",
        on_victim.len()
    );
}
